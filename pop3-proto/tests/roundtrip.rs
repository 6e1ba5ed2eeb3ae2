//! `parse(encode(x)) == x` for commands and status lines, and the multi-line codec over
//! arbitrary content and splits.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sansmail_pop3_proto::multiline::{BareLineEndings, Decoder, Encoder};
use sansmail_pop3_proto::{Command, Response, ResponseCode, ServerLine};

fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,40}"
}

fn command() -> impl Strategy<Value = (u8, String, String, u32, u32)> {
    (0u8..16, token(), "[ -~]{0,60}", 1u32..100_000, 0u32..1000)
}

fn build<'a>(kind: u8, a: &'a str, b: &'a str, n: u32, m: u32) -> Command<'a> {
    match kind {
        0 => Command::User { name: a },
        1 => Command::Pass { password: b.into() },
        2 => Command::Apop { name: a, digest: "0123456789abcdef0123456789abcdef" },
        3 => Command::Auth { mechanism: Some("SCRAM-SHA-256"), initial_response: Some("biwsbj1hLHI9eHl6".into()) },
        4 => Command::Stls,
        5 => Command::Capa,
        6 => Command::Stat,
        7 => Command::List { msg: Some(n) },
        8 => Command::List { msg: None },
        9 => Command::Retr { msg: n },
        10 => Command::Dele { msg: n },
        11 => Command::Top { msg: n, lines: m },
        12 => Command::Uidl { msg: Some(n) },
        13 => Command::Noop,
        14 => Command::Auth { mechanism: Some("PLAIN"), initial_response: Some("".into()) },
        _ => Command::Quit,
    }
}

proptest! {
    #[test]
    fn commands_round_trip((kind, a, b, n, m) in command()) {
        let cmd = build(kind, &a, &b, n, m);
        let mut out = Vec::new();
        if cmd.encode(&mut out).is_ok() {
            let line = out.strip_suffix(b"\r\n").unwrap();
            prop_assert_eq!(Command::parse_line(line).unwrap(), cmd);
        }
    }

    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::parse_line(&line);
        let _ = ServerLine::parse(&line);
    }

    #[test]
    fn responses_round_trip(ok in any::<bool>(), code in 0u8..4, text in "[ -~]{0,80}") {
        let code = match code {
            0 => None,
            1 => Some(ResponseCode::InUse),
            2 => Some(ResponseCode::SysTemp),
            _ => Some(ResponseCode::Other("X-FOO/BAR")),
        };
        // Leading spaces are not recoverable from the wire; neither is text shaped like a code.
        let text = text.trim_start().trim_start_matches('[');
        let r = Response { ok, code, text };
        let mut out = Vec::new();
        r.encode(&mut out);
        let line = out.strip_suffix(b"\r\n").unwrap();
        prop_assert_eq!(ServerLine::parse(line).unwrap(), ServerLine::Status(r));
    }

    #[test]
    fn multiline_round_trips_over_any_split(
        lines in proptest::collection::vec("[.a-z ]{0,20}", 0..30),
        split in 0usize..1000,
    ) {
        let content: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        let mut wire = Vec::new();
        let mut enc = Encoder::new();
        enc.encode(content.as_bytes(), &mut wire);
        enc.finish(&mut wire);
        let split = split.min(wire.len());
        let mut dec = Decoder::new(BareLineEndings::Reject, None);
        let mut out = Vec::new();
        let first = dec.decode(&wire[..split], &mut out);
        let used = if first.done { first.consumed } else {
            let second = dec.decode(&wire[first.consumed..], &mut out);
            prop_assert!(second.done);
            first.consumed + second.consumed
        };
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(out, content.into_bytes());
    }
}
