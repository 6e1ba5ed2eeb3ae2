//! Dovecot's imaptest, its scripted compliance tests, against the server: run when the
//! `IMAPTEST` environment variable names a built imaptest (its tests are read from the
//! `tests` directory beside it, or from `IMAPTEST_TESTS`). Without it the test says so and
//! checks nothing: imaptest is not packaged, and builds against Dovecot's headers.
//!
//! ```sh
//! IMAPTEST=/path/to/imaptest/src/imaptest cargo test -p sansmail --test imaptest -- --nocapture
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;
use common::imap::config;

#[test]
fn imaptest_compliance_groups_all_pass() {
    let Some(imaptest) = std::env::var_os("IMAPTEST").map(PathBuf::from) else {
        eprintln!("IMAPTEST is not set: imaptest's compliance tests not run");
        return;
    };
    let tests = std::env::var_os("IMAPTEST_TESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| imaptest.parent().unwrap().join("tests"));
    let s = Server::start("imaptest", &config("[abuse]\nconnections_per_window = 100000\n"));
    let out = s.cli(&["user", "add", "testuser@localhost"], "imaptest-secret\n");
    assert!(out.status.success(), "{out:?}");
    let addr = s.addr("imapplain");
    let out = Command::new(&imaptest)
        .env("LD_LIBRARY_PATH", "/usr/lib/dovecot")
        .current_dir(imaptest.parent().unwrap())
        .arg("host=127.0.0.1")
        .arg(format!("port={}", addr.port()))
        .arg("user=testuser@localhost")
        .arg("pass=imaptest-secret")
        .arg(format!("test={}", tests.display()))
        .output()
        .expect("imaptest runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{}", text.lines().rev().take(3).collect::<Vec<_>>().join("\n"));
    let summary = text.lines().find(|l| l.contains("test groups:")).unwrap_or_else(|| panic!("no summary: {text}"));
    assert!(summary.contains(": 0 failed"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("Error:")), "{text}");
}
