//! Modified UTF-7 for mailbox names
//! ([RFC 3501 §5.1.3](https://www.rfc-editor.org/rfc/rfc3501#section-5.1.3)): printable ASCII
//! stands for itself (`&` as `&-`), anything else is UTF-16 in base64 with `,` for `/`,
//! between `&` and `-`.
//!
//! Decoding is strict, so one name has one spelling: an unterminated `&`, a base64 run that
//! spells printable ASCII, two runs back to back, padding bits that are not zero, a partial
//! UTF-16 unit, an unpaired surrogate and any octet outside printable ASCII are all errors.

use std::fmt;

/// Why a name is not modified UTF-7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset of the problem in the input.
    pub at: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not modified UTF-7 at octet {}", self.at)
    }
}

impl std::error::Error for DecodeError {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    } as u32)
}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a mailbox name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        if units.is_empty() {
            return;
        }
        out.push('&');
        let (mut acc, mut bits) = (0u32, 0u32);
        for u in units.drain(..) {
            acc = (acc << 16) | u32::from(u);
            bits += 16;
            while bits >= 6 {
                bits -= 6;
                out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
            }
            acc &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
        }
        out.push('-');
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut units, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

/// Decodes a mailbox name, strictly (see the module documentation).
pub fn decode(input: &[u8]) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    // Where the last base64 run ended: a run right after it should have been one run.
    let mut run_ended_at = None;
    while i < input.len() {
        let b = input[i];
        if !(0x20..=0x7e).contains(&b) {
            return Err(DecodeError { at: i });
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if input.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            continue;
        }
        if run_ended_at == Some(start) {
            return Err(DecodeError { at: start });
        }
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut units: Vec<u16> = Vec::new();
        loop {
            match input.get(i) {
                Some(b'-') => break,
                Some(&c) => {
                    let v = value(c).ok_or(DecodeError { at: i })?;
                    acc = (acc << 6) | v;
                    bits += 6;
                    if bits >= 16 {
                        bits -= 16;
                        units.push((acc >> bits) as u16);
                        acc &= (1 << bits) - 1;
                    }
                    i += 1;
                }
                None => return Err(DecodeError { at: start }),
            }
        }
        // Leftover bits: fewer than six, and zero.
        if bits >= 6 || acc != 0 || units.is_empty() {
            return Err(DecodeError { at: i });
        }
        let text = String::from_utf16(&units).map_err(|_| DecodeError { at: start })?;
        if text.chars().any(is_direct) {
            // Printable ASCII must stand for itself.
            return Err(DecodeError { at: start });
        }
        out.push_str(&text);
        i += 1;
        run_ended_at = Some(i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_and_friends() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        assert_eq!(encode(name), wire);
        assert_eq!(decode(wire.as_bytes()).unwrap(), name);
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").unwrap(), "A&B");
        assert_eq!(decode(b"Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(encode("\u{1F600}"), "&2D3eAA-");
        assert_eq!(decode(b"&2D3eAA-").unwrap(), "\u{1F600}");
    }

    #[test]
    fn strict_decoding() {
        for bad in [
            &b"&ZeVnLIqe"[..],     // unterminated
            b"&AGE-",              // "a" spelled in base64
            b"&U,BTFw-&ZeVnLIqe-", // two runs back to back
            b"&U,BTFx-",           // non-zero padding bits
            b"&AA-",               // a partial UTF-16 unit
            b"&2D0-",              // an unpaired surrogate
            b"&-&",                // then an unterminated one
            b"a\x7fb",             // not printable
            b"caf\xc3\xa9",        // raw UTF-8
            b"&Z!Vn-",             // not base64
            b"&-",                 // fine on its own...
        ] {
            if bad == b"&-" {
                assert_eq!(decode(bad).unwrap(), "&");
                continue;
            }
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn round_trip(name in "\\\\PC{0,20}") {
            let wire = encode(&name);
            proptest::prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            proptest::prop_assert_eq!(decode(wire.as_bytes()).unwrap(), name);
        }

        #[test]
        fn decode_never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            if let Ok(name) = decode(&input) {
                // One spelling per name.
                let again = encode(&name);
                proptest::prop_assert_eq!(again.as_bytes(), &input[..]);
            }
        }
    }
}
