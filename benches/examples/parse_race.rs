//! Both parsers on the bench corpus in alternating batches (ours twice: per line from bytes,
//! and as text after one UTF-8 check of the whole batch), reporting the fastest and the
//! median batch of each: on a shared machine the minimum is the figure least moved by the
//! neighbours, and alternating exposes both to the same moments.
//!
//! ```sh
//! cargo run --release -p sansmail-benches --example parse_race
//! ```
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sansmail_benches::pipelined_transaction;
use sansmail_smtp_proto::{Command, Status};

const BATCH: u32 = 2_000;
const ROUNDS: u32 = 200;

fn ours(input: &[u8]) -> usize {
    let mut rest = black_box(input);
    let mut n = 0;
    while let Ok(Status::Complete((cmd, used))) = Command::parse(rest) {
        black_box(&cmd);
        rest = &rest[used..];
        n += 1;
    }
    n
}

/// The batch checked for UTF-8 once, then parsed as text.
fn ours_str(input: &[u8]) -> usize {
    let Ok(mut rest) = std::str::from_utf8(black_box(input)) else { return 0 };
    let mut n = 0;
    while let Ok(Status::Complete((cmd, used))) = Command::parse_str(rest) {
        black_box(&cmd);
        rest = &rest[used..];
        n += 1;
    }
    n
}

fn stalwart(input: &[u8]) -> usize {
    let mut iter = black_box(input).iter();
    let mut n = 0;
    while !iter.as_slice().is_empty() {
        black_box(stalwart_smtp_proto::Request::parse(&mut iter).expect("valid corpus"));
        n += 1;
    }
    n
}

fn batch(f: fn(&[u8]) -> usize, input: &[u8]) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        assert_eq!(f(input), 54);
    }
    start.elapsed() / BATCH
}

fn main() {
    let input = pipelined_transaction();
    let (mut ours_t, mut ours_str_t, mut stalwart_t) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours_t.push(batch(ours, &input));
        ours_str_t.push(batch(ours_str, &input));
        stalwart_t.push(batch(stalwart, &input));
    }
    ours_t.sort();
    ours_str_t.sort();
    stalwart_t.sort();
    for (name, at) in [("fastest", 0), ("median", ROUNDS as usize / 2)] {
        let (o, t, s) = (ours_t[at], ours_str_t[at], stalwart_t[at]);
        println!(
            "{name:8} batch: sansmail {o:?} (parse_str {t:?})  stalwart-smtp-proto {s:?}  stalwart/sansmail {:.2} (parse_str {:.2})",
            s.as_secs_f64() / o.as_secs_f64(),
            s.as_secs_f64() / t.as_secs_f64()
        );
    }
}
