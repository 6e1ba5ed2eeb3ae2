//! Recipient callouts for `recipients = "callout"`: before RCPT is answered, the domain's own
//! server is asked whether it takes the address (MAIL FROM:<> and RCPT, then QUIT: no
//! message is sent), and the answer is remembered, so a sender's retries and the next
//! messages cost no new question. What is asked lives in the outbound queue's side
//! ([`crate::outbound::Manager::callout`]), which knows the gateway's route, TLS and
//! credentials; this is the memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::GatewayConfig;

/// What the domain's server said of an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It takes it.
    Exists,
    /// It refused it for good (its reply's text).
    NoSuchUser(String),
    /// It could not be asked, or answered "later" (why).
    Unknown(String),
}

/// Answers kept at most (past it, stale ones are dropped; then the oldest half).
const MAX_ENTRIES: usize = 50_000;
/// How long "could not be asked" is remembered: a server that is down is not asked again
/// for every recipient.
const UNKNOWN_SECS: u64 = 60;
/// The most callouts running at once, over all gateways.
pub(crate) const MAX_RUNNING: usize = 16;

/// The answers, by address (lower case).
#[derive(Debug)]
pub(crate) struct Cache {
    map: Mutex<HashMap<String, (Verdict, Instant)>>,
    /// Bounds the questions asked at once.
    pub(crate) running: tokio::sync::Semaphore,
}

impl Default for Cache {
    fn default() -> Self {
        Self { map: Mutex::new(HashMap::new()), running: tokio::sync::Semaphore::new(MAX_RUNNING) }
    }
}

impl Cache {
    /// The answer for `address`, if one is remembered and fresh.
    pub(crate) fn get(&self, address: &str) -> Option<Verdict> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&address.to_ascii_lowercase()).filter(|(_, until)| *until > Instant::now()).map(|(v, _)| v.clone())
    }

    /// Remembers `verdict` for `address` as long as `g` says.
    pub(crate) fn put(&self, g: &GatewayConfig, address: &str, verdict: Verdict) {
        let secs = match verdict {
            Verdict::Exists => g.callout_positive_mins.saturating_mul(60),
            Verdict::NoSuchUser(_) => g.callout_negative_mins.saturating_mul(60),
            Verdict::Unknown(_) => UNKNOWN_SECS,
        };
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_ENTRIES {
                let mut ends: Vec<Instant> = map.values().map(|(_, until)| *until).collect();
                ends.sort_unstable();
                let cut = ends[ends.len() / 2];
                map.retain(|_, (_, until)| *until > cut);
            }
        }
        map.insert(address.to_ascii_lowercase(), (verdict, now + Duration::from_secs(secs)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_as_long_as_the_gateway_says_and_the_cache_stays_bounded() {
        let mut g: GatewayConfig = toml::from_str("domains = [\"a.test\"]\nrecipients = \"callout\"\n").unwrap();
        g.callout_negative_mins = 0;
        let cache = Cache::default();
        cache.put(&g, "Bob@A.test", Verdict::Exists);
        cache.put(&g, "nobody@a.test", Verdict::NoSuchUser("550 no".into()));
        assert_eq!(cache.get("bob@a.test"), Some(Verdict::Exists));
        assert_eq!(cache.get("nobody@a.test"), None, "a zero-minute answer is not kept");
        for i in 0..MAX_ENTRIES + 10 {
            cache.put(&g, &format!("u{i}@a.test"), Verdict::Exists);
        }
        assert!(cache.map.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
