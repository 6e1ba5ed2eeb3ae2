//! The client side of a POP3 session, Sans-IO: for collecting mail from a remote maildrop.
//!
//! The embedder sends commands with [`ClientSession::send`] (pipelined or one at a time:
//! the session matches each response to its command in order) and polls
//! [`ClientEvent`]s: the greeting, one [`ClientEvent::Response`] per command, and for a
//! positive multi-line response its body as [`ClientEvent::Data`] pieces, already
//! un-stuffed, then [`ClientEvent::End`]. A message is never whole in memory here.
//!
//! A hostile server (an endless line, a status that is neither `+OK` nor `-ERR`, a
//! response nobody asked for) ends the session with [`ClientEvent::Error`], within bounded
//! memory.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::command::{Command, EncodeError, Verb, find_line};
use crate::multiline::{BareLineEndings, Decoder};
use crate::response::{MAX_RESPONSE_LINE, ServerLine};

/// Why the session ended on the server's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A status line longer than the limit.
    LineTooLong,
    /// A line that is not a POP3 status line.
    Malformed,
    /// A response when no command was waiting for one.
    Unexpected,
    /// No response within the timeout.
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LineTooLong => "server sent an over-long line",
            Self::Malformed => "server sent a malformed response",
            Self::Unexpected => "server sent a response nobody asked for",
            Self::Timeout => "server did not answer in time",
        })
    }
}

impl std::error::Error for ClientError {}

/// What the client session reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's greeting.
    Greeting {
        /// `+OK` (false: the server refused the connection).
        ok: bool,
        /// The greeting text.
        text: String,
        /// The APOP timestamp (`<…>`), if the greeting carried one.
        apop_timestamp: Option<String>,
    },
    /// The status line answering a command.
    Response {
        /// The command answered.
        verb: Verb,
        /// `+OK` or `-ERR`.
        ok: bool,
        /// The response code, if any (`IN-USE`, `SYS/TEMP`, …).
        code: Option<String>,
        /// The text.
        text: String,
    },
    /// A decoded `+ ` challenge during AUTH: answer with [`ClientSession::auth_response`].
    Challenge(Vec<u8>),
    /// A piece of a multi-line body, un-stuffed (CRLF line endings).
    Data(Vec<u8>),
    /// The multi-line body is complete.
    End,
    /// The server broke the protocol; the session is closed.
    Error(ClientError),
}

#[derive(Debug)]
enum Phase {
    Greeting,
    Ready,
    /// Inside a multi-line body.
    Body(Box<Decoder>),
    Closed,
}

/// One POP3 client session.
#[derive(Debug)]
pub struct ClientSession {
    phase: Phase,
    /// Commands sent, oldest first, with whether a positive answer is multi-line.
    waiting: VecDeque<(Verb, bool)>,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<ClientEvent>,
    max_line: usize,
    timeout: Duration,
    deadline: Option<Instant>,
}

impl ClientSession {
    /// A session on a connection just opened: waits for the greeting. Responses get
    /// `timeout` each (RFC 1939 servers allow 10 minutes of idleness; a minute or two is a
    /// sensible client default).
    pub fn new(now: Instant, timeout: Duration) -> Self {
        Self {
            phase: Phase::Greeting,
            waiting: VecDeque::new(),
            inbuf: Vec::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            max_line: MAX_RESPONSE_LINE * 16,
            timeout,
            deadline: Some(now + timeout),
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether responses are still awaited.
    pub fn is_busy(&self) -> bool {
        !self.waiting.is_empty() || matches!(self.phase, Phase::Greeting | Phase::Body(_))
    }

    /// Queues a command. QUIT closes the session once answered.
    pub fn send(&mut self, now: Instant, command: &Command<'_>) -> Result<(), EncodeError> {
        command.encode(&mut self.out)?;
        self.waiting.push_back((command.verb(), command.is_multiline()));
        self.deadline = Some(now + self.timeout);
        Ok(())
    }

    /// Answers a [`ClientEvent::Challenge`] (base64-encoded on the wire).
    pub fn auth_response(&mut self, now: Instant, response: &[u8]) {
        self.out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(response).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.deadline = Some(now + self.timeout);
    }

    /// Cancels the AUTH exchange (`*`); the server answers with `-ERR`.
    pub fn auth_cancel(&mut self, now: Instant) {
        self.out.extend_from_slice(b"*\r\n");
        self.deadline = Some(now + self.timeout);
    }

    /// The TLS handshake after `+OK` to STLS is done. Anything the server sent in plaintext
    /// after that `+OK` has already been dropped (the response-injection class).
    pub fn handle_tls_established(&mut self) {
        self.inbuf.clear();
    }

    /// Moves queued commands into `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// The next event, or `None`.
    #[must_use = "an event, and decisions, must be answered"]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`ClientSession::handle_timeout`] must be called, if ever.
    #[must_use = "handle_timeout must be called at this instant"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_busy() && !self.is_closed() { self.deadline } else { None }
    }

    /// Tells the session the time; past the deadline it fails with [`ClientError::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|d| now >= d) {
            self.fail(ClientError::Timeout);
        }
    }

    /// Takes bytes from the server; all of them are always taken.
    #[must_use = "input it did not take must be offered again"]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        let total = data.len();
        if self.is_closed() {
            return total;
        }
        self.deadline = Some(now + self.timeout);
        let mut data = data;
        loop {
            match self.phase {
                Phase::Closed => break,
                Phase::Body(_) if !self.inbuf.is_empty() => {
                    let pending = std::mem::take(&mut self.inbuf);
                    let used = self.body(&pending);
                    self.inbuf = pending[used..].to_vec();
                }
                // Bodies are decoded straight from the caller's buffer.
                Phase::Body(_) if !data.is_empty() => {
                    let used = self.body(data);
                    data = &data[used..];
                }
                Phase::Body(_) => break,
                Phase::Greeting | Phase::Ready => {
                    // Status lines are buffered, bounded by the line limit.
                    let take = self.max_line.saturating_sub(self.inbuf.len()).min(data.len());
                    self.inbuf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    let (handled, stls_ok) = self.lines();
                    if stls_ok {
                        // `+OK` to STLS: whatever followed it is plaintext injection.
                        self.inbuf.clear();
                        return total;
                    }
                    if self.inbuf.len() >= self.max_line {
                        self.fail(ClientError::LineTooLong);
                    } else if !handled && data.is_empty() {
                        break;
                    }
                }
            }
        }
        total
    }

    /// Decodes body bytes; returns how many were used (the body may end before the input).
    fn body(&mut self, data: &[u8]) -> usize {
        let Phase::Body(decoder) = &mut self.phase else { return 0 };
        let mut out = Vec::new();
        let d = decoder.decode(data, &mut out);
        if !out.is_empty() {
            self.events.push_back(ClientEvent::Data(out));
        }
        if d.done {
            self.events.push_back(ClientEvent::End);
            self.phase = Phase::Ready;
        }
        d.consumed
    }

    /// Handles the status lines in the buffer, stopping at the start of a body; returns
    /// whether any line was handled and whether STLS was answered positively.
    fn lines(&mut self) -> (bool, bool) {
        let mut pos = 0;
        let mut stls_ok = false;
        while matches!(self.phase, Phase::Greeting | Phase::Ready) {
            let Some((line, used)) = find_line(&self.inbuf[pos..]) else { break };
            let line = line.to_vec();
            pos += used;
            stls_ok |= self.line(&line);
            if stls_ok {
                break;
            }
        }
        self.inbuf.drain(..pos.min(self.inbuf.len()));
        (pos > 0, stls_ok)
    }

    /// One status line; returns true if it was `+OK` to STLS.
    fn line(&mut self, line: &[u8]) -> bool {
        let parsed = match ServerLine::parse(line) {
            Ok(p) => p,
            Err(_) => {
                self.fail(ClientError::Malformed);
                return false;
            }
        };
        match (&self.phase, parsed) {
            (Phase::Greeting, ServerLine::Status(r)) => {
                let apop_timestamp =
                    r.text.find('<').and_then(|a| r.text[a..].find('>').map(|b| &r.text[a..=a + b])).map(str::to_owned);
                self.events.push_back(ClientEvent::Greeting { ok: r.ok, text: r.text.to_owned(), apop_timestamp });
                self.phase = if r.ok { Phase::Ready } else { Phase::Closed };
                false
            }
            (Phase::Ready, ServerLine::Continuation(c)) if self.waiting.front().map(|w| w.0) == Some(Verb::Auth) => {
                match base64::engine::general_purpose::STANDARD.decode(c) {
                    Ok(d) => self.events.push_back(ClientEvent::Challenge(d)),
                    Err(_) => self.fail(ClientError::Malformed),
                }
                false
            }
            (Phase::Ready, ServerLine::Status(r)) => {
                let Some((verb, multi)) = self.waiting.pop_front() else {
                    self.fail(ClientError::Unexpected);
                    return false;
                };
                self.events.push_back(ClientEvent::Response {
                    verb,
                    ok: r.ok,
                    code: r.code.map(|c| c.as_str().to_owned()),
                    text: r.text.to_owned(),
                });
                if r.ok && multi {
                    self.phase = Phase::Body(Box::new(Decoder::new(BareLineEndings::Normalize, None)));
                } else if verb == Verb::Quit {
                    self.phase = Phase::Closed;
                }
                r.ok && verb == Verb::Stls
            }
            _ => {
                self.fail(ClientError::Unexpected);
                false
            }
        }
    }

    fn fail(&mut self, e: ClientError) {
        if !self.is_closed() {
            self.events.push_back(ClientEvent::Error(e));
            self.phase = Phase::Closed;
            self.inbuf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server: &[u8], commands: &[Command<'_>], split: usize) -> Vec<ClientEvent> {
        let now = Instant::now();
        let mut c = ClientSession::new(now, Duration::from_secs(60));
        for cmd in commands {
            c.send(now, cmd).unwrap();
        }
        let (a, b) = server.split_at(split.min(server.len()));
        assert_eq!(c.handle_input(now, a), a.len());
        assert_eq!(c.handle_input(now, b), b.len());
        let mut events = Vec::new();
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        // Join body pieces, so that every split compares equal.
        let mut joined: Vec<ClientEvent> = Vec::new();
        for e in events {
            match (joined.last_mut(), e) {
                (Some(ClientEvent::Data(prev)), ClientEvent::Data(more)) => prev.extend_from_slice(&more),
                (_, e) => joined.push(e),
            }
        }
        joined
    }

    #[test]
    fn retr_over_every_split() {
        let server = b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n+OK 2 messages\r\n\
                       +OK message follows\r\nSubject: x\r\n\r\n..dot\r\n.\r\n-ERR [SYS/TEMP] gone\r\n+OK bye\r\n";
        let cmds = [Command::Stat, Command::Retr { msg: 1 }, Command::Retr { msg: 2 }, Command::Quit];
        let want = vec![
            ClientEvent::Greeting {
                ok: true,
                text: "POP3 ready <1896.697170952@dbc.mtview.ca.us>".into(),
                apop_timestamp: Some("<1896.697170952@dbc.mtview.ca.us>".into()),
            },
            ClientEvent::Response { verb: Verb::Stat, ok: true, code: None, text: "2 messages".into() },
            ClientEvent::Response { verb: Verb::Retr, ok: true, code: None, text: "message follows".into() },
            ClientEvent::Data(b"Subject: x\r\n\r\n.dot\r\n".to_vec()),
            ClientEvent::End,
            ClientEvent::Response { verb: Verb::Retr, ok: false, code: Some("SYS/TEMP".into()), text: "gone".into() },
            ClientEvent::Response { verb: Verb::Quit, ok: true, code: None, text: "bye".into() },
        ];
        for split in 0..=server.len() {
            assert_eq!(run(server, &cmds, split), want, "split {split}");
        }
    }

    #[test]
    fn hostile_servers_end_the_session() {
        let endless = vec![b'+'; 100_000];
        let e = run(&endless, &[], 50_000);
        assert_eq!(e, vec![ClientEvent::Error(ClientError::LineTooLong)]);
        let e = run(b"+OK hi\r\n+OK unasked\r\n", &[], 0);
        assert_eq!(e.last(), Some(&ClientEvent::Error(ClientError::Unexpected)));
        let e = run(b"220 smtp here\r\n", &[], 3);
        assert_eq!(e, vec![ClientEvent::Error(ClientError::Malformed)]);
    }

    #[test]
    fn plaintext_after_stls_ok_is_dropped() {
        let now = Instant::now();
        let mut c = ClientSession::new(now, Duration::from_secs(60));
        c.send(now, &Command::Stls).unwrap();
        let _ = c.handle_input(now, b"+OK ready\r\n+OK Begin TLS\r\n+OK injected\r\n");
        c.handle_tls_established();
        c.send(now, &Command::Capa).unwrap();
        let _ = c.handle_input(now, b"+OK caps\r\nTOP\r\n.\r\n");
        let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
        assert!(matches!(&events[1], ClientEvent::Response { verb: Verb::Stls, ok: true, .. }));
        assert!(matches!(&events[2], ClientEvent::Response { verb: Verb::Capa, ok: true, .. }), "{events:?}");
        assert_eq!(events[3], ClientEvent::Data(b"TOP\r\n".to_vec()));
    }
}
