//! Store-and-forward gateways (`[[gateway]]`): mail for other domains accepted from anyone
//! and handed on to those domains' own servers: at once, or held until the domain's server
//! asks for it with ETRN (RFC 1985) or the administrator runs `sansmail gateway flush`.
//!
//! A gateway's mail lives in the outbound queue like any remote mail (durable, retried,
//! reported); what makes it a gateway's is where it goes (the gateway's `host`, or the
//! address of the client that asked with ETRN, never the domain's MX) and, for `delivery =
//! "hold"`, that the queue leaves it alone until a *release*: a file under
//! `queue/out/.release/` naming the domain (and where to deliver), written by the ETRN
//! answer or the CLI and taken in by the queue manager within a second. A release lasts
//! [`RELEASE_SECS`]; what is not delivered by then waits for the next one.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde::Deserialize;

pub(crate) mod atrn;

use crate::outbound::RouteConfig;
use crate::outbound::RouteTls;

/// How long a release lets the queue try a held domain's mail.
pub(crate) const RELEASE_SECS: u64 = 600;
/// The least time between two ETRN runs for one gateway.
pub(crate) const ETRN_INTERVAL: Duration = Duration::from_secs(10);

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
#[derive(Clone, Debug, Deserialize)]
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
    #[serde(default)]
    pub(crate) delivery: Delivery,
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

    /// Whether it takes mail for `domain` (lower case).
    pub(crate) fn serves(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(domain))
    }
}

/// A release in force: until when, and where to (the ETRN client), if not `host`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Release {
    pub(crate) until: Instant,
    pub(crate) to: Option<SocketAddr>,
}

/// The configured gateways and the releases in force.
#[derive(Debug)]
pub(crate) struct Gateways {
    pub(crate) list: Vec<GatewayConfig>,
    releases: Mutex<HashMap<String, Release>>,
    /// Last ETRN run per gateway (rate limit).
    last_etrn: Mutex<HashMap<String, Instant>>,
    release_dir: PathBuf,
    /// What each gateway with a quota holds (counted by the queue manager every few
    /// seconds, plus what was taken since).
    usage: Mutex<HashMap<String, Usage>>,
    /// Wakes the queue manager when a release was written (it also looks every second).
    pub(crate) wake: tokio::sync::Notify,
}

/// Why ETRN is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EtrnRefusal {
    /// No gateway for that node (459).
    Unknown,
    /// The client may not ask (459).
    NotAllowed,
    /// Asked again too soon (458).
    TooSoon,
}

impl Gateways {
    /// Checks the gateways and makes the release folder under `data_dir`.
    pub(crate) fn new(list: &[GatewayConfig], data_dir: &Path) -> Result<Self, String> {
        let mut seen: Vec<String> = Vec::new();
        for g in list {
            if !g.name().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) || g.name().starts_with('.')
            {
                return Err(format!("[[gateway]] name {:?}: letters, digits, '-', '_' and '.' only", g.name()));
            }
            if g.domains.is_empty() {
                return Err(format!("[[gateway]] {}: no domains", g.name()));
            }
            for d in &g.domains {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d.split('.').any(str::is_empty)
                    || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                {
                    return Err(format!("[[gateway]] {}: {d:?} is not a domain name", g.name()));
                }
                if seen.contains(&d) {
                    return Err(format!("[[gateway]]: {d} is in two gateways"));
                }
                seen.push(d);
            }
            match g.delivery {
                Delivery::Mailbox if g.mailbox.as_deref().is_none_or(|m| !m.contains('@')) => {
                    return Err(format!("[[gateway]] {}: delivery = \"mailbox\" needs a mailbox address", g.name()));
                }
                Delivery::Mailbox => {}
                _ if g.host.is_empty()
                    && !(g.delivery == Delivery::Hold && (g.etrn_to_client || !g.atrn_users.is_empty())) =>
                {
                    return Err(format!(
                        "[[gateway]] {}: a host is needed (or delivery = \"hold\" with etrn_to_client)",
                        g.name()
                    ));
                }
                _ => {}
            }
        }
        Ok(Self {
            list: list.to_vec(),
            releases: Mutex::new(HashMap::new()),
            last_etrn: Mutex::new(HashMap::new()),
            release_dir: release_dir(data_dir),
            usage: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Whether a gateway is at or past its quota.
    pub(crate) fn over_quota(&self, g: &GatewayConfig) -> bool {
        g.has_quota()
            && g.over(self.usage.lock().unwrap_or_else(|e| e.into_inner()).get(g.name()).copied().unwrap_or_default())
    }

    /// Counts a message just taken for a gateway (until the next count).
    pub(crate) fn taken(&self, g: &GatewayConfig, octets: u64) {
        if g.has_quota() {
            let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
            let u = usage.entry(g.name().to_owned()).or_default();
            u.messages += 1;
            u.octets += octets;
        }
    }

    /// Sets what a gateway holds, as counted.
    pub(crate) fn counted(&self, g: &GatewayConfig, usage: Usage) {
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).insert(g.name().to_owned(), usage);
    }

    /// The gateway that takes mail for `domain`.
    pub(crate) fn for_domain(&self, domain: &str) -> Option<&GatewayConfig> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.list.iter().find(|g| g.serves(&domain))
    }

    /// Routes for the outbound queue: each gateway's domains to its host.
    pub(crate) fn routes(&self) -> Vec<RouteConfig> {
        self.list
            .iter()
            .filter(|g| !g.host.is_empty())
            .flat_map(|g| {
                g.domains.iter().map(move |d| RouteConfig {
                    domain: d.clone(),
                    host: g.host.clone(),
                    tls: g.tls,
                    ca_file: g.ca_file.clone(),
                    username: g.username.clone(),
                    password: g.password.clone(),
                })
            })
            .collect()
    }

    /// Whether the queue leaves `domain`'s mail alone now: held and not released.
    pub(crate) fn held(&self, domain: &str) -> bool {
        let Some(g) = self.for_domain(domain) else { return false };
        g.delivery == Delivery::Hold && self.release(domain).is_none()
    }

    /// The release in force for `domain`, if any.
    pub(crate) fn release(&self, domain: &str) -> Option<Release> {
        let mut r = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|_, rel| rel.until > Instant::now());
        r.get(&domain.to_ascii_lowercase()).copied()
    }

    /// Takes in the releases written under `queue/out/.release/`; the domains released.
    pub(crate) fn take_releases(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(&self.release_dir) else { return Vec::new() };
        let mut released = Vec::new();
        for e in rd.flatten() {
            let path = e.path();
            let Some(domain) = e.file_name().to_str().map(str::to_ascii_lowercase) else { continue };
            let to = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<SocketAddr>().ok());
            let _ = fs::remove_file(&path);
            if self.for_domain(&domain).is_none() {
                continue;
            }
            tracing::info!(domain = %domain, to = ?to, "gateway release");
            let until = Instant::now() + Duration::from_secs(RELEASE_SECS);
            self.releases.lock().unwrap_or_else(|e| e.into_inner()).insert(domain.clone(), Release { until, to });
            released.push(domain);
        }
        released
    }

    /// ETRN's node (RFC 1985 §5): `domain`, `@domain` (it and its subdomains) or `#name`:
    /// the gateway domains it names, if this client may ask and not too soon after the last
    /// run.
    pub(crate) fn etrn(&self, node: &str, client: IpAddr) -> Result<(&GatewayConfig, Vec<String>), EtrnRefusal> {
        let node = node.trim().trim_end_matches('.').to_ascii_lowercase();
        let (gateway, domains) = if let Some(name) = node.strip_prefix('#') {
            let g = self.list.iter().find(|g| g.name().eq_ignore_ascii_case(name)).ok_or(EtrnRefusal::Unknown)?;
            (g, g.domains.iter().map(|d| d.to_ascii_lowercase()).collect::<Vec<_>>())
        } else if let Some(parent) = node.strip_prefix('@') {
            let suffix = format!(".{parent}");
            let g = self
                .list
                .iter()
                .find(|g| {
                    g.domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(parent) || d.to_ascii_lowercase().ends_with(&suffix))
                })
                .ok_or(EtrnRefusal::Unknown)?;
            let ds = g
                .domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .filter(|d| d == parent || d.ends_with(&suffix))
                .collect();
            (g, ds)
        } else {
            let g = self.for_domain(&node).ok_or(EtrnRefusal::Unknown)?;
            (g, vec![node])
        };
        if !gateway.etrn_networks.iter().any(|n| n.contains(&client)) {
            return Err(EtrnRefusal::NotAllowed);
        }
        let mut last = self.last_etrn.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.get(gateway.name()).is_some_and(|t| now.duration_since(*t) < ETRN_INTERVAL) {
            return Err(EtrnRefusal::TooSoon);
        }
        last.insert(gateway.name().to_owned(), now);
        Ok((gateway, domains))
    }
}

/// Why ATRN is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AtrnRefusal {
    /// A domain this account may not collect, or none at all (450).
    Refused,
}

impl Gateways {
    /// ATRN's domains (RFC 2645 §5): those asked for, each held by a gateway this account
    /// may collect from (and, where the gateway lists networks, from this address); with
    /// none asked for, every such domain.
    pub(crate) fn atrn(&self, user: &str, client: IpAddr, asked: &[String]) -> Result<Vec<String>, AtrnRefusal> {
        let allowed = |g: &GatewayConfig| {
            g.delivery == Delivery::Hold
                && g.atrn_users.iter().any(|u| u.eq_ignore_ascii_case(user))
                && (g.atrn_networks.is_empty() || g.atrn_networks.iter().any(|n| n.contains(&client)))
        };
        if asked.is_empty() {
            let all: Vec<String> = self
                .list
                .iter()
                .filter(|g| allowed(g))
                .flat_map(|g| g.domains.iter().map(|d| d.to_ascii_lowercase()))
                .collect();
            return if all.is_empty() { Err(AtrnRefusal::Refused) } else { Ok(all) };
        }
        let mut domains = Vec::new();
        for d in asked {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            match self.for_domain(&d) {
                Some(g) if allowed(g) => domains.push(d),
                _ => return Err(AtrnRefusal::Refused),
            }
        }
        Ok(domains)
    }
}

/// `queue/out/.release/`.
pub(crate) fn release_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("queue").join("out").join(".release")
}

/// Asks the running server to hand over `domain`'s held mail (to `to`, else the gateway's
/// host): a release file, which the queue manager takes in within a second.
pub(crate) fn request_release(data_dir: &Path, domain: &str, to: Option<SocketAddr>) -> io::Result<()> {
    let dir = release_dir(data_dir);
    fs::create_dir_all(&dir)?;
    let text = to.map(|a| a.to_string()).unwrap_or_default();
    fs::write(dir.join(domain.to_ascii_lowercase()), text)
}

/// The mark that a gateway is over its quota (so each crossing is told once, across
/// restarts too).
pub(crate) fn quota_mark(data_dir: &Path, g: &GatewayConfig) -> PathBuf {
    data_dir.join("queue").join("out").join(format!(".quota-over-{}", g.name()))
}

/// The notice of a quota crossing: a short text message to `quota_notify`.
pub(crate) fn quota_notice(g: &GatewayConfig, from: &str, over: bool, usage: Usage) -> Vec<u8> {
    let (subject, text) = if over {
        (
            format!("Gateway {} is over its quota", g.name()),
            format!(
                "The gateway {} ({}) holds {} message(s), {} octets: at or past its quota \
                 (max_messages {:?}, max_octets {:?}). New mail for it is refused with \
                 452 4.2.2 until the mail it holds is collected.",
                g.name(),
                g.domains.join(", "),
                usage.messages,
                usage.octets,
                g.max_messages,
                g.max_octets
            ),
        )
    } else {
        (
            format!("Gateway {} is below its quota again", g.name()),
            format!(
                "The gateway {} ({}) holds {} message(s), {} octets, below its quota: it takes mail again.",
                g.name(),
                g.domains.join(", "),
                usage.messages,
                usage.octets
            ),
        )
    };
    let to = g.quota_notify.as_deref().unwrap_or_default();
    let date = crate::identity::directory::rfc5322_date(crate::outbound::unix_now());
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nAuto-Submitted: auto-generated\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(toml_text: &str) -> GatewayConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn etrn_nodes_rights_and_pace() {
        let g = gateway(
            "name = \"branch\"\ndomains = [\"branch.test\", \"sub.branch.test\"]\nhost = [\"127.0.0.1:25\"]\n\
             delivery = \"hold\"\netrn_networks = [\"192.0.2.0/24\"]\n",
        );
        let gws = Gateways::new(&[g], Path::new("/nonexistent")).unwrap();
        let ok: IpAddr = "192.0.2.9".parse().unwrap();
        let (_, ds) = gws.etrn("branch.test", ok).unwrap();
        assert_eq!(ds, ["branch.test"]);
        assert_eq!(gws.etrn("branch.test", ok).unwrap_err(), EtrnRefusal::TooSoon);
        gws.last_etrn.lock().unwrap().clear();
        assert_eq!(gws.etrn("@branch.test", ok).unwrap().1, ["branch.test", "sub.branch.test"]);
        gws.last_etrn.lock().unwrap().clear();
        assert_eq!(gws.etrn("#BRANCH", ok).unwrap().1.len(), 2);
        assert_eq!(gws.etrn("other.test", ok).unwrap_err(), EtrnRefusal::Unknown);
        assert_eq!(gws.etrn("#nobody", ok).unwrap_err(), EtrnRefusal::Unknown);
        assert_eq!(gws.etrn("branch.test", "198.51.100.1".parse().unwrap()).unwrap_err(), EtrnRefusal::NotAllowed);
        assert!(gws.held("Branch.Test") && !gws.held("other.test"));
        assert_eq!(gws.routes().len(), 2);
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let no_host = gateway("domains = [\"a.test\"]\n");
        assert!(Gateways::new(&[no_host], Path::new("/x")).is_err());
        let a = gateway("domains = [\"a.test\"]\nhost = [\"h:25\"]\n");
        assert!(Gateways::new(&[a.clone(), a.clone()], Path::new("/x")).is_err(), "a domain in two gateways");
        for bad in ["a/../b", "..", "a..b", ""] {
            let g = gateway(&format!("domains = [{bad:?}]\nhost = [\"h:25\"]\n"));
            assert!(Gateways::new(&[g], Path::new("/x")).is_err(), "{bad:?}");
        }
        let to_client = gateway("domains = [\"a.test\"]\ndelivery = \"hold\"\netrn_to_client = true\n");
        assert!(Gateways::new(&[to_client], Path::new("/x")).is_ok());
    }
}
