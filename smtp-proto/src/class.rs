//! Byte classes of the SMTP grammars as lookup tables: one load per byte on the hot paths.
//! Where RFC 6531 allows UTF-8, bytes of multi-byte sequences (>= 0x80) are in the class:
//! the text is already a valid `str` when it is scanned.

/// A table from lists of inclusive byte ranges (a single byte is `(b, b)`).
const fn table(lists: &[&[(u8, u8)]]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut l = 0;
    while l < lists.len() {
        let ranges = lists[l];
        let mut r = 0;
        while r < ranges.len() {
            let (lo, hi) = ranges[r];
            let mut b = lo as usize;
            while b <= hi as usize {
                t[b] = true;
                b += 1;
            }
            r += 1;
        }
        l += 1;
    }
    t
}

/// Bytes of UTF-8 sequences beyond ASCII.
const UTF8: &[(u8, u8)] = &[(0x80, 0xFF)];
/// `Let-dig / "-"`: ALPHA, DIGIT and hyphen.
const LET_DIG_HYPHEN: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z'), (b'-', b'-')];
/// `atext` ([RFC 5322 §3.2.3](https://www.rfc-editor.org/rfc/rfc5322#section-3.2.3)):
/// ALPHA, DIGIT and ``!#$%&'*+-/=?^_`{|}~``.
const ATEXT_RANGES: &[(u8, u8)] = &[
    (b'0', b'9'),
    (b'A', b'Z'),
    (b'a', b'z'),
    (b'!', b'!'),
    (b'#', b'\''),
    (b'*', b'+'),
    (b'-', b'-'),
    (b'/', b'/'),
    (b'=', b'='),
    (b'?', b'?'),
    (b'^', b'`'),
    (b'{', b'~'),
];

/// `atext`, ASCII only (the path fast path).
#[cfg(test)]
pub(crate) static ATEXT_ASCII: [bool; 256] = table(&[ATEXT_RANGES]);
/// `atext` and UTF-8 (RFC 6531 §3.3).
pub(crate) static ATEXT: [bool; 256] = table(&[ATEXT_RANGES, UTF8]);
/// `Let-dig / "-"`, ASCII only (standardized tags, the path fast path).
pub(crate) static LDH_ASCII: [bool; 256] = table(&[LET_DIG_HYPHEN]);
/// `Let-dig / "-"` and UTF-8 (U-labels).
pub(crate) static LDH: [bool; 256] = table(&[LET_DIG_HYPHEN, UTF8]);
/// `esmtp-keyword` bytes after the first: `ALPHA / DIGIT / "-"` (the same set as LDH).
pub(crate) static KEYWORD: &[bool; 256] = &LDH_ASCII;
/// `esmtp-value = 1*(%d33-60 / %d62-126)`, and UTF-8 (RFC 6531 §3.3).
pub(crate) static VALUE: [bool; 256] = table(&[&[(33, 60), (62, 126)], UTF8]);
/// `xchar` of xtext less `+`: `%x21-2A / %x2C-3C / %x3E-7E` (RFC 3461 §4).
pub(crate) static XCHAR: [bool; 256] = table(&[&[(0x21, 0x2A), (0x2C, 0x3C), (0x3E, 0x7E)]]);

/// A keyword matched without regard to case in one comparison. Its octets are packed into
/// a `u128` the way [`pack`] packs the candidate (same length, so the same octets land in the
/// same places), letters lower-cased by OR-ing `0x20` at their positions only, so a
/// non-letter matches only itself (no `0x18` for `8`, no `` ` `` for `@`).
pub(crate) struct Keyword {
    lower: u128,
    fold: u128,
    len: usize,
}

/// What [`pack`] stores of each octet.
#[derive(Clone, Copy, PartialEq)]
enum Packed {
    /// The octet.
    Octet,
    /// The octet, lower-cased if a letter.
    Lower,
    /// `0x20` for a letter, else 0.
    Fold,
}

const fn packed(c: u8, what: Packed) -> u8 {
    match what {
        Packed::Octet => c,
        Packed::Lower if c.is_ascii_alphabetic() => c | 0x20,
        Packed::Lower => c,
        Packed::Fold if c.is_ascii_alphabetic() => 0x20,
        Packed::Fold => 0,
    }
}

const fn word(s: &[u8], at: usize, width: usize, what: Packed) -> u128 {
    let mut w = 0u128;
    let mut i = 0;
    while i < width {
        w |= (packed(s[at + i], what) as u128) << (8 * i);
        i += 1;
    }
    w
}

/// Packs up to 16 octets for [`Keyword`]: the first and the last eight (or four) octets as
/// two overlapping words, which for a known length say which octets the string holds.
const fn pack(s: &[u8], what: Packed) -> u128 {
    let n = s.len();
    if n >= 8 {
        word(s, 0, 8, what) | word(s, n - 8, 8, what) << 64
    } else if n >= 4 {
        word(s, 0, 4, what) | word(s, n - 4, 4, what) << 32
    } else {
        word(s, 0, n, what)
    }
}

impl Keyword {
    /// At most 16 octets.
    pub(crate) const fn new(k: &[u8]) -> Self {
        assert!(k.len() <= 16);
        Self { lower: pack(k, Packed::Lower), fold: pack(k, Packed::Fold), len: k.len() }
    }

    /// Its length in octets.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Whether `s` is this keyword, in any case.
    #[inline]
    pub(crate) fn matches(&self, s: &[u8]) -> bool {
        s.len() == self.len && pack_now(s) | self.fold == self.lower
    }
}

/// [`pack`] of the octets themselves at run time, with word loads.
#[inline]
fn pack_now(s: &[u8]) -> u128 {
    let n = s.len();
    let u64_at = |at: usize| s.get(at..).and_then(<[u8]>::first_chunk::<8>).map_or(0, |w| u64::from_le_bytes(*w));
    let u32_at = |at: usize| s.get(at..).and_then(<[u8]>::first_chunk::<4>).map_or(0, |w| u32::from_le_bytes(*w));
    if n >= 8 {
        u128::from(u64_at(0)) | u128::from(u64_at(n - 8)) << 64
    } else if n >= 4 {
        u128::from(u32_at(0)) | u128::from(u32_at(n - 4)) << 32
    } else {
        word(s, 0, n, Packed::Octet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_in_any_case_and_nothing_else() {
        let k = Keyword::new(b"8BITMIME");
        for yes in [&b"8BITMIME"[..], b"8bitmime", b"8BiTmImE"] {
            assert!(k.matches(yes), "{yes:?}");
        }
        for no in [&b"8BITMIM"[..], b"8BITMIMEX", b"\x18BITMIME", b"8BITMIM\xc5", b"8BITMI E", b""] {
            assert!(!k.matches(no), "{no:?}");
        }
        assert!(Keyword::new(b"REQUIRETLS").matches(b"requireTLS"));
        // Every length, every position of one wrong octet, in the overlapping words too.
        let word = b"ABCDEFGHIJKLMNOP";
        for len in 0..=16 {
            let k = Keyword::new(&word[..len]);
            assert!(k.matches(&word[..len].to_ascii_lowercase()));
            assert_eq!(pack_now(&word[..len]), pack(&word[..len], Packed::Octet));
            for at in 0..len {
                let mut other = word[..len].to_vec();
                other[at] = b'-';
                assert!(!k.matches(&other), "{len} {at}");
            }
        }
        assert!(Keyword::new(b"-").matches(b"-") && !Keyword::new(b"-").matches(b"\r"));
        // Every byte against every letter position: only the two cases match.
        for b in 0..=255u8 {
            assert_eq!(Keyword::new(b"x").matches(&[b]), b == b'x' || b == b'X', "{b:#x}");
            assert_eq!(Keyword::new(b"@").matches(&[b]), b == b'@', "{b:#x}");
        }
    }

    #[test]
    fn tables_match_their_definitions() {
        for b in 0..=255u8 {
            let atext_ascii = b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
            assert_eq!(ATEXT_ASCII[b as usize], atext_ascii, "atext {b:#x}");
            assert_eq!(ATEXT[b as usize], atext_ascii || b >= 0x80, "atext utf8 {b:#x}");
            let ldh = b.is_ascii_alphanumeric() || b == b'-';
            assert_eq!(LDH_ASCII[b as usize], ldh);
            assert_eq!(LDH[b as usize], ldh || b >= 0x80);
            assert_eq!(VALUE[b as usize], (33..=126).contains(&b) && b != b'=' || b >= 0x80);
            assert_eq!(XCHAR[b as usize], (0x21..=0x7E).contains(&b) && b != b'+' && b != b'=');
        }
    }
}
