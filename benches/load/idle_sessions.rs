//! Idle sessions at scale: opens N sessions to a running `sansmail` over TLS, each from a
//! loopback address of its own (127.x.y.z), logs every one in and leaves it idle; then
//! reports the server's RSS per session, its threads and its idle CPU, how long a new
//! client takes to log in, and (IMAP) how long one delivery takes to reach every IDLE
//! session. Fails loudly when any session did not open, or any IDLE session did not see
//! the new message.
//!
//! ```text
//! cargo run --release -p sansmail-benches --example idle_sessions -- \
//!     PROTOCOL ADDR SESSIONS PID USER PASSWORD [SMTP_ADDR]
//! ```
//!
//! `PROTOCOL` is `imap` (LOGIN, SELECT INBOX, IDLE; implicit TLS), `pop3` (USER/PASS, then
//! idle; implicit TLS; `USER` may hold `{}`, replaced by the session's number, since a POP3
//! maildrop takes one session), `smtp` (EHLO, AUTH PLAIN, then idle; implicit TLS) or `nntp`
//! (AUTHINFO USER/PASS, GROUP local.general, then idle; implicit TLS). `PID` is
//! the server's process. `SMTP_ADDR` (IMAP only) is a plain SMTP listener to deliver through.
//! `benches/load/idle-sessions.sh` starts a server and runs them.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::client::TlsStream;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;
type Stream = BufReader<TlsStream<TcpStream>>;

/// Handshakes and logins in flight at once: the server verifies one password per core and
/// queues 32 more by default (past that a login gets a temporary failure).
const OPENING: usize = 16;

/// Loopback certificates are the server's own self-signed ones: this client takes any.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Session `i`'s own source address: 127.x.y.z, never 127.0.0.1.
fn source(i: usize) -> IpAddr {
    let (z, y, x) = (i % 250 + 1, (i / 250) % 250 + 1, i / 62_500 + 1);
    IpAddr::V4(Ipv4Addr::new(127, x as u8, y as u8, z as u8))
}

struct Target {
    protocol: String,
    addr: SocketAddr,
    user: String,
    password: String,
    tls: tokio_rustls::TlsConnector,
}

async fn line(s: &mut Stream) -> Result<String> {
    let mut l = String::new();
    if s.read_line(&mut l).await? == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(l)
}

/// Sends `command` and reads up to the line that starts with `done`.
async fn exchange(s: &mut Stream, command: &str, done: &str) -> Result<String> {
    s.get_mut().write_all(command.as_bytes()).await?;
    loop {
        let l = line(s).await?;
        if l.starts_with(done) {
            return Ok(l);
        }
        if l.starts_with("-ERR")
            || l.contains(" NO ")
            || l.contains(" BAD ")
            || l.starts_with('4')
            || l.starts_with('5')
        {
            return Err(format!("refused: {}", l.trim_end()).into());
        }
    }
}

/// Opens session `i`, logs it in and leaves it idle (IMAP: in IDLE).
async fn open(t: &Target, i: usize) -> Result<Stream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source(i), 0))?;
    let tcp = socket.connect(t.addr).await?;
    let tls = t.tls.connect(ServerName::try_from("localhost")?, tcp).await?;
    let mut s = BufReader::new(tls);
    let user = t.user.replace("{}", &i.to_string());
    match t.protocol.as_str() {
        "imap" => {
            line(&mut s).await?;
            exchange(&mut s, &format!("a LOGIN {user} {}\r\n", t.password), "a OK").await?;
            exchange(&mut s, "b SELECT INBOX\r\n", "b OK").await?;
            exchange(&mut s, "c IDLE\r\n", "+").await?;
        }
        "pop3" => {
            line(&mut s).await?;
            exchange(&mut s, &format!("USER {user}\r\n"), "+OK").await?;
            exchange(&mut s, &format!("PASS {}\r\n", t.password), "+OK").await?;
        }
        "nntp" => {
            line(&mut s).await?;
            exchange(&mut s, &format!("AUTHINFO USER {user}\r\n"), "381").await?;
            exchange(&mut s, &format!("AUTHINFO PASS {}\r\n", t.password), "281").await?;
            exchange(&mut s, "GROUP local.general\r\n", "211").await?;
        }
        "smtp" => {
            line(&mut s).await?;
            exchange(&mut s, "EHLO load.test\r\n", "250 ").await?;
            let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{}", t.password));
            exchange(&mut s, &format!("AUTH PLAIN {plain}\r\n"), "235").await?;
        }
        other => return Err(format!("unknown protocol {other}").into()),
    }
    Ok(s)
}

/// A number field of `/proc/PID/status` (`VmRSS:`, `VmHWM:` in KiB, `Threads:`).
fn field(pid: u32, name: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let v = text.lines().find_map(|l| l.strip_prefix(name)).ok_or("no such field")?;
    Ok(v.split_whitespace().next().ok_or("empty field")?.parse()?)
}

/// `VmRSS` in KiB and `Threads` of a process.
fn status(pid: u32) -> Result<(u64, u64)> {
    Ok((field(pid, "VmRSS:")?, field(pid, "Threads:")?))
}

/// User plus system CPU time of a process, in clock ticks (100 a second).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = text.get(text.rfind(')').ok_or("bad stat")? + 2..).ok_or("bad stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f.get(11).ok_or("bad stat")?.parse::<u64>()? + f.get(12).ok_or("bad stat")?.parse::<u64>()?)
}

/// Delivers one message over plain SMTP.
async fn deliver(addr: SocketAddr, to: &str) -> Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let mut s = BufReader::new(tcp);
    let mut l = String::new();
    s.read_line(&mut l).await?;
    for (cmd, done) in [
        ("EHLO load.test\r\n".to_owned(), "250 "),
        ("MAIL FROM:<load@remote.test>\r\n".to_owned(), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_owned(), "354"),
        ("Subject: wake up\r\n\r\nnew mail\r\n.\r\n".to_owned(), "250"),
        ("QUIT\r\n".to_owned(), "221"),
    ] {
        s.get_mut().write_all(cmd.as_bytes()).await?;
        loop {
            l.clear();
            s.read_line(&mut l).await?;
            if l.starts_with(done) {
                break;
            }
            if l.is_empty() || l.starts_with('4') || l.starts_with('5') {
                return Err(format!("delivery refused at {}: {l}", cmd.trim_end()).into());
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [protocol, addr, sessions, pid, user, password, rest @ ..] = args.as_slice() else {
        return Err("usage: idle_sessions PROTOCOL ADDR SESSIONS PID USER PASSWORD [SMTP_ADDR]".into());
    };
    let (sessions, pid): (usize, u32) = (sessions.parse()?, pid.parse()?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let target = Arc::new(Target {
        protocol: protocol.clone(),
        addr: addr.parse()?,
        user: user.clone(),
        password: password.clone(),
        tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
    });

    let (rss_start, threads_empty) = status(pid)?;
    // Logins and logouts first: what the server holds once whatever the number of
    // sessions (each password-check slot's 19 MiB of argon2 memory, the TLS set-up, the
    // folder index) is then in the baseline, not spread over the sessions.
    // As many at once as the server has password-check slots (one per core, here too).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let warm: Vec<_> = (1..=cores)
        .map(|k| {
            let t = target.clone();
            tokio::spawn(async move { open(&t, sessions + k).await.map(drop) })
        })
        .collect();
    for w in warm {
        w.await??;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_empty, _) = status(pid)?;
    println!(
        "{protocol}: server before the sessions: RSS {rss_start} KiB, {rss_empty} KiB after one login, {threads_empty} threads"
    );

    // Open every session, a bounded number at a time; each then waits for EXISTS (IMAP)
    // or for the end of the run.
    let started = Instant::now();
    let opening = Arc::new(Semaphore::new(OPENING));
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Result<Duration>>();
    let (woken_tx, mut woken_rx) = mpsc::unbounded_channel::<Instant>();
    let stop = Arc::new(tokio::sync::Notify::new());
    for i in 0..sessions {
        let (t, opening, opened, woken, stop) =
            (target.clone(), opening.clone(), opened_tx.clone(), woken_tx.clone(), stop.clone());
        tokio::spawn(async move {
            let Ok(permit) = opening.acquire_owned().await else { return };
            let begun = Instant::now();
            let session = open(&t, i).await;
            drop(permit);
            let mut s = match session {
                Ok(s) => {
                    let _ = opened.send(Ok(begun.elapsed()));
                    s
                }
                Err(e) => {
                    let _ = opened.send(Err(format!("session {i}: {e}").into()));
                    return;
                }
            };
            if t.protocol == "imap" {
                tokio::select! {
                    seen = async {
                        while let Ok(l) = line(&mut s).await {
                            if l.ends_with("EXISTS\r\n") {
                                return true;
                            }
                        }
                        false
                    } => if seen { let _ = woken.send(Instant::now()); },
                    () = stop.notified() => {}
                }
            }
            stop.notified().await;
            drop(s);
        });
    }
    drop((opened_tx, woken_tx));
    let mut logins = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        match opened_rx.recv().await {
            Some(Ok(d)) => logins.push(d),
            Some(Err(e)) => return Err(e),
            None => return Err("a session task ended unreported".into()),
        }
    }
    logins.sort();
    println!(
        "{protocol}: {sessions} sessions open and logged in after {:.1} s (login p50 {:?}, max {:?})",
        started.elapsed().as_secs_f64(),
        logins[logins.len() / 2],
        logins[logins.len() - 1]
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, threads) = status(pid)?;
    let each = (rss.saturating_sub(rss_empty) * 1024) / sessions as u64;
    println!(
        "{protocol}: RSS {rss} KiB, {} KiB beyond the server after one login, {each} octets per session; {threads} threads",
        rss.saturating_sub(rss_empty)
    );
    let ticks = cpu_ticks(pid)?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let spent = cpu_ticks(pid)? - ticks;
    println!("{protocol}: idle CPU {:.2} % of one core (over 10 s)", spent as f64 / 10.0);

    // A newcomer while all of them are open.
    let begun = Instant::now();
    let newcomer = open(&target, sessions).await?;
    println!("{protocol}: a new client logged in in {:?}", begun.elapsed());
    drop(newcomer);

    if protocol == "imap" {
        let smtp: SocketAddr = rest.first().ok_or("IMAP needs SMTP_ADDR")?.parse()?;
        let sent = Instant::now();
        deliver(smtp, &user.replace("{}", "0")).await?;
        let delivered = sent.elapsed();
        let (mut first, mut last) = (None, sent);
        for n in 0..sessions {
            match tokio::time::timeout(Duration::from_secs(60), woken_rx.recv()).await {
                Ok(Some(t)) => {
                    last = last.max(t);
                    first = Some(first.unwrap_or(t).min(t));
                }
                _ => return Err(format!("only {n} of {sessions} IDLE sessions saw the delivery").into()),
            }
        }
        println!(
            "{protocol}: delivery accepted in {delivered:?}; the first IDLE session had EXISTS {:?} after the send, all {sessions} {:?} after",
            first.map_or(Duration::ZERO, |f| f - sent),
            last - sent
        );
    }
    let (rss_end, _) = status(pid)?;
    println!("{protocol}: RSS at the end {rss_end} KiB, peak {} KiB", field(pid, "VmHWM:")?);
    stop.notify_waiters();
    Ok(())
}
