//! Decodes the 1 MiB DATA body 50 times, for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --release -p sansmail-benches --example data_loop
//! valgrind --tool=callgrind target/release/examples/data_loop
//! ```
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use sansmail_benches::data_body;
use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder};

fn main() {
    let input = data_body(1 << 20);
    let mut out = Vec::with_capacity(input.len());
    for _ in 0..50 {
        out.clear();
        let mut d = DataDecoder::new(BareLineEndings::Reject, Some(1000));
        let r = d.decode(black_box(&input), &mut out);
        assert!(r.done && !d.saw_bare_line_ending());
        black_box(&out);
    }
}
