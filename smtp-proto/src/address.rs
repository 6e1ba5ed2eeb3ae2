//! Paths, mailboxes and domains: the address grammar of
//! [RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2),
//! with the UTF-8 extension of [RFC 6531 §3.3](https://www.rfc-editor.org/rfc/rfc6531#section-3.3).
//!
//! Parsing borrows from the input; every value can be made owned with `into_owned`.
//! Encoding validates, so a value built from untrusted data can never inject a
//! line ending or a `>` into a command.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::block::{PathMasks, bits};
use crate::class::{ATEXT, LDH, LDH_ASCII};

/// Longest domain accepted, in octets ([RFC 5321 §4.5.3.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.2)).
pub const MAX_DOMAIN_LEN: usize = 255;
/// Longest path accepted, in octets, brackets included ([RFC 5321 §4.5.3.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.1.3)).
pub const MAX_PATH_LEN: usize = 256;

/// The domain of a mailbox: a name or an address literal.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Domain<'a> {
    /// `Domain = sub-domain *("." sub-domain)`; U-labels only under SMTPUTF8.
    Name(Cow<'a, str>),
    /// `IPv4-address-literal`, written `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// `IPv6-address-literal`, written `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
    /// `General-address-literal = Standardized-tag ":" 1*dcontent`; boxed, being rare, so
    /// that it does not add to the size of every path and command.
    General(Box<GeneralLiteral<'a>>),
}

/// `General-address-literal = Standardized-tag ":" 1*dcontent`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GeneralLiteral<'a> {
    /// The standardized tag (never `IPv6`, which has its own variant).
    pub tag: Cow<'a, str>,
    /// The literal's content.
    pub content: Cow<'a, str>,
}

impl<'a> Domain<'a> {
    /// A general address literal `[tag:content]`.
    pub fn general(tag: impl Into<Cow<'a, str>>, content: impl Into<Cow<'a, str>>) -> Self {
        Self::General(Box::new(GeneralLiteral { tag: tag.into(), content: content.into() }))
    }
}

/// A mailbox: `Mailbox = Local-part "@" ( Domain / address-literal )`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    /// The local part as it stands on the wire: a dot-string, or a quoted string
    /// with its quotes and backslashes (see [`Mailbox::local_part_unquoted`]).
    pub local_part: Cow<'a, str>,
    /// The domain.
    pub domain: Domain<'a>,
}

/// `Reverse-path = Path / "<>"`: the sender of `MAIL FROM`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath<'a> {
    /// The null path `<>`, used by bounces and auto-replies.
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox<'a>),
}

/// `Forward-path = Path`, or the special `<Postmaster>` of `RCPT TO`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath<'a> {
    /// `<Postmaster>` with no domain ([RFC 5321 §4.5.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.1)).
    Postmaster,
    /// A recipient mailbox.
    Mailbox(Mailbox<'a>),
}

/// Why a path did not parse or encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// A byte that the grammar does not allow here, at this offset of the argument.
    InvalidByteAt {
        /// The offending byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// The path ended before it was complete.
    Truncated,
    /// The path, or its domain, is longer than the RFC limit.
    TooLong,
    /// Non-ASCII text, which needs SMTPUTF8.
    NonAscii,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidByteAt { byte, at } => write!(f, "invalid byte 0x{byte:02x} at {at}"),
            Self::Truncated => f.write_str("path is incomplete"),
            Self::TooLong => f.write_str("path is too long"),
            Self::NonAscii => f.write_str("non-ASCII address without SMTPUTF8"),
            Self::InvalidUtf8 => f.write_str("address is not UTF-8"),
        }
    }
}

impl std::error::Error for PathError {}

/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126` (and UTF-8 under SMTPUTF8).
#[inline]
fn is_qtext(b: u8) -> bool {
    matches!(b, 32..=33 | 35..=91 | 93..=126) || b >= 0x80
}

/// `dcontent = %d33-90 / %d94-126`.
#[inline]
fn is_dcontent(b: u8) -> bool {
    matches!(b, 33..=90 | 94..=126)
}

fn invalid(input: &[u8], at: usize) -> PathError {
    match input.get(at) {
        Some(&byte) => PathError::InvalidByteAt { byte, at },
        None => PathError::Truncated,
    }
}

/// `&s[a..b]`, or an error if the offsets do not fall on character boundaries.
fn sub(s: &str, a: usize, b: usize) -> Result<&str, PathError> {
    s.get(a..b).ok_or(PathError::InvalidUtf8)
}

/// End of the run of `class` bytes from `i`: eight bytes per step while it can (one
/// branch per step), then byte by byte.
#[inline]
fn run_of(b: &[u8], mut i: usize, class: &[bool; 256]) -> usize {
    while let Some(chunk) = b.get(i..i + 8).and_then(|c| <&[u8; 8]>::try_from(c).ok()) {
        if !chunk.iter().fold(true, |ok, &c| ok & class[c as usize]) {
            break;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| class[c as usize]) {
        i += 1;
    }
    i
}

/// `Dot-string = Atom *("." Atom)` over the bytes `atext` allows; returns the end offset.
#[inline]
fn dot_string(b: &[u8], mut i: usize, atext: &[bool; 256]) -> Result<usize, PathError> {
    loop {
        let end = run_of(b, i, atext);
        if end == i {
            // An empty atom: a leading dot, two dots, a trailing dot, or nothing at all.
            return Err(invalid(b, i));
        }
        if b.get(end) != Some(&b'.') {
            return Ok(end);
        }
        i = end + 1;
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`; `pos` is at the opening quote.
fn quoted_string(b: &[u8], mut pos: usize) -> Result<usize, PathError> {
    pos += 1;
    loop {
        match b.get(pos) {
            Some(b'"') => return Ok(pos + 1),
            // quoted-pairSMTP = %d92 %d32-126
            Some(b'\\') => match b.get(pos + 1) {
                Some(32..=126) => pos += 2,
                _ => return Err(invalid(b, pos + 1)),
            },
            Some(&c) if is_qtext(c) => pos += 1,
            _ => return Err(invalid(b, pos)),
        }
    }
}

/// `Local-part = Dot-string / Quoted-string`.
fn local_part(b: &[u8], pos: usize) -> Result<usize, PathError> {
    if b.get(pos) == Some(&b'"') { quoted_string(b, pos) } else { dot_string(b, pos, &ATEXT) }
}

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]`, over the
/// bytes `ldh` allows: labels of 1–63 octets that neither start nor end with a hyphen,
/// 255 octets in all.
#[inline]
fn domain_name(b: &[u8], pos: usize, ldh: &[bool; 256]) -> Result<usize, PathError> {
    let mut i = pos;
    loop {
        let end = run_of(b, i, ldh);
        if end == i || b.get(i) == Some(&b'-') {
            return Err(invalid(b, i));
        }
        if b.get(end - 1) == Some(&b'-') {
            return Err(invalid(b, end - 1));
        }
        if end - i > 63 {
            return Err(PathError::TooLong);
        }
        if b.get(end) != Some(&b'.') {
            return if end - pos > MAX_DOMAIN_LEN { Err(PathError::TooLong) } else { Ok(end) };
        }
        i = end + 1;
    }
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"`; `pos` is at `[`.
fn address_literal(s: &str, pos: usize) -> Result<(Domain<'_>, usize), PathError> {
    let b = s.as_bytes();
    let body_start = pos + 1;
    let len = b.get(body_start..).and_then(|r| memchr::memchr(b']', r)).ok_or(PathError::Truncated)?;
    let body = sub(s, body_start, body_start + len)?;
    let end = body_start + len + 1;
    let bad = || invalid(b, body_start);
    let domain = match body.split_once(':') {
        None => Domain::Ipv4(body.parse().map_err(|_| bad())?),
        Some((tag, content)) if tag.eq_ignore_ascii_case("IPv6") => Domain::Ipv6(content.parse().map_err(|_| bad())?),
        Some((tag, content)) => {
            let tb = tag.as_bytes();
            let tag_ok = !tb.is_empty()
                && run_of(tb, 0, &LDH_ASCII) == tb.len()
                && tb.first() != Some(&b'-')
                && tb.last() != Some(&b'-');
            if !tag_ok || content.is_empty() || !content.bytes().all(is_dcontent) {
                return Err(bad());
            }
            Domain::general(tag, content)
        }
    };
    Ok((domain, end))
}

/// `Domain / address-literal` starting at `pos`.
fn domain_or_literal(s: &str, pos: usize) -> Result<(Domain<'_>, usize), PathError> {
    if s.as_bytes().get(pos) == Some(&b'[') {
        address_literal(s, pos)
    } else {
        let end = domain_name(s.as_bytes(), pos, &LDH)?;
        Ok((Domain::Name(Cow::Borrowed(sub(s, pos, end)?)), end))
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` starting at `pos`.
#[inline]
fn mailbox(s: &str, pos: usize) -> Result<(Mailbox<'_>, usize), PathError> {
    let b = s.as_bytes();
    let lp_end = local_part(b, pos)?;
    if b.get(lp_end) != Some(&b'@') {
        return Err(invalid(b, lp_end));
    }
    let local_part = Cow::Borrowed(sub(s, pos, lp_end)?);
    let (domain, end) = domain_or_literal(s, lp_end + 1)?;
    Ok((Mailbox { local_part, domain }, end))
}

/// `A-d-l = At-domain *( "," At-domain ) ":"`: a source route, parsed and then
/// ignored as [RFC 5321 §4.1.1.3](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.3) asks.
fn source_route(b: &[u8], mut pos: usize) -> Result<usize, PathError> {
    loop {
        // At-domain = "@" Domain
        if b.get(pos) != Some(&b'@') {
            return Err(invalid(b, pos));
        }
        pos = domain_name(b, pos + 1, &LDH)?;
        match b.get(pos) {
            Some(b',') => pos += 1,
            Some(b':') => return Ok(pos + 1),
            _ => return Err(invalid(b, pos)),
        }
    }
}

/// The common shape `<local@domain>` in 64 octets or fewer, ASCII, the local part of
/// letters, digits and `. - _ + =`: classified sixteen octets at a time, its structure
/// checked on the class masks. Returns the offsets of `@` and `>`. `None` hands the path to
/// the full grammar: other `atext`, quoted local parts, address literals, source routes,
/// UTF-8, long or very short paths, and every error (so errors are reported by one
/// implementation only).
#[inline]
fn simple_path_bounds(b: &[u8]) -> Option<(usize, usize)> {
    let m = PathMasks::of(b)?;
    // Octet 0 is `<`; the local part runs to the first octet outside its class.
    let at = (!m.local & !1).trailing_zeros() as usize;
    if at < 2 || b.get(at) != Some(&b'@') {
        return None;
    }
    // Dot-string: no dot first, last, or beside another.
    let dots = m.dot & bits(1, at);
    if dots & (dots >> 1 | 1 << 1 | 1 << (at - 1)) != 0 {
        return None;
    }
    let start = at + 1;
    let end = (!m.domain & !bits(0, start)).trailing_zeros() as usize;
    if end == start || b.get(end) != Some(&b'>') {
        return None;
    }
    // Every label non-empty and neither starting nor ending with a hyphen; under 64
    // octets in all, no label can be longer than 63.
    let (dots, hyphens) = (m.dot & bits(start, end), m.hyphen & bits(start, end));
    let edges = dots << 1 | dots >> 1 | 1 << start | 1 << (end - 1);
    if edges & (dots | hyphens) != 0 {
        return None;
    }
    Some((at, end))
}

/// [`simple_path_bounds`] as a mailbox, the path and the rest of `s`.
#[inline]
pub(crate) fn simple_path(s: &str) -> Option<(Mailbox<'_>, &str)> {
    let (at, end) = simple_path_bounds(s.as_bytes())?;
    // `<`, `@` and `>` are ASCII, so every cut is on a character boundary.
    let (head, rest) = s.split_at_checked(at)?;
    let (domain, rest) = rest.split_at_checked(end - at)?;
    let (local_part, domain, rest) = (head.get(1..)?, domain.get(1..)?, rest.get(1..)?);
    Some((Mailbox { local_part: Cow::Borrowed(local_part), domain: Domain::Name(Cow::Borrowed(domain)) }, rest))
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`; returns the mailbox and the end offset.
#[inline]
fn path(s: &str) -> Result<(Mailbox<'_>, usize), PathError> {
    match simple_path(s) {
        Some((mailbox, rest)) => Ok((mailbox, s.len() - rest.len())),
        None => path_grammar(s),
    }
}

/// [`path`] by the full grammar, for every shape.
fn path_grammar(s: &str) -> Result<(Mailbox<'_>, usize), PathError> {
    let b = s.as_bytes();
    let mut pos = 1;
    if b.get(pos) == Some(&b'@') {
        pos = source_route(b, pos)?;
    }
    let (mailbox, end) = mailbox(s, pos)?;
    if b.get(end) != Some(&b'>') {
        return Err(invalid(b, end));
    }
    if end + 1 > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    Ok((mailbox, end + 1))
}

fn utf8(bytes: &[u8]) -> Result<&str, PathError> {
    std::str::from_utf8(bytes).map_err(|_| PathError::InvalidUtf8)
}

/// `Reverse-path` at the start of `s`, and the rest.
#[inline]
pub(crate) fn reverse_path(s: &str) -> Result<(ReversePath<'_>, &str), PathError> {
    if let Some(rest) = s.strip_prefix("<>") {
        return Ok((ReversePath::Null, rest));
    }
    if !s.starts_with('<') {
        return Err(invalid(s.as_bytes(), 0));
    }
    let (mailbox, end) = path(s)?;
    Ok((ReversePath::Mailbox(mailbox), sub(s, end, s.len())?))
}

/// `Forward-path` (or `<Postmaster>`) at the start of `s`, and the rest.
#[inline]
pub(crate) fn forward_path(s: &str) -> Result<(ForwardPath<'_>, &str), PathError> {
    const POSTMASTER: &str = "<postmaster>";
    let maybe = matches!(s.as_bytes().get(1), Some(b'p' | b'P'));
    if maybe && s.get(..POSTMASTER.len()).is_some_and(|p| p.eq_ignore_ascii_case(POSTMASTER)) {
        return Ok((ForwardPath::Postmaster, sub(s, POSTMASTER.len(), s.len())?));
    }
    if !s.starts_with('<') {
        return Err(invalid(s.as_bytes(), 0));
    }
    let (mailbox, end) = path(s)?;
    Ok((ForwardPath::Mailbox(mailbox), sub(s, end, s.len())?))
}

impl<'a> ReversePath<'a> {
    /// Parses `Reverse-path` at the start of `input`; returns it and the bytes after it.
    /// The input must be UTF-8 as a whole (a command line is).
    pub fn parse(input: &'a [u8]) -> Result<(Self, &'a [u8]), PathError> {
        reverse_path(utf8(input)?).map(|(p, rest)| (p, rest.as_bytes()))
    }

    /// The mailbox, unless this is the null path.
    pub fn mailbox(&self) -> Option<&Mailbox<'a>> {
        match self {
            Self::Null => None,
            Self::Mailbox(m) => Some(m),
        }
    }

    /// Whether every octet is ASCII (else SMTPUTF8 is needed).
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> ReversePath<'static> {
        match self {
            Self::Null => ReversePath::Null,
            Self::Mailbox(m) => ReversePath::Mailbox(m.into_owned()),
        }
    }

    /// Writes `<...>` after checking that the value is valid on the wire.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PathError> {
        match self {
            Self::Null => {
                out.extend_from_slice(b"<>");
                Ok(())
            }
            Self::Mailbox(m) => m.encode_path(out),
        }
    }
}

impl<'a> ForwardPath<'a> {
    /// Parses `Forward-path` (or `<Postmaster>`) at the start of `input`;
    /// returns it and the bytes after it. The input must be UTF-8 as a whole.
    pub fn parse(input: &'a [u8]) -> Result<(Self, &'a [u8]), PathError> {
        forward_path(utf8(input)?).map(|(p, rest)| (p, rest.as_bytes()))
    }

    /// The mailbox, unless this is the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox<'a>> {
        match self {
            Self::Postmaster => None,
            Self::Mailbox(m) => Some(m),
        }
    }

    /// Whether every octet is ASCII (else SMTPUTF8 is needed).
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> ForwardPath<'static> {
        match self {
            Self::Postmaster => ForwardPath::Postmaster,
            Self::Mailbox(m) => ForwardPath::Mailbox(m.into_owned()),
        }
    }

    /// Writes `<...>` after checking that the value is valid on the wire.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), PathError> {
        match self {
            Self::Postmaster => {
                out.extend_from_slice(b"<Postmaster>");
                Ok(())
            }
            Self::Mailbox(m) => m.encode_path(out),
        }
    }
}

/// `"local@domain".parse::<Mailbox>()`: a bare mailbox, owned.
impl std::str::FromStr for Mailbox<'static> {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, PathError> {
        Mailbox::parse(s.as_bytes()).map(Mailbox::into_owned)
    }
}

impl<'a> Mailbox<'a> {
    /// Parses a bare `Mailbox` (`local@domain`, no brackets) that must fill `input`.
    pub fn parse(input: &'a [u8]) -> Result<Self, PathError> {
        let s = utf8(input)?;
        let (mailbox, end) = mailbox(s, 0)?;
        if end != input.len() {
            return Err(invalid(input, end));
        }
        Ok(mailbox)
    }

    /// Whether every octet is ASCII (else SMTPUTF8 is needed).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }

    /// The local part with the quoting of a quoted string removed.
    pub fn local_part_unquoted(&self) -> Cow<'_, str> {
        let lp: &str = &self.local_part;
        match lp.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            None => Cow::Borrowed(lp),
            Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
            Some(inner) => {
                let mut s = String::with_capacity(inner.len());
                let mut escaped = false;
                for c in inner.chars() {
                    if c == '\\' && !escaped {
                        escaped = true;
                    } else {
                        s.push(c);
                        escaped = false;
                    }
                }
                Cow::Owned(s)
            }
        }
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox { local_part: Cow::Owned(self.local_part.into_owned()), domain: self.domain.into_owned() }
    }

    /// Writes `<local@domain>` after checking that it parses back to this very value.
    pub fn encode_path(&self, out: &mut Vec<u8>) -> Result<(), PathError> {
        let start = out.len();
        out.push(b'<');
        // Validate what was written with the parser itself: one grammar, two directions.
        let result = self.encode(out).and_then(|()| {
            out.push(b'>');
            let written = utf8(&out[start..])?;
            match path(written) {
                Ok((back, end)) if end == written.len() && end <= MAX_PATH_LEN && back == *self => Ok(()),
                Ok((_, end)) if end > MAX_PATH_LEN => Err(PathError::TooLong),
                // It parses, but as another address: some field holds a delimiter.
                Ok((_, end)) => Err(invalid(written.as_bytes(), end.min(written.len().saturating_sub(1)))),
                Err(e) => Err(e),
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Writes `local@domain` without validation (see [`Mailbox::encode_path`]).
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), PathError> {
        out.extend_from_slice(self.local_part.as_bytes());
        out.push(b'@');
        self.domain.encode(out)
    }
}

impl fmt::Display for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

impl Domain<'_> {
    /// Whether every octet is ASCII (else SMTPUTF8 is needed).
    pub fn is_ascii(&self) -> bool {
        match self {
            Self::Name(n) => n.is_ascii(),
            Self::General(g) => g.tag.is_ascii() && g.content.is_ascii(),
            Self::Ipv4(_) | Self::Ipv6(_) => true,
        }
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Domain<'static> {
        match self {
            Self::Name(n) => Domain::Name(Cow::Owned(n.into_owned())),
            Self::Ipv4(a) => Domain::Ipv4(a),
            Self::Ipv6(a) => Domain::Ipv6(a),
            Self::General(g) => {
                let GeneralLiteral { tag, content } = *g;
                Domain::general(tag.into_owned(), content.into_owned())
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), PathError> {
        use std::io::Write as _;
        match self {
            Self::Name(n) => out.extend_from_slice(n.as_bytes()),
            Self::Ipv4(a) => write!(out, "[{a}]").map_err(|_| PathError::Truncated)?,
            Self::Ipv6(a) => write!(out, "[IPv6:{a}]").map_err(|_| PathError::Truncated)?,
            Self::General(g) => {
                if g.tag.eq_ignore_ascii_case("IPv6") {
                    return Err(PathError::InvalidByteAt { byte: b'I', at: 0 });
                }
                write!(out, "[{}:{}]", g.tag, g.content).map_err(|_| PathError::Truncated)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Domain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Ipv4(a) => write!(f, "[{a}]"),
            Self::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            Self::General(g) => write!(f, "[{}:{}]", g.tag, g.content),
        }
    }
}

/// Checks a bare domain name (as in EHLO, ETRN or ATRN) against `Domain`.
pub(crate) fn is_domain_name(input: &[u8]) -> bool {
    domain_name(input, 0, &LDH).is_ok_and(|end| end == input.len())
}

/// Checks `Domain / address-literal` filling all of `input`.
pub(crate) fn is_domain_or_literal(input: &str) -> bool {
    domain_or_literal(input, 0).is_ok_and(|(_, end)| end == input.len())
}

#[cfg(test)]
mod tests;
