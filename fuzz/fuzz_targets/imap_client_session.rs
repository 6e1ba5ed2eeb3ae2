//! An IMAP client session fed arbitrary server bytes after pipelined commands (literals
//! among them): never panics, answers continuations with what it held, and stays within
//! its response limits.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_imap_proto::Secret;
use sansmail_imap_proto::client::{ClientCommand, ClientSession, ResponseLimits};

#[derive(Arbitrary, Debug)]
struct Input {
    commands: Vec<u8>,
    reads: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let now = Instant::now();
    let mut limits = ResponseLimits::default();
    limits.line = 4096;
    limits.literal = 8192;
    limits.total = 16384;
    let mut c = ClientSession::with_limits(now, Duration::from_secs(60), limits);
    for k in &input.commands {
        let cmd = match k % 8 {
            0 => ClientCommand::Capability,
            1 => ClientCommand::StartTls,
            2 => ClientCommand::Login { user: "u", password: Secret::new("with\r\nCRLF") },
            3 => ClientCommand::Select { mailbox: "Entwürfe" },
            4 => ClientCommand::UidFetch { set: "1:*", items: "(UID BODY.PEEK[])" },
            5 => ClientCommand::UidStoreAdd { set: "1:*", flags: "\\Deleted" },
            6 => ClientCommand::UidExpunge { set: "1:*" },
            _ => ClientCommand::Logout,
        };
        let _ = c.send(now, &cmd);
    }
    let mut out = Vec::new();
    for data in &input.reads {
        let taken = c.handle_input(now, data);
        assert!(taken == data.len() || c.is_closed());
        while c.poll_event().is_some() {}
        c.poll_transmit(&mut out);
        out.clear();
        if c.is_closed() {
            break;
        }
    }
    c.handle_tls_established();
    c.handle_timeout(now + Duration::from_secs(61));
});
