//! The server end to end: real binary, real sockets on 127.0.0.1, real clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, smtplib, swaks};

/// One SMTP listener on an ephemeral port, STARTTLS offered.
const ONE_LISTENER: &str = r#"
[[domain]]
name = "example.test"
catch_all = "catchall@example.test"

[[domain]]
name = "localhost"

[[user]]
address = "alice@example.test"
aliases = ["a.smith@example.test"]

[[user]]
address = "catchall@example.test"

[[listener]]
name = "mx"
service = "smtp"
bind = "127.0.0.1:0"
tls = "starttls"

[[listener]]
name = "smtps"
service = "submission"
bind = "127.0.0.1:0"
tls = "implicit"
relay = { require_auth = false }
"#;

#[test]
fn swaks_delivers_to_postmaster_with_trace_headers() {
    let s = Server::start("swaks", ONE_LISTENER);
    let addr = s.addr("mx").to_string();
    let (ok, transcript) = swaks(&["--server", &addr, "--to", "postmaster@localhost", "--from", "sender@remote.test"]);
    assert!(ok, "{transcript}");
    assert!(transcript.contains("250 2.0.0 Ok: queued as"), "{transcript}");
    // postmaster of every local domain reaches the postmaster mailbox (first domain's).
    let m = s.wait_maildir("example.test", "postmaster", 1);
    assert_eq!(m.len(), 1, "{}", s.log_text());
    let msg = &m[0].1;
    assert!(msg.starts_with("Return-Path: <sender@remote.test>\r\nReceived: from "), "{msg}");
    assert!(msg.contains("by localhost (sansmail) with ESMTP id "), "{msg}");
    assert!(msg.contains("This is a test mailing"), "{msg}");
    // Fully delivered: nothing left in the queue.
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.queued().is_empty());
    // The session and the message are logged.
    assert!(s.wait_for_log(
        &["accepted", "queue_id=", "sender@remote.test", "postmaster@localhost", "size="],
        Duration::from_secs(5)
    ));
}

#[test]
fn smtplib_with_starttls_and_implicit_tls_and_dot_lines() {
    let s = Server::start("tls", ONE_LISTENER);
    let body = "Subject: dots\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n";
    let out = smtplib(s.addr("mx"), "starttls", "bob@remote.test", "alice@example.test", body);
    assert!(out.contains("starttls 220") && out.contains("sent"), "{out}");
    let out = smtplib(s.addr("smtps"), "implicit", "bob@remote.test", "a.smith@example.test", body);
    assert!(out.contains("sent"), "{out}");
    let out = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@example.test", body);
    assert!(out.contains("sent"), "{out}");
    let m = s.wait_maildir("example.test", "alice", 3);
    assert_eq!(m.len(), 3, "{}", s.log_text());
    let protocols: Vec<bool> = m.iter().map(|(_, c)| c.contains("with ESMTPS id")).collect();
    assert_eq!(protocols.iter().filter(|&&tls| tls).count(), 2, "two of three came over TLS");
    for (_, c) in &m {
        // Transparency dots removed exactly once (smtplib stuffs, we unstuff).
        assert!(c.ends_with("line one\r\n.leading dot\r\n..two dots\r\n"), "{c:?}");
    }
}

#[test]
fn a_large_message_streams_through_its_own_spool_file_intact() {
    let s = Server::start("large", ONE_LISTENER);
    // 2 MiB of numbered lines: past the 256 KiB held in memory, so written as it arrives.
    let lines: String =
        (0..30_000).map(|i| format!("line {i:06} of a large message, padded to seventy octets....\r\n")).collect();
    let body = format!("Subject: large\r\n\r\n{lines}");
    let file = s.dir.join("large.eml");
    std::fs::write(&file, &body).unwrap();
    let arg = format!("@{}", file.display());
    let out = smtplib(s.addr("mx"), "plain", "big@remote.test", "alice@example.test", &arg);
    assert!(out.contains("sent"), "{out}");
    let m = s.wait_maildir("example.test", "alice", 1);
    assert_eq!(m.len(), 1);
    assert!(m[0].1.ends_with(&body), "delivered byte for byte");
    assert!(s.wait_queue_empty());
}

#[test]
fn recipients_unknown_catch_all_and_relay() {
    let s = Server::start("rcpt", ONE_LISTENER);
    let mx = s.addr("mx");
    // Unknown user of a domain without catch-all: 550 5.1.1.
    let out = smtplib(mx, "plain", "bob@remote.test", "nobody@localhost", "Subject: x\r\n\r\nx\r\n");
    assert!(out.contains("refused nobody@localhost 550 5.1.1"), "{out}");
    // Unknown user of a domain with a catch-all: delivered there.
    let out = smtplib(mx, "plain", "bob@remote.test", "whoever@example.test", "Subject: c\r\n\r\nc\r\n");
    assert!(out.contains("sent"), "{out}");
    assert_eq!(s.wait_maildir("example.test", "catchall", 1).len(), 1);
    // A remote recipient from a client outside relay.networks: 550 5.7.1, and the
    // local recipient of the same message still gets it.
    let out = smtplib(mx, "plain", "bob@remote.test", "x@elsewhere.test,alice@example.test", "Subject: r\r\n\r\nr\r\n");
    assert!(out.contains("refused x@elsewhere.test 550 5.7.1") && out.contains("sent"), "{out}");
    assert_eq!(s.wait_maildir("example.test", "alice", 1).len(), 1);
    // Address literals are never local.
    let out = smtplib(mx, "plain", "bob@remote.test", "alice@[127.0.0.1]", "Subject: l\r\n\r\nl\r\n");
    assert!(out.contains("550 5.7.1"), "{out}");
}

#[test]
fn relay_networks_may_relay_and_the_message_goes_to_the_outbound_queue() {
    let config = &common::mx(
        "",
        r#"[listener.relay]
networks = ["127.0.0.0/8"]
"#,
    );
    let s = Server::start("relay", config);
    let out = smtplib(s.addr("mx"), "plain", "me@localhost", "friend@elsewhere.test", "Subject: r\r\n\r\nr\r\n");
    assert!(out.contains("sent"), "{out}");
    assert_eq!(s.wait_outbound(1).len(), 1, "{}", s.log_text());
    assert!(s.wait_queue_empty());
}

/// The multi-homing case of the seeds: two service instances on one port, bound to two
/// addresses, each with its own size limit and access list.
#[test]
fn two_listeners_on_one_port_enforce_their_own_limits() {
    // Find a port free on both addresses, then give it to both listeners.
    let mut s = None;
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.2", port)).is_err() {
            continue;
        }
        let config = format!(
            r#"
[[listener]]
name = "big"
service = "smtp"
bind = "127.0.0.1:{port}"
tls = "none"
limits = {{ max_message_size = 100000 }}

[[listener]]
name = "small"
service = "smtp"
bind = "127.0.0.2:{port}"
tls = "none"
limits = {{ max_message_size = 1000 }}
access = {{ deny = ["127.0.0.3/32"] }}
"#
        );
        s = Some(Server::start("multihome", &config));
        break;
    }
    let s = s.expect("a free port");
    let (big, small) = (s.addr("big"), s.addr("small"));
    assert_eq!(big.port(), small.port());
    let body = format!("Subject: size\r\n\r\n{}", "x".repeat(70).add_lines(70));
    let out = smtplib(big, "plain", "a@remote.test", "postmaster@localhost", &body);
    assert!(out.contains("sent"), "{out}");
    let out = smtplib(small, "plain", "a@remote.test", "postmaster@localhost", &body);
    assert!(out.contains("error 552"), "the small listener refuses what the big one took: {out}");
    // Each advertises its own SIZE.
    let ehlo = |addr| {
        let (_, t) = swaks(&["--server", &format!("{addr}"), "--quit-after", "EHLO"]);
        t
    };
    assert!(ehlo(big).contains("250-SIZE 100000"));
    assert!(ehlo(small).contains("250-SIZE 1000"));
    // The small listener's access list: a client from 127.0.0.3 is refused with 554; the
    // big listener has none.
    for (addr, expect) in [(small, "554 5.7.1"), (big, "220 ")] {
        let c = socket_from("127.0.0.3", addr);
        let mut line = String::new();
        BufReader::new(&c).read_line(&mut line).unwrap();
        assert!(line.starts_with(expect), "{addr}: {line}");
    }
    assert_eq!(s.wait_maildir("localhost", "postmaster", 1).len(), 1);
}

trait Lines {
    fn add_lines(&self, n: usize) -> String;
}

impl Lines for String {
    /// `n` copies of this line, each with CRLF.
    fn add_lines(&self, n: usize) -> String {
        format!("{self}\r\n").repeat(n)
    }
}

/// A TCP connection from a chosen loopback source address (via Python: std cannot bind
/// before connect).
fn socket_from(source: &str, to: std::net::SocketAddr) -> TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    // Python connects from `source` to the server and splices both ways with us.
    let script = r#"
import socket, sys, threading
src, host, port, back = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a = socket.create_connection((host, port), source_address=(src, 0))
b = socket.create_connection(('127.0.0.1', back))
def pump(x, y):
    while True:
        d = x.recv(65536)
        if not d:
            try: y.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        y.sendall(d)
t = threading.Thread(target=pump, args=(a, b)); t.start(); pump(b, a); t.join()
"#;
    let mut splice = std::process::Command::new("python3")
        .args(["-c", script, source, &to.ip().to_string(), &to.port().to_string(), &relay_port.to_string()])
        .spawn()
        .unwrap();
    // Reaped when both sides close.
    std::thread::spawn(move || splice.wait());
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

#[test]
fn denied_client_gets_554_and_is_closed() {
    let config = &common::mx(
        "",
        r#"access = { deny = ["127.0.0.0/8"] }
"#,
    );
    let s = Server::start("deny", config);
    let mut c = TcpStream::connect(s.addr("mx")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = String::new();
    let mut r = BufReader::new(c.try_clone().unwrap());
    r.read_line(&mut all).unwrap();
    assert!(all.starts_with("554 5.7.1 "), "{all}");
    // Then closed: EOF, whatever we send.
    let _ = c.write_all(b"EHLO x\r\n");
    let mut rest = String::new();
    assert_eq!(r.read_line(&mut rest).unwrap_or(0), 0, "{rest}");
}

#[test]
fn connections_per_ip_are_limited() {
    let config = &common::mx(
        "",
        r#"limits = { max_connections_per_ip = 2 }
"#,
    );
    let s = Server::start("perip", config);
    let greet = |c: &TcpStream| {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(c).read_line(&mut line).unwrap();
        line
    };
    let a = TcpStream::connect(s.addr("mx")).unwrap();
    let b = TcpStream::connect(s.addr("mx")).unwrap();
    assert!(greet(&a).starts_with("220 "));
    assert!(greet(&b).starts_with("220 "));
    let c = TcpStream::connect(s.addr("mx")).unwrap();
    assert!(greet(&c).starts_with("421 4.7.0"), "the third is refused");
    drop(a);
    // The slot frees when a session ends.
    let mut ok = false;
    for _ in 0..50 {
        let d = TcpStream::connect(s.addr("mx")).unwrap();
        if greet(&d).starts_with("220 ") {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ok);
}

#[test]
fn idle_clients_are_dropped_with_421() {
    let config = &common::mx(
        "",
        r#"limits = { idle_timeout_secs = 1 }
"#,
    );
    let s = Server::start("idle", config);
    let c = TcpStream::connect(s.addr("mx")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    // Before EHLO no enhanced code is sent (RFC 2034).
    assert!(line.starts_with("421 ") && line.contains("Timeout"), "{line}");
}

#[test]
fn a_busy_session_still_ends_at_max_session_secs() {
    let config = &common::mx(
        "",
        r#"limits = { idle_timeout_secs = 60, max_session_secs = 2 }
"#,
    );
    let s = Server::start("maxsession", config);
    let mut c = TcpStream::connect(s.addr("mx")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    // A NOOP every 300 ms keeps it far from the idle timeout...
    let started = std::time::Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(8) {
        if c.write_all(b"NOOP\r\n").is_err() {
            closed = true;
            break;
        }
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // ...but not past the session limit.
    assert!(closed, "still open after 8 s");
    assert!(s.wait_for_log(&["max_session_secs"], Duration::from_secs(5)));
}

#[test]
fn users_are_managed_by_the_cli_and_take_effect_without_restart() {
    let s = Server::start("users", ONE_LISTENER);
    let mx = s.addr("mx");
    let out = smtplib(mx, "plain", "x@remote.test", "carol@localhost", "Subject: 1\r\n\r\n1\r\n");
    assert!(out.contains("refused carol@localhost 550 5.1.1"), "{out}");
    let add = s.cli(&["user", "add", "carol@localhost"], "correct horse\n");
    assert!(add.status.success(), "{add:?}");
    let users = std::fs::read_to_string(s.data().join("users.toml")).unwrap();
    assert!(users.contains("carol@localhost") && users.contains("$argon2id$") && !users.contains("correct horse"));
    let out = smtplib(mx, "plain", "x@remote.test", "carol@localhost", "Subject: 2\r\n\r\n2\r\n");
    assert!(out.contains("sent"), "{out}");
    assert_eq!(s.wait_maildir("localhost", "carol", 1).len(), 1);
    let list = s.cli(&["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "carol@localhost");
    // Duplicates, foreign domains and unknown users are refused with a reason.
    assert!(!s.cli(&["user", "add", "carol@localhost"], "x\n").status.success());
    let foreign = s.cli(&["user", "add", "dave@elsewhere.test"], "x\n");
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("not a local domain"));
    assert!(s.cli(&["user", "passwd", "carol@localhost"], "new pass\n").status.success());
    assert!(s.cli(&["user", "del", "carol@localhost"], "").status.success());
    assert!(!s.cli(&["user", "del", "carol@localhost"], "").status.success());
}

#[test]
fn check_config_prints_listeners_and_names_clashes() {
    let s = Server::start("check", ONE_LISTENER);
    let out = s.cli(&["check-config"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("listener  mx service=smtp addr=127.0.0.1:0"), "{text}");
    assert!(text.contains("domain    example.test (catch-all catchall@example.test)"), "{text}");
    let bad = s.dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[listener]]\nname='one'\nservice='smtp'\nbind='2600'\n[[listener]]\nname='two'\nservice='smtp'\nbind='127.0.0.1:2600'\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN).args(["check-config", "-c"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("one") && err.contains("two"), "{err}");
    // serve refuses the same file before binding anything.
    let out = std::process::Command::new(common::BIN).args(["serve", "-c"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn sigterm_lets_a_session_finish_and_refuses_new_ones() {
    let config = &common::mx(
        r#"shutdown_grace_secs = 20
"#,
        "",
    );
    let mut s = Server::start("sigterm", config);
    let addr = s.addr("mx");
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut child = s.terminate();
    assert!(s.wait_for_log(&["stopping"], Duration::from_secs(10)));
    // New connections are refused (once the accept loops have seen the signal)...
    let refused = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        TcpStream::connect(addr).is_err()
    });
    assert!(refused);
    // ...while the open session still delivers a message.
    w.write_all(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<postmaster@localhost>\r\nDATA\r\n").unwrap();
    let mut replies = Vec::new();
    while replies.len() < 4 + 10 {
        line.clear();
        r.read_line(&mut line).unwrap();
        replies.push(line.clone());
        if line.starts_with("354") {
            break;
        }
    }
    w.write_all(b"Subject: late\r\n\r\nstill here\r\n.\r\nQUIT\r\n").unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("250 2.0.0 Ok: queued as"), "{line}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exits cleanly once the session is over");
}

/// When the message cannot be made durable, the client hears 451 4.3.0, never 250, and no
/// partial file is left to be delivered later. (Run as root, permissions would not stop the
/// writes: the queue directory is replaced by a plain file instead, so the rename fails.)
#[test]
fn a_spool_failure_is_451_and_leaves_nothing_behind() {
    let s = Server::start("spoolfail", ONE_LISTENER);
    let mx = s.addr("mx");
    let msg_dir = s.data().join("queue/msg");
    std::fs::remove_dir(&msg_dir).unwrap();
    std::fs::write(&msg_dir, "not a directory").unwrap();
    let small = smtplib(mx, "plain", "a@remote.test", "alice@example.test", "Subject: s\r\n\r\nsmall\r\n");
    assert!(small.contains("error 451 4.3.0"), "{small}");
    let lines: String =
        (0..5000).map(|i| format!("large message line {i:05} .................................\r\n")).collect();
    let file = s.dir.join("large.eml");
    std::fs::write(&file, format!("Subject: l\r\n\r\n{lines}")).unwrap();
    let large = smtplib(mx, "plain", "a@remote.test", "alice@example.test", &format!("@{}", file.display()));
    assert!(large.contains("error 451 4.3.0"), "{large}");
    let tmp = std::fs::read_dir(s.data().join("queue/tmp")).unwrap().count();
    assert_eq!(tmp, 0, "no partial file left behind");
    // Repaired, the server accepts again, and nothing of the failed messages is delivered.
    std::fs::remove_file(&msg_dir).unwrap();
    std::fs::create_dir(&msg_dir).unwrap();
    let ok = smtplib(mx, "plain", "a@remote.test", "alice@example.test", "Subject: after\r\n\r\nafter\r\n");
    assert!(ok.contains("sent"), "{ok}");
    let m = s.wait_maildir("example.test", "alice", 1);
    std::thread::sleep(Duration::from_millis(300));
    let m2 = s.maildir("example.test", "alice");
    assert_eq!((m.len(), m2.len()), (1, 1));
    assert!(m2[0].1.contains("Subject: after"));
}

/// Hostile bytes from many connections at once: random binary, endless lines, a DATA that
/// never ends, commands without reading replies, plaintext after STARTTLS. Afterwards the
/// server still serves others, and its memory stayed bounded.
#[test]
fn garbage_from_many_clients_leaves_the_server_serving() {
    let config = r#"
[[listener]]
name = "mx"
service = "smtp"
bind = "127.0.0.1:0"
tls = "starttls"
limits = { max_connections_per_ip = 100, idle_timeout_secs = 5 }
"#;
    let s = Server::start("garbage", config);
    let mx = s.addr("mx");
    let script = r#"
import os, random, socket, sys, threading, time
host, port = sys.argv[1], int(sys.argv[2])
random.seed(7)
def attack(kind):
    deadline = time.time() + 4
    while time.time() < deadline:
        try:
            s = socket.create_connection((host, port), timeout=2)
            if kind == 0:
                s.sendall(os.urandom(random.randint(1, 200000)))
            elif kind == 1:
                s.sendall(b'EHLO ' + b'x' * 1000000 + b'\r\n')
            elif kind == 2:
                s.sendall(b'EHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<postmaster@localhost>\r\nDATA\r\n' + b'y' * 3000000)
            elif kind == 3:
                s.sendall(b'NOOP\r\n' * 200000)
            else:
                s.sendall(b'STARTTLS\r\n' + os.urandom(5000))
            s.close()
        except OSError:
            pass
ts = [threading.Thread(target=attack, args=(i % 5,)) for i in range(10)]
[t.start() for t in ts]; [t.join() for t in ts]
print('done')
"#;
    let out = common::python(script, &[&mx.ip().to_string(), &mx.port().to_string()]);
    assert!(out.contains("done"));
    // Another client is served (the attacker's own address is over its connection rate).
    let (ok, t) =
        swaks(&["--server", &mx.to_string(), "--local-interface", "127.0.0.2", "--to", "postmaster@localhost"]);
    assert!(ok && t.contains("250 2.0.0 Ok: queued"), "{t}");
    let pid = s.pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(peak_kib < 128 * 1024, "peak memory {peak_kib} KiB");
    eprintln!("peak resident memory under garbage: {peak_kib} KiB");
}

#[test]
fn a_wildcard_listener_serves_ipv4_and_ipv6() {
    let s =
        Server::start("wildcard", "[[listener]]\nname = \"all\"\nservice = \"smtp\"\nbind = \"0\"\ntls = \"none\"\n");
    let port = s.addr("all").port();
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let Ok(c) = TcpStream::connect(&addr) else {
            // A machine without IPv6 on loopback: the IPv4 half must still have worked.
            assert!(addr.starts_with('['), "{addr}");
            continue;
        };
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(c).read_line(&mut line).unwrap();
        assert!(line.starts_with("220 "), "{addr}: {line}");
    }
}
