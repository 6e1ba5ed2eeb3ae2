//! Any `Command` value (via `arbitrary`): if the encoder accepts it, the bytes parse back to
//! the same value. The encoder must refuse everything that would not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::reply::{ReplyFramer, ReplyLimits};
use sansmail_smtp_proto::{Command, Reply, Status};

fuzz_target!(|input: (Command<'_>, Reply<'_>)| {
    let (cmd, reply) = input;
    if let Ok(bytes) = cmd.to_bytes() {
        let (parsed, used) = Command::parse(&bytes).expect("parse").complete().expect("complete");
        assert_eq!(used, bytes.len());
        assert_eq!(parsed, cmd);
    }
    // Every reply that can be built encodes, and the bytes frame and parse back to it. A
    // reader's limits are its own (the default refuses over 128 lines): frame with none.
    let mut bytes = Vec::new();
    reply.encode(&mut bytes, true);
    let unbounded = ReplyLimits { line: usize::MAX, lines: usize::MAX };
    let framed = ReplyFramer::new(unbounded).frame(&bytes).expect("frame");
    assert_eq!(framed, Status::Complete(bytes.len()));
    let parsed = Reply::parse(&bytes).expect("parse");
    assert_eq!(parsed.code(), reply.code());
});
