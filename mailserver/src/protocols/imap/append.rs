//! APPEND: the message is written to the folder's `tmp/` as it arrives, then synced and
//! published under the folder's lock with its flags and date.
//!
//! A small message comes whole in its command; a large one comes from `imap-proto` in pieces
//! (`Event::AppendStart`, `AppendData`…, `AppendEnd`), each written before the next is read,
//! so an APPEND of any size holds one read buffer of memory. An [`Appending`] that is
//! dropped before it is published (the command failed, the client went away, the session
//! ended) removes its file and gives back its quota reservation.

use std::fs;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use sansmail_imap_proto::command::Body;
use sansmail_imap_proto::response::{Code, Status};

use super::commands::{Done, exists, folder_of, no, system_and_keywords};
use super::search::parse_date_time;
use super::store::{Flags, Folder};
use super::{Connection, commands, reencode};
use crate::store::quota::{Quotas, command_key};

/// Messages one APPEND may carry (MULTIAPPEND): past it, `NO [LIMIT]` and none is stored.
pub(super) const MAX_MESSAGES: usize = 1000;

/// A message being appended: its file in `tmp/`, what it will be stored with, and the quota
/// it holds.
pub(crate) struct Appending {
    quotas: Arc<Quotas>,
    /// The quota reservation's key.
    key: String,
    user: String,
    dir: PathBuf,
    base: String,
    tmp: PathBuf,
    /// Open while the message is written; closed once it is whole and synced, so the
    /// messages of a MULTIAPPEND hold one descriptor at a time.
    file: Option<fs::File>,
    flags: Flags,
    keywords: Vec<String>,
    mtime: Option<SystemTime>,
    size: u64,
    written: u64,
    /// A write failed: what follows is not written, and the command fails.
    failed: Option<io::Error>,
    /// The message holds NUL: its parts that do are re-encoded before it is published.
    nul: bool,
    published: bool,
}

/// Checks an APPEND (`message` is not looked at: it may be empty, with `size` octets to
/// come) and opens its file: the folder exists, the date is one, the quota has room.
/// `Err` is the command's answer.
pub(super) fn start(conn: &Connection, body: &Body<'_>, size: u64) -> Result<Appending, Done> {
    let Body::Append { mailbox, flags, date, .. } = body else {
        return Err(Done(Status::Bad, None, "Not an APPEND".to_owned()));
    };
    let Some((user, maildir)) = conn.user.as_ref() else { return Err(no(None, "Not logged in")) };
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d)) else {
        return Err(no(Some(Code::TryCreate), "No such mailbox"));
    };
    let mtime = match date {
        Some(d) => Some(parse_date_time(d).ok_or_else(|| Done(Status::Bad, None, "Invalid date-time".to_owned()))?),
        None => None,
    };
    let quotas = conn.shared.quotas.clone();
    let key = command_key();
    if !quotas.reserve(&key, user, size) {
        return Err(no(Some(Code::OverQuota), "Mailbox quota exceeded"));
    }
    let (flags, keywords) = system_and_keywords(flags);
    let room = conn.shared.imap_folders.folder(&dir).lock().map(|index| index.has_room_for(&keywords));
    if !room.unwrap_or(true) {
        quotas.release(&key);
        return Err(no(Some(Code::Limit), "Too many keywords in this folder"));
    }
    let base = Folder::new_base(&conn.shared.hostname);
    let tmp = dir.join("tmp").join(&base);
    let file = match fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp) {
        Ok(f) => f,
        Err(e) => {
            quotas.release(&key);
            return Err(commands::failed(&e));
        }
    };
    Ok(Appending {
        quotas,
        key,
        user: user.clone(),
        dir,
        base,
        tmp,
        file: Some(file),
        flags,
        keywords,
        mtime,
        size,
        written: 0,
        failed: None,
        nul: false,
        published: false,
    })
}

impl Appending {
    /// Writes the next octets of the message (after a failed write, drops them: the
    /// command fails at its end).
    pub(super) fn write(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.nul |= memchr::memchr(0, data).is_some();
            let written = match self.file.as_mut() {
                Some(file) => file.write_all(data),
                None => Err(io::Error::other("message already complete")),
            };
            match written {
                Ok(()) => self.written += data.len() as u64,
                Err(e) => self.failed = Some(e),
            }
        }
    }

    /// The whole message is written: re-encoded if it must be, dated, synced, closed. Once
    /// done, it is not done again; a failure is kept for the command's end.
    pub(super) fn prepare(&mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let Some(mut file) = self.file.take() else { return Ok(()) };
        let ready = (|| {
            if self.written != self.size {
                return Err(io::Error::other("message shorter than announced"));
            }
            if self.nul && self.size <= REENCODE_MAX {
                self.size = reencode_file(&mut file)?.unwrap_or(self.size);
            }
            if let Some(t) = self.mtime {
                file.set_modified(t)?;
            }
            file.sync_all()
        })();
        if let Err(e) = &ready {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        }
        ready
    }
}

/// Publishes the messages of one APPEND (several with MULTIAPPEND, all to one folder): all
/// or none (RFC 3502), under the folder's lock; the command's answer (`OK [APPENDUID …]`).
pub(super) fn finish(conn: &Connection, mut messages: Vec<Appending>) -> Done {
    match publish(conn, &mut messages) {
        Ok((validity, uids)) => {
            let uids = sansmail_imap_proto::sequence::ranges(&uids);
            Done(Status::Ok, Some(Code::AppendUid { validity, uids }), "APPEND completed".to_owned())
        }
        Err(e) => commands::failed(&e),
    }
}

fn publish(conn: &Connection, messages: &mut [Appending]) -> io::Result<(u32, Vec<u32>)> {
    let Some(first) = messages.first() else { return Err(io::Error::other("no message")) };
    let folder = conn.shared.imap_folders.folder(&first.dir);
    for m in messages.iter_mut() {
        m.prepare()?;
    }
    let mut index = folder.lock()?;
    let mut uids = Vec::with_capacity(messages.len());
    for m in messages.iter_mut() {
        match folder.add(&mut index, &m.tmp, &m.base, m.flags, std::mem::take(&mut m.keywords)) {
            Ok(uid) => {
                m.published = true;
                uids.push(uid);
            }
            Err(e) => {
                // All or none: those already added go again.
                let added: Vec<usize> = uids.iter().filter_map(|&u| index.position(u)).collect();
                folder.remove(&mut index, &added)?;
                drop(index);
                folder.notify();
                return Err(e);
            }
        }
    }
    let validity = index.validity;
    drop(index);
    for m in messages.iter() {
        m.quotas.add(&m.user, m.size);
    }
    folder.notify();
    Ok((validity, uids))
}

/// The largest message whose NUL-holding parts are re-encoded (it is read whole for that);
/// a larger one is stored as it came.
const REENCODE_MAX: u64 = 32 * 1024 * 1024;

/// Rewrites a message file with its parts that hold NUL in base64 ([`reencode`]); its new
/// size, if it changed.
fn reencode_file(file: &mut fs::File) -> io::Result<Option<u64>> {
    use std::io::{Read as _, Seek as _};
    let mut raw = Vec::new();
    file.seek(io::SeekFrom::Start(0))?;
    file.read_to_end(&mut raw)?;
    let Some(safe) = reencode::without_nul(&raw) else { return Ok(None) };
    file.set_len(0)?;
    file.seek(io::SeekFrom::Start(0))?;
    file.write_all(&safe)?;
    Ok(Some(safe.len() as u64))
}

impl Drop for Appending {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.tmp);
        }
        self.quotas.release(&self.key);
    }
}

/// APPEND of a message that came whole in its command.
pub(super) fn whole(conn: &Connection, body: &Body<'_>) -> Done {
    let Body::Append { message, .. } = body else { return no(None, "Not an APPEND") };
    match start(conn, body, message.len() as u64) {
        Ok(mut appending) => {
            appending.write(message);
            finish(conn, vec![appending])
        }
        Err(done) => done,
    }
}
