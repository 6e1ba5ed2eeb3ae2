//! Password guessing in parallel: 200 connections from 10 addresses send a wrong AUTH
//! PLAIN at once. Each attempt is counted as it starts, so past the block threshold the
//! rest are refused without a password check, and the checks that do run wait for a few
//! slots: the server's memory stays bounded (it grew by 3.7 GB when every attempt ran
//! argon2 at once).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Server, mx, python};

const FLOOD: &str = r#"
import socket, sys, threading, base64
host, port = sys.argv[1], int(sys.argv[2])
go = threading.Barrier(200)
codes = []
def attempt(i):
    src = '127.0.0.%d' % (2 + i % 10)
    try:
        s = socket.create_connection((host, port), source_address=(src, 0), timeout=60)
        f = s.makefile('rb')
        def reply():
            while True:
                line = f.readline().decode()
                if not line or line[3:4] != '-':
                    return line[:3] or 'EOF'
        if reply() != '220':
            go.wait(); codes.append('refused-at-connect'); return
        s.sendall(b'EHLO flood.test\r\n'); reply()
        auth = base64.b64encode(('\0u%d@localhost\0wrong' % i).encode()).decode()
        go.wait()
        s.sendall(('AUTH PLAIN %s\r\n' % auth).encode())
        codes.append(reply())
    except Exception as e:
        codes.append('error')
threads = [threading.Thread(target=attempt, args=(i,)) for i in range(200)]
[t.start() for t in threads]
[t.join() for t in threads]
from collections import Counter
print(dict(Counter(codes)))
"#;

fn vm(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn parallel_wrong_passwords_are_counted_first_and_checked_a_few_at_a_time() {
    let config = mx(
        "[abuse]\nconnections_per_window = 1000\n[[user]]\naddress = \"alice@localhost\"\n",
        "allow_plaintext_auth = true\nlimits = { max_connections_per_ip = 100 }\n",
    );
    let s = Server::start("auth-flood", &config);
    assert!(s.cli(&["user", "add", "alice@localhost"], "right\n").status.success());
    let before = vm(s.pid(), "VmRSS:");
    let addr = s.addr("mx");
    let out = python(FLOOD, &[&addr.ip().to_string(), &addr.port().to_string()]);
    assert!(!out.contains("error") && !out.contains("refused-at-connect"), "{out}");
    // At most `auth_failures_before_block` (10) checks per address were run and failed.
    let checked = s.log_text().matches("authentication failed").count();
    assert!(checked <= 100, "{checked} passwords checked for 10 addresses: {out}");
    assert!(out.contains("'535'") || out.contains("'421'"), "{out}");
    let peak = vm(s.pid(), "VmHWM:");
    // One argon2 working area per core (19 MiB each, reused from check to check), plus the
    // sessions: measured +43 MiB on two cores; one check per attempt took 3.7 GB.
    assert!(peak.saturating_sub(before) < 150 * 1024, "peak RSS grew by {} KiB: {out}", peak - before);
}
