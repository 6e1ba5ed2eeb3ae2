//! What a server session offers, and its limits.

use std::time::Duration;

use crate::Mechanism;

/// A server session's configuration, shared by every session of a listener.
///
/// New fields may come in any release, so it is built from [`ServerConfig::new`] or
/// `default()` and then changed field by field; a struct expression does not compile:
///
/// ```compile_fail
/// use sansmail_pop3_proto::server::ServerConfig;
/// let config = ServerConfig { stls: true, ..ServerConfig::default() };
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// This server's name, in the greeting.
    pub hostname: String,
    /// The greeting's text after the hostname.
    pub greeting: String,
    /// `IMPLEMENTATION` in CAPA, if any.
    pub implementation: Option<String>,
    /// Offer STLS on a connection that is not yet TLS (RFC 2595).
    pub stls: bool,
    /// Allow USER/PASS and the plaintext SASL mechanisms (PLAIN, LOGIN) before TLS.
    /// Off by default: passwords do not cross the network in the clear.
    pub plaintext_without_tls: bool,
    /// Allow the challenge-response SASL mechanisms (CRAM-MD5, SCRAM-*) before TLS. Off by
    /// default: they keep the password off the wire, but the exchange can still be
    /// attacked with a dictionary offline, and the mail that follows is in the clear.
    /// (APOP has its own switch, [`ServerConfig::apop`].)
    pub challenge_response_without_tls: bool,
    /// Offer APOP: the greeting carries the timestamp passed to [`super::ServerSession::new`].
    pub apop: bool,
    /// SASL mechanisms offered, strongest first (RFC 5034).
    pub mechanisms: Vec<Mechanism<'static>>,
    /// `EXPIRE` in CAPA: `Some(None)` is `EXPIRE NEVER`, `Some(Some(days))` a retention period.
    pub expire: Option<Option<u32>>,
    /// `LOGIN-DELAY` in CAPA, seconds.
    pub login_delay: Option<u32>,
    /// Limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl ServerConfig {
    /// The defaults, with the name the server gives itself.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self { hostname: hostname.into(), ..Self::default() }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            greeting: "POP3 server ready".to_owned(),
            implementation: None,
            stls: false,
            plaintext_without_tls: false,
            challenge_response_without_tls: false,
            apop: false,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            expire: None,
            login_delay: None,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// Bounds on what a client can make the session hold or do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command line, CRLF included (RFC 2449 §4: 255).
    pub command_line: usize,
    /// Longest line during an AUTH exchange (SASL responses are longer than commands).
    pub auth_line: usize,
    /// Failed commands before `-ERR` and close.
    pub errors: usize,
    /// Output not yet taken by the embedder beyond which no further command is read.
    pub output_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { command_line: crate::command::MAX_COMMAND_LINE, auth_line: 12_288, errors: 20, output_buffer: 64 * 1024 }
    }
}

/// Inactivity timeouts (RFC 1939 §3: an autologout timer of at least 10 minutes).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Timeouts {
    /// Before login.
    pub authorization: Duration,
    /// After login.
    pub transaction: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { authorization: Duration::from_secs(600), transaction: Duration::from_secs(600) }
    }
}
