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

pub(crate) mod atrn;
pub(crate) mod backup;
pub(crate) mod callout;
mod config;
pub(crate) mod strip;

pub(crate) use config::{CalloutFallback, Delivery, GatewayConfig, Recipients, Usage};

use sansmail_smtp_proto::address::ReversePath;

use crate::outbound::RouteConfig;
use crate::schedule::Timetable;

/// How long a release lets the queue try a held domain's mail.
pub(crate) const RELEASE_SECS: u64 = 600;
/// The least time between two ETRN runs for one gateway.
pub(crate) const ETRN_INTERVAL: Duration = Duration::from_secs(10);

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
    /// Each gateway's schedule, by its place in `list`.
    timetables: Vec<Option<Timetable>>,
    /// The last hand-over of each gateway, by name.
    handovers: Mutex<HashMap<String, Handover>>,
    /// Recipients a callout asked about, and when the answer goes stale.
    pub(crate) callouts: callout::Cache,
    /// Automatic backup-MX domains.
    pub(crate) backups: backup::Backups,
    /// This server's names and addresses, as MX records would give them.
    own_names: Vec<String>,
    own_addresses: Vec<IpAddr>,
}

/// A gateway's last hand-over: when its last message left, and how many left in that run
/// (deliveries less than [`RUN_GAP_SECS`] apart).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Handover {
    pub(crate) at: u64,
    pub(crate) messages: u64,
    /// Not yet written to its file.
    dirty: bool,
}

/// Deliveries further apart than this belong to separate hand-overs.
const RUN_GAP_SECS: u64 = 60;

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
        for g in list {
            if let Some(s) = &g.envelope_sender {
                reverse_path(s).map_err(|e| format!("[[gateway]] {}: {e}", g.name()))?;
            }
        }
        let timetables = list
            .iter()
            .map(|g| {
                if g.schedule.is_empty() {
                    return Ok(None);
                }
                if g.delivery == Delivery::Mailbox {
                    return Err(format!("[[gateway]] {}: a schedule needs delivery = \"forward\"", g.name()));
                }
                Timetable::parse(&g.schedule, g.timezone.as_deref())
                    .map(Some)
                    .map_err(|e| format!("[[gateway]] {}: {e}", g.name()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            timetables,
            handovers: Mutex::new(HashMap::new()),
            callouts: callout::Cache::default(),
            backups: backup::Backups::new(backup::BackupMxConfig::default(), data_dir),
            own_names: Vec::new(),
            own_addresses: Vec::new(),
            list: list.to_vec(),
            releases: Mutex::new(HashMap::new()),
            last_etrn: Mutex::new(HashMap::new()),
            release_dir: release_dir(data_dir),
            usage: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The gateways of a configuration, with its backup-MX settings and this server's
    /// names and addresses.
    pub(crate) fn of(config: &crate::config::Config) -> Result<Self, String> {
        let mut g = Self::new(&config.gateway, &config.data_dir)?;
        let b = &config.backup_mx;
        g.own_names = std::iter::once(config.hostname.clone()).chain(b.names.iter().cloned()).collect();
        g.own_addresses = b.addresses.clone();
        for l in config.listeners().map_err(|e| e.to_string())? {
            if !l.addr.ip().is_unspecified() && !g.own_addresses.contains(&l.addr.ip()) {
                g.own_addresses.push(l.addr.ip());
            }
        }
        g.backups = backup::Backups::new(b.clone(), &config.data_dir);
        Ok(g)
    }

    /// This server's names in MX records.
    pub(crate) fn own_names(&self) -> &[String] {
        &self.own_names
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
        g.holds() && self.release(domain).is_none()
    }

    /// The release in force for `domain`, if any.
    pub(crate) fn release(&self, domain: &str) -> Option<Release> {
        let mut r = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|_, rel| rel.until > Instant::now());
        r.get(&domain.to_ascii_lowercase()).copied()
    }

    /// The gateway's schedule, if it has one.
    pub(crate) fn timetable(&self, g: &GatewayConfig) -> Option<&Timetable> {
        let i = self.list.iter().position(|x| x.name() == g.name())?;
        self.timetables.get(i)?.as_ref()
    }

    /// Releases what the schedules open: a connection time in `(after, now]` releases the
    /// gateway's domains for [`RELEASE_SECS`], an open window for the next few seconds
    /// (renewed each second while it stays open). Returns the domains that were not
    /// released before, whose waiting mail the queue then schedules.
    pub(crate) fn scheduled_releases(&self, after: i64, now: i64) -> Vec<String> {
        let mut newly = Vec::new();
        let mut releases = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        let instant = Instant::now();
        releases.retain(|_, rel| rel.until > instant);
        for (g, t) in self.list.iter().zip(&self.timetables) {
            let Some(t) = t else { continue };
            let until = if t.fired(after, now) {
                instant + Duration::from_secs(RELEASE_SECS)
            } else if t.open(now) {
                instant + Duration::from_secs(3)
            } else {
                continue;
            };
            for d in &g.domains {
                let d = d.to_ascii_lowercase();
                match releases.get_mut(&d) {
                    Some(r) => r.until = r.until.max(until),
                    None => {
                        tracing::info!(gateway = g.name(), domain = %d, "gateway schedule opens");
                        releases.insert(d.clone(), Release { until, to: None });
                        newly.push(d);
                    }
                }
            }
        }
        newly
    }

    /// Notes that `messages` of `domain`'s mail were handed over at `now` (unix seconds).
    pub(crate) fn handed_over(&self, domain: &str, messages: u64, now: u64) {
        let Some(g) = self.for_domain(domain) else { return };
        let mut map = self.handovers.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(g.name().to_owned()).or_default();
        if now.saturating_sub(h.at) > RUN_GAP_SECS {
            h.messages = 0;
        }
        h.at = now;
        h.messages += messages;
        h.dirty = true;
    }

    /// Writes the hand-overs noted since the last call to `queue/out/.handover-<name>`.
    pub(crate) fn write_handovers(&self, data_dir: &Path) {
        let dirty: Vec<(String, Handover)> = {
            let mut map = self.handovers.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            for (name, h) in map.iter_mut() {
                if std::mem::take(&mut h.dirty) {
                    out.push((name.clone(), *h));
                }
            }
            out
        };
        for (name, h) in dirty {
            let path = handover_path(data_dir, &name);
            if let Err(e) = fs::write(&path, format!("{} {}\n", h.at, h.messages)) {
                tracing::warn!(gateway = %name, error = %e, "cannot record the hand-over");
            }
        }
    }

    /// Releases `domain`'s held mail now (to its usual destination), for [`RELEASE_SECS`].
    pub(crate) fn release_now(&self, domain: &str) {
        let until = Instant::now() + Duration::from_secs(RELEASE_SECS);
        self.releases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain.to_ascii_lowercase(), Release { until, to: None });
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
            if self.for_domain(&domain).is_none() && self.backups.get(&domain).is_none() {
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
            g.holds()
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

/// An envelope sender as configured (`""`: the null sender).
pub(crate) fn reverse_path(sender: &str) -> Result<ReversePath<'static>, String> {
    if sender.is_empty() {
        return Ok(ReversePath::Null);
    }
    ReversePath::parse(format!("<{sender}>").as_bytes())
        .map(|(p, _)| p.into_owned())
        .map_err(|e| format!("envelope_sender {sender:?}: {e}"))
}

/// Where a gateway's last hand-over is recorded.
pub(crate) fn handover_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("queue").join("out").join(format!(".handover-{name}"))
}

/// A gateway's last hand-over as recorded: when (unix seconds) and how many messages.
pub(crate) fn last_handover(data_dir: &Path, name: &str) -> Option<(u64, u64)> {
    let text = fs::read_to_string(handover_path(data_dir, name)).ok()?;
    let (at, n) = text.trim().split_once(' ')?;
    Some((at.parse().ok()?, n.parse().ok()?))
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
