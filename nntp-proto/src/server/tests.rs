//! Server sessions as `C:`/`S:` transcripts (RFC 3977's examples first), each fed whole and
//! split at every byte boundary, with a scripted news store as the embedder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::command::ListKeyword;
use crate::overview::Overview;

/// A scripted news store: one group, `misc.test`, articles 3000234–3000237; user `wilma`,
/// password `flintstone`.
struct Harness {
    session: ServerSession,
    events: Vec<Event>,
    wire: Vec<u8>,
    /// Articles received (POST, IHAVE, TAKETHIS), whole.
    received: Vec<Vec<u8>>,
    receiving: Vec<u8>,
    aborted: usize,
}

const ARTICLE: &[u8] = b"Path: pathost!demo!whitehouse!not-for-mail\r\nFrom: \"Demo User\" <nobody@example.net>\r\n\
Newsgroups: misc.test\r\nSubject: I am just a test article\r\nDate: 6 Oct 1998 04:38:40 -0500\r\n\
Message-ID: <45223423@example.com>\r\n\r\nThis is just a test article.\r\n.A line with a dot.\r\n";

fn config() -> ServerConfig {
    let mut c = ServerConfig::new("news.example.com");
    c.plaintext_without_tls = true;
    c.ihave = true;
    c.streaming = true;
    c.starttls = true;
    c.mechanisms = vec![Mechanism::Plain];
    c
}

impl Harness {
    fn new(config: ServerConfig) -> Self {
        Self {
            session: ServerSession::new(Arc::new(config), Instant::now(), false, true),
            events: Vec::new(),
            wire: Vec::new(),
            received: Vec::new(),
            receiving: Vec::new(),
            aborted: 0,
        }
    }

    fn standard() -> Self {
        Self::new(config())
    }

    fn respond(&mut self, code: u16, text: &str) {
        self.session.respond(Response { code, text }).unwrap();
    }

    fn block(&mut self, data: &[u8]) {
        // In small pieces, to cross every boundary of the dot-stuffing.
        for piece in data.chunks(5) {
            self.session.block_data(piece).unwrap();
        }
        self.session.block_end().unwrap();
    }

    fn command(&mut self, request: &Request) {
        match request.command() {
            Command::Group { name: "misc.test" } => self.respond(211, "4 3000234 3000237 misc.test"),
            Command::Group { .. } => self.respond(411, "No such newsgroup"),
            Command::ListGroup { .. } => {
                self.respond(211, "4 3000234 3000237 misc.test list follows");
                self.block(b"3000234\r\n3000235\r\n3000236\r\n3000237\r\n");
            }
            Command::Article(Some(ArticleRef::MessageId("<45223423@example.com>"))) => {
                self.respond(220, "0 <45223423@example.com>");
                self.block(ARTICLE);
            }
            Command::Article(_) => self.respond(423, "No article with that number"),
            Command::Stat(Some(ArticleRef::Number(n))) => self.respond(223, &format!("{n} <{n}@example.com>")),
            Command::Stat(_) => self.respond(223, "3000234 <45223423@example.com>"),
            Command::Next => self.respond(223, "3000237 <668929@example.org> retrieved"),
            Command::Date => self.respond(111, "19990623135624"),
            Command::List(ListKeyword::Active(_)) => {
                self.respond(215, "list of newsgroups follows");
                self.block(b"misc.test 3002322 3000234 y\r\ncomp.risks 0442 0100 m\r\n");
            }
            Command::Over { .. } => {
                self.respond(224, "Overview information follows");
                let mut line = Vec::new();
                Overview {
                    number: 3000234,
                    subject: b"I am just a test article",
                    from: b"\"Demo User\" <nobody@example.com>",
                    date: b"6 Oct 1998 04:38:40 -0500",
                    message_id: b"<45223423@example.com>",
                    references: b"<45454@example.net>",
                    bytes: 1234,
                    lines: 17,
                    xref: b"",
                }
                .encode(&mut line);
                self.block(&line);
            }
            Command::Post => self.respond(340, "Input article; end with <CR-LF>.<CR-LF>"),
            Command::Ihave { message_id: "<i.am.an.article.you.have@example.com>" } => self.respond(435, "Duplicate"),
            Command::Ihave { .. } => self.respond(335, "Send it; end with <CR-LF>.<CR-LF>"),
            Command::Check { message_id } if message_id.contains("have") => self.respond(438, message_id),
            Command::Check { message_id } => self.respond(238, message_id),
            Command::Takethis { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    fn pump(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match &event {
                Event::Login { user, password } if user == "wilma" && password.expose() == "flintstone" => {
                    self.session.accept_login("wilma").unwrap();
                }
                Event::Login { .. } => self.session.reject_login("Authentication failed").unwrap(),
                Event::AuthStart { initial_response: None, .. } => self.session.auth_challenge(b"").unwrap(),
                Event::AuthStart { initial_response: Some(r), .. } | Event::AuthResponse(r) => {
                    if r.expose() == b"\0wilma\0flintstone" {
                        self.session.accept_login("wilma").unwrap();
                    } else {
                        self.session.reject_login("Authentication failed").unwrap();
                    }
                }
                Event::Command(request) => self.command(request),
                Event::ArticleData(piece) => self.receiving.extend_from_slice(piece),
                Event::ArticleEnd => {
                    let article = std::mem::take(&mut self.receiving);
                    let (code, text) = match self.events.iter().rev().find_map(|e| match e {
                        Event::Command(r) => Some(r.command().keyword()),
                        _ => None,
                    }) {
                        Some(Keyword::Post) => (240, "Article received OK"),
                        Some(Keyword::Ihave) => (235, "Article transferred OK"),
                        _ => (239, "<t@example.com>"),
                    };
                    self.received.push(article);
                    self.respond(code, text);
                }
                Event::ArticleAborted => {
                    self.receiving.clear();
                    self.aborted += 1;
                }
                Event::StartTls | Event::Close => {}
            }
            self.events.push(event);
        }
        self.session.poll_transmit(&mut self.wire);
    }

    fn feed(&mut self, mut data: &[u8]) {
        let now = Instant::now();
        self.pump();
        for _ in 0..10_000 {
            let used = self.session.handle_input(now, data);
            data = &data[used..];
            self.pump();
            if data.is_empty() {
                break;
            }
        }
        assert!(data.is_empty(), "input left over: {:?}", String::from_utf8_lossy(data));
    }

    fn wire(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

/// `C:` and `S:` lines of a transcript, each joined with CRLF.
fn transcript(t: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for line in t.lines().map(str::trim_start) {
        if let Some(l) = line.strip_prefix("C: ") {
            c.extend_from_slice(l.as_bytes());
            c.extend_from_slice(b"\r\n");
        } else if let Some(l) = line.strip_prefix("S: ") {
            s.extend_from_slice(l.as_bytes());
            s.extend_from_slice(b"\r\n");
        } else if line == "C:" {
            c.extend_from_slice(b"\r\n");
        } else if line == "S:" {
            s.extend_from_slice(b"\r\n");
        }
    }
    (c, s)
}

fn check(make: impl Fn() -> Harness, t: &str) {
    let (client, server) = transcript(t);
    let mut whole = make();
    whole.feed(&client);
    assert_eq!(whole.wire(), String::from_utf8_lossy(&server), "whole input");
    for split in 1..client.len() {
        let mut h = make();
        h.feed(&client[..split]);
        h.feed(&client[split..]);
        assert_eq!(h.wire, server, "split at {split}");
    }
}

#[test]
fn rfc3977_reader_session() {
    check(
        Harness::standard,
        "S: 200 news.example.com ready (posting allowed)
         C: MODE READER
         S: 200 Posting allowed
         C: ARTICLE 3000234
         S: 412 No newsgroup selected
         C: GROUP misc.test
         S: 211 4 3000234 3000237 misc.test
         C: STAT
         S: 223 3000234 <45223423@example.com>
         C: NEXT
         S: 223 3000237 <668929@example.org> retrieved
         C: ARTICLE <45223423@example.com>
         S: 220 0 <45223423@example.com>
         S: Path: pathost!demo!whitehouse!not-for-mail
         S: From: \"Demo User\" <nobody@example.net>
         S: Newsgroups: misc.test
         S: Subject: I am just a test article
         S: Date: 6 Oct 1998 04:38:40 -0500
         S: Message-ID: <45223423@example.com>
         S:
         S: This is just a test article.
         S: ..A line with a dot.
         S: .
         C: LISTGROUP
         S: 211 4 3000234 3000237 misc.test list follows
         S: 3000234
         S: 3000235
         S: 3000236
         S: 3000237
         S: .
         C: OVER 3000234-
         S: 224 Overview information follows
         S: 3000234\tI am just a test article\t\"Demo User\" <nobody@example.com>\t6 Oct 1998 04:38:40 -0500\t<45223423@example.com>\t<45454@example.net>\t1234\t17\t
         S: .
         C: LIST
         S: 215 list of newsgroups follows
         S: misc.test 3002322 3000234 y
         S: comp.risks 0442 0100 m
         S: .
         C: DATE
         S: 111 19990623135624
         C: GROUP no.such
         S: 411 No such newsgroup
         C: FROB
         S: 500 Unknown command
         C: GROUP a b
         S: 501 Syntax error
         C: QUIT
         S: 205 Bye",
    );
}

#[test]
fn post_ihave_and_streaming() {
    check(
        Harness::standard,
        "S: 200 news.example.com ready (posting allowed)
         C: POST
         S: 340 Input article; end with <CR-LF>.<CR-LF>
         C: From: \"Demo User\" <nobody@example.net>
         C: Newsgroups: misc.test
         C: Subject: I am just a test article
         C:
         C: ..dot-stuffed line
         C: .
         S: 240 Article received OK
         C: IHAVE <i.am.an.article.you.have@example.com>
         S: 435 Duplicate
         C: IHAVE <i.am.an.article.you.will.want@example.com>
         S: 335 Send it; end with <CR-LF>.<CR-LF>
         C: Path: a!b
         C:
         C: body
         C: .
         S: 235 Article transferred OK
         C: MODE STREAM
         S: 203 Streaming permitted
         C: CHECK <i.am.an.article.you.have@example.com>
         C: CHECK <i.am.an.article.new@example.com>
         C: TAKETHIS <t@example.com>
         C: Path: a!b
         C:
         C: streamed
         C: .
         C: TAKETHIS not-an-id
         C: QUIT
         C: .
         C: QUIT
         S: 438 <i.am.an.article.you.have@example.com>
         S: 238 <i.am.an.article.new@example.com>
         S: 239 <t@example.com>
         S: 501 Syntax error in TAKETHIS
         S: 205 Bye",
    );
    let mut h = Harness::standard();
    h.feed(b"POST\r\nSubject: x\r\n\r\n..dot\r\n.\r\n");
    assert_eq!(h.received, [b"Subject: x\r\n\r\n.dot\r\n".to_vec()]);
}

#[test]
fn login_tls_and_state_rules() {
    let make = || {
        let mut c = config();
        c.auth_required = true;
        c.plaintext_without_tls = false;
        Harness::new(c)
    };
    check(
        make,
        "S: 200 news.example.com ready (posting allowed)
         C: GROUP misc.test
         S: 480 Authentication required
         C: AUTHINFO USER wilma
         S: 483 Encryption required for authentication
         C: AUTHINFO PASS flintstone
         S: 482 AUTHINFO USER first
         C: AUTHINFO SASL PLAIN AHdpbG1hAGZsaW50c3RvbmU=
         S: 483 Encryption required for this mechanism
         C: STARTTLS
         S: 382 Begin TLS negotiation now",
    );
    // After TLS: the login goes through; STARTTLS and AUTHINFO are then refused.
    let mut h = make();
    h.feed(b"STARTTLS\r\nGROUP injected\r\n");
    assert!(h.events.contains(&Event::StartTls));
    h.session.handle_tls_established(Instant::now());
    h.wire.clear();
    h.feed(b"AUTHINFO USER wilma\r\nAUTHINFO PASS wrong\r\nAUTHINFO USER wilma\r\nAUTHINFO PASS flintstone\r\nGROUP misc.test\r\nSTARTTLS\r\nAUTHINFO USER x\r\n");
    assert_eq!(
        h.wire(),
        "381 Password required\r\n481 Authentication failed\r\n381 Password required\r\n281 Authentication accepted\r\n\
         211 4 3000234 3000237 misc.test\r\n502 STARTTLS not available\r\n502 Already authenticated\r\n"
    );
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::Command(r) if r.command() == &Command::Group { name: "injected" }))
    );
    // SASL with a challenge, over TLS.
    let mut h = Harness::new(config());
    h.session.tls = true;
    h.feed(b"AUTHINFO SASL PLAIN\r\nAHdpbG1hAGZsaW50c3RvbmU=\r\n");
    assert!(h.wire().ends_with("383 =\r\n281 Authentication accepted\r\n"), "{}", h.wire());
    assert_eq!(h.session.user(), Some("wilma"));
    // CAPABILITIES follows the state.
    let mut h = Harness::standard();
    h.feed(b"CAPABILITIES\r\n");
    let caps = h.wire();
    for cap in [
        "VERSION 2",
        "READER",
        "POST",
        "IHAVE",
        "STREAMING",
        "OVER MSGID",
        "AUTHINFO USER SASL",
        "SASL PLAIN",
        "STARTTLS",
    ] {
        assert!(caps.contains(&format!("\r\n{cap}\r\n")), "{cap} in {caps}");
    }
    assert!(caps.ends_with("\r\n.\r\n"));
}

#[test]
fn limits() {
    // A line past 512 octets: 501, nothing of it held, the session goes on.
    let mut h = Harness::standard();
    let long = format!("GROUP {}\r\nDATE\r\n", "x".repeat(100_000));
    h.feed(long.as_bytes());
    assert!(h.wire().ends_with("501 Line too long\r\n111 19990623135624\r\n"), "{}", h.wire());
    assert!(h.session.line.capacity() <= MAX_COMMAND_LINE, "no long line held");
    // 511 octets and CRLF: taken.
    let mut h = Harness::standard();
    let name = "g".repeat(MAX_COMMAND_LINE - 2 - "GROUP ".len());
    h.feed(format!("GROUP {name}\r\n").as_bytes());
    assert!(h.wire().ends_with("411 No such newsgroup\r\n"), "{}", h.wire());
    // Too many errors: 400 and close.
    let mut h = Harness::standard();
    h.feed(&b"FROB\r\n".repeat(25));
    assert!(h.wire().ends_with("400 Too many errors, closing connection\r\n"));
    assert!(h.session.is_closed() && h.events.contains(&Event::Close));
    // An article past the limit is read to its end, not passed on, and refused.
    let mut c = config();
    c.limits.max_article = 100;
    let mut h = Harness::new(c);
    let mut post = b"POST\r\nSubject: big\r\n\r\n".to_vec();
    for _ in 0..1000 {
        post.extend_from_slice(b"a line of the body\r\n");
    }
    post.extend_from_slice(b".\r\nDATE\r\n");
    h.feed(&post);
    assert!(h.wire().ends_with("441 Article too large\r\n111 19990623135624\r\n"), "{}", h.wire());
    assert_eq!((h.received.len(), h.aborted), (0, 1));
    // Idle: 400 and close.
    let mut h = Harness::standard();
    let later = Instant::now() + Duration::from_secs(3600);
    h.session.handle_timeout(later);
    h.pump();
    assert!(h.wire().ends_with("400 Idle timeout, closing connection\r\n") && h.session.is_closed());
    // Too many failed logins.
    let mut h = Harness::standard();
    h.feed(&b"AUTHINFO USER a\r\nAUTHINFO PASS b\r\n".repeat(3));
    assert!(h.wire().ends_with("400 Too many failed logins\r\n") && h.session.is_closed());
}

#[test]
fn api_misuse_is_refused() {
    let mut h = Harness::standard();
    assert_eq!(h.session.respond(Response { code: 200, text: "x" }), Err(ApiMisuse::NothingPending));
    assert_eq!(h.session.accept_login("x"), Err(ApiMisuse::NothingPending));
    assert_eq!(h.session.block_data(b"x"), Err(ApiMisuse::NothingPending));
    assert_eq!(h.session.block_end(), Err(ApiMisuse::NothingPending));
    let _ = h.session.handle_input(Instant::now(), b"LIST\r\n");
    let Some(Event::Command(_)) = h.session.poll_event() else { panic!() };
    h.session.respond(Response { code: 215, text: "follows" }).unwrap();
    assert!(h.session.in_block());
    assert_eq!(h.session.respond(Response { code: 215, text: "again" }), Err(ApiMisuse::BlockOpen));
    h.session.block_end().unwrap();
}

proptest::proptest! {
    /// Arbitrary octets in arbitrary pieces, with an embedder that answers everything:
    /// no panic, and the session's line buffer never holds more than a command line.
    #[test]
    fn arbitrary_input(pieces in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..10)) {
        let mut s = ServerSession::new(Arc::new(config()), Instant::now(), false, true);
        let now = Instant::now();
        for piece in &pieces {
            let mut rest = &piece[..];
            for _ in 0..1000 {
                let used = s.handle_input(now, rest);
                rest = &rest[used..];
                while let Some(e) = s.poll_event() {
                    let _ = match e {
                        Event::Login { .. } | Event::AuthStart { .. } | Event::AuthResponse(_) => s.reject_login("no"),
                        Event::Command(r) => {
                            let code = match r.command().keyword() {
                                Keyword::Post => 340,
                                Keyword::Ihave => 335,
                                Keyword::List => 215,
                                _ => 430,
                            };
                            let r = s.respond(Response { code, text: "x" });
                            if s.in_block() {
                                let _ = s.block_data(b"x\r\n.y");
                                let _ = s.block_end();
                            }
                            r
                        }
                        Event::ArticleEnd => s.respond(Response { code: 239, text: "ok" }),
                        _ => Ok(()),
                    };
                }
                proptest::prop_assert!(s.line.len() < MAX_COMMAND_LINE);
                if rest.is_empty() || used == 0 {
                    break;
                }
            }
        }
    }
}
