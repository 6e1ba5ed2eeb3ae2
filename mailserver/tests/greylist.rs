//! Greylisting with real senders: swaks is deferred with `451 4.7.1` until the delay has
//! passed, then served, and the triplet is remembered across a kill -9; a second sansmail's
//! outbound queue, retrying as MTAs do, gets its mail through on its own; clients in the
//! relay networks are never greylisted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Server;

fn swaks(s: &Server, from_ip: &str, subject: &str) -> (bool, String) {
    let server = s.addr("mx").to_string();
    common::swaks(&[
        "--server",
        &server,
        "--local-interface",
        from_ip,
        "--from",
        "alice@remote.test",
        "--to",
        "bob@localhost",
        "--h-Subject",
        subject,
    ])
}

#[test]
fn first_attempts_are_deferred_and_retries_pass() {
    let mut s = Server::start(
        "greylist",
        &common::mx(
            "[[user]]\naddress = \"bob@localhost\"\n",
            "[listener.relay]\nnetworks = [\"127.0.0.9/32\"]\n[greylist]\nenabled = true\ndelay_secs = 2\nauto_whitelist = 0\n",
        ),
    );
    let (ok, out) = swaks(&s, "127.0.0.1", "first");
    assert!(!ok && out.contains("451 4.7.1") && out.contains("Greylisted"), "{out}");
    let (ok, out) = swaks(&s, "127.0.0.1", "too soon");
    assert!(!ok && out.contains("451 4.7.1"), "{out}");
    std::thread::sleep(Duration::from_millis(2500));
    let (ok, out) = swaks(&s, "127.0.0.1", "after the delay");
    assert!(ok, "{out}");
    assert_eq!(s.wait_maildir("localhost", "bob", 1).len(), 1);
    // Remembered across a crash.
    s.kill();
    s.restart();
    let (ok, out) = swaks(&s, "127.0.0.1", "after the restart");
    assert!(ok, "{out}");
    // The relay networks are trusted, never greylisted.
    let (ok, out) = swaks(&s, "127.0.0.9", "from the LAN");
    assert!(ok, "{out}");
    assert_eq!(s.wait_maildir("localhost", "bob", 3).len(), 3);

    // A real MTA retries by itself: a second sansmail relays through its queue.
    let relay = Server::start(
        "greylist-sender",
        &format!(
            "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nretry_first_secs = 3\n\
             [[route]]\ndomain = \"localhost\"\nhost = [\"{}\"]\ntls = \"none\"\n",
            common::mx(
                "hostname = \"relay.test\"\n[[domain]]\nname = \"relay.test\"\n",
                "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n"
            ),
            s.addr("mx")
        ),
    );
    let server = relay.addr("mx").to_string();
    let (ok, out) = common::swaks(&["--server", &server, "--from", "carol@relay.test", "--to", "bob@localhost"]);
    assert!(ok, "{out}");
    assert!(relay.wait_for_log(&["bob@localhost", "4.7.1"], Duration::from_secs(20)), "{}", relay.log_text());
    assert_eq!(s.wait_maildir("localhost", "bob", 4).len(), 4, "{}\n{}", relay.log_text(), s.log_text());
    assert!(common::wait_until(|| relay.outbound().is_empty()));
}
