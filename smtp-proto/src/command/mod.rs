//! Commands: `Command = verb [SP arguments] CRLF`
//! ([RFC 5321 §4.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1)) and the verbs of
//! the extensions (STARTTLS, AUTH, BDAT, ETRN, ATRN).
//!
//! [`Command::parse`] finds the line and parses it, borrowing from the input;
//! [`Command::parse_str`] does the same on text already checked as UTF-8 (a pipelined batch
//! checked once); [`Command::parse_line`] parses a line already framed; [`Command::encode`]
//! writes one, refusing any value that would not parse back to itself.

mod encode;
mod error;
mod params;
#[cfg(test)]
mod tests;

pub use error::{CommandError, EncodeError, ParamError};
pub use params::{Body, MailParams, Notify, Orcpt, Param, RcptParams, Ret, XText};

use std::borrow::Cow;

use crate::address::{self, ForwardPath, PathError, ReversePath};
use crate::class::Keyword;
use crate::{Mechanism, Secret, Status};

/// A parsed command; text fields borrow from the input line.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `HELO SP Domain`.
    Helo {
        /// The client's name for itself.
        host: Cow<'a, str>,
    },
    /// `EHLO SP ( Domain / address-literal )`.
    Ehlo {
        /// The client's name for itself.
        host: Cow<'a, str>,
    },
    /// `MAIL FROM:Reverse-path [SP Mail-parameters]`.
    Mail {
        /// The sender.
        from: ReversePath<'a>,
        /// The parameters; boxed (one allocation per MAIL) so that every command fits in 128
        /// octets, and the forty RCPTs of a transaction move as registers, not by `memcpy`.
        params: Box<MailParams<'a>>,
    },
    /// `RCPT TO:( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`.
    Rcpt {
        /// The recipient.
        to: ForwardPath<'a>,
        /// The parameters.
        params: RcptParams<'a>,
    },
    /// `DATA`.
    Data,
    /// `BDAT SP chunk-size [SP end-marker]` ([RFC 3030 §2](https://www.rfc-editor.org/rfc/rfc3030#section-2)).
    Bdat {
        /// Octets of message data that follow the command line.
        size: u64,
        /// `LAST`: this chunk ends the message.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `VRFY SP String`.
    Vrfy {
        /// What to verify.
        arg: Cow<'a, str>,
    },
    /// `EXPN SP String`.
    Expn {
        /// The list to expand.
        arg: Cow<'a, str>,
    },
    /// `HELP [SP String]`.
    Help {
        /// The topic.
        topic: Option<Cow<'a, str>>,
    },
    /// `NOOP [SP String]`.
    Noop {
        /// The ignored argument.
        arg: Option<Cow<'a, str>>,
    },
    /// `QUIT`.
    Quit,
    /// `STARTTLS` ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
    StartTls,
    /// `AUTH SP sasl-mech [SP initial-response]` ([RFC 4954 §4](https://www.rfc-editor.org/rfc/rfc4954#section-4)).
    Auth {
        /// The mechanism.
        mechanism: Mechanism<'a>,
        /// The initial response, still base64-encoded; `=` (empty) is `Some("")`.
        initial_response: Option<Secret<Cow<'a, str>>>,
    },
    /// `ETRN SP [ "@" / "#" ] Domain` ([RFC 1985](https://www.rfc-editor.org/rfc/rfc1985)).
    Etrn {
        /// The node or queue name, with its `@` or `#` prefix if any.
        queue: Cow<'a, str>,
    },
    /// `ATRN [SP domain *("," domain)]` ([RFC 2645](https://www.rfc-editor.org/rfc/rfc2645)).
    Atrn {
        /// The comma-separated domains, if given; see [`Command::atrn_domains`].
        domains: Option<Cow<'a, str>>,
    },
    /// Any other verb, kept so that the embedder may answer it.
    Unknown {
        /// The verb, as sent.
        verb: Cow<'a, str>,
        /// Everything after the first SP, if anything.
        args: Option<Cow<'a, str>>,
    },
}

/// The verbs, for matching without the arguments and for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
    Etrn,
    Atrn,
    Unknown,
}

impl Verb {
    /// The syntax hint sent back with a 501 reply.
    pub fn usage(self) -> &'static str {
        match self {
            Self::Helo => "Syntax: HELO hostname",
            Self::Ehlo => "Syntax: EHLO hostname",
            Self::Mail => "Syntax: MAIL FROM:<address> [parameters]",
            Self::Rcpt => "Syntax: RCPT TO:<address> [parameters]",
            Self::Data => "Syntax: DATA",
            Self::Bdat => "Syntax: BDAT size [LAST]",
            Self::Rset => "Syntax: RSET",
            Self::Vrfy => "Syntax: VRFY address",
            Self::Expn => "Syntax: EXPN list",
            Self::Help => "Syntax: HELP [topic]",
            Self::Noop => "Syntax: NOOP [text]",
            Self::Quit => "Syntax: QUIT",
            Self::StartTls => "Syntax: STARTTLS",
            Self::Auth => "Syntax: AUTH mechanism [initial-response]",
            Self::Etrn => "Syntax: ETRN [@#]domain",
            Self::Atrn => "Syntax: ATRN [domain[,domain]...]",
            Self::Unknown => "Syntax error",
        }
    }
}

/// Packs a 4-letter verb into a `u32`, upper-cased: one compare per verb, no allocation.
const fn verb4(v: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*v)
}

const CASE_MASK: u32 = 0xDFDF_DFDF;

/// Whether the four octets of `w` are ASCII letters: each lane, lower-cased, is within
/// `a..=z` (lanes below 0x80 cannot carry into each other).
#[inline]
fn four_letters(w: u32) -> bool {
    const HI: u32 = 0x8080_8080;
    let l = w | 0x2020_2020;
    let ge_a = l.wrapping_add(0x0101_0101 * (0x80 - u32::from(b'a')));
    let gt_z = l.wrapping_add(0x0101_0101 * (0x7f - u32::from(b'z')));
    w & HI == 0 && ge_a & !gt_z & HI == HI
}

/// Finds the end of the line at the start of `input`: returns the line without its line
/// ending and the length consumed. CRLF is the terminator; a bare LF is accepted for
/// commands (no smuggling risk outside DATA).
pub(crate) fn find_line(input: &[u8]) -> Option<(&[u8], usize)> {
    let lf = crate::block::find_lf(input)?;
    let line = &input[..lf];
    Some((line.strip_suffix(b"\r").unwrap_or(line), lf + 1))
}

fn text(s: &str, verb: Verb) -> Result<Cow<'_, str>, CommandError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(CommandError::Syntax(verb));
    }
    Ok(Cow::Borrowed(s))
}

impl<'a> Command<'a> {
    /// Parses one command at the start of `input`; returns it and the bytes consumed
    /// (line ending included), or [`Status::Partial`] when no line ending has arrived yet.
    ///
    /// Line length is not bounded here: framing code (the server session) bounds it.
    pub fn parse(input: &'a [u8]) -> Result<Status<(Self, usize)>, CommandError> {
        match find_line(input) {
            None => Ok(Status::Partial),
            Some((line, used)) => Self::parse_line(line).map(|command| Status::Complete((command, used))),
        }
    }

    /// Parses one command line, without its line ending.
    #[inline]
    pub fn parse_line(line: &'a [u8]) -> Result<Self, CommandError> {
        // One UTF-8 check for the whole line; every field below is a slice of it.
        match std::str::from_utf8(line) {
            Ok(line) => Self::parse_line_str(line),
            Err(_) => {
                let verb_is = |v: &[u8]| line.get(..4).is_some_and(|l| l.eq_ignore_ascii_case(v));
                Err(if verb_is(b"MAIL") {
                    CommandError::InvalidSender(PathError::InvalidUtf8)
                } else if verb_is(b"RCPT") {
                    CommandError::InvalidRecipient(PathError::InvalidUtf8)
                } else {
                    CommandError::Unrecognized
                })
            }
        }
    }

    /// [`Command::parse`] on input already known to be UTF-8: the same result, without a
    /// UTF-8 check per line. For a batch of pipelined commands, checking the whole buffer
    /// once with [`std::str::from_utf8`] costs a fraction of checking each short line (and
    /// [`std::str::Utf8Error::valid_up_to`] tells how far the batch can go this way; the
    /// lines after it go to [`Command::parse`], which reports the bad one).
    ///
    /// ```
    /// use sansmail_smtp_proto::{Command, Status};
    ///
    /// let batch = std::str::from_utf8(b"RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n").unwrap();
    /// let (mut rest, mut n) = (batch, 0);
    /// while let Ok(Status::Complete((cmd, used))) = Command::parse_str(rest) {
    ///     assert!(matches!(cmd, Command::Rcpt { .. }));
    ///     rest = &rest[used..];
    ///     n += 1;
    /// }
    /// assert_eq!(n, 2);
    /// ```
    pub fn parse_str(input: &'a str) -> Result<Status<(Self, usize)>, CommandError> {
        match find_line(input.as_bytes()) {
            None => Ok(Status::Partial),
            // The line ends at an ASCII octet, so the cut is on a character boundary.
            Some((line, used)) => match input.get(..line.len()) {
                Some(line) => Self::parse_line_str(line).map(|command| Status::Complete((command, used))),
                None => Err(CommandError::Unrecognized),
            },
        }
    }

    /// The verb dispatch, inlined into both entry points so that the command is built where
    /// it is returned (an out-of-line call here costs a copy of every command).
    #[inline(always)]
    fn parse_line_str(line: &'a str) -> Result<Self, CommandError> {
        // Nearly every verb is four letters then SP or the end: one word, no search.
        let b = line.as_bytes();
        let (verb, args, word) = match b.first_chunk::<4>() {
            Some(&w) if matches!(b.get(4), None | Some(b' ')) && four_letters(u32::from_le_bytes(w)) => {
                (line.get(..4).unwrap_or(line), line.get(5..), Some(u32::from_le_bytes(w)))
            }
            _ => {
                let (verb, args) = split_verb(line);
                (verb, args, None)
            }
        };
        let Some(word) = word else {
            if verb.eq_ignore_ascii_case("STARTTLS") {
                return no_args(args, Self::StartTls, Verb::StartTls);
            }
            return Self::unknown(verb, args);
        };
        // All four bytes are letters, so the mask upper-cases them exactly.
        match word & CASE_MASK {
            w if w == verb4(b"RCPT") => Self::rcpt(args),
            w if w == verb4(b"MAIL") => Self::mail(args),
            w if w == verb4(b"EHLO") => Self::hello(args, Verb::Ehlo),
            w if w == verb4(b"HELO") => Self::hello(args, Verb::Helo),
            w if w == verb4(b"DATA") => no_args(args, Self::Data, Verb::Data),
            w if w == verb4(b"BDAT") => Self::bdat(args),
            w if w == verb4(b"RSET") => no_args(args, Self::Rset, Verb::Rset),
            w if w == verb4(b"QUIT") => no_args(args, Self::Quit, Verb::Quit),
            w if w == verb4(b"NOOP") => Ok(Self::Noop { arg: args.map(|a| text(a, Verb::Noop)).transpose()? }),
            w if w == verb4(b"AUTH") => Self::auth(args),
            w if w == verb4(b"VRFY") => Ok(Self::Vrfy { arg: required_text(args, Verb::Vrfy)? }),
            w if w == verb4(b"EXPN") => Ok(Self::Expn { arg: required_text(args, Verb::Expn)? }),
            w if w == verb4(b"HELP") => Ok(Self::Help { topic: args.map(|a| text(a, Verb::Help)).transpose()? }),
            w if w == verb4(b"ETRN") => Self::etrn(args),
            w if w == verb4(b"ATRN") => Self::atrn(args),
            _ => Self::unknown(verb, args),
        }
    }

    fn unknown(verb: &'a str, args: Option<&'a str>) -> Result<Self, CommandError> {
        // A verb is a token of letters, digits and hyphens (keyword-like); anything else,
        // such as binary noise, is not a command at all.
        if verb.is_empty() || verb.len() > 20 || !verb.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CommandError::Unrecognized);
        }
        let args = args.map(|a| text(a, Verb::Unknown)).transpose().map_err(|_| CommandError::Unrecognized)?;
        Ok(Self::Unknown { verb: Cow::Borrowed(verb), args })
    }

    /// `HELO SP Domain` / `EHLO SP ( Domain / address-literal )`. The name is checked only
    /// for being one printable token: real clients send names that are not valid domains,
    /// and RFC 5321 §4.1.4 says the name must not cause the session to be refused.
    fn hello(args: Option<&'a str>, verb: Verb) -> Result<Self, CommandError> {
        let host = args.map(|a| a.strip_suffix(' ').unwrap_or(a)).ok_or(CommandError::Syntax(verb))?;
        if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(CommandError::Syntax(verb));
        }
        let host = Cow::Borrowed(host);
        Ok(if verb == Verb::Ehlo { Self::Ehlo { host } } else { Self::Helo { host } })
    }

    #[inline]
    fn mail(args: Option<&'a str>) -> Result<Self, CommandError> {
        let rest = path_args(args, &FROM, Verb::Mail)?;
        // The common shape first, built where it is returned; then the full grammar.
        let (from, rest) = match address::simple_path(rest) {
            Some((mailbox, rest)) => (ReversePath::Mailbox(mailbox), rest),
            None => address::reverse_path(rest).map_err(CommandError::InvalidSender)?,
        };
        let params = parse_params(rest, Verb::Mail, MailParams::parse)?;
        if !params.smtputf8 && !from.is_ascii() {
            return Err(CommandError::Utf8WithoutSmtputf8);
        }
        Ok(Self::Mail { from, params: Box::new(params) })
    }

    #[inline]
    fn rcpt(args: Option<&'a str>) -> Result<Self, CommandError> {
        let rest = path_args(args, &TO, Verb::Rcpt)?;
        let (to, rest) = match address::simple_path(rest) {
            Some((mailbox, rest)) => (ForwardPath::Mailbox(mailbox), rest),
            None => address::forward_path(rest).map_err(CommandError::InvalidRecipient)?,
        };
        let params = parse_params(rest, Verb::Rcpt, RcptParams::parse)?;
        Ok(Self::Rcpt { to, params })
    }

    fn bdat(args: Option<&'a str>) -> Result<Self, CommandError> {
        let args = args.ok_or(CommandError::Syntax(Verb::Bdat))?;
        let (size, last) = match split_byte(args, b' ') {
            Some((size, marker)) if marker.eq_ignore_ascii_case("LAST") => (size, true),
            Some(_) => return Err(CommandError::Syntax(Verb::Bdat)),
            None => (args, false),
        };
        let size = params::number(size.as_bytes()).ok_or(CommandError::Syntax(Verb::Bdat))?;
        Ok(Self::Bdat { size, last })
    }

    fn auth(args: Option<&'a str>) -> Result<Self, CommandError> {
        let args = args.ok_or(CommandError::Syntax(Verb::Auth))?;
        let (mech, initial) = match split_byte(args, b' ') {
            Some((m, i)) => (m, Some(i)),
            None => (args, None),
        };
        let mechanism = Mechanism::parse(mech.as_bytes()).ok_or(CommandError::Syntax(Verb::Auth))?;
        let initial_response = match initial {
            None => None,
            Some("=") => Some(Cow::Borrowed("")),
            Some(r) if is_base64(r.as_bytes()) => Some(Cow::Borrowed(r)),
            Some(_) => return Err(CommandError::Syntax(Verb::Auth)),
        };
        Ok(Self::Auth { mechanism, initial_response: initial_response.map(Secret::new) })
    }

    fn etrn(args: Option<&'a str>) -> Result<Self, CommandError> {
        let arg = args.ok_or(CommandError::Syntax(Verb::Etrn))?;
        // `#queue` names are opaque; `@domain` and `domain` must be domains.
        let ok = match arg.strip_prefix('#') {
            Some(queue) => !queue.is_empty() && queue.bytes().all(|b| b > b' ' && b < 0x7f),
            None => address::is_domain_or_literal(arg.strip_prefix('@').unwrap_or(arg)),
        };
        if !ok {
            return Err(CommandError::Syntax(Verb::Etrn));
        }
        Ok(Self::Etrn { queue: Cow::Borrowed(arg) })
    }

    fn atrn(args: Option<&'a str>) -> Result<Self, CommandError> {
        let Some(arg) = args else { return Ok(Self::Atrn { domains: None }) };
        if arg.split(',').any(|d| !address::is_domain_name(d.as_bytes())) {
            return Err(CommandError::Syntax(Verb::Atrn));
        }
        Ok(Self::Atrn { domains: Some(Cow::Borrowed(arg)) })
    }

    /// The domains of an ATRN command (empty for other commands or a bare `ATRN`).
    pub fn atrn_domains(&self) -> impl Iterator<Item = &str> {
        let list = match self {
            Self::Atrn { domains: Some(d) } => d.as_ref(),
            _ => "",
        };
        list.split(',').filter(|d| !d.is_empty())
    }

    /// The verb of this command.
    pub fn verb(&self) -> Verb {
        match self {
            Self::Helo { .. } => Verb::Helo,
            Self::Ehlo { .. } => Verb::Ehlo,
            Self::Mail { .. } => Verb::Mail,
            Self::Rcpt { .. } => Verb::Rcpt,
            Self::Data => Verb::Data,
            Self::Bdat { .. } => Verb::Bdat,
            Self::Rset => Verb::Rset,
            Self::Vrfy { .. } => Verb::Vrfy,
            Self::Expn { .. } => Verb::Expn,
            Self::Help { .. } => Verb::Help,
            Self::Noop { .. } => Verb::Noop,
            Self::Quit => Verb::Quit,
            Self::StartTls => Verb::StartTls,
            Self::Auth { .. } => Verb::Auth,
            Self::Etrn { .. } => Verb::Etrn,
            Self::Atrn { .. } => Verb::Atrn,
            Self::Unknown { .. } => Verb::Unknown,
        }
    }

    /// Detaches the command from the line it borrows.
    pub fn into_owned(self) -> Command<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Self::Helo { host } => Command::Helo { host: own(host) },
            Self::Ehlo { host } => Command::Ehlo { host: own(host) },
            Self::Mail { from, params } => {
                Command::Mail { from: from.into_owned(), params: Box::new(params.into_owned()) }
            }
            Self::Rcpt { to, params } => Command::Rcpt { to: to.into_owned(), params: params.into_owned() },
            Self::Data => Command::Data,
            Self::Bdat { size, last } => Command::Bdat { size, last },
            Self::Rset => Command::Rset,
            Self::Vrfy { arg } => Command::Vrfy { arg: own(arg) },
            Self::Expn { arg } => Command::Expn { arg: own(arg) },
            Self::Help { topic } => Command::Help { topic: topic.map(own) },
            Self::Noop { arg } => Command::Noop { arg: arg.map(own) },
            Self::Quit => Command::Quit,
            Self::StartTls => Command::StartTls,
            Self::Auth { mechanism, initial_response } => Command::Auth {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response.map(|r| Secret::new(own(r.into_inner()))),
            },
            Self::Etrn { queue } => Command::Etrn { queue: own(queue) },
            Self::Atrn { domains } => Command::Atrn { domains: domains.map(own) },
            Self::Unknown { verb, args } => Command::Unknown { verb: own(verb), args: args.map(own) },
        }
    }
}

/// Splits at the first SP (four-letter verbs never get here: `parse_line_str` reads them as a word).
#[inline]
fn split_verb(line: &str) -> (&str, Option<&str>) {
    match split_byte(line, b' ') {
        Some((verb, args)) => (verb, Some(args)),
        None => (line, None),
    }
}

/// Splits `s` at the first `delim` (a block search, not `str::split_once`'s).
#[inline]
fn split_byte(s: &str, delim: u8) -> Option<(&str, &str)> {
    let at = crate::block::find_byte(s.as_bytes(), delim)?;
    Some((&s[..at], &s[at + 1..]))
}

fn no_args<'a>(args: Option<&str>, cmd: Command<'a>, verb: Verb) -> Result<Command<'a>, CommandError> {
    // A trailing space is tolerated; any argument is not.
    match args {
        None | Some("") => Ok(cmd),
        Some(_) => Err(CommandError::Syntax(verb)),
    }
}

fn required_text(args: Option<&str>, verb: Verb) -> Result<Cow<'_, str>, CommandError> {
    match args {
        Some(a) if !a.is_empty() => text(a, verb),
        _ => Err(CommandError::Syntax(verb)),
    }
}

const FROM: Keyword = Keyword::new(b"FROM:");
const TO: Keyword = Keyword::new(b"TO:");

/// Matches `FROM:` / `TO:` case-insensitively and skips spaces after the colon, a
/// deviation from RFC 5321 §4.1.2 that most clients rely on.
#[inline]
fn path_args<'a>(args: Option<&'a str>, prefix: &Keyword, verb: Verb) -> Result<&'a str, CommandError> {
    let args = args.ok_or(CommandError::Syntax(verb))?;
    let n = prefix.len();
    match args.get(..n) {
        Some(p) if prefix.matches(p.as_bytes()) => Ok(args[n..].trim_start_matches(' ')),
        _ => Err(CommandError::Syntax(verb)),
    }
}

#[inline]
fn parse_params<'a, T: Default>(
    rest: &'a str,
    verb: Verb,
    parse: fn(&'a str) -> Result<T, ParamError>,
) -> Result<T, CommandError> {
    match rest.as_bytes().first() {
        None => Ok(T::default()),
        Some(b' ') => parse(&rest[1..]).map_err(|e| CommandError::InvalidParameter(verb, e)),
        Some(&byte) => {
            let e = PathError::InvalidByteAt { byte, at: 0 };
            Err(if verb == Verb::Mail { CommandError::InvalidSender(e) } else { CommandError::InvalidRecipient(e) })
        }
    }
}

/// `base64 = base64-terminal / ( 1*(4base64-char) [base64-terminal] )` — characters and
/// padding shape only; decoding is the session's.
pub(crate) fn is_base64(s: &[u8]) -> bool {
    let body = s.strip_suffix(b"==").or_else(|| s.strip_suffix(b"=")).unwrap_or(s);
    !s.is_empty()
        && s.len().is_multiple_of(4)
        && body.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}
