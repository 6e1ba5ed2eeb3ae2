//! What a server session offers and enforces.

use std::time::Duration;

use crate::Mechanism;
use crate::data::BareLineEndings;

/// The configuration shared by the sessions of one listener.
///
/// New fields may come in any release, so it is built from [`ServerConfig::new`] or
/// `default()` and then changed field by field; a struct expression does not compile:
///
/// ```compile_fail
/// use sansmail_smtp_proto::server::ServerConfig;
/// let config = ServerConfig { vrfy: true, ..ServerConfig::default() };
/// ```
///
/// ```
/// use sansmail_smtp_proto::server::ServerConfig;
/// let mut config = ServerConfig::new("mx.example.org");
/// config.vrfy = true;
/// config.limits.message_size = Some(25 << 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name the server gives itself in the greeting and the EHLO reply.
    pub hostname: String,
    /// Text after the hostname in the 220 greeting.
    pub greeting: String,
    /// The service extensions to advertise and honour.
    pub extensions: Extensions,
    /// SASL mechanisms offered by AUTH; empty to offer no AUTH.
    pub auth_mechanisms: Vec<Mechanism<'static>>,
    /// Offer and accept AUTH only under TLS (538 5.7.11 otherwise). Default true.
    pub auth_requires_tls: bool,
    /// Pass VRFY to the embedder; else reply 252 (RFC 5321 §3.5.3). Default false.
    pub vrfy: bool,
    /// Pass EXPN to the embedder; else reply 502. Default false.
    pub expn: bool,
    /// What to do with bare CR or LF in DATA content.
    pub bare_line_endings: BareLineEndings,
    /// Size, count and length limits.
    pub limits: Limits,
    /// Idle timeouts.
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
            hostname: "localhost".into(),
            greeting: "ESMTP".into(),
            extensions: Extensions::default(),
            auth_mechanisms: Vec::new(),
            auth_requires_tls: true,
            vrfy: false,
            expn: false,
            bare_line_endings: BareLineEndings::Reject,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
        }
    }
}

/// Service extensions a server advertises in its EHLO reply. Each one off is neither
/// advertised nor accepted (its command or parameter is refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// PIPELINING (RFC 2920). Default on.
    pub pipelining: bool,
    /// 8BITMIME (RFC 6152). Default on.
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531). Default on.
    pub smtputf8: bool,
    /// CHUNKING: BDAT (RFC 3030). Default on.
    pub chunking: bool,
    /// BINARYMIME (RFC 3030); needs `chunking`. Default on.
    pub binary_mime: bool,
    /// DSN parameters (RFC 3461). Default on.
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034). Default on.
    pub enhanced_status_codes: bool,
    /// STARTTLS (RFC 3207), advertised until TLS is active. Default off: the embedder turns
    /// it on when it has a certificate.
    pub starttls: bool,
    /// ETRN (RFC 1985). Default off.
    pub etrn: bool,
    /// ATRN (RFC 2645). Default off.
    pub atrn: bool,
    /// REQUIRETLS (RFC 8689), advertised under TLS only. Default off.
    pub requiretls: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Self {
            pipelining: true,
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            binary_mime: true,
            dsn: true,
            enhanced_status_codes: true,
            starttls: false,
            etrn: false,
            atrn: false,
            requiretls: false,
        }
    }
}

/// Limits on what a client may send. Defaults follow RFC 5321 §4.5.3 and common servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command line, CRLF included: 512 (RFC 5321 §4.5.3.1.4).
    pub command_line: usize,
    /// Longest AUTH response line, CRLF included: 12,288 (RFC 4954 §4).
    pub auth_line: usize,
    /// Longest line of message content, CRLF included: 1,000 (RFC 5321 §4.5.3.1.6).
    /// `None` accepts any length.
    pub text_line: Option<usize>,
    /// Recipients per transaction: 100 (RFC 5321 §4.5.3.1.8 minimum); more get 452 4.5.3.
    pub recipients: usize,
    /// Largest message in octets, advertised as SIZE: 25 MiB. `None` for no limit.
    pub message_size: Option<u64>,
    /// Error replies per session before 421 and close: 20 (Postfix's hard error limit).
    pub errors: usize,
    /// Input the session buffers while it waits for a decision: 64 KiB.
    pub input_buffer: usize,
    /// Replies the session queues before it stops reading commands until they are taken
    /// with `poll_transmit`: 64 KiB. Bounds a client that pipelines without reading.
    pub output_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            command_line: 512,
            auth_line: 12_288,
            text_line: Some(1000),
            recipients: 100,
            message_size: Some(25 * 1024 * 1024),
            errors: 20,
            input_buffer: 64 * 1024,
            output_buffer: 64 * 1024,
        }
    }
}

/// Server idle timeouts ([RFC 5321 §4.5.3.2.7](https://www.rfc-editor.org/rfc/rfc5321#section-4.5.3.2.7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for a command: 5 minutes.
    pub command: Duration,
    /// Waiting for more message content: 5 minutes (the client's own data-block timeout is 3).
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { command: Duration::from_secs(300), data: Duration::from_secs(300) }
    }
}
