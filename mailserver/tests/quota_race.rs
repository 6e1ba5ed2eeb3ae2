//! Quotas under concurrency: sessions that end at the same moment cannot all take the
//! last space of a mailbox (the space is reserved at the check), over SMTP and IMAP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{PASSWORD, server_with_mail};
use common::python;

/// Ten SMTP sessions each hold a 15,000-octet message for alice (quota 20,000) and send
/// the final dot together: one 250, nine 552 5.2.2.
const SMTP_RACE: &str = r#"
import socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = ('Subject: race\r\n\r\n' + ('x' * 98 + '\r\n') * 150).encode()
ready = threading.Barrier(n)
results = []
def reply(f):
    while True:
        line = f.readline().decode()
        if line[3:4] != '-':
            return line.strip()
def session():
    s = socket.create_connection((host, port), timeout=20)
    f = s.makefile('rb')
    reply(f)
    for c in ['EHLO race.test', 'MAIL FROM:<bob@remote.test>', 'RCPT TO:<alice@localhost>', 'DATA']:
        s.sendall((c + '\r\n').encode()); reply(f)
    s.sendall(body)
    ready.wait()
    s.sendall(b'.\r\n')
    results.append(reply(f)[:9])
    s.close()
threads = [threading.Thread(target=session) for _ in range(n)]
[t.start() for t in threads]
[t.join() for t in threads]
print(sorted(results))
"#;

/// Ten IMAP sessions APPEND 15,000 octets each to alice's INBOX at once (LITERAL+, so no
/// continuation orders them): one OK, nine NO [OVERQUOTA].
const IMAP_RACE: &str = r#"
import socket, sys, threading
host, port, n, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
msg = ('Subject: race\r\n\r\n' + ('y' * 98 + '\r\n') * 150).encode()
ready = threading.Barrier(n)
results = []
def tagged(f, tag):
    while True:
        line = f.readline().decode()
        if line.startswith(tag + ' '):
            return line.strip()
def session():
    s = socket.create_connection((host, port), timeout=20)
    f = s.makefile('rb')
    f.readline()
    s.sendall(('a LOGIN alice@localhost %s\r\n' % password).encode()); tagged(f, 'a')
    ready.wait()
    s.sendall(b'b APPEND INBOX {%d+}\r\n' % len(msg) + msg + b'\r\n')
    r = tagged(f, 'b')
    results.append('OK' if r.startswith('b OK') else r[2:18])
    s.close()
threads = [threading.Thread(target=session) for _ in range(n)]
[t.start() for t in threads]
[t.join() for t in threads]
print(sorted(results))
"#;

const QUOTA: &str = "[[user]]\naddress = \"alice@localhost\"\nquota = 20000\n";

#[test]
fn ten_smtp_sessions_ending_together_get_one_250() {
    let s = server_with_mail("quota-race-smtp", QUOTA, 0);
    let mx = s.addr("mx");
    let out = python(SMTP_RACE, &[&mx.ip().to_string(), &mx.port().to_string(), "10"]);
    let accepted = out.matches("'250 2.0.0'").count();
    let refused = out.matches("'552 5.2.2'").count();
    assert_eq!((accepted, refused), (1, 9), "{out}");
    assert_eq!(s.wait_maildir("localhost", "alice", 1).len(), 1);
    // Once delivered, the reservation became usage: the mailbox is still full.
    let out = python(SMTP_RACE, &[&mx.ip().to_string(), &mx.port().to_string(), "1"]);
    assert!(out.contains("'552 5.2.2'"), "{out}");
}

#[test]
fn ten_imap_appends_together_get_one_ok() {
    let s = server_with_mail("quota-race-imap", QUOTA, 0);
    let imap = s.addr("imapplain");
    let out = python(IMAP_RACE, &[&imap.ip().to_string(), &imap.port().to_string(), "10", PASSWORD]);
    let ok = out.matches("'OK'").count();
    let refused = out.matches("NO [OVERQUOTA]").count();
    assert_eq!((ok, refused), (1, 9), "{out}");
    let cur = std::fs::read_dir(s.data().join("mail/localhost/alice/Maildir/cur")).unwrap().count();
    assert_eq!(cur, 1, "APPEND writes into cur/");
}
