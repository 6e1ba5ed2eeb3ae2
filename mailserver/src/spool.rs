//! The durable queue. A message is accepted only once it is here: written to `queue/tmp/`,
//! fsynced, renamed into `queue/msg/`, and the directory fsynced. A file in `queue/msg/` is
//! therefore always whole; a file left in `queue/tmp/` by a crash was never acknowledged and
//! is removed at start.
//!
//! File format: one line `sansmail-queue 1 <n>\n`, then `n` octets of TOML envelope, then
//! the message exactly as received (with our `Received` header on top).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recipient {
    /// The address as the client gave it.
    pub(crate) address: String,
    /// The local mailbox it resolved to at RCPT time; `None` for a remote address.
    pub(crate) mailbox: Option<String>,
    /// The address the client gave, when forwarding made this recipient of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) original: Option<String>,
}

/// What is known of a message besides its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The reverse path, empty for the null sender.
    pub(crate) from: String,
    pub(crate) recipients: Vec<Recipient>,
    /// Unix time of acceptance.
    pub(crate) received: u64,
    /// Client address, for logs.
    pub(crate) client: String,
}

const MAGIC: &str = "sansmail-queue 1 ";

/// The queue directories.
#[derive(Clone, Debug)]
pub(crate) struct Spool {
    tmp: PathBuf,
    msg: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A queue id: microseconds since the epoch and a per-process sequence, in hex; sortable by
/// age and unique across restarts (a restart takes longer than a microsecond).
pub(crate) fn new_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) & 0xFFFF;
    format!("{micros:014X}{seq:04X}")
}

/// Whether `id` has the shape [`new_id`] gives (so it is safe as a file name).
pub(crate) fn is_id(id: &str) -> bool {
    id.len() == 18 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A message being received: its envelope is fixed, its content grows.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) id: String,
    tmp_path: PathBuf,
    file: File,
}

impl Spool {
    /// Opens (creating) the queue under `data_dir` and removes what a crash left in `tmp/`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("queue");
        let spool = Self { tmp: root.join("tmp"), msg: root.join("msg") };
        fs::create_dir_all(&spool.tmp)?;
        fs::create_dir_all(&spool.msg)?;
        for entry in fs::read_dir(&spool.tmp)? {
            let path = entry?.path();
            tracing::info!(file = %path.display(), "removing a message that was never acknowledged");
            fs::remove_file(&path)?;
        }
        Ok(spool)
    }

    /// The ids in the queue, oldest first.
    pub(crate) fn list(&self) -> io::Result<Vec<String>> {
        let mut ids: Vec<String> = fs::read_dir(&self.msg)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_id(n))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Starts message `id` (from [`new_id`]): creates its temporary file with the envelope
    /// and `head` (our `Received` header) written.
    pub(crate) fn begin(&self, id: String, envelope: &Envelope, head: &[u8]) -> io::Result<Incoming> {
        let tmp_path = self.tmp.join(&id);
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
        let env = toml::to_string(envelope).map_err(io::Error::other)?;
        let mut first = Vec::with_capacity(env.len() + head.len() + 32);
        first.extend_from_slice(format!("{MAGIC}{}\n", env.len()).as_bytes());
        first.extend_from_slice(env.as_bytes());
        first.extend_from_slice(head);
        if let Err(e) = file.write_all(&first) {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        Ok(Incoming { id, tmp_path, file })
    }

    /// Makes a message durable: content fsynced, renamed into the queue, directory fsynced.
    /// On error the temporary file is removed, so nothing half-written is ever delivered.
    pub(crate) fn commit(&self, incoming: Incoming) -> io::Result<String> {
        let Incoming { id, tmp_path, file } = incoming;
        let result = file.sync_all().and_then(|()| {
            drop(file);
            fs::rename(&tmp_path, self.msg.join(&id))?;
            fsync_dir(&self.msg)
        });
        match result {
            Ok(()) => Ok(id),
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                // The rename may have happened before the directory sync failed: that file is
                // whole, but we are about to say 451, so it must not be delivered either.
                let _ = fs::remove_file(self.msg.join(&id));
                Err(e)
            }
        }
    }

    /// Reads a queued message.
    pub(crate) fn read(&self, id: &str) -> io::Result<(Envelope, Vec<u8>)> {
        let mut data = Vec::new();
        File::open(self.msg.join(id))?.read_to_end(&mut data)?;
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("queue file {id}: {what}"));
        let nl = data.iter().position(|&b| b == b'\n').ok_or_else(|| bad("no header line"))?;
        let header = std::str::from_utf8(&data[..nl]).map_err(|_| bad("header not UTF-8"))?;
        let len: usize =
            header.strip_prefix(MAGIC).and_then(|n| n.parse().ok()).ok_or_else(|| bad("unknown header"))?;
        let env_end = nl + 1 + len;
        let env = data.get(nl + 1..env_end).ok_or_else(|| bad("envelope cut short"))?;
        let env = std::str::from_utf8(env).map_err(|_| bad("envelope not UTF-8"))?;
        let envelope: Envelope = toml::from_str(env).map_err(|e| bad(&e.to_string()))?;
        let content = data.split_off(env_end);
        Ok((envelope, content))
    }

    /// Removes a message whose every recipient is done.
    pub(crate) fn remove(&self, id: &str) -> io::Result<()> {
        fs::remove_file(self.msg.join(id))
    }
}

impl Incoming {
    /// Appends content.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Gives up on the message (the client aborted, or the session refused it).
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tmp_cleanup() {
        let dir = std::env::temp_dir().join(format!("sansmail-spool-{}", std::process::id()));
        let spool = Spool::open(&dir).unwrap();
        let env = Envelope {
            from: "a@b".into(),
            recipients: vec![Recipient { address: "c@d".into(), mailbox: Some("c@d".into()), original: None }],
            received: 1,
            client: "127.0.0.1".into(),
        };
        let mut m = spool.begin(new_id(), &env, b"Received: x\r\n").unwrap();
        m.write(b"Subject: hi\r\n\r\nbody\r\n").unwrap();
        let id = spool.commit(m).unwrap();
        assert!(is_id(&id));
        let (e, content) = spool.read(&id).unwrap();
        assert_eq!(e, env);
        assert_eq!(content, b"Received: x\r\nSubject: hi\r\n\r\nbody\r\n");
        // An unacknowledged message is gone after a restart.
        let left = spool.begin(new_id(), &env, b"").unwrap();
        drop(left);
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(fs::read_dir(&spool.tmp).unwrap().count(), 0);
        assert_eq!(spool.list().unwrap(), vec![id]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
