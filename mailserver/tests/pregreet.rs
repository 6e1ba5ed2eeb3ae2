//! The pregreet test (a listener's `pregreet_ms`): a client that talks before the greeting
//! gets `554 5.7.1` and its address is blocked; one that waits, as every real MTA does
//! (swaks here), is served after the pause.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::Server;

#[test]
fn early_talkers_are_refused_and_patient_clients_served() {
    let s = Server::start("pregreet", &common::mx("[[user]]\naddress = \"bob@localhost\"\n", "pregreet_ms = 1500\n"));
    let mx = s.addr("mx");
    // A bot: EHLO at once.
    let bot = common::from_address("127.0.0.2", mx, "EHLO bot.test\r\nMAIL FROM:<x@y.test>\r\n");
    assert!(bot.starts_with("554 5.7.1") && bot.contains("talked before the greeting"), "{bot}");
    assert!(!bot.contains("220"), "no greeting for it: {bot}");
    assert!(
        s.wait_for_log(&["talked before the greeting", "blocked=true"], Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    // Blocked from now on, whatever it does.
    let again = common::from_address("127.0.0.2", mx, "");
    assert!(again.starts_with("421 4.7.0"), "{again}");
    // A real client waits for the greeting and is served after the pause.
    let started = Instant::now();
    let server = mx.to_string();
    let (ok, out) = common::swaks(&["--server", &server, "--from", "alice@remote.test", "--to", "bob@localhost"]);
    assert!(ok, "{out}");
    assert!(started.elapsed() >= Duration::from_millis(1500), "the greeting waited");
    assert_eq!(s.wait_maildir("localhost", "bob", 1).len(), 1);
}
