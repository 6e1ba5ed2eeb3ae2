//! Secrets never show in `Debug`: PASS and AUTH in commands, and in the session's events.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use sansmail_pop3_proto::Command;
use sansmail_pop3_proto::server::{ServerConfig, ServerSession};

#[test]
fn passwords_and_auth_data_are_redacted() {
    for line in ["PASS hunter2", "AUTH PLAIN AGFsaWNlAGh1bnRlcjI="] {
        let cmd = Command::parse_line(line.as_bytes()).unwrap();
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("AGFsaWNl"), "{shown}");
    }
    let config = {
        let mut conf = ServerConfig::default();
        conf.plaintext_without_tls = true;
        conf
    };
    let mut s = ServerSession::new(Arc::new(config), Instant::now(), false, None);
    let _ = s.handle_input(Instant::now(), b"USER alice\r\nPASS hunter2\r\n");
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    let shown = format!("{events:?}");
    assert!(shown.contains("Login") && !shown.contains("hunter2"), "{shown}");
}
