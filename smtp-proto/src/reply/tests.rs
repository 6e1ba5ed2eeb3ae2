use super::*;
use crate::Mechanism;

fn parse(s: &str) -> Reply<'_> {
    let (reply, used) = Reply::parse_prefix(s.as_bytes()).unwrap().complete().unwrap();
    assert_eq!(used, s.len());
    reply
}

#[test]
fn single_line_with_and_without_enhanced_code() {
    let r = parse("250 2.1.0 Sender OK\r\n");
    assert_eq!((r.code, r.enhanced, r.text.as_ref()), (ReplyCode::OK, EnhancedCode::new(2, 1, 0), "Sender OK"));
    let r = parse("220 mx.example ESMTP\r\n");
    assert_eq!((r.code.0, r.enhanced, r.text.as_ref()), (220, None, "mx.example ESMTP"));
    // The class must match the code's first digit to count as an enhanced code.
    let r = parse("250 5.1.1 odd\r\n");
    assert_eq!((r.enhanced, r.text.as_ref()), (None, "5.1.1 odd"));
    // Bare code, and code with a lone space.
    assert_eq!(parse("250\r\n").text, "");
    assert_eq!(parse("250 \r\n").text, "");
}

#[test]
fn multi_line_strips_repeated_enhanced_codes() {
    let r = parse("550-5.1.1 No such user\r\n550-5.1.1 here\r\n550 5.1.1 at all\r\n");
    assert_eq!(r.code.0, 550);
    assert_eq!(r.enhanced, EnhancedCode::new(5, 1, 1));
    assert_eq!(r.lines().collect::<Vec<_>>(), ["No such user", "here", "at all"]);
}

#[test]
fn partial_until_the_last_line() {
    assert_eq!(Reply::parse_prefix(b"250-a\r\n250-b\r\n"), Ok(Status::Partial));
    assert_eq!(Reply::parse_prefix(b"250 ok"), Ok(Status::Partial));
    let (r, n) = Reply::parse_prefix(b"250 ok\r\n354 go\r\n").unwrap().complete().unwrap();
    assert_eq!((r.text.as_ref(), n), ("ok", 8));
}

#[test]
fn malformed_replies_are_typed_errors() {
    let err = |s: &[u8]| Reply::parse_prefix(s).unwrap_err();
    assert_eq!(err(b"abc ok\r\n"), ReplyError::InvalidCode);
    assert_eq!(err(b"25\r\n"), ReplyError::InvalidCode);
    assert_eq!(err(b"650 six hundred\r\n"), ReplyError::InvalidCode);
    assert_eq!(err(b"260 x\r\n"), ReplyError::InvalidCode);
    assert_eq!(err(b"250-a\r\n251 b\r\n"), ReplyError::MixedCodes);
    assert_eq!(err(b"250_x\r\n"), ReplyError::Syntax);
    assert_eq!(err(b"250 a\x00b\r\n"), ReplyError::Syntax);
    assert_eq!(err(b"250 \xff\r\n"), ReplyError::InvalidUtf8);
}

#[test]
fn framer_bounds_a_hostile_server() {
    let limits = ReplyLimits { line: 64, lines: 10 };
    // Endless continuation lines: refused at the limit, not buffered further.
    let mut f = ReplyFramer::new(limits);
    let many = "250-x\r\n".repeat(11);
    assert_eq!(f.frame(many.as_bytes()), Err(ReplyError::TooManyLines));
    let mut f = ReplyFramer::new(limits);
    assert_eq!(f.frame("250-x\r\n".repeat(9).as_bytes()), Ok(Status::Partial));
    // A line without end: refused as soon as it passes the line limit.
    let mut f = ReplyFramer::new(limits);
    assert_eq!(f.frame(&[b'2'; 64]), Ok(Status::Partial));
    assert_eq!(f.frame(&[b'2'; 65]), Err(ReplyError::LineTooLong));
    // At the limit exactly, CRLF included: accepted.
    let line = format!("250 {}\r\n", "x".repeat(58));
    assert_eq!(line.len(), 64);
    assert_eq!(ReplyFramer::new(limits).frame(line.as_bytes()), Ok(Status::Complete(64)));
    let line = format!("250 {}\r\n", "x".repeat(59));
    assert_eq!(ReplyFramer::new(limits).frame(line.as_bytes()), Err(ReplyError::LineTooLong));
}

#[test]
fn framer_resumes_where_it_stopped() {
    let whole = b"250-one\r\n250-two\r\n250 three\r\n";
    let mut f = ReplyFramer::default();
    for end in 1..whole.len() {
        assert_eq!(f.frame(&whole[..end]), Ok(Status::Partial), "at {end}");
    }
    assert_eq!(f.frame(whole), Ok(Status::Complete(whole.len())));
}

#[test]
fn encode_known_answers_and_injection_safety() {
    let mut out = Vec::new();
    Reply::new(250, (2, 0, 0), "OK").encode(&mut out, true);
    Reply::new(250, (2, 0, 0), "OK").encode(&mut out, false);
    Reply::basic(214, "line one\nline two").encode(&mut out, true);
    Reply::basic(250, "evil\rRCPT").encode(&mut out, true);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "250 2.0.0 OK\r\n250 OK\r\n214-line one\r\n214 line two\r\n250 evil RCPT\r\n"
    );
}

#[test]
fn ehlo_capabilities_typed_and_unknown_kept() {
    let r = parse(
        "250-mx.example Hello client\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN xoauth2\r\n\
         250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n\
         250-STARTTLS\r\n250-ETRN\r\n250-ATRN\r\n250-REQUIRETLS\r\n250-XFOO bar baz\r\n250 SIZE\r\n",
    );
    let e = EhloReply::from_reply(&r).unwrap();
    assert_eq!((e.domain.as_ref(), e.greeting.as_ref()), ("mx.example", "Hello client"));
    assert_eq!(e.size(), Some(10_240_000));
    assert_eq!(e.auth_mechanisms(), [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2]);
    for cap in [
        Capability::Pipelining,
        Capability::EightBitMime,
        Capability::SmtpUtf8,
        Capability::Chunking,
        Capability::BinaryMime,
        Capability::Dsn,
        Capability::EnhancedStatusCodes,
        Capability::StartTls,
        Capability::Etrn,
        Capability::Atrn,
        Capability::RequireTls,
    ] {
        assert!(e.has(&cap), "{cap:?}");
    }
    assert!(e.capabilities.contains(&Capability::Unknown { keyword: "XFOO".into(), params: "bar baz".into() }));
    assert_eq!(e.capabilities.last(), Some(&Capability::Size(None)));
    // And back: the reply built from it parses to the same value.
    let mut wire = Vec::new();
    e.to_reply().encode(&mut wire, true);
    let again = Reply::parse_prefix(&wire).unwrap().complete().unwrap().0;
    assert_eq!(EhloReply::from_reply(&again).unwrap(), e);
}

/// A reply longer than a reader's limits is still a reply: the limits are the reader's
/// (found by the `command_to_bytes_and_back` fuzzer, whose check assumed the defaults).
#[test]
fn many_lines_encode_and_read_back_within_the_readers_limits() {
    let text = vec!["line"; 200].join("\n");
    let reply = Reply::try_new(250, None, text).unwrap();
    let mut bytes = Vec::new();
    reply.encode(&mut bytes, true);
    assert_eq!(ReplyFramer::default().frame(&bytes), Err(ReplyError::TooManyLines));
    let wide = ReplyLimits { lines: 200, ..ReplyLimits::default() };
    assert_eq!(ReplyFramer::new(wide).frame(&bytes), Ok(Status::Complete(bytes.len())));
    assert_eq!(Reply::parse(&bytes).unwrap(), reply);
}
