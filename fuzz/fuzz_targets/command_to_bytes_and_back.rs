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
    // Every reply that can be built encodes, and the bytes frame and parse back to it.
    let mut bytes = Vec::new();
    reply.encode(&mut bytes, true);
    let (parsed, used) = Reply::parse_prefix(&bytes).expect("parse").complete().expect("complete");
    assert_eq!(used, bytes.len());
    assert_eq!(parsed.code(), reply.code());
});
