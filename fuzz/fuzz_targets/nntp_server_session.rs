//! An NNTP server session fed arbitrary client octets in arbitrary pieces, with an embedder
//! that answers every decision by the input's choice (blocks written, articles accepted or
//! refused): no panic; the session holds no more than one command line; articles passed on
//! stay within the configured size.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_nntp_proto::command::Keyword;
use sansmail_nntp_proto::server::{Event, ServerConfig, ServerSession};
use sansmail_nntp_proto::{Mechanism, Response};

#[derive(Arbitrary, Debug)]
struct Input {
    tls: bool,
    answers: Vec<u16>,
    reads: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mut config = ServerConfig::new("news.example");
    config.plaintext_without_tls = true;
    config.starttls = true;
    config.ihave = true;
    config.streaming = true;
    config.mechanisms = vec![Mechanism::Plain, Mechanism::ScramSha256];
    config.limits.max_article = 4096;
    let t0 = Instant::now();
    let mut s = ServerSession::new(Arc::new(config), t0, input.tls, true);
    let mut answers = input.answers.iter().copied().chain(std::iter::repeat(200));
    let mut article = 0u64;
    let mut out = Vec::new();
    for (i, data) in input.reads.iter().enumerate() {
        let now = t0 + Duration::from_secs(i as u64);
        let mut rest = &data[..];
        for _ in 0..64 {
            let used = s.handle_input(now, rest);
            rest = &rest[used..];
            while let Some(event) = s.poll_event() {
                let answer = answers.next().unwrap_or(200);
                let _ = match event {
                    Event::Login { .. } | Event::AuthStart { .. } | Event::AuthResponse(_) => match answer % 3 {
                        0 => s.accept_login("u"),
                        1 => s.reject_login("no"),
                        _ => s.auth_challenge(b"c"),
                    },
                    Event::Command(request) => {
                        let code = match request.command().keyword() {
                            Keyword::Post if answer % 2 == 0 => 340,
                            Keyword::Ihave if answer % 2 == 0 => 335,
                            _ => 100 + answer % 500,
                        };
                        let r = s.respond(Response { code, text: "x" });
                        if s.in_block() {
                            let _ = s.block_data(&data[..data.len().min(64)]);
                            let _ = s.block_end();
                        }
                        r
                    }
                    Event::ArticleData(piece) => {
                        article += piece.len() as u64;
                        assert!(article <= 4096 + 64 * 1024, "an article past the limit was passed on");
                        Ok(())
                    }
                    Event::ArticleEnd => {
                        article = 0;
                        s.respond(Response { code: 239, text: "ok" })
                    }
                    Event::ArticleAborted => {
                        article = 0;
                        Ok(())
                    }
                    Event::StartTls => {
                        s.handle_tls_established(now);
                        Ok(())
                    }
                    _ => Ok(()),
                };
            }
            s.poll_transmit(&mut out);
            out.clear();
            if rest.is_empty() || used == 0 || s.is_closed() {
                break;
            }
        }
        s.handle_timeout(now);
    }
});
