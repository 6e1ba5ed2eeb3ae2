//! Secrets never show in `Debug`: AUTH's initial response in the command, and the SASL
//! data in the server session's events.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Instant;

use sansmail_smtp_proto::server::{Event, ServerConfig, ServerSession};
use sansmail_smtp_proto::{Command, Mechanism};

#[test]
fn auth_data_is_redacted() {
    // "\0alice\0hunter2"
    let ir = "AGFsaWNlAGh1bnRlcjI=";
    let line = format!("AUTH PLAIN {ir}\r\n");
    let (cmd, _) = Command::parse(line.as_bytes()).unwrap().complete().unwrap();
    let shown = format!("{cmd:?}");
    assert!(!shown.contains(ir) && shown.contains("<redacted>"), "{shown}");

    let config = {
        let mut conf = ServerConfig::default();
        conf.auth_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        conf.auth_requires_tls = false;
        conf
    };
    let mut s = ServerSession::new(std::sync::Arc::new(config), Instant::now(), false);
    let _ = s.handle_input(Instant::now(), format!("EHLO c\r\nAUTH PLAIN {ir}\r\n").as_bytes());
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        if matches!(e, Event::Hello { .. }) {
            let _ = s.accept();
        }
        events.push(e);
    }
    let _ = s.handle_input(Instant::now(), b"");
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    let start = events.iter().find(|e| matches!(e, Event::AuthStart { .. })).unwrap();
    let Event::AuthStart { initial_response: Some(data), .. } = start else { panic!() };
    assert_eq!(data.expose(), b"\0alice\0hunter2");
    let shown = format!("{events:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("104, 117, 110"), "{shown}");
}
