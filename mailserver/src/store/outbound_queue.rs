//! The outbound queue on disk, in `queue/out/`:
//!
//! - `<id>.msg`: the message with its remote recipients only, one spool record, written once
//!   (temporary file, fsync, rename, directory fsync) before the message leaves the main
//!   queue, so a crash in between at worst writes it again;
//! - `<id>.state`: each recipient's state, rewritten atomically as it changes. A message with
//!   no state file yet has every recipient pending.
//!
//! Restart-safe by construction: a recipient is marked delivered only after the remote
//! server said so, and the mark is durable before the next step, so a crash repeats at worst
//! one delivery and never loses one.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::spool::{self, Envelope};

/// Where a recipient stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Not tried yet.
    #[default]
    Pending,
    /// Tried, failed temporarily; tried again at `next_attempt`.
    Deferred,
    /// The remote server took it.
    Delivered,
    /// Failed for good (a 5xx, no route, or too long in the queue).
    Failed,
}

impl Status {
    /// Whether nothing more will happen to this recipient.
    pub(crate) fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed)
    }
}

/// One recipient's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RcptState {
    pub(crate) status: Status,
    pub(crate) attempts: u32,
    /// Unix time of the next attempt (pending and deferred).
    pub(crate) next_attempt: u64,
    /// The last failure, for `queue list` and the DSN (`Diagnostic-Code`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) last_error: String,
    /// The enhanced status code of the outcome (`5.1.1`, `4.4.1`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) status_code: String,
    /// The host that gave the last answer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) remote: String,
    /// Became final and its report (if one is wanted) is not queued yet: saved with the
    /// outcome, so a crash before the report is queued still sends it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) unreported: bool,
    /// Delivered to a next hop that offered DSN: that hop reports success, not we.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) next_hop_reports: bool,
}

/// A message's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Held by the administrator: not tried until released.
    #[serde(default)]
    pub(crate) held: bool,
    /// The delay warning was sent.
    #[serde(default)]
    pub(crate) warned: bool,
    #[serde(default)]
    pub(crate) rcpt: Vec<RcptState>,
}

impl State {
    /// Whether every recipient is final.
    pub(crate) fn is_done(&self) -> bool {
        self.rcpt.iter().all(|r| r.status.is_final())
    }

    /// When the next attempt is due, if any recipient waits.
    pub(crate) fn next_due(&self) -> Option<u64> {
        self.rcpt.iter().filter(|r| !r.status.is_final()).map(|r| r.next_attempt).min()
    }
}

/// The outbound queue directory.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    tmp: PathBuf,
}

fn write_atomically(tmp: &Path, path: &Path, data: &[u8]) -> io::Result<()> {
    let result = (|| {
        let mut f = File::create(tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

impl Store {
    /// Opens (creating) `queue/out` under `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("queue");
        let (dir, tmp) = (root.join("out"), root.join("tmp"));
        fs::create_dir_all(&dir)?;
        fs::create_dir_all(&tmp)?;
        Ok(Self { dir, tmp })
    }

    fn msg(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.msg"))
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.state"))
    }

    /// Adds a message (its envelope holding the remote recipients only); `false` if it is
    /// there already (a repeated hand-off after a crash).
    pub(crate) fn add(&self, envelope: &Envelope, content: &[u8]) -> io::Result<bool> {
        if !spool::is_id(&envelope.id) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad queue id"));
        }
        let path = self.msg(&envelope.id);
        if path.exists() {
            return Ok(false);
        }
        let mut record = spool::record_header(envelope, content.len() as u64)?;
        record.extend_from_slice(content);
        write_atomically(&self.tmp.join(format!("{}.out", envelope.id)), &path, &record)?;
        spool::fsync_dir(&self.dir)?;
        Ok(true)
    }

    /// The queued message ids, oldest first.
    pub(crate) fn list(&self) -> io::Result<Vec<String>> {
        let mut ids: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".msg").map(str::to_owned))
            .filter(|id| spool::is_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Moves a message that cannot be read (and its state) to `queue/quarantine/`.
    pub(crate) fn quarantine(&self, id: &str) -> io::Result<PathBuf> {
        let to = spool::quarantine(&self.msg(id))?;
        let state = self.state_path(id);
        if state.exists() {
            spool::quarantine(&state)?;
        }
        Ok(to)
    }

    /// A queued message's envelope, read without its content.
    pub(crate) fn envelope(&self, id: &str) -> io::Result<Envelope> {
        spool::read_envelope(&self.msg(id))
    }

    /// A queued message: its envelope and content.
    pub(crate) fn read(&self, id: &str) -> io::Result<(Envelope, Vec<u8>)> {
        let mut data = Vec::new();
        File::open(self.msg(id))?.read_to_end(&mut data)?;
        spool::parse_records(id, &data)?
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{id}: empty")))
    }

    /// A message's state, every recipient pending when none was written yet (`now` is
    /// their first attempt). A state file that cannot be read as one is moved to
    /// `queue/quarantine/` (said in the log) and its recipients taken as pending: the
    /// message's age comes from the message itself, so it still expires on time.
    pub(crate) fn state(&self, id: &str, recipients: usize, now: u64) -> io::Result<State> {
        let path = self.state_path(id);
        let mut state = match fs::read(&path) {
            Ok(data) => match std::str::from_utf8(&data).ok().and_then(|t| toml::from_str(t).ok()) {
                Some(s) => s,
                None => {
                    let to = spool::quarantine(&path)?;
                    tracing::error!(queue_id = %id, moved_to = %to.display(), "damaged outbound state quarantined; its recipients are tried again");
                    State::default()
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        // A state written for another shape of message is not trusted.
        if state.rcpt.len() != recipients {
            state.rcpt = vec![RcptState { next_attempt: now, ..RcptState::default() }; recipients];
        }
        Ok(state)
    }

    /// When a message is due, from its state file alone: `None` while held; at once when it
    /// has no state yet (or only final states, left by a crash before its removal).
    pub(crate) fn peek_due(&self, id: &str) -> io::Result<Option<u64>> {
        match fs::read_to_string(self.state_path(id)) {
            Ok(text) => match toml::from_str::<State>(&text) {
                Ok(s) => Ok(if s.held { None } else { Some(s.next_due().unwrap_or(0)) }),
                // Damaged: due now, when `state` quarantines it.
                Err(_) => Ok(Some(0)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(0)),
            Err(e) => Err(e),
        }
    }

    /// The ids of the messages waiting (a recipient not final) for one of `domains`.
    pub(crate) fn waiting_for(&self, domains: &[String]) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for id in self.list()? {
            let Ok(env) = self.envelope(&id) else { continue };
            let Ok(state) = self.state(&id, env.recipients.len(), 0) else { continue };
            let waiting = env.recipients.iter().zip(&state.rcpt).any(|(r, s)| {
                !s.status.is_final()
                    && r.address.rsplit_once('@').is_some_and(|(_, d)| domains.contains(&d.to_ascii_lowercase()))
            });
            if waiting {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The messages waiting (a recipient not final) for one of `domains` (lower case), and
    /// their octets.
    pub(crate) fn for_domains(&self, domains: &[String]) -> io::Result<(usize, u64)> {
        let mut octets = 0;
        let ids = self.waiting_for(domains)?;
        for id in &ids {
            octets += fs::metadata(self.msg(id)).map_or(0, |m| m.len());
        }
        Ok((ids.len(), octets))
    }

    /// Writes a message's state durably.
    pub(crate) fn save_state(&self, id: &str, state: &State) -> io::Result<()> {
        let text = toml::to_string(state).map_err(io::Error::other)?;
        write_atomically(&self.tmp.join(format!("{id}.state")), &self.state_path(id), text.as_bytes())?;
        spool::fsync_dir(&self.dir)
    }

    /// Removes a finished message: the message first, since a message left without its
    /// state would be sent again (a state left without its message is ignored).
    pub(crate) fn remove(&self, id: &str) -> io::Result<()> {
        for path in [self.msg(id), self.state_path(id)] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        spool::fsync_dir(&self.dir)
    }
}
