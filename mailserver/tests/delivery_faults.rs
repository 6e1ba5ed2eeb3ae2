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

/// `users.toml` cut short inside bob's entry (a full disk, a bad restore): the server
/// starts, alice logs in, bob's mail is still taken and delivered, bob's logins are
/// refused, and the log names him.
#[test]
fn a_truncated_users_file_serves_the_accounts_that_read() {
    let config = mx("", "allow_plaintext_auth = true\n");
    let mut s = Server::start("deliv-users", &config);
    for (user, pw) in [("alice@localhost", "pw-a"), ("bob@localhost", "pw-b")] {
        assert!(s.cli(&["user", "add", user], &format!("{pw}\n")).status.success());
    }
    s.kill();
    let path = s.data().join("users.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let bob = text.find("[user.\"bob@localhost\"]").expect("bob's entry");
    let cut = bob + text[bob..].find("password").unwrap() + 20;
    std::fs::write(&path, &text[..cut]).unwrap();
    s.restart();
    assert!(s.wait_for_log(&["account entry damaged", "bob@localhost"], Duration::from_secs(5)), "{}", s.log_text());
    let mx = s.addr("mx");
    let auth = |b64: &str| common::from_address("127.0.0.1", mx, &format!("EHLO c\r\nAUTH PLAIN {b64}\r\nQUIT\r\n"));
    let alice = auth("AGFsaWNlQGxvY2FsaG9zdABwdy1h");
    assert!(alice.contains("235 2.7.0"), "alice logs in: {alice}");
    let bob = auth("AGJvYkBsb2NhbGhvc3QAcHctYg==");
    assert!(bob.contains("535") && !bob.contains("235 2.7.0"), "bob's entry is damaged: {bob}");
    let sent = smtplib(mx, "plain", "carol@remote.test", "bob@localhost", "Subject: kept\r\n\r\nstill yours\r\n");
    assert!(sent.contains("sent"), "bob still receives: {sent}");
    assert_eq!(s.wait_maildir("localhost", "bob", 1).len(), 1);
}
