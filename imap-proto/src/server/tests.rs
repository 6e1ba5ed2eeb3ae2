//! Server sessions as `C:`/`S:` transcripts, each fed split at every byte boundary, with a
//! scripted embedder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::command::{Body, Mailbox};

/// A scripted embedder: user `mrc`, password `secret`; canned answers for the mailbox
/// commands; APPEND literals over 100 octets are over quota.
/// What the scripted embedder below implements: PLAIN, and the commands of these extensions.
fn embedder_config() -> ServerConfig {
    ServerConfig {
        mechanisms: vec![Mechanism::Plain],
        extensions: ["NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "SPECIAL-USE", "ESEARCH", "CHILDREN"]
            .map(str::to_owned)
            .to_vec(),
        ..ServerConfig::default()
    }
}

/// The default configuration advertises only what the session itself does: no SASL
/// mechanism (the embedder checks them) and no extension whose commands the embedder runs.
#[test]
fn default_advertises_only_what_the_session_implements() {
    let mut s = ServerSession::new(Arc::new(ServerConfig::default()), Instant::now(), true);
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE] IMAP server ready\r\n");
}

struct Harness {
    session: ServerSession,
    events: Vec<Event>,
    wire: Vec<u8>,
    appended: Vec<Vec<u8>>,
    /// The streamed message being appended.
    streaming: Option<Vec<u8>>,
    /// The earlier messages of a MULTIAPPEND, kept until its end.
    batch: Vec<Vec<u8>>,
    /// Streamed appends the session aborted.
    aborted: usize,
    /// Streamed messages larger than this are over quota.
    quota: u64,
    /// Updates to write while the client idles.
    idle_updates: Vec<&'static str>,
}

impl Harness {
    fn new(config: ServerConfig, tls: bool) -> Self {
        let session = ServerSession::new(Arc::new(config), Instant::now(), tls);
        Self {
            session,
            events: Vec::new(),
            wire: Vec::new(),
            appended: Vec::new(),
            streaming: None,
            batch: Vec::new(),
            aborted: 0,
            quota: 1000,
            idle_updates: Vec::new(),
        }
    }

    fn plaintext() -> Self {
        Self::new(ServerConfig { plaintext_without_tls: true, ..embedder_config() }, false)
    }

    fn write(&mut self, s: &str) {
        self.session.output().extend_from_slice(s.as_bytes());
    }

    fn pump(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match &event {
                Event::Login { user, password } => {
                    if user == "mrc" && password.expose() == "secret" {
                        self.session.accept_login("mrc").unwrap();
                    } else {
                        self.session.reject_login(None, "Invalid credentials").unwrap();
                    }
                }
                Event::AuthStart { initial_response: None, .. } => self.session.auth_challenge(b"").unwrap(),
                Event::AuthStart { initial_response: Some(r), .. } | Event::AuthResponse(r) => {
                    if r.expose() == b"\0mrc\0secret" {
                        self.session.accept_login("mrc").unwrap();
                    } else {
                        self.session.reject_login(None, "Invalid credentials").unwrap();
                    }
                }
                Event::AppendLiteral { size } if *size > 100 => {
                    self.session.refuse_literal(Some(Code::OverQuota), "Quota exceeded").unwrap();
                }
                Event::AppendLiteral { .. } => self.session.accept_literal().unwrap(),
                Event::AppendStart { size, .. } if *size > self.quota => {
                    self.session.refuse_literal(Some(Code::OverQuota), "Quota exceeded").unwrap();
                }
                Event::AppendStart { request, .. } => {
                    let Body::Append { mailbox: Mailbox::Inbox, message: b"", .. } = request.command().body else {
                        panic!("not an APPEND to INBOX: {request:?}")
                    };
                    if let Some(done) = self.streaming.take() {
                        self.batch.push(done);
                    }
                    self.streaming = Some(Vec::new());
                    self.session.accept_literal().unwrap();
                }
                Event::AppendData(data) => {
                    self.streaming.as_mut().expect("an append under way").extend_from_slice(data)
                }
                Event::AppendEnd => {
                    self.appended.append(&mut self.batch);
                    self.appended.push(self.streaming.take().expect("an append under way"));
                    self.session.complete(Status::Ok, None, "APPEND completed").unwrap();
                }
                Event::AppendAborted => {
                    self.streaming.take().expect("an append under way");
                    self.batch.clear();
                    self.aborted += 1;
                }
                Event::Command(req) => self.command(req),
                Event::IdleDone => self.session.complete(Status::Ok, None, "IDLE terminated").unwrap(),
                Event::StartTls | Event::Close | Event::Compress => {}
            }
            self.events.push(event);
        }
        self.session.poll_transmit(&mut self.wire);
    }

    fn command(&mut self, req: &Request) {
        let cmd = req.command();
        let ok = |h: &mut Self, text: &str| h.session.complete(Status::Ok, None, text).unwrap();
        match cmd.body {
            Body::Select { mailbox: Mailbox::Inbox, .. } => {
                self.write("* 18 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 2 RECENT\r\n");
                self.write("* OK [UNSEEN 17] Message 17 is the first unseen message\r\n");
                self.write("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
                self.session.complete(Status::Ok, Some(Code::ReadWrite), "SELECT completed").unwrap();
            }
            Body::Examine { mailbox: Mailbox::Inbox, .. } => {
                self.write("* 18 EXISTS\r\n");
                self.session.complete(Status::Ok, Some(Code::ReadOnly), "EXAMINE completed").unwrap();
            }
            Body::Select { .. } | Body::Examine { .. } => {
                self.session.complete(Status::No, Some(Code::Nonexistent), "No such mailbox").unwrap();
            }
            Body::Fetch { .. } => {
                self.write("* 12 FETCH (FLAGS (\\Seen) RFC822.SIZE 4286)\r\n");
                ok(self, "FETCH completed");
            }
            Body::Store { .. } => {
                self.write("* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n");
                ok(self, "+FLAGS completed");
            }
            Body::Append { message, .. } => {
                self.appended.push(message.to_vec());
                ok(self, "APPEND completed");
            }
            Body::Idle => {
                for u in std::mem::take(&mut self.idle_updates) {
                    self.write(u);
                }
            }
            Body::Close => ok(self, "CLOSE completed"),
            Body::Noop => ok(self, "NOOP completed"),
            _ => ok(self, "done"),
        }
    }

    /// Feeds `input` in pieces, as a socket would, until all is taken.
    fn feed(&mut self, mut input: &[u8]) {
        self.pump();
        while !input.is_empty() {
            let used = self.session.handle_input(Instant::now(), input);
            input = &input[used..];
            self.pump();
            if used == 0 && (self.session.is_closed() || self.session.state() == State::AwaitingTls) {
                break;
            }
        }
    }

    fn wire(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

/// Splits a transcript into what the client sends and what the server must answer.
fn transcript(t: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for line in t.lines().map(str::trim_start).filter(|l| !l.is_empty()) {
        let (who, text) = line.split_at(3);
        let side = if who == "C: " { &mut c } else { &mut s };
        side.extend_from_slice(text.as_bytes());
        side.extend_from_slice(b"\r\n");
    }
    (c, s)
}

/// Runs a transcript whole, then split at every byte boundary: the same answer each time.
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

const CAPS_PLAIN: &str =
    "IMAP4rev1 AUTH=PLAIN LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN";
const CAPS_AFTER: &str =
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN";

#[test]
fn rfc3501_sample_session() {
    check(
        Harness::plaintext,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a001 login mrc secret
             S: a001 OK [CAPABILITY {CAPS_AFTER}] Logged in
             C: a002 select inbox
             S: * 18 EXISTS
             S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
             S: * 2 RECENT
             S: * OK [UNSEEN 17] Message 17 is the first unseen message
             S: * OK [UIDVALIDITY 3857529045] UIDs valid
             S: a002 OK [READ-WRITE] SELECT completed
             C: a003 fetch 12 full
             S: * 12 FETCH (FLAGS (\\Seen) RFC822.SIZE 4286)
             S: a003 OK FETCH completed
             C: a005 store 12 +flags \\deleted
             S: * 12 FETCH (FLAGS (\\Seen \\Deleted))
             S: a005 OK +FLAGS completed
             C: a006 logout
             S: * BYE Logging out
             S: a006 OK LOGOUT completed"
        ),
    );
}

#[test]
fn commands_are_checked_against_the_state() {
    check(
        Harness::plaintext,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a1 SELECT INBOX
             S: a1 BAD Not authenticated
             C: a2 NOOP
             S: a2 OK NOOP completed
             C: a3 LOGIN mrc wrong
             S: a3 NO [AUTHENTICATIONFAILED] Invalid credentials
             C: a4 LOGIN mrc secret
             S: a4 OK [CAPABILITY {CAPS_AFTER}] Logged in
             C: a5 FETCH 1 FLAGS
             S: a5 BAD No mailbox selected
             C: a6 LOGIN mrc secret
             S: a6 BAD Already authenticated
             C: a7 SELECT nosuch
             S: a7 NO [NONEXISTENT] No such mailbox
             C: a8 CLOSE
             S: a8 BAD No mailbox selected
             C: a9 EXAMINE INBOX
             S: * 18 EXISTS
             S: a9 OK [READ-ONLY] EXAMINE completed
             C: b1 ENABLE UTF8=ACCEPT
             S: b1 BAD ENABLE is valid only before SELECT
             C: b2 CLOSE
             S: b2 OK CLOSE completed
             C: b3 ENABLE UTF8=ACCEPT
             S: * ENABLED
             S: b3 OK ENABLE completed
             C: b4 FROB
             S: b4 BAD Unknown command
             C: b5 FETCH 1 (FLAGS
             S: b5 BAD Syntax error: expected ) at octet 17
             C: +
             S: * BAD Missing or invalid tag
             C: b6 ID NIL
             S: * ID (\"name\" \"Sansmail\")
             S: b6 OK ID completed"
        ),
    );
}

#[test]
fn states_follow_select_examine_and_close() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\nb EXAMINE INBOX\r\n");
    assert_eq!(h.session.state(), State::Selected { read_only: true });
    h.feed(b"c SELECT INBOX\r\n");
    assert_eq!(h.session.state(), State::Selected { read_only: false });
    // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
    h.feed(b"d SELECT nosuch\r\n");
    assert_eq!(h.session.state(), State::Authenticated);
    assert_eq!(h.session.user(), Some("mrc"));
}

#[test]
fn login_is_disabled_without_tls_unless_allowed() {
    check(
        || Harness::new(ServerConfig { starttls: true, ..embedder_config() }, false),
        "S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN] IMAP server ready
         C: a LOGIN mrc secret
         S: a NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS
         C: b AUTHENTICATE PLAIN AG1yYwBzZWNyZXQ=
         S: b NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS
         C: c AUTHENTICATE CRAM-MD5
         S: c NO Unsupported authentication mechanism",
    );
}

/// Challenge-response mechanisms need TLS too unless the configuration allows them.
#[test]
fn challenge_response_needs_tls_unless_allowed() {
    let mechanisms = vec![Mechanism::ScramSha256, Mechanism::Plain];
    let config = ServerConfig { starttls: true, mechanisms: mechanisms.clone(), ..embedder_config() };
    check(
        || Harness::new(config.clone(), false),
        "S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN] IMAP server ready
         C: a AUTHENTICATE SCRAM-SHA-256
         S: a NO [PRIVACYREQUIRED] Authentication disallowed without TLS",
    );
    let allowed = ServerConfig { challenge_response_without_tls: true, ..config };
    let mut h = Harness::new(allowed, false);
    h.feed(b"a AUTHENTICATE SCRAM-SHA-256\r\n");
    assert!(h.wire().contains("AUTH=SCRAM-SHA-256") && !h.wire().contains("AUTH=PLAIN"), "{}", h.wire());
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AuthStart { mechanism: Mechanism::ScramSha256, .. })),
        "{:?}",
        h.events
    );
}

#[test]
fn starttls_drops_what_followed_it_and_starts_over() {
    let config = ServerConfig { starttls: true, ..embedder_config() };
    let mut h = Harness::new(config, false);
    h.feed(b"a STARTTLS\r\nb LOGIN mrc secret\r\n");
    assert!(h.wire().ends_with("a OK Begin TLS negotiation now\r\n"), "{}", h.wire());
    assert!(!h.wire().contains("b "), "the injected command is never answered: {}", h.wire());
    assert_eq!(h.session.state(), State::AwaitingTls);
    assert!(h.events.contains(&Event::StartTls));
    // More plaintext before the handshake is dropped too.
    assert_eq!(h.session.handle_input(Instant::now(), b"c LOGIN mrc secret\r\n"), 20);
    h.session.handle_tls_established(Instant::now());
    h.wire.clear();
    h.feed(b"d CAPABILITY\r\ne STARTTLS\r\nf AUTHENTICATE PLAIN AG1yYwBzZWNyZXQ=\r\n");
    assert_eq!(
        h.wire(),
        "* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN\r\n\
         d OK CAPABILITY completed\r\n\
         e BAD STARTTLS not available\r\n\
         f OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN] Logged in\r\n"
    );
    assert!(h.session.is_tls());
}

#[test]
fn authenticate_exchanges() {
    check(
        Harness::plaintext,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a AUTHENTICATE PLAIN
             S: + 
             C: *
             S: a BAD Authentication cancelled
             C: b AUTHENTICATE PLAIN
             S: + 
             C: !!notbase64
             S: b BAD Invalid base64 in authentication response
             C: c AUTHENTICATE PLAIN =
             S: c NO [AUTHENTICATIONFAILED] Invalid credentials
             C: d authenticate plain
             S: + 
             C: AG1yYwBzZWNyZXQ=
             S: d OK [CAPABILITY {CAPS_AFTER}] Logged in"
        ),
    );
}

#[test]
fn idle_until_done() {
    let make = || {
        let mut h = Harness::plaintext();
        h.idle_updates = vec!["* 19 EXISTS\r\n"];
        h
    };
    check(
        make,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a LOGIN mrc secret
             S: a OK [CAPABILITY {CAPS_AFTER}] Logged in
             C: b IDLE
             S: + idling
             S: * 19 EXISTS
             C: done
             S: b OK IDLE terminated
             C: c IDLE
             S: + idling
             C: d NOOP
             S: c BAD Expected DONE
             C: e NOOP
             S: e OK NOOP completed"
        ),
    );
}

#[test]
fn append_literals_are_asked_for_and_bounded() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\n");
    h.wire.clear();
    // Within quota: continuation, then the message.
    h.feed(b"b APPEND INBOX (\\Seen) {11}\r\n");
    assert_eq!(h.wire(), "+ Ready for literal data\r\n");
    h.feed(b"Hello world\r\n");
    assert_eq!(h.appended, vec![b"Hello world".to_vec()]);
    // Over quota: refused before the client sends it; the next command is read as one.
    h.wire.clear();
    h.feed(b"c APPEND INBOX {500}\r\nd NOOP\r\n");
    assert_eq!(h.wire(), "c NO [OVERQUOTA] Quota exceeded\r\nd OK NOOP completed\r\n");
    // Past the framing limit: NO [TOOBIG] before any continuation, even for 2^64 - 1.
    h.wire.clear();
    h.feed(b"e APPEND INBOX {18446744073709551615}\r\nf NOOP\r\n");
    assert_eq!(h.wire(), "e BAD Malformed literal\r\nf OK NOOP completed\r\n");
    h.wire.clear();
    h.feed(b"g APPEND INBOX {9223372036854775807}\r\nh NOOP\r\n");
    assert_eq!(h.wire(), "g NO [TOOBIG] Literal too big\r\nh OK NOOP completed\r\n");
    // A non-synchronising one past the limit is drained as it comes, never stored.
    h.wire.clear();
    let mut big = b"i APPEND INBOX {70000000+}\r\n".to_vec();
    h.feed(&big);
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..66 {
        h.feed(&chunk);
    }
    big.clear();
    big.resize(70_000_000 - 66 * (1 << 20), b'x');
    big.extend_from_slice(b"\r\nj NOOP\r\n");
    h.feed(&big);
    assert_eq!(h.wire(), "i NO [TOOBIG] Literal too big\r\nj OK NOOP completed\r\n");
    assert_eq!(h.appended.len(), 1);
}

/// Messages above `stream_literals_above` come as pieces, synchronising or not, and never
/// whole in the session; what is wrong around them is answered before or after, and the
/// embedder hears when to discard a message it began to store.
#[test]
fn large_append_messages_are_streamed() {
    let make = || {
        let mut config = ServerConfig { plaintext_without_tls: true, ..embedder_config() };
        config.framing.stream_literals_above = Some(8);
        Harness::new(config, false)
    };
    check(
        make,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a LOGIN mrc secret
             S: a OK [CAPABILITY {CAPS_AFTER}] Logged in
             C: b APPEND INBOX (\\Seen) \"07-Dec-2026 10:00:00 +0000\" {{12}}
             S: + Ready for literal data
             C: Hello world!
             S: b OK APPEND completed
             C: c APPEND INBOX {{12+}}
             C: Hello world!
             S: c OK APPEND completed
             C: d APPEND INBOX {{2000}}
             S: d NO [OVERQUOTA] Quota exceeded
             C: e APPEND INBOX \"31-Foo-2026 10:00:00 +0000\" {{12+}}
             C: Hello world! {{3+}}
             C: abc
             S: e BAD Invalid date-time
             C: f APPEND INBOX {{12+}}
             C: Hello world! extra
             S: f BAD Expected the end of the command after the message
             C: g APPEND INBOX (\\Seen {{12+}}
             C: Hello world! {{2+}}
             C: ab
             S: g BAD Invalid APPEND
             C: h APPEND INBOX {{9+}}
             C: 123456789 {{9}}
             S: h BAD APPEND takes one message
             C: i NOOP
             S: i OK NOOP completed"
        ),
    );
    let mut h = make();
    h.feed(b"a LOGIN mrc secret\r\nb APPEND INBOX {12+}\r\nHello world!\r\nc APPEND INBOX {10+}\r\n0123456789 x\r\n");
    assert_eq!(h.appended, vec![b"Hello world!".to_vec()]);
    assert_eq!(h.aborted, 1, "{:?} {}", h.events, h.wire());
    // A 64 MiB message fed in 64 KiB reads: the session never holds more than a read.
    let mut h = make();
    h.quota = u64::MAX;
    h.feed(b"a LOGIN mrc secret\r\nb APPEND INBOX {67108864+}\r\n");
    let piece = vec![b'x'; 64 * 1024];
    let mut streamed = 0;
    for _ in 0..1024 {
        h.feed(&piece);
        streamed += h.streaming.as_mut().map_or(0, |s| std::mem::take(s).len());
        assert!(h.session.framer.partial().len() < 64);
    }
    assert_eq!(streamed, 64 << 20);
}

#[test]
fn prelogin_literals_are_small_and_auto_continued() {
    let mut h = Harness::plaintext();
    h.pump();
    h.wire.clear();
    h.feed(b"a LOGIN {3}\r\nmrc {6}\r\nsecret\r\n");
    assert!(h.wire().starts_with("+ Ready for literal data\r\n+ Ready for literal data\r\na OK "), "{}", h.wire());
    let mut h = Harness::plaintext();
    h.pump();
    h.wire.clear();
    h.feed(b"a LOGIN mrc {9000}\r\n");
    assert_eq!(h.wire(), "a NO [TOOBIG] Literal too big\r\n");
}

#[test]
fn login_failures_end_the_session() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc x\r\nb LOGIN mrc y\r\nc LOGIN mrc z\r\nd LOGIN mrc secret\r\n");
    assert!(
        h.wire().ends_with(
            "c NO [AUTHENTICATIONFAILED] Invalid credentials\r\n* BYE Too many invalid authentication attempts\r\n"
        ),
        "{}",
        h.wire()
    );
    assert!(h.session.is_closed());
    assert!(!h.wire().contains("d OK"));
}

/// Credentials are text: a LOGIN whose octets are not UTF-8 reaches no embedder, is refused
/// as a wrong password is, and counts towards the limit.
#[test]
fn login_that_is_not_utf8_is_refused_and_counted() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN {3+}\r\n\xffrc secret\r\nb LOGIN mrc {2+}\r\n\xc3(\r\nc LOGIN \"\xe9\" x\r\n");
    assert!(h.events.iter().all(|e| !matches!(e, Event::Login { .. })), "{:?}", h.events);
    assert_eq!(h.wire().matches("NO [AUTHENTICATIONFAILED] Invalid credentials").count(), 3, "{}", h.wire());
    assert!(h.session.is_closed(), "{}", h.wire());
}

/// AUTHENTICATE names a SASL mechanism (RFC 4422 §3.1): anything else is a syntax error.
#[test]
fn authenticate_needs_a_mechanism_name() {
    let mut h = Harness::plaintext();
    h.feed(b"a AUTHENTICATE PLAIN.X\r\nb AUTHENTICATE ABCDEFGHIJKLMNOPQRSTU\r\nc AUTHENTICATE plain\r\n");
    assert_eq!(h.wire().matches("BAD Syntax error").count(), 2, "{}", h.wire());
    assert!(
        h.events.iter().any(|e| matches!(e, Event::AuthStart { mechanism: Mechanism::Plain, .. })),
        "{:?}",
        h.events
    );
}

#[test]
fn errors_and_prelogin_input_are_bounded() {
    let mut h = Harness::plaintext();
    h.feed(&b"x FROB\r\n".repeat(25));
    assert_eq!(h.wire().matches("BAD Unknown command").count(), 20);
    assert!(h.wire().ends_with("* BYE Too many invalid commands\r\n"));
    assert!(h.session.is_closed());

    // 64 KiB of valid NOOPs before login is still too much.
    let mut h = Harness::plaintext();
    h.feed(&b"a NOOP\r\n".repeat(9000));
    assert!(h.wire().ends_with("* BYE Too much input before login\r\n"), "{}", &h.wire()[h.wire().len() - 80..]);
    assert!(h.session.is_closed());
}

/// MULTIAPPEND (RFC 3502) when offered: each message an `AppendStart` of the same mailbox,
/// all stored at the end; a bad one after the first fails them all.
#[test]
fn multiappend_streams_each_message() {
    let make = || {
        let mut config = ServerConfig { plaintext_without_tls: true, ..embedder_config() };
        config.framing.stream_literals_above = Some(0);
        config.extensions.push("MULTIAPPEND".to_owned());
        Harness::new(config, false)
    };
    let caps = CAPS_PLAIN.replace("CHILDREN", "CHILDREN MULTIAPPEND");
    let after = CAPS_AFTER.replace("CHILDREN", "CHILDREN MULTIAPPEND");
    check(
        make,
        &format!(
            "S: * OK [CAPABILITY {caps}] IMAP server ready
             C: a LOGIN mrc secret
             S: a OK [CAPABILITY {after}] Logged in
             C: b APPEND INBOX (\\Seen) {{5+}}
             C: first (\\Flagged) \"07-Dec-2026 10:00:00 +0000\" {{6}}
             S: + Ready for literal data
             C: second {{5+}}
             C: third
             S: b OK APPEND completed
             C: c APPEND INBOX {{3+}}
             C: one \"99-Foo-2026 10:00:00 +0000\" {{3+}}
             C: two
             S: c BAD Invalid APPEND
             C: d APPEND {{5+}}
             C: INBOX {{4+}}
             C: solo
             S: d OK APPEND completed"
        ),
    );
    let mut h = make();
    h.feed(b"a LOGIN mrc secret\r\nb APPEND INBOX {5+}\r\nfirst (\\Seen) {6+}\r\nsecond {5+}\r\nthird\r\n");
    assert_eq!(h.appended, [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]);
    h.feed(b"c APPEND INBOX {3+}\r\none \"99-Foo-2026 10:00:00 +0000\" {3+}\r\ntwo\r\nd NOOP\r\n");
    assert_eq!((h.appended.len(), h.aborted), (3, 1), "nothing of c stored");
}

/// RFC 2971 §3.3 allows 30 fields of 1024 octets: a line of about 32 KiB, before login.
#[test]
fn the_largest_id_the_rfc_allows_is_answered() {
    let mut h = Harness::plaintext();
    h.pump();
    h.wire.clear();
    let fields: Vec<String> =
        (0..30).map(|i| format!("\"{i:02}{}\" \"{}\"", "k".repeat(28), "v".repeat(1024))).collect();
    let id = format!("a ID ({})\r\nb NOOP\r\n", fields.join(" "));
    assert!(id.len() > 31 * 1024);
    h.feed(id.as_bytes());
    assert!(h.wire().starts_with("* ID (\"name\" \"Sansmail\")\r\na OK "), "{}", h.wire());
    assert!(h.wire().ends_with("b OK NOOP completed\r\n"), "{}", h.wire());
}

#[test]
fn long_lines_and_deep_nesting_get_bad_and_the_session_goes_on() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\nb SELECT INBOX\r\n");
    h.wire.clear();
    let mut long = b"c SEARCH TEXT ".to_vec();
    long.resize(100_000, b'a');
    long.extend_from_slice(b"\r\nd NOOP\r\n");
    h.feed(&long);
    assert_eq!(h.wire(), "c BAD Line too long\r\nd OK NOOP completed\r\n");
    h.wire.clear();
    let deep = format!("e SEARCH {}ALL{}\r\nf NOOP\r\n", "(".repeat(40), ")".repeat(40));
    h.feed(deep.as_bytes());
    assert!(h.wire().starts_with("e BAD Syntax error: expected shallower"), "{}", h.wire());
    assert!(h.wire().ends_with("f OK NOOP completed\r\n"));
}

#[test]
fn pipelined_commands_are_answered_in_order_one_at_a_time() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\n");
    // The embedder holds the first command: the session takes no further command.
    let mut s = ServerSession::new(
        Arc::new(ServerConfig { plaintext_without_tls: true, ..embedder_config() }),
        Instant::now(),
        false,
    );
    let input = b"a LOGIN mrc secret\r\nb NOOP\r\nc NOOP\r\n";
    let used = s.handle_input(Instant::now(), input);
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    assert!(s.poll_event().is_none(), "nothing else until the login is answered");
    s.accept_login("mrc").unwrap();
    let used2 = s.handle_input(Instant::now(), &input[used..]);
    assert!(matches!(s.poll_event(), Some(Event::Command(_))));
    assert!(s.poll_event().is_none());
    s.complete(Status::Ok, None, "one").unwrap();
    let _ = s.handle_input(Instant::now(), &input[used + used2..]);
    assert!(matches!(s.poll_event(), Some(Event::Command(_))));
    s.complete(Status::Ok, None, "two").unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(out.ends_with("a OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE SPECIAL-USE ESEARCH CHILDREN] Logged in\r\nb OK one\r\nc OK two\r\n"), "{out}");
    assert_eq!(s.complete(Status::Ok, None, "three"), Err(ApiMisuse::NothingPending));
}

#[test]
fn autologout() {
    let t0 = Instant::now();
    let mut s =
        ServerSession::new(Arc::new(ServerConfig { plaintext_without_tls: true, ..embedder_config() }), t0, false);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(180)));
    s.handle_timeout(t0 + Duration::from_secs(179));
    assert!(!s.is_closed());
    let _ = s.handle_input(t0 + Duration::from_secs(100), b"a LOGIN mrc secret\r\n");
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    s.accept_login("mrc").unwrap();
    // Logged in: at least 30 minutes (RFC 3501 §5.4).
    let due = s.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(100 + 30 * 60));
    s.handle_timeout(due - Duration::from_secs(1));
    assert!(!s.is_closed());
    s.handle_timeout(due);
    assert!(s.is_closed());
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert!(String::from_utf8(out).unwrap().ends_with("* BYE Autologout; idle for too long\r\n"));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn refused_connection_says_bye() {
    let mut s = ServerSession::new_refused(Arc::new(ServerConfig::default()), Instant::now(), "Too many connections");
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert_eq!(out, b"* BYE Too many connections\r\n");
    assert!(s.is_closed());
    assert_eq!(s.poll_event(), Some(Event::Close));
    assert_eq!(s.handle_input(Instant::now(), b"a LOGIN x y\r\n"), 13);
    assert!(s.poll_event().is_none());
}

proptest::proptest! {
    /// Arbitrary octets in arbitrary pieces, with the scripted embedder: no panic, the
    /// output stays bounded, and every input is either taken or the session is blocked.
    #[test]
    fn arbitrary_input_never_panics(reads in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 0..20)) {
        let mut h = Harness::plaintext();
        for r in &reads {
            h.feed(r);
        }
        proptest::prop_assert!(h.wire.len() < 200 * 20 * 8 + 4096);
    }
}

/// Like SMTP and POP3, the session says when to close: after LOGOUT, a login-failure BYE or
/// the autologout, `Event::Close` is the last event.
#[test]
fn close_is_the_last_event() {
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\nb LOGOUT\r\n");
    assert_eq!(h.events.last(), Some(&Event::Close));
    assert_eq!(h.events.iter().filter(|e| **e == Event::Close).count(), 1);
    assert!(h.session.is_closed());

    let t0 = Instant::now();
    let mut s =
        ServerSession::new(Arc::new(ServerConfig { plaintext_without_tls: true, ..embedder_config() }), t0, false);
    assert_eq!(s.poll_event(), None);
    s.handle_timeout(t0 + Duration::from_secs(3600));
    assert_eq!(s.poll_event(), Some(Event::Close));
    assert_eq!(s.poll_event(), None);
}

/// Each wrong answer is named, and the decision it came at still waits for a right one.
#[test]
fn misuse_is_named_and_the_decision_still_waits() {
    let mut s = ServerSession::new(
        Arc::new(ServerConfig { plaintext_without_tls: true, ..embedder_config() }),
        Instant::now(),
        false,
    );
    assert_eq!(s.accept_login("x"), Err(ApiMisuse::NothingPending));
    let _ = s.handle_input(Instant::now(), b"a LOGIN mrc secret\r\n");
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    assert_eq!(s.accept_literal(), Err(ApiMisuse::OtherDecisionPending));
    assert_eq!(s.complete(Status::Ok, None, "no"), Err(ApiMisuse::OtherDecisionPending));
    // The login still waits.
    s.accept_login("mrc").unwrap();
    let _ = s.handle_input(Instant::now(), b"b IDLE\r\n");
    assert!(matches!(s.poll_event(), Some(Event::Command(_))));
    assert_eq!(s.complete(Status::Ok, None, "too soon"), Err(ApiMisuse::IdleNotDone));
    assert_eq!(s.refuse_literal(None, "no"), Err(ApiMisuse::OtherDecisionPending));
    let _ = s.handle_input(Instant::now(), b"DONE\r\n");
    assert_eq!(s.poll_event(), Some(Event::IdleDone));
    s.complete(Status::Ok, None, "IDLE terminated").unwrap();
    for m in [ApiMisuse::NothingPending, ApiMisuse::OtherDecisionPending, ApiMisuse::IdleNotDone] {
        assert!(!m.to_string().is_empty());
    }
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert!(out.ends_with(b"b OK IDLE terminated\r\n"), "{}", String::from_utf8_lossy(&out));
}

mod extensions;
