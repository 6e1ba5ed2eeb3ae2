//! Any bytes into the command parser: no panic, and whatever parses encodes back to bytes
//! that parse to the same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::{Command, Status};

fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete((cmd, used))) = Command::parse(data) {
        assert!(used <= data.len());
        let bytes = cmd.to_bytes().expect("a parsed command must encode");
        let (again, _) = Command::parse(&bytes).expect("re-parse").complete().expect("complete");
        assert_eq!(again, cmd);
        let _ = cmd.into_owned();
    }
});
