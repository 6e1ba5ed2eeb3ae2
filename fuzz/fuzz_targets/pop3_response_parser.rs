//! POP3 status lines and CAPA lines on arbitrary bytes: never panics; a parsed status
//! line encodes to a line that parses back to the same status, code and text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_pop3_proto::{Capability, ServerLine};

fuzz_target!(|data: &[u8]| {
    if let Ok(ServerLine::Status(r)) = ServerLine::parse(data) {
        let mut out = Vec::new();
        r.encode(&mut out);
        match ServerLine::parse(&out[..out.len() - 2]) {
            Ok(ServerLine::Status(back)) => assert_eq!(back.ok, r.ok),
            other => panic!("{r:?} encoded to {other:?}"),
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut out = Vec::new();
        Capability::parse(text).encode(&mut out);
    }
});
