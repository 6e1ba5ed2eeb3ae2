//! The managed newsgroups: `news/groups.toml` in the data directory, written by
//! `sansmail news group add|del` and by honoured newgroup/rmgroup control messages, read
//! beside the config file's `[[newsgroup]]` entries (which win on a name clash and which
//! the CLI does not touch). A running server notices the file change within seconds.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{News, NewsgroupConfig};

/// The file's form: `[[newsgroup]]` tables, as in the config file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Managed {
    #[serde(default)]
    newsgroup: Vec<NewsgroupConfig>,
}

/// `news/groups.toml`.
#[derive(Debug)]
pub(crate) struct GroupsFile {
    path: PathBuf,
    /// The modification time last read, to notice a change.
    seen: Mutex<Option<SystemTime>>,
}

impl GroupsFile {
    pub(crate) fn new(news_dir: &Path) -> Self {
        Self { path: news_dir.join("groups.toml"), seen: Mutex::new(None) }
    }

    fn modified(&self) -> Option<SystemTime> {
        fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }

    /// The managed groups (none when the file does not exist).
    pub(crate) fn load(&self) -> io::Result<Vec<NewsgroupConfig>> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = self.modified();
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let managed: Managed = toml::from_str(&text)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", self.path.display())))?;
        for g in &managed.newsgroup {
            g.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(managed.newsgroup)
    }

    /// Whether the file changed since it was last read.
    fn changed(&self) -> bool {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != self.modified()
    }

    /// Writes the managed groups (atomically, synced).
    pub(crate) fn save(&self, groups: Vec<NewsgroupConfig>) -> io::Result<()> {
        let text = toml::to_string(&Managed { newsgroup: groups }).map_err(io::Error::other)?;
        let tmp = self.path.with_extension("toml.tmp");
        fs::write(&tmp, format!("# Managed by `sansmail news group`; the config file's groups are not here.\n{text}"))?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Adds a group; an error if it is there already.
    pub(crate) fn add(&self, group: NewsgroupConfig) -> io::Result<()> {
        group.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut all = self.load()?;
        if all.iter().any(|g| g.name == group.name) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("newsgroup {} exists", group.name)));
        }
        all.push(group);
        self.save(all)
    }

    /// Removes a group; whether it was there.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        let mut all = self.load()?;
        let before = all.len();
        all.retain(|g| g.name != name);
        if all.len() == before {
            return Ok(false);
        }
        self.save(all)?;
        Ok(true)
    }
}

/// The config file's groups, then the managed ones not named there.
pub(crate) fn merge(configured: &[NewsgroupConfig], managed: Vec<NewsgroupConfig>) -> Vec<NewsgroupConfig> {
    let mut all = configured.to_vec();
    for g in managed {
        if all.iter().any(|c| c.name == g.name) {
            tracing::warn!(group = %g.name, "news/groups.toml names a group of the config file: the config file's is used");
        } else {
            all.push(g);
        }
    }
    all
}

impl News {
    /// Takes in `news/groups.toml` when it changed: new groups are opened in the spool,
    /// removed ones no longer served (their articles stay on disk). Returns whether
    /// anything changed.
    pub(crate) fn refresh_groups(&self) -> io::Result<bool> {
        if !self.groups_file.changed() {
            return Ok(false);
        }
        let all = merge(&self.configured, self.groups_file.load()?);
        for g in &all {
            self.store.add_group(&g.name)?;
        }
        let kept: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
        for g in self.groups() {
            if !kept.contains(&g.name.as_str()) {
                self.store.remove_group(&g.name);
            }
        }
        tracing::info!(groups = all.len(), "newsgroups reloaded");
        *self.groups.write().unwrap_or_else(|e| e.into_inner()) = all.into_iter().map(Arc::new).collect();
        self.tell_directory();
        Ok(true)
    }

    /// newgroup (RFC 5537 §5.2.1), when honoured: a managed group, moderated or not.
    pub(crate) fn newgroup(&self, name: &str, moderated: bool, moderator: Option<String>) -> io::Result<()> {
        if self.group(name).is_some() {
            return Ok(());
        }
        let mut g = NewsgroupConfig::named(name);
        if moderated {
            g.status = "m".into();
            g.moderator = moderator;
        }
        self.groups_file.add(g)?;
        self.refresh_groups().map(|_| ())
    }

    /// rmgroup (RFC 5537 §5.2.2), when honoured: only a managed group goes.
    pub(crate) fn rmgroup(&self, name: &str) -> io::Result<bool> {
        if self.configured.iter().any(|g| g.name == name) {
            tracing::warn!(group = %name, "rmgroup for a group of the config file: ignored");
            return Ok(false);
        }
        let removed = self.groups_file.remove(name)?;
        self.refresh_groups()?;
        Ok(removed)
    }
}
