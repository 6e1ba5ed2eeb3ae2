//! The EHLO reply and its service extensions
//! ([RFC 5321 §4.1.1.1](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1)):
//! `ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] CRLF` or its multi-line form with one
//! `ehlo-line = ehlo-keyword *( SP ehlo-param )` per extension.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Reply, ReplyCode, ReplyError};
use crate::Mechanism;

/// One advertised service extension, typed; unknown ones are kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability<'a> {
    /// `SIZE [limit]` ([RFC 1870](https://www.rfc-editor.org/rfc/rfc1870)); `None` or 0 means no fixed limit.
    Size(Option<u64>),
    /// `AUTH mech…` ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954)).
    Auth(Vec<Mechanism<'a>>),
    /// `PIPELINING` ([RFC 2920](https://www.rfc-editor.org/rfc/rfc2920)).
    Pipelining,
    /// `8BITMIME` ([RFC 6152](https://www.rfc-editor.org/rfc/rfc6152)).
    EightBitMime,
    /// `SMTPUTF8` ([RFC 6531](https://www.rfc-editor.org/rfc/rfc6531)).
    SmtpUtf8,
    /// `CHUNKING` ([RFC 3030](https://www.rfc-editor.org/rfc/rfc3030)).
    Chunking,
    /// `BINARYMIME` ([RFC 3030](https://www.rfc-editor.org/rfc/rfc3030)).
    BinaryMime,
    /// `DSN` ([RFC 3461](https://www.rfc-editor.org/rfc/rfc3461)).
    Dsn,
    /// `ENHANCEDSTATUSCODES` ([RFC 2034](https://www.rfc-editor.org/rfc/rfc2034)).
    EnhancedStatusCodes,
    /// `STARTTLS` ([RFC 3207](https://www.rfc-editor.org/rfc/rfc3207)).
    StartTls,
    /// `ETRN` ([RFC 1985](https://www.rfc-editor.org/rfc/rfc1985)).
    Etrn,
    /// `ATRN` ([RFC 2645](https://www.rfc-editor.org/rfc/rfc2645)).
    Atrn,
    /// `REQUIRETLS` ([RFC 8689](https://www.rfc-editor.org/rfc/rfc8689)).
    RequireTls,
    /// Any other keyword, with its parameters as one string (possibly empty).
    Unknown {
        /// The keyword, as sent.
        keyword: Cow<'a, str>,
        /// The parameters after the keyword.
        params: Cow<'a, str>,
    },
}

impl<'a> Capability<'a> {
    /// Parses one `ehlo-line`. Never fails: what is not understood is kept as `Unknown`.
    pub fn parse(line: &'a str) -> Self {
        let (keyword, params) = line.split_once(' ').unwrap_or((line, ""));
        let params = params.trim();
        let simple = |c: Capability<'a>| if params.is_empty() { Some(c) } else { None };
        let known = match keyword.to_ascii_uppercase().as_str() {
            "SIZE" if params.is_empty() => Some(Self::Size(None)),
            "SIZE" => params.parse().ok().map(|n| Self::Size(Some(n))),
            "AUTH" => params
                .split(' ')
                .filter(|m| !m.is_empty())
                .map(|m| Mechanism::parse(m.as_bytes()))
                .collect::<Option<Vec<_>>>()
                .map(Self::Auth),
            "PIPELINING" => simple(Self::Pipelining),
            "8BITMIME" => simple(Self::EightBitMime),
            "SMTPUTF8" => simple(Self::SmtpUtf8),
            "CHUNKING" => simple(Self::Chunking),
            "BINARYMIME" => simple(Self::BinaryMime),
            "DSN" => simple(Self::Dsn),
            "ENHANCEDSTATUSCODES" => simple(Self::EnhancedStatusCodes),
            "STARTTLS" => simple(Self::StartTls),
            "ETRN" => simple(Self::Etrn),
            "ATRN" => simple(Self::Atrn),
            "REQUIRETLS" => simple(Self::RequireTls),
            _ => None,
        };
        known.unwrap_or(Self::Unknown { keyword: Cow::Borrowed(keyword), params: Cow::Borrowed(params) })
    }

    /// Writes the `ehlo-line` (without CRLF).
    pub fn write(&self, out: &mut String) {
        let keyword = match self {
            Self::Size(None) => "SIZE",
            Self::Size(Some(n)) => {
                let _ = write!(out, "SIZE {n}");
                return;
            }
            Self::Auth(mechs) => {
                out.push_str("AUTH");
                for m in mechs {
                    out.push(' ');
                    out.push_str(m.as_str());
                }
                return;
            }
            Self::Pipelining => "PIPELINING",
            Self::EightBitMime => "8BITMIME",
            Self::SmtpUtf8 => "SMTPUTF8",
            Self::Chunking => "CHUNKING",
            Self::BinaryMime => "BINARYMIME",
            Self::Dsn => "DSN",
            Self::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Self::StartTls => "STARTTLS",
            Self::Etrn => "ETRN",
            Self::Atrn => "ATRN",
            Self::RequireTls => "REQUIRETLS",
            Self::Unknown { keyword, params } => {
                out.push_str(keyword);
                if !params.is_empty() {
                    out.push(' ');
                    out.push_str(params);
                }
                return;
            }
        };
        out.push_str(keyword);
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Self::Size(n) => Capability::Size(n),
            Self::Auth(m) => Capability::Auth(m.into_iter().map(Mechanism::into_owned).collect()),
            Self::Pipelining => Capability::Pipelining,
            Self::EightBitMime => Capability::EightBitMime,
            Self::SmtpUtf8 => Capability::SmtpUtf8,
            Self::Chunking => Capability::Chunking,
            Self::BinaryMime => Capability::BinaryMime,
            Self::Dsn => Capability::Dsn,
            Self::EnhancedStatusCodes => Capability::EnhancedStatusCodes,
            Self::StartTls => Capability::StartTls,
            Self::Etrn => Capability::Etrn,
            Self::Atrn => Capability::Atrn,
            Self::RequireTls => Capability::RequireTls,
            Self::Unknown { keyword, params } => Capability::Unknown {
                keyword: Cow::Owned(keyword.into_owned()),
                params: Cow::Owned(params.into_owned()),
            },
        }
    }
}

/// A positive EHLO reply: the server's name, its greeting, and its extensions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EhloReply<'a> {
    /// The domain the server names itself by.
    pub domain: Cow<'a, str>,
    /// The optional greeting after the domain.
    pub greeting: Cow<'a, str>,
    /// The extensions, in the order sent.
    pub capabilities: Vec<Capability<'a>>,
}

impl<'a> EhloReply<'a> {
    /// Reads the extensions out of a 250 reply to EHLO.
    pub fn from_reply(reply: &'a Reply<'_>) -> Result<Self, ReplyError> {
        if reply.code != ReplyCode::OK {
            return Err(ReplyError::Syntax);
        }
        let mut lines = reply.lines();
        let first = lines.next().unwrap_or_default();
        let (domain, greeting) = first.split_once(' ').unwrap_or((first, ""));
        Ok(Self {
            domain: Cow::Borrowed(domain),
            greeting: Cow::Borrowed(greeting),
            capabilities: lines.filter(|l| !l.is_empty()).map(Capability::parse).collect(),
        })
    }

    /// Builds the 250 reply that advertises these extensions (no enhanced code: RFC 2034
    /// puts none on the EHLO reply).
    pub fn to_reply(&self) -> Reply<'static> {
        let mut text = String::with_capacity(32 + 16 * self.capabilities.len());
        text.push_str(&self.domain);
        if !self.greeting.is_empty() {
            text.push(' ');
            text.push_str(&self.greeting);
        }
        for cap in &self.capabilities {
            text.push('\n');
            cap.write(&mut text);
        }
        Reply { code: ReplyCode::OK, enhanced: None, text: Cow::Owned(text) }
    }

    /// Whether the extension is advertised (parameters ignored).
    pub fn has(&self, capability: &Capability<'_>) -> bool {
        self.capabilities.iter().any(|c| std::mem::discriminant(c) == std::mem::discriminant(capability))
    }

    /// The SIZE limit, when advertised with one.
    pub fn size(&self) -> Option<u64> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Size(n) => *n,
            _ => None,
        })
    }

    /// The advertised SASL mechanisms.
    pub fn auth_mechanisms(&self) -> &[Mechanism<'a>] {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::Auth(m) => Some(m.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}
