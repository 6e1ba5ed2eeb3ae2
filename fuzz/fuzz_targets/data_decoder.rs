//! The DATA decoder on arbitrary bytes: split anywhere it decodes (and judges line lengths)
//! the same as whole, never consumes past the end marker, and the encoder's output always
//! decodes back.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder, DataEncoder};

#[derive(Arbitrary, Debug)]
struct Input {
    normalize: bool,
    split: u16,
    data: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mode = if input.normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject };
    let data = &input.data;
    let mut whole = DataDecoder::new(mode, Some(1000));
    let mut out_whole = Vec::new();
    let r = whole.decode(data, &mut out_whole);
    assert!(r.consumed <= data.len());
    assert!(r.done || r.consumed == data.len());
    if r.done {
        assert!(data[..r.consumed].ends_with(b".\r\n"));
    }

    let split = usize::from(input.split) % (data.len() + 1);
    let mut parts = DataDecoder::new(mode, Some(1000));
    let mut out_parts = Vec::new();
    let a = parts.decode(&data[..split], &mut out_parts);
    let consumed = if a.done { a.consumed } else { a.consumed + parts.decode(&data[split..], &mut out_parts).consumed };
    assert_eq!((consumed, &out_parts), (r.consumed, &out_whole));
    assert_eq!(parts.saw_bare_line_ending(), whole.saw_bare_line_ending());
    assert_eq!(parts.saw_long_line(), whole.saw_long_line());
    assert_eq!(whole.size(), out_whole.len() as u64);

    let mut wire = Vec::new();
    let mut enc = DataEncoder::new();
    enc.encode(data, &mut wire);
    enc.finish(&mut wire);
    let mut dec = DataDecoder::new(BareLineEndings::Reject, None);
    let mut back = Vec::new();
    let d = dec.decode(&wire, &mut back);
    assert!(d.done && d.consumed == wire.len() && !dec.saw_bare_line_ending());
});
