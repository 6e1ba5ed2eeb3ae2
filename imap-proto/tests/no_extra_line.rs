//! No text a caller passes to an encoder can add a line to the wire: every status response
//! and untagged datum is one line (literals, which carry their own length, aside), and no
//! tag or flag that could break one can even be made.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sansmail_imap_proto::response::{Code, Data, Status, StatusResponse};
use sansmail_imap_proto::{Flag, Tag};

fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("a2 OK forged".to_owned()),
            Just(")".to_owned()),
            Just("]".to_owned()),
            Just("{5}".to_owned()),
            Just("\"".to_owned()),
            Just("\0".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,4}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Whether `bytes` is one response line: literals (`{n}` CRLF and n octets) skipped, one
/// CRLF, at the end.
fn one_line(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' | b'\n' => return i + 2 == bytes.len() && &bytes[i..] == b"\r\n",
            b'{' => {
                let close = bytes[i..].iter().position(|&b| b == b'}').map(|p| i + p);
                let size = close.and_then(|c| {
                    std::str::from_utf8(&bytes[i + 1..c]).ok()?.trim_end_matches('+').parse::<usize>().ok()
                });
                match (close, size) {
                    (Some(c), Some(n)) if bytes.get(c + 1..c + 3) == Some(b"\r\n") => i = c + 3 + n,
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    false
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Ok), Just(Status::No), Just(Status::Bad), Just(Status::PreAuth), Just(Status::Bye)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// `Flag::keyword("a)\r\na2 OK forged")` cannot be made; what can be made is written
    /// on one line, in FLAGS, in PERMANENTFLAGS and in FETCH-style lists alike.
    #[test]
    fn flags_and_tags_cannot_break_a_line(
        tag in hostile(),
        names in prop::collection::vec(hostile(), 0..6),
        st in status(),
        text in hostile(),
    ) {
        let flags: Vec<Flag<'_>> = names.iter().flat_map(|n| [Flag::keyword(n).ok(), Flag::system(n).ok()]).flatten().collect();
        for f in &flags {
            prop_assert!(f.name().bytes().all(|b| b > b' ' && b < 0x7f && !b"()\"\\]".contains(&b)));
        }
        let mut out = Vec::new();
        StatusResponse { tag: Tag::new(&tag).ok(), status: st, code: Some(&Code::PermanentFlags(flags.clone())), text: &text }.encode(&mut out);
        prop_assert!(one_line(&out), "{:?}", String::from_utf8_lossy(&out));
        out.clear();
        Data::Flags(flags).encode(&mut out);
        prop_assert!(one_line(&out), "{:?}", String::from_utf8_lossy(&out));
    }

    /// Codes and untagged data with any strings: one line each.
    #[test]
    fn codes_and_data_are_one_line(
        words in prop::collection::vec(hostile(), 0..5),
        mailbox in prop::collection::vec(any::<u8>(), 0..40),
        tag in hostile(),
        text in hostile(),
    ) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        for code in [Code::Capability(words.clone()), Code::BadCharset(words.clone())] {
            let mut out = Vec::new();
            StatusResponse { tag: None, status: Status::No, code: Some(&code), text: &text }.encode(&mut out);
            prop_assert!(one_line(&out), "{:?}", String::from_utf8_lossy(&out));
        }
        let data = [
            Data::Capability(words.clone()),
            Data::Enabled(words.clone()),
            Data::List { attributes: words.clone(), delimiter: Some('.'), mailbox: &mailbox, child_info: words.clone() },
            Data::Lsub { attributes: words.clone(), delimiter: None, mailbox: &mailbox },
            Data::Status { mailbox: &mailbox, items: Vec::new() },
        ];
        for d in data.iter().chain(Tag::new(&tag).ok().map(|tag| Data::ESearch { tag, uid: true, min: None, max: None, count: Some(1), all: None, partial: Some(((1, 2), vec![])), add_to: vec![(0, vec![(1, 3)])], remove_from: Vec::new(), modseq: Some(5) }).iter()) {
            let mut out = Vec::new();
            d.encode(&mut out);
            prop_assert!(one_line(&out), "{:?}", String::from_utf8_lossy(&out));
        }
    }
}

#[test]
fn the_forged_keyword_of_the_review_cannot_be_made() {
    assert!(Flag::keyword("a)\r\na2 OK forged").is_err());
    assert!(Tag::new("a1\r\na2").is_err());
}
