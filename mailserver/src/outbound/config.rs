//! `[outbound]` and `[[route]]`: how mail for remote domains leaves.

use serde::Deserialize;

/// `[outbound]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OutboundConfig {
    /// Relay all remote mail through these hosts (`"host:port"`), tried in order; empty:
    /// look up each domain's MX.
    pub(crate) smarthost: Vec<String>,
    /// The port MX hosts are reached on (25; another only for tests and odd networks).
    pub(crate) port: u16,
    /// DNS servers (`"ip:port"`); empty: the system's (`/etc/resolv.conf`).
    pub(crate) dns_servers: Vec<String>,
    /// Seconds before the first retry after a temporary failure.
    pub(crate) retry_first_secs: u64,
    /// Longest wait between retries (the wait doubles from `retry_first_secs` up to this).
    pub(crate) retry_max_secs: u64,
    /// Seconds a message may wait in the queue before it bounces.
    pub(crate) max_queue_secs: u64,
    /// Seconds after which the sender is told the message is delayed; `0`: never.
    pub(crate) delay_warning_secs: u64,
    /// Deliveries in progress at once.
    pub(crate) concurrency: usize,
    /// Deliveries in progress at once to one destination domain.
    pub(crate) concurrency_per_domain: usize,
    /// Seconds to wait for a TCP connection.
    pub(crate) connect_timeout_secs: u64,
    /// Seconds to wait for the server's greeting (RFC 5321 §4.5.3.2: 5 minutes).
    pub(crate) greeting_timeout_secs: u64,
    /// Seconds to wait for the reply to a command (EHLO, MAIL, RCPT, DATA, …: 5 minutes).
    pub(crate) command_timeout_secs: u64,
    /// Seconds to wait for the reply after the message content (10 minutes).
    pub(crate) data_timeout_secs: u64,
    /// Seconds one attempt to one domain may take as a whole (every host, connect to
    /// QUIT); past it the recipients are deferred.
    pub(crate) attempt_timeout_secs: u64,
    /// When remote mail may leave (see `Timetable`); empty: always. Outside it mail is
    /// held without failed attempts; `sansmail connect` or `queue flush` opens it for a while.
    pub(crate) schedule: Vec<String>,
    /// The schedule's time zone (IANA name); default the system's.
    pub(crate) timezone: Option<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            smarthost: Vec::new(),
            port: 25,
            dns_servers: Vec::new(),
            // Postfix's spirit: 5 minutes, backing off to about 70, for 5 days; warn at 4 hours.
            retry_first_secs: 300,
            retry_max_secs: 4200,
            max_queue_secs: 5 * 86_400,
            delay_warning_secs: 4 * 3600,
            concurrency: 20,
            concurrency_per_domain: 4,
            connect_timeout_secs: 30,
            greeting_timeout_secs: 300,
            command_timeout_secs: 300,
            data_timeout_secs: 600,
            attempt_timeout_secs: 1800,
            schedule: Vec::new(),
            timezone: None,
        }
    }
}

/// How a route uses TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RouteTls {
    /// STARTTLS when offered, certificate not checked (RFC 7435); plaintext otherwise.
    #[default]
    Opportunistic,
    /// STARTTLS with a verified certificate, or the message waits.
    Required,
    /// Never.
    None,
}

/// `[[route]]`: mail for `domain` (and its subdomains when it starts with `.`) goes to
/// `host`, not to the domain's MX.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteConfig {
    pub(crate) domain: String,
    /// `"host:port"`; several are tried in order.
    pub(crate) host: Vec<String>,
    #[serde(default)]
    pub(crate) tls: RouteTls,
    /// PEM file of the authorities that may sign the host's certificate, for
    /// `tls = "required"`; default: the Mozilla roots.
    #[serde(default)]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// AUTH credentials for the host (sent only over TLS).
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
}

impl RouteConfig {
    /// Whether this route serves `domain` (lower-case, no trailing dot).
    pub(crate) fn serves(&self, domain: &str) -> bool {
        let d = self.domain.trim_end_matches('.').to_ascii_lowercase();
        match d.strip_prefix('.') {
            Some(parent) => domain.ends_with(&d) || domain == parent,
            None => domain == d,
        }
    }
}
