//! The server session against hostile and edge-case clients.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, accept_all, replay};
use sansmail_smtp_proto::data::BareLineEndings;
use sansmail_smtp_proto::server::{AbortReason, Event, ServerConfig, ServerSession};
use sansmail_smtp_proto::{Mechanism, Reply};

fn cfg() -> ServerConfig {
    {
        let mut conf = ServerConfig::default();
        conf.hostname = "mx.test".into();
        conf
    }
}

/// Runs `input` whole, and checks that byte-by-byte and every two-piece split give the same
/// replies and messages.
fn run(config: ServerConfig, input: &[u8]) -> Server {
    let feed = |pieces: &[&[u8]]| {
        let mut s = Server::new(config.clone());
        for piece in pieces {
            s.feed(piece, &mut *accept_all());
        }
        s
    };
    let whole = feed(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let mut runs = vec![feed(&bytes)];
    // Every boundary for short inputs; a spread of them for the long ones.
    let step = (input.len() / 256).max(1);
    runs.extend((1..input.len()).step_by(step).map(|i| feed(&[&input[..i], &input[i..]])));
    for other in runs {
        assert_eq!(other.output(), whole.output());
        assert_eq!(other.messages, whole.messages);
    }
    whole
}

fn replies(config: ServerConfig, input: &str) -> Vec<String> {
    run(config, input.as_bytes()).replies()
}

/// Reply lines that are not EHLO continuation lines.
fn finals(r: &[String]) -> Vec<&str> {
    r.iter().filter(|l| l.as_bytes().get(3) == Some(&b' ')).map(String::as_str).collect()
}

#[test]
fn pipelined_transaction_replies_in_order_and_enhanced_codes_after_ehlo() {
    let s = run(
        cfg(),
        b"EHLO c.test\r\nMAIL FROM:<a@c.test> SIZE=20 BODY=8BITMIME\r\nRCPT TO:<b@mx.test> NOTIFY=NEVER\r\n\
          RCPT TO:<c@mx.test>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n",
    );
    let r = s.replies();
    assert_eq!(r[0], "250-mx.test Hello");
    assert_eq!(
        finals(&r),
        [
            "250 ENHANCEDSTATUSCODES",
            "250 2.1.0 Sender OK",
            "250 2.1.5 Recipient OK",
            "250 2.1.5 Recipient OK",
            "354 Start mail input; end with <CRLF>.<CRLF>",
            "250 2.0.0 Message accepted",
            "221 2.0.0 mx.test Service closing transmission channel",
        ]
    );
    assert_eq!(s.messages, [b"hello\r\n".to_vec()]);
    assert_eq!(s.events.last(), Some(&Event::Close));
}

#[test]
fn ehlo_advertises_configured_extensions() {
    let config = {
        let mut conf = cfg();
        conf.extensions.starttls = true;
        conf.extensions.etrn = true;
        conf.extensions.atrn = true;
        conf.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        conf.auth_requires_tls = false;
        conf.limits.message_size = Some(1000);
        conf
    };
    let r = replies(config, "EHLO c\r\n");
    assert_eq!(
        r,
        [
            "250-mx.test Hello",
            "250-PIPELINING",
            "250-SIZE 1000",
            "250-8BITMIME",
            "250-SMTPUTF8",
            "250-CHUNKING",
            "250-BINARYMIME",
            "250-DSN",
            "250-ENHANCEDSTATUSCODES",
            "250-STARTTLS",
            "250-AUTH PLAIN LOGIN",
            "250-ETRN",
            "250 ATRN",
        ]
    );
}

#[test]
fn helo_gets_no_enhanced_codes_and_no_extension_parameters() {
    let r = replies(cfg(), "HELO c\r\nMAIL FROM:<a@b.c> SIZE=10\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\n");
    assert_eq!(
        r,
        ["250 mx.test", "555 Parameter not recognized or not implemented", "250 Sender OK", "250 Recipient OK"]
    );
}

#[test]
fn sequencing_errors() {
    let r = replies(
        cfg(),
        "MAIL FROM:<a@b.c>\r\nEHLO c\r\nRCPT TO:<x@y.z>\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nDATA\r\n\
         BDAT 3\r\nabcRSET\r\nFOO\r\nVRFY x\r\nEXPN x\r\nHELP\r\nNOOP\r\nSTARTTLS\r\nAUTH PLAIN\r\nETRN x.y\r\n",
    );
    assert_eq!(
        finals(&r),
        [
            "503 Send HELO or EHLO first",
            "250 ENHANCEDSTATUSCODES",
            "503 5.5.1 Need MAIL before RCPT",
            "503 5.5.1 Need MAIL before DATA",
            "250 2.1.0 Sender OK",
            "503 5.5.1 Nested MAIL command",
            "554 5.5.1 No valid recipients",
            "554 5.5.1 No valid recipients",
            "250 2.0.0 OK",
            "500 5.5.1 Command unrecognized",
            "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
            "502 5.5.1 Command not implemented",
            "214 2.0.0 See RFC 5321: https://www.rfc-editor.org/rfc/rfc5321",
            "250 2.0.0 OK",
            "502 5.5.1 Command not implemented",
            "502 5.5.1 Command not implemented",
            "502 5.5.1 Command not implemented",
        ]
    );
}

#[test]
fn rejected_recipient_then_data_is_refused() {
    let mut s = Server::new(cfg());
    s.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@mx.test>\r\nDATA\r\nQUIT\r\n", &mut |e: &Event| match e {
        Event::Recipient { .. } => Some(Reply::new(550, (5, 1, 1), "No such user")),
        _ => None,
    });
    assert_eq!(
        &finals(&s.replies())[1..],
        [
            "250 2.1.0 Sender OK",
            "550 5.1.1 No such user",
            "554 5.5.1 No valid recipients",
            "221 2.0.0 mx.test Service closing transmission channel",
        ]
    );
}

#[test]
fn recipient_limit_at_and_past_the_edge() {
    let mut input = String::from("EHLO c\r\nMAIL FROM:<a@b.c>\r\n");
    for i in 0..101 {
        input.push_str(&format!("RCPT TO:<r{i}@mx.test>\r\n"));
    }
    let r = replies(cfg(), &input);
    let f = finals(&r);
    assert_eq!(f.iter().filter(|l| l.starts_with("250 2.1.5")).count(), 100);
    assert_eq!(*f.last().unwrap(), "452 4.5.3 Too many recipients");
}

#[test]
fn declared_size_at_and_past_the_limit() {
    let config = {
        let mut conf = cfg();
        conf.limits.message_size = Some(1000);
        conf
    };
    let r = replies(config, "EHLO c\r\nMAIL FROM:<a@b.c> SIZE=1001\r\nMAIL FROM:<a@b.c> SIZE=1000\r\n");
    assert_eq!(&finals(&r)[1..], ["552 5.3.4 Message size exceeds fixed maximum message size", "250 2.1.0 Sender OK"]);
}

#[test]
fn counted_size_at_and_past_the_limit() {
    let config = {
        let mut conf = cfg();
        conf.limits.message_size = Some(10);
        conf
    };
    // 10 octets of content: accepted.
    let s = run(config.clone(), b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n12345678\r\n.\r\n");
    assert_eq!(finals(&s.replies()).last().unwrap(), &"250 2.0.0 Message accepted");
    assert_eq!(s.messages, [b"12345678\r\n".to_vec()]);
    // 11: refused after the end marker, the session goes on.
    let s = run(config, b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n123456789\r\n.\r\nNOOP\r\n");
    let r = s.replies();
    let f = finals(&r);
    assert_eq!(f[f.len() - 2..], ["552 5.3.4 Message size exceeds fixed maximum message size", "250 2.0.0 OK"]);
    assert!(s.events.contains(&Event::MessageAborted(AbortReason::TooBig)));
    assert!(s.messages.is_empty());
}

#[test]
fn command_line_limit_at_and_past_the_edge() {
    // 512 octets with CRLF: accepted. 513: 500, and the session goes on.
    let at = format!("NOOP {}\r\n", "x".repeat(505));
    assert_eq!(at.len(), 512);
    let past = format!("NOOP {}\r\n", "x".repeat(506));
    let r = replies(cfg(), &format!("{at}{past}NOOP\r\n"));
    assert_eq!(r, ["250 OK", "500 Line too long", "250 OK"]);
}

#[test]
fn a_megabyte_line_is_drained_not_buffered() {
    let config = {
        let mut conf = cfg();
        conf.limits.input_buffer = 4096;
        conf
    };
    let mut session = ServerSession::new(Arc::new(config), Instant::now(), false);
    let now = Instant::now();
    let junk = vec![b'A'; 4096];
    // Every byte is taken although the buffer holds 4 KiB: the line is being skipped.
    for _ in 0..256 {
        assert_eq!(session.handle_input(now, &junk), junk.len());
        while session.poll_event().is_some() {}
    }
    assert_eq!(session.handle_input(now, b"\r\nNOOP\r\n"), 8);
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    assert!(String::from_utf8(out).unwrap().ends_with("500 Line too long\r\n250 OK\r\n"));
}

#[test]
fn error_limit_closes_with_421() {
    let config = {
        let mut conf = cfg();
        conf.limits.errors = 3;
        conf
    };
    let s = run(config, b"X\r\nY\r\nZ\r\nNOOP\r\n");
    assert_eq!(
        s.replies(),
        [
            "500 Command unrecognized",
            "500 Command unrecognized",
            "500 Command unrecognized",
            "421 mx.test Too many errors, closing connection",
        ]
    );
    assert!(s.session.is_closed());
    assert_eq!(s.events.last(), Some(&Event::Close));
}

#[test]
fn idle_timeout_is_five_minutes_and_closes_with_421() {
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(cfg()), now, false);
    assert_eq!(session.poll_timeout(), Some(now + Duration::from_secs(300)));
    session.handle_timeout(now + Duration::from_secs(299));
    assert!(!session.is_closed());
    session.handle_timeout(now + Duration::from_secs(300));
    assert!(session.is_closed());
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    assert!(out.ends_with(b"421 mx.test Timeout waiting for client input\r\n"));
    assert_eq!(session.poll_event(), Some(Event::Close));
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn no_timeout_while_the_embedder_decides() {
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(cfg()), now, false);
    let _ = session.handle_input(now, b"EHLO c\r\n");
    assert!(matches!(session.poll_event(), Some(Event::Hello { .. })));
    assert_eq!(session.poll_timeout(), None);
    session.handle_timeout(now + Duration::from_secs(3600));
    assert!(!session.is_closed());
}

#[test]
fn smuggled_commands_after_bare_lf_dot_stay_content() {
    for (mode, last) in [
        (BareLineEndings::Reject, "554 5.6.0 Message contains bare CR or LF (RFC 5321 section 2.3.8)"),
        (BareLineEndings::Normalize, "250 2.0.0 Message accepted"),
    ] {
        let config = {
            let mut conf = cfg();
            conf.bare_line_endings = mode;
            conf
        };
        let s = run(
            config,
            b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@mx.test>\r\nDATA\r\nhi\n.\nMAIL FROM:<evil@x.y>\r\n\
              RCPT TO:<victim@mx.test>\r\nDATA\r\nforged\r\n.\r\n",
        );
        let senders = s.events.iter().filter(|e| matches!(e, Event::MailFrom { .. })).count();
        assert_eq!(senders, 1, "{mode:?}: the smuggled MAIL must not be a command");
        assert_eq!(*finals(&s.replies()).last().unwrap(), last, "{mode:?}");
        if mode == BareLineEndings::Normalize {
            assert_eq!(
                s.messages,
                [b"hi\r\n.\r\nMAIL FROM:<evil@x.y>\r\nRCPT TO:<victim@mx.test>\r\nDATA\r\nforged\r\n".to_vec()]
            );
        }
    }
}

#[test]
fn long_content_line_refused_at_end() {
    let config = {
        let mut conf = cfg();
        conf.limits.text_line = Some(100);
        conf
    };
    let body = format!("{}\r\n.\r\n", "x".repeat(99));
    let s = run(config, format!("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n{body}").as_bytes());
    assert!(finals(&s.replies()).last().unwrap().starts_with("554 5.6.0 Message contains a line longer"));
    assert!(s.events.contains(&Event::MessageAborted(AbortReason::LineTooLong)));
}

#[test]
fn bdat_chunks_and_last() {
    let s = replay(
        &cfg(),
        "
        S: 220 mx.test ESMTP
        C: EHLO c
        S: 250-mx.test Hello
        S: 250-PIPELINING
        S: 250-SIZE 26214400
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-DSN
        S: 250 ENHANCEDSTATUSCODES
        C: MAIL FROM:<a@b.c> BODY=BINARYMIME
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<x@y.z>
        S: 250 2.1.5 Recipient OK
        C: BDAT 10
        C: line one
        S: 250 2.0.0 10 octets received
        C: DATA
        S: 503 5.5.1 DATA not allowed with BDAT or BODY=BINARYMIME
        C: BDAT 6 LAST
        C: .end
        S: 250 2.0.0 Message accepted
        ",
        &accept_all,
    );
    // BDAT content is taken as is: no dot removal.
    assert_eq!(s.messages, [b"line one\r\n.end\r\n".to_vec()]);
}

#[test]
fn bdat_zero_last_and_refused_chunks_are_skipped() {
    let s = run(cfg(), b"EHLO c\r\nBDAT 6\r\nQUIT\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 0 LAST\r\nNOOP\r\n");
    let r = s.replies();
    // The refused chunk's octets ("QUIT\r\n") were skipped, not run.
    assert_eq!(
        &finals(&r)[1..],
        [
            "503 5.5.1 Need MAIL before BDAT",
            "250 2.1.0 Sender OK",
            "250 2.1.5 Recipient OK",
            "250 2.0.0 Message accepted",
            "250 2.0.0 OK",
        ]
    );
    assert_eq!(s.messages, [Vec::<u8>::new()]);
}

#[test]
fn bdat_over_the_size_limit_fails_the_transaction() {
    let config = {
        let mut conf = cfg();
        conf.limits.message_size = Some(5);
        conf
    };
    let s = run(config, b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 6\r\n123456BDAT 1 LAST\r\nxNOOP\r\n");
    let r = s.replies();
    assert_eq!(
        &finals(&r)[3..],
        [
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "503 5.5.1 Need MAIL before BDAT",
            "250 2.0.0 OK",
        ]
    );
    assert!(s.events.contains(&Event::MessageAborted(AbortReason::TooBig)));
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let config = {
        let mut conf = cfg();
        conf.extensions.starttls = true;
        conf
    };
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(config), now, false);
    let _ = session.handle_input(now, b"EHLO c\r\n");
    while let Some(e) = session.poll_event() {
        if e.is_decision() {
            session.accept().unwrap();
        }
    }
    // The attacker's commands ride in the same packet as STARTTLS (CVE-2011-0411).
    let packet = b"STARTTLS\r\nMAIL FROM:<evil@x.y>\r\nRCPT TO:<v@mx.test>\r\n";
    assert_eq!(session.handle_input(now, packet), packet.len());
    assert_eq!(session.poll_event(), Some(Event::StartTls));
    assert_eq!(session.poll_event(), None);
    // More plaintext before the handshake is dropped too.
    assert_eq!(session.handle_input(now, b"NOOP\r\n"), 6);
    assert_eq!(session.poll_event(), None);
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    assert!(String::from_utf8(out).unwrap().ends_with("220 2.0.0 Ready to start TLS\r\n"));
    session.handle_tls_established(now);
    assert!(session.is_tls());
    // The session starts over: EHLO is needed again, and STARTTLS is no longer offered.
    let _ = session.handle_input(now, b"MAIL FROM:<a@b.c>\r\nEHLO c\r\n");
    assert!(matches!(session.poll_event(), Some(Event::Hello { .. })));
    session.accept().unwrap();
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("503 Send HELO or EHLO first\r\n250-mx.test Hello\r\n"), "{out}");
    assert!(!out.contains("STARTTLS"));
}

#[test]
fn starttls_twice_or_in_a_transaction_is_out_of_sequence() {
    let config = {
        let mut conf = cfg();
        conf.extensions.starttls = true;
        conf
    };
    let mut s = Server::with_tls(config, true);
    s.feed(b"EHLO c\r\nSTARTTLS\r\n", &mut *accept_all());
    assert_eq!(*s.replies().last().unwrap(), "503 5.5.1 Bad sequence of commands");
}

fn auth_config() -> ServerConfig {
    {
        let mut conf = cfg();
        conf.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        conf
    }
}

#[test]
fn auth_needs_tls_by_default() {
    let r = replies(auth_config(), "EHLO c\r\nAUTH PLAIN AGEAYg==\r\n");
    assert!(!r.iter().any(|l| l.contains("AUTH")));
    assert_eq!(r.last().unwrap(), "538 5.7.11 Encryption required for requested authentication mechanism");
}

#[test]
fn auth_plain_with_initial_response() {
    let mut s = Server::with_tls(auth_config(), true);
    let mut seen = None;
    s.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN\r\n", &mut |e: &Event| {
        if let Event::AuthStart { mechanism, initial_response } = e {
            seen = Some((mechanism.clone(), initial_response.clone()));
        }
        None
    });
    assert_eq!(seen, Some((Mechanism::Plain, Some(b"\0alice\0secret".to_vec().into()))));
    let r = s.replies();
    assert_eq!(r[r.len() - 2..], ["235 2.7.0 Authentication successful", "503 5.5.1 Bad sequence of commands"]);
    assert!(s.session.is_authenticated());
}

#[test]
fn auth_login_exchange_cancel_bad_base64_and_long_line() {
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(auth_config()), now, true);
    let step = |session: &mut ServerSession, input: &[u8]| {
        let _ = session.handle_input(now, input);
        let mut events = vec![];
        while let Some(e) = session.poll_event() {
            events.push(e);
        }
        let mut out = Vec::new();
        session.poll_transmit(&mut out);
        (events, String::from_utf8(out).unwrap())
    };
    step(&mut session, b"EHLO c\r\n");
    session.accept().unwrap();
    let (ev, _) = step(&mut session, b"AUTH LOGIN\r\n");
    assert_eq!(ev, [Event::AuthStart { mechanism: Mechanism::Login, initial_response: None }]);
    session.auth_challenge(b"Username:").unwrap();
    let (ev, out) = step(&mut session, b"YWxpY2U=\r\n");
    assert!(out.ends_with("334 VXNlcm5hbWU6\r\n"));
    assert_eq!(ev, [Event::AuthResponse(b"alice".to_vec().into())]);
    session.auth_challenge(b"Password:").unwrap();
    let (ev, _) = step(&mut session, b"*\r\n");
    assert_eq!(ev, [Event::AuthCancelled]);
    // Bad base64 inside the exchange.
    step(&mut session, b"AUTH LOGIN\r\n");
    session.auth_challenge(b"").unwrap();
    let (_, out) = step(&mut session, b"!!!\r\n");
    assert!(out.ends_with("501 5.5.2 Invalid base64 data\r\n"), "{out}");
    // A response line past 12,288 octets.
    step(&mut session, b"AUTH LOGIN\r\n");
    session.auth_challenge(b"").unwrap();
    let long = format!("{}\r\n", "A".repeat(12_287));
    let (_, out) = step(&mut session, long.as_bytes());
    assert!(out.ends_with("500 5.5.6 Authentication exchange line is too long\r\n"), "{out}");
    // At the limit exactly it is read (and here rejected by the embedder).
    step(&mut session, b"AUTH LOGIN\r\n");
    session.auth_challenge(b"").unwrap();
    let edge = format!("{}\r\n", "A".repeat(12_284));
    assert_eq!(edge.len(), 12_286);
    let (ev, _) = step(&mut session, edge.as_bytes());
    assert!(matches!(&ev[..], [Event::AuthResponse(_)]));
    session.reject(&Reply::new(535, (5, 7, 8), "Authentication credentials invalid")).unwrap();
    assert!(!session.is_authenticated());
    // Unknown mechanism, and an answer out of turn.
    let (_, out) = step(&mut session, b"AUTH CRAM-MD5\r\n");
    assert!(out.ends_with("504 5.5.4 Unrecognized authentication type\r\n"));
    assert!(session.accept().is_err());
}

#[test]
fn etrn_and_atrn() {
    let config = {
        let mut conf = cfg();
        conf.extensions.etrn = true;
        conf.extensions.atrn = true;
        conf.auth_mechanisms = vec![Mechanism::Plain];
        conf
    };
    let mut s = Server::with_tls(config, true);
    s.feed(
        b"EHLO c\r\nETRN @example.org\r\nATRN a.example\r\nAUTH PLAIN AGEAYg==\r\nATRN a.example,b.example\r\n",
        &mut *accept_all(),
    );
    assert!(s.events.contains(&Event::Etrn("@example.org".into())));
    assert!(s.events.contains(&Event::Atrn { domains: vec!["a.example".into(), "b.example".into()] }));
    let r = s.replies();
    assert_eq!(
        finals(&r)[1..],
        [
            "250 2.0.0 Queuing started",
            "530 5.7.0 Authentication required",
            "235 2.7.0 Authentication successful",
            "250 2.0.0 OK, now reversing the connection",
        ]
    );
    // After the turn the session is over: the embedder runs a client on the connection.
    assert!(s.session.is_closed());
}

#[test]
fn refused_connection_answers_only_quit() {
    let now = Instant::now();
    let reply = Reply::new(554, (5, 7, 1), "Access denied");
    let mut session = ServerSession::new_refused(Arc::new(cfg()), now, &reply);
    let _ = session.handle_input(now, b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n");
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "554 Access denied\r\n503 Bad sequence of commands\r\n503 Bad sequence of commands\r\n221 mx.test Service closing transmission channel\r\n"
    );
    assert!(session.is_closed());
}

#[test]
fn non_ascii_recipient_needs_smtputf8_on_mail() {
    let r = replies(
        cfg(),
        "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<jö@mx.test>\r\nRSET\r\nMAIL FROM:<a@b.c> SMTPUTF8\r\nRCPT TO:<jö@mx.test>\r\n",
    );
    assert_eq!(
        finals(&r)[2..],
        [
            "553 5.6.7 Non-ASCII address requires SMTPUTF8",
            "250 2.0.0 OK",
            "250 2.1.0 Sender OK",
            "250 2.1.5 Recipient OK"
        ]
    );
}

#[test]
fn unadvertised_parameters_are_refused() {
    let config = {
        let mut conf = cfg();
        conf.extensions.dsn = false;
        conf.extensions.smtputf8 = false;
        conf.extensions.eight_bit_mime = false;
        conf
    };
    let r = replies(
        config,
        "EHLO c\r\nMAIL FROM:<a@b.c> RET=FULL\r\nMAIL FROM:<a@b.c> SMTPUTF8\r\nMAIL FROM:<a@b.c> BODY=8BITMIME\r\n\
         MAIL FROM:<a@b.c> X-UNKNOWN=1\r\nMAIL FROM:<a@b.c> REQUIRETLS\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z> NOTIFY=NEVER\r\n",
    );
    assert_eq!(
        finals(&r)[1..],
        [
            "555 5.5.4 Parameter not recognized or not implemented",
            "555 5.5.4 Parameter not recognized or not implemented",
            "555 5.5.4 Parameter not recognized or not implemented",
            "555 5.5.4 Parameter not recognized or not implemented",
            "555 5.5.4 Parameter not recognized or not implemented",
            "250 2.1.0 Sender OK",
            "555 5.5.4 Parameter not recognized or not implemented",
        ]
    );
}

#[test]
fn backpressure_while_a_decision_is_pending() {
    let config = {
        let mut conf = cfg();
        conf.limits.input_buffer = 64;
        conf
    };
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(config), now, false);
    let input = "EHLO c\r\n".to_string() + &"NOOP\r\n".repeat(40);
    let input = input.as_bytes();
    // The buffer fills to its 64 octets and no further while EHLO waits for its answer.
    let used = session.handle_input(now, input);
    assert_eq!(used, 64);
    assert!(matches!(session.poll_event(), Some(Event::Hello { .. })));
    assert!(session.is_waiting());
    // Only the 8 octets that EHLO freed are taken; then nothing.
    assert_eq!(session.handle_input(now, &input[used..]), 8);
    assert_eq!(session.handle_input(now, &input[used + 8..]), 0);
    let used = used + 8;
    session.accept().unwrap();
    let mut rest = &input[used..];
    while !rest.is_empty() {
        let n = session.handle_input(now, rest);
        rest = &rest[n..];
        while session.poll_event().is_some() {}
    }
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    assert_eq!(String::from_utf8(out).unwrap().matches("250 2.0.0 OK\r\n").count(), 40);
}

#[test]
fn a_client_that_never_reads_its_replies_is_bounded() {
    let config = {
        let mut conf = cfg();
        conf.limits.output_buffer = 1024;
        conf.limits.input_buffer = 1024;
        conf
    };
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(config), now, false);
    let flood = "NOOP\r\n".repeat(100_000);
    let mut rest = flood.as_bytes();
    // Feed without ever taking output: the session stops reading once 1 KiB of replies wait.
    loop {
        let used = session.handle_input(now, rest);
        while session.poll_event().is_some() {}
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
    assert!(!rest.is_empty(), "the flood must back up");
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    // One reply past the limit at most (the greeting and "250 OK" lines are short).
    assert!(out.len() < 1024 + 64, "{} octets queued", out.len());
    // Taking the output lets it go on.
    assert!(session.handle_input(now, rest) > 0);
}

#[test]
fn auth_line_limit_exactly_at_and_one_past_the_edge() {
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(auth_config()), now, true);
    let mut out = Vec::new();
    let mut run = |session: &mut ServerSession, input: &[u8]| {
        assert_eq!(session.handle_input(now, input), input.len());
        while let Some(e) = session.poll_event() {
            if e.is_decision() {
                session.auth_challenge(b"").or_else(|_| session.accept()).unwrap();
            }
        }
        out.clear();
        session.poll_transmit(&mut out);
        String::from_utf8(out.clone()).unwrap()
    };
    run(&mut session, b"EHLO c\r\n");
    // 12,288 octets with CRLF: framed and read (it is not base64, so 501 5.5.2).
    run(&mut session, b"AUTH LOGIN\r\n");
    let at = format!("{}\r\n", "A".repeat(12_286));
    assert_eq!(at.len(), 12_288);
    assert_eq!(run(&mut session, at.as_bytes()), "501 5.5.2 Invalid base64 data\r\n");
    // 12,289: refused as too long, without being buffered.
    run(&mut session, b"AUTH LOGIN\r\n");
    let past = format!("{}\r\n", "A".repeat(12_287));
    assert_eq!(run(&mut session, past.as_bytes()), "500 5.5.6 Authentication exchange line is too long\r\n");
    // The session goes on.
    assert_eq!(run(&mut session, b"NOOP\r\n"), "250 2.0.0 OK\r\n");
}

/// The wrong verb for a reply, or a reply no client can read, is refused with the misuse
/// named, and the decision still waits for a right answer (it used to become a silent 451,
/// or a silent rejection).
#[test]
fn answers_with_the_wrong_verb_are_refused_and_invalid_replies_cannot_be_built() {
    use sansmail_smtp_proto::server::ApiMisuse;
    let now = Instant::now();
    let mut session = ServerSession::new(Arc::new(ServerConfig::default()), now, false);
    let _ = session.handle_input(now, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    while let Some(e) = session.poll_event() {
        if matches!(e, Event::Hello { .. }) {
            session.accept().unwrap();
        }
    }
    let _ = session.handle_input(now, b"");
    while session.poll_event().is_some() {}
    let cases = [
        (Reply::new(250, (2, 1, 0), "OK"), false, ApiMisuse::RejectWithSuccess),
        (Reply::new(550, (5, 7, 1), "no"), true, ApiMisuse::AcceptWithFailure),
    ];
    // A reply no client can read cannot be built at all.
    use sansmail_smtp_proto::InvalidReply;
    assert_eq!(Reply::try_new(99, None, "low"), Err(InvalidReply::Code(99)));
    assert_eq!(Reply::try_new(1000, Some((2, 0, 0)), "high"), Err(InvalidReply::Code(1000)));
    assert_eq!(Reply::try_new(260, None, "second digit"), Err(InvalidReply::Code(260)));
    assert_eq!(Reply::try_new(250, Some((5, 0, 0)), "class"), Err(InvalidReply::Enhanced(5, 0, 0)));
    assert_eq!(Reply::try_new(354, Some((3, 0, 0)), "no class 3"), Err(InvalidReply::Enhanced(3, 0, 0)));
    assert_eq!(Reply::try_new(550, Some((5, 1000, 0)), "subject"), Err(InvalidReply::Enhanced(5, 1000, 0)));
    assert!(std::panic::catch_unwind(|| Reply::new(250, (5, 0, 0), "class")).is_err());
    for (reply, accept, misuse) in &cases {
        let got = if *accept { session.accept_with(reply) } else { session.reject(reply) };
        assert_eq!(got, Err(*misuse), "{reply:?}");
        assert!(!misuse.to_string().is_empty());
    }
    // Still pending: the right answer goes through, once.
    session.reject(&Reply::new(550, (5, 7, 1), "Sender refused")).unwrap();
    assert_eq!(session.reject(&Reply::new(550, (5, 7, 1), "again")), Err(ApiMisuse::NothingPending));
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(out.ends_with("550 5.7.1 Sender refused\r\n") && !out.contains("451"), "{out}");
}
