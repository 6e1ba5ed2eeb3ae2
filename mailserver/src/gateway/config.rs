//! `[[gateway]]`: what the administrator configures for one store-and-forward gateway.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

use crate::outbound::RouteTls;

/// Which recipients of a gateway's domains are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Recipients {
    /// Any address in the domains (the seeds' way; whatever the domain's server later
    /// refuses comes back as a bounce to the sender, so this can send backscatter).
    #[default]
    Any,
    /// Only the `addresses` listed; others get `550 5.1.1` at RCPT.
    Listed,
    /// Each address asked of the domain's own server (`host`) first, by an SMTP callout
    /// (MAIL FROM:<> and RCPT, then QUIT), the answer cached; when the server cannot be
    /// asked, `callout_fallback` decides.
    Callout,
}

/// What RCPT gets when a callout cannot reach the domain's server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CalloutFallback {
    /// Taken (a backup MX for a server that is down must take its mail).
    #[default]
    Accept,
    /// `451 4.4.3`: the sender tries again later.
    Defer,
}

/// How a gateway's mail leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Delivery {
    /// To `host` at once, retried as any queued mail.
    #[default]
    Forward,
    /// Held until ETRN or `sansmail gateway flush`.
    Hold,
    /// Kept in one local mailbox (`mailbox`), each copy with `Delivered-To` naming the
    /// address it was for, for the domain's server to collect over POP3 or IMAP.
    Mailbox,
}

fn hold_days() -> u64 {
    14
}

/// `[[gateway]]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GatewayConfig {
    /// A name (logs, the CLI, ETRN's `#name` form); default: the first domain.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The domains whose mail this gateway takes.
    pub(crate) domains: Vec<String>,
    #[serde(default)]
    pub(crate) recipients: Recipients,
    /// For `recipients = "listed"`: whole addresses.
    #[serde(default)]
    pub(crate) addresses: Vec<String>,
    /// For `recipients = "callout"`: when no server could be asked.
    #[serde(default)]
    pub(crate) callout_fallback: CalloutFallback,
    /// How long a callout's "exists" is remembered, in minutes.
    #[serde(default = "callout_positive_mins")]
    pub(crate) callout_positive_mins: u64,
    /// How long a callout's "no such user" is remembered, in minutes.
    #[serde(default = "callout_negative_mins")]
    pub(crate) callout_negative_mins: u64,
    #[serde(default)]
    pub(crate) delivery: Delivery,
    /// When `delivery = "forward"` mail goes out (see `Timetable`): none, at once; with
    /// entries, held between them. `["on demand"]`: only by ETRN, ATRN or the CLI.
    #[serde(default)]
    pub(crate) schedule: Vec<String>,
    /// The schedule's time zone (an IANA name such as `Europe/Paris`); default the system's.
    #[serde(default)]
    pub(crate) timezone: Option<String>,
    /// The envelope sender of forwarded mail, in place of each message's own (`""`: the
    /// null sender). Bounces of the hand-over then go there rather than to the senders.
    #[serde(default)]
    pub(crate) envelope_sender: Option<String>,
    /// Attachments are taken out of the mail as it is accepted, each replaced by a short
    /// text part naming what was removed.
    #[serde(default)]
    pub(crate) strip_attachments: bool,
    /// The domains' own server (`"host:port"`, several tried in order). Needed unless every
    /// hand-over goes to the ETRN client (`etrn_to_client`) or to a mailbox.
    #[serde(default)]
    pub(crate) host: Vec<String>,
    /// For `delivery = "mailbox"`: the local account that keeps the domains' mail.
    #[serde(default)]
    pub(crate) mailbox: Option<String>,
    /// A local account that keeps a copy of every message the gateway takes (an archive
    /// of what was handed on), one copy per message.
    #[serde(default)]
    pub(crate) keep_copy: Option<String>,
    /// Accounts that may collect the held mail with ATRN (RFC 2645) on an `odmr` listener.
    #[serde(default)]
    pub(crate) atrn_users: Vec<String>,
    /// If set, ATRN is taken only from these client networks too.
    #[serde(default)]
    pub(crate) atrn_networks: Vec<IpNet>,
    #[serde(default)]
    pub(crate) tls: RouteTls,
    #[serde(default)]
    pub(crate) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// Client networks that may ask for the mail with ETRN; none: nobody.
    #[serde(default)]
    pub(crate) etrn_networks: Vec<IpNet>,
    /// ETRN delivers to the asking client's address (port `etrn_port`) rather than `host`.
    #[serde(default)]
    pub(crate) etrn_to_client: bool,
    #[serde(default = "smtp_port")]
    pub(crate) etrn_port: u16,
    /// Held mail not collected within this many days is returned to its senders.
    #[serde(default = "hold_days")]
    pub(crate) hold_days: u64,
    /// The most messages held at once; past it, `452 4.2.2` at RCPT (nothing held is lost).
    #[serde(default)]
    pub(crate) max_messages: Option<u64>,
    /// The most octets held at once (the same).
    #[serde(default)]
    pub(crate) max_octets: Option<u64>,
    /// Told once when the gateway goes over its quota, and once when it is below again.
    #[serde(default)]
    pub(crate) quota_notify: Option<String>,
    /// The notices' sender (`From:`); default the postmaster.
    #[serde(default)]
    pub(crate) quota_sender: Option<String>,
}

/// What a gateway holds, as last counted (plus what was taken since).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) messages: u64,
    pub(crate) octets: u64,
}

fn callout_positive_mins() -> u64 {
    24 * 60
}

fn callout_negative_mins() -> u64 {
    120
}

fn smtp_port() -> u16 {
    25
}

impl GatewayConfig {
    /// Whether it has a quota.
    pub(crate) fn has_quota(&self) -> bool {
        self.max_messages.is_some() || self.max_octets.is_some()
    }

    /// Whether `usage` is at or past the quota.
    pub(crate) fn over(&self, usage: Usage) -> bool {
        self.max_messages.is_some_and(|m| usage.messages >= m) || self.max_octets.is_some_and(|o| usage.octets >= o)
    }

    /// The gateway's name.
    pub(crate) fn name(&self) -> &str {
        self.name.as_deref().or(self.domains.first().map(String::as_str)).unwrap_or("gateway")
    }

    /// Whether its mail waits for a release (ETRN, ATRN, the CLI or its schedule).
    pub(crate) fn holds(&self) -> bool {
        self.delivery == Delivery::Hold || (self.delivery == Delivery::Forward && !self.schedule.is_empty())
    }

    /// Whether it takes mail for `domain` (lower case).
    pub(crate) fn serves(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
    }
}
