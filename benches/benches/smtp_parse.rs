//! Command parsing: ours beside Stalwart's `smtp-proto` on the same pipelined transaction.
//!
//! `cargo bench -p sansmail-benches --bench smtp_parse` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sansmail_benches::pipelined_transaction;
use sansmail_smtp_proto::{Command, Status};

fn parse(c: &mut Criterion) {
    let input = pipelined_transaction();
    let mut g = c.benchmark_group("smtp_command_parse");
    g.throughput(Throughput::Bytes(input.len() as u64));

    g.bench_function("sansmail", |b| {
        b.iter(|| {
            let mut rest = black_box(&input[..]);
            let mut n = 0;
            while let Ok(Status::Complete((cmd, used))) = Command::parse(rest) {
                black_box(&cmd);
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, 54);
        })
    });

    // The whole batch checked for UTF-8 once (inside the timed loop), then parsed as text.
    g.bench_function("sansmail_parse_str", |b| {
        b.iter(|| {
            let mut rest = std::str::from_utf8(black_box(&input[..])).expect("ASCII corpus");
            let mut n = 0;
            while let Ok(Status::Complete((cmd, used))) = Command::parse_str(rest) {
                black_box(&cmd);
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, 54);
        })
    });

    g.bench_function("stalwart-smtp-proto", |b| {
        use stalwart_smtp_proto::Request;
        b.iter(|| {
            let mut iter = black_box(&input[..]).iter();
            let mut n = 0;
            while !iter.as_slice().is_empty() {
                let req = Request::parse(&mut iter).expect("valid corpus");
                black_box(&req);
                n += 1;
            }
            assert_eq!(n, 54);
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
