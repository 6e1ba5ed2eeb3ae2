//! Both parsers on the bench corpus in alternating batches, reporting the fastest batch of
//! each: on a shared machine the minimum is the figure least moved by the neighbours, and
//! alternating exposes both to the same moments.
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
    let (mut best_ours, mut best_stalwart) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        best_ours = best_ours.min(batch(ours, &input));
        best_stalwart = best_stalwart.min(batch(stalwart, &input));
    }
    println!(
        "sansmail {best_ours:?}  stalwart-smtp-proto {best_stalwart:?}  stalwart/sansmail {:.2}",
        best_stalwart.as_secs_f64() / best_ours.as_secs_f64()
    );
}
