//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267): PARTIAL results, and search results kept up
//! to date (`RETURN (UPDATE)`) until CANCELUPDATE or the folder is closed.
//!
//! A kept result holds the command's octets (parsed again at each look: a few hundred octets,
//! not a parse tree tied to a buffer) and its messages by UID, in the result's order. After
//! each command, and while the client IDLEs, a result whose folder changed (its highest
//! mod-sequence, UIDNEXT or size moved) is computed again and the difference told as one
//! `ESEARCH … ADDTO (…) REMOVEFROM (…)`. Messages expunged from it are told in a REMOVEFROM
//! before their EXPUNGE, while their message numbers are still the client's.

use std::collections::{HashMap, HashSet};

use sansmail_imap_proto::command::{Body, Command, ReturnOption};
use sansmail_imap_proto::response::{Code, Data, Status, StatusResponse};
use sansmail_imap_proto::{Tag, sequence};

use super::selected::Selected;

/// Results one session may keep up to date: past it, `OK [NOUPDATE "tag"]`.
pub(super) const MAX_CONTEXTS: usize = 8;

/// A search result kept up to date.
#[derive(Debug)]
pub(crate) struct Context {
    tag: String,
    uid: bool,
    /// SORT's order rather than ascending.
    sorted: bool,
    command: Vec<u8>,
    /// The result, by UID, in its order.
    uids: Vec<u32>,
}

/// PARTIAL's answer: the results at positions `low..=high` of `ids`, in their order.
pub(super) fn partial(opts: &[ReturnOption], ids: &[u32]) -> Option<sansmail_imap_proto::response::PartialResult> {
    opts.iter().find_map(|o| match *o {
        ReturnOption::Partial { low, high } => {
            let from = (low as usize - 1).min(ids.len());
            let to = (high as usize).min(ids.len());
            Some(((low, high), sequence::ranges(&ids[from..to])))
        }
        _ => None,
    })
}

/// Keeps the result of the SEARCH or SORT being answered (its octets `command`), or says
/// `NOUPDATE` when the session keeps as many as it may.
pub(super) fn keep(
    sel: &mut Selected,
    tag: &str,
    uid: bool,
    sorted: bool,
    command: &[u8],
    uids: Vec<u32>,
    out: &mut Vec<u8>,
) {
    sel.contexts.retain(|c| c.tag != tag);
    if sel.contexts.len() >= MAX_CONTEXTS {
        if let Ok(tag) = Tag::new(tag) {
            let code = Code::NoUpdate(tag);
            StatusResponse { tag: None, status: Status::Ok, code: Some(&code), text: "Too many search results kept" }
                .encode(out);
        }
        return;
    }
    sel.contexts.push(Context { tag: tag.to_owned(), uid, sorted, command: command.to_vec(), uids });
    // Just computed: the look after this command need not compute it again.
    sel.context_stamp = stamp(sel);
}

/// What says whether the folder changed since the results were computed.
fn stamp(sel: &Selected) -> Option<(u64, u32, usize, usize)> {
    let index = sel.folder.lock().ok()?;
    Some((index.highest_modseq, index.next, index.messages.len(), sel.view.len()))
}

/// CANCELUPDATE: the results of these tags are no longer kept.
pub(super) fn cancel(sel: &mut Selected, tags: &[std::borrow::Cow<'_, [u8]>]) {
    sel.contexts.retain(|c| !tags.iter().any(|t| **t == *c.tag.as_bytes()));
}

/// Before messages leave the view (positions ascending, numbers still the client's): a
/// REMOVEFROM for each kept result that held some of them.
pub(super) fn expunging(sel: &mut Selected, positions: &[usize], out: &mut Vec<u8>) {
    if sel.contexts.is_empty() {
        return;
    }
    // UID → message number, of those leaving.
    let gone: HashMap<u32, u32> = positions.iter().map(|&i| (sel.view[i].uid, i as u32 + 1)).collect();
    for c in &mut sel.contexts {
        let mut removed: Vec<u32> =
            c.uids.iter().filter_map(|u| gone.get(u).map(|&seq| if c.uid { *u } else { seq })).collect();
        if removed.is_empty() {
            continue;
        }
        c.uids.retain(|u| !gone.contains_key(u));
        removed.sort_unstable();
        write_changes(c, Vec::new(), sequence::ranges(&removed), out);
    }
}

/// After a command (or a change seen while idling): each kept result computed again if the
/// folder changed, and its difference told.
pub(super) fn refresh(sel: &mut Selected, out: &mut Vec<u8>) {
    if sel.contexts.is_empty() {
        return;
    }
    let now = stamp(sel);
    if now.is_none() || sel.context_stamp == now {
        return;
    }
    sel.context_stamp = now;
    let mut contexts = std::mem::take(&mut sel.contexts);
    for c in &mut contexts {
        let Some(now) = evaluate(sel, c) else { continue };
        // The view is in UID order: a message number is a binary search away.
        let seq_of = |uid: u32| sel.view.binary_search_by_key(&uid, |k| k.uid).map_or(0, |i| i as u32 + 1);
        let id = |uid: u32| if c.uid { uid } else { seq_of(uid) };
        let (before, after): (HashSet<u32>, HashSet<u32>) =
            (c.uids.iter().copied().collect(), now.iter().copied().collect());
        let mut removed: Vec<u32> = c.uids.iter().filter(|u| !after.contains(u)).map(|&u| id(u)).collect();
        removed.sort_unstable();
        let added: Vec<(u32, u32)> = now
            .iter()
            .enumerate()
            .filter(|(_, u)| !before.contains(u))
            .map(|(position, &u)| (if c.sorted { position as u32 + 1 } else { 0 }, id(u)))
            .collect();
        c.uids = now;
        // Additions grouped into runs that go in at one position (every one, for SEARCH).
        let mut add_to: Vec<(u32, Vec<u32>)> = Vec::new();
        for (position, id) in added {
            match add_to.last_mut() {
                Some((p, ids)) if !c.sorted || *p + ids.len() as u32 == position => ids.push(id),
                _ => add_to.push((position, vec![id])),
            }
        }
        let add_to = add_to
            .into_iter()
            .map(|(p, mut ids)| {
                if !c.sorted {
                    ids.sort_unstable();
                }
                (p, sequence::ranges(&ids))
            })
            .collect();
        write_changes(c, add_to, sequence::ranges(&removed), out);
    }
    sel.contexts = contexts;
}

/// The result of a kept SEARCH or SORT now, by UID in its order.
fn evaluate(sel: &Selected, c: &Context) -> Option<Vec<u32>> {
    let command = Command::parse(&c.command).ok()?;
    match &command.body {
        Body::Search { keys, .. } => {
            Some(super::commands::matching(sel, keys).ok()?.into_iter().map(|(_, m)| m.uid).collect())
        }
        Body::Sort { criteria, keys, .. } => {
            let found = super::commands::matching(sel, keys).ok()?;
            Some(super::sort::ordered(sel, criteria, found).into_iter().map(|(_, u)| u).collect())
        }
        _ => None,
    }
}

fn write_changes(c: &Context, add_to: Vec<(u32, Vec<(u32, u32)>)>, removed: Vec<(u32, u32)>, out: &mut Vec<u8>) {
    if add_to.is_empty() && removed.is_empty() {
        return;
    }
    let Ok(tag) = Tag::new(&c.tag) else { return };
    let remove_from = if removed.is_empty() { Vec::new() } else { vec![(0, removed)] };
    Data::ESearch {
        tag,
        uid: c.uid,
        min: None,
        max: None,
        count: None,
        all: None,
        partial: None,
        add_to,
        remove_from,
        modseq: None,
    }
    .encode(out);
}
