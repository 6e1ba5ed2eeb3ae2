//! MAIL and RCPT parameters: `Mail-parameters = esmtp-param *(SP esmtp-param)`,
//! `esmtp-param = esmtp-keyword ["=" esmtp-value]`
//! ([RFC 5321 §4.1.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.2)).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::error::ParamError;
use crate::block::find_byte;
use crate::class::{KEYWORD, Keyword, VALUE, XCHAR};

/// `BODY=` ([RFC 6152](https://www.rfc-editor.org/rfc/rfc6152), [RFC 3030](https://www.rfc-editor.org/rfc/rfc3030)).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME`: the message may only be sent with BDAT.
    BinaryMime,
}

/// `RET=` ([RFC 3461 §4.3](https://www.rfc-editor.org/rfc/rfc3461#section-4.3)).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: return the whole message in a failure DSN.
    Full,
    /// `HDRS`: return only the headers.
    Hdrs,
}

/// `NOTIFY=` ([RFC 3461 §4.1](https://www.rfc-editor.org/rfc/rfc3461#section-4.1)):
/// `NEVER`, or any non-empty set of `SUCCESS`, `FAILURE`, `DELAY`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// Notify on successful delivery.
    pub success: bool,
    /// Notify on failure.
    pub failure: bool,
    /// Notify on delay.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Self = Self { success: false, failure: false, delay: false };

    /// Whether this is `NEVER`.
    pub fn is_never(self) -> bool {
        self == Self::NEVER
    }
}

/// An `xtext` value ([RFC 3461 §4](https://www.rfc-editor.org/rfc/rfc3461#section-4)) as on the
/// wire: `+XX` escapes still in place.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct XText<'a>(pub Cow<'a, str>);

impl<'a> XText<'a> {
    /// Escapes `text`: `+`, `=`, controls, SP and non-ASCII become `+XX`.
    pub fn encode(text: &str) -> XText<'static> {
        let mut s = String::with_capacity(text.len());
        for b in text.bytes() {
            if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
                s.push(b as char);
            } else {
                let _ = write!(s, "+{b:02X}");
            }
        }
        XText(Cow::Owned(s))
    }

    /// The decoded bytes; `None` if an escape is malformed.
    pub fn decode(&self) -> Option<Cow<'_, [u8]>> {
        let raw = self.0.as_bytes();
        if !raw.contains(&b'+') {
            return Some(Cow::Borrowed(raw));
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            if b == b'+' {
                let hex = raw.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                // hexchar uses upper-case digits only (RFC 3461 §4).
                if hex.bytes().any(|h| h.is_ascii_lowercase()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b);
                i += 1;
            }
        }
        Some(Cow::Owned(out))
    }

    /// Checks the `xtext` grammar: `*( xchar / hexchar )`, `hexchar = "+" 2(%x30-39 / %x41-46)`.
    pub fn is_valid(&self) -> bool {
        let b = self.0.as_bytes();
        // Most values have no escapes: checked sixteen octets at a time.
        if crate::block::is_plain_xtext(b) {
            return true;
        }
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if XCHAR[c as usize] {
                i += 1;
            } else if c == b'+' {
                let hex = |at: usize| b.get(at).is_some_and(|h| matches!(h, b'0'..=b'9' | b'A'..=b'F'));
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            } else {
                return false;
            }
        }
        true
    }

    fn into_owned(self) -> XText<'static> {
        XText(Cow::Owned(self.0.into_owned()))
    }
}

/// `ORCPT=addr-type ";" xtext` ([RFC 3461 §4.2](https://www.rfc-editor.org/rfc/rfc3461#section-4.2)).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// The address type, usually `rfc822` (or `utf-8` under SMTPUTF8).
    pub addr_type: Cow<'a, str>,
    /// The original recipient, still xtext-encoded.
    pub addr: XText<'a>,
}

/// A parameter the parser does not know, kept for the embedder.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param<'a> {
    /// `esmtp-keyword`.
    pub keyword: Cow<'a, str>,
    /// `esmtp-value`, if any.
    pub value: Option<Cow<'a, str>>,
}

/// The parameters of `MAIL FROM`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct MailParams<'a> {
    /// `SIZE=` declared message size ([RFC 1870](https://www.rfc-editor.org/rfc/rfc1870)).
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<Body>,
    /// `SMTPUTF8` ([RFC 6531](https://www.rfc-editor.org/rfc/rfc6531)).
    pub smtputf8: bool,
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=` ([RFC 3461 §4.4](https://www.rfc-editor.org/rfc/rfc3461#section-4.4)).
    pub envid: Option<XText<'a>>,
    /// `AUTH=` ([RFC 4954 §5](https://www.rfc-editor.org/rfc/rfc4954#section-5)): xtext mailbox, or `<>`.
    pub auth: Option<XText<'a>>,
    /// `REQUIRETLS` ([RFC 8689](https://www.rfc-editor.org/rfc/rfc8689)).
    pub requiretls: bool,
    /// Parameters the parser does not know, in order.
    pub other: Vec<Param<'a>>,
}

/// The parameters of `RCPT TO`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct RcptParams<'a> {
    /// `NOTIFY=`.
    pub notify: Option<Notify>,
    /// `ORCPT=`.
    pub orcpt: Option<Orcpt<'a>>,
    /// Parameters the parser does not know, in order.
    pub other: Vec<Param<'a>>,
}

const SIZE: Keyword = Keyword::new(b"SIZE");
const BODY: Keyword = Keyword::new(b"BODY");
const SMTPUTF8: Keyword = Keyword::new(b"SMTPUTF8");
const RET: Keyword = Keyword::new(b"RET");
const ENVID: Keyword = Keyword::new(b"ENVID");
const AUTH: Keyword = Keyword::new(b"AUTH");
const REQUIRETLS: Keyword = Keyword::new(b"REQUIRETLS");
const SEVEN_BIT: Keyword = Keyword::new(b"7BIT");
const EIGHT_BIT_MIME: Keyword = Keyword::new(b"8BITMIME");
const BINARY_MIME: Keyword = Keyword::new(b"BINARYMIME");
const FULL: Keyword = Keyword::new(b"FULL");
const HDRS: Keyword = Keyword::new(b"HDRS");
const NOTIFY: Keyword = Keyword::new(b"NOTIFY");
const ORCPT: Keyword = Keyword::new(b"ORCPT");
const NEVER: Keyword = Keyword::new(b"NEVER");
const SUCCESS: Keyword = Keyword::new(b"SUCCESS");
const FAILURE: Keyword = Keyword::new(b"FAILURE");
const DELAY: Keyword = Keyword::new(b"DELAY");

/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
fn is_esmtp_keyword(k: &[u8]) -> bool {
    k.first().is_some_and(u8::is_ascii_alphanumeric) && k.iter().all(|&b| KEYWORD[b as usize])
}

/// `esmtp-value = 1*(%d33-60 / %d62-126)`, plus UTF-8 under SMTPUTF8 (RFC 6531 §3.3).
fn is_esmtp_value(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| matches!(b, 33..=60 | 62..=126) || b >= 0x80)
}

/// Splits `SP esmtp-param` items; `f` gets keyword and value of each. Values are checked
/// by `f`: each known keyword's grammar is stricter than `esmtp-value`, and unknown ones go
/// through [`other`], which checks `esmtp-value`.
fn for_each_param<'a>(
    input: &'a str,
    mut f: impl FnMut(&'a str, Option<&'a str>) -> Result<(), ParamError>,
) -> Result<(), ParamError> {
    let mut rest = input;
    while !rest.is_empty() {
        // One or more SP between parameters, and trailing SP, are tolerated.
        if let Some(after) = rest.strip_prefix(' ') {
            rest = after;
            continue;
        }
        let end = find_byte(rest.as_bytes(), b' ').unwrap_or(rest.len());
        let (param, after) = rest.split_at_checked(end).ok_or(ParamError::Syntax)?;
        rest = after;
        let (keyword, value) = match find_byte(param.as_bytes(), b'=') {
            // `keyword=` with nothing after is not a parameter.
            Some(eq) => match (param.get(..eq), param.get(eq + 1..)) {
                (Some(k), Some(v)) if !v.is_empty() => (k, Some(v)),
                _ => return Err(ParamError::Syntax),
            },
            None => (param, None),
        };
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        if !is_esmtp_keyword(keyword.as_bytes()) {
            return Err(ParamError::Syntax);
        }
        f(keyword, value)?;
    }
    Ok(())
}

fn xtext(v: Option<&str>) -> Result<XText<'_>, ParamError> {
    let x = XText(Cow::Borrowed(v.ok_or(ParamError::InvalidValue)?));
    if x.is_valid() { Ok(x) } else { Err(ParamError::InvalidValue) }
}

fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), ParamError> {
    if slot.replace(value).is_some() { Err(ParamError::Duplicate) } else { Ok(()) }
}

fn flag(slot: &mut bool, value: Option<&str>) -> Result<(), ParamError> {
    if value.is_some() {
        return Err(ParamError::InvalidValue);
    }
    if std::mem::replace(slot, true) { Err(ParamError::Duplicate) } else { Ok(()) }
}

fn other<'a>(keyword: &'a str, value: Option<&'a str>) -> Result<Param<'a>, ParamError> {
    if value.is_some_and(|v| !v.bytes().all(|c| VALUE[c as usize])) {
        return Err(ParamError::Syntax);
    }
    Ok(Param { keyword: Cow::Borrowed(keyword), value: value.map(Cow::Borrowed) })
}

/// `1*20DIGIT`, as SIZE and BDAT sizes.
pub(crate) fn number(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| acc.checked_mul(10)?.checked_add(u64::from(b - b'0')))
}

impl<'a> MailParams<'a> {
    pub(crate) fn parse(input: &'a str) -> Result<Self, ParamError> {
        let mut p = Self::default();
        for_each_param(input, |k, v| {
            let is = |name: &Keyword| name.matches(k.as_bytes());
            if is(&SIZE) {
                set(&mut p.size, v.and_then(|v| number(v.as_bytes())).ok_or(ParamError::InvalidValue)?)
            } else if is(&BODY) {
                let body = match v {
                    Some(v) if SEVEN_BIT.matches(v.as_bytes()) => Body::SevenBit,
                    Some(v) if EIGHT_BIT_MIME.matches(v.as_bytes()) => Body::EightBitMime,
                    Some(v) if BINARY_MIME.matches(v.as_bytes()) => Body::BinaryMime,
                    _ => return Err(ParamError::InvalidValue),
                };
                set(&mut p.body, body)
            } else if is(&SMTPUTF8) {
                flag(&mut p.smtputf8, v)
            } else if is(&RET) {
                let ret = match v {
                    Some(v) if FULL.matches(v.as_bytes()) => Ret::Full,
                    Some(v) if HDRS.matches(v.as_bytes()) => Ret::Hdrs,
                    _ => return Err(ParamError::InvalidValue),
                };
                set(&mut p.ret, ret)
            } else if is(&ENVID) {
                set(&mut p.envid, xtext(v)?)
            } else if is(&AUTH) {
                set(&mut p.auth, xtext(v)?)
            } else if is(&REQUIRETLS) {
                flag(&mut p.requiretls, v)
            } else {
                p.other.push(other(k, v)?);
                Ok(())
            }
        })?;
        Ok(p)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> MailParams<'static> {
        MailParams {
            size: self.size,
            body: self.body,
            smtputf8: self.smtputf8,
            ret: self.ret,
            envid: self.envid.map(XText::into_owned),
            auth: self.auth.map(XText::into_owned),
            requiretls: self.requiretls,
            other: self.other.into_iter().map(Param::into_owned).collect(),
        }
    }

    pub(crate) fn encode(&self, out: &mut String) -> Result<(), ParamError> {
        if let Some(n) = self.size {
            let _ = write!(out, " SIZE={n}");
        }
        if let Some(b) = self.body {
            out.push_str(match b {
                Body::SevenBit => " BODY=7BIT",
                Body::EightBitMime => " BODY=8BITMIME",
                Body::BinaryMime => " BODY=BINARYMIME",
            });
        }
        if self.smtputf8 {
            out.push_str(" SMTPUTF8");
        }
        if let Some(r) = self.ret {
            out.push_str(if r == Ret::Full { " RET=FULL" } else { " RET=HDRS" });
        }
        encode_xtext(out, "ENVID", self.envid.as_ref())?;
        encode_xtext(out, "AUTH", self.auth.as_ref())?;
        if self.requiretls {
            out.push_str(" REQUIRETLS");
        }
        encode_other(out, &self.other, &["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH", "REQUIRETLS"])
    }
}

impl<'a> RcptParams<'a> {
    pub(crate) fn parse(input: &'a str) -> Result<Self, ParamError> {
        let mut p = Self::default();
        for_each_param(input, |k, v| {
            if NOTIFY.matches(k.as_bytes()) {
                set(&mut p.notify, notify(v.ok_or(ParamError::InvalidValue)?)?)
            } else if ORCPT.matches(k.as_bytes()) {
                let v = v.ok_or(ParamError::InvalidValue)?;
                let semi = find_byte(v.as_bytes(), b';').ok_or(ParamError::InvalidValue)?;
                let (addr_type, addr) = (&v[..semi], &v[semi + 1..]);
                if !is_esmtp_keyword(addr_type.as_bytes()) {
                    return Err(ParamError::InvalidValue);
                }
                set(&mut p.orcpt, Orcpt { addr_type: Cow::Borrowed(addr_type), addr: xtext(Some(addr))? })
            } else {
                p.other.push(other(k, v)?);
                Ok(())
            }
        })?;
        Ok(p)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> RcptParams<'static> {
        RcptParams {
            notify: self.notify,
            orcpt: self
                .orcpt
                .map(|o| Orcpt { addr_type: Cow::Owned(o.addr_type.into_owned()), addr: o.addr.into_owned() }),
            other: self.other.into_iter().map(Param::into_owned).collect(),
        }
    }

    pub(crate) fn encode(&self, out: &mut String) -> Result<(), ParamError> {
        if let Some(n) = self.notify {
            if n.is_never() {
                out.push_str(" NOTIFY=NEVER");
            } else {
                out.push_str(" NOTIFY=");
                let names = [(n.success, "SUCCESS"), (n.failure, "FAILURE"), (n.delay, "DELAY")];
                let mut first = true;
                for (_, name) in names.iter().filter(|(on, _)| *on) {
                    if !first {
                        out.push(',');
                    }
                    out.push_str(name);
                    first = false;
                }
            }
        }
        if let Some(o) = &self.orcpt {
            if !is_esmtp_keyword(o.addr_type.as_bytes()) || !o.addr.is_valid() {
                return Err(ParamError::InvalidValue);
            }
            let _ = write!(out, " ORCPT={};{}", o.addr_type, o.addr.0);
        }
        encode_other(out, &self.other, &["NOTIFY", "ORCPT"])
    }
}

/// `notify-esmtp-value = "NEVER" / 1#notify-list-element`.
fn notify(v: &str) -> Result<Notify, ParamError> {
    if NEVER.matches(v.as_bytes()) {
        return Ok(Notify::NEVER);
    }
    let mut n = Notify::default();
    let mut rest = v.as_bytes();
    loop {
        let comma = find_byte(rest, b',');
        let item = rest.get(..comma.unwrap_or(rest.len())).unwrap_or_default();
        let slot = if SUCCESS.matches(item) {
            &mut n.success
        } else if FAILURE.matches(item) {
            &mut n.failure
        } else if DELAY.matches(item) {
            &mut n.delay
        } else {
            return Err(ParamError::InvalidValue);
        };
        if std::mem::replace(slot, true) {
            return Err(ParamError::InvalidValue);
        }
        match comma {
            Some(at) => rest = rest.get(at + 1..).unwrap_or_default(),
            None => return Ok(n),
        }
    }
}

fn encode_xtext(out: &mut String, name: &str, x: Option<&XText<'_>>) -> Result<(), ParamError> {
    if let Some(x) = x {
        if !x.is_valid() || x.0.is_empty() {
            return Err(ParamError::InvalidValue);
        }
        let _ = write!(out, " {name}={}", x.0);
    }
    Ok(())
}

fn encode_other(out: &mut String, other: &[Param<'_>], known: &[&str]) -> Result<(), ParamError> {
    for p in other {
        if !is_esmtp_keyword(p.keyword.as_bytes()) || known.iter().any(|k| k.eq_ignore_ascii_case(&p.keyword)) {
            return Err(ParamError::Syntax);
        }
        out.push(' ');
        out.push_str(&p.keyword);
        if let Some(v) = &p.value {
            if !is_esmtp_value(v.as_bytes()) {
                return Err(ParamError::InvalidValue);
            }
            out.push('=');
            out.push_str(v);
        }
    }
    Ok(())
}

impl Param<'_> {
    fn into_owned(self) -> Param<'static> {
        Param { keyword: Cow::Owned(self.keyword.into_owned()), value: self.value.map(|v| Cow::Owned(v.into_owned())) }
    }
}
