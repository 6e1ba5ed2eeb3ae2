//! DATA decoding of 1 MiB and 25 MiB bodies beside a plain copy of the same bytes (the
//! ceiling), and Stalwart's `smtp-proto` DATA receiver for reference.
//!
//! `cargo bench -p sansmail-benches --bench smtp_data` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sansmail_benches::data_body;
use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder};

fn data(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp_data_decode");
    for (name, size) in [("1MiB", 1 << 20), ("25MiB", 25 << 20)] {
        let input = data_body(size);
        g.throughput(Throughput::Bytes(input.len() as u64));
        if size > 1 << 20 {
            g.sample_size(20);
        }
        let mut out = Vec::with_capacity(input.len());

        g.bench_function(BenchmarkId::new("plain_copy", name), |b| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(&input));
                black_box(&out);
            })
        });

        g.bench_function(BenchmarkId::new("sansmail", name), |b| {
            b.iter(|| {
                out.clear();
                let mut d = DataDecoder::new(BareLineEndings::Reject, Some(1000));
                let r = d.decode(black_box(&input), &mut out);
                assert!(r.done && !d.saw_bare_line_ending());
                black_box(&out);
            })
        });

        g.bench_function(BenchmarkId::new("stalwart-smtp-proto", name), |b| {
            use stalwart_smtp_proto::request::receiver::DataReceiver;
            b.iter(|| {
                out.clear();
                let mut r = DataReceiver::new();
                let done = r.ingest(&mut black_box(&input).iter(), &mut out);
                assert!(done);
                black_box(&out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, data);
criterion_main!(benches);
