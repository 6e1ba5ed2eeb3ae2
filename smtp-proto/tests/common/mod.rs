//! Test harness: drives sessions over in-memory byte streams with virtual time.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::client::{ClientEvent, ClientSession};
use sansmail_smtp_proto::server::{Event, ServerConfig, ServerSession};

/// What the embedder answers to a decision: `None` accepts with the default reply.
pub type Policy = dyn FnMut(&Event) -> Option<Reply<'static>>;

/// A server session and everything it said and reported.
pub struct Server {
    pub session: ServerSession,
    pub now: Instant,
    pub events: Vec<Event>,
    pub wire: Vec<u8>,
    pub message: Vec<u8>,
    pub messages: Vec<Vec<u8>>,
    /// How much of `wire` the client has been given.
    pub read: usize,
}

impl Server {
    pub fn new(config: ServerConfig) -> Self {
        Self::with_tls(config, false)
    }

    pub fn with_tls(config: ServerConfig, tls: bool) -> Self {
        let now = Instant::now();
        let session = ServerSession::new(Arc::new(config), now, tls);
        let mut s = Self { session, now, events: vec![], wire: vec![], message: vec![], messages: vec![], read: 0 };
        s.session.poll_transmit(&mut s.wire);
        s
    }

    /// Feeds all of `input` (retrying what backpressure left over), answering with `policy`.
    pub fn feed(&mut self, mut input: &[u8], policy: &mut dyn FnMut(&Event) -> Option<Reply<'static>>) {
        let mut stalls = 0;
        while !input.is_empty() {
            let used = self.session.handle_input(self.now, input);
            input = &input[used..];
            let before = self.events.len();
            self.drain(policy);
            if used == 0 && self.events.len() == before {
                stalls += 1;
                assert!(stalls < 3, "session stalled with input left");
            }
            if self.session.is_closed() {
                break;
            }
        }
        self.drain(policy);
    }

    pub fn drain(&mut self, policy: &mut dyn FnMut(&Event) -> Option<Reply<'static>>) {
        while let Some(event) = self.session.poll_event() {
            match &event {
                Event::MessageData(chunk) => self.message.extend_from_slice(chunk),
                Event::MessageAborted(_) | Event::Reset => self.message.clear(),
                _ => {}
            }
            let end = matches!(event, Event::MessageEnd { .. });
            if event.is_decision() {
                assert!(self.session.is_waiting());
                match policy(&event) {
                    None => self.session.accept().unwrap(),
                    // Harness convention: a 334 "reply" is an AUTH challenge with that text.
                    Some(reply) if reply.code() == 334 => self.session.auth_challenge(reply.text().as_bytes()).unwrap(),
                    Some(reply) if reply.code().class() < 4 => self.session.accept_with(&reply).unwrap(),
                    Some(reply) => self.session.reject(&reply).unwrap(),
                }
                if end {
                    self.messages.push(std::mem::take(&mut self.message));
                }
            }
            self.events.push(event);
        }
        self.session.poll_transmit(&mut self.wire);
    }

    pub fn output(&self) -> String {
        String::from_utf8(self.wire.clone()).unwrap()
    }

    /// Output since the greeting.
    pub fn replies(&self) -> Vec<String> {
        self.output().split("\r\n").filter(|l| !l.is_empty()).skip(1).map(str::to_owned).collect()
    }
}

pub fn accept_all() -> Box<Policy> {
    Box::new(|_| None)
}

/// Splits a `C:`/`S:` transcript into the client's bytes and the server's expected bytes.
pub fn transcript(t: &str) -> (Vec<u8>, String) {
    let (mut c, mut s) = (Vec::new(), String::new());
    for line in t.lines().map(str::trim_start).filter(|l| !l.is_empty()) {
        if line == "C:" {
            c.extend_from_slice(b"\r\n");
        } else if let Some(rest) = line.strip_prefix("C: ") {
            c.extend_from_slice(rest.as_bytes());
            c.extend_from_slice(b"\r\n");
        } else if let Some(rest) = line.strip_prefix("S: ") {
            s.push_str(rest);
            s.push_str("\r\n");
        } else {
            panic!("bad transcript line {line:?}");
        }
    }
    (c, s)
}

/// Replays a transcript whole, one byte at a time, and split in two at every boundary,
/// checking that the server's output is the same each time and as written.
/// Returns the server of the whole-input run.
pub fn replay(config: &ServerConfig, t: &str, policy: &dyn Fn() -> Box<Policy>) -> Server {
    let (client, expected) = transcript(t);
    let run = |pieces: &[&[u8]]| {
        let mut server = Server::new(config.clone());
        let mut p = policy();
        for piece in pieces {
            server.feed(piece, &mut *p);
        }
        server
    };
    let whole = run(&[&client]);
    assert_eq!(whole.output(), expected, "whole input");
    let bytes: Vec<&[u8]> = client.chunks(1).collect();
    let one = run(&bytes);
    assert_eq!(one.output(), expected, "byte by byte");
    assert_eq!(one.messages, whole.messages);
    for split in 1..client.len() {
        let s = run(&[&client[..split], &client[split..]]);
        assert_eq!(s.output(), expected, "split at {split}");
        assert_eq!(s.messages, whole.messages, "split at {split}");
    }
    whole
}

/// Runs a client session against a server session in memory until both are done.
/// `body` is sent on ReadyForBody in pieces of `piece` bytes.
pub fn converse(
    client: &mut ClientSession,
    server: &mut Server,
    body: &[u8],
    piece: usize,
    policy: &mut dyn FnMut(&Event) -> Option<Reply<'static>>,
) -> Vec<ClientEvent> {
    let now = server.now;
    let mut events = Vec::new();
    let mut c2s = Vec::new();
    // Everything the server says lands in `wire` (the harness drains into it).
    for _ in 0..10_000 {
        server.session.poll_transmit(&mut server.wire);
        let fresh = server.wire.len() > server.read;
        let _ = client.handle_input(now, &server.wire[server.read..]);
        server.read = server.wire.len();
        while let Some(e) = client.poll_event() {
            match e {
                ClientEvent::ReadyForBody => {
                    for mut p in body.chunks(piece.max(1)) {
                        while !p.is_empty() {
                            let taken = client.write_body(p).unwrap();
                            p = &p[taken..];
                            // The harness writes what the client holds, as a socket would.
                            client.poll_transmit(&mut c2s);
                        }
                    }
                    client.finish_body(now).unwrap();
                }
                ClientEvent::StartTls => {
                    client.handle_tls_established(now);
                    server.session.handle_tls_established(now);
                }
                _ => {}
            }
            events.push(e);
        }
        client.poll_transmit(&mut c2s);
        // Over when the connection is, or (kept open) when the transaction is and the
        // server has nothing more to say.
        if c2s.is_empty() && (client.is_closed() || (client.is_idle() && !fresh && !events.is_empty())) {
            return events;
        }
        let input = std::mem::take(&mut c2s);
        server.feed(&input, policy);
    }
    panic!("conversation did not end: {events:?}");
}
