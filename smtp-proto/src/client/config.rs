//! What a client session does and how long it waits.

use std::time::Duration;

use crate::address::{ForwardPath, Mailbox, PathError, ReversePath};
use crate::command::{MailParams, RcptParams};
use crate::reply::ReplyLimits;

/// Whether to use STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never upgrade.
    Never,
    /// Upgrade when the server offers STARTTLS; go on in plaintext when it does not.
    #[default]
    Opportunistic,
    /// Fail unless the session runs over TLS.
    Required,
}

/// Credentials for AUTH (PLAIN preferred, LOGIN when PLAIN is not offered).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Client behaviour.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name to give in EHLO/HELO.
    pub hello_name: String,
    /// STARTTLS use.
    pub tls: TlsPolicy,
    /// Credentials to authenticate with, if any.
    pub credentials: Option<Credentials>,
    /// Allow AUTH without TLS (default false: the password would cross in clear).
    pub plaintext_auth: bool,
    /// Use PIPELINING when offered (default true).
    pub pipelining: bool,
    /// Use BDAT when CHUNKING is offered (default true).
    pub chunking: bool,
    /// Keep the connection after a transaction instead of saying QUIT, so that
    /// [`ClientSession::next_transaction`](super::ClientSession::next_transaction) can send
    /// another message over it (default false).
    pub keep_open: bool,
    /// Bounds on each reply.
    pub reply_limits: ReplyLimits,
    /// Message content the session holds unsent before [`ClientSession::write_body`]
    /// takes no more (the embedder writes the output, then offers the rest). Default
    /// 256 KiB; with dot-stuffing the output can reach twice this.
    ///
    /// [`ClientSession::write_body`]: super::ClientSession::write_body
    pub body_buffer: usize,
    /// How long to wait for each reply.
    pub timeouts: ClientTimeouts,
}

impl ClientConfig {
    /// The defaults, with the name to give in EHLO.
    pub fn new(hello_name: impl Into<String>) -> Self {
        Self { hello_name: hello_name.into(), ..Self::default() }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            hello_name: "localhost".into(),
            tls: TlsPolicy::default(),
            credentials: None,
            plaintext_auth: false,
            pipelining: true,
            chunking: true,
            keep_open: false,
            reply_limits: ReplyLimits::default(),
            body_buffer: 256 * 1024,
            timeouts: ClientTimeouts::default(),
        }
    }
}

/// Client timeouts ([RFC 5321 §4.5.3.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTimeouts {
    /// Initial 220 greeting: 5 minutes.
    pub greeting: Duration,
    /// EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT: 5 minutes.
    pub command: Duration,
    /// The 354 to DATA: 2 minutes.
    pub data_init: Duration,
    /// The reply to a BDAT chunk: 3 minutes (the RFC's data-block timeout).
    pub data_block: Duration,
    /// The reply after the end of the content: 10 minutes.
    pub data_term: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Self { greeting: min(5), command: min(5), data_init: min(2), data_block: min(3), data_term: min(10) }
    }
}

/// The envelope of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sender.
    pub from: ReversePath<'static>,
    /// MAIL parameters. Those the server does not advertise are dropped (SIZE, BODY=8BITMIME,
    /// DSN's) or make the session fail (SMTPUTF8 with a non-ASCII address, REQUIRETLS,
    /// BODY=BINARYMIME without CHUNKING).
    pub params: MailParams<'static>,
    /// The recipients, in order; results are reported by index.
    pub recipients: Vec<(ForwardPath<'static>, RcptParams<'static>)>,
}

impl Envelope {
    /// An envelope from addresses as text, with no parameters: `from` is `local@domain`
    /// (or empty for the null sender `<>`), each of `to` is `local@domain`.
    ///
    /// ```
    /// use sansmail_smtp_proto::client::Envelope;
    /// let e = Envelope::new("alice@example.org", &["bob@example.net", "carol@example.net"]).unwrap();
    /// assert_eq!(e.recipients.len(), 2);
    /// assert!(Envelope::new("", &["postmaster@example.net"]).is_ok());
    /// assert!(Envelope::new("not an address", &["bob@example.net"]).is_err());
    /// ```
    pub fn new(from: &str, to: &[&str]) -> Result<Self, PathError> {
        let from =
            if from.is_empty() { ReversePath::Null } else { ReversePath::Mailbox(from.parse::<Mailbox<'static>>()?) };
        let recipients = to
            .iter()
            .map(|t| Ok((ForwardPath::Mailbox(t.parse::<Mailbox<'static>>()?), RcptParams::default())))
            .collect::<Result<_, PathError>>()?;
        Ok(Self { from, params: MailParams::default(), recipients })
    }
}
