//! The verified-credentials cache through real logins: many sessions of one client logging
//! in at once with the right password neither lock the account nor each wait for an argon2id
//! run of their own; a new password or a deleted account is not let in by what was cached;
//! wrong passwords are never cached.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{PASSWORD, Raw, config};
use common::{Server, python};

/// Logs in on a fresh IMAP connection; the tagged answer.
fn login(addr: std::net::SocketAddr, password: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    (&stream).write_all(format!("a LOGIN alice@localhost {password}\r\n").as_bytes()).unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("a ") || line.is_empty() {
            return line;
        }
    }
}

/// Fifteen sessions from one address logging in at once (more than
/// `account_failures_before_lock`, within `max_connections_per_ip`): the same credentials
/// are checked once, every session gets in, and the account is not locked.
#[test]
fn many_sessions_logging_in_at_once_do_not_lock_the_account() {
    let s = Server::start("cred-burst", &config(""));
    let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    let script = r#"
import imaplib, sys, threading
host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
go = threading.Barrier(15)
results = []
def one():
    try:
        c = imaplib.IMAP4(host, port, timeout=30)
        go.wait(timeout=30)
        results.append(c.login('alice@localhost', password)[0])
    except Exception as e:
        results.append('failed: %s' % e)
threads = [threading.Thread(target=one) for _ in range(15)]
[t.start() for t in threads]
[t.join() for t in threads]
print(' '.join(sorted(set(results))), len(results))
"#;
    let addr = s.addr("imapplain");
    let out = python(script, &[&addr.ip().to_string(), &addr.port().to_string(), PASSWORD]);
    assert_eq!(out.trim(), "OK 15", "{out}");
    // The log comes through a pipe: wait for the fifteen lines before counting them.
    let authenticated = || s.log_text().lines().filter(|l| l.contains("authenticated")).count();
    assert!(common::wait_until(|| authenticated() >= 15), "{}", s.log_text());
    let log = s.log_text();
    assert!(!log.contains("account locked"), "{log}");
    // One argon2id check for the fifteen (the rest waited for it, or found it cached).
    let checked = log.lines().filter(|l| l.contains("authenticated") && !l.contains("cached=true")).count();
    assert_eq!(checked, 1, "{log}");
    assert!(Raw::login(addr).cmd("NOOP").last().unwrap().contains("OK"));
}

/// A new password and a deleted account: the old credentials no longer log in, although
/// they were cached a moment before; a wrong password is refused every time.
#[test]
fn cached_credentials_go_with_a_new_password_or_the_account() {
    let s = Server::start("cred-change", &config(""));
    let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    let addr = s.addr("imapplain");
    assert!(login(addr, PASSWORD).starts_with("a OK"));
    assert!(login(addr, PASSWORD).starts_with("a OK"));
    assert!(
        s.wait_for_log(&["cached=true"], std::time::Duration::from_secs(10)),
        "the second login was answered from the cache"
    );
    assert!(login(addr, "not-the-password").starts_with("a NO [AUTHENTICATIONFAILED]"));
    let out = s.cli(&["user", "passwd", "alice@localhost"], "brand-new-secret\n");
    assert!(out.status.success(), "{out:?}");
    assert!(login(addr, PASSWORD).starts_with("a NO"), "the old password after passwd");
    assert!(login(addr, "brand-new-secret").starts_with("a OK"));
    let out = s.cli(&["user", "del", "alice@localhost"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(login(addr, "brand-new-secret").starts_with("a NO"), "a deleted account");
}
