//! The news service's parts that are not the protocol: the newsgroups' configuration
//! (`[[newsgroup]]`), who may read and post where, and the spool ([`store`]).

pub(crate) mod feed;
pub(crate) mod store;

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use self::store::NewsStore;

/// Who may read or post in a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Who {
    /// Anyone who connects.
    Anyone,
    /// Logged-in users.
    #[default]
    Authenticated,
    /// Clients from the group's `networks`, and logged-in users.
    Networks,
    /// Nobody (a read-only group, fed only).
    Nobody,
}

fn default_read() -> Who {
    Who::Anyone
}

fn default_status() -> String {
    "y".to_owned()
}

/// `[[newsgroup]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewsgroupConfig {
    /// `local.general`: a newsgroup name (RFC 3977 §4.1), at most 200 octets.
    pub(crate) name: String,
    /// LIST NEWSGROUPS' one line.
    #[serde(default)]
    pub(crate) description: String,
    /// `y` (posting allowed), `n` (no posting here), `m` (moderated).
    #[serde(default = "default_status")]
    pub(crate) status: String,
    /// Who may read: default anyone.
    #[serde(default = "default_read")]
    pub(crate) read: Who,
    /// Who may post: default logged-in users.
    #[serde(default)]
    pub(crate) post: Who,
    /// The networks `networks` names.
    #[serde(default)]
    pub(crate) networks: Vec<IpNet>,
    /// Largest article taken, octets; default the listener's `max_message_size`.
    #[serde(default)]
    pub(crate) max_article_size: Option<u64>,
    /// Articles older than this many days are removed (hourly); none: kept.
    #[serde(default)]
    pub(crate) retention_days: Option<u32>,
}

impl NewsgroupConfig {
    fn allows(&self, who: Who, ip: IpAddr, logged_in: bool) -> bool {
        match who {
            Who::Anyone => true,
            Who::Authenticated => logged_in,
            Who::Networks => logged_in || self.networks.iter().any(|n| n.contains(&ip)),
            Who::Nobody => false,
        }
    }

    /// Whether a client may read the group.
    pub(crate) fn readable(&self, ip: IpAddr, logged_in: bool) -> bool {
        self.allows(self.read, ip, logged_in)
    }

    /// Whether a client may post to the group (moderated ones aside).
    pub(crate) fn postable(&self, ip: IpAddr, logged_in: bool) -> bool {
        self.status == "y" && self.allows(self.post, ip, logged_in)
    }
}

/// `[[newspeer]]`: a server that may feed articles here (IHAVE, MODE STREAM with CHECK and
/// TAKETHIS): by its address, or by logging in as one of its accounts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewsPeerConfig {
    /// A name for logs.
    pub(crate) name: String,
    /// The peer's addresses (CIDR).
    #[serde(default)]
    pub(crate) networks: Vec<IpNet>,
    /// Accounts that, logged in, are this peer.
    #[serde(default)]
    pub(crate) users: Vec<String>,
    /// Where to feed it the articles stored here (`"host:port"`); none: it only feeds us.
    #[serde(default)]
    pub(crate) feed: Option<String>,
    /// The groups fed to it, a wildmat (`"*,!local.*"`); default all.
    #[serde(default = "all_groups")]
    pub(crate) groups: String,
    /// Feed with MODE STREAM's CHECK and TAKETHIS (default), else IHAVE.
    #[serde(default = "yes")]
    pub(crate) streaming: bool,
    /// Its name as it writes it in Path (what passed there is not fed back); default `name`.
    #[serde(default)]
    pub(crate) path_name: Option<String>,
}

fn all_groups() -> String {
    "*".to_owned()
}

fn yes() -> bool {
    true
}

/// The news service: its groups and its spool.
pub(crate) struct News {
    pub(crate) groups: Vec<NewsgroupConfig>,
    /// The servers that may feed articles here.
    pub(crate) peers: Vec<NewsPeerConfig>,
    pub(crate) store: NewsStore,
    /// This server's name in `Path` and `Xref`.
    pub(crate) path_host: String,
    /// The outgoing feeds' queues.
    pub(crate) feeds: feed::Feeds,
}

impl News {
    /// Opens the spool under `data_dir/news` for the configured groups.
    pub(crate) fn open(
        data_dir: &Path,
        groups: &[NewsgroupConfig],
        peers: &[NewsPeerConfig],
        host: &str,
    ) -> std::io::Result<Self> {
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let store = NewsStore::open(&data_dir.join("news"), &names, host)?;
        for p in peers {
            if sansmail_nntp_proto::wildmat::Wildmat::parse(&p.groups).is_none() {
                let text = format!("[[newspeer]] {}: groups {:?} is not a wildmat", p.name, p.groups);
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, text));
            }
            if p.name.is_empty() || !p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                let text = format!("[[newspeer]] name {:?}: letters, digits, '-', '_' and '.' only", p.name);
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, text));
            }
        }
        let feeds = feed::Feeds::new(&data_dir.join("news"), peers)?;
        Ok(Self { groups: groups.to_vec(), peers: peers.to_vec(), store, path_host: host.to_owned(), feeds })
    }

    /// The peer a client is, by its address or its login.
    pub(crate) fn peer(&self, ip: IpAddr, user: Option<&str>) -> Option<&NewsPeerConfig> {
        self.peers.iter().find(|p| {
            p.networks.iter().any(|n| n.contains(&ip))
                || user.is_some_and(|u| p.users.iter().any(|x| x.eq_ignore_ascii_case(u)))
        })
    }

    /// Stores an article (see [`NewsStore::store`]) and queues it for the outgoing feeds
    /// that take it, before either is acknowledged. `path` is its Path as stored.
    pub(crate) fn store(
        &self,
        article: &[u8],
        message_id: &str,
        groups: &[&str],
        path: &str,
    ) -> Result<Vec<(String, u64)>, store::StoreError> {
        let places = self.store.store(article, message_id, groups)?;
        let stored: Vec<&str> = places.iter().map(|(g, _)| g.as_str()).collect();
        if let Err(e) = self.feeds.queue(&self.peers, message_id, &stored, path) {
            // Stored, so acknowledged; only its propagation is lost, and the log says so.
            tracing::warn!(id = %message_id, error = %e, "cannot queue the article for the feeds");
        }
        Ok(places)
    }

    /// A configured group.
    pub(crate) fn group(&self, name: &str) -> Option<&NewsgroupConfig> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Removes what each group's retention says is too old; returns how many.
    pub(crate) fn expire(&self, now: std::time::SystemTime) -> usize {
        let mut removed = 0;
        for g in &self.groups {
            let Some(days) = g.retention_days else { continue };
            let before = now.checked_sub(std::time::Duration::from_secs(u64::from(days) * 86_400));
            match before.map(|b| self.store.expire(&g.name, b)) {
                Some(Ok(n)) => removed += n,
                Some(Err(e)) => tracing::warn!(group = %g.name, error = %e, "news expiry failed"),
                None => {}
            }
        }
        removed
    }
}
