//! The IMAP command parser on arbitrary octets (as a framed command would hand them over):
//! an answer or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_imap_proto::Command;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        assert!(!cmd.tag.is_empty());
    }
});
