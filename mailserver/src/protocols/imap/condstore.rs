//! CONDSTORE and QRESYNC (RFC 7162) around the commands: which commands turn CONDSTORE on,
//! SELECT's resynchronisation (`VANISHED (EARLIER)` and the changed messages' flags), and
//! UID FETCH's `VANISHED` modifier. The mod-sequences themselves live in the folder's
//! index ([`super::index`]).

use sansmail_imap_proto::command::{Body, FetchAttr, Qresync, StatusItem};
use sansmail_imap_proto::lex::SeqRange;
use sansmail_imap_proto::response::{Code, Data, FetchItem, Status, StatusResponse};
use sansmail_imap_proto::sequence;

use super::index::Index;
use super::search::has_modseq;
use super::selected::{Selected, flag_list};

/// Whether a command turns CONDSTORE on for the rest of the session (RFC 7162 §3.1).
pub(super) fn enables(body: &Body<'_>) -> bool {
    match body {
        Body::Select { params, .. } | Body::Examine { params, .. } => params.condstore || params.qresync.is_some(),
        Body::Fetch { attributes, modifiers, .. } => {
            modifiers.changed_since.is_some() || attributes.contains(&FetchAttr::ModSeq)
        }
        Body::Store { unchanged_since, .. } => unchanged_since.is_some(),
        Body::Search { keys, .. } | Body::Sort { keys, .. } | Body::Thread { keys, .. } => has_modseq(keys),
        Body::Status { items, .. } => items.contains(&StatusItem::HighestModSeq),
        _ => false,
    }
}

/// `* OK [HIGHESTMODSEQ n]`.
pub(super) fn write_highest(index: &Index, out: &mut Vec<u8>) {
    let code = Code::HighestModSeq(index.highest_modseq);
    StatusResponse { tag: None, status: Status::Ok, code: Some(&code), text: "Highest" }.encode(out);
}

/// `* VANISHED (EARLIER)` for the UIDs of `set` (all when `None`) expunged after `since`.
pub(super) fn write_vanished_earlier(index: &Index, since: u64, set: Option<&[SeqRange]>, out: &mut Vec<u8>) {
    let largest = index.next.saturating_sub(1);
    let known = set.map(|s| normalized(s, largest));
    Data::Vanished { earlier: true, uids: index.vanished_since(since, known.as_deref()) }.encode(out);
}

/// A client's UID set as sorted, disjoint ranges within 1..=`largest` (`*` is `largest`).
fn normalized(set: &[SeqRange], largest: u32) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = set
        .iter()
        .map(|r| r.bounds(largest))
        .filter(|&(lo, _)| lo >= 1 && lo <= largest)
        .map(|(lo, hi)| (lo, hi.min(largest)))
        .collect();
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// SELECT's QRESYNC (RFC 7162 §3.2.5): for a client whose cache is of this UIDVALIDITY,
/// what vanished since its mod-sequence, then the flags of what changed since, by UID.
pub(super) fn resync(sel: &Selected, q: &Qresync, out: &mut Vec<u8>) -> std::io::Result<()> {
    let index = sel.folder.lock()?;
    if q.uidvalidity.get() != index.validity {
        return Ok(());
    }
    let known = q.known_uids.as_deref();
    write_vanished_earlier(&index, q.modseq, known, out);
    let largest = index.next.saturating_sub(1);
    for (i, k) in sel.view.iter().enumerate() {
        let Some(m) = index.position(k.uid).map(|p| &index.messages[p]) else { continue };
        if m.modseq > q.modseq && known.is_none_or(|s| sequence::contains(s, m.uid, largest)) {
            let flags = flag_list(m.flags, &m.keywords, sel.shows_recent(m.uid));
            let items = [FetchItem::Uid(m.uid), FetchItem::Flags(flags), FetchItem::ModSeq(m.modseq)];
            Data::Fetch { seq: i as u32 + 1, items: &items }.encode(out);
        }
    }
    Ok(())
}

/// The MODSEQ a SEARCH or SORT result carries when its keys held MODSEQ: the highest of
/// the messages returned (RFC 7162 §3.1.5), none when nothing is.
pub(super) fn result_modseq(returned: impl IntoIterator<Item = u64>) -> Option<u64> {
    returned.into_iter().max()
}
