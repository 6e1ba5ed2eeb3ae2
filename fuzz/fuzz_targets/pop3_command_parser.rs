//! The POP3 command parser on arbitrary bytes: never panics, and whatever parses encodes
//! (when it can) to a line that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_pop3_proto::Command;
use sansmail_pop3_proto::Status;

fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete((cmd, used))) = Command::parse(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        if cmd.encode(&mut out).is_ok() {
            let line = &out[..out.len() - 2];
            assert_eq!(Command::parse_line(line).ok(), Some(cmd));
        }
    }
});
