//! Properties: `parse(encode(x)) == x` for commands and replies; DATA encoding decodes back to
//! the normalised content; a server session's output does not depend on how input is split.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sansmail_smtp_proto::command::{Body, MailParams, Notify, Orcpt, Param, RcptParams, Ret, XText};
use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder, DataEncoder};
use sansmail_smtp_proto::server::ServerConfig;
use sansmail_smtp_proto::{Command, Domain, ForwardPath, InvalidReply, Mailbox, Mechanism, Reply, ReversePath};

fn s(re: &'static str) -> impl Strategy<Value = Cow<'static, str>> {
    re.prop_map(Cow::Owned)
}

fn domain_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", 1..4).prop_map(|l| l.join("."))
}

fn domain() -> impl Strategy<Value = Domain<'static>> {
    prop_oneof![
        4 => domain_name().prop_map(|d| Domain::Name(d.into())),
        1 => any::<u32>().prop_map(|a| Domain::Ipv4(Ipv4Addr::from(a))),
        1 => any::<u128>().prop_map(|a| Domain::Ipv6(Ipv6Addr::from(a))),
        1 => ("x-[a-z0-9]{0,5}[a-z0-9]", "[!-Z^-~]{1,10}")
            .prop_map(|(tag, content): (String, String)| Domain::general(tag, content)),
    ]
}

fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec("[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}", 1..4).prop_map(|a| a.join(".")),
        1 => "[ !#-\\[\\]-~]{0,10}".prop_map(|q| format!("\"{q}\"")),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox<'static>> {
    (local_part(), domain()).prop_map(|(l, domain)| Mailbox { local_part: l.into(), domain })
}

fn xtext() -> impl Strategy<Value = XText<'static>> {
    "[ -~]{1,20}".prop_map(|t| XText::encode(&t))
}

fn other_params() -> impl Strategy<Value = Vec<Param<'static>>> {
    prop::collection::vec(
        (s("X-[A-Z0-9]{1,6}"), prop::option::of(s("[!-<>-~]{1,10}")))
            .prop_map(|(keyword, value)| Param { keyword, value }),
        0..3,
    )
}

fn mail_params() -> impl Strategy<Value = MailParams<'static>> {
    (
        prop::option::of(any::<u64>()),
        prop::option::of(prop_oneof![Just(Body::SevenBit), Just(Body::EightBitMime), Just(Body::BinaryMime)]),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)]),
        prop::option::of(xtext()),
        prop::option::of(xtext()),
        any::<bool>(),
        other_params(),
    )
        .prop_map(|(size, body, smtputf8, ret, envid, auth, requiretls, other)| MailParams {
            size,
            body,
            smtputf8,
            ret,
            envid,
            auth,
            requiretls,
            other,
        })
}

fn rcpt_params() -> impl Strategy<Value = RcptParams<'static>> {
    let notify = prop_oneof![
        Just(Notify::NEVER),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_filter("non-empty", |(a, b, c)| *a || *b || *c)
            .prop_map(|(success, failure, delay)| Notify { success, failure, delay }),
    ];
    let orcpt = (s("rfc822|utf-8|x-[a-z]{1,4}"), xtext()).prop_map(|(addr_type, addr)| Orcpt { addr_type, addr });
    (prop::option::of(notify), prop::option::of(orcpt), other_params()).prop_map(|(notify, orcpt, other)| RcptParams {
        notify,
        orcpt,
        other,
    })
}

fn mechanism() -> impl Strategy<Value = Mechanism<'static>> {
    prop_oneof![
        Just(Mechanism::Plain),
        Just(Mechanism::Login),
        Just(Mechanism::CramMd5),
        Just(Mechanism::ScramSha256),
        Just(Mechanism::XOAuth2),
        s("X-[A-Z0-9_]{1,10}").prop_map(Mechanism::Unknown),
    ]
}

fn command() -> impl Strategy<Value = Command<'static>> {
    use base64::Engine as _;
    let text = || s("[!-~][ -~]{0,20}");
    prop_oneof![
        s("[a-zA-Z0-9.:\\[\\]-]{1,20}").prop_map(|host| Command::Helo { host }),
        s("[a-zA-Z0-9.:\\[\\]-]{1,20}").prop_map(|host| Command::Ehlo { host }),
        (prop_oneof![Just(ReversePath::Null), mailbox().prop_map(ReversePath::Mailbox)], mail_params())
            .prop_map(|(from, params)| Command::Mail { from, params: Box::new(params) }),
        (prop_oneof![Just(ForwardPath::Postmaster), mailbox().prop_map(ForwardPath::Mailbox)], rcpt_params())
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Rset),
        text().prop_map(|arg| Command::Vrfy { arg }),
        text().prop_map(|arg| Command::Expn { arg }),
        prop::option::of(s("[ -~]{0,20}")).prop_map(|topic| Command::Help { topic }),
        prop::option::of(s("[ -~]{0,20}")).prop_map(|arg| Command::Noop { arg }),
        Just(Command::Quit),
        Just(Command::StartTls),
        (mechanism(), prop::option::of(prop::collection::vec(any::<u8>(), 0..40))).prop_map(|(mechanism, ir)| {
            let initial_response = ir.map(|b| {
                sansmail_smtp_proto::Secret::new(Cow::Owned(base64::engine::general_purpose::STANDARD.encode(b)))
            });
            Command::Auth { mechanism, initial_response }
        }),
        prop_oneof![domain_name(), domain_name().prop_map(|d| format!("@{d}")), "#[!-~]{1,10}".prop_map(String::from)]
            .prop_map(|q| Command::Etrn { queue: q.into() }),
        prop::option::of(prop::collection::vec(domain_name(), 1..4).prop_map(|d| Cow::Owned(d.join(","))))
            .prop_map(|domains| Command::Atrn { domains }),
        (s("X[A-Z0-9-]{1,8}"), prop::option::of(s("[ -~]{0,20}")))
            .prop_map(|(verb, args)| Command::Unknown { verb, args }),
    ]
}

fn reply() -> impl Strategy<Value = Reply<'static>> {
    (
        2u16..=5,
        0u16..=5,
        0u16..=9,
        any::<bool>(),
        0u16..1000,
        0u16..1000,
        prop::collection::vec("([a-zA-Z][ -~]{0,30})?", 1..5),
    )
        .prop_filter("enhanced codes exist for 2, 4, 5 only", |(c1, _, _, e, ..)| *c1 != 3 || !*e)
        .prop_map(|(c1, c2, c3, has_enhanced, subject, detail, lines)| {
            let code = c1 * 100 + c2 * 10 + c3;
            Reply::try_new(code, has_enhanced.then_some((c1 as u8, subject, detail)), lines.join("\n")).unwrap()
        })
}

/// Whether RFC 5321 §4.2 and RFC 3463 allow this code and enhanced code together.
fn valid_reply(code: u16, enhanced: Option<(u8, u16, u16)>) -> bool {
    let code_ok = (200..=559).contains(&code) && code / 10 % 10 <= 5;
    code_ok
        && enhanced.is_none_or(|(c, s, d)| u16::from(c) == code / 100 && matches!(c, 2 | 4 | 5) && s < 1000 && d < 1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn command_roundtrip(cmd in command()) {
        // Every generated command is valid, so it must encode, and parse back to itself.
        let bytes = cmd.to_bytes().unwrap();
        let (parsed, used) = Command::parse(&bytes).unwrap().complete().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&parsed, &cmd);
        // The same from text known to be UTF-8.
        let text = std::str::from_utf8(&bytes).unwrap();
        prop_assert_eq!(Command::parse_str(text).unwrap().complete().unwrap(), (cmd, bytes.len()));
    }

    /// `parse_str` and `parse` agree on any text: valid commands, errors, partial lines.
    #[test]
    fn parse_str_agrees_with_parse(text in prop_oneof![
        "(MAIL FROM:|RCPT TO:|EHLO |HELO |AUTH |BDAT |VRFY |NOOP|DATA|QUIT|STARTTLS|XFOO)[ -~\u{80}-\u{10ffff}\r\n]{0,80}",
        "[ -~\u{a0}-\u{10ffff}\r\n\t]{0,120}",
    ]) {
        let mut rest = text.as_str();
        loop {
            let (by_str, by_bytes) = (Command::parse_str(rest), Command::parse(rest.as_bytes()));
            prop_assert_eq!(&by_str, &by_bytes);
            match by_str {
                Ok(sansmail_smtp_proto::Status::Complete((_, used))) => rest = &rest[used..],
                _ => break,
            }
        }
    }

    #[test]
    fn replies_are_built_only_from_valid_codes(
        code in prop_oneof![0u16..1100, 200u16..600],
        enhanced in prop::option::of((prop_oneof![0u8..10, Just(2), Just(4), Just(5)], 0u16..1200, 0u16..1200)),
    ) {
        let built = Reply::try_new(code, enhanced, "text");
        prop_assert_eq!(built.is_ok(), valid_reply(code, enhanced), "{:?} {:?}", code, enhanced);
        match built {
            Ok(reply) => {
                // What is built is what is read back.
                let mut bytes = Vec::new();
                reply.encode(&mut bytes, true);
                let (parsed, _) = Reply::parse_prefix(&bytes).unwrap().complete().unwrap();
                prop_assert_eq!(parsed, reply);
            }
            Err(InvalidReply::Code(c)) => prop_assert_eq!(c, code),
            Err(InvalidReply::Enhanced(c, s, d)) => prop_assert_eq!(Some((c, s, d)), enhanced),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn reply_roundtrip(reply in reply()) {
        let mut bytes = Vec::new();
        reply.encode(&mut bytes, true);
        let (parsed, used) = Reply::parse_prefix(&bytes).unwrap().complete().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(parsed, reply);
    }

    #[test]
    fn data_encoding_decodes_to_normalised_content(body in prop::collection::vec(prop_oneof![
        Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..300), cut in 1usize..50, cut2 in 1usize..50) {
        let mut wire = Vec::new();
        let mut enc = DataEncoder::new();
        for piece in body.chunks(cut) {
            enc.encode(piece, &mut wire);
        }
        enc.finish(&mut wire);
        wire.extend_from_slice(b"NEXT");
        let mut dec = DataDecoder::new(BareLineEndings::Reject, None);
        let mut out = Vec::new();
        let mut used = 0;
        for piece in wire.chunks(cut2) {
            if dec.is_done() { break; }
            used += dec.decode(piece, &mut out).consumed;
        }
        prop_assert!(dec.is_done());
        prop_assert!(!dec.saw_bare_line_ending());
        prop_assert_eq!(&wire[used..], b"NEXT");
        prop_assert_eq!(out, normalise(&body));
    }

    #[test]
    fn data_encoding_matches_a_byte_at_a_time_encoder(
        lines in prop::collection::vec(prop_oneof![
            "[a-z ]{0,120}\r\n", "\\.[a-z]{0,5}\r\n", "[a-z]{0,3}\n", "[a-z]{0,3}\r", "\r\n",
        ], 0..80),
        cut in 1usize..3000,
    ) {
        let body: Vec<u8> = lines.concat().into_bytes();
        let mut wire = Vec::new();
        let mut enc = DataEncoder::new();
        for piece in body.chunks(cut) {
            enc.encode(piece, &mut wire);
        }
        enc.finish(&mut wire);
        prop_assert_eq!(wire, reference_encode(&body));
    }

    #[test]
    fn server_output_does_not_depend_on_input_splits(
        lines in prop::collection::vec(prop_oneof![
            Just("EHLO c".to_string()), Just("HELO c".to_string()), Just("MAIL FROM:<a@b.c>".to_string()),
            Just("RCPT TO:<x@y.z>".to_string()), Just("DATA".to_string()), Just(".".to_string()),
            Just("..x".to_string()), Just("RSET".to_string()), Just("BDAT 3".to_string()),
            Just("BDAT 0 LAST".to_string()), Just("NOOP".to_string()), Just("AUTH PLAIN".to_string()),
            "[ -~]{0,600}", "[\\x00-\\xff]{0,40}",
        ], 0..30),
        splits in prop::collection::vec(1usize..64, 1..20),
    ) {
        let input: Vec<u8> = lines.iter().flat_map(|l| l.bytes().chain(*b"\r\n")).collect();
        let whole = {
            let mut s = common::Server::new(ServerConfig::default());
            s.feed(&input, &mut *common::accept_all());
            (s.output(), s.messages)
        };
        let mut s = common::Server::new(ServerConfig::default());
        let mut rest = &input[..];
        for n in splits.iter().cycle() {
            if rest.is_empty() || s.session.is_closed() { break; }
            let (piece, r) = rest.split_at((*n).min(rest.len()));
            s.feed(piece, &mut *common::accept_all());
            rest = r;
        }
        prop_assert_eq!(s.output(), whole.0);
        prop_assert_eq!(s.messages, whole.1);
    }
}

/// What the encoder promises the receiver stores: CRLF line ends, a CRLF at the end.
fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match (body[i], body.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            (b'\r' | b'\n', _) => out.extend_from_slice(b"\r\n"),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The DATA decoder's rules, one byte at a time, straight from RFC 5321 §4.5.2: an oracle
/// independent of the decoder's span-copying design. Input must contain the end marker.
fn reference_decode(input: &[u8], normalize: bool, max_line: Option<usize>) -> (Vec<u8>, usize, bool, bool) {
    let (mut out, mut i, mut line_start, mut line_len) = (Vec::new(), 0, true, 0usize);
    let (mut bare, mut long) = (false, false);
    let mut end_line = |len: &mut usize| {
        if max_line.is_some_and(|m| *len + 2 > m) {
            long = true;
        }
        *len = 0;
    };
    loop {
        if line_start && input[i..].starts_with(b".\r\n") {
            return (out, i + 3, bare, long);
        }
        if line_start && input[i] == b'.' {
            i += 1;
            line_len = 1;
        }
        line_start = false;
        match (input[i], input.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.extend_from_slice(b"\r\n");
                end_line(&mut line_len);
                i += 2;
                line_start = true;
            }
            (b'\r' | b'\n', _) => {
                bare = true;
                out.extend_from_slice(if normalize { b"\r\n" } else { std::slice::from_ref(&input[i]) });
                end_line(&mut line_len);
                i += 1;
            }
            (c, _) => {
                out.push(c);
                line_len += 1;
                i += 1;
            }
        }
    }
}

fn segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (0usize..150).prop_map(|n| [vec![b'x'; n], b"\r\n".to_vec()].concat()),
        1 => (0usize..40).prop_map(|n| [b".".to_vec(), vec![b'y'; n], b"\r\n".to_vec()].concat()),
        1 => (995usize..1002).prop_map(|n| [vec![b'L'; n], b"\r\n".to_vec()].concat()),
        // Around two blocks of the clean-block check, and the 512 and 600 limits below.
        1 => (250usize..620).prop_map(|n| [vec![b'M'; n], b"\r\n".to_vec()].concat()),
        1 => prop_oneof![Just(b"\n".to_vec()), Just(b"\r".to_vec()), Just(b".\n".to_vec()), Just(b"\r.\r".to_vec()), Just(b".\rz".to_vec())],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The decoder agrees with the byte-at-a-time oracle on
    /// content, end position, bare line endings and long lines, however the input is split.
    #[test]
    fn data_decoder_matches_the_reference(
        segments in prop::collection::vec(segment(), 0..60),
        normalize in any::<bool>(),
        max_line in prop_oneof![
            Just(None), Just(Some(1000)), Just(Some(600)), Just(Some(512)), Just(Some(511)), Just(Some(130)), Just(Some(100)),
        ],
        // Small pieces, and pieces long enough for the decoder's clean-block path.
        cut in prop_oneof![1usize..300, 300usize..6000, Just(usize::MAX)],
    ) {
        let mut input: Vec<u8> = segments.concat();
        input.extend_from_slice(b"\r\n.\r\nTAIL");
        let expected = reference_decode(&input, normalize, max_line);
        let mode = if normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject };
        let mut d = DataDecoder::new(mode, max_line);
        let (mut out, mut used) = (Vec::new(), 0);
        for piece in input.chunks(cut) {
            if d.is_done() { break; }
            used += d.decode(piece, &mut out).consumed;
        }
        prop_assert!(d.is_done());
        prop_assert_eq!((out, used, d.saw_bare_line_ending(), d.saw_long_line()), expected);
    }
}

/// Dot-stuffing and CRLF normalisation one byte at a time: the oracle of the encoder.
fn reference_encode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line_start = true;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if line_start && c == b'.' {
            out.push(b'.');
        }
        line_start = false;
        match c {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
                i += 1;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                line_start = true;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
