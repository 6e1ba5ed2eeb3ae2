//! Why a command line was refused, and the reply each reason gets.

use std::fmt;

use super::Verb;
use crate::Reply;
use crate::address::PathError;

/// A MAIL or RCPT parameter problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// Not `esmtp-keyword ["=" esmtp-value]`.
    Syntax,
    /// A known parameter with a value it does not take.
    InvalidValue,
    /// The same parameter twice.
    Duplicate,
}

/// Why a command line could not be parsed. Every variant is the client's fault and maps to
/// one reply ([`CommandError::reply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The line is longer than the limit (RFC 5321 §4.5.3.1.4).
    LineTooLong,
    /// A verb that is not a 1–20 character token, or bytes that are not UTF-8.
    Unrecognized,
    /// The arguments do not fit the verb's syntax.
    Syntax(Verb),
    /// The sender path of MAIL is malformed.
    InvalidSender(PathError),
    /// The recipient path of RCPT is malformed.
    InvalidRecipient(PathError),
    /// A MAIL or RCPT parameter is malformed, unknown-valued or repeated.
    InvalidParameter(Verb, ParamError),
    /// A non-ASCII address without `SMTPUTF8` on the MAIL command (RFC 6531 §3.4).
    Utf8WithoutSmtputf8,
}

impl CommandError {
    /// The reply that reports this error (with the RFC 3463 enhanced code).
    pub fn reply(&self) -> Reply<'static> {
        match self {
            Self::LineTooLong => Reply::new(500, (5, 5, 2), "Line too long"),
            Self::Unrecognized => Reply::new(500, (5, 5, 1), "Command unrecognized"),
            Self::Syntax(verb) => Reply::new(501, (5, 5, 4), verb.usage()),
            Self::InvalidSender(_) => Reply::new(501, (5, 1, 7), "Bad sender address syntax"),
            Self::InvalidRecipient(_) => Reply::new(501, (5, 1, 3), "Bad recipient address syntax"),
            Self::InvalidParameter(_, ParamError::Duplicate) => Reply::new(501, (5, 5, 4), "Duplicate parameter"),
            Self::InvalidParameter(..) => Reply::new(501, (5, 5, 4), "Invalid parameter"),
            Self::Utf8WithoutSmtputf8 => {
                Reply::new(553, (5, 6, 7), "Non-ASCII address requires the SMTPUTF8 parameter")
            }
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSender(e) | Self::InvalidRecipient(e) => write!(f, "{}: {e}", self.reply().text()),
            _ => f.write_str(self.reply().text()),
        }
    }
}

impl std::error::Error for CommandError {}

/// Why a command could not be encoded: some field would not survive the trip to the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A path that does not match the grammar.
    Path(PathError),
    /// A parameter that does not match the grammar, or a known one given as unknown.
    Param(ParamError),
    /// An argument with a control character, a space where none may be, or out of grammar.
    InvalidArgument,
    /// Non-ASCII address in MAIL without `smtputf8` set.
    NonAsciiWithoutSmtputf8,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(e) => write!(f, "invalid path: {e}"),
            Self::Param(e) => write!(f, "invalid parameter: {e:?}"),
            Self::InvalidArgument => f.write_str("invalid argument"),
            Self::NonAsciiWithoutSmtputf8 => f.write_str("non-ASCII address without SMTPUTF8"),
        }
    }
}

impl std::error::Error for EncodeError {}

impl From<PathError> for EncodeError {
    fn from(e: PathError) -> Self {
        Self::Path(e)
    }
}

impl From<ParamError> for EncodeError {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}
