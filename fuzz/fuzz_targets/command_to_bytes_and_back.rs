//! Any `Command` value (via `arbitrary`): if the encoder accepts it, the bytes parse back to
//! the same value. The encoder must refuse everything that would not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::{Command, Reply};

fuzz_target!(|input: (Command<'_>, Reply<'_>)| {
    let (cmd, reply) = input;
    if let Ok(bytes) = cmd.to_bytes() {
        let (parsed, used) = Command::parse(&bytes).expect("parse").complete().expect("complete");
        assert_eq!(used, bytes.len());
        assert_eq!(parsed, cmd);
    }
    // Replies always encode; the bytes always frame and parse (the text may be re-read as an
    // enhanced code when it starts like one, so only the code is compared).
    let mut bytes = Vec::new();
    reply.encode(&mut bytes, true);
    if (200..600).contains(&reply.code.0) && reply.code.0 % 100 < 60 {
        if let Ok(parsed) = Reply::parse_prefix(&bytes) {
            if let Some((parsed, _)) = parsed.complete() {
                assert_eq!(parsed.code, reply.code);
            }
        }
    }
});
