//! What the session reports to its embedder.

use crate::command::{Command, CommandError};
use crate::{Mechanism, Secret};

/// An event from [`super::ServerSession::poll_event`]. Those marked *decision* wait for an
/// answer before the session reads further.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: AUTHINFO USER then PASS (RFC 4643 §2.3). Answer
    /// [`super::ServerSession::accept_login`] or [`super::ServerSession::reject_login`].
    Login {
        /// The name given with USER.
        user: String,
        /// The password given with PASS (its `Debug` is redacted).
        password: Secret<String>,
    },
    /// *Decision*: AUTHINFO SASL with a mechanism this session offers (RFC 4643 §2.4).
    /// Answer [`super::ServerSession::auth_challenge`], `accept_login` or `reject_login`.
    AuthStart {
        /// The mechanism, one of those configured.
        mechanism: Mechanism<'static>,
        /// The decoded initial response, if one was sent.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// *Decision*: the client's decoded answer to the last challenge; answered as
    /// [`Event::AuthStart`].
    AuthResponse(Secret<Vec<u8>>),
    /// `382` to STARTTLS is queued: send it, run the TLS handshake, then call
    /// [`super::ServerSession::handle_tls_established`]. Plaintext that followed the command
    /// has been discarded.
    StartTls,
    /// *Decision*: a command for the embedder (GROUP, ARTICLE, LIST, OVER, POST, IHAVE,
    /// CHECK, …), valid in the session's state. Answer [`super::ServerSession::respond`];
    /// when the response has a block ([`crate::response::has_block`]), write it with
    /// [`super::ServerSession::block_data`] and end it with
    /// [`super::ServerSession::block_end`]. `340` to POST and `335` to IHAVE make the
    /// session read the article; TAKETHIS's article is read at once.
    Command(Request),
    /// The next octets of the article being received (POST, IHAVE, TAKETHIS), dot-stuffing
    /// undone; each piece no larger than the input that brought it.
    ArticleData(Vec<u8>),
    /// *Decision*: the article is whole: store it durably, then
    /// [`super::ServerSession::respond`] (`240`/`441`, `235`/`436`/`437`, `239`/`439`).
    ArticleEnd,
    /// The article being received was too large (past [`super::Limits::max_article`]) and
    /// the session has refused it: drop what was passed on.
    ArticleAborted,
    /// Close the connection once pending output is written (after QUIT, a timeout or too
    /// many errors). No events follow.
    Close,
}

/// A command the session has parsed and checked: its line and what was parsed from it,
/// kept together so [`Request::command`] neither fails nor parses again.
#[derive(Debug, PartialEq, Eq)]
pub struct Request(Parsed);

self_cell::self_cell!(
    /// The line and the command that borrows from it.
    struct Parsed {
        owner: Vec<u8>,
        #[covariant]
        dependent: Command,
    }

    impl {Debug, PartialEq, Eq}
);

impl Request {
    /// Parses `line` (without CRLF).
    pub(super) fn parse(line: Vec<u8>) -> Result<Self, CommandError> {
        Parsed::try_new(line, |l| Command::parse_line(l)).map(Self)
    }

    /// The command, as the session parsed it.
    pub fn command(&self) -> &Command<'_> {
        self.0.borrow_dependent()
    }

    /// The command line as the client sent it (without CRLF).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.borrow_owner()
    }
}
