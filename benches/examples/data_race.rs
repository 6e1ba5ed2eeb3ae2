//! DATA decoding of the 1 MiB bench body against a plain copy of the same bytes (the
//! ceiling) and Stalwart's DATA receiver, in alternating batches, reporting the fastest and
//! the median batch of each: on a shared machine the minimum is the figure least moved by
//! the neighbours, and alternating exposes all three to the same moments.
//!
//! ```sh
//! cargo run --release -p sansmail-benches --example data_race
//! ```
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sansmail_benches::data_body;
use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder};

/// One way of moving the body into the output buffer.
type Contender = fn(&[u8], &mut Vec<u8>);

const BATCH: u32 = 50;
const ROUNDS: u32 = 200;

fn plain_copy(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(black_box(input));
    black_box(&out);
}

fn ours(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut d = DataDecoder::new(BareLineEndings::Reject, Some(1000));
    let r = d.decode(black_box(input), out);
    assert!(r.done && !d.saw_bare_line_ending());
    black_box(&out);
}

fn stalwart(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut r = stalwart_smtp_proto::request::receiver::DataReceiver::new();
    assert!(r.ingest(&mut black_box(input).iter(), out));
    black_box(&out);
}

fn batch(f: Contender, input: &[u8], out: &mut Vec<u8>) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        f(input, out);
    }
    start.elapsed() / BATCH
}

fn main() {
    let input = data_body(1 << 20);
    let mut out = Vec::with_capacity(input.len());
    let contenders: [(&str, Contender); 3] =
        [("plain_copy", plain_copy), ("sansmail", ours), ("stalwart-smtp-proto", stalwart)];
    let mut times = vec![Vec::new(); contenders.len()];
    for _ in 0..ROUNDS {
        for ((_, f), t) in contenders.iter().zip(&mut times) {
            t.push(batch(*f, &input, &mut out));
        }
    }
    for t in &mut times {
        t.sort();
    }
    for (name, at) in [("fastest", 0), ("median", ROUNDS as usize / 2)] {
        let copy = times[0][at];
        print!("{name:8} batch:");
        for ((who, _), t) in contenders.iter().zip(&times) {
            print!("  {who} {:?}", t[at]);
        }
        println!("  sansmail/plain_copy {:.0}%", 100.0 * copy.as_secs_f64() / times[1][at].as_secs_f64());
    }
}
