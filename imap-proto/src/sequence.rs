//! Sequence sets and UID sets ([RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9):
//! `sequence-set`; [RFC 4315 §4](https://www.rfc-editor.org/rfc/rfc4315#section-4): `uid-set`),
//! as every server needs them: membership and iteration given the largest number in use
//! (what `*` stands for), and sorted numbers written back as a set.

use std::fmt::Write as _;

use crate::lex::{SeqNumber, SeqRange};

impl SeqNumber {
    /// The number, `*` being `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            Self::Value(v) => v.get(),
            Self::Largest => largest,
            Self::Saved => 0,
        }
    }
}

/// Whether the set is `$`, the saved search result (SEARCHRES, RFC 5182): the embedder
/// answers it from the result it saved.
pub fn is_saved(set: &[SeqRange]) -> bool {
    matches!(set, [SeqRange { from: SeqNumber::Saved, .. }])
}

impl SeqRange {
    /// The range's ends, lowest first, `*` being `largest` (a range may be written either
    /// way round: `5:2` is `2:5`).
    pub fn bounds(&self, largest: u32) -> (u32, u32) {
        let (a, b) = (self.from.resolve(largest), self.to.resolve(largest));
        (a.min(b), a.max(b))
    }

    /// Whether `n` is in the range.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let (lo, hi) = self.bounds(largest);
        (lo..=hi).contains(&n)
    }
}

/// Whether `n` is in the set, `*` being `largest`.
pub fn contains(set: &[SeqRange], n: u32, largest: u32) -> bool {
    set.iter().any(|r| r.contains(n, largest))
}

/// The numbers of the set that exist (1 to `largest`), ascending and each once, however the
/// set is written (`1:*`, `4,2:3,3`, `4294967295`): its cost is bounded by `largest`, never
/// by the numbers a client writes.
pub fn numbers(set: &[SeqRange], largest: u32) -> impl Iterator<Item = u32> + '_ {
    let mut ranges: Vec<(u32, u32)> = set
        .iter()
        .map(|r| r.bounds(largest))
        .filter(|&(lo, _)| lo <= largest)
        .map(|(lo, hi)| (lo.max(1), hi.min(largest)))
        .collect();
    ranges.sort_unstable();
    let mut next = 1u32;
    ranges.into_iter().flat_map(move |(lo, hi)| {
        let from = lo.max(next);
        if from <= hi {
            next = hi.saturating_add(1);
        }
        from..=hi
    })
}

/// Sorted numbers as ranges: `[1, 2, 3, 7]` → `[(1, 3), (7, 7)]`.
pub fn ranges(sorted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
            Some((_, end)) if *end == n => {}
            _ => out.push((n, n)),
        }
    }
    out
}

/// Sorted numbers as a `uid-set` / `sequence-set`: `[1, 2, 3, 7]` → `1:3,7` (empty for none).
pub fn to_set(sorted: &[u32]) -> String {
    let mut out = String::new();
    for (i, (a, b)) in ranges(sorted).into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = if a == b { write!(out, "{a}") } else { write!(out, "{a}:{b}") };
    }
    out
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn v(n: u32) -> SeqNumber {
        SeqNumber::Value(NonZeroU32::new(n).unwrap())
    }

    fn r(a: SeqNumber, b: SeqNumber) -> SeqRange {
        SeqRange { from: a, to: b }
    }

    #[test]
    fn membership_with_star_and_reversed_ranges() {
        let set = [r(v(2), v(2)), r(SeqNumber::Largest, v(5))];
        assert!(contains(&set, 2, 9) && contains(&set, 9, 9) && contains(&set, 5, 9));
        assert!(!contains(&set, 3, 9));
        // `7:*` with 4 messages is `4:7`: it holds 4.
        assert!(contains(&[r(v(7), SeqNumber::Largest)], 4, 4));
    }

    #[test]
    fn numbers_are_ascending_once_and_bounded_by_largest() {
        let set = [r(v(4), v(4)), r(v(3), v(2)), r(v(3), v(3)), r(v(9), SeqNumber::Largest)];
        assert_eq!(numbers(&set, 10).collect::<Vec<_>>(), [2, 3, 4, 9, 10]);
        assert_eq!(numbers(&[r(v(1), v(u32::MAX))], 3).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(numbers(&[r(v(5), v(u32::MAX))], 3).count(), 0);
        assert_eq!(numbers(&[r(v(1), SeqNumber::Largest)], 0).count(), 0);
        assert_eq!(numbers(&[r(v(u32::MAX), v(u32::MAX))], u32::MAX).collect::<Vec<_>>(), [u32::MAX]);
    }

    #[test]
    fn sorted_numbers_as_a_set() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
        assert_eq!(ranges(&[]), []);
        assert_eq!(to_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(to_set(&[4, 4, u32::MAX]), "4,4294967295");
        assert_eq!(to_set(&[]), "");
    }
}
