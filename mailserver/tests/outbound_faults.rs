//! The outbound queue under faults: more due messages than slots, a destination that
//! never answers, a kill between two domains of one message, a damaged state file, and
//! success notices when the next hop reports itself. Every receiver is on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::receiver::{Staller, free_port, receiver};
use common::{Server, mx, python, smtplib};

/// A sansmail that lets 127.0.0.1 relay, with `extra` configuration.
fn sender(name: &str, extra: &str) -> Server {
    let top = "[[user]]\naddress = \"alice@localhost\"\n";
    Server::start(name, &format!("{}{extra}", mx(top, "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n")))
}

fn route(domain: &str, to: SocketAddr) -> String {
    format!("\n[[route]]\ndomain = \"{domain}\"\nhost = [\"{to}\"]\ntls = \"none\"\n")
}

/// Sends one message per recipient list (`;` between messages, `,` within one) over one
/// connection.
const SEND_EACH: &str = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
for i, rcpts in enumerate(sys.argv[3].split(';')):
    s.sendmail('alice@localhost', rcpts.split(','), 'Subject: m%d\r\n\r\nbody %d\r\n' % (i, i))
s.quit()
print('sent')
"#;

fn send_each(to: SocketAddr, messages: &[&str]) {
    let out = python(SEND_EACH, &[&to.ip().to_string(), &to.port().to_string(), &messages.join(";")]);
    assert!(out.contains("sent"), "{out}");
}

/// One slot, a receiver that takes two seconds per message, four messages due at once:
/// every one leaves and the queue empties (a message that fell due while the slot was
/// busy used to stay "pending, attempts 0" until a restart).
#[test]
fn more_due_messages_than_slots_all_leave_and_the_queue_empties() {
    let rx = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "slow");
    let extra =
        format!("{}[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nconcurrency = 1\n", route("remote.test", rx.addr));
    let s = sender("out-slots", &extra);
    send_each(s.addr("mx"), &["a@remote.test", "b@remote.test", "c@remote.test", "d@remote.test"]);
    let got = rx.wait(4);
    assert_eq!(got.len(), 4, "{}", s.log_text());
    assert!(common::wait_until(|| s.outbound().is_empty()), "queue not empty: {:?}", s.outbound());
}

/// A host that never sends its banner holds only its own domain's slots: mail for a
/// healthy domain goes while those attempts hang, and the whole-attempt bound defers them.
#[test]
fn a_stalled_destination_does_not_block_the_others() {
    let stall = Staller::start();
    let rx = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let extra = format!(
        "{}{}[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nconcurrency = 2\nconcurrency_per_domain = 1\nattempt_timeout_secs = 15\n",
        route("stalled.test", stall.addr),
        route("healthy.test", rx.addr)
    );
    let s = sender("out-stall", &extra);
    send_each(s.addr("mx"), &["x1@stalled.test", "x2@stalled.test", "x3@stalled.test", "ok@healthy.test"]);
    let got = rx.wait(1);
    assert_eq!(got.len(), 1, "{}", s.log_text());
    assert!(got[0].contains("TO ok@healthy.test"));
    // The stalled attempts were still under way when the healthy mail went.
    assert!(!s.log_text().contains("no result within"), "{}", s.log_text());
    // The stalled domain's attempt may reach the staller just after the healthy mail left
    // (the messages are handed to the queue in no fixed order); it holds one slot, no more.
    assert!(common::wait_until(|| stall.accepted() >= 1), "the stalled domain was never tried");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stall.accepted(), 1, "one slot for the stalled domain");
    // The messages waiting for the busy domain come back every few seconds, not in a loop:
    // over three seconds the server uses a small part of one core.
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", s.pid())).unwrap();
        // After the command name: state, ppid, …; utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap() // clock ticks, 100 a second
    };
    let before = cpu();
    std::thread::sleep(Duration::from_secs(3));
    assert!(cpu() - before < 100, "{} ticks in 3 s while waiting", cpu() - before);
    assert!(
        s.wait_for_log(&["x1@stalled.test", "Deferred", "no result within 15s"], Duration::from_secs(45)),
        "{}",
        s.log_text()
    );
}

/// A message to two domains: the fast one takes it, the other stalls, the server is
/// killed. After the restart the fast domain does not get it again (its outcome was saved
/// before the next domain was tried).
#[test]
fn a_kill_between_two_domains_does_not_resend_to_the_first() {
    let stall = Staller::start();
    let rx = receiver("127.0.0.1", free_port(&["127.0.0.1"]), "accept");
    let extra = format!(
        "{}{}[outbound]\ndns_servers = [\"127.0.0.1:9\"]\n",
        route("fast.test", rx.addr),
        route("slow.test", stall.addr)
    );
    let mut s = sender("out-twodomains", &extra);
    send_each(s.addr("mx"), &["one@fast.test,two@slow.test"]);
    assert_eq!(rx.wait(1).len(), 1, "{}", s.log_text());
    assert!(common::wait_until(|| stall.accepted() == 1));
    s.kill();
    s.restart();
    // The restarted attempt reaches the stalled domain: anything it would repeat for the
    // fast one is done by then.
    assert!(common::wait_until(|| stall.accepted() == 2), "{}", s.log_text());
    assert_eq!(rx.messages().len(), 1, "sent again to the domain that had it");
}

/// A state file damaged on disk is quarantined with a log line; its recipients are tried
/// again, and the message still expires and bounces on time.
#[test]
fn a_damaged_state_file_is_quarantined_and_the_message_still_expires() {
    let dead = free_port(&["127.0.0.1"]);
    let extra = format!(
        "{}[outbound]\ndns_servers = [\"127.0.0.1:9\"]\nretry_first_secs = 2\nmax_queue_secs = 3\ndelay_warning_secs = 0\n",
        route("remote.test", format!("127.0.0.1:{dead}").parse().unwrap())
    );
    let s = sender("out-damaged", &extra);
    assert!(
        smtplib(s.addr("mx"), "plain", "alice@localhost", "x@remote.test", "Subject: d\r\n\r\nd\r\n").contains("sent")
    );
    let out = s.data().join("queue/out");
    let state = || {
        std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "state"))
    };
    assert!(common::wait_until(|| state().is_some()), "{}", s.log_text());
    std::fs::write(state().unwrap().path(), "rcpt = [[[ not toml").unwrap();
    assert!(s.wait_for_log(&["damaged outbound state quarantined"], Duration::from_secs(20)), "{}", s.log_text());
    let quarantined = std::fs::read_dir(s.data().join("queue/quarantine")).unwrap().count();
    assert_eq!(quarantined, 1);
    let bounce = s.wait_maildir("localhost", "alice", 1);
    assert_eq!(bounce.len(), 1, "{}", s.log_text());
    assert!(bounce[0].1.contains("4.4.7"), "{}", bounce[0].1);
    assert!(common::wait_until(|| s.outbound().is_empty()), "{:?}", s.outbound());
}

/// NOTIFY=SUCCESS relayed to a next hop that offers DSN: that hop reports, we do not
/// (RFC 3461 §6.2.2.1), and it gets NOTIFY passed on.
#[test]
fn no_success_notice_of_ours_when_the_next_hop_offers_dsn() {
    let next = Server::start(
        "out-dsnhop-rx",
        &mx("[[domain]]\nname = \"hop.test\"\n[[user]]\naddress = \"friend@hop.test\"\n", ""),
    );
    let s = sender("out-dsnhop", &route("hop.test", next.addr("mx")));
    const SEND: &str = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
s.ehlo('client.test')
print(s.sendmail('alice@localhost', ['friend@hop.test'], 'Subject: n\r\n\r\nn\r\n', [], ['NOTIFY=SUCCESS']))
s.quit()
"#;
    let mx = s.addr("mx");
    assert!(python(SEND, &[&mx.ip().to_string(), &mx.port().to_string()]).contains("{}"));
    assert_eq!(next.wait_maildir("hop.test", "friend", 1).len(), 1);
    assert!(s.wait_for_log(&["friend@hop.test", "Delivered"], Duration::from_secs(20)), "{}", s.log_text());
    assert!(common::wait_until(|| s.outbound().is_empty()));
    assert!(!s.log_text().contains("delivery report queued"), "{}", s.log_text());
    assert!(s.maildir("localhost", "alice").is_empty());
}
