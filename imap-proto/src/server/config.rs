//! What a server session offers, and its limits.

use std::time::Duration;

use crate::Mechanism;
use crate::framing::FramingConfig;

/// A server session's configuration, shared by every session of a listener.
///
/// New fields may come in any release, so it is built from `default()` and then changed
/// field by field; a struct expression does not compile:
///
/// ```compile_fail
/// use sansmail_imap_proto::server::ServerConfig;
/// let config = ServerConfig { starttls: true, ..ServerConfig::default() };
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The greeting's text (`* OK [CAPABILITY …] text`).
    pub greeting: String,
    /// Offer STARTTLS on a connection that is not yet TLS (RFC 3501 §6.2.1).
    pub starttls: bool,
    /// Allow LOGIN and the plaintext SASL mechanisms (PLAIN, LOGIN) before TLS. Off by
    /// default: `LOGINDISABLED` is advertised and passwords do not cross the network in the
    /// clear (RFC 9051 §6.2.3).
    pub plaintext_without_tls: bool,
    /// Allow the challenge-response SASL mechanisms (CRAM-MD5, SCRAM-*) before TLS. Off by
    /// default: they keep the password off the wire, but the exchange can still be
    /// attacked with a dictionary offline, and the mail that follows is in the clear.
    pub challenge_response_without_tls: bool,
    /// SASL mechanisms offered (`AUTH=…`), strongest first. None by default: the embedder
    /// checks the exchange, so it names the mechanisms it can check.
    pub mechanisms: Vec<Mechanism<'static>>,
    /// Capabilities of the commands the embedder answers, such as `NAMESPACE`, `UIDPLUS`
    /// or `MOVE`. None by default: only the embedder knows what it implements. (The session
    /// adds its own: `IMAP4rev1`, the literal extensions, `BINARY` per [`FramingConfig`],
    /// `SASL-IR`, `ID`, `ENABLE`, `IDLE`, `STARTTLS`, `LOGINDISABLED`, `AUTH=`.)
    pub extensions: Vec<String>,
    /// Capabilities a client may turn on with ENABLE (RFC 5161).
    pub enable: Vec<String>,
    /// Offer `COMPRESS=DEFLATE` (RFC 4978) once logged in. Off by default: at
    /// [`super::Event::Compress`] the embedder deflates what it writes and inflates what it
    /// reads from then on.
    pub compress: bool,
    /// The server's `ID` (RFC 2971) fields.
    pub id: Vec<(String, String)>,
    /// Framing after login (line, literal and command sizes; LITERAL+/-, BINARY).
    pub framing: FramingConfig,
    /// Limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            greeting: "IMAP server ready".to_owned(),
            starttls: false,
            plaintext_without_tls: false,
            challenge_response_without_tls: false,
            mechanisms: Vec::new(),
            extensions: Vec::new(),
            enable: Vec::new(),
            compress: false,
            id: vec![("name".to_owned(), "Sansmail".to_owned())],
            framing: FramingConfig::default(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// Bounds on what a client can make the session hold or do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Largest literal before login (a LOGIN password, a SASL response).
    pub prelogin_literal: u64,
    /// Octets a client may send before it has logged in; past it, `* BYE` and close.
    pub prelogin_bytes: u64,
    /// Longest line of an AUTHENTICATE exchange.
    pub auth_line: usize,
    /// Failed logins before `* BYE` and close.
    pub login_failures: u32,
    /// Commands answered `BAD` before `* BYE` and close.
    pub errors: u32,
    /// Output not yet taken by the embedder beyond which no further command is read.
    pub output_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            prelogin_literal: 8 * 1024,
            prelogin_bytes: 64 * 1024,
            auth_line: 12_288,
            login_failures: 3,
            errors: 20,
            output_buffer: 256 * 1024,
        }
    }
}

/// Inactivity timeouts (autologout, RFC 3501 §5.4: at least 30 minutes once logged in).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Timeouts {
    /// Before login.
    pub prelogin: Duration,
    /// After login, IDLE included (clients renew IDLE every 29 minutes, RFC 2177).
    pub authenticated: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { prelogin: Duration::from_secs(180), authenticated: Duration::from_secs(30 * 60) }
    }
}
