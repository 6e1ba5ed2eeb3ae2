//! The IMAP command framer fed arbitrary octets in arbitrary pieces, with arbitrary answers
//! to the literals that stop it (taken, streamed or refused): no panic, and what it holds stays within its limits.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_imap_proto::{Frame, Framer, FramingConfig};

#[derive(Arbitrary, Debug)]
struct Input {
    literal_plus: bool,
    literal_minus: bool,
    stream_above: Option<u16>,
    binary: bool,
    answers: Vec<bool>,
    reads: Vec<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mut config = FramingConfig::default();
    config.max_line = 128;
    config.max_literal = 512;
    config.max_command = 2048;
    config.literal_plus = input.literal_plus;
    config.literal_minus = input.literal_minus;
    config.binary = input.binary;
    config.stream_literals_above = input.stream_above.map(u64::from);
    let mut f = Framer::new(config);
    let mut answers = input.answers.iter().copied().cycle();
    for data in &input.reads {
        let mut rest = &data[..];
        let mut stalls = 0;
        while !rest.is_empty() && stalls < 2 {
            let used = f.push(rest);
            rest = &rest[used..];
            stalls = if used == 0 { stalls + 1 } else { 0 };
            while let Some(frame) = f.poll_frame() {
                match frame {
                    Frame::Command(c) => assert!(c.len() <= 2048 + 128),
                    Frame::Continuation { size, .. } => {
                        assert!(size <= 512);
                        match (answers.next().unwrap_or(true), answers.next().unwrap_or(false)) {
                            (true, false) => f.accept_literal(),
                            (true, true) => f.stream_literal(),
                            (false, _) => f.refuse_literal(),
                        }
                    }
                    Frame::LiteralData(d) => assert!(!d.is_empty() && d.len() <= data.len()),
                    _ => {}
                }
            }
        }
    }
});
