//! What a server session offers, and its limits.

use std::time::Duration;

use crate::Mechanism;

/// A server session's configuration, shared by every session of a listener.
///
/// New fields may come in any release, so it is built from [`ServerConfig::new`] or
/// `default()` and then changed field by field; a struct expression does not compile:
///
/// ```compile_fail
/// use sansmail_nntp_proto::server::ServerConfig;
/// let config = ServerConfig { starttls: true, ..ServerConfig::default() };
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// This server's name, in the greeting.
    pub hostname: String,
    /// `IMPLEMENTATION` in CAPABILITIES, if any.
    pub implementation: Option<String>,
    /// Offer STARTTLS on a connection that is not yet TLS (RFC 4642).
    pub starttls: bool,
    /// Allow AUTHINFO USER/PASS and the plaintext SASL mechanisms before TLS. Off by
    /// default: passwords do not cross the network in the clear (`483`).
    pub plaintext_without_tls: bool,
    /// Allow the challenge-response SASL mechanisms before TLS. Off by default.
    pub challenge_response_without_tls: bool,
    /// SASL mechanisms offered, strongest first (RFC 4643 §2.4). None by default: the
    /// embedder checks the exchange, so it names the mechanisms it can check.
    pub mechanisms: Vec<Mechanism<'static>>,
    /// Offer the reader commands (`READER` in CAPABILITIES).
    pub reader: bool,
    /// Offer IHAVE (transit).
    pub ihave: bool,
    /// Offer MODE STREAM, CHECK and TAKETHIS (RFC 4644).
    pub streaming: bool,
    /// Every command but CAPABILITIES, HELP, MODE READER, STARTTLS, AUTHINFO and QUIT is
    /// answered `480` until the client has logged in.
    pub auth_required: bool,
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
            implementation: None,
            starttls: false,
            plaintext_without_tls: false,
            challenge_response_without_tls: false,
            mechanisms: Vec::new(),
            reader: true,
            ihave: false,
            streaming: false,
            auth_required: false,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// Bounds on what a client can make the session hold or do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// Largest article taken by POST, IHAVE or TAKETHIS, in octets as decoded. A larger
    /// one is read to its end and refused (`441`, `437`, `439`); its octets are not passed on.
    pub max_article: u64,
    /// Commands answered `500`/`501` before `400` and close.
    pub errors: u32,
    /// Failed logins before `400` and close.
    pub login_failures: u32,
    /// Longest line in an article (RFC 5536 allows 998 octets; 0 for no check).
    pub max_article_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_article: 1024 * 1024, errors: 20, login_failures: 3, max_article_line: 0 }
    }
}

/// Inactivity timeout (RFC 3977 §3.1: at least three minutes).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Timeouts {
    /// Without input for this long, `400` and close.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { idle: Duration::from_secs(10 * 60) }
    }
}
