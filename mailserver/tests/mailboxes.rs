//! What a mailbox does besides storing: quotas at their edge, forwarding with and without a
//! kept copy, vacation replies by RFC 3834's rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Server, smtplib};

fn send(addr: SocketAddr, from: &str, to: &str, body: &str) -> String {
    smtplib(addr, "plain", from, to, body)
}

/// Local senders too (the autoreply cases), so local-sender spoofing checks are off here.
const LISTENER: &str = "[[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\nrelay = { reject_local_spoof = false }\n";

fn body(n: usize) -> String {
    format!("Subject: quota\r\n\r\n{}", "0123456789012345678901234567890123456789\r\n".repeat(n))
}

#[test]
fn quota_at_and_past_its_edge() {
    // Learn the exact stored size of one message (headers included) on a server without quota.
    let probe = Server::start("quota-probe", &format!("[[user]]\naddress = \"qa@localhost\"\n{LISTENER}"));
    assert!(send(probe.addr("mx"), "s@remote.test", "qa@localhost", &body(20)).contains("sent"));
    let stored = probe.wait_maildir("localhost", "qa", 1)[0].1.len();
    drop(probe);

    let config = format!(
        "[[user]]\naddress = \"qa@localhost\"\nquota = {stored}\n\
         [[user]]\naddress = \"qb@localhost\"\nquota = {}\n{LISTENER}",
        stored - 1
    );
    let s = Server::start("quota", &config);
    let mx = s.addr("mx");
    // Exactly at the quota: accepted.
    let out = send(mx, "s@remote.test", "qa@localhost", &body(20));
    assert!(out.contains("sent"), "{out}");
    assert_eq!(s.wait_maildir("localhost", "qa", 1)[0].1.len(), stored);
    // Now full: 452 4.2.2 at RCPT, even for a tiny message.
    let out = send(mx, "s@remote.test", "qa@localhost", "Subject: tiny\r\n\r\nx\r\n");
    assert!(out.contains("refused qa@localhost 452 4.2.2"), "{out}");
    // One octet over: 552 5.2.2 at the end of data, and nothing is delivered.
    let out = send(mx, "s@remote.test", "qb@localhost", &body(20));
    assert!(out.contains("error 552 5.2.2"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.maildir("localhost", "qb").is_empty());
    assert!(s.queued().is_empty());
    // A smaller message still fits in qb.
    let out = send(mx, "s@remote.test", "qb@localhost", &body(5));
    assert!(out.contains("sent"), "{out}");
    assert_eq!(s.wait_maildir("localhost", "qb", 1).len(), 1);
}

#[test]
fn forwarding_with_and_without_a_copy() {
    let config = format!(
        r#"
[[user]]
address = "alice@localhost"
[[user]]
address = "fw@localhost"
forward = ["alice@localhost", "bob@remote.test"]
keep_copy = true
[[user]]
address = "fw2@localhost"
forward = ["Alice@localhost"]
{LISTENER}"#
    );
    let s = Server::start("forward", &config);
    let mx = s.addr("mx");
    assert!(send(mx, "x@remote.test", "fw@localhost", "Subject: one\r\n\r\n1\r\n").contains("sent"));
    assert_eq!(s.wait_maildir("localhost", "fw", 1).len(), 1, "keep_copy");
    assert_eq!(s.wait_maildir("localhost", "alice", 1).len(), 1, "local forward");
    let queued = s.wait_outbound(1);
    assert_eq!(queued.len(), 1, "the remote forward goes to the outbound queue");
    assert!(s.wait_queue_empty());
    let qfile = std::fs::read_to_string(s.data().join("queue/out").join(format!("{}.msg", queued[0]))).unwrap();
    assert!(qfile.contains("bob@remote.test") && qfile.contains("original = \"fw@localhost\""), "{qfile}");

    // Without keep_copy nothing stays; and alice listed twice gets one copy.
    assert!(send(mx, "x@remote.test", "fw2@localhost,alice@localhost", "Subject: two\r\n\r\n2\r\n").contains("sent"));
    assert_eq!(s.wait_maildir("localhost", "alice", 2).len(), 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.maildir("localhost", "alice").len(), 2, "one copy per mailbox per message");
    assert!(s.maildir("localhost", "fw2").is_empty());
}

#[test]
fn autoreply_follows_rfc3834() {
    let config = format!(
        r#"
[[user]]
address = "vac@localhost"
autoreply = {{ body = "I am away until Monday.", days = 7 }}
[[user]]
address = "bob@localhost"
[[user]]
address = "carol@localhost"
[[user]]
address = "dave@localhost"
{LISTENER}"#
    );
    let s = Server::start("autoreply", &config);
    let mx = s.addr("mx");
    let msg = "Message-ID: <m1@localhost>\r\nSubject: Lunch?\r\n\r\nShall we?\r\n";
    assert!(send(mx, "bob@localhost", "vac@localhost", msg).contains("sent"));
    let replies = s.wait_maildir("localhost", "bob", 1);
    assert_eq!(replies.len(), 1);
    let r = &replies[0].1;
    assert!(r.starts_with("Return-Path: <>\r\n"), "sent from the null sender: {r}");
    assert!(r.contains("Auto-Submitted: auto-replied"), "{r}");
    assert!(r.contains("Subject: Automatic reply") && !r.contains("Lunch"), "never the sender's subject: {r}");
    assert!(r.contains("In-Reply-To: <m1@localhost>"), "{r}");
    assert!(r.contains("I am away until Monday."), "{r}");

    // None of these get a reply: the same sender again, bulk, list, automatic, null sender.
    assert!(send(mx, "bob@localhost", "vac@localhost", "Subject: again\r\n\r\n.\r\n").contains("sent"));
    assert!(
        send(mx, "carol@localhost", "vac@localhost", "Precedence: bulk\r\nSubject: b\r\n\r\nb\r\n").contains("sent")
    );
    assert!(
        send(mx, "carol@localhost", "vac@localhost", "List-Id: <l.localhost>\r\nSubject: l\r\n\r\nl\r\n")
            .contains("sent")
    );
    let auto = "Auto-Submitted: auto-generated\r\nSubject: a\r\n\r\na\r\n";
    assert!(send(mx, "carol@localhost", "vac@localhost", auto).contains("sent"));
    assert!(send(mx, "", "vac@localhost", "Subject: bounce\r\n\r\nb\r\n").contains("sent"));
    // A last ordinary one from dave gets its reply; once the queue is empty every message
    // was judged (a reply is queued before its original leaves the queue).
    assert!(send(mx, "dave@localhost", "vac@localhost", "Subject: d\r\n\r\nd\r\n").contains("sent"));
    assert_eq!(s.wait_maildir("localhost", "dave", 1).len(), 1);
    assert!(s.wait_queue_empty(), "queue drains");
    assert_eq!(s.maildir("localhost", "bob").len(), 1, "once per sender per window");
    assert!(s.maildir("localhost", "carol").is_empty(), "no reply to bulk, list or automatic mail");
    assert_eq!(s.maildir("localhost", "vac").len(), 7);
}
