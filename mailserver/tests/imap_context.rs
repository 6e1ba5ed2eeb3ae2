//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) over real TCP: PARTIAL results, results kept
//! up to date with ADDTO and REMOVEFROM as this session and others change the folder
//! (REMOVEFROM before the EXPUNGE, in the client's numbers), CANCELUPDATE, and a bound on
//! the results one session may keep.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{Raw, server_with_mail};

fn ok(lines: &[String]) -> bool {
    lines.last().is_some_and(|l| l.split(' ').nth(1) == Some("OK"))
}

#[test]
fn partial_results_in_search_and_sort_order() {
    let s = server_with_mail("imap-partial", "", 5);
    let mut a = Raw::login(s.addr("imapplain"));
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" CONTEXT=SEARCH") && caps[0].contains(" CONTEXT=SORT"), "{caps:?}");
    assert!(ok(&a.cmd("SELECT INBOX")));
    let r = a.cmd("SEARCH RETURN (PARTIAL 4:2) ALL");
    assert_eq!(r[0], format!("* ESEARCH (TAG \"t{}\") PARTIAL (2:4 2:4)\r\n", a.next), "{r:?}");
    let r = a.cmd("SEARCH RETURN (PARTIAL 2:10) 1:2,4:5");
    assert!(r[0].ends_with("PARTIAL (2:10 2,4:5)\r\n"), "{r:?}");
    let r = a.cmd("UID SEARCH RETURN (PARTIAL 6:9) ALL");
    assert!(r[0].ends_with("UID PARTIAL (6:9 NIL)\r\n"), "{r:?}");
    let r = a.cmd("SORT RETURN (PARTIAL 1:6) (REVERSE SUBJECT) US-ASCII ALL");
    assert!(r[0].ends_with("PARTIAL (1:6 5,4,3,2,1)\r\n"), "{r:?}");
    for bad in [
        "SEARCH RETURN (PARTIAL 1) ALL",
        "SEARCH RETURN (PARTIAL 1:*) ALL",
        "SORT RETURN (PARTIAL 0:3) (SIZE) UTF-8 ALL",
    ] {
        assert!(a.cmd(bad).last().unwrap().contains(" BAD "), "{bad}");
    }
}

#[test]
fn kept_results_follow_the_folder_until_cancelled() {
    let s = server_with_mail("imap-context", "", 5);
    let addr = s.addr("imapplain");
    let mut a = Raw::login(addr);
    assert!(ok(&a.cmd("SELECT INBOX")));
    assert!(ok(&a.cmd("STORE 1,2 +FLAGS.SILENT (\\Seen)")));
    // Kept, with its first result (tag `ta`), and one kept without (`tb`).
    let r = a.cmd("SEARCH RETURN (UPDATE ALL) SEEN");
    let ta = format!("\"t{}\"", a.next);
    assert_eq!(r[0], format!("* ESEARCH (TAG {ta}) ALL 1:2\r\n"), "{r:?}");
    let r = a.cmd("UID SEARCH RETURN (UPDATE) UNSEEN");
    let tb = format!("\"t{}\"", a.next);
    assert_eq!(r[0], format!("* ESEARCH (TAG {tb}) UID\r\n"), "{r:?}");
    let has = |r: &[String], line: String| r.contains(&format!("{line}\r\n"));
    // This session's own change.
    let r = a.cmd("STORE 3:4 +FLAGS.SILENT (\\Seen)");
    assert!(has(&r, format!("* ESEARCH (TAG {ta}) ADDTO (0 3:4)")), "{r:?}");
    assert!(has(&r, format!("* ESEARCH (TAG {tb}) UID REMOVEFROM (0 3:4)")), "{r:?}");
    // Another session's change, seen at NOOP.
    let mut b = Raw::login(addr);
    assert!(ok(&b.cmd("SELECT INBOX")));
    assert!(ok(&b.cmd("STORE 1 -FLAGS.SILENT (\\Seen)")));
    let r = a.cmd("NOOP");
    assert!(has(&r, format!("* ESEARCH (TAG {ta}) REMOVEFROM (0 1)")), "{r:?}");
    assert!(has(&r, format!("* ESEARCH (TAG {tb}) UID ADDTO (0 1)")), "{r:?}");
    // An expunge: REMOVEFROM in the numbers the client holds, before the EXPUNGE.
    assert!(ok(&a.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")));
    let r = a.cmd("EXPUNGE");
    let removed =
        r.iter().position(|l| *l == format!("* ESEARCH (TAG {ta}) REMOVEFROM (0 3)\r\n")).expect("REMOVEFROM");
    let expunged = r.iter().position(|l| l == "* 3 EXPUNGE\r\n").expect("EXPUNGE");
    assert!(removed < expunged, "{r:?}");
    // A sorted result keeps its order: a new message goes in at its position.
    let r = a.cmd("UID SORT RETURN (UPDATE ALL) (REVERSE SUBJECT) US-ASCII ALL");
    let tc = format!("\"t{}\"", a.next);
    assert_eq!(r[0], format!("* ESEARCH (TAG {tc}) UID ALL 5,4,2,1\r\n"), "{r:?}");
    common::imap::deliver(&s, 6);
    // Delivered: the next NOOP that sees it tells both kept results.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        let r = a.cmd("NOOP");
        if r.iter().any(|l| l.ends_with("EXISTS\r\n")) || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(has(&r, format!("* ESEARCH (TAG {tc}) UID ADDTO (1 6)")), "{r:?}");
    assert!(has(&r, format!("* ESEARCH (TAG {tb}) UID ADDTO (0 6)")), "{r:?}");
    // CANCELUPDATE: no more of them.
    assert!(ok(&a.cmd(&format!("CANCELUPDATE {ta} {tc}"))));
    let r = a.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)");
    assert!(!r.iter().any(|l| l.contains(&ta) || l.contains(&tc)), "{r:?}");
    assert!(r.iter().any(|l| l.starts_with(&format!("* ESEARCH (TAG {tb}) UID REMOVEFROM"))), "{r:?}");
    // A session keeps at most 8: past that, NOUPDATE, and the search is still answered.
    for _ in 0..7 {
        assert!(ok(&a.cmd("SEARCH RETURN (UPDATE) DELETED")));
    }
    let r = a.cmd("SEARCH RETURN (UPDATE COUNT) ALL");
    assert!(r.iter().any(|l| l.starts_with("* OK [NOUPDATE \"t")), "{r:?}");
    assert!(r.iter().any(|l| l.contains("COUNT 5")), "{r:?}");
    // A new SELECT drops them all.
    assert!(ok(&a.cmd("SELECT INBOX")));
    let r = a.cmd("STORE 1:* -FLAGS.SILENT (\\Seen)");
    assert!(!r.iter().any(|l| l.starts_with("* ESEARCH")), "{r:?}");
}
