//! The IMAP view of a user's Maildir: folders (Maildir++: `INBOX` is the Maildir itself,
//! `Sent` is `.Sent/`, `a.b` is `.a.b/`, the hierarchy delimiter is `.`), and per folder an
//! index (`sansmail-uidlist`) that gives every message file a UID for good and keeps the
//! folder's UIDVALIDITY and UIDNEXT. System flags live in the file names (`:2,FRS`, the
//! Maildir convention other tools read); keywords live in the index.
//!
//! Every folder in use has one [`Folder`] in the [`Registry`]: its index behind a mutex and
//! a change counter that IMAP sessions watch (IDLE). Files are the truth: each look at a
//! folder re-reads its directories when they changed (new mail from delivery, deletions by
//! POP3), so nothing here depends on being the only writer.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use sansmail_imap_proto::response::{BodyStructure, Envelope};
use tokio::sync::watch;

use crate::store::changes::Changes;

pub(crate) use super::index::{Flags, Index, Message};
use super::index::{Known, Parsed};

/// The index file of a folder.
const INDEX: &str = "sansmail-uidlist";
/// The folders every new user gets, with their RFC 6154 attributes.
pub(crate) const SPECIAL_USE: [(&str, &str); 5] =
    [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk"), ("Archive", "\\Archive")];

/// The file of a folder that holds the special uses it was created with (RFC 6154 §3).
const SPECIAL_USE_FILE: &str = "sansmail-special-use";

/// Keeps the special uses given at CREATE (one attribute, `\Drafts`…, per line).
pub(crate) fn save_special_use(dir: &Path, uses: &[&str]) -> io::Result<()> {
    let tmp = dir.join(format!("{SPECIAL_USE_FILE}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(uses.iter().map(|u| format!("{u}\n")).collect::<String>().as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(SPECIAL_USE_FILE))?;
    sync_dir(dir)
}

/// The special uses a folder was created with (only those this server knows are shown).
pub(crate) fn special_use(dir: &Path) -> Vec<&'static str> {
    let Ok(text) = fs::read_to_string(dir.join(SPECIAL_USE_FILE)) else { return Vec::new() };
    text.lines().filter_map(|l| SPECIAL_USE.iter().find(|(_, a)| *a == l.trim()).map(|(_, a)| *a)).collect()
}

/// What FETCH ENVELOPE / BODY / BODYSTRUCTURE need of a message, computed once: a message
/// file never changes under its UID.
pub(crate) struct Summary {
    pub(crate) envelope: Envelope<'static>,
    pub(crate) structure: BodyStructure<'static>,
}

/// Summaries kept per folder (clients fetch the envelopes of a folder at every sync).
const SUMMARY_CACHE: usize = 4096;

/// One folder in use.
pub(crate) struct Folder {
    pub(crate) dir: PathBuf,
    index: Mutex<Index>,
    changes: Arc<Changes>,
    summaries: Mutex<HashMap<u32, Arc<Summary>>>,
}

/// The folders in use, by directory, and the change notices they share with delivery.
pub(crate) struct Registry {
    folders: Mutex<HashMap<PathBuf, Arc<Folder>>>,
    changes: Arc<Changes>,
}

impl Registry {
    pub(crate) fn new(changes: Arc<Changes>) -> Self {
        Self { folders: Mutex::default(), changes }
    }

    pub(crate) fn folder(&self, dir: &Path) -> Arc<Folder> {
        let mut map = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        // Folders no session holds any more are dropped as others are opened.
        map.retain(|_, f| Arc::strong_count(f) > 1);
        map.entry(dir.to_path_buf())
            .or_insert_with(|| {
                Arc::new(Folder {
                    dir: dir.to_path_buf(),
                    index: Mutex::default(),
                    changes: self.changes.clone(),
                    summaries: Mutex::default(),
                })
            })
            .clone()
    }
}

/// The file at a Maildir's root that holds the last UIDVALIDITY any of its folders got.
const VALIDITY: &str = "sansmail-uidvalidity";

/// A UIDVALIDITY for a folder starting afresh: the time in seconds, but past `old` (the
/// damaged index's) and past every one this Maildir gave before, so that a folder deleted
/// and created again within a second never gets its old one back (RFC 3501 §2.3.1.1).
fn new_validity(dir: &Path, old: u32) -> io::Result<u32> {
    static GIVING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = GIVING.lock().unwrap_or_else(|e| e.into_inner());
    let in_root = dir.file_name().is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
    let root = if in_root { dir.parent().unwrap_or(dir) } else { dir };
    let file = root.join(VALIDITY);
    let last = fs::read_to_string(&file).ok().and_then(|t| t.trim().parse::<u32>().ok()).unwrap_or(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs());
    let validity = u32::try_from(now).unwrap_or(u32::MAX).max(old.saturating_add(1)).max(last.saturating_add(1)).max(1);
    let tmp = root.join(format!("{VALIDITY}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(format!("{validity}\n").as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &file)?;
    Ok(validity)
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Folder {
    /// The summary of message `uid`, from the cache or made by `make` (and kept).
    pub(crate) fn summary(&self, uid: u32, make: impl FnOnce() -> Summary) -> Arc<Summary> {
        if let Some(s) = self.summaries.lock().unwrap_or_else(|e| e.into_inner()).get(&uid) {
            return s.clone();
        }
        let made = Arc::new(make());
        let mut cache = self.summaries.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= SUMMARY_CACHE {
            // Bounded, without bookkeeping: start again (a folder sync refills it).
            cache.clear();
        }
        cache.insert(uid, made.clone());
        made
    }

    /// Subscribes to the folder's change counter.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe(&self.dir)
    }

    /// Tells the sessions watching that something changed.
    pub(crate) fn notify(&self) {
        self.changes.touch(&self.dir);
    }

    /// The index, brought up to date with the files.
    pub(crate) fn lock(&self) -> io::Result<MutexGuard<'_, Index>> {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&mut index)?;
        Ok(index)
    }

    fn refresh(&self, index: &mut Index) -> io::Result<()> {
        if !index.loaded {
            self.load(index)?;
        }
        // Read before the look: a change after it bumps the counter past this.
        let generation = self.changes.generation(&self.dir);
        let mtimes = (mtime(&self.dir.join("new")), mtime(&self.dir.join("cur")));
        // A directory time is trusted only once it is a second old: a file added within
        // the clock's granularity of the last look may not have moved it. Where every
        // change is noticed, an unchanged counter says the same at once (so thousands of
        // sessions woken by one delivery do not each scan the folder for a second).
        let settled = |t: SystemTime| SystemTime::now().duration_since(t).is_ok_and(|d| d.as_secs() >= 1);
        let noticed_none = generation.is_some() && index.seen_generation == generation;
        if index.seen_mtimes == Some(mtimes) && (noticed_none || (settled(mtimes.0) && settled(mtimes.1))) {
            return Ok(());
        }
        index.seen_mtimes = Some(mtimes);
        index.seen_generation = generation;
        // A Maildir file never changes once delivered, and a rename keeps its time: the size
        // and date of a message already looked at are known, and only new files are stat'ed
        // (a look at a busy folder was mostly `statx`, one per file, under the lock).
        let known: HashMap<&str, (u64, SystemTime)> = index
            .messages
            .iter()
            .filter(|m| !m.path.as_os_str().is_empty())
            .map(|m| (m.base.as_str(), (m.size, m.internal)))
            .collect();
        let mut found: HashMap<String, (PathBuf, Flags, u64, SystemTime)> = HashMap::new();
        for sub in ["new", "cur"] {
            let rd = match fs::read_dir(self.dir.join(sub)) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let (base, info) = name.split_once(':').unwrap_or((&name, ""));
                let flags = if sub == "cur" { Flags::from_info(info) } else { Flags::default() };
                let (size, internal) = match known.get(base) {
                    Some(&seen) => seen,
                    None => {
                        let Ok(meta) = e.metadata() else { continue };
                        (meta.len(), meta.modified().unwrap_or(UNIX_EPOCH))
                    }
                };
                found.insert(base.to_owned(), (e.path(), flags, size, internal));
            }
        }
        // Flags changed by another program, or by a rename the index did not record before
        // a crash, get a new mod-sequence: no change hides under one a client has seen.
        let mut changed = Vec::new();
        let mut gone = Vec::new();
        index.messages.retain_mut(|m| match found.remove(&m.base) {
            Some((path, flags, size, internal)) => {
                if m.flags != flags {
                    changed.push(m.uid);
                }
                m.path = path;
                m.flags = flags;
                m.size = size;
                m.internal = internal;
                true
            }
            None => {
                gone.push(m.uid);
                false
            }
        });
        for uid in &changed {
            let modseq = index.bump_modseq();
            if let Some(p) = index.position(*uid) {
                index.messages[p].modseq = modseq;
            }
        }
        if !gone.is_empty() {
            index.note_vanished(gone.iter().copied());
        }
        let mut added: Vec<_> = found.into_iter().collect();
        // New files get UIDs in delivery order.
        added.sort_by(|a, b| (a.1.3, &a.0).cmp(&(b.1.3, &b.0)));
        let grew = !added.is_empty();
        for (base, (path, flags, size, internal)) in added {
            let uid = index.next;
            index.next += 1;
            let modseq = index.bump_modseq();
            index.messages.push(Message { uid, base, path, flags, keywords: Vec::new(), size, internal, modseq });
        }
        if grew || !gone.is_empty() || index.needs_reserve() {
            self.save(index)?;
        }
        Ok(())
    }

    /// Reads the index file, or starts one with a fresh UIDVALIDITY.
    fn load(&self, index: &mut Index) -> io::Result<()> {
        index.loaded = true;
        let text = match fs::read_to_string(self.dir.join(INDEX)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        match super::index::parse(&text) {
            Some(Parsed {
                validity,
                next,
                recent_upto,
                keywords,
                known,
                reserved_modseq,
                vanished,
                vanished_floor,
            }) => {
                index.validity = validity;
                index.next = next;
                index.keywords = keywords;
                for k in &known {
                    index.note_keywords(&k.keywords);
                }
                // An index from before `recent_upto` was kept: what it knew was seen.
                index.recent_upto = recent_upto.unwrap_or(next.saturating_sub(1)).min(next.saturating_sub(1));
                // Mod-sequences go on above every one handed out before (the reserve).
                index.reserved_modseq = reserved_modseq;
                index.highest_modseq = reserved_modseq.max(known.iter().map(|k| k.modseq).max().unwrap_or(0));
                index.vanished = vanished;
                index.vanished_floor = vanished_floor;
                // Known messages keep their UIDs: they are placed before the first look at
                // the files, which drops those gone and numbers only the new ones.
                index.messages = known
                    .into_iter()
                    .map(|Known { uid, base, keywords, modseq, flags }| Message {
                        uid,
                        path: PathBuf::new(),
                        base,
                        // A version 1 index kept no flags: every message's change is new.
                        flags: flags.unwrap_or(Flags(u8::MAX)),
                        keywords,
                        size: 0,
                        internal: UNIX_EPOCH,
                        modseq,
                    })
                    .collect();
            }
            None => {
                // A new folder, or an index that cannot be trusted: new UIDs under a new
                // UIDVALIDITY, never the old one (clients would take new messages for the
                // ones they cached under the same numbers).
                let old = text.split(' ').nth(1).and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
                index.validity = new_validity(&self.dir, old)?;
                index.next = 1;
                index.recent_upto = 0;
                index.messages.clear();
                index.highest_modseq = 0;
                index.vanished.clear();
                index.vanished_floor = 0;
                // Kept at once: the folder shows this UIDVALIDITY from now on, even before
                // it holds a message.
                self.save(index)?;
                if !text.is_empty() {
                    tracing::warn!(folder = %self.dir.display(), validity = index.validity, "UID index damaged: messages renumbered under a new UIDVALIDITY");
                }
            }
        }
        // `refresh` matches the placed messages to files by base name (filling in paths,
        // flags and sizes) and drops those whose file is gone.
        index.seen_mtimes = None;
        Ok(())
    }

    /// Writes the index atomically and durably (a UID once given must survive a crash).
    pub(crate) fn save(&self, index: &mut Index) -> io::Result<()> {
        let (text, reserved) = index.encode();
        let tmp = self.dir.join(format!("{INDEX}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(INDEX))?;
        sync_dir(&self.dir)?;
        index.reserved_modseq = reserved;
        Ok(())
    }

    /// Makes the flag changes since the last call durable (the renames' directories
    /// synced): once per command, before its OK.
    pub(crate) fn sync_flags(&self, index: &mut Index) -> io::Result<()> {
        if index.unsynced {
            sync_dir(&self.dir.join("cur"))?;
            sync_dir(&self.dir.join("new"))?;
            index.unsynced = false;
        }
        Ok(())
    }

    /// Sets a message's system flags and keywords: the file moves to `cur/` with the new
    /// info (made durable by [`Folder::sync_flags`]), and a change gets a new mod-sequence.
    /// Returns whether anything changed.
    pub(crate) fn set_flags(
        &self,
        index: &mut Index,
        pos: usize,
        flags: Flags,
        keywords: Option<Vec<String>>,
    ) -> io::Result<bool> {
        let Some(m) = index.messages.get(pos) else { return Ok(false) };
        let new_keywords = keywords.filter(|k| *k != m.keywords);
        let in_cur = m.path.parent().is_some_and(|p| p.ends_with("cur"));
        let changed = m.flags != flags || new_keywords.is_some();
        if !changed && in_cur {
            return Ok(false);
        }
        if changed {
            let modseq = index.bump_modseq();
            if index.needs_reserve() {
                self.save(index)?;
            }
            let m = &mut index.messages[pos];
            m.modseq = modseq;
            if let Some(k) = new_keywords {
                m.keywords = k;
            }
        }
        let m = &mut index.messages[pos];
        if m.flags == flags && in_cur {
            return Ok(changed);
        }
        let to = self.dir.join("cur").join(format!("{}:{}", m.base, flags.info()));
        fs::rename(&m.path, &to)?;
        m.path = to;
        m.flags = flags;
        index.unsynced = true;
        // Our own rename is not news to the next look.
        index.seen_mtimes = Some((mtime(&self.dir.join("new")), mtime(&self.dir.join("cur"))));
        Ok(changed)
    }

    /// Adds a message file already written to `tmp/` (synced): it moves into `cur/` with
    /// its flags and gets the next UID. Returns the UID.
    pub(crate) fn add(
        &self,
        index: &mut Index,
        tmp: &Path,
        base: &str,
        flags: Flags,
        keywords: Vec<String>,
    ) -> io::Result<u32> {
        let to = self.dir.join("cur").join(format!("{base}:{}", flags.info()));
        fs::rename(tmp, &to)?;
        sync_dir(&self.dir.join("cur"))?;
        let meta = fs::metadata(&to)?;
        let uid = index.next;
        index.next += 1;
        index.note_keywords(&keywords);
        let modseq = index.bump_modseq();
        index.messages.push(Message {
            uid,
            base: base.to_owned(),
            path: to.clone(),
            flags,
            keywords,
            size: meta.len(),
            internal: meta.modified().unwrap_or(UNIX_EPOCH),
            modseq,
        });
        index.seen_mtimes = Some((mtime(&self.dir.join("new")), mtime(&self.dir.join("cur"))));
        if let Err(e) = self.save(index) {
            // Not added, then: the client gets NO, so the message must not stay.
            index.messages.pop();
            let _ = fs::remove_file(&to);
            let _ = sync_dir(&self.dir.join("cur"));
            return Err(e);
        }
        Ok(uid)
    }

    /// Removes messages (by position); returns the octets freed.
    pub(crate) fn remove(&self, index: &mut Index, positions: &[usize]) -> io::Result<u64> {
        let mut freed = 0;
        let mut gone = vec![false; index.messages.len()];
        for &p in positions {
            let Some(m) = index.messages.get(p) else { continue };
            match fs::remove_file(&m.path) {
                Ok(()) => freed += m.size,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            gone[p] = true;
        }
        let uids: Vec<u32> = index.messages.iter().zip(&gone).filter(|(_, g)| **g).map(|(m, _)| m.uid).collect();
        let mut i = 0;
        index.messages.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
        if !uids.is_empty() {
            index.note_vanished(uids);
        }
        for sub in ["new", "cur"] {
            let _ = sync_dir(&self.dir.join(sub));
        }
        index.seen_mtimes = Some((mtime(&self.dir.join("new")), mtime(&self.dir.join("cur"))));
        self.save(index)?;
        Ok(freed)
    }

    /// A unique base name for a message this folder writes itself (APPEND, COPY).
    pub(crate) fn new_base(hostname: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut r = [0u8; 6];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
        let rand: String = r.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}.M{}R{rand}.{hostname}", now.as_secs(), now.subsec_micros())
    }
}

/// The longest wire name a folder can have: its directory is `.` and the name, and
/// directory names stop at 255 octets.
pub(crate) const MAX_NAME_ON_DISK: usize = 250;

/// Creates a Maildir folder's `tmp/`, `new/`, `cur/`.
pub(crate) fn create_maildir(dir: &Path) -> io::Result<()> {
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// Whether a folder name (decoded from modified UTF-7, `.` separated) may be used: no empty
/// level, no `/` or `\`, no LIST wildcard, no control characters, not too long.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.split('.').all(|level| !level.is_empty())
        && !name.chars().any(|c| matches!(c, '/' | '\\' | '*' | '%') || c.is_control())
}

/// The directory of a folder: `INBOX` is the Maildir, others `.Name` inside it (the name
/// in modified UTF-7, as on the wire: ASCII only).
pub(crate) fn folder_dir(maildir: &Path, wire_name: &str) -> PathBuf {
    if wire_name.eq_ignore_ascii_case("INBOX") { maildir.to_path_buf() } else { maildir.join(format!(".{wire_name}")) }
}

/// The folders of a Maildir, as wire names (modified UTF-7), `INBOX` first.
pub(crate) fn list_folders(maildir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(maildir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    let name = n.strip_prefix('.')?;
                    (!name.is_empty() && e.path().join("cur").is_dir()).then(|| name.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.insert(0, "INBOX".to_owned());
    names
}

/// The subscription list (one wire name per line).
pub(crate) fn subscriptions(maildir: &Path) -> Vec<String> {
    fs::read_to_string(maildir.join("subscriptions"))
        .map(|t| t.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Rewrites the subscription list.
pub(crate) fn save_subscriptions(maildir: &Path, list: &[String]) -> io::Result<()> {
    // A name of its own per write (process and count): two sessions of one user (two
    // first logins, say), or the server and the CLI, may save at once, and one's rename
    // must not take the other's file away.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = maildir.join(format!("subscriptions.tmp.{}.{n}", std::process::id()));
    let mut text = list.join("\n");
    text.push('\n');
    fs::write(&tmp, text)?;
    fs::rename(tmp, maildir.join("subscriptions"))
}

/// Creates the special-use folders once per user (a marker keeps deleted ones deleted).
pub(crate) fn ensure_special_use(maildir: &Path) -> io::Result<()> {
    let marker = maildir.join("sansmail-folders");
    if marker.exists() {
        return Ok(());
    }
    create_maildir(maildir)?;
    let mut subs = subscriptions(maildir);
    for (name, _) in SPECIAL_USE {
        create_maildir(&folder_dir(maildir, name))?;
        if !subs.iter().any(|s| s == name) {
            subs.push(name.to_owned());
        }
    }
    if !subs.iter().any(|s| s == "INBOX") {
        subs.insert(0, "INBOX".to_owned());
    }
    save_subscriptions(maildir, &subs)?;
    fs::write(marker, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sansmail-imap-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        create_maildir(&d).unwrap();
        d
    }

    /// Two first logins of one user at once both make the special-use folders; neither
    /// fails (they once shared one temporary file for the subscriptions).
    #[test]
    fn concurrent_first_logins_both_prepare_the_folders() {
        for round in 0..20 {
            let d = tempdir(&format!("special-{round}"));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let d = d.clone();
                    std::thread::spawn(move || ensure_special_use(&d))
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
            assert!(subscriptions(&d).iter().any(|s| s == "Sent"));
            fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn uids_survive_a_reload_and_new_files_get_higher_ones() {
        let d = tempdir("uids");
        fs::write(d.join("new/1.a.host"), "Subject: a\r\n\r\nx\r\n").unwrap();
        fs::write(d.join("cur/2.b.host:2,S"), "Subject: b\r\n\r\ny\r\n").unwrap();
        let reg = Registry::new(Arc::new(Changes::new(crate::store::changes::Mode::Poll)));
        let folder = reg.folder(&d);
        let (validity, uids) = {
            let idx = folder.lock().unwrap();
            (idx.validity, idx.messages.iter().map(|m| (m.uid, m.base.clone(), m.flags)).collect::<Vec<_>>())
        };
        assert_eq!(uids.len(), 2);
        assert!(uids.iter().any(|(_, b, f)| b == "2.b.host" && f.has(Flags::SEEN)));
        drop(folder);
        // A fresh registry (a restart) reads the same UIDs back; a new file gets UID 3.
        fs::write(d.join("new/3.c.host"), "Subject: c\r\n\r\nz\r\n").unwrap();
        let reg = Registry::new(Arc::new(Changes::new(crate::store::changes::Mode::Poll)));
        let folder = reg.folder(&d);
        let mut idx = folder.lock().unwrap();
        assert_eq!(idx.validity, validity);
        for (uid, base, _) in &uids {
            assert_eq!(idx.messages[idx.position(*uid).unwrap()].base, *base);
        }
        assert_eq!(idx.messages.last().unwrap().uid, 3);
        // Flags move the file to cur/ with the Maildir info; the UID stays.
        let pos = idx.position(3).unwrap();
        folder.set_flags(&mut idx, pos, Flags(Flags::SEEN | Flags::FLAGGED), None).unwrap();
        assert!(d.join("cur/3.c.host:2,FS").exists());
        // A file removed behind our back (POP3) is gone at the next look, its UID not reused.
        fs::remove_file(d.join("new/1.a.host")).unwrap();
        drop(idx);
        std::thread::sleep(std::time::Duration::from_millis(10));
        let idx = folder.lock().unwrap();
        assert_eq!(idx.messages.len(), 2);
        assert_eq!(idx.next, 4);
        let _ = fs::remove_dir_all(&d);
    }

    /// A message whose UID cannot be saved is taken back (the client is told NO, so it must
    /// not stay, uncounted); flag renames are recorded as not yet synced until synced.
    #[test]
    fn a_failed_add_leaves_nothing_and_flag_renames_are_synced() {
        let d = tempdir("add-fails");
        let reg = Registry::new(Arc::new(Changes::new(crate::store::changes::Mode::Poll)));
        let folder = reg.folder(&d);
        let mut idx = folder.lock().unwrap();
        // The index cannot be written: its temporary file's name is taken by a folder.
        fs::create_dir(d.join(format!("{INDEX}.tmp"))).unwrap();
        fs::write(d.join("tmp/9.z.host"), "Subject: z\r\n\r\n").unwrap();
        assert!(folder.add(&mut idx, &d.join("tmp/9.z.host"), "9.z.host", Flags::default(), Vec::new()).is_err());
        assert!(idx.messages.is_empty());
        assert_eq!(fs::read_dir(d.join("cur")).unwrap().count(), 0, "the message did not stay");
        fs::remove_dir(d.join(format!("{INDEX}.tmp"))).unwrap();
        fs::write(d.join("tmp/8.y.host"), "Subject: y\r\n\r\n").unwrap();
        let uid = folder.add(&mut idx, &d.join("tmp/8.y.host"), "8.y.host", Flags::default(), Vec::new()).unwrap();
        let pos = idx.position(uid).unwrap();
        folder.set_flags(&mut idx, pos, Flags(Flags::SEEN), None).unwrap();
        assert!(idx.unsynced, "a rename waits for its directory sync");
        folder.sync_flags(&mut idx).unwrap();
        assert!(!idx.unsynced);
        drop(idx);
        let _ = fs::remove_dir_all(&d);
    }

    /// Mod-sequences only grow, across restarts and crashes: a flag change whose index
    /// write never happened is found at the next start and gets a mod-sequence above every
    /// one handed out before; expunges are remembered for VANISHED.
    #[test]
    fn modseqs_survive_a_crash_and_never_go_back() {
        let d = tempdir("modseq");
        fs::write(d.join("new/1.a.host"), "Subject: a\r\n\r\nx\r\n").unwrap();
        fs::write(d.join("new/2.b.host"), "Subject: b\r\n\r\ny\r\n").unwrap();
        let registry = || Registry::new(Arc::new(Changes::new(crate::store::changes::Mode::Poll)));
        let reg = registry();
        let folder = reg.folder(&d);
        let mut idx = folder.lock().unwrap();
        assert_eq!(idx.messages.iter().map(|m| m.modseq).collect::<Vec<_>>(), [1, 2]);
        // A flag change: a new mod-sequence, within the reserve, so no index write.
        assert!(folder.set_flags(&mut idx, 0, Flags(Flags::SEEN), None).unwrap());
        let seen_by_client = idx.messages[0].modseq;
        assert_eq!((seen_by_client, idx.highest_modseq), (3, 3));
        assert!(!folder.set_flags(&mut idx, 0, Flags(Flags::SEEN), None).unwrap(), "no change, no new modseq");
        assert_eq!(idx.highest_modseq, 3);
        // Keywords alone are a change too.
        assert!(folder.set_flags(&mut idx, 1, Flags::default(), Some(vec!["$Work".into()])).unwrap());
        assert_eq!(idx.messages[1].modseq, 4);
        drop(idx);
        drop(folder);
        // The process dies here: the index on disk still has message 1 unflagged at modseq 1.
        let reg = registry();
        let folder = reg.folder(&d);
        let mut idx = folder.lock().unwrap();
        assert!(idx.messages[0].flags.has(Flags::SEEN));
        assert!(idx.messages[0].modseq > seen_by_client, "the lost change is news again");
        assert!(idx.highest_modseq >= idx.messages[0].modseq);
        let before = idx.highest_modseq;
        let freed = folder.remove(&mut idx, &[1]).unwrap();
        assert!(freed > 0);
        assert!(idx.highest_modseq > before);
        assert_eq!(idx.vanished_since(before, None), [(2, 2)]);
        drop(idx);
        drop(folder);
        // A clean restart: everything as it was, HIGHESTMODSEQ not lower.
        let highest = reg.folder(&d).lock().unwrap().highest_modseq;
        drop(reg);
        let reg = registry();
        let idx_folder = reg.folder(&d);
        let idx = idx_folder.lock().unwrap();
        assert!(idx.highest_modseq >= highest);
        assert_eq!(idx.vanished_since(before, None), [(2, 2)]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn names_and_folders() {
        assert!(valid_name("Work.2026"));
        for bad in ["", ".x", "x.", "a..b", "a/b", "a\\b", "a\u{1}", "a*", "50%"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        let d = tempdir("folders");
        ensure_special_use(&d).unwrap();
        let names = list_folders(&d);
        assert_eq!(names, ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]);
        fs::remove_dir_all(d.join(".Junk")).unwrap();
        ensure_special_use(&d).unwrap();
        assert!(!list_folders(&d).contains(&"Junk".to_owned()), "a deleted special folder stays deleted");
        assert!(subscriptions(&d).contains(&"Sent".to_owned()));
        let _ = fs::remove_dir_all(&d);
    }
}
