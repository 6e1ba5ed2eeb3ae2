//! The server side of an NNTP session, Sans-IO.
//!
//! ```text
//!  200/201 greeting ──► session ──STARTTLS──► 382, TLS ──► session
//!     │  CAPABILITIES, HELP, MODE READER/STREAM, QUIT, AUTHINFO, every 500/501/480/412: here
//!     │  AUTHINFO PASS / SASL ──► Login decision ──accept_login──► 281, logged in
//!     ├─ GROUP, ARTICLE, LIST, OVER, DATE, … ──► Command decision ──respond [+ block]
//!     └─ POST 340 / IHAVE 335 / TAKETHIS ──► ArticleData… ──► ArticleEnd decision ──respond
//! ```
//!
//! The session frames command lines (512 octets with CRLF, RFC 3977 §3.1), parses them,
//! checks each against the session's state (login required, STARTTLS's place, a group
//! selected for commands that read the current article) and answers what needs no news
//! store. Every other command reaches the embedder as [`Event::Command`]; it answers with a
//! status line ([`ServerSession::respond`]) and, for the responses that carry one, streams
//! the block ([`ServerSession::block_data`], [`ServerSession::block_end`]), which the session
//! dot-stuffs. An article sent by the client (POST, IHAVE, TAKETHIS) is passed on in pieces,
//! dot-stuffing undone and its size bounded. One command is handled at a time: while one is
//! with the embedder the session takes no more input, so a streaming feed is held back by
//! TCP, not by memory.
//!
//! Inputs: [`ServerSession::handle_input`], [`ServerSession::handle_timeout`],
//! [`ServerSession::handle_tls_established`]; outputs polled after each:
//! [`ServerSession::poll_event`] until `None`, [`ServerSession::poll_transmit`],
//! [`ServerSession::poll_timeout`].

mod config;
mod event;

pub use config::{Limits, ServerConfig, Timeouts};
pub use event::{Event, Request};

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;

use crate::command::{ArticleRef, Command, CommandError, Keyword, MAX_COMMAND_LINE, Target};
use crate::multiline::{BareLineEndings, Decoder, Encoder};
use crate::response::{Response, code, has_block};
use crate::{Mechanism, Secret};

/// An answer the session cannot take now; the pending decision (if any) still waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// No decision of this kind is pending.
    NothingPending,
    /// Events are still queued: poll them all before answering the last one.
    EventsUnread,
    /// A block is open: write it and end it first.
    BlockOpen,
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NothingPending => "no such decision is pending",
            Self::EventsUnread => "events are still queued; poll them first",
            Self::BlockOpen => "a block is open; end it first",
        })
    }
}

impl std::error::Error for ApiMisuse {}

/// What [`ServerSession::line_input`] has read.
enum Line {
    Partial,
    Whole(Vec<u8>),
    TooLong,
}

/// Which command brought an article.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carrier {
    Post,
    Ihave,
    Takethis,
    /// A TAKETHIS whose message-id did not parse: its article is read and dropped, so the
    /// feed stays in step (RFC 4644 §2.5), and refused with `501`.
    Malformed,
}

impl Carrier {
    /// The refusal of an article too large to take.
    fn too_large(self) -> Response<'static> {
        let (code, text) = match self {
            Self::Post => (code::POSTING_FAILED, "Article too large"),
            Self::Ihave => (code::TRANSFER_REJECTED, "Article too large"),
            Self::Takethis => (code::TAKETHIS_REJECTED, "Article too large"),
            Self::Malformed => (code::SYNTAX_ERROR, "Syntax error in TAKETHIS"),
        };
        Response { code, text }
    }
}

#[derive(Debug)]
enum Pending {
    /// A login decision (AUTHINFO PASS, or a SASL step).
    Login,
    /// A `383` challenge is out: the next line is the client's answer.
    AuthLine,
    /// A command with the embedder.
    Command(Keyword),
    /// The embedder's response carries a block: `block_data` until `block_end`.
    Block(Encoder),
    /// An article arriving.
    Article { carrier: Carrier, decoder: Box<Decoder>, too_large: bool },
    /// The article is whole: the embedder's verdict is awaited.
    Verdict,
}

/// One NNTP server session. See the [module documentation](self) for the call order.
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    pending: Option<Pending>,
    events: VecDeque<Event>,
    /// The command line being read.
    line: Vec<u8>,
    /// Inside an over-long line that is skipped up to its LF.
    discarding: bool,
    out: Vec<u8>,
    tls: bool,
    /// `382` sent: plaintext input is discarded until TLS is up.
    awaiting_tls: bool,
    closed: bool,
    posting: bool,
    /// AUTHINFO USER's name, waiting for PASS.
    auth_user: Option<String>,
    user: Option<String>,
    group_selected: bool,
    errors: u32,
    login_failures: u32,
    deadline: Instant,
}

impl ServerSession {
    /// A session that has just accepted a connection; the greeting (`200` when `posting`
    /// is allowed, else `201`) is queued. `tls` is true for implicit TLS (port 563).
    pub fn new(config: Arc<ServerConfig>, now: Instant, tls: bool, posting: bool) -> Self {
        let deadline = now + config.timeouts.idle;
        let mut s = Self {
            config,
            pending: None,
            events: VecDeque::new(),
            line: Vec::new(),
            discarding: false,
            out: Vec::new(),
            tls,
            awaiting_tls: false,
            closed: false,
            posting,
            auth_user: None,
            user: None,
            group_selected: false,
            errors: 0,
            login_failures: 0,
            deadline,
        };
        let text =
            format!("{} {}", s.config.hostname, if posting { "ready (posting allowed)" } else { "ready (no posting)" });
        s.status(if posting { code::POSTING_ALLOWED } else { code::NO_POSTING }, &text);
        s
    }

    /// A session refused at once (too many connections, say): `400 text`, then close.
    pub fn new_refused(config: Arc<ServerConfig>, now: Instant, text: &str) -> Self {
        let mut s = Self::new(config, now, false, false);
        s.out.clear();
        s.close(text);
        s
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The logged-in user, as the embedder named it in [`ServerSession::accept_login`].
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether a GROUP or LISTGROUP has succeeded in this session.
    pub fn group_selected(&self) -> bool {
        self.group_selected
    }

    /// Whether the session is over: send what is left, then close the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether output is queued.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether the embedder is writing a block (more [`ServerSession::block_data`] is due).
    pub fn in_block(&self) -> bool {
        matches!(self.pending, Some(Pending::Block(_)))
    }

    /// Feeds received octets; returns how many were taken. Octets not taken (a command
    /// waits for the embedder) are offered again later.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        if self.closed || self.awaiting_tls {
            return data.len();
        }
        if !data.is_empty() {
            self.deadline = now + self.config.timeouts.idle;
        }
        let mut used = 0;
        while used < data.len() && !self.closed && !self.awaiting_tls {
            let rest = &data[used..];
            match &mut self.pending {
                Some(Pending::Article { .. }) => used += self.article_input(rest),
                None | Some(Pending::AuthLine) => {
                    let (n, line) = self.line_input(rest);
                    used += n;
                    match line {
                        Line::Partial => {}
                        Line::Whole(line) => self.line_done(line),
                        Line::TooLong => self.error(code::SYNTAX_ERROR, "Line too long"),
                    }
                }
                // The embedder has the command: the rest waits.
                Some(_) => break,
            }
        }
        if self.closed || self.awaiting_tls {
            // Pipelined plaintext after STARTTLS, or anything after the end, is dropped.
            return data.len();
        }
        used
    }

    /// Reads up to the end of a line: the octets taken, and the line (without CRLF) when
    /// whole. No more than [`MAX_COMMAND_LINE`] octets of a line are ever held.
    fn line_input(&mut self, data: &[u8]) -> (usize, Line) {
        let Some(lf) = memchr::memchr(b'\n', data) else {
            if !self.discarding {
                if self.line.len() + data.len() >= MAX_COMMAND_LINE {
                    self.line = Vec::new();
                    self.discarding = true;
                } else {
                    self.line.extend_from_slice(data);
                }
            }
            return (data.len(), Line::Partial);
        };
        // The line and its CR, without the LF, must leave room for the LF.
        if std::mem::take(&mut self.discarding) || self.line.len() + lf >= MAX_COMMAND_LINE {
            self.line = Vec::new();
            return (lf + 1, Line::TooLong);
        }
        self.line.extend_from_slice(&data[..lf]);
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        (lf + 1, Line::Whole(line))
    }

    fn article_input(&mut self, data: &[u8]) -> usize {
        let Some(Pending::Article { carrier, decoder, too_large }) = &mut self.pending else { return 0 };
        let mut content = Vec::new();
        let d = decoder.decode(data, &mut content);
        if decoder.size() > self.config.limits.max_article {
            *too_large = true;
        }
        if !*too_large && !content.is_empty() {
            self.events.push_back(Event::ArticleData(content));
        }
        if d.done {
            let (carrier, too_large) = (*carrier, *too_large);
            if too_large {
                self.pending = None;
                self.events.push_back(Event::ArticleAborted);
                let r = carrier.too_large();
                self.status(r.code, r.text);
            } else {
                self.pending = Some(Pending::Verdict);
                self.events.push_back(Event::ArticleEnd);
            }
        }
        d.consumed
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends the output to `buf` (taking the session's buffer when `buf` is empty).
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
    }

    /// When [`ServerSession::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.closed).then_some(self.deadline)
    }

    /// Time has passed: after the idle timeout, `400` and close.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.closed && now >= self.deadline {
            self.close("Idle timeout, closing connection");
        }
    }

    /// The TLS handshake after STARTTLS is done: the session starts afresh over TLS (RFC
    /// 4642 §2.2.2: nothing learnt before it holds).
    pub fn handle_tls_established(&mut self, now: Instant) {
        if self.awaiting_tls {
            self.awaiting_tls = false;
            self.tls = true;
            self.group_selected = false;
            self.auth_user = None;
            self.deadline = now + self.config.timeouts.idle;
        }
    }

    /// Ends the session with `400 text`.
    pub fn close(&mut self, text: &str) {
        if !self.closed {
            self.status(code::UNAVAILABLE, text);
            self.end();
        }
    }

    fn end(&mut self) {
        self.closed = true;
        self.pending = None;
        self.events.push_back(Event::Close);
    }

    fn status(&mut self, code: u16, text: &str) {
        Response { code, text }.encode(&mut self.out);
    }

    fn error(&mut self, code: u16, text: &str) {
        self.status(code, text);
        self.errors += 1;
        if self.errors >= self.config.limits.errors {
            self.close("Too many errors, closing connection");
        }
    }

    fn check(&self) -> Result<(), ApiMisuse> {
        if self.events.is_empty() { Ok(()) } else { Err(ApiMisuse::EventsUnread) }
    }

    /// Accepts a login (`281`).
    pub fn accept_login(&mut self, user: &str) -> Result<(), ApiMisuse> {
        self.check()?;
        if !matches!(self.pending, Some(Pending::Login)) {
            return Err(ApiMisuse::NothingPending);
        }
        self.pending = None;
        self.user = Some(user.to_owned());
        self.status(code::AUTH_ACCEPTED, "Authentication accepted");
        Ok(())
    }

    /// Refuses a login (`481`); past [`Limits::login_failures`], the session ends.
    pub fn reject_login(&mut self, text: &str) -> Result<(), ApiMisuse> {
        self.check()?;
        if !matches!(self.pending, Some(Pending::Login)) {
            return Err(ApiMisuse::NothingPending);
        }
        self.pending = None;
        self.auth_user = None;
        self.status(code::AUTH_REJECTED, text);
        self.login_failures += 1;
        if self.login_failures >= self.config.limits.login_failures {
            self.close("Too many failed logins");
        }
        Ok(())
    }

    /// Sends a SASL challenge (`383 base64`); the client's answer comes as
    /// [`Event::AuthResponse`].
    pub fn auth_challenge(&mut self, challenge: &[u8]) -> Result<(), ApiMisuse> {
        self.check()?;
        if !matches!(self.pending, Some(Pending::Login)) {
            return Err(ApiMisuse::NothingPending);
        }
        let text = if challenge.is_empty() {
            "=".to_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(challenge)
        };
        self.status(code::SASL_CHALLENGE, &text);
        self.pending = Some(Pending::AuthLine);
        Ok(())
    }

    /// Answers the command or the article with the embedder. A response whose block
    /// follows ([`has_block`]) opens it: write it with [`ServerSession::block_data`], end it
    /// with [`ServerSession::block_end`]. `340` to POST and `335` to IHAVE start reading the
    /// article.
    pub fn respond(&mut self, response: Response<'_>) -> Result<(), ApiMisuse> {
        self.check()?;
        match self.pending.take() {
            Some(Pending::Command(keyword)) => {
                response.encode(&mut self.out);
                let c = response.code;
                if matches!(keyword, Keyword::Group | Keyword::ListGroup) && c == code::GROUP_SELECTED {
                    self.group_selected = true;
                }
                self.pending = match (keyword, c) {
                    (Keyword::Post, code::SEND_POST) => Some(self.receive(Carrier::Post)),
                    (Keyword::Ihave, code::SEND_IHAVE) => Some(self.receive(Carrier::Ihave)),
                    _ if has_block(keyword, c) => Some(Pending::Block(Encoder::new())),
                    _ => None,
                };
                Ok(())
            }
            Some(Pending::Verdict) => {
                response.encode(&mut self.out);
                Ok(())
            }
            Some(Pending::Block(e)) => {
                self.pending = Some(Pending::Block(e));
                Err(ApiMisuse::BlockOpen)
            }
            other => {
                self.pending = other;
                Err(ApiMisuse::NothingPending)
            }
        }
    }

    fn receive(&self, carrier: Carrier) -> Pending {
        let max_line = Some(self.config.limits.max_article_line).filter(|&m| m > 0);
        Pending::Article {
            carrier,
            decoder: Box::new(Decoder::new(BareLineEndings::Normalize, max_line)),
            too_large: false,
        }
    }

    /// Writes a piece of the open block, dot-stuffed as it goes (any split; lines made by
    /// [`crate::overview`] or read from an article file alike).
    pub fn block_data(&mut self, data: &[u8]) -> Result<(), ApiMisuse> {
        match &mut self.pending {
            Some(Pending::Block(encoder)) => {
                encoder.encode(data, &mut self.out);
                Ok(())
            }
            _ => Err(ApiMisuse::NothingPending),
        }
    }

    /// Ends the open block (`.` CRLF, after a CRLF if the data did not end with one).
    pub fn block_end(&mut self) -> Result<(), ApiMisuse> {
        match self.pending.take() {
            Some(Pending::Block(mut encoder)) => {
                encoder.finish(&mut self.out);
                Ok(())
            }
            other => {
                self.pending = other;
                Err(ApiMisuse::NothingPending)
            }
        }
    }

    /// A whole line arrived.
    fn line_done(&mut self, line: Vec<u8>) {
        if matches!(self.pending, Some(Pending::AuthLine)) {
            self.pending = None;
            return self.auth_line(&line);
        }
        let request = match Request::parse(line) {
            Ok(r) => r,
            Err(CommandError::Unknown) => return self.error(code::UNKNOWN_COMMAND, "Unknown command"),
            Err(CommandError::TooLong) => return self.error(code::SYNTAX_ERROR, "Line too long"),
            // A TAKETHIS's article follows whatever its line held: read past it.
            Err(CommandError::Syntax(Keyword::Takethis)) if self.config.streaming => {
                self.errors += 1;
                let mut p = self.receive(Carrier::Malformed);
                if let Pending::Article { too_large, .. } = &mut p {
                    *too_large = true;
                }
                self.pending = Some(p);
                return;
            }
            Err(_) => return self.error(code::SYNTAX_ERROR, "Syntax error"),
        };
        self.command(request);
    }

    fn command(&mut self, request: Request) {
        let cmd = request.command();
        let logged_in = self.user.is_some();
        let keyword = cmd.keyword();
        let open = matches!(
            cmd,
            Command::Capabilities { .. }
                | Command::Help
                | Command::ModeReader
                | Command::StartTls
                | Command::Quit
                | Command::AuthinfoUser { .. }
                | Command::AuthinfoPass { .. }
                | Command::AuthinfoSasl { .. }
        );
        if self.config.auth_required && !logged_in && !open {
            return self.status(code::AUTH_REQUIRED, "Authentication required");
        }
        let reader = matches!(
            keyword,
            Keyword::Group
                | Keyword::ListGroup
                | Keyword::Last
                | Keyword::Next
                | Keyword::Article
                | Keyword::Head
                | Keyword::Body
                | Keyword::Stat
                | Keyword::NewGroups
                | Keyword::NewNews
                | Keyword::List
                | Keyword::Over
                | Keyword::XOver
                | Keyword::Hdr
                | Keyword::XHdr
                | Keyword::XPat
                | Keyword::Post
        );
        let streaming = matches!(cmd, Command::ModeStream | Command::Check { .. } | Command::Takethis { .. });
        if (reader && !self.config.reader)
            || (streaming && !self.config.streaming)
            || (keyword == Keyword::Ihave && !self.config.ihave)
        {
            return self.error(code::UNKNOWN_COMMAND, "Unknown command");
        }
        if self.needs_group(cmd) && !self.group_selected {
            return self.status(code::NO_GROUP_SELECTED, "No newsgroup selected");
        }
        match cmd {
            Command::Quit => {
                self.status(code::CLOSING, "Bye");
                self.end();
            }
            Command::Capabilities { .. } => self.capabilities(),
            Command::Help => {
                self.status(code::HELP, "Legal commands");
                let mut text = String::new();
                for (k, offered) in self.commands() {
                    if offered {
                        text.push_str(&format!("  {k}\r\n"));
                    }
                }
                text.push_str(".\r\n");
                self.out.extend_from_slice(text.as_bytes());
            }
            Command::ModeReader => {
                let (c, t) = if self.posting {
                    (code::POSTING_ALLOWED, "Posting allowed")
                } else {
                    (code::NO_POSTING, "Posting prohibited")
                };
                self.status(c, t);
            }
            Command::ModeStream => self.status(code::STREAMING_OK, "Streaming permitted"),
            Command::StartTls if self.tls || !self.config.starttls => {
                self.status(code::NOT_PERMITTED, "STARTTLS not available")
            }
            Command::StartTls if logged_in => self.status(code::NOT_PERMITTED, "Already authenticated"),
            Command::StartTls => {
                self.status(code::CONTINUE_TLS, "Begin TLS negotiation now");
                self.line.clear();
                self.discarding = false;
                self.awaiting_tls = true;
                self.events.push_back(Event::StartTls);
            }
            Command::AuthinfoUser { .. } | Command::AuthinfoPass { .. } | Command::AuthinfoSasl { .. } if logged_in => {
                self.status(code::NOT_PERMITTED, "Already authenticated")
            }
            Command::AuthinfoUser { user } => {
                if !(self.tls || self.config.plaintext_without_tls) {
                    return self.status(code::ENCRYPTION_REQUIRED, "Encryption required for authentication");
                }
                self.auth_user = Some((*user).to_owned());
                self.status(code::PASSWORD_REQUIRED, "Password required");
            }
            Command::AuthinfoPass { password } => match self.auth_user.take() {
                None => self.status(code::AUTH_OUT_OF_SEQUENCE, "AUTHINFO USER first"),
                Some(user) => {
                    let password = Secret::new((*password.expose()).to_owned());
                    self.events.push_back(Event::Login { user, password });
                    self.pending = Some(Pending::Login);
                }
            },
            Command::AuthinfoSasl { mechanism, initial_response } => {
                let mechanism = mechanism.clone().into_owned();
                if !self.config.mechanisms.contains(&mechanism) {
                    return self.status(code::NOT_SUPPORTED, "Mechanism not supported");
                }
                if !self.mechanism_ok(&mechanism) {
                    return self.status(code::ENCRYPTION_REQUIRED, "Encryption required for this mechanism");
                }
                let initial_response = match initial_response.as_ref().map(|r| *r.expose()) {
                    None => None,
                    Some("=") => Some(Secret::new(Vec::new())),
                    Some(r) => match base64::engine::general_purpose::STANDARD.decode(r) {
                        Ok(v) => Some(Secret::new(v)),
                        Err(_) => return self.error(code::BASE64_ERROR, "Invalid base64"),
                    },
                };
                self.events.push_back(Event::AuthStart { mechanism, initial_response });
                self.pending = Some(Pending::Login);
            }
            Command::Takethis { .. } => {
                self.pending = Some(self.receive(Carrier::Takethis));
                self.events.push_back(Event::Command(request));
            }
            _ => {
                self.pending = Some(Pending::Command(keyword));
                self.events.push_back(Event::Command(request));
            }
        }
    }

    /// Whether a command reads the selected group or its current article.
    fn needs_group(&self, cmd: &Command<'_>) -> bool {
        match cmd {
            Command::Article(r) | Command::Head(r) | Command::Body(r) | Command::Stat(r) => {
                !matches!(r, Some(ArticleRef::MessageId(_)))
            }
            Command::Last | Command::Next => true,
            Command::ListGroup { group: None, .. } => true,
            Command::Over { target, .. } | Command::Hdr { target, .. } => !matches!(target, Some(Target::MessageId(_))),
            Command::XPat { target, .. } => !matches!(target, Target::MessageId(_)),
            _ => false,
        }
    }

    /// A mechanism that may be used on this connection now.
    fn mechanism_ok(&self, m: &Mechanism<'_>) -> bool {
        self.tls
            || if m.sends_password() {
                self.config.plaintext_without_tls
            } else {
                self.config.challenge_response_without_tls
            }
    }

    /// The client's line after a `383` challenge.
    fn auth_line(&mut self, line: &[u8]) {
        if line == b"*" {
            self.status(code::AUTH_REJECTED, "Authentication cancelled");
            return;
        }
        let decoded =
            if line == b"=" { Ok(Vec::new()) } else { base64::engine::general_purpose::STANDARD.decode(line) };
        match decoded {
            Ok(v) => {
                self.events.push_back(Event::AuthResponse(Secret::new(v)));
                self.pending = Some(Pending::Login);
            }
            Err(_) => self.error(code::BASE64_ERROR, "Invalid base64"),
        }
    }

    /// The commands this session takes, and whether each is offered now.
    fn commands(&self) -> Vec<(&'static str, bool)> {
        let c = &self.config;
        let reader = c.reader;
        vec![
            ("ARTICLE [message-id|number]", reader),
            ("AUTHINFO USER name / PASS password / SASL mechanism [initial-response]", true),
            ("BODY [message-id|number]", reader),
            ("CAPABILITIES [keyword]", true),
            ("CHECK message-id", c.streaming),
            ("DATE", true),
            ("GROUP newsgroup", reader),
            ("HDR field [message-id|range]", reader),
            ("HEAD [message-id|number]", reader),
            ("HELP", true),
            ("IHAVE message-id", c.ihave),
            ("LAST", reader),
            ("LIST [ACTIVE|ACTIVE.TIMES|NEWSGROUPS|DISTRIB.PATS|HEADERS|OVERVIEW.FMT|COUNTS]", reader),
            ("LISTGROUP [newsgroup [range]]", reader),
            ("MODE READER", true),
            ("MODE STREAM", c.streaming),
            ("NEWGROUPS date time [GMT]", reader),
            ("NEWNEWS wildmat date time [GMT]", reader),
            ("NEXT", reader),
            ("OVER [message-id|range]", reader),
            ("POST", reader),
            ("QUIT", true),
            ("STARTTLS", c.starttls),
            ("STAT [message-id|number]", reader),
            ("TAKETHIS message-id", c.streaming),
            ("XHDR field [message-id|range]", reader),
            ("XOVER [range]", reader),
            ("XPAT field message-id|range pattern...", reader),
        ]
    }

    /// `101` and the capability list (RFC 3977 §5.2), for the session's state now.
    fn capabilities(&mut self) {
        let c = self.config.clone();
        let mut caps = vec!["VERSION 2".to_owned()];
        if let Some(i) = &c.implementation {
            caps.push(format!("IMPLEMENTATION {i}"));
        }
        if c.reader {
            caps.push("READER".to_owned());
            if self.posting {
                caps.push("POST".to_owned());
            }
            caps.push("NEWNEWS".to_owned());
            caps.push("HDR".to_owned());
            caps.push("OVER MSGID".to_owned());
            caps.push("LIST ACTIVE ACTIVE.TIMES NEWSGROUPS DISTRIB.PATS HEADERS OVERVIEW.FMT COUNTS".to_owned());
        }
        if c.ihave {
            caps.push("IHAVE".to_owned());
        }
        if c.streaming {
            caps.push("STREAMING".to_owned());
        }
        if self.user.is_none() {
            let mut auth = Vec::new();
            if self.tls || c.plaintext_without_tls {
                auth.push("USER");
            }
            let sasl: Vec<String> =
                c.mechanisms.iter().filter(|m| self.mechanism_ok(m)).map(|m| m.as_str().to_owned()).collect();
            if !sasl.is_empty() {
                auth.push("SASL");
            }
            if !auth.is_empty() {
                caps.push(format!("AUTHINFO {}", auth.join(" ")));
            }
            if !sasl.is_empty() {
                caps.push(format!("SASL {}", sasl.join(" ")));
            }
            if c.starttls && !self.tls {
                caps.push("STARTTLS".to_owned());
            }
        }
        self.status(code::CAPABILITIES, "Capability list:");
        let mut encoder = Encoder::new();
        for cap in caps {
            encoder.encode(format!("{cap}\r\n").as_bytes(), &mut self.out);
        }
        encoder.finish(&mut self.out);
    }
}

#[cfg(test)]
mod tests;
