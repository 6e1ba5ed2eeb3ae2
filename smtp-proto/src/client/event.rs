//! What a client session tells its embedder: events, the stage a refusal came at, and
//! errors.

use std::fmt;

#[cfg(doc)]
use super::ClientSession;
use crate::command::EncodeError;
use crate::reply::{Reply, ReplyError};

/// Something the embedder must act on or learn.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server accepted STARTTLS: write pending output, run the TLS handshake, then call
    /// [`ClientSession::handle_tls_established`].
    StartTls,
    /// Send the message with [`ClientSession::write_body`] and [`ClientSession::finish_body`].
    ReadyForBody,
    /// The reply to one recipient's RCPT.
    Recipient {
        /// The recipient's index in the envelope.
        index: usize,
        /// The server's reply (2yz: accepted).
        reply: Reply<'static>,
    },
    /// The transaction is over: the reply to the end of the content, which holds for every
    /// recipient that was accepted, or why it failed.
    Done(Result<Reply<'static>, ClientError>),
    /// Close the connection once pending output is written.
    Close,
}

/// At which step a reply refused the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Stage {
    Greeting,
    Hello,
    StartTls,
    Auth,
    Mail,
    Data,
    EndOfData,
}

/// Why a client session failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The server's bytes are not a valid reply, or break a limit.
    Reply(ReplyError),
    /// A reply that refused the transaction at some step.
    Rejected(Stage, Reply<'static>),
    /// Every recipient was refused.
    NoRecipientsAccepted,
    /// TLS was required and the server does not offer STARTTLS.
    TlsUnavailable,
    /// Credentials were given and no usable mechanism is offered (or TLS is missing).
    AuthUnavailable,
    /// The declared size is over the server's SIZE limit.
    MessageTooBig {
        /// The server's limit.
        limit: u64,
    },
    /// The envelope needs an extension the server lacks (SMTPUTF8, REQUIRETLS, BINARYMIME).
    ExtensionMissing(&'static str),
    /// The server sent a reply when none was due.
    UnexpectedReply,
    /// No reply in time.
    Timeout,
    /// The connection closed before the end.
    ConnectionClosed,
    /// A command of the session could not be written (a path or parameter out of grammar).
    Encode(EncodeError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reply(e) => write!(f, "invalid reply: {e}"),
            Self::Rejected(stage, reply) => write!(f, "refused at {stage:?}: {reply}"),
            Self::NoRecipientsAccepted => f.write_str("no recipient was accepted"),
            Self::TlsUnavailable => f.write_str("TLS required but STARTTLS is not offered"),
            Self::AuthUnavailable => f.write_str("no usable authentication mechanism"),
            Self::MessageTooBig { limit } => write!(f, "message larger than the server's limit of {limit}"),
            Self::ExtensionMissing(ext) => write!(f, "server lacks {ext}"),
            Self::UnexpectedReply => f.write_str("unexpected reply"),
            Self::Timeout => f.write_str("timed out waiting for a reply"),
            Self::ConnectionClosed => f.write_str("connection closed"),
            Self::Encode(e) => write!(f, "cannot write a command: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Why [`ClientSession::next_transaction`] refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextTransactionError {
    /// No transaction can start now (one is running, or the session is closing).
    NotIdle,
    /// A path or parameter of the envelope cannot be written.
    Envelope(EncodeError),
}

impl fmt::Display for NextTransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotIdle => f.write_str("the session is not between transactions"),
            Self::Envelope(e) => write!(f, "envelope: {e}"),
        }
    }
}

impl std::error::Error for NextTransactionError {}

/// Calling [`ClientSession::write_body`] or [`ClientSession::finish_body`] out of turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotReadyForBody;

impl fmt::Display for NotReadyForBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the session is not waiting for the message body")
    }
}

impl std::error::Error for NotReadyForBody {}
