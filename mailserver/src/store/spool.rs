//! The durable queue. A message is accepted only once it is here: written to `queue/tmp/`,
//! fsynced, renamed into `queue/msg/`, and the directory fsynced. A file in `queue/msg/` is
//! therefore always whole; a file left in `queue/tmp/` by a crash was never acknowledged and
//! is removed at start.
//!
//! **Group commit.** Small messages (the whole content held in memory) are not written one
//! file each: a committer thread gathers the messages that sessions finish while it is busy
//! and writes them as one *segment* file — one fsync, one rename, one directory fsync for
//! the lot — then answers every session. Large messages stream into a file of their own.
//! Fewer files is also what makes this fast on ext4, where creating and deleting an inode
//! per message costs more than the fsyncs.
//!
//! File format: one or more records, each `sansmail-queue 1 <envelope octets> <content
//! octets>` LF, the TOML envelope, then the message exactly as received (with our
//! `Received` header on top).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// One recipient of a queued message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Recipient {
    /// The address as the client gave it.
    pub(crate) address: String,
    /// The local mailbox it resolved to at RCPT time; `None` for a remote address.
    pub(crate) mailbox: Option<String>,
    /// The address the client gave, when forwarding made this recipient of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) original: Option<String>,
    /// DSN `NOTIFY` (RFC 3461 §4.1): `never`, or a comma list of `success`, `failure`,
    /// `delay`; absent: failure and delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) notify: Option<String>,
    /// DSN `ORCPT` (RFC 3461 §4.2), `type;address` as given (xtext decoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) orcpt: Option<String>,
    /// The newsgroup whose posting address this is: delivered as an article.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) newsgroup: Option<String>,
    /// A gateway domain's recipient kept in the gateway's mailbox: its copy carries
    /// `Delivered-To` with this address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) gateway_copy: bool,
}

impl Recipient {
    /// Whether it leaves through the outbound queue (neither a mailbox nor a newsgroup).
    pub(crate) fn is_remote(&self) -> bool {
        self.mailbox.is_none() && self.newsgroup.is_none()
    }
}

/// What is known of a message besides its content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The message's queue id (the one the client was told).
    pub(crate) id: String,
    /// The reverse path, empty for the null sender.
    pub(crate) from: String,
    pub(crate) recipients: Vec<Recipient>,
    /// Unix time of acceptance.
    pub(crate) received: u64,
    /// Client address, for logs.
    pub(crate) client: String,
    /// DSN `RET=FULL` (RFC 3461 §4.3): a failure report carries the whole message, not only
    /// its header.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) ret_full: bool,
    /// DSN `ENVID` (RFC 3461 §4.4), xtext decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) envid: Option<String>,
    /// The client had logged in (AUTH): the sender is who it says, so a report may return
    /// more to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) authenticated: bool,
    /// The client was trusted to send as our domains (logged in, or from the relay
    /// networks), or the server wrote the message: our DKIM keys may sign its `From:`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) trusted: bool,
    /// Our `Authentication-Results` field (CRLF-terminated), put on top of each local copy
    /// and forward; ours that arrived with the message are removed then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_results: Option<String>,
    /// DMARC asked for quarantine: local copies go to the recipients' Junk folders.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) junk: bool,
    /// The sender checks ran and could not tie the reverse path to its domain (no SPF pass,
    /// no DKIM pass by that domain): nothing automatic answers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) unverified_sender: bool,
    /// The ARC set sealing our results, for the copies that leave as forwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) arc_seal: Option<String>,
}

/// One queued message: its envelope and content.
pub(crate) type Record = (Envelope, Vec<u8>);

const MAGIC: &str = "sansmail-queue 1 ";
/// Width of the content length in a record header, so a streamed message's header can be
/// written first and completed at commit.
const LEN_WIDTH: usize = 20;
/// Room left after a large message's envelope for what the end of data adds to it (the
/// sender checks' results), so it is rewritten in place.
const ENVELOPE_SLACK: usize = 16384;
/// Most messages, and octets, per segment.
const SEGMENT_MESSAGES: usize = 256;
const SEGMENT_BYTES: usize = 8 << 20;

/// The queue directories.
#[derive(Debug)]
pub(crate) struct Spool {
    tmp: PathBuf,
    msg: PathBuf,
    committer: mpsc::Sender<Small>,
}

/// Told the name of each queue file the committer made durable.
pub(crate) type OnCommit = Box<dyn Fn(String) + Send>;

/// A small message waiting for the committer.
struct Small {
    record: Vec<u8>,
    done: oneshot::Sender<io::Result<()>>,
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

pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Moves a damaged queue file out of the way, into `queue/quarantine/` (the sibling of its
/// folder), named with the time, for the administrator to look at. Returns where it went.
pub(crate) fn quarantine(file: &Path) -> io::Result<PathBuf> {
    let queue = file.parent().and_then(Path::parent).ok_or_else(|| io::Error::other("no queue folder"))?;
    let dir = queue.join("quarantine");
    fs::create_dir_all(&dir)?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let to = dir.join(format!("{name}.{secs}"));
    fs::rename(file, &to)?;
    fsync_dir(&dir)?;
    if let Some(from) = file.parent() {
        fsync_dir(from)?;
    }
    Ok(to)
}

pub(crate) fn record_header(envelope: &Envelope, content_len: u64) -> io::Result<Vec<u8>> {
    padded_record_header(envelope, content_len, 0)
}

/// A record header whose envelope is followed by `slack` spaces (white space to TOML).
fn padded_record_header(envelope: &Envelope, content_len: u64, slack: usize) -> io::Result<Vec<u8>> {
    let env = toml::to_string(envelope).map_err(io::Error::other)?;
    let mut out = format!("{MAGIC}{} {content_len:0LEN_WIDTH$}\n", env.len() + slack).into_bytes();
    out.extend_from_slice(env.as_bytes());
    out.resize(out.len() + slack, b' ');
    Ok(out)
}

/// A large message being received into a file of its own.
#[derive(Debug)]
pub(crate) struct Incoming {
    id: String,
    tmp_path: PathBuf,
    file: File,
    /// Offset of the content length in the record header.
    len_at: u64,
    /// Where the envelope starts, and the room it has (its own length and the slack).
    envelope_at: u64,
    envelope_room: usize,
    /// Where the content (our `Received` header first) starts.
    content_at: u64,
    content_len: u64,
}

impl Spool {
    /// Opens (creating) the queue under `data_dir`, removes what a crash left in `tmp/`, and
    /// starts the committer thread, which calls `on_commit` with each segment it writes.
    pub(crate) fn open(data_dir: &Path, on_commit: OnCommit) -> io::Result<Arc<Self>> {
        let root = data_dir.join("queue");
        let (tmp, msg) = (root.join("tmp"), root.join("msg"));
        fs::create_dir_all(&tmp)?;
        fs::create_dir_all(&msg)?;
        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            tracing::info!(file = %path.display(), "removing a message that was never acknowledged");
            fs::remove_file(&path)?;
        }
        let (committer, requests) = mpsc::channel();
        let (t, m) = (tmp.clone(), msg.clone());
        std::thread::Builder::new()
            .name("spool-commit".into())
            .spawn(move || commit_loop(&t, &m, &requests, &on_commit))?;
        Ok(Arc::new(Self { tmp, msg, committer }))
    }

    /// The queue files, oldest first.
    pub(crate) fn list(&self) -> io::Result<Vec<String>> {
        let mut ids: Vec<String> = fs::read_dir(&self.msg)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_id(n))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Makes a small message durable through the group committer: returns once the segment
    /// that holds it is fsynced, renamed and its directory fsynced (the segment goes to
    /// `on_commit`).
    pub(crate) async fn commit_small(&self, envelope: &Envelope, head: &[u8], content: &[u8]) -> io::Result<()> {
        let mut record = record_header(envelope, (head.len() + content.len()) as u64)?;
        record.reserve(head.len() + content.len());
        record.extend_from_slice(head);
        record.extend_from_slice(content);
        let (done, result) = oneshot::channel();
        self.committer.send(Small { record, done }).map_err(|_| io::Error::other("spool committer stopped"))?;
        result.await.map_err(|_| io::Error::other("spool committer stopped"))?
    }

    /// Starts a large message: creates its own temporary file with the envelope and `head`
    /// (our `Received` header) written.
    /// Removes what a crash left of a message being written under `id`.
    pub(crate) fn discard_tmp(&self, id: &str) -> io::Result<()> {
        match fs::remove_file(self.tmp.join(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub(crate) fn begin(&self, envelope: &Envelope, head: &[u8]) -> io::Result<Incoming> {
        let tmp_path = self.tmp.join(&envelope.id);
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
        let header = padded_record_header(envelope, 0, ENVELOPE_SLACK)?;
        let newline = header.iter().position(|&b| b == b'\n').unwrap_or(0);
        let len_at = newline.saturating_sub(LEN_WIDTH) as u64;
        let written = file.write_all(&header).and_then(|()| file.write_all(head));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        Ok(Incoming {
            id: envelope.id.clone(),
            tmp_path,
            file,
            len_at,
            envelope_at: newline as u64 + 1,
            envelope_room: header.len() - newline - 1,
            content_at: header.len() as u64,
            content_len: head.len() as u64,
        })
    }

    /// Makes a large message durable: length completed, fsynced, renamed into the queue,
    /// directory fsynced. On error the file is removed, so nothing half-written is ever
    /// delivered.
    pub(crate) fn commit(&self, incoming: Incoming) -> io::Result<String> {
        let Incoming { id, tmp_path, mut file, len_at, content_len, .. } = incoming;
        let result = (|| {
            file.seek(SeekFrom::Start(len_at))?;
            file.write_all(format!("{content_len:0LEN_WIDTH$}").as_bytes())?;
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp_path, self.msg.join(&id))?;
            fsync_dir(&self.msg)
        })();
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

    /// Reads a queue file: its whole messages, in order, and what was wrong with the rest
    /// if it is damaged (see [`parse_whole_records`]).
    pub(crate) fn read(&self, name: &str) -> io::Result<(Vec<Record>, Option<String>)> {
        let mut data = Vec::new();
        File::open(self.msg.join(name))?.read_to_end(&mut data)?;
        Ok(parse_whole_records(name, &data))
    }

    /// Moves a damaged queue file to `queue/quarantine/`.
    pub(crate) fn quarantine(&self, name: &str) -> io::Result<PathBuf> {
        quarantine(&self.msg.join(name))
    }

    /// Removes a queue file whose every recipient is done (gone already is fine).
    pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.msg.join(name)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}

/// The whole records of a queue file that may be damaged (cut short by a disk error, or
/// edited): every record that reads is returned, and the first fault is described. A record
/// whose lengths read but whose envelope does not is skipped; past a header that does not
/// read nothing can be found, so the rest is lost to the fault.
pub(crate) fn parse_whole_records(name: &str, data: &[u8]) -> (Vec<Record>, Option<String>) {
    let mut out = Vec::new();
    let mut fault = None;
    let mut rest = data;
    while !rest.is_empty() {
        match parse_one(name, rest) {
            Ok((record, used)) => {
                match record {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        fault.get_or_insert(e.to_string());
                    }
                }
                rest = &rest[used..];
            }
            Err(e) => {
                fault.get_or_insert(e.to_string());
                break;
            }
        }
    }
    (out, fault)
}

/// One record at the start of `rest`: its framing (the octets it takes) or why that cannot
/// be read, and inside it the message or why its envelope cannot be read.
fn parse_one(name: &str, rest: &[u8]) -> io::Result<(io::Result<Record>, usize)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("queue file {name}: {what}"));
    let nl = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("no record header"))?;
    let header = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("header not UTF-8"))?;
    let lens = header.strip_prefix(MAGIC).and_then(|l| l.split_once(' ')).ok_or_else(|| bad("unknown header"))?;
    let (env_len, content_len): (usize, usize) =
        (lens.0.parse().map_err(|_| bad("bad length"))?, lens.1.parse().map_err(|_| bad("bad length"))?);
    let env_end = (nl + 1).checked_add(env_len).ok_or_else(|| bad("bad length"))?;
    let end = env_end.checked_add(content_len).ok_or_else(|| bad("bad length"))?;
    if rest.len() < end {
        return Err(bad("record cut short"));
    }
    let record = std::str::from_utf8(&rest[nl + 1..env_end])
        .map_err(|_| bad("envelope not UTF-8"))
        .and_then(|env| toml::from_str::<Envelope>(env).map_err(|e| bad(&e.to_string())))
        .map(|envelope| (envelope, rest[env_end..end].to_vec()));
    Ok((record, end))
}

/// The envelope of a queue file's first record, without reading its content: the header
/// line (at most 64 octets) and the envelope it announces (at most 1 MiB).
pub(crate) fn read_envelope(path: &Path) -> io::Result<Envelope> {
    use std::io::BufRead;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("queue file {name}: {what}"));
    let mut file = io::BufReader::new(File::open(path)?);
    let mut header = Vec::new();
    (&mut file).take(64).read_until(b'\n', &mut header)?;
    let header = std::str::from_utf8(&header).map_err(|_| bad("header not UTF-8"))?;
    let lens = header
        .strip_suffix('\n')
        .and_then(|h| h.strip_prefix(MAGIC))
        .and_then(|l| l.split_once(' '))
        .ok_or_else(|| bad("unknown header"))?;
    let env_len: usize = lens.0.parse().ok().filter(|&n| n <= 1 << 20).ok_or_else(|| bad("bad length"))?;
    let mut env = vec![0; env_len];
    file.read_exact(&mut env)
        .map_err(|e| if e.kind() == io::ErrorKind::UnexpectedEof { bad("envelope cut short") } else { e })?;
    let env = std::str::from_utf8(&env).map_err(|_| bad("envelope not UTF-8"))?;
    toml::from_str(env).map_err(|e| bad(&e.to_string()))
}

/// Every record of a queue file, or an error if any part of it is damaged.
pub(crate) fn parse_records(name: &str, data: &[u8]) -> io::Result<Vec<(Envelope, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (record, used) = parse_one(name, rest)?;
        out.push(record?);
        rest = &rest[used..];
    }
    Ok(out)
}

/// The committer: takes what has queued up, writes it as one segment, syncs once, answers
/// everyone. Under light load a segment holds one message and costs what a file per message
/// would; under heavy load the fsyncs are shared.
fn commit_loop(tmp: &Path, msg: &Path, requests: &mpsc::Receiver<Small>, on_commit: &OnCommit) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        let mut bytes = batch[0].record.len();
        while batch.len() < SEGMENT_MESSAGES && bytes < SEGMENT_BYTES {
            match requests.try_recv() {
                Ok(next) => {
                    bytes += next.record.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let name = new_id();
        let (tmp_path, path) = (tmp.join(&name), msg.join(&name));
        let result = (|| {
            let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
            for s in &batch {
                f.write_all(&s.record)?;
            }
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp_path, &path)?;
            fsync_dir(msg)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp_path);
            let _ = fs::remove_file(&path);
        }
        if result.is_ok() {
            on_commit(name);
        }
        for s in batch {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            let _ = s.done.send(r);
        }
    }
}

impl Incoming {
    /// Appends content.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.content_len += data.len() as u64;
        Ok(())
    }

    /// Replaces the envelope written at [`Spool::begin`] (in the room it kept); fails when
    /// the new one does not fit.
    pub(crate) fn set_envelope(&mut self, envelope: &Envelope) -> io::Result<()> {
        let env = toml::to_string(envelope).map_err(io::Error::other)?;
        if env.len() > self.envelope_room {
            return Err(io::Error::other("the envelope outgrew its room"));
        }
        let mut padded = env.into_bytes();
        padded.resize(self.envelope_room, b' ');
        self.file.seek(SeekFrom::Start(self.envelope_at))?;
        self.file.write_all(&padded)?;
        self.file.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// The content written so far (our `Received` header first), if it is at most `max`
    /// octets.
    pub(crate) fn content(&self, max: u64) -> io::Result<Option<Vec<u8>>> {
        if self.content_len > max {
            return Ok(None);
        }
        let mut file = File::open(&self.tmp_path)?;
        file.seek(SeekFrom::Start(self.content_at))?;
        let mut out = Vec::with_capacity(self.content_len as usize);
        file.take(self.content_len).read_to_end(&mut out)?;
        Ok(Some(out))
    }

    /// The content octets written so far.
    pub(crate) fn len(&self) -> u64 {
        self.content_len
    }

    /// Gives up on the message (the client aborted, or the session refused it).
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(id: &str) -> Envelope {
        Envelope {
            id: id.into(),
            from: "a@b".into(),
            recipients: vec![Recipient { address: "c@d".into(), mailbox: Some("c@d".into()), ..Recipient::default() }],
            received: 1,
            client: "127.0.0.1".into(),
            ..Envelope::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn large_and_grouped_messages_round_trip_and_tmp_is_cleaned() {
        let dir = std::env::temp_dir().join(format!("sansmail-spool-{}", std::process::id()));
        let spool = Spool::open(&dir, Box::new(|_| {})).unwrap();
        // A streamed message.
        let env = envelope(&new_id());
        let mut m = spool.begin(&env, b"Received: x\r\n").unwrap();
        m.write(b"Subject: hi\r\n\r\nbody\r\n").unwrap();
        let name = spool.commit(m).unwrap();
        let read = spool.read(&name).unwrap();
        assert_eq!(read, (vec![(env.clone(), b"Received: x\r\nSubject: hi\r\n\r\nbody\r\n".to_vec())], None));
        // Small ones, committed at once from many tasks.
        let envs: Vec<Envelope> = (0..20).map(|_| envelope(&new_id())).collect();
        let tasks: Vec<_> = envs
            .iter()
            .cloned()
            .map(|e| {
                let spool = spool.clone();
                tokio::spawn(async move { spool.commit_small(&e, b"R: 1\r\n", e.id.as_bytes()).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let mut seen = Vec::new();
        for file in spool.list().unwrap() {
            for (e, content) in spool.read(&file).unwrap().0 {
                if e.id != env.id {
                    assert_eq!(content, [b"R: 1\r\n".as_slice(), e.id.as_bytes()].concat());
                    seen.push(e.id);
                }
            }
        }
        seen.sort();
        assert_eq!(seen, envs.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
        // An unacknowledged message is gone after a restart.
        drop(spool.begin(&envelope(&new_id()), b"").unwrap());
        let spool = Spool::open(&dir, Box::new(|_| {})).unwrap();
        assert_eq!(fs::read_dir(&spool.tmp).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_records_are_errors() {
        let mut rec = record_header(&envelope("000000000000000001"), 10).unwrap();
        rec.extend_from_slice(b"0123456789");
        assert_eq!(parse_records("f", &rec).unwrap().len(), 1);
        assert!(parse_records("f", &rec[..rec.len() - 1]).is_err());
        assert!(parse_records("f", b"garbage\n").is_err());
    }

    #[test]
    fn an_envelope_reads_without_its_content() {
        let path = std::env::temp_dir().join(format!("sansmail-envelope-{}", std::process::id()));
        let env = envelope("000000000000000009");
        let mut rec = record_header(&env, 5).unwrap();
        rec.extend_from_slice(b"hello");
        fs::write(&path, &rec).unwrap();
        assert_eq!(read_envelope(&path).unwrap(), env);
        let cut = rec.iter().position(|&b| b == b'\n').unwrap() + 10;
        fs::write(&path, &rec[..cut]).unwrap();
        assert_eq!(read_envelope(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
        fs::write(&path, b"sansmail-queue 1 99999999999 0\n").unwrap();
        assert_eq!(read_envelope(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_whole_records_of_a_damaged_file_are_kept() {
        let mut data = Vec::new();
        for id in ["000000000000000001", "000000000000000002"] {
            data.extend(record_header(&envelope(id), 3).unwrap());
            data.extend_from_slice(b"abc");
        }
        let whole = data.len();
        // A record whose envelope is damaged but whose lengths read is skipped.
        let mut broken = record_header(&envelope("000000000000000003"), 1).unwrap();
        let at = broken.iter().position(|&b| b == b'\n').unwrap() + 1;
        broken[at] = b'[';
        data.extend(broken);
        data.push(b'x');
        data.extend(record_header(&envelope("000000000000000004"), 3).unwrap());
        data.extend_from_slice(b"abc");
        let (records, fault) = parse_whole_records("f", &data);
        let ids: Vec<&str> = records.iter().map(|(e, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["000000000000000001", "000000000000000002", "000000000000000004"]);
        assert!(fault.is_some());
        // Cut inside the third record: the first two are whole.
        let (records, fault) = parse_whole_records("f", &data[..whole + 10]);
        assert_eq!(records.len(), 2);
        assert!(fault.is_some());
        let (records, fault) = parse_whole_records("f", &data[..whole]);
        assert_eq!((records.len(), fault), (2, None));
    }
}
