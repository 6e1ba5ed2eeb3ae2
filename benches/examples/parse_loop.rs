//! Parses the bench corpus 20,000 times with one parser, for instruction counts under
//! callgrind (stable where wall-clock time on a shared machine is not):
//!
//! ```sh
//! cargo build --release -p sansmail-benches --example parse_loop
//! valgrind --tool=callgrind target/release/examples/parse_loop sansmail
//! valgrind --tool=callgrind target/release/examples/parse_loop stalwart
//! ```
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use sansmail_benches::pipelined_transaction;
use sansmail_smtp_proto::{Command, Status};

const ITER: usize = 20_000;

fn main() {
    let input = pipelined_transaction();
    let stalwart = std::env::args().nth(1).as_deref() == Some("stalwart");
    let mut commands = 0usize;
    for _ in 0..ITER {
        if stalwart {
            let mut iter = black_box(&input[..]).iter();
            while !iter.as_slice().is_empty() {
                black_box(stalwart_smtp_proto::Request::parse(&mut iter).expect("valid corpus"));
                commands += 1;
            }
        } else {
            let mut rest = black_box(&input[..]);
            while let Ok(Status::Complete((cmd, used))) = Command::parse(rest) {
                black_box(&cmd);
                rest = &rest[used..];
                commands += 1;
            }
        }
    }
    assert_eq!(commands, 54 * ITER);
}
