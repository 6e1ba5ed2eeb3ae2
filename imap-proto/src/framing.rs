//! Command framing, before any parsing: a command is lines and literals
//! ([RFC 3501 §2.2](https://www.rfc-editor.org/rfc/rfc3501#section-2.2), §7.5). A line that
//! ends with `{n}` announces a synchronising literal: the client waits for the server's `+`
//! continuation before sending its `n` octets. `{n+}` is non-synchronising
//! ([RFC 7888](https://www.rfc-editor.org/rfc/rfc7888): any size under LITERAL+, at most 4096
//! octets under LITERAL-); `~{n}` and `~{n+}` are `literal8`
//! ([RFC 3516 §4.2](https://www.rfc-editor.org/rfc/rfc3516#section-4.2)), only when BINARY is
//! offered.
//!
//! The [`Framer`] bounds everything it holds. A literal over the limit is refused before any
//! continuation is sent ([`Frame::Refused`], for a tagged `NO [TOOBIG]`); when it was
//! non-synchronising its octets are counted down and dropped, never stored, so
//! `{18446744073709551615+}` costs nothing but the connection's time. A synchronising
//! literal within limits stops the framer with [`Frame::Continuation`] until the embedder
//! answers: [`Framer::accept_literal`] (send `+`) or [`Framer::refuse_literal`] (send a
//! tagged `NO`, say for a mailbox over quota, and the client sends nothing more of the
//! command).
//!
//! Literals larger than [`FramingConfig::stream_literals_above`] stop the framer too, the
//! non-synchronising ones included, so that the embedder can choose to take them as a stream
//! ([`Framer::stream_literal`]: their octets come out as [`Frame::LiteralData`] pieces, as
//! they arrive, and the command holds only what surrounds them). An APPEND of a 200 MiB
//! message then costs the session no more than the input it is given at a time.

use std::collections::VecDeque;

/// What the framer accepts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FramingConfig {
    /// Longest line between literals, CRLF included.
    pub max_line: usize,
    /// Largest literal, in octets (a message given to APPEND is one).
    pub max_literal: u64,
    /// Largest command in all: lines and literals.
    pub max_command: u64,
    /// LITERAL+ is advertised: non-synchronising literals of any size (within `max_literal`).
    pub literal_plus: bool,
    /// LITERAL- is advertised: non-synchronising literals up to 4096 octets.
    pub literal_minus: bool,
    /// BINARY is advertised: `literal8` (`~{n}`) is allowed.
    pub binary: bool,
    /// Literals larger than this stop the framer with [`Frame::Continuation`] even when they
    /// are non-synchronising, so that the embedder may stream them
    /// ([`Framer::stream_literal`]). `None`: only synchronising literals stop it.
    pub stream_literals_above: Option<u64>,
}

impl Default for FramingConfig {
    fn default() -> Self {
        Self {
            // RFC 7162 §4 asks servers to take lines of at least 8192 octets; an ID of 30
            // fields of 1024 octets each (RFC 2971 §3.3) is a line of about 32 KiB. 64 KiB,
            // as Dovecot's `imap_max_line_length`.
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_command: 64 * 1024 * 1024 + 64 * 1024,
            literal_plus: true,
            literal_minus: false,
            binary: false,
            stream_literals_above: Some(64 * 1024),
        }
    }
}

/// The largest non-synchronising literal under LITERAL- (RFC 7888 §4).
pub const LITERAL_MINUS_MAX: u64 = 4096;

/// Why a command was refused while being framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A line longer than `max_line` (`BAD`).
    LineTooLong,
    /// A literal larger than `max_literal`, or one that would take the command past
    /// `max_command` (`NO [TOOBIG]`).
    TooBig {
        /// The announced size.
        size: u64,
    },
    /// A non-synchronising literal the server does not allow (no LITERAL+, or over
    /// LITERAL-'s 4096), or `literal8` without BINARY (`BAD`).
    NotAllowed,
    /// A literal announcement that does not parse (`{12a}`, a size past 2^63 − 1) (`BAD`).
    Malformed,
    /// The embedder refused the announced literal ([`Framer::refuse_literal`]).
    ByEmbedder,
}

/// What the framer found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A whole command: its lines and literals as sent, line endings and literal headers
    /// included, ready for the parser.
    Command(Vec<u8>),
    /// A synchronising literal within limits was announced, or a non-synchronising one
    /// larger than [`FramingConfig::stream_literals_above`]. The framer waits: answer with
    /// [`Framer::accept_literal`] or [`Framer::stream_literal`] (and, if it is
    /// synchronising, send `+ …`), or with [`Framer::refuse_literal`] (and send a tagged
    /// `NO`).
    Continuation {
        /// The command's tag, if it has a valid one.
        tag: Option<String>,
        /// The announced size.
        size: u64,
        /// The client waits for `+` before it sends the literal (`{n}`, not `{n+}`).
        synchronizing: bool,
    },
    /// Octets of a literal taken as a stream ([`Framer::stream_literal`]), in order; the
    /// command that follows ([`Frame::Command`]) holds the lines around them, not them.
    LiteralData(Vec<u8>),
    /// The command was refused (answer `<tag> BAD` or `<tag> NO [TOOBIG]`, or `* BAD` without
    /// a tag); what remains of it is dropped as it arrives.
    Refused {
        /// The command's tag, if it has a valid one.
        tag: Option<String>,
        /// Why.
        reason: Refusal,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a line of the command.
    Line,
    /// A literal waits for the embedder's answer.
    Waiting { size: u64, sync: bool },
    /// Reading literal octets (`keep`: into the command; else dropped).
    Literal { remaining: u64, keep: bool },
    /// Reading literal octets handed out as [`Frame::LiteralData`].
    Stream { remaining: u64 },
    /// Dropping the rest of an over-long line.
    SkipLine,
}

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineEnd {
    /// No literal: the command (or the line) is complete.
    Plain,
    /// A literal follows.
    Literal { size: u64, sync: bool, binary: bool },
    /// Something that looks like a literal header and is not one.
    Malformed,
}

/// Parses a literal announcement at the end of `line` (CRLF removed).
fn line_end(line: &[u8]) -> LineEnd {
    let Some(body) = line.strip_suffix(b"}") else { return LineEnd::Plain };
    let Some(open) = memchr::memrchr(b'{', body) else { return LineEnd::Plain };
    let inner = &body[open + 1..];
    let binary = open > 0 && body[open - 1] == b'~';
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // `{` … `}` around something else (a quoted string's text, say) is no literal.
        return if inner.iter().all(|&b| b.is_ascii_digit() || b == b'+' || b == b'-') {
            LineEnd::Malformed
        } else {
            LineEnd::Plain
        };
    }
    // number64 (RFC 9051): at most 2^63 - 1.
    let size = digits
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .filter(|&n| n <= i64::MAX as u64);
    match size {
        Some(size) => LineEnd::Literal { size, sync, binary },
        None => LineEnd::Malformed,
    }
}

/// The tag at the start of a command: `1*<ASTRING-CHAR except "+">` (RFC 3501 §9).
fn tag_of(command: &[u8]) -> Option<String> {
    let end = command.iter().position(|&b| b == b' ' || b == b'\r' || b == b'\n').unwrap_or(command.len());
    let tag = &command[..end];
    let ok =
        !tag.is_empty() && tag.len() <= 64 && tag.iter().all(|&b| b > b' ' && b < 0x7f && !b"(){%*\"\\+]".contains(&b));
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

/// The client-to-server framer of a server session.
#[derive(Debug)]
pub struct Framer {
    config: FramingConfig,
    state: State,
    /// The command so far (lines and literals); empty once it is refused.
    command: Vec<u8>,
    /// Octets the command has taken or announced, stored or not.
    command_len: u64,
    /// Octets of the current line so far.
    line_len: usize,
    /// The current command was refused: frame it to its end, keep nothing.
    refused: bool,
    /// The last octets of the current line (to see a literal header at its end, also when
    /// the line is not stored).
    tail: Vec<u8>,
    frames: VecDeque<Frame>,
}

/// Octets of a line's end kept: enough for `~{9223372036854775807+}` and its CRLF.
const TAIL: usize = 32;

impl Framer {
    /// A framer at the start of a command.
    pub fn new(config: FramingConfig) -> Self {
        Self {
            config,
            state: State::Line,
            command: Vec::new(),
            command_len: 0,
            line_len: 0,
            refused: false,
            tail: Vec::with_capacity(TAIL),
            frames: VecDeque::new(),
        }
    }

    /// The configuration (BINARY and the literal extensions may change as the session goes).
    pub fn config_mut(&mut self) -> &mut FramingConfig {
        &mut self.config
    }

    /// Whether the framer waits for [`Framer::accept_literal`] or [`Framer::refuse_literal`].
    pub fn is_waiting(&self) -> bool {
        matches!(self.state, State::Waiting { .. })
    }

    /// Whether a command is under way (some of it has arrived).
    pub fn in_command(&self) -> bool {
        self.command_len > 0 || self.line_len > 0 || !matches!(self.state, State::Line)
    }

    /// The command received so far (while a synchronising literal waits, the lines before it:
    /// enough to see which command it is).
    pub fn partial(&self) -> &[u8] {
        &self.command
    }

    /// The size of the literal that waits for an answer, if one does.
    pub fn waiting_size(&self) -> Option<u64> {
        match self.state {
            State::Waiting { size, .. } => Some(size),
            _ => None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FramingConfig {
        &self.config
    }

    /// The next frame, if any.
    pub fn poll_frame(&mut self) -> Option<Frame> {
        self.frames.pop_front()
    }

    /// Drops everything buffered (after STARTTLS nothing from before is trusted).
    pub fn reset(&mut self) {
        let config = self.config.clone();
        *self = Self::new(config);
    }

    /// The announced literal may come, into the command (if it is synchronising, send `+ …`
    /// now).
    pub fn accept_literal(&mut self) {
        if let State::Waiting { size, .. } = self.state {
            self.state = State::Literal { remaining: size, keep: true };
        }
    }

    /// The announced literal may come, as [`Frame::LiteralData`] pieces rather than into the
    /// command (if it is synchronising, send `+ …` now).
    pub fn stream_literal(&mut self) {
        if let State::Waiting { size, .. } = self.state {
            self.state = if size == 0 { State::Line } else { State::Stream { remaining: size } };
        }
    }

    /// The announced literal is refused (send the tagged `NO`). A synchronising one never
    /// comes, and the client sends nothing more of this command; a non-synchronising one is
    /// dropped as it arrives, with the rest of its command.
    pub fn refuse_literal(&mut self) {
        if let State::Waiting { size, sync } = self.state {
            self.refuse(Refusal::ByEmbedder);
            if sync {
                self.state = State::Line;
                self.end_command();
            } else {
                self.state = State::Literal { remaining: size, keep: false };
            }
        }
    }

    /// Takes octets from the client; returns how many were taken: fewer when a command is
    /// complete (offer the rest after its frame is handled) or while a literal waits for the
    /// embedder's answer.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            match self.state {
                State::Waiting { .. } => break,
                State::Literal { remaining, keep } => {
                    let n = remaining.min((data.len() - pos) as u64) as usize;
                    if keep {
                        self.command.extend_from_slice(&data[pos..pos + n]);
                    }
                    pos += n;
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::Line } else { State::Literal { remaining: left, keep } };
                }
                State::Stream { remaining } => {
                    let n = remaining.min((data.len() - pos) as u64) as usize;
                    self.frames.push_back(Frame::LiteralData(data[pos..pos + n].to_vec()));
                    pos += n;
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::Line } else { State::Stream { remaining: left } };
                }
                State::SkipLine => match memchr::memchr(b'\n', &data[pos..]) {
                    Some(lf) => {
                        self.keep_tail(&data[pos..=pos + lf]);
                        pos += lf + 1;
                        self.state = State::Line;
                        self.line_done();
                    }
                    None => {
                        self.keep_tail(&data[pos..]);
                        pos = data.len();
                    }
                },
                State::Line => {
                    let frames = self.frames.len();
                    pos += self.line(&data[pos..]);
                    if self.frames.len() > frames && matches!(self.frames.back(), Some(Frame::Command(_))) {
                        // One command at a time: the next is framed under the configuration
                        // its predecessor leaves (a LOGIN raises the limits).
                        break;
                    }
                }
            }
        }
        pos
    }

    /// Remembers the last octets of the current line.
    fn keep_tail(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(&bytes[bytes.len().saturating_sub(TAIL)..]);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    /// Reads line octets; returns how many were taken.
    fn line(&mut self, data: &[u8]) -> usize {
        let room = self.config.max_line.saturating_sub(self.line_len);
        match memchr::memchr(b'\n', &data[..data.len().min(room)]) {
            Some(lf) => {
                self.take_line(&data[..=lf]);
                self.line_done();
                lf + 1
            }
            None if data.len() < room => {
                self.take_line(data);
                data.len()
            }
            None => {
                // Past the line limit: refuse, and skip to the end of the line.
                self.take_line(&data[..room]);
                self.refuse(Refusal::LineTooLong);
                self.state = State::SkipLine;
                room
            }
        }
    }

    fn take_line(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len();
        self.command_len = self.command_len.saturating_add(bytes.len() as u64);
        self.keep_tail(bytes);
        if !self.refused {
            self.command.extend_from_slice(bytes);
        }
    }

    /// A line is complete (its LF is in the tail): decide what follows.
    fn line_done(&mut self) {
        let tail = std::mem::take(&mut self.tail);
        let line = tail.strip_suffix(b"\n").unwrap_or(&tail);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let end = line_end(line);
        self.line_len = 0;
        match end {
            LineEnd::Plain => {
                if !self.refused {
                    let command = std::mem::take(&mut self.command);
                    self.frames.push_back(Frame::Command(command));
                }
                self.end_command();
            }
            LineEnd::Malformed => {
                self.refuse(Refusal::Malformed);
                self.end_command();
            }
            LineEnd::Literal { size, sync, binary } => {
                let allowed = (!binary || self.config.binary)
                    && (sync || self.config.literal_plus || (self.config.literal_minus && size <= LITERAL_MINUS_MAX));
                let fits =
                    size <= self.config.max_literal && self.command_len.saturating_add(size) <= self.config.max_command;
                if !(self.refused || allowed && fits) {
                    self.refuse(if allowed { Refusal::TooBig { size } } else { Refusal::NotAllowed });
                }
                if self.refused {
                    // A synchronising literal of a refused command never comes (the client saw
                    // the refusal); a non-synchronising one is dropped as it arrives.
                    if sync {
                        self.end_command();
                    } else {
                        self.state = State::Literal { remaining: size, keep: false };
                    }
                } else if sync || self.config.stream_literals_above.is_some_and(|above| size > above) {
                    self.state = State::Waiting { size, sync };
                    let tag = tag_of(&self.command);
                    self.frames.push_back(Frame::Continuation { tag, size, synchronizing: sync });
                } else {
                    self.state = State::Literal { remaining: size, keep: true };
                }
                self.command_len = self.command_len.saturating_add(size);
            }
        }
    }

    fn refuse(&mut self, reason: Refusal) {
        if !self.refused {
            let tag = tag_of(&self.command);
            self.frames.push_back(Frame::Refused { tag, reason });
            self.refused = true;
            self.command = Vec::new();
        }
    }

    fn end_command(&mut self) {
        self.command = Vec::new();
        self.command_len = 0;
        self.line_len = 0;
        self.refused = false;
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests;
