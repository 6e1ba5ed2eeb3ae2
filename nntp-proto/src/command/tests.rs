//! Commands as RFC 3977's examples send them, and round trips through the encoder.

use super::*;

fn parse(s: &str) -> Result<Command<'_>, CommandError> {
    Command::parse_line(s.as_bytes())
}

#[test]
fn rfc3977_examples() {
    assert_eq!(parse("CAPABILITIES"), Ok(Command::Capabilities { keyword: None }));
    assert_eq!(parse("mode reader"), Ok(Command::ModeReader));
    assert_eq!(parse("MODE STREAM"), Ok(Command::ModeStream));
    assert_eq!(parse("GROUP misc.test"), Ok(Command::Group { name: "misc.test" }));
    assert_eq!(
        parse("LISTGROUP misc.test 3000238-3000248"),
        Ok(Command::ListGroup { group: Some("misc.test"), range: Some(Range { low: 3000238, high: Some(3000248) }) })
    );
    assert_eq!(parse("LISTGROUP"), Ok(Command::ListGroup { group: None, range: None }));
    assert_eq!(parse("ARTICLE 3000234"), Ok(Command::Article(Some(ArticleRef::Number(3000234)))));
    assert_eq!(
        parse("HEAD <45223423@example.com>"),
        Ok(Command::Head(Some(ArticleRef::MessageId("<45223423@example.com>"))))
    );
    assert_eq!(parse("BODY"), Ok(Command::Body(None)));
    assert_eq!(parse("STAT 3000237"), Ok(Command::Stat(Some(ArticleRef::Number(3000237)))));
    assert_eq!(parse("IHAVE <i.am.an.article.you.will.want@example.com>").map(|c| c.keyword()), Ok(Keyword::Ihave));
    assert_eq!(
        parse("NEWGROUPS 19990624 000000 GMT"),
        Ok(Command::NewGroups {
            since: DateTime {
                year: 1999,
                two_digit_year: false,
                month: 6,
                day: 24,
                hour: 0,
                minute: 0,
                second: 0,
                gmt: true
            }
        })
    );
    let Ok(Command::NewNews { wildmat, since }) = parse("NEWNEWS news.*,sci.* 990624 000000") else { panic!() };
    assert_eq!((wildmat, since.year, since.two_digit_year, since.gmt), ("news.*,sci.*", 99, true, false));
    assert_eq!(since.full_year(2026), 1999);
    assert_eq!(DateTime { year: 30, ..since }.full_year(2026), 2030);
    assert_eq!(parse("LIST"), Ok(Command::List(ListKeyword::Active(None))));
    assert_eq!(parse("LIST ACTIVE.TIMES tx.*"), Ok(Command::List(ListKeyword::ActiveTimes(Some("tx.*")))));
    assert_eq!(parse("list headers range"), Ok(Command::List(ListKeyword::Headers(Some(HeadersArg::Range)))));
    assert_eq!(parse("LIST OVERVIEW.FMT"), Ok(Command::List(ListKeyword::OverviewFmt)));
    assert_eq!(parse("LIST COUNTS misc.*"), Ok(Command::List(ListKeyword::Counts(Some("misc.*")))));
    assert_eq!(
        parse("OVER 3000234-3000240"),
        Ok(Command::Over { target: Some(Target::Range(Range { low: 3000234, high: Some(3000240) })), x: false })
    );
    assert_eq!(parse("OVER <45223423@example.com>").map(|c| c.keyword()), Ok(Keyword::Over));
    assert_eq!(
        parse("XOVER 1-"),
        Ok(Command::Over { target: Some(Target::Range(Range { low: 1, high: None })), x: true })
    );
    assert_eq!(
        parse("HDR Subject 3000234-3000238"),
        Ok(Command::Hdr {
            field: "Subject",
            target: Some(Target::Range(Range { low: 3000234, high: Some(3000238) })),
            x: false
        })
    );
    assert_eq!(parse("XHDR subject"), Ok(Command::Hdr { field: "subject", target: None, x: true }));
    assert_eq!(
        parse("XPAT Subject 1-10 *foo* *bar*"),
        Ok(Command::XPat {
            field: "Subject",
            target: Target::Range(Range { low: 1, high: Some(10) }),
            patterns: vec!["*foo*", "*bar*"]
        })
    );
    let Ok(Command::XPat { patterns, .. }) = parse("XPAT Subject 1- a b c d e") else { panic!() };
    assert_eq!(patterns, ["a", "b", "c", "d", "e"], "more words than fit on the stack");
    assert_eq!(parse("GROUP a b c d e f"), Err(CommandError::Syntax(Keyword::Group)));
    assert_eq!(parse("AUTHINFO USER wilma"), Ok(Command::AuthinfoUser { user: "wilma" }));
    assert_eq!(parse("AUTHINFO PASS flintstone"), Ok(Command::AuthinfoPass { password: Secret::new("flintstone") }));
    let Ok(Command::AuthinfoSasl { mechanism, initial_response }) = parse("AUTHINFO SASL PLAIN AHRlc3QAMTIzNA==")
    else {
        panic!()
    };
    assert_eq!((mechanism.as_str(), initial_response.map(|r| *r.expose())), ("PLAIN", Some("AHRlc3QAMTIzNA==")));
    assert_eq!(parse("STARTTLS"), Ok(Command::StartTls));
    assert_eq!(parse("TAKETHIS <a@b>"), Ok(Command::Takethis { message_id: "<a@b>" }));
    // Tabs and runs of spaces separate arguments too.
    assert_eq!(parse("GROUP \t misc.test  "), Ok(Command::Group { name: "misc.test" }));
}

#[test]
fn refusals() {
    assert_eq!(parse("FROB"), Err(CommandError::Unknown));
    assert_eq!(parse(""), Err(CommandError::Unknown));
    assert_eq!(parse(&format!("GROUP {}", "a".repeat(510))), Err(CommandError::TooLong));
    for (bad, keyword) in [
        ("GROUP", Keyword::Group),
        ("GROUP a b", Keyword::Group),
        ("GROUP a*", Keyword::Group),
        ("ARTICLE 0", Keyword::Article),
        ("ARTICLE -5", Keyword::Article),
        ("ARTICLE 99999999999999999999", Keyword::Article),
        ("ARTICLE <no-close", Keyword::Article),
        ("ARTICLE <>", Keyword::Article),
        ("ARTICLE <a>b>", Keyword::Article),
        ("IHAVE", Keyword::Ihave),
        ("IHAVE notanid", Keyword::Ihave),
        ("LISTGROUP g 5-x", Keyword::ListGroup),
        ("NEWGROUPS 1999062 000000", Keyword::NewGroups),
        ("NEWGROUPS 19991324 000000", Keyword::NewGroups),
        ("NEWGROUPS 19990624 250000", Keyword::NewGroups),
        ("NEWGROUPS 19990624 000000 UTC", Keyword::NewGroups),
        ("NEWNEWS a[b] 19990624 000000", Keyword::NewNews),
        ("LIST BOGUS", Keyword::List),
        ("LIST ACTIVE a b", Keyword::List),
        ("LIST DISTRIB.PATS x", Keyword::List),
        ("MODE WRITER", Keyword::Mode),
        ("XOVER <a@b>", Keyword::XOver),
        ("XPAT Subject 1-", Keyword::XPat),
        ("AUTHINFO USER", Keyword::Authinfo),
        ("AUTHINFO SASL NOSUCH-MECH-NAME-THAT-IS-FAR-TOO-LONG", Keyword::Authinfo),
        ("AUTHINFO SASL PLAIN not-base64!", Keyword::Authinfo),
        ("AUTHINFO GENERIC x", Keyword::Authinfo),
        ("QUIT now", Keyword::Quit),
    ] {
        assert_eq!(parse(bad), Err(CommandError::Syntax(keyword)), "{bad}");
    }
    assert_eq!(parse("GROUP a\u{1}b"), Err(CommandError::Unknown), "control characters");
    assert!(Command::parse_line(b"GROUP \xff").is_err(), "not UTF-8");
}

#[test]
fn the_encoder_refuses_what_would_break_the_line() {
    let mut out = Vec::new();
    for bad in [
        Command::Group { name: "misc.test\r\nPOST" },
        Command::Group { name: "two words" },
        Command::Group { name: "" },
        Command::Ihave { message_id: "<a@b>\r\nQUIT" },
        Command::Ihave { message_id: "no-brackets" },
        Command::AuthinfoUser { user: "a b" },
        Command::AuthinfoPass { password: Secret::new("") },
        Command::Article(Some(ArticleRef::Number(0))),
        Command::Hdr { field: "Subject", target: Some(Target::Range(Range { low: 0, high: None })), x: false },
        Command::XPat { field: "Subject", target: Target::MessageId("<a@b>"), patterns: vec![] },
        Command::Group { name: &"g".repeat(600) },
    ] {
        assert!(bad.encode(&mut out).is_err(), "{bad:?}");
    }
    assert!(out.is_empty(), "nothing written for a refused command");
}

/// Every command the parser returns encodes back to a line that parses to it.
#[test]
fn round_trips() {
    for line in [
        "CAPABILITIES",
        "CAPABILITIES AUTOUPDATE",
        "MODE READER",
        "MODE STREAM",
        "QUIT",
        "GROUP misc.test",
        "LISTGROUP misc.test 5-",
        "LISTGROUP misc.test 7",
        "LAST",
        "NEXT",
        "ARTICLE",
        "HEAD 17",
        "BODY <x@y>",
        "STAT 2147483647",
        "POST",
        "IHAVE <i@x>",
        "CHECK <c@x>",
        "TAKETHIS <t@x>",
        "DATE",
        "HELP",
        "NEWGROUPS 990624 000000",
        "NEWGROUPS 19990624 235959 GMT",
        "NEWNEWS *,!alt.* 20261207 101112 GMT",
        "LIST ACTIVE",
        "LIST ACTIVE comp.*",
        "LIST ACTIVE.TIMES",
        "LIST NEWSGROUPS *",
        "LIST DISTRIB.PATS",
        "LIST HEADERS MSGID",
        "LIST OVERVIEW.FMT",
        "LIST COUNTS",
        "OVER",
        "OVER 1-9",
        "XOVER 4-",
        "HDR Subject <a@b>",
        "XHDR From 3",
        "XPAT Subject <a@b> *x* y?",
        "AUTHINFO USER wilma",
        "AUTHINFO PASS s3cr3t",
        "AUTHINFO SASL SCRAM-SHA-256",
        "AUTHINFO SASL PLAIN =",
        "STARTTLS",
    ] {
        let cmd = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let mut out = Vec::new();
        cmd.encode(&mut out).unwrap_or_else(|e| panic!("{line}: {e}"));
        let written = out.strip_suffix(b"\r\n").unwrap();
        assert_eq!(Command::parse_line(written).as_ref(), Ok(&cmd), "{line}");
    }
}

proptest::proptest! {
    /// Arbitrary octets never panic the parser.
    #[test]
    fn parse_never_panics(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        let _ = Command::parse_line(&line);
    }

    /// Any argument values: the encoder either refuses or writes one line that reads back
    /// as the same command.
    #[test]
    fn encoded_commands_read_back(word in "\\PC{0,12}", n in 0u64..u64::MAX) {
        let id = format!("<{word}>");
        for cmd in [
            Command::Group { name: &word },
            Command::Ihave { message_id: &id },
            Command::Article(Some(ArticleRef::Number(n))),
            Command::Hdr { field: &word, target: Some(Target::MessageId(&id)), x: false },
            Command::AuthinfoUser { user: &word },
        ] {
            let mut out = Vec::new();
            if cmd.encode(&mut out).is_ok() {
                let line = out.strip_suffix(b"\r\n").unwrap();
                proptest::prop_assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
                proptest::prop_assert_eq!(Command::parse_line(line), Ok(cmd));
            } else {
                proptest::prop_assert!(out.is_empty());
            }
        }
    }
}
