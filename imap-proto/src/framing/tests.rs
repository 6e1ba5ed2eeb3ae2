//! The framer over every split of its input, at and past each limit, and against hostile
//! literal sizes.

use super::*;

/// Feeds `input` in two pieces split at `split`, accepting every synchronising literal;
/// returns the frames.
fn run(config: &FramingConfig, input: &[u8], split: usize) -> Vec<Frame> {
    let mut f = Framer::new(config.clone());
    let mut frames = Vec::new();
    for part in [&input[..split], &input[split..]] {
        let mut rest = part;
        loop {
            let used = f.push(rest);
            rest = &rest[used..];
            while let Some(frame) = f.poll_frame() {
                if matches!(frame, Frame::Continuation { .. }) {
                    f.accept_literal();
                }
                frames.push(frame);
            }
            if rest.is_empty() {
                break;
            }
        }
    }
    frames
}

/// The same frames whatever the split.
fn every_split(config: &FramingConfig, input: &[u8]) -> Vec<Frame> {
    let whole = run(config, input, input.len());
    for split in 0..input.len() {
        assert_eq!(run(config, input, split), whole, "split at {split}");
    }
    whole
}

fn cmd(s: &[u8]) -> Frame {
    Frame::Command(s.to_vec())
}

#[test]
fn lines_and_literals_make_commands() {
    let c = FramingConfig::default();
    let input = b"a1 NOOP\r\na2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\na3 SELECT \"{x}\"\r\n";
    let frames = every_split(&c, input);
    assert_eq!(
        frames,
        vec![
            cmd(b"a1 NOOP\r\n"),
            Frame::Continuation { tag: Some("a2".into()), size: 5, synchronizing: true },
            cmd(b"a2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"),
            cmd(b"a3 SELECT \"{x}\"\r\n"),
        ]
    );
    // A literal may hold CRLF, `{3}` and anything else: it is counted, not scanned.
    let frames = every_split(&c, b"t APPEND x {12+}\r\na\r\n{3}\r\n\x00\xff.\r\n");
    assert_eq!(frames, vec![cmd(b"t APPEND x {12+}\r\na\r\n{3}\r\n\x00\xff.\r\n")]);
}

#[test]
fn a_literal_over_the_limit_is_refused_before_any_continuation() {
    let c = FramingConfig { max_literal: 10, ..FramingConfig::default() };
    // Synchronising: refused at once, no continuation; the client sends nothing more.
    let frames = every_split(&c, b"a1 APPEND INBOX {11}\r\na2 NOOP\r\n");
    assert_eq!(
        frames,
        vec![Frame::Refused { tag: Some("a1".into()), reason: Refusal::TooBig { size: 11 } }, cmd(b"a2 NOOP\r\n")]
    );
    // At the limit: accepted.
    let frames = every_split(&c, b"a1 APPEND INBOX {10}\r\n0123456789\r\n");
    assert_eq!(frames[1], cmd(b"a1 APPEND INBOX {10}\r\n0123456789\r\n"));
    // Non-synchronising: refused, its octets (CRLF and all) dropped, the rest of the command
    // dropped too, the next command framed.
    let frames = every_split(&c, b"a1 APPEND INBOX {11+}\r\n\r\na2 NOOP\r\n {2+}\r\nxx\r\na3 NOOP\r\n");
    assert_eq!(
        frames,
        vec![Frame::Refused { tag: Some("a1".into()), reason: Refusal::TooBig { size: 11 } }, cmd(b"a3 NOOP\r\n")]
    );
}

#[test]
fn hostile_sizes_are_harmless() {
    let c = FramingConfig::default();
    // The largest number64, synchronising: refused, nothing allocated.
    let mut f = Framer::new(c.clone());
    f.push(b"x APPEND INBOX {9223372036854775807}\r\n");
    assert_eq!(
        f.poll_frame(),
        Some(Frame::Refused { tag: Some("x".into()), reason: Refusal::TooBig { size: i64::MAX as u64 } })
    );
    assert!(f.command.capacity() < 1024);
    // Past number64 (and u64): malformed.
    let frames = every_split(&c, b"x APPEND INBOX {18446744073709551615}\r\ny NOOP\r\n");
    assert_eq!(frames, vec![Frame::Refused { tag: Some("x".into()), reason: Refusal::Malformed }, cmd(b"y NOOP\r\n")]);
    // Non-synchronising and huge: every octet after is drained, with flat memory.
    let mut f = Framer::new(c);
    f.push(b"x APPEND INBOX {9000000000000000000+}\r\n");
    let junk = vec![b'A'; 1 << 20];
    for _ in 0..64 {
        assert_eq!(f.push(&junk), junk.len());
    }
    assert_eq!(
        f.poll_frame(),
        Some(Frame::Refused { tag: Some("x".into()), reason: Refusal::TooBig { size: 9_000_000_000_000_000_000 } })
    );
    assert_eq!(f.poll_frame(), None);
    assert!(f.command.capacity() < 1024 && f.tail.capacity() <= 64);
}

#[test]
fn line_limit_at_and_past_its_edge() {
    let c = FramingConfig { max_line: 32, ..FramingConfig::default() };
    let at = b"a1 SELECT 0123456789abcdefghij\r\n"; // 32 octets with CRLF
    assert_eq!(at.len(), 32);
    assert_eq!(every_split(&c, at), vec![cmd(at)]);
    let past = b"a1 SELECT 0123456789abcdefghijk\r\na2 NOOP\r\n";
    assert_eq!(
        every_split(&c, past),
        vec![Frame::Refused { tag: Some("a1".into()), reason: Refusal::LineTooLong }, cmd(b"a2 NOOP\r\n")]
    );
    // An over-long line that ends with a non-synchronising literal: its octets are dropped
    // too, not taken for a command.
    let input = b"a1 LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {9+}\r\na3 NOOP\r\n\r\na2 NOOP\r\n";
    assert_eq!(
        every_split(&c, input),
        vec![Frame::Refused { tag: Some("a1".into()), reason: Refusal::LineTooLong }, cmd(b"a2 NOOP\r\n")]
    );
}

#[test]
fn literal_forms_follow_the_advertised_extensions() {
    let none = FramingConfig { literal_plus: false, ..FramingConfig::default() };
    let minus = FramingConfig { literal_plus: false, literal_minus: true, ..FramingConfig::default() };
    let binary = FramingConfig { binary: true, ..FramingConfig::default() };
    let refused = |reason| Frame::Refused { tag: Some("a".into()), reason };
    // No LITERAL+: `{n+}` is not allowed.
    assert_eq!(every_split(&none, b"a LOGIN {1+}\r\nx y\r\n")[0], refused(Refusal::NotAllowed));
    // LITERAL-: up to 4096.
    let ok = format!("a APPEND x {{4096+}}\r\n{}\r\n", "z".repeat(4096));
    assert_eq!(run(&minus, ok.as_bytes(), ok.len()), vec![cmd(ok.as_bytes())]);
    let over = format!("a APPEND x {{4097+}}\r\n{}\r\nb NOOP\r\n", "z".repeat(4097));
    assert_eq!(run(&minus, over.as_bytes(), 10), vec![refused(Refusal::NotAllowed), cmd(b"b NOOP\r\n")]);
    // literal8 only with BINARY.
    assert_eq!(every_split(&FramingConfig::default(), b"a APPEND x ~{2}\r\n")[0], refused(Refusal::NotAllowed));
    let frames = every_split(&binary, b"a APPEND x ~{2}\r\n\x00\x01\r\n");
    assert_eq!(frames[1], cmd(b"a APPEND x ~{2}\r\n\x00\x01\r\n"));
    // Not a literal header: `{1-}` and `{}` are malformed.
    assert_eq!(every_split(&binary, b"a X {1-}\r\n")[0], refused(Refusal::Malformed));
}

#[test]
fn the_embedder_may_refuse_a_synchronising_literal() {
    let mut f = Framer::new(FramingConfig::default());
    // The framer stops at the announcement: what follows waits for the answer.
    assert_eq!(f.push(b"a1 APPEND INBOX {100}\r\na2 NOOP\r\n"), 23);
    assert_eq!(f.poll_frame(), Some(Frame::Continuation { tag: Some("a1".into()), size: 100, synchronizing: true }));
    assert!(f.is_waiting());
    f.refuse_literal();
    assert_eq!(f.poll_frame(), Some(Frame::Refused { tag: Some("a1".into()), reason: Refusal::ByEmbedder }));
    assert_eq!(f.push(b"a2 NOOP\r\n"), 9);
    assert_eq!(f.poll_frame(), Some(cmd(b"a2 NOOP\r\n")));
}

/// A large literal, synchronising or not, stops the framer so that it can be streamed: its
/// octets come out as pieces, never in the command, whatever the split.
#[test]
fn large_literals_may_be_streamed() {
    let c = FramingConfig { stream_literals_above: Some(8), ..FramingConfig::default() };
    for (input, sync) in [
        (&b"a APPEND x {12}\r\nHello world!\r\nb NOOP\r\n"[..], true),
        (&b"a APPEND x {12+}\r\nHello world!\r\nb NOOP\r\n"[..], false),
    ] {
        for split in 0..=input.len() {
            let mut f = Framer::new(c.clone());
            let (mut frames, mut data) = (Vec::new(), Vec::new());
            for part in [&input[..split], &input[split..]] {
                let mut rest = part;
                while !rest.is_empty() {
                    let used = f.push(rest);
                    rest = &rest[used..];
                    while let Some(frame) = f.poll_frame() {
                        match frame {
                            Frame::Continuation { size, synchronizing, .. } => {
                                assert_eq!((size, synchronizing), (12, sync));
                                f.stream_literal();
                                frames.push(Frame::Continuation { tag: None, size, synchronizing });
                            }
                            Frame::LiteralData(d) => data.extend_from_slice(&d),
                            other => frames.push(other),
                        }
                    }
                    assert!(used > 0 || rest.is_empty(), "stalled at split {split}");
                }
            }
            assert_eq!(data, b"Hello world!", "split {split}");
            let head = if sync { &b"a APPEND x {12}\r\n\r\n"[..] } else { &b"a APPEND x {12+}\r\n\r\n"[..] };
            assert_eq!(frames[1..], [cmd(head), cmd(b"b NOOP\r\n")], "split {split}");
        }
    }
    // Small non-synchronising literals go on into the command without a stop.
    assert_eq!(every_split(&c, b"a X {3+}\r\nabc\r\n"), vec![cmd(b"a X {3+}\r\nabc\r\n")]);
}

/// A refused non-synchronising literal is dropped as it arrives, with the rest of its command.
#[test]
fn a_refused_non_synchronising_literal_is_drained() {
    let c = FramingConfig { stream_literals_above: Some(8), ..FramingConfig::default() };
    let mut f = Framer::new(c);
    assert_eq!(f.push(b"a APPEND x {12+}\r\nHello"), 18);
    assert!(matches!(f.poll_frame(), Some(Frame::Continuation { synchronizing: false, .. })));
    f.refuse_literal();
    assert_eq!(f.poll_frame(), Some(Frame::Refused { tag: Some("a".into()), reason: Refusal::ByEmbedder }));
    assert_eq!(f.push(b"Hello world! {3+}\r\nabc\r\nb NOOP\r\n"), 32);
    assert_eq!(f.poll_frame(), Some(cmd(b"b NOOP\r\n")));
    assert_eq!(f.poll_frame(), None);
}

#[test]
fn command_size_counts_every_literal() {
    let c = FramingConfig { max_literal: 10, max_command: 40, ..FramingConfig::default() };
    let input = b"a X {10+}\r\n0123456789 {10+}\r\n0123456789 {10+}\r\n0123456789\r\nb NOOP\r\n";
    assert_eq!(
        every_split(&c, input),
        vec![Frame::Refused { tag: Some("a".into()), reason: Refusal::TooBig { size: 10 } }, cmd(b"b NOOP\r\n")]
    );
}

#[test]
fn untagged_garbage_is_refused_without_a_tag() {
    let c = FramingConfig { max_line: 16, ..FramingConfig::default() };
    let frames = every_split(&c, b"+++++++++++++++++++++++\r\n");
    assert_eq!(frames, vec![Frame::Refused { tag: None, reason: Refusal::LineTooLong }]);
}

proptest::proptest! {
    /// Arbitrary octets in arbitrary pieces: no panic, and what is held stays bounded.
    #[test]
    fn never_panics_and_stays_bounded(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(1usize..300, 1..10),
    ) {
        let c = FramingConfig { max_line: 64, max_literal: 100, max_command: 300, ..FramingConfig::default() };
        let mut f = Framer::new(c);
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            i += 1;
            let used = f.push(&rest[..n]);
            rest = &rest[used..];
            while let Some(frame) = f.poll_frame() {
                if let Frame::Command(c) = &frame {
                    proptest::prop_assert!(c.len() <= 300 + 64);
                }
                if matches!(frame, Frame::Continuation { .. }) {
                    f.accept_literal();
                }
            }
            proptest::prop_assert!(f.command.len() <= 300 + 64);
        }
    }
}
