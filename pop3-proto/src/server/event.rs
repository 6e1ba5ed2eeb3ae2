//! What the session reports to its embedder.

use crate::{Mechanism, Secret};

/// An event from [`super::ServerSession::poll_event`]. Those marked *decision* wait for an
/// answer before the session reads further.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: USER and PASS were given. Answer [`super::ServerSession::accept_login`] with
    /// the maildrop, or [`super::ServerSession::reject`] (`[AUTH]` for wrong credentials,
    /// `[IN-USE]` for a locked maildrop, `[SYS/TEMP]` when it cannot be opened).
    Login {
        /// The name given with USER.
        user: String,
        /// The password given with PASS (its `Debug` is redacted).
        password: Secret<String>,
    },
    /// *Decision*: APOP; `digest` is MD5(timestamp ‖ secret) in lower-case hex. Answered as
    /// [`Event::Login`].
    Apop {
        /// The mailbox name.
        user: String,
        /// The client's digest.
        digest: String,
    },
    /// *Decision*: AUTH with a mechanism this session offers (RFC 5034). Answer with
    /// [`super::ServerSession::auth_challenge`], [`super::ServerSession::accept_login`] or
    /// [`super::ServerSession::reject`].
    AuthStart {
        /// The mechanism, one of those configured.
        mechanism: Mechanism<'static>,
        /// The decoded initial response, if one was sent.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// *Decision*: the client's decoded answer to the last challenge; answered as
    /// [`Event::AuthStart`].
    AuthResponse(Secret<Vec<u8>>),
    /// The client cancelled the exchange with `*`; the session has answered it.
    AuthCancelled,
    /// `+OK` to STLS is queued: send it, run the TLS handshake, then call
    /// [`super::ServerSession::handle_tls_established`]. Plaintext that followed the command
    /// has been discarded.
    StartTls,
    /// *Decision*: RETR or TOP of a message that exists. Stream its content with
    /// [`super::ServerSession::message_data`] and end with
    /// [`super::ServerSession::message_end`], or [`super::ServerSession::reject`] before
    /// the first octet (say `[SYS/TEMP]` when the file is gone).
    Retrieve {
        /// Index into the maildrop given at login (message number − 1).
        index: usize,
        /// `TOP`: header and this many body lines only (the session cuts the content).
        top: Option<u32>,
    },
    /// *Decision*: QUIT after login (the UPDATE state, RFC 1939 §6): remove these messages
    /// (indices into the maildrop), then [`super::ServerSession::accept`]; or
    /// [`super::ServerSession::reject`] if some could not be removed.
    Update {
        /// The messages marked deleted.
        deleted: Vec<usize>,
    },
    /// The session is over: send what is queued, then close.
    Close,
}
