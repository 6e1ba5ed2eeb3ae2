//! Folder commands: CREATE, DELETE, RENAME, LIST/LSUB (with RFC 5258's basic selection
//! and return options), STATUS. Names are checked (strict modified UTF-7, no empty levels)
//! before they become directories.

use std::fs;
use std::io;
use std::path::Path;

use sansmail_imap_proto::command::{Mailbox, StatusItem};
use sansmail_imap_proto::response::{Code, Data, write_data};

use super::Connection;
use super::commands::{Done, exists, folder_of, no, ok, wire_name};
use super::store::{self, Flags, SPECIAL_USE};

pub(super) fn create(maildir: &Path, mailbox: &Mailbox<'_>) -> io::Result<Done> {
    if *mailbox == Mailbox::Inbox {
        return Ok(no(Some(Code::AlreadyExists), "INBOX always exists"));
    }
    let Some(dir) = folder_of(maildir, mailbox) else { return Ok(no(Some(Code::Cannot), "Invalid mailbox name")) };
    if exists(&dir) {
        return Ok(no(Some(Code::AlreadyExists), "Mailbox exists"));
    }
    store::create_maildir(&dir)?;
    Ok(ok("Created"))
}

pub(super) fn delete(conn: &mut Connection, user: &str, maildir: &Path, mailbox: &Mailbox<'_>) -> io::Result<Done> {
    if *mailbox == Mailbox::Inbox {
        return Ok(no(Some(Code::Cannot), "INBOX cannot be deleted"));
    }
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d)) else {
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

pub(super) fn rename(maildir: &Path, from: &Mailbox<'_>, to: &Mailbox<'_>) -> io::Result<Done> {
    let (Some(src), Some(dst)) = (folder_of(maildir, from), folder_of(maildir, to)) else {
        return Ok(no(Some(Code::Cannot), "Invalid mailbox name"));
    };
    if *to == Mailbox::Inbox || exists(&dst) {
        return Ok(no(Some(Code::AlreadyExists), "Target mailbox exists"));
    }
    if !exists(&src) {
        return Ok(no(Some(Code::Nonexistent), "No such mailbox"));
    }
    if *from == Mailbox::Inbox {
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
    let (old, new) = (wire_name(from), wire_name(to));
    fs::rename(&src, &dst)?;
    // Children move with their parent: `.old.x` becomes `.new.x`.
    for e in fs::read_dir(maildir)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = n.strip_prefix(&format!(".{old}.")) {
            fs::rename(e.path(), maildir.join(format!(".{new}.{rest}")))?;
        }
    }
    Ok(ok("Renamed"))
}

/// LIST/LSUB pattern matching: `*` matches anything, `%` anything but the delimiter.
fn pattern_matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| pattern_matches(rest, &name[i..])),
        Some((b'%', rest)) => {
            (0..=name.len()).take_while(|&i| i == 0 || name[i - 1] != b'.').any(|i| pattern_matches(rest, &name[i..]))
        }
        Some((&c, rest)) => name.first() == Some(&c) && pattern_matches(rest, &name[1..]),
    }
}

/// What a LIST or LSUB shows (RFC 5258's selection and return options, the basics).
#[derive(Clone, Copy)]
pub(super) struct Listing {
    pub(super) lsub: bool,
    pub(super) subscribed_only: bool,
    pub(super) special_use_only: bool,
    pub(super) show_subscribed: bool,
}

pub(super) fn list(maildir: &Path, reference: &[u8], pattern: &[u8], how: Listing, out: &mut Vec<u8>) {
    if pattern.is_empty() && !how.lsub {
        write_data(out, &Data::List { attributes: vec!["\\Noselect"], delimiter: Some('.'), mailbox: b"" });
        return;
    }
    // Bounded work for hostile patterns: `*` runs are collapsed, and few wildcards allowed.
    let mut full: Vec<u8> = reference.iter().chain(pattern).copied().collect();
    full.dedup_by(|a, b| *a == b'*' && *b == b'*');
    if full.iter().filter(|&&b| b == b'*' || b == b'%').count() > 16 {
        return;
    }
    let folders = store::list_folders(maildir);
    let subs = store::subscriptions(maildir);
    let names: &[String] = if how.subscribed_only { &subs } else { &folders };
    for name in names {
        let candidate = if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name.as_str() };
        let matched = pattern_matches(&full, candidate.as_bytes())
            || candidate == "INBOX" && pattern_matches(&full.to_ascii_uppercase(), b"INBOX");
        let special = SPECIAL_USE.iter().find(|(n, _)| *n == name.as_str()).map(|(_, a)| *a);
        if !matched || how.special_use_only && special.is_none() {
            continue;
        }
        let mut attributes = Vec::new();
        let prefix = format!("{name}.");
        let children = folders.iter().any(|f| f.starts_with(&prefix));
        attributes.push(if children { "\\HasChildren" } else { "\\HasNoChildren" });
        if !folders.contains(name) {
            attributes.push(if how.lsub { "\\Noselect" } else { "\\NonExistent" });
        }
        if how.show_subscribed && subs.contains(name) {
            attributes.push("\\Subscribed");
        }
        attributes.extend(special);
        let data = if how.lsub {
            Data::Lsub { attributes, delimiter: Some('.'), mailbox: name.as_bytes() }
        } else {
            Data::List { attributes, delimiter: Some('.'), mailbox: name.as_bytes() }
        };
        write_data(out, &data);
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
                _ => index.messages.iter().map(|m| m.size).sum(),
            };
            (item, v)
        })
        .collect();
    let name = wire_name(mailbox);
    write_data(out, &Data::Status { mailbox: name.as_bytes(), items: values });
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
    }
}
