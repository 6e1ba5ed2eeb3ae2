//! Responses: a status line `+OK` / `-ERR` with an optional response code
//! ([RFC 2449 §8](https://www.rfc-editor.org/rfc/rfc2449#section-8)) and text, the `+ `
//! continuation of AUTH ([RFC 5034 §4](https://www.rfc-editor.org/rfc/rfc5034#section-4)),
//! and the capability lines of CAPA. The multi-line body that follows some `+OK` lines is
//! framed by [`crate::multiline`].

use std::fmt;

/// Longest response line, CRLF included ([RFC 2449 §4](https://www.rfc-editor.org/rfc/rfc2449#section-4)).
pub const MAX_RESPONSE_LINE: usize = 512;

/// A response code: `[IN-USE]`, `[SYS/TEMP]`, …
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode<'a> {
    /// `IN-USE`: the maildrop is locked by another session (RFC 2449 §8.1.1).
    InUse,
    /// `LOGIN-DELAY`: logged in too soon after the last login (RFC 2449 §8.1.2).
    LoginDelay,
    /// `SYS/TEMP`: a temporary system failure (RFC 3206 §4).
    SysTemp,
    /// `SYS/PERM`: a permanent system failure (RFC 3206 §4).
    SysPerm,
    /// `AUTH`: the credentials were wrong (RFC 3206 §5).
    Auth,
    /// `UTF8`: the command needs UTF8 mode (RFC 6856 §2).
    Utf8,
    /// Any other code, hierarchy included (`A/B`).
    Other(&'a str),
}

impl<'a> ResponseCode<'a> {
    /// The code as written between the brackets.
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::InUse => "IN-USE",
            Self::LoginDelay => "LOGIN-DELAY",
            Self::SysTemp => "SYS/TEMP",
            Self::SysPerm => "SYS/PERM",
            Self::Auth => "AUTH",
            Self::Utf8 => "UTF8",
            Self::Other(s) => s,
        }
    }

    /// `resp-code = "[" resp-level *("/" resp-level) "]"`, `resp-level = 1*rchar`,
    /// `rchar = %x21-2E / %x30-5C / %x5E-7F` (no `/`, no `]`).
    pub fn parse(s: &'a str) -> Option<Self> {
        let level_ok =
            |l: &str| !l.is_empty() && l.bytes().all(|b| matches!(b, 0x21..=0x2E | 0x30..=0x5C | 0x5E..=0x7E));
        if !s.split('/').all(level_ok) {
            return None;
        }
        Some(match s {
            _ if s.eq_ignore_ascii_case("IN-USE") => Self::InUse,
            _ if s.eq_ignore_ascii_case("LOGIN-DELAY") => Self::LoginDelay,
            _ if s.eq_ignore_ascii_case("SYS/TEMP") => Self::SysTemp,
            _ if s.eq_ignore_ascii_case("SYS/PERM") => Self::SysPerm,
            _ if s.eq_ignore_ascii_case("AUTH") => Self::Auth,
            _ if s.eq_ignore_ascii_case("UTF8") => Self::Utf8,
            _ => Self::Other(s),
        })
    }
}

/// A status line.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Response<'a> {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The response code, if any (only sent with `-ERR`, except for extensions).
    pub code: Option<ResponseCode<'a>>,
    /// The text after the status indicator and code, possibly empty.
    pub text: &'a str,
}

/// A line from the server that is not part of a multi-line body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerLine<'a> {
    /// `+OK …` / `-ERR …`.
    Status(Response<'a>),
    /// `+ base64` during AUTH, still encoded.
    Continuation(&'a str),
}

/// Why a server line did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Neither `+OK`, `-ERR` nor `+ `.
    BadStatus,
    /// Bytes that are not UTF-8 text.
    NotText,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadStatus => f.write_str("response starts with neither +OK nor -ERR"),
            Self::NotText => f.write_str("response is not text"),
        }
    }
}

impl std::error::Error for ResponseError {}

impl<'a> ServerLine<'a> {
    /// Parses a line without its line ending.
    pub fn parse(line: &'a [u8]) -> Result<Self, ResponseError> {
        let line = std::str::from_utf8(line).map_err(|_| ResponseError::NotText)?;
        if line.bytes().any(|b| b < b' ' && b != b'\t') {
            return Err(ResponseError::NotText);
        }
        let status = |rest: &'a str, ok: bool| -> Result<Self, ResponseError> {
            let rest = match rest.as_bytes().first() {
                None => "",
                Some(b' ') => &rest[1..],
                Some(_) => return Err(ResponseError::BadStatus),
            };
            let (code, text) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
                Some((c, t)) => match ResponseCode::parse(c) {
                    Some(code) => (Some(code), t.strip_prefix(' ').unwrap_or(t)),
                    None => (None, rest),
                },
                None => (None, rest),
            };
            Ok(Self::Status(Response { ok, code, text }))
        };
        if let Some(rest) = strip_prefix_ci(line, "+OK") {
            status(rest, true)
        } else if let Some(rest) = strip_prefix_ci(line, "-ERR") {
            status(rest, false)
        } else if line == "+" {
            Ok(Self::Continuation(""))
        } else if let Some(rest) = line.strip_prefix("+ ") {
            Ok(Self::Continuation(rest))
        } else {
            Err(ResponseError::BadStatus)
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

impl Response<'_> {
    /// Writes the status line and its CRLF. Control characters in the text become spaces,
    /// so no text can end the line early; a code that does not parse back is left out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ok { b"+OK" } else { b"-ERR" });
        if let Some(code) = &self.code {
            let c = code.as_str();
            if ResponseCode::parse(c).as_ref() == Some(code) {
                out.extend_from_slice(b" [");
                out.extend_from_slice(c.as_bytes());
                out.push(b']');
            }
        }
        if !self.text.is_empty() {
            out.push(b' ');
            out.extend(self.text.bytes().map(|b| if b < b' ' || b == 0x7f { b' ' } else { b }));
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// One line of a CAPA response (RFC 2449 §6).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability<'a> {
    /// `TOP`.
    Top,
    /// `USER`.
    User,
    /// `SASL mech…`.
    Sasl(Vec<&'a str>),
    /// `RESP-CODES`.
    RespCodes,
    /// `LOGIN-DELAY seconds`.
    LoginDelay(u32),
    /// `PIPELINING`.
    Pipelining,
    /// `EXPIRE days` or `EXPIRE NEVER` (`None`).
    Expire(Option<u32>),
    /// `UIDL`.
    Uidl,
    /// `IMPLEMENTATION text`.
    Implementation(&'a str),
    /// `STLS` (RFC 2595).
    Stls,
    /// `UTF8` (RFC 6856).
    Utf8,
    /// `AUTH-RESP-CODE` (RFC 3206).
    AuthRespCode,
    /// Any other capability line, kept as sent.
    Other(&'a str),
}

impl<'a> Capability<'a> {
    /// Parses one capability line.
    pub fn parse(line: &'a str) -> Self {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let is = |t: &str| tag.eq_ignore_ascii_case(t);
        match () {
            _ if is("TOP") => Self::Top,
            _ if is("USER") => Self::User,
            _ if is("SASL") => Self::Sasl(rest.split(' ').filter(|m| !m.is_empty()).collect()),
            _ if is("RESP-CODES") => Self::RespCodes,
            _ if is("PIPELINING") => Self::Pipelining,
            _ if is("UIDL") => Self::Uidl,
            _ if is("STLS") => Self::Stls,
            _ if is("UTF8") => Self::Utf8,
            _ if is("AUTH-RESP-CODE") => Self::AuthRespCode,
            _ if is("IMPLEMENTATION") => Self::Implementation(rest),
            _ if is("LOGIN-DELAY") => match rest.split(' ').next().and_then(|n| n.parse().ok()) {
                Some(n) => Self::LoginDelay(n),
                None => Self::Other(line),
            },
            _ if is("EXPIRE") => match rest.split(' ').next() {
                Some(n) if n.eq_ignore_ascii_case("NEVER") => Self::Expire(None),
                Some(n) => n.parse().map_or(Self::Other(line), |d| Self::Expire(Some(d))),
                None => Self::Other(line),
            },
            _ => Self::Other(line),
        }
    }

    /// Writes the capability line and its CRLF (a line starting with `.` is stuffed).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = match self {
            Self::Top => "TOP".to_owned(),
            Self::User => "USER".to_owned(),
            Self::Sasl(m) => format!("SASL {}", m.join(" ")),
            Self::RespCodes => "RESP-CODES".to_owned(),
            Self::LoginDelay(s) => format!("LOGIN-DELAY {s}"),
            Self::Pipelining => "PIPELINING".to_owned(),
            Self::Expire(None) => "EXPIRE NEVER".to_owned(),
            Self::Expire(Some(d)) => format!("EXPIRE {d}"),
            Self::Uidl => "UIDL".to_owned(),
            Self::Implementation(t) => format!("IMPLEMENTATION {t}"),
            Self::Stls => "STLS".to_owned(),
            Self::Utf8 => "UTF8".to_owned(),
            Self::AuthRespCode => "AUTH-RESP-CODE".to_owned(),
            Self::Other(t) => (*t).to_owned(),
        };
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend(line.bytes().map(|b| if b < b' ' || b == 0x7f { b' ' } else { b }));
        out.extend_from_slice(b"\r\n");
    }
}

/// `scan-listing = msg SP size` (LIST) or `msg SP unique-id` (UIDL): the two fields of a
/// listing line.
pub fn parse_listing(line: &str) -> Option<(u32, &str)> {
    let (n, rest) = line.split_once(' ')?;
    let n = n.parse().ok().filter(|&n| n > 0)?;
    let value = rest.split(' ').next().filter(|v| !v.is_empty())?;
    Some((n, value))
}

/// `unique-id = 1*70 uchar`, `uchar = %x21-7E` (RFC 1939 §7).
pub fn is_unique_id(s: &str) -> bool {
    (1..=70).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let r = ServerLine::parse(b"+OK 2 messages (320 octets)").unwrap();
        assert_eq!(r, ServerLine::Status(Response { ok: true, code: None, text: "2 messages (320 octets)" }));
        let r = ServerLine::parse(b"-ERR [IN-USE] maildrop locked").unwrap();
        assert_eq!(
            r,
            ServerLine::Status(Response { ok: false, code: Some(ResponseCode::InUse), text: "maildrop locked" })
        );
        assert_eq!(ServerLine::parse(b"+OK").unwrap(), ServerLine::Status(Response { ok: true, code: None, text: "" }));
        assert_eq!(ServerLine::parse(b"+ ").unwrap(), ServerLine::Continuation(""));
        assert_eq!(ServerLine::parse(b"+ PDE4OTYuNjk3MTcw").unwrap(), ServerLine::Continuation("PDE4OTYuNjk3MTcw"));
        assert_eq!(ServerLine::parse(b"+OKAY"), Err(ResponseError::BadStatus));
        assert_eq!(ServerLine::parse(b"250 ok"), Err(ResponseError::BadStatus));
        // A bracket that is not a code is text.
        let r = ServerLine::parse(b"-ERR [not a code] x").unwrap();
        assert_eq!(r, ServerLine::Status(Response { ok: false, code: None, text: "[not a code] x" }));
    }

    #[test]
    fn encode_neutralises_line_breaks() {
        let mut out = Vec::new();
        Response { ok: false, code: Some(ResponseCode::SysTemp), text: "a\r\n+OK b" }.encode(&mut out);
        assert_eq!(out, b"-ERR [SYS/TEMP] a  +OK b\r\n");
    }

    #[test]
    fn capabilities() {
        assert_eq!(Capability::parse("SASL PLAIN SCRAM-SHA-256"), Capability::Sasl(vec!["PLAIN", "SCRAM-SHA-256"]));
        assert_eq!(Capability::parse("EXPIRE NEVER"), Capability::Expire(None));
        assert_eq!(Capability::parse("LOGIN-DELAY 900"), Capability::LoginDelay(900));
        assert_eq!(Capability::parse("X-FOO bar"), Capability::Other("X-FOO bar"));
        assert_eq!(parse_listing("1 120"), Some((1, "120")));
        assert_eq!(parse_listing("0 120"), None);
    }
}
