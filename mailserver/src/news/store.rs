//! The news spool: articles, per-group overview and the history of message-ids, behind one
//! narrow interface ([`NewsStore`]) that a distributed backend could replace.
//!
//! On disk, under the data directory's `news/`:
//! - `<group>/<first>.pack`: the group's articles, appended one after another ([`pack`]),
//!   a new pack every [`PACK_BYTES`]; a cross-posted article is in each group's pack, its
//!   `Xref` naming every number. The packs are the truth, as Maildir files are for mail.
//!   [`NewsStore::stage`] appends; [`NewsStore::commit`] syncs every pack written since the
//!   last commit (one sync for all the articles staged meanwhile, by every connection),
//!   then makes them visible; only then may they be acknowledged.
//! - `<group>/.overview`: one line per article (the seven RFC 3977 §8.3 fields, Xref, the
//!   arrival time, where it is in its pack), appended after the commit's sync.
//! - `<group>/.high`: the highest number the group gave and the highest whose overview line
//!   is synced, written at each checkpoint (every thirty seconds, and before anything is
//!   removed), so a number once seen is never given twice and a removed article is never
//!   brought back. (A number staged but never committed was never seen.)
//! - `history`: `message-id TAB arrival TAB group:number…` per article ever stored, kept
//!   after expiry so an old article is not taken again.
//!
//! [`NewsStore::open`] puts a crashed spool right: a pack's torn last record is cut, every
//! article in a pack past the group's synced mark without an overview line gets one (from
//! its header), an overview line whose article is not in its pack is dropped, a group's
//! high-water mark is at least its highest article, and every article's message-id is in
//! the history. So after `kill -9`, whatever was acknowledged is there, whole, and the
//! three agree. Article files of the earlier one-file-per-article layout (or put in a
//! group's folder by hand) are taken into the group's pack at open.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use sansmail_nntp_proto::command::is_newsgroup_name;
use sansmail_nntp_proto::overview::Overview;

mod format;
mod pack;

pub(crate) use self::format::header_value;
use self::format::{entry_of, format_entry, parse_entry, strip_xref};

/// A pack past this size is followed by a new one (an expired pack is removed whole).
const PACK_BYTES: u64 = 64 << 20;

/// Where an article is: its pack (by the pack's first number), and its bytes in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Place {
    pack: u64,
    offset: u64,
    len: u64,
}

/// One article as the overview knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) number: u64,
    pub(crate) subject: String,
    pub(crate) from: String,
    pub(crate) date: String,
    pub(crate) message_id: String,
    pub(crate) references: String,
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
    pub(crate) xref: String,
    /// When it arrived here (NEWNEWS, expiry).
    pub(crate) arrived: SystemTime,
    at: Place,
}

impl Entry {
    /// The OVER line's fields.
    pub(crate) fn overview(&self) -> Overview<'_> {
        Overview {
            number: self.number,
            subject: self.subject.as_bytes(),
            from: self.from.as_bytes(),
            date: self.date.as_bytes(),
            message_id: self.message_id.as_bytes(),
            references: self.references.as_bytes(),
            bytes: self.bytes,
            lines: self.lines,
            xref: self.xref.as_bytes(),
        }
    }
}

/// A group's counts (LIST ACTIVE, GROUP): `low > high` when it holds nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupInfo {
    pub(crate) name: String,
    pub(crate) count: u64,
    pub(crate) low: u64,
    pub(crate) high: u64,
}

/// The pack being appended to.
#[derive(Debug)]
struct Writer {
    pack: u64,
    file: File,
    len: u64,
    /// Appended to since the last sync.
    dirty: bool,
}

#[derive(Debug, Default)]
struct Group {
    /// The highest number given.
    high: u64,
    /// By number.
    entries: Vec<Entry>,
    writer: Option<Writer>,
    /// Packs filled and left since the last commit, still to be synced.
    left: Vec<File>,
}

/// Why an article was not stored.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// Its message-id is in the history.
    Duplicate,
    /// None of its groups is carried here.
    NoGroup,
    Io(io::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// The news spool.
#[derive(Debug)]
pub(crate) struct NewsStore {
    dir: PathBuf,
    /// This server's name, first in `Xref`.
    host: String,
    state: Mutex<State>,
}

/// An article staged, not yet committed.
#[derive(Debug)]
struct Pending {
    message_id: String,
    arrived: SystemTime,
    entries: Vec<(String, Entry)>,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, Group>,
    /// Message-id → where it is (empty once expired everywhere).
    history: HashMap<String, Vec<(String, u64)>>,
    /// Staged since the last commit: appended, not yet synced or visible.
    pending: Vec<Pending>,
    /// Groups whose overview lines are not synced yet.
    touched: HashSet<String>,
    /// Groups whose overview file missed lines (a failed append): rewritten whole from
    /// memory at the next checkpoint, before the synced mark passes them.
    rewrite: HashSet<String>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends `text` to `path` and syncs it.
fn append_synced(path: &Path, text: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text)?;
    f.sync_data()
}

/// Writes a small file atomically and durably.
fn replace_synced(dir: &Path, name: &str, text: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    fs::write(&tmp, text)?;
    File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// A group name that can be a directory: a newsgroup name, no `/`, not `.` or `..`, not a
/// hidden file's name.
pub(crate) fn safe_group(name: &str) -> bool {
    // RFC 5536 §3.1.4: dot-separated components, none empty.
    is_newsgroup_name(name) && !name.contains('/') && name.split('.').all(|c| !c.is_empty()) && name.len() <= 200
}

fn pack_name(first: u64) -> String {
    format!("{first}.pack")
}

impl NewsStore {
    /// Opens (creating) the spool under `dir` for these groups, putting right what a crash
    /// left half done; `host` is this server's name in `Xref`.
    pub(crate) fn open(dir: &Path, groups: &[&str], host: &str) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut state = State::default();
        for line in fs::read_to_string(dir.join("history")).unwrap_or_default().lines() {
            let mut f = line.split('\t');
            let (Some(id), Some(_arrived)) = (f.next(), f.next()) else { continue };
            let places = f
                .next()
                .unwrap_or("")
                .split(' ')
                .filter_map(|p| p.rsplit_once(':'))
                .filter_map(|(g, n)| Some((g.to_owned(), n.parse().ok()?)))
                .collect();
            state.history.insert(id.to_owned(), places);
        }
        let store = Self { dir: dir.to_path_buf(), host: host.to_owned(), state: Mutex::new(State::default()) };
        for name in groups {
            if !safe_group(name) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad newsgroup name {name:?}")));
            }
            let group = store.load_group(name, &mut state.history)?;
            state.groups.insert((*name).to_owned(), group);
        }
        *store.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
        Ok(store)
    }

    /// The spool's directory (`news/`).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn group_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// One group from disk: its packs read back, its overview put in step with them.
    fn load_group(&self, name: &str, history: &mut HashMap<String, Vec<(String, u64)>>) -> io::Result<Group> {
        let dir = self.group_dir(name);
        fs::create_dir_all(&dir)?;
        let marks = fs::read_to_string(dir.join(".high")).unwrap_or_default();
        let mut marks = marks.split_whitespace().map(|w| w.parse::<u64>().unwrap_or(0));
        let (high, synced) = (marks.next().unwrap_or(0), marks.next().unwrap_or(0));
        let mut by_number: HashMap<u64, Entry> = HashMap::new();
        for line in fs::read_to_string(dir.join(".overview")).unwrap_or_default().lines() {
            if let Some(e) = parse_entry(line) {
                by_number.insert(e.number, e);
            }
        }
        let listing: Vec<String> =
            fs::read_dir(&dir)?.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        let mut packs: Vec<u64> = listing.iter().filter_map(|n| n.strip_suffix(".pack")?.parse().ok()).collect();
        packs.sort_unstable();
        let mut loose: Vec<u64> = listing.iter().filter_map(|n| n.parse().ok()).filter(|&n| n > 0).collect();
        loose.sort_unstable();
        let mut entries: Vec<Entry> = Vec::new();
        let mut rebuilt = false;
        let mut writer = None;
        for (i, &first) in packs.iter().enumerate() {
            let path = dir.join(pack_name(first));
            let data = fs::read(&path)?;
            let (records, end) = pack::parse(&data);
            for r in &records {
                let at = Place { pack: first, offset: r.offset, len: r.bytes.len() as u64 };
                match by_number.remove(&r.number) {
                    Some(e) if e.at == at => entries.push(e),
                    // Past the synced mark and without its line: taken in, then the process
                    // died before the line reached the disk.
                    _ if r.number > synced => {
                        let mut e = entry_of(r.number, r.bytes, r.arrived);
                        e.at = at;
                        entries.push(e);
                        rebuilt = true;
                    }
                    // Removed (expired, cancelled) before the last checkpoint.
                    _ => {}
                }
            }
            let file = OpenOptions::new().read(true).append(true).open(&path)?;
            if end < data.len() {
                // A torn last record: never synced, so never acknowledged.
                file.set_len(end as u64)?;
                file.sync_all()?;
            }
            if i + 1 == packs.len() && (end as u64) < PACK_BYTES {
                writer = Some(Writer { pack: first, file, len: end as u64, dirty: false });
            }
        }
        // Lines whose article is not in its pack are dropped.
        rebuilt |= !by_number.is_empty();
        entries.sort_by_key(|e| e.number);
        entries.dedup_by_key(|e| e.number);
        let mut group =
            Group { high: high.max(entries.last().map_or(0, |e| e.number)), entries, writer, left: Vec::new() };
        // Loose article files (the earlier layout, or put here by hand) go into the pack.
        let mut imported = Vec::new();
        for n in loose {
            let path = dir.join(n.to_string());
            if group.entries.binary_search_by_key(&n, |e| e.number).is_ok() {
                continue;
            }
            let raw = fs::read(&path)?;
            let arrived = fs::metadata(&path).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
            let mut e = entry_of(n, &raw, arrived);
            e.at = self.append(name, &mut group, n, &e.message_id.clone(), arrived, &raw)?;
            let at = group.entries.partition_point(|x| x.number < n);
            group.entries.insert(at, e);
            group.high = group.high.max(n);
            imported.push(path);
            rebuilt = true;
        }
        if let Some(w) = group.writer.as_mut() {
            w.file.sync_data()?;
            w.dirty = false;
        }
        for f in group.left.drain(..) {
            f.sync_data()?;
        }
        for path in imported {
            fs::remove_file(path)?;
        }
        if rebuilt {
            let text: String = group.entries.iter().map(format_entry).collect();
            replace_synced(&dir, ".overview", text.as_bytes())?;
        }
        if rebuilt || group.high != high || synced != group.high {
            self.write_marks(name, group.high)?;
        }
        let mut missing = String::new();
        for e in &group.entries {
            let places = history.entry(e.message_id.clone()).or_default();
            if !places.iter().any(|(g, n)| g == name && *n == e.number) {
                places.push((name.to_owned(), e.number));
                missing.push_str(&format!("{}\t{}\t{name}:{}\n", e.message_id, unix(e.arrived), e.number));
            }
        }
        if !missing.is_empty() {
            append_synced(&self.dir.join("history"), missing.as_bytes())?;
        }
        Ok(group)
    }

    /// `.high`: the highest number given, and (the same) the highest whose line is synced.
    fn write_marks(&self, name: &str, high: u64) -> io::Result<()> {
        replace_synced(&self.group_dir(name), ".high", format!("{high} {high}\n").as_bytes())
    }

    /// Appends an article's record to a group's pack (a new pack when it is full); where
    /// its bytes are. Not synced.
    fn append(
        &self,
        name: &str,
        group: &mut Group,
        number: u64,
        message_id: &str,
        arrived: SystemTime,
        bytes: &[u8],
    ) -> io::Result<Place> {
        if group.writer.as_ref().is_none_or(|w| w.len >= PACK_BYTES) {
            let path = self.group_dir(name).join(pack_name(number));
            let file = OpenOptions::new().read(true).create(true).append(true).open(&path)?;
            let len = file.metadata()?.len();
            // A new pack's name must survive a crash with its content.
            sync_dir(&self.group_dir(name))?;
            if let Some(old) = group.writer.replace(Writer { pack: number, file, len, dirty: false })
                && old.dirty
            {
                group.left.push(old.file);
            }
        }
        let Some(w) = group.writer.as_mut() else { return Err(io::Error::other("no pack")) };
        let mut record = Vec::with_capacity(bytes.len() + 96);
        let at = pack::encode(&mut record, number, message_id, arrived, bytes);
        if let Err(e) = w.file.write_all(&record) {
            // Nothing half written stays: the next record must follow a whole one.
            let _ = w.file.set_len(w.len);
            return Err(e);
        }
        let place = Place { pack: w.pack, offset: w.len + at, len: bytes.len() as u64 };
        w.len += record.len() as u64;
        w.dirty = true;
        Ok(place)
    }

    /// A group's counts, if it is carried.
    pub(crate) fn group(&self, name: &str) -> Option<GroupInfo> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.groups.get(name).map(|g| info(name, g))
    }

    /// Every group carried, by name.
    pub(crate) fn groups(&self) -> Vec<GroupInfo> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<GroupInfo> = state.groups.iter().map(|(n, g)| info(n, g)).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Whether a message-id was ever stored, or is being (IHAVE, CHECK, duplicates).
    pub(crate) fn seen(&self, message_id: &str) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.history.contains_key(message_id) || state.pending.iter().any(|p| p.message_id == message_id)
    }

    /// Where an article is now, by message-id: its first group and number.
    pub(crate) fn locate(&self, message_id: &str) -> Option<(String, u64)> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let places = state.history.get(message_id)?;
        places
            .iter()
            .find(|(g, n)| {
                state.groups.get(g).is_some_and(|grp| grp.entries.binary_search_by_key(n, |e| e.number).is_ok())
            })
            .cloned()
    }

    /// Whether a group holds an article of that number.
    pub(crate) fn contains(&self, group: &str, number: u64) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.groups.get(group).is_some_and(|g| g.entries.binary_search_by_key(&number, |e| e.number).is_ok())
    }

    /// An article's bytes, if it is here.
    pub(crate) fn article(&self, group: &str, number: u64) -> io::Result<Option<Vec<u8>>> {
        let at = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(g) = state.groups.get(group) else { return Ok(None) };
            let Ok(i) = g.entries.binary_search_by_key(&number, |e| e.number) else { return Ok(None) };
            g.entries[i].at
        };
        let file = File::open(self.group_dir(group).join(pack_name(at.pack)))?;
        let mut bytes = vec![0; usize::try_from(at.len).map_err(io::Error::other)?];
        file.read_exact_at(&mut bytes, at.offset)?;
        Ok(Some(bytes))
    }

    /// An article's bytes by message-id, if it is here.
    pub(crate) fn article_by_id(&self, message_id: &str) -> Option<Vec<u8>> {
        let (g, n) = self.locate(message_id)?;
        self.article(&g, n).ok().flatten()
    }

    /// The overview entries of a group with numbers in `low..=high`, in order, at most
    /// `limit` of them (a caller going through a large group takes it a batch at a time).
    pub(crate) fn overview(&self, group: &str, low: u64, high: u64, limit: usize) -> Vec<Entry> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(g) = state.groups.get(group) else { return Vec::new() };
        let from = g.entries.partition_point(|e| e.number < low);
        g.entries[from..].iter().take_while(|e| e.number <= high).take(limit).cloned().collect()
    }

    /// The article after `n` (or before it), for NEXT and LAST.
    pub(crate) fn neighbour(&self, group: &str, n: u64, forward: bool) -> Option<Entry> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let g = state.groups.get(group)?;
        let at = g.entries.partition_point(|e| e.number <= n);
        if forward {
            g.entries.get(at).cloned()
        } else {
            let before = g.entries.partition_point(|e| e.number < n);
            before.checked_sub(1).and_then(|i| g.entries.get(i)).cloned()
        }
    }

    /// The message-ids of articles in groups `wanted` accepts that arrived at or after `since`
    /// (NEWNEWS), each once.
    pub(crate) fn since(&self, since: SystemTime, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = state
            .groups
            .iter()
            .filter(|(n, _)| wanted(n))
            .flat_map(|(_, g)| g.entries.iter().filter(|e| e.arrived >= since).map(|e| e.message_id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Stores an article now: [`Self::stage`], then [`Self::commit`].
    #[cfg(test)]
    pub(crate) fn store(
        &self,
        article: &[u8],
        message_id: &str,
        groups: &[&str],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let places = self.stage(article, message_id, groups)?;
        self.commit()?;
        Ok(places)
    }

    /// Takes an article for `groups` (those carried here), numbered in each and appended to
    /// each one's pack, not yet synced; returns `(group, number)` per group. It is neither
    /// visible nor durable until [`Self::commit`] returns; it counts as seen at once. `Xref`
    /// is added to the stored copy.
    pub(crate) fn stage(
        &self,
        article: &[u8],
        message_id: &str,
        groups: &[&str],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.history.contains_key(message_id) || state.pending.iter().any(|p| p.message_id == message_id) {
            return Err(StoreError::Duplicate);
        }
        let mut targets: Vec<&str> = groups.iter().copied().filter(|g| state.groups.contains_key(*g)).collect();
        targets.dedup();
        if targets.is_empty() {
            return Err(StoreError::NoGroup);
        }
        let places: Vec<(String, u64)> =
            targets.iter().map(|g| ((*g).to_owned(), state.groups.get(*g).map_or(0, |grp| grp.high) + 1)).collect();
        let xref = std::iter::once(self.host.clone())
            .chain(places.iter().map(|(g, n)| format!("{g}:{n}")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut stored = format!("Xref: {xref}\r\n").into_bytes();
        stored.extend_from_slice(strip_xref(article));
        let arrived = SystemTime::now();
        let mut entries = Vec::with_capacity(places.len());
        for (g, n) in &places {
            let Some(mut grp) = state.groups.remove(g) else { continue };
            let appended = self.append(g, &mut grp, *n, message_id, arrived, &stored);
            if appended.is_ok() {
                grp.high = *n;
            }
            state.groups.insert(g.clone(), grp);
            let mut e = entry_of(*n, &stored, arrived);
            e.xref.clone_from(&xref);
            e.at = appended?;
            entries.push((g.clone(), e));
        }
        state.pending.push(Pending { message_id: message_id.to_owned(), arrived, entries });
        Ok(places)
    }

    /// Makes every staged article durable (one sync per pack written, for all of them),
    /// writes their overview and history lines and makes them visible; returns their
    /// message-ids. Articles other callers staged are committed too.
    pub(crate) fn commit(&self) -> io::Result<Vec<String>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.commit_locked(&mut state)
    }

    fn commit_locked(&self, state: &mut State) -> io::Result<Vec<String>> {
        if state.pending.is_empty() {
            return Ok(Vec::new());
        }
        for g in state.groups.values_mut() {
            for f in g.left.drain(..) {
                f.sync_data()?;
            }
            if let Some(w) = g.writer.as_mut().filter(|w| w.dirty) {
                w.file.sync_data()?;
                w.dirty = false;
            }
        }
        let pending = std::mem::take(&mut state.pending);
        let mut overview: HashMap<&str, String> = HashMap::new();
        let mut history = String::new();
        for p in &pending {
            history.push_str(&format!("{}\t{}\t", p.message_id, unix(p.arrived)));
            for (i, (g, e)) in p.entries.iter().enumerate() {
                overview.entry(g.as_str()).or_default().push_str(&format_entry(e));
                if i > 0 {
                    history.push(' ');
                }
                history.push_str(&format!("{g}:{}", e.number));
            }
            history.push('\n');
        }
        // Not synced: the packs are, and `open` rebuilds these lines from them.
        let written = (|| -> io::Result<()> {
            for (g, lines) in &overview {
                let path = self.group_dir(g).join(".overview");
                OpenOptions::new().create(true).append(true).open(path)?.write_all(lines.as_bytes())?;
            }
            OpenOptions::new().create(true).append(true).open(self.dir.join("history"))?.write_all(history.as_bytes())
        })();
        if let Err(e) = written {
            tracing::warn!(error = %e, "news overview or history line not written; rewritten at the next checkpoint");
            state.rewrite.extend(overview.keys().map(|g| (*g).to_owned()));
        }
        let mut ids = Vec::with_capacity(pending.len());
        for p in pending {
            let mut places = Vec::with_capacity(p.entries.len());
            for (g, e) in p.entries {
                places.push((g.clone(), e.number));
                if let Some(grp) = state.groups.get_mut(&g) {
                    let at = grp.entries.partition_point(|x| x.number < e.number);
                    grp.entries.insert(at, e);
                }
                state.touched.insert(g);
            }
            state.history.insert(p.message_id.clone(), places);
            ids.push(p.message_id);
        }
        Ok(ids)
    }

    /// Syncs the overview and history lines written since the last checkpoint and moves the
    /// groups' synced marks up to them.
    pub(crate) fn checkpoint(&self) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.checkpoint_locked(&mut state)
    }

    fn checkpoint_locked(&self, state: &mut State) -> io::Result<()> {
        self.commit_locked(state)?;
        if state.touched.is_empty() {
            return Ok(());
        }
        if let Ok(f) = File::open(self.dir.join("history")) {
            f.sync_data()?;
        }
        for g in std::mem::take(&mut state.touched) {
            let Some(grp) = state.groups.get(&g) else { continue };
            if state.rewrite.remove(&g) {
                let text: String = grp.entries.iter().map(format_entry).collect();
                replace_synced(&self.group_dir(&g), ".overview", text.as_bytes())?;
            } else if let Ok(f) = File::open(self.group_dir(&g).join(".overview")) {
                f.sync_data()?;
            }
            self.write_marks(&g, grp.high)?;
        }
        Ok(())
    }

    /// Starts carrying a group (its directory made, or what it holds read back).
    pub(crate) fn add_group(&self, name: &str) -> io::Result<()> {
        if !safe_group(name) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad newsgroup name {name:?}")));
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.groups.contains_key(name) {
            return Ok(());
        }
        let group = self.load_group(name, &mut state.history)?;
        state.groups.insert(name.to_owned(), group);
        Ok(())
    }

    /// Stops carrying a group; its files stay (adding it again brings them back).
    pub(crate) fn remove_group(&self, name: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // What it took in is made durable first.
        if let Err(e) = self.checkpoint_locked(&mut state) {
            tracing::warn!(group = name, error = %e, "news checkpoint before removing a group failed");
        }
        state.groups.remove(name);
    }

    /// Puts a message-id in the history without an article (a control message acted on,
    /// a cancelled article not seen yet): it is refused from now on.
    pub(crate) fn remember(&self, message_id: &str) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.history.contains_key(message_id) {
            return Ok(());
        }
        let now = unix(SystemTime::now());
        append_synced(&self.dir.join("history"), format!("{message_id}\t{now}\t\n").as_bytes())?;
        state.history.insert(message_id.to_owned(), Vec::new());
        Ok(())
    }

    /// Removes an article from every group (a cancel), its bytes overwritten in the packs;
    /// its message-id stays in the history. Returns whether it was here.
    pub(crate) fn remove(&self, message_id: &str) -> io::Result<bool> {
        let places = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match state.history.get(message_id) {
                Some(p) => p.clone(),
                None => return Ok(false),
            }
        };
        let mut found = false;
        for (g, n) in places {
            found |= self.drop_where(&g, |e| e.number == n, true)? > 0;
        }
        Ok(found)
    }

    /// Removes a group's articles that arrived before `before`; returns how many. Their
    /// message-ids stay in the history; the high-water mark stays.
    pub(crate) fn expire(&self, group: &str, before: SystemTime) -> io::Result<usize> {
        self.drop_where(group, |e| e.arrived < before, false)
    }

    /// Removes a group's articles that `gone` picks: the marks moved up first (nothing
    /// removed is brought back from a pack), then the overview rewritten, then packs left
    /// with no article removed (`scrub`: the articles' bytes overwritten at once); how many.
    fn drop_where(&self, group: &str, gone: impl Fn(&Entry) -> bool, scrub: bool) -> io::Result<usize> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.groups.get(group).is_some_and(|g| g.entries.iter().any(&gone)) {
            return Ok(0);
        }
        state.touched.insert(group.to_owned());
        self.checkpoint_locked(&mut state)?;
        let Some(g) = state.groups.get_mut(group) else { return Ok(0) };
        let old: Vec<Entry> = g.entries.iter().filter(|e| gone(e)).cloned().collect();
        g.entries.retain(|e| !gone(e));
        let dir = self.group_dir(group);
        let text: String = g.entries.iter().map(format_entry).collect();
        replace_synced(&dir, ".overview", text.as_bytes())?;
        let kept: HashSet<u64> = g.entries.iter().map(|e| e.at.pack).collect();
        let writing = g.writer.as_ref().map(|w| w.pack);
        let mut emptied: Vec<u64> =
            old.iter().map(|e| e.at.pack).filter(|p| !kept.contains(p) && Some(*p) != writing).collect();
        emptied.sort_unstable();
        emptied.dedup();
        for pack in &emptied {
            match fs::remove_file(dir.join(pack_name(*pack))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        if scrub {
            for e in old.iter().filter(|e| !emptied.contains(&e.at.pack)) {
                let file = OpenOptions::new().write(true).open(dir.join(pack_name(e.at.pack)))?;
                file.write_all_at(&vec![b'X'; usize::try_from(e.at.len).unwrap_or(0)], e.at.offset)?;
                file.sync_data()?;
            }
        }
        sync_dir(&dir)?;
        Ok(old.len())
    }
}

fn info(name: &str, g: &Group) -> GroupInfo {
    match (g.entries.first(), g.entries.last()) {
        (Some(first), Some(last)) => {
            GroupInfo { name: name.to_owned(), count: g.entries.len() as u64, low: first.number, high: last.number }
        }
        // Empty: RFC 3977 §6.1.1.2 asks for high = low - 1 (or 0 0).
        _ => GroupInfo { name: name.to_owned(), count: 0, low: g.high + 1, high: g.high },
    }
}

#[cfg(test)]
mod tests;
