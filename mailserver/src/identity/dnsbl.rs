//! DNS block and allow lists at connect (`[dnsbl]`): the client's address looked up in each
//! zone (`2.0.0.127.zone` for 127.0.0.2, nibbles for IPv6, RFC 5782), each listing adding
//! its zone's weight (negative for allow lists); at or past the threshold the connection
//! gets `554 5.7.1` with the listing zone's TXT text. No zone by default (most lists want
//! registration). Lookups run at once for all zones, within a time budget, and each
//! address's verdict is remembered as long as the answers' TTL allows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use serde::Deserialize;

/// `[[dnsbl.zone]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Zone {
    /// The list's zone (`zen.spamhaus.org`, `list.dnswl.org`).
    pub(crate) zone: String,
    /// Added to the score when the address is listed; negative for an allow list.
    #[serde(default = "one")]
    pub(crate) weight: i32,
    /// Only these answers count (`127.0.0.2`, …); empty: any address in 127.0.0.0/8
    /// (RFC 5782 §2.1; other answers are a list's error codes, not listings).
    #[serde(default)]
    pub(crate) answers: Vec<std::net::Ipv4Addr>,
}

fn one() -> i32 {
    1
}

/// `[dnsbl]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DnsblConfig {
    /// The zones; none: no lookups.
    pub(crate) zone: Vec<Zone>,
    /// The score at or past which a connection is refused.
    pub(crate) threshold: i32,
    /// The time budget of one connection's lookups, in milliseconds (unanswered zones
    /// count as not listing).
    pub(crate) timeout_ms: u64,
    /// Addresses whose verdict is remembered at most.
    pub(crate) cache_entries: usize,
}

impl Default for DnsblConfig {
    fn default() -> Self {
        Self { zone: Vec::new(), threshold: 1, timeout_ms: 2000, cache_entries: 20_000 }
    }
}

/// Why an address is refused: the zone and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) zone: String,
    pub(crate) text: String,
}

/// The lists and what they said.
pub(crate) struct Dnsbl {
    config: DnsblConfig,
    resolver: TokioResolver,
    cache: Mutex<HashMap<IpAddr, (Option<Listed>, Instant)>>,
}

/// How long a verdict is kept when the answers give no TTL (none listed: NXDOMAIN).
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest a verdict is kept whatever the TTL says.
const MAX_TTL: Duration = Duration::from_secs(3600);

/// The name to look up for `ip` in `zone`.
pub(crate) fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            format!("{name}{zone}.")
        }
    }
}

impl Dnsbl {
    /// `None` without zones.
    pub(crate) fn new(config: &DnsblConfig, resolver: TokioResolver) -> Option<Self> {
        (!config.zone.is_empty()).then(|| Self { config: config.clone(), resolver, cache: Mutex::new(HashMap::new()) })
    }

    /// The verdict for `ip`: `Some` when it is to be refused.
    pub(crate) async fn check(&self, ip: IpAddr) -> Option<Listed> {
        if let Some((verdict, until)) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&ip)
            && *until > Instant::now()
        {
            return verdict.clone();
        }
        let budget = Duration::from_millis(self.config.timeout_ms.max(1));
        // All zones at once: awaiting them in turn would add their times.
        let mut set = tokio::task::JoinSet::new();
        for (i, z) in self.config.zone.iter().enumerate() {
            let (resolver, z) = (self.resolver.clone(), z.clone());
            set.spawn(async move { (i, lookup(&resolver, ip, &z).await) });
        }
        let mut results: Vec<(Option<String>, Duration)> = vec![(None, DEFAULT_TTL); self.config.zone.len()];
        let gathered = tokio::time::timeout(budget, async {
            while let Some(joined) = set.join_next().await {
                if let Ok((i, r)) = joined {
                    results[i] = r;
                }
            }
        })
        .await;
        // Past the budget: not listed, and not remembered (the next connection asks again).
        if gathered.is_err() {
            return None;
        }
        let mut score = 0;
        let mut ttl = MAX_TTL;
        let mut worst: Option<(i32, Listed)> = None;
        for (z, (listed, zone_ttl)) in self.config.zone.iter().zip(results) {
            ttl = ttl.min(zone_ttl);
            if let Some(text) = listed {
                score += z.weight;
                if z.weight > 0 && worst.as_ref().is_none_or(|(w, _)| z.weight > *w) {
                    worst = Some((z.weight, Listed { zone: z.zone.clone(), text }));
                }
            }
        }
        let verdict = if score >= self.config.threshold { worst.map(|(_, l)| l) } else { None };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= self.config.cache_entries.max(1) {
            let now = Instant::now();
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= self.config.cache_entries.max(1) {
                cache.clear();
            }
        }
        cache.insert(ip, (verdict.clone(), Instant::now() + ttl));
        verdict
    }
}

/// One zone: whether `ip` is listed (with the zone's text for it) and for how long the
/// answer holds.
async fn lookup(resolver: &TokioResolver, ip: IpAddr, z: &Zone) -> (Option<String>, Duration) {
    let name = query_name(ip, &z.zone);
    let answer = match resolver.ipv4_lookup(name.as_str()).await {
        Ok(a) => a,
        Err(_) => return (None, DEFAULT_TTL),
    };
    let ttl = answer.valid_until().saturating_duration_since(Instant::now()).min(MAX_TTL);
    let counts = answer.answers().iter().any(|r| match &r.data {
        RData::A(a) => {
            let a = a.0;
            if z.answers.is_empty() { a.octets()[0] == 127 } else { z.answers.contains(&a) }
        }
        _ => false,
    });
    if !counts {
        return (None, ttl);
    }
    let text = match resolver.txt_lookup(name.as_str()).await {
        Ok(txt) => txt
            .answers()
            .iter()
            .find_map(|r| match &r.data {
                RData::TXT(t) => Some(t.to_string()),
                _ => None,
            })
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    // The zone's text is shown to the client: one short printable line.
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    (Some(text), ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reversed_as_rfc_5782_says() {
        assert_eq!(query_name("192.0.2.99".parse().unwrap(), "bl.test"), "99.2.0.192.bl.test.");
        let v6 = query_name("2001:db8:1:2:3:4:567:89ab".parse().unwrap(), "bl.test.");
        assert_eq!(v6, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test.");
    }
}
