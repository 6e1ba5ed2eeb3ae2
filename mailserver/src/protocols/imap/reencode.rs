//! Binary content made safe to show: a message APPENDed with NUL octets (RFC 3516's
//! `literal8`) has each part that holds one re-encoded as base64 before it is stored. A
//! plain `{n}` literal cannot carry NUL (RFC 3501 §4.3), so `BODY[…]` could not show the part
//! as it came; `BINARY[…]` undoes base64 and gives back the very octets (RFC 3516 §4.3 lets a
//! server change the transfer encoding so).

use base64::Engine as _;
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::message::parse;

/// The message with every part whose content holds NUL re-encoded as base64 (its
/// `Content-Transfer-Encoding` field replaced), or `None` when no part holds NUL (or the
/// message does not parse as MIME).
pub(super) fn without_nul(raw: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(0, raw)?;
    let message = parse(raw)?;
    let mut spans = Vec::new();
    leaves_with_nul(&message, raw, &mut spans);
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 2);
    let mut pos = 0;
    for (header, body, end) in spans {
        if header < pos {
            continue;
        }
        out.extend_from_slice(&raw[pos..header]);
        rewrite_header(&raw[header..body], &mut out);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&raw[body..end]);
        for (i, line) in encoded.as_bytes().chunks(76).enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(line);
        }
        // A part that ends the message ends its last line; one inside a multipart is
        // followed by the delimiter's own line end.
        if end == raw.len() {
            out.extend_from_slice(b"\r\n");
        }
        pos = end;
    }
    out.extend_from_slice(&raw[pos..]);
    Some(out)
}

/// The leaf parts of `m` (and of the messages it encloses as they are, not transfer-encoded)
/// whose content holds NUL: their header, body and end offsets in `raw`.
fn leaves_with_nul(m: &Message<'_>, raw: &[u8], spans: &mut Vec<(usize, usize, usize)>) {
    for part in &m.parts {
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(nested) => {
                if !is_encoded(part) {
                    leaves_with_nul(nested, raw, spans);
                }
            }
            _ => {
                let (header, body, end) =
                    (part.offset_header as usize, part.offset_body as usize, part.offset_end as usize);
                let holds_nul = raw.get(body..end).is_some_and(|b| memchr::memchr(0, b).is_some());
                if holds_nul && header <= body && !is_encoded(part) {
                    spans.push((header, body, end));
                }
            }
        }
    }
}

fn is_encoded(part: &MessagePart<'_>) -> bool {
    part.content_transfer_encoding()
        .is_some_and(|c| c.eq_ignore_ascii_case("base64") || c.eq_ignore_ascii_case("quoted-printable"))
}

/// A part's header block with its `Content-Transfer-Encoding` (folded lines and all)
/// replaced by `base64`, the blank line kept last.
fn rewrite_header(block: &[u8], out: &mut Vec<u8>) {
    let mut skipping = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !continuation {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            skipping = name.trim_ascii().eq_ignore_ascii_case(b"Content-Transfer-Encoding");
        }
        if !skipping {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// imaptest's `append-binary`: a binary part with NUL comes out base64, and BINARY gives
    /// back the octets appended.
    #[test]
    fn parts_with_nul_become_base64_and_binary_undoes_it() {
        let part = b"\x00-\xe4\r\n\r\n";
        let mut raw = b"From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\
                        Content-Transfer-Encoding: binary\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(part);
        let safe = without_nul(&raw).unwrap();
        assert!(memchr::memchr(0, &safe).is_none());
        let text = String::from_utf8(safe.clone()).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\nAC3kDQoNCg==\r\n"), "{text}");
        assert!(!text.contains("binary"), "{text}");
        let m = parse(&safe).unwrap();
        let one = std::num::NonZeroU32::new(1).unwrap();
        assert_eq!(super::super::message::binary(&m, &[one]).unwrap(), part);
        // Without NUL nothing changes.
        assert_eq!(without_nul(b"Subject: x\r\n\r\n\xe4\r\n"), None);
    }

    /// In a multipart, only the part with NUL changes; the rest, boundaries included, stays.
    #[test]
    fn only_the_parts_with_nul_change() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
                    plain text\r\n--b\r\nContent-Type: application/x-raw\r\nContent-Transfer-Encoding:\r\n binary\r\n\r\n\
                    a\x00b\r\n--b--\r\n";
        let safe = without_nul(raw).unwrap();
        let text = String::from_utf8(safe.clone()).unwrap();
        assert!(text.contains("--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b\r\n"), "{text}");
        assert!(
            text.contains(
                "Content-Type: application/x-raw\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBi\r\n--b--\r\n"
            ),
            "{text}"
        );
        let m = parse(&safe).unwrap();
        let two = std::num::NonZeroU32::new(2).unwrap();
        assert_eq!(super::super::message::binary(&m, &[two]).unwrap(), b"a\x00b");
    }
}
