//! IMAP4rev2 (RFC 9051) beside IMAP4rev1 over real TCP: SEARCHRES's `$` (RFC 5182, part of
//! rev2) in both, and what ENABLE IMAP4rev2 changes: UTF-8 mailbox names (the store keeps
//! modified UTF-7, so rev1 clients see the same folders), ESEARCH for every SEARCH, no
//! `\Recent`, and SELECT's LIST response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{Raw, server_with_mail};

fn ok(lines: &[String]) -> bool {
    lines.last().is_some_and(|l| l.split(' ').nth(1) == Some("OK"))
}

#[test]
fn searchres_saves_a_result_for_dollar() {
    let s = server_with_mail("imap-searchres", "", 4);
    let mut a = Raw::login(s.addr("imapplain"));
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" IMAP4rev1 ") && caps[0].contains(" IMAP4rev2 ") && caps[0].contains(" SEARCHRES"));
    assert!(ok(&a.cmd("SELECT INBOX")));
    // `$` before any SAVE names nothing.
    assert_eq!(a.cmd("FETCH $ (UID)").len(), 1);
    // SAVE alone: no ESEARCH, just OK.
    let r = a.cmd("SEARCH RETURN (SAVE) OR SUBJECT \"message 2\" SUBJECT \"message 4\"");
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(ok(&r));
    let r = a.cmd("FETCH $ (UID)");
    assert_eq!(r[..2], ["* 2 FETCH (UID 2)\r\n", "* 4 FETCH (UID 4)\r\n"], "{r:?}");
    let r = a.cmd("UID SEARCH $");
    assert_eq!(r[0], "* SEARCH 2 4\r\n", "{r:?}");
    // SAVE with MIN keeps only the first.
    let r = a.cmd("SEARCH RETURN (SAVE MIN) ALL");
    assert!(r[0].ends_with("MIN 1\r\n"), "{r:?}");
    assert!(ok(&a.cmd("STORE $ +FLAGS (\\Deleted)")));
    let r = a.cmd("SEARCH DELETED");
    assert_eq!(r[0], "* SEARCH 1\r\n", "{r:?}");
    // The saved messages leave `$` as they are expunged.
    let r = a.cmd("UID EXPUNGE $");
    assert!(r.contains(&"* 1 EXPUNGE\r\n".to_owned()), "{r:?}");
    assert_eq!(a.cmd("FETCH $ (UID)").len(), 1);
    // UID STORE, COPY and MOVE take `$` too; a new SELECT forgets it.
    assert!(ok(&a.cmd("UID SEARCH RETURN (SAVE) UID 3")));
    let r = a.cmd("COPY $ Archive");
    assert!(r.last().unwrap().contains("[COPYUID "), "{r:?}");
    assert!(ok(&a.cmd("SELECT INBOX")));
    assert_eq!(a.cmd("FETCH $ (UID)").len(), 1);
}

#[test]
fn imap4rev2_names_in_utf8_and_answers_in_esearch() {
    let s = server_with_mail("imap-rev2", "", 3);
    let addr = s.addr("imapplain");
    let mut a = Raw::login(addr);
    assert_eq!(a.cmd("ENABLE IMAP4rev2")[0], "* ENABLED IMAP4rev2\r\n");
    // A UTF-8 name, and one with `&`, which rev2 takes as itself.
    assert!(ok(&a.cmd("CREATE \"Café\"")), "UTF-8 quoted");
    assert!(ok(&a.cmd("CREATE \"R&D\"")));
    let listed = a.cmd("LIST \"\" \"*\"").concat();
    assert!(listed.contains("{5}\r\nCafé\r\n") && listed.contains(" R&D\r\n"), "{listed}");
    // On disk and to rev1 clients: modified UTF-7.
    let maildir = s.data().join("mail/localhost/alice/Maildir");
    assert!(maildir.join(".Caf&AOk-").is_dir() && maildir.join(".R&-D").is_dir());
    let mut old = Raw::login(addr);
    let listed = old.cmd("LIST \"\" \"*\"").concat();
    assert!(listed.contains("\"Caf&AOk-\"") || listed.contains(" Caf&AOk-\r\n"), "{listed}");
    assert!(listed.contains("R&-D"), "{listed}");
    let status = a.cmd("STATUS \"Café\" (MESSAGES)").concat();
    assert!(status.starts_with("* STATUS {5}\r\nCafé (MESSAGES 0)"), "{status}");
    // SELECT: LIST with the name, no RECENT; FLAGS without \Recent; SEARCH as ESEARCH.
    let selected = a.cmd("SELECT INBOX");
    assert!(selected.contains(&"* LIST () \".\" INBOX\r\n".to_owned()), "{selected:?}");
    assert!(!selected.iter().any(|l| l.ends_with("RECENT\r\n")), "{selected:?}");
    let fetched = a.cmd("FETCH 1 FLAGS");
    assert_eq!(fetched[0], "* 1 FETCH (FLAGS ())\r\n", "{fetched:?}");
    let found = a.cmd("SEARCH ALL");
    assert_eq!(found[0], format!("* ESEARCH (TAG \"t{}\") ALL 1:3\r\n", a.next), "{found:?}");
    let found = a.cmd("UID SEARCH 2");
    assert_eq!(found[0], format!("* ESEARCH (TAG \"t{}\") UID ALL 2\r\n", a.next), "{found:?}");
    // A message APPENDed into the UTF-8 named folder lands in it.
    let msg = "Subject: x\r\n\r\ny\r\n";
    let r = a.cmd(&format!("APPEND \"Café\" {{{}+}}\r\n{msg}", msg.len()));
    assert!(ok(&r), "{r:?}");
    assert_eq!(std::fs::read_dir(maildir.join(".Caf&AOk-/cur")).unwrap().count(), 1);
    // The rev1 session still gets SEARCH and RECENT.
    let selected = old.cmd("SELECT \"Caf&AOk-\"");
    assert!(selected.iter().any(|l| l.ends_with("RECENT\r\n")), "{selected:?}");
    assert_eq!(old.cmd("SEARCH ALL")[0], "* SEARCH 1\r\n");
}
