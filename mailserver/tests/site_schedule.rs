//! The site behind a provider: `[outbound] schedule` holds remote mail (no attempt
//! counted, the delay warning still sent) until a window opens, `sansmail connect` or
//! SIGUSR1 says the link is up; aiosmtpd is the provider's relay on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::receiver::{free_port, receiver};
use common::{Server, mx, smtplib};

fn site(name: &str, outbound: &str, relay: std::net::SocketAddr) -> Server {
    let top = "[[user]]\naddress = \"alice@localhost\"\n";
    let config = format!(
        "{}\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nsmarthost = [\"{relay}\"]\n{outbound}",
        mx(top, "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n")
    );
    Server::start(name, &config)
}

fn send(s: &Server, to: &str, subject: &str) {
    let out = smtplib(s.addr("mx"), "plain", "alice@localhost", to, &format!("Subject: {subject}\r\n\r\nx\r\n"));
    assert!(out.contains("sent"), "{out}");
}

#[test]
fn on_demand_mail_waits_for_connect_and_sigusr1() {
    let r = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let s = site("site-demand", "schedule = [\"on demand\"]\ndelay_warning_secs = 1\n", r.addr);
    for i in 1..=3 {
        send(&s, &format!("friend{i}@remote.test"), &format!("waiting {i}"));
    }
    assert_eq!(s.wait_outbound(3).len(), 3);
    // Held: never tried; the sender is told of the delay all the same.
    let warnings = s.wait_maildir("localhost", "alice", 3);
    assert_eq!(warnings.len(), 3, "{}", s.log_text());
    assert!(warnings.iter().all(|(_, m)| m.contains("delayed") || m.contains("Delayed")), "{warnings:?}");
    assert!(r.messages().is_empty());
    let list = String::from_utf8_lossy(&s.cli(&["queue", "list"], "").stdout).into_owned();
    assert_eq!(list.matches("  attempts 0  ").count(), 3, "no attempt counted while held:\n{list}");
    let out = s.cli(&["connect"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(r.wait(3).len(), 3, "{}", s.log_text());
    assert!(common::wait_until(|| s.outbound().is_empty()));

    // SIGUSR1 does the same on a second site.
    let r2 = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let t = site("site-usr1", "schedule = [\"on demand\"]\n", r2.addr);
    send(&t, "friend@remote.test", "signalled");
    assert_eq!(t.wait_outbound(1).len(), 1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(r2.messages().is_empty(), "held");
    let kill = Command::new("kill").args(["-USR1", &t.pid().to_string()]).status().unwrap();
    assert!(kill.success());
    assert_eq!(r2.wait(1).len(), 1, "{}", t.log_text());
}

/// A window that opens at the next minute (UTC): the mail held before it leaves when it
/// opens.
#[test]
fn a_window_releases_the_held_queue_when_it_opens() {
    let r = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut at = (now / 60 + 1) * 60;
    if at - now < 8 {
        at += 60;
    }
    let hm = |t: u64| format!("{:02}:{:02}", t % 86_400 / 3600, t % 3600 / 60);
    let window = format!("daily {}-{}", hm(at), hm(at + 600));
    let s = site("site-window", &format!("schedule = [\"{window}\"]\ntimezone = \"UTC\"\n"), r.addr);
    send(&s, "friend@remote.test", "at the window");
    assert_eq!(s.wait_outbound(1).len(), 1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(r.messages().is_empty(), "held before the window");
    let deadline = std::time::Instant::now() + Duration::from_secs(at.saturating_sub(now) + 30);
    while r.messages().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = r.messages();
    assert_eq!(got.len(), 1, "{}", s.log_text());
    let arrived = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(arrived + 1 >= at, "not before the window");
    // Inside the window mail leaves at once.
    send(&s, "friend@remote.test", "inside the window");
    assert_eq!(r.wait(2).len(), 2);
}
