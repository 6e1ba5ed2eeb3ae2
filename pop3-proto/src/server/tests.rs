//! Server sessions as `C:`/`S:` transcripts, each fed split at every byte boundary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// A scripted embedder: password `tanstaaf`, the RFC 1939 APOP digest, a fixed maildrop.
struct Harness {
    session: ServerSession,
    messages: Vec<Vec<u8>>,
    events: Vec<Event>,
    wire: Vec<u8>,
    in_use: bool,
}

const APOP_TS: &str = "<1896.697170952@dbc.mtview.ca.us>";

fn message(size: usize, seed: u8) -> Vec<u8> {
    // Header, blank line, then body lines (some starting with a dot), CRLF throughout.
    let mut m = format!("Subject: message {seed}\r\n\r\n").into_bytes();
    let mut i = 0;
    while m.len() < size {
        m.extend_from_slice(if i % 3 == 0 { b".line\r\n" } else { b"text line\r\n" });
        i += 1;
    }
    m.truncate(size - 2);
    m.extend_from_slice(b"\r\n");
    m
}

impl Harness {
    fn new(config: ServerConfig, tls: bool) -> Self {
        let session = ServerSession::new(Arc::new(config), Instant::now(), tls, Some(APOP_TS));
        Self {
            session,
            messages: vec![message(120, 1), message(200, 2)],
            events: Vec::new(),
            wire: Vec::new(),
            in_use: false,
        }
    }

    fn maildrop(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| MessageInfo { size: m.len() as u64, uid: format!("uid-{}", i + 1) })
            .collect()
    }

    fn pump(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match &event {
                Event::Login { user, password } if password.expose() == "tanstaaf" && !self.in_use => {
                    let drop = self.maildrop();
                    self.session.accept_login(user, drop).unwrap();
                }
                Event::Login { .. } if self.in_use => {
                    self.session.reject(Some(ResponseCode::InUse), "maildrop already locked").unwrap();
                }
                Event::Login { .. } => self.session.reject(Some(ResponseCode::Auth), "invalid credentials").unwrap(),
                Event::Apop { user, digest } if digest == "c4c9334bac560ecc979e58001b3e22fb" => {
                    let drop = self.maildrop();
                    self.session.accept_login(user, drop).unwrap();
                }
                Event::Apop { .. } => self.session.reject(Some(ResponseCode::Auth), "invalid credentials").unwrap(),
                Event::AuthStart { initial_response: Some(r), .. } | Event::AuthResponse(r) => {
                    if r.expose() == b"\0mrose\0tanstaaf" {
                        let drop = self.maildrop();
                        self.session.accept_login("mrose", drop).unwrap();
                    } else {
                        self.session.reject(Some(ResponseCode::Auth), "invalid credentials").unwrap();
                    }
                }
                Event::AuthStart { initial_response: None, .. } => self.session.auth_challenge(b"").unwrap(),
                Event::Retrieve { index, .. } => {
                    // Streamed in small pieces, stopping when TOP has enough.
                    let m = self.messages[*index].clone();
                    for piece in m.chunks(7) {
                        if !self.session.wants_content() {
                            break;
                        }
                        self.session.message_data(piece).unwrap();
                    }
                    self.session.message_end().unwrap();
                }
                Event::Update { .. } => self.session.accept().unwrap(),
                _ => {}
            }
            self.events.push(event);
        }
        self.session.poll_transmit(&mut self.wire);
    }

    /// Feeds `input` in pieces, as a socket would, until all is taken.
    fn feed(&mut self, mut input: &[u8]) {
        self.pump();
        while !input.is_empty() {
            let used = self.session.handle_input(Instant::now(), input);
            input = &input[used..];
            self.pump();
            if used == 0 && self.session.is_closed() {
                break;
            }
        }
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

/// Runs the transcript split at every byte boundary; returns the last run's events.
fn check(config: &ServerConfig, tls: bool, t: &str) -> Vec<Event> {
    let (client, server) = transcript(t);
    let mut last = Vec::new();
    for split in 0..=client.len() {
        let mut h = Harness::new(config.clone(), tls);
        h.feed(&client[..split]);
        h.feed(&client[split..]);
        assert_eq!(String::from_utf8_lossy(&h.wire), String::from_utf8_lossy(&server), "split at {split}");
        last = h.events;
    }
    last
}

fn body(m: &[u8]) -> String {
    // The message as it crosses the wire: dot-stuffed, then the end marker.
    let mut out = String::new();
    for line in String::from_utf8_lossy(m).split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out
}

fn apop_config() -> ServerConfig {
    ServerConfig {
        hostname: "dbc.mtview.ca.us".into(),
        greeting: "POP3 server ready".into(),
        apop: true,
        ..ServerConfig::default()
    }
}

#[test]
fn rfc1939_example_session() {
    let h = Harness::new(apop_config(), false);
    let (m1, m2) = (body(&h.messages[0]), body(&h.messages[1]));
    let t = format!(
        "S: +OK dbc.mtview.ca.us POP3 server ready {APOP_TS}
         C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
         S: +OK mrose's maildrop has 2 messages (320 octets)
         C: STAT
         S: +OK 2 320
         C: LIST
         S: +OK 2 messages (320 octets)
         S: 1 120
         S: 2 200
         S: .
         C: RETR 1
         S: +OK 120 octets
         {}S: .
         C: DELE 1
         S: +OK message 1 deleted
         C: RETR 2
         S: +OK 200 octets
         {}S: .
         C: DELE 2
         S: +OK message 2 deleted
         C: QUIT
         S: +OK dbc.mtview.ca.us POP3 server signing off (0 messages left)",
        m1.lines().map(|l| format!("S: {l}\n")).collect::<String>(),
        m2.lines().map(|l| format!("S: {l}\n")).collect::<String>(),
    );
    let events = check(&apop_config(), false, &t);
    assert!(events.contains(&Event::Update { deleted: vec![0, 1] }));
    assert_eq!(events.last(), Some(&Event::Close));
}

#[test]
fn deletion_waits_for_quit_and_rset_undoes_it() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    let events = check(
        &config,
        false,
        "S: +OK localhost POP3 server ready
         C: USER mrose
         S: +OK Send your password
         C: PASS tanstaaf
         S: +OK mrose's maildrop has 2 messages (320 octets)
         C: DELE 1
         S: +OK message 1 deleted
         C: DELE 1
         S: -ERR message 1 already deleted
         C: LIST 1
         S: -ERR message 1 already deleted
         C: STAT
         S: +OK 1 200
         C: UIDL
         S: +OK unique-id listing follows
         S: 2 uid-2
         S: .
         C: RSET
         S: +OK maildrop has 2 messages (320 octets)
         C: UIDL 1
         S: +OK 1 uid-1
         C: LIST 3
         S: -ERR no such message
         C: RETR 0
         S: -ERR no such message
         C: QUIT
         S: +OK localhost POP3 server signing off (2 messages left)",
    );
    assert!(events.contains(&Event::Update { deleted: vec![] }));
}

#[test]
fn top_sends_header_and_n_lines() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    check(
        &config,
        false,
        "S: +OK localhost POP3 server ready
         C: USER mrose
         S: +OK Send your password
         C: PASS tanstaaf
         S: +OK mrose's maildrop has 2 messages (320 octets)
         C: TOP 1 2
         S: +OK top of message follows
         S: Subject: message 1
         S: 
         S: ..line
         S: text line
         S: .
         C: TOP 2 0
         S: +OK top of message follows
         S: Subject: message 2
         S: 
         S: .
         C: QUIT
         S: +OK localhost POP3 server signing off (2 messages left)",
    );
}

#[test]
fn plaintext_is_refused_before_tls_and_stls_discards_injection() {
    let config = ServerConfig { stls: true, ..ServerConfig::default() };
    check(
        &config,
        false,
        "S: +OK localhost POP3 server ready
         C: CAPA
         S: +OK Capability list follows
         S: TOP
         S: UIDL
         S: RESP-CODES
         S: AUTH-RESP-CODE
         S: PIPELINING
         S: STLS
         S: UTF8
         S: .
         C: USER mrose
         S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections
         C: AUTH PLAIN AG1yb3NlAHRhbnN0YWFm
         S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections
         C: STLS
         S: +OK Begin TLS negotiation
         C: USER injected",
    );
    // After the handshake, the injected line is gone and USER works.
    let mut h = Harness::new(config, false);
    h.feed(b"STLS\r\nUSER injected\r\nPASS tanstaaf\r\n");
    assert!(h.events.contains(&Event::StartTls));
    h.wire.clear();
    h.session.handle_tls_established(Instant::now());
    h.feed(b"CAPA\r\nPASS tanstaaf\r\n");
    let wire = String::from_utf8(h.wire).unwrap();
    assert!(wire.contains("USER\r\nSASL PLAIN LOGIN\r\n"), "{wire}");
    assert!(!wire.contains("STLS"), "{wire}");
    assert!(wire.ends_with("-ERR USER first\r\n"), "{wire}");
}

#[test]
fn sasl_plain_with_and_without_initial_response() {
    let config = ServerConfig::default();
    let events = check(
        &config,
        true,
        "S: +OK localhost POP3 server ready
         C: AUTH
         S: +OK mechanisms follow
         S: PLAIN
         S: LOGIN
         S: .
         C: AUTH PLAIN AG1yb3NlAHdyb25n
         S: -ERR [AUTH] invalid credentials
         C: AUTH PLAIN
         S: + 
         C: *
         S: -ERR Authentication cancelled
         C: AUTH PLAIN
         S: + 
         C: !!!
         S: -ERR Invalid base64 in authentication response
         C: AUTH CRAM-MD5
         S: -ERR Unsupported authentication mechanism
         C: AUTH PLAIN
         S: + 
         C: AG1yb3NlAHRhbnN0YWFm
         S: +OK mrose's maildrop has 2 messages (320 octets)
         C: AUTH PLAIN
         S: -ERR AUTH not valid after login
         C: QUIT
         S: +OK localhost POP3 server signing off (2 messages left)",
    );
    assert!(events.contains(&Event::AuthCancelled));
}

#[test]
fn in_use_and_wrong_password_return_to_authorization() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    let mut h = Harness::new(config, false);
    h.in_use = true;
    h.feed(b"USER a\r\nPASS tanstaaf\r\nSTAT\r\n");
    let wire = String::from_utf8(std::mem::take(&mut h.wire)).unwrap();
    assert!(wire.ends_with("-ERR [IN-USE] maildrop already locked\r\n-ERR Not logged in\r\n"), "{wire}");
    h.in_use = false;
    h.feed(b"USER a\r\nPASS nope\r\nPASS tanstaaf\r\n");
    let wire = String::from_utf8(h.wire).unwrap();
    assert!(wire.ends_with("-ERR [AUTH] invalid credentials\r\n-ERR USER first\r\n"), "{wire}");
}

#[test]
fn command_line_limit_at_and_past_its_edge() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    // 255 octets with CRLF: accepted.
    let at = format!("USER {}\r\n", "a".repeat(255 - 7));
    assert_eq!(at.len(), 255);
    let mut h = Harness::new(config.clone(), false);
    h.feed(at.as_bytes());
    assert!(String::from_utf8_lossy(&h.wire).ends_with("+OK Send your password\r\n"));
    // One more: refused, and the session goes on.
    let past = format!("USER {}\r\nNOOP\r\n", "a".repeat(255 - 6));
    let mut h = Harness::new(config.clone(), false);
    h.feed(past.as_bytes());
    assert!(String::from_utf8_lossy(&h.wire).ends_with("-ERR Line too long\r\n-ERR Not logged in\r\n"));
    // A line with no end is drained, never buffered whole.
    let mut h = Harness::new(config, false);
    for _ in 0..1000 {
        h.feed(&[b'x'; 1000]);
    }
    assert!(h.session.inbuf.len() <= h.session.buffer_limit());
    h.feed(b"\r\nQUIT\r\n");
    assert!(
        String::from_utf8_lossy(&h.wire).ends_with("-ERR Line too long\r\n+OK localhost POP3 server signing off\r\n")
    );
}

#[test]
fn errors_limit_closes() {
    let config = ServerConfig { limits: Limits { errors: 3, ..Limits::default() }, ..ServerConfig::default() };
    let mut h = Harness::new(config, false);
    h.feed(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
    let wire = String::from_utf8(h.wire).unwrap();
    assert!(wire.ends_with("-ERR Unknown command\r\n-ERR Too many errors, closing connection\r\n"), "{wire}");
    assert!(h.session.is_closed());
}

#[test]
fn idle_timeout_closes_without_update() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    let mut h = Harness::new(config, false);
    h.feed(b"USER a\r\nPASS tanstaaf\r\nDELE 1\r\n");
    let deadline = h.session.poll_timeout().unwrap();
    h.session.handle_timeout(deadline - Duration::from_secs(1));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(deadline);
    h.pump();
    assert!(h.session.is_closed());
    assert!(!h.events.iter().any(|e| matches!(e, Event::Update { .. })));
    assert!(String::from_utf8_lossy(&h.wire).ends_with("-ERR Autologout; idle for too long\r\n"));
}

#[test]
fn refused_retrieval_keeps_the_session() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    let mut s = ServerSession::new(Arc::new(config), Instant::now(), false, None);
    let _ = s.handle_input(Instant::now(), b"USER a\r\nPASS b\r\nRETR 1\r\nNOOP\r\n");
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    s.accept_login("a", vec![MessageInfo { size: 3, uid: "x".into() }]).unwrap();
    assert_eq!(s.poll_event(), Some(Event::Retrieve { index: 0, top: None }));
    assert_eq!(s.accept(), Err(ApiMisuse::OtherDecisionPending));
    s.reject(Some(ResponseCode::SysTemp), "message unavailable").unwrap();
    assert_eq!(s.poll_event(), None);
    let mut wire = Vec::new();
    s.poll_transmit(&mut wire);
    assert!(wire.ends_with(b"-ERR [SYS/TEMP] message unavailable\r\n+OK\r\n"));
}

/// Each wrong answer is named, and the decision it came at still waits for a right one.
#[test]
fn misuse_is_named_and_the_decision_still_waits() {
    let config = ServerConfig { plaintext_without_tls: true, ..ServerConfig::default() };
    let mut s = ServerSession::new(Arc::new(config), Instant::now(), false, None);
    assert_eq!(s.accept(), Err(ApiMisuse::NothingPending));
    assert_eq!(s.message_end(), Err(ApiMisuse::NothingPending));
    let _ = s.handle_input(Instant::now(), b"USER a\r\nPASS b\r\nRETR 1\r\n");
    // The Login event is queued but not yet polled.
    assert_eq!(s.accept_login("a", vec![]), Err(ApiMisuse::EventsUnread));
    assert!(matches!(s.poll_event(), Some(Event::Login { .. })));
    assert_eq!(s.auth_challenge(b"x"), Err(ApiMisuse::OtherDecisionPending));
    assert_eq!(s.message_data(b"x"), Err(ApiMisuse::OtherDecisionPending));
    s.accept_login("a", vec![MessageInfo { size: 3, uid: "x".into() }]).unwrap();
    assert_eq!(s.poll_event(), Some(Event::Retrieve { index: 0, top: None }));
    assert_eq!(s.accept_login("a", vec![]), Err(ApiMisuse::OtherDecisionPending));
    s.message_data(b"abc").unwrap();
    assert_eq!(s.reject(None, "too late"), Err(ApiMisuse::ContentStarted));
    for m in
        [ApiMisuse::NothingPending, ApiMisuse::EventsUnread, ApiMisuse::OtherDecisionPending, ApiMisuse::ContentStarted]
    {
        assert!(!m.to_string().is_empty());
    }
    s.message_end().unwrap();
    let mut wire = Vec::new();
    s.poll_transmit(&mut wire);
    assert!(wire.ends_with(b"+OK 3 octets\r\nabc\r\n.\r\n"), "{}", String::from_utf8_lossy(&wire));
}
