//! Hostile DNS and hostile messages against the sender checks: a 40 KB SPF record (over
//! TCP), an include loop and a chain past the lookup limit, a resolver that never answers
//! (bounded by `timeout_ms`, the mail taken with `temperror`), and messages with 60 DKIM
//! signatures or 30 ARC sets (only `max_signatures` looked at). The server keeps serving throughout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::receiver::{dns_server, spawn_ready_port};
use common::{Server, smtplib};

/// A name server that takes queries on UDP and TCP and never answers.
const SILENT_DNS: &str = r#"
import socket, sys, threading
# A port free for both UDP and TCP, found where both are bound.
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(('127.0.0.1', port)); t.listen(64)
        break
    except OSError:
        u.close(); t.close()
held = []
def drain():
    while True:
        u.recvfrom(4096)
def hold():
    while True:
        held.append(t.accept())
threading.Thread(target=drain, daemon=True).start()
threading.Thread(target=hold, daemon=True).start()
print('ready', port, flush=True)
sys.stdin.read()
"#;

fn server(name: &str, dns_port: u16, timeout_ms: u64) -> Server {
    Server::start(
        name,
        &common::mx(
            &format!(
                "[[user]]\naddress = \"bob@localhost\"\n[outbound]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\n\
                 [authentication]\ntimeout_ms = {timeout_ms}\nmax_signatures = 5\n"
            ),
            "sender_checks = true\n",
        ),
    )
}

fn results(s: &Server, n: usize) -> String {
    let m = s.wait_maildir("localhost", "bob", n);
    assert_eq!(m.len(), n, "{}", s.log_text());
    let text = &m[n - 1].1;
    let start = text.find("Authentication-Results:").unwrap_or_else(|| panic!("{text}"));
    text[start..text.find("Received:").unwrap()].to_owned()
}

#[test]
fn hostile_records_and_messages_are_bounded() {
    let huge: String =
        (0..2000).map(|i| format!("\"ip4:198.51.{}.{} \"", i / 200, i % 200)).collect::<Vec<_>>().join(" ");
    let mut zone = format!("huge.test. 60 IN TXT \"v=spf1 \" {huge} \"-all\"\n");
    zone.push_str("loop1.test. 60 IN TXT \"v=spf1 include:loop2.test -all\"\n");
    zone.push_str("loop2.test. 60 IN TXT \"v=spf1 include:loop1.test -all\"\n");
    for i in 0..20 {
        zone.push_str(&format!("c{i}.test. 60 IN TXT \"v=spf1 include:c{}.test -all\"\n", i + 1));
    }
    zone.push_str("c20.test. 60 IN TXT \"v=spf1 +all\"\n");
    zone.push_str("plain.test. 60 IN TXT \"v=spf1 +all\"\n");
    let (_dns, port) = dns_server(&zone);
    let s = server("checks-hostile", port, 5000);
    let mx = s.addr("mx");

    // A record far past UDP's size: read over TCP, evaluated (no term matches: fail).
    let out = smtplib(mx, "plain", "a@huge.test", "bob@localhost", "From: a@huge.test\r\nSubject: x\r\n\r\nx\r\n");
    assert!(out.contains("sent"), "{out}");
    assert!(results(&s, 1).contains("spf=fail"), "{}", results(&s, 1));

    // A loop, and a chain of 21 includes: the lookup limit makes both permerror.
    for (n, domain) in [(2, "loop1.test"), (3, "c0.test")] {
        let from = format!("a@{domain}");
        let out = smtplib(mx, "plain", &from, "bob@localhost", &format!("From: {from}\r\n\r\nx\r\n"));
        assert!(out.contains("sent"), "{out}");
        let r = results(&s, n);
        assert!(r.contains("spf=permerror") && r.contains(&format!("smtp.mailfrom={from}")), "{r}");
    }

    // 60 DKIM signatures: five are looked at, and the field says so.
    let sigs: String = (0..60)
        .map(|i| format!("DKIM-Signature: v=1; a=rsa-sha256; d=plain.test; s=s{i}; h=from; bh=AAAA; b=AAAA\r\n"))
        .collect();
    let out = smtplib(mx, "plain", "a@plain.test", "bob@localhost", &format!("{sigs}From: a@plain.test\r\n\r\nx\r\n"));
    assert!(out.contains("sent"), "{out}");
    let r = results(&s, 4);
    assert_eq!(r.matches("dkim=").count(), 5, "{r}");
    assert!(r.contains("only the first 5 DKIM signatures were checked"), "{r}");

    // 30 ARC sets (each would hash the body again): failed unread.
    let sets: String = (1..=30)
        .rev()
        .map(|i| {
            format!(
                "ARC-Seal: i={i}; a=rsa-sha256; cv=pass; d=plain.test; s=s; t=1; b=AAAA\r\n\
                 ARC-Message-Signature: i={i}; a=rsa-sha256; d=plain.test; s=s; h=from; bh=AAAA; b=AAAA\r\n\
                 ARC-Authentication-Results: i={i}; relay{i}.test; spf=pass\r\n"
            )
        })
        .collect();
    let out = smtplib(mx, "plain", "a@plain.test", "bob@localhost", &format!("{sets}From: a@plain.test\r\n\r\nx\r\n"));
    assert!(out.contains("sent"), "{out}");
    let r = results(&s, 5);
    assert!(r.contains("arc=fail") && r.contains("30 ARC sets: not verified"), "{r}");

    // A header section of 100,000 one-letter fields (300 KB): not handed to the parser, SPF
    // still checked, and the message delivered whole.
    let many = "X:\r\n".repeat(100_000);
    let path = common::temp_dir("checks-many-fields").join("m.eml");
    std::fs::write(&path, format!("{many}From: a@plain.test\r\n\r\nx\r\n")).unwrap();
    let out = smtplib(mx, "plain", "a@plain.test", "bob@localhost", &format!("@{}", path.display()));
    assert!(out.contains("sent"), "{out}");
    let r = results(&s, 6);
    assert!(r.contains("spf=pass") && r.contains("a header section over 262144 octets"), "{r}");
}

#[test]
fn a_silent_resolver_costs_the_timeout_and_the_mail_is_taken() {
    let (_silent, port) = spawn_ready_port(SILENT_DNS, &[]);
    let s = server("checks-silent", port, 1500);
    let started = Instant::now();
    let out = smtplib(s.addr("mx"), "plain", "a@slow.test", "bob@localhost", "From: a@slow.test\r\n\r\nx\r\n");
    let took = started.elapsed();
    assert!(out.contains("sent"), "{out}");
    let r = results(&s, 1);
    assert!(r.contains("spf=temperror"), "{r}");
    // Bounded by the deadline (1.5 s), not by the resolver's own retries (2 × 5 s per name).
    assert!(took < Duration::from_secs(8), "{took:?}");
    // And the next client is served the same way.
    let out = smtplib(s.addr("mx"), "plain", "b@slow.test", "bob@localhost", "From: b@slow.test\r\n\r\nx\r\n");
    assert!(out.contains("sent"), "{out}");
}
