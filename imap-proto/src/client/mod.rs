//! The client side of an IMAP session, Sans-IO: for collecting mail from a remote mailbox
//! (and whatever else a client needs the same commands for).
//!
//! The embedder connects, creates a [`ClientSession`], and pumps: octets from the server
//! into [`ClientSession::handle_input`], [`ClientEvent`]s out of
//! [`ClientSession::poll_event`], commands in with [`ClientSession::send`] (each gets a tag,
//! returned, and ends with its [`ClientEvent::Tagged`]), octets to write from
//! [`ClientSession::poll_transmit`]. Commands may be pipelined. Strings that cannot be
//! quoted go as literals: non-synchronizing where the server offers `LITERAL+`, else the
//! rest of the command waits for the server's `+` continuation.
//!
//! Every server response is framed within [`ResponseLimits`] (a FETCH of one message is one
//! response: its literal is bounded by `literal`); a hostile server that breaks them, sends
//! what is not IMAP, answers a tag nobody sent, or speaks after accepting STARTTLS ends the
//! session with [`ClientEvent::Error`], in bounded memory.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sansmail_imap_proto::client::{ClientCommand, ClientEvent, ClientSession, FetchItem, Untagged};
//! let now = Instant::now();
//! let mut s = ClientSession::new(now, Duration::from_secs(60));
//! let _ = s.handle_input(now, b"* OK IMAP ready\r\n");
//! assert!(matches!(s.poll_event(), Some(ClientEvent::Greeting(_))));
//! let tag = s.send(now, &ClientCommand::UidFetch { set: "1:*", items: "(UID BODY.PEEK[])" }).unwrap();
//! let mut out = Vec::new();
//! s.poll_transmit(&mut out);
//! assert_eq!(out, format!("{tag} UID FETCH 1:* (UID BODY.PEEK[])\r\n").as_bytes());
//! let _ = s.handle_input(now, b"* 1 FETCH (UID 7 BODY[] {4}\r\nHi\r\n)\r\n");
//! let _ = s.handle_input(now, format!("{tag} OK done\r\n").as_bytes());
//! let Some(ClientEvent::Untagged(Untagged::Fetch { items, .. })) = s.poll_event() else { panic!() };
//! assert_eq!(items[1], FetchItem::Body { name: "BODY[]".into(), data: Some(b"Hi\r\n".to_vec()) });
//! assert!(matches!(s.poll_event(), Some(ClientEvent::Tagged { .. })));
//! ```

mod framer;
mod response;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

pub use framer::ResponseLimits;
pub use response::{FetchItem, State, StatusLine, Untagged};

use crate::Secret;
use framer::{Overflow, ResponseFramer};
use response::Parsed;

/// A command a client sends. Sets (`1:*`, `5,7`) and search criteria are given as text and
/// checked to be one line.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientCommand<'a> {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`: on its `OK`, run the TLS handshake, then [`ClientSession::handle_tls_established`].
    StartTls,
    /// `LOGIN user password`.
    Login {
        /// The user name.
        user: &'a str,
        /// The password (its `Debug` is redacted).
        password: Secret<&'a str>,
    },
    /// `SELECT mailbox` (names beyond ASCII are sent in modified UTF-7).
    Select {
        /// The mailbox.
        mailbox: &'a str,
    },
    /// `EXAMINE mailbox` (read-only).
    Examine {
        /// The mailbox.
        mailbox: &'a str,
    },
    /// `UID SEARCH criteria`.
    UidSearch {
        /// The search keys, as text (`ALL`, `UID 100:*`).
        criteria: &'a str,
    },
    /// `UID FETCH set items`.
    UidFetch {
        /// The UID set.
        set: &'a str,
        /// The items, as text (`(UID RFC822.SIZE)`, `(UID BODY.PEEK[])`).
        items: &'a str,
    },
    /// `UID STORE set +FLAGS.SILENT (flags)`.
    UidStoreAdd {
        /// The UID set.
        set: &'a str,
        /// The flags, as text (`\Deleted`).
        flags: &'a str,
    },
    /// `UID EXPUNGE set` (UIDPLUS).
    UidExpunge {
        /// The UID set.
        set: &'a str,
    },
    /// `EXPUNGE`.
    Expunge,
    /// `CLOSE`.
    Close,
}

/// A command that cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError(&'static str);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Why a session ended on the server's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A line or the whole response over its limit.
    ResponseTooLong,
    /// A literal over its limit.
    LiteralTooLarge,
    /// Not an IMAP response.
    Malformed,
    /// A tagged response to no command sent, or a continuation nobody waited for.
    Unexpected,
    /// Octets after the `OK` to STARTTLS, before TLS (an injection attempt).
    DataBeforeTls,
    /// No response in time.
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ResponseTooLong => "server sent an over-long response",
            Self::LiteralTooLarge => "server sent a literal over the limit",
            Self::Malformed => "server sent something that is not an IMAP response",
            Self::Unexpected => "server answered a command nobody sent",
            Self::DataBeforeTls => "server sent data between STARTTLS and the TLS handshake",
            Self::Timeout => "server did not answer in time",
        })
    }
}

impl std::error::Error for ClientError {}

/// What the session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The greeting (`OK`, `PREAUTH` or `BYE`).
    Greeting(StatusLine),
    /// Untagged data or status.
    Untagged(Untagged),
    /// A `+` continuation the session did not use itself (AUTHENTICATE, IDLE).
    Continuation(String),
    /// A command's completion.
    Tagged {
        /// The command's tag, as [`ClientSession::send`] returned it.
        tag: String,
        /// Its status.
        status: StatusLine,
    },
    /// The server broke the protocol; the session is closed.
    Error(ClientError),
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Ready,
    /// STARTTLS was accepted: nothing may come until the handshake.
    AwaitingTls,
    Closed,
}

/// One IMAP client session.
#[derive(Debug)]
pub struct ClientSession {
    phase: Phase,
    framer: ResponseFramer,
    limits: ResponseLimits,
    events: VecDeque<ClientEvent>,
    out: Vec<u8>,
    /// Tags sent and not yet completed, oldest first, with whether it is STARTTLS.
    outstanding: VecDeque<(String, bool)>,
    /// The parts of commands that wait for a `+` continuation (after a synchronizing
    /// literal's header).
    held: VecDeque<Vec<u8>>,
    next_tag: u32,
    capabilities: Vec<String>,
    /// The server said BYE: the session ends once the commands sent are answered.
    bye: bool,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl ClientSession {
    /// A session on a connection just opened: waits for the greeting. Each response gets
    /// `timeout`.
    pub fn new(now: Instant, timeout: Duration) -> Self {
        Self::with_limits(now, timeout, ResponseLimits::default())
    }

    /// [`ClientSession::new`] with other limits.
    pub fn with_limits(now: Instant, timeout: Duration, limits: ResponseLimits) -> Self {
        Self {
            phase: Phase::Greeting,
            framer: ResponseFramer::default(),
            limits,
            events: VecDeque::new(),
            out: Vec::new(),
            outstanding: VecDeque::new(),
            held: VecDeque::new(),
            next_tag: 1,
            capabilities: Vec::new(),
            bye: false,
            timeout,
            deadline: Some(now + timeout),
        }
    }

    /// The capabilities the server last announced (CAPABILITY data or response code).
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Whether the server announced `name` (any case).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether the session is over (the server broke the protocol, or said BYE and every
    /// command sent has its answer).
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed || (self.bye && self.outstanding.is_empty())
    }

    /// Commands sent and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Queues a command; returns its tag.
    pub fn send(&mut self, now: Instant, command: &ClientCommand<'_>) -> Result<String, EncodeError> {
        if self.phase == Phase::Closed {
            return Err(EncodeError("the session is closed"));
        }
        let tag = format!("A{:04}", self.next_tag);
        let literal_plus = self.has_capability("LITERAL+");
        let parts = encode(&tag, command, literal_plus)?;
        self.next_tag += 1;
        let mut parts = parts.into_iter();
        let first = parts.next().unwrap_or_default();
        if self.held.is_empty() {
            self.out.extend_from_slice(&first);
        } else {
            self.held.push_back(first);
        }
        self.held.extend(parts);
        self.outstanding.push_back((tag.clone(), matches!(command, ClientCommand::StartTls)));
        self.deadline = Some(now + self.timeout);
        Ok(tag)
    }

    /// Takes the server's octets; returns how many were taken (all, unless the session
    /// closed).
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            match self.phase {
                Phase::Closed => break,
                Phase::AwaitingTls => {
                    self.fail(ClientError::DataBeforeTls);
                    break;
                }
                Phase::Greeting | Phase::Ready => {}
            }
            match self.framer.push(&data[used..], &self.limits) {
                Err(Overflow::Literal) => self.fail(ClientError::LiteralTooLarge),
                Err(Overflow::Line | Overflow::Total) => self.fail(ClientError::ResponseTooLong),
                Ok((n, response)) => {
                    used += n;
                    if let Some(r) = response {
                        self.deadline =
                            (self.phase == Phase::Greeting || !self.outstanding.is_empty()).then(|| now + self.timeout);
                        self.on_response(&r);
                    }
                }
            }
        }
        used
    }

    fn on_response(&mut self, raw: &[u8]) {
        let parsed = match response::parse(raw) {
            Ok(p) => p,
            Err(_) => return self.fail(ClientError::Malformed),
        };
        match parsed {
            Parsed::Untagged(Untagged::Status(s)) if self.phase == Phase::Greeting => {
                self.learn_code(&s);
                self.phase = if s.state == State::Bye { Phase::Closed } else { Phase::Ready };
                self.deadline = None;
                self.events.push_back(ClientEvent::Greeting(s));
            }
            _ if self.phase == Phase::Greeting => self.fail(ClientError::Malformed),
            Parsed::Continuation(text) => match self.held.pop_front() {
                Some(part) => self.out.extend_from_slice(&part),
                None => self.events.push_back(ClientEvent::Continuation(text)),
            },
            Parsed::Untagged(u) => {
                match &u {
                    Untagged::Capability(c) => self.capabilities = c.clone(),
                    Untagged::Status(s) => {
                        self.learn_code(s);
                        // LOGOUT's BYE comes before its tagged OK.
                        if s.state == State::Bye {
                            self.bye = true;
                        }
                    }
                    _ => {}
                }
                self.events.push_back(ClientEvent::Untagged(u));
            }
            Parsed::Tagged(tag, status) => {
                let Some(pos) = self.outstanding.iter().position(|(t, _)| *t == tag) else {
                    return self.fail(ClientError::Unexpected);
                };
                let (_, starttls) = self.outstanding.remove(pos).unwrap_or_default();
                self.learn_code(&status);
                if self.outstanding.is_empty() {
                    self.deadline = None;
                }
                if starttls && status.state == State::Ok {
                    self.phase = Phase::AwaitingTls;
                }
                // A refused command's held parts are never asked for.
                if status.state != State::Ok {
                    self.held.clear();
                }
                self.events.push_back(ClientEvent::Tagged { tag, status });
            }
        }
    }

    /// `[CAPABILITY …]` in a status response replaces what is known.
    fn learn_code(&mut self, s: &StatusLine) {
        if let Some(code) = &s.code {
            let mut words = code.split_ascii_whitespace();
            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("CAPABILITY")) {
                self.capabilities = words.map(str::to_owned).collect();
            }
        }
    }

    fn fail(&mut self, e: ClientError) {
        self.phase = Phase::Closed;
        self.framer = ResponseFramer::default();
        self.deadline = None;
        self.held.clear();
        self.events.push_back(ClientEvent::Error(e));
    }

    /// The TLS handshake after STARTTLS is done: what was learnt before is forgotten (RFC
    /// 9051 §6.2.1); ask CAPABILITY again.
    pub fn handle_tls_established(&mut self) {
        if self.phase == Phase::AwaitingTls {
            self.phase = Phase::Ready;
        }
        self.capabilities.clear();
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Moves what is to be written into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// When [`ClientSession::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Ends a session whose server did not answer in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) && self.phase != Phase::Closed {
            self.fail(ClientError::Timeout);
        }
    }
}

/// Writes a command: its parts, each after the first sent on a `+` continuation.
fn encode(tag: &str, c: &ClientCommand<'_>, literal_plus: bool) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut parts = vec![format!("{tag} ").into_bytes()];
    fn text(parts: &mut [Vec<u8>], s: &str) {
        if let Some(last) = parts.last_mut() {
            last.extend_from_slice(s.as_bytes());
        }
    }
    let line = |s: &str, what: &'static str| {
        if s.is_empty() || s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            Err(EncodeError(what))
        } else {
            Ok(())
        }
    };
    match c {
        ClientCommand::Capability => text(&mut parts, "CAPABILITY"),
        ClientCommand::Noop => text(&mut parts, "NOOP"),
        ClientCommand::Logout => text(&mut parts, "LOGOUT"),
        ClientCommand::StartTls => text(&mut parts, "STARTTLS"),
        ClientCommand::Expunge => text(&mut parts, "EXPUNGE"),
        ClientCommand::Close => text(&mut parts, "CLOSE"),
        ClientCommand::Login { user, password } => {
            text(&mut parts, "LOGIN ");
            string(&mut parts, user.as_bytes(), literal_plus);
            text(&mut parts, " ");
            string(&mut parts, password.expose().as_bytes(), literal_plus);
        }
        ClientCommand::Select { mailbox } | ClientCommand::Examine { mailbox } => {
            text(&mut parts, if matches!(c, ClientCommand::Select { .. }) { "SELECT " } else { "EXAMINE " });
            let name = if mailbox.is_ascii() { (*mailbox).to_owned() } else { crate::mutf7::encode(mailbox) };
            string(&mut parts, name.as_bytes(), literal_plus);
        }
        ClientCommand::UidSearch { criteria } => {
            line(criteria, "search criteria must be one line")?;
            text(&mut parts, &format!("UID SEARCH {criteria}"));
        }
        ClientCommand::UidFetch { set, items } => {
            line(set, "a UID set must be one line")?;
            line(items, "fetch items must be one line")?;
            text(&mut parts, &format!("UID FETCH {set} {items}"));
        }
        ClientCommand::UidStoreAdd { set, flags } => {
            line(set, "a UID set must be one line")?;
            line(flags, "flags must be one line")?;
            text(&mut parts, &format!("UID STORE {set} +FLAGS.SILENT ({flags})"));
        }
        ClientCommand::UidExpunge { set } => {
            line(set, "a UID set must be one line")?;
            text(&mut parts, &format!("UID EXPUNGE {set}"));
        }
    }
    text(&mut parts, "\r\n");
    Ok(parts)
}

/// A string argument: quoted when it can be, else a literal (`{n+}` with LITERAL+, else
/// `{n}` and the octets in a new part, sent on the continuation).
fn string(parts: &mut Vec<Vec<u8>>, s: &[u8], literal_plus: bool) {
    let quotable = s.len() <= 1024 && s.iter().all(|&b| b != b'\r' && b != b'\n' && b != 0);
    let Some(last) = parts.last_mut() else { return };
    if quotable {
        last.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                last.push(b'\\');
            }
            last.push(b);
        }
        last.push(b'"');
    } else if literal_plus {
        last.extend_from_slice(format!("{{{}+}}\r\n", s.len()).as_bytes());
        last.extend_from_slice(s);
    } else {
        last.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        parts.push(s.to_vec());
    }
}

#[cfg(test)]
mod tests;
