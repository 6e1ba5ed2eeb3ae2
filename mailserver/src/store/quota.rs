//! Mailbox quotas. Usage is counted once per mailbox per server run (the sizes of the files
//! in `new/` and `cur/`), then kept up to date as deliveries add to it and (with POP3 and
//! IMAP) deletions take from it: never a mailbox scan per message.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::identity::directory::UserConfig;
use crate::identity::users::normalize;
use crate::store::delivery::Mailboxes;

/// Limits and usage of every mailbox.
#[derive(Debug)]
pub(crate) struct Quotas {
    limits: HashMap<String, u64>,
    default: u64,
    usage: Mutex<Usage>,
    mailboxes: Arc<Mailboxes>,
}

/// Octets stored per mailbox, and octets promised to messages accepted but not yet
/// delivered (by key: a queue id, or one IMAP command), so that sessions ending at once
/// cannot all take the last space.
#[derive(Debug, Default)]
struct Usage {
    stored: HashMap<String, u64>,
    reserved: HashMap<String, u64>,
    by_key: HashMap<String, Vec<(String, u64)>>,
}

/// The octets in a Maildir: `new/` and `cur/` of the inbox and of every `.folder`.
fn scan(maildir: &Path) -> u64 {
    let folders = fs::read_dir(maildir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    std::iter::once(maildir.to_path_buf())
        .chain(folders)
        .flat_map(|dir| ["new", "cur"].map(|sub| dir.join(sub)))
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

impl Quotas {
    /// The quotas of these users (`default` for the rest; 0 is none).
    pub(crate) fn new(users: &[UserConfig], default: u64, mailboxes: Arc<Mailboxes>) -> Self {
        let limits = users.iter().filter_map(|u| Some((normalize(&u.address), u.quota?))).collect();
        Self { limits, default, usage: Mutex::default(), mailboxes }
    }

    /// The quota of a mailbox, if it has one.
    pub(crate) fn limit(&self, mailbox: &str) -> Option<u64> {
        Some(self.limits.get(mailbox).copied().unwrap_or(self.default)).filter(|&q| q > 0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Octets in the mailbox and promised to it, counted from the files at first use.
    fn used(&self, usage: &mut Usage, mailbox: &str) -> u64 {
        let stored = match usage.stored.get(mailbox) {
            Some(&u) => u,
            None => {
                let u = scan(&self.mailboxes.maildir(mailbox));
                usage.stored.insert(mailbox.to_string(), u);
                u
            }
        };
        stored.saturating_add(usage.reserved.get(mailbox).copied().unwrap_or(0))
    }

    /// Octets in the mailbox, and promised to it.
    pub(crate) fn usage(&self, mailbox: &str) -> u64 {
        let mut usage = self.lock();
        self.used(&mut usage, mailbox)
    }

    /// Whether the mailbox is already at or over its quota (RCPT: 452 4.2.2).
    pub(crate) fn is_full(&self, mailbox: &str) -> bool {
        self.limit(mailbox).is_some_and(|q| self.usage(mailbox) >= q)
    }

    /// Whether `size` more octets would take the mailbox over its quota (an early answer:
    /// APPEND before its literal; [`Quotas::reserve`] decides).
    pub(crate) fn would_overflow(&self, mailbox: &str, size: u64) -> bool {
        self.limit(mailbox).is_some_and(|q| self.usage(mailbox).saturating_add(size) > q)
    }

    /// Promises `size` octets of the mailbox to `key` if they fit (a mailbox without a quota
    /// always fits, and is not tracked). The check and the promise are one step, so of
    /// sessions ending at once only as many get the space as it holds. Kept until
    /// [`Quotas::release`] of the key.
    pub(crate) fn reserve(&self, key: &str, mailbox: &str, size: u64) -> bool {
        let Some(limit) = self.limit(mailbox) else { return true };
        let mut usage = self.lock();
        if self.used(&mut usage, mailbox).saturating_add(size) > limit {
            return false;
        }
        *usage.reserved.entry(mailbox.to_owned()).or_insert(0) += size;
        usage.by_key.entry(key.to_owned()).or_default().push((mailbox.to_owned(), size));
        true
    }

    /// Gives back what `key` was promised (its copies are delivered, or it failed).
    pub(crate) fn release(&self, key: &str) {
        let mut usage = self.lock();
        for (mailbox, size) in usage.by_key.remove(key).unwrap_or_default() {
            if let Some(r) = usage.reserved.get_mut(&mailbox) {
                *r = r.saturating_sub(size);
                if *r == 0 {
                    usage.reserved.remove(&mailbox);
                }
            }
        }
    }

    /// Counts a delivered copy.
    pub(crate) fn add(&self, mailbox: &str, size: u64) {
        if let Some(u) = self.lock().stored.get_mut(mailbox) {
            *u += size;
        }
        // Not yet counted: the first `usage` call scans, and will see this copy.
    }

    /// Takes a removed message's size off a mailbox's usage.
    pub(crate) fn remove(&self, mailbox: &str, size: u64) {
        if let Some(u) = self.lock().stored.get_mut(mailbox) {
            *u = u.saturating_sub(size);
        }
    }
}

/// A key for a reservation no queue id names (one IMAP command).
pub(crate) fn command_key() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!("cmd-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}
