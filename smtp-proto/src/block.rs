//! Sixteen octets classified at once: line ends and the common shape of a path.
//!
//! `wide`'s `u8x16` is SSE2 on x86-64, NEON on aarch64 and plain arrays elsewhere, behind a
//! safe API (the crate forbids `unsafe`). Each class becomes a bit mask, bit `i` for octet
//! `i`, so that a grammar's structure (where a label starts, whether two dots touch) is
//! checked with a few integer operations instead of a loop per octet.

use wide::u8x16;

const WIDTH: usize = 16;

#[inline]
fn splat(b: u8) -> u8x16 {
    u8x16::splat(b)
}

/// Lanes where `lo <= v <= hi`: one wrapping subtraction, one unsigned minimum.
#[inline]
fn in_range(v: u8x16, lo: u8, hi: u8) -> u8x16 {
    let d = v - splat(lo);
    d.min(splat(hi - lo)).simd_eq(d)
}

/// The position of the first `\n` in `input`.
#[inline]
pub(crate) fn find_lf(input: &[u8]) -> Option<usize> {
    find_byte(input, b'\n')
}

/// The position of the first `byte` in `input`: sixteen octets at a time for the short
/// runs that command lines and their fields are, memchr beyond 64.
#[inline]
pub(crate) fn find_byte(input: &[u8], byte: u8) -> Option<usize> {
    let needle = splat(byte);
    let mut at = 0;
    while let Some(block) = input.get(at..).and_then(<[u8]>::first_chunk::<WIDTH>) {
        let m = u8x16::new(*block).simd_eq(needle).to_bitmask();
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
        at += WIDTH;
        if at == 4 * WIDTH {
            return find_byte_beyond_64(input, byte);
        }
    }
    match input.last_chunk::<WIDTH>() {
        // The last sixteen octets overlap what was searched, which held no `byte`.
        Some(block) => {
            let m = u8x16::new(*block).simd_eq(needle).to_bitmask();
            (m != 0).then(|| input.len() - WIDTH + m.trailing_zeros() as usize)
        }
        None => input.iter().position(|&b| b == byte),
    }
}

/// Whether every octet of `s` is printable ASCII other than `+` and `=` (an `xtext`
/// without escapes), sixteen at a time.
#[inline]
pub(crate) fn is_plain_xtext(s: &[u8]) -> bool {
    let plain = |block: &[u8; WIDTH]| {
        let v = u8x16::new(*block);
        let ok = in_range(v, b'!', b'~') & !(v.simd_eq(splat(b'+')) | v.simd_eq(splat(b'=')));
        ok.to_bitmask() == 0xFFFF
    };
    let mut at = 0;
    while let Some(block) = s.get(at..).and_then(<[u8]>::first_chunk::<WIDTH>) {
        if !plain(block) {
            return false;
        }
        at += WIDTH;
    }
    match s.last_chunk::<WIDTH>() {
        // The last sixteen octets, overlapping what was checked.
        Some(block) => at == s.len() || plain(block),
        None => s.iter().all(|&c| (b'!'..=b'~').contains(&c) && c != b'+' && c != b'='),
    }
}

/// [`find_byte`] past the first 64 octets (which held no `byte`): 64 octets per step up
/// to 512, then memchr, whose set-up costs about as much as eight such steps.
#[inline(never)]
fn find_byte_beyond_64(input: &[u8], byte: u8) -> Option<usize> {
    let needle = splat(byte);
    let hit = |block: &[u8]| block.first_chunk::<WIDTH>().map_or(0, |b| u8x16::new(*b).simd_eq(needle).to_bitmask());
    let mut at = 4 * WIDTH;
    while at < 32 * WIDTH
        && let Some(chunk) = input.get(at..at + 4 * WIDTH)
    {
        let m = (0..4).fold(0u64, |m, k| m | u64::from(hit(&chunk[k * WIDTH..])) << (k * WIDTH));
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
        at += 4 * WIDTH;
    }
    memchr::memchr(byte, input.get(at..)?).map(|n| at + n)
}

/// Class masks of up to 64 octets, bit `i` for octet `i`; octets past the end are in no class.
#[derive(Clone, Copy, Default)]
pub(crate) struct PathMasks {
    /// `ALPHA / DIGIT / "-" / "." / "_" / "+" / "="`: the local parts nearly every mailbox has.
    pub(crate) local: u64,
    /// `ALPHA / DIGIT / "-" / "."`: domain names.
    pub(crate) domain: u64,
    /// `"."`.
    pub(crate) dot: u64,
    /// `"-"`.
    pub(crate) hyphen: u64,
}

impl PathMasks {
    fn block(block: &[u8; WIDTH]) -> [u32; 4] {
        let v = u8x16::new(*block);
        let alpha = in_range(v | splat(0x20), b'a', b'z');
        let digit = in_range(v, b'0', b'9');
        let dash_dot = in_range(v, b'-', b'.');
        let dot = v.simd_eq(splat(b'.'));
        let domain = alpha | digit | dash_dot;
        let local = domain | v.simd_eq(splat(b'_')) | v.simd_eq(splat(b'+')) | v.simd_eq(splat(b'='));
        [local.to_bitmask(), domain.to_bitmask(), dot.to_bitmask(), (dash_dot & !dot).to_bitmask()]
    }

    /// Classifies the first `min(s.len(), 64)` octets; `None` when `s` has fewer than 16.
    #[inline]
    pub(crate) fn of(s: &[u8]) -> Option<Self> {
        let n = s.len().min(64);
        let last = n.checked_sub(WIDTH)?;
        let mut m = Self::default();
        let mut at = 0;
        loop {
            // The last block may overlap the one before: the same octets get the same bits.
            let p = at.min(last);
            let block = s.get(p..).and_then(<[u8]>::first_chunk::<WIDTH>)?;
            let [local, domain, dot, hyphen] = Self::block(block).map(|b| u64::from(b) << p);
            m.local |= local;
            m.domain |= domain;
            m.dot |= dot;
            m.hyphen |= hyphen;
            at += WIDTH;
            if at >= n {
                return Some(m);
            }
        }
    }
}

/// Bits `lo..hi` (`lo <= hi <= 64`).
#[inline]
pub(crate) fn bits(lo: usize, hi: usize) -> u64 {
    // Through 128 bits, so that 64 needs no branch.
    let below = |n: usize| ((1u128 << n.min(64)) - 1) as u64;
    below(hi) & !below(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_lf_agrees_with_a_plain_search_at_every_length_and_position() {
        let lengths = (0..100).chain([127, 128, 129, 191, 192, 511, 512, 513, 600]);
        for len in lengths {
            for lf in (0..len).map(Some).chain([None]) {
                let mut v = vec![b'a'; len];
                if let Some(p) = lf {
                    v[p] = b'\n';
                    // A second one later must not be found first.
                    if p + 3 < len {
                        v[p + 3] = b'\n';
                    }
                }
                assert_eq!(find_lf(&v), lf, "len {len} lf {lf:?}");
            }
        }
    }

    #[test]
    fn plain_xtext_agrees_with_a_plain_check_at_every_length() {
        let all: Vec<u8> = (0..=255u8).collect();
        let reference = |s: &[u8]| s.iter().all(|&c| (b'!'..=b'~').contains(&c) && c != b'+' && c != b'=');
        for len in 0..70 {
            let good = vec![b'a'; len];
            assert!(is_plain_xtext(&good));
            for at in 0..len {
                for &c in &all {
                    let mut v = good.clone();
                    v[at] = c;
                    assert_eq!(is_plain_xtext(&v), reference(&v), "len {len} at {at} {c:#x}");
                }
            }
        }
    }

    #[test]
    fn masks_match_the_classes_octet_by_octet() {
        let all: Vec<u8> = (0..=255u8).collect();
        for start in 0..all.len() {
            for len in [16, 17, 31, 40, 63, 64, 70] {
                let Some(s) = all.get(start..start + len) else { continue };
                let m = PathMasks::of(s).expect("16 or more");
                for (i, &c) in s.iter().enumerate().take(64) {
                    let bit = |mask: u64| mask >> i & 1 == 1;
                    let domain = c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
                    assert_eq!(bit(m.domain), domain, "{c:#x}");
                    assert_eq!(bit(m.local), domain || b"_+=".contains(&c), "{c:#x}");
                    assert_eq!(bit(m.dot), c == b'.', "{c:#x}");
                    assert_eq!(bit(m.hyphen), c == b'-', "{c:#x}");
                }
                assert!(len >= 64 || m.local >> len == 0 && m.domain >> len == 0);
            }
        }
        assert!(PathMasks::of(b"<a@b.example>").is_none());
        assert_eq!(bits(1, 4), 0b1110);
        assert_eq!(bits(0, 64), u64::MAX);
        assert_eq!(bits(64, 64), 0);
    }
}
