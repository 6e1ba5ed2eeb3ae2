//! Durability under SIGKILL: concurrent clients send while the server is killed several
//! times. After a final restart, every message that got 250 is in its mailbox exactly once,
//! and no delivered message is cut short. Small messages go through the group committer,
//! every tenth is large enough to stream into a spool file of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Server;

/// Senders: each loops over connect, EHLO, one message, QUIT; a 250 is recorded in the
/// acknowledgement file only after the reply arrived. Connection errors (the server is
/// dead) are retried after a short pause. Stops when the stop file exists.
const SENDERS: &str = r#"
import smtplib, sys, threading, time, os
host, port, acks, stop, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
lock = threading.Lock()
out = open(acks, 'a')
filler = ''.join('filler line %04d of a message that is a few kilobytes long\r\n' % i for i in range(60))
# Every tenth message is large (over 256 KiB), so it streams into its own spool file.
big = filler * 90
def sender(t):
    n = 0
    while not os.path.exists(stop):
        n += 1
        tok = 'tok-%d-%d' % (t, n)
        body = 'Subject: %s\r\n\r\n%sEND-%s\r\n' % (tok, big if n % 10 == 0 else filler, tok)
        try:
            s = smtplib.SMTP(host, port, timeout=10)
            s.sendmail('load@remote.test', ['postmaster@localhost'], body)
            with lock:
                out.write(tok + '\n'); out.flush()
            try: s.quit()
            except Exception: pass
        except Exception:
            time.sleep(0.05)
ts = [threading.Thread(target=sender, args=(i,)) for i in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn acknowledged_mail_survives_sigkill_exactly_once() {
    let port = free_port();
    let config =
        format!("[[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:{port}\"\ntls = \"none\"\n");
    let mut s = Server::start("crash", &config);
    let acks = s.dir.join("acks");
    let stop = s.dir.join("stop");
    let mut senders = std::process::Command::new("python3")
        .args(["-c", SENDERS, "127.0.0.1", &port.to_string()])
        .arg(&acks)
        .arg(&stop)
        .arg("12")
        .spawn()
        .unwrap();
    for round in 0..4 {
        std::thread::sleep(Duration::from_millis(800 + 200 * round));
        s.kill();
        std::thread::sleep(Duration::from_millis(100));
        s.restart();
    }
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&stop, "").unwrap();
    assert!(senders.wait().unwrap().success());

    let acked: Vec<String> = std::fs::read_to_string(&acks).unwrap().lines().map(str::to_string).collect();
    assert!(acked.len() > 50, "the load ran: {} acknowledged", acked.len());
    // Wait for the queue to drain into the mailbox.
    assert!(s.wait_queue_empty(), "queue drained");
    let mut copies: HashMap<String, usize> = HashMap::new();
    for (name, content) in s.maildir("localhost", "postmaster") {
        let tok = content
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_else(|| panic!("{name}: no subject"))
            .to_string();
        assert!(content.ends_with(&format!("END-{tok}\r\n")), "{name} is whole");
        *copies.entry(tok).or_default() += 1;
    }
    for tok in &acked {
        assert_eq!(copies.get(tok), Some(&1), "{tok} acknowledged: delivered exactly once");
    }
    // Messages committed whose 250 the kill swallowed may be delivered too, once each.
    assert!(copies.values().all(|&n| n == 1));
    let tmp_left = std::fs::read_dir(s.data().join("queue").join("tmp")).unwrap().count();
    assert_eq!(tmp_left, 0, "unacknowledged partial files were removed at restart");
    eprintln!("acknowledged {}, delivered {}", acked.len(), copies.len());
}
