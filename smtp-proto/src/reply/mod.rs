//! Replies: `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`
//! ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)), with the enhanced
//! status codes of [RFC 3463](https://www.rfc-editor.org/rfc/rfc3463) /
//! [RFC 2034](https://www.rfc-editor.org/rfc/rfc2034).
//!
//! Reading replies is two steps: [`ReplyFramer`] finds where a whole (possibly multi-line)
//! reply ends, scanning each byte once and bounding lines and size; [`Reply::parse`] then
//! parses those bytes.

mod codes;
mod ehlo;
#[cfg(test)]
mod tests;

pub use codes::{EnhancedCode, ReplyCode};
pub use ehlo::{Capability, EhloReply};

use std::borrow::Cow;
use std::fmt;

use nom::bytes::complete::take_while_m_n;
use nom::character::complete::{char, one_of};
use nom::combinator::{map_res, opt};
use nom::{IResult, Parser};

use crate::Status;

/// A reply: a code, an optional enhanced status code, and text whose lines are joined by `\n`.
///
/// Every `Reply` is one a client can read: the constructors refuse a code outside RFC 5321's
/// grammar and an enhanced code whose class is not the reply's (RFC 3463 §3), so the fields
/// are read through [`code`](Self::code), [`enhanced`](Self::enhanced) and
/// [`text`](Self::text). Control characters in the text are written as SP, so no text can
/// inject a line.
///
/// A constant reply is checked when it is compiled:
///
/// ```compile_fail
/// use sansmail_smtp_proto::Reply;
/// const NO_SUCH_CODE: Reply<'static> = Reply::new(99, (2, 0, 0), "no");
/// ```
///
/// ```compile_fail
/// use sansmail_smtp_proto::Reply;
/// const WRONG_CLASS: Reply<'static> = Reply::new(250, (5, 0, 0), "OK?");
/// ```
///
/// A reply built from values known only at run time goes through [`Reply::try_new`]:
///
/// ```
/// use sansmail_smtp_proto::{InvalidReply, Reply};
/// assert_eq!(Reply::try_new(1000, None, "x"), Err(InvalidReply::Code(1000)));
/// let r = Reply::try_new(451, Some((4, 3, 0)), format!("try again in {} s", 30)).unwrap();
/// assert_eq!(r.to_string(), "451 4.3.0 try again in 30 s");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reply<'a> {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    text: Cow<'a, str>,
}

/// Why [`Reply::try_new`] refused its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReply {
    /// A code outside `%x32-35 %x30-35 %x30-39` (RFC 5321 §4.2).
    Code(u16),
    /// An enhanced code whose class is not 2, 4 or 5, or not the reply code's first digit,
    /// or whose subject or detail has more than three digits (RFC 3463 §2–3).
    Enhanced(u8, u16, u16),
}

impl fmt::Display for InvalidReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c} is not an SMTP reply code"),
            Self::Enhanced(c, s, d) => write!(f, "{c}.{s}.{d} is not an enhanced code for this reply"),
        }
    }
}

impl std::error::Error for InvalidReply {}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Reply<'a> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let code = ReplyCode::arbitrary(u)?;
        let enhanced = match (code.class(), bool::arbitrary(u)?) {
            (2 | 4 | 5, true) => {
                let e = EnhancedCode::arbitrary(u)?;
                Some(EnhancedCode { class: code.class() as u8, ..e })
            }
            _ => None,
        };
        Ok(Self { code, enhanced, text: Cow::arbitrary(u)? })
    }
}

/// Why a reply could not be read. Each variant is the peer's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line is longer than [`ReplyLimits::line`].
    LineTooLong,
    /// More lines than [`ReplyLimits::lines`].
    TooManyLines,
    /// A reply code that is not three digits `[2-5][0-5][0-9]`.
    InvalidCode,
    /// The lines of one reply carry different codes.
    MixedCodes,
    /// A separator other than `-` or SP after the code, or a control byte in the text.
    Syntax,
    /// Text that is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LineTooLong => "reply line too long",
            Self::TooManyLines => "reply has too many lines",
            Self::InvalidCode => "invalid reply code",
            Self::MixedCodes => "reply lines carry different codes",
            Self::Syntax => "reply syntax error",
            Self::InvalidUtf8 => "reply text is not UTF-8",
        })
    }
}

impl std::error::Error for ReplyError {}

/// Bounds on one reply, so that a hostile server cannot make a reader buffer without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest line, CRLF included. RFC 5321 §4.5.3.1.5 says 512; real servers send longer
    /// text, so the default is 2,048.
    pub line: usize,
    /// Most lines in one reply (EHLO replies have a few dozen at most). Default 128.
    pub lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self { line: 2048, lines: 128 }
    }
}

/// Finds the end of one reply in a growing buffer, scanning each byte once.
///
/// Feed it the whole buffer each time (it remembers how far it has looked); after
/// [`Status::Complete`]`(n)`, parse `buf[..n]` with [`Reply::parse`], drop those bytes and
/// call [`ReplyFramer::reset`].
#[derive(Clone, Debug, Default)]
pub struct ReplyFramer {
    limits: ReplyLimits,
    scanned: usize,
    line_start: usize,
    lines: usize,
    code: Option<[u8; 3]>,
}

impl ReplyFramer {
    /// A framer with these limits.
    pub fn new(limits: ReplyLimits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Forgets the reply just framed; the next call starts at offset 0.
    pub fn reset(&mut self) {
        *self = Self::new(self.limits);
    }

    /// Looks for the end of the reply that starts at `buf[0]`.
    pub fn frame(&mut self, buf: &[u8]) -> Result<Status<usize>, ReplyError> {
        loop {
            let from = self.scanned.max(self.line_start);
            let Some(rest) = buf.get(from..) else { return Ok(Status::Partial) };
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.scanned = buf.len();
                if buf.len() - self.line_start > self.limits.line {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(Status::Partial);
            };
            let end = from + lf + 1;
            let line = &buf[self.line_start..end];
            if line.len() > self.limits.line {
                return Err(ReplyError::LineTooLong);
            }
            self.lines += 1;
            if self.lines > self.limits.lines {
                return Err(ReplyError::TooManyLines);
            }
            let code: [u8; 3] = match line.get(..3).and_then(|c| <[u8; 3]>::try_from(c).ok()) {
                Some(c) if is_code(&c) => c,
                _ => return Err(ReplyError::InvalidCode),
            };
            if *self.code.get_or_insert(code) != code {
                return Err(ReplyError::MixedCodes);
            }
            self.line_start = end;
            self.scanned = end;
            match line.get(3) {
                Some(b'-') => continue,
                Some(b' ' | b'\r' | b'\n') => return Ok(Status::Complete(end)),
                _ => return Err(ReplyError::Syntax),
            }
        }
    }
}

fn is_code(c: &[u8; 3]) -> bool {
    matches!(c, [b'2'..=b'5', b'0'..=b'5', b'0'..=b'9'])
}

/// `Reply-code = %x32-35 %x30-35 %x30-39`.
fn reply_code(i: &[u8]) -> IResult<&[u8], ReplyCode> {
    map_res(take_while_m_n(3, 3, |b: u8| b.is_ascii_digit()), |d: &[u8]| {
        let c = <[u8; 3]>::try_from(d).map_err(|_| ())?;
        if !is_code(&c) {
            return Err(());
        }
        Ok(ReplyCode(c.iter().fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))))
    })
    .parse(i)
}

/// `1*3digit`, as the subject and detail of an enhanced code.
fn digits_1_3(i: &[u8]) -> IResult<&[u8], u16> {
    map_res(take_while_m_n(1, 3, |b: u8| b.is_ascii_digit()), |d: &[u8]| {
        Ok::<u16, ()>(d.iter().fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0')))
    })
    .parse(i)
}

/// `status-code = class "." subject "." detail` ([RFC 3463 §2](https://www.rfc-editor.org/rfc/rfc3463#section-2)),
/// followed by SP or the end of the line.
fn enhanced_code(i: &[u8]) -> IResult<&[u8], EnhancedCode> {
    let (i, (class, _, subject, _, detail)) = (one_of("245"), char('.'), digits_1_3, char('.'), digits_1_3).parse(i)?;
    let (i, _) = opt(char(' ')).parse(i)?;
    Ok((i, EnhancedCode { class: class as u8 - b'0', subject, detail }))
}

/// One line: code, separator, text (without CRLF).
fn reply_line(i: &[u8]) -> IResult<&[u8], (ReplyCode, bool, &[u8])> {
    let (i, code) = reply_code(i)?;
    if i.is_empty() {
        return Ok((i, (code, true, i)));
    }
    let (text, sep) = one_of(" -").parse(i)?;
    Ok((&[][..], (code, sep == ' ', text)))
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn text_utf8(t: &[u8]) -> Result<&str, ReplyError> {
    if t.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(ReplyError::Syntax);
    }
    std::str::from_utf8(t).map_err(|_| ReplyError::InvalidUtf8)
}

impl<'a> Reply<'a> {
    /// Checks a code and an enhanced code as [`Reply::try_new`] does.
    const fn check(
        code: u16,
        enhanced: Option<(u8, u16, u16)>,
    ) -> Result<(ReplyCode, Option<EnhancedCode>), InvalidReply> {
        let Some(code) = ReplyCode::new(code) else { return Err(InvalidReply::Code(code)) };
        let Some((class, subject, detail)) = enhanced else { return Ok((code, None)) };
        match EnhancedCode::new(class, subject, detail) {
            Some(e) if class as u16 == code.class() => Ok((code, Some(e))),
            _ => Err(InvalidReply::Enhanced(class, subject, detail)),
        }
    }

    /// A reply with an enhanced status code, for constants: `Reply::new(250, (2, 1, 0), "OK")`.
    ///
    /// # Panics
    /// If the code or the enhanced code is invalid (see [`Reply::try_new`]); in a `const`
    /// that is a compile error, which is what this constructor is for.
    #[allow(clippy::panic)]
    pub const fn new(code: u16, enhanced: (u8, u16, u16), text: &'a str) -> Self {
        match Self::check(code, Some(enhanced)) {
            Ok((code, enhanced)) => Self { code, enhanced, text: Cow::Borrowed(text) },
            Err(_) => panic!("invalid SMTP reply code or enhanced code"),
        }
    }

    /// A reply without an enhanced status code, for constants: `Reply::basic(354, "Go ahead")`.
    ///
    /// # Panics
    /// If the code is invalid; in a `const` that is a compile error.
    #[allow(clippy::panic)]
    pub const fn basic(code: u16, text: &'a str) -> Self {
        match Self::check(code, None) {
            Ok((code, enhanced)) => Self { code, enhanced, text: Cow::Borrowed(text) },
            Err(_) => panic!("invalid SMTP reply code"),
        }
    }

    /// A reply from values known at run time, or why it cannot be one: the code must be
    /// 200–559 with a second digit of 0–5, and an enhanced code must have the reply's class
    /// (2, 4 or 5; a 3yz reply has none) and a subject and detail under 1000.
    pub fn try_new(
        code: u16,
        enhanced: Option<(u8, u16, u16)>,
        text: impl Into<Cow<'a, str>>,
    ) -> Result<Self, InvalidReply> {
        let (code, enhanced) = Self::check(code, enhanced)?;
        Ok(Self { code, enhanced, text: text.into() })
    }

    /// The same code and enhanced code with other text: `REFUSED.with_text(format!(..))`.
    pub fn with_text<'b>(self, text: impl Into<Cow<'b, str>>) -> Reply<'b> {
        Reply { code: self.code, enhanced: self.enhanced, text: text.into() }
    }

    /// The three-digit reply code.
    pub const fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, when the peer sent one (or the reply is to carry one).
    pub const fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text; a multi-line reply has its lines joined by `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Parses one whole reply, as framed by [`ReplyFramer`]; `input` must end at its last line.
    ///
    /// The enhanced code is recognised when the first line's text starts with one whose class
    /// matches the reply code's first digit; it is then stripped from every line that repeats it.
    pub fn parse(input: &'a [u8]) -> Result<Self, ReplyError> {
        let mut lines = input.split_inclusive(|&b| b == b'\n').map(strip_eol);
        let first = lines.next().ok_or(ReplyError::Syntax)?;
        let (code, mut last, first_text) = parse_line(first)?;
        let (enhanced, first_text) = match enhanced_code(first_text) {
            Ok((rest, e)) if u16::from(e.class) == code.0 / 100 => (Some(e), rest),
            _ => (None, first_text),
        };
        let mut text = Cow::Borrowed(text_utf8(first_text)?);
        while !last {
            let line = lines.next().ok_or(ReplyError::Syntax)?;
            let (c, l, t) = parse_line(line)?;
            if c != code {
                return Err(ReplyError::MixedCodes);
            }
            last = l;
            let t = match (enhanced, enhanced_code(t)) {
                (Some(e), Ok((rest, e2))) if e == e2 => rest,
                _ => t,
            };
            let owned = text.to_mut();
            owned.push('\n');
            owned.push_str(text_utf8(t)?);
        }
        if lines.next().is_some() {
            return Err(ReplyError::Syntax);
        }
        Ok(Self { code, enhanced, text })
    }

    /// Frames and parses one reply at the start of `input` with default limits; returns it and
    /// the number of bytes it took. Convenient for tests and one-shot use; a session keeps a
    /// [`ReplyFramer`] instead, so a trickled reply is scanned once.
    pub fn parse_prefix(input: &'a [u8]) -> Result<Status<(Self, usize)>, ReplyError> {
        match ReplyFramer::default().frame(input)? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete(n) => Ok(Status::Complete((Self::parse(&input[..n])?, n))),
        }
    }

    /// The lines of the text.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }

    /// Whether the code is 2yz.
    pub const fn is_positive(&self) -> bool {
        self.code.is_positive()
    }

    /// Writes the reply, one line per `\n` of the text. With `enhanced` false the enhanced
    /// code is left out (RFC 2034 uses it only after EHLO). Control characters in the text
    /// are written as SP, so no text can inject a line.
    pub fn encode(&self, out: &mut Vec<u8>, enhanced: bool) {
        let code = self.code.0;
        let digits = [(code / 100) as u8 + b'0', (code / 10 % 10) as u8 + b'0', (code % 10) as u8 + b'0'];
        let mut lines = self.text.split('\n').peekable();
        while let Some(line) = lines.next() {
            out.extend_from_slice(&digits);
            out.push(if lines.peek().is_some() { b'-' } else { b' ' });
            if let (true, Some(e)) = (enhanced, self.enhanced) {
                e.encode(out);
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            let start = out.len();
            out.extend_from_slice(line.as_bytes());
            for b in &mut out[start..] {
                if *b < 0x20 && *b != b'\t' || *b == 0x7f {
                    *b = b' ';
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Reply<'static> {
        Reply { code: self.code, enhanced: self.enhanced, text: Cow::Owned(self.text.into_owned()) }
    }
}

fn parse_line(line: &[u8]) -> Result<(ReplyCode, bool, &[u8]), ReplyError> {
    if reply_code(line).is_err() {
        return Err(ReplyError::InvalidCode);
    }
    reply_line(line).map(|(_, parsed)| parsed).map_err(|_| ReplyError::Syntax)
}

impl fmt::Display for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code.0)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        write!(f, " {}", self.text.replace('\n', " / "))
    }
}
