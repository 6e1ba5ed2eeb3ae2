//! The NNTP command parser on arbitrary lines: never panics; whatever parses encodes to a
//! line that parses back to itself; a wildmat argument matches any name in bounded time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_nntp_proto::command::ListKeyword;
use sansmail_nntp_proto::wildmat::Wildmat;
use sansmail_nntp_proto::Command;

fuzz_target!(|data: &[u8]| {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(cmd) = Command::parse_line(line) else { return };
    let mut out = Vec::new();
    if cmd.encode(&mut out).is_ok() {
        let written = &out[..out.len() - 2];
        assert!(!written.contains(&b'\n') && !written.contains(&b'\r'));
        assert_eq!(Command::parse_line(written).ok(), Some(cmd.clone()));
    }
    let pattern = match &cmd {
        Command::NewNews { wildmat, .. } => Some(*wildmat),
        Command::List(ListKeyword::Active(w) | ListKeyword::Newsgroups(w) | ListKeyword::Counts(w)) => *w,
        _ => None,
    };
    if let Some(w) = pattern.and_then(Wildmat::parse) {
        let _ = w.matches(&String::from_utf8_lossy(data));
    }
});
