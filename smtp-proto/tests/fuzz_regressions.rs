//! Inputs the fuzzers once failed on (`fuzz/regressions/<target>/`), replayed on stable with
//! the checks of their targets, so they stay fixed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use sansmail_smtp_proto::reply::{Reply, ReplyFramer, ReplyLimits};
use sansmail_smtp_proto::{Command, Status};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    entries.map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect()
}

#[test]
fn reply_parser_regressions() {
    let cases = inputs("reply_parser");
    assert!(!cases.is_empty(), "the regression corpus is checked in");
    for data in cases {
        let limits = ReplyLimits::default();
        if let Ok(Status::Complete(n)) = ReplyFramer::new(limits).frame(&data)
            && let Ok(reply) = Reply::parse(&data[..n])
        {
            let mut bytes = Vec::new();
            reply.encode(&mut bytes, true);
            let wider = ReplyLimits { line: limits.line + 1, ..limits };
            assert_eq!(ReplyFramer::new(wider).frame(&bytes), Ok(Status::Complete(bytes.len())));
            assert_eq!(Reply::parse(&bytes).unwrap(), reply);
        }
    }
}

#[test]
fn command_parser_regressions() {
    for data in inputs("command_parser") {
        if let Ok(Status::Complete((cmd, _))) = Command::parse(&data) {
            let bytes = cmd.to_bytes().expect("a parsed command must encode");
            assert_eq!(Command::parse(&bytes).unwrap().complete().unwrap().0, cmd);
        }
    }
}

/// A reply line ended by a bare LF is read, and written back with CRLF.
#[test]
fn bare_lf_reply_lines_are_read_and_written_with_crlf() {
    let (r, n) = Reply::parse_prefix(b"250-first\n250 second\n").unwrap().complete().unwrap();
    assert_eq!(n, 21);
    let mut out = Vec::new();
    r.encode(&mut out, false);
    assert_eq!(out, b"250-first\r\n250 second\r\n");
}
