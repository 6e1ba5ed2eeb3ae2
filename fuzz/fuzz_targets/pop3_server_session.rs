//! A whole POP3 server session driven by arbitrary client bytes, read sizes, clock ticks
//! and embedder answers (logins accepted or refused, messages streamed or refused, STLS
//! completing): never panics, and output stays bounded while the embedder does not read.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_pop3_proto::ResponseCode;
use sansmail_pop3_proto::server::{Event, MessageInfo, ServerConfig, ServerSession};

#[derive(Arbitrary, Debug)]
struct Input {
    tls: bool,
    plaintext: bool,
    answers: Vec<u8>,
    message: Vec<u8>,
    reads: Vec<(u8, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mut config = ServerConfig::default();
    config.stls = true;
    config.apop = true;
    config.plaintext_without_tls = input.plaintext;
    config.limits.errors = 50;
    let mut now = Instant::now();
    let mut s = ServerSession::new(Arc::new(config), now, input.tls, Some("<1.2@fuzz>"));
    let mut answers = input.answers.iter().copied().chain(std::iter::repeat(0));
    let mut out = Vec::new();
    let drop = vec![
        MessageInfo { size: input.message.len() as u64, uid: "a".into() },
        MessageInfo { size: 3, uid: "b".into() },
    ];
    for (tick, data) in &input.reads {
        now += Duration::from_secs(u64::from(*tick) * 10);
        s.handle_timeout(now);
        let mut rest = &data[..];
        let mut idle = 0;
        while !rest.is_empty() && idle < 3 {
            let used = s.handle_input(now, rest);
            rest = &rest[used..];
            idle = if used == 0 { idle + 1 } else { 0 };
            while let Some(event) = s.poll_event() {
                let a = answers.next().unwrap_or(0);
                let _ = match event {
                    Event::Login { .. } | Event::Apop { .. } | Event::AuthStart { .. } | Event::AuthResponse(_) => {
                        match a % 3 {
                            0 => s.accept_login("u", drop.clone()),
                            1 => s.reject(Some(ResponseCode::Auth), "no"),
                            _ => s.auth_challenge(b"more"),
                        }
                    }
                    Event::Retrieve { .. } => {
                        if a % 4 == 0 {
                            s.reject(Some(ResponseCode::SysTemp), "gone")
                        } else {
                            for piece in input.message.chunks(usize::from(a % 16) + 1) {
                                if !s.wants_content() {
                                    break;
                                }
                                let _ = s.message_data(piece);
                            }
                            s.message_end()
                        }
                    }
                    Event::Update { .. } => {
                        if a % 2 == 0 {
                            s.accept()
                        } else {
                            s.reject(None, "x")
                        }
                    }
                    Event::StartTls => {
                        s.handle_tls_established(now);
                        Ok(())
                    }
                    _ => Ok(()),
                };
            }
            // The embedder sometimes lets output pile up: the session must stop reading.
            if answers.next().unwrap_or(0) & 1 == 0 {
                s.poll_transmit(&mut out);
                out.clear();
            }
        }
        s.poll_transmit(&mut out);
        out.clear();
    }
});
