//! Runs the real `sansmail` binary on 127.0.0.1 with ephemeral ports and a private data
//! directory, and drives it with real clients (swaks, Python's smtplib).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub mod dovecot;
pub mod imap;
pub mod receiver;

pub const BIN: &str = env!("CARGO_BIN_EXE_sansmail");

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A configuration with `top` (top-level keys), then one plain SMTP listener named `mx` on
/// 127.0.0.1 with an ephemeral port and no TLS, then `extra` (its own keys and tables).
pub fn mx(top: &str, extra: &str) -> String {
    format!("{top}[[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n{extra}")
}

/// A private certificate authority in `dir` and a certificate for `localhost` it signed:
/// `ca.pem`, `cert.pem`, `key.pem`, returned in that order.
pub fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let (ca, cert_file, key_file) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca, cert_file, key_file)
}

/// A fresh directory under the target directory (removed when the test passes).
pub fn temp_dir(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(format!("{name}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    listening: HashMap<String, SocketAddr>,
    exited: bool,
}

/// A running server.
pub struct Server {
    pub dir: PathBuf,
    pub config: PathBuf,
    /// Arguments after `serve -c FILE` at the next (re)start.
    pub serve_args: Vec<String>,
    child: Option<Child>,
    log: Arc<(Mutex<Log>, Condvar)>,
}

/// The value of `key=` in a log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    Some(rest.split(' ').next().unwrap_or(rest).trim_matches('"'))
}

impl Server {
    /// Writes `config` (with `data_dir` set to a private directory) and starts the server.
    pub fn start(name: &str, config: &str) -> Self {
        let dir = temp_dir(name);
        let path = dir.join("sansmail.toml");
        let data = dir.join("data");
        // Outbound DNS goes to a dead loopback port unless the test says otherwise: nothing
        // may leave the machine.
        let dns = if config.contains("[outbound]") { "" } else { "\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\n" };
        // The sender checks (on by default for port-25 listeners) only where a test asks for
        // them: elsewhere their `Authentication-Results` would change the sizes and the
        // headers other tests count.
        let config = if config.contains("sender_checks") {
            config.to_owned()
        } else {
            config.replace("service = \"smtp\"\n", "service = \"smtp\"\nsender_checks = false\n")
        };
        std::fs::write(&path, format!("data_dir = {:?}\n{config}{dns}", data.display().to_string())).unwrap();
        let mut s = Self { dir, config: path, serve_args: Vec::new(), child: None, log: Arc::default() };
        s.restart();
        s
    }

    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts (again) and waits until every listener is bound.
    pub fn restart(&mut self) {
        let expected = std::fs::read_to_string(&self.config).unwrap().matches("[[listener]]").count();
        self.log = Arc::default();
        let mut child = Command::new(BIN)
            .args(["serve", "-c"])
            .arg(&self.config)
            .args(&self.serve_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*log;
                let mut l = m.lock().unwrap();
                if line.contains(" listening ") {
                    let name = field(&line, "listener").unwrap().to_string();
                    l.listening.insert(name, field(&line, "addr").unwrap().parse().unwrap());
                }
                l.lines.push(line);
                cv.notify_all();
            }
            let (m, cv) = &*log;
            m.lock().unwrap().exited = true;
            cv.notify_all();
        });
        self.child = Some(child);
        self.wait_log(Duration::from_secs(20), |l| l.listening.len() == expected || l.exited);
        let l = self.log.0.lock().unwrap();
        assert_eq!(l.listening.len(), expected, "server did not start:\n{}", l.lines.join("\n"));
    }

    fn wait_log(&self, timeout: Duration, done: impl Fn(&Log) -> bool) -> bool {
        let (m, cv) = &*self.log;
        let deadline = Instant::now() + timeout;
        let mut l = m.lock().unwrap();
        while !done(&l) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            l = cv.wait_timeout(l, left).unwrap().0;
        }
        true
    }

    /// Waits for a log line containing every one of `parts`.
    pub fn wait_for_log(&self, parts: &[&str], timeout: Duration) -> bool {
        self.wait_log(timeout, |l| l.lines.iter().any(|line| parts.iter().all(|p| line.contains(p))))
    }

    pub fn log_text(&self) -> String {
        self.log.0.lock().unwrap().lines.join("\n")
    }

    /// The address a listener is bound to.
    pub fn addr(&self, listener: &str) -> SocketAddr {
        *self.log.0.lock().unwrap().listening.get(listener).unwrap_or_else(|| panic!("no listener {listener}"))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL, no warning.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; returns the child to wait on.
    pub fn terminate(&mut self) -> Child {
        let c = self.child.take().unwrap();
        Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap();
        c
    }

    /// Runs `sansmail <args>` against this server's configuration, with `stdin`.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("-c").arg(&self.config);
        run_with_stdin(cmd, stdin)
    }

    /// Messages in a mailbox's `new/`, as (file name, content).
    pub fn maildir(&self, domain: &str, local: &str) -> Vec<(String, String)> {
        let dir = self.data().join("mail").join(domain).join(local).join("Maildir").join("new");
        // A file listed may be gone when it is read (a POP3 or IMAP session deleting it,
        // delivery moving it to cur/): what is gone is not counted.
        let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| {
                    let e = e.ok()?;
                    Some((e.file_name().into_string().ok()?, std::fs::read_to_string(e.path()).ok()?))
                })
                .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Waits until a mailbox holds `n` messages.
    pub fn wait_maildir(&self, domain: &str, local: &str, n: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.maildir(domain, local);
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (up to a minute) until the queue is empty.
    pub fn wait_queue_empty(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.queued().is_empty() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Messages in the outbound queue (ids).
    pub fn outbound(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.data().join("queue").join("out"))
            .map(|rd| {
                rd.filter_map(|e| e.unwrap().file_name().into_string().unwrap().strip_suffix(".msg").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// Waits (up to 20 s) until the outbound queue holds `n` messages.
    pub fn wait_outbound(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ids = self.outbound();
            if ids.len() == n || Instant::now() > deadline {
                return ids;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Files in the queue.
    pub fn queued(&self) -> Vec<String> {
        std::fs::read_dir(self.data().join("queue").join("msg"))
            .map(|rd| rd.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `f` every 50 ms for up to 30 seconds; whether it became true.
pub fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The child may exit without reading (a refused command): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Runs a Python script with `args`; returns stdout, panicking with stderr on failure.
pub fn python(script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    let out = run_with_stdin(cmd, "");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "python failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Runs swaks; returns its whole transcript and whether it succeeded.
pub fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks").args(args).output().expect("swaks is installed (.ci/run)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Sends one message with smtplib; prints `ok <reply>` or `refused <code> <text>` per step.
pub const SMTPLIB_SEND: &str = r#"
import smtplib, ssl, sys
host, port, mode, sender, rcpts, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5].split(','), sys.argv[6]
if body.startswith('@'):
    body = open(body[1:], newline='').read()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL(host, port, context=ctx, timeout=20) if mode == 'implicit' else smtplib.SMTP(host, port, timeout=20)
s.ehlo('client.test')
if mode == 'starttls':
    code, _ = s.starttls(context=ctx)
    print('starttls', code)
    s.ehlo('client.test')
try:
    refused = s.sendmail(sender, rcpts, body.encode())
    for r, (code, text) in refused.items():
        print('refused', r, code, text.decode())
    print('sent')
except smtplib.SMTPRecipientsRefused as e:
    for r, (code, text) in e.recipients.items():
        print('refused', r, code, text.decode())
except smtplib.SMTPResponseException as e:
    print('error', e.smtp_code, e.smtp_error.decode())
s.quit()
"#;

pub fn smtplib(addr: std::net::SocketAddr, mode: &str, from: &str, to: &str, body: &str) -> String {
    python(SMTPLIB_SEND, &[&addr.ip().to_string(), &addr.port().to_string(), mode, from, to, body])
}

/// Sends `data` to `to` from the loopback address `src` (127.0.0.x), then reads until the
/// server closes: what a client at another address sees.
const FROM_ADDRESS: &str = r#"
import socket, sys
src, host, port, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.create_connection((host, port), source_address=(src, 0), timeout=20)
s.sendall(data.encode())
out = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
print(out.decode('latin-1'))
"#;

/// What a client at `src` (a loopback address) receives after sending `data` to `to`.
pub fn from_address(src: &str, to: std::net::SocketAddr, data: &str) -> String {
    python(FROM_ADDRESS, &[src, &to.ip().to_string(), &to.port().to_string(), data])
}

/// Runs fetchmail once against 127.0.0.1:`port` over implicit TLS (any certificate) as
/// `user`, not keeping the mail, delivering into the mbox file `out`; returns whether it
/// succeeded and its log.
pub fn fetchmail(dir: &Path, protocol: &str, port: u16, user: &str, password: &str, out: &Path) -> (bool, String) {
    let rc = dir.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\nset postmaster \"postmaster\"\n\
             poll 127.0.0.1 service {port} protocol {protocol} timeout 20 user \"{user}\" password \"{password}\" \
             ssl no sslcertck no keep mda \"/bin/sh -c 'cat >> {}'\"\n",
            path_str(out)
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&rc).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&rc, perms).unwrap();
    let run = Command::new("fetchmail")
        .arg("-f")
        .arg(&rc)
        .args(["--nodetach", "--nosyslog", "-v"])
        .env("HOME", dir)
        .env("FETCHMAILHOME", dir)
        .output()
        .expect("fetchmail is installed (.ci/run)");
    let log = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    (run.status.success(), log)
}

/// Sends NNTP commands (then QUIT) on one connection and returns everything the server
/// wrote until it closed.
pub fn nntp_raw(addr: SocketAddr, commands: &[&str]) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut text: String = commands.iter().map(|c| format!("{c}\r\n")).collect();
    text.push_str("QUIT\r\n");
    stream.write_all(text.as_bytes()).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Article `number` of `group` as a reader gets it (anonymous), if it is there.
pub fn nntp_article(addr: SocketAddr, group: &str, number: u64) -> Option<String> {
    let out = nntp_raw(addr, &[&format!("GROUP {group}"), &format!("ARTICLE {number}")]);
    let start = out.find("\r\n220 ")?;
    let body = &out[start + 2..];
    let text = &body[body.find("\r\n")? + 2..];
    Some(text[..text.find("\r\n.\r\n")? + 2].to_owned())
}

/// How many articles a group's overview lists (its `.overview` file).
pub fn news_count(s: &Server, group: &str) -> usize {
    std::fs::read_to_string(s.data().join("news").join(group).join(".overview")).map_or(0, |t| t.lines().count())
}
