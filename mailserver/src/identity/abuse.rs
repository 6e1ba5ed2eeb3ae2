//! Abuse defences shared by every listener and protocol: authentication failures throttled
//! per client address and per account (a growing delay, then a temporary block — the
//! seeds' "dictionary attack prevention"), directory harvesting (RCPT to unknown local users)
//! counted per session and per address, and connection rate per address. Every threshold is
//! configurable (`[abuse]`), and every block expires. Memory is bounded: stale entries are
//! swept, and each table holds at most [`MAX_ENTRIES`] addresses or accounts.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Most addresses or accounts tracked per table; past it the oldest windows are dropped.
const MAX_ENTRIES: usize = 100_000;

/// `[abuse]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AbuseConfig {
    /// Seconds over which failures and connections are counted.
    pub(crate) window_secs: u64,
    /// Authentication failures from one address before each further failure is answered
    /// slowly (1 s, doubling, at most 8 s).
    pub(crate) auth_failures_before_delay: u32,
    /// Authentication failures from one address before it is blocked (421 / 454).
    pub(crate) auth_failures_before_block: u32,
    /// Authentication failures for one account (from anywhere) before it is locked: even
    /// the right password gets 454 until the block expires.
    pub(crate) account_failures_before_lock: u32,
    /// RCPT to unknown local users in one session before 421 and close.
    pub(crate) unknown_recipients_per_session: u32,
    /// RCPT to unknown local users from one address (within the window) before it is blocked.
    pub(crate) unknown_recipients_before_block: u32,
    /// Connections per address within the window; more get 421.
    pub(crate) connections_per_window: u32,
    /// Seconds a block lasts.
    pub(crate) block_secs: u64,
    /// IPv6 clients are counted per network of this prefix length (one customer gets a
    /// /64 or more, so counting single addresses would let it rotate past every limit).
    pub(crate) ipv6_prefix: u8,
    /// Password checks (argon2id, 19 MiB and tens of milliseconds each) run at once;
    /// `0`: one per core.
    pub(crate) concurrent_verifications: usize,
    /// Password checks that may wait for one of those; more get a temporary failure at
    /// once.
    pub(crate) queued_verifications: usize,
    /// Seconds a password check may wait for its turn before a temporary failure.
    pub(crate) verification_wait_secs: u64,
    /// Seconds a successful password check is remembered (as a keyed hash of the
    /// credentials, never the password), so the next login with them costs no argon2id
    /// run; 0: never.
    pub(crate) credential_cache_secs: u64,
    /// Successful checks remembered at most.
    pub(crate) credential_cache_entries: usize,
    /// SMTP clients that talked before the greeting (a listener's `pregreet_ms`) from one
    /// address before it is blocked; the early talk itself always ends its session.
    pub(crate) pregreet_before_block: u32,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        Self {
            window_secs: 900,
            auth_failures_before_delay: 3,
            auth_failures_before_block: 10,
            account_failures_before_lock: 10,
            unknown_recipients_per_session: 5,
            unknown_recipients_before_block: 20,
            connections_per_window: 300,
            block_secs: 900,
            ipv6_prefix: 64,
            concurrent_verifications: 0,
            queued_verifications: 32,
            verification_wait_secs: 10,
            // Dovecot's auth_cache_ttl.
            credential_cache_secs: 3600,
            credential_cache_entries: 10_000,
            // Postscreen's way: a client that talks first is a bot; one strike.
            pregreet_before_block: 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    count: u32,
}

/// Counts events per key within a window, and blocks keys until a time.
#[derive(Debug)]
struct Table<K> {
    windows: HashMap<K, Window>,
    blocked: HashMap<K, Instant>,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new() -> Self {
        Self { windows: HashMap::new(), blocked: HashMap::new() }
    }

    /// Counts one event; returns the count within the current window.
    fn hit(&mut self, key: &K, now: Instant, window: Duration) -> u32 {
        if self.windows.len() >= MAX_ENTRIES && !self.windows.contains_key(key) {
            self.windows.retain(|_, w| now.duration_since(w.start) < window);
            // Still full of fresh entries (a flood of addresses): the oldest tenth goes,
            // never the whole table (which would forget every lock and count).
            evict_oldest(&mut self.windows, |w| w.start);
        }
        let w = self.windows.entry(key.clone()).or_insert(Window { start: now, count: 0 });
        if now.duration_since(w.start) >= window {
            *w = Window { start: now, count: 0 };
        }
        w.count += 1;
        w.count
    }

    /// The count within the key's window (as last hit).
    fn count(&self, key: &K) -> u32 {
        self.windows.get(key).map_or(0, |w| w.count)
    }

    /// Takes back one event counted in advance (an attempt that succeeded).
    fn unhit(&mut self, key: &K) {
        if let Some(w) = self.windows.get_mut(key) {
            w.count = w.count.saturating_sub(1);
        }
    }

    fn block(&mut self, key: &K, until: Instant) {
        if self.blocked.len() >= MAX_ENTRIES && !self.blocked.contains_key(key) {
            let now = Instant::now();
            self.blocked.retain(|_, t| *t > now);
            // Those that would end soonest go first.
            evict_oldest(&mut self.blocked, |t| *t);
        }
        self.blocked.insert(key.clone(), until);
        self.windows.remove(key);
    }

    fn is_blocked(&mut self, key: &K, now: Instant) -> bool {
        match self.blocked.get(key) {
            Some(&until) if until > now => true,
            Some(_) => {
                self.blocked.remove(key);
                false
            }
            None => false,
        }
    }
}

/// Makes room in a full table: removes the tenth of the entries with the smallest `age`
/// (the oldest start, the soonest end). A no-op while the table has room.
fn evict_oldest<K: Eq + Hash + Clone, V, T: Ord + Copy>(map: &mut HashMap<K, V>, age: impl Fn(&V) -> T) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut entries: Vec<(T, K)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    let cut = entries.len() / 10;
    entries.select_nth_unstable_by_key(cut, |e| e.0);
    for (_, k) in &entries[..=cut] {
        map.remove(k);
    }
}

/// The key a client address is counted under: IPv4 (and IPv4-mapped IPv6) as it is, other
/// IPv6 addresses by their network of `prefix` bits.
pub(crate) fn client_key(ip: IpAddr, prefix: u8) -> IpAddr {
    match crate::net::canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u32::from(prefix.min(128));
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

/// When each client address last logged in to POP3 or IMAP, for the relay policy's
/// after-login window ("POP-before-SMTP"). Bounded like the other tables.
#[derive(Debug, Default)]
pub(crate) struct Logins {
    last: Mutex<HashMap<IpAddr, Instant>>,
}

impl Logins {
    /// Records a successful POP3 or IMAP login from `ip`.
    pub(crate) fn record(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() >= MAX_ENTRIES {
            // Older than any sensible window (a day): forgotten; then the oldest.
            last.retain(|_, t| now.duration_since(*t) < Duration::from_secs(86_400));
            evict_oldest(&mut last, |t| *t);
        }
        last.insert(crate::net::canonical(ip), now);
    }

    /// Whether `ip` logged in within `window`.
    pub(crate) fn recent(&self, ip: IpAddr, window: Duration) -> bool {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(&crate::net::canonical(ip)).is_some_and(|t| t.elapsed() < window)
    }
}

#[derive(Debug)]
struct State {
    auth_ip: Table<IpAddr>,
    auth_account: Table<String>,
    harvest_ip: Table<IpAddr>,
    connections: Table<IpAddr>,
    pregreet_ip: Table<IpAddr>,
}

/// The shared defences.
#[derive(Debug)]
pub(crate) struct Defences {
    config: AbuseConfig,
    state: Mutex<State>,
}

/// What to do after an authentication failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Answer 535 after this delay.
    Delay(Duration),
    /// The address is now blocked: answer 421 and close.
    Blocked,
}

impl Defences {
    pub(crate) fn new(config: AbuseConfig) -> Self {
        let state = State {
            auth_ip: Table::new(),
            auth_account: Table::new(),
            harvest_ip: Table::new(),
            connections: Table::new(),
            pregreet_ip: Table::new(),
        };
        Self { config, state: Mutex::new(state) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.config.window_secs)
    }

    fn until(&self, now: Instant) -> Instant {
        now + Duration::from_secs(self.config.block_secs)
    }

    /// The address a client is counted by: itself, or its IPv6 network (`ipv6_prefix`).
    pub(crate) fn key(&self, ip: IpAddr) -> IpAddr {
        client_key(ip, self.config.ipv6_prefix)
    }

    /// A new connection: `false` if the address is blocked or over its connection rate.
    pub(crate) fn admit(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let window = self.window();
        let ip = self.key(ip);
        let mut s = self.state();
        if s.auth_ip.is_blocked(&ip, now) || s.harvest_ip.is_blocked(&ip, now) || s.pregreet_ip.is_blocked(&ip, now) {
            return false;
        }
        s.connections.hit(&ip, now, window) <= self.config.connections_per_window
    }

    /// Before checking a password: `false` if the address or the account is blocked.
    pub(crate) fn may_try_auth(&self, ip: IpAddr, account: &str) -> bool {
        let now = Instant::now();
        let ip = self.key(ip);
        let mut s = self.state();
        !s.auth_ip.is_blocked(&ip, now) && !s.auth_account.is_blocked(&account.to_string(), now)
    }

    /// Counts an attempt as a failure *before* the password is checked, so that attempts
    /// made in parallel are counted as they start, not as each hash ends. `false` when the
    /// count is already past a block threshold: the address (or account) is blocked now and
    /// the password is not checked at all. A success takes the count back
    /// ([`Defences::auth_succeeded`]); a failure is judged by [`Defences::auth_failed`].
    pub(crate) fn auth_attempt(&self, ip: IpAddr, account: &str) -> bool {
        let now = Instant::now();
        let (window, until, ip) = (self.window(), self.until(now), self.key(ip));
        let mut s = self.state();
        let account = account.to_string();
        if s.auth_ip.is_blocked(&ip, now) || s.auth_account.is_blocked(&account, now) {
            return false;
        }
        let mut ok = true;
        if s.auth_account.hit(&account, now, window) > self.config.account_failures_before_lock {
            tracing::warn!(account = %account, "account locked after repeated authentication failures");
            s.auth_account.block(&account, until);
            ok = false;
        }
        let n = s.auth_ip.hit(&ip, now, window);
        if n > self.config.auth_failures_before_block {
            tracing::warn!(client = %ip, attempts = n, "address blocked after repeated authentication failures");
            s.auth_ip.block(&ip, until);
            ok = false;
        }
        ok
    }

    /// The attempt counted by [`Defences::auth_attempt`] succeeded: it is not a failure.
    pub(crate) fn auth_succeeded(&self, ip: IpAddr, account: &str) {
        let ip = self.key(ip);
        let mut s = self.state();
        s.auth_account.unhit(&account.to_string());
        s.auth_ip.unhit(&ip);
    }

    /// After a failed check whose attempt was counted by [`Defences::auth_attempt`]: the
    /// delay to serve, or a block at the threshold.
    pub(crate) fn auth_failed(&self, ip: IpAddr, account: &str) -> AfterFailure {
        let now = Instant::now();
        let (until, ip) = (self.until(now), self.key(ip));
        let mut s = self.state();
        let account = account.to_string();
        if s.auth_account.count(&account) >= self.config.account_failures_before_lock {
            tracing::warn!(account = %account, "account locked after repeated authentication failures");
            s.auth_account.block(&account, until);
        }
        let n = s.auth_ip.count(&ip);
        if n >= self.config.auth_failures_before_block {
            tracing::warn!(client = %ip, failures = n, "address blocked after repeated authentication failures");
            s.auth_ip.block(&ip, until);
            return AfterFailure::Blocked;
        }
        let over = n.saturating_sub(self.config.auth_failures_before_delay);
        AfterFailure::Delay(if over == 0 { Duration::ZERO } else { Duration::from_secs(1 << (over - 1).min(3)) })
    }

    /// Records a RCPT to an unknown local user; `true` if the session must end (its own
    /// count, `session_count`, or the address's, is over the limit).
    /// An SMTP client talked before the greeting; whether its address is now blocked.
    pub(crate) fn early_talker(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let (window, until) = (self.window(), self.until(now));
        let ip = self.key(ip);
        let mut s = self.state();
        if s.pregreet_ip.hit(&ip, now, window) >= self.config.pregreet_before_block.max(1) {
            tracing::warn!(client = %ip, "address blocked: talked before the greeting");
            s.pregreet_ip.block(&ip, until);
            return true;
        }
        false
    }

    pub(crate) fn unknown_recipient(&self, ip: IpAddr, session_count: u32) -> bool {
        let now = Instant::now();
        let window = self.window();
        let until = self.until(now);
        let ip = self.key(ip);
        let mut s = self.state();
        if s.harvest_ip.hit(&ip, now, window) >= self.config.unknown_recipients_before_block {
            tracing::warn!(client = %ip, "address blocked: directory harvest");
            s.harvest_ip.block(&ip, until);
            return true;
        }
        session_count >= self.config.unknown_recipients_per_session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> AbuseConfig {
        AbuseConfig {
            window_secs: 60,
            auth_failures_before_delay: 2,
            auth_failures_before_block: 5,
            account_failures_before_lock: 3,
            unknown_recipients_per_session: 3,
            unknown_recipients_before_block: 4,
            connections_per_window: 3,
            block_secs: 60,
            ..AbuseConfig::default()
        }
    }

    /// One attempt that fails: counted, then judged.
    fn fail(d: &Defences, ip: IpAddr, account: &str) -> AfterFailure {
        if !d.auth_attempt(ip, account) {
            return AfterFailure::Blocked;
        }
        d.auth_failed(ip, account)
    }

    #[test]
    fn auth_failures_delay_then_block() {
        let d = Defences::new(quick());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(fail(&d, ip, "a"), AfterFailure::Delay(Duration::ZERO));
        assert_eq!(fail(&d, ip, "b"), AfterFailure::Delay(Duration::ZERO));
        assert_eq!(fail(&d, ip, "c"), AfterFailure::Delay(Duration::from_secs(1)));
        assert_eq!(fail(&d, ip, "d"), AfterFailure::Delay(Duration::from_secs(2)));
        assert!(d.may_try_auth(ip, "e"));
        assert_eq!(fail(&d, ip, "e"), AfterFailure::Blocked);
        assert!(!d.may_try_auth(ip, "z") && !d.admit(ip));
        // Another address is unaffected.
        assert!(d.admit("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn accounts_lock_from_anywhere() {
        let d = Defences::new(quick());
        for i in 1..=3u8 {
            fail(&d, IpAddr::from([192, 0, 2, i]), "alice");
        }
        assert!(!d.may_try_auth("198.51.100.9".parse().unwrap(), "alice"));
        assert!(d.may_try_auth("198.51.100.9".parse().unwrap(), "bob"));
    }

    #[test]
    fn blocks_expire() {
        let d = Defences::new(AbuseConfig { block_secs: 0, ..quick() });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            fail(&d, ip, "a");
        }
        assert!(d.admit(ip), "a zero-second block is over at once");
    }

    #[test]
    fn connection_rate_and_harvest() {
        let d = Defences::new(quick());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(d.admit(ip) && d.admit(ip) && d.admit(ip));
        assert!(!d.admit(ip), "fourth connection in the window");
        let ip2: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(!d.unknown_recipient(ip2, 1));
        assert!(d.unknown_recipient(ip2, 3), "session limit");
        assert!(!d.unknown_recipient(ip2, 1));
        assert!(d.unknown_recipient(ip2, 1), "address limit: blocked");
        assert!(!d.admit(ip2));
    }

    #[test]
    fn logins_are_recent_within_their_window() {
        let l = Logins::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(!l.recent(ip, Duration::from_secs(300)));
        l.record(ip);
        assert!(l.recent(ip, Duration::from_secs(300)));
        assert!(l.recent("::ffff:192.0.2.1".parse().unwrap(), Duration::from_secs(300)));
        assert!(!l.recent(ip, Duration::ZERO), "the window has passed");
    }

    /// Attempts started together are counted as they start: past the threshold they are
    /// refused before any password is checked; a success takes its attempt back.
    #[test]
    fn parallel_attempts_are_counted_before_the_check() {
        let d = Defences::new(quick());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let started: Vec<bool> = (0..8).map(|i| d.auth_attempt(ip, &format!("u{i}"))).collect();
        assert_eq!(started, [true, true, true, true, true, false, false, false], "the limit is 5");
        assert!(!d.may_try_auth(ip, "anyone"));
        let ip2: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..20 {
            assert!(d.auth_attempt(ip2, "bob"));
            d.auth_succeeded(ip2, "bob");
        }
        assert!(d.may_try_auth(ip2, "bob"), "successes are not failures");
    }

    /// A full table drops its oldest entries, not everything: a lock made before a flood
    /// of fresh addresses holds.
    #[test]
    fn tables_stay_bounded_and_keep_their_newest() {
        let mut t: Table<u32> = Table::new();
        let start = Instant::now();
        let window = Duration::from_secs(3600);
        t.hit(&u32::MAX, start + Duration::from_secs(1), window);
        t.block(&7, start + window);
        for k in 0..(MAX_ENTRIES as u32 + 10) {
            t.hit(&k, start, window);
        }
        assert!(t.windows.len() <= MAX_ENTRIES);
        assert!(t.windows.len() >= MAX_ENTRIES * 8 / 10, "only a part was evicted");
        assert!(t.windows.contains_key(&u32::MAX), "the newest window stays");
        assert!(t.is_blocked(&7, start), "blocks are not dropped by a flood of windows");
        for k in 0..(MAX_ENTRIES as u32 + 10) {
            t.block(&(k + 100), start + window + Duration::from_secs(u64::from(k)));
        }
        assert!(t.blocked.len() <= MAX_ENTRIES);
        assert!(t.is_blocked(&(MAX_ENTRIES as u32 + 109), start), "the latest block stays");
    }

    #[test]
    fn ipv6_clients_count_per_network() {
        let d = Defences::new(AbuseConfig { ipv6_prefix: 64, ..quick() });
        for i in 1..=3u16 {
            assert!(d.admit(IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i])));
        }
        assert!(!d.admit("2001:db8:0:1::ffff".parse().unwrap()), "same /64, fourth connection");
        assert!(d.admit("2001:db8:0:2::1".parse().unwrap()), "another /64");
        assert!(d.admit("192.0.2.9".parse().unwrap()));
        assert_eq!(client_key("::ffff:192.0.2.9".parse().unwrap(), 64), "192.0.2.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_key("2001:db8::1".parse().unwrap(), 128), "2001:db8::1".parse::<IpAddr>().unwrap());
    }
}
