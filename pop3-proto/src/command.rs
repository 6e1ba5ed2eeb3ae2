//! Commands: `keyword *(SP argument) CRLF`
//! ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3)), with CAPA
//! ([RFC 2449](https://www.rfc-editor.org/rfc/rfc2449)), STLS
//! ([RFC 2595](https://www.rfc-editor.org/rfc/rfc2595)), AUTH
//! ([RFC 5034](https://www.rfc-editor.org/rfc/rfc5034)) and UTF8
//! ([RFC 6856](https://www.rfc-editor.org/rfc/rfc6856)).
//!
//! [`Command::parse`] finds a line and parses it, borrowing from the input;
//! [`Command::encode`] writes one, refusing any value that would not parse back to itself.

use std::fmt;

use sansmail_smtp_proto::Status;

pub use sansmail_smtp_proto::Secret;

/// Longest command line, CRLF included ([RFC 2449 §4](https://www.rfc-editor.org/rfc/rfc2449#section-4)).
pub const MAX_COMMAND_LINE: usize = 255;

/// A parsed command; text fields borrow from the input line.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `USER name`.
    User {
        /// The mailbox name.
        name: &'a str,
    },
    /// `PASS string`: everything after the first SP, spaces included (RFC 1939 §7).
    Pass {
        /// The password (its `Debug` is redacted).
        password: Secret<&'a str>,
    },
    /// `APOP name digest`.
    Apop {
        /// The mailbox name.
        name: &'a str,
        /// MD5 of the greeting's timestamp and the shared secret, 32 hex digits.
        digest: &'a str,
    },
    /// `AUTH [mechanism [initial-response]]`; without a mechanism, lists the mechanisms.
    Auth {
        /// The SASL mechanism, as sent.
        mechanism: Option<&'a str>,
        /// The initial response, still base64-encoded; `=` (empty) is `Some("")`.
        initial_response: Option<Secret<&'a str>>,
    },
    /// `STLS`.
    Stls,
    /// `CAPA`.
    Capa,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List {
        /// One message, or all.
        msg: Option<u32>,
    },
    /// `RETR msg`.
    Retr {
        /// The message number.
        msg: u32,
    },
    /// `DELE msg`.
    Dele {
        /// The message number.
        msg: u32,
    },
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`.
    Top {
        /// The message number.
        msg: u32,
        /// Lines of the body to send after the header.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl {
        /// One message, or all.
        msg: Option<u32>,
    },
    /// `UTF8`.
    Utf8,
    /// Any other keyword, kept so that the embedder may answer it.
    Unknown {
        /// The keyword, as sent.
        verb: &'a str,
        /// Everything after the first SP, if anything.
        args: Option<&'a str>,
    },
}

/// The keywords, for matching without the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Verb {
    User,
    Pass,
    Apop,
    Auth,
    Stls,
    Capa,
    Stat,
    List,
    Retr,
    Dele,
    Noop,
    Rset,
    Quit,
    Top,
    Uidl,
    Utf8,
    Unknown,
}

impl Verb {
    /// The keyword as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Pass => "PASS",
            Self::Apop => "APOP",
            Self::Auth => "AUTH",
            Self::Stls => "STLS",
            Self::Capa => "CAPA",
            Self::Stat => "STAT",
            Self::List => "LIST",
            Self::Retr => "RETR",
            Self::Dele => "DELE",
            Self::Noop => "NOOP",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
            Self::Top => "TOP",
            Self::Uidl => "UIDL",
            Self::Utf8 => "UTF8",
            Self::Unknown => "?",
        }
    }

    fn from_keyword(k: &str) -> Self {
        // Every keyword has three or four letters: compare them packed, case folded.
        // (A keyword never holds a space, so the padding of `TOP ` cannot be forged.)
        let b = k.as_bytes();
        let w = match *b {
            [a, b, c] => [a, b, c, b' '],
            [a, b, c, d] => [a, b, c, d],
            _ => return Self::Unknown,
        };
        let word = u32::from_le_bytes(w.map(|c| c.to_ascii_uppercase()));
        const fn k4(v: &[u8; 4]) -> u32 {
            u32::from_le_bytes(*v)
        }
        match word {
            w if w == k4(b"RETR") => Self::Retr,
            w if w == k4(b"DELE") => Self::Dele,
            w if w == k4(b"LIST") => Self::List,
            w if w == k4(b"UIDL") => Self::Uidl,
            w if w == k4(b"TOP ") => Self::Top,
            w if w == k4(b"STAT") => Self::Stat,
            w if w == k4(b"USER") => Self::User,
            w if w == k4(b"PASS") => Self::Pass,
            w if w == k4(b"QUIT") => Self::Quit,
            w if w == k4(b"NOOP") => Self::Noop,
            w if w == k4(b"RSET") => Self::Rset,
            w if w == k4(b"CAPA") => Self::Capa,
            w if w == k4(b"STLS") => Self::Stls,
            w if w == k4(b"AUTH") => Self::Auth,
            w if w == k4(b"APOP") => Self::Apop,
            w if w == k4(b"UTF8") => Self::Utf8,
            _ => Self::Unknown,
        }
    }
}

/// Why a command line did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// Not a command: no keyword, or bytes that are not text.
    Unrecognized,
    /// A known keyword with arguments that do not fit it.
    Syntax(Verb),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unrecognized => f.write_str("unknown command"),
            Self::Syntax(v) => write!(f, "syntax error in {}", v.as_str()),
        }
    }
}

impl std::error::Error for CommandError {}

/// A value that cannot be written as a command that would parse back to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError(pub Verb);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cannot carry this value", self.0.as_str())
    }
}

impl std::error::Error for EncodeError {}

/// Finds the end of the line at the start of `input`: the line without its line ending, and
/// the length consumed. CRLF ends a line; a bare LF is accepted (clients that send one
/// exist, and outside a multi-line block it carries no framing risk).
pub(crate) fn find_line(input: &[u8]) -> Option<(&[u8], usize)> {
    // Commands are short: a plain loop finds their end sooner than a vector search starts.
    let head = input.len().min(48);
    let mut lf = 0;
    while lf < head && input[lf] != b'\n' {
        lf += 1;
    }
    if lf == head {
        lf = head + memchr::memchr(b'\n', &input[head..])?;
    }
    let line = &input[..lf];
    Some((line.strip_suffix(b"\r").unwrap_or(line), lf + 1))
}

/// A token argument: printable, no space (RFC 1939 §3: arguments are printable ASCII; RFC
/// 6856 lets UTF-8 through).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b > b' ' && b != 0x7f)
}

/// `msg`: a message number, 1 or more, without sign.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    s.bytes().try_fold(0u32, |n, b| {
        if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u32::from(b - b'0')) } else { None }
    })
}

/// The arguments of a command: words separated by single spaces.
struct Words<'a>(Option<&'a str>);

impl<'a> Words<'a> {
    /// The next word; `None` at the end, or for an empty word (two spaces in a row).
    fn next(&mut self) -> Option<&'a str> {
        let s = self.0?;
        let (word, rest) = match s.bytes().position(|b| b == b' ') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        self.0 = rest;
        Some(word).filter(|w| !w.is_empty())
    }
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    let body = b.strip_suffix(b"==").or_else(|| b.strip_suffix(b"=")).unwrap_or(b);
    !b.is_empty()
        && b.len().is_multiple_of(4)
        && body.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

impl<'a> Command<'a> {
    /// Parses one command at the start of `input`.
    ///
    /// Line length is not bounded here: framing code (the server session) bounds it.
    pub fn parse(input: &'a [u8]) -> Result<Status<(Self, usize)>, CommandError> {
        match find_line(input) {
            None => Ok(Status::Partial),
            Some((line, used)) => Ok(Status::Complete((Self::parse_line(line)?, used))),
        }
    }

    /// Parses one command line, without its line ending.
    pub fn parse_line(line: &'a [u8]) -> Result<Self, CommandError> {
        let control = line.iter().fold(false, |bad, &b| bad | ((b < b' ') & (b != b'\t')) | (b == 0x7f));
        if control {
            return Err(CommandError::Unrecognized);
        }
        let line = std::str::from_utf8(line).map_err(|_| CommandError::Unrecognized)?;
        let (keyword, rest) = match line.bytes().position(|b| b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let verb = Verb::from_keyword(keyword);
        // Arguments are separated by single spaces; trailing spaces are tolerated.
        let args = rest.map(|r| r.trim_end_matches(' ')).filter(|r| !r.is_empty());
        let mut words = Words(args);
        let mut arg = || words.next();
        let syntax = CommandError::Syntax(verb);
        let cmd = match verb {
            Verb::User => Self::User { name: args.filter(|a| is_token(a)).ok_or(syntax)? },
            // The password is the rest of the line as sent, spaces and all.
            Verb::Pass => Self::Pass { password: Secret::new(rest.filter(|r| !r.is_empty()).ok_or(syntax)?) },
            Verb::Apop => {
                let name = arg().filter(|a| is_token(a)).ok_or(syntax)?;
                let digest = arg().filter(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()));
                Self::Apop { name, digest: digest.ok_or(syntax)? }
            }
            Verb::Auth => {
                let mechanism = arg();
                if mechanism.is_some_and(|m| {
                    m.len() > 20 || !m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }) {
                    return Err(syntax);
                }
                let initial_response = match arg() {
                    None => None,
                    Some("=") => Some(""),
                    Some(r) if is_base64(r) => Some(r),
                    Some(_) => return Err(syntax),
                };
                Self::Auth { mechanism, initial_response: initial_response.map(Secret::new) }
            }
            Verb::List => Self::List { msg: arg().map(|a| number(a).ok_or(syntax)).transpose()? },
            Verb::Uidl => Self::Uidl { msg: arg().map(|a| number(a).ok_or(syntax)).transpose()? },
            Verb::Retr => Self::Retr { msg: arg().and_then(number).ok_or(syntax)? },
            Verb::Dele => Self::Dele { msg: arg().and_then(number).ok_or(syntax)? },
            Verb::Top => {
                let msg = arg().and_then(number).ok_or(syntax)?;
                Self::Top { msg, lines: arg().and_then(number).ok_or(syntax)? }
            }
            Verb::Stls => Self::Stls,
            Verb::Capa => Self::Capa,
            Verb::Stat => Self::Stat,
            Verb::Noop => Self::Noop,
            Verb::Rset => Self::Rset,
            Verb::Quit => Self::Quit,
            Verb::Utf8 => Self::Utf8,
            Verb::Unknown => {
                if keyword.is_empty() || keyword.len() > 20 || !keyword.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(CommandError::Unrecognized);
                }
                return Ok(Self::Unknown { verb: keyword, args: rest });
            }
        };
        // Commands without arguments, and those with a fixed count, take nothing more.
        let takes_rest = matches!(verb, Verb::User | Verb::Pass);
        if !takes_rest && arg().is_some() {
            return Err(syntax);
        }
        Ok(cmd)
    }

    /// The keyword of this command.
    pub fn verb(&self) -> Verb {
        match self {
            Self::User { .. } => Verb::User,
            Self::Pass { .. } => Verb::Pass,
            Self::Apop { .. } => Verb::Apop,
            Self::Auth { .. } => Verb::Auth,
            Self::Stls => Verb::Stls,
            Self::Capa => Verb::Capa,
            Self::Stat => Verb::Stat,
            Self::List { .. } => Verb::List,
            Self::Retr { .. } => Verb::Retr,
            Self::Dele { .. } => Verb::Dele,
            Self::Noop => Verb::Noop,
            Self::Rset => Verb::Rset,
            Self::Quit => Verb::Quit,
            Self::Top { .. } => Verb::Top,
            Self::Uidl { .. } => Verb::Uidl,
            Self::Utf8 => Verb::Utf8,
            Self::Unknown { .. } => Verb::Unknown,
        }
    }

    /// Whether a positive reply to this command is multi-line (RFC 1939, RFC 2449, and the
    /// mechanism list of a bare `AUTH`).
    pub fn is_multiline(&self) -> bool {
        matches!(
            self,
            Self::Capa
                | Self::List { msg: None }
                | Self::Uidl { msg: None }
                | Self::Retr { .. }
                | Self::Top { .. }
                | Self::Auth { mechanism: None, .. }
        )
    }

    /// Writes the command and its CRLF; fails, writing nothing, for a value that would not
    /// parse back to itself or would not fit the 255-octet line.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let err = EncodeError(self.verb());
        let mut line = String::with_capacity(32);
        line.push_str(self.verb().as_str());
        let mut push = |arg: &str| {
            line.push(' ');
            line.push_str(arg);
        };
        let ok = match self {
            Self::User { name } => {
                push(name);
                is_token(name)
            }
            Self::Pass { password } => {
                let password = *password.expose();
                push(password);
                !password.is_empty() && !password.ends_with(' ') && !password.bytes().any(|b| b < b' ' || b == 0x7f)
            }
            Self::Apop { name, digest } => {
                push(name);
                push(digest);
                is_token(name) && digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Self::Auth { mechanism, initial_response } => {
                let mech_ok = mechanism.is_none_or(|m| {
                    !m.is_empty()
                        && m.len() <= 20
                        && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
                if let Some(m) = mechanism {
                    push(m);
                }
                let ir_ok = match initial_response.as_ref().map(|r| *r.expose()) {
                    None => true,
                    Some("") => {
                        push("=");
                        mechanism.is_some()
                    }
                    Some(r) => {
                        push(r);
                        mechanism.is_some() && is_base64(r)
                    }
                };
                mech_ok && ir_ok
            }
            Self::List { msg } | Self::Uidl { msg } => {
                if let Some(n) = msg {
                    push(&n.to_string());
                }
                true
            }
            Self::Retr { msg } | Self::Dele { msg } => {
                push(&msg.to_string());
                true
            }
            Self::Top { msg, lines } => {
                push(&msg.to_string());
                push(&lines.to_string());
                true
            }
            Self::Stls | Self::Capa | Self::Stat | Self::Noop | Self::Rset | Self::Quit | Self::Utf8 => true,
            Self::Unknown { verb, args } => {
                line.clear();
                line.push_str(verb);
                if let Some(a) = args {
                    line.push(' ');
                    line.push_str(a);
                }
                !verb.is_empty()
                    && verb.len() <= 20
                    && verb.bytes().all(|b| b.is_ascii_alphanumeric())
                    && Verb::from_keyword(verb) == Verb::Unknown
                    && args.is_none_or(|a| !a.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f))
            }
        };
        // The AUTH continuation lines are longer, but a command line is bounded.
        if !ok || line.len() + 2 > MAX_COMMAND_LINE && !matches!(self, Self::Auth { .. }) {
            return Err(err);
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Command<'_>, CommandError> {
        Command::parse_line(s.as_bytes())
    }

    #[test]
    fn rfc1939_commands() {
        assert_eq!(parse("USER mrose"), Ok(Command::User { name: "mrose" }));
        assert_eq!(parse("pass secret word "), Ok(Command::Pass { password: "secret word ".into() }));
        assert_eq!(
            parse("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            Ok(Command::Apop { name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb" })
        );
        assert_eq!(parse("STAT"), Ok(Command::Stat));
        assert_eq!(parse("LIST"), Ok(Command::List { msg: None }));
        assert_eq!(parse("LIST 2"), Ok(Command::List { msg: Some(2) }));
        assert_eq!(parse("retr 1"), Ok(Command::Retr { msg: 1 }));
        assert_eq!(parse("DELE 1"), Ok(Command::Dele { msg: 1 }));
        assert_eq!(parse("TOP 1 10"), Ok(Command::Top { msg: 1, lines: 10 }));
        assert_eq!(parse("UIDL"), Ok(Command::Uidl { msg: None }));
        assert_eq!(parse("QUIT "), Ok(Command::Quit));
        assert_eq!(parse("AUTH"), Ok(Command::Auth { mechanism: None, initial_response: None }));
        assert_eq!(
            parse("AUTH PLAIN ="),
            Ok(Command::Auth { mechanism: Some("PLAIN"), initial_response: Some("".into()) })
        );
        assert_eq!(parse("XTND XMIT"), Ok(Command::Unknown { verb: "XTND", args: Some("XMIT") }));
    }

    #[test]
    fn every_keyword_in_any_case() {
        use Verb::*;
        for v in [User, Pass, Apop, Auth, Stls, Capa, Stat, List, Retr, Dele, Noop, Rset, Quit, Top, Uidl, Utf8] {
            assert_eq!(Verb::from_keyword(v.as_str()), v);
            assert_eq!(Verb::from_keyword(&v.as_str().to_ascii_lowercase()), v);
        }
        for k in ["TOPS", "TO", "RETRX", "utf9", "U\u{e9}L", "", "TO P"] {
            assert_eq!(Verb::from_keyword(k), Unknown, "{k}");
        }
    }

    #[test]
    fn bad_arguments_are_syntax_errors() {
        for (line, verb) in [
            ("USER", Verb::User),
            ("PASS", Verb::Pass),
            ("RETR", Verb::Retr),
            ("RETR x", Verb::Retr),
            ("RETR -1", Verb::Retr),
            ("RETR 99999999999", Verb::Retr),
            ("DELE 1 2", Verb::Dele),
            ("TOP 1", Verb::Top),
            ("STAT 1", Verb::Stat),
            ("APOP a 123", Verb::Apop),
            ("AUTH PLAIN !!!!", Verb::Auth),
            ("AUTH PL*AIN", Verb::Auth),
        ] {
            assert_eq!(parse(line), Err(CommandError::Syntax(verb)), "{line}");
        }
        assert_eq!(parse(""), Err(CommandError::Unrecognized));
        assert_eq!(parse("\u{1}\u{2}"), Err(CommandError::Unrecognized));
        assert_eq!(Command::parse_line(b"\xff\xfe"), Err(CommandError::Unrecognized));
    }

    #[test]
    fn encode_refuses_injection() {
        let mut out = Vec::new();
        assert!(Command::User { name: "a\r\nDELE 1" }.encode(&mut out).is_err());
        assert!(Command::Pass { password: "x\r\nDELE 1".into() }.encode(&mut out).is_err());
        assert!(Command::Unknown { verb: "RETR", args: None }.encode(&mut out).is_err());
        assert!(Command::Pass { password: Secret::new(&"p".repeat(300)) }.encode(&mut out).is_err());
        assert!(out.is_empty());
        Command::Top { msg: 3, lines: 0 }.encode(&mut out).unwrap();
        assert_eq!(out, b"TOP 3 0\r\n");
    }
}
