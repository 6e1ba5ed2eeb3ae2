//! NNTP status lines and overview lines on arbitrary octets: never panic; a status line read
//! is written back as one line with the same code; an overview written from any fields is
//! one line that reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_nntp_proto::overview::Overview;
use sansmail_nntp_proto::Response;

fuzz_target!(|data: &[u8]| {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Ok(r) = Response::parse(line) {
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(Response::parse(&out[..out.len() - 2]).map(|b| b.code), Ok(r.code));
    }
    if let Some(o) = Overview::parse(line) {
        let mut out = Vec::new();
        o.encode(&mut out);
        let written = &out[..out.len() - 2];
        assert!(!written.contains(&b'\n') && !written.contains(&b'\r'));
        let back = Overview::parse(written).expect("an overview line reads back");
        assert_eq!((back.number, back.bytes, back.lines), (o.number, o.bytes, o.lines));
    }
});
