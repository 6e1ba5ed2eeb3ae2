//! Secrets never show in `Debug`: LOGIN's password and AUTHENTICATE's data, in commands
//! and in the session's events.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use sansmail_imap_proto::Command;
use sansmail_imap_proto::server::{ServerConfig, ServerSession};

#[test]
fn passwords_and_auth_data_are_redacted() {
    for line in ["a LOGIN alice hunter2\r\n", "a AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"] {
        let cmd = Command::parse(line.as_bytes()).unwrap();
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("AGFsaWNl") && !shown.contains("104, 117"), "{shown}");
    }
    let config = {
        let mut conf = ServerConfig::default();
        conf.plaintext_without_tls = true;
        conf
    };
    let mut s = ServerSession::new(Arc::new(config), Instant::now(), false);
    let _ = s.handle_input(Instant::now(), b"a LOGIN alice hunter2\r\n");
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    let shown = format!("{events:?}");
    assert!(shown.contains("Login") && !shown.contains("104, 117, 110"), "{shown}");
}
