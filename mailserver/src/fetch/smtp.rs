//! `method = "etrn"` and `"atrn"`: asking the provider's gateway for our domains' mail,
//! with `smtp-proto`'s command encoder and reply framer.
//!
//! ETRN (RFC 1985) only asks: the provider then delivers to our own SMTP listener. ATRN
//! (RFC 2645) logs in (AUTH PLAIN, over TLS unless the job says `tls = "none"`), asks, and
//! on `250` the roles reverse: this server greets and takes the mail as the SMTP server on
//! the same connection, through the same driver and acceptance as port 25 (each message
//! answered `250` only once it is in the spool, fsynced).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::command::Command;
use sansmail_smtp_proto::reply::{ReplyFramer, ReplyLimits};
use sansmail_smtp_proto::server::{ServerConfig, ServerSession};
use sansmail_smtp_proto::{Mechanism, Secret, Status};
use tokio::io::AsyncWriteExt;

use super::{FetchConfig, FetchTls, Fetcher, Report, conn};
use crate::outbound::client::Io;

/// Each reply's time limit.
const REPLY_SECS: u64 = 120;

/// One SMTP conversation as the client, command by command.
struct Talk {
    io: Box<dyn Io>,
    framer: ReplyFramer,
    inbuf: Vec<u8>,
}

impl Talk {
    async fn reply(&mut self) -> Result<Reply<'static>, String> {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(REPLY_SECS);
        loop {
            match self.framer.frame(&self.inbuf).map_err(|e| format!("invalid reply: {e}"))? {
                Status::Complete(n) => {
                    let reply = Reply::parse(&self.inbuf[..n]).map_err(|e| format!("invalid reply: {e}"))?.into_owned();
                    self.inbuf.drain(..n);
                    self.framer.reset();
                    return Ok(reply);
                }
                Status::Partial => {}
            }
            match crate::net::read_by(&mut self.io, &mut buf, Some(deadline)).await {
                None => return Err("no reply in time".into()),
                Some(Ok(0)) => return Err("the server closed the connection".into()),
                Some(Ok(n)) => self.inbuf.extend_from_slice(&buf[..n]),
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    async fn command(&mut self, c: &Command<'_>) -> Result<Reply<'static>, String> {
        let mut out = Vec::new();
        c.encode(&mut out).map_err(|e| format!("cannot write a command: {e}"))?;
        self.io.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
        self.io.flush().await.map_err(|e| format!("write: {e}"))?;
        self.reply().await
    }

    /// Greeting, EHLO, and STARTTLS (then EHLO again) unless the job says no TLS.
    async fn open(job: &FetchConfig, hostname: &str) -> Result<Self, String> {
        let io = conn::open(job).await?;
        let mut t = Self { io, framer: ReplyFramer::new(ReplyLimits::default()), inbuf: Vec::new() };
        expect(t.reply().await?, 2, "greeting")?;
        let ehlo = Command::Ehlo { host: Cow::Borrowed(hostname) };
        let caps = expect(t.command(&ehlo).await?, 2, "EHLO")?;
        if job.tls == FetchTls::Starttls {
            if !caps.lines().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
                return Err("the server does not offer STARTTLS (tls = \"none\" to go without)".into());
            }
            expect(t.command(&Command::StartTls).await?, 2, "STARTTLS")?;
            if !t.inbuf.is_empty() {
                return Err("the server sent more after its STARTTLS reply".into());
            }
            t.io = conn::upgrade(job, t.io).await?;
            expect(t.command(&ehlo).await?, 2, "EHLO")?;
        }
        Ok(t)
    }

    async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.command(&Command::Quit)).await;
        let _ = self.io.shutdown().await;
    }
}

fn expect(reply: Reply<'static>, class: u16, what: &str) -> Result<Reply<'static>, String> {
    if reply.code().class() == class {
        Ok(reply)
    } else {
        Err(format!("{what} refused: {}", reply.to_string().replace(['\r', '\n'], " ").trim()))
    }
}

/// ETRN for each domain: the provider starts sending; the messages it says are pending
/// are counted.
pub(super) async fn etrn(f: &Fetcher, job: &FetchConfig) -> Result<Report, String> {
    let mut t = Talk::open(job, &f.shared.hostname).await?;
    let mut report = Report::default();
    for d in &job.domains {
        let reply = t.command(&Command::Etrn { queue: Cow::Borrowed(d) }).await?;
        match reply.code().get() {
            // 253: "OK, <n> pending messages for node <x> started".
            253 => {
                let n = reply.text().split_whitespace().find_map(|w| w.parse::<u64>().ok()).unwrap_or(0);
                report.messages += n;
            }
            250..=252 => {}
            _ => {
                t.quit().await;
                return Err(format!("ETRN {d}: {}", reply.to_string().replace(['\r', '\n'], " ").trim()));
            }
        }
    }
    t.quit().await;
    Ok(report)
}

/// ATRN: log in, ask, and take the mail on the same connection.
pub(super) async fn atrn(f: &Fetcher, job: &FetchConfig) -> Result<Report, String> {
    let shared = &f.shared;
    let mut t = Talk::open(job, &shared.hostname).await?;
    let user = job.username.as_deref().unwrap_or_default();
    let password = job.password.as_deref().unwrap_or_default();
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    let auth = Command::Auth { mechanism: Mechanism::Plain, initial_response: Some(Secret::new(Cow::Owned(plain))) };
    expect(t.command(&auth).await?, 2, "AUTH")?;
    let domains = job.domains.join(",");
    let reply = t.command(&Command::Atrn { domains: Some(Cow::Borrowed(&domains)) }).await?;
    match reply.code().get() {
        250 => {}
        // No mail waiting.
        453 => {
            t.quit().await;
            return Ok(Report::default());
        }
        _ => {
            t.quit().await;
            return Err(format!("ATRN refused: {}", reply.to_string().replace(['\r', '\n'], " ").trim()));
        }
    }
    if !t.inbuf.is_empty() {
        return Err("the server spoke out of turn after ATRN".into());
    }
    // The turn: we are the server now.
    let (host, port) = job.address();
    let peer = tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], port)));
    let mut config = ServerConfig::new(shared.hostname.clone());
    config.greeting = "ESMTP sansmail (ATRN turn)".into();
    let mut session = ServerSession::new(std::sync::Arc::new(config), Instant::now(), false);
    let relay = crate::identity::policy::Relay::default();
    let mut handler =
        crate::protocols::smtp::Connection::new(shared.clone(), relay, peer, format!("fetch {}", job.name));
    crate::protocols::driver::serve_turned(&mut t.io, &mut session, &mut handler).await.map_err(|e| e.to_string())?;
    Ok(Report { messages: handler.accepted as u64, ..Report::default() })
}
