//! The example sessions of RFC 5321 Appendix D, replayed against the server session with
//! the embedder answering as the RFC's server does.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{Policy, replay};
use sansmail_smtp_proto::server::{Event, ServerConfig};
use sansmail_smtp_proto::{EhloReply, ForwardPath, Reply};

fn config(host: &str) -> ServerConfig {
    let mut conf = ServerConfig::new(host);
    conf.greeting = "Simple Mail Transfer Service Ready".into();
    // The RFC's transcripts predate RFC 2034 codes.
    conf.extensions.enhanced_status_codes = false;
    conf
}

/// Answers as Appendix D's servers: plain `250 OK`, and 550 for the named users.
fn rfc_policy(host: &'static str, unknown: &'static [&'static str]) -> impl Fn() -> Box<Policy> {
    move || {
        Box::new(move |event: &Event| match event {
            Event::Hello { host: client, esmtp: true } => {
                let mut e = EhloReply {
                    domain: host.into(),
                    greeting: format!("greets {client}").into(),
                    capabilities: vec![],
                };
                for kw in ["8BITMIME", "SIZE", "DSN", "HELP"] {
                    e.capabilities.push(sansmail_smtp_proto::Capability::parse(kw).into_owned());
                }
                Some(e.to_reply())
            }
            Event::Recipient { to: ForwardPath::Mailbox(m), .. } if unknown.contains(&m.local_part.as_ref()) => {
                Some(Reply::basic(550, "No such user here"))
            }
            Event::Verify(who) if who == "Crispin" => Some(Reply::basic(250, "Mark Crispin <Admin.MRC@foo.com>")),
            Event::MailFrom { .. } | Event::Recipient { .. } | Event::MessageEnd { .. } => {
                Some(Reply::basic(250, "OK"))
            }
            _ => None,
        })
    }
}

/// D.1 A Typical SMTP Transaction Scenario.
#[test]
fn d1_typical_transaction() {
    let server = replay(
        &config("foo.com"),
        "
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<Smith@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@foo.com>
        S: 250 OK
        C: RCPT TO:<Green@foo.com>
        S: 550 No such user here
        C: RCPT TO:<Brown@foo.com>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
        ",
        &rfc_policy("foo.com", &["Green"]),
    );
    assert_eq!(server.messages, [b"Blah blah blah...\r\n..etc. etc. etc.\r\n".to_vec()]);
    assert!(server.session.is_closed());
}

/// D.2 Aborted SMTP Transaction Scenario.
#[test]
fn d2_aborted_transaction() {
    let server = replay(
        &config("foo.com"),
        "
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<Smith@bar.com>
        S: 250 OK
        C: RCPT TO:<Jones@foo.com>
        S: 250 OK
        C: RCPT TO:<Green@foo.com>
        S: 550 No such user here
        C: RSET
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
        ",
        &rfc_policy("foo.com", &["Green"]),
    );
    assert!(server.messages.is_empty());
    assert!(server.events.contains(&Event::Reset));
}

/// D.3 Relayed Mail Scenario (the relay's side: it receives the source-routed path).
#[test]
fn d3_relayed_mail() {
    let server = replay(
        &config("foo.com"),
        "
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: MAIL FROM:<JQP@bar.com>
        S: 250 OK
        C: RCPT TO:<@foo.com:Jones@XYZ.COM>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Date: Thu, 21 May 1998 05:33:29 -0700
        C: From: John Q. Public <JQP@bar.com>
        C: Subject: The Next Meeting of the Board
        C: To: Jones@xyz.com
        C:
        C: Bill:
        C: The next meeting of the board of directors will be
        C: on Tuesday.
        C: John.
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
        ",
        &rfc_policy("foo.com", &[]),
    );
    // The source route was dropped (RFC 5321 §4.1.1.3): the recipient is the final mailbox.
    let rcpt = server.events.iter().find_map(|e| match e {
        Event::Recipient { to, .. } => Some(to.clone()),
        _ => None,
    });
    assert_eq!(rcpt.unwrap().mailbox().unwrap().to_string(), "Jones@XYZ.COM");
    assert_eq!(server.messages.len(), 1);
    assert!(server.messages[0].ends_with(b"on Tuesday.\r\nJohn.\r\n"));
}

/// D.4 Verifying and Sending Scenario.
#[test]
fn d4_verify_and_send() {
    let cfg = {
        let mut conf = config("foo.com");
        conf.vrfy = true;
        conf
    };
    let server = replay(
        &cfg,
        "
        S: 220 foo.com Simple Mail Transfer Service Ready
        C: EHLO bar.com
        S: 250-foo.com greets bar.com
        S: 250-8BITMIME
        S: 250-SIZE
        S: 250-DSN
        S: 250 HELP
        C: VRFY Crispin
        S: 250 Mark Crispin <Admin.MRC@foo.com>
        C: MAIL FROM:<EAK@bar.com>
        S: 250 OK
        C: RCPT TO:<Admin.MRC@foo.com>
        S: 250 OK
        C: DATA
        S: 354 Start mail input; end with <CRLF>.<CRLF>
        C: Blah blah blah...
        C: ...etc. etc. etc.
        C: .
        S: 250 OK
        C: QUIT
        S: 221 foo.com Service closing transmission channel
        ",
        &rfc_policy("foo.com", &[]),
    );
    assert_eq!(server.messages.len(), 1);
}
