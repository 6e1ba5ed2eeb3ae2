//! The POP3 service with real clients: Python's poplib, curl, fetchmail, and raw sockets for
//! what clients do not show (the lock, UPDATE-only deletion, flat memory on a huge message).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{Server, from_address as from, mx, python, smtplib};

const PASSWORD: &str = "pop-secret";

/// An SMTP listener `mx` to deliver with, and three POP3 listeners: `pop` (STLS), `pops`
/// (implicit TLS), `popplain` (no TLS, plaintext and APOP allowed: for fetchmail and APOP).
fn config(top: &str) -> String {
    mx(
        top,
        "[[listener]]\nname = \"pop\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
         [[listener]]\nname = \"pops\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"implicit\"\n\
         [[listener]]\nname = \"popplain\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\napop = true\n",
    )
}

/// A server with alice@localhost (password and APOP secret) holding `n` messages.
fn server_with_mail(name: &str, top: &str, n: usize) -> Server {
    let s = Server::start(name, &config(top));
    let out = s.cli(&["user", "add", "--apop", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    for i in 1..=n {
        let body = format!("Subject: message {i}\r\n\r\nbody of message {i}\r\n.a line with a dot\r\n");
        assert!(smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", &body).contains("sent"));
    }
    assert_eq!(s.wait_maildir("localhost", "alice", n).len(), n);
    s
}

const POPLIB: &str = r#"
import poplib, ssl, sys
host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL(host, port, context=ctx, timeout=20) if mode == 'implicit' else poplib.POP3(host, port, timeout=20)
if mode == 'stls':
    print('stls', p.stls(context=ctx).decode())
if mode == 'apop':
    print('apop', p.apop(user, password).decode())
else:
    p.user(user)
    print('pass', p.pass_(password).decode())
print('stat', p.stat())
for line in p.uidl()[1]:
    print('uidl', line.decode())
resp, lines, octets = p.top(1, 0)
print('top', [l.decode() for l in lines])
resp, lines, octets = p.retr(2)
print('retr', [l.decode() for l in lines], octets)
print('dele', p.dele(1).decode())
print('quit', p.quit().decode())
"#;

fn poplib(addr: SocketAddr, mode: &str, user: &str, password: &str) -> String {
    python(POPLIB, &[&addr.ip().to_string(), &addr.port().to_string(), mode, user, password])
}

fn uidls(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix("uidl ")).map(str::to_owned).collect()
}

#[test]
fn poplib_stls_apop_uidl_top_retr_dele() {
    let s = server_with_mail("pop3-poplib", "", 4);
    let out = poplib(s.addr("pop"), "stls", "alice@localhost", PASSWORD);
    assert!(out.contains("stls +OK Begin TLS negotiation"), "{out}");
    assert!(out.contains("stat (4, "), "{out}");
    let first = uidls(&out);
    assert_eq!(first.len(), 4, "{out}");
    assert!(out.contains("top ['Return-Path: <bob@remote.test>'"), "{out}");
    assert!(out.contains("'Subject: message 1', '']"), "{out}");
    // poplib un-stuffs: the dotted line arrives as sent.
    assert!(out.contains("'body of message 2', '.a line with a dot']"), "{out}");
    assert!(out.contains("dele +OK message 1 deleted"), "{out}");
    assert_eq!(s.maildir("localhost", "alice").len(), 3, "deleted at QUIT");

    // Unique ids are stable across sessions: the three left keep theirs.
    let out = poplib(s.addr("popplain"), "apop", "alice@localhost", PASSWORD);
    assert!(out.contains("apop +OK"), "{out}");
    let second = uidls(&out);
    let ids = |v: &[String]| v.iter().map(|l| l.split(' ').nth(1).unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&second), ids(&first)[1..]);

    // Implicit TLS, and a bare user name in the first local domain.
    let out = poplib(s.addr("pops"), "implicit", "alice", PASSWORD);
    assert!(out.contains("stat (2, "), "{out}");
    assert!(s.wait_for_log(&["POP3 login"], std::time::Duration::from_secs(10)), "logins are logged");
}

#[test]
fn plaintext_refused_before_tls_and_bad_passwords_throttled() {
    let s = server_with_mail("pop3-plain", "", 1);
    // The plaintext warning: once for the listener that allows it, not once per protocol.
    let warned = |name: &str| {
        let field = format!("listener={name}");
        let names = |l: &str| l.split(' ').any(|w| w == field);
        s.log_text().lines().filter(|l| l.contains("passwords may cross") && names(l)).count()
    };
    assert_eq!((warned("popplain"), warned("pop")), (1, 0), "{}", s.log_text());
    let mut c = Raw::connect(s.addr("pop"));
    assert!(c.line().starts_with("+OK"));
    assert_eq!(
        c.cmd("USER alice@localhost"),
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections"
    );
    assert_eq!(c.cmd("CAPA"), "+OK Capability list follows");
    let caps = c.body();
    assert!(caps.contains(&"STLS".to_owned()) && !caps.contains(&"USER".to_owned()), "{caps:?}");
    // One rule with SMTP and IMAP: no mechanism at all before TLS, challenge-response too.
    assert!(!caps.iter().any(|c| c.starts_with("SASL")), "{caps:?}");
    for mech in ["CRAM-MD5", "SCRAM-SHA-256"] {
        let r = c.cmd(&format!("AUTH {mech}"));
        assert!(r.starts_with("-ERR [AUTH]"), "{mech}: {r}");
    }
    // Wrong password on the plaintext listener: [AUTH], then the session goes on.
    let mut c = Raw::connect(s.addr("popplain"));
    c.line();
    c.cmd("USER alice@localhost");
    assert_eq!(c.cmd("PASS wrong"), "-ERR [AUTH] Authentication failed");
    c.cmd("USER alice@localhost");
    assert!(c.cmd(&format!("PASS {PASSWORD}")).starts_with("+OK alice@localhost's maildrop has 1 messages"));
}

/// A line-oriented raw client.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Self {
        let w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Self { r: BufReader::new(w.try_clone().unwrap()), w }
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn cmd(&mut self, c: &str) -> String {
        self.w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        self.line()
    }

    /// The lines of a multi-line body, up to the `.`.
    fn body(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "." {
                return out;
            }
            out.push(l);
        }
    }

    fn login(addr: SocketAddr) -> Self {
        let mut c = Self::connect(addr);
        assert!(c.line().starts_with("+OK"));
        c.cmd("USER alice@localhost");
        let r = c.cmd(&format!("PASS {PASSWORD}"));
        assert!(r.starts_with("+OK"), "{r}");
        c
    }
}

#[test]
fn one_session_per_maildrop() {
    let s = server_with_mail("pop3-lock", "", 1);
    let mut first = Raw::login(s.addr("popplain"));
    let mut second = Raw::connect(s.addr("popplain"));
    second.line();
    second.cmd("USER alice@localhost");
    assert_eq!(second.cmd(&format!("PASS {PASSWORD}")), "-ERR [IN-USE] Maildrop already locked by another session");
    assert!(first.cmd("QUIT").starts_with("+OK"));
    // The lock goes with the session (also when a client just disconnects).
    let third = Raw::login(s.addr("popplain"));
    drop(third.w.shutdown(std::net::Shutdown::Both));
    std::thread::sleep(Duration::from_millis(200));
    second.cmd("USER alice@localhost");
    assert!(second.cmd(&format!("PASS {PASSWORD}")).starts_with("+OK"));
}

#[test]
fn deletions_only_at_quit_and_quota_given_back() {
    // Room for exactly two messages of this size: delivery of a third waits for a delete.
    let probe = server_with_mail("pop3-quota-probe", "", 1);
    let size = probe.maildir("localhost", "alice")[0].1.len();
    drop(probe);
    let top = format!("[[user]]\naddress = \"alice@localhost\"\nquota = {}\n", 2 * size);
    let s = server_with_mail("pop3-quota", &top, 2);
    let third = "Subject: message 3\r\n\r\nbody of message 3\r\n.a line with a dot\r\n";
    let out = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", third);
    assert!(out.contains("452 4.2.2"), "full: {out}");

    // DELE, then the connection drops: nothing is deleted.
    let mut c = Raw::login(s.addr("popplain"));
    assert_eq!(c.cmd("DELE 1"), "+OK message 1 deleted");
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.maildir("localhost", "alice").len(), 2);
    // DELE, RSET, QUIT: nothing is deleted.
    let mut c = Raw::login(s.addr("popplain"));
    c.cmd("DELE 1");
    assert!(c.cmd("RSET").starts_with("+OK maildrop has 2 messages"));
    assert!(c.cmd("QUIT").starts_with("+OK"));
    assert_eq!(s.maildir("localhost", "alice").len(), 2);
    // DELE, QUIT: gone, and its octets are free again.
    let mut c = Raw::login(s.addr("popplain"));
    c.cmd("DELE 1");
    assert_eq!(c.cmd("QUIT"), "+OK localhost POP3 server signing off (1 messages left)");
    assert_eq!(s.maildir("localhost", "alice").len(), 1);
    let out = smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", third);
    assert!(out.contains("sent"), "{out}");
}

#[test]
fn curl_lists_retrieves_and_uidls() {
    let s = server_with_mail("pop3-curl", "", 2);
    let curl = |url: String, extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "-k", "--ssl-reqd", "-u"])
            .arg(format!("alice@localhost:{PASSWORD}"))
            .args(extra)
            .arg(url)
            .output()
            .expect("curl is installed (.ci/run)");
        assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (pop, pops) = (s.addr("pop"), s.addr("pops"));
    // STLS upgrade (--ssl-reqd), LIST.
    let list = curl(format!("pop3://{pop}/"), &[]);
    let sizes: Vec<&str> = list.lines().collect();
    assert_eq!(sizes.len(), 2, "{list}");
    assert!(sizes[0].starts_with("1 ") && sizes[1].starts_with("2 "), "{list}");
    // RETR over implicit TLS: the stored message, byte for byte.
    let retr = curl(format!("pop3s://{pops}/2"), &[]);
    let stored = &s.maildir("localhost", "alice");
    assert!(stored.iter().any(|(_, m)| *m == retr), "{retr}");
    assert_eq!(sizes[1], format!("2 {}", retr.len()), "LIST size is the octet count");
    let uidl = curl(format!("pop3s://{pops}/"), &["-X", "UIDL"]);
    assert_eq!(uidl.lines().count(), 2, "{uidl}");
}

#[test]
fn fetchmail_collects_into_a_file() {
    let s = server_with_mail("pop3-fetchmail", "", 3);
    let out = s.dir.join("fetched.mbox");
    let (ok, log) = common::fetchmail(&s.dir, "pop3", s.addr("pops").port(), "alice@localhost", PASSWORD, &out);
    assert!(ok, "{log}");
    let mbox = std::fs::read_to_string(&out).unwrap();
    for i in 1..=3 {
        assert!(mbox.contains(&format!("Subject: message {i}")), "{mbox}");
    }
    // `no keep`: fetchmail deleted them, at QUIT.
    assert!(s.maildir("localhost", "alice").is_empty(), "{log}");
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_one_gib_message_is_retrieved_with_flat_memory() {
    let s = server_with_mail("pop3-huge", "", 1);
    // Put a 1 GiB message straight into the Maildir (SMTP would take longer and is not what
    // is tested): 1 KiB lines, every 100th starting with a dot.
    let maildir = s.data().join("mail/localhost/alice/Maildir/new");
    let path = maildir.join("9999999999.huge.test");
    let mut line = vec![b'x'; 1022];
    line.extend_from_slice(b"\r\n");
    let mut dotted = line.clone();
    dotted[0] = b'.';
    let mut block = Vec::with_capacity(1 << 20);
    for i in 0..1024 {
        block.extend_from_slice(if i % 100 == 0 { &dotted } else { &line });
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"Subject: huge\r\n\r\n").unwrap();
    for _ in 0..1024 {
        f.write_all(&block).unwrap();
    }
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();
    let before = peak_rss_kib(s.pid());

    let mut c = Raw::login(s.addr("popplain"));
    let list = c.cmd("LIST 2");
    assert_eq!(list, format!("+OK 2 {size}"));
    c.w.write_all(b"RETR 2\r\n").unwrap();
    assert_eq!(c.line(), format!("+OK {size} octets"));
    // Read to the end marker, counting, never holding more than a buffer.
    let (mut total, mut tail) = (0u64, Vec::new());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = c.r.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed after {total} octets");
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 8 {
            tail.drain(..tail.len() - 8);
        }
        if tail.ends_with(b"\r\n.\r\n") {
            break;
        }
    }
    // Stuffing added one octet per dotted line; the terminator adds three.
    let dotted_lines = 1024 * 1024_u64.div_ceil(100);
    assert_eq!(total, size + dotted_lines + 3);
    let after = peak_rss_kib(s.pid());
    assert!(after < before + 32 * 1024, "peak RSS grew from {before} KiB to {after} KiB");
    assert!(c.cmd("QUIT").starts_with("+OK"));
}

/// Issue 4's "POP-before-SMTP": a client address that logged in to POP3 may relay for
/// `after_login_minutes`, that address only, and not after the window.
#[test]
fn pop_before_smtp_opens_relay_for_that_address_until_the_window_expires() {
    let config = mx(
        "",
        "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\nafter_login_minutes = 0.05\n\
         [[listener]]\nname = \"popplain\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\n",
    );
    let s = Server::start("pop3-before-smtp", &config);
    assert!(s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n")).status.success());
    let (mx, pop) = (s.addr("mx"), s.addr("popplain"));
    let relay = |src: &str| from(src, mx, "EHLO o\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<y@other.test>\r\nQUIT\r\n");
    let login = |src: &str| from(src, pop, &format!("USER alice@localhost\r\nPASS {PASSWORD}\r\nQUIT\r\n"));

    assert!(relay("127.0.0.2").contains("550 5.7.1"), "no login yet");
    assert!(login("127.0.0.3").contains("maildrop has 0 messages"));
    assert!(relay("127.0.0.2").contains("550 5.7.1"), "another address logged in");
    let logged = login("127.0.0.2");
    assert!(logged.contains("maildrop has 0 messages"), "{logged}");
    let started = std::time::Instant::now();
    let r = relay("127.0.0.2");
    assert!(r.contains("250 2.1.5"), "within the window: {r}");
    // The window is 3 seconds.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()) + Duration::from_millis(300));
    assert!(relay("127.0.0.2").contains("550 5.7.1"), "the window expired");
    // A failed login opens nothing.
    let failed = from("127.0.0.4", pop, "USER alice@localhost\r\nPASS wrong\r\nQUIT\r\n");
    assert!(failed.contains("-ERR [AUTH]"), "{failed}");
    assert!(relay("127.0.0.4").contains("550 5.7.1"));
}

#[test]
fn refusals_before_a_session_speak_pop3() {
    let config = mx(
        "",
        "[[listener]]\nname = \"pop\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         [listener.access]\nallow = [\"127.0.0.2/32\"]\n",
    );
    let s = Server::start("pop3-access", &config);
    let mut c = Raw::connect(s.addr("pop"));
    assert_eq!(c.line(), "-ERR [SYS/PERM] localhost Access denied");
    // CAPA from an allowed address shows what the listener offers without TLS.
    let out = from("127.0.0.2", s.addr("pop"), "CAPA\r\nQUIT\r\n");
    // No APOP on this listener, so no timestamp in the greeting.
    assert!(out.starts_with("+OK localhost POP3 sansmail ready\r\n"), "{out}");
    assert!(out.contains("EXPIRE NEVER\r\n") && !out.contains("IMPLEMENTATION"), "no version unless asked: {out}");
    assert!(!out.contains("USER\r\n") && !out.contains("STLS"), "no plaintext login, no TLS here: {out}");
    // The CLI knows what a POP3 listener is.
    let cfg = String::from_utf8(s.cli(&["check-config"], "").stdout).unwrap();
    assert!(
        cfg.contains("listener  pop service=pop3 addr=127.0.0.1:0 tls=None apop=false plaintext_auth=false"),
        "{cfg}"
    );
    let explain = ["explain", "--listener", "pop", "--client", "192.0.2.1", "--from", "a@b.test", "--to", "c@d.test"];
    let out = s.cli(&explain, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("serves pop3"), "{err}");
}
