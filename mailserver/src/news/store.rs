//! The news spool: articles, per-group overview and the history of message-ids, behind one
//! narrow interface ([`NewsStore`]) that a distributed backend could replace.
//!
//! On disk, under the data directory's `news/`:
//! - `<group>/<number>`: an article, written whole and synced before it is acknowledged;
//!   a cross-posted article is one file hard-linked into each group, its `Xref` naming
//!   every number. The files are the truth, as Maildir files are for mail.
//! - `<group>/.high`: the highest number the group ever gave, synced *before* the article is
//!   written, so a number is never given twice, not after a crash, not after expiry.
//! - `<group>/.overview`: one line per article (the seven RFC 3977 §8.3 fields, Xref, the
//!   arrival time), appended and synced after the article file.
//! - `history`: `message-id TAB arrival TAB group:number…` per article ever stored, appended
//!   and synced last, kept after expiry so an old article is not taken again.
//!
//! [`NewsStore::open`] puts a crashed spool right: an article file without an overview
//! line gets one (from its header), an overview line without its file is dropped, a group's
//! high-water mark is at least its highest article, and every article's message-id is in
//! the history. So after `kill -9`, whatever was acknowledged is there and the three agree.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sansmail_nntp_proto::command::is_newsgroup_name;
use sansmail_nntp_proto::overview::{Overview, write_field};

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

#[derive(Debug, Default)]
struct Group {
    /// The highest number given (synced to `.high`).
    high: u64,
    /// By number.
    entries: Vec<Entry>,
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

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, Group>,
    /// Message-id → where it is (empty once expired everywhere).
    history: HashMap<String, Vec<(String, u64)>>,
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

/// A group name that can be a directory: a newsgroup name, no `/`, not `.` or `..`, not a
/// hidden file's name.
pub(crate) fn safe_group(name: &str) -> bool {
    // RFC 5536 §3.1.4: dot-separated components, none empty.
    is_newsgroup_name(name) && !name.contains('/') && name.split('.').all(|c| !c.is_empty()) && name.len() <= 200
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

    /// One group from disk, its overview put in step with its files.
    fn load_group(&self, name: &str, history: &mut HashMap<String, Vec<(String, u64)>>) -> io::Result<Group> {
        let dir = self.group_dir(name);
        fs::create_dir_all(&dir)?;
        let high: u64 = fs::read_to_string(dir.join(".high")).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        let mut files: Vec<u64> = fs::read_dir(&dir)?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
            .filter(|&n| n > 0)
            .collect();
        files.sort_unstable();
        let mut by_number: HashMap<u64, Entry> = HashMap::new();
        for line in fs::read_to_string(dir.join(".overview")).unwrap_or_default().lines() {
            if let Some(e) = parse_entry(line) {
                by_number.insert(e.number, e);
            }
        }
        let mut entries = Vec::with_capacity(files.len());
        let mut rebuilt = Vec::new();
        for n in &files {
            match by_number.remove(n) {
                Some(e) => entries.push(e),
                None => {
                    // Stored, then the process died before its overview line: make it now.
                    let path = dir.join(n.to_string());
                    let raw = fs::read(&path)?;
                    let arrived = fs::metadata(&path).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
                    let e = entry_of(*n, &raw, arrived);
                    rebuilt.push(e.clone());
                    entries.push(e);
                }
            }
        }
        if !rebuilt.is_empty() || !by_number.is_empty() {
            // Lines of articles gone (expired, or never written) are dropped; the file is
            // rewritten whole.
            let mut text = String::new();
            for e in &entries {
                text.push_str(&format_entry(e));
            }
            let tmp = dir.join(".overview.tmp");
            fs::write(&tmp, &text)?;
            File::open(&tmp)?.sync_all()?;
            fs::rename(&tmp, dir.join(".overview"))?;
            sync_dir(&dir)?;
        }
        let last = entries.last().map_or(0, |e| e.number);
        let group = Group { high: high.max(last), entries };
        if group.high != high {
            self.write_high(name, group.high)?;
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

    fn write_high(&self, name: &str, high: u64) -> io::Result<()> {
        let dir = self.group_dir(name);
        let tmp = dir.join(".high.tmp");
        fs::write(&tmp, format!("{high}\n"))?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, dir.join(".high"))?;
        sync_dir(&dir)
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

    /// Whether a message-id was ever stored (IHAVE, CHECK, duplicates).
    pub(crate) fn seen(&self, message_id: &str) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).history.contains_key(message_id)
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

    /// The article's file, if it is here.
    pub(crate) fn path(&self, group: &str, number: u64) -> Option<PathBuf> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let g = state.groups.get(group)?;
        g.entries.binary_search_by_key(&number, |e| e.number).ok()?;
        Some(self.group_dir(group).join(number.to_string()))
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

    /// Stores an article in `groups` (those carried here; a cross-post is one file linked
    /// into each). Returns `(group, number)` per group. The article, its overview lines and
    /// its history line are synced before this returns: then, and only then, it may be
    /// acknowledged. `Xref` is added to the stored copy.
    pub(crate) fn store(
        &self,
        article: &[u8],
        message_id: &str,
        groups: &[&str],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.history.contains_key(message_id) {
            return Err(StoreError::Duplicate);
        }
        let mut targets: Vec<&str> = groups.iter().copied().filter(|g| state.groups.contains_key(*g)).collect();
        targets.dedup();
        if targets.is_empty() {
            return Err(StoreError::NoGroup);
        }
        // Numbers first, made durable: a crash from here on leaves a gap, never a reuse.
        let mut places = Vec::with_capacity(targets.len());
        for g in &targets {
            let high = state.groups.get(*g).map_or(0, |grp| grp.high) + 1;
            self.write_high(g, high)?;
            if let Some(grp) = state.groups.get_mut(*g) {
                grp.high = high;
            }
            places.push(((*g).to_owned(), high));
        }
        let xref_value = std::iter::once(self.host.clone())
            .chain(places.iter().map(|(g, n)| format!("{g}:{n}")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut stored = format!("Xref: {xref_value}\r\n").into_bytes();
        stored.extend_from_slice(strip_xref(article));
        let arrived = SystemTime::now();
        // One file, synced, then linked into each group.
        let (first_group, first_number) = &places[0];
        let first = self.group_dir(first_group).join(first_number.to_string());
        let tmp = self.group_dir(first_group).join(format!(".{first_number}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&stored)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &first)?;
        sync_dir(&self.group_dir(first_group))?;
        for (g, n) in &places[1..] {
            let to = self.group_dir(g).join(n.to_string());
            if fs::hard_link(&first, &to).is_err() {
                fs::copy(&first, &to)?;
                File::open(&to)?.sync_all()?;
            }
            sync_dir(&self.group_dir(g))?;
        }
        let mut history_line = format!("{message_id}\t{}\t", unix(arrived));
        for (i, (g, n)) in places.iter().enumerate() {
            let mut e = entry_of(*n, &stored, arrived);
            e.xref = xref_value.clone();
            append_synced(&self.group_dir(g).join(".overview"), format_entry(&e).as_bytes())?;
            if let Some(grp) = state.groups.get_mut(g) {
                grp.entries.push(e);
            }
            if i > 0 {
                history_line.push(' ');
            }
            history_line.push_str(&format!("{g}:{n}"));
        }
        history_line.push('\n');
        append_synced(&self.dir.join("history"), history_line.as_bytes())?;
        state.history.insert(message_id.to_owned(), places.clone());
        Ok(places)
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
        self.state.lock().unwrap_or_else(|e| e.into_inner()).groups.remove(name);
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

    /// Removes an article from every group (a cancel); its message-id stays in the history.
    /// Returns whether it was here.
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
            found |= self.drop_where(&g, |e| e.number == n)? > 0;
        }
        Ok(found)
    }

    /// Removes a group's articles that arrived before `before`; returns how many. Their
    /// message-ids stay in the history; the high-water mark stays.
    pub(crate) fn expire(&self, group: &str, before: SystemTime) -> io::Result<usize> {
        self.drop_where(group, |e| e.arrived < before)
    }

    /// Removes a group's articles that `gone` picks: the overview rewritten first, then the
    /// files; how many.
    fn drop_where(&self, group: &str, gone: impl Fn(&Entry) -> bool) -> io::Result<usize> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(g) = state.groups.get_mut(group) else { return Ok(0) };
        let old: Vec<u64> = g.entries.iter().filter(|e| gone(e)).map(|e| e.number).collect();
        if old.is_empty() {
            return Ok(0);
        }
        g.entries.retain(|e| !gone(e));
        let dir = self.group_dir(group);
        let mut text = String::new();
        for e in &g.entries {
            text.push_str(&format_entry(e));
        }
        // The overview first: a crash then leaves files without lines, which `open` puts
        // back, rather than lines without files.
        let tmp = dir.join(".overview.tmp");
        fs::write(&tmp, &text)?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, dir.join(".overview"))?;
        for n in &old {
            match fs::remove_file(dir.join(n.to_string())) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
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

/// The article without an `Xref` field of its own (a server's Xref is its own to write).
fn strip_xref(article: &[u8]) -> &[u8] {
    if article.len() >= 5 && article[..5].eq_ignore_ascii_case(b"Xref:") {
        // Only a leading Xref is dropped here; the poster-side checks refuse others.
        let end = memchr::memmem::find(article, b"\r\n").map_or(article.len(), |p| p + 2);
        return &article[end..];
    }
    article
}

/// The overview of an article file.
fn entry_of(number: u64, raw: &[u8], arrived: SystemTime) -> Entry {
    let header_end = memchr::memmem::find(raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let (head, body) = raw.split_at(header_end);
    let field = |name: &str| -> String {
        let mut out = Vec::new();
        if let Some(v) = header_value(head, name) {
            write_field(&mut out, &v);
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let lines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    Entry {
        number,
        subject: field("Subject"),
        from: field("From"),
        date: field("Date"),
        message_id: field("Message-ID"),
        references: field("References"),
        bytes: raw.len() as u64,
        lines,
        xref: field("Xref"),
        arrived,
    }
}

/// A header field's value, folded lines joined, from a header block.
pub(crate) fn header_value(head: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut value: Option<Vec<u8>> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = value.as_mut() {
            if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii());
                continue;
            }
            return value;
        }
        if line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()] == b':'
        {
            value = Some(line[name.len() + 1..].trim_ascii().to_vec());
        }
    }
    value
}

/// An overview file line: the OVER line's fields, then the arrival time.
fn format_entry(e: &Entry) -> String {
    let mut line = Vec::new();
    e.overview().encode(&mut line);
    line.truncate(line.len() - 2);
    format!("{}\t{}\n", String::from_utf8_lossy(&line), unix(e.arrived))
}

fn parse_entry(line: &str) -> Option<Entry> {
    let (over, arrived) = line.rsplit_once('\t')?;
    let o = Overview::parse(over.as_bytes())?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(Entry {
        number: o.number,
        subject: text(o.subject),
        from: text(o.from),
        date: text(o.date),
        message_id: text(o.message_id),
        references: text(o.references),
        bytes: o.bytes,
        lines: o.lines,
        xref: text(o.xref),
        arrived: UNIX_EPOCH + Duration::from_secs(arrived.parse().ok()?),
    })
}

#[cfg(test)]
mod tests;
