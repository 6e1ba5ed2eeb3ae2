//! Mailbox quotas. Usage is counted once per mailbox per server run (the sizes of the files
//! in `new/` and `cur/`), then kept up to date as deliveries add to it and (with POP3 and
//! IMAP) deletions take from it: never a mailbox scan per message.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::delivery::Mailboxes;
use crate::users::normalize;

/// Limits and usage of every mailbox.
#[derive(Debug)]
pub(crate) struct Quotas {
    limits: HashMap<String, u64>,
    default: u64,
    usage: Mutex<HashMap<String, u64>>,
    mailboxes: Arc<Mailboxes>,
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
    pub(crate) fn new(config: &Config, mailboxes: Arc<Mailboxes>) -> Self {
        let limits = config.user.iter().filter_map(|u| Some((normalize(&u.address), u.quota?))).collect();
        Self { limits, default: config.default_quota, usage: Mutex::new(HashMap::new()), mailboxes }
    }

    /// The quota of a mailbox, if it has one.
    pub(crate) fn limit(&self, mailbox: &str) -> Option<u64> {
        Some(self.limits.get(mailbox).copied().unwrap_or(self.default)).filter(|&q| q > 0)
    }

    /// Octets in the mailbox.
    pub(crate) fn usage(&self, mailbox: &str) -> u64 {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&u) = usage.get(mailbox) {
            return u;
        }
        let u = scan(&self.mailboxes.maildir(mailbox));
        usage.insert(mailbox.to_string(), u);
        u
    }

    /// Whether the mailbox is already at or over its quota (RCPT: 452 4.2.2).
    pub(crate) fn is_full(&self, mailbox: &str) -> bool {
        self.limit(mailbox).is_some_and(|q| self.usage(mailbox) >= q)
    }

    /// Whether `size` more octets would take the mailbox over its quota (end of data: 552 5.2.2).
    pub(crate) fn would_overflow(&self, mailbox: &str, size: u64) -> bool {
        self.limit(mailbox).is_some_and(|q| self.usage(mailbox).saturating_add(size) > q)
    }

    /// Counts a delivered copy.
    pub(crate) fn add(&self, mailbox: &str, size: u64) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = usage.get_mut(mailbox) {
            *u += size;
        }
        // Not yet counted: the first `usage` call scans, and will see this copy.
    }

    /// Takes a removed message's size off a mailbox's usage.
    pub(crate) fn remove(&self, mailbox: &str, size: u64) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = usage.get_mut(mailbox) {
            *u = u.saturating_sub(size);
        }
    }
}
