//! Outbound delivery against real servers on loopback: aiosmtpd receivers that accept,
//! refuse or defer; a DNS server (dnslib) for MX, null MX and implicit MX; hostile servers;
//! the queue CLI. Every receiver and the DNS server listen on 127.0.0.x only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::receiver::{dead_port, dns_server, free_port, receiver, spawn_ready};
use common::{Server, mx, python, smtplib, temp_dir};

/// The sansmail under test: local users alice and bob, an `mx` listener that lets
/// 127.0.0.1 relay, and `extra` configuration (routes, `[outbound]`).
fn sender(name: &str, extra: &str) -> Server {
    let top = "[[user]]\naddress = \"alice@localhost\"\n[[user]]\naddress = \"bob@localhost\"\n";
    let config = format!("{}{extra}", mx(top, "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n"));
    Server::start(name, &config)
}

fn route(domain: &str, to: SocketAddr) -> String {
    format!("\n[[route]]\ndomain = \"{domain}\"\nhost = [\"{to}\"]\ntls = \"none\"\n")
}

/// Sends with DSN parameters by raw SMTP (smtplib's sendmail takes them too).
const SEND_DSN: &str = r#"
import smtplib, sys
host, port, sender, rcpts, notify, ret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(','), sys.argv[5], sys.argv[6]
s = smtplib.SMTP(host, port, timeout=20)
s.ehlo('client.test')
print('dsn advertised', s.has_extn('dsn'))
mail_opts = ['RET=' + ret, 'ENVID=QQ314159'] if ret else []
rcpt_opts = ['NOTIFY=' + notify, 'ORCPT=rfc822;' + rcpts[0]] if notify else []
body = 'From: <%s>\r\nSubject: dsn test\r\nMessage-ID: <t1@client.test>\r\n\r\nthe body\r\n.leading dot\r\n' % sender
print(s.sendmail(sender, rcpts, body, mail_opts, rcpt_opts))
s.quit()
"#;

fn send_dsn(to: SocketAddr, sender: &str, rcpts: &str, notify: &str, ret: &str) {
    let out = python(SEND_DSN, &[&to.ip().to_string(), &to.port().to_string(), sender, rcpts, notify, ret]);
    assert!(out.contains("dsn advertised True") && out.contains("{}"), "{out}");
}

/// Parses a DSN with Python's email package: prints the report's content type, then
/// `Action`/`Status`/`Final-Recipient` of each recipient, then the returned part's type.
const PARSE_DSN: &str = r#"
import email, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.default)
print('type', m.get_content_type(), m.get_param('report-type'))
print('subject', m['subject'])
parts = list(m.iter_parts())
print('parts', [p.get_content_type() for p in parts])
status = parts[1]
for block in status.get_payload()[1:]:
    print('rcpt', block['Final-Recipient'], '|', block['Action'], '|', block['Status'], '|', block['Diagnostic-Code'])
print('envid', status.get_payload()[0]['Original-Envelope-Id'])
print('returned', parts[2].get_content_type())
print(parts[2].as_string())
"#;

fn parse_dsn(path: &Path) -> String {
    python(PARSE_DSN, &[&path.display().to_string()])
}

#[test]
fn relays_through_a_route_with_dot_lines_and_envelope_intact() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "accept");
    let s = sender("out-route", &route("remote.test", rx.addr));
    let body = "Subject: hello\r\n\r\nline one\r\n.line with a dot\r\n..two dots\r\n";
    let out = smtplib(s.addr("mx"), "plain", "alice@localhost", "friend@remote.test,other@remote.test", body);
    assert!(out.contains("sent"), "{out}");
    let got = rx.wait(1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    let m = &got[0];
    assert!(m.starts_with("FROM alice@localhost\nPEER 127.0.0.1:"), "{m}");
    assert!(m.contains("\nTO friend@remote.test\nTO other@remote.test\n"), "{m}");
    assert!(m.contains("line one\r\n.line with a dot\r\n..two dots\r\n"), "{m}");
    assert!(m.contains("Received: from client.test"), "{m}");
    assert!(common::wait_until(|| s.outbound().is_empty()), "the queue empties");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.maildir("localhost", "alice").is_empty(), "no report without NOTIFY=SUCCESS");
}

#[test]
fn a_temporary_failure_is_retried_then_delivered() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "tempfail");
    let extra = format!(
        "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nretry_first_secs = 2\n",
        route("remote.test", rx.addr)
    );
    let s = sender("out-retry", &extra);
    assert!(
        smtplib(s.addr("mx"), "plain", "alice@localhost", "friend@remote.test", "Subject: r\r\n\r\nr\r\n")
            .contains("sent")
    );
    // The first attempt is deferred with the server's words, and the queue says so.
    assert!(
        s.wait_for_log(&["outbound", "Deferred", "451 4.3.0 Try again later"], Duration::from_secs(20)),
        "{}",
        s.log_text()
    );
    let list = String::from_utf8(s.cli(&["queue", "list"], "").stdout).unwrap();
    assert!(list.contains("friend@remote.test  deferred  attempts 1"), "{list}");
    assert!(list.contains("last error: 451 4.3.0 Try again later"), "{list}");
    // Two seconds later it goes.
    let got = rx.wait(1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(common::wait_until(|| s.outbound().is_empty()));
}

#[test]
fn a_permanent_failure_bounces_with_a_dsn_python_can_read() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "reject");
    let s = sender("out-bounce", &route("remote.test", rx.addr));
    let mx = s.addr("mx");
    // One good, one bad recipient, RET=HDRS: the good one is delivered, the bad one bounces.
    send_dsn(mx, "alice@localhost", "bad@remote.test,good@remote.test", "FAILURE", "HDRS");
    assert_eq!(rx.wait(1).len(), 1);
    let dsns = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(dsns.len(), 1, "{}", s.log_text());
    let path = s.data().join("mail/localhost/alice/Maildir/new").join(&dsns[0].0);
    let parsed = parse_dsn(&path);
    assert!(parsed.contains("type multipart/report delivery-status"), "{parsed}");
    assert!(parsed.contains("parts ['text/plain', 'message/delivery-status', 'text/rfc822-headers']"), "{parsed}");
    assert!(
        parsed.contains("rcpt rfc822; bad@remote.test | failed | 5.1.1 | smtp; 550 5.1.1 <bad@remote.test>: Recipient address rejected"),
        "{parsed}"
    );
    assert!(!parsed.contains("good@remote.test |"), "only the failed recipient is reported: {parsed}");
    assert!(parsed.contains("envid QQ314159"), "{parsed}");
    assert!(parsed.contains("Subject: dsn test") && !parsed.contains("the body"), "headers only: {parsed}");
    assert!(dsns[0].1.contains("Return-Path: <>"), "from the null sender");

    // RET=FULL returns the whole message; NOTIFY=NEVER sends nothing; a bounce of a bounce
    // (null sender) sends nothing.
    send_dsn(mx, "bob@localhost", "bad1@remote.test", "FAILURE", "FULL");
    let full = s.wait_maildir("localhost", "bob", 1);
    assert_eq!(full.len(), 1);
    let parsed = parse_dsn(&s.data().join("mail/localhost/bob/Maildir/new").join(&full[0].0));
    assert!(parsed.contains("returned message/rfc822") && parsed.contains("the body"), "{parsed}");
    send_dsn(mx, "alice@localhost", "bad2@remote.test", "NEVER", "");
    send_dsn(mx, "", "bad3@remote.test", "", "");
    assert!(s.wait_for_log(&["bad3@remote.test", "Failed"], Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.maildir("localhost", "alice").len(), 1, "no report for NOTIFY=NEVER or the null sender");
    assert!(common::wait_until(|| s.outbound().is_empty()));
}

#[test]
fn success_notices_when_asked() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "accept");
    let s = sender("out-success", &route("remote.test", rx.addr));
    send_dsn(s.addr("mx"), "alice@localhost", "friend@remote.test", "SUCCESS,FAILURE", "");
    assert_eq!(rx.wait(1).len(), 1);
    let dsns = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(dsns.len(), 1, "{}", s.log_text());
    let parsed = parse_dsn(&s.data().join("mail/localhost/alice/Maildir/new").join(&dsns[0].0));
    // aiosmtpd offers no DSN, so the report is ours and says "relayed" (RFC 3461 §6.2.2.1).
    assert!(parsed.contains("| relayed | 2.0.0 |"), "{parsed}");
}

#[test]
fn mx_preference_null_mx_and_implicit_mx_from_a_loopback_dns() {
    // a.mx (preference 10) is down; b.mx (20) answers; implicit.test has no MX, only an A.
    let port = free_port(&["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"]);
    let b = receiver("127.0.0.3", port, "accept");
    let implicit = receiver("127.0.0.4", port, "accept");
    let v6 = receiver("::1", port, "accept");
    let zone = "pref.test. 60 IN MX 10 a.mx.test.\n\
                pref.test. 60 IN MX 20 b.mx.test.\n\
                a.mx.test. 60 IN A 127.0.0.2\n\
                b.mx.test. 60 IN A 127.0.0.3\n\
                nullmx.test. 60 IN MX 0 .\n\
                implicit.test. 60 IN A 127.0.0.4\n\
                six.test. 60 IN MX 10 host6.test.\n\
                host6.test. 60 IN AAAA ::1\n";
    let (_dns, dns_port) = dns_server(zone);
    let extra = format!("\n[outbound]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\nport = {port}\n");
    let s = sender("out-mx", &extra);
    let mx = s.addr("mx");
    assert!(smtplib(mx, "plain", "alice@localhost", "u@pref.test", "Subject: p\r\n\r\np\r\n").contains("sent"));
    assert!(smtplib(mx, "plain", "alice@localhost", "u@implicit.test", "Subject: i\r\n\r\ni\r\n").contains("sent"));
    let got = b.wait(1);
    assert_eq!(got.len(), 1, "the lower-preference host took it: {}", s.log_text());
    assert!(got[0].contains("TO u@pref.test"));
    assert_eq!(implicit.wait(1).len(), 1, "implicit MX: {}", s.log_text());
    // An MX host with only an IPv6 address.
    assert!(smtplib(mx, "plain", "alice@localhost", "u@six.test", "Subject: 6\r\n\r\n6\r\n").contains("sent"));
    let got = v6.wait(1);
    assert_eq!(got.len(), 1, "IPv6 MX: {}", s.log_text());
    assert!(got[0].contains("PEER ::1:"), "{}", got[0]);
    // Null MX: an immediate bounce, 5.1.10.
    send_dsn(mx, "alice@localhost", "u@nullmx.test", "", "");
    let dsns = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(dsns.len(), 1, "{}", s.log_text());
    let parsed = parse_dsn(&s.data().join("mail/localhost/alice/Maildir/new").join(&dsns[0].0));
    assert!(parsed.contains("rcpt rfc822; u@nullmx.test | failed | 5.1.10"), "{parsed}");
}

/// Hostile servers: a 10 MB reply line, endless continuation lines, a close mid-reply.
const HOSTILE: &str = r#"
import socket, sys, threading
port, mode = int(sys.argv[1]), sys.argv[2]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', port)); srv.listen(16)
print('ready', flush=True)
def serve(c):
    try:
        if mode == 'huge':
            c.sendall(b'220 ' + b'x' * 10_000_000 + b'\r\n')
        elif mode == 'endless':
            c.sendall(b'220 hi\r\n'); c.recv(1000)
            for _ in range(100000):
                c.sendall(b'250-' + b'y' * 60 + b'\r\n')
        elif mode == 'cut':
            c.sendall(b'220 hi\r\n'); c.recv(1000)
            c.sendall(b'250-mx hello\r\n250-PIPEL')
        c.close()
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

#[test]
fn hostile_servers_are_deferred_and_cost_bounded_memory() {
    let mut extra = String::new();
    let mut servers = Vec::new();
    for (i, mode) in ["huge", "endless", "cut"].into_iter().enumerate() {
        let port = free_port(&["127.0.0.1"]);
        servers.push(spawn_ready(HOSTILE, &[&port.to_string(), mode]));
        extra.push_str(&route(&format!("h{i}.test"), format!("127.0.0.1:{port}").parse().unwrap()));
    }
    let s = sender("out-hostile", &extra);
    for i in 0..3 {
        let out = smtplib(s.addr("mx"), "plain", "alice@localhost", &format!("u@h{i}.test"), "Subject: h\r\n\r\nh\r\n");
        assert!(out.contains("sent"), "{out}");
    }
    for i in 0..3 {
        assert!(
            s.wait_for_log(&["outbound", &format!("u@h{i}.test"), "Deferred"], Duration::from_secs(30)),
            "h{i}: {}",
            s.log_text()
        );
    }
    let list = String::from_utf8(s.cli(&["queue", "list"], "").stdout).unwrap();
    assert_eq!(list.matches("deferred  attempts 1").count(), 3, "{list}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    let rss: u64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB after a 10 MB reply");
    // Still serving.
    assert!(
        smtplib(s.addr("mx"), "plain", "alice@localhost", "bob@localhost", "Subject: ok\r\n\r\nok\r\n")
            .contains("sent")
    );
}

#[test]
fn the_queue_cli_lists_holds_releases_flushes_and_removes() {
    // The receiver is down at first: messages wait, an hour apart.
    let dead = dead_port();
    let port = dead.port;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let extra = format!(
        "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nretry_first_secs = 3600\n",
        route("remote.test", addr)
    );
    let s = sender("out-cli", &extra);
    let mx = s.addr("mx");
    for to in ["one@remote.test", "two@remote.test"] {
        assert!(smtplib(mx, "plain", "alice@localhost", to, "Subject: q\r\n\r\nq\r\n").contains("sent"));
    }
    assert!(common::wait_until(|| {
        let l = String::from_utf8(s.cli(&["queue", "list"], "").stdout).unwrap();
        l.matches("deferred  attempts 1").count() == 2
    }));
    let ids = s.outbound();
    assert_eq!(ids.len(), 2);
    let cli_ok = |args: &[&str]| {
        let out = s.cli(args, "");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(cli_ok(&["queue", "hold", &ids[0]]).contains("held"));
    assert!(cli_ok(&["queue", "list"]).contains("HELD"));
    assert!(cli_ok(&["queue", "remove", &ids[1]]).contains("removed"));
    assert_eq!(s.outbound(), vec![ids[0].clone()]);
    assert!(!s.cli(&["queue", "remove", "000000000000000000"], "").status.success());
    // The receiver comes up; a flush of a held message does nothing until it is released.
    drop(dead);
    let rx = receiver("127.0.0.1", port, "accept");
    cli_ok(&["queue", "flush", "--domain", "remote.test"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(rx.messages().is_empty(), "held");
    assert!(cli_ok(&["queue", "release", &ids[0]]).contains("released"));
    let got = rx.wait(1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(got[0].contains("TO one@remote.test"));
    assert!(common::wait_until(|| s.outbound().is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.maildir("localhost", "alice").is_empty(), "remove sends no report");
}

#[test]
fn a_delay_warning_goes_once() {
    // Down for good: no listener, and no other test's server can land on the port (one once
    // did, the sender's own, and the message looped until its hop limit).
    let dead = dead_port();
    let addr: SocketAddr = format!("127.0.0.1:{}", dead.port).parse().unwrap();
    let extra = format!(
        "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nretry_first_secs = 1\nretry_max_secs = 1\ndelay_warning_secs = 1\n",
        route("remote.test", addr)
    );
    let s = sender("out-delay", &extra);
    send_dsn(s.addr("mx"), "alice@localhost", "late@remote.test", "DELAY,FAILURE", "");
    let dsns = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(dsns.len(), 1, "{}", s.log_text());
    let parsed = parse_dsn(&s.data().join("mail/localhost/alice/Maildir/new").join(&dsns[0].0));
    assert!(parsed.contains("subject Delayed Mail (still being retried)"), "{parsed}");
    assert!(parsed.contains("rcpt rfc822; late@remote.test | delayed | 4.4.1"), "{parsed}");
    // More attempts, no more warnings.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.maildir("localhost", "alice").len(), 1, "one warning per message");
    let list = String::from_utf8(s.cli(&["queue", "list"], "").stdout).unwrap();
    assert!(!list.contains("attempts 1 ") && list.contains("late@remote.test  deferred"), "{list}");
}

/// A receiving sansmail whose certificate a private authority signed (rcgen): a route with
/// `tls = "required"` and that authority delivers; without it (Mozilla roots) it waits.
#[test]
fn required_tls_verifies_the_certificate() {
    let dir = temp_dir("out-ca");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let (ca_pem, cert, key) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let rx_config = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n[[domain]]\nname = \"remote.test\"\n[[domain]]\nname = \"opp.test\"\n\
         [[user]]\naddress = \"friend@remote.test\"\n[[user]]\naddress = \"friend@opp.test\"\n\
         [[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let rx = Server::start("out-tls-rx", &rx_config);
    let to = rx.addr("mx");
    let routes = format!(
        "\n[[route]]\ndomain = \"remote.test\"\nhost = [\"{to}\"]\ntls = \"required\"\nca_file = {:?}\n\
         [[route]]\ndomain = \"untrusted.test\"\nhost = [\"{to}\"]\ntls = \"required\"\n\
         [[route]]\ndomain = \"opp.test\"\nhost = [\"{to}\"]\n",
        ca_pem.display().to_string()
    );
    let s = sender("out-tls", &routes);
    assert!(
        smtplib(s.addr("mx"), "plain", "alice@localhost", "friend@remote.test", "Subject: t\r\n\r\nt\r\n")
            .contains("sent")
    );
    let got = rx.wait_maildir("remote.test", "friend", 1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(got[0].1.contains("with ESMTPS"), "over TLS: {}", got[0].1);
    assert!(
        smtplib(s.addr("mx"), "plain", "alice@localhost", "x@untrusted.test", "Subject: u\r\n\r\nu\r\n")
            .contains("sent")
    );
    assert!(s.wait_for_log(&["x@untrusted.test", "Deferred", "TLS"], Duration::from_secs(20)), "{}", s.log_text());
    // Opportunistic (the default): encrypted, though the certificate cannot be verified.
    let out = smtplib(s.addr("mx"), "plain", "alice@localhost", "friend@opp.test", "Subject: o\r\n\r\no\r\n");
    assert!(out.contains("sent"), "{out}");
    let got = rx.wait_maildir("opp.test", "friend", 1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(got[0].1.contains("with ESMTPS"), "opportunistic STARTTLS: {}", got[0].1);
}

/// SIGKILL while messages are being relayed, then a restart: every message the client was
/// given 250 for reaches the receiver (some may arrive twice, none is lost).
#[test]
fn a_crash_during_relaying_repeats_at_worst_and_loses_nothing() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "accept");
    let mut s = sender("out-crash", &route("remote.test", rx.addr));
    const MANY: &str = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
for i in range(60):
    try:
        s.sendmail('alice@localhost', ['r%d@remote.test' % i], 'Subject: crash %d\r\n\r\nbody\r\n' % i)
        print('acked', i, flush=True)
    except Exception:
        break
"#;
    let mx = s.addr("mx");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(MANY)
        .args([&mx.ip().to_string(), &mx.port().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill the server once some messages are acknowledged and relaying is under way.
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        acked.push(line.split(' ').nth(1).unwrap().parse::<usize>().unwrap());
        if acked.len() == 20 {
            s.kill();
        }
    }
    let _ = child.wait();
    assert!(acked.len() >= 20, "{acked:?}");
    s.restart();
    let subjects = || -> std::collections::HashSet<usize> {
        rx.messages()
            .iter()
            .filter_map(|m| {
                m.lines().find_map(|l| l.strip_prefix("Subject: crash ")).and_then(|n| n.trim().parse().ok())
            })
            .collect()
    };
    let all = common::wait_until(|| acked.iter().all(|i| subjects().contains(i)));
    let got = subjects();
    assert!(all, "lost: {:?}", acked.iter().filter(|i| !got.contains(i)).collect::<Vec<_>>());
    assert!(common::wait_until(|| s.outbound().is_empty()));
}

/// Several messages for one host in a row share one connection.
#[test]
fn messages_to_one_host_share_a_connection() {
    let port = free_port(&["127.0.0.1"]);
    let rx = receiver("127.0.0.1", port, "accept");
    let extra = format!(
        "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nconcurrency_per_domain = 1\n",
        route("remote.test", rx.addr)
    );
    let s = sender("out-reuse", &extra);
    const MANY: &str = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
for i in range(6):
    s.sendmail('alice@localhost', ['r%d@remote.test' % i], 'Subject: %d\r\n\r\nbody %d\r\n' % (i, i))
s.quit()
print('sent')
"#;
    let mx = s.addr("mx");
    assert!(python(MANY, &[&mx.ip().to_string(), &mx.port().to_string()]).contains("sent"));
    let got = rx.wait(6);
    assert_eq!(got.len(), 6, "{}", s.log_text());
    let peers: std::collections::HashSet<&str> =
        got.iter().map(|m| m.lines().find(|l| l.starts_with("PEER ")).unwrap()).collect();
    assert!(peers.len() <= 2, "six messages over {} connections", peers.len());
}

/// Smarthosts are tried in order: the first is down, the second (which requires AUTH over
/// TLS, like a provider's submission service) takes the message with the route's login.
#[test]
fn smarthost_failover_and_a_route_with_credentials() {
    let rx_config = "[[domain]]\nname = \"relay.test\"\n[[user]]\naddress = \"gw@relay.test\"\n\
        [[listener]]\nname = \"sub\"\nservice = \"submission\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
        relay = { networks = [] }\n";
    let rx = Server::start("out-smarthost-rx", rx_config);
    assert!(rx.cli(&["user", "add", "gw@relay.test"], "gw-secret\n").status.success());
    let sub = rx.addr("sub");
    let dead = free_port(&["127.0.0.1"]);
    // Smarthosts without credentials, then the same host through a route with them.
    let extra = format!(
        "\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nsmarthost = [\"127.0.0.1:{dead}\", \"{sub}\"]\n\
         [[route]]\ndomain = \"gw.test\"\nhost = [\"127.0.0.1:{dead}\", \"{sub}\"]\nusername = \"gw@relay.test\"\npassword = \"gw-secret\"\n"
    );
    let s = sender("out-smarthost", &extra);
    let mx = s.addr("mx");
    // Without a login the provider refuses (530 at MAIL, permanent): the message bounces.
    assert!(smtplib(mx, "plain", "alice@localhost", "x@anywhere.test", "Subject: a\r\n\r\na\r\n").contains("sent"));
    assert!(s.wait_for_log(&["x@anywhere.test", "Failed", "530 5.7.0"], Duration::from_secs(20)), "{}", s.log_text());
    // With it: past the dead host, STARTTLS, AUTH, accepted for relaying.
    assert!(smtplib(mx, "plain", "alice@localhost", "y@gw.test", "Subject: c\r\n\r\nc\r\n").contains("sent"));
    assert!(s.wait_for_log(&["y@gw.test", "Delivered"], Duration::from_secs(20)), "{}", s.log_text());
    assert!(
        rx.wait_for_log(&["accepted", "from=alice@localhost", "y@gw.test"], Duration::from_secs(20)),
        "{}",
        rx.log_text()
    );
}
