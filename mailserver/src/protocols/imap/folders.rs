//! Folder commands: CREATE, DELETE, RENAME, LIST/LSUB (with RFC 5258's basic selection
//! and return options), STATUS. Names are checked (strict modified UTF-7, no empty levels)
//! before they become directories.

use std::fs;
use std::io;
use std::path::Path;

use serde::Deserialize;

use sansmail_imap_proto::command::{Mailbox, StatusItem};
use sansmail_imap_proto::response::{Code, Data};

use super::Connection;
use super::commands::{Done, exists, folder_of, is_inbox, no, ok, wire_name};
use super::store::{self, Flags, SPECIAL_USE};

/// Refuses a new folder name past the configured length (as stored: modified UTF-7), or a
/// new folder past the configured count.
fn may_add(limits: &ImapConfig, maildir: &Path, mailbox: &Mailbox<'_>) -> Option<Done> {
    if wire_name(mailbox).len() > limits.max_folder_name.min(store::MAX_NAME_ON_DISK) {
        return Some(no(Some(Code::Limit), "Mailbox name too long"));
    }
    // INBOX is in the list and not counted.
    if store::list_folders(maildir).len() > limits.max_folders {
        return Some(no(Some(Code::Limit), "Too many mailboxes"));
    }
    None
}

pub(super) fn create(
    limits: &ImapConfig,
    maildir: &Path,
    mailbox: &Mailbox<'_>,
    special_use: &[&str],
) -> io::Result<Done> {
    if is_inbox(mailbox) {
        return Ok(no(Some(Code::AlreadyExists), "INBOX always exists"));
    }
    // CREATE-SPECIAL-USE (RFC 6154 §3): the uses a folder of real messages can have (not
    // \All or \Flagged, which would be views of other folders).
    let mut uses: Vec<&str> = Vec::new();
    for u in special_use {
        match SPECIAL_USE.iter().find(|(_, a)| a[1..].eq_ignore_ascii_case(u)) {
            Some((_, attribute)) => {
                if !uses.contains(attribute) {
                    uses.push(attribute);
                }
            }
            None => return Ok(no(Some(Code::UseAttr), "Special use not supported")),
        }
    }
    let Some(dir) = folder_of(maildir, mailbox) else { return Ok(no(Some(Code::Cannot), "Invalid mailbox name")) };
    if exists(&dir) {
        return Ok(no(Some(Code::AlreadyExists), "Mailbox exists"));
    }
    if let Some(refused) = may_add(limits, maildir, mailbox) {
        return Ok(refused);
    }
    store::create_maildir(&dir)?;
    if !uses.is_empty() {
        store::save_special_use(&dir, &uses)?;
    }
    Ok(ok("Created"))
}

pub(super) fn delete(conn: &mut Connection, user: &str, maildir: &Path, mailbox: &Mailbox<'_>) -> io::Result<Done> {
    if is_inbox(mailbox) {
        return Ok(no(Some(Code::Cannot), "INBOX cannot be deleted"));
    }
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d) && d != maildir) else {
        return Ok(no(Some(Code::Nonexistent), "No such mailbox"));
    };
    if conn.selected.as_ref().is_some_and(|s| s.folder.dir == dir) {
        conn.selected = None;
    }
    let size: u64 = ["new", "cur"]
        .iter()
        .filter_map(|s| fs::read_dir(dir.join(s)).ok())
        .flatten()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    fs::remove_dir_all(&dir)?;
    conn.shared.quotas.remove(user, size);
    conn.shared.imap_folders.folder(&dir).notify();
    Ok(ok("Deleted"))
}

pub(super) fn rename(limits: &ImapConfig, maildir: &Path, from: &Mailbox<'_>, to: &Mailbox<'_>) -> io::Result<Done> {
    let (Some(src), Some(dst)) = (folder_of(maildir, from), folder_of(maildir, to)) else {
        return Ok(no(Some(Code::Cannot), "Invalid mailbox name"));
    };
    if is_inbox(to) || exists(&dst) {
        return Ok(no(Some(Code::AlreadyExists), "Target mailbox exists"));
    }
    if !exists(&src) {
        return Ok(no(Some(Code::Nonexistent), "No such mailbox"));
    }
    let (old, new) = (wire_name(from), wire_name(to));
    // Children are renamed with their parent, so the new names must fit too.
    let children: Vec<String> = store::list_folders(maildir)
        .into_iter()
        .filter_map(|n| n.strip_prefix(&format!("{old}.")).map(str::to_owned))
        .collect();
    let longest = children.iter().map(|c| new.len() + 1 + c.len()).max().unwrap_or(0).max(new.len());
    if longest > limits.max_folder_name.min(store::MAX_NAME_ON_DISK) {
        return Ok(no(Some(Code::Limit), "Mailbox name too long"));
    }
    if is_inbox(from) {
        if let Some(refused) = may_add(limits, maildir, to) {
            return Ok(refused);
        }
        // RFC 3501 §6.3.5: the inbox's messages move to the new folder; INBOX stays, empty.
        store::create_maildir(&dst)?;
        for sub in ["new", "cur"] {
            for e in fs::read_dir(src.join(sub))?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let target = if name.contains(':') { name } else { format!("{name}:2,") };
                fs::rename(e.path(), dst.join("cur").join(target))?;
            }
        }
        return Ok(ok("Renamed"));
    }
    fs::rename(&src, &dst)?;
    // Children move with their parent: `.old.x` becomes `.new.x`. They were listed before
    // the parent moved, so a new name under the old one (`a` to `a.b`) is not taken again.
    for child in children {
        fs::rename(maildir.join(format!(".{old}.{child}")), maildir.join(format!(".{new}.{child}")))?;
    }
    Ok(ok("Renamed"))
}

/// SUBSCRIBE: a valid name (it need not exist, RFC 3501 §6.3.6), up to the configured
/// count; the list is rewritten only when it changes.
pub(super) fn subscribe(limits: &ImapConfig, maildir: &Path, mailbox: &Mailbox<'_>) -> io::Result<Done> {
    if folder_of(maildir, mailbox).is_none() || wire_name(mailbox).len() > limits.max_folder_name {
        return Ok(no(Some(Code::Cannot), "Invalid mailbox name"));
    }
    let name = wire_name(mailbox);
    let mut subs = store::subscriptions(maildir);
    if subs.contains(&name) {
        return Ok(ok("Completed"));
    }
    if subs.len() >= limits.max_subscriptions {
        return Ok(no(Some(Code::Limit), "Too many subscriptions"));
    }
    subs.push(name);
    store::save_subscriptions(maildir, &subs)?;
    Ok(ok("Completed"))
}

/// LIST/LSUB pattern matching: `*` matches anything, `%` anything but the delimiter.
/// Linear in the name for each pattern position (a set of positions advanced together,
/// never backtracking), so no pattern can take exponential time.
fn pattern_matches(pattern: &[u8], name: &[u8]) -> bool {
    // A run of wildcards is one `*` if it holds one, else one `%`.
    let mut p: Vec<u8> = Vec::with_capacity(pattern.len());
    for &c in pattern {
        match (p.last_mut(), c) {
            (Some(last @ (b'*' | b'%')), b'*' | b'%') => {
                if c == b'*' {
                    *last = b'*';
                }
            }
            _ => p.push(c),
        }
    }
    if p.iter().filter(|c| !matches!(c, b'*' | b'%')).count() > name.len() {
        return false;
    }
    // at[i]: the pattern's first i octets can match the name read so far.
    let mut at = vec![false; p.len() + 1];
    let mut next = vec![false; p.len() + 1];
    at[0] = true;
    let close = |at: &mut [bool]| {
        // A wildcard matches the empty string: reaching it reaches what follows.
        for i in 0..p.len() {
            if at[i] && matches!(p[i], b'*' | b'%') {
                at[i + 1] = true;
            }
        }
    };
    close(&mut at);
    for &c in name {
        next.iter_mut().for_each(|x| *x = false);
        for i in 0..p.len() {
            if !at[i] {
                continue;
            }
            match p[i] {
                b'*' => next[i] = true,
                b'%' if c != b'.' => next[i] = true,
                b'%' => {}
                lit if lit == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.contains(&true) {
            return false;
        }
        std::mem::swap(&mut at, &mut next);
    }
    at[p.len()]
}

/// What a LIST or LSUB shows (RFC 5258's selection and return options).
#[derive(Clone, Copy)]
pub(super) struct Listing {
    pub(super) lsub: bool,
    pub(super) subscribed_only: bool,
    /// RECURSIVEMATCH: a matching parent of subscribed folders the patterns do not match is
    /// listed with `CHILDINFO ("SUBSCRIBED")`.
    pub(super) recursive: bool,
    pub(super) special_use_only: bool,
    pub(super) show_subscribed: bool,
    /// Names shown in UTF-8 (IMAP4rev2).
    pub(super) utf8: bool,
}

/// LIST or LSUB of `patterns` under `reference`. `listed` is called after each LIST line of
/// a folder that exists (LIST-STATUS writes its STATUS there).
pub(super) fn list(
    maildir: &Path,
    reference: &[u8],
    patterns: &[&[u8]],
    how: Listing,
    out: &mut Vec<u8>,
    listed: &mut dyn FnMut(&str, &mut Vec<u8>),
) {
    if patterns.iter().any(|p| p.is_empty()) && !how.lsub {
        Data::List { attributes: vec!["\\Noselect"], delimiter: Some('.'), mailbox: b"", child_info: vec![] }
            .encode(out);
    }
    let full: Vec<Vec<u8>> = patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| reference.iter().chain(p.iter()).copied().collect())
        .collect();
    if full.is_empty() {
        return;
    }
    let folders = store::list_folders(maildir);
    let subs = store::subscriptions(maildir);
    let matches = |name: &str| {
        let candidate = if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name };
        full.iter().any(|f| {
            pattern_matches(f, candidate.as_bytes())
                || candidate == "INBOX" && pattern_matches(&f.to_ascii_uppercase(), b"INBOX")
        })
    };
    let parents = |name: &str| name.match_indices('.').map(|(i, _)| name[..i].to_owned()).collect::<Vec<_>>();
    // The names to look at: the folders, or the subscriptions (and, with RECURSIVEMATCH,
    // their parents), each once, in order.
    let mut names: std::collections::BTreeSet<String> =
        if how.subscribed_only { subs.iter().cloned().collect() } else { folders.iter().cloned().collect() };
    if how.subscribed_only && how.recursive {
        names.extend(subs.iter().flat_map(|s| parents(s)));
    }
    let percent = full.iter().any(|f| f.contains(&b'%'));
    let mut parents_named: Vec<String> = Vec::new();
    for name in &names {
        let matched = matches(name);
        let subscribed = subs.contains(name);
        if !matched && percent && (how.lsub || !how.subscribed_only) {
            // `%`: a level of hierarchy the pattern matches, above a folder it does not, is
            // named once with `\Noselect` when it is not a folder (LIST, RFC 3501 §6.3.8) or
            // not subscribed (LSUB, §6.3.9) itself.
            let parent = parents(name)
                .into_iter()
                .find(|p| matches(p) && !(if how.lsub { subs.contains(p) } else { folders.contains(p) }));
            if let Some(parent) = parent.filter(|p| !parents_named.contains(p)) {
                if how.lsub {
                    Data::Lsub {
                        attributes: vec!["\\Noselect"],
                        delimiter: Some('.'),
                        mailbox: &super::commands::shown(&parent, how.utf8),
                    }
                    .encode(out);
                } else {
                    let mut attributes = vec!["\\Noselect", "\\HasChildren"];
                    if how.show_subscribed && subs.contains(&parent) {
                        attributes.push("\\Subscribed");
                    }
                    Data::List {
                        attributes,
                        delimiter: Some('.'),
                        mailbox: &super::commands::shown(&parent, how.utf8),
                        child_info: vec![],
                    }
                    .encode(out);
                }
                parents_named.push(parent);
            }
            continue;
        }
        if !matched {
            continue;
        }
        // The uses given at CREATE, else those of the folders every user gets.
        let mut special: Vec<&str> = store::special_use(&store::folder_dir(maildir, name));
        if special.is_empty() {
            special.extend(SPECIAL_USE.iter().find(|(n, _)| *n == name.as_str()).map(|(_, a)| *a));
        }
        if how.special_use_only && special.is_empty() {
            continue;
        }
        let prefix = format!("{name}.");
        // RECURSIVEMATCH: a folder that is not subscribed is listed only for the subscribed
        // children the patterns do not list themselves.
        let mut child_info = Vec::new();
        if how.subscribed_only && how.recursive {
            if subs.iter().any(|s| s.starts_with(&prefix) && !matches(s)) {
                child_info.push("SUBSCRIBED");
            }
            if !subscribed && child_info.is_empty() {
                continue;
            }
        }
        let mut attributes = Vec::new();
        let children = folders.iter().any(|f| f.starts_with(&prefix));
        attributes.push(if children { "\\HasChildren" } else { "\\HasNoChildren" });
        let exists = folders.contains(name);
        if !exists {
            attributes.push(if how.lsub { "\\Noselect" } else { "\\NonExistent" });
        }
        if how.show_subscribed && subscribed {
            attributes.push("\\Subscribed");
        }
        attributes.extend(special);
        let mailbox = super::commands::shown(name, how.utf8);
        if how.lsub {
            Data::Lsub { attributes, delimiter: Some('.'), mailbox: &mailbox }.encode(out);
        } else {
            Data::List { attributes, delimiter: Some('.'), mailbox: &mailbox, child_info }.encode(out);
            if exists {
                listed(name, out);
            }
        }
    }
}

pub(super) fn status(
    conn: &Connection,
    maildir: &Path,
    mailbox: &Mailbox<'_>,
    items: &[StatusItem],
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d)) else {
        return Ok(no(Some(Code::Nonexistent), "No such mailbox"));
    };
    let folder = conn.shared.imap_folders.folder(&dir);
    let index = folder.lock()?;
    let count = |f: &dyn Fn(&store::Message) -> bool| index.messages.iter().filter(|m| f(m)).count() as u64;
    let values: Vec<(StatusItem, u64)> = items
        .iter()
        .map(|&item| {
            let v = match item {
                StatusItem::Messages => index.messages.len() as u64,
                StatusItem::Recent => count(&|m| m.uid > index.recent_upto),
                StatusItem::UidNext => u64::from(index.next),
                StatusItem::UidValidity => u64::from(index.validity),
                StatusItem::Unseen => count(&|m| !m.flags.has(Flags::SEEN)),
                StatusItem::Deleted => count(&|m| m.flags.has(Flags::DELETED)),
                StatusItem::HighestModSeq => index.highest_modseq,
                _ => index.messages.iter().map(|m| m.size).sum(),
            };
            (item, v)
        })
        .collect();
    let name = wire_name(mailbox);
    Data::Status { mailbox: &super::commands::shown(&name, conn.utf8_names), items: values }.encode(out);
    Ok(ok("STATUS completed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns() {
        assert!(pattern_matches(b"*", b"a.b.c"));
        assert!(pattern_matches(b"%", b"Sent"));
        assert!(!pattern_matches(b"%", b"a.b"));
        assert!(pattern_matches(b"a.%", b"a.b"));
        assert!(!pattern_matches(b"a.%", b"a.b.c"));
        assert!(pattern_matches(b"a*c", b"a.b.c"));
        assert!(!pattern_matches(b"", b"x"));
        assert!(pattern_matches(b"%*%.c", b"a.b.c") && pattern_matches(b"a%%", b"ab"));
        assert!(!pattern_matches(b"a%*%b", b"ac") && pattern_matches(b"a%*%b", b"a.b"));
    }

    /// Hostile patterns cost time linear in the name: 32 wildcards against a 200-octet
    /// name that almost matches, 100 times (the backtracking matcher never finished one
    /// with 16).
    #[test]
    fn hostile_patterns_are_linear() {
        let name = "a".repeat(199) + "c";
        let pattern = "*a".repeat(32) + "*b";
        for _ in 0..100 {
            assert!(!pattern_matches(pattern.as_bytes(), name.as_bytes()));
        }
        assert!(pattern_matches(("*a".repeat(32) + "*c").as_bytes(), name.as_bytes()));
    }
}

/// `[imap]`: what one account may make of its folders.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ImapConfig {
    /// Folders besides INBOX.
    pub(crate) max_folders: usize,
    /// Octets of a folder name as stored (modified UTF-7, hierarchy included); at most 250.
    pub(crate) max_folder_name: usize,
    /// Names on the subscription list.
    pub(crate) max_subscriptions: usize,
    /// How changes made outside the server reach IDLE sessions: `inotify` or `poll`.
    pub(crate) folder_watch: crate::store::changes::Mode,
}

impl Default for ImapConfig {
    fn default() -> Self {
        // Generous for any mail client (Thunderbird users with thousands of folders are
        // rare), small enough that a hostile account cannot fill a directory.
        Self {
            max_folders: 1000,
            max_folder_name: 200,
            max_subscriptions: 1000,
            folder_watch: crate::store::changes::Mode::Inotify,
        }
    }
}
