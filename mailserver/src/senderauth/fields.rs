//! Header fields by name, over raw octets: what the checks and delivery cut out of a
//! message (extra DKIM signatures, `Authentication-Results` claiming to be ours).

use std::ops::Range;

use super::sign::header_section;

/// Each field of a header section: its name and the octets it spans (continuation lines
/// and the line end included). Lazy: nothing is held per field, whatever their number.
pub(crate) fn fields(section: &[u8]) -> impl Iterator<Item = (&[u8], Range<usize>)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= section.len() {
            return None;
        }
        let start = at;
        // The field runs to the line end not followed by a continuation (space or tab).
        let mut end = start;
        loop {
            match memchr::memchr(b'\n', &section[end..]) {
                Some(i) => {
                    end += i + 1;
                    if !matches!(section.get(end), Some(b' ' | b'\t')) {
                        break;
                    }
                }
                None => {
                    end = section.len();
                    break;
                }
            }
        }
        let line = &section[start..end];
        let name = line.iter().position(|&b| b == b':').map_or(&line[..0], |c| trim(&line[..c]));
        at = end;
        Some((name, start..end))
    })
}

fn trim(name: &[u8]) -> &[u8] {
    let end = name.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &name[..end]
}

/// `message` without the fields `drop` picks (name, whole field), or `None` when it picks
/// none. One pass; the copy is made from the first field dropped on, and never holds more
/// than the message.
pub(crate) fn without(message: &[u8], mut drop: impl FnMut(&[u8], &[u8]) -> bool) -> Option<Vec<u8>> {
    let section = header_section(message);
    let mut out: Option<Vec<u8>> = None;
    for (name, range) in fields(section) {
        let field = &section[range.clone()];
        match (&mut out, drop(name, field)) {
            (None, false) => {}
            (None, true) => {
                let mut o = Vec::with_capacity(message.len());
                o.extend_from_slice(&message[..range.start]);
                out = Some(o);
            }
            (Some(o), false) => o.extend_from_slice(field),
            (Some(_), true) => {}
        }
    }
    let mut out = out?;
    out.extend_from_slice(&message[section.len()..]);
    Some(out)
}

/// `message` with only the first `keep` fields named `name` (ASCII, lower case), or
/// `None` when it has no more than that.
pub(crate) fn keep_first(message: &[u8], name: &[u8], keep: usize) -> Option<Vec<u8>> {
    let mut seen = 0;
    without(message, |n, _| {
        if !n.eq_ignore_ascii_case(name) {
            return false;
        }
        seen += 1;
        seen > keep
    })
}

/// How many fields named `name` (ASCII, lower case) the header section of `message` has.
pub(crate) fn count(message: &[u8], name: &[u8]) -> usize {
    fields(header_section(message)).filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
}

/// `message` without the `Authentication-Results` fields that name `authserv_id` (RFC 8601
/// §5: only we may say what we found), or `None` when it has none.
pub(crate) fn without_our_results(message: &[u8], authserv_id: &str) -> Option<Vec<u8>> {
    without(message, |name, field| name.eq_ignore_ascii_case(b"authentication-results") && names(field, authserv_id))
}

/// Whether an `Authentication-Results` field's authserv-id is `id` (comments and folding
/// before it skipped; the id ends at `;`, white space or a version number).
fn names(field: &[u8], id: &str) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else { return false };
    let mut value = &field[colon + 1..];
    loop {
        value = value.trim_ascii_start();
        if value.first() == Some(&b'(') {
            // A comment (not nested here: a nested one just fails the match).
            match memchr::memchr(b')', value) {
                Some(end) => value = &value[end + 1..],
                None => return false,
            }
        } else {
            break;
        }
    }
    let end = value.iter().position(|&b| b == b';' || b.is_ascii_whitespace() || b == b'(').unwrap_or(value.len());
    value[..end].eq_ignore_ascii_case(id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"Authentication-Results: mx.example.org;\r\n\tspf=pass\r\n\
        DKIM-Signature: one;\r\n  folded\r\nDKIM-Signature: two\r\n\
        Authentication-Results: (comment) MX.example.org 1; dkim=pass\r\n\
        Authentication-Results: other.example; dkim=fail\r\n\
        Subject: Authentication-Results: mx.example.org;\r\n\r\n\
        Authentication-Results: mx.example.org; in the body\r\n";

    #[test]
    fn fields_with_folding() {
        let f: Vec<_> = fields(header_section(MESSAGE)).collect();
        let names: Vec<&[u8]> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[1], b"DKIM-Signature");
        assert_eq!(&header_section(MESSAGE)[f[1].1.clone()], b"DKIM-Signature: one;\r\n  folded\r\n");
    }

    #[test]
    fn ours_removed_others_kept() {
        let out = without_our_results(MESSAGE, "mx.example.org").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("spf=pass") && !text.contains("dkim=pass"), "{text}");
        assert!(text.contains("other.example; dkim=fail"));
        assert!(text.contains("Subject: Authentication-Results: mx.example.org;"));
        assert!(text.ends_with("Authentication-Results: mx.example.org; in the body\r\n"));
        assert!(without_our_results(b"Subject: x\r\n\r\nbody", "mx.example.org").is_none());
    }

    proptest::proptest! {
        /// Whatever arrives: no panic, and what is removed is whole fields of the header
        /// section only (the body is left as it came).
        #[test]
        fn removal_keeps_the_body(message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut message = message;
            message.extend_from_slice(b"\r\n\r\nAuthentication-Results: mx; body\r\n");
            if let Some(out) = without_our_results(&message, "mx") {
                proptest::prop_assert!(out.len() < message.len());
                proptest::prop_assert!(out.ends_with(b"\r\n\r\nAuthentication-Results: mx; body\r\n"));
            }
            let _ = keep_first(&message, b"dkim-signature", 1);
            let _ = count(&message, b"arc-seal");
        }
    }

    #[test]
    fn signatures_kept_up_to_the_limit() {
        let out = String::from_utf8(keep_first(MESSAGE, b"dkim-signature", 1).unwrap()).unwrap();
        assert!(out.contains("one;") && !out.contains("two"), "{out}");
        assert!(keep_first(MESSAGE, b"dkim-signature", 2).is_none());
    }
}
