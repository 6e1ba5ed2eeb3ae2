//! Local delivery under faults: a delivery that fails for a while is tried again while the
//! server runs, and a damaged queue file gives up its whole messages and is quarantined.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Server, mx, smtplib};

const TOP: &str = "[[user]]\naddress = \"alice@localhost\"\n";

/// The mailbox cannot be written (its Maildir is a file, as a full disk or a bad mount
/// would fail it); the message is acknowledged and waits. Once the fault is gone it is
/// delivered without a restart.
#[test]
fn a_failed_local_delivery_is_retried_while_the_server_runs() {
    let s = Server::start("deliv-retry", &mx(TOP, ""));
    let home = s.data().join("mail/localhost/alice");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("Maildir"), b"in the way").unwrap();
    let sent = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", "Subject: r\r\n\r\nretried\r\n");
    assert!(sent.contains("sent"), "{sent}");
    assert!(s.wait_for_log(&["local delivery failed"], Duration::from_secs(20)), "{}", s.log_text());
    std::fs::remove_file(home.join("Maildir")).unwrap();
    let got = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(got[0].1.contains("retried"));
    assert!(s.wait_queue_empty());
}

/// One queue record in the spool's format.
fn record(id: &str, subject: &str) -> Vec<u8> {
    let env = format!(
        "id = \"{id}\"\nfrom = \"bob@remote.test\"\nreceived = 1\nclient = \"127.0.0.1\"\n\n\
         [[recipients]]\naddress = \"alice@localhost\"\nmailbox = \"alice@localhost\"\n"
    );
    let content = format!("Subject: {subject}\r\n\r\nbody\r\n");
    let mut out = format!("sansmail-queue 1 {} {:020}\n", env.len(), content.len()).into_bytes();
    out.extend_from_slice(env.as_bytes());
    out.extend_from_slice(content.as_bytes());
    out
}

/// A segment cut short inside its third message (a disk error, a restore from a partial
/// copy): the first two are delivered at start, the file goes to `queue/quarantine/`.
#[test]
fn a_truncated_segment_delivers_its_whole_records_and_quarantines_the_rest() {
    let mut s = Server::start("deliv-segment", &mx(TOP, ""));
    s.kill();
    let mut segment = record("0000000000000A0001", "first");
    segment.extend(record("0000000000000A0002", "second"));
    let third = record("0000000000000A0003", "third");
    segment.extend_from_slice(&third[..third.len() - 7]);
    std::fs::write(s.data().join("queue/msg/0000000000000A0000"), &segment).unwrap();
    s.restart();
    let got = s.wait_maildir("localhost", "alice", 2);
    let mut subjects: Vec<&str> =
        got.iter().filter_map(|(_, m)| m.lines().find_map(|l| l.strip_prefix("Subject: "))).collect();
    subjects.sort();
    assert_eq!(subjects, ["first", "second"], "{}", s.log_text());
    assert!(s.wait_for_log(&["damaged queue file"], Duration::from_secs(10)), "{}", s.log_text());
    assert!(s.wait_queue_empty());
    let quarantined: Vec<_> = std::fs::read_dir(s.data().join("queue/quarantine")).unwrap().collect();
    assert_eq!(quarantined.len(), 1);
}
