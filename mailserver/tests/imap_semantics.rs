//! What imaptest's compliance groups check, each as a raw IMAP exchange: keywords announced
//! in FLAGS before a message shows them, `\Recent` kept for mail no session has seen,
//! UIDVALIDITY never reused, LSUB's `\Noselect` parents, an ID as large as RFC 2971 allows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{Raw, server_with_mail};

/// The line of `lines` that starts with `prefix` (case-insensitive), if any.
fn find<'a>(lines: &'a [String], prefix: &str) -> Option<&'a String> {
    lines.iter().find(|l| l.to_ascii_uppercase().starts_with(&prefix.to_ascii_uppercase()))
}

/// A keyword is in FLAGS and PERMANENTFLAGS before any FETCH shows it: to the session that
/// stores it, to another session on the folder, and at the next SELECT.
#[test]
fn keywords_are_announced_before_they_are_shown() {
    let s = server_with_mail("imap-keywords", "", 2);
    let addr = s.addr("imapplain");
    let mut a = Raw::login(addr);
    let mut b = Raw::login(addr);
    let selected = a.cmd("SELECT INBOX");
    assert_eq!(find(&selected, "* FLAGS").unwrap(), "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
    assert!(b.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let stored = a.cmd("STORE 1 +FLAGS ($hello)");
    let flags = stored.iter().position(|l| l.starts_with("* FLAGS (") && l.contains("$hello")).expect("FLAGS");
    let permanent = stored.iter().position(|l| l.contains("[PERMANENTFLAGS (") && l.contains("$hello \\*)]"));
    let fetch = stored.iter().position(|l| l.starts_with("* 1 FETCH (FLAGS (") && l.contains("$hello")).expect("FETCH");
    assert!(flags < fetch && permanent.expect("PERMANENTFLAGS") < fetch, "{stored:?}");
    // The other session hears of the keyword before the change that uses it.
    let noop = b.cmd("NOOP");
    let flags = noop.iter().position(|l| l.starts_with("* FLAGS (") && l.contains("$hello")).expect("FLAGS");
    let fetch = noop.iter().position(|l| l.starts_with("* 1 FETCH (FLAGS (") && l.contains("$hello")).expect("FETCH");
    assert!(flags < fetch, "{noop:?}");
    // A silent store of a new keyword still announces it; one already known is not repeated.
    let silent = a.cmd("STORE 2 +FLAGS.SILENT ($world $hello)");
    assert_eq!(silent.iter().filter(|l| l.starts_with("* FLAGS (")).count(), 1, "{silent:?}");
    assert!(a.cmd("STORE 2 +FLAGS ($world)").iter().all(|l| !l.starts_with("* FLAGS")));
    // At the next SELECT, FLAGS lists the folder's keywords.
    let mut c = Raw::login(addr);
    let selected = c.cmd("SELECT INBOX");
    let flags = find(&selected, "* FLAGS").unwrap();
    assert!(flags.contains("$hello") && flags.contains("$world"), "{flags}");
    let permanent = selected.iter().find(|l| l.contains("PERMANENTFLAGS")).unwrap();
    assert!(permanent.contains("$hello") && permanent.contains("\\*"), "{permanent}");
    // EXAMINE: the keywords, but no PERMANENTFLAGS to set.
    let examined = c.cmd("EXAMINE INBOX");
    assert!(find(&examined, "* FLAGS").unwrap().contains("$world"));
    assert!(examined.iter().any(|l| l.contains("[PERMANENTFLAGS ()]")), "{examined:?}");
    // A keyword another session set shows in this session's own STORE answer only after
    // FLAGS named it.
    assert!(b.cmd("STORE 2 +FLAGS.SILENT ($other)").last().unwrap().contains("OK"));
    let stored = a.cmd("STORE 2 +FLAGS (\\Flagged)");
    let flags = stored.iter().position(|l| l.starts_with("* FLAGS (") && l.contains("$other")).expect("FLAGS");
    let fetch = stored.iter().position(|l| l.starts_with("* 2 FETCH") && l.contains("$other")).expect("FETCH");
    assert!(flags < fetch, "{stored:?}");
    // The folder's list only grows: a keyword no message holds any more is still listed.
    assert!(a.cmd("STORE 1:2 -FLAGS ($hello)").last().unwrap().contains("OK"));
    let selected = Raw::login(addr).cmd("SELECT INBOX");
    assert!(find(&selected, "* FLAGS").unwrap().contains("$hello"), "{selected:?}");
    // At most 256 keywords in a folder: past that, NO [LIMIT].
    let many: Vec<String> = (0..253).map(|i| format!("$k{i}")).collect();
    assert!(a.cmd(&format!("STORE 1 +FLAGS.SILENT ({})", many.join(" "))).last().unwrap().contains("OK"));
    let r = a.cmd("STORE 1 +FLAGS.SILENT ($one-too-many)");
    assert!(r.last().unwrap().contains("NO [LIMIT]"), "{r:?}");
    assert!(a.cmd("STORE 1 +FLAGS.SILENT ($k7)").last().unwrap().contains("OK"), "a known one still goes");
}

/// `\Recent` belongs to the first session that selects read-write: mail appended while no
/// session had the folder open is recent to it, EXAMINE and STATUS do not take it.
#[test]
fn recent_is_kept_for_the_first_session_that_selects() {
    let s = server_with_mail("imap-recent", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("CREATE Box").last().unwrap().contains("OK"));
    for i in 0..2 {
        let msg = format!("Subject: {i}\r\n\r\nbody\r\n");
        a.send(&format!("p{i} APPEND Box {{{}+}}\r\n{msg}\r\n", msg.len()));
        assert!(a.line().starts_with(&format!("p{i} OK")));
    }
    let examined = a.cmd("EXAMINE Box");
    assert!(examined.contains(&"* 2 RECENT\r\n".to_owned()), "{examined:?}");
    assert!(a.cmd("CLOSE").last().unwrap().contains("OK"));
    let status = a.cmd("STATUS Box (MESSAGES RECENT UNSEEN)");
    assert_eq!(status[0], "* STATUS Box (MESSAGES 2 RECENT 2 UNSEEN 2)\r\n");
    let selected = a.cmd("SELECT Box");
    assert!(selected.contains(&"* 2 RECENT\r\n".to_owned()), "{selected:?}");
    let search = a.cmd("SEARCH RECENT");
    assert_eq!(search[0], "* SEARCH 1 2\r\n");
    // An expunged message is recent no more: RECENT never counts past EXISTS.
    assert!(a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").last().unwrap().contains("OK"));
    assert!(a.cmd("EXPUNGE").last().unwrap().contains("OK"));
    let msg = "Subject: 2\r\n\r\nbody\r\n";
    let mut c = Raw::login(s.addr("imapplain"));
    c.send(&format!("q APPEND Box {{{}+}}\r\n{msg}\r\n", msg.len()));
    assert!(c.line().starts_with("q OK"));
    let noop = a.cmd("NOOP");
    assert!(noop.contains(&"* 2 EXISTS\r\n".to_owned()) && noop.contains(&"* 2 RECENT\r\n".to_owned()), "{noop:?}");
    assert!(a.cmd("CLOSE").last().unwrap().contains("OK"));
    assert_eq!(a.cmd("STATUS Box (RECENT)")[0], "* STATUS Box (RECENT 0)\r\n");
    // Another session's SELECT does not see them as recent any more.
    let mut b = Raw::login(s.addr("imapplain"));
    assert!(b.cmd("SELECT Box").contains(&"* 0 RECENT\r\n".to_owned()));
    assert_eq!(b.cmd("SEARCH NEW")[0], "* SEARCH\r\n");
}

/// A folder deleted and created again at once gets another UIDVALIDITY.
#[test]
fn uidvalidity_is_never_reused() {
    let s = server_with_mail("imap-uidvalidity", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let validity = |a: &mut Raw| {
        let status = a.cmd("STATUS Again (UIDVALIDITY)");
        status[0].trim_end().trim_end_matches(')').rsplit(' ').next().unwrap().parse::<u32>().unwrap()
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        assert!(a.cmd("CREATE Again").last().unwrap().contains("OK"));
        seen.push(validity(&mut a));
        assert!(a.cmd("DELETE Again").last().unwrap().contains("OK"));
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

/// LSUB with `%` names a parent of a subscribed folder it does not match with `\Noselect`
/// when the parent is not subscribed itself (RFC 3501 §6.3.9).
#[test]
fn lsub_names_unsubscribed_parents_noselect() {
    let s = server_with_mail("imap-lsub", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    for name in ["Top", "Top.a", "Top.b", "Top.b.c", "Top.d.e"] {
        assert!(a.cmd(&format!("CREATE {name}")).last().unwrap().contains("OK"));
    }
    for name in ["Top.a", "Top.b.c", "Top.d.e"] {
        assert!(a.cmd(&format!("SUBSCRIBE {name}")).last().unwrap().contains("OK"));
    }
    let lsub = a.cmd("LSUB \"\" Top.%");
    let names: Vec<&str> = lsub.iter().filter(|l| l.starts_with("* LSUB")).map(String::as_str).collect();
    assert_eq!(names.len(), 3, "{lsub:?}");
    assert!(names.iter().any(|l| l.ends_with(" Top.a\r\n") && !l.contains("Noselect")), "{names:?}");
    assert!(names.contains(&"* LSUB (\\Noselect) \".\" Top.b\r\n"), "{names:?}");
    assert!(names.contains(&"* LSUB (\\Noselect) \".\" Top.d\r\n"), "{names:?}");
    // With `*` the subscribed folders themselves match; no parent is added.
    let lsub = a.cmd("LSUB \"\" Top.*");
    assert_eq!(lsub.iter().filter(|l| l.starts_with("* LSUB")).count(), 3, "{lsub:?}");
    assert!(lsub.iter().all(|l| !l.contains("Noselect")), "{lsub:?}");
}

/// An ID as large as RFC 2971 allows (30 fields of 1024 octets) is answered, before login.
#[test]
fn the_largest_id_is_answered() {
    use std::io::{BufRead, BufReader, Write};
    let s = server_with_mail("imap-id", "", 0);
    let stream = std::net::TcpStream::connect(s.addr("imapplain")).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let fields: Vec<String> = (0..30).map(|i| format!("\"f{i:02}\" \"{}\"", "v".repeat(1024))).collect();
    (&stream).write_all(format!("a ID ({})\r\n", fields.join(" ")).as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("* ID "), "{line}");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("a OK"), "{line}");
}

/// A BINARY APPEND with NUL: `BODY[1]` is base64 (a plain literal cannot carry NUL), and
/// `BINARY[1]` gives back the very octets (imaptest's `append-binary`).
#[test]
fn a_binary_append_with_nul_is_shown_safely() {
    use std::io::{Read, Write};
    let s = server_with_mail("imap-nul", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let mut msg = b"From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\
                    Content-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(b"\x00-\xe4\r\n\r\n");
    a.writer.write_all(format!("b APPEND INBOX ~{{{}+}}\r\n", msg.len()).as_bytes()).unwrap();
    a.writer.write_all(&msg).unwrap();
    a.writer.write_all(b"\r\n").unwrap();
    assert!(a.line().starts_with("b OK [APPENDUID"));
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let body = a.cmd("FETCH 1 (BODY.PEEK[1])");
    assert!(body[0].ends_with("{14}\r\n") && body[1].starts_with("AC3kDQoNCg=="), "{body:?}");
    let structure = a.cmd("FETCH 1 (BODYSTRUCTURE)");
    assert!(structure[0].to_ascii_uppercase().contains("\"BASE64\""), "{structure:?}");
    a.send("c FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n");
    let head = a.line();
    assert!(head.starts_with("* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n"), "{head}");
    let mut octets = [0u8; 7];
    a.reader.read_exact(&mut octets).unwrap();
    assert_eq!(&octets, b"\x00-\xe4\r\n\r\n");
}

/// A message that vanishes under a FETCH (expunged elsewhere) does not fail the others: they
/// are fetched, the command ends `NO [EXPUNGEISSUED]` (RFC 2180 §4.1, RFC 5530), and the
/// next command reports the expunge.
#[test]
fn a_message_gone_under_a_fetch_does_not_fail_the_others() {
    let s = server_with_mail("imap-vanished", "", 2);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("SELECT INBOX").contains(&"* 2 EXISTS\r\n".to_owned()));
    let maildir = s.data().join("mail/localhost/alice/Maildir");
    let first = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("Subject: message 1\r\n"))
        .unwrap();
    std::fs::remove_file(&first).unwrap();
    let fetched = a.cmd("FETCH 1:2 (BODY.PEEK[TEXT])");
    assert!(fetched.iter().any(|l| l.starts_with("* 2 FETCH (BODY[TEXT] ")), "{fetched:?}");
    assert!(fetched.iter().all(|l| !l.starts_with("* 1 FETCH")), "{fetched:?}");
    assert!(fetched.last().unwrap().contains("NO [EXPUNGEISSUED]"), "{fetched:?}");
    assert!(a.cmd("NOOP").contains(&"* 1 EXPUNGE\r\n".to_owned()));
    assert!(a.cmd("FETCH 1 (BODY.PEEK[TEXT])").last().unwrap().contains("OK"));
}

/// An empty folder keeps its UIDVALIDITY between sessions (imaptest's `move`: SELECT of a
/// new folder, then later a COPYUID into it).
#[test]
fn an_empty_folder_keeps_its_uidvalidity() {
    let s = server_with_mail("imap-empty-validity", "", 1);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("CREATE Empty").last().unwrap().contains("OK"));
    let validity = |lines: Vec<String>| lines.into_iter().find(|l| l.contains("[UIDVALIDITY ")).unwrap();
    let first = validity(a.cmd("SELECT Empty"));
    assert!(a.cmd("CLOSE").last().unwrap().contains("OK"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut b = Raw::login(s.addr("imapplain"));
    assert_eq!(validity(b.cmd("SELECT Empty")), first);
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let moved = a.cmd("MOVE 1 Empty");
    let uidvalidity = first.split("[UIDVALIDITY ").nth(1).unwrap().split(']').next().unwrap();
    assert!(moved.iter().any(|l| l.contains(&format!("[COPYUID {uidvalidity} "))), "{moved:?}");
}

/// LIST-EXTENDED (RFC 5258): RECURSIVEMATCH names a parent for its subscribed children the
/// patterns do not match, with CHILDINFO; a subscribed folder that is gone is `\NonExistent`;
/// `%` names a level that is no folder `\Noselect`; unknown options are BAD. LIST-STATUS
/// (RFC 5819) follows each existing folder with its STATUS.
#[test]
fn list_extended_and_list_status() {
    let s = server_with_mail("imap-listext", "", 1);
    let mut a = Raw::login(s.addr("imapplain"));
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" LIST-EXTENDED") && caps[0].contains(" LIST-STATUS"), "{caps:?}");
    for name in ["T.a", "T.b.c", "T.d", "T.e.f"] {
        assert!(a.cmd(&format!("CREATE {name}")).last().unwrap().contains("OK"));
    }
    for name in ["T.a", "T.b.c", "T.d", "T.e.f"] {
        assert!(a.cmd(&format!("SUBSCRIBE {name}")).last().unwrap().contains("OK"));
    }
    assert!(a.cmd("DELETE T.d").last().unwrap().contains("OK"));
    let lines = |r: Vec<String>| r.into_iter().filter(|l| l.starts_with("* ")).collect::<Vec<_>>();
    let r = lines(a.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" T.%"));
    assert!(r.iter().any(|l| l.contains("\\Subscribed") && l.contains(" T.a\r\n")), "{r:?}");
    assert!(r.iter().any(|l| l.ends_with(" T.b (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")), "{r:?}");
    assert!(r.iter().any(|l| l.contains("\\NonExistent") && l.contains(" T.d\r\n")), "{r:?}");
    assert!(r.iter().all(|l| !l.contains("T.b.c")), "{r:?}");
    // When the child matches too, the parent is not named for it.
    let r = lines(a.cmd("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (T.b T.b.c)"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].ends_with(" T.b.c\r\n"), "{r:?}");
    // `%` over a level that is no folder.
    let r = lines(a.cmd("LIST \"\" T.%"));
    assert!(
        r.iter().any(|l| l.contains("\\Noselect") && l.contains("\\HasChildren") && l.ends_with(" T.e\r\n")),
        "{r:?}"
    );
    for bad in ["LIST (imaptest) \"\" \"\"", "LIST (RECURSIVEMATCH) \"\" \"\"", "LIST \"\" \"\" RETURN (imaptest)"] {
        assert!(a.cmd(bad).last().unwrap().contains("BAD"), "{bad}");
    }
    // LIST-STATUS: each existing folder's STATUS right after its LIST line.
    let r = lines(a.cmd("LIST \"\" (INBOX T.a T.e) RETURN (STATUS (MESSAGES UNSEEN))"));
    let at = |needle: &str| r.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {r:?}"));
    assert_eq!(at("* STATUS INBOX (MESSAGES 1 UNSEEN 1)"), at(" INBOX\r\n") + 1, "{r:?}");
    assert_eq!(at("* STATUS T.a (MESSAGES 0 UNSEEN 0)"), at(" T.a\r\n") + 1, "{r:?}");
    assert!(r.iter().all(|l| !l.starts_with("* STATUS T.e")), "no STATUS for a level that is no folder: {r:?}");
}

/// SORT (RFC 5256) and SORT=DISPLAY (RFC 5957): base subjects with encoded words, addresses
/// by mailbox, groups by name, REVERSE, ties by message number, UID SORT, and a charset
/// that is not offered.
#[test]
fn sort_orders_as_rfc_5256_says() {
    use std::io::Write;
    let s = server_with_mail("imap-sort", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let messages = [
        "From: Zed <b@x.org>\r\nTo: g: m@x.org;\r\nSubject: =?utf-8?q?RE:_Fwd:_beta?=\r\n\r\n1\r\n",
        "From: a@x.org\r\nTo: Yves <y@x.org>\r\nSubject: [list] alpha (fwd)\r\n\r\n22\r\n",
        "From: c@x.org\r\nTo: c@x.org\r\nSubject: Re: [fwd: alpha]\r\n\r\n333\r\n",
    ];
    for (i, m) in messages.iter().enumerate() {
        a.writer.write_all(format!("p{i} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes()).unwrap();
        assert!(a.line().starts_with(&format!("p{i} OK")));
    }
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let sort = |a: &mut Raw, c: &str| a.cmd(c)[0].clone();
    assert_eq!(sort(&mut a, "SORT (SUBJECT) UTF-8 ALL"), "* SORT 2 3 1\r\n");
    assert_eq!(sort(&mut a, "SORT (REVERSE SUBJECT) UTF-8 ALL"), "* SORT 1 2 3\r\n", "ties stay in order");
    assert_eq!(sort(&mut a, "SORT (FROM) US-ASCII ALL"), "* SORT 2 1 3\r\n");
    assert_eq!(sort(&mut a, "SORT (DISPLAYFROM) UTF-8 ALL"), "* SORT 2 3 1\r\n");
    assert_eq!(sort(&mut a, "SORT (TO) UTF-8 ALL"), "* SORT 3 1 2\r\n", "a group sorts by its name");
    assert_eq!(sort(&mut a, "SORT (REVERSE SIZE) UTF-8 ALL"), "* SORT 1 2 3\r\n");
    assert_eq!(sort(&mut a, "SORT (SUBJECT REVERSE ARRIVAL) UTF-8 NOT FROM c"), "* SORT 2 1\r\n");
    // ESORT (RFC 5267): MIN and MAX by number, ALL in the sorted order.
    let r = a.cmd("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL");
    assert!(r[0].starts_with("* ESEARCH (TAG \"t") && r[0].ends_with(" MIN 1 MAX 3 COUNT 3 ALL 2:3,1\r\n"), "{r:?}");
    let uids = a.cmd("UID SORT (SIZE) UTF-8 ALL");
    assert!(uids[0].starts_with("* SORT "), "{uids:?}");
    assert!(a.cmd("SORT (SUBJECT) KOI8-R ALL").last().unwrap().contains("NO [BADCHARSET"));
    assert!(a.cmd("SORT (COLOUR) UTF-8 ALL").last().unwrap().contains("BAD"));
}

/// THREAD (RFC 5256): REFERENCES links replies by References and In-Reply-To, keeps a
/// missing parent to hold its replies together, and gathers roots by base subject;
/// ORDEREDSUBJECT groups by base subject under the first by date.
#[test]
fn thread_references_and_orderedsubject() {
    use std::io::Write;
    let s = server_with_mail("imap-thread", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let m = |id: &str, refs: &str, subject: &str, date: &str| {
        format!("Message-ID: <{id}>\r\n{refs}Subject: {subject}\r\nDate: {date}\r\n\r\nbody\r\n")
    };
    let messages = [
        m("a@x", "", "plans", "Mon, 1 Jun 2026 10:00:00 +0000"),
        m("b@x", "In-Reply-To: <a@x>\r\n", "Re: plans", "Mon, 1 Jun 2026 11:00:00 +0000"),
        m("c@x", "References: <a@x> <b@x>\r\n", "Re: plans", "Mon, 1 Jun 2026 12:00:00 +0000"),
        m("d@x", "References: <gone@x>\r\n", "lunch", "Mon, 1 Jun 2026 09:00:00 +0000"),
        m("e@x", "References: <gone@x>\r\n", "lunch", "Mon, 1 Jun 2026 09:30:00 +0000"),
        m("f@x", "", "Re: plans", "Mon, 1 Jun 2026 13:00:00 +0000"),
        m("g@x", "References: <a@x>\r\n", "Re: plans", "Mon, 1 Jun 2026 11:30:00 +0000"),
    ];
    for (i, msg) in messages.iter().enumerate() {
        a.writer.write_all(format!("p{i} APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes()).unwrap();
        assert!(a.line().starts_with(&format!("p{i} OK")));
    }
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains("THREAD=REFERENCES") && caps[0].contains("THREAD=ORDEREDSUBJECT"), "{caps:?}");
    // 4 and 5 share a missing parent; 1 has replies 2 (then 3) and 7, and 6 ("Re: plans"
    // without references) is gathered under 1 by subject.
    let r = a.cmd("THREAD REFERENCES UTF-8 ALL");
    assert_eq!(r[0], "* THREAD ((4)(5))(1 (2 3)(7)(6))\r\n", "{r:?}");
    let r = a.cmd("THREAD ORDEREDSUBJECT UTF-8 ALL");
    assert_eq!(r[0], "* THREAD (4 5)(1 (2)(7)(3)(6))\r\n", "{r:?}");
    let r = a.cmd("UID THREAD REFERENCES UTF-8 SUBJECT lunch");
    assert!(r[0].starts_with("* THREAD (("), "{r:?}");
    assert!(a.cmd("THREAD MAGIC UTF-8 ALL").last().unwrap().contains("BAD"));
}

/// MULTIAPPEND (RFC 3502): several messages in one APPEND, all stored with one APPENDUID
/// set, or none when one of them is refused.
#[test]
fn multiappend_stores_all_or_none() {
    use std::io::Write;
    let s = server_with_mail("imap-multiappend", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("CAPABILITY")[0].contains(" MULTIAPPEND"));
    let (m1, m2, m3) = ("Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n22\r\n", "Subject: three\r\n\r\n333\r\n");
    let command = format!(
        "b APPEND INBOX (\\Seen) {{{}+}}\r\n{m1} {{{}+}}\r\n{m2} (\\Flagged) \"07-Dec-2026 10:00:00 +0000\" {{{}+}}\r\n{m3}\r\n",
        m1.len(),
        m2.len(),
        m3.len()
    );
    a.writer.write_all(command.as_bytes()).unwrap();
    let answer = a.line();
    assert!(answer.starts_with("b OK [APPENDUID ") && answer.contains(" 1:3]"), "{answer}");
    // The third message's date is no date: nothing of this command is stored.
    let command = format!(
        "c APPEND INBOX {{{}+}}\r\n{m1} {{{}+}}\r\n{m2} \"31-Foo-2026 10:00:00 +0000\" {{{}+}}\r\n{m3}\r\n",
        m1.len(),
        m2.len(),
        m3.len()
    );
    a.writer.write_all(command.as_bytes()).unwrap();
    assert!(a.line().starts_with("c BAD"));
    let selected = a.cmd("SELECT INBOX");
    assert!(selected.contains(&"* 3 EXISTS\r\n".to_owned()), "{selected:?}");
    let flags = a.cmd("FETCH 1:3 (FLAGS RFC822.SIZE)");
    assert!(flags[0].contains("\\Seen") && flags[2].contains("\\Flagged"), "{flags:?}");
    let tmp = s.data().join("mail/localhost/alice/Maildir/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the refused command's files are gone");
    // At most 1,000 messages in one APPEND: the 1,001st refuses the command, none is stored.
    let mut command = b"d APPEND INBOX {1+}\r\nx".to_vec();
    for _ in 0..1000 {
        command.extend_from_slice(b" {1+}\r\nx");
    }
    command.extend_from_slice(b"\r\n");
    a.writer.write_all(&command).unwrap();
    let answer = a.line();
    assert!(answer.starts_with("d NO [LIMIT]"), "{answer}");
    assert!(a.cmd("NOOP").iter().all(|l| !l.contains("EXISTS")), "nothing new");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the refused command's files are gone");
}

/// QUOTA (RFC 9208) over the account's quota: one root, `""`, for every folder, STORAGE in
/// KiB; no root for an account without a quota; SETQUOTA is the administrator's.
#[test]
fn quota_roots_and_usage() {
    let s = server_with_mail("imap-quota", "[[user]]\naddress = \"alice@localhost\"\nquota = 2048000\n", 1);
    let mut a = Raw::login(s.addr("imapplain"));
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" QUOTA ") && caps[0].contains(" QUOTA=RES-STORAGE"), "{caps:?}");
    let r = a.cmd("GETQUOTAROOT INBOX");
    assert_eq!(r[0], "* QUOTAROOT INBOX \"\"\r\n", "{r:?}");
    assert!(r[1].starts_with("* QUOTA \"\" (STORAGE 1 2000)"), "{r:?}");
    let r = a.cmd("GETQUOTA \"\"");
    assert!(r[0].starts_with("* QUOTA \"\" (STORAGE "), "{r:?}");
    assert!(a.cmd("GETQUOTA \"other\"").last().unwrap().contains("NO [NONEXISTENT]"));
    assert!(a.cmd("GETQUOTAROOT Nowhere").last().unwrap().contains("NO [NONEXISTENT]"));
    assert!(a.cmd("SETQUOTA \"\" (STORAGE 99999)").last().unwrap().contains("NO [CANNOT]"));
    // Without a quota: no root.
    let out = s.cli(&["user", "add", "bob@localhost"], "bob-secret\n");
    assert!(out.status.success(), "{out:?}");
    let stream = std::net::TcpStream::connect(s.addr("imapplain")).unwrap();
    let mut bob = Raw { reader: std::io::BufReader::new(stream.try_clone().unwrap()), writer: stream, next: 0 };
    assert!(bob.line().starts_with("* OK"));
    assert!(bob.cmd("LOGIN bob@localhost bob-secret").last().unwrap().contains("OK"));
    assert_eq!(bob.cmd("GETQUOTAROOT INBOX")[0], "* QUOTAROOT INBOX\r\n");
}

/// CREATE-SPECIAL-USE (RFC 6154 §3): a folder created for a use is listed with it, keeps it
/// across RENAME, and a use the server cannot give is NO [USEATTR].
#[test]
fn create_special_use() {
    let s = server_with_mail("imap-create-special", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("CAPABILITY")[0].contains(" CREATE-SPECIAL-USE"));
    assert!(a.cmd("CREATE MyDrafts (USE (\\Drafts))").last().unwrap().contains("OK"));
    let r = a.cmd("LIST (SPECIAL-USE) \"\" *");
    assert!(r.iter().any(|l| l.contains("\\Drafts") && l.ends_with(" MyDrafts\r\n")), "{r:?}");
    assert!(a.cmd("RENAME MyDrafts Outgoing").last().unwrap().contains("OK"));
    let r = a.cmd("LIST \"\" Outgoing RETURN (SPECIAL-USE)");
    assert!(r[0].contains("\\Drafts"), "{r:?}");
    let r = a.cmd("CREATE Everything (USE (\\All))");
    assert!(r.last().unwrap().contains("NO [USEATTR]"), "{r:?}");
    assert!(a.cmd("LIST \"\" Everything").len() == 1, "not created");
}
