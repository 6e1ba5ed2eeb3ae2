//! The server side of an SMTP session, Sans-IO.
//!
//! ```text
//!            220 greeting
//!                 │
//!   ┌──────► Connected ──HELO/EHLO──► Ready ◄──────────── RSET, end of message
//!   │             │                     │
//!   │  STARTTLS   │                 MAIL FROM
//!   │ (TLS done)  │                     ▼
//!   └─────────────┘                   Mail ──RCPT TO──► Rcpt ──DATA──► Data ──<CRLF>.<CRLF>──┐
//!                                                         └──BDAT──► Bdat ──BDAT n LAST──────┤
//!                                                                                         decision
//! ```
//!
//! The embedder drives it with four kinds of call (the quinn-proto taxonomy):
//! - inputs: [`ServerSession::handle_input`], [`ServerSession::handle_timeout`],
//!   [`ServerSession::handle_tls_established`];
//! - outputs, polled in this order after each input: [`ServerSession::poll_event`] until
//!   `None`, then [`ServerSession::poll_transmit`], then [`ServerSession::poll_timeout`];
//! - answers to decision events: [`ServerSession::accept`], [`ServerSession::accept_with`],
//!   [`ServerSession::reject`], [`ServerSession::auth_challenge`];
//! - getters such as [`ServerSession::is_authenticated`].
//!
//! Replies are queued in command order, so PIPELINING needs nothing more from the embedder.

mod config;
mod dispatch;
mod event;

pub use config::{Extensions, Limits, ServerConfig, Timeouts};
pub use event::{AbortReason, Event};

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;

use crate::command::find_line;
use crate::data::DataDecoder;
use crate::reply::Reply;

/// Where the session is.
#[derive(Debug)]
enum Phase {
    /// Before HELO/EHLO (again after STARTTLS).
    Connected,
    /// After HELO/EHLO, no transaction.
    Ready,
    /// Reading DATA content.
    Data(Box<DataDecoder>),
    /// Reading a BDAT chunk: octets still to come, whether it is the last, whether refused.
    Bdat { remaining: u64, last: bool, refused: bool },
    /// Waiting for the client's answer to a 334 challenge.
    Auth,
    /// 220 to STARTTLS sent; plaintext input is discarded until TLS is up.
    AwaitingTls,
    /// The connection was refused at the greeting: only QUIT is answered (RFC 5321 §3.1).
    Refused,
    /// The session is over; input is discarded.
    Closed,
}

/// What a pending decision is about: fixes the default reply of `accept` and the state after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Hello { esmtp: bool },
    Mail { smtputf8: bool, binary: bool },
    Rcpt,
    MessageEnd,
    Auth,
    Vrfy,
    Expn,
    Etrn,
    Atrn,
}

/// The mail transaction in progress.
#[derive(Debug, Default)]
struct Transaction {
    smtputf8: bool,
    binary: bool,
    recipients: usize,
    /// A BDAT chunk was accepted: DATA is now out of sequence.
    bdat: bool,
    /// Octets received over the BDAT chunks so far.
    bdat_size: u64,
    /// The BDAT content is over the size limit and being discarded.
    too_big: bool,
}

/// An answer method called wrongly. Nothing was answered: the decision, if one is pending,
/// still waits for a right answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// No decision (or not that kind) is pending, or its event has not been polled yet.
    NothingPending,
    /// `accept_with` with a reply of class 4 or 5: that is `reject`.
    AcceptWithFailure,
    /// `reject` with a reply of class 2 or 3: that is `accept_with`.
    RejectWithSuccess,
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NothingPending => "no decision of this kind is pending",
            Self::AcceptWithFailure => "accept_with was given a 4xx or 5xx reply; use reject",
            Self::RejectWithSuccess => "reject was given a 2xx or 3xx reply; use accept_with",
        })
    }
}

impl std::error::Error for ApiMisuse {}

/// One SMTP server session. See the [module documentation](self) for the call order.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    phase: Phase,
    pending: Option<Pending>,
    events: VecDeque<Event>,
    /// Unprocessed input; `rpos` is where processing stands in it.
    inbuf: Vec<u8>,
    rpos: usize,
    /// Inside an over-long line that is being skipped up to its LF.
    discarding: bool,
    out: Vec<u8>,
    helo: Option<bool>,
    tx: Option<Transaction>,
    tls: bool,
    authenticated: bool,
    errors: usize,
    deadline: Option<Instant>,
}

impl ServerSession {
    /// A session that has just accepted a connection; the 220 greeting is queued.
    /// `tls` is true for implicit TLS (port 465), where the handshake came first.
    pub fn new(config: Arc<ServerConfig>, now: Instant, tls: bool) -> Self {
        let mut s = Self::bare(config, now, tls);
        let text = format!("{} {}", s.config.hostname, s.config.greeting);
        s.reply(&Reply::basic(220, "").with_text(text));
        s
    }

    /// A session that refuses the connection with `reply` (such as
    /// `554 5.7.1 Access denied`) instead of the greeting; it then answers only QUIT,
    /// every other command getting 503, as RFC 5321 §3.1 asks.
    pub fn new_refused(config: Arc<ServerConfig>, now: Instant, reply: &Reply<'_>) -> Self {
        let mut s = Self::bare(config, now, false);
        s.phase = Phase::Refused;
        s.reply(reply);
        s
    }

    fn bare(config: Arc<ServerConfig>, now: Instant, tls: bool) -> Self {
        let deadline = Some(now + config.timeouts.command);
        Self {
            config,
            phase: Phase::Connected,
            pending: None,
            events: VecDeque::new(),
            inbuf: Vec::new(),
            rpos: 0,
            discarding: false,
            out: Vec::with_capacity(256),
            helo: None,
            tx: None,
            tls,
            authenticated: false,
            errors: 0,
            deadline,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether AUTH succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the client greeted with EHLO (its name came with [`Event::Hello`]).
    pub fn is_esmtp(&self) -> bool {
        self.helo == Some(true)
    }

    /// Whether the session is over (after QUIT, 421, ATRN's turn): write pending output, then close.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the decision event just polled awaits an answer. A decision event is always
    /// the last one queued, so this is false while earlier events remain to be polled.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some() && self.events.is_empty()
    }

    /// The pending decision, once its event has been polled.
    fn answerable(&mut self) -> Result<Pending, ApiMisuse> {
        if !self.events.is_empty() {
            return Err(ApiMisuse::NothingPending);
        }
        self.pending.take().ok_or(ApiMisuse::NothingPending)
    }

    /// Whether output is queued for [`ServerSession::poll_transmit`].
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Takes bytes received from the client; returns how many were taken. Fewer than given
    /// means the session is waiting (for a decision, or for events to be polled) and its
    /// input buffer is full: keep the rest and offer it again after answering.
    ///
    /// The count cannot be dropped unnoticed (`#[must_use]`), nor can an event or a deadline:
    ///
    /// ```compile_fail
    /// # #![deny(unused_must_use)]
    /// # use std::{sync::Arc, time::Instant};
    /// # use sansmail_smtp_proto::server::{ServerConfig, ServerSession};
    /// let mut s = ServerSession::new(Arc::new(ServerConfig::default()), Instant::now(), false);
    /// s.handle_input(Instant::now(), b"EHLO client.example\r\n");
    /// ```
    ///
    /// ```
    /// # #![deny(unused_must_use)]
    /// # use std::{sync::Arc, time::Instant};
    /// # use sansmail_smtp_proto::server::{ServerConfig, ServerSession};
    /// let mut s = ServerSession::new(Arc::new(ServerConfig::default()), Instant::now(), false);
    /// let taken = s.handle_input(Instant::now(), b"EHLO client.example\r\n");
    /// assert_eq!(taken, 21);
    /// ```
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0;
        }
        match self.phase {
            Phase::AwaitingTls | Phase::Closed => return data.len(),
            Phase::Data(_) | Phase::Bdat { .. } => self.deadline = Some(now + self.config.timeouts.data),
            _ => self.deadline = Some(now + self.config.timeouts.command),
        }
        // Work through what is already buffered first (it may have waited for a decision or
        // for output to be taken), so that there is room for more.
        if self.rpos < self.inbuf.len() {
            self.process();
        }
        // Fast path for message content: decode straight from the caller's buffer.
        let mut used = 0;
        if self.is_idle() && self.rpos == self.inbuf.len() && matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. })
        {
            used = self.content(data);
        }
        let room = self.config.limits.input_buffer.saturating_sub(self.inbuf.len() - self.rpos);
        let take = room.min(data.len() - used);
        self.inbuf.extend_from_slice(&data[used..used + take]);
        self.process();
        if matches!(self.phase, Phase::AwaitingTls) {
            // Whatever followed STARTTLS in this read is plaintext injection: drop it.
            return data.len();
        }
        used + take
    }

    /// Reports the next event, or `None`. After `None`, poll output.
    #[must_use = "an event, and decisions, must be answered"]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.process();
        }
        self.events.pop_front()
    }

    /// Moves queued output into `buf`. While more than
    /// [`Limits::output_buffer`] octets wait here, the session reads no further commands.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            // The caller's (empty) buffer and ours trade places: no copy, and a large
            // response's memory goes with it rather than staying in the session.
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// When [`ServerSession::handle_timeout`] must be called, if ever. No timeout runs while a
    /// decision is pending: the embedder's slowness is not the client's.
    #[must_use = "handle_timeout must be called at this instant"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed | Phase::AwaitingTls => None,
            _ if self.pending.is_some() => None,
            _ => self.deadline,
        }
    }

    /// Tells the session the time; past the deadline it replies 421 4.4.2 and closes.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| now >= d) {
            if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. }) {
                self.events.push_back(Event::MessageAborted(AbortReason::Timeout));
            }
            let text = format!("{} Timeout waiting for client input", self.config.hostname);
            self.reply(&Reply::new(421, (4, 4, 2), "").with_text(text));
            self.close();
        }
    }

    /// The TLS handshake that followed [`Event::StartTls`] completed: the session starts
    /// over and waits for a new EHLO (RFC 3207 §4.2).
    pub fn handle_tls_established(&mut self, now: Instant) {
        if matches!(self.phase, Phase::AwaitingTls) {
            self.tls = true;
            self.helo = None;
            self.tx = None;
            self.authenticated = false;
            self.inbuf.clear();
            self.rpos = 0;
            self.phase = Phase::Connected;
            self.deadline = Some(now + self.config.timeouts.command);
        }
    }

    /// Answers the pending decision with its usual positive reply.
    pub fn accept(&mut self) -> Result<(), ApiMisuse> {
        if !self.is_waiting() {
            return Err(ApiMisuse::NothingPending);
        }
        let reply = match self.pending.ok_or(ApiMisuse::NothingPending)? {
            Pending::Hello { esmtp: true } => self.ehlo_reply(),
            Pending::Hello { esmtp: false } => Reply::basic(250, "").with_text(self.config.hostname.clone()),
            Pending::Mail { .. } => Reply::new(250, (2, 1, 0), "Sender OK"),
            Pending::Rcpt => Reply::new(250, (2, 1, 5), "Recipient OK"),
            Pending::MessageEnd => Reply::new(250, (2, 0, 0), "Message accepted"),
            Pending::Auth => Reply::new(235, (2, 7, 0), "Authentication successful"),
            Pending::Vrfy | Pending::Expn => Reply::new(252, (2, 5, 0), "Cannot verify, but will attempt delivery"),
            Pending::Etrn => Reply::new(250, (2, 0, 0), "Queuing started"),
            Pending::Atrn => Reply::new(250, (2, 0, 0), "OK, now reversing the connection"),
        };
        self.accept_with(&reply)
    }

    /// Answers the pending decision with a positive reply of the embedder's (say, the 250
    /// that names the queue id). A reply of class 4 or 5 is refused
    /// ([`ApiMisuse::AcceptWithFailure`]); the decision still waits.
    pub fn accept_with(&mut self, reply: &Reply<'_>) -> Result<(), ApiMisuse> {
        if reply.code().class() >= 4 {
            return Err(ApiMisuse::AcceptWithFailure);
        }
        let pending = self.answerable()?;
        self.reply(reply);
        match pending {
            Pending::Hello { esmtp } => {
                self.helo = Some(esmtp);
                self.phase = Phase::Ready;
            }
            Pending::Mail { smtputf8, binary } => {
                self.tx = Some(Transaction { smtputf8, binary, ..Transaction::default() });
            }
            Pending::Rcpt => {
                if let Some(tx) = &mut self.tx {
                    tx.recipients += 1;
                }
            }
            Pending::MessageEnd => self.end_transaction(),
            Pending::Auth => {
                self.authenticated = true;
                self.phase = Phase::Ready;
            }
            Pending::Atrn => self.close(),
            Pending::Vrfy | Pending::Expn | Pending::Etrn => {}
        }
        Ok(())
    }

    /// Answers the pending decision with a refusal (class 4 or 5; a 421 also closes). A reply
    /// of class 2 or 3 is refused ([`ApiMisuse::RejectWithSuccess`]); the
    /// decision still waits.
    pub fn reject(&mut self, reply: &Reply<'_>) -> Result<(), ApiMisuse> {
        if reply.code().class() < 4 {
            return Err(ApiMisuse::RejectWithSuccess);
        }
        let pending = self.answerable()?;
        match pending {
            Pending::Mail { .. } => self.tx = None,
            Pending::MessageEnd => self.end_transaction(),
            Pending::Auth => self.phase = Phase::Ready,
            _ => {}
        }
        self.error_reply(reply);
        if reply.code() == 421 {
            self.close();
        }
        Ok(())
    }

    /// Answers AUTH with a challenge (sent base64-encoded after `334`); the client's answer
    /// comes as [`Event::AuthResponse`].
    pub fn auth_challenge(&mut self, challenge: &[u8]) -> Result<(), ApiMisuse> {
        if self.pending != Some(Pending::Auth) || !self.events.is_empty() {
            return Err(ApiMisuse::NothingPending);
        }
        self.pending = None;
        self.out.extend_from_slice(b"334 ");
        let encoded = base64::engine::general_purpose::STANDARD.encode(challenge);
        self.out.extend_from_slice(encoded.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.phase = Phase::Auth;
        Ok(())
    }

    /// Whether the session may run input: no decision or event waits for the embedder, and
    /// the output it has not taken yet is within bounds.
    fn is_idle(&self) -> bool {
        self.pending.is_none() && self.events.is_empty() && self.out.len() < self.config.limits.output_buffer
    }

    /// Queues a reply; enhanced codes only after EHLO when advertised (RFC 2034 §3).
    fn reply(&mut self, reply: &Reply<'_>) {
        let enhanced = self.helo == Some(true) && self.config.extensions.enhanced_status_codes;
        reply.encode(&mut self.out, enhanced);
    }

    /// Queues a failure reply and counts it; past the limit, 421 and close.
    fn error_reply(&mut self, reply: &Reply<'_>) {
        self.reply(reply);
        self.errors += 1;
        if self.errors >= self.config.limits.errors && !self.is_closed() {
            if matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. }) {
                self.events.push_back(Event::MessageAborted(AbortReason::Reset));
            }
            let text = format!("{} Too many errors, closing connection", self.config.hostname);
            self.reply(&Reply::new(421, (4, 7, 0), "").with_text(text));
            self.close();
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.pending = None;
        self.inbuf.clear();
        self.rpos = 0;
        self.events.push_back(Event::Close);
    }

    fn end_transaction(&mut self) {
        self.tx = None;
        self.phase = Phase::Ready;
    }

    /// Runs the input through the state machine until it needs more bytes, a decision, or
    /// the embedder's attention for an event.
    fn process(&mut self) {
        while self.is_idle() {
            let progressed = match self.phase {
                Phase::Closed | Phase::AwaitingTls => {
                    self.inbuf.clear();
                    self.rpos = 0;
                    false
                }
                Phase::Data(_) | Phase::Bdat { .. } => {
                    let input = std::mem::take(&mut self.inbuf);
                    let used = self.content(&input[self.rpos..]);
                    self.inbuf = input;
                    self.rpos += used;
                    used > 0 || !matches!(self.phase, Phase::Data(_) | Phase::Bdat { .. })
                }
                Phase::Auth => self.line(self.config.limits.auth_line, Self::auth_line),
                _ => self.line(self.config.limits.command_line, Self::command_line),
            };
            if !progressed {
                break;
            }
        }
        // Compact: keep only unprocessed input.
        if self.rpos > 0 {
            self.inbuf.drain(..self.rpos);
            self.rpos = 0;
        }
    }

    /// Frames one line of at most `limit` octets (CRLF included) and hands it to `f`.
    /// An over-long line is skipped, never buffered, and answered with 500.
    fn line(&mut self, limit: usize, f: fn(&mut Self, &[u8])) -> bool {
        let input = std::mem::take(&mut self.inbuf);
        let rest = &input[self.rpos..];
        let progressed = match find_line(rest) {
            Some((_, used)) if self.discarding || used > limit => {
                self.discarding = false;
                self.rpos += used;
                self.line_too_long();
                true
            }
            Some((line, used)) => {
                self.rpos += used;
                f(self, line);
                true
            }
            None if rest.len() > limit => {
                // Drop what we have and keep dropping up to the next LF.
                self.discarding = true;
                self.rpos += rest.len();
                true
            }
            None => false,
        };
        self.inbuf = input;
        progressed
    }

    fn line_too_long(&mut self) {
        if matches!(self.phase, Phase::Auth) {
            self.phase = Phase::Ready;
            self.error_reply(&Reply::new(500, (5, 5, 6), "Authentication exchange line is too long"));
        } else {
            self.error_reply(&crate::command::CommandError::LineTooLong.reply());
        }
    }

    /// A line of the AUTH exchange: `*` or base64 (RFC 4954 §4).
    fn auth_line(&mut self, line: &[u8]) {
        self.phase = Phase::Ready;
        if line == b"*" {
            self.events.push_back(Event::AuthCancelled);
            self.error_reply(&Reply::new(501, (5, 0, 0), "Authentication cancelled"));
            return;
        }
        match decode_base64(line) {
            Some(response) => {
                self.phase = Phase::Auth;
                self.decide(Pending::Auth, Event::AuthResponse(crate::Secret::new(response)));
            }
            None => self.error_reply(&Reply::new(501, (5, 5, 2), "Invalid base64 data")),
        }
    }

    fn decide(&mut self, pending: Pending, event: Event) {
        self.pending = Some(pending);
        self.events.push_back(event);
    }

    /// Message content from `input`; returns the octets used.
    fn content(&mut self, input: &[u8]) -> usize {
        match &mut self.phase {
            Phase::Data(decoder) => {
                let mut body = Vec::new();
                let d = decoder.decode(input, &mut body);
                let too_big = self.config.limits.message_size.is_some_and(|max| decoder.size() > max);
                if !body.is_empty() && !too_big {
                    self.events.push_back(Event::MessageData(Bytes::from(body)));
                }
                if d.done {
                    let (size, bare, long) = (decoder.size(), decoder.saw_bare_line_ending(), decoder.saw_long_line());
                    let bare = bare && self.config.bare_line_endings == crate::data::BareLineEndings::Reject;
                    self.phase = Phase::Ready;
                    self.finish_message(size, too_big, bare, long);
                }
                d.consumed
            }
            Phase::Bdat { remaining, last, refused } => {
                let n = (*remaining).min(input.len() as u64) as usize;
                *remaining -= n as u64;
                let (done, last, refused) = (*remaining == 0, *last, *refused);
                let chunk = &input[..n];
                if !refused && let Some(tx) = &mut self.tx {
                    tx.bdat_size += n as u64;
                    if self.config.limits.message_size.is_some_and(|max| tx.bdat_size > max) {
                        tx.too_big = true;
                    }
                    if !tx.too_big && n > 0 {
                        self.events.push_back(Event::MessageData(Bytes::copy_from_slice(chunk)));
                    }
                }
                if done {
                    self.phase = Phase::Ready;
                    self.bdat_chunk_done(last, refused);
                }
                n
            }
            _ => 0,
        }
    }

    fn finish_message(&mut self, size: u64, too_big: bool, bare: bool, long: bool) {
        let refusal = if too_big {
            Some((AbortReason::TooBig, Reply::new(552, (5, 3, 4), "Message size exceeds fixed maximum message size")))
        } else if bare {
            Some((
                AbortReason::BareLineEnding,
                Reply::new(554, (5, 6, 0), "Message contains bare CR or LF (RFC 5321 section 2.3.8)"),
            ))
        } else if long {
            Some((
                AbortReason::LineTooLong,
                Reply::new(554, (5, 6, 0), "Message contains a line longer than allowed (RFC 5321 section 4.5.3.1.6)"),
            ))
        } else {
            None
        };
        match refusal {
            Some((reason, reply)) => {
                self.events.push_back(Event::MessageAborted(reason));
                self.end_transaction();
                self.error_reply(&reply);
            }
            None => self.decide(Pending::MessageEnd, Event::MessageEnd { size }),
        }
    }

    fn bdat_chunk_done(&mut self, last: bool, refused: bool) {
        if refused {
            // The refusal was replied to when the command came; the octets are now skipped.
            return;
        }
        let Some(tx) = &self.tx else { return };
        if last {
            let (size, too_big) = (tx.bdat_size, tx.too_big);
            self.finish_message(size, too_big, false, false);
        } else if tx.too_big {
            // RFC 3030 §2: refusing a chunk fails the whole transaction.
            self.events.push_back(Event::MessageAborted(AbortReason::TooBig));
            self.tx = None;
            self.error_reply(&Reply::new(552, (5, 3, 4), "Message size exceeds fixed maximum message size"));
        } else {
            let text = format!("{} octets received", tx.bdat_size);
            self.reply(&Reply::new(250, (2, 0, 0), "").with_text(text));
        }
    }
}

fn decode_base64(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(line).ok()
}
