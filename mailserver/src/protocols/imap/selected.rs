//! The selected folder as one session sees it: the UIDs in sequence order, their flags and
//! keywords as last told, the messages that are `\\Recent` to it and the keywords it has
//! been told of. Before a command completes, [`Selected::updates`] brings the view up to
//! date and writes the differences (EXPUNGE, EXISTS, RECENT, FLAGS, FETCH FLAGS); EXPUNGE is
//! held back during FETCH, STORE and SEARCH (RFC 3501 §7.4.1). Once CONDSTORE is on, each
//! FETCH of a change carries its UID and MODSEQ; once QRESYNC is, expunges are told as
//! one `VANISHED` by UID (RFC 7162 §3.2.10).

use std::collections::HashSet;
use std::sync::Arc;

use sansmail_imap_proto::command::Flag;
use sansmail_imap_proto::lex::SeqRange;
use sansmail_imap_proto::response::{Code, Data, FetchItem, Status, StatusResponse};
use sansmail_imap_proto::sequence;
use tokio::sync::watch;

use super::store::{Flags, Folder};

/// What the client was last told about one message.
#[derive(Clone, Debug)]
pub(super) struct Known {
    pub(super) uid: u32,
    pub(super) flags: Flags,
    pub(super) keywords: Vec<String>,
    pub(super) modseq: u64,
}

/// The selected folder, as this session sees it.
pub(crate) struct Selected {
    pub(super) folder: Arc<Folder>,
    /// The folder's wire name.
    pub(super) name: String,
    pub(super) read_only: bool,
    pub(super) view: Vec<Known>,
    pub(super) recent: HashSet<u32>,
    pub(super) changes: watch::Receiver<u64>,
    /// The keywords this session has been told of in FLAGS and PERMANENTFLAGS: none is shown
    /// on a message before it is there (RFC 3501 §7.2.6).
    pub(super) keywords: Vec<String>,
    /// CONDSTORE is on: changes are told with their MODSEQ (and UID).
    pub(super) condstore: bool,
    /// QRESYNC is on: expunges are told as VANISHED.
    pub(super) qresync: bool,
    /// IMAP4rev2 is on (RFC 9051): no `\Recent`, SEARCH answers with ESEARCH.
    pub(super) rev2: bool,
    /// The messages `$` names (SEARCHRES, RFC 5182), by UID, ascending.
    pub(super) saved: Vec<u32>,
    /// Search results kept up to date (CONTEXT=SEARCH, RFC 5267).
    pub(super) contexts: Vec<super::context::Context>,
    /// The folder's state when they were last computed.
    pub(super) context_stamp: Option<(u64, u32, usize, usize)>,
}

pub(super) fn flag_list(flags: Flags, keywords: &[String], recent: bool) -> Vec<Flag<'_>> {
    let mut out: Vec<Flag<'_>> =
        Flags::NAMES.iter().filter(|(b, _, _)| flags.has(*b)).filter_map(|(_, n, _)| Flag::system(n).ok()).collect();
    if recent {
        out.push(Flag::RECENT);
    }
    // Keywords were atoms when stored; one that is not (a damaged index) is not shown.
    out.extend(keywords.iter().filter_map(|k| Flag::keyword(k).ok()));
    out
}

impl Selected {
    /// Whether the client is told `\Recent` on this message.
    pub(super) fn shows_recent(&self, uid: u32) -> bool {
        !self.rev2 && self.recent.contains(&uid)
    }

    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Adds `keywords` to those announced; if any is new, writes FLAGS and PERMANENTFLAGS
    /// again with it (before any FETCH that shows it).
    pub(super) fn announce<'k>(&mut self, keywords: impl IntoIterator<Item = &'k String>, out: &mut Vec<u8>) {
        let before = self.keywords.len();
        for k in keywords {
            if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                self.keywords.push(k.clone());
            }
        }
        if self.keywords.len() > before {
            self.write_flags(out);
        }
    }

    /// `* FLAGS` and `* OK [PERMANENTFLAGS]`: the system flags and the announced keywords
    /// (and `\*`, any new keyword, unless the folder is read-only).
    pub(super) fn write_flags(&self, out: &mut Vec<u8>) {
        let keywords = self.keywords.iter().filter_map(|k| Flag::keyword(k).ok());
        let system = [Flag::ANSWERED, Flag::FLAGGED, Flag::DELETED, Flag::SEEN, Flag::DRAFT];
        Data::Flags(system.into_iter().chain(keywords.clone()).collect()).encode(out);
        let permanent = if self.read_only {
            Vec::new()
        } else {
            system.into_iter().chain(keywords).chain([Flag::ANY_KEYWORD]).collect()
        };
        let code = Code::PermanentFlags(permanent);
        StatusResponse { tag: None, status: Status::Ok, code: Some(&code), text: "Flags permitted" }.encode(out);
    }

    /// Brings the view up to date and writes what changed; expunges only when `expunge_ok`.
    pub(crate) fn updates(&mut self, out: &mut Vec<u8>, expunge_ok: bool) {
        self.changes.mark_unchanged();
        self.view_updates(out, expunge_ok);
        // Kept search results (CONTEXT=SEARCH) follow the view.
        super::context::refresh(self, out);
    }

    fn view_updates(&mut self, out: &mut Vec<u8>, expunge_ok: bool) {
        let folder = self.folder.clone();
        let Ok(mut index) = folder.lock() else { return };
        self.announce(&index.keywords, out);
        if expunge_ok {
            let gone: Vec<usize> =
                (0..self.view.len()).filter(|&i| index.position(self.view[i].uid).is_none()).collect();
            self.expunged(&gone, out);
        }
        let last = self.view.last().map_or(0, |k| k.uid);
        let mut grew = false;
        for m in index.messages.iter().filter(|m| m.uid > last) {
            self.view.push(Known { uid: m.uid, flags: m.flags, keywords: m.keywords.clone(), modseq: m.modseq });
            if m.uid > index.recent_upto {
                self.recent.insert(m.uid);
            }
            grew = true;
        }
        if grew {
            // A read-only selection shows `\Recent` but does not take it (as Dovecot does):
            // the next SELECT sees the messages as recent too. Taken, it is kept, so that mail
            // that came while no session looked is recent to the next one that does.
            let last = self.view.last().map_or(0, |k| k.uid);
            if !self.read_only && last > index.recent_upto {
                index.recent_upto = last;
                if let Err(e) = folder.save(&mut index) {
                    tracing::warn!(error = %e, "cannot save the folder's index");
                }
            }
            Data::Exists(self.view.len() as u32).encode(out);
            // IMAP4rev2 has no `\Recent` (RFC 9051 Appendix E).
            if !self.rev2 {
                Data::Recent(self.recent.len() as u32).encode(out);
            }
        }
        for (i, k) in self.view.iter_mut().enumerate() {
            let Some(m) = index.position(k.uid).map(|p| &index.messages[p]) else { continue };
            if m.flags != k.flags || m.keywords != k.keywords || (self.condstore && m.modseq != k.modseq) {
                k.flags = m.flags;
                k.keywords.clone_from(&m.keywords);
                k.modseq = m.modseq;
                let recent = !self.rev2 && self.recent.contains(&k.uid);
                let flags = FetchItem::Flags(flag_list(k.flags, &k.keywords, recent));
                let items = if self.condstore {
                    vec![FetchItem::Uid(k.uid), flags, FetchItem::ModSeq(k.modseq)]
                } else {
                    vec![flags]
                };
                Data::Fetch { seq: i as u32 + 1, items: &items }.encode(out);
            }
        }
    }

    /// Drops messages from the view (positions ascending) and tells the client: EXPUNGE
    /// for each, highest first, or one VANISHED with QRESYNC.
    pub(super) fn expunged(&mut self, positions: &[usize], out: &mut Vec<u8>) {
        super::context::expunging(self, positions, out);
        if !self.saved.is_empty() {
            // Positions ascend, and so do their UIDs.
            let gone: Vec<u32> = positions.iter().map(|&i| self.view[i].uid).collect();
            self.saved.retain(|u| gone.binary_search(u).is_err());
        }
        let mut uids = Vec::with_capacity(positions.len());
        for &i in positions.iter().rev() {
            let gone = self.view.remove(i);
            self.recent.remove(&gone.uid);
            uids.push(gone.uid);
            if !self.qresync {
                Data::Expunge(i as u32 + 1).encode(out);
            }
        }
        if self.qresync {
            uids.sort_unstable();
            Data::Vanished { earlier: false, uids: sequence::ranges(&uids) }.encode(out);
        }
    }

    /// Positions in the view a set names (message numbers, or UIDs with `uid`); `None` for
    /// a message number past the last.
    pub(super) fn resolve(&self, set: &[SeqRange], uid: bool) -> Option<Vec<usize>> {
        // `$`: the saved result's messages, however the command numbers them.
        if sequence::is_saved(set) {
            return Some(
                (0..self.view.len()).filter(|&i| self.saved.binary_search(&self.view[i].uid).is_ok()).collect(),
            );
        }
        if uid {
            let max = self.view.last().map_or(0, |k| k.uid);
            return Some((0..self.view.len()).filter(|&i| sequence::contains(set, self.view[i].uid, max)).collect());
        }
        let max = self.view.len() as u32;
        let too_far = set.iter().any(|r| {
            [r.from, r.to].iter().any(|n| matches!(n, sansmail_imap_proto::lex::SeqNumber::Value(v) if v.get() > max))
        });
        if too_far {
            return None;
        }
        Some(sequence::numbers(set, max).map(|n| n as usize - 1).collect())
    }
}
