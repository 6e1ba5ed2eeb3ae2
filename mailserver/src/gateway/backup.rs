//! Automatic backup-MX gateways (`[backup_mx]`): mail for a domain this server does not
//! serve is taken when, and only when, the domain's own DNS lists this server as one of
//! its MX hosts *below* another one (a higher preference number): the domain's owner chose
//! us as its backup. The domain then gets a gateway made from `[backup_mx]`'s settings
//! (the template): its mail waits in the outbound queue and goes to the best-preference MX
//! that answers, never to this server or one listed at or below it (RFC 5321 §5.1).
//!
//! With `require_confirmation` a new backup domain is *pending*: its mail is held (and
//! counted against the template's quota) until the administrator runs `sansmail gateway
//! confirm D`, or the domain's postmaster answers the message with a token this server
//! sent to `postmaster@D` (by writing to the address it names). A pending domain not
//! confirmed within `confirm_days` *expires*: its held mail goes back to the senders and
//! the domain is forgotten once that is done.
//!
//! Relay safety: nothing but the domain's own MX records can make a domain a backup
//! domain; each lookup's "no" is remembered for a while; the number of backup domains is
//! bounded (`max_domains`), and each one's held mail by the template's quota.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{GatewayConfig, Gateways};

/// `[backup_mx]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackupMxConfig {
    /// Off by default: a server only becomes anyone's backup when its administrator says so.
    #[serde(default)]
    pub(crate) enabled: bool,
    /// New backup domains hold their mail until confirmed.
    #[serde(default = "yes")]
    pub(crate) require_confirmation: bool,
    /// Days a pending domain waits for its confirmation.
    #[serde(default = "confirm_days")]
    pub(crate) confirm_days: u64,
    /// The most backup domains at once.
    #[serde(default = "max_domains")]
    pub(crate) max_domains: usize,
    /// Days a backup domain's mail may wait for its primary before it is returned.
    #[serde(default = "hold_days")]
    pub(crate) hold_days: u64,
    /// The most messages held per backup domain (`452 4.2.2` past it).
    #[serde(default = "max_messages")]
    pub(crate) max_messages: u64,
    /// The most octets held per backup domain.
    #[serde(default = "max_octets")]
    pub(crate) max_octets: u64,
    /// Other names this server has in MX records (beside `hostname`).
    #[serde(default)]
    pub(crate) names: Vec<String>,
    /// This server's public addresses, as MX hosts' A and AAAA records give them (beside
    /// the listeners' own addresses).
    #[serde(default)]
    pub(crate) addresses: Vec<IpAddr>,
}

impl Default for BackupMxConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            require_confirmation: true,
            confirm_days: confirm_days(),
            max_domains: max_domains(),
            hold_days: hold_days(),
            max_messages: max_messages(),
            max_octets: max_octets(),
            names: Vec::new(),
            addresses: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn confirm_days() -> u64 {
    3
}
fn max_domains() -> usize {
    100
}
fn hold_days() -> u64 {
    7
}
fn max_messages() -> u64 {
    10_000
}
fn max_octets() -> u64 {
    1 << 30
}

/// Where a backup domain stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Mail taken and held, waiting for a confirmation.
    Pending,
    /// Mail taken and handed to the primary.
    Active,
    /// Not confirmed in time: no more mail taken, what is held returned.
    Expired,
}

/// One backup domain, as kept in `gateways/backup-mx/<domain>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Backup {
    pub(crate) domain: String,
    pub(crate) state: State,
    /// Unix seconds.
    pub(crate) created: u64,
    /// The secret the postmaster's answer carries back.
    pub(crate) token: String,
    /// The better MX host found when it was made.
    pub(crate) primary: String,
    /// The MX host that is this server.
    pub(crate) ours: String,
    /// When it expired (unix seconds; 0 while it has not).
    #[serde(default)]
    pub(crate) expired: u64,
}

/// How long a domain that does not list us is not looked up again.
const NOT_LISTED_SECS: u64 = 600;
/// Domains remembered as not listing us, at most.
const NOT_LISTED_MAX: usize = 10_000;
/// Days an expired domain is remembered (and its mail refused) before it is forgotten.
pub(crate) const TOMBSTONE_DAYS: u64 = 30;
/// The local part of the confirmation address: `backup-mx+TOKEN@hostname`.
pub(crate) const CONFIRM_LOCAL: &str = "backup-mx+";

/// The backup domains and what was looked up.
#[derive(Debug)]
pub(crate) struct Backups {
    pub(crate) config: BackupMxConfig,
    dir: PathBuf,
    known: std::sync::Mutex<HashMap<String, Backup>>,
    not_listed: std::sync::Mutex<HashMap<String, Instant>>,
    /// Lookups running now (bounded; others are answered as "not listed" for now).
    pub(crate) running: tokio::sync::Semaphore,
}

/// `gateways/backup-mx/` under the data directory.
pub(crate) fn backup_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("gateways").join("backup-mx")
}

impl Backups {
    pub(crate) fn new(config: BackupMxConfig, data_dir: &Path) -> Self {
        let b = Self {
            config,
            dir: backup_dir(data_dir),
            known: Default::default(),
            not_listed: Default::default(),
            running: tokio::sync::Semaphore::new(4),
        };
        b.reload();
        b
    }

    /// Reads the backup domains from their files (the CLI's confirmations included).
    pub(crate) fn reload(&self) {
        let Ok(rd) = fs::read_dir(&self.dir) else { return };
        let mut found = HashMap::new();
        for e in rd.flatten() {
            let Ok(text) = fs::read_to_string(e.path()) else { continue };
            if let Ok(b) = toml::from_str::<Backup>(&text)
                && e.file_name().to_str() == Some(b.domain.as_str())
            {
                found.insert(b.domain.clone(), b);
            }
        }
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = found;
    }

    /// The backup domain `domain`, if it is one.
    pub(crate) fn get(&self, domain: &str) -> Option<Backup> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).get(&domain.to_ascii_lowercase()).cloned()
    }

    /// Every backup domain.
    pub(crate) fn all(&self) -> Vec<Backup> {
        let mut v: Vec<Backup> = self.known.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        v.sort_by(|a, b| a.domain.cmp(&b.domain));
        v
    }

    /// Whether `domain` should be looked up: on, not known, not found unlisted lately, and
    /// room for one more.
    pub(crate) fn worth_looking_up(&self, domain: &str) -> bool {
        if !self.config.enabled || self.get(domain).is_some() {
            return false;
        }
        if self.known.lock().unwrap_or_else(|e| e.into_inner()).len() >= self.config.max_domains {
            return false;
        }
        let not = self.not_listed.lock().unwrap_or_else(|e| e.into_inner());
        not.get(&domain.to_ascii_lowercase()).is_none_or(|t| t.elapsed() >= Duration::from_secs(NOT_LISTED_SECS))
    }

    /// Remembers that `domain` does not list us (or could not be looked up).
    pub(crate) fn not_listed(&self, domain: &str) {
        let mut not = self.not_listed.lock().unwrap_or_else(|e| e.into_inner());
        if not.len() >= NOT_LISTED_MAX {
            not.retain(|_, t| t.elapsed() < Duration::from_secs(NOT_LISTED_SECS));
            if not.len() >= NOT_LISTED_MAX {
                not.clear();
            }
        }
        not.insert(domain.to_ascii_lowercase(), Instant::now());
    }

    /// Makes `domain` a backup domain (pending when confirmations are required).
    pub(crate) fn add(&self, domain: &str, (primary, ours): (&str, &str), now: u64) -> io::Result<Backup> {
        let mut token = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut token);
        let b = Backup {
            domain: domain.to_ascii_lowercase(),
            state: if self.config.require_confirmation { State::Pending } else { State::Active },
            created: now,
            token: token.iter().map(|b| format!("{b:02x}")).collect(),
            primary: primary.to_owned(),
            ours: ours.to_owned(),
            expired: 0,
        };
        self.save(&b)?;
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(b.domain.clone(), b.clone());
        Ok(b)
    }

    fn save(&self, b: &Backup) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let text = toml::to_string(b).map_err(io::Error::other)?;
        let tmp = self.dir.join(format!(".{}.tmp", b.domain));
        fs::write(&tmp, text)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, self.dir.join(&b.domain))?;
        crate::store::spool::fsync_dir(&self.dir)
    }

    /// Confirms the pending domain whose token this is; the domain.
    pub(crate) fn confirm_token(&self, token: &str) -> Option<String> {
        let pending = self.all().into_iter().find(|b| b.state == State::Pending && b.token == token)?;
        self.set_state(&pending.domain, State::Active).ok()?;
        Some(pending.domain)
    }

    /// Sets a backup domain's state, on disk and here.
    pub(crate) fn set_state(&self, domain: &str, state: State) -> io::Result<()> {
        let Some(mut b) = self.get(domain) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{domain} is not a backup domain")));
        };
        b.state = state;
        self.save(&b)?;
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(b.domain.clone(), b);
        Ok(())
    }

    /// Pending domains past their time become expired; those domains.
    pub(crate) fn expire(&self, now: u64) -> Vec<String> {
        let limit = self.config.confirm_days.saturating_mul(86_400);
        let due: Vec<String> = self
            .all()
            .into_iter()
            .filter(|b| b.state == State::Pending && now >= b.created.saturating_add(limit))
            .map(|b| b.domain)
            .collect();
        for d in &due {
            if let Some(mut b) = self.get(d) {
                b.expired = now;
                self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(d.clone(), b);
            }
            if let Err(e) = self.set_state(d, State::Expired) {
                tracing::warn!(domain = %d, error = %e, "cannot expire the backup domain");
            }
            tracing::info!(domain = %d, "backup MX domain not confirmed in time: its held mail is returned");
        }
        due
    }

    /// Whether an expired domain may be forgotten: its mail is gone and it has taken no
    /// mail for [`TOMBSTONE_DAYS`] (after which its MX records may make it a backup again,
    /// with a new confirmation request).
    pub(crate) fn may_forget(&self, b: &Backup, held: usize, now: u64) -> bool {
        b.state == State::Expired && held == 0 && now >= b.expired.saturating_add(TOMBSTONE_DAYS * 86_400)
    }

    /// Forgets an expired domain.
    pub(crate) fn forget(&self, domain: &str) {
        let _ = fs::remove_file(self.dir.join(domain));
        self.known.lock().unwrap_or_else(|e| e.into_inner()).remove(domain);
    }

    /// The gateway a backup domain behaves as (the template).
    pub(crate) fn gateway(&self, domain: &str) -> GatewayConfig {
        GatewayConfig {
            name: Some(domain.to_owned()),
            domains: vec![domain.to_owned()],
            hold_days: self.config.hold_days,
            max_messages: Some(self.config.max_messages),
            max_octets: Some(self.config.max_octets),
            ..GatewayConfig::default()
        }
    }
}

/// Given which MX records are this server: the best host above it and the record that is
/// it; `None` when the records do not list this server, or list nothing better than it.
pub(crate) fn primary_above_us(records: &[(u16, String, bool)]) -> Option<(String, String)> {
    let (ours, us) = records.iter().filter(|(_, _, us)| *us).map(|(p, h, _)| (*p, h)).min()?;
    let primary = records.iter().filter(|(p, _, us)| !us && *p < ours).min_by_key(|(p, _, _)| *p)?;
    Some((primary.1.clone(), us.clone()))
}

/// The origin (the envelope's client field) of a confirmation request for `domain`.
pub(crate) fn confirm_origin(domain: &str) -> String {
    format!("backup-mx confirmation for {domain}")
}

/// The message that asks the postmaster of a new backup domain to confirm it.
pub(crate) fn confirmation_request(b: &Backup, hostname: &str, confirm_days: u64) -> (String, Vec<u8>) {
    let from = format!("{CONFIRM_LOCAL}{}@{hostname}", b.token);
    let to = format!("postmaster@{}", b.domain);
    let date = crate::identity::directory::rfc5322_date(b.created);
    let text = format!(
        "The DNS of {domain} lists {hostname} as a backup mail exchanger (below {primary}).\r\n\r\n\
         {hostname} holds mail for {domain} while {primary} cannot take it, and hands it over \
         when it can. Before it does, this is to be confirmed: answer this message (the answer \
         goes to {from}), or ask the administrator of {hostname} to run \
         `sansmail gateway confirm {domain}`.\r\n\r\n\
         Unconfirmed within {confirm_days} day(s), the mail held for {domain} is returned to its \
         senders and {hostname} takes no more. If you did not list {hostname} in your MX records, \
         remove it from them and ignore this message.\r\n",
        domain = b.domain,
        primary = b.primary,
    );
    let message = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Confirm {hostname} as backup MX for {domain}\r\nDate: {date}\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}",
        domain = b.domain
    );
    (from, message.into_bytes())
}

impl Gateways {
    /// Whether a backup domain is over its quota.
    pub(crate) fn backup_over_quota(&self, domain: &str) -> bool {
        self.backups.get(domain).is_some_and(|_| self.over_quota(&self.backups.gateway(domain)))
    }

    /// Whether the queue leaves mail for a backup domain alone: pending or expired (but
    /// the confirmation request itself goes: it is known by its origin).
    pub(crate) fn backup_holds(&self, domain: &str, env_client: &str) -> bool {
        self.backups.get(domain).is_some_and(|b| b.state != State::Active && env_client != confirm_origin(domain))
    }

    /// Whether this MX host is this server: by name, or by one of its addresses.
    pub(crate) fn is_us(&self, host: &str, addrs: &[IpAddr]) -> bool {
        let host = host.trim_end_matches('.');
        self.own_names.iter().any(|n| n.eq_ignore_ascii_case(host))
            || addrs.iter().any(|a| self.own_addresses.contains(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(p: u16, h: &str, us: bool) -> (u16, String, bool) {
        (p, h.to_owned(), us)
    }

    #[test]
    fn only_a_listing_below_a_better_host_makes_a_backup() {
        let found = |p: &str, u: &str| Some((p.to_owned(), u.to_owned()));
        assert_eq!(primary_above_us(&[rec(10, "mx1", false), rec(20, "us", true)]), found("mx1", "us"));
        assert_eq!(
            primary_above_us(&[
                rec(30, "mx3", false),
                rec(10, "mx1", false),
                rec(20, "us", true),
                rec(40, "us2", true)
            ]),
            found("mx1", "us")
        );
        assert_eq!(primary_above_us(&[rec(10, "mx1", false)]), None, "not listed");
        assert_eq!(primary_above_us(&[rec(10, "us", true), rec(20, "mx2", false)]), None, "we are the best");
        assert_eq!(primary_above_us(&[rec(10, "us", true), rec(10, "mx2", false)]), None, "equal is not better");
        assert_eq!(primary_above_us(&[]), None);
    }

    #[test]
    fn domains_are_kept_confirmed_and_expired_on_disk() {
        let dir = std::env::temp_dir().join(format!("sansmail-backup-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let config: BackupMxConfig = toml::from_str("enabled = true\nmax_domains = 2\nconfirm_days = 1\n").unwrap();
        let b = Backups::new(config.clone(), &dir);
        assert!(b.worth_looking_up("a.test"));
        let a = b.add("A.test", ("mx1.a.test", "us.test"), 1000).unwrap();
        assert_eq!((a.domain.as_str(), a.state, a.token.len()), ("a.test", State::Pending, 32));
        b.add("b.test", ("mx1.b.test", "us.test"), 1000).unwrap();
        assert!(!b.worth_looking_up("c.test"), "max_domains");
        b.not_listed("d.test");
        assert!(b.confirm_token("wrong").is_none());
        assert_eq!(b.confirm_token(&a.token).as_deref(), Some("a.test"));
        assert_eq!(b.expire(1000 + 86_400), ["b.test"]);
        let again = Backups::new(config, &dir);
        assert_eq!(again.get("a.test").unwrap().state, State::Active);
        assert_eq!(again.get("b.test").unwrap().state, State::Expired);
        again.forget("b.test");
        assert!(Backups::new(BackupMxConfig::default(), &dir).get("b.test").is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
