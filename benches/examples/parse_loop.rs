//! Parses the bench corpus 20,000 times with one parser, for instruction counts under
//! callgrind (stable where wall-clock time on a shared machine is not):
//!
//! ```sh
//! cargo build --release -p sansmail-benches --example parse_loop
//! valgrind --tool=callgrind target/release/examples/parse_loop sansmail
//! valgrind --tool=callgrind target/release/examples/parse_loop sansmail_parse_str
//! valgrind --tool=callgrind target/release/examples/parse_loop stalwart
//! ```
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use sansmail_benches::pipelined_transaction;
use sansmail_smtp_proto::{Command, Status};

const ITER: usize = 20_000;

fn main() {
    let input = pipelined_transaction();
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut commands = 0usize;
    for _ in 0..ITER {
        match which.as_str() {
            "stalwart" => {
                let mut iter = black_box(&input[..]).iter();
                while !iter.as_slice().is_empty() {
                    black_box(stalwart_smtp_proto::Request::parse(&mut iter).expect("valid corpus"));
                    commands += 1;
                }
            }
            "sansmail_parse_str" => {
                let mut rest = std::str::from_utf8(black_box(&input[..])).expect("ASCII corpus");
                while let Ok(Status::Complete((cmd, used))) = Command::parse_str(rest) {
                    black_box(&cmd);
                    rest = &rest[used..];
                    commands += 1;
                }
            }
            _ => {
                let mut rest = black_box(&input[..]);
                while let Ok(Status::Complete((cmd, used))) = Command::parse(rest) {
                    black_box(&cmd);
                    rest = &rest[used..];
                    commands += 1;
                }
            }
        }
    }
    assert_eq!(commands, 54 * ITER);
}
