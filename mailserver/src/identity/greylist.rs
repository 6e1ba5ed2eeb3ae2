//! Greylisting (`[greylist]`, off by default): the first RCPT of a (client network, sender,
//! recipient) triplet gets `451 4.7.1`; a retry after `delay_secs` and within
//! `retry_window_secs` passes, and the triplet then passes for `pass_days`. A client
//! network (IPv4 /24, IPv6 /64) with `auto_whitelist` triplets passed skips the test for
//! `pass_days`. Real MTAs retry; most spam engines do not.
//!
//! Durable across restarts: each change is appended to `greylist/journal` (not synced: a
//! triplet lost in a crash only costs its sender one more retry), which is rewritten
//! compactly when it grows past twice what is alive. Memory is bounded: triplets are kept
//! as 64-bit digests, at most `max_entries` of them (the oldest go first).

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

/// `[greylist]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct GreylistConfig {
    pub(crate) enabled: bool,
    /// A retry sooner than this after the first attempt is deferred again.
    pub(crate) delay_secs: u64,
    /// A first attempt not retried within this is forgotten.
    pub(crate) retry_window_secs: u64,
    /// How long a passed triplet, and a whitelisted network, keep passing.
    pub(crate) pass_days: u64,
    /// Passed triplets from one client network after which the network skips the test;
    /// 0: never.
    pub(crate) auto_whitelist: u32,
    /// Triplets remembered at most.
    pub(crate) max_entries: usize,
}

impl Default for GreylistConfig {
    /// Postgrey's spirit: 5 minutes, 2 days to retry, 35 days remembered, networks
    /// whitelisted after 5 passes.
    fn default() -> Self {
        Self {
            enabled: false,
            delay_secs: 300,
            retry_window_secs: 2 * 86_400,
            pass_days: 35,
            auto_whitelist: 5,
            max_entries: 1_000_000,
        }
    }
}

/// A remembered triplet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    first: u64,
    /// When it passed (0: not yet).
    passed: u64,
}

/// A network's passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Net {
    passes: u32,
    last: u64,
}

#[derive(Debug, Default)]
struct State {
    triplets: HashMap<u64, Entry>,
    nets: HashMap<IpAddr, Net>,
    journal_lines: usize,
}

/// The verdict for one RCPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Deferred: seconds until a retry passes.
    Defer(u64),
}

/// The greylist and its journal.
#[derive(Debug)]
pub(crate) struct Greylist {
    config: GreylistConfig,
    path: PathBuf,
    state: Mutex<State>,
}

/// The client network a triplet counts: IPv4 /24, IPv6 /64 (a sender's MTAs retry from
/// neighbouring addresses).
pub(crate) fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
    }
}

fn digest(net: IpAddr, sender: &str, recipient: &str) -> u64 {
    use sha2::Digest as _;
    let d = sha2::Sha256::new()
        .chain_update(net.to_string())
        .chain_update([0])
        .chain_update(sender.to_ascii_lowercase())
        .chain_update([0])
        .chain_update(recipient.to_ascii_lowercase())
        .finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

impl Greylist {
    /// The greylist of `data_dir` (`None` when off), its journal read back.
    pub(crate) fn open(config: &GreylistConfig, data_dir: &Path) -> io::Result<Option<Self>> {
        if !config.enabled {
            return Ok(None);
        }
        let dir = data_dir.join("greylist");
        fs::create_dir_all(&dir)?;
        let path = dir.join("journal");
        let mut state = State::default();
        if let Ok(text) = fs::read_to_string(&path) {
            for line in text.lines() {
                state.journal_lines += 1;
                let mut w = line.split(' ');
                match (w.next(), w.next(), w.next(), w.next()) {
                    (Some("T"), Some(k), Some(first), Some(passed)) => {
                        if let (Ok(k), Ok(first), Ok(passed)) = (k.parse(), first.parse(), passed.parse()) {
                            state.triplets.insert(k, Entry { first, passed });
                        }
                    }
                    (Some("N"), Some(net), Some(passes), Some(last)) => {
                        if let (Ok(net), Ok(passes), Ok(last)) = (net.parse(), passes.parse(), last.parse()) {
                            state.nets.insert(net, Net { passes, last });
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Some(Self { config: config.clone(), path, state: Mutex::new(state) }))
    }

    /// The verdict for `sender` → `recipient` from `ip` at `now` (unix seconds), recorded.
    pub(crate) fn check(&self, ip: IpAddr, sender: &str, recipient: &str, now: u64) -> Verdict {
        let net = network(ip);
        let key = digest(net, sender, recipient);
        let pass_secs = self.config.pass_days.saturating_mul(86_400);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = Vec::new();
        let whitelisted = self.config.auto_whitelist > 0
            && s.nets.get(&net).is_some_and(|n| n.passes >= self.config.auto_whitelist && now < n.last + pass_secs);
        let verdict = match s.triplets.get(&key).copied() {
            _ if whitelisted => Verdict::Pass,
            Some(e) if e.passed > 0 && now < e.passed + pass_secs => Verdict::Pass,
            Some(e)
                if e.passed == 0
                    && now >= e.first + self.config.delay_secs
                    && now < e.first + self.config.retry_window_secs =>
            {
                s.triplets.insert(key, Entry { first: e.first, passed: now });
                lines.push(format!("T {key} {} {now}", e.first));
                let n = s.nets.entry(net).or_default();
                n.passes += 1;
                n.last = now;
                lines.push(format!("N {net} {} {now}", n.passes));
                Verdict::Pass
            }
            Some(e) if e.passed == 0 && now < e.first + self.config.delay_secs => {
                Verdict::Defer(e.first + self.config.delay_secs - now)
            }
            // New, or expired: the clock starts now.
            _ => {
                s.triplets.insert(key, Entry { first: now, passed: 0 });
                lines.push(format!("T {key} {now} 0"));
                Verdict::Defer(self.config.delay_secs)
            }
        };
        if s.triplets.len() > self.config.max_entries.max(1) {
            // The oldest tenth goes.
            let mut ages: Vec<u64> = s.triplets.values().map(|e| e.passed.max(e.first)).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 10];
            s.triplets.retain(|_, e| e.passed.max(e.first) > cut);
        }
        if !lines.is_empty() {
            s.journal_lines += lines.len();
            let alive = s.triplets.len() + s.nets.len();
            if s.journal_lines > 2 * alive + 1000 {
                if let Err(e) = self.compact(&mut s, now) {
                    tracing::warn!(error = %e, "cannot compact the greylist journal");
                }
            } else if let Err(e) = self.append(&lines) {
                tracing::warn!(error = %e, "cannot write the greylist journal");
            }
        }
        verdict
    }

    fn append(&self, lines: &[String]) -> io::Result<()> {
        let mut f = fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all((lines.join("\n") + "\n").as_bytes())
    }

    /// Rewrites the journal with what is alive (expired entries dropped).
    fn compact(&self, s: &mut State, now: u64) -> io::Result<()> {
        let pass_secs = self.config.pass_days.saturating_mul(86_400);
        let window = self.config.retry_window_secs;
        s.triplets.retain(|_, e| if e.passed > 0 { now < e.passed + pass_secs } else { now < e.first + window });
        s.nets.retain(|_, n| now < n.last + pass_secs);
        let mut text = String::new();
        for (k, e) in &s.triplets {
            text.push_str(&format!("T {k} {} {}\n", e.first, e.passed));
        }
        for (net, n) in &s.nets {
            text.push_str(&format!("N {net} {} {}\n", n.passes, n.last));
        }
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &self.path)?;
        s.journal_lines = s.triplets.len() + s.nets.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(extra: &str) -> (Greylist, PathBuf) {
        let dir = std::env::temp_dir().join(format!("sansmail-grey-{}-{}", std::process::id(), extra.len()));
        let _ = fs::remove_dir_all(&dir);
        let config: GreylistConfig = toml::from_str(&format!("enabled = true\ndelay_secs = 60\n{extra}")).unwrap();
        (Greylist::open(&config, &dir).unwrap().unwrap(), dir)
    }

    #[test]
    fn a_retry_after_the_delay_passes_and_is_remembered() {
        let (g, dir) = list("auto_whitelist = 2\n");
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        assert_eq!(g.check(ip, "a@x.test", "b@y.test", 1000), Verdict::Defer(60));
        assert_eq!(g.check(ip, "a@x.test", "b@y.test", 1030), Verdict::Defer(30), "too soon");
        // Another address of the same /24 retries: it counts.
        let other: IpAddr = "192.0.2.77".parse().unwrap();
        assert_eq!(g.check(other, "A@X.test", "b@y.test", 1061), Verdict::Pass);
        assert_eq!(g.check(ip, "a@x.test", "b@y.test", 90_000), Verdict::Pass, "remembered");
        // Durable: read back from the journal.
        let config: GreylistConfig = toml::from_str("enabled = true\ndelay_secs = 60\nauto_whitelist = 2\n").unwrap();
        let again = Greylist::open(&config, &dir).unwrap().unwrap();
        assert_eq!(again.check(ip, "a@x.test", "b@y.test", 90_001), Verdict::Pass);
        // A second pass from the network whitelists it.
        assert_eq!(again.check(ip, "c@x.test", "b@y.test", 100_000), Verdict::Defer(60));
        assert_eq!(again.check(ip, "c@x.test", "b@y.test", 100_100), Verdict::Pass);
        assert_eq!(again.check(ip, "new@x.test", "z@y.test", 100_200), Verdict::Pass, "whitelisted network");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_first_attempt_not_retried_in_time_starts_again_and_memory_is_bounded() {
        let (g, dir) = list("retry_window_secs = 100\nmax_entries = 50\n");
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(g.check(ip, "a@x.test", "b@y.test", 0), Verdict::Defer(60));
        assert_eq!(g.check(ip, "a@x.test", "b@y.test", 500), Verdict::Defer(60), "too late: new clock");
        for i in 0..200 {
            g.check(ip, &format!("s{i}@x.test"), "b@y.test", 1000 + i);
        }
        assert!(g.state.lock().unwrap().triplets.len() <= 51);
        assert_eq!(network("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let _ = fs::remove_dir_all(&dir);
    }
}
