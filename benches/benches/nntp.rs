//! NNTP: command parsing of a reader's and a feed's commands, beside splitting the same lines
//! on white space (the floor of any parser); and OVER encoding of 10,000 overview lines with
//! every field made safe, beside joining the same fields with tabs unchecked (the floor of
//! any encoder). No Rust crate parses NNTP commands or writes overview lines (the crates
//! that exist are clients), so the floors are the comparison.
//!
//! `cargo bench -p sansmail-benches --bench nntp` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sansmail_nntp_proto::Command;
use sansmail_nntp_proto::overview::Overview;

const LINES: [&str; 12] = [
    "MODE READER",
    "GROUP comp.lang.rust",
    "LISTGROUP comp.lang.rust 3000234-3002322",
    "OVER 3000234-3002322",
    "XOVER 3000234-",
    "ARTICLE 3000237",
    "HEAD <45223423@example.com>",
    "HDR Subject 3000234-3000300",
    "LIST ACTIVE comp.*,!comp.lang.*",
    "NEWNEWS news.*,sci.* 20261207 101112 GMT",
    "CHECK <i.am.an.article.you.will.want@example.com>",
    "TAKETHIS <i.am.an.article.you.will.want@example.com>",
];

fn parse(c: &mut Criterion) {
    let bytes: usize = LINES.iter().map(|l| l.len() + 2).sum();
    let mut g = c.benchmark_group("nntp_parse");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(BenchmarkId::new("split_whitespace_floor", "12 lines"), |b| {
        b.iter(|| {
            for line in black_box(&LINES) {
                black_box(line.split_ascii_whitespace().count());
            }
        })
    });
    g.bench_function(BenchmarkId::new("sansmail", "12 lines"), |b| {
        b.iter(|| {
            for line in black_box(&LINES) {
                black_box(Command::parse_line(line.as_bytes()).unwrap());
            }
        })
    });
    g.finish();
}

struct Article {
    subject: String,
    from: String,
    date: String,
    message_id: String,
    references: String,
}

fn over(c: &mut Criterion) {
    let articles: Vec<Article> = (0..10_000)
        .map(|i| Article {
            subject: format!("Re: a question about lifetimes and borrows, number {i}"),
            from: format!("\"Poster {i}\" <poster{i}@example.net>"),
            date: "Mon, 7 Dec 2026 10:11:12 +0000".to_owned(),
            message_id: format!("<{i}.article@example.com>"),
            references: format!("<{}.article@example.com> <{}.article@example.com>", i / 2, i / 3),
        })
        .collect();
    let mut out = Vec::with_capacity(4 << 20);
    let mut measure = Vec::new();
    for (i, a) in articles.iter().enumerate() {
        overview(i, a).encode(&mut measure);
    }
    let mut g = c.benchmark_group("nntp_over");
    g.throughput(Throughput::Bytes(measure.len() as u64));
    g.bench_function(BenchmarkId::new("unchecked_join_floor", "10000 lines"), |b| {
        b.iter(|| {
            out.clear();
            for (i, a) in black_box(&articles).iter().enumerate() {
                for field in [i.to_string().as_str(), &a.subject, &a.from, &a.date, &a.message_id, &a.references] {
                    out.extend_from_slice(field.as_bytes());
                    out.push(b'\t');
                }
                out.extend_from_slice(b"1234\t17\t\r\n");
            }
            black_box(&out);
        })
    });
    g.bench_function(BenchmarkId::new("sansmail", "10000 lines"), |b| {
        b.iter(|| {
            out.clear();
            for (i, a) in black_box(&articles).iter().enumerate() {
                overview(i, a).encode(&mut out);
            }
            black_box(&out);
        })
    });
    g.finish();
}

fn overview(i: usize, a: &Article) -> Overview<'_> {
    Overview {
        number: i as u64,
        subject: a.subject.as_bytes(),
        from: a.from.as_bytes(),
        date: a.date.as_bytes(),
        message_id: a.message_id.as_bytes(),
        references: a.references.as_bytes(),
        bytes: 1234,
        lines: 17,
        xref: b"",
    }
}

criterion_group!(benches, parse, over);
criterion_main!(benches);
