//! The server side of a POP3 session, Sans-IO.
//!
//! ```text
//!   +OK greeting
//!        │
//!        ▼         STLS (TLS done)
//!  AUTHORIZATION ◄──────────────┐
//!        │  USER/PASS, APOP, AUTH ──► Login decision ──accept_login(maildrop)──┐
//!        │                                                                     ▼
//!        └── QUIT ──► closed                     TRANSACTION ──QUIT──► Update decision ──► closed
//!                                                 │  STAT LIST UIDL DELE RSET NOOP: answered here
//!                                                 └─ RETR / TOP ──► Retrieve decision (streamed)
//! ```
//!
//! The embedder drives it as [`smtp-proto`'s server](sansmail_smtp_proto::server):
//! inputs [`ServerSession::handle_input`], [`ServerSession::handle_timeout`],
//! [`ServerSession::handle_tls_established`]; outputs polled in order after each input:
//! [`ServerSession::poll_event`] until `None`, [`ServerSession::poll_transmit`],
//! [`ServerSession::poll_timeout`]; answers to decision events.
//!
//! The maildrop listing (sizes and unique ids) is handed over at login, so STAT, LIST,
//! UIDL, DELE and RSET are answered without the embedder. Message content is streamed
//! through the session, which dot-stuffs it: no message is ever whole in memory.

mod config;
mod event;

pub use config::{Limits, ServerConfig, Timeouts};
pub use event::Event;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;

use crate::Mechanism;
use crate::command::{Command, CommandError, Secret, Verb, find_line};
use crate::multiline::{Encoder, TopFilter};
use crate::response::{Capability, Response, ResponseCode};

/// One message of the maildrop, as the embedder lists it at login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Its size in octets, CRLF line endings, before byte-stuffing.
    pub size: u64,
    /// Its unique id: 1–70 octets of `%x21-7E`, stable across sessions (RFC 1939 §7).
    pub uid: String,
}

/// An answer the session cannot take now; the pending decision (if any) still waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// No decision is pending.
    NothingPending,
    /// Events are still queued: poll them all before answering the last one.
    EventsUnread,
    /// A decision of another kind is pending (say, `accept_login` during a retrieval).
    OtherDecisionPending,
    /// `reject` after [`ServerSession::message_data`] started the response: use
    /// [`ServerSession::abort`].
    ContentStarted,
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NothingPending => "no decision is pending",
            Self::EventsUnread => "events are still queued; poll them first",
            Self::OtherDecisionPending => "a decision of another kind is pending",
            Self::ContentStarted => "the message is partly sent; abort instead of rejecting",
        })
    }
}

impl std::error::Error for ApiMisuse {}

#[derive(Debug)]
enum Phase {
    Authorization,
    /// Waiting for the client's answer to a `+` challenge.
    Auth,
    /// `+OK` to STLS sent; plaintext input is discarded until TLS is up.
    AwaitingTls,
    Transaction,
    Closed,
}

#[derive(Debug)]
enum Pending {
    Login,
    Auth,
    Retrieve { encoder: Encoder, top: Option<TopFilter>, started: bool, size: u64 },
    Update,
}

/// One POP3 server session. See the [module documentation](self) for the call order.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    phase: Phase,
    pending: Option<Pending>,
    events: VecDeque<Event>,
    inbuf: Vec<u8>,
    /// Inside an over-long line that is being skipped up to its LF.
    discarding: bool,
    out: Vec<u8>,
    tls: bool,
    user: Option<String>,
    maildrop: Vec<MessageInfo>,
    deleted: Vec<bool>,
    errors: usize,
    deadline: Option<Instant>,
}

fn ok(text: &str) -> Response<'_> {
    Response { ok: true, code: None, text }
}

fn err(text: &str) -> Response<'_> {
    Response { ok: false, code: None, text }
}

impl ServerSession {
    /// A session that has just accepted a connection; the greeting is queued. `tls` is true
    /// for implicit TLS (port 995). `apop_timestamp` (such as `<1896.697170952@host>`) goes
    /// into the greeting when the configuration offers APOP; it must be unique per session.
    pub fn new(config: Arc<ServerConfig>, now: Instant, tls: bool, apop_timestamp: Option<&str>) -> Self {
        let mut s = Self {
            deadline: Some(now + config.timeouts.authorization),
            config,
            phase: Phase::Authorization,
            pending: None,
            events: VecDeque::new(),
            inbuf: Vec::new(),
            discarding: false,
            out: Vec::with_capacity(256),
            tls,
            user: None,
            maildrop: Vec::new(),
            deleted: Vec::new(),
            errors: 0,
        };
        let mut text = format!("{} {}", s.config.hostname, s.config.greeting);
        if let Some(ts) = apop_timestamp.filter(|t| s.config.apop && is_apop_timestamp(t)) {
            text.push(' ');
            text.push_str(ts);
        }
        s.send(&ok(&text));
        s
    }

    /// A session that refuses the connection with `-ERR text` and closes.
    pub fn new_refused(config: Arc<ServerConfig>, now: Instant, text: &str) -> Self {
        let mut s = Self::new(config, now, false, None);
        s.out.clear();
        s.send(&err(text));
        s.close();
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The user whose login was accepted.
    pub fn user(&self) -> Option<&str> {
        if matches!(self.phase, Phase::Transaction) || matches!(self.pending, Some(Pending::Update)) {
            self.user.as_deref()
        } else {
            None
        }
    }

    /// Whether the session is over: write pending output, then close.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the event just polled awaits an answer.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some() && self.events.is_empty()
    }

    /// Whether output is queued for [`ServerSession::poll_transmit`].
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// During [`Event::Retrieve`]: whether more content is wanted (false once TOP has its
    /// lines: skip the rest and call [`ServerSession::message_end`]).
    pub fn wants_content(&self) -> bool {
        matches!(&self.pending, Some(Pending::Retrieve { top, .. }) if top.as_ref().is_none_or(|t| !t.is_done()))
    }

    /// Whether the maildrop message at `index` is marked deleted.
    pub fn is_deleted(&self, index: usize) -> bool {
        self.deleted.get(index).copied().unwrap_or(false)
    }

    /// Takes bytes received from the client; returns how many were taken. Fewer than given
    /// means the session waits for the embedder: offer the rest again after answering.
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        match self.phase {
            Phase::AwaitingTls | Phase::Closed => return data.len(),
            Phase::Transaction => self.deadline = Some(now + self.config.timeouts.transaction),
            _ => self.deadline = Some(now + self.config.timeouts.authorization),
        }
        self.process();
        let room = self.buffer_limit().saturating_sub(self.inbuf.len());
        let take = room.min(data.len());
        self.inbuf.extend_from_slice(&data[..take]);
        self.process();
        if matches!(self.phase, Phase::AwaitingTls | Phase::Closed) {
            // Whatever followed STLS in this read is plaintext injection: drop it.
            return data.len();
        }
        take
    }

    /// Reports the next event, or `None`. After `None`, poll output.
    #[must_use = "an event, and decisions, must be answered"]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.process();
        }
        self.events.pop_front()
    }

    /// Moves queued output into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            // The caller's (empty) buffer and ours trade places: no copy, and a large
            // response's memory goes with it rather than staying in the session.
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// When [`ServerSession::handle_timeout`] must be called, if ever. No timeout runs while
    /// a decision is pending.
    #[must_use = "handle_timeout must be called at this instant"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed | Phase::AwaitingTls => None,
            _ if self.pending.is_some() => None,
            _ => self.deadline,
        }
    }

    /// Tells the session the time; past the deadline it says so and closes, without
    /// entering the UPDATE state (RFC 1939 §3: nothing is deleted).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| now >= d) {
            self.send(&err("Autologout; idle for too long"));
            self.close();
        }
    }

    /// The TLS handshake that followed [`Event::StartTls`] completed.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if matches!(self.phase, Phase::AwaitingTls) {
            self.tls = true;
            self.user = None;
            self.inbuf.clear();
            self.discarding = false;
            self.phase = Phase::Authorization;
            self.deadline = Some(now + self.config.timeouts.authorization);
        }
    }

    /// Answers a login decision ([`Event::Login`], [`Event::Apop`], or an AUTH exchange) with
    /// success and the maildrop. `user` names the authenticated user (for AUTH, where the
    /// session does not parse the mechanism).
    pub fn accept_login(&mut self, user: &str, maildrop: Vec<MessageInfo>) -> Result<(), ApiMisuse> {
        match self.answerable()? {
            Pending::Login | Pending::Auth => {}
            other => {
                self.pending = Some(other);
                return Err(ApiMisuse::OtherDecisionPending);
            }
        }
        let total: u64 = maildrop.iter().map(|m| m.size).sum();
        self.deleted = vec![false; maildrop.len()];
        let text = format!("{user}'s maildrop has {} messages ({total} octets)", maildrop.len());
        self.maildrop = maildrop;
        self.user = Some(user.to_owned());
        self.phase = Phase::Transaction;
        self.send(&ok(&text));
        Ok(())
    }

    /// Answers the UPDATE decision: the deletions are done; `+OK` and close.
    pub fn accept(&mut self) -> Result<(), ApiMisuse> {
        match self.answerable()? {
            Pending::Update => {
                let left = self.deleted.iter().filter(|d| !**d).count();
                let text = format!("{} POP3 server signing off ({left} messages left)", self.config.hostname);
                self.send(&ok(&text));
                self.close();
                Ok(())
            }
            other => {
                self.pending = Some(other);
                Err(ApiMisuse::OtherDecisionPending)
            }
        }
    }

    /// Answers the pending decision with `-ERR [code] text`. A refused login returns to the
    /// AUTHORIZATION state; a refused retrieval leaves the session where it was (only before
    /// any content was sent: after that, [`ServerSession::abort`]); a refused UPDATE closes.
    pub fn reject(&mut self, code: Option<ResponseCode<'_>>, text: &str) -> Result<(), ApiMisuse> {
        let pending = self.answerable()?;
        if let Pending::Retrieve { started: true, .. } = pending {
            self.pending = Some(pending);
            return Err(ApiMisuse::ContentStarted);
        }
        self.send(&Response { ok: false, code, text });
        match pending {
            Pending::Login | Pending::Auth => {
                self.user = None;
                self.phase = Phase::Authorization;
                self.count_error();
            }
            Pending::Update => self.close(),
            Pending::Retrieve { .. } => {}
        }
        Ok(())
    }

    /// Answers an AUTH decision with a challenge (sent base64-encoded after `+ `).
    pub fn auth_challenge(&mut self, challenge: &[u8]) -> Result<(), ApiMisuse> {
        if !self.events.is_empty() {
            return Err(ApiMisuse::EventsUnread);
        }
        match self.pending {
            None => return Err(ApiMisuse::NothingPending),
            Some(Pending::Auth) => {}
            Some(_) => return Err(ApiMisuse::OtherDecisionPending),
        }
        self.pending = None;
        self.out.extend_from_slice(b"+ ");
        self.out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(challenge).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.phase = Phase::Auth;
        Ok(())
    }

    /// During [`Event::Retrieve`]: the next piece of the message, as stored (CRLF line
    /// endings; bare ones are written as CRLF). Send the output between pieces.
    pub fn message_data(&mut self, data: &[u8]) -> Result<(), ApiMisuse> {
        let Some(Pending::Retrieve { encoder, top, started, size }) = &mut self.pending else {
            return Err(self.not_retrieving());
        };
        if !*started {
            *started = true;
            retrieve_ok(&mut self.out, top.is_some(), *size);
        }
        let take = match top {
            Some(filter) if filter.is_done() => 0,
            Some(filter) => filter.take(data),
            None => data.len(),
        };
        encoder.encode(&data[..take], &mut self.out);
        Ok(())
    }

    /// During [`Event::Retrieve`]: the message is complete; the terminating `.` is queued.
    pub fn message_end(&mut self) -> Result<(), ApiMisuse> {
        let Some(Pending::Retrieve { .. }) = &self.pending else { return Err(self.not_retrieving()) };
        if let Some(Pending::Retrieve { mut encoder, started, top, size }) = self.pending.take() {
            if !started {
                retrieve_ok(&mut self.out, top.is_some(), size);
            }
            encoder.finish(&mut self.out);
        }
        Ok(())
    }

    /// The embedder cannot go on (say, a read error mid-message): the session closes, since
    /// a half-sent multi-line response cannot be taken back.
    pub fn abort(&mut self) {
        self.close();
    }

    fn answerable(&mut self) -> Result<Pending, ApiMisuse> {
        if !self.events.is_empty() {
            return Err(ApiMisuse::EventsUnread);
        }
        self.pending.take().ok_or(ApiMisuse::NothingPending)
    }

    fn not_retrieving(&self) -> ApiMisuse {
        if self.pending.is_some() { ApiMisuse::OtherDecisionPending } else { ApiMisuse::NothingPending }
    }

    fn buffer_limit(&self) -> usize {
        self.config.limits.auth_line.max(self.config.limits.command_line) * 2
    }

    fn line_limit(&self) -> usize {
        match self.phase {
            Phase::Auth => self.config.limits.auth_line,
            _ => self.config.limits.command_line,
        }
    }

    fn send(&mut self, r: &Response<'_>) {
        r.encode(&mut self.out);
    }

    fn close(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.phase = Phase::Closed;
            self.pending = None;
            self.inbuf.clear();
            self.events.push_back(Event::Close);
        }
    }

    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.config.limits.errors && !self.is_closed() {
            self.send(&err("Too many errors, closing connection"));
            self.close();
        }
    }

    fn error(&mut self, text: &str) {
        self.send(&err(text));
        self.count_error();
    }

    fn is_idle(&self) -> bool {
        self.pending.is_none() && self.events.is_empty() && self.out.len() < self.config.limits.output_buffer
    }

    /// Runs buffered lines while the session is idle.
    fn process(&mut self) {
        let mut pos = 0;
        while self.is_idle() && !matches!(self.phase, Phase::Closed | Phase::AwaitingTls) {
            let rest = &self.inbuf[pos..];
            let limit = self.line_limit();
            if self.discarding {
                match memchr::memchr(b'\n', rest) {
                    Some(lf) => {
                        pos += lf + 1;
                        self.discarding = false;
                        self.error("Line too long");
                    }
                    None => {
                        pos = self.inbuf.len();
                        break;
                    }
                }
                continue;
            }
            let Some((line, used)) = find_line(rest) else {
                if rest.len() >= limit {
                    pos = self.inbuf.len();
                    self.discarding = true;
                }
                break;
            };
            if used > limit {
                pos += used;
                self.error("Line too long");
                continue;
            }
            let line = line.to_vec();
            pos += used;
            if matches!(self.phase, Phase::Auth) {
                self.auth_line(&line);
            } else {
                self.command(&line);
            }
            if matches!(self.phase, Phase::AwaitingTls | Phase::Closed) {
                pos = self.inbuf.len();
            }
        }
        self.inbuf.drain(..pos.min(self.inbuf.len()));
    }

    fn auth_line(&mut self, line: &[u8]) {
        self.phase = Phase::Authorization;
        if line == b"*" {
            self.events.push_back(Event::AuthCancelled);
            self.error("Authentication cancelled");
            return;
        }
        match base64::engine::general_purpose::STANDARD.decode(line) {
            Ok(decoded) => {
                self.pending = Some(Pending::Auth);
                self.events.push_back(Event::AuthResponse(Secret::new(decoded)));
            }
            Err(_) => {
                self.events.push_back(Event::AuthCancelled);
                self.error("Invalid base64 in authentication response");
            }
        }
    }

    /// Whether passwords may be sent in the clear on this connection now.
    fn plaintext_ok(&self) -> bool {
        self.tls || self.config.plaintext_without_tls
    }

    /// Whether `mechanism` may be used on this connection now.
    fn mechanism_ok(&self, mechanism: &Mechanism<'_>) -> bool {
        self.plaintext_ok() || (!mechanism.sends_password() && self.config.challenge_response_without_tls)
    }

    /// The mechanisms offered on this connection now.
    fn mechanisms(&self) -> impl Iterator<Item = &Mechanism<'static>> {
        self.config.mechanisms.iter().filter(|m| self.mechanism_ok(m))
    }

    fn command(&mut self, line: &[u8]) {
        let cmd = match Command::parse_line(line) {
            Ok(c) => c,
            Err(CommandError::Unrecognized) => return self.error("Unknown command"),
            Err(CommandError::Syntax(v)) => return self.error(&format!("Syntax error in {}", v.as_str())),
        };
        let in_transaction = matches!(self.phase, Phase::Transaction);
        match cmd {
            Command::Capa => self.capa(in_transaction),
            Command::Noop if in_transaction => self.send(&ok("")),
            Command::Quit if in_transaction => {
                let deleted = (0..self.deleted.len()).filter(|&i| self.deleted[i]).collect();
                self.pending = Some(Pending::Update);
                self.events.push_back(Event::Update { deleted });
            }
            Command::Quit => {
                let text = format!("{} POP3 server signing off", self.config.hostname);
                self.send(&ok(&text));
                self.close();
            }
            Command::Utf8 if !in_transaction => self.send(&ok("UTF8 enabled")),
            Command::Stls if !in_transaction => {
                if self.tls || !self.config.stls {
                    return self.error("STLS not available");
                }
                self.send(&ok("Begin TLS negotiation"));
                self.inbuf.clear();
                self.phase = Phase::AwaitingTls;
                self.events.push_back(Event::StartTls);
            }
            Command::User { name } if !in_transaction => {
                if !self.plaintext_ok() {
                    return self.plaintext_refused();
                }
                self.user = Some(name.to_owned());
                self.send(&ok("Send your password"));
            }
            Command::Pass { password } if !in_transaction => match self.user.take() {
                _ if !self.plaintext_ok() => self.plaintext_refused(),
                Some(user) => {
                    self.pending = Some(Pending::Login);
                    self.events.push_back(Event::Login { user, password: Secret::new((*password).to_owned()) });
                }
                None => self.error("USER first"),
            },
            Command::Apop { name, digest } if !in_transaction && self.config.apop => {
                self.pending = Some(Pending::Login);
                self.user = None;
                self.events.push_back(Event::Apop { user: name.to_owned(), digest: digest.to_ascii_lowercase() });
            }
            Command::Auth { mechanism: None, .. } if !in_transaction => {
                let mut list = b"+OK mechanisms follow\r\n".to_vec();
                for m in self.mechanisms() {
                    list.extend_from_slice(m.as_str().as_bytes());
                    list.extend_from_slice(b"\r\n");
                }
                list.extend_from_slice(b".\r\n");
                self.out.extend_from_slice(&list);
            }
            Command::Auth { mechanism: Some(m), initial_response } if !in_transaction => {
                self.user = None;
                let Some(mechanism) = Mechanism::parse(m.as_bytes()) else {
                    return self.error("Unsupported authentication mechanism");
                };
                if !self.mechanisms().any(|o| *o == mechanism) {
                    if self.config.mechanisms.contains(&mechanism) {
                        return self.plaintext_refused();
                    }
                    return self.error("Unsupported authentication mechanism");
                }
                let initial_response =
                    match initial_response.map(|r| base64::engine::general_purpose::STANDARD.decode(*r)) {
                        None => None,
                        Some(Ok(r)) => Some(Secret::new(r)),
                        Some(Err(_)) => return self.error("Invalid base64 in initial response"),
                    };
                self.pending = Some(Pending::Auth);
                self.events.push_back(Event::AuthStart { mechanism: mechanism.into_owned(), initial_response });
            }
            Command::Stat if in_transaction => {
                let (n, size) = self.live().fold((0, 0), |(n, s), (_, m)| (n + 1, s + m.size));
                self.send(&ok(&format!("{n} {size}")));
            }
            Command::List { msg: None } if in_transaction => {
                let (n, size) = self.live().fold((0, 0), |(n, s), (_, m)| (n + 1, s + m.size));
                let mut out = format!("+OK {n} messages ({size} octets)\r\n");
                for (i, m) in self.live() {
                    out.push_str(&format!("{} {}\r\n", i + 1, m.size));
                }
                out.push_str(".\r\n");
                self.out.extend_from_slice(out.as_bytes());
            }
            Command::Uidl { msg: None } if in_transaction => {
                let mut out = String::from("+OK unique-id listing follows\r\n");
                for (i, m) in self.live() {
                    out.push_str(&format!("{} {}\r\n", i + 1, m.uid));
                }
                out.push_str(".\r\n");
                self.out.extend_from_slice(out.as_bytes());
            }
            Command::List { msg: Some(n) } if in_transaction => {
                if let Some(i) = self.message(n) {
                    let size = self.maildrop[i].size;
                    self.send(&ok(&format!("{n} {size}")));
                }
            }
            Command::Uidl { msg: Some(n) } if in_transaction => {
                if let Some(i) = self.message(n) {
                    let uid = self.maildrop[i].uid.clone();
                    self.send(&ok(&format!("{n} {uid}")));
                }
            }
            Command::Dele { msg } if in_transaction => {
                if let Some(i) = self.message(msg) {
                    self.deleted[i] = true;
                    self.send(&ok(&format!("message {msg} deleted")));
                }
            }
            Command::Rset if in_transaction => {
                self.deleted.iter_mut().for_each(|d| *d = false);
                let size: u64 = self.maildrop.iter().map(|m| m.size).sum();
                self.send(&ok(&format!("maildrop has {} messages ({size} octets)", self.maildrop.len())));
            }
            Command::Retr { msg } if in_transaction => self.retrieve(msg, None),
            Command::Top { msg, lines } if in_transaction => self.retrieve(msg, Some(lines)),
            Command::Unknown { .. } => self.error("Unknown command"),
            other if in_transaction => self.error(&format!("{} not valid after login", other.verb().as_str())),
            other if other.verb() == Verb::Apop => self.error("APOP not available"),
            _ => self.error("Not logged in"),
        }
    }

    fn plaintext_refused(&mut self) {
        self.user = None;
        self.send(&Response {
            ok: false,
            code: Some(ResponseCode::Auth),
            text: "Plaintext authentication disallowed on non-secure connections",
        });
        self.count_error();
    }

    fn capa(&mut self, in_transaction: bool) {
        let mut caps = vec![Capability::Top, Capability::Uidl, Capability::RespCodes, Capability::AuthRespCode];
        caps.push(Capability::Pipelining);
        if !in_transaction {
            if self.plaintext_ok() {
                caps.push(Capability::User);
            }
            let mechs: Vec<&str> = self.mechanisms().map(Mechanism::as_str).collect();
            if !mechs.is_empty() {
                caps.push(Capability::Sasl(mechs));
            }
            if self.config.stls && !self.tls {
                caps.push(Capability::Stls);
            }
            caps.push(Capability::Utf8);
        }
        if let Some(e) = self.config.expire {
            caps.push(Capability::Expire(e));
        }
        if let Some(d) = self.config.login_delay {
            caps.push(Capability::LoginDelay(d));
        }
        if let Some(i) = &self.config.implementation {
            caps.push(Capability::Implementation(i));
        }
        let mut out = b"+OK Capability list follows\r\n".to_vec();
        for c in &caps {
            c.encode(&mut out);
        }
        out.extend_from_slice(b".\r\n");
        self.out.extend_from_slice(&out);
    }

    /// Messages not marked deleted, with their indices.
    fn live(&self) -> impl Iterator<Item = (usize, &MessageInfo)> {
        self.maildrop.iter().enumerate().filter(|(i, _)| !self.deleted[*i])
    }

    /// The index of message `n`, or `-ERR` (counted) when there is none or it is deleted.
    fn message(&mut self, n: u32) -> Option<usize> {
        // Message 0 wraps to an index that does not exist.
        let i = (n as usize).wrapping_sub(1);
        match self.deleted.get(i) {
            Some(false) => Some(i),
            Some(true) => {
                self.error(&format!("message {n} already deleted"));
                None
            }
            None => {
                self.error("no such message");
                None
            }
        }
    }

    fn retrieve(&mut self, msg: u32, top: Option<u32>) {
        if let Some(index) = self.message(msg) {
            let size = self.maildrop[index].size;
            let top_filter = top.map(TopFilter::new);
            self.pending = Some(Pending::Retrieve { encoder: Encoder::new(), top: top_filter, started: false, size });
            self.events.push_back(Event::Retrieve { index, top });
        }
    }
}

/// The `+OK` that starts a message (RFC 1939 §7 gives the size for RETR).
fn retrieve_ok(out: &mut Vec<u8>, top: bool, size: u64) {
    if top {
        out.extend_from_slice(b"+OK top of message follows\r\n");
    } else {
        out.extend_from_slice(format!("+OK {size} octets\r\n").as_bytes());
    }
}

/// `<` … `>` with printable content: the APOP timestamp's shape (RFC 1939 §7).
fn is_apop_timestamp(t: &str) -> bool {
    t.len() > 2 && t.starts_with('<') && t.ends_with('>') && t.bytes().all(|b| b > b' ' && b < 0x7f)
}

#[cfg(test)]
mod tests;
