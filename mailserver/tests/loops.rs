//! Mail loops: a message with too many `Received` fields is refused (554 5.4.6, at the
//! limit and not one under it), and two servers forwarding one address to each other stop
//! after one round trip and tell the sender.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::receiver::free_port;
use common::{Server, mx, smtplib};

fn with_received(n: usize) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!("Received: from hop{i}.test by hop{}.test; Thu, 3 Dec 2026 10:00:00 +0000\r\n", i + 1));
    }
    body.push_str("Subject: hops\r\n\r\nbody\r\n");
    body
}

#[test]
fn received_fields_at_the_hop_limit_are_refused() {
    let s = Server::start("loops-hops", &mx("hop_limit = 5\n[[user]]\naddress = \"alice@localhost\"\n", ""));
    let out = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", &with_received(4));
    assert!(out.contains("sent"), "four hops pass: {out}");
    let out = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", &with_received(5));
    assert!(out.contains("error 554 5.4.6"), "five is the limit: {out}");
    assert_eq!(s.wait_maildir("localhost", "alice", 1).len(), 1);
    // The default is Postfix's 50.
    let d = Server::start("loops-hops-default", &mx("[[user]]\naddress = \"alice@localhost\"\n", ""));
    assert!(smtplib(d.addr("mx"), "plain", "b@remote.test", "alice@localhost", &with_received(49)).contains("sent"));
    let out = smtplib(d.addr("mx"), "plain", "b@remote.test", "alice@localhost", &with_received(50));
    assert!(out.contains("error 554 5.4.6"), "{out}");
}

/// x@a.test forwards to y@b.test, which forwards back to x@a.test. The message goes round
/// once: back at a.test it carries our `Delivered-To: x@a.test`, is refused with 5.4.6,
/// and b.test bounces it to the sender.
#[test]
fn two_servers_forwarding_to_each_other_stop_after_one_round() {
    let (pa, pb) = (free_port(&["127.0.0.1"]), free_port(&["127.0.0.1"]));
    let server = |name: &str, me: &str, user: &str, forward: &str, port: u16, other: &str, other_port: u16| {
        let config = format!(
            "hostname = \"mx.{me}\"\n[[domain]]\nname = \"{me}\"\n[[user]]\naddress = \"{user}\"\nforward = [\"{forward}\"]\n\
             [[user]]\naddress = \"sender@{me}\"\n\
             [[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:{port}\"\ntls = \"none\"\n\
             relay = {{ networks = [\"127.0.0.1/32\"] }}\n\
             [outbound]\ndns_servers = [\"127.0.0.1:9\"]\n\
             [[route]]\ndomain = \"{other}\"\nhost = [\"127.0.0.1:{other_port}\"]\ntls = \"none\"\n"
        );
        Server::start(name, &config)
    };
    let a = server("loops-a", "a.test", "x@a.test", "y@b.test", pa, "b.test", pb);
    let b = server("loops-b", "b.test", "y@b.test", "x@a.test", pb, "a.test", pa);
    let out = smtplib(a.addr("mx"), "plain", "sender@a.test", "x@a.test", "Subject: ping\r\n\r\npong\r\n");
    assert!(out.contains("sent"), "{out}");
    let bounce = a.wait_maildir("a.test", "sender", 1);
    assert_eq!(bounce.len(), 1, "A:\n{}\nB:\n{}", a.log_text(), b.log_text());
    assert!(bounce[0].1.contains("5.4.6"), "{}", bounce[0].1);
    // B reports the address it was sent to, not where it forwarded it.
    assert!(bounce[0].1.contains("Final-Recipient: rfc822; y@b.test"), "{}", bounce[0].1);
    // Each Received names the address the message was sent to there, never the forward's
    // target: B's (on top) `for <y@b.test>`, then A's `for <x@a.test>`.
    let text = &bounce[0].1;
    let (at_b, at_a) = (text.find("for <y@b.test>"), text.find("for <x@a.test>"));
    assert!(at_b.is_some() && at_a.is_some() && at_b < at_a, "{text}");
    assert!(a.wait_for_log(&["mail loop refused"], Duration::from_secs(5)));
    assert!(common::wait_until(|| a.outbound().is_empty() && b.outbound().is_empty()));
    // One round trip: A accepted the original and refused the return; B accepted once.
    let accepted =
        |s: &Server| s.log_text().lines().filter(|l| l.contains(" accepted ") && l.contains("x@a.test")).count();
    assert_eq!(accepted(&b), 1, "{}", b.log_text());
}
