//! A gateway's options against real peers on loopback: delivery schedules, recipient
//! callouts to the domain's server, stripped attachments and a sender of its own, the
//! `gateway show` view, and a hand-over that survives the domain's server being down and
//! the gateway being killed with `kill -9` in the middle of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::receiver::{free_port, receiver};
use common::{Server, python};

fn gateway(name: &str, keys: &str, extra: &str) -> Server {
    Server::start(
        name,
        &common::mx(
            "hostname = \"gw.provider.test\"\n",
            &format!("[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\n{keys}{extra}"),
        ),
    )
}

fn send(s: &Server, to: &str, subject: &str) -> (bool, String) {
    let server = s.addr("mx").to_string();
    common::swaks(&["--server", &server, "--from", "alice@remote.test", "--to", to, "--h-Subject", subject])
}

/// The subjects of what a receiver took, counted.
fn subjects(messages: &[String]) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for m in messages {
        if let Some(s) = m.lines().find_map(|l| l.strip_prefix("Subject: ")) {
            *n.entry(s.trim().to_owned()).or_insert(0) += 1;
        }
    }
    n
}

/// A schedule holds the mail until its connection time (the next minute, in UTC), then the
/// gateway hands it over; `gateway show` tells the schedule, what is held and the last
/// hand-over.
#[test]
fn a_scheduled_gateway_holds_mail_until_its_time() {
    let r = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut at = (now / 60 + 1) * 60;
    if at - now < 8 {
        at += 60;
    }
    let hhmm = format!("{:02}:{:02}", at % 86_400 / 3600, at % 3600 / 60);
    let a = gateway(
        "gw-schedule",
        &format!("host = [\"{}\"]\nschedule = [\"daily {hhmm}\"]\ntimezone = \"UTC\"\n", r.addr),
        "",
    );
    for i in 1..=2 {
        let (ok, out) = send(&a, "bob@branch.test", &format!("scheduled {i}"));
        assert!(ok, "{out}");
    }
    assert_eq!(a.wait_outbound(2).len(), 2);
    let show = a.cli(&["gateway", "show", "branch.test"], "");
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains(&format!("on schedule (daily {hhmm})")), "{text}");
    assert!(text.contains("held         2 message(s)") && text.contains("none recorded"), "{text}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(r.messages().is_empty(), "held before its time");
    let wait = Duration::from_secs(at.saturating_sub(now) + 20);
    assert!(a.wait_for_log(&["gateway schedule opens", "branch.test"], wait), "{}", a.log_text());
    assert_eq!(r.wait(2).len(), 2, "{}", a.log_text());
    assert!(common::wait_until(|| a.outbound().is_empty()));
    assert!(
        common::wait_until(|| {
            let show = a.cli(&["gateway", "show", "branch"], "");
            String::from_utf8_lossy(&show.stdout).contains("2 message(s)\n")
                && String::from_utf8_lossy(&show.stdout).contains("last hand-over 0 min ago")
        }),
        "{}",
        String::from_utf8_lossy(&a.cli(&["gateway", "show", "branch"], "").stdout)
    );
}

/// `recipients = "callout"`: the domain's server is asked at RCPT (no message is sent to
/// it then), its refusal passed on as `550 5.1.1`, the answer remembered; a server that
/// cannot be asked is the fallback's to decide.
#[test]
fn callouts_ask_the_domains_server_and_remember() {
    let r = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "reject");
    let down = free_port(&["127.0.0.1"]);
    let a = Server::start(
        "gw-callout",
        &common::mx(
            "hostname = \"gw.provider.test\"\n",
            &format!(
                "[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\nhost = [\"{}\"]\n\
                 recipients = \"callout\"\n\
                 [[gateway]]\nname = \"down\"\ndomains = [\"down.test\"]\ntls = \"none\"\nhost = [\"127.0.0.1:{down}\"]\n\
                 recipients = \"callout\"\ncallout_fallback = \"defer\"\n\
                 [[gateway]]\nname = \"open\"\ndomains = [\"open.test\"]\ntls = \"none\"\ndelivery = \"hold\"\n\
                 host = [\"127.0.0.1:{down}\"]\nrecipients = \"callout\"\n",
                r.addr
            ),
        ),
    );
    let (ok, out) = send(&a, "bob@branch.test", "checked");
    assert!(ok, "{out}");
    let (ok, out) = send(&a, "bad-user@branch.test", "refused");
    assert!(!ok && out.contains("550 5.1.1") && out.contains("its server says"), "{out}");
    let (ok, out) = send(&a, "bad-user@branch.test", "refused again");
    assert!(!ok && out.contains("550 5.1.1"), "{out}");
    assert_eq!(r.wait(1).len(), 1, "only the accepted message was sent");
    assert!(common::wait_until(|| a.outbound().is_empty()));
    // The log comes through a pipe: wait for both lines, then make sure no third came.
    assert!(common::wait_until(|| a.log_text().matches("gateway callout").count() >= 2), "{}", a.log_text());
    std::thread::sleep(Duration::from_millis(300));
    let asked = a.log_text().matches("gateway callout").count();
    assert_eq!(asked, 2, "bob once, bad-user once (remembered): {}", a.log_text());
    // The domain's server is down: defer, or (the default) take the mail.
    let (ok, out) = send(&a, "x@down.test", "deferred");
    assert!(!ok && out.contains("451 4.4.3"), "{out}");
    let (ok, out) = send(&a, "x@open.test", "taken");
    assert!(ok, "{out}");
    assert_eq!(a.wait_outbound(1).len(), 1);
}

const WITH_ATTACHMENT: &str = "From: alice@remote.test\r\nTo: bob@branch.test\r\nSubject: invoice\r\n\
    MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\n\
    Content-Type: text/plain\r\n\r\nPlease run the attached.\r\n--sep\r\n\
    Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n\
    Content-Disposition: attachment; filename=\"invoice.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
    TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n--sep--\r\n";

/// `strip_attachments` and `envelope_sender`: the domain's server gets the text and a note
/// in place of the attachment, under the gateway's own sender; the archive copy is whole.
#[test]
fn attachments_are_stripped_and_the_sender_replaced() {
    let r = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let a = Server::start(
        "gw-strip",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n\
             [[user]]\naddress = \"archive@provider.test\"\n",
            &format!(
                "[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\nhost = [\"{}\"]\n\
                 strip_attachments = true\nenvelope_sender = \"gateway@provider.test\"\n\
                 keep_copy = \"archive@provider.test\"\n",
                r.addr
            ),
        ),
    );
    const SEND: &str = r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
s.sendmail('alice@remote.test', ['bob@branch.test'], sys.argv[2].encode())
s.quit()
print('sent')
"#;
    let out = python(SEND, &[&a.addr("mx").port().to_string(), WITH_ATTACHMENT]);
    assert!(out.contains("sent"), "{out}");
    let got = r.wait(1);
    assert_eq!(got.len(), 1, "{}", a.log_text());
    let m = &got[0];
    assert!(m.starts_with("FROM gateway@provider.test\n"), "{m}");
    assert!(!m.contains("TVqQ"), "{m}");
    assert!(m.contains("removed the attachment \"invoice.exe\" (application/octet-stream,"), "{m}");
    assert!(m.contains("Please run the attached."), "{m}");
    let copy = a.wait_maildir("provider.test", "archive", 1);
    assert!(copy[0].1.contains("TVqQ"), "the archive keeps the message as it came");
}

/// Mail taken while the domain's server is down arrives once it is up; `kill -9` of the
/// gateway in the middle of the hand-over loses nothing it accepted, and repeats at most
/// what was in flight.
#[test]
fn a_hand_over_survives_the_server_down_and_kill_9() {
    const N: usize = 12;
    let port = free_port(&["127.0.0.1"]);
    let mut a = gateway(
        "gw-survive",
        &format!("host = [\"127.0.0.1:{port}\"]\n"),
        "[outbound]\nretry_first_secs = 1\nretry_max_secs = 2\nconcurrency_per_domain = 2\n",
    );
    for i in 1..=N {
        let (ok, out) = send(&a, "bob@branch.test", &format!("survive {i}"));
        assert!(ok, "{out}");
    }
    assert_eq!(a.wait_outbound(N).len(), N);
    // The server comes up slow (two seconds a message); the gateway dies mid-way.
    let r = receiver("127.0.0.1", port, "slow");
    assert!(common::wait_until(|| !r.messages().is_empty()), "{}", a.log_text());
    a.kill();
    let before = r.messages().len();
    assert!(before < N, "killed while handing over ({before} arrived)");
    a.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while subjects(&r.messages()).len() < N && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = subjects(&r.messages());
    for i in 1..=N {
        assert!(got.contains_key(&format!("survive {i}")), "survive {i} lost: {got:?}\n{}", a.log_text());
    }
    assert!(common::wait_until(|| a.outbound().is_empty()), "{}", a.log_text());
    let repeated: usize = got.values().map(|n| n - 1).sum();
    assert!(repeated <= 2, "at most the two in flight were repeated: {got:?}");
}
