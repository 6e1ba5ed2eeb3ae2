//! IMAP command parsing: ours beside imap-codec on the same commands of a client session,
//! each command's octets given whole to both.
//!
//! `cargo bench -p sansmail-benches --bench imap_parse` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use sansmail_benches::imap_session_commands;
use sansmail_imap_proto::Command;

fn parse(c: &mut Criterion) {
    let commands = imap_session_commands();
    let bytes: usize = commands.iter().map(Vec::len).sum();
    // Both parsers accept every command of the corpus.
    let codec = CommandCodec::default();
    let mut refused = Vec::new();
    for cmd in &commands {
        Command::parse(cmd).unwrap_or_else(|e| panic!("sansmail: {e} in {}", String::from_utf8_lossy(cmd)));
        match codec.decode(cmd) {
            Ok((rest, _)) => assert!(rest.is_empty()),
            Err(e) => refused.push(format!("{e:?}: {}", String::from_utf8_lossy(cmd))),
        }
    }
    assert!(refused.is_empty(), "imap-codec refuses:\n{}", refused.join("\n"));
    let mut g = c.benchmark_group("imap_command_parse");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("sansmail", |b| {
        b.iter(|| {
            for cmd in &commands {
                black_box(Command::parse(black_box(cmd)).expect("valid corpus"));
            }
        })
    });
    g.bench_function("imap-codec", |b| {
        b.iter(|| {
            for cmd in &commands {
                black_box(codec.decode(black_box(cmd)).expect("valid corpus"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
