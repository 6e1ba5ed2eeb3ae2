use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn session() -> ClientSession {
    ClientSession::new(Instant::now(), Duration::from_secs(60))
}

/// Feeds `server` in pieces cut at `cuts` and returns every event.
fn feed(s: &mut ClientSession, server: &[u8], cut: usize) -> Vec<ClientEvent> {
    let now = Instant::now();
    let mut events = Vec::new();
    for piece in [&server[..cut], &server[cut..]] {
        let taken = s.handle_input(now, piece);
        assert!(taken == piece.len() || s.is_closed());
        while let Some(e) = s.poll_event() {
            events.push(e);
        }
    }
    events
}

/// A collecting client's session as Dovecot answers it.
const TRANSCRIPT: &[u8] = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n\
* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n\
A0001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n\
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
* 2 EXISTS\r\n\
* 0 RECENT\r\n\
* OK [UIDVALIDITY 1733567000] UIDs valid\r\n\
A0002 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n\
* 1 FETCH (UID 5 RFC822.SIZE 24 BODY[] {24}\r\nSubject: one\r\n\r\nbody 1\r\n)\r\n\
* 2 FETCH (UID 9 RFC822.SIZE 5 BODY[] {5}\r\n)}{\r\n)\r\n\
A0003 OK Fetch completed.\r\n\
* BYE Logging out\r\n\
A0004 OK Logout completed.\r\n";

fn start(s: &mut ClientSession) {
    let now = Instant::now();
    for c in [
        ClientCommand::Capability,
        ClientCommand::Select { mailbox: "INBOX" },
        ClientCommand::UidFetch { set: "1:*", items: "(UID RFC822.SIZE BODY.PEEK[])" },
        ClientCommand::Logout,
    ] {
        s.send(now, &c).unwrap();
    }
}

#[test]
fn a_transcript_gives_the_same_events_however_it_is_cut() {
    let mut whole = session();
    start(&mut whole);
    let expected = feed(&mut whole, TRANSCRIPT, TRANSCRIPT.len());
    assert!(!expected.iter().any(|e| matches!(e, ClientEvent::Error(_))), "{expected:?}");
    let bodies: Vec<&[u8]> = expected
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Untagged(Untagged::Fetch { items, .. }) => items.iter().find_map(|i| match i {
                FetchItem::Body { data: Some(d), .. } => Some(d.as_slice()),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, [&b"Subject: one\r\n\r\nbody 1\r\n"[..], b")}{\r\n"]);
    assert_eq!(expected.iter().filter(|e| matches!(e, ClientEvent::Tagged { .. })).count(), 4);
    assert!(whole.has_capability("uidplus"));
    for cut in 0..=TRANSCRIPT.len() {
        let mut s = session();
        start(&mut s);
        assert_eq!(feed(&mut s, TRANSCRIPT, cut), expected, "cut at {cut}");
    }
}

#[test]
fn strings_are_quoted_or_sent_as_literals() {
    let now = Instant::now();
    let mut s = session();
    let _ = s.handle_input(now, b"* OK ready\r\n");
    s.send(now, &ClientCommand::Login { user: "a\"b", password: Secret::new("p\\w") }).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"A0001 LOGIN \"a\\\"b\" \"p\\\\w\"\r\n");
    // A password with CRLF: a synchronizing literal, its octets after the continuation.
    s.send(now, &ClientCommand::Login { user: "u", password: Secret::new("x\r\ny") }).unwrap();
    out.clear();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"A0002 LOGIN \"u\" {4}\r\n");
    // Commands sent meanwhile wait behind it.
    s.send(now, &ClientCommand::Noop).unwrap();
    out.clear();
    s.poll_transmit(&mut out);
    assert!(out.is_empty());
    let _ = s.handle_input(now, b"+ go ahead\r\n");
    s.poll_transmit(&mut out);
    assert_eq!(out, b"x\r\ny\r\n");
    let _ = s.handle_input(now, b"+ next\r\n");
    out.clear();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"A0003 NOOP\r\n");
    // With LITERAL+ no wait.
    let _ = s.handle_input(now, b"* CAPABILITY IMAP4rev1 LITERAL+\r\n");
    s.send(now, &ClientCommand::Select { mailbox: "Entwürfe" }).unwrap();
    out.clear();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"A0004 SELECT \"Entw&APw-rfe\"\r\n");
    s.send(now, &ClientCommand::Login { user: "u", password: Secret::new("a\nb") }).unwrap();
    out.clear();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"A0005 LOGIN \"u\" {3+}\r\na\nb\r\n");
    assert!(s.send(now, &ClientCommand::UidFetch { set: "1\r\n", items: "(UID)" }).is_err());
}

#[test]
fn hostile_servers_end_the_session_in_bounded_memory() {
    let now = Instant::now();
    let small = ResponseLimits { line: 100, literal: 1000, total: 2000 };
    let cases: [(&[u8], ClientError); 5] = [
        (b"* OK hi\r\nZ9 OK who asked?\r\n", ClientError::Unexpected),
        (b"* OK hi\r\n* 1 FETCH (BODY[] {1001}\r\n", ClientError::LiteralTooLarge),
        (b"garbage\r\n", ClientError::Malformed),
        (b"* OK hi\r\n* 1 FETCH (BODY[] {900}\r\n", ClientError::ResponseTooLong),
        (b"* OK hi\r\nA0001 OK begin TLS\r\n* injected\r\n", ClientError::DataBeforeTls),
    ];
    for (i, (input, error)) in cases.iter().enumerate() {
        let mut s = ClientSession::with_limits(now, Duration::from_secs(60), small);
        s.send(now, &ClientCommand::StartTls).unwrap();
        let mut data = input.to_vec();
        if i == 3 {
            // 900 octets of literal, then an endless line.
            data.extend(std::iter::repeat_n(b'x', 900));
            data.extend(std::iter::repeat_n(b'y', 5000));
        }
        let _ = s.handle_input(now, &data);
        let events: Vec<ClientEvent> = std::iter::from_fn(|| s.poll_event()).collect();
        assert_eq!(events.last(), Some(&ClientEvent::Error(*error)), "case {i}: {events:?}");
        assert!(s.is_closed() && s.framer.held() <= 2000);
    }
    // Silence: a timeout.
    let mut s = session();
    s.handle_timeout(now + Duration::from_secs(61));
    assert_eq!(s.poll_event(), Some(ClientEvent::Error(ClientError::Timeout)));
    // After the handshake, input is welcome again.
    let mut s = session();
    let _ = s.handle_input(now, b"* OK hi\r\n");
    let tag = s.send(now, &ClientCommand::StartTls).unwrap();
    let _ = s.handle_input(now, format!("{tag} OK go\r\n").as_bytes());
    s.handle_tls_established();
    let _ = s.handle_input(now, b"* CAPABILITY IMAP4rev1\r\n");
    assert!(!s.is_closed() && s.has_capability("IMAP4rev1"));
}

proptest! {
    #[test]
    fn any_server_input_is_taken_without_panic(input in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048) {
        let mut s = ClientSession::with_limits(
            Instant::now(), Duration::from_secs(60), ResponseLimits { line: 512, literal: 512, total: 1024 });
        s.send(Instant::now(), &ClientCommand::Capability).unwrap();
        let cut = cut.min(input.len());
        let _ = feed(&mut s, &input, cut);
        prop_assert!(s.framer.held() <= 1024);
    }

    #[test]
    fn fetch_bodies_come_back_intact(body in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..700) {
        let mut server = format!("* OK hi\r\n* 1 FETCH (UID 3 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        server.extend_from_slice(&body);
        server.extend_from_slice(b")\r\nA0001 OK done\r\n");
        let mut s = session();
        s.send(Instant::now(), &ClientCommand::UidFetch { set: "3", items: "(BODY.PEEK[])" }).unwrap();
        let events = feed(&mut s, &server, cut.min(server.len()));
        let got = events.iter().find_map(|e| match e {
            ClientEvent::Untagged(Untagged::Fetch { items, .. }) => items.iter().find_map(|i| match i {
                FetchItem::Body { data, .. } => data.clone(),
                _ => None,
            }),
            _ => None,
        });
        prop_assert_eq!(got, Some(body));
    }
}
