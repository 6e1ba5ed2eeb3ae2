//! The client session against our server session, and against scripted and hostile servers.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Server, converse};
use sansmail_smtp_proto::client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Credentials, Envelope, Stage, TlsPolicy,
};
use sansmail_smtp_proto::command::{MailParams, RcptParams};
use sansmail_smtp_proto::reply::ReplyError;
use sansmail_smtp_proto::server::{Event, ServerConfig};
use sansmail_smtp_proto::{ForwardPath, Mailbox, Mechanism, Reply, ReversePath};

fn envelope(rcpts: &[&'static str]) -> Envelope {
    Envelope {
        from: ReversePath::Mailbox(Mailbox::parse(b"alice@client.test").unwrap().into_owned()),
        params: MailParams { size: Some(100), ..MailParams::default() },
        recipients: rcpts
            .iter()
            .map(|r| (ForwardPath::Mailbox(Mailbox::parse(r.as_bytes()).unwrap().into_owned()), RcptParams::default()))
            .collect(),
    }
}

fn client(config: ClientConfig, rcpts: &[&'static str]) -> ClientSession {
    ClientSession::new(config, envelope(rcpts), Instant::now(), false).unwrap()
}

const BODY: &[u8] = b"Subject: test\r\n\r\n.leading dot\r\n.\r\nbare\nlf and end without newline";
/// What the server must store: CRLF everywhere, dots intact, a final CRLF added.
const STORED: &[u8] = b"Subject: test\r\n\r\n.leading dot\r\n.\r\nbare\r\nlf and end without newline\r\n";

fn alice() -> Credentials {
    Credentials { username: "alice".into(), password: "secret".into() }
}

fn done(events: &[ClientEvent]) -> &Result<Reply<'static>, ClientError> {
    events.iter().find_map(|e| if let ClientEvent::Done(r) = e { Some(r) } else { None }).unwrap()
}

#[test]
fn delivers_with_pipelining_and_bdat() {
    let mut server = Server::new(ServerConfig::default());
    let mut c = client(ClientConfig::default(), &["bob@server.test", "carol@server.test"]);
    let events = converse(&mut c, &mut server, BODY, 7, &mut |_: &Event| None);
    assert!(done(&events).is_ok(), "{events:?}");
    // BDAT carries the body as is.
    assert_eq!(server.messages, [BODY.to_vec()]);
    let out = server.output();
    assert!(out.contains("octets received"), "{out}");
    assert_eq!(events.iter().filter(|e| matches!(e, ClientEvent::Recipient { .. })).count(), 2);
    assert_eq!(events.last(), Some(&ClientEvent::Close));
}

#[test]
fn delivers_with_data_when_chunking_is_off_and_stuffs_dots() {
    for pipelining in [true, false] {
        let config = {
            let mut conf = ServerConfig::default();
            conf.extensions.chunking = false;
            conf.extensions.pipelining = pipelining;
            conf
        };
        let mut server = Server::new(config);
        let mut c = client(ClientConfig::default(), &["bob@server.test"]);
        let events = converse(&mut c, &mut server, BODY, 5, &mut |_: &Event| None);
        assert!(done(&events).is_ok(), "{events:?}");
        assert_eq!(server.messages, [STORED.to_vec()], "pipelining {pipelining}");
    }
}

#[test]
fn one_recipient_refused_the_others_delivered() {
    let mut server = Server::new(ServerConfig::default());
    let mut c = client(ClientConfig::default(), &["bob@server.test", "nobody@server.test", "carol@server.test"]);
    let events = converse(&mut c, &mut server, b"x\r\n", 100, &mut |e: &Event| match e {
        Event::Recipient { to, .. } if to.mailbox().unwrap().local_part == "nobody" => {
            Some(Reply::new(550, (5, 1, 1), "No such user"))
        }
        _ => None,
    });
    let results: Vec<(usize, u16)> = events
        .iter()
        .filter_map(|e| {
            if let ClientEvent::Recipient { index, reply } = e { Some((*index, reply.code().get())) } else { None }
        })
        .collect();
    assert_eq!(results, [(0, 250), (1, 550), (2, 250)]);
    assert!(done(&events).is_ok());
}

#[test]
fn all_recipients_refused() {
    for chunking in [true, false] {
        let config = {
            let mut conf = ServerConfig::default();
            conf.extensions.chunking = chunking;
            conf
        };
        let mut server = Server::new(config);
        let mut c = client(ClientConfig::default(), &["a@server.test", "b@server.test"]);
        let events = converse(&mut c, &mut server, b"x", 1, &mut |e: &Event| match e {
            Event::Recipient { .. } => Some(Reply::new(550, (5, 1, 1), "No")),
            _ => None,
        });
        assert_eq!(done(&events), &Err(ClientError::NoRecipientsAccepted), "chunking {chunking}");
        assert!(server.messages.is_empty());
    }
}

#[test]
fn verification_asks_rcpt_and_never_sends_data() {
    for (pipelining, chunking) in [(true, true), (true, false), (false, false)] {
        let config = {
            let mut conf = ServerConfig::default();
            conf.extensions.pipelining = pipelining;
            conf.extensions.chunking = chunking;
            conf
        };
        let mut server = Server::new(config);
        let mut c = ClientSession::verify(
            ClientConfig::default(),
            envelope(&["bob@server.test", "nobody@server.test"]),
            Instant::now(),
            false,
        )
        .unwrap();
        let events = converse(&mut c, &mut server, b"never sent", 3, &mut |e: &Event| match e {
            Event::Recipient { to, .. } if to.mailbox().unwrap().local_part == "nobody" => {
                Some(Reply::new(550, (5, 1, 1), "No such user"))
            }
            _ => None,
        });
        let codes: Vec<u16> = events
            .iter()
            .filter_map(|e| if let ClientEvent::Recipient { reply, .. } = e { Some(reply.code().get()) } else { None })
            .collect();
        assert_eq!(codes, [250, 550], "pipelining {pipelining} chunking {chunking}");
        assert!(done(&events).is_ok());
        assert!(server.messages.is_empty());
        let out = server.output();
        assert!(!out.contains("354") && !out.contains("octets"), "no DATA or BDAT: {out}");
        assert!(out.contains("221"), "the session ends with QUIT: {out}");
    }
}

#[test]
fn message_refused_at_end_of_data() {
    let mut server = Server::new(ServerConfig::default());
    let mut c = client(ClientConfig::default(), &["bob@server.test"]);
    let events = converse(&mut c, &mut server, b"x", 1, &mut |e: &Event| match e {
        Event::MessageEnd { .. } => Some(Reply::new(554, (5, 7, 1), "Spam")),
        _ => None,
    });
    assert!(matches!(done(&events), Err(ClientError::Rejected(Stage::EndOfData, r)) if r.code() == 554));
}

#[test]
fn starttls_then_auth_plain() {
    let config = {
        let mut conf = ServerConfig::default();
        conf.extensions.starttls = true;
        conf.auth_mechanisms = vec![Mechanism::Plain];
        conf
    };
    let mut server = Server::new(config);
    let creds = alice();
    let mut c = client(
        {
            let mut conf = ClientConfig::default();
            conf.tls = TlsPolicy::Required;
            conf.credentials = Some(creds);
            conf
        },
        &["bob@x.test"],
    );
    let auth = std::cell::RefCell::new(None);
    let events = converse(&mut c, &mut server, b"x\r\n", 10, &mut |e: &Event| {
        if let Event::AuthStart { initial_response, .. } = e {
            *auth.borrow_mut() = initial_response.clone();
        }
        None
    });
    assert!(done(&events).is_ok(), "{events:?}");
    assert!(events.contains(&ClientEvent::StartTls));
    assert!(c.is_tls() && server.session.is_tls());
    assert_eq!(auth.into_inner().unwrap().expose(), b"\0alice\0secret");
}

#[test]
fn auth_login_when_plain_is_not_offered() {
    let config = {
        let mut conf = ServerConfig::default();
        conf.auth_mechanisms = vec![Mechanism::Login];
        conf.auth_requires_tls = false;
        conf
    };
    let mut server = Server::new(config);
    let creds = alice();
    let cc = {
        let mut conf = ClientConfig::default();
        conf.tls = TlsPolicy::Never;
        conf.credentials = Some(creds);
        conf.plaintext_auth = true;
        conf
    };
    let mut c = client(cc, &["bob@x.test"]);
    let got = std::cell::RefCell::new(vec![]);
    let events = converse(&mut c, &mut server, b"x", 1, &mut |e: &Event| match e {
        Event::AuthStart { mechanism: Mechanism::Login, initial_response: None } => {
            Some(Reply::basic(334, "Username:"))
        }
        Event::AuthResponse(r) => {
            got.borrow_mut().push(r.expose().clone());
            if got.borrow().len() == 1 { Some(Reply::basic(334, "Password:")) } else { None }
        }
        _ => None,
    });
    assert!(done(&events).is_ok(), "{events:?}");
    assert_eq!(got.into_inner(), [b"alice".to_vec(), b"secret".to_vec()]);
    assert!(server.session.is_authenticated());
}

#[test]
fn no_auth_over_plaintext_unless_allowed() {
    let config = {
        let mut conf = ServerConfig::default();
        conf.auth_mechanisms = vec![Mechanism::Plain];
        conf.auth_requires_tls = false;
        conf
    };
    let mut server = Server::new(config);
    let creds = alice();
    let mut c = client(
        {
            let mut conf = ClientConfig::default();
            conf.credentials = Some(creds);
            conf
        },
        &["bob@x.test"],
    );
    let events = converse(&mut c, &mut server, b"x", 1, &mut |_: &Event| None);
    assert_eq!(done(&events), &Err(ClientError::AuthUnavailable));
    assert!(!server.events.iter().any(|e| matches!(e, Event::AuthStart { .. })), "no password in clear");
}

#[test]
fn tls_required_but_not_offered() {
    let mut server = Server::new(ServerConfig::default());
    let mut c = client(
        {
            let mut conf = ClientConfig::default();
            conf.tls = TlsPolicy::Required;
            conf
        },
        &["b@x.test"],
    );
    let events = converse(&mut c, &mut server, b"", 1, &mut |_: &Event| None);
    assert_eq!(done(&events), &Err(ClientError::TlsUnavailable));
    assert!(server.events.iter().all(|e| !matches!(e, Event::MailFrom { .. })));
}

#[test]
fn declared_size_over_the_servers_limit() {
    let config = {
        let mut conf = ServerConfig::default();
        conf.limits.message_size = Some(50);
        conf
    };
    let mut server = Server::new(config);
    let mut c = client(ClientConfig::default(), &["b@x.test"]);
    let events = converse(&mut c, &mut server, b"", 1, &mut |_: &Event| None);
    assert_eq!(done(&events), &Err(ClientError::MessageTooBig { limit: 50 }));
}

/// Feeds a scripted server's bytes and returns the client's events and output.
fn scripted(config: ClientConfig, server_bytes: &[&[u8]]) -> (Vec<ClientEvent>, String) {
    let whole = scripted_once(config.clone(), server_bytes);
    // The same bytes one at a time give the same events and output, unless STARTTLS is in
    // play (where what shares a read with the 220 is dropped by design).
    if !whole.0.contains(&ClientEvent::StartTls) {
        let all: Vec<u8> = server_bytes.concat();
        if all.len() < 10_000 {
            let bytes: Vec<&[u8]> = all.chunks(1).collect();
            assert_eq!(scripted_once(config, &bytes), whole);
        }
    }
    whole
}

fn scripted_once(config: ClientConfig, server_bytes: &[&[u8]]) -> (Vec<ClientEvent>, String) {
    let now = Instant::now();
    let mut c = ClientSession::new(config, envelope(&["b@x.test"]), now, false).unwrap();
    let mut events = vec![];
    let mut out = vec![];
    for bytes in server_bytes {
        let _ = c.handle_input(now, bytes);
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        c.poll_transmit(&mut out);
    }
    (events, String::from_utf8(out).unwrap())
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let (events, out) = scripted(
        ClientConfig::default(),
        &[
            b"220 old.test\r\n",
            b"502 Command not implemented\r\n",
            b"250 old.test\r\n",
            b"250 OK\r\n",
            b"250 OK\r\n",
            b"354 go\r\n",
        ],
    );
    assert!(
        out.starts_with(
            "EHLO localhost\r\nHELO localhost\r\nMAIL FROM:<alice@client.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"
        ),
        "{out}"
    );
    // Without SIZE advertised, the SIZE parameter is left out.
    assert!(!out.contains("SIZE="));
    assert_eq!(events.last(), Some(&ClientEvent::ReadyForBody));
}

#[test]
fn greeting_refused() {
    let (events, out) = scripted(ClientConfig::default(), &[b"554 5.7.1 go away\r\n", b"221 bye\r\n"]);
    assert!(matches!(&events[0], ClientEvent::Done(Err(ClientError::Rejected(Stage::Greeting, r))) if r.code() == 554));
    assert_eq!(out, "QUIT\r\n");
    assert_eq!(events.last(), Some(&ClientEvent::Close));
}

#[test]
fn hostile_server_huge_line_is_bounded() {
    let huge = vec![b'2'; 1 << 20];
    let (events, _) = scripted(ClientConfig::default(), &[&huge]);
    assert_eq!(events[0], ClientEvent::Done(Err(ClientError::Reply(ReplyError::LineTooLong))));
    assert_eq!(events.last(), Some(&ClientEvent::Close));
}

#[test]
fn hostile_server_endless_continuation_lines() {
    let many = "220-x\r\n".repeat(100_000);
    let (events, _) = scripted(ClientConfig::default(), &[many.as_bytes()]);
    assert_eq!(events[0], ClientEvent::Done(Err(ClientError::Reply(ReplyError::TooManyLines))));
}

#[test]
fn hostile_server_non_digit_code_and_unsolicited_reply() {
    let (events, _) = scripted(ClientConfig::default(), &[b"2x0 hi\r\n"]);
    assert_eq!(events[0], ClientEvent::Done(Err(ClientError::Reply(ReplyError::InvalidCode))));
    // While the client waits for the embedder's body, no reply is due.
    let (events, _) =
        scripted(ClientConfig::default(), &[b"220 hi\r\n250 me\r\n250 a\r\n250 b\r\n354 c\r\n250 extra\r\n"]);
    assert_eq!(
        events[1..],
        [ClientEvent::ReadyForBody, ClientEvent::Done(Err(ClientError::UnexpectedReply)), ClientEvent::Close]
    );
}

#[test]
fn hostile_server_closes_mid_reply() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), envelope(&["b@x.test"]), now, false).unwrap();
    let _ = c.handle_input(now, b"220-first line\r\n220-sec");
    assert_eq!(c.poll_event(), None);
    c.handle_eof();
    assert_eq!(c.poll_event(), Some(ClientEvent::Done(Err(ClientError::ConnectionClosed))));
    assert_eq!(c.poll_event(), Some(ClientEvent::Close));
}

#[test]
fn starttls_response_injection_is_dropped() {
    let (events, out) = scripted(
        ClientConfig::default(),
        &[
            b"220 x\r\n",
            b"250-x\r\n250 STARTTLS\r\n",
            // A man in the middle appends a fake reply after the 220 (the client-side CVE-2011-0411).
            b"220 go ahead\r\n250-x\r\n250 AUTH PLAIN\r\n",
        ],
    );
    assert_eq!(events, [ClientEvent::StartTls]);
    assert_eq!(out, "EHLO localhost\r\nSTARTTLS\r\n");
}

#[test]
fn greeting_timeout_is_five_minutes() {
    let now = Instant::now();
    let mut c = ClientSession::new(ClientConfig::default(), envelope(&["b@x.test"]), now, false).unwrap();
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(300)));
    c.handle_timeout(now + Duration::from_secs(299));
    assert_eq!(c.poll_event(), None);
    c.handle_timeout(now + Duration::from_secs(300));
    assert_eq!(c.poll_event(), Some(ClientEvent::Done(Err(ClientError::Timeout))));
}

#[test]
fn envelope_that_cannot_be_written_is_refused_up_front() {
    let mut env = envelope(&["b@x.test"]);
    env.from = ReversePath::Mailbox(Mailbox {
        local_part: "a\r\nRCPT TO:<x@y>".into(),
        domain: sansmail_smtp_proto::Domain::Name("x".into()),
    });
    assert!(ClientSession::new(ClientConfig::default(), env, Instant::now(), false).is_err());
}

/// `keep_open`: several transactions over one connection, a failed one in the middle (RSET
/// before the next), then QUIT; with and without pipelining.
#[test]
fn several_transactions_over_one_connection() {
    for pipelining in [true, false] {
        let mut config = ServerConfig::default();
        config.extensions.pipelining = pipelining;
        config.extensions.chunking = false;
        let mut server = Server::new(config);
        let now = Instant::now();
        let mut c = ClientSession::new(
            {
                let mut conf = ClientConfig::default();
                conf.keep_open = true;
                conf
            },
            envelope(&["a@x.test"]),
            now,
            false,
        )
        .unwrap();
        // The server refuses the second message's only recipient.
        let mut policy = |e: &Event| match e {
            Event::Recipient { to, .. } if to.mailbox().is_some_and(|m| m.local_part == "bad") => {
                Some(Reply::new(550, (5, 1, 1), "no such user").into_owned())
            }
            _ => None,
        };
        let first = converse(&mut c, &mut server, b"one\r\n", 5, &mut policy);
        assert!(done(&first).is_ok(), "{first:?}");
        assert!(!first.contains(&ClientEvent::Close), "kept open");
        assert!(c.is_idle());
        c.next_transaction(now, envelope(&["bad@x.test"])).unwrap();
        let second = converse(&mut c, &mut server, b"two\r\n", 5, &mut policy);
        assert_eq!(done(&second), &Err(ClientError::NoRecipientsAccepted), "{second:?}");
        assert!(c.is_idle());
        assert!(c.next_transaction(now, envelope(&["c@x.test"])).is_ok());
        assert_eq!(
            c.next_transaction(now, envelope(&["d@x.test"])),
            Err(sansmail_smtp_proto::client::NextTransactionError::NotIdle)
        );
        let third = converse(&mut c, &mut server, b"three\r\n", 5, &mut policy);
        assert!(done(&third).is_ok(), "pipelining {pipelining}: {third:?}\n{}", server.output());
        c.quit(now);
        let last = converse(&mut c, &mut server, b"", 5, &mut policy);
        assert_eq!(last.last(), Some(&ClientEvent::Close), "{last:?}");
        assert_eq!(server.messages, [b"one\r\n".to_vec(), b"three\r\n".to_vec()]);
        assert_eq!(server.output().matches("250 2.0.0 OK").count(), 1, "one RSET, after the failed transaction");
    }
}

/// Drives a client against a scripted server up to `ReadyForBody`; returns the session.
fn ready_for_body(body_buffer: usize, ehlo: &str, after_rcpt: &[&str]) -> ClientSession {
    let now = Instant::now();
    let mut config = ClientConfig::new("client.test");
    config.body_buffer = body_buffer;
    config.pipelining = false;
    let envelope = Envelope::new("alice@client.test", &["bob@server.test"]).unwrap();
    let mut c = ClientSession::new(config, envelope, now, false).unwrap();
    let mut wire = Vec::new();
    for reply in ["220 server.test ESMTP\r\n", ehlo, "250 2.1.0 OK\r\n", "250 2.1.5 OK\r\n"].iter().chain(after_rcpt) {
        let _ = c.handle_input(now, reply.as_bytes());
        c.poll_transmit(&mut wire);
    }
    assert!(
        std::iter::from_fn(|| c.poll_event()).any(|e| e == ClientEvent::ReadyForBody),
        "{:?}",
        String::from_utf8_lossy(&wire)
    );
    c
}

/// The body goes in at most `body_buffer` octets at a time: `write_body` says how much it
/// took, and the output between two writes stays bounded, however big the piece offered.
#[test]
fn the_body_is_taken_in_bounded_pieces() {
    for (ehlo, after_rcpt, bound) in [
        ("250-server.test\r\n250 CHUNKING\r\n", &[][..], 1000 + 32),
        ("250 server.test\r\n", &["354 go ahead\r\n"][..], 2 * 1000),
    ] {
        let mut c = ready_for_body(1000, ehlo, after_rcpt);
        let body = b".dot line\r\n".repeat(2000);
        let mut rest = &body[..];
        let mut wire = Vec::new();
        let mut rounds = 0;
        while !rest.is_empty() {
            let taken = c.write_body(rest).unwrap();
            assert!(taken <= 1000, "{taken}");
            rest = &rest[taken..];
            let mut out = Vec::new();
            c.poll_transmit(&mut out);
            assert!(out.len() <= bound, "{} octets held for one write", out.len());
            wire.extend_from_slice(&out);
            rounds += 1;
        }
        assert!(rounds >= body.len() / 1000);
        // A full buffer takes nothing until it is written.
        c.finish_body(Instant::now()).unwrap();
        c.poll_transmit(&mut wire);
        assert_eq!(c.write_body(b"x"), Err(sansmail_smtp_proto::client::NotReadyForBody));
        let text = String::from_utf8_lossy(&wire);
        if after_rcpt.is_empty() {
            // The last chunk is `BDAT n LAST` with the content, not an empty `BDAT 0 LAST`.
            assert!(!text.contains("BDAT 0 LAST"), "{text}");
            let last = text.rfind("BDAT ").unwrap();
            assert!(text[last..].starts_with("BDAT 1000 LAST\r\n"), "{}", &text[last..]);
            assert_eq!(text.matches(" LAST").count(), 1);
            assert_eq!(text.matches("BDAT ").count(), 22);
        } else {
            assert!(text.ends_with("\r\n.\r\n"), "{}", &text[text.len() - 20..]);
            assert_eq!(text.matches("..dot line").count(), 2000);
        }
    }
}

/// An empty message over BDAT is the one case of `BDAT 0 LAST`.
#[test]
fn an_empty_message_over_bdat_is_bdat_0_last() {
    let mut c = ready_for_body(1000, "250-server.test\r\n250 CHUNKING\r\n", &[]);
    c.finish_body(Instant::now()).unwrap();
    let mut wire = Vec::new();
    c.poll_transmit(&mut wire);
    assert_eq!(wire, b"BDAT 0 LAST\r\n");
}

/// Envelopes and mailboxes from text in one call.
#[test]
fn envelopes_and_mailboxes_from_text() {
    let m: Mailbox<'static> = "bob@server.test".parse().unwrap();
    assert_eq!(m.domain.to_string(), "server.test");
    assert!("no-at-sign".parse::<Mailbox<'static>>().is_err());
    let e = Envelope::new("", &["bob@server.test"]).unwrap();
    assert_eq!(e.from, ReversePath::Null);
    assert_eq!(e.recipients[0].0, ForwardPath::Mailbox(m));
}
