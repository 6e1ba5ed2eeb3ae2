//! Who is local: the domains, the mailboxes (accounts from `users.toml` and `[[user]]`
//! entries), aliases, catch-alls and the postmaster. Answers "where does mail to this
//! address go?" for the SMTP policy.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Mutex;

use crate::config::Config;
use crate::users::{Users, normalize};

/// The local domains and their mailboxes.
#[derive(Debug)]
pub(crate) struct Directory {
    /// Lower-cased domain → its catch-all mailbox.
    domains: HashMap<String, Option<String>>,
    users: Mutex<Users>,
    configured: HashSet<String>,
    aliases: HashMap<String, String>,
    postmaster: String,
}

impl Directory {
    pub(crate) fn new(config: &Config) -> io::Result<Self> {
        let domains =
            config.domain.iter().map(|d| (normalize(&d.name), d.catch_all.as_deref().map(normalize))).collect();
        let configured = config.user.iter().map(|u| normalize(&u.address)).collect();
        let aliases = config
            .user
            .iter()
            .flat_map(|u| u.aliases.iter().map(move |a| (normalize(a), normalize(&u.address))))
            .collect();
        Ok(Self {
            domains,
            users: Mutex::new(Users::load(&config.data_dir)?),
            configured,
            aliases,
            postmaster: normalize(&config.postmaster()),
        })
    }

    pub(crate) fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.contains_key(&normalize(domain))
    }

    /// The mailbox that receives mail to `local@domain` (a local domain), if any.
    pub(crate) fn mailbox(&self, local: &str, domain: &str) -> Option<String> {
        // RFC 5321 §4.5.1: postmaster, in any case, exists in every domain.
        if local.eq_ignore_ascii_case("postmaster") {
            return Some(self.postmaster.clone());
        }
        let address = normalize(&format!("{local}@{domain}"));
        let known = self.configured.contains(&address) || {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            users.refresh();
            users.contains(&address)
        };
        if known {
            return Some(address);
        }
        if let Some(target) = self.aliases.get(&address) {
            return Some(target.clone());
        }
        self.domains.get(&normalize(domain)).cloned().flatten()
    }

    /// The postmaster mailbox.
    pub(crate) fn postmaster(&self) -> &str {
        &self.postmaster
    }
}

/// `Sun, 22 Nov 2026 04:00:00 +0000` for a Unix time ([RFC 5322 §3.3](https://www.rfc-editor.org/rfc/rfc5322#section-3.3)).
pub(crate) fn rfc5322_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1).clamp(0, 11) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_320_000), "Sun, 22 Nov 2026 04:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
