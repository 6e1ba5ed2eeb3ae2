//! A folder's index: what `sansmail-uidlist` keeps of it, and the file's format.
//!
//! Per message: its UID (for good), its Maildir base name, its keywords, its mod-sequence
//! (CONDSTORE, RFC 7162) and the system flags it had when the index was last written. Per
//! folder: UIDVALIDITY, UIDNEXT, the last UID announced `\Recent`, the keywords ever set,
//! and for QRESYNC the recent expunges with their mod-sequences.
//!
//! Mod-sequences survive a crash without a write per STORE: the file holds a *reserved*
//! mod-sequence above every one handed out (a write is made only when the reserve is used
//! up), and the next start continues above it. A flag change that did not reach the file
//! before a crash is found at the next look (the file name's flags differ from the index's)
//! and gets a new mod-sequence then, so no change is ever hidden under an old one.

use std::path::PathBuf;
use std::time::SystemTime;

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

    /// From Maildir letters (`FS`).
    fn from_letters(letters: &str) -> Self {
        Self(Self::NAMES.iter().filter(|(_, _, c)| letters.contains(*c)).fold(0, |acc, (b, _, _)| acc | b))
    }

    /// From a Maildir file name's info (`2,FS`).
    pub(crate) fn from_info(info: &str) -> Self {
        Self::from_letters(info.strip_prefix("2,").unwrap_or(""))
    }

    fn letters(self) -> String {
        Self::NAMES.iter().filter(|(b, _, _)| self.has(*b)).map(|(_, _, c)| c).collect()
    }

    /// The Maildir info (`2,FS`).
    pub(crate) fn info(self) -> String {
        format!("2,{}", self.letters())
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
    /// The mod-sequence of its last change (arrival, flags, keywords).
    pub(crate) modseq: u64,
}

/// Expunges remembered with their mod-sequences for VANISHED (EARLIER); older ones are
/// answered from the UIDs missing below UIDNEXT, a superset RFC 7162 §3.2.10 allows.
pub(crate) const VANISHED_KEPT: usize = 2000;

/// Mod-sequences handed out between writes of the index.
const MODSEQ_RESERVE: u64 = 4096;

/// Keywords one folder may hold: past it, a STORE or APPEND of a new one gets `NO [LIMIT]`.
pub(crate) const MAX_KEYWORDS: usize = 256;

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
    /// HIGHESTMODSEQ: the last mod-sequence handed out.
    pub(crate) highest_modseq: u64,
    /// The file holds this: no mod-sequence above it has been handed out.
    pub(crate) reserved_modseq: u64,
    /// Recent expunges, `(mod-sequence, UID)`, oldest first.
    pub(crate) vanished: Vec<(u64, u32)>,
    /// Expunges at or below this mod-sequence may have been forgotten.
    pub(crate) vanished_floor: u64,
    pub(super) loaded: bool,
    pub(super) seen_mtimes: Option<(SystemTime, SystemTime)>,
    /// The folder's change counter when the last look began, if every change bumps it.
    pub(super) seen_generation: Option<u64>,
    /// Flag renames not yet made durable ([`super::store::Folder::sync_flags`]).
    pub(super) unsynced: bool,
}

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

    /// A new mod-sequence. The caller writes the index before any client hears of it when
    /// [`Index::needs_reserve`] says so.
    pub(crate) fn bump_modseq(&mut self) -> u64 {
        self.highest_modseq += 1;
        self.highest_modseq
    }

    /// Whether a mod-sequence past the one the file reserves was handed out.
    pub(crate) fn needs_reserve(&self) -> bool {
        self.highest_modseq > self.reserved_modseq
    }

    /// Remembers expunged UIDs under one new mod-sequence.
    pub(crate) fn note_vanished(&mut self, uids: impl IntoIterator<Item = u32>) {
        let modseq = self.bump_modseq();
        self.vanished.extend(uids.into_iter().map(|u| (modseq, u)));
        if self.vanished.len() > VANISHED_KEPT {
            let drop = self.vanished.len() - VANISHED_KEPT;
            self.vanished_floor = self.vanished[drop - 1].0;
            self.vanished.drain(..drop);
        }
    }

    /// The UIDs expunged after mod-sequence `since`, as sorted ranges, within `known`
    /// (sorted, disjoint ranges; all UIDs when `None`); when the folder no longer remembers
    /// that far back, every UID below UIDNEXT that is not here (within `known`). The answer
    /// is as many ranges as there are messages and known ranges, however large the UIDs.
    pub(crate) fn vanished_since(&self, since: u64, known: Option<&[(u32, u32)]>) -> Vec<(u32, u32)> {
        if since >= self.vanished_floor {
            let within = |u: u32| known.is_none_or(|k| intersect(&[(u, u)], k).len() == 1);
            let mut uids: Vec<u32> =
                self.vanished.iter().filter(|&&(m, u)| m > since && within(u)).map(|&(_, u)| u).collect();
            uids.sort_unstable();
            return sansmail_imap_proto::sequence::ranges(&uids);
        }
        let mut gaps = Vec::new();
        let mut expected = 1u32;
        for m in &self.messages {
            if m.uid > expected {
                gaps.push((expected, m.uid - 1));
            }
            expected = m.uid.saturating_add(1);
        }
        if self.next > expected {
            gaps.push((expected, self.next - 1));
        }
        match known {
            None => gaps,
            Some(k) => intersect(&gaps, k),
        }
    }

    /// The file's text. The reserve is raised here: the caller stores what it returns in
    /// `reserved_modseq` once the file is written.
    pub(crate) fn encode(&self) -> (String, u64) {
        let reserved = self.highest_modseq + MODSEQ_RESERVE;
        let mut text =
            format!("2 {} {} {} {reserved} {}", self.validity, self.next, self.recent_upto, self.vanished_floor);
        for k in &self.keywords {
            text.push(' ');
            text.push_str(k);
        }
        text.push('\n');
        for m in &self.messages {
            let letters = m.flags.letters();
            let letters = if letters.is_empty() { "-" } else { &letters };
            text.push_str(&format!("{} {} {} {letters}", m.uid, m.base, m.modseq));
            for k in &m.keywords {
                text.push(' ');
                text.push_str(k);
            }
            text.push('\n');
        }
        for (modseq, uid) in &self.vanished {
            text.push_str(&format!("-{uid} {modseq}\n"));
        }
        (text, reserved)
    }
}

/// The overlap of two lists of sorted, disjoint ranges.
fn intersect(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (lo, hi) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// A known message in the index file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Known {
    pub(super) uid: u32,
    pub(super) base: String,
    pub(super) keywords: Vec<String>,
    pub(super) modseq: u64,
    /// The flags when written (`None` from a version 1 file, which did not keep them).
    pub(super) flags: Option<Flags>,
}

/// What an index file holds.
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) validity: u32,
    pub(super) next: u32,
    /// The last UID announced as `\Recent` (absent from files written before it was kept).
    pub(super) recent_upto: Option<u32>,
    /// The folder's keywords, in the order first set.
    pub(super) keywords: Vec<String>,
    pub(super) known: Vec<Known>,
    /// No mod-sequence above it was handed out (0 in a version 1 file).
    pub(super) reserved_modseq: u64,
    pub(super) vanished: Vec<(u64, u32)>,
    pub(super) vanished_floor: u64,
}

/// The index file, or `None` when it is empty or cannot be trusted: a header that does not
/// read, a file cut short (no final line end), a line that does not read, UIDs out of order
/// or at or past UIDNEXT, a mod-sequence past the reserve.
///
/// Version 2: `2 <validity> <next> <recent_upto> <reserved> <vanished_floor> [keyword…]`,
/// then `<uid> <base> <modseq> <flags|-> [keyword…]` per message, sorted, then
/// `-<uid> <modseq>` per remembered expunge, oldest first. Version 1 (before CONDSTORE):
/// `1 <validity> <next> [<recent_upto> [keyword…]]`, then `<uid> <base> [keyword…]`.
pub(super) fn parse(text: &str) -> Option<Parsed> {
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    let header: Vec<&str> = lines.next()?.split(' ').collect();
    let v2 = header.first() == Some(&"2");
    let (validity, next, recent_upto, reserved, floor, keywords) = match header[..] {
        ["1", validity, next] => (validity, next, None, "0", "0", &[][..]),
        ["1", validity, next, recent, ref keywords @ ..] => (validity, next, Some(recent), "0", "0", keywords),
        ["2", validity, next, recent, reserved, floor, ref keywords @ ..] => {
            (validity, next, Some(recent), reserved, floor, keywords)
        }
        _ => return None,
    };
    if keywords.iter().any(|k| k.is_empty()) {
        return None;
    }
    let keywords = keywords.iter().map(|k| (*k).to_owned()).collect();
    let recent_upto = match recent_upto {
        Some(r) => Some(r.parse::<u32>().ok()?),
        None => None,
    };
    let (validity, next): (u32, u32) =
        (validity.parse().ok().filter(|&v| v > 0)?, next.parse().ok().filter(|&n| n > 0)?);
    let (reserved_modseq, vanished_floor): (u64, u64) = (reserved.parse().ok()?, floor.parse().ok()?);
    let mut known: Vec<Known> = Vec::new();
    let mut vanished = Vec::new();
    for line in lines {
        let mut parts = line.split(' ');
        let first = parts.next()?;
        if let Some(uid) = first.strip_prefix('-').filter(|_| v2) {
            let uid: u32 = uid.parse().ok().filter(|&u| u > 0 && u < next)?;
            let modseq: u64 = parts.next()?.parse().ok().filter(|&m| m <= reserved_modseq)?;
            if parts.next().is_some() || vanished.last().is_some_and(|&(m, _)| m > modseq) {
                return None;
            }
            vanished.push((modseq, uid));
            continue;
        }
        if !vanished.is_empty() {
            return None;
        }
        let uid: u32 = first.parse().ok()?;
        let base = parts.next().filter(|b| !b.is_empty())?;
        if uid == 0 || uid >= next || known.last().is_some_and(|k| k.uid >= uid) {
            return None;
        }
        let (modseq, flags) = if v2 {
            let modseq: u64 = parts.next()?.parse().ok().filter(|&m| m <= reserved_modseq)?;
            let letters = parts.next()?;
            let flags = if letters == "-" { Flags::default() } else { Flags::from_letters(letters) };
            if letters != "-" && flags.letters() != letters {
                return None;
            }
            (modseq, Some(flags))
        } else {
            (1, None)
        };
        let keywords: Vec<String> = parts.map(str::to_owned).collect();
        if keywords.iter().any(String::is_empty) {
            return None;
        }
        known.push(Known { uid, base: base.to_owned(), keywords, modseq, flags });
    }
    Some(Parsed { validity, next, recent_upto, keywords, known, reserved_modseq, vanished, vanished_floor })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index cut anywhere, or out of step with itself, is never read as one that names
    /// other messages under the same UIDVALIDITY.
    #[test]
    fn a_damaged_index_is_not_trusted() {
        for text in [
            "1 1700000000 12 5\n1 aaa\n5 bbb $Junk\n11 ccc\n",
            "2 1700000000 12 5 4200 0\n1 aaa 7 S\n5 bbb 9 - $Junk\n11 ccc 4000 DFS\n-3 100\n-4 100\n-6 4100\n",
        ] {
            let p = parse(text).unwrap();
            assert_eq!((p.validity, p.next, p.recent_upto, p.known.len()), (1_700_000_000, 12, Some(5), 3));
            for cut in 0..text.len() {
                match parse(&text[..cut]) {
                    None => {}
                    // Only at a line end: the same header, fewer messages or expunges.
                    Some(q) => {
                        assert_eq!(
                            (q.validity, q.next, q.recent_upto, q.reserved_modseq),
                            (p.validity, p.next, p.recent_upto, p.reserved_modseq),
                            "cut at {cut}"
                        );
                        assert!(p.known.starts_with(&q.known), "cut at {cut}");
                        assert!(q.known.len() + q.vanished.len() < p.known.len() + p.vanished.len());
                    }
                }
            }
        }
        let p = parse("2 17 12 5 4200 90\n1 aaa 7 S\n5 bbb 9 - $Junk\n11 ccc 4000 DFS\n-3 100\n").unwrap();
        assert_eq!(p.known[2].flags, Some(Flags(Flags::DRAFT | Flags::FLAGGED | Flags::SEEN)));
        assert_eq!(
            (p.known[1].modseq, p.known[1].flags, &p.known[1].keywords[..]),
            (9, Some(Flags(0)), &["$Junk".to_owned()][..])
        );
        assert_eq!((p.vanished.clone(), p.vanished_floor), (vec![(100, 3)], 90));
        // The folder's keywords follow `recent_upto`.
        let p = parse("1 17 5 2 $Junk \\Seen-not-a-keyword $Work\n1 a $Work\n").unwrap();
        assert_eq!(p.keywords, ["$Junk", "\\Seen-not-a-keyword", "$Work"]);
        assert_eq!((p.known[0].modseq, p.known[0].flags), (1, None), "version 1: no flags kept");
        // An index written before `recent_upto` was kept still reads.
        assert_eq!(parse("1 1700000000 12\n1 aaa\n").map(|p| p.recent_upto), Some(None));
        for bad in [
            "1 1700000000 5\n5 aaa\n",
            "1 1700000000 9\n3 a\n2 b\n",
            "1 0 5\n",
            "2 17 5\n",
            "1 17 5\nx a\n",
            "1 17 5 x\n",
            "1 17 5 1  $Junk\n",
            "1 17 5 1\n-2 4\n",
            "2 17 5 1 100 0\n1 a 101 S\n",
            "2 17 5 1 100 0\n1 a 5 SF\n",
            "2 17 5 1 100 0\n1 a 5\n",
            "2 17 5 1 100 0\n-1 5\n2 a 5 S\n",
            "2 17 5 1 100 0\n-1 7\n-2 5\n",
            "2 17 5 1 100 0\n-9 7\n",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    /// What is written reads back; the reserve is above every mod-sequence.
    #[test]
    fn the_file_reads_back() {
        let mut index = Index { validity: 9, next: 8, recent_upto: 3, ..Index::default() };
        index.keywords = vec!["$Junk".into()];
        for uid in [2, 5, 7] {
            let modseq = index.bump_modseq();
            index.messages.push(Message {
                uid,
                base: format!("b{uid}"),
                path: PathBuf::new(),
                flags: Flags(Flags::SEEN),
                keywords: vec!["$Junk".into()],
                size: 0,
                internal: SystemTime::UNIX_EPOCH,
                modseq,
            });
        }
        index.note_vanished([1, 3]);
        let (text, reserved) = index.encode();
        assert!(reserved > index.highest_modseq);
        let p = parse(&text).unwrap();
        assert_eq!((p.validity, p.next, p.recent_upto, p.reserved_modseq), (9, 8, Some(3), reserved));
        assert_eq!(p.known.iter().map(|k| (k.uid, k.modseq)).collect::<Vec<_>>(), [(2, 1), (5, 2), (7, 3)]);
        assert_eq!(p.vanished, [(4, 1), (4, 3)]);
        assert_eq!(index.vanished_since(3, None), [(1, 1), (3, 3)]);
        assert_eq!(index.vanished_since(4, None), []);
        assert_eq!(index.vanished_since(0, Some(&[(2, 7)])), [(3, 3)]);
    }

    /// Past [`VANISHED_KEPT`] expunges the oldest are forgotten; asked about them, the
    /// folder names every UID it does not hold.
    #[test]
    fn forgotten_expunges_are_answered_by_a_superset() {
        let mut index = Index { validity: 1, next: (VANISHED_KEPT as u32) * 2, ..Index::default() };
        for uid in 1..(VANISHED_KEPT as u32 + 10) {
            index.note_vanished([uid]);
        }
        assert_eq!(index.vanished.len(), VANISHED_KEPT);
        assert_eq!(index.vanished_floor, 9);
        index.messages.push(Message {
            uid: 5000.min(index.next - 1),
            base: "x".into(),
            path: PathBuf::new(),
            flags: Flags::default(),
            keywords: Vec::new(),
            size: 0,
            internal: SystemTime::UNIX_EPOCH,
            modseq: 1,
        });
        let all = index.vanished_since(3, Some(&[(1, 19)]));
        assert_eq!(all, [(1, 19)], "a superset from the floor down");
        assert_eq!(
            index.vanished_since(3, None),
            [(1, 3998), (4000, 3999)].iter().copied().filter(|r| r.0 <= r.1).collect::<Vec<_>>()
        );
        assert_eq!(index.vanished_since(12, Some(&[(1, 19)])), [(13, 19)]);
        // A folder that gave out 4 billion UIDs answers in two ranges, not 4 billion UIDs.
        index.next = u32::MAX;
        assert_eq!(index.vanished_since(0, None), [(1, 3998), (4000, u32::MAX - 1)]);
        assert_eq!(index.vanished_since(0, Some(&[(5, 5), (3999, 4001)])), [(5, 5), (4000, 4001)]);
    }
}
