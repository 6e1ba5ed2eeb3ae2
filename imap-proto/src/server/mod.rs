//! The server side of an IMAP session, Sans-IO.
//!
//! ```text
//!  * OK greeting ──► NOT AUTHENTICATED ──STARTTLS──► (TLS) ──► NOT AUTHENTICATED
//!                          │ LOGIN / AUTHENTICATE ──► Login decision ──accept_login──┐
//!                          ▼                                                         ▼
//!                       LOGOUT ◄──────────────────────────────────────────── AUTHENTICATED
//!                                                        SELECT/EXAMINE OK │   ▲ CLOSE/UNSELECT OK,
//!                                                                          ▼   │ failed SELECT
//!                                                                         SELECTED
//! ```
//!
//! The session frames commands ([`crate::framing`]), parses them, checks that each is valid
//! in the current state and answers what needs no mailbox: CAPABILITY, LOGOUT, STARTTLS,
//! ID, ENABLE, NOOP before login, every syntax or state error, and the login exchange
//! (whose verdict is the embedder's). Every other command reaches the embedder as
//! [`Event::Command`]; it writes the untagged data through [`ServerSession::output`] and
//! ends with [`ServerSession::complete`], which also moves the state (SELECT, EXAMINE,
//! CLOSE, UNSELECT). One command is handled at a time: while one is with the embedder, the
//! session takes no more input, so a pipelining client is held back by TCP, not by memory.
//!
//! Inputs: [`ServerSession::handle_input`], [`ServerSession::handle_timeout`],
//! [`ServerSession::handle_tls_established`]; outputs polled after each:
//! [`ServerSession::poll_event`] until `None`, [`ServerSession::poll_transmit`],
//! [`ServerSession::poll_timeout`].

mod action;
mod config;
mod login;
use login::prelogin_framing;
mod event;
#[cfg(test)]
mod tests;

pub use config::{Limits, ServerConfig, Timeouts};
pub use event::{Event, Request};

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::command::{Body, ParseError, append_head_len, name_of, tag_of};
use crate::framing::{Frame, Framer, FramingConfig, Refusal};
use crate::response::{Code, Data, Status, write_data, write_status};
use crate::{Mechanism, Secret, Tag};

use action::Action;

/// An answer the session cannot take now; the pending decision (if any) still waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// No decision is pending.
    NothingPending,
    /// A decision of another kind is pending (say, `accept_literal` while a command is
    /// with the embedder).
    OtherDecisionPending,
    /// `complete` for IDLE before [`Event::IdleDone`].
    IdleNotDone,
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NothingPending => "no decision is pending",
            Self::OtherDecisionPending => "a decision of another kind is pending",
            Self::IdleNotDone => "IDLE is completed only after Event::IdleDone",
        })
    }
}

impl std::error::Error for ApiMisuse {}

/// The session's state (RFC 3501 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected {
        /// Selected with EXAMINE (or the embedder answered `[READ-ONLY]`).
        read_only: bool,
    },
    /// STARTTLS answered: waiting for the handshake.
    AwaitingTls,
    /// Logged out or closed.
    Logout,
}

/// What completing the pending command does to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    Nothing,
    Select { read_only: bool },
    Deselect,
}

#[derive(Debug)]
enum Pending {
    /// LOGIN or AUTHENTICATE: the embedder's verdict (or challenge) is awaited.
    Login { tag: String },
    /// AUTHENTICATE: a challenge was sent; the client's line is awaited.
    AuthLine { tag: String },
    /// APPEND's literal: the embedder's answer is awaited (to [`Event::AppendStart`] when
    /// `stream`, else to [`Event::AppendLiteral`]).
    Literal { stream: bool, synchronizing: bool },
    /// APPEND's message is streamed out as [`Event::AppendData`]; `prefix` octets of the
    /// command came before it.
    Append { tag: String, prefix: usize },
    /// A command with the embedder.
    Command { tag: String, after: After },
    /// IDLE: `done` once the client has ended it; `bad` if it did not say `DONE`.
    Idle { tag: String, done: bool, bad: bool },
}

/// One IMAP server session.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    state: State,
    tls: bool,
    framer: Framer,
    pending: Option<Pending>,
    events: VecDeque<Event>,
    out: Vec<u8>,
    enabled: Vec<String>,
    /// COMPRESS DEFLATE is on.
    compressed: bool,
    user: Option<String>,
    last_input: Instant,
    prelogin_bytes: u64,
    login_failures: u32,
    errors: u32,
}

impl ServerSession {
    /// A session that greets the client; `tls` if the connection is already TLS.
    pub fn new(config: Arc<ServerConfig>, now: Instant, tls: bool) -> Self {
        let framer = Framer::new(prelogin_framing(&config));
        let mut s = Self {
            config,
            state: State::NotAuthenticated,
            tls,
            framer,
            pending: None,
            events: VecDeque::new(),
            out: Vec::new(),
            enabled: Vec::new(),
            compressed: false,
            user: None,
            last_input: now,
            prelogin_bytes: 0,
            login_failures: 0,
            errors: 0,
        };
        let caps = s.capabilities();
        let greeting = s.config.greeting.clone();
        write_status(
            &mut s.out,
            None,
            Status::Ok,
            Some(&Code::Capability(caps.iter().map(String::as_str).collect())),
            &greeting,
        );
        s
    }

    /// A session that refuses the connection: `* BYE text`, then closed.
    pub fn new_refused(config: Arc<ServerConfig>, now: Instant, text: &str) -> Self {
        let mut s = Self::new(config, now, false);
        s.out.clear();
        s.bye(text);
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The logged-in user, as the embedder named it in [`ServerSession::accept_login`].
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether the client turned `capability` on with ENABLE (or the embedder noted it
    /// with [`ServerSession::mark_enabled`]). ENABLE QRESYNC turns CONDSTORE on too.
    pub fn is_enabled(&self, capability: &str) -> bool {
        self.enabled.iter().any(|c| c.eq_ignore_ascii_case(capability))
    }

    /// Notes that the client turned `capability` on by using it: RFC 7162 §3.1 makes
    /// CONDSTORE on from the first `SELECT (CONDSTORE)`, `FETCH (MODSEQ)`, `CHANGEDSINCE`,
    /// `UNCHANGEDSINCE` or `SEARCH MODSEQ`, for the rest of the session.
    pub fn mark_enabled(&mut self, capability: &str) {
        if !self.is_enabled(capability) {
            self.enabled.push(capability.to_ascii_uppercase());
        }
    }

    /// Whether the session has ended: send what is left, then close the connection.
    pub fn is_closed(&self) -> bool {
        self.state == State::Logout
    }

    /// Whether output waits for [`ServerSession::poll_transmit`].
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether the client is idling (IDLE sent, DONE not yet): updates may be written at any
    /// time.
    pub fn is_idling(&self) -> bool {
        matches!(self.pending, Some(Pending::Idle { done: false, .. }))
    }

    /// The output buffer, for untagged data the embedder writes (with
    /// [`crate::response`]'s writers) while it handles a command or while the client idles.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Writes untagged data.
    pub fn untagged(&mut self, data: &Data<'_>) {
        write_data(&mut self.out, data);
    }

    /// Takes octets from the client; returns how many were taken. Fewer than given while a
    /// command or a decision is with the embedder, or while output waits to be sent: pass the
    /// rest again after answering.
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.last_input = now;
        match self.state {
            State::Logout => return data.len(),
            // Plaintext after STARTTLS is dropped, never read (CVE-2011-0411's lesson).
            State::AwaitingTls => return data.len(),
            _ => {}
        }
        let mut used = 0;
        loop {
            self.process_frames();
            if self.blocked() || self.framer.is_waiting() || used == data.len() {
                break;
            }
            let mut chunk = &data[used..];
            if self.state == State::NotAuthenticated {
                let room = self.config.limits.prelogin_bytes.saturating_sub(self.prelogin_bytes);
                if room == 0 {
                    self.bye("Too much input before login");
                    return data.len();
                }
                chunk = &chunk[..chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
            }
            let n = self.framer.push(chunk);
            if self.state == State::NotAuthenticated {
                self.prelogin_bytes += n as u64;
            }
            used += n;
            if n == 0 {
                break;
            }
        }
        match self.state {
            State::Logout | State::AwaitingTls => data.len(),
            _ => used,
        }
    }

    /// The next event, if any.
    #[must_use = "an event, and decisions, must be answered"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends the output to `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            // The caller's (empty) buffer and ours trade places: no copy, and a large
            // response's memory goes with it rather than staying in the session.
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// When [`ServerSession::handle_timeout`] is next due (autologout).
    #[must_use = "handle_timeout must be called at this instant"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.config.timeouts;
        match self.state {
            State::Logout => None,
            State::NotAuthenticated | State::AwaitingTls => Some(self.last_input + t.prelogin),
            State::Authenticated | State::Selected { .. } => Some(self.last_input + t.authenticated),
        }
    }

    /// Time has passed: logs out an idle client.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|due| now >= due) {
            self.bye("Autologout; idle for too long");
        }
    }

    /// The TLS handshake after STARTTLS is done: the session starts over, not authenticated.
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.state == State::AwaitingTls {
            self.tls = true;
            self.state = State::NotAuthenticated;
            self.framer = Framer::new(prelogin_framing(&self.config));
            self.last_input = now;
        }
    }

    /// Ends the session: `* BYE text` (server shutting down, mailbox deleted, …), then
    /// [`Event::Close`].
    pub fn bye(&mut self, text: &str) {
        if self.state != State::Logout {
            write_status(&mut self.out, None, Status::Bye, None, text);
            self.state = State::Logout;
            self.pending = None;
            self.events.push_back(Event::Close);
        }
    }

    /// The tag of the command with the embedder (ESEARCH repeats it), if any.
    pub fn current_tag(&self) -> Option<&str> {
        match &self.pending {
            Some(Pending::Login { tag } | Pending::AuthLine { tag } | Pending::Command { tag, .. }) => Some(tag),
            Some(Pending::Idle { tag, .. } | Pending::Append { tag, .. }) => Some(tag),
            _ => None,
        }
    }

    /// APPEND's literal may come (sends `+` if the client waits for it). After
    /// [`Event::AppendStart`] its octets come as [`Event::AppendData`], then
    /// [`Event::AppendEnd`]; after [`Event::AppendLiteral`], whole in the command.
    pub fn accept_literal(&mut self) -> Result<(), ApiMisuse> {
        let (stream, synchronizing) = self.take_literal()?;
        if stream {
            let tag = tag_of(self.framer.partial()).unwrap_or("*").to_owned();
            self.pending = Some(Pending::Append { tag, prefix: self.framer.partial().len() });
            self.framer.stream_literal();
        } else {
            self.framer.accept_literal();
        }
        if synchronizing {
            self.out.extend_from_slice(b"+ Ready for literal data\r\n");
        }
        Ok(())
    }

    /// APPEND's literal is refused (over quota, too big, no such mailbox): the tagged `NO`
    /// with `code`. A synchronising literal is never sent; a non-synchronising one is
    /// dropped as it arrives.
    pub fn refuse_literal(&mut self, code: Option<Code<'_>>, text: &str) -> Result<(), ApiMisuse> {
        self.take_literal()?;
        let tag = tag_of(self.framer.partial()).map(str::to_owned);
        self.framer.refuse_literal();
        write_status(&mut self.out, tag.as_deref().and_then(tagged), Status::No, code.as_ref(), text);
        self.process_frames();
        Ok(())
    }

    /// Finishes the command with the embedder (and goes on with the commands that were
    /// already read, which may queue further events): the tagged status with `code` and `text`.
    /// SELECT/EXAMINE answered `OK` select (read-only for EXAMINE or with `[READ-ONLY]`);
    /// answered otherwise they leave no mailbox selected; CLOSE and UNSELECT answered `OK`
    /// deselect. IDLE can be completed only after [`Event::IdleDone`].
    pub fn complete(&mut self, status: Status, code: Option<Code<'_>>, text: &str) -> Result<(), ApiMisuse> {
        match self.pending.take() {
            Some(Pending::Command { tag, after }) => {
                write_status(&mut self.out, tagged(&tag), status, code.as_ref(), text);
                self.state = match (after, status) {
                    (After::Select { read_only }, Status::Ok) => {
                        State::Selected { read_only: read_only || code == Some(Code::ReadOnly) }
                    }
                    (After::Select { .. }, _) | (After::Deselect, Status::Ok) => State::Authenticated,
                    _ => self.state,
                };
                self.process_frames();
                Ok(())
            }
            Some(Pending::Idle { tag, done: true, bad }) => {
                if bad {
                    write_status(&mut self.out, tagged(&tag), Status::Bad, None, "Expected DONE");
                } else {
                    write_status(&mut self.out, tagged(&tag), status, code.as_ref(), text);
                }
                self.process_frames();
                Ok(())
            }
            other => {
                let idling = matches!(other, Some(Pending::Idle { done: false, .. }));
                self.pending = other;
                Err(if idling { ApiMisuse::IdleNotDone } else { self.misuse() })
            }
        }
    }

    /// Why the pending decision (if any) is not the one answered.
    fn misuse(&self) -> ApiMisuse {
        match self.pending {
            None | Some(Pending::AuthLine { .. }) => ApiMisuse::NothingPending,
            Some(_) => ApiMisuse::OtherDecisionPending,
        }
    }

    fn take_literal(&mut self) -> Result<(bool, bool), ApiMisuse> {
        match self.pending.take() {
            Some(Pending::Literal { stream, synchronizing }) => Ok((stream, synchronizing)),
            other => {
                self.pending = other;
                Err(self.misuse())
            }
        }
    }

    /// Whether commands must wait: a decision or command is with the embedder, output is
    /// piling up, or the session is over. (Input also waits while a literal does.)
    fn blocked(&self) -> bool {
        let pending = match &self.pending {
            None | Some(Pending::AuthLine { .. } | Pending::Idle { done: false, .. } | Pending::Append { .. }) => false,
            Some(_) => true,
        };
        pending
            || self.out.len() > self.config.limits.output_buffer
            || matches!(self.state, State::Logout | State::AwaitingTls)
    }

    fn process_frames(&mut self) {
        while !self.blocked() {
            let Some(frame) = self.framer.poll_frame() else { return };
            match frame {
                Frame::Command(raw) => self.frame(raw),
                Frame::Continuation { size, synchronizing, .. } => self.continuation(size, synchronizing),
                Frame::LiteralData(data) => {
                    if matches!(self.pending, Some(Pending::Append { .. })) {
                        self.events.push_back(Event::AppendData(data));
                    }
                }
                Frame::Refused { tag, reason } => {
                    if matches!(self.pending, Some(Pending::Append { .. })) {
                        self.pending = None;
                        self.events.push_back(Event::AppendAborted);
                    }
                    self.refused(tag.as_deref(), reason);
                }
            }
        }
    }

    /// A literal stopped the framer: APPEND's message goes to the embedder's decision (and
    /// is streamed when large); any other literal is taken into its command.
    fn continuation(&mut self, size: u64, synchronizing: bool) {
        if let Some(Pending::Append { tag, prefix }) = self.pending.take() {
            // Another message of the same APPEND: MULTIAPPEND (RFC 3502), when offered.
            let multi = self.config.extensions.iter().any(|e| e.eq_ignore_ascii_case("MULTIAPPEND"));
            let partial = self.framer.partial();
            let next = append_head_len(partial).map(|head| (head, prefix));
            match append_prefix(partial, next).ok().filter(|_| multi) {
                Some(request) => {
                    self.pending = Some(Pending::Literal { stream: true, synchronizing });
                    self.events.push_back(Event::AppendStart { request, size });
                }
                None => {
                    self.framer.refuse_literal();
                    self.events.push_back(Event::AppendAborted);
                    self.bad(Some(&tag), if multi { "Invalid APPEND" } else { "APPEND takes one message" });
                }
            }
            return;
        }
        let partial = self.framer.partial();
        let append = matches!(name_of(partial), Some(n) if n.eq_ignore_ascii_case("APPEND"))
            && matches!(self.state, State::Authenticated | State::Selected { .. });
        let stream = self.framer.config().stream_literals_above.is_some_and(|above| size > above);
        if append && stream {
            match append_prefix(partial, None) {
                Ok(request) => {
                    self.pending = Some(Pending::Literal { stream: true, synchronizing });
                    self.events.push_back(Event::AppendStart { request, size });
                }
                // Not the message but the mailbox name, sent as a literal: taken whole.
                Err(_) if size <= NAME_LITERAL_MAX && append_head_len(partial).is_none() => {
                    self.framer.accept_literal();
                    if synchronizing {
                        self.out.extend_from_slice(b"+ Ready for literal data\r\n");
                    }
                }
                Err(why) => {
                    let tag = tag_of(partial).map(str::to_owned);
                    self.framer.refuse_literal();
                    self.bad(tag.as_deref(), why);
                }
            }
        } else if append && synchronizing {
            self.pending = Some(Pending::Literal { stream: false, synchronizing });
            self.events.push_back(Event::AppendLiteral { size });
        } else {
            self.framer.accept_literal();
            if synchronizing {
                self.out.extend_from_slice(b"+ Ready for literal data\r\n");
            }
        }
    }

    fn refused(&mut self, tag: Option<&str>, reason: Refusal) {
        match reason {
            Refusal::ByEmbedder => {}
            Refusal::TooBig { .. } => {
                write_status(&mut self.out, tag.and_then(tagged), Status::No, Some(&Code::TooBig), "Literal too big");
            }
            Refusal::LineTooLong => self.bad(tag, "Line too long"),
            Refusal::NotAllowed => self.bad(tag, "Literal not allowed here"),
            Refusal::Malformed => self.bad(tag, "Malformed literal"),
        }
    }

    /// `BAD`, counted; too many end the session.
    fn bad(&mut self, tag: Option<&str>, text: &str) {
        write_status(&mut self.out, tag.and_then(tagged), Status::Bad, None, text);
        self.errors += 1;
        if self.errors >= self.config.limits.errors {
            self.bye("Too many invalid commands");
        }
    }

    fn frame(&mut self, raw: Vec<u8>) {
        match self.pending.take() {
            Some(Pending::Idle { tag, done: false, .. }) => {
                let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let bad = !line.eq_ignore_ascii_case(b"DONE");
                self.pending = Some(Pending::Idle { tag, done: true, bad });
                self.events.push_back(Event::IdleDone);
            }
            Some(Pending::AuthLine { tag }) => self.auth_line(tag, &raw),
            Some(Pending::Append { tag, prefix }) => {
                // After the message, nothing but the command's end.
                if raw.get(prefix..) == Some(b"\r\n") {
                    self.pending = Some(Pending::Command { tag, after: After::Nothing });
                    self.events.push_back(Event::AppendEnd);
                } else {
                    self.events.push_back(Event::AppendAborted);
                    self.bad(Some(&tag), "Expected the end of the command after the message");
                }
            }
            other => {
                self.pending = other;
                self.command(raw);
            }
        }
    }

    fn command(&mut self, raw: Vec<u8>) {
        let request = match Request::parse(raw) {
            Ok(request) => request,
            Err((_, ParseError::NoTag)) => return self.bad(None, "Missing or invalid tag"),
            Err((raw, ParseError::Unknown)) => return self.bad(tag_of(&raw), "Unknown command"),
            Err((raw, ParseError::Syntax(e))) => {
                let text = format!("Syntax error: {e}");
                return self.bad(tag_of(&raw), &text);
            }
        };
        let action = self.action(request.command());
        let tag = request.command().tag.to_owned();
        match action {
            Action::Bad(text) => self.bad(Some(&tag), text),
            Action::No(code, text) => write_status(&mut self.out, tagged(&tag), Status::No, code.as_ref(), text),
            Action::Ok(text) => write_status(&mut self.out, tagged(&tag), Status::Ok, None, text),
            Action::Logout => {
                self.bye("Logging out");
                write_status(&mut self.out, tagged(&tag), Status::Ok, None, "LOGOUT completed");
            }
            Action::Compress => {
                write_status(&mut self.out, tagged(&tag), Status::Ok, None, "DEFLATE active");
                self.framer.reset();
                self.compressed = true;
                self.events.push_back(Event::Compress);
            }
            Action::StartTls => {
                write_status(&mut self.out, tagged(&tag), Status::Ok, None, "Begin TLS negotiation now");
                self.framer.reset();
                self.state = State::AwaitingTls;
                self.events.push_back(Event::StartTls);
            }
            Action::LoginFailed => self.login_failed(&tag, None, "Invalid credentials"),
            Action::Login(event) => {
                self.pending = Some(Pending::Login { tag });
                self.events.push_back(event);
            }
            Action::Idle => {
                self.out.extend_from_slice(b"+ idling\r\n");
                self.pending = Some(Pending::Idle { tag, done: false, bad: false });
                self.events.push_back(Event::Command(request));
            }
            Action::Embedder(after) => {
                self.pending = Some(Pending::Command { tag, after });
                self.events.push_back(Event::Command(request));
            }
        }
    }
}

/// A tag the framer or parser read, as the encoder takes it (it is one by construction; a
/// string that were not would be answered untagged).
fn tagged(tag: &str) -> Option<Tag<'_>> {
    Tag::new(tag).ok()
}

/// Framing before login: small literals, lines long enough for SASL responses, no BINARY.
/// The largest literal an APPEND takes whole when it is not a message (a mailbox name).
const NAME_LITERAL_MAX: u64 = 8 * 1024;

/// APPEND up to a message's literal, parsed as if the message were empty: the mailbox, the
/// flags and the date for [`Event::AppendStart`]. `next` is, for a further message of a
/// MULTIAPPEND, where the mailbox ends and where this message's part begins (`partial`
/// holds the lines around the messages streamed before, not them). An error if it is not
/// one (the literal is the mailbox name, or the command is malformed).
fn append_prefix(partial: &[u8], next: Option<(usize, usize)>) -> Result<Request, &'static str> {
    let open = memchr::memrchr(b'{', partial).ok_or("Invalid APPEND")?;
    let mut probe = Vec::with_capacity(open + 8);
    match next {
        Some((head, from)) if head <= from && from <= open => {
            probe.extend_from_slice(&partial[..head]);
            probe.extend_from_slice(&partial[from..=open]);
        }
        Some(_) => return Err("Invalid APPEND"),
        None => probe.extend_from_slice(&partial[..=open]),
    }
    probe.extend_from_slice(b"0}\r\n\r\n");
    let request = Request::parse(probe).map_err(|_| "Invalid APPEND")?;
    match &request.command().body {
        Body::Append { date: Some(date), .. } if crate::datetime::parse(date).is_none() => Err("Invalid date-time"),
        Body::Append { .. } => Ok(request),
        _ => Err("Invalid APPEND"),
    }
}
