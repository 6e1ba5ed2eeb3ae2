//! One vocabulary across the protocol crates: the "need more bytes" outcome is the same
//! `Status` type in SMTP and POP3, and the `bytes` type of public signatures is re-exported.
#![allow(clippy::unwrap_used)]

use sansmail_pop3_proto::{Command, Status};

#[test]
fn incomplete_input_is_the_same_status_in_smtp_and_pop3() {
    let pop3: sansmail_smtp_proto::Status<(Command<'_>, usize)> = Command::parse(b"NOOP").unwrap();
    assert!(pop3.is_partial());
    let Status::Complete((cmd, used)) = Command::parse(b"NOOP\r\nQUIT\r\n").unwrap() else { unreachable!() };
    assert_eq!((cmd, used), (Command::Noop, 6));
    let smtp = sansmail_smtp_proto::Command::parse(b"NOOP").unwrap();
    assert!(smtp.is_partial());
    // Message content in SMTP events is `Bytes`, reachable without naming the crate.
    let content = sansmail_smtp_proto::bytes::Bytes::from_static(b"x");
    assert_eq!(&content[..], b"x");
}
