//! SASL mechanism names, shared by `AUTH` ([RFC 4954](https://www.rfc-editor.org/rfc/rfc4954))
//! and the EHLO `AUTH` capability.

use std::borrow::Cow;
use std::fmt;

/// A SASL mechanism name. Unknown names are kept, never rejected by the parser.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism<'a> {
    /// `PLAIN` ([RFC 4616](https://www.rfc-editor.org/rfc/rfc4616)).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login).
    Login,
    /// `CRAM-MD5` ([RFC 2195](https://www.rfc-editor.org/rfc/rfc2195)).
    CramMd5,
    /// `SCRAM-SHA-1` ([RFC 5802](https://www.rfc-editor.org/rfc/rfc5802)).
    ScramSha1,
    /// `SCRAM-SHA-256` ([RFC 7677](https://www.rfc-editor.org/rfc/rfc7677)).
    ScramSha256,
    /// `XOAUTH2`.
    XOAuth2,
    /// `OAUTHBEARER` ([RFC 7628](https://www.rfc-editor.org/rfc/rfc7628)).
    OAuthBearer,
    /// `EXTERNAL` ([RFC 4422 Appendix A](https://www.rfc-editor.org/rfc/rfc4422#appendix-A)).
    External,
    /// `ANONYMOUS` ([RFC 4505](https://www.rfc-editor.org/rfc/rfc4505)).
    Anonymous,
    /// Any other name, upper-cased as on the wire.
    Unknown(Cow<'a, str>),
}

const KNOWN: &[(&str, Mechanism<'static>)] = &[
    ("PLAIN", Mechanism::Plain),
    ("LOGIN", Mechanism::Login),
    ("CRAM-MD5", Mechanism::CramMd5),
    ("SCRAM-SHA-1", Mechanism::ScramSha1),
    ("SCRAM-SHA-256", Mechanism::ScramSha256),
    ("XOAUTH2", Mechanism::XOAuth2),
    ("OAUTHBEARER", Mechanism::OAuthBearer),
    ("EXTERNAL", Mechanism::External),
    ("ANONYMOUS", Mechanism::Anonymous),
];

impl<'a> Mechanism<'a> {
    /// `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE`
    /// ([RFC 4422 §3.1](https://www.rfc-editor.org/rfc/rfc4422#section-3.1)); matched
    /// case-insensitively. `None` when the name is not a valid mechanism name.
    pub fn parse(name: &'a [u8]) -> Option<Self> {
        if name.is_empty()
            || name.len() > 20
            || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        for (known, mech) in KNOWN {
            if name.eq_ignore_ascii_case(known.as_bytes()) {
                return Some(mech.clone());
            }
        }
        let s = std::str::from_utf8(name).ok()?;
        Some(if s.bytes().any(|b| b.is_ascii_lowercase()) {
            Mechanism::Unknown(Cow::Owned(s.to_ascii_uppercase()))
        } else {
            Mechanism::Unknown(Cow::Borrowed(s))
        })
    }

    /// Whether the mechanism sends the password itself (`PLAIN`, `LOGIN`), so that it must
    /// not be offered before TLS unless plaintext passwords are allowed.
    ///
    /// ```
    /// use sansmail_smtp_proto::Mechanism;
    /// assert!(Mechanism::Plain.sends_password() && Mechanism::Login.sends_password());
    /// assert!(!Mechanism::ScramSha256.sends_password() && !Mechanism::CramMd5.sends_password());
    /// ```
    pub fn sends_password(&self) -> bool {
        matches!(self, Self::Plain | Self::Login)
    }

    /// The name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown(name) => name,
            known => KNOWN.iter().find(|(_, m)| m == known).map_or("", |(n, _)| n),
        }
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Mechanism<'static> {
        match self {
            Self::Unknown(n) => Mechanism::Unknown(Cow::Owned(n.into_owned())),
            Self::Plain => Mechanism::Plain,
            Self::Login => Mechanism::Login,
            Self::CramMd5 => Mechanism::CramMd5,
            Self::ScramSha1 => Mechanism::ScramSha1,
            Self::ScramSha256 => Mechanism::ScramSha256,
            Self::XOAuth2 => Mechanism::XOAuth2,
            Self::OAuthBearer => Mechanism::OAuthBearer,
            Self::External => Mechanism::External,
            Self::Anonymous => Mechanism::Anonymous,
        }
    }
}

impl fmt::Display for Mechanism<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
