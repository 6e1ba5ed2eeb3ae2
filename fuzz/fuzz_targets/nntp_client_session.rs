//! An NNTP client session fed arbitrary server octets in arbitrary pieces after pipelined
//! commands (reader and feeder): no panic, and the status line held stays within its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansmail_nntp_proto::client::{ClientEvent, ClientSession};
use sansmail_nntp_proto::command::{ArticleRef, ListKeyword};
use sansmail_nntp_proto::Command;

fuzz_target!(|pieces: Vec<Vec<u8>>| {
    let mut c = ClientSession::new();
    let _ = c.send(&Command::List(ListKeyword::Active(None)));
    let _ = c.send(&Command::Article(Some(ArticleRef::Number(1))));
    let _ = c.send(&Command::Post);
    let _ = c.takethis("<t@x>", b"Path: a\r\n\r\n.b\r\n");
    let mut out = Vec::new();
    for piece in &pieces {
        assert_eq!(c.handle_input(piece), piece.len());
        while let Some(e) = c.poll_event() {
            if let ClientEvent::Response { code: 340, .. } = e {
                let _ = c.article(piece);
                let _ = c.article_end();
            }
        }
        c.poll_transmit(&mut out);
        out.clear();
    }
});
