use super::*;

/// Decodes `input` fed in pieces of `step` bytes; returns content, consumed, done.
fn decode_in_steps(input: &[u8], step: usize, bare: BareLineEndings) -> (Vec<u8>, usize, bool, DataDecoder) {
    let mut d = DataDecoder::new(bare, Some(1000));
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let end = (pos + step).min(input.len());
        let r = d.decode(&input[pos..end], &mut out);
        pos += r.consumed;
        if r.done {
            return (out, pos, true, d);
        }
        assert_eq!(r.consumed, end - pos + r.consumed, "all input is consumed unless done");
    }
    (out, pos, false, d)
}

/// Every split: one byte at a time, two pieces at every boundary, and whole.
fn decode_all_ways(input: &[u8], bare: BareLineEndings) -> (Vec<u8>, usize, bool) {
    let (whole, used, done, _) = decode_in_steps(input, usize::MAX, bare);
    let (bytes, used1, done1, _) = decode_in_steps(input, 1, bare);
    assert_eq!((&bytes, used1, done1), (&whole, used, done), "byte by byte");
    for split in 1..input.len() {
        let mut d = DataDecoder::new(bare, Some(1000));
        let mut out = Vec::new();
        let r1 = d.decode(&input[..split], &mut out);
        let (mut used2, mut done2) = (r1.consumed, r1.done);
        if !r1.done {
            let r2 = d.decode(&input[split..], &mut out);
            used2 += r2.consumed;
            done2 = r2.done;
        }
        assert_eq!((&out, used2, done2), (&whole, used, done), "split at {split}");
    }
    (whole, used, done)
}

#[test]
fn ends_on_crlf_dot_crlf_and_leaves_the_rest() {
    let input = b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let (out, used, done) = decode_all_ways(input, BareLineEndings::Reject);
    assert!(done);
    assert_eq!(out, b"Subject: x\r\n\r\nbody\r\n");
    assert_eq!(&input[used..], b"QUIT\r\n");
}

#[test]
fn empty_message() {
    let (out, used, done) = decode_all_ways(b".\r\nNEXT", BareLineEndings::Reject);
    assert!(done);
    assert!(out.is_empty());
    assert_eq!(used, 3);
}

#[test]
fn transparency_dots_are_removed() {
    let (out, _, done) = decode_all_ways(b"..leading\r\n...\r\n.\r\n", BareLineEndings::Reject);
    assert!(done);
    assert_eq!(out, b".leading\r\n..\r\n");
    // A dot not at a line start stays.
    let (out, _, _) = decode_all_ways(b"a.b\r\n.\r\n", BareLineEndings::Reject);
    assert_eq!(out, b"a.b\r\n");
}

/// The SMTP smuggling vectors: none of them may end the message, in either mode.
#[test]
fn smuggling_vectors_never_end_the_message() {
    let vectors: &[&[u8]] = &[
        b"a\n.\nMAIL FROM:<x@y>\r\n",
        b"a\n.\r\nMAIL FROM:<x@y>\r\n",
        b"a\r.\r\nMAIL FROM:<x@y>\r\n",
        b"a\r\n.\rMAIL FROM:<x@y>\r\n",
        b"a\r\n.\nMAIL FROM:<x@y>\r\n",
        b"a\r.\rMAIL FROM:<x@y>\r\n",
        b"a\r\n\x00.\r\nMAIL FROM:<x@y>\r\n",
    ];
    for mode in [BareLineEndings::Reject, BareLineEndings::Normalize] {
        for v in vectors {
            let (_, used, done) = decode_all_ways(v, mode);
            assert!(!done, "{mode:?} ended on {:?}", String::from_utf8_lossy(v));
            assert_eq!(used, v.len());
        }
    }
}

#[test]
fn bare_line_endings_are_flagged_in_reject_mode() {
    let (_, _, done, d) = decode_in_steps(b"a\nb\r\n.\r\n", usize::MAX, BareLineEndings::Reject);
    assert!(done && d.saw_bare_line_ending());
    let (_, _, done, d) = decode_in_steps(b"a\rb\r\n.\r\n", 1, BareLineEndings::Reject);
    assert!(done && d.saw_bare_line_ending());
    let (_, _, done, d) = decode_in_steps(b"a\r\nb\r\n.\r\n", 1, BareLineEndings::Reject);
    assert!(done && !d.saw_bare_line_ending());
}

#[test]
fn bare_line_endings_are_normalised_without_making_line_starts() {
    let (out, _, done) = decode_all_ways(b"a\nb\rc\r\r\n.x\n.\r\n.\r\n", BareLineEndings::Normalize);
    assert!(done);
    // `.x` after CRLF loses its dot; `.` after a bare LF is content and is kept.
    assert_eq!(out, b"a\r\nb\r\nc\r\n\r\nx\r\n.\r\n");
    let (out, _, _) = decode_all_ways(b"a\r\n.\rb\r\n.\r\n", BareLineEndings::Normalize);
    assert_eq!(out, b"a\r\n\r\nb\r\n");
}

#[test]
fn line_length_limit_at_and_past_the_edge() {
    let ok = [vec![b'x'; 998], b"\r\n.\r\n".to_vec()].concat();
    let (_, _, done, d) = decode_in_steps(&ok, 7, BareLineEndings::Reject);
    assert!(done && !d.saw_long_line());
    let long = [vec![b'x'; 999], b"\r\n.\r\n".to_vec()].concat();
    let (_, _, done, d) = decode_in_steps(&long, 7, BareLineEndings::Reject);
    assert!(done && d.saw_long_line());
    // A stuffed dot counts: it is on the wire.
    let stuffed = [b"..".to_vec(), vec![b'x'; 997], b"\r\n.\r\n".to_vec()].concat();
    let (_, _, _, d) = decode_in_steps(&stuffed, 3, BareLineEndings::Reject);
    assert!(d.saw_long_line());
}

#[test]
fn size_counts_decoded_octets() {
    let (_, _, _, d) = decode_in_steps(b"..ab\r\n.\r\n", 2, BareLineEndings::Reject);
    assert_eq!(d.size(), 5);
}

#[test]
fn encoder_stuffs_and_normalises_and_decodes_back() {
    let body = b"From: a\n.hidden\r\n.\r\nlast line without end\r.";
    let mut wire = Vec::new();
    let mut enc = DataEncoder::new();
    for piece in body.chunks(3) {
        enc.encode(piece, &mut wire);
    }
    enc.finish(&mut wire);
    assert_eq!(wire, b"From: a\r\n..hidden\r\n..\r\nlast line without end\r\n..\r\n.\r\n");
    let (out, used, done) = decode_all_ways(&wire, BareLineEndings::Reject);
    assert!(done);
    assert_eq!(used, wire.len());
    assert_eq!(out, b"From: a\r\n.hidden\r\n.\r\nlast line without end\r\n.\r\n");
}

#[test]
fn encoder_on_empty_and_crlf_terminated_content() {
    let mut wire = Vec::new();
    let mut enc = DataEncoder::new();
    enc.finish(&mut wire);
    assert_eq!(wire, b".\r\n");
    wire.clear();
    enc.encode(b"x\r\n", &mut wire);
    enc.encode(b"", &mut wire);
    enc.finish(&mut wire);
    assert_eq!(wire, b"x\r\n.\r\n");
}

/// The block run compiled for the CPU's widest vectors (AVX2 here, when the machine has it)
/// and the same loop without them agree, on clean content and with one fault at every
/// position: the run ends at the faulty block.
#[test]
fn clean_run_agrees_with_and_without_wide_vectors() {
    let line = b"Subject: a line of ordinary content, long enough to cross block edges\r\n";
    let clean: Vec<u8> = line.iter().copied().cycle().take(4 * BLOCK + 2).collect();
    let run = |input: &[u8], start| {
        let wide = pulp::Arch::new().dispatch(CleanRun { input, start, limit: input.len() }).0;
        let scalar = pulp::Simd::vectorize(pulp::Scalar::new(), CleanRun { input, start, limit: input.len() }).0;
        assert_eq!(wide, scalar, "start {start}");
        wide
    };
    assert_eq!(run(&clean, 0), 4 * BLOCK);
    for fault in 0..4 * BLOCK {
        for (at, byte) in [(fault, b'\r'), (fault, b'\n')] {
            let mut input = clean.clone();
            // (An LF at the start pairs with the byte before it, which the caller checks.)
            let paired = input.get(at + 1) == Some(&b'\n') || at.checked_sub(1).is_none_or(|p| input[p] == b'\r');
            if input[at] == byte || paired {
                continue;
            }
            input[at] = byte;
            // A pair belongs to the block of its first octet.
            let pair_start = if byte == b'\n' { at - 1 } else { at };
            assert_eq!(run(&input, 0), pair_start / BLOCK * BLOCK, "{} at {at}", byte.escape_ascii());
        }
        // A line start turned into a dot: found from the CR two octets before it.
        if fault > 1 && clean[fault - 1] == b'\n' {
            let mut input = clean.clone();
            input[fault] = b'.';
            assert_eq!(run(&input, 0), (fault - 2) / BLOCK * BLOCK, "dot at {fault}");
        }
    }
}
