//! What a session costs, at small scale (the load tool in `benches/load/` runs the same at
//! 10,000): 200 IDLE sessions share one watch of their folder and are all woken by one
//! delivery, logins leave no memory behind, and the thread count stays bounded however
//! many sessions there are.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::imap::{PASSWORD, Raw, deliver};
use common::{Server, mx};

const SESSIONS: usize = 200;

/// `VmHWM` of a process: its peak RSS so far, in KiB.
fn peak_rss(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
}

/// `VmRSS` (KiB) and `Threads` of a process.
fn status(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    (field("VmRSS:"), field("Threads:"))
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    f[11] + f[12]
}

fn server() -> Server {
    let config = mx(
        "[abuse]\nconnections_per_window = 100000\n",
        "[[listener]]\nname = \"imapplain\"\nservice = \"imap\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\n\
         [listener.limits]\nmax_connections = 1000\nmax_connections_per_ip = 1000\n",
    );
    let s = Server::start("scale", &config);
    let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    deliver(&s, 1);
    assert_eq!(s.wait_maildir("localhost", "alice", 1).len(), 1);
    s
}

#[test]
fn idle_sessions_share_one_watch_and_cost_little() {
    let s = server();
    let (pid, addr) = (s.pid(), s.addr("imapplain"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;

    // One login first, so what every server holds once (argon2's working memory, the
    // folder index) is in the baseline.
    let mut first = Raw::login(addr);
    first.cmd("SELECT INBOX");
    first.cmd("LOGOUT");
    std::thread::sleep(Duration::from_millis(300));
    let (rss_start, _) = status(pid);

    // Logins and logouts one after another: what a session held is given back.
    for _ in 0..SESSIONS {
        let mut r = Raw::login(addr);
        assert!(r.cmd("SELECT INBOX").last().unwrap().contains("OK"));
        r.cmd("LOGOUT");
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss_after_logins, _) = status(pid);
    eprintln!("RSS {rss_start} KiB at start, {rss_after_logins} KiB after {SESSIONS} logins and logouts");
    assert!(
        rss_after_logins < rss_start + 8 * 1024,
        "{SESSIONS} logins and logouts left {} KiB behind",
        rss_after_logins.saturating_sub(rss_start)
    );

    // 200 sessions in IDLE on the same folder.
    let mut idle: Vec<Raw> = (0..SESSIONS)
        .map(|_| {
            let mut r = Raw::login(addr);
            assert!(r.cmd("SELECT INBOX").iter().any(|l| l == "* 1 EXISTS\r\n"));
            r.send("i IDLE\r\n");
            assert!(r.line().starts_with("+ "));
            r
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (rss_idle, threads) = status(pid);
    let per_session = rss_idle.saturating_sub(rss_after_logins) * 1024 / SESSIONS as u64;
    eprintln!("{SESSIONS} IDLE sessions: RSS {rss_idle} KiB ({per_session} octets each), {threads} threads");
    assert!(threads <= 2 * cores + 16, "{threads} threads for {SESSIONS} idle sessions on {cores} cores");
    assert!(per_session <= 64 * 1024, "{per_session} octets of RSS per idle session");

    // Idle means idle: no timer runs per session (the ticks are the server's CPU time,
    // whatever else the machine does; 2 % of one core over 3 s is 6 at 100 Hz).
    let ticks = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(3));
    let spent = cpu_ticks(pid) - ticks;
    eprintln!("{spent} clock ticks of CPU in 3 s with {SESSIONS} idle sessions");
    assert!(spent <= 6, "{spent} ticks of CPU in 3 s with {SESSIONS} idle sessions");

    // One delivery reaches every one of them.
    deliver(&s, 2);
    for (i, r) in idle.iter_mut().enumerate() {
        assert_eq!(r.line(), "* 2 EXISTS\r\n", "session {i}");
    }
    let (_, threads) = status(pid);
    assert!(threads <= 2 * cores + 16, "{threads} threads after waking {SESSIONS} sessions");
}

/// A large response's buffers are not kept: 100 sessions that each fetched a 1 MiB message
/// and stay logged in hold little more than idle ones (they held two copies of their
/// largest response each: the session's output and the driver's).
#[test]
fn sessions_give_back_what_a_large_fetch_took() {
    let s = server();
    let (pid, addr) = (s.pid(), s.addr("imapplain"));
    // Files are the truth: a 1 MiB message put straight into the Maildir.
    let line = format!("{}\r\n", "x".repeat(1022));
    let message = format!("Subject: large\r\n\r\n{}", line.repeat(1024));
    let new = s.data().join("mail/localhost/alice/Maildir/new");
    std::fs::write(new.join("1000000000.large.test"), &message).unwrap();

    let mut first = Raw::login(addr);
    assert!(first.cmd("SELECT INBOX").iter().any(|l| l == "* 2 EXISTS\r\n"));
    first.cmd("LOGOUT");
    std::thread::sleep(Duration::from_millis(300));
    let (rss_start, _) = status(pid);

    let sessions: Vec<Raw> = (0..100)
        .map(|_| {
            let mut r = Raw::login(addr);
            r.cmd("SELECT INBOX");
            let lines = r.cmd("FETCH 2 BODY.PEEK[]");
            assert!(
                lines.first().is_some_and(|l| l.ends_with(&format!("{{{}}}\r\n", message.len()))),
                "{:?}",
                &lines[..1]
            );
            assert!(lines.last().unwrap().contains("OK"));
            r
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let (rss, _) = status(pid);
    let grown = rss.saturating_sub(rss_start);
    eprintln!("RSS grew {grown} KiB for {} sessions that each fetched 1 MiB", sessions.len());
    assert!(grown < 32 * 1024, "{grown} KiB kept by {} sessions after a 1 MiB FETCH each", sessions.len());
}

/// A large message goes out from its file in pieces: four clients fetching a 16 MiB message
/// at once raise the server's peak RSS by a few MiB, not by two copies of it per client.
#[test]
fn large_fetches_are_streamed_in_bounded_memory() {
    let s = server();
    let (pid, addr) = (s.pid(), s.addr("imapplain"));
    let line = format!("{}\r\n", "y".repeat(1022));
    let message = format!("Subject: very large\r\n\r\n{}", line.repeat(16 * 1024));
    let new = s.data().join("mail/localhost/alice/Maildir/new");
    std::fs::write(new.join("1000000000.huge.test"), &message).unwrap();
    let mut clients: Vec<Raw> = (0..4)
        .map(|_| {
            let mut r = Raw::login(addr);
            assert!(r.cmd("SELECT INBOX").iter().any(|l| l == "* 2 EXISTS\r\n"));
            r
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = peak_rss(pid);
    let expected = message.len();
    std::thread::scope(|scope| {
        for r in &mut clients {
            scope.spawn(move || {
                let lines = r.cmd("FETCH 2 BODY.PEEK[]");
                assert!(lines[0].ends_with(&format!("{{{expected}}}\r\n")), "{}", lines[0]);
                let got: usize = lines[1..lines.len() - 1].iter().map(String::len).sum();
                // The literal, then `)` CRLF on the last line with the end of the content.
                assert_eq!(got, expected + 3);
                assert!(lines.last().unwrap().contains("OK"));
            });
        }
    });
    let grown = peak_rss(pid).saturating_sub(before);
    eprintln!("peak RSS grew {grown} KiB while 4 clients fetched {expected} octets each");
    assert!(grown < 12 * 1024, "peak RSS grew {grown} KiB for 4 fetches of a 16 MiB message");
}

/// A large APPEND goes to the mail store as it arrives: four clients appending a 16 MiB
/// message at once (non-synchronising literals, sent as fast as TCP takes them) raise the
/// server's peak RSS by a few MiB, and each message is stored byte for byte. A client that
/// goes away in the middle leaves no file behind.
#[test]
fn large_appends_are_streamed_to_the_store_in_bounded_memory() {
    use std::io::Write as _;
    let s = server();
    let (pid, addr) = (s.pid(), s.addr("imapplain"));
    let line = format!("{}\r\n", "z".repeat(1022));
    let message = format!("Subject: appended\r\n\r\n{}", line.repeat(16 * 1024));
    let mut clients: Vec<Raw> = (0..4).map(|_| Raw::login(addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = peak_rss(pid);
    std::thread::scope(|scope| {
        for r in &mut clients {
            let message = &message;
            scope.spawn(move || {
                r.writer.write_all(format!("a APPEND INBOX (\\Seen) {{{}+}}\r\n", message.len()).as_bytes()).unwrap();
                r.writer.write_all(message.as_bytes()).unwrap();
                r.writer.write_all(b"\r\n").unwrap();
                let answer = r.line();
                assert!(answer.starts_with("a OK [APPENDUID "), "{answer}");
            });
        }
    });
    let grown = peak_rss(pid).saturating_sub(before);
    eprintln!("peak RSS grew {grown} KiB while 4 clients appended {} octets each", message.len());
    assert!(grown < 12 * 1024, "peak RSS grew {grown} KiB for 4 appends of a 16 MiB message");
    let maildir = s.data().join("mail/localhost/alice/Maildir");
    let stored: Vec<_> = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .flatten()
        .filter(|e| e.metadata().unwrap().len() == message.len() as u64)
        .collect();
    assert_eq!(stored.len(), 4, "four appended messages of {} octets in cur/", message.len());
    assert_eq!(std::fs::read(stored[0].path()).unwrap(), message.as_bytes());
    // Half a message, then the connection drops: its file in tmp/ goes with it.
    let mut r = Raw::login(addr);
    r.writer.write_all(format!("b APPEND INBOX {{{}}}\r\n", message.len()).as_bytes()).unwrap();
    assert!(r.line().starts_with('+'));
    r.writer.write_all(&message.as_bytes()[..message.len() / 2]).unwrap();
    let tmp = maildir.join("tmp");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&tmp).unwrap().count() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1, "the message is being written to tmp/");
    drop(r);
    while std::fs::read_dir(&tmp).unwrap().count() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the half message is removed");
}
