//! A POP3 client session fed arbitrary server bytes after pipelined commands: never panics,
//! and never buffers more than its line limit.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_pop3_proto::Command;
use sansmail_pop3_proto::client::{ClientEvent, ClientSession};

#[derive(Arbitrary, Debug)]
struct Input {
    commands: Vec<u8>,
    reads: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let now = Instant::now();
    let mut c = ClientSession::new(now, Duration::from_secs(60));
    for k in &input.commands {
        let cmd = match k % 8 {
            0 => Command::Capa,
            1 => Command::Stls,
            2 => Command::Stat,
            3 => Command::List { msg: None },
            4 => Command::Retr { msg: 1 },
            5 => Command::Top { msg: 1, lines: 2 },
            6 => Command::Auth { mechanism: Some("PLAIN"), initial_response: None },
            _ => Command::Quit,
        };
        let _ = c.send(now, &cmd);
    }
    for data in &input.reads {
        assert_eq!(c.handle_input(now, data), data.len());
        while let Some(e) = c.poll_event() {
            if let ClientEvent::Challenge(_) = e {
                c.auth_response(now, b"x");
            }
        }
    }
    c.handle_timeout(now + Duration::from_secs(61));
});
