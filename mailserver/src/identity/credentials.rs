//! Verified credentials, remembered for a while (as Dovecot's `auth_cache`): clients open
//! many connections and log in on each, and each should not cost an argon2id run.
//!
//! An entry is a keyed hash (HMAC-SHA256 under a key drawn at start, never written
//! anywhere) of the account, its stored password hash and the password: never the password.
//! Because the stored hash is part of it, `sansmail user passwd` (a new hash) and `user del`
//! (no hash) leave no entry that matches. Only successes are remembered: a wrong password
//! always costs a full check. Entries expire after `credential_cache_secs`; the table holds
//! at most `credential_cache_entries`, the soonest to expire going first.
//!
//! The same credentials checked at once (a client opening ten connections) wait for the one
//! check under way rather than each running one, and so are counted once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

/// The keyed hash of one set of credentials.
pub(crate) type Tag = [u8; 32];

/// Remembered verifications, and the checks under way.
pub(crate) struct CredentialCache {
    key: [u8; 32],
    ttl: Duration,
    max: usize,
    verified: Mutex<HashMap<Tag, Instant>>,
    /// Checks under way: their end is announced by the sender's drop.
    checking: Mutex<HashMap<Tag, watch::Receiver<()>>>,
}

/// A check under way; dropped when it ends (successful or not), which wakes those that
/// wait for it.
pub(crate) struct Checking<'a> {
    cache: &'a CredentialCache,
    tag: Tag,
    _done: watch::Sender<()>,
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.cache.lock_checking().remove(&self.tag);
    }
}

impl CredentialCache {
    /// A cache keeping successes for `ttl` (zero: none), at most `max` of them.
    pub(crate) fn new(ttl: Duration, max: usize) -> Self {
        let mut key = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
        Self { key, ttl, max, verified: Mutex::default(), checking: Mutex::default() }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max > 0
    }

    fn lock_checking(&self) -> std::sync::MutexGuard<'_, HashMap<Tag, watch::Receiver<()>>> {
        self.checking.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keyed hash of an account (normalised), its stored hash and a password.
    pub(crate) fn tag(&self, account: &str, stored: &str, password: &str) -> Tag {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| crate::identity::users::unreachable_hmac());
        for part in [account, stored, password] {
            // Each part length-prefixed: no two splits of the same octets hash alike.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether these credentials were verified within the time-to-live.
    pub(crate) fn verified(&self, tag: &Tag, now: Instant) -> bool {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        match verified.get(tag) {
            Some(&expires) if expires > now => true,
            Some(_) => {
                verified.remove(tag);
                false
            }
            None => false,
        }
    }

    /// Remembers a successful verification.
    pub(crate) fn remember(&self, tag: Tag, now: Instant) {
        if !self.enabled() {
            return;
        }
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= self.max && !verified.contains_key(&tag) {
            verified.retain(|_, &mut expires| expires > now);
            if verified.len() >= self.max {
                let soonest = verified.iter().min_by_key(|(_, e)| **e).map(|(t, _)| *t);
                if let Some(t) = soonest {
                    verified.remove(&t);
                }
            }
        }
        verified.insert(tag, now + self.ttl);
    }

    /// Waits (at most `wait`) while the same credentials are being checked elsewhere, then
    /// marks this check as under way: `None` when they were verified meanwhile (or the
    /// cache is off, when nothing is shared).
    pub(crate) async fn begin(&self, tag: Tag, wait: Duration) -> Option<Checking<'_>> {
        if !self.enabled() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let under_way = {
                let mut checking = self.lock_checking();
                match checking.get(&tag) {
                    Some(rx) => rx.clone(),
                    None => {
                        let (done, rx) = watch::channel(());
                        checking.insert(tag, rx);
                        return Some(Checking { cache: self, tag, _done: done });
                    }
                }
            };
            let mut under_way = under_way;
            // The sender goes when that check ends: `changed` then fails.
            let ended = tokio::time::timeout_at(deadline, under_way.changed()).await;
            if ended.is_err() || self.verified(&tag, Instant::now()) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_are_kept_for_their_time_and_bounded() {
        let cache = CredentialCache::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        let t = |p: &str| cache.tag("alice@example.org", "$argon2id$h1", p);
        assert!(!cache.verified(&t("right"), now));
        cache.remember(t("right"), now);
        assert!(cache.verified(&t("right"), now));
        assert!(!cache.verified(&t("wrong"), now), "another password");
        assert!(!cache.verified(&cache.tag("alice@example.org", "$argon2id$h2", "right"), now), "a new hash");
        assert!(!cache.verified(&cache.tag("bob@example.org", "$argon2id$h1", "right"), now), "another account");
        // Parts do not run into each other.
        assert_ne!(cache.tag("a", "bc", "d"), cache.tag("ab", "c", "d"));
        assert!(!cache.verified(&t("right"), now + Duration::from_secs(61)), "expired");
        // At most two: the soonest to expire goes.
        cache.remember(t("a"), now);
        cache.remember(t("b"), now + Duration::from_secs(1));
        cache.remember(t("c"), now + Duration::from_secs(2));
        let kept = ["a", "b", "c"].map(|p| cache.verified(&t(p), now + Duration::from_secs(3)));
        assert_eq!(kept, [false, true, true]);
        // A time-to-live of zero keeps nothing.
        let off = CredentialCache::new(Duration::ZERO, 100);
        let tag = off.tag("a", "b", "c");
        off.remember(tag, now);
        assert!(!off.verified(&tag, now));
    }

    /// Ten checks of the same credentials at once: one runs, the others wait for it and find
    /// it remembered.
    #[tokio::test]
    async fn the_same_credentials_are_checked_once() {
        let cache = std::sync::Arc::new(CredentialCache::new(Duration::from_secs(60), 100));
        let tag = cache.tag("alice@example.org", "$argon2id$h", "right");
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                tokio::spawn(async move {
                    if let Some(_checking) = cache.begin(tag, Duration::from_secs(5)).await {
                        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        cache.remember(tag, Instant::now());
                    }
                    cache.verified(&tag, Instant::now())
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
