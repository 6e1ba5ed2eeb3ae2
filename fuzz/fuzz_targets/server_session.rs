//! A whole server session driven by arbitrary client bytes, arbitrary read sizes and
//! arbitrary embedder answers (including STARTTLS completing at any time).
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::server::{ServerConfig, ServerSession};
use sansmail_smtp_proto::{Mechanism, Reply};

#[derive(Arbitrary, Debug)]
struct Input {
    tls: bool,
    normalize: bool,
    answers: Vec<u8>,
    reads: Vec<(u8, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mut config = ServerConfig::default();
    config.extensions.starttls = true;
    config.extensions.etrn = true;
    config.extensions.atrn = true;
    config.extensions.requiretls = true;
    config.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
    config.auth_requires_tls = false;
    config.vrfy = true;
    config.expn = true;
    config.bare_line_endings = if input.normalize {
        sansmail_smtp_proto::data::BareLineEndings::Normalize
    } else {
        sansmail_smtp_proto::data::BareLineEndings::Reject
    };
    config.limits.message_size = Some(4096);
    config.limits.recipients = 5;
    config.limits.input_buffer = 1024;
    let mut now = Instant::now();
    let mut s = ServerSession::new(Arc::new(config), now, input.tls);
    let mut answers = input.answers.iter().cycle();
    let mut out = Vec::new();
    for (tick, data) in &input.reads {
        now += Duration::from_secs(u64::from(*tick));
        s.handle_timeout(now);
        let mut rest = &data[..];
        let mut idle = 0;
        while !rest.is_empty() && idle < 3 {
            let used = s.handle_input(now, rest);
            rest = &rest[used..];
            idle = if used == 0 { idle + 1 } else { 0 };
            while let Some(event) = s.poll_event() {
                if matches!(event, sansmail_smtp_proto::server::Event::StartTls) {
                    s.handle_tls_established(now);
                }
                if event.is_decision() {
                    let r = match answers.next().copied().unwrap_or(0) % 4 {
                        0 => s.accept(),
                        1 => s.reject(&Reply::new(550, (5, 7, 1), "no")),
                        2 => s.auth_challenge(b"challenge").or_else(|_| s.accept()),
                        _ => s.reject(&Reply::new(421, (4, 3, 0), "bye")),
                    };
                    r.expect("answer to a polled decision");
                }
            }
            s.poll_transmit(&mut out);
            assert!(out.len() < 1 << 24);
            out.clear();
        }
        if s.is_closed() {
            break;
        }
    }
});
