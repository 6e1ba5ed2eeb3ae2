//! No text a caller passes to an encoder can add a line to the wire: a status line is one
//! line with its own status, a command one line or an error.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sansmail_pop3_proto::{Command, Response, ResponseCode};

fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("\r".to_owned()),
            Just("+OK forged".to_owned()),
            Just("]".to_owned()),
            Just(".".to_owned()),
            Just("\0".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,4}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn one_line(bytes: &[u8]) -> bool {
    bytes.ends_with(b"\r\n") && bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() == 2
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn a_status_line_is_one_line(ok in any::<bool>(), code in prop::option::of(hostile()), text in hostile()) {
        let response = Response { ok, code: code.as_deref().map(ResponseCode::Other), text: &text };
        let mut bytes = Vec::new();
        response.encode(&mut bytes);
        prop_assert!(one_line(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
        let status: &[u8] = if ok { b"+OK" } else { b"-ERR" };
        prop_assert!(bytes.starts_with(status));
    }

    #[test]
    fn a_command_is_one_line(verb in hostile(), args in prop::option::of(hostile()), user in hostile()) {
        for cmd in [Command::Unknown { verb: &verb, args: args.as_deref() }, Command::User { name: &user }, Command::Pass { password: user.as_str().into() }] {
            let mut bytes = Vec::new();
            if cmd.encode(&mut bytes).is_ok() {
                prop_assert!(one_line(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
            }
        }
    }
}
