//! STORE (RFC 3501 §6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3): system flags
//! in the Maildir file names, keywords in the folder's index, each change under a new
//! mod-sequence. A message changed since the client's mod-sequence is left alone and named
//! in `OK [MODIFIED …]`.

use std::io;

use sansmail_imap_proto::command::{Flag, StoreMode};
use sansmail_imap_proto::lex::SeqRange;
use sansmail_imap_proto::response::{Code, Data, FetchItem, Status};
use sansmail_imap_proto::sequence;

use super::commands::{Done, no, ok, system_and_keywords};
use super::selected::{Selected, flag_list};
use super::store::Flags;

/// What one STORE asks.
pub(super) struct Store<'c, 'a> {
    pub(super) uid: bool,
    pub(super) set: &'c [SeqRange],
    pub(super) unchanged_since: Option<u64>,
    pub(super) mode: StoreMode,
    pub(super) silent: bool,
    pub(super) flags: &'c [Flag<'a>],
}

pub(super) fn store(sel: &mut Selected, cmd: &Store<'_, '_>, out: &mut Vec<u8>) -> io::Result<Done> {
    let Store { uid, set, unchanged_since, mode, silent, flags } = *cmd;
    if sel.read_only {
        return Ok(no(Some(Code::ReadOnly), "Mailbox is read-only"));
    }
    let Some(positions) = sel.resolve(set, uid) else {
        return Ok(Done(Status::Bad, None, "Invalid message sequence number".to_owned()));
    };
    let (bits, keywords) = system_and_keywords(flags);
    let folder = sel.folder.clone();
    let mut index = folder.lock()?;
    if mode != StoreMode::Remove {
        if !index.has_room_for(&keywords) {
            return Ok(no(Some(Code::Limit), "Too many keywords in this folder"));
        }
        sel.announce(&keywords, out);
    }
    let mut keywords_changed = mode != StoreMode::Remove && index.note_keywords(&keywords);
    let mut modified = Vec::new();
    for i in positions {
        let k_uid = sel.view[i].uid;
        let Some(p) = index.position(k_uid) else { continue };
        let m = &index.messages[p];
        if unchanged_since.is_some_and(|since| m.modseq > since) {
            modified.push(if uid { k_uid } else { i as u32 + 1 });
            continue;
        }
        let new_bits = match mode {
            StoreMode::Replace => bits.0,
            StoreMode::Add => m.flags.0 | bits.0,
            StoreMode::Remove => m.flags.0 & !bits.0,
        };
        let mut kw = m.keywords.clone();
        match mode {
            StoreMode::Replace => kw.clone_from(&keywords),
            StoreMode::Add => {
                kw.extend(keywords.iter().filter(|k| !m.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))).cloned())
            }
            StoreMode::Remove => kw.retain(|x| !keywords.iter().any(|k| k.eq_ignore_ascii_case(x))),
        }
        keywords_changed |= kw != m.keywords;
        let changed = folder.set_flags(&mut index, p, Flags(new_bits), Some(kw))?;
        let m = &index.messages[p];
        let k = &mut sel.view[i];
        k.flags = m.flags;
        k.keywords.clone_from(&m.keywords);
        k.modseq = m.modseq;
        // Keywords another session set on it are announced before they show.
        sel.announce(&m.keywords, out);
        // With CONDSTORE a change is told with its MODSEQ even when SILENT (RFC 7162 §3.1.3).
        if !silent || (sel.condstore && changed) {
            let mut items = Vec::with_capacity(3);
            if uid || sel.condstore {
                items.push(FetchItem::Uid(k_uid));
            }
            if !silent {
                items.push(FetchItem::Flags(flag_list(m.flags, &m.keywords, sel.shows_recent(k_uid))));
            }
            if sel.condstore {
                items.push(FetchItem::ModSeq(m.modseq));
            }
            Data::Fetch { seq: i as u32 + 1, items: &items }.encode(out);
        }
    }
    folder.sync_flags(&mut index)?;
    if keywords_changed {
        folder.save(&mut index)?;
    }
    drop(index);
    folder.notify();
    if !modified.is_empty() {
        modified.sort_unstable();
        let code = Code::Modified(sequence::ranges(&modified));
        return Ok(Done(Status::Ok, Some(code), "Conditional STORE failed".to_owned()));
    }
    Ok(ok(if uid { "UID STORE completed" } else { "STORE completed" }))
}
