//! What the server session asks of its embedder.

use crate::command::{Command, ParseError};
use crate::{Mechanism, Secret};

/// A decision or a command for the embedder, from [`super::ServerSession::poll_event`].
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `LOGIN`: check the credentials, then [`super::ServerSession::accept_login`] or
    /// [`super::ServerSession::reject_login`].
    Login {
        /// The user name, as sent.
        user: String,
        /// The password (its `Debug` is redacted).
        password: Secret<String>,
    },
    /// `AUTHENTICATE`: the mechanism (one of the configured ones, upper-cased) and the
    /// decoded initial response (SASL-IR; `=` is `Some` of nothing). Answer with
    /// [`super::ServerSession::auth_challenge`], `accept_login` or `reject_login`.
    AuthStart {
        /// The mechanism, one of those configured.
        mechanism: Mechanism<'static>,
        /// The initial response, decoded.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// The client's answer to a challenge, decoded. Answer as for `AuthStart`.
    AuthResponse(Secret<Vec<u8>>),
    /// `STARTTLS` was answered `OK`: send what [`super::ServerSession::poll_transmit`] gives,
    /// then do the TLS handshake and call [`super::ServerSession::handle_tls_established`].
    /// Nothing the client sent after the command is kept.
    StartTls,
    /// `APPEND` announced a synchronising literal of `size` octets, no larger than
    /// [`crate::FramingConfig::stream_literals_above`]: check the quota, then
    /// [`super::ServerSession::accept_literal`] (the message then comes whole in
    /// [`Event::Command`]) or [`super::ServerSession::refuse_literal`].
    AppendLiteral {
        /// The announced size.
        size: u64,
    },
    /// `APPEND` announced a message larger than
    /// [`crate::FramingConfig::stream_literals_above`], synchronising or not: it is streamed.
    /// `request` is the command as if its message were empty (mailbox, flags and a
    /// `date-time` the session has checked). Check the mailbox and the quota, then
    /// [`super::ServerSession::accept_literal`] or [`super::ServerSession::refuse_literal`].
    /// Once accepted, the message comes as [`Event::AppendData`] pieces, and the append ends
    /// with [`Event::AppendEnd`] (store it, then [`super::ServerSession::complete`]),
    /// [`Event::AppendAborted`] or [`Event::Close`] (discard what was stored).
    ///
    /// With MULTIAPPEND (RFC 3502) in [`super::ServerConfig::extensions`], a further message
    /// of the same command comes as another `AppendStart` (same mailbox) after the previous
    /// one's data: keep them all, and store all or none at `AppendEnd`. Refusing any refuses
    /// the command: discard the ones before it too.
    AppendStart {
        /// The APPEND, its message empty.
        request: Request,
        /// The message's size, as announced.
        size: u64,
    },
    /// The next octets of the message being appended (each piece no larger than the input
    /// that brought it).
    AppendData(Vec<u8>),
    /// The streamed message is complete and the command well-formed: store it and answer
    /// with [`super::ServerSession::complete`] (`OK [APPENDUID …]` or a failure).
    AppendEnd,
    /// The streamed APPEND failed after its message began (the session answered it `BAD`):
    /// discard what was stored.
    AppendAborted,
    /// A command for the embedder, valid in the session's state: write its untagged data
    /// ([`super::ServerSession::output`]) and finish it with
    /// [`super::ServerSession::complete`]. For `IDLE`, the continuation has been sent:
    /// write updates as they happen until [`Event::IdleDone`].
    Command(Request),
    /// The client ended `IDLE`: write any last updates and complete the command.
    IdleDone,
    /// COMPRESS DEFLATE succeeded (RFC 4978), and its `OK` is the last output queued: write
    /// it as it is, then deflate (raw DEFLATE, RFC 1951, flushed at the end of each write) all
    /// that is written and inflate all that is read. Input the session held after the command
    /// was dropped: a client waits for the `OK` before it sends compressed data.
    Compress,
    /// Close the connection once pending output is written (after LOGOUT, a `BYE`, a
    /// timeout or too many errors). No events follow.
    Close,
}

/// A command the session has parsed and checked. It keeps the command's octets and what was
/// parsed from them side by side, so [`Request::command`] neither fails nor parses again, and
/// an `APPEND` message is not copied.
#[derive(Debug, PartialEq, Eq)]
pub struct Request(Parsed);

self_cell::self_cell!(
    /// The octets and the command that borrows from them.
    struct Parsed {
        owner: Vec<u8>,
        #[covariant]
        dependent: Command,
    }

    impl {Debug, PartialEq, Eq}
);

impl Request {
    /// Parses `raw`, or gives it back with the reason it is not a command.
    pub(super) fn parse(raw: Vec<u8>) -> Result<Self, (Vec<u8>, ParseError)> {
        Parsed::try_new_or_recover(raw, |raw| Command::parse(raw)).map(Self)
    }

    /// The command, as the session parsed it.
    ///
    /// ```
    /// use std::{sync::Arc, time::Instant};
    /// use sansmail_imap_proto::command::{Body, Command, Mailbox};
    /// use sansmail_imap_proto::server::{Event, ServerConfig, ServerSession};
    ///
    /// let mut config = ServerConfig::default();
    /// config.plaintext_without_tls = true;
    /// let now = Instant::now();
    /// let mut session = ServerSession::new(Arc::new(config), now, false);
    /// let _ = session.handle_input(now, b"a1 LOGIN joe secret\r\n");
    /// while let Some(event) = session.poll_event() {
    ///     if let Event::Login { .. } = event {
    ///         session.accept_login("joe").unwrap();
    ///     }
    /// }
    /// let _ = session.handle_input(now, b"a2 SELECT inbox\r\n");
    /// let Some(Event::Command(request)) = session.poll_event() else { panic!("a command") };
    /// let command: &Command<'_> = request.command();
    /// assert_eq!(command.tag, "a2");
    /// assert!(matches!(command.body, Body::Select { mailbox: Mailbox::Inbox, .. }));
    /// assert_eq!(request.as_bytes(), b"a2 SELECT inbox\r\n");
    /// ```
    pub fn command(&self) -> &Command<'_> {
        self.0.borrow_dependent()
    }

    /// The command's octets, as the client sent them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.borrow_owner()
    }
}
