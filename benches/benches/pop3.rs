//! POP3: RETR of a 25 MiB message through the server session (read in 64 KiB pieces as the
//! server reads its file, dot-stuffed, taken out as the driver writes) beside a plain copy of
//! the same pieces (the ceiling); and command parsing of a typical session's commands.
//!
//! `cargo bench -p sansmail-benches --bench pop3` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sansmail_benches::data_body;
use sansmail_pop3_proto::Command;
use sansmail_pop3_proto::server::{Event, MessageInfo, ServerConfig, ServerSession};

const PIECE: usize = 64 * 1024;

fn retr(c: &mut Criterion) {
    // The DATA bench's body as a stored message: drop the end marker.
    let mut message = data_body(25 << 20);
    message.truncate(message.len() - 3);
    let mut g = c.benchmark_group("pop3_retr");
    g.throughput(Throughput::Bytes(message.len() as u64));
    g.sample_size(20);
    let mut out = Vec::with_capacity(PIECE * 2);

    g.bench_function(BenchmarkId::new("plain_copy", "25MiB"), |b| {
        b.iter(|| {
            for piece in black_box(&message).chunks(PIECE) {
                out.clear();
                out.extend_from_slice(piece);
                black_box(&out);
            }
        })
    });

    let config = Arc::new({
        let mut conf = ServerConfig::default();
        conf.plaintext_without_tls = true;
        conf
    });
    let now = Instant::now();
    let mut s = ServerSession::new(config, now, false, None);
    let _ = s.handle_input(now, b"USER a\r\nPASS b\r\n");
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    let drop = vec![MessageInfo { size: message.len() as u64, uid: "m".into() }];
    s.accept_login("a", drop).unwrap();
    s.poll_transmit(&mut out);
    g.bench_function(BenchmarkId::new("sansmail", "25MiB"), |b| {
        b.iter(|| {
            let _ = s.handle_input(now, b"RETR 1\r\n");
            assert!(matches!(s.poll_event(), Some(Event::Retrieve { .. })));
            for piece in black_box(&message).chunks(PIECE) {
                out.clear();
                s.message_data(piece).unwrap();
                s.poll_transmit(&mut out);
                black_box(&out);
            }
            s.message_end().unwrap();
            out.clear();
            s.poll_transmit(&mut out);
        })
    });
    g.finish();
}

/// What a mail client sends in a typical collecting session.
fn commands() -> Vec<u8> {
    let mut t = String::from(
        "CAPA\r\nSTLS\r\nCAPA\r\nUSER alice@example.org\r\nPASS correct horse battery staple\r\nSTAT\r\nUIDL\r\nLIST\r\n",
    );
    for i in 1..=20 {
        t.push_str(&format!("TOP {i} 0\r\nRETR {i}\r\nDELE {i}\r\n"));
    }
    t.push_str("NOOP\r\nQUIT\r\n");
    t.into_bytes()
}

fn parse(c: &mut Criterion) {
    let input = commands();
    let mut g = c.benchmark_group("pop3_parse");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("sansmail", |b| {
        b.iter(|| {
            let mut rest = black_box(&input[..]);
            let mut n = 0;
            while let Ok(sansmail_pop3_proto::Status::Complete((cmd, used))) = Command::parse(rest) {
                black_box(&cmd);
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, 70);
        })
    });
    g.finish();
}

criterion_group!(benches, retr, parse);
criterion_main!(benches);
