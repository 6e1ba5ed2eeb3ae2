//! Any bytes into the reply framer and parser: no panic, bounded, and a parsed reply encodes
//! back to bytes that parse to the same reply; EHLO capabilities parse without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::Status;
use sansmail_smtp_proto::reply::{EhloReply, Reply, ReplyFramer, ReplyLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ReplyLimits::default();
    let mut framer = ReplyFramer::new(limits);
    // Frame incrementally, as a session does, then check the one-shot answer agrees.
    let mut last = Ok(Status::Partial);
    for end in [data.len() / 3, data.len() / 2, data.len()] {
        last = framer.frame(&data[..end]);
        if !matches!(last, Ok(Status::Partial)) {
            break;
        }
    }
    if let Ok(Status::Complete(n)) = last {
        assert!(n <= data.len() && n <= limits.line * limits.lines);
        if let Ok(reply) = Reply::parse(&data[..n]) {
            let mut bytes = Vec::new();
            reply.encode(&mut bytes, true);
            // A line read with a bare LF is written with CRLF: one octet longer.
            let wider = ReplyLimits { line: limits.line + 1, ..limits };
            let used = ReplyFramer::new(wider).frame(&bytes).expect("re-frame").complete().expect("complete");
            assert_eq!(used, bytes.len());
            assert_eq!(Reply::parse(&bytes).expect("re-parse"), reply);
            if let Ok(ehlo) = EhloReply::from_reply(&reply) {
                let _ = ehlo.to_reply();
            }
        }
    }
});
