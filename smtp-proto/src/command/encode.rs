//! Writing commands. Every field is checked against the grammar the parser applies, so
//! `Command::parse_line(encoded) == original` for every command that encodes without error,
//! and no value taken from untrusted data can inject a line.

use std::io::Write as _;

use super::{Command, EncodeError, is_base64};
use crate::Mechanism;

fn printable(s: &str, allow_space: bool) -> Result<&str, EncodeError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f || (!allow_space && (b == b' ' || b == b'\t'))) {
        Err(EncodeError::InvalidArgument)
    } else {
        Ok(s)
    }
}

impl Command<'_> {
    /// Appends the command line, CRLF included, to `out`. On error nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        let result = self.encode_inner(out);
        if result.is_err() {
            out.truncate(start);
        } else {
            out.extend_from_slice(b"\r\n");
        }
        result
    }

    /// The command line as a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out)?;
        Ok(out)
    }

    fn encode_inner(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let simple = |out: &mut Vec<u8>, verb: &str, arg: Option<&str>, allow_space: bool| {
            out.extend_from_slice(verb.as_bytes());
            if let Some(a) = arg {
                out.push(b' ');
                out.extend_from_slice(printable(a, allow_space)?.as_bytes());
            }
            Ok(())
        };
        match self {
            Self::Helo { host } | Self::Ehlo { host } => {
                if host.is_empty() {
                    return Err(EncodeError::InvalidArgument);
                }
                let verb = if matches!(self, Self::Helo { .. }) { "HELO" } else { "EHLO" };
                simple(out, verb, Some(host), false)
            }
            Self::Mail { from, params } => {
                if !params.smtputf8 && !from.is_ascii() {
                    return Err(EncodeError::NonAsciiWithoutSmtputf8);
                }
                out.extend_from_slice(b"MAIL FROM:");
                from.encode(out)?;
                let mut p = String::new();
                params.encode(&mut p)?;
                out.extend_from_slice(printable(&p, true)?.as_bytes());
                Ok(())
            }
            Self::Rcpt { to, params } => {
                out.extend_from_slice(b"RCPT TO:");
                to.encode(out)?;
                let mut p = String::new();
                params.encode(&mut p)?;
                out.extend_from_slice(printable(&p, true)?.as_bytes());
                Ok(())
            }
            Self::Data => simple(out, "DATA", None, false),
            Self::Bdat { size, last } => {
                let _ = write!(out, "BDAT {size}{}", if *last { " LAST" } else { "" });
                Ok(())
            }
            Self::Rset => simple(out, "RSET", None, false),
            Self::Vrfy { arg } | Self::Expn { arg } => {
                if arg.is_empty() {
                    return Err(EncodeError::InvalidArgument);
                }
                let verb = if matches!(self, Self::Vrfy { .. }) { "VRFY" } else { "EXPN" };
                simple(out, verb, Some(arg), true)
            }
            Self::Help { topic } => simple(out, "HELP", topic.as_deref(), true),
            Self::Noop { arg } => simple(out, "NOOP", arg.as_deref(), true),
            Self::Quit => simple(out, "QUIT", None, false),
            Self::StartTls => simple(out, "STARTTLS", None, false),
            Self::Auth { mechanism, initial_response } => {
                if Mechanism::parse(mechanism.as_str().as_bytes()).as_ref() != Some(mechanism) {
                    return Err(EncodeError::InvalidArgument);
                }
                let _ = write!(out, "AUTH {mechanism}");
                match initial_response.as_ref().map(|r| r.expose().as_ref()) {
                    None => {}
                    Some("") => out.extend_from_slice(b" ="),
                    Some(r) if is_base64(r.as_bytes()) => {
                        out.push(b' ');
                        out.extend_from_slice(r.as_bytes());
                    }
                    Some(_) => return Err(EncodeError::InvalidArgument),
                }
                Ok(())
            }
            Self::Etrn { queue } => {
                simple(out, "ETRN", Some(queue), false)?;
                self.check_reparses(out)
            }
            Self::Atrn { domains } => {
                simple(out, "ATRN", domains.as_deref(), false)?;
                self.check_reparses(out)
            }
            Self::Unknown { verb, args } => {
                simple(out, printable(verb, false)?, args.as_deref(), true)?;
                self.check_reparses(out)
            }
        }
    }

    /// For the arguments whose grammar lives only in the parser (ETRN and ATRN names, and
    /// unknown verbs that must not spell a known one), parse the line back.
    fn check_reparses(&self, out: &[u8]) -> Result<(), EncodeError> {
        // `printable` kept line endings out, so the line starts after the last LF in `out`.
        let line = out.rsplit(|&b| b == b'\n').next().unwrap_or(out);
        match Command::parse_line(line) {
            Ok(parsed) if parsed == *self => Ok(()),
            _ => Err(EncodeError::InvalidArgument),
        }
    }
}
