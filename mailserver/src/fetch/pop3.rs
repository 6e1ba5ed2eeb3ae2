//! `method = "pop3"`: a remote maildrop collected with `pop3-proto`'s `ClientSession`.
//!
//! STLS (or implicit TLS), USER/PASS, UIDL and LIST, then for each message not taken
//! before: RETR, placed by the routing rules, delivered into the spool (fsynced), recorded
//! in `.seen` (fsynced) and only then marked for deletion (DELE, carried out at QUIT). A
//! crash at any point loses nothing (nothing is deleted before it is stored here) and
//! delivers nothing twice (a message taken again lands under the same spool id, which the
//! mailbox already holds).

use std::time::{Duration, Instant};

use sansmail_pop3_proto::client::{ClientEvent, ClientSession};
use sansmail_pop3_proto::{Command, Secret};
use tokio::io::AsyncWriteExt;

use super::conn::{self, Pump};
use super::route::{Placement, place};
use super::{FetchConfig, FetchTls, Fetcher, Report, Seen, message_id};

/// Each response's time limit.
const RESPONSE_SECS: u64 = 120;

/// A POP3 conversation over one connection.
type Pop3 = Pump<ClientSession>;

/// The answer to one command: its status, and for a multi-line answer its body (at most
/// `limit` octets kept; `truncated` says more came).
struct Answer {
    ok: bool,
    text: String,
    body: Vec<u8>,
    truncated: bool,
}

/// POP3's own steps over the pump.
trait Conversation {
    async fn event(&mut self) -> Result<ClientEvent, String>;
    async fn ask(&mut self, command: &Command<'_>, multi: bool, limit: usize) -> Result<Answer, String>;
}

impl Conversation for Pop3 {
    /// Reads until an event comes.
    async fn event(&mut self) -> Result<ClientEvent, String> {
        loop {
            if let Some(e) = self.session.poll_event() {
                return match e {
                    ClientEvent::Error(e) => Err(format!("server: {e}")),
                    e => Ok(e),
                };
            }
            self.read().await?;
        }
    }

    /// Sends `command` and reads its answer (and body, for a multi-line one).
    async fn ask(&mut self, command: &Command<'_>, multi: bool, limit: usize) -> Result<Answer, String> {
        self.session.send(Instant::now(), command).map_err(|e| format!("cannot write a command: {e}"))?;
        let (ok, text) = match self.event().await? {
            ClientEvent::Response { ok, text, .. } => (ok, text),
            other => return Err(format!("unexpected {other:?}")),
        };
        let mut answer = Answer { ok, text, body: Vec::new(), truncated: false };
        if ok && multi {
            loop {
                match self.event().await? {
                    ClientEvent::Data(piece) => {
                        if answer.body.len() + piece.len() <= limit {
                            answer.body.extend_from_slice(&piece);
                        } else {
                            answer.truncated = true;
                        }
                    }
                    ClientEvent::End => break,
                    other => return Err(format!("unexpected {other:?}")),
                }
            }
        }
        Ok(answer)
    }
}

/// Lines of `n value` (UIDL, LIST): the message numbers and values.
fn listing(body: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| {
            let (n, v) = l.trim().split_once(' ')?;
            Some((n.parse().ok()?, v.trim().to_owned()))
        })
        .collect()
}

/// Collects the job's maildrop.
pub(super) async fn collect(f: &Fetcher, job: &FetchConfig, recovering: bool) -> Result<Report, String> {
    let session = ClientSession::new(Instant::now(), Duration::from_secs(RESPONSE_SECS));
    let mut p = Pop3::new(conn::open(job).await?, session);
    match p.event().await? {
        ClientEvent::Greeting { ok: true, .. } => {}
        ClientEvent::Greeting { text, .. } => return Err(format!("refused: {text}")),
        other => return Err(format!("unexpected {other:?}")),
    }
    if job.tls == FetchTls::Starttls {
        let a = p.ask(&Command::Stls, false, 0).await?;
        if !a.ok {
            return Err(format!("STLS refused: {}", a.text));
        }
        p.flush().await?;
        p = p.upgrade(job).await?;
        p.session.handle_tls_established();
    }
    let user = job.username.as_deref().unwrap_or_default();
    let password = job.password.as_deref().unwrap_or_default();
    let a = p.ask(&Command::User { name: user }, false, 0).await?;
    if !a.ok {
        return Err(format!("USER refused: {}", a.text));
    }
    let a = p.ask(&Command::Pass { password: Secret::new(password) }, false, 0).await?;
    if !a.ok {
        return Err(format!("login refused: {}", a.text));
    }
    let uidl = p.ask(&Command::Uidl { msg: None }, true, 16 << 20).await?;
    if !uidl.ok {
        return Err(format!("UIDL refused (needed to take each message once): {}", uidl.text));
    }
    let sizes = p.ask(&Command::List { msg: None }, true, 16 << 20).await?;
    let sizes: std::collections::HashMap<u32, u64> =
        listing(&sizes.body).into_iter().filter_map(|(n, s)| Some((n, s.parse().ok()?))).collect();
    let messages = listing(&uidl.body);
    let mut seen = Seen::load(&f.dir, &job.name).map_err(|e| format!("{}.seen: {e}", job.name))?;
    let listed: Vec<String> = messages.iter().map(|(_, u)| u.clone()).collect();
    let mut report = Report::default();
    let now = crate::outbound::unix_now();
    let dir = &f.shared.directory;
    let hostname = &f.shared.hostname;
    let limit = usize::try_from(job.max_message_size).unwrap_or(usize::MAX);
    let mut taken = 0;
    for (n, uid) in &messages {
        let deletable = |at: u64| now >= at.saturating_add(job.keep_days.saturating_mul(86_400));
        if let Some(&at) = seen.taken.get(uid) {
            // Taken before: deleted once its days are up (it may have stayed for keep_days,
            // or a crash came before QUIT).
            if deletable(at) {
                p.ask(&Command::Dele { msg: *n }, false, 0).await?;
            }
            continue;
        }
        if taken >= job.max_messages {
            break;
        }
        if sizes.get(n).is_some_and(|&s| s > job.max_message_size) {
            tracing::warn!(job = %job.name, uidl = %uid, size = sizes[n], "message over max_message_size left on the server");
            report.skipped += 1;
            continue;
        }
        let got = p.ask(&Command::Retr { msg: *n }, true, limit).await?;
        if !got.ok || got.truncated {
            tracing::warn!(job = %job.name, uidl = %uid, reason = %got.text, truncated = got.truncated, "message not taken");
            report.skipped += 1;
            continue;
        }
        let to = match place(job, dir, hostname, &got.body) {
            Placement::To(to) => to,
            Placement::Refused(why) => {
                tracing::warn!(job = %job.name, uidl = %uid, why, "message left on the server");
                seen.add(uid, now).map_err(|e| format!("{}.seen: {e}", job.name))?;
                report.skipped += 1;
                continue;
            }
        };
        let content = with_trace(&got.body, job, hostname);
        let from = return_path(&got.body);
        let id = message_id(&job.name, uid);
        let delivered = tokio::task::block_in_place(|| f.deliver(&id, (&from, &to), &content, recovering));
        delivered.map_err(|e| format!("cannot store a message: {e}"))?;
        seen.add(uid, now).map_err(|e| format!("{}.seen: {e}", job.name))?;
        report.messages += 1;
        report.octets += got.body.len() as u64;
        taken += 1;
        if deletable(now) {
            p.ask(&Command::Dele { msg: *n }, false, 0).await?;
        }
    }
    let _ = p.ask(&Command::Quit, false, 0).await;
    let _ = p.io.shutdown().await;
    seen.prune(&listed).map_err(|e| format!("{}.seen: {e}", job.name))?;
    Ok(report)
}

/// The message with our `Received` field on top (RFC 5321 §4.4: each hop adds one).
pub(super) fn with_trace(body: &[u8], job: &FetchConfig, hostname: &str) -> Vec<u8> {
    let (host, _) = job.address();
    let date = crate::identity::directory::rfc5322_date(crate::outbound::unix_now());
    let proto = match job.method {
        super::Method::Imap => "IMAP",
        _ => "POP3",
    };
    let field = format!(
        "Received: from {host}\r\n\tby {hostname} (sansmail) with {proto} (fetch {});\r\n\t{date}\r\n",
        job.name
    );
    [field.as_bytes(), body].concat()
}

/// The sender a collected message carries (`Return-Path`), or none.
pub(super) fn return_path(body: &[u8]) -> String {
    let end = memchr::memmem::find(body, b"\r\n\r\n").unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end])
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("return-path").then(|| value.trim().trim_matches(['<', '>']).to_owned())
        })
        .filter(|a| a.contains('@') && !a.contains(char::is_whitespace))
        .unwrap_or_default()
}
