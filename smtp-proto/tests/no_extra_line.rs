//! No text a caller passes to an encoder can add a line to the wire: a reply is one
//! reply with its own code, whatever its text holds; a command is one line or an error.

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use proptest::prelude::*;
use sansmail_smtp_proto::{Command, Reply};

/// Text an attacker would pass: line ends, other codes, dots, NUL, 8-bit.
fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("250 OK".to_owned()),
            Just("354 go ahead".to_owned()),
            Just(".".to_owned()),
            Just("\0".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,4}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The bytes of a reply parse back as exactly one reply with the same code.
    #[test]
    fn a_reply_is_one_reply(c in (2u16..=5, 0u16..=5, 0u16..=9), enhanced in any::<bool>(), text in hostile()) {
        let code = c.0 * 100 + c.1 * 10 + c.2;
        let reply = Reply::try_new(code, (enhanced && c.0 != 3).then_some((c.0 as u8, 1, 2)), text).unwrap();
        let mut bytes = Vec::new();
        reply.encode(&mut bytes, true);
        let (parsed, used) = Reply::parse_prefix(&bytes).unwrap().complete().unwrap();
        prop_assert_eq!(used, bytes.len(), "one reply only: {:?}", String::from_utf8_lossy(&bytes));
        prop_assert_eq!(parsed.code(), code);
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            prop_assert!(line.starts_with(code.to_string().as_bytes()), "{:?}", String::from_utf8_lossy(&bytes));
            prop_assert_eq!(line.last(), Some(&b'\r'));
        }
    }

    /// A command with any verb and arguments encodes to one line, or not at all.
    #[test]
    fn a_command_is_one_line(verb in hostile(), args in prop::option::of(hostile())) {
        let cmd = Command::Unknown { verb: Cow::Owned(verb), args: args.map(Cow::Owned) };
        if let Ok(bytes) = cmd.to_bytes() {
            prop_assert!(bytes.ends_with(b"\r\n"));
            prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count(), 2, "{:?}", bytes);
        }
    }
}
