//! The TOML configuration, its embedded defaults, and the checks run before anything binds.
//!
//! Every key is documented in `sansmail.example.toml` at the repository root; a test keeps
//! that file parsing.

pub(crate) mod preflight;
pub(crate) mod tls;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;

use crate::identity::directory::{Directory, DomainConfig, UserConfig};
use crate::identity::policy::{Access, Relay, RelayConfig};
use crate::protocols::imap::folders::ImapConfig;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// The name the server gives itself (greeting, EHLO, `Received`).
    #[serde(default = "default_hostname")]
    pub(crate) hostname: String,
    /// Spool, mailboxes, users, generated certificate.
    #[serde(default = "default_data_dir")]
    pub(crate) data_dir: PathBuf,
    /// Certificate and key; a self-signed pair is generated when both are absent.
    #[serde(default)]
    pub(crate) tls: TlsFiles,
    /// Where mail to `postmaster@` every local domain goes; default `postmaster@<first domain>`.
    #[serde(default)]
    pub(crate) postmaster: Option<String>,
    /// Quota of a mailbox that sets none, in octets; `0` is none.
    #[serde(default)]
    pub(crate) default_quota: u64,
    /// The local domains.
    #[serde(default = "default_domains")]
    pub(crate) domain: Vec<DomainConfig>,
    /// Per-user settings (passwords live in the data directory, set by `sansmail user`).
    #[serde(default)]
    pub(crate) user: Vec<UserConfig>,
    /// The services and the addresses they listen on.
    #[serde(default = "default_listeners")]
    pub(crate) listener: Vec<ListenerConfig>,
    /// Abuse defences (thresholds shared by every listener).
    #[serde(default)]
    pub(crate) abuse: crate::identity::abuse::AbuseConfig,
    /// Seconds sessions get to finish after SIGTERM or SIGINT.
    #[serde(default = "default_grace")]
    pub(crate) shutdown_grace_secs: u64,
    /// A message that arrives with this many `Received` fields is refused as a mail loop
    /// (554 5.4.6; RFC 5321 §6.3). `0`: no limit.
    #[serde(default = "default_hop_limit")]
    pub(crate) hop_limit: usize,
    /// Outbound delivery: retries, smarthosts, DNS.
    #[serde(default)]
    pub(crate) outbound: crate::outbound::OutboundConfig,
    /// Per-domain routes that override MX lookup.
    #[serde(default)]
    pub(crate) route: Vec<crate::outbound::RouteConfig>,
    /// IMAP folder limits per account.
    #[serde(default)]
    pub(crate) imap: ImapConfig,
    /// The newsgroups the NNTP listeners serve.
    #[serde(default)]
    pub(crate) newsgroup: Vec<crate::news::NewsgroupConfig>,
    /// The servers that may feed articles to the NNTP listeners.
    #[serde(default)]
    pub(crate) newspeer: Vec<crate::news::NewsPeerConfig>,
    /// The news service as a whole.
    #[serde(default)]
    pub(crate) news: crate::news::NewsSettings,
    /// Store-and-forward gateways for other domains.
    #[serde(default)]
    pub(crate) gateway: Vec<crate::gateway::GatewayConfig>,
    /// Automatic backup-MX gateways for domains whose MX records list this server.
    #[serde(default)]
    pub(crate) backup_mx: crate::gateway::backup::BackupMxConfig,
    /// Greylisting (off by default).
    #[serde(default)]
    pub(crate) greylist: crate::identity::greylist::GreylistConfig,
    /// DNS block and allow lists consulted at connect.
    #[serde(default)]
    pub(crate) dnsbl: crate::identity::dnsbl::DnsblConfig,
    /// Collection jobs: ETRN, ATRN, POP3 from a provider.
    #[serde(default)]
    pub(crate) fetch: Vec<crate::fetch::FetchConfig>,
    /// SPF, DKIM, DMARC and ARC checks of arriving mail.
    #[serde(default)]
    pub(crate) authentication: crate::senderauth::verify::AuthConfig,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsFiles {
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

/// What a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Service {
    /// Mail exchange (port 25).
    Smtp,
    /// Message submission (port 587, RFC 6409).
    Submission,
    /// Mail collection over POP3 (port 110; 995 with `tls = "implicit"`).
    Pop3,
    /// Mail access over IMAP (port 143; 993 with `tls = "implicit"`).
    Imap,
    /// News over NNTP (port 119; 563 with `tls = "implicit"`).
    Nntp,
    /// On-Demand Mail Relay (port 366, RFC 2645): AUTH, then ATRN collects a gateway's
    /// held mail over the same connection.
    Odmr,
}

impl Service {
    /// Whether the service speaks SMTP (relay rules, message limits apply).
    pub(crate) fn is_smtp(self) -> bool {
        matches!(self, Self::Smtp | Self::Submission | Self::Odmr)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Smtp => "smtp",
            Self::Submission => "submission",
            Self::Pop3 => "pop3",
            Self::Imap => "imap",
            Self::Nntp => "nntp",
            Self::Odmr => "odmr",
        })
    }
}

/// How a listener uses TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TlsMode {
    None,
    /// Plaintext first, upgraded by STARTTLS.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// `[[listener]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenerConfig {
    /// A name for logs and errors; default `<service>@<bind>`.
    #[serde(default)]
    pub(crate) name: Option<String>,
    pub(crate) service: Service,
    /// `"IP:port"`, `"[IPv6]:port"`, `"port"` or `":port"` (the last two: all addresses).
    pub(crate) bind: String,
    #[serde(default = "default_tls_mode")]
    pub(crate) tls: TlsMode,
    #[serde(default)]
    pub(crate) limits: ListenerLimits,
    #[serde(default)]
    pub(crate) access: Access,
    #[serde(default)]
    pub(crate) relay: RelayConfig,
    /// Offer AUTH (PLAIN, LOGIN) on this listener. Default true.
    #[serde(default = "default_true")]
    pub(crate) auth: bool,
    /// Allow AUTH before TLS (passwords in clear on the wire). Default false.
    #[serde(default)]
    pub(crate) allow_plaintext_auth: bool,
    /// Offer CRAM-MD5 (for old clients; its stored verifier is password-equivalent for
    /// CRAM-MD5 itself). Default true.
    #[serde(default = "default_true")]
    pub(crate) cram_md5: bool,
    /// POP3: offer APOP (RFC 1939 §7) to users who have an APOP secret
    /// (`sansmail user add --apop`). Default false.
    #[serde(default)]
    pub(crate) apop: bool,
    /// Tell clients the software and its version before login (POP3 CAPA
    /// `IMPLEMENTATION`, IMAP `ID`). Default false.
    #[serde(default)]
    pub(crate) announce_version: bool,
    /// SMTP: milliseconds the greeting waits; a client that talks within them is a bot
    /// (postscreen's pregreet test): `554 5.7.1`, the session ends, the address counts in
    /// `[abuse] pregreet_before_block`. 0 (the default): greet at once.
    #[serde(default)]
    pub(crate) pregreet_ms: u64,
    /// SMTP: consult `[dnsbl]` at connect (clients in the relay networks never are).
    /// Default: on for `service = "smtp"`, off for submission (its users log in, and their
    /// home addresses are on the lists of dial-up ranges).
    #[serde(default)]
    pub(crate) dnsbl: Option<bool>,
    /// SMTP: check SPF, DKIM, DMARC and ARC at the end of data and add
    /// `Authentication-Results` (logged-in and relay-network clients never are). Default:
    /// on for `service = "smtp"`, off for submission.
    #[serde(default)]
    pub(crate) sender_checks: Option<bool>,
    /// Clients whose mail is not checked though they are not trusted to relay: hosts that
    /// relay others' mail to this listener (the provider's servers that hand over by ETRN,
    /// a backup MX of ours). SPF would judge them, not the senders.
    #[serde(default)]
    pub(crate) sender_checks_exempt: Vec<IpNet>,
    /// What a DMARC failure gets: `enforce` (the domain's `p=reject` → `550 5.7.1`,
    /// `p=quarantine` → the recipient's Junk folder; the default), `junk`, `note`.
    #[serde(default)]
    pub(crate) dmarc_policy: crate::senderauth::verify::DmarcAction,
    /// What an SPF `fail` of the MAIL FROM identity gets: `note` (the default: DMARC weighs
    /// it) or `reject` (`550 5.7.23`).
    #[serde(default)]
    pub(crate) spf_policy: crate::senderauth::verify::SpfAction,
}

fn default_true() -> bool {
    true
}

/// `[listener.limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ListenerLimits {
    /// Largest message in octets (advertised as SIZE).
    pub(crate) max_message_size: u64,
    /// Recipients per message.
    pub(crate) max_recipients: usize,
    /// Sessions at once on this listener.
    pub(crate) max_connections: usize,
    /// Sessions at once from one client address.
    pub(crate) max_connections_per_ip: usize,
    /// Seconds of client silence before 421.
    pub(crate) idle_timeout_secs: u64,
    /// Seconds a TLS handshake may take.
    pub(crate) tls_handshake_timeout_secs: u64,
    /// Error replies before 421 and close.
    pub(crate) max_errors: usize,
    /// Seconds a session may last in all, however busy: a client that drips bytes just
    /// under the idle timeout cannot hold a slot for ever.
    pub(crate) max_session_secs: u64,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 500,
            max_connections_per_ip: 20,
            idle_timeout_secs: 300,
            tls_handshake_timeout_secs: 30,
            max_errors: 20,
            max_session_secs: 3600,
        }
    }
}

fn default_hostname() -> String {
    "localhost".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("sansmail-data")
}
fn default_grace() -> u64 {
    30
}
/// Postfix's `hopcount_limit`.
fn default_hop_limit() -> usize {
    50
}
fn default_tls_mode() -> TlsMode {
    TlsMode::Starttls
}
fn default_domains() -> Vec<DomainConfig> {
    vec![DomainConfig { name: "localhost".into(), catch_all: None }]
}
fn default_listeners() -> Vec<ListenerConfig> {
    let listener = |service, bind: &str| ListenerConfig {
        name: None,
        service,
        bind: bind.into(),
        tls: TlsMode::Starttls,
        limits: ListenerLimits::default(),
        access: Access::default(),
        relay: RelayConfig::default(),
        auth: true,
        allow_plaintext_auth: false,
        cram_md5: true,
        apop: false,
        announce_version: false,
        pregreet_ms: 0,
        dnsbl: None,
        // These listeners are on 127.0.0.1: nothing from the Internet reaches them, and a
        // try-out should not wait on DNS for its own test mail. A port-25 listener in a
        // configuration has the checks on.
        sender_checks: Some(false),
        sender_checks_exempt: Vec::new(),
        dmarc_policy: Default::default(),
        spf_policy: Default::default(),
    };
    vec![
        listener(Service::Smtp, "127.0.0.1:2525"),
        listener(Service::Submission, "127.0.0.1:5587"),
        listener(Service::Pop3, "127.0.0.1:1110"),
        listener(Service::Imap, "127.0.0.1:1143"),
        listener(Service::Nntp, "127.0.0.1:1119"),
    ]
}

/// A configuration error, said in the administrator's terms.
#[derive(Debug)]
pub(crate) struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A listener with its address resolved and its name settled.
#[derive(Clone, Debug)]
pub(crate) struct Listener {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) config: ListenerConfig,
}

impl Listener {
    /// The effective relay rules: what `[listener.relay]` sets, else the service's
    /// defaults. smtp: no relay networks, AUTH not required; submission: the loopback
    /// addresses may relay (local programs), and AUTH is required before MAIL.
    pub(crate) fn relay(&self) -> Relay {
        let r = &self.config.relay;
        let submission = self.config.service == Service::Submission;
        let loopback = vec![
            IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
            IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ];
        Relay {
            networks: r.networks.clone().unwrap_or(if submission { loopback } else { Vec::new() }),
            authenticated: r.authenticated.unwrap_or(true),
            allow_from: r.allow_from.clone(),
            allow_to: r.allow_to.iter().map(|d| d.trim_end_matches('.').to_ascii_lowercase()).collect(),
            reject_local_spoof: r.reject_local_spoof.unwrap_or(true),
            require_auth: r.require_auth.unwrap_or(submission),
            sender_must_match_login: r.sender_must_match_login.unwrap_or(false),
            // Checked finite and not negative by `listeners()`.
            after_login: r.after_login_minutes.and_then(|m| Duration::try_from_secs_f64(m * 60.0).ok()),
        }
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.config.limits.idle_timeout_secs)
    }
}

/// The ports administrators name by service (IANA's names, RFC 6186/8314's `submissions`,
/// RFC 2645's `odmr`).
const PORT_NAMES: &[(&str, u16)] = &[
    ("smtp", 25),
    ("submission", 587),
    ("submissions", 465),
    ("smtps", 465),
    ("pop3", 110),
    ("pop3s", 995),
    ("imap", 143),
    ("imaps", 993),
    ("nntp", 119),
    ("nntps", 563),
    ("odmr", 366),
];

/// A port by number or by service name.
fn port(text: &str) -> Option<u16> {
    text.parse().ok().or_else(|| PORT_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)).map(|&(_, p)| p))
}

/// Parses a `bind` value: `IP:port`, `[IPv6]:port`, `port` or `:port` (all addresses), the
/// port by number or by name (`imaps`, `127.0.0.2:submission`).
pub(crate) fn parse_bind(bind: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!(
            "bind {bind:?} is not \"IP:port\", \"[IPv6]:port\", \"port\" or \":port\" (a port by number or \
             by name: {})",
            PORT_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        )
    };
    if let Some(port) = port(bind.strip_prefix(':').unwrap_or(bind)) {
        // All addresses: the IPv6 wildcard, dual-stack on Linux.
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    }
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, name) = bind.rsplit_once(':').ok_or_else(bad)?;
    let ip: IpAddr =
        host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse().map_err(|_| bad())?;
    Ok(SocketAddr::new(ip, port(name).ok_or_else(bad)?))
}

impl Config {
    /// The embedded defaults: what `sansmail serve` runs with no file.
    pub(crate) fn embedded() -> Self {
        // An empty document takes every default.
        toml::from_str("").unwrap_or_else(|_| unreachable_default())
    }

    /// Reads and checks a file.
    pub(crate) fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let config = match path {
            None => Self::embedded(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError(format!("cannot read {}: {e}", p.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
        };
        config.listeners()?;
        config.check_domains()?;
        // Gateways are checked whole (domains, hosts, schedules, senders) where the server
        // builds them; the folder it names is not made here.
        crate::gateway::Gateways::new(&config.gateway, &config.data_dir).map_err(ConfigError)?;
        for (i, job) in config.fetch.iter().enumerate() {
            job.check().map_err(ConfigError)?;
            if config.fetch[..i].iter().any(|j| j.name == job.name) {
                return Err(ConfigError(format!("[[fetch]] {}: two jobs have that name", job.name)));
            }
        }
        if config.backup_mx.enabled && config.backup_mx.confirm_days == 0 && config.backup_mx.require_confirmation {
            return Err(ConfigError("[backup_mx] confirm_days must be at least 1".into()));
        }
        Ok(config)
    }

    fn check_domains(&self) -> Result<(), ConfigError> {
        if self.domain.is_empty() {
            return Err(ConfigError("at least one [[domain]] is needed".into()));
        }
        for u in &self.user {
            if !u.address.contains('@') {
                return Err(ConfigError(format!("[[user]] address {:?} has no domain", u.address)));
            }
        }
        Ok(())
    }

    /// The listeners with their addresses, after the multi-homing checks: the same address
    /// and port twice, or a wildcard and a specific address on one port, is an error naming
    /// both listeners.
    pub(crate) fn listeners(&self) -> Result<Vec<Listener>, ConfigError> {
        let mut out: Vec<Listener> = Vec::new();
        let mut by_port: HashMap<u16, Vec<usize>> = HashMap::new();
        for l in &self.listener {
            let addr = parse_bind(&l.bind).map_err(ConfigError)?;
            let name = l.name.clone().unwrap_or_else(|| format!("{}@{}", l.service, l.bind));
            if l.relay.after_login_minutes.is_some_and(|m| !(0.0..=1e9).contains(&m)) {
                return Err(ConfigError(format!("listener {name}: after_login_minutes must be a number of minutes")));
            }
            if l.tls == TlsMode::Implicit && l.service == Service::Smtp && addr.port() == 25 {
                return Err(ConfigError(format!("listener {name}: implicit TLS on port 25 cannot work")));
            }
            for &other in by_port.get(&addr.port()).into_iter().flatten() {
                let o: &Listener = &out[other];
                let clash = o.addr.ip() == addr.ip() || o.addr.ip().is_unspecified() || addr.ip().is_unspecified();
                if clash && addr.port() != 0 {
                    return Err(ConfigError(format!(
                        "listeners {} ({}) and {name} ({}) both claim port {}: use distinct addresses, \
                         and not a wildcard beside a specific address",
                        o.name,
                        o.config.bind,
                        l.bind,
                        addr.port()
                    )));
                }
            }
            by_port.entry(addr.port()).or_default().push(out.len());
            out.push(Listener { name, addr, config: l.clone() });
        }
        Ok(out)
    }

    /// The postmaster mailbox.
    /// The directory of the configured domains and users.
    pub(crate) fn directory(&self) -> std::io::Result<Directory> {
        Directory::new(&self.domain, &self.user, &self.data_dir, &self.postmaster())
    }

    pub(crate) fn postmaster(&self) -> String {
        self.postmaster
            .clone()
            .unwrap_or_else(|| format!("postmaster@{}", self.domain.first().map_or("localhost", |d| d.name.as_str())))
    }
}

/// `toml::from_str("")` cannot fail for a struct whose every field has a default; this keeps
/// the no-panic rule without an `expect`.
fn unreachable_default() -> Config {
    Config {
        hostname: default_hostname(),
        data_dir: default_data_dir(),
        tls: TlsFiles::default(),
        postmaster: None,
        default_quota: 0,
        domain: default_domains(),
        user: Vec::new(),
        listener: default_listeners(),
        abuse: crate::identity::abuse::AbuseConfig::default(),
        shutdown_grace_secs: default_grace(),
        hop_limit: default_hop_limit(),
        outbound: crate::outbound::OutboundConfig::default(),
        route: Vec::new(),
        imap: ImapConfig::default(),
        newsgroup: Vec::new(),
        newspeer: Vec::new(),
        news: crate::news::NewsSettings::default(),
        gateway: Vec::new(),
        backup_mx: Default::default(),
        fetch: Vec::new(),
        dnsbl: Default::default(),
        greylist: Default::default(),
        authentication: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Listener>, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        c.listeners()
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::embedded();
        let l = c.listeners().unwrap();
        assert_eq!(l[0].addr, "127.0.0.1:2525".parse().unwrap());
        assert_eq!(l[1].addr, "127.0.0.1:5587".parse().unwrap());
        assert_eq!(c.domain[0].name, "localhost");
        assert_eq!(c.postmaster(), "postmaster@localhost");
        assert!(l[1].relay().in_networks("127.0.0.1".parse().unwrap()));
        assert!(l[1].relay().require_auth && !l[0].relay().require_auth);
        assert!(!l[0].relay().in_networks("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bind_forms() {
        assert_eq!(parse_bind("2525").unwrap(), "[::]:2525".parse().unwrap());
        assert_eq!(parse_bind(":2525").unwrap(), "[::]:2525".parse().unwrap());
        assert_eq!(parse_bind("127.0.0.2:25").unwrap(), "127.0.0.2:25".parse().unwrap());
        assert_eq!(parse_bind("[::1]:25").unwrap(), "[::1]:25".parse().unwrap());
        assert!(parse_bind("localhost:25").is_err());
        assert!(parse_bind("70000").is_err());
        // Ports by name, alone or with an address.
        assert_eq!(parse_bind("imaps").unwrap(), "[::]:993".parse().unwrap());
        assert_eq!(parse_bind(":submission").unwrap(), "[::]:587".parse().unwrap());
        assert_eq!(parse_bind("127.0.0.2:smtp").unwrap(), "127.0.0.2:25".parse().unwrap());
        assert_eq!(parse_bind("[::1]:POP3S").unwrap(), "[::1]:995".parse().unwrap());
        for (name, port) in
            [("submissions", 465), ("pop3", 110), ("imap", 143), ("nntp", 119), ("nntps", 563), ("odmr", 366)]
        {
            assert_eq!(parse_bind(name).unwrap().port(), port, "{name}");
        }
        assert!(parse_bind("127.0.0.1:gopher").unwrap_err().contains("imaps"));
    }

    #[test]
    fn multi_homing_on_one_port_is_fine() {
        let l = parse(
            "[[listener]]\nservice='smtp'\nbind='127.0.0.1:25'\n[[listener]]\nservice='smtp'\nbind='127.0.0.2:25'\n",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn clashes_name_both_listeners() {
        let same = "[[listener]]\nname='a'\nservice='smtp'\nbind='127.0.0.1:25'\n\
                    [[listener]]\nname='b'\nservice='submission'\nbind='127.0.0.1:25'\n";
        let e = parse(same).unwrap_err().0;
        assert!(e.contains("a (127.0.0.1:25)") && e.contains("b (127.0.0.1:25)"), "{e}");
        let wild = "[[listener]]\nname='all'\nservice='smtp'\nbind='25'\n\
                    [[listener]]\nname='one'\nservice='smtp'\nbind='127.0.0.2:25'\n";
        let e = parse(wild).unwrap_err().0;
        assert!(e.contains("all") && e.contains("one"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("hostnme = 'x'").is_err());
        assert!(parse("[[listener]]\nservice='smtp'\nbind='25'\nlimits={max_size=1}\n").is_err());
    }

    #[test]
    fn access_lists() {
        let a = Access { allow: vec![], deny: vec!["127.0.0.2/32".parse().unwrap()] };
        assert!(a.permits("127.0.0.1".parse().unwrap()));
        assert!(!a.permits("127.0.0.2".parse().unwrap()));
        assert!(!a.permits("::ffff:127.0.0.2".parse().unwrap()));
        let a = Access { allow: vec!["10.0.0.0/8".parse().unwrap()], deny: vec![] };
        assert!(!a.permits("127.0.0.1".parse().unwrap()));
        assert!(a.permits("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../sansmail.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        c.listeners().unwrap();
    }
}
