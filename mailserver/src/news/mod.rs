//! The news service's parts that are not the protocol: the newsgroups' configuration
//! (`[[newsgroup]]` in the config file, and `news/groups.toml` that `sansmail news group`
//! and newgroup control messages manage), who may read and post where, the spool
//! ([`store`]), what an article must be to get in ([`intake`]: POST, transit, mail,
//! moderation, control messages), the mail side ([`gateway`]) and the feeds ([`feed`],
//! [`pull`]).

pub(crate) mod feed;
pub(crate) mod gateway;
pub(crate) mod groups;
pub(crate) mod intake;
pub(crate) mod pull;
pub(crate) mod store;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use self::store::NewsStore;
use crate::identity::directory::Directory;
use crate::store::delivery::Deliverer;

/// Who may read or post in a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
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

fn is_default_read(w: &Who) -> bool {
    *w == Who::Anyone
}

fn is_default_post(w: &Who) -> bool {
    *w == Who::Authenticated
}

fn is_y(s: &str) -> bool {
    s == "y"
}

/// `[[newsgroup]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewsgroupConfig {
    /// `local.general`: a newsgroup name (RFC 3977 §4.1), at most 200 octets.
    pub(crate) name: String,
    /// LIST NEWSGROUPS' one line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    /// `y` (posting allowed), `n` (no posting here), `m` (moderated).
    #[serde(default = "default_status", skip_serializing_if = "is_y")]
    pub(crate) status: String,
    /// Who may read: default anyone.
    #[serde(default = "default_read", skip_serializing_if = "is_default_read")]
    pub(crate) read: Who,
    /// Who may post (by NNTP, or by mail to `posting_address`): default logged-in users.
    #[serde(default, skip_serializing_if = "is_default_post")]
    pub(crate) post: Who,
    /// The networks `networks` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) networks: Vec<IpNet>,
    /// Largest article taken, octets; default the listener's `max_message_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_article_size: Option<u64>,
    /// Articles older than this many days are removed (hourly); none: kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retention_days: Option<u32>,
    /// A moderated group's moderator: posts without approval are mailed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) moderator: Option<String>,
    /// Accounts whose posts with `Approved:` go straight in (besides the moderator's own
    /// account and `[news] admins`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) approvers: Vec<String>,
    /// A local address whose mail becomes an article in this group (the `post` rule applies
    /// to the SMTP client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) posting_address: Option<String>,
    /// Addresses each new article of the group is mailed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) subscribers: Vec<String>,
}

impl NewsgroupConfig {
    /// A group with the defaults.
    pub(crate) fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: String::new(),
            status: default_status(),
            read: default_read(),
            post: Who::default(),
            networks: Vec::new(),
            max_article_size: None,
            retention_days: None,
            moderator: None,
            approvers: Vec::new(),
            posting_address: None,
            subscribers: Vec::new(),
        }
    }

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

    /// Whether a client may post to the group (to a moderated one: submit, for its
    /// moderator).
    pub(crate) fn postable(&self, ip: IpAddr, logged_in: bool) -> bool {
        self.status != "n" && self.allows(self.post, ip, logged_in)
    }

    /// Whether posts need a moderator's approval.
    pub(crate) fn moderated(&self) -> bool {
        self.status == "m"
    }

    /// Checks what a config cannot say by its types.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !store::safe_group(&self.name) {
            return Err(format!("newsgroup {:?}: not a newsgroup name", self.name));
        }
        if !["y", "n", "m"].contains(&self.status.as_str()) {
            return Err(format!("newsgroup {}: status is y, n or m", self.name));
        }
        if self.moderated() && self.moderator.is_none() {
            return Err(format!("newsgroup {}: a moderated group needs a moderator address", self.name));
        }
        for a in self.moderator.iter().chain(&self.posting_address).chain(&self.subscribers) {
            if !a.contains('@') || a.bytes().any(|b| b <= b' ' || b"<>\",;".contains(&b)) {
                return Err(format!("newsgroup {}: {a:?} is not a mail address", self.name));
            }
        }
        Ok(())
    }
}

/// `[news]`: the news service as a whole.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewsSettings {
    /// Accounts that may cancel any article, approve posts to any moderated group and, with
    /// `control_groups`, send newgroup and rmgroup.
    #[serde(default)]
    pub(crate) admins: Vec<String>,
    /// Honour newgroup and rmgroup control messages (from `admins`, and from peers with
    /// `control = true`); default false: they are remembered and ignored.
    #[serde(default)]
    pub(crate) control_groups: bool,
}

/// `[[newspeer]]`: another news server. It may feed articles here (IHAVE, MODE STREAM with
/// CHECK and TAKETHIS), by its address or by logging in as one of its accounts; with
/// `feed`, the articles stored here are fed to it; with `pull`, its articles are fetched
/// from it on a schedule (for a site that only connects out).
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
    /// The groups fed to it (and pulled from it), a wildmat (`"*,!local.*"`); default all.
    #[serde(default = "all_groups")]
    pub(crate) groups: String,
    /// Feed with MODE STREAM's CHECK and TAKETHIS (default), else IHAVE.
    #[serde(default = "yes")]
    pub(crate) streaming: bool,
    /// Its name as it writes it in Path (what passed there is not fed back); default `name`.
    #[serde(default)]
    pub(crate) path_name: Option<String>,
    /// Act on the control messages it feeds: cancels, and with `[news] control_groups`,
    /// newgroup and rmgroup. Default false: they are remembered and ignored.
    #[serde(default)]
    pub(crate) control: bool,
    /// Where to pull articles from (`"host:port"`): the groups carried here that `groups`
    /// takes, each from the number after the last one pulled.
    #[serde(default)]
    pub(crate) pull: Option<String>,
    /// Minutes between pulls (default 60); 0: only `sansmail news pull`.
    #[serde(default = "sixty")]
    pub(crate) pull_every_mins: u64,
    /// AUTHINFO USER/PASS for the pull, when the upstream asks for it.
    #[serde(default)]
    pub(crate) pull_user: Option<String>,
    #[serde(default)]
    pub(crate) pull_password: Option<String>,
    /// The most articles one pull takes per group (the newest; default 1,000): a first pull
    /// of a large group does not fetch its whole history.
    #[serde(default = "thousand")]
    pub(crate) pull_max_articles: u64,
}

fn all_groups() -> String {
    "*".to_owned()
}

fn yes() -> bool {
    true
}

fn sixty() -> u64 {
    60
}

fn thousand() -> u64 {
    1000
}

/// The news service: its groups, its spool, and what it sends out.
pub(crate) struct News {
    /// The groups carried: the config file's, then `news/groups.toml`'s.
    groups: RwLock<Vec<Arc<NewsgroupConfig>>>,
    /// The config file's groups (the CLI cannot remove these).
    configured: Vec<NewsgroupConfig>,
    pub(crate) settings: NewsSettings,
    /// The servers that may feed articles here.
    pub(crate) peers: Vec<NewsPeerConfig>,
    pub(crate) store: NewsStore,
    /// This server's name in `Path` and `Xref`.
    pub(crate) path_host: String,
    /// The outgoing feeds' queues.
    pub(crate) feeds: feed::Feeds,
    /// The managed groups file.
    groups_file: groups::GroupsFile,
    /// Mail out (moderation, subscribers), once the server has wired it.
    pub(crate) mailer: OnceLock<Arc<Deliverer>>,
    /// Where posting addresses are told to the mail side.
    directory: Option<Arc<Directory>>,
    /// Staged articles, for the feeds and the subscribers once committed.
    staged: Mutex<Vec<Staged>>,
}

/// An article staged, not yet committed.
struct Staged {
    message_id: String,
    groups: Vec<String>,
    path: String,
}

impl News {
    /// Opens the spool under `data_dir/news` for the configured groups and those of
    /// `news/groups.toml`.
    pub(crate) fn open(
        data_dir: &Path,
        config: &crate::config::Config,
        directory: Option<Arc<Directory>>,
    ) -> std::io::Result<Self> {
        let invalid = |text: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, text);
        let news_dir = data_dir.join("news");
        std::fs::create_dir_all(&news_dir)?;
        for g in &config.newsgroup {
            g.validate().map_err(invalid)?;
        }
        let groups_file = groups::GroupsFile::new(&news_dir);
        let all = groups::merge(&config.newsgroup, groups_file.load()?);
        let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
        let store = NewsStore::open(&news_dir, &names, &config.hostname)?;
        let peers = &config.newspeer;
        for p in peers {
            if sansmail_nntp_proto::wildmat::Wildmat::parse(&p.groups).is_none() {
                return Err(invalid(format!("[[newspeer]] {}: groups {:?} is not a wildmat", p.name, p.groups)));
            }
            if p.name.is_empty() || !p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                return Err(invalid(format!("[[newspeer]] name {:?}: letters, digits, '-', '_' and '.' only", p.name)));
            }
        }
        let feeds = feed::Feeds::new(&news_dir, peers)?;
        let news = Self {
            groups: RwLock::new(all.into_iter().map(Arc::new).collect()),
            configured: config.newsgroup.clone(),
            settings: config.news.clone(),
            peers: peers.clone(),
            store,
            path_host: config.hostname.clone(),
            feeds,
            groups_file,
            mailer: OnceLock::new(),
            directory,
            staged: Mutex::new(Vec::new()),
        };
        news.tell_directory();
        Ok(news)
    }

    /// The peer a client is, by its address or its login.
    pub(crate) fn peer(&self, ip: IpAddr, user: Option<&str>) -> Option<&NewsPeerConfig> {
        self.peers.iter().find(|p| {
            p.networks.iter().any(|n| n.contains(&ip))
                || user.is_some_and(|u| p.users.iter().any(|x| x.eq_ignore_ascii_case(u)))
        })
    }

    /// Stages an article (see [`NewsStore::stage`]): neither durable nor visible, nor fed
    /// on, until [`Self::commit`]. `path` is its Path as stored.
    pub(crate) fn stage(
        &self,
        article: &[u8],
        message_id: &str,
        groups: &[&str],
        path: &str,
    ) -> Result<Vec<(String, u64)>, store::StoreError> {
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        let places = self.store.stage(article, message_id, groups)?;
        staged.push(Staged {
            message_id: message_id.to_owned(),
            groups: places.iter().map(|(g, _)| g.clone()).collect(),
            path: path.to_owned(),
        });
        Ok(places)
    }

    /// Makes every staged article durable and visible ([`NewsStore::commit`]), then queues
    /// each for the outgoing feeds that take it and mails it to its groups' subscribers: all
    /// before any of them is acknowledged.
    pub(crate) fn commit(&self) -> std::io::Result<()> {
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        if staged.is_empty() {
            return Ok(());
        }
        self.store.commit()?;
        for s in staged.drain(..) {
            let groups: Vec<&str> = s.groups.iter().map(String::as_str).collect();
            if let Err(e) = self.feeds.queue(&self.peers, &s.message_id, &groups, &s.path) {
                // Stored, so acknowledged; only its propagation is lost, and the log says so.
                tracing::warn!(id = %s.message_id, error = %e, "cannot queue the article for the feeds");
            }
            if groups.iter().any(|g| self.group(g).is_some_and(|c| !c.subscribers.is_empty())) {
                match self.store.article_by_id(&s.message_id) {
                    Some(article) => self.mail_subscribers(&article, &s.message_id, &groups),
                    None => tracing::warn!(id = %s.message_id, "cannot read the article back for its subscribers"),
                }
            }
        }
        Ok(())
    }

    /// A carried group.
    pub(crate) fn group(&self, name: &str) -> Option<Arc<NewsgroupConfig>> {
        self.groups.read().unwrap_or_else(|e| e.into_inner()).iter().find(|g| g.name == name).cloned()
    }

    /// Every carried group, in the order configured.
    pub(crate) fn groups(&self) -> Vec<Arc<NewsgroupConfig>> {
        self.groups.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether an account is a news administrator.
    pub(crate) fn is_admin(&self, user: Option<&str>) -> bool {
        user.is_some_and(|u| self.settings.admins.iter().any(|a| a.eq_ignore_ascii_case(u)))
    }

    /// Removes what each group's retention says is too old; returns how many.
    pub(crate) fn expire(&self, now: std::time::SystemTime) -> usize {
        let mut removed = 0;
        for g in self.groups() {
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

    /// Tells the mail side which addresses are groups' posting addresses.
    fn tell_directory(&self) {
        if let Some(d) = &self.directory {
            let map = self
                .groups()
                .iter()
                .filter_map(|g| g.posting_address.as_ref().map(|a| (a.to_ascii_lowercase(), g.name.clone())))
                .collect();
            d.set_news_addresses(map);
        }
    }
}
