//! Commands as clients send them, RFC 3501 §8's sample session first.

use super::*;
use crate::lex::SeqNumber;

fn parse(s: &str) -> Result<Command<'_>, ParseError> {
    Command::parse(s.as_bytes())
}

fn b(s: &str) -> Cow<'_, [u8]> {
    Cow::Borrowed(s.as_bytes())
}

#[test]
fn rfc3501_sample_session() {
    assert_eq!(
        parse("a001 login mrc secret\r\n"),
        Ok(Command { tag: "a001", body: Body::Login { username: b("mrc"), password: Secret::new(b("secret")) } })
    );
    assert_eq!(
        parse("a002 select inbox\r\n"),
        Ok(Command { tag: "a002", body: Body::Select { mailbox: Mailbox::Inbox, params: SelectParams::default() } })
    );
    assert_eq!(
        parse("a003 fetch 12 full\r\n").unwrap().body,
        Body::Fetch {
            uid: false,
            set: vec![SeqRange {
                from: SeqNumber::Value(std::num::NonZeroU32::new(12).unwrap()),
                to: SeqNumber::Value(std::num::NonZeroU32::new(12).unwrap())
            }],
            attributes: vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::Body
            ],
            modifiers: FetchModifiers::default()
        }
    );
    assert_eq!(
        parse("a004 fetch 12 body[header]\r\n").unwrap().body,
        Body::Fetch {
            uid: false,
            set: vec![SeqRange {
                from: SeqNumber::Value(std::num::NonZeroU32::new(12).unwrap()),
                to: SeqNumber::Value(std::num::NonZeroU32::new(12).unwrap())
            }],
            attributes: vec![FetchAttr::BodySection {
                peek: false,
                section: Section { part: vec![], text: Some(SectionText::Header) },
                partial: None
            }],
            modifiers: FetchModifiers::default()
        }
    );
    let v = |n| SeqNumber::Value(std::num::NonZeroU32::new(n).unwrap());
    assert_eq!(
        parse("a005 store 12 +flags \\deleted\r\n").unwrap().body,
        Body::Store {
            uid: false,
            set: vec![SeqRange { from: v(12), to: v(12) }],
            unchanged_since: None,
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::system("deleted").unwrap()]
        }
    );
    assert_eq!(
        parse("a UID STORE 1:* -FLAGS.SILENT (\\Seen $Junk)\r\n").unwrap().body,
        Body::Store {
            uid: true,
            set: vec![SeqRange { from: v(1), to: SeqNumber::Largest }],
            unchanged_since: None,
            mode: StoreMode::Remove,
            silent: true,
            flags: vec![Flag::system("Seen").unwrap(), Flag::keyword("$Junk").unwrap()]
        }
    );
    assert!(parse("a STORE 1 FLAGZ (\\Seen)\r\n").is_err());
    assert_eq!(parse("a006 logout\r\n"), Ok(Command { tag: "a006", body: Body::Logout }));
}

#[test]
fn mailbox_commands() {
    let other = |s: &'static str| Mailbox::Other(b(s));
    assert_eq!(
        parse("t CREATE \"Entw&APw-rfe\"\r\n").unwrap().body,
        Body::Create { mailbox: other("Entw&APw-rfe"), special_use: vec![] }
    );
    // RFC 6154 §5.3's example.
    assert_eq!(
        parse("t1 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n").unwrap().body,
        Body::Create { mailbox: other("MySpecial"), special_use: vec!["Drafts", "Sent"] }
    );
    for bad in ["t CREATE x (USE Drafts)\r\n", "t CREATE x (OTHER (\\Drafts))\r\n", "t CREATE x (USE (Drafts))\r\n"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse("t RENAME blurdybloop {7}\r\nsarasoop\r\n").unwrap_err(),
        ParseError::Syntax(LexError { expected: "end of command", at: 33 }),
        "a literal is exactly its length"
    );
    assert_eq!(
        parse("t RENAME blurdybloop {8}\r\nsarasoop\r\n").unwrap().body,
        Body::Rename { from: other("blurdybloop"), to: other("sarasoop") }
    );
    assert_eq!(
        parse("t LIST \"\" %\r\n").unwrap().body,
        Body::List { selection: vec![], reference: b(""), patterns: vec![b("%")], return_options: vec![] }
    );
    // RFC 5258's extended form: selection options, several patterns, return options.
    assert_eq!(
        parse("t LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent*\") RETURN (CHILDREN SPECIAL-USE)\r\n")
            .unwrap()
            .body,
        Body::List {
            selection: vec![ListSelect::Subscribed, ListSelect::RecursiveMatch],
            reference: b(""),
            patterns: vec![b("INBOX"), b("Sent*")],
            return_options: vec![ListReturn::Children, ListReturn::SpecialUse],
        }
    );
    // LIST-STATUS (RFC 5819).
    assert_eq!(
        parse("t LIST \"\" % RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))\r\n").unwrap().body,
        Body::List {
            selection: vec![],
            reference: b(""),
            patterns: vec![b("%")],
            return_options: vec![
                ListReturn::Subscribed,
                ListReturn::Status(vec![StatusItem::Messages, StatusItem::Unseen])
            ],
        }
    );
    // Unknown options, and RECURSIVEMATCH with nothing that selects, are errors (BAD).
    for bad in [
        "t LIST (imaptest) \"\" \"\"\r\n",
        "t LIST (RECURSIVEMATCH) \"\" \"\"\r\n",
        "t LIST (RECURSIVEMATCH REMOTE) \"\" \"\"\r\n",
        "t LIST \"\" \"\" RETURN (imaptest)\r\n",
        "t LIST \"\" % RETURN (STATUS ())\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert!(parse("t LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) \"\" %\r\n").is_ok());
    assert_eq!(
        parse("t LIST () \"\" % RETURN ()\r\n").unwrap().body,
        Body::List { selection: vec![], reference: b(""), patterns: vec![b("%")], return_options: vec![] }
    );
    for bad in ["t LIST \"\" ()\r\n", "t LIST \"\" % (CHILDREN)\r\n", "t LIST (SUBSCRIBED \"\" %\r\n"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse("t LSUB #news. comp.mail.*\r\n").unwrap().body,
        Body::Lsub { reference: b("#news."), pattern: b("comp.mail.*") }
    );
    assert_eq!(
        parse("t STATUS blurdybloop (UIDNEXT MESSAGES)\r\n").unwrap().body,
        Body::Status { mailbox: other("blurdybloop"), items: vec![StatusItem::UidNext, StatusItem::Messages] }
    );
    assert!(parse("t STATUS x (BOGUS)\r\n").is_err());
    assert!(parse("t STATUS x ()\r\n").is_err());
    assert_eq!(
        parse("t SELECT InBoX\r\n").unwrap().body,
        Body::Select { mailbox: Mailbox::Inbox, params: SelectParams::default() }
    );
}

#[test]
fn append_with_flags_date_and_literal() {
    let cmd = "A003 APPEND saved-messages (\\Seen $Work) \"7-Feb-1994 21:52:25 -0800\" {21}\r\nSubject: hi\r\n\r\nbody\r\n\r\n";
    assert_eq!(
        parse(cmd).unwrap().body,
        Body::Append {
            mailbox: Mailbox::Other(b("saved-messages")),
            flags: vec![Flag::system("Seen").unwrap(), Flag::keyword("$Work").unwrap()],
            date: Some(b("7-Feb-1994 21:52:25 -0800")),
            message: b"Subject: hi\r\n\r\nbody\r\n",
        }
    );
    assert_eq!(
        parse("a APPEND INBOX {0+}\r\n\r\n").unwrap().body,
        Body::Append { mailbox: Mailbox::Inbox, flags: vec![], date: None, message: b"" }
    );
}

#[test]
fn uid_and_extension_commands() {
    let v = |n| SeqNumber::Value(std::num::NonZeroU32::new(n).unwrap());
    assert_eq!(
        parse("a UID MOVE 42:69 foo\r\n").unwrap().body,
        Body::Move { uid: true, set: vec![SeqRange { from: v(42), to: v(69) }], mailbox: Mailbox::Other(b("foo")) }
    );
    assert_eq!(
        parse("a COPY 2:4 MEETING\r\n").unwrap().body,
        Body::Copy { uid: false, set: vec![SeqRange { from: v(2), to: v(4) }], mailbox: Mailbox::Other(b("MEETING")) }
    );
    assert_eq!(
        parse("a UID EXPUNGE 3000:3002\r\n").unwrap().body,
        Body::UidExpunge { set: vec![SeqRange { from: v(3000), to: v(3002) }] }
    );
    assert_eq!(
        parse("a UID FETCH 1 FLAGS\r\n").unwrap().body,
        // UID FETCH implies the UID item (RFC 3501 §6.4.8).
        Body::Fetch {
            uid: true,
            set: vec![SeqRange { from: v(1), to: v(1) }],
            attributes: vec![FetchAttr::Uid, FetchAttr::Flags],
            modifiers: FetchModifiers::default()
        }
    );
    assert_eq!(
        parse("a SEARCH UNSEEN\r\n").unwrap().body,
        Body::Search { uid: false, ret: None, charset: None, keys: vec![SearchKey::Unseen] }
    );
    assert_eq!(
        parse("a ENABLE CONDSTORE UTF8=ACCEPT\r\n").unwrap().body,
        Body::Enable { capabilities: vec!["CONDSTORE", "UTF8=ACCEPT"] }
    );
    assert_eq!(
        parse("a ID (\"name\" \"sodr\" \"version\" NIL)\r\n").unwrap().body,
        Body::Id { fields: Some(vec![(b("name"), Some(b("sodr"))), (b("version"), None)]) }
    );
    assert_eq!(parse("a ID NIL\r\n").unwrap().body, Body::Id { fields: None });
    assert_eq!(
        parse("a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n").unwrap().body,
        Body::Authenticate { mechanism: Mechanism::Plain, initial_response: Some(Secret::new("AGFsaWNlAHNlY3JldA==")) }
    );
    assert_eq!(
        parse("a AUTHENTICATE PLAIN =\r\n").unwrap().body,
        Body::Authenticate { mechanism: Mechanism::Plain, initial_response: Some(Secret::new("=")) }
    );
    assert!(parse("a AUTHENTICATE PLAIN !!\r\n").is_err());
    for simple in ["CAPABILITY", "NOOP", "STARTTLS", "CHECK", "CLOSE", "EXPUNGE", "IDLE", "UNSELECT", "NAMESPACE"] {
        assert!(parse(&format!("x {simple}\r\n")).is_ok(), "{simple}");
        assert!(parse(&format!("x {simple} extra\r\n")).is_err(), "{simple} takes nothing");
    }
}

#[test]
fn errors() {
    assert_eq!(parse("\r\n"), Err(ParseError::NoTag));
    assert_eq!(parse("+ x\r\n"), Err(ParseError::NoTag));
    assert_eq!(parse("a BOGUS\r\n"), Err(ParseError::Unknown));
    assert!(matches!(parse("a LOGIN alice\r\n"), Err(ParseError::Syntax(_))));
    assert_eq!(tag_of(b"a17 whatever"), Some("a17"));
}

proptest::proptest! {
    /// Arbitrary octets never panic the parser.
    #[test]
    fn parse_never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
        let _ = Command::parse(&input);
    }
}

#[test]
fn fetch_attributes() {
    fn attrs(s: &str) -> Vec<FetchAttr<'_>> {
        match parse(s) {
            Ok(Command { body: Body::Fetch { attributes, .. }, .. }) => attributes,
            other => panic!("{s}: {other:?}"),
        }
    }
    let n = |n| std::num::NonZeroU32::new(n).unwrap();
    assert_eq!(attrs("a FETCH 1 FAST\r\n"), vec![FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::Rfc822Size]);
    assert_eq!(attrs("a FETCH 1 all\r\n").len(), 4);
    assert_eq!(
        attrs("a FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To \"Subject\")]<0.2048>)\r\n"),
        vec![
            FetchAttr::Uid,
            FetchAttr::Rfc822Size,
            FetchAttr::Flags,
            FetchAttr::BodySection {
                peek: true,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec![b("From"), b("To"), b("Subject")]
                    })
                },
                partial: Some(Partial { start: 0, length: n(2048) })
            }
        ]
    );
    assert_eq!(
        attrs("a FETCH 2 (BODY[1.2.MIME] BODY[3.HEADER.FIELDS.NOT (X-Spam)] BODY[4] BODY[] BODY BODYSTRUCTURE)\r\n"),
        vec![
            FetchAttr::BodySection {
                peek: false,
                section: Section { part: vec![n(1), n(2)], text: Some(SectionText::Mime) },
                partial: None
            },
            FetchAttr::BodySection {
                peek: false,
                section: Section {
                    part: vec![n(3)],
                    text: Some(SectionText::HeaderFields { not: true, fields: vec![b("X-Spam")] })
                },
                partial: None
            },
            FetchAttr::BodySection { peek: false, section: Section { part: vec![n(4)], text: None }, partial: None },
            FetchAttr::BodySection { peek: false, section: Section::default(), partial: None },
            FetchAttr::Body,
            FetchAttr::BodyStructure,
        ]
    );
    assert_eq!(
        attrs("a FETCH 1 (BINARY.PEEK[1]<10.20> BINARY.SIZE[2] BINARY[])\r\n"),
        vec![
            FetchAttr::Binary { peek: true, part: vec![n(1)], partial: Some(Partial { start: 10, length: n(20) }) },
            FetchAttr::BinarySize { part: vec![n(2)] },
            FetchAttr::Binary { peek: false, part: vec![], partial: None },
        ]
    );
    for bad in [
        "a FETCH 1 (FLAGS\r\n",
        "a FETCH 1 ()\r\n",
        "a FETCH 1 BODY[MIME]\r\n",
        "a FETCH 1 BODY[1.]\r\n",
        "a FETCH 1 BODY[0]\r\n",
        "a FETCH 1 BODY[]<5>\r\n",
        "a FETCH 1 BODY[]<5.0>\r\n",
        "a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
        "a FETCH 1 BODY.PEEK\r\n",
        "a FETCH 1 FLAGS FLAGS\r\n",
        "a FETCH 1 NONSENSE\r\n",
        "a FETCH * \r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert!(FetchAttr::Rfc822.sets_seen() && !FetchAttr::Rfc822Header.sets_seen());
}

#[test]
fn search_keys() {
    type Parts<'a> = (bool, Option<Vec<ReturnOption>>, Option<Cow<'a, [u8]>>, Vec<SearchKey<'a>>);
    fn search(s: &str) -> Parts<'_> {
        match parse(s) {
            Ok(Command { body: Body::Search { uid, ret, charset, keys }, .. }) => (uid, ret, charset, keys),
            other => panic!("{s}: {other:?}"),
        }
    }
    let v = |n| SeqNumber::Value(std::num::NonZeroU32::new(n).unwrap());
    // RFC 3501 §6.4.4's examples.
    assert_eq!(
        search("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n").3,
        vec![
            SearchKey::Flagged,
            SearchKey::Since(Date { year: 1994, month: 2, day: 1 }),
            SearchKey::Not(Box::new(SearchKey::From(b("Smith"))))
        ]
    );
    let (_, _, charset, keys) = search("A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n");
    assert_eq!(charset, Some(b("UTF-8")));
    assert_eq!(keys, vec![SearchKey::Text(b("XXXXXX"))]);
    let (uid, ret, _, keys) =
        search("a UID SEARCH RETURN (MIN COUNT) OR (SEEN 1:5) UID 7:* HEADER X-Tag \"a b\" ON \"22-Nov-2026\"\r\n");
    assert!(uid);
    assert_eq!(ret, Some(vec![ReturnOption::Min, ReturnOption::Count]));
    assert_eq!(
        keys,
        vec![
            SearchKey::Or(
                Box::new(SearchKey::And(vec![
                    SearchKey::Seen,
                    SearchKey::Sequence(vec![SeqRange { from: v(1), to: v(5) }])
                ])),
                Box::new(SearchKey::Uid(vec![SeqRange { from: v(7), to: SeqNumber::Largest }]))
            ),
            SearchKey::Header(b("X-Tag"), b("a b")),
            SearchKey::On(Date { year: 2026, month: 11, day: 22 }),
        ]
    );
    assert_eq!(search("a SEARCH RETURN () ALL\r\n").1, Some(vec![ReturnOption::All]));
    assert_eq!(
        search("a SEARCH LARGER 100 SMALLER 5000 KEYWORD $Junk UNKEYWORD Work\r\n").3,
        vec![
            SearchKey::Larger(100),
            SearchKey::Smaller(5000),
            SearchKey::Keyword("$Junk"),
            SearchKey::Unkeyword("Work")
        ]
    );
    for bad in [
        "a SEARCH\r\n",
        "a SEARCH SINCE 32-Jan-2020\r\n",
        "a SEARCH SINCE 1-Foo-2020\r\n",
        "a SEARCH SINCE 1-Jan-20\r\n",
        "a SEARCH SINCE \"1-Jan-2020\r\n",
        "a SEARCH OR SEEN\r\n",
        "a SEARCH (SEEN\r\n",
        "a SEARCH RETURN (BOGUS) ALL\r\n",
        "a SEARCH FROM\r\n",
        "a SEARCH NOSUCHKEY\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn search_nesting_is_bounded_without_parentheses() {
    // NOT NOT NOT … and OR OR OR … nest without a single parenthesis: the depth bound holds.
    for unit in ["NOT ", "OR ALL "] {
        let deep = format!("a SEARCH {}ALL\r\n", unit.repeat(MAX_KEY_DEPTH - 1));
        assert!(parse(&deep).is_ok(), "{unit} at the limit");
        let deeper = format!("a SEARCH {}ALL\r\n", unit.repeat(100_000));
        assert!(parse(&deeper).is_err(), "{unit} past the limit");
    }
}

/// RFC 5256 §4's SORT examples, UID SORT, REVERSE and RFC 5957's DISPLAY keys.
#[test]
fn sort_commands() {
    let c = |key, reverse| SortCriterion { key, reverse };
    let parsed = parse("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n").unwrap();
    let Body::Sort { uid: false, criteria, charset, keys, ret: None } = parsed.body else { panic!("{parsed:?}") };
    assert_eq!((criteria, &*charset, keys.len()), (vec![c(SortKey::Subject, false)], &b"UTF-8"[..], 1));
    let parsed = parse("A284 UID SORT (REVERSE DATE DISPLAYFROM reverse size) US-ASCII TEXT \"not in mailbox\"\r\n");
    let Body::Sort { uid: true, criteria, ret: None, .. } = parsed.unwrap().body else { panic!() };
    assert_eq!(criteria, [c(SortKey::Date, true), c(SortKey::DisplayFrom, false), c(SortKey::Size, true)]);
    // ESORT (RFC 5267).
    let parsed = parse("t SORT RETURN (MIN COUNT) (ARRIVAL) US-ASCII 1:5\r\n").unwrap();
    let Body::Sort { ret: Some(ret), .. } = parsed.body else { panic!() };
    assert_eq!(ret, [search::ReturnOption::Min, search::ReturnOption::Count]);
    for bad in [
        "t SORT () UTF-8 ALL\r\n",
        "t SORT (SUBJECT) ALL\r\n",
        "t SORT (REVERSE) UTF-8 ALL\r\n",
        "t SORT (COLOUR) UTF-8 ALL\r\n",
        "t SORT SUBJECT UTF-8 ALL\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

/// RFC 9208's commands.
#[test]
fn quota_commands() {
    assert_eq!(
        parse("G0001 GETQUOTA \"!partition/sda4\"\r\n").unwrap().body,
        Body::GetQuota { root: b("!partition/sda4") }
    );
    assert_eq!(parse("G0002 GETQUOTAROOT INBOX\r\n").unwrap().body, Body::GetQuotaRoot { mailbox: Mailbox::Inbox });
    assert_eq!(
        parse("S0000 SETQUOTA \"#user/alice\" (STORAGE 510 MESSAGE 1000)\r\n").unwrap().body,
        Body::SetQuota { root: b("#user/alice"), limits: vec![("STORAGE", 510), ("MESSAGE", 1000)] }
    );
    for bad in ["t GETQUOTA\r\n", "t SETQUOTA \"\" (STORAGE)\r\n", "t SETQUOTA \"\" (STORAGE 99999999999999999999)\r\n"]
    {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

/// RFC 7162's CONDSTORE and QRESYNC grammar, from the RFC's examples.
#[test]
fn condstore_and_qresync() {
    let v = |n| SeqNumber::Value(std::num::NonZeroU32::new(n).unwrap());
    let r = |a, b| SeqRange { from: v(a), to: v(b) };
    let Body::Select { params, .. } = parse("a SELECT INBOX (CONDSTORE)\r\n").unwrap().body else { panic!() };
    assert!(params.condstore && params.qresync.is_none());
    // §3.2.5.2's example.
    let cmd = "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n";
    let Body::Select { params, .. } = parse(cmd).unwrap().body else { panic!() };
    let q = params.qresync.unwrap();
    assert_eq!((q.uidvalidity.get(), q.modseq), (67890007, 20050715194045000));
    assert_eq!(q.known_uids, Some(vec![r(41, 41), r(43, 211), r(214, 541)]));
    let cmd = "B02 EXAMINE INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n";
    let Body::Examine { params, .. } = parse(cmd).unwrap().body else { panic!() };
    let (numbers, uids) = params.qresync.unwrap().seq_match.unwrap();
    assert_eq!((numbers.len(), uids.len()), (4, 13));
    let cmd = "a SELECT x (QRESYNC (1 2 (3 4)))\r\n";
    let Body::Select { params, .. } = parse(cmd).unwrap().body else { panic!() };
    assert!(params.qresync.is_some_and(|q| q.known_uids.is_none() && q.seq_match.is_some()));
    // §3.1.4.1, §3.2.6.
    let Body::Fetch { modifiers, attributes, .. } =
        parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n").unwrap().body
    else {
        panic!()
    };
    assert_eq!((modifiers.changed_since, modifiers.vanished), (Some(12345), true));
    assert_eq!(attributes, [FetchAttr::Uid, FetchAttr::Flags]);
    let Body::Fetch { attributes, .. } = parse("a FETCH 1 (MODSEQ UID)\r\n").unwrap().body else { panic!() };
    assert_eq!(attributes, [FetchAttr::ModSeq, FetchAttr::Uid]);
    // §3.1.3.
    let Body::Store { unchanged_since, silent, .. } =
        parse("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n").unwrap().body
    else {
        panic!()
    };
    assert_eq!((unchanged_since, silent), (Some(320162338), true));
    // §3.1.5.
    let Body::Search { keys, .. } = parse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n").unwrap().body
    else {
        panic!()
    };
    assert_eq!(
        keys,
        [SearchKey::ModSeq {
            entry: Some(ModSeqEntry { flag: b("\\draft"), kind: EntryKind::All }),
            modseq: 620162338
        }]
    );
    assert_eq!(
        parse("a SEARCH MODSEQ 0\r\n").unwrap().body,
        Body::Search { uid: false, ret: None, charset: None, keys: vec![SearchKey::ModSeq { entry: None, modseq: 0 }] }
    );
    let Body::Status { items, .. } = parse("a STATUS blurdybloop (UIDNEXT HIGHESTMODSEQ)\r\n").unwrap().body else {
        panic!()
    };
    assert_eq!(items, [StatusItem::UidNext, StatusItem::HighestModSeq]);
    for bad in [
        "a SELECT INBOX (CONDSTORE CONDSTORE)\r\n",
        "a SELECT INBOX ()\r\n",
        "a SELECT INBOX (BOGUS)\r\n",
        "a SELECT INBOX (QRESYNC (0 5))\r\n",
        "a SELECT INBOX (QRESYNC (1 0))\r\n",
        "a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n",
        "a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)\r\n",
        "a UID FETCH 1 FLAGS (VANISHED)\r\n",
        "a UID FETCH 1 FLAGS (CHANGEDSINCE)\r\n",
        "a UID FETCH 1 FLAGS ()\r\n",
        "a STORE 1 (UNCHANGEDSINCE) FLAGS \\Seen\r\n",
        "a STORE 1 (CHANGEDSINCE 5) FLAGS \\Seen\r\n",
        "a SEARCH MODSEQ \"/flags/\" all 5\r\n",
        "a SEARCH MODSEQ \"/other/x\" all 5\r\n",
        "a SEARCH MODSEQ \"/flags/x\" mine 5\r\n",
        "a SEARCH MODSEQ x\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

/// RFC 5267's return options and CANCELUPDATE, as imaptest sends them.
#[test]
fn context_search_commands() {
    let ret = |s: &str| match parse(s).unwrap().body {
        Body::Search { ret, .. } | Body::Sort { ret, .. } => ret.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ret("a SEARCH RETURN (UPDATE) BODY body SEEN\r\n"), [ReturnOption::Update]);
    assert_eq!(
        ret("a SEARCH RETURN (update all context) 1\r\n"),
        [ReturnOption::Update, ReturnOption::All, ReturnOption::Context]
    );
    assert_eq!(ret("a SEARCH RETURN (PARTIAL 4:2) ALL\r\n"), [ReturnOption::Partial { low: 2, high: 4 }]);
    assert_eq!(
        ret("a SORT RETURN (PARTIAL 1:6) (ARRIVAL) US-ASCII ALL\r\n"),
        [ReturnOption::Partial { low: 1, high: 6 }]
    );
    for bad in [
        "a SEARCH RETURN (PARTIAL 1) ALL\r\n",
        "a SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
        "a SEARCH RETURN (PARTIAL *:1) ALL\r\n",
        "a SEARCH RETURN (PARTIAL 0:1) ALL\r\n",
        "a SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL\r\n",
        "a CANCELUPDATE\r\n",
        "a CANCELUPDATE B01\r\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse("a CANCELUPDATE \"B01\" \"B02\"\r\n").unwrap().body,
        Body::CancelUpdate { tags: vec![b("B01"), b("B02")] }
    );
}

/// SEARCHRES (RFC 5182): `RETURN (SAVE)` and `$`, alone, wherever a set goes.
#[test]
fn searchres_dollar() {
    let Body::Fetch { set, .. } = parse("a FETCH $ (FLAGS)\r\n").unwrap().body else { panic!() };
    assert!(crate::sequence::is_saved(&set));
    assert_eq!(crate::sequence::numbers(&set, 10).count(), 0, "as numbers, `$` is none");
    let Body::Store { set, .. } = parse("a UID STORE $ +FLAGS (\\Seen)\r\n").unwrap().body else { panic!() };
    assert!(crate::sequence::is_saved(&set));
    let Body::Search { ret, keys, .. } = parse("a SEARCH RETURN (SAVE MIN) UID $ $\r\n").unwrap().body else {
        panic!()
    };
    assert_eq!(ret.unwrap(), [ReturnOption::Save, ReturnOption::Min]);
    assert!(
        matches!(&keys[..], [SearchKey::Uid(a), SearchKey::Sequence(b)] if crate::sequence::is_saved(a) && crate::sequence::is_saved(b))
    );
    for bad in ["a FETCH $,1 FLAGS\r\n", "a FETCH 1:$ FLAGS\r\n", "a COPY $$ x\r\n"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

proptest::proptest! {
    /// CONDSTORE's, QRESYNC's and CONTEXT's arguments, written as a client writes them, read
    /// back as the values written, for any values the grammar allows.
    #[test]
    fn condstore_and_context_arguments_round_trip(
        validity in 1u32..=u32::MAX,
        modseq in 1u64..=i64::MAX as u64,
        known in proptest::collection::vec((1u32..=u32::MAX, 0u32..1000), 0..8),
        low in 1u32..=u32::MAX,
        high in 1u32..=u32::MAX,
    ) {
        let set: Vec<String> = known.iter().map(|&(a, n)| format!("{a}:{}", a.saturating_add(n))).collect();
        let known_text = if set.is_empty() { String::new() } else { format!(" {}", set.join(",")) };
        let cmd = format!("a SELECT INBOX (QRESYNC ({validity} {modseq}{known_text}))\r\n");
        let Body::Select { params, .. } = parse(&cmd).unwrap().body else { panic!() };
        let q = params.qresync.unwrap();
        proptest::prop_assert_eq!((q.uidvalidity.get(), q.modseq), (validity, modseq));
        let ranges: Vec<(u32, u32)> = q.known_uids.unwrap_or_default().iter().map(|r| r.bounds(0)).collect();
        let expected: Vec<(u32, u32)> = known.iter().map(|&(a, n)| (a, a.saturating_add(n))).collect();
        proptest::prop_assert_eq!(ranges, expected);
        let cmd = format!("a UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE {modseq} VANISHED)\r\n");
        let Body::Fetch { modifiers, .. } = parse(&cmd).unwrap().body else { panic!() };
        proptest::prop_assert_eq!((modifiers.changed_since, modifiers.vanished), (Some(modseq), true));
        let cmd = format!("a STORE 1 (UNCHANGEDSINCE {modseq}) FLAGS ()\r\n");
        let Body::Store { unchanged_since, .. } = parse(&cmd).unwrap().body else { panic!() };
        proptest::prop_assert_eq!(unchanged_since, Some(modseq));
        let cmd = format!("a SEARCH RETURN (PARTIAL {low}:{high} SAVE) MODSEQ {modseq}\r\n");
        let Body::Search { ret, keys, .. } = parse(&cmd).unwrap().body else { panic!() };
        let partial = ReturnOption::Partial { low: low.min(high), high: low.max(high) };
        proptest::prop_assert_eq!(ret.unwrap(), vec![partial, ReturnOption::Save]);
        proptest::prop_assert_eq!(keys, vec![SearchKey::ModSeq { entry: None, modseq }]);
    }
}
