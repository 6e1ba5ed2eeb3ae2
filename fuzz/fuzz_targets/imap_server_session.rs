//! An IMAP server session fed arbitrary client octets in arbitrary pieces, with an embedder
//! that answers every event (accepting or refusing by the input's choice): no panic, and the
//! output stays bounded by what the session was given. Messages over 16 octets are
//! streamed: every piece fits the read that brought it, and an append that ends has had
//! exactly the octets it announced (each message of a MULTIAPPEND too).
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_imap_proto::command::Body;
use sansmail_imap_proto::Mechanism;
use sansmail_imap_proto::response::Status;
use sansmail_imap_proto::server::{Event, ServerConfig, ServerSession};

#[derive(Arbitrary, Debug)]
struct Input {
    tls: bool,
    answers: Vec<bool>,
    reads: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mut config = ServerConfig::default();
    config.plaintext_without_tls = true;
    config.starttls = true;
    // What a mail store would offer, so AUTHENTICATE and the extension commands are reached.
    config.mechanisms = vec![Mechanism::Plain, Mechanism::ScramSha256];
    config.extensions =
        ["NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "ESEARCH", "MULTIAPPEND", "CONDSTORE", "QRESYNC"].map(str::to_owned).to_vec();
    config.enable = ["CONDSTORE", "QRESYNC", "IMAP4rev2"].map(str::to_owned).to_vec();
    config.compress = true;
    config.framing.stream_literals_above = Some(16);
    // The streamed message: (announced, received).
    let mut streaming: Option<(u64, u64)> = None;
    let t0 = Instant::now();
    let mut s = ServerSession::new(Arc::new(config), t0, input.tls);
    let mut answers = input.answers.iter().copied().chain(std::iter::repeat(true));
    let mut out = Vec::new();
    let mut given = 0usize;
    for (i, data) in input.reads.iter().enumerate() {
        let now = t0 + Duration::from_secs(i as u64);
        let mut rest = &data[..];
        given += rest.len();
        for _ in 0..64 {
            let used = s.handle_input(now, rest);
            rest = &rest[used..];
            while let Some(event) = s.poll_event() {
                let yes = answers.next().unwrap_or(true);
                let _ = match event {
                    Event::Login { .. } | Event::AuthResponse(_) | Event::AuthStart { .. } if yes => {
                        s.accept_login("u")
                    }
                    Event::Login { .. } | Event::AuthResponse(_) | Event::AuthStart { .. } => {
                        s.reject_login(None, "no")
                    }
                    Event::AppendLiteral { .. } if yes => s.accept_literal(),
                    Event::AppendLiteral { .. } => s.refuse_literal(None, "no"),
                    Event::AppendStart { request, size } if yes => {
                        assert!(matches!(request.command().body, Body::Append { message: b"", .. }));
                        // A further message of a MULTIAPPEND: the one before is whole.
                        if let Some((before, got)) = streaming {
                            assert_eq!(before, got);
                        }
                        streaming = Some((size, 0));
                        s.accept_literal()
                    }
                    Event::AppendStart { .. } => {
                        streaming = None;
                        s.refuse_literal(None, "no")
                    }
                    Event::AppendData(piece) => {
                        let (size, got) = streaming.as_mut().expect("data of an accepted append");
                        *got += piece.len() as u64;
                        assert!(*got <= *size && !piece.is_empty() && piece.len() <= data.len());
                        Ok(())
                    }
                    Event::AppendEnd => {
                        let (size, got) = streaming.take().expect("the end of an accepted append");
                        assert_eq!(size, got);
                        s.complete(Status::Ok, None, "done")
                    }
                    Event::AppendAborted => {
                        streaming.take().expect("an accepted append aborted");
                        Ok(())
                    }
                    Event::Close => {
                        streaming = None;
                        Ok(())
                    }
                    Event::StartTls => {
                        s.handle_tls_established(now);
                        Ok(())
                    }
                    Event::Command(req) => {
                        assert!(req.as_bytes().starts_with(req.command().tag.as_bytes()));
                        if s.is_idling() { Ok(()) } else { s.complete(Status::Ok, None, "done") }
                    }
                    Event::IdleDone => s.complete(Status::Ok, None, "done"),
                    _ => Ok(()),
                };
            }
            out.clear();
            s.poll_transmit(&mut out);
            if rest.is_empty() || s.is_closed() {
                break;
            }
        }
        s.handle_timeout(now);
        assert!(out.len() <= given * 16 + 64 * 1024);
    }
});
