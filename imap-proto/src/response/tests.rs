//! Responses as RFC 3501, 7162, 5267 and the others write them, and what no value can do to a line.

use super::*;
use crate::lex::Cursor;

fn status(tag: Option<&str>, s: Status, code: Option<&Code<'_>>, text: &str) -> String {
    let mut out = Vec::new();
    write_status(&mut out, tag.map(|t| Tag::new(t).unwrap()), s, code, text);
    String::from_utf8(out).unwrap()
}

fn data(d: &Data<'_>) -> String {
    let mut out = Vec::new();
    write_data(&mut out, d);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn rfc3501_sample_responses() {
    assert_eq!(status(Some("a001"), Status::Ok, None, "LOGIN completed"), "a001 OK LOGIN completed\r\n");
    assert_eq!(data(&Data::Exists(172)), "* 172 EXISTS\r\n");
    assert_eq!(data(&Data::Recent(1)), "* 1 RECENT\r\n");
    assert_eq!(
        status(None, Status::Ok, Some(&Code::Unseen(12)), "Message 12 is first unseen"),
        "* OK [UNSEEN 12] Message 12 is first unseen\r\n"
    );
    assert_eq!(
        status(None, Status::Ok, Some(&Code::UidValidity(3857529045)), "UIDs valid"),
        "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    );
    let flags = [
        Flag::system("Answered").unwrap(),
        Flag::system("Flagged").unwrap(),
        Flag::system("Deleted").unwrap(),
        Flag::system("Seen").unwrap(),
        Flag::system("Draft").unwrap(),
    ];
    assert_eq!(data(&Data::Flags(flags.to_vec())), "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
    assert_eq!(
        status(
            None,
            Status::Ok,
            Some(&Code::PermanentFlags(vec![
                Flag::system("Deleted").unwrap(),
                Flag::system("Seen").unwrap(),
                Flag::system("*").unwrap()
            ])),
            "Limited"
        ),
        "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
    );
    assert_eq!(
        status(Some("A142"), Status::Ok, Some(&Code::ReadWrite), "SELECT completed"),
        "A142 OK [READ-WRITE] SELECT completed\r\n"
    );
    assert_eq!(
        data(&Data::List {
            attributes: vec!["\\Noselect"],
            delimiter: Some('/'),
            mailbox: b"~/Mail/foo",
            child_info: vec![]
        }),
        "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n"
    );
    // RFC 5258 §6's CHILDINFO extended data; a criterion that is no atom is dropped.
    assert_eq!(
        data(&Data::List {
            attributes: vec![],
            delimiter: Some('/'),
            mailbox: b"Foo",
            child_info: vec!["SUBSCRIBED", "x\r\n* BYE"]
        }),
        "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    );
    assert_eq!(
        data(&Data::Status {
            mailbox: b"blurdybloop",
            items: vec![(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)]
        }),
        "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    );
    assert_eq!(data(&Data::Search { ids: vec![2, 84, 882], modseq: None }), "* SEARCH 2 84 882\r\n");
    assert_eq!(data(&Data::Sort { ids: vec![5, 3, 4, 1, 2], modseq: None }), "* SORT 5 3 4 1 2\r\n");
    assert_eq!(data(&Data::Sort { ids: vec![], modseq: Some(7) }), "* SORT\r\n");
    // RFC 5256 §4's THREAD example.
    let t = |id: u32, children: Vec<Thread>| Thread { id: Some(id), children };
    let threads = vec![
        t(2, vec![]),
        t(3, vec![t(6, vec![t(4, vec![t(23, vec![])]), t(44, vec![t(7, vec![t(96, vec![])])])])]),
        Thread { id: None, children: vec![t(5, vec![]), t(8, vec![])] },
    ];
    assert_eq!(data(&Data::Thread(threads)), "* THREAD (2)(3 6 (4 23)(44 7 96))((5)(8))\r\n");
    assert_eq!(data(&Data::Thread(vec![])), "* THREAD\r\n");
    // RFC 9208 §5.1's examples.
    assert_eq!(
        data(&Data::Quota { root: b"", resources: vec![("STORAGE", 10, 512), ("x\r\n* BYE", 1, 2)] }),
        "* QUOTA \"\" (STORAGE 10 512)\r\n"
    );
    assert_eq!(data(&Data::QuotaRoot { mailbox: b"INBOX", roots: vec![b""] }), "* QUOTAROOT INBOX \"\"\r\n");
    assert_eq!(data(&Data::QuotaRoot { mailbox: b"comp.mail.mime", roots: vec![] }), "* QUOTAROOT comp.mail.mime\r\n");
    assert_eq!(
        status(None, Status::Bye, None, "IMAP4rev1 Server logging out"),
        "* BYE IMAP4rev1 Server logging out\r\n"
    );
}

#[test]
fn no_value_breaks_the_line() {
    // A tag holding CR LF cannot be made at all, so it cannot reach the wire.
    assert!(Tag::new("a\r\n* OK").is_err());
    assert_eq!(status(None, Status::No, None, "x\r\nb2 OK"), "* NO x  b2 OK\r\n");
    assert_eq!(status(Some("t"), Status::Ok, None, "[ALERT] forged"), "t OK ALERT] forged\r\n");
    assert_eq!(status(Some("t"), Status::No, None, "not a literal {5}"), "t NO not a literal {5} \r\n");
    let mut out = Vec::new();
    write_astring(&mut out, b"a\"b\\c");
    assert_eq!(out, b"\"a\\\"b\\\\c\"");
    out.clear();
    write_astring(&mut out, b"line\r\nbreak");
    assert_eq!(out, b"{11}\r\nline\r\nbreak");
    out.clear();
    write_astring(&mut out, b"NIL");
    assert_eq!(out, b"\"NIL\"", "NIL as a name is quoted");
    out.clear();
    write_astring(&mut out, b"");
    assert_eq!(out, b"\"\"");
}

/// RFC 7162's responses, from its examples.
#[test]
fn condstore_and_qresync_responses() {
    assert_eq!(
        status(None, Status::Ok, Some(&Code::HighestModSeq(715194045007)), "Highest"),
        "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
    );
    assert_eq!(status(None, Status::Ok, Some(&Code::NoModSeq), "Sorry"), "* OK [NOMODSEQ] Sorry\r\n");
    assert_eq!(status(None, Status::Ok, Some(&Code::Closed), "x"), "* OK [CLOSED] x\r\n");
    assert_eq!(
        status(Some("d105"), Status::Ok, Some(&Code::Modified(vec![(7, 7), (9, 9)])), "Conditional STORE failed"),
        "d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"
    );
    let items = [FetchItem::Uid(4), FetchItem::ModSeq(12121231000)];
    assert_eq!(data(&Data::Fetch { seq: 1, items: &items }), "* 1 FETCH (UID 4 MODSEQ (12121231000))\r\n");
    assert_eq!(
        data(&Data::Vanished { earlier: true, uids: vec![(41, 41), (43, 116), (118, 118)] }),
        "* VANISHED (EARLIER) 41,43:116,118\r\n"
    );
    assert_eq!(data(&Data::Vanished { earlier: false, uids: vec![(405, 405)] }), "* VANISHED 405\r\n");
    assert_eq!(data(&Data::Vanished { earlier: false, uids: vec![] }), "", "no empty VANISHED");
    assert_eq!(
        data(&Data::Search { ids: vec![2, 5, 6], modseq: Some(917162500) }),
        "* SEARCH 2 5 6 (MODSEQ 917162500)\r\n"
    );
    assert_eq!(data(&Data::Search { ids: vec![], modseq: Some(9) }), "* SEARCH\r\n");
    let tag = Tag::new("a").unwrap();
    assert_eq!(
        data(&Data::ESearch {
            tag,
            uid: true,
            min: Some(2),
            max: None,
            count: None,
            all: None,
            partial: None,
            add_to: Vec::new(),
            remove_from: Vec::new(),
            modseq: Some(917162500)
        }),
        "* ESEARCH (TAG \"a\") UID MIN 2 MODSEQ 917162500\r\n"
    );
    let item = [(StatusItem::HighestModSeq, 7011231777)];
    assert_eq!(
        data(&Data::Status { mailbox: b"blurdybloop", items: item.to_vec() }),
        "* STATUS blurdybloop (HIGHESTMODSEQ 7011231777)\r\n"
    );
}

/// RFC 5267's ESEARCH data and NOUPDATE, from imaptest's and the RFC's examples.
#[test]
fn context_search_responses() {
    let tag = Tag::new("B01").unwrap();
    let esearch = |partial, add_to, remove_from| Data::ESearch {
        tag,
        uid: true,
        min: None,
        max: None,
        count: None,
        all: None,
        partial,
        add_to,
        remove_from,
        modseq: None,
    };
    assert_eq!(
        data(&esearch(Some(((1, 6), vec![(5, 5), (3, 4), (2, 2), (1, 1)])), vec![], vec![])),
        "* ESEARCH (TAG \"B01\") UID PARTIAL (1:6 5,3:4,2,1)\r\n"
    );
    assert_eq!(
        data(&esearch(Some(((6, 6), vec![])), vec![], vec![])),
        "* ESEARCH (TAG \"B01\") UID PARTIAL (6:6 NIL)\r\n"
    );
    assert_eq!(
        data(&esearch(None, vec![(0, vec![(1, 2), (4, 4)])], vec![(0, vec![(3, 3)]), (2, vec![])])),
        "* ESEARCH (TAG \"B01\") UID ADDTO (0 1:2,4) REMOVEFROM (0 3)\r\n"
    );
    let code = Code::NoUpdate(Tag::new("B01").unwrap());
    assert_eq!(status(None, Status::Ok, Some(&code), "Too many"), "* OK [NOUPDATE \"B01\"] Too many\r\n");
}

proptest::proptest! {
    /// VANISHED's and MODIFIED's sets read back, with the crate's own lexer, as the
    /// UIDs they were made from.
    #[test]
    fn uid_sets_read_back(uids in proptest::collection::btree_set(1u32..=u32::MAX, 1..40)) {
        let uids: Vec<u32> = uids.into_iter().collect();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for &u in &uids {
            match ranges.last_mut() {
                Some(r) if r.1.checked_add(1) == Some(u) => r.1 = u,
                _ => ranges.push((u, u)),
            }
        }
        let line = data(&Data::Vanished { earlier: true, uids: ranges });
        let set = line.strip_prefix("* VANISHED (EARLIER) ").unwrap();
        let mut c = Cursor::new(set.as_bytes());
        let read: Vec<u32> = crate::sequence::numbers(&c.sequence_set().unwrap(), u32::MAX).collect();
        proptest::prop_assert_eq!(read, uids);
        proptest::prop_assert_eq!(c.rest(), b"\r\n");
    }

    /// Whatever the value, it reads back as itself with the crate's own lexer.
    #[test]
    fn astrings_read_back(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
        let mut out = Vec::new();
        write_astring(&mut out, &value);
        out.extend_from_slice(b"\r\n");
        let mut c = Cursor::new(&out);
        let got = c.astring().unwrap();
        proptest::prop_assert_eq!(&got[..], &value[..]);
        proptest::prop_assert!(c.end().is_ok());
    }
}
