//! The newcomer's path: `sansmail serve` with no configuration at all, then
//! `swaks --server 127.0.0.1:2525 --to postmaster@localhost`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, swaks, temp_dir};

#[test]
fn serve_with_no_config_delivers_to_postmaster() {
    let cwd = temp_dir("defaults");
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(&cwd)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while log.iter().filter(|l: &&String| l.contains(" listening ")).count() < 2 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            log.push(line);
        }
    }
    let text = log.join("\n");
    assert!(text.contains("addr=127.0.0.1:2525") && text.contains("addr=127.0.0.1:5587"), "{text}");
    assert!(text.contains("generated a self-signed certificate"), "says so clearly: {text}");

    let (ok, transcript) = swaks(&["--server", "127.0.0.1:2525", "--to", "postmaster@localhost"]);
    let (tls_ok, tls) = swaks(&["--server", "127.0.0.1:2525", "--to", "postmaster@localhost", "--tls"]);
    let new = cwd.join("sansmail-data/mail/localhost/postmaster/Maildir/new");
    let deadline = Instant::now() + Duration::from_secs(20);
    let count = || std::fs::read_dir(&new).map(|d| d.count()).unwrap_or(0);
    while count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "{transcript}");
    assert!(tls_ok && tls.contains("TLS started"), "{tls}");
    assert_eq!(count(), 2, "both messages are in the Maildir");
    let _ = std::fs::remove_dir_all(&cwd);
}
