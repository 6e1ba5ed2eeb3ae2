//! What the server session asks of its embedder.

use crate::Secret;
use crate::command::{Command, ParseError};

/// A decision or a command for the embedder, from [`super::ServerSession::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `LOGIN`: check the credentials, then [`super::ServerSession::accept_login`] or
    /// [`super::ServerSession::reject_login`].
    Login {
        /// The user name, as sent.
        username: Vec<u8>,
        /// The password (its `Debug` is redacted).
        password: Secret<Vec<u8>>,
    },
    /// `AUTHENTICATE`: the mechanism (one of the configured ones, upper-cased) and the
    /// decoded initial response (SASL-IR; `=` is `Some` of nothing). Answer with
    /// [`super::ServerSession::auth_challenge`], `accept_login` or `reject_login`.
    AuthStart {
        /// The mechanism.
        mechanism: String,
        /// The initial response, decoded.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// The client's answer to a challenge, decoded. Answer as for `AuthStart`.
    AuthResponse(Secret<Vec<u8>>),
    /// `STARTTLS` was answered `OK`: send what [`super::ServerSession::poll_transmit`] gives,
    /// then do the TLS handshake and call [`super::ServerSession::handle_tls_established`].
    /// Nothing the client sent after the command is kept.
    StartTls,
    /// `APPEND` announced a synchronising literal of `size` octets: check the quota, then
    /// [`super::ServerSession::accept_literal`] or [`super::ServerSession::refuse_literal`].
    AppendLiteral {
        /// The announced size.
        size: u64,
    },
    /// A command for the embedder, valid in the session's state: write its untagged data
    /// ([`super::ServerSession::output`]) and finish it with
    /// [`super::ServerSession::complete`]. For `IDLE`, the continuation has been sent:
    /// write updates as they happen until [`Event::IdleDone`].
    Command(Request),
    /// The client ended `IDLE`: write any last updates and complete the command.
    IdleDone,
    /// Close the connection once pending output is written (after LOGOUT, a `BYE`, a
    /// timeout or too many errors). No events follow.
    Close,
}

/// A command the session has parsed and checked, kept as its octets (an `APPEND` message
/// is not copied); [`Request::command`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub(super) raw: Vec<u8>,
}

impl Request {
    /// The command. The session parsed it before handing it over, so this is always `Ok`.
    pub fn command(&self) -> Result<Command<'_>, ParseError> {
        Command::parse(&self.raw)
    }

    /// The command's octets, as the client sent them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}
