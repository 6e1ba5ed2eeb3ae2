//! A client session fed arbitrary server bytes in arbitrary pieces: no panic, bounded. With
//! `keep_open`, each finished transaction is followed by another (or QUIT).
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sansmail_smtp_proto::client::{ClientConfig, ClientEvent, ClientSession, Credentials, Envelope};
use sansmail_smtp_proto::command::{MailParams, RcptParams};
use sansmail_smtp_proto::{ForwardPath, Mailbox, ReversePath};

#[derive(Arbitrary, Debug)]
struct Input {
    auth: bool,
    keep_open: bool,
    body: Vec<u8>,
    reads: Vec<(u8, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mb = |s: &[u8]| Mailbox::parse(s).expect("valid").into_owned();
    let make = || Envelope {
        from: ReversePath::Mailbox(mb(b"a@client.test")),
        params: MailParams { size: Some(input.body.len() as u64), ..MailParams::default() },
        recipients: vec![
            (ForwardPath::Mailbox(mb(b"b@server.test")), RcptParams::default()),
            (ForwardPath::Postmaster, RcptParams::default()),
        ],
    };
    let mut config = ClientConfig::default();
    config.credentials = input.auth.then(|| Credentials { username: "u".into(), password: "p".into() });
    config.plaintext_auth = true;
    config.keep_open = input.keep_open;
    let envelope = make();
    let mut now = Instant::now();
    let mut c = ClientSession::new(config, envelope, now, false).expect("valid envelope");
    let mut out = Vec::new();
    for (tick, data) in &input.reads {
        now += Duration::from_secs(u64::from(*tick) * 10);
        c.handle_timeout(now);
        assert_eq!(c.handle_input(now, data), data.len());
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::StartTls => c.handle_tls_established(now),
                ClientEvent::ReadyForBody => {
                    let _ = c.write_body(&input.body).expect("ready");
                    c.finish_body(now).expect("ready");
                }
                ClientEvent::Done(_) if c.is_idle() => {
                    if *tick % 2 == 0 {
                        c.next_transaction(now, make()).expect("idle, valid envelope");
                    } else {
                        c.quit(now);
                    }
                }
                _ => {}
            }
        }
        c.poll_transmit(&mut out);
        out.clear();
        if c.is_closed() {
            break;
        }
    }
    c.handle_eof();
    while c.poll_event().is_some() {}
});
