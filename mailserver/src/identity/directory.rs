//! Who is local: the domains, the mailboxes (accounts from `users.toml` and `[[user]]`
//! entries), aliases, catch-alls and the postmaster. Answers "where does mail to this
//! address go?" for the SMTP policy.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use serde::Deserialize;

use crate::identity::users::{Users, normalize};

/// Where mail to one address goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A local mailbox (`local@domain`, lower-cased).
    Mailbox(String),
    /// A remote address (forwarding), for the outbound queue.
    Remote(String),
    /// A newsgroup's posting address: the mail becomes an article in the group.
    Newsgroup(String),
    /// A gateway domain's address kept in the gateway's local mailbox (the copy says which
    /// address it was for).
    GatewayCopy(String),
}

/// The local domains and their mailboxes.
#[derive(Debug)]
pub(crate) struct Directory {
    /// Lower-cased domain → its catch-all mailbox.
    domains: HashMap<String, Option<String>>,
    users: Mutex<Users>,
    configured: HashSet<String>,
    aliases: HashMap<String, String>,
    /// `[[user]]` settings by mailbox.
    settings: HashMap<String, UserConfig>,
    postmaster: String,
    /// Newsgroups' posting addresses (lower case) → group, from the news service.
    news: RwLock<HashMap<String, String>>,
}

impl Directory {
    /// The directory of these domains and users, with the passwords of `data_dir`.
    pub(crate) fn new(
        domain: &[DomainConfig],
        user: &[UserConfig],
        data_dir: &Path,
        postmaster: &str,
    ) -> io::Result<Self> {
        let domains = domain.iter().map(|d| (normalize(&d.name), d.catch_all.as_deref().map(normalize))).collect();
        let configured = user.iter().map(|u| normalize(&u.address)).collect();
        let aliases =
            user.iter().flat_map(|u| u.aliases.iter().map(move |a| (normalize(a), normalize(&u.address)))).collect();
        let settings = user.iter().map(|u| (normalize(&u.address), u.clone())).collect();
        let dir = Self {
            domains,
            users: Mutex::new(Users::load_for_serving(data_dir)?),
            configured,
            aliases,
            settings,
            postmaster: normalize(postmaster),
            news: RwLock::new(HashMap::new()),
        };
        for u in user {
            for f in &u.forward {
                if let Some((l, d)) = f.rsplit_once('@')
                    && dir.is_local_domain(d)
                    && dir.mailbox(l, d).is_none()
                {
                    tracing::warn!(user = %u.address, forward = %f, "forwarding to a local address that does not exist: ignored");
                }
            }
        }
        Ok(dir)
    }

    /// Where mail to `local@domain` (a local domain) goes: the mailbox, or what its
    /// forwarding says (one level: a forward to a local address lands in that mailbox, never
    /// forwarded again, so forwarding cannot loop). `None`: no such user.
    pub(crate) fn targets(&self, local: &str, domain: &str) -> Option<Vec<Target>> {
        if let Some(group) = self.newsgroup(local, domain) {
            return Some(vec![Target::Newsgroup(group)]);
        }
        let mailbox = self.mailbox(local, domain)?;
        let Some(user) = self.settings.get(&mailbox).filter(|u| !u.forward.is_empty()) else {
            return Some(vec![Target::Mailbox(mailbox)]);
        };
        let mut targets = Vec::new();
        if user.keep_copy {
            targets.push(Target::Mailbox(mailbox.clone()));
        }
        for f in &user.forward {
            let f = normalize(f);
            match f.rsplit_once('@') {
                Some((l, d)) if self.is_local_domain(d) => {
                    if let Some(m) = self.mailbox(l, d) {
                        targets.push(Target::Mailbox(m));
                    }
                }
                _ => targets.push(Target::Remote(f)),
            }
        }
        Some(targets)
    }

    /// The newsgroup whose posting address `local@domain` is.
    pub(crate) fn newsgroup(&self, local: &str, domain: &str) -> Option<String> {
        let news = self.news.read().unwrap_or_else(|e| e.into_inner());
        if news.is_empty() {
            return None;
        }
        news.get(&format!("{local}@{domain}").to_ascii_lowercase()).cloned()
    }

    /// Sets the newsgroups' posting addresses (lower case → group).
    pub(crate) fn set_news_addresses(&self, map: HashMap<String, String>) {
        *self.news.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// A user's stored password hash (the account file re-read if it changed).
    pub(crate) fn password_hash(&self, address: &str) -> Option<String> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.refresh();
        users.hash(address)
    }

    /// Checks an APOP digest (see [`crate::identity::users::Users::apop_ok`]).
    pub(crate) fn apop_ok(&self, address: &str, timestamp: &str, digest: &str) -> bool {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.refresh();
        users.apop_ok(address, timestamp, digest)
    }

    /// A user's CRAM-MD5 verifier.
    pub(crate) fn cram_md5(&self, address: &str) -> Option<String> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.refresh();
        users.cram_md5(address)
    }

    /// A user's SCRAM-SHA-256 verifier.
    pub(crate) fn scram(&self, address: &str) -> Option<crate::identity::users::ScramSecrets> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.refresh();
        users.scram(address)
    }

    /// Whether `address` belongs to `user`: the user's own address or one of its aliases.
    pub(crate) fn owns(&self, user: &str, address: &str) -> bool {
        let (user, address) = (normalize(user), normalize(address));
        user == address || self.aliases.get(&address) == Some(&user)
    }

    /// The `[[user]]` settings of a mailbox.
    pub(crate) fn settings(&self, mailbox: &str) -> Option<&UserConfig> {
        self.settings.get(mailbox)
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
    mail_builder::headers::date::Date::new(i64::try_from(unix).unwrap_or(i64::MAX)).to_rfc822()
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

/// `[[domain]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DomainConfig {
    pub(crate) name: String,
    /// Mailbox that receives mail for unknown local parts of this domain.
    #[serde(default)]
    pub(crate) catch_all: Option<String>,
}

/// `[[user]]`: what a mailbox does with mail besides storing it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) address: String,
    /// Other addresses delivered to this mailbox.
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    /// Addresses (local or remote) mail is forwarded to.
    #[serde(default)]
    pub(crate) forward: Vec<String>,
    /// With `forward`, also keep a copy here.
    #[serde(default)]
    pub(crate) keep_copy: bool,
    /// Quota in octets; overrides `default_quota`; `0` is none.
    #[serde(default)]
    pub(crate) quota: Option<u64>,
    /// This user may relay once authenticated (where the listener lets authenticated users
    /// relay). Default true.
    #[serde(default = "yes")]
    pub(crate) may_relay: bool,
    /// Vacation reply.
    #[serde(default)]
    pub(crate) autoreply: Option<Autoreply>,
}

/// `autoreply = { … }` of a `[[user]]` (RFC 3834 rules apply).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Autoreply {
    /// Subject of the reply; default `Auto: <original subject>`.
    #[serde(default)]
    pub(crate) subject: Option<String>,
    /// Text of the reply.
    pub(crate) body: String,
    /// A sender gets at most one reply in this many days (RFC 3834 §2 suggests 7).
    #[serde(default = "default_autoreply_days")]
    pub(crate) days: u64,
}

fn default_autoreply_days() -> u64 {
    7
}

fn yes() -> bool {
    true
}
