//! CONDSTORE and QRESYNC (RFC 7162) over real TCP: mod-sequences per message that only
//! grow (across a kill -9 too), CHANGEDSINCE, UNCHANGEDSINCE with `[MODIFIED]`, SEARCH
//! MODSEQ, STATUS HIGHESTMODSEQ, VANISHED for expunges, and SELECT … QRESYNC bringing a
//! client's cache up to date in one round trip. Python's imaplib reads the same over its
//! own parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{Raw, server_with_mail};

/// The number after `key` in `line` (`MODSEQ (17)`, `[HIGHESTMODSEQ 17]`).
fn number_after(line: &str, key: &str) -> u64 {
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
    let digits: String = rest.trim_start_matches([' ', '(']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("{key} in {line}"))
}

fn highest(lines: &[String]) -> u64 {
    let line = lines.iter().find(|l| l.contains("[HIGHESTMODSEQ ")).unwrap_or_else(|| panic!("{lines:?}"));
    number_after(line, "[HIGHESTMODSEQ")
}

fn ok(lines: &[String]) -> bool {
    lines.last().is_some_and(|l| l.split(' ').nth(1) == Some("OK"))
}

#[test]
fn condstore_changes_are_numbered_and_conditional_stores_are_refused() {
    let mut s = server_with_mail("imap-condstore", "", 3);
    let addr = s.addr("imapplain");
    let mut a = Raw::login(addr);
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" CONDSTORE") && caps[0].contains(" QRESYNC"), "{caps:?}");
    let selected = a.cmd("SELECT INBOX (CONDSTORE)");
    let h0 = highest(&selected);
    let fetched = a.cmd("FETCH 1:* (MODSEQ)");
    let modseqs: Vec<u64> = fetched[..3].iter().map(|l| number_after(l, "MODSEQ")).collect();
    assert!(modseqs.iter().all(|&m| m > 0 && m <= h0), "{fetched:?}");
    // Another session sees the same HIGHESTMODSEQ in STATUS.
    let mut b = Raw::login(addr);
    let status = b.cmd("STATUS INBOX (HIGHESTMODSEQ MESSAGES)");
    assert!(status[0].contains(&format!("HIGHESTMODSEQ {h0}")), "{status:?} vs {h0}");
    // A conditional store that holds: the change has a new, higher MODSEQ.
    let stored = a.cmd(&format!("STORE 1 (UNCHANGEDSINCE {}) +FLAGS (\\Seen)", modseqs[0]));
    assert!(ok(&stored), "{stored:?}");
    let m1 = number_after(&stored[0], "MODSEQ");
    assert!(m1 > h0 && stored[0].contains("\\Seen"), "{stored:?}");
    // The same condition again fails: the message changed since; nothing is changed.
    let again = a.cmd(&format!("STORE 1,2 (UNCHANGEDSINCE {h0}) -FLAGS (\\Seen)"));
    assert!(again.last().unwrap().contains("OK [MODIFIED 1]"), "{again:?}");
    assert!(again.iter().any(|l| l.starts_with("* 2 FETCH")) && !again.iter().any(|l| l.starts_with("* 1 FETCH")));
    assert!(a.cmd("FETCH 1 FLAGS")[0].contains("\\Seen"), "message 1 kept its flag");
    // A silent store still tells the MODSEQ once CONDSTORE is on (RFC 7162 §3.1.3).
    let silent = a.cmd("UID STORE 3 +FLAGS.SILENT (\\Flagged)");
    assert!(silent[0].starts_with("* 3 FETCH (UID 3 MODSEQ (") && !silent[0].contains("FLAGS"), "{silent:?}");
    let after_flagged = number_after(&silent[0], "MODSEQ");
    // CHANGEDSINCE: only what changed after it, each with its MODSEQ.
    // (Message 2 lost no \Seen it did not have: no change, no new MODSEQ.)
    let changed = a.cmd(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m1})"));
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed[0].starts_with("* 3 FETCH (UID 3 FLAGS (\\Flagged") && changed[0].contains("MODSEQ ("),
        "{changed:?}"
    );
    // SEARCH MODSEQ answers with the highest MODSEQ of what it returns.
    let found = a.cmd(&format!("SEARCH MODSEQ \"/flags/\\\\flagged\" all {after_flagged}"));
    assert_eq!(found[0], format!("* SEARCH 3 (MODSEQ {after_flagged})\r\n"), "{found:?}");
    let esearch = a.cmd(&format!("UID SEARCH RETURN (COUNT) MODSEQ {}", h0 + 1));
    assert!(esearch[0].contains(&format!("COUNT 2 MODSEQ {after_flagged}")), "{esearch:?}");
    // A session selected without CONDSTORE hears of flags alone; once it turns CONDSTORE
    // on with a FETCH MODSEQ, it is told HIGHESTMODSEQ and changes carry UID and MODSEQ.
    let mut d = Raw::login(addr);
    assert!(ok(&d.cmd("SELECT INBOX")));
    assert!(ok(&a.cmd("STORE 2 +FLAGS ($Home)")));
    let told = d.cmd("NOOP");
    assert!(told.iter().any(|l| l == "* 2 FETCH (FLAGS ($Home))\r\n"), "{told:?}");
    let enabling = d.cmd("FETCH 1 (MODSEQ)");
    assert!(enabling.iter().any(|l| l.starts_with("* OK [HIGHESTMODSEQ ")), "{enabling:?}");
    assert!(ok(&a.cmd("STORE 2 +FLAGS ($Work)")));
    let told = d.cmd("NOOP");
    let line = told.iter().find(|l| l.starts_with("* 2 FETCH")).unwrap_or_else(|| panic!("{told:?}"));
    assert!(line.contains("UID 2") && line.contains("$Work") && line.contains("MODSEQ ("), "{line}");
    // EXPUNGE raises HIGHESTMODSEQ and says so in its OK.
    let before_expunge = highest(
        &a.cmd("STATUS INBOX (HIGHESTMODSEQ)")
            .iter()
            .map(|l| l.replace("HIGHESTMODSEQ ", "[HIGHESTMODSEQ "))
            .collect::<Vec<_>>(),
    );
    assert!(ok(&a.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")));
    let expunged = a.cmd("EXPUNGE");
    assert!(expunged.iter().any(|l| l == "* 3 EXPUNGE\r\n"), "{expunged:?}");
    assert!(number_after(expunged.last().unwrap(), "[HIGHESTMODSEQ") > before_expunge, "{expunged:?}");
    let last = number_after(expunged.last().unwrap(), "[HIGHESTMODSEQ");
    // kill -9 and restart: HIGHESTMODSEQ does not go back, and a change made after the
    // restart is above everything a client saw before.
    drop((a, b, d));
    s.kill();
    s.restart();
    let mut c = Raw::login(s.addr("imapplain"));
    let reselected = c.cmd("SELECT INBOX (CONDSTORE)");
    assert!(highest(&reselected) >= last, "{reselected:?} vs {last}");
    let stored = c.cmd("STORE 1 -FLAGS (\\Seen)");
    assert!(number_after(&stored[0], "MODSEQ") > last, "{stored:?}");
    let changed = c.cmd(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {last})"));
    assert_eq!(changed.len(), 2, "only message 1 changed since: {changed:?}");
    // Bad grammar gets BAD; UNCHANGEDSINCE 0 always fails.
    for bad in ["FETCH 1 FLAGS (CHANGEDSINCE 0 VANISHED)", "STORE 1 (UNCHANGEDSINCE x) FLAGS ()", "SEARCH MODSEQ"] {
        let r = c.cmd(bad);
        assert!(r.last().unwrap().contains(" BAD "), "{bad}: {r:?}");
    }
    let zero = c.cmd("STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)");
    assert!(zero.last().unwrap().contains("OK [MODIFIED 1:2]"), "{zero:?}");
}

#[test]
fn qresync_resynchronises_a_cache_in_one_select() {
    let s = server_with_mail("imap-qresync", "", 4);
    let addr = s.addr("imapplain");
    let mut a = Raw::login(addr);
    // QRESYNC parameters before ENABLE QRESYNC are refused.
    let refused = a.cmd("SELECT INBOX (QRESYNC (1 1))");
    assert!(refused.last().unwrap().contains(" BAD "), "{refused:?}");
    let enabled = a.cmd("ENABLE QRESYNC");
    assert_eq!(enabled[0], "* ENABLED QRESYNC\r\n");
    let selected = a.cmd("SELECT INBOX");
    let validity: u64 = number_after(selected.iter().find(|l| l.contains("[UIDVALIDITY")).unwrap(), "[UIDVALIDITY");
    let cached = highest(&selected);
    // Another session changes message 2 and expunges message 3.
    let mut b = Raw::login(addr);
    assert!(ok(&b.cmd("SELECT INBOX")));
    assert!(ok(&b.cmd("STORE 2 +FLAGS (\\Answered)")));
    assert!(ok(&b.cmd("STORE 3 +FLAGS (\\Deleted)")));
    assert!(ok(&b.cmd("EXPUNGE")));
    // The QRESYNC session is told of the expunge as VANISHED, by UID.
    let noop = a.cmd("NOOP");
    assert!(noop.iter().any(|l| l == "* VANISHED 3\r\n"), "{noop:?}");
    assert!(!noop.iter().any(|l| l.ends_with("EXPUNGE\r\n")), "{noop:?}");
    let change = noop.iter().find(|l| l.starts_with("* 2 FETCH")).unwrap_or_else(|| panic!("{noop:?}"));
    assert!(change.contains("UID 2") && change.contains("MODSEQ"), "{change}");
    // A client that knew the folder at `cached` gets, in one SELECT, what vanished and
    // what changed; the SELECT first closes the folder selected before.
    let mut c = Raw::login(addr);
    assert!(ok(&c.cmd("ENABLE QRESYNC")));
    assert!(ok(&c.cmd("SELECT Sent")));
    let resync = c.cmd(&format!("SELECT INBOX (QRESYNC ({validity} {cached} 1:4))"));
    assert!(resync[0].starts_with("* OK [CLOSED]"), "{resync:?}");
    assert!(resync.iter().any(|l| l == "* VANISHED (EARLIER) 3\r\n"), "{resync:?}");
    let fetch: Vec<&String> = resync.iter().filter(|l| l.contains(" FETCH ")).collect();
    assert_eq!(fetch.len(), 1, "{resync:?}");
    assert!(fetch[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Answered") && fetch[0].contains("MODSEQ ("));
    // Known UIDs narrow the answer; a stale UIDVALIDITY gets none of it.
    let narrowed = c.cmd(&format!("SELECT INBOX (QRESYNC ({validity} {cached} 1:2))"));
    assert!(!narrowed.iter().any(|l| l.starts_with("* VANISHED")), "{narrowed:?}");
    let stale = c.cmd(&format!("SELECT INBOX (QRESYNC ({} {cached}))", validity + 1));
    assert!(!stale.iter().any(|l| l.starts_with("* VANISHED") || l.contains(" FETCH ")), "{stale:?}");
    // UID FETCH … (CHANGEDSINCE … VANISHED) says the same for a UID set.
    let fetched = c.cmd(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {cached} VANISHED)"));
    assert_eq!(fetched[0], "* VANISHED (EARLIER) 3\r\n", "{fetched:?}");
    assert!(fetched[1].starts_with("* 2 FETCH (UID 2 FLAGS (\\Answered"), "{fetched:?}");
    // Its own expunges are VANISHED too.
    assert!(ok(&c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")));
    let expunged = c.cmd("UID EXPUNGE 1");
    assert!(expunged.iter().any(|l| l == "* VANISHED 1\r\n"), "{expunged:?}");
}

/// Python's imaplib turns CONDSTORE on and reads HIGHESTMODSEQ and MODSEQ with its own
/// parser.
#[test]
fn imaplib_reads_modseqs() {
    let s = server_with_mail("imap-condstore-py", "", 2);
    const SCRIPT: &str = r#"
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
print('enable', m.enable('CONDSTORE')[0])
typ, data = m.select('INBOX')
print('highest', m.untagged_responses.get('HIGHESTMODSEQ', [b'none'])[0].decode())
typ, data = m.fetch('1:2', '(UID MODSEQ)')
print('fetch', typ, ' '.join(d.decode() for d in data))
typ, data = m.uid('STORE', '2', '+FLAGS', '(\\Seen)')
print('store', typ)
m.logout()
"#;
    let out =
        common::python(SCRIPT, &[&s.addr("imapplain").port().to_string(), "alice@localhost", common::imap::PASSWORD]);
    assert!(out.contains("enable OK"), "{out}");
    let highest: u64 = out.lines().find_map(|l| l.strip_prefix("highest ")).unwrap().parse().unwrap();
    assert!(highest >= 2, "{out}");
    assert!(out.contains("fetch OK 1 (UID 1 MODSEQ (") && out.contains("2 (UID 2 MODSEQ ("), "{out}");
    assert!(out.contains("store OK"), "{out}");
}
