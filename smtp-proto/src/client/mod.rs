//! The client side of an SMTP session, Sans-IO: one envelope delivered over one connection.
//!
//! The embedder connects, creates a [`ClientSession`], and then pumps as on the server side:
//! [`ClientSession::handle_input`] with the server's bytes, [`ClientSession::poll_event`]
//! until `None`, [`ClientSession::poll_transmit`] to write. On
//! [`ClientEvent::ReadyForBody`] it streams the message with [`ClientSession::write_body`] and
//! ends it with [`ClientSession::finish_body`]; the session dot-stuffs for DATA and frames
//! BDAT chunks itself. Results come as one [`ClientEvent::Recipient`] per recipient and one
//! [`ClientEvent::Done`].
//!
//! A hostile server cannot make it buffer without bound: each reply is framed under
//! [`ReplyLimits`](crate::reply::ReplyLimits), and replies nobody asked for are errors.

mod config;
mod event;

pub use config::{ClientConfig, ClientTimeouts, Credentials, Envelope, TlsPolicy};
pub use event::{ClientError, ClientEvent, NextTransactionError, NotReadyForBody, Stage};

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::command::{Body, Command, EncodeError};
use crate::data::DataEncoder;
use crate::reply::{Capability, EhloReply, Reply, ReplyFramer};
use crate::{Mechanism, Secret, Status};

/// The reply each outstanding command waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    AuthLogin(u8),
    Mail,
    Rcpt(usize),
    Data,
    Bdat { last: bool },
    DataEnd,
    Rset,
    Quit,
}

/// One client session. See the [module documentation](self).
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    envelope: Envelope,
    expect: VecDeque<Expect>,
    events: VecDeque<ClientEvent>,
    framer: ReplyFramer,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    caps: EhloReply<'static>,
    tls: bool,
    awaiting_tls: bool,
    authenticated: bool,
    pipelined: bool,
    use_bdat: bool,
    mail_ok: bool,
    accepted: usize,
    answered: usize,
    body: Option<DataEncoder>,
    /// With BDAT: the last piece of content, held back so that the final chunk can be
    /// `BDAT n LAST` (RFC 3030 §2).
    held: Vec<u8>,
    finished: bool,
    /// Replies still due to commands of a finished transaction: read and ignored.
    stale: usize,
    /// The last transaction did not complete: RSET before the next one.
    dirty: bool,
    /// Without PIPELINING, MAIL waits for the reply to that RSET.
    mail_after_rset: bool,
    closed: bool,
    deadline: Option<Instant>,
    /// Address verification: no DATA, the transaction ends after the RCPT replies.
    verify_only: bool,
    /// The last RCPT reply that accepted (what a verification's `Done` carries).
    last_accepted: Option<Reply<'static>>,
}

impl ClientSession {
    /// A session for a connection just opened (`tls` for implicit TLS), to deliver `envelope`.
    /// Fails at once if a path or parameter of the envelope cannot be written.
    pub fn new(config: ClientConfig, envelope: Envelope, now: Instant, tls: bool) -> Result<Self, EncodeError> {
        let mut scratch = Vec::new();
        Command::Mail { from: envelope.from.clone(), params: Box::new(envelope.params.clone()) }
            .encode(&mut scratch)?;
        for (to, params) in &envelope.recipients {
            Command::Rcpt { to: to.clone(), params: params.clone() }.encode(&mut scratch)?;
        }
        Command::Ehlo { host: Cow::Borrowed(&config.hello_name) }.encode(&mut scratch)?;
        let framer = ReplyFramer::new(config.reply_limits);
        let deadline = Some(now + config.timeouts.greeting);
        Ok(Self {
            config,
            envelope,
            expect: VecDeque::from([Expect::Greeting]),
            events: VecDeque::new(),
            framer,
            inbuf: Vec::new(),
            out: Vec::new(),
            caps: EhloReply::default(),
            tls,
            awaiting_tls: false,
            authenticated: false,
            pipelined: false,
            use_bdat: false,
            mail_ok: false,
            accepted: 0,
            answered: 0,
            body: None,
            held: Vec::new(),
            finished: false,
            stale: 0,
            dirty: false,
            mail_after_rset: false,
            closed: false,
            deadline,
            verify_only: false,
            last_accepted: None,
        })
    }

    /// A session that only asks whether the server takes the envelope's recipients (an
    /// address verification, or "callout"): greeting, EHLO (with STARTTLS and AUTH as
    /// configured), MAIL and RCPT, then no DATA. Each recipient's reply arrives as a
    /// [`ClientEvent::Recipient`]; [`ClientEvent::Done`] then carries the last RCPT reply
    /// that accepted (or [`ClientError::NoRecipientsAccepted`]), and the session ends with QUIT, or RSET
    /// before the next transaction when `keep_open` holds.
    ///
    /// ```
    /// use std::time::Instant;
    /// use sansmail_smtp_proto::client::{ClientConfig, ClientEvent, ClientSession, Envelope, TlsPolicy};
    /// let mut config = ClientConfig::new("gateway.example");
    /// config.tls = TlsPolicy::Never;
    /// let envelope = Envelope::new("", &["bob@example.net"]).unwrap();
    /// let now = Instant::now();
    /// let mut s = ClientSession::verify(config, envelope, now, false).unwrap();
    /// let mut out = Vec::new();
    /// for reply in ["220 mx ready\r\n", "250 mx\r\n", "250 ok\r\n", "550 5.1.1 no such user\r\n"] {
    ///     let _ = s.handle_input(now, reply.as_bytes());
    ///     out.clear();
    ///     s.poll_transmit(&mut out);
    /// }
    /// assert!(matches!(s.poll_event(), Some(ClientEvent::Recipient { index: 0, reply }) if reply.code() == 550));
    /// assert!(matches!(s.poll_event(), Some(ClientEvent::Done(Err(_)))));
    /// assert_eq!(out, b"QUIT\r\n");
    /// ```
    pub fn verify(config: ClientConfig, envelope: Envelope, now: Instant, tls: bool) -> Result<Self, EncodeError> {
        let mut s = Self::new(config, envelope, now, tls)?;
        s.verify_only = true;
        Ok(s)
    }

    /// The server's EHLO reply (empty before it, or after a HELO fallback).
    pub fn capabilities(&self) -> &EhloReply<'static> {
        &self.caps
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session is over: write pending output, then close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes bytes from the server; all are always taken (replies are bounded by the framer).
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        if self.closed || self.awaiting_tls {
            // After the 220 to STARTTLS, plaintext bytes are injection: drop them.
            return data.len();
        }
        self.inbuf.extend_from_slice(data);
        loop {
            match self.framer.frame(&self.inbuf) {
                Ok(Status::Partial) => break,
                Ok(Status::Complete(n)) => {
                    let parsed = Reply::parse(&self.inbuf[..n]).map(Reply::into_owned);
                    self.inbuf.drain(..n);
                    self.framer.reset();
                    match parsed {
                        Ok(reply) => self.on_reply(now, reply),
                        Err(e) => self.abort(ClientError::Reply(e)),
                    }
                    if self.closed || self.awaiting_tls {
                        self.inbuf.clear();
                        break;
                    }
                }
                Err(e) => {
                    self.abort(ClientError::Reply(e));
                    break;
                }
            }
        }
        data.len()
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if !self.closed {
            let quitting = self.expect.front() == Some(&Expect::Quit);
            if !quitting {
                self.abort(ClientError::ConnectionClosed);
            } else {
                self.close();
            }
        }
    }

    /// Reports the next event, or `None`.
    #[must_use = "an event, and decisions, must be answered"]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Moves queued output into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// When [`ClientSession::handle_timeout`] must be called, if ever.
    #[must_use = "handle_timeout must be called at this instant"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed || self.awaiting_tls || self.expect.is_empty() { None } else { self.deadline }
    }

    /// Tells the session the time; past the deadline the session fails and closes.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| now >= d) {
            self.abort(ClientError::Timeout);
        }
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] completed; EHLO is sent again.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.awaiting_tls {
            self.awaiting_tls = false;
            self.tls = true;
            self.caps = EhloReply::default();
            self.send(now, Command::Ehlo { host: Cow::Owned(self.config.hello_name.clone()) }, Expect::Ehlo);
        }
    }

    /// Writes a piece of the message (after [`ClientEvent::ReadyForBody`]); returns how many
    /// octets it took. The session holds at most [`ClientConfig::body_buffer`] octets of
    /// output: fewer taken than offered (possibly none) means write the output
    /// ([`ClientSession::poll_transmit`]), then offer the rest.
    #[must_use = "the octets not taken must be offered again"]
    pub fn write_body(&mut self, data: &[u8]) -> Result<usize, NotReadyForBody> {
        if self.body.is_none() {
            return Err(NotReadyForBody);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if self.use_bdat {
            // More content follows the held chunk, so it is not the last: send it.
            self.flush_held(false);
        }
        let take = data.len().min(self.config.body_buffer.saturating_sub(self.out.len() + self.held.len()));
        let data = &data[..take];
        if self.use_bdat {
            self.held.extend_from_slice(data);
        } else if let Some(encoder) = self.body.as_mut() {
            encoder.encode(data, &mut self.out);
        }
        Ok(take)
    }

    /// Ends the message: the end marker, or the held-back last chunk as `BDAT n LAST`
    /// (`BDAT 0 LAST` for an empty message).
    pub fn finish_body(&mut self, now: Instant) -> Result<(), NotReadyForBody> {
        let mut encoder = self.body.take().ok_or(NotReadyForBody)?;
        if self.use_bdat {
            self.flush_held(true);
        } else {
            encoder.finish(&mut self.out);
            self.expect.push_back(Expect::DataEnd);
        }
        self.arm(now);
        Ok(())
    }

    /// Sends the held-back chunk as `BDAT n [LAST]` (with `last`, even an empty one).
    fn flush_held(&mut self, last: bool) {
        if self.held.is_empty() && !last {
            return;
        }
        let size = self.held.len() as u64;
        // A BDAT line has no field from the embedder: it cannot fail to encode.
        let _ = Command::Bdat { size, last }.encode(&mut self.out);
        self.out.append(&mut self.held);
        self.expect.push_back(Expect::Bdat { last });
    }

    fn timeout_for(&self, e: Expect) -> Duration {
        let t = &self.config.timeouts;
        match e {
            Expect::Greeting => t.greeting,
            Expect::Data => t.data_init,
            Expect::Bdat { last: false } => t.data_block,
            Expect::Bdat { last: true } | Expect::DataEnd => t.data_term,
            _ => t.command,
        }
    }

    fn arm(&mut self, now: Instant) {
        self.deadline = self.expect.front().map(|&e| now + self.timeout_for(e));
    }

    fn send(&mut self, now: Instant, cmd: Command<'_>, expect: Expect) {
        // Paths and names were checked in `new`; should a command still not encode (the
        // parameters are adapted to the server's extensions), the transaction fails with it.
        let start = self.out.len();
        match cmd.encode(&mut self.out) {
            Ok(()) => {
                self.expect.push_back(expect);
                self.arm(now);
            }
            Err(e) => {
                self.out.truncate(start);
                self.finish(now, Err(ClientError::Encode(e)));
            }
        }
    }

    fn send_raw(&mut self, now: Instant, line: &[u8], expect: Expect) {
        self.out.extend_from_slice(line);
        self.out.extend_from_slice(b"\r\n");
        self.expect.push_back(expect);
        self.arm(now);
    }

    /// Ends the transaction with `result` (once) and says QUIT, unless the configuration
    /// keeps the connection and the session is still usable (the failure, if any, was the
    /// transaction's, not the session's).
    fn finish(&mut self, now: Instant, result: Result<Reply<'static>, ClientError>) {
        if !self.finished {
            self.finished = true;
            self.body = None;
            self.held.clear();
            self.stale = self.expect.len();
            let usable = match &result {
                Ok(_) => true,
                Err(ClientError::Rejected(stage, _)) => matches!(stage, Stage::Mail | Stage::Data | Stage::EndOfData),
                Err(
                    ClientError::NoRecipientsAccepted
                    | ClientError::MessageTooBig { .. }
                    | ClientError::ExtensionMissing(_),
                ) => true,
                Err(_) => false,
            };
            self.dirty = result.is_err();
            self.events.push_back(ClientEvent::Done(result));
            if !(self.config.keep_open && usable) {
                self.send(now, Command::Quit, Expect::Quit);
            } else if self.expect.is_empty() {
                self.deadline = None;
            }
        }
    }

    /// Whether a transaction can start with [`ClientSession::next_transaction`]: the last
    /// one is over, the connection was kept (`keep_open`) and still works.
    pub fn is_idle(&self) -> bool {
        self.finished && !self.closed && !self.expect.iter().any(|e| *e == Expect::Quit)
    }

    /// Sends another message over the same connection (after [`ClientEvent::Done`], with
    /// `keep_open`): RSET first if the last transaction failed, then MAIL as for the first.
    /// Events start over: recipients, body, `Done`.
    pub fn next_transaction(&mut self, now: Instant, envelope: Envelope) -> Result<(), NextTransactionError> {
        if !self.is_idle() {
            return Err(NextTransactionError::NotIdle);
        }
        let mut scratch = Vec::new();
        Command::Mail { from: envelope.from.clone(), params: Box::new(envelope.params.clone()) }
            .encode(&mut scratch)
            .map_err(NextTransactionError::Envelope)?;
        for (to, params) in &envelope.recipients {
            Command::Rcpt { to: to.clone(), params: params.clone() }
                .encode(&mut scratch)
                .map_err(NextTransactionError::Envelope)?;
        }
        self.envelope = envelope;
        self.finished = false;
        self.mail_ok = false;
        self.accepted = 0;
        self.answered = 0;
        if std::mem::take(&mut self.dirty) {
            self.send(now, Command::Rset, Expect::Rset);
            if !(self.config.pipelining && self.caps.has(&Capability::Pipelining)) {
                self.mail_after_rset = true;
                return Ok(());
            }
        }
        self.start_transaction(now);
        Ok(())
    }

    /// Ends a kept connection politely: QUIT, then [`ClientEvent::Close`].
    pub fn quit(&mut self, now: Instant) {
        if self.is_idle() {
            self.send(now, Command::Quit, Expect::Quit);
        }
    }

    /// Ends the session at once: the connection is no longer usable.
    fn abort(&mut self, error: ClientError) {
        if !self.finished {
            self.finished = true;
            self.events.push_back(ClientEvent::Done(Err(error)));
        }
        self.close();
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.expect.clear();
            self.body = None;
            self.held.clear();
            self.events.push_back(ClientEvent::Close);
        }
    }

    fn on_reply(&mut self, now: Instant, reply: Reply<'static>) {
        let Some(expect) = self.expect.pop_front() else {
            return self.abort(ClientError::UnexpectedReply);
        };
        self.arm(now);
        if self.stale > 0 && expect != Expect::Quit {
            // Replies to commands pipelined before the transaction ended: read and ignore.
            self.stale -= 1;
            if self.expect.is_empty() && self.finished {
                self.deadline = None;
            }
            return;
        }
        let ok = reply.is_positive();
        match expect {
            Expect::Greeting if ok => {
                self.send(now, Command::Ehlo { host: Cow::Owned(self.config.hello_name.clone()) }, Expect::Ehlo)
            }
            Expect::Greeting => self.finish(now, Err(ClientError::Rejected(Stage::Greeting, reply))),
            Expect::Ehlo if ok => {
                self.caps = EhloReply::from_reply(&reply).map(owned_caps).unwrap_or_default();
                self.after_hello(now);
            }
            // RFC 5321 §3.2: a server that does not know EHLO answers 500/502; fall back to HELO.
            Expect::Ehlo if reply.code().is_permanent() => {
                self.send(now, Command::Helo { host: Cow::Owned(self.config.hello_name.clone()) }, Expect::Helo)
            }
            Expect::Helo if ok => {
                self.caps = EhloReply::default();
                self.after_hello(now);
            }
            Expect::Ehlo | Expect::Helo => self.finish(now, Err(ClientError::Rejected(Stage::Hello, reply))),
            Expect::StartTls if reply.code() == 220 => {
                self.awaiting_tls = true;
                self.events.push_back(ClientEvent::StartTls);
            }
            Expect::StartTls if self.config.tls == TlsPolicy::Required => {
                self.finish(now, Err(ClientError::Rejected(Stage::StartTls, reply)))
            }
            Expect::StartTls => {
                // Opportunistic: go on in plaintext; don't offer STARTTLS again.
                self.caps.capabilities.retain(|c| *c != Capability::StartTls);
                self.after_hello(now);
            }
            Expect::AuthPlain | Expect::AuthLogin(2) if reply.code() == 235 => {
                self.authenticated = true;
                self.start_transaction(now);
            }
            Expect::AuthLogin(step @ (0 | 1)) if reply.code() == 334 => {
                let creds = self
                    .config
                    .credentials
                    .clone()
                    .unwrap_or(Credentials { username: String::new(), password: String::new() });
                let secret = if step == 0 { creds.username } else { creds.password };
                let line = base64::engine::general_purpose::STANDARD.encode(secret);
                self.send_raw(now, line.as_bytes(), Expect::AuthLogin(step + 1));
            }
            Expect::AuthPlain | Expect::AuthLogin(_) => {
                self.finish(now, Err(ClientError::Rejected(Stage::Auth, reply)))
            }
            Expect::Mail => {
                self.mail_ok = ok;
                if !ok {
                    self.finish(now, Err(ClientError::Rejected(Stage::Mail, reply)));
                } else if !self.pipelined {
                    self.send_rcpt(now, 0);
                }
            }
            Expect::Rcpt(index) => {
                self.answered += 1;
                if ok {
                    self.accepted += 1;
                    if self.verify_only {
                        self.last_accepted = Some(reply.clone());
                    }
                }
                self.events.push_back(ClientEvent::Recipient { index, reply });
                if !self.pipelined && index + 1 < self.envelope.recipients.len() {
                    self.send_rcpt(now, index + 1);
                } else if self.answered == self.envelope.recipients.len() {
                    self.recipients_done(now);
                }
            }
            Expect::Data if reply.code() == 354 && self.accepted > 0 => {
                self.body = Some(DataEncoder::new());
                self.deadline = None;
                self.events.push_back(ClientEvent::ReadyForBody);
            }
            Expect::Data if reply.code() == 354 => {
                // All recipients refused yet 354: end the empty message (RFC 2920 §3.1).
                self.send_raw(now, b".", Expect::DataEnd);
                self.finish(now, Err(ClientError::NoRecipientsAccepted));
            }
            Expect::Data if self.accepted == 0 => self.finish(now, Err(ClientError::NoRecipientsAccepted)),
            Expect::Data => self.finish(now, Err(ClientError::Rejected(Stage::Data, reply))),
            Expect::Bdat { last: false } if ok => {}
            Expect::Bdat { last: true } | Expect::DataEnd if ok => self.finish(now, Ok(reply)),
            Expect::Bdat { .. } | Expect::DataEnd => {
                self.finish(now, Err(ClientError::Rejected(Stage::EndOfData, reply)))
            }
            // The reply to RSET matters only in that it comes: a refusal shows at MAIL.
            Expect::Rset => {
                if std::mem::take(&mut self.mail_after_rset) {
                    self.start_transaction(now);
                }
            }
            Expect::Quit => self.close(),
        }
    }

    /// After EHLO/HELO: STARTTLS, then AUTH, then the transaction.
    fn after_hello(&mut self, now: Instant) {
        let offered = self.caps.has(&Capability::StartTls);
        if !self.tls && self.config.tls != TlsPolicy::Never && offered {
            return self.send(now, Command::StartTls, Expect::StartTls);
        }
        if !self.tls && self.config.tls == TlsPolicy::Required {
            return self.finish(now, Err(ClientError::TlsUnavailable));
        }
        match self.config.credentials.clone() {
            Some(creds) if !self.authenticated => self.auth(now, &creds),
            _ => self.start_transaction(now),
        }
    }

    fn auth(&mut self, now: Instant, creds: &Credentials) {
        if !self.tls && !self.config.plaintext_auth {
            return self.finish(now, Err(ClientError::AuthUnavailable));
        }
        let mechs = self.caps.auth_mechanisms();
        if mechs.contains(&Mechanism::Plain) {
            // RFC 4616: authzid NUL authcid NUL passwd, with an empty authzid.
            let mut token = Vec::with_capacity(creds.username.len() + creds.password.len() + 2);
            token.push(0);
            token.extend_from_slice(creds.username.as_bytes());
            token.push(0);
            token.extend_from_slice(creds.password.as_bytes());
            let encoded = base64::engine::general_purpose::STANDARD.encode(token);
            let initial = if encoded.is_empty() { "=".to_owned() } else { encoded };
            let cmd =
                Command::Auth { mechanism: Mechanism::Plain, initial_response: Some(Secret::new(Cow::Owned(initial))) };
            self.send(now, cmd, Expect::AuthPlain);
        } else if mechs.contains(&Mechanism::Login) {
            self.send(now, Command::Auth { mechanism: Mechanism::Login, initial_response: None }, Expect::AuthLogin(0));
        } else {
            self.finish(now, Err(ClientError::AuthUnavailable));
        }
    }

    /// MAIL, and when PIPELINING is offered every RCPT (and DATA) in the same flight.
    fn start_transaction(&mut self, now: Instant) {
        let has = |c: &Capability<'_>| self.caps.has(c);
        let mut params = self.envelope.params.clone();
        if let (Some(size), Some(limit)) = (params.size, self.caps.size().filter(|&l| l > 0))
            && size > limit
        {
            return self.finish(now, Err(ClientError::MessageTooBig { limit }));
        }
        let needs_utf8 =
            !self.envelope.from.is_ascii() || self.envelope.recipients.iter().any(|(to, _)| !to.is_ascii());
        if needs_utf8 && !has(&Capability::SmtpUtf8) {
            return self.finish(now, Err(ClientError::ExtensionMissing("SMTPUTF8")));
        }
        if params.requiretls && !has(&Capability::RequireTls) {
            return self.finish(now, Err(ClientError::ExtensionMissing("REQUIRETLS")));
        }
        self.use_bdat = self.config.chunking && has(&Capability::Chunking);
        if params.body == Some(Body::BinaryMime) && !(self.use_bdat && has(&Capability::BinaryMime)) {
            return self.finish(now, Err(ClientError::ExtensionMissing("BINARYMIME")));
        }
        // Drop what the server does not advertise rather than have it refused.
        if !has(&Capability::Size(None)) {
            params.size = None;
        }
        if params.body == Some(Body::EightBitMime) && !has(&Capability::EightBitMime) {
            params.body = None;
        }
        params.smtputf8 &= has(&Capability::SmtpUtf8);
        let dsn = has(&Capability::Dsn);
        if !dsn {
            params.ret = None;
            params.envid = None;
        }
        if !self.authenticated {
            params.auth = None;
        }
        self.pipelined = self.config.pipelining && has(&Capability::Pipelining);
        self.send(now, Command::Mail { from: self.envelope.from.clone(), params: Box::new(params) }, Expect::Mail);
        if self.envelope.recipients.is_empty() {
            return self.finish(now, Err(ClientError::NoRecipientsAccepted));
        }
        if self.pipelined {
            for i in 0..self.envelope.recipients.len() {
                self.send_rcpt(now, i);
            }
            if !self.use_bdat && !self.verify_only {
                self.send(now, Command::Data, Expect::Data);
            }
        }
    }

    fn send_rcpt(&mut self, now: Instant, i: usize) {
        let Some((to, params)) = self.envelope.recipients.get(i).cloned() else { return };
        let mut params = params;
        if !self.caps.has(&Capability::Dsn) {
            params.notify = None;
            params.orcpt = None;
        }
        self.send(now, Command::Rcpt { to, params }, Expect::Rcpt(i));
    }

    /// Every RCPT has its reply.
    fn recipients_done(&mut self, now: Instant) {
        if self.verify_only {
            let result = self.last_accepted.take().ok_or(ClientError::NoRecipientsAccepted);
            self.finish(now, result);
            // The server holds an open transaction: RSET before any next one.
            self.dirty = true;
            return;
        }
        if self.accepted == 0 {
            if !self.pipelined || self.use_bdat {
                self.finish(now, Err(ClientError::NoRecipientsAccepted));
            }
            // Pipelined DATA is still outstanding: its reply ends the transaction.
            return;
        }
        if self.use_bdat {
            self.body = Some(DataEncoder::new());
            self.deadline = None;
            self.events.push_back(ClientEvent::ReadyForBody);
        } else if !self.pipelined {
            self.send(now, Command::Data, Expect::Data);
        }
    }
}

fn owned_caps(e: EhloReply<'_>) -> EhloReply<'static> {
    EhloReply {
        domain: Cow::Owned(e.domain.into_owned()),
        greeting: Cow::Owned(e.greeting.into_owned()),
        capabilities: e.capabilities.into_iter().map(Capability::into_owned).collect(),
    }
}
