//! What a server session reports to its embedder.

use std::borrow::Cow;

use bytes::Bytes;

use crate::address::{ForwardPath, ReversePath};
use crate::command::{MailParams, RcptParams};
use crate::{Mechanism, Secret};

/// An event from [`ServerSession::poll_event`](super::ServerSession::poll_event).
///
/// Events marked *decision* stop the session until the embedder calls
/// [`accept`](super::ServerSession::accept), [`accept_with`](super::ServerSession::accept_with)
/// or [`reject`](super::ServerSession::reject) (and, for AUTH,
/// [`auth_challenge`](super::ServerSession::auth_challenge)). The others are informational:
/// the session has already replied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision.* HELO or EHLO; `accept` replies with the greeting or the extension list.
    Hello {
        /// The name the client gave.
        host: Cow<'static, str>,
        /// EHLO rather than HELO.
        esmtp: bool,
    },
    /// *Decision.* MAIL FROM; `accept` replies `250 2.1.0`.
    MailFrom {
        /// The sender.
        from: ReversePath<'static>,
        /// Its parameters (unknown ones were already refused).
        params: MailParams<'static>,
    },
    /// *Decision.* RCPT TO; `accept` replies `250 2.1.5`.
    Recipient {
        /// The recipient.
        to: ForwardPath<'static>,
        /// Its parameters.
        params: RcptParams<'static>,
    },
    /// Message content begins (after `354`, or with the first BDAT chunk).
    MessageStart,
    /// A piece of message content, in order, transparency removed.
    MessageData(Bytes),
    /// *Decision.* The content is complete; `accept_with` the queue reply only once the
    /// message is safely stored.
    MessageEnd {
        /// Octets of content.
        size: u64,
    },
    /// The content was thrown away and the session has replied; forget what was stored.
    MessageAborted(AbortReason),
    /// The transaction was reset (RSET, HELO/EHLO, STARTTLS): forget sender and recipients.
    Reset,
    /// *Decision.* AUTH: `auth_challenge`, `accept` (235) or `reject` (e.g. 535 5.7.8).
    AuthStart {
        /// The mechanism, one of those configured.
        mechanism: Mechanism<'static>,
        /// The decoded initial response, if one was sent (`=` is an empty one).
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// *Decision.* The client's decoded answer to a challenge; answered as `AuthStart`.
    AuthResponse(Secret<Vec<u8>>),
    /// The client cancelled AUTH with `*`; the session replied 501.
    AuthCancelled,
    /// STARTTLS was accepted: write out all pending output, run the TLS handshake, then
    /// call [`handle_tls_established`](super::ServerSession::handle_tls_established). Input
    /// received after the command was discarded (CVE-2011-0411).
    StartTls,
    /// *Decision.* VRFY (only when [`ServerConfig::vrfy`](super::ServerConfig::vrfy)).
    Verify(Cow<'static, str>),
    /// *Decision.* EXPN (only when [`ServerConfig::expn`](super::ServerConfig::expn)).
    Expand(Cow<'static, str>),
    /// *Decision.* ETRN: start the queue run for this node; `accept` replies `250 2.0.0`.
    Etrn(Cow<'static, str>),
    /// *Decision.* ATRN from an authenticated client. `accept` replies 250 and hands the
    /// connection over: the embedder now runs a client session on it, in reverse.
    Atrn {
        /// The domains asked for; empty for all the client may have.
        domains: Vec<String>,
    },
    /// Close the connection once pending output is written (after QUIT, a 421, a timeout,
    /// too many errors, or ATRN's turn).
    Close,
}

impl Event {
    /// Whether the session waits for an answer to this event.
    pub fn is_decision(&self) -> bool {
        matches!(
            self,
            Self::Hello { .. }
                | Self::MailFrom { .. }
                | Self::Recipient { .. }
                | Self::MessageEnd { .. }
                | Self::AuthStart { .. }
                | Self::AuthResponse(_)
                | Self::Verify(_)
                | Self::Expand(_)
                | Self::Etrn(_)
                | Self::Atrn { .. }
        )
    }
}

/// Why message content was thrown away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// Larger than the configured limit (552 5.3.4).
    TooBig,
    /// Bare CR or LF under [`BareLineEndings::Reject`](crate::data::BareLineEndings::Reject).
    BareLineEnding,
    /// A line longer than the text line limit.
    LineTooLong,
    /// A BDAT sequence was cut by RSET, or a BDAT chunk came in a state that refused it.
    Reset,
    /// The client went silent.
    Timeout,
}
