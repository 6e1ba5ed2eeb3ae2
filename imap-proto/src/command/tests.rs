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
        Ok(Command { tag: "a001", body: Body::Login { username: b("mrc"), password: b("secret") } })
    );
    assert_eq!(
        parse("a002 select inbox\r\n"),
        Ok(Command { tag: "a002", body: Body::Select { mailbox: Mailbox::Inbox } })
    );
    assert_eq!(parse("a003 fetch 12 full\r\n"), Err(ParseError::NotYet));
    let v = |n| SeqNumber::Value(std::num::NonZeroU32::new(n).unwrap());
    assert_eq!(
        parse("a005 store 12 +flags \\deleted\r\n").unwrap().body,
        Body::Store {
            uid: false,
            set: vec![SeqRange { from: v(12), to: v(12) }],
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::System("deleted")]
        }
    );
    assert_eq!(
        parse("a UID STORE 1:* -FLAGS.SILENT (\\Seen $Junk)\r\n").unwrap().body,
        Body::Store {
            uid: true,
            set: vec![SeqRange { from: v(1), to: SeqNumber::Largest }],
            mode: StoreMode::Remove,
            silent: true,
            flags: vec![Flag::System("Seen"), Flag::Keyword("$Junk")]
        }
    );
    assert!(parse("a STORE 1 FLAGZ (\\Seen)\r\n").is_err());
    assert_eq!(parse("a006 logout\r\n"), Ok(Command { tag: "a006", body: Body::Logout }));
}

#[test]
fn mailbox_commands() {
    let other = |s: &'static str| Mailbox::Other(b(s));
    assert_eq!(parse("t CREATE \"Entw&APw-rfe\"\r\n").unwrap().body, Body::Create { mailbox: other("Entw&APw-rfe") });
    assert_eq!(
        parse("t RENAME blurdybloop {7}\r\nsarasoop\r\n").unwrap_err(),
        ParseError::Syntax(LexError { expected: "end of command", at: 33 }),
        "a literal is exactly its length"
    );
    assert_eq!(
        parse("t RENAME blurdybloop {8}\r\nsarasoop\r\n").unwrap().body,
        Body::Rename { from: other("blurdybloop"), to: other("sarasoop") }
    );
    assert_eq!(parse("t LIST \"\" %\r\n").unwrap().body, Body::List { reference: b(""), pattern: b("%") });
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
    assert_eq!(parse("t SELECT InBoX\r\n").unwrap().body, Body::Select { mailbox: Mailbox::Inbox });
}

#[test]
fn append_with_flags_date_and_literal() {
    let cmd = "A003 APPEND saved-messages (\\Seen $Work) \"7-Feb-1994 21:52:25 -0800\" {21}\r\nSubject: hi\r\n\r\nbody\r\n\r\n";
    assert_eq!(
        parse(cmd).unwrap().body,
        Body::Append {
            mailbox: Mailbox::Other(b("saved-messages")),
            flags: vec![Flag::System("Seen"), Flag::Keyword("$Work")],
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
    assert_eq!(parse("a UID FETCH 1 FLAGS\r\n"), Err(ParseError::NotYet));
    assert_eq!(parse("a SEARCH UNSEEN\r\n"), Err(ParseError::NotYet));
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
        Body::Authenticate { mechanism: "PLAIN", initial_response: Some("AGFsaWNlAHNlY3JldA==") }
    );
    assert_eq!(
        parse("a AUTHENTICATE PLAIN =\r\n").unwrap().body,
        Body::Authenticate { mechanism: "PLAIN", initial_response: Some("=") }
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
