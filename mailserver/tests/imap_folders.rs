//! IMAP folder names and limits under hostile use: INBOX in every spelling is INBOX (and
//! cannot be deleted), renames move children once, folder count, name length and
//! subscriptions are bounded with `NO [LIMIT]`, and LIST patterns cost linear time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{Raw, server_with_mail};

fn last(r: &[String]) -> &str {
    r.last().unwrap()
}

/// `DELETE "INBOX."` once removed the whole Maildir: every spelling of INBOX is INBOX.
#[test]
fn inbox_in_any_spelling_cannot_be_deleted_and_keeps_its_mail() {
    let s = server_with_mail("imapf-inbox", "", 2);
    let mut a = Raw::login(s.addr("imapplain"));
    for name in ["INBOX", "\"INBOX.\"", "\"inbox.\"", "\"INBOX..\"", "\"iNbOx...\""] {
        let r = a.cmd(&format!("DELETE {name}"));
        assert!(last(&r).contains("NO [CANNOT]"), "{name}: {r:?}");
    }
    let r = a.cmd("RENAME \"INBOX.\" Saved");
    assert!(last(&r).contains("OK"), "renaming INBOX moves its messages: {r:?}");
    assert!(a.cmd("SELECT Saved").iter().any(|l| l == "* 2 EXISTS\r\n"));
    assert!(a.cmd("SELECT INBOX").iter().any(|l| l == "* 0 EXISTS\r\n"));
    // Nothing else went: the special-use folders and the subscription list are there.
    let r = a.cmd("LIST \"\" *");
    assert!(r.iter().any(|l| l.contains("Archive")) && r.iter().any(|l| l.contains("Saved")), "{r:?}");
    assert!(s.data().join("mail/localhost/alice/Maildir/subscriptions").exists());
    for name in ["\".\"", "\"..\""] {
        let r = a.cmd(&format!("DELETE {name}"));
        assert!(last(&r).contains(" NO "), "{name}: {r:?}");
    }
    assert!(s.data().join("mail/localhost/alice/Maildir/cur").is_dir());
}

/// `RENAME r1 r1.z` with a child `r1.c`: `r1.z` and `r1.z.c`, nothing renamed twice.
#[test]
fn rename_under_itself_moves_each_child_once() {
    let s = server_with_mail("imapf-rename", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(last(&a.cmd("CREATE r1")).contains("OK"));
    assert!(last(&a.cmd("CREATE r1.c")).contains("OK"));
    assert!(last(&a.cmd("RENAME r1 r1.z")).contains("OK"));
    let r = a.cmd("LIST \"\" r1*");
    let names: Vec<&str> =
        r.iter().filter_map(|l| l.strip_prefix("* LIST ")).map(|l| l.rsplit(' ').next().unwrap().trim()).collect();
    assert_eq!(names, ["r1.z", "r1.z.c"], "{r:?}");
}

/// The folder count, the name length as stored and the subscription count each stop at
/// their limit with `NO [LIMIT]`; one under the limit is fine.
#[test]
fn folder_count_name_length_and_subscriptions_are_limited() {
    let s =
        server_with_mail("imapf-limits", "[imap]\nmax_folders = 8\nmax_folder_name = 40\nmax_subscriptions = 10\n", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    // The five special-use folders exist: three more reach the limit of eight.
    for i in 0..3 {
        assert!(last(&a.cmd(&format!("CREATE f{i}"))).contains("OK"));
    }
    let r = a.cmd("CREATE f3");
    assert!(last(&r).contains("NO [LIMIT]"), "{r:?}");
    assert!(last(&a.cmd("DELETE f2")).contains("OK"));
    assert!(last(&a.cmd("CREATE f3")).contains("OK"));
    assert!(last(&a.cmd("DELETE f3")).contains("OK"));
    // 40 octets as stored is allowed, 41 is not.
    assert!(last(&a.cmd(&format!("CREATE {}", "n".repeat(40)))).contains("OK"));
    let r = a.cmd(&format!("CREATE {}", "n".repeat(41)));
    assert!(last(&r).contains("NO [LIMIT]"), "{r:?}");
    // Emoji: few characters, many octets in modified UTF-7 (10 emoji are 56 octets).
    let emoji = "&2D3eANg93gDYPd4A2D3eANg93gDYPd4A2D3eANg93gDYPd4A2D3eAA-";
    let r = a.cmd(&format!("CREATE \"{emoji}\""));
    assert!(last(&r).contains("NO [LIMIT]") && !last(&r).contains("SERVERBUG"), "{r:?}");
    // Renaming into a name past the limit is refused too.
    let r = a.cmd(&format!("RENAME f0 {}", "m".repeat(41)));
    assert!(last(&r).contains("NO [LIMIT]"), "{r:?}");
    // Subscriptions: INBOX and the five special-use folders are subscribed at first login.
    for i in 0..4 {
        assert!(last(&a.cmd(&format!("SUBSCRIBE s{i}"))).contains("OK"));
    }
    let r = a.cmd("SUBSCRIBE s4");
    assert!(last(&r).contains("NO [LIMIT]"), "{r:?}");
    assert!(last(&a.cmd("SUBSCRIBE s3")).contains("OK"), "subscribing again changes nothing");
    // Names that could never be folders are not subscribed.
    for bad in ["\"x\\\\y/../..\"", "\"a..b\"", "\"&Jjo\""] {
        let r = a.cmd(&format!("SUBSCRIBE {bad}"));
        assert!(last(&r).contains(" NO "), "{bad}: {r:?}");
    }
    let r = a.cmd(&format!("SUBSCRIBE {}", "x".repeat(7000)));
    assert!(last(&r).contains(" NO ") || last(&r).contains(" BAD "), "{r:?}");
}

/// A LIST pattern of many wildcards against a long name answers at once (it took 21 s
/// with four, and never finished with sixteen), and the session goes on.
#[test]
fn hostile_list_patterns_answer_and_the_session_goes_on() {
    let s = server_with_mail("imapf-list", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let long = "a".repeat(199);
    assert!(last(&a.cmd(&format!("CREATE {long}"))).contains("OK"));
    for pattern in ["*a*a*a*a*b", &format!("{}*b", "*a".repeat(16)), &format!("{}b", "*a%".repeat(40))] {
        let r = a.cmd(&format!("LIST \"\" \"{pattern}\""));
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(last(&r).contains("OK"));
    }
    let r = a.cmd(&format!("LSUB \"\" \"{}\"", "*%".repeat(50)));
    assert!(last(&r).contains("OK"), "{r:?}");
    assert!(a.cmd("NOOP")[0].contains("OK"));
}

/// A UID index cut inside its header (`2 <validity> 1` left of `… 11`) once renumbered
/// the messages from 1 under the same UIDVALIDITY; now it gets a new one, and says so.
#[test]
fn a_damaged_uid_index_means_a_new_uidvalidity() {
    let mut s = server_with_mail("imapf-uidlist", "", 10);
    let validity = |a: &mut Raw| -> String {
        let r = a.cmd("SELECT INBOX");
        let line = r.iter().find(|l| l.contains("[UIDVALIDITY ")).unwrap();
        line.split("[UIDVALIDITY ").nth(1).unwrap().split(']').next().unwrap().to_owned()
    };
    let mut a = Raw::login(s.addr("imapplain"));
    let before = validity(&mut a);
    assert!(a.cmd("SELECT INBOX").iter().any(|l| l.contains("[UIDNEXT 11]")));
    drop(a);
    s.kill();
    let index = s.data().join("mail/localhost/alice/Maildir/sansmail-uidlist");
    let text = std::fs::read_to_string(&index).unwrap();
    assert!(text.starts_with(&format!("2 {before} 11 10 ")), "{text}");
    std::fs::write(&index, format!("2 {before} 1")).unwrap();
    s.restart();
    let mut a = Raw::login(s.addr("imapplain"));
    let after = validity(&mut a);
    assert_ne!(before, after, "renumbered under the same UIDVALIDITY");
    assert!(s.wait_for_log(&["UID index damaged"], std::time::Duration::from_secs(10)), "{}", s.log_text());
    assert!(a.cmd("SELECT INBOX").iter().any(|l| l == "* 10 EXISTS\r\n"));
}
