//! Collection jobs (`[[fetch]]`): the site behind a provider collecting what the provider
//! holds for it, on each connection (after the outbound queue has gone out), every
//! `every_mins`, and on `sansmail fetch run [NAME]`:
//!
//! - `etrn`: asks the provider's gateway to send our domains' mail (RFC 1985), which then
//!   arrives on our own SMTP listener;
//! - `atrn`: On-Demand Mail Relay (RFC 2645): logs in, `ATRN` our domains, and takes the
//!   mail as the SMTP server on the same connection, as durably as on port 25;
//! - `pop3` and `imap`: downloads a remote mailbox, delivers each message to the
//!   local recipients its routing rules find (`route.rs`), and only then deletes it there.
//!
//! Each job keeps, under `fetch/`, what it has taken (`<name>.seen`: never the same message
//! twice, across runs and crashes) and its last run (`<name>.status`, for `sansmail fetch
//! status`); one log line per run says what it did.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

mod conn;
mod imap;
mod pop3;
pub(crate) mod route;
mod smtp;

use crate::outbound::Manager;
use crate::protocols::Shared;

/// How a job collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Method {
    Etrn,
    Atrn,
    Pop3,
    Imap,
}

/// How a job's connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FetchTls {
    /// STARTTLS (SMTP) or STLS (POP3) first; fails if the server does not offer it.
    #[default]
    Starttls,
    /// TLS from the first octet (ports 995, 993).
    Implicit,
    /// None: the password crosses in the clear (a trusted network only).
    None,
}

/// One `[[fetch.rule]]`: mail whose `header` contains `contains` (any case) goes to
/// `deliver_to`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    pub(crate) header: String,
    pub(crate) contains: String,
    pub(crate) deliver_to: String,
}

fn yes() -> bool {
    true
}
fn envelope_headers() -> Vec<String> {
    ["X-Envelope-To", "Delivered-To", "Envelope-To", "X-Original-To"].map(String::from).to_vec()
}
fn max_message_size() -> u64 {
    50 << 20
}
fn max_messages() -> usize {
    1000
}

/// `[[fetch]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FetchConfig {
    /// Logs, the CLI, its files (letters, digits, `-`, `_`, `.`).
    pub(crate) name: String,
    pub(crate) method: Method,
    /// `host:port` (the port may be left out: 25 for etrn, 366 for atrn, 110 or 995 for
    /// pop3, 143 or 993 for imap).
    pub(crate) host: String,
    #[serde(default)]
    pub(crate) tls: FetchTls,
    /// Check the server's certificate (against `ca_file`, else the Mozilla roots).
    #[serde(default = "yes")]
    pub(crate) verify_certificate: bool,
    #[serde(default)]
    pub(crate) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// etrn and atrn: the domains asked for.
    #[serde(default)]
    pub(crate) domains: Vec<String>,
    /// pop3/imap: every message to this one local address (a remote account delivered to a
    /// local user), no routing.
    #[serde(default)]
    pub(crate) deliver_to: Option<String>,
    /// pop3/imap: the headers that carry the envelope recipient, tried in order.
    #[serde(default = "envelope_headers")]
    pub(crate) envelope_headers: Vec<String>,
    /// Where mail goes that no rule places; default the postmaster.
    #[serde(default)]
    pub(crate) unknown_to: Option<String>,
    /// Days a message stays on the server after it was taken; 0: deleted at once.
    #[serde(default)]
    pub(crate) keep_days: u64,
    /// Larger messages are left on the server (and logged).
    #[serde(default = "max_message_size")]
    pub(crate) max_message_size: u64,
    /// The most messages taken in one run (the rest wait for the next).
    #[serde(default = "max_messages")]
    pub(crate) max_messages: usize,
    /// Also runs every this many minutes; 0: only on connections and the CLI.
    #[serde(default)]
    pub(crate) every_mins: u64,
    /// imap: the folder collected (default INBOX).
    #[serde(default)]
    pub(crate) folder: Option<String>,
    #[serde(default)]
    pub(crate) rule: Vec<Rule>,
}

impl FetchConfig {
    /// The host and port to connect to.
    pub(crate) fn address(&self) -> (String, u16) {
        let default = match (self.method, self.tls) {
            (Method::Etrn, _) => 25,
            (Method::Atrn, _) => 366,
            (Method::Pop3, FetchTls::Implicit) => 995,
            (Method::Pop3, _) => 110,
            (Method::Imap, FetchTls::Implicit) => 993,
            (Method::Imap, _) => 143,
        };
        match self.host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
                (h.trim_matches(['[', ']']).to_owned(), p.parse().unwrap_or(default))
            }
            _ => (self.host.trim_matches(['[', ']']).to_owned(), default),
        }
    }

    /// Checks what cannot work.
    pub(crate) fn check(&self) -> Result<(), String> {
        let n = &self.name;
        if n.is_empty() || n.starts_with('.') || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(format!("[[fetch]] name {n:?}: letters, digits, '-', '_' and '.' only"));
        }
        match self.method {
            Method::Etrn | Method::Atrn if self.domains.is_empty() => {
                Err(format!("[[fetch]] {n}: etrn and atrn need the domains to ask for"))
            }
            Method::Atrn | Method::Pop3 | Method::Imap if self.username.is_none() || self.password.is_none() => {
                Err(format!("[[fetch]] {n}: a username and password are needed"))
            }
            _ => Ok(()),
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) messages: u64,
    pub(crate) octets: u64,
    /// Messages left on the server (too large, a loop) or that failed.
    pub(crate) skipped: u64,
    pub(crate) error: Option<String>,
}

/// `fetch/` under the data directory.
pub(crate) fn fetch_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("fetch")
}

/// The mark `sansmail fetch run` leaves: `.run` (every job) or `.run-<name>`.
pub(crate) fn run_mark(data_dir: &Path, name: Option<&str>) -> PathBuf {
    fetch_dir(data_dir).join(name.map_or_else(|| ".run".to_owned(), |n| format!(".run-{n}")))
}

/// The collection jobs and what they need.
pub(crate) struct Fetcher {
    pub(crate) jobs: Vec<FetchConfig>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) outbound: Arc<Manager>,
    dir: PathBuf,
}

/// The messages a job has taken: `uidl [first-seen unix seconds]` per line.
pub(crate) struct Seen {
    path: PathBuf,
    pub(crate) taken: HashMap<String, u64>,
}

impl Seen {
    pub(crate) fn load(dir: &Path, job: &str) -> io::Result<Self> {
        let path = dir.join(format!("{job}.seen"));
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let taken = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split(' ');
                Some((w.next()?.to_owned(), w.next().and_then(|t| t.parse().ok()).unwrap_or(0)))
            })
            .collect();
        Ok(Self { path, taken })
    }

    /// Records a message as taken, durably, before anything deletes it on the server.
    pub(crate) fn add(&mut self, uidl: &str, now: u64) -> io::Result<()> {
        let mut f = fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        writeln!(f, "{uidl} {now}")?;
        f.sync_data()?;
        self.taken.insert(uidl.to_owned(), now);
        Ok(())
    }

    /// Keeps only what the server still lists (the file never grows without bound).
    pub(crate) fn prune(&mut self, listed: &[String]) -> io::Result<()> {
        let before = self.taken.len();
        self.taken.retain(|u, _| listed.contains(u));
        if self.taken.len() == before {
            return Ok(());
        }
        let tmp = self.path.with_extension("seen.tmp");
        let mut text = String::new();
        for (u, t) in &self.taken {
            text.push_str(&format!("{u} {t}\n"));
        }
        fs::write(&tmp, text)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

/// A spool id made from the job and the message's UIDL, so a message taken again after a
/// crash (between its delivery and its `.seen` line) lands under the same name and the
/// mailbox keeps one copy. `F` first: never one of `spool::new_id`'s (time-based) ids.
pub(crate) fn message_id(job: &str, uidl: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new().chain_update(job).chain_update([0u8]).chain_update(uidl).finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("F{}", &hex[..17])
}

impl Fetcher {
    pub(crate) fn new(jobs: Vec<FetchConfig>, shared: Arc<Shared>, outbound: Arc<Manager>) -> Self {
        let dir = fetch_dir(&shared.data_dir);
        Self { jobs, shared, outbound, dir }
    }

    /// Runs one job, records and logs what it did.
    pub(crate) async fn run_job(&self, job: &FetchConfig) -> Report {
        let started = crate::outbound::unix_now();
        if let Err(e) = fs::create_dir_all(&self.dir) {
            return Report { error: Some(format!("cannot make {}: {e}", self.dir.display())), ..Report::default() };
        }
        // A run that did not finish (a crash) leaves its mark: the next one makes sure each
        // message it takes is not already in its mailboxes.
        let running = self.dir.join(format!(".running-{}", job.name));
        let recovering = running.exists();
        let _ = fs::write(&running, b"");
        let limit = Duration::from_secs(3600);
        let result = tokio::time::timeout(limit, async {
            match job.method {
                Method::Etrn => smtp::etrn(self, job).await,
                Method::Atrn => smtp::atrn(self, job).await,
                Method::Pop3 => pop3::collect(self, job, recovering).await,
                Method::Imap => imap::collect(self, job, recovering).await,
            }
        })
        .await;
        let _ = fs::remove_file(&running);
        let report = match result {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Report { error: Some(e), ..Report::default() },
            Err(_) => Report { error: Some("the run took over an hour".into()), ..Report::default() },
        };
        tracing::info!(
            job = %job.name, method = ?job.method, messages = report.messages, octets = report.octets,
            skipped = report.skipped, error = report.error.as_deref().unwrap_or(""), "fetch run"
        );
        let status = format!(
            "at = {started}\nmessages = {}\noctets = {}\nskipped = {}\nerror = {:?}\n",
            report.messages,
            report.octets,
            report.skipped,
            report.error.clone().unwrap_or_default()
        );
        let _ = fs::write(self.dir.join(format!("{}.status", job.name)), status);
        report
    }

    /// Delivers a collected message to `recipients` (local addresses), durably: when this
    /// returns, it is in the spool, fsynced.
    pub(crate) fn deliver(
        &self,
        id: &str,
        (from, recipients): (&str, &[String]),
        content: &[u8],
        recovering: bool,
    ) -> io::Result<()> {
        let rcpts: Vec<&str> = recipients.iter().map(String::as_str).collect();
        self.outbound.deliverer.inject(id, (from, &rcpts), content, "fetch", recovering)
    }
}

/// Runs the jobs: after each connection (once the queue has gone out), every job's
/// `every_mins`, and when the CLI leaves a mark. One job runs at a time.
pub(crate) async fn run(fetcher: Arc<Fetcher>) {
    if fetcher.jobs.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last: HashMap<String, u64> = HashMap::new();
    let connections = &fetcher.outbound.connections;
    loop {
        let mut all = false;
        tokio::select! {
            () = connections.notified() => {
                // After sending: wait (at most five minutes) for the queue to go out.
                for _ in 0..300 {
                    if !fetcher.outbound.sending() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                all = true;
            }
            _ = tick.tick() => {}
        }
        let data_dir = &fetcher.shared.data_dir;
        all |= fs::remove_file(run_mark(data_dir, None)).is_ok();
        let now = crate::outbound::unix_now();
        for job in &fetcher.jobs {
            let asked = fs::remove_file(run_mark(data_dir, Some(&job.name))).is_ok();
            let due = job.every_mins > 0 && now >= last.get(&job.name).copied().unwrap_or(0) + job.every_mins * 60;
            if all || asked || due {
                last.insert(job.name.clone(), now);
                fetcher.run_job(job).await;
            }
        }
    }
}
