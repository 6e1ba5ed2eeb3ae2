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

/// System flags, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(pub(crate) u8);

impl Flags {
    pub(crate) const SEEN: u8 = 1;
    pub(crate) const ANSWERED: u8 = 2;
    pub(crate) const FLAGGED: u8 = 4;
    pub(crate) const DELETED: u8 = 8;
    pub(crate) const DRAFT: u8 = 16;
    /// (IMAP name, Maildir letter) of each, in the Maildir letters' ASCII order.
    pub(crate) const NAMES: [(u8, &'static str, char); 5] = [
        (Self::DRAFT, "Draft", 'D'),
        (Self::FLAGGED, "Flagged", 'F'),
        (Self::ANSWERED, "Answered", 'R'),
        (Self::SEEN, "Seen", 'S'),
        (Self::DELETED, "Deleted", 'T'),
    ];

    pub(crate) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// The bit of a system flag name (`Seen`, any case); `None` for `\Recent` and unknown ones.
    pub(crate) fn bit(name: &str) -> Option<u8> {
        Self::NAMES.iter().find(|(_, n, _)| n.eq_ignore_ascii_case(name)).map(|(b, _, _)| *b)
    }

    fn from_info(info: &str) -> Self {
        let letters = info.strip_prefix("2,").unwrap_or("");
        Self(Self::NAMES.iter().filter(|(_, _, c)| letters.contains(*c)).fold(0, |acc, (b, _, _)| acc | b))
    }

    fn info(self) -> String {
        let mut s = String::from("2,");
        s.extend(Self::NAMES.iter().filter(|(b, _, _)| self.has(*b)).map(|(_, _, c)| c));
        s
    }
}

/// One message as the index knows it.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) uid: u32,
    /// The Maildir base name (before `:`), stable across flag changes.
    pub(crate) base: String,
    /// The file, under `new/` or `cur/`.
    pub(crate) path: PathBuf,
    pub(crate) flags: Flags,
    pub(crate) keywords: Vec<String>,
    pub(crate) size: u64,
    /// Delivery time (the file's modification time): INTERNALDATE.
    pub(crate) internal: SystemTime,
}

/// A folder's index, as loaded and kept in step with the files.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) validity: u32,
    pub(crate) next: u32,
    /// Sorted by UID.
    pub(crate) messages: Vec<Message>,
    /// UIDs up to this one have been announced as `\Recent` to some session.
    pub(crate) recent_upto: u32,
    /// Every keyword set in the folder so far, in the order first set: FLAGS lists them.
    /// The list only grows (clients take a keyword missing from FLAGS as dropped).
    pub(crate) keywords: Vec<String>,
    loaded: bool,
    seen_mtimes: Option<(SystemTime, SystemTime)>,
    /// The folder's change counter when the last look began, if every change bumps it.
    seen_generation: Option<u64>,
    /// Flag renames not yet made durable ([`Folder::sync_flags`]).
    unsynced: bool,
}

/// Keywords one folder may hold: past it, a STORE or APPEND of a new one gets `NO [LIMIT]`.
pub(crate) const MAX_KEYWORDS: usize = 256;

impl Index {
    pub(crate) fn position(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Whether the folder's list has room for these keywords.
    pub(crate) fn has_room_for(&self, keywords: &[String]) -> bool {
        let new = keywords.iter().filter(|k| !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))).count();
        new == 0 || self.keywords.len() + new <= MAX_KEYWORDS
    }

    /// Adds to the folder's list the keywords it does not hold yet; whether any was new.
    pub(crate) fn note_keywords(&mut self, keywords: &[String]) -> bool {
        let before = self.keywords.len();
        for k in keywords {
            if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                self.keywords.push(k.clone());
            }
        }
        self.keywords.len() > before
    }
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
        let before = index.messages.len();
        index.messages.retain_mut(|m| match found.remove(&m.base) {
            Some((path, flags, size, internal)) => {
                m.path = path;
                m.flags = flags;
                m.size = size;
                m.internal = internal;
                true
            }
            None => false,
        });
        let mut added: Vec<_> = found.into_iter().collect();
        // New files get UIDs in delivery order.
        added.sort_by(|a, b| (a.1.3, &a.0).cmp(&(b.1.3, &b.0)));
        let grew = !added.is_empty();
        for (base, (path, flags, size, internal)) in added {
            let uid = index.next;
            index.next += 1;
            index.messages.push(Message { uid, base, path, flags, keywords: Vec::new(), size, internal });
        }
        if grew || index.messages.len() != before {
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
        match parse_index(&text) {
            Some(Parsed { validity, next, recent_upto, keywords, known }) => {
                index.validity = validity;
                index.next = next;
                index.keywords = keywords;
                for (_, _, k) in &known {
                    index.note_keywords(k);
                }
                // An index from before `recent_upto` was kept: what it knew was seen.
                index.recent_upto = recent_upto.unwrap_or(next.saturating_sub(1)).min(next.saturating_sub(1));
                // Known messages keep their UIDs: they are placed before the first look at
                // the files, which drops those gone and numbers only the new ones.
                index.messages = known
                    .into_iter()
                    .map(|(uid, base, keywords)| Message {
                        uid,
                        path: PathBuf::new(),
                        base,
                        flags: Flags::default(),
                        keywords,
                        size: 0,
                        internal: UNIX_EPOCH,
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
    pub(crate) fn save(&self, index: &Index) -> io::Result<()> {
        let mut text = format!("1 {} {} {}", index.validity, index.next, index.recent_upto);
        for k in &index.keywords {
            text.push(' ');
            text.push_str(k);
        }
        text.push('\n');
        for m in &index.messages {
            text.push_str(&format!("{} {}", m.uid, m.base));
            for k in &m.keywords {
                text.push(' ');
                text.push_str(k);
            }
            text.push('\n');
        }
        let tmp = self.dir.join(format!("{INDEX}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(INDEX))?;
        sync_dir(&self.dir)
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

    /// Sets a message's system flags: the file moves to `cur/` with the new info, made
    /// durable by [`Folder::sync_flags`].
    pub(crate) fn set_flags(&self, index: &mut Index, pos: usize, flags: Flags) -> io::Result<()> {
        let Some(m) = index.messages.get_mut(pos) else { return Ok(()) };
        if m.flags == flags && m.path.parent().is_some_and(|p| p.ends_with("cur")) {
            return Ok(());
        }
        let to = self.dir.join("cur").join(format!("{}:{}", m.base, flags.info()));
        fs::rename(&m.path, &to)?;
        m.path = to;
        m.flags = flags;
        index.unsynced = true;
        // Our own rename is not news to the next look.
        index.seen_mtimes = Some((mtime(&self.dir.join("new")), mtime(&self.dir.join("cur"))));
        Ok(())
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
        index.messages.push(Message {
            uid,
            base: base.to_owned(),
            path: to.clone(),
            flags,
            keywords,
            size: meta.len(),
            internal: meta.modified().unwrap_or(UNIX_EPOCH),
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
        let mut i = 0;
        index.messages.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
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

/// A known message in the index file: UID, base name, keywords.
type Known = (u32, String, Vec<String>);

/// What an index file holds.
struct Parsed {
    validity: u32,
    next: u32,
    /// The last UID announced as `\Recent` (absent from files written before it was kept).
    recent_upto: Option<u32>,
    /// The folder's keywords, in the order first set.
    keywords: Vec<String>,
    known: Vec<Known>,
}

/// The index file (`1 <validity> <next> [<recent_upto>]` then `<uid> <base> [keyword…]`
/// lines, sorted), or `None` when it is empty or cannot be trusted: a header that does not
/// read, a file cut short (no final line end), a line that does not read, UIDs out of order
/// or at or past UIDNEXT.
fn parse_index(text: &str) -> Option<Parsed> {
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    let header: Vec<&str> = lines.next()?.split(' ').collect();
    let (validity, next, recent_upto, keywords) = match header[..] {
        ["1", validity, next] => (validity, next, None, Vec::new()),
        ["1", validity, next, recent, ref keywords @ ..] => {
            if keywords.iter().any(|k| k.is_empty()) {
                return None;
            }
            (validity, next, Some(recent.parse::<u32>().ok()?), keywords.iter().map(|k| (*k).to_owned()).collect())
        }
        _ => return None,
    };
    let (validity, next): (u32, u32) =
        (validity.parse().ok().filter(|&v| v > 0)?, next.parse().ok().filter(|&n| n > 0)?);
    let mut known: Vec<Known> = Vec::new();
    for line in lines {
        let mut parts = line.split(' ');
        let uid: u32 = parts.next()?.parse().ok()?;
        let base = parts.next().filter(|b| !b.is_empty())?;
        if uid == 0 || uid >= next || known.last().is_some_and(|k| k.0 >= uid) {
            return None;
        }
        known.push((uid, base.to_owned(), parts.map(str::to_owned).collect()));
    }
    Some(Parsed { validity, next, recent_upto, keywords, known })
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
        folder.set_flags(&mut idx, pos, Flags(Flags::SEEN | Flags::FLAGGED)).unwrap();
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
        folder.set_flags(&mut idx, pos, Flags(Flags::SEEN)).unwrap();
        assert!(idx.unsynced, "a rename waits for its directory sync");
        folder.sync_flags(&mut idx).unwrap();
        assert!(!idx.unsynced);
        drop(idx);
        let _ = fs::remove_dir_all(&d);
    }

    /// An index cut anywhere, or out of step with itself, is never read as one that names
    /// other messages under the same UIDVALIDITY.
    #[test]
    fn a_damaged_index_is_not_trusted() {
        let text = "1 1700000000 12 5\n1 aaa\n5 bbb $Junk\n11 ccc\n";
        let p = parse_index(text).unwrap();
        assert_eq!((p.validity, p.next, p.recent_upto, p.known.len()), (1_700_000_000, 12, Some(5), 3));
        for cut in 0..text.len() {
            match parse_index(&text[..cut]) {
                None => {}
                // Only at a line end: the same header, fewer messages (they get new UIDs).
                Some(q) => {
                    assert_eq!(
                        (q.validity, q.next, q.recent_upto),
                        (p.validity, p.next, p.recent_upto),
                        "cut at {cut}"
                    );
                    assert!(q.known.len() < p.known.len() && p.known.starts_with(&q.known), "cut at {cut}");
                }
            }
        }
        // The folder's keywords follow `recent_upto`.
        let p = parse_index("1 17 5 2 $Junk \\Seen-not-a-keyword $Work\n1 a $Work\n").unwrap();
        assert_eq!(p.keywords, ["$Junk", "\\Seen-not-a-keyword", "$Work"]);
        // An index written before `recent_upto` was kept still reads.
        assert_eq!(parse_index("1 1700000000 12\n1 aaa\n").map(|p| p.recent_upto), Some(None));
        for bad in [
            "1 1700000000 5\n5 aaa\n",
            "1 1700000000 9\n3 a\n2 b\n",
            "1 0 5\n",
            "2 17 5\n",
            "1 17 5\nx a\n",
            "1 17 5 x\n",
            "1 17 5 1  $Junk\n",
        ] {
            assert!(parse_index(bad).is_none(), "{bad:?}");
        }
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
