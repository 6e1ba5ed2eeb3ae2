//! Any bytes into the command parser: no panic, whatever parses encodes back to bytes that
//! parse to the same command, and on UTF-8 input `parse_str` gives what `parse` gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::{Command, Status};

fuzz_target!(|data: &[u8]| {
    let parsed = Command::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(Command::parse_str(text), parsed);
    }
    if let Ok(Status::Complete((cmd, used))) = parsed {
        assert!(used <= data.len());
        let bytes = cmd.to_bytes().expect("a parsed command must encode");
        let (again, _) = Command::parse(&bytes).expect("re-parse").complete().expect("complete");
        assert_eq!(again, cmd);
        let _ = cmd.into_owned();
    }
});
