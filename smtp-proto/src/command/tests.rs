use super::*;
use crate::address::{Domain, Mailbox, PathError};

fn parse(s: &str) -> Result<Command<'_>, CommandError> {
    Command::parse_line(s.as_bytes())
}

fn mailbox(s: &str) -> Mailbox<'_> {
    Mailbox::parse(s.as_bytes()).unwrap()
}

#[test]
fn verbs_are_case_insensitive() {
    assert_eq!(parse("ehlo client.example").unwrap(), Command::Ehlo { host: "client.example".into() });
    assert_eq!(parse("HeLo client").unwrap(), Command::Helo { host: "client".into() });
    assert_eq!(parse("StartTLS").unwrap(), Command::StartTls);
    assert_eq!(parse("quit").unwrap(), Command::Quit);
    assert_eq!(parse("rset").unwrap(), Command::Rset);
    assert_eq!(parse("data").unwrap(), Command::Data);
}

#[test]
fn parse_finds_the_line_and_reports_partial() {
    assert_eq!(Command::parse(b"NOOP"), Ok(Status::Partial));
    assert_eq!(Command::parse(b"NOOP\r"), Ok(Status::Partial));
    let (cmd, used) = Command::parse(b"NOOP\r\nQUIT\r\n").unwrap().complete().unwrap();
    assert_eq!((cmd, used), (Command::Noop { arg: None }, 6));
    // A bare LF ends a command line too.
    assert_eq!(Command::parse(b"QUIT\nX").unwrap(), Status::Complete((Command::Quit, 5)));
}

#[test]
fn mail_with_every_parameter() {
    let cmd = parse(
        "MAIL FROM:<a@example.org> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<> REQUIRETLS X-FOO=bar X-FLAG",
    )
    .unwrap();
    let Command::Mail { from, params } = cmd else { panic!("not MAIL") };
    assert_eq!(from, ReversePath::Mailbox(mailbox("a@example.org")));
    assert_eq!(params.size, Some(12345));
    assert_eq!(params.body, Some(Body::EightBitMime));
    assert!(params.smtputf8 && params.requiretls);
    assert_eq!(params.ret, Some(Ret::Hdrs));
    assert_eq!(params.envid.as_ref().unwrap().decode().unwrap().as_ref(), b"QQ+1");
    assert_eq!(params.auth, Some(XText("<>".into())));
    assert_eq!(
        params.other,
        vec![
            Param { keyword: "X-FOO".into(), value: Some("bar".into()) },
            Param { keyword: "X-FLAG".into(), value: None }
        ]
    );
}

#[test]
fn mail_lenient_space_after_colon_and_null_sender() {
    let Command::Mail { from, .. } = parse("mail from: <>").unwrap() else { panic!() };
    assert_eq!(from, ReversePath::Null);
}

#[test]
fn mail_errors_map_to_precise_replies() {
    let code = |s: &str| {
        let r = parse(s).unwrap_err().reply();
        (r.code().get(), r.enhanced().unwrap().to_string())
    };
    assert_eq!(code("MAIL FROM:a@example.org"), (501, "5.1.7".into()));
    assert_eq!(code("MAIL TO:<a@example.org>"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL FROM:<a@example.org> SIZE=x"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL FROM:<a@example.org> SIZE=1 SIZE=2"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL FROM:<a@example.org> BODY=9BIT"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL FROM:<a@example.org> SMTPUTF8=yes"), (501, "5.5.4".into()));
    assert_eq!(code("MAIL FROM:<a@example.org>junk"), (501, "5.1.7".into()));
    assert_eq!(code("RCPT TO:<a@@example.org>"), (501, "5.1.3".into()));
    assert_eq!(code("RCPT TO:<a@example.org> NOTIFY=SOMETIMES"), (501, "5.5.4".into()));
    assert_eq!(code("RCPT TO:<a@example.org> NOTIFY=NEVER,SUCCESS"), (501, "5.5.4".into()));
}

#[test]
fn utf8_sender_needs_smtputf8() {
    assert_eq!(parse("MAIL FROM:<jös@example.org>"), Err(CommandError::Utf8WithoutSmtputf8));
    assert_eq!(parse("MAIL FROM:<jös@example.org>").unwrap_err().reply().code(), 553);
    assert!(parse("MAIL FROM:<jös@example.org> SMTPUTF8").is_ok());
    // RCPT cannot tell by itself: the session checks the transaction.
    let Command::Rcpt { to, .. } = parse("RCPT TO:<jös@example.org>").unwrap() else { panic!() };
    assert!(!to.is_ascii());
}

#[test]
fn rcpt_dsn_parameters() {
    let Command::Rcpt { to, params } =
        parse("RCPT TO:<b@example.net> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+40example.net").unwrap()
    else {
        panic!()
    };
    assert_eq!(to, ForwardPath::Mailbox(mailbox("b@example.net")));
    assert_eq!(params.notify, Some(Notify { success: true, failure: false, delay: true }));
    let orcpt = params.orcpt.unwrap();
    assert_eq!(orcpt.addr_type, "rfc822");
    assert_eq!(orcpt.addr.decode().unwrap().as_ref(), b"b@example.net");
    assert_eq!(
        parse("RCPT TO:<b@x> NOTIFY=NEVER").unwrap(),
        Command::Rcpt {
            to: ForwardPath::Mailbox(mailbox("b@x")),
            params: RcptParams { notify: Some(Notify::NEVER), ..Default::default() }
        }
    );
}

#[test]
fn bdat() {
    assert_eq!(parse("BDAT 1000").unwrap(), Command::Bdat { size: 1000, last: false });
    assert_eq!(parse("bdat 0 last").unwrap(), Command::Bdat { size: 0, last: true });
    assert_eq!(parse("BDAT 18446744073709551615 LAST").unwrap(), Command::Bdat { size: u64::MAX, last: true });
    for bad in ["BDAT", "BDAT x", "BDAT -1", "BDAT 1 FIRST", "BDAT 18446744073709551616", "BDAT 1 LAST x"] {
        assert_eq!(parse(bad), Err(CommandError::Syntax(Verb::Bdat)), "{bad}");
    }
}

#[test]
fn auth() {
    assert_eq!(parse("AUTH PLAIN").unwrap(), Command::Auth { mechanism: Mechanism::Plain, initial_response: None });
    assert_eq!(
        parse("AUTH plain =").unwrap(),
        Command::Auth { mechanism: Mechanism::Plain, initial_response: Some("".into()) }
    );
    assert_eq!(
        parse("AUTH PLAIN AGFsaWNlAHNlY3JldA==").unwrap(),
        Command::Auth { mechanism: Mechanism::Plain, initial_response: Some("AGFsaWNlAHNlY3JldA==".into()) }
    );
    assert_eq!(
        parse("AUTH X-CUSTOM").unwrap(),
        Command::Auth { mechanism: Mechanism::Unknown("X-CUSTOM".into()), initial_response: None }
    );
    assert_eq!(parse("AUTH PLAIN not*base64"), Err(CommandError::Syntax(Verb::Auth)));
    assert_eq!(parse("AUTH"), Err(CommandError::Syntax(Verb::Auth)));
    assert_eq!(parse("AUTH THIS-NAME-IS-LONGER-THAN-20"), Err(CommandError::Syntax(Verb::Auth)));
}

#[test]
fn etrn_atrn_vrfy_expn_help_noop() {
    assert_eq!(parse("ETRN @example.org").unwrap(), Command::Etrn { queue: "@example.org".into() });
    assert_eq!(parse("ETRN #queue1").unwrap(), Command::Etrn { queue: "#queue1".into() });
    assert_eq!(parse("ETRN example.org").unwrap(), Command::Etrn { queue: "example.org".into() });
    assert!(parse("ETRN").is_err());
    assert!(parse("ETRN bad..domain").is_err());
    let atrn = parse("ATRN a.example,b.example").unwrap();
    assert_eq!(atrn.atrn_domains().collect::<Vec<_>>(), ["a.example", "b.example"]);
    assert_eq!(parse("ATRN").unwrap(), Command::Atrn { domains: None });
    assert!(parse("ATRN a.example,,b").is_err());
    assert_eq!(parse("VRFY Smith").unwrap(), Command::Vrfy { arg: "Smith".into() });
    assert!(parse("VRFY").is_err());
    assert_eq!(parse("EXPN Example-People").unwrap(), Command::Expn { arg: "Example-People".into() });
    assert_eq!(parse("HELP").unwrap(), Command::Help { topic: None });
    assert_eq!(parse("NOOP hello there").unwrap(), Command::Noop { arg: Some("hello there".into()) });
}

#[test]
fn unknown_and_garbage() {
    assert_eq!(
        parse("XCLIENT ADDR=1.2.3.4").unwrap(),
        Command::Unknown { verb: "XCLIENT".into(), args: Some("ADDR=1.2.3.4".into()) }
    );
    assert_eq!(parse("GET / HTTP/1.1").unwrap().verb(), Verb::Unknown);
    assert_eq!(parse(""), Err(CommandError::Unrecognized));
    assert_eq!(parse("\u{1}\u{2}"), Err(CommandError::Unrecognized));
    assert_eq!(Command::parse_line(b"\xff\xfe"), Err(CommandError::Unrecognized));
    // Four non-letters never match a verb through the case mask.
    assert_eq!(parse("\u{8}ATA"), Err(CommandError::Unrecognized));
    assert_eq!(parse("DATA now"), Err(CommandError::Syntax(Verb::Data)));
    assert_eq!(parse("DATA ").unwrap(), Command::Data);
    assert_eq!(parse("EHLO"), Err(CommandError::Syntax(Verb::Ehlo)));
    assert_eq!(parse("EHLO a b"), Err(CommandError::Syntax(Verb::Ehlo)));
}

#[test]
fn encode_known_answers() {
    let cases: &[(&str, Command<'_>)] = &[
        ("EHLO client.example\r\n", Command::Ehlo { host: "client.example".into() }),
        ("MAIL FROM:<>\r\n", Command::Mail { from: ReversePath::Null, params: Box::default() }),
        (
            "MAIL FROM:<a@b.example> SIZE=10 BODY=BINARYMIME\r\n",
            Command::Mail {
                from: ReversePath::Mailbox(mailbox("a@b.example")),
                params: Box::new(MailParams { size: Some(10), body: Some(Body::BinaryMime), ..Default::default() }),
            },
        ),
        ("RCPT TO:<Postmaster>\r\n", Command::Rcpt { to: ForwardPath::Postmaster, params: RcptParams::default() }),
        ("BDAT 5 LAST\r\n", Command::Bdat { size: 5, last: true }),
        ("AUTH PLAIN =\r\n", Command::Auth { mechanism: Mechanism::Plain, initial_response: Some("".into()) }),
        ("STARTTLS\r\n", Command::StartTls),
    ];
    for (wire, cmd) in cases {
        assert_eq!(String::from_utf8(cmd.to_bytes().unwrap()).unwrap(), *wire);
        assert_eq!(Command::parse_line(&wire.as_bytes()[..wire.len() - 2]).unwrap(), *cmd);
    }
}

#[test]
fn encode_refuses_injection() {
    let inject = Command::Ehlo { host: "x\r\nMAIL FROM:<evil@x>".into() };
    assert_eq!(inject.to_bytes(), Err(EncodeError::InvalidArgument));
    let verb = Command::Unknown { verb: "DATA".into(), args: None };
    assert_eq!(verb.to_bytes(), Err(EncodeError::InvalidArgument));
    let utf8 = Command::Mail {
        from: ReversePath::Mailbox(Mailbox { local_part: "jö".into(), domain: Domain::Name("x".into()) }),
        params: Box::default(),
    };
    assert_eq!(utf8.to_bytes(), Err(EncodeError::NonAsciiWithoutSmtputf8));
    let bad_param = Command::Rcpt {
        to: ForwardPath::Postmaster,
        params: RcptParams { other: vec![Param { keyword: "NOTIFY".into(), value: None }], ..Default::default() },
    };
    assert!(bad_param.to_bytes().is_err());
    let bad_path = Command::Rcpt {
        to: ForwardPath::Mailbox(Mailbox { local_part: "a".into(), domain: Domain::Name("-x".into()) }),
        params: RcptParams::default(),
    };
    assert!(matches!(bad_path.to_bytes(), Err(EncodeError::Path(PathError::InvalidByteAt { .. }))));
}

#[test]
fn invalid_utf8_is_reported_against_the_path_it_spoils() {
    assert_eq!(Command::parse_line(b"mail FROM:<\xff@x>"), Err(CommandError::InvalidSender(PathError::InvalidUtf8)));
    assert_eq!(Command::parse_line(b"RCPT TO:<\xff@x>"), Err(CommandError::InvalidRecipient(PathError::InvalidUtf8)));
    assert_eq!(Command::parse_line(b"NOOP \xff"), Err(CommandError::Unrecognized));
}

#[test]
fn four_letters_is_exactly_four_ascii_letters() {
    for lane in 0..4 {
        for b in 0..=255u8 {
            let mut w = *b"MaIl";
            w[lane] = b;
            assert_eq!(four_letters(u32::from_le_bytes(w)), b.is_ascii_alphabetic(), "lane {lane} {b:#x}");
        }
    }
    // The word path and the searched path agree on verbs that are not four letters.
    for line in ["RCP1 TO:<a@b>", "RCPTX TO:<a@b>", "STARTTLS", "starttls", "X-VERB arg", "R\u{e9}T a"] {
        let fast = Command::parse_line(line.as_bytes());
        assert!(fast.is_err() || matches!(fast, Ok(Command::StartTls | Command::Unknown { .. })), "{line}");
    }
    assert_eq!(parse("rCpT TO:<a@b.example>").unwrap().verb(), Verb::Rcpt);
    assert_eq!(parse("QUIT").unwrap(), Command::Quit);
    assert!(matches!(parse("QUIT now"), Err(CommandError::Syntax(Verb::Quit))));
}
