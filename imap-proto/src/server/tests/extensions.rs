//! Transcripts of the extensions the session itself takes part in: QRESYNC's gate and
//! CLOSED, COMPRESS.

use super::*;

/// QRESYNC's parameters are refused until ENABLE QRESYNC (RFC 7162 §3.2.5, §3.2.6), which
/// turns CONDSTORE on too; a SELECT while a mailbox is selected first closes it (`[CLOSED]`).
#[test]
fn qresync_needs_enable_and_select_closes_the_mailbox() {
    let make = || {
        let mut config = ServerConfig { plaintext_without_tls: true, ..embedder_config() };
        config.enable = vec!["CONDSTORE".into(), "QRESYNC".into()];
        Harness::new(config, false)
    };
    check(
        make,
        &format!(
            "S: * OK [CAPABILITY {CAPS_PLAIN}] IMAP server ready
             C: a LOGIN mrc secret
             S: a OK [CAPABILITY {CAPS_AFTER}] Logged in
             C: b SELECT INBOX (QRESYNC (1 5))
             S: b BAD QRESYNC is not enabled
             C: c ENABLE QRESYNC
             S: * ENABLED QRESYNC
             S: c OK ENABLE completed
             C: d SELECT INBOX (QRESYNC (1 5))
             S: * 18 EXISTS
             S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
             S: * 2 RECENT
             S: * OK [UNSEEN 17] Message 17 is the first unseen message
             S: * OK [UIDVALIDITY 3857529045] UIDs valid
             S: d OK [READ-WRITE] SELECT completed
             C: e EXAMINE INBOX
             S: * OK [CLOSED] Previous mailbox closed
             S: * 18 EXISTS
             S: e OK [READ-ONLY] EXAMINE completed"
        ),
    );
    let mut h = make();
    h.feed(b"a LOGIN mrc secret\r\nb ENABLE QRESYNC\r\n");
    assert!(h.session.is_enabled("condstore") && h.session.is_enabled("QRESYNC"));
    let mut h = make();
    h.feed(b"a LOGIN mrc secret\r\nb SELECT INBOX\r\nc UID FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)\r\n");
    assert!(h.wire().ends_with("c BAD QRESYNC is not enabled\r\n"), "{}", h.wire());
    assert!(!h.session.is_enabled("CONDSTORE"));
    h.session.mark_enabled("condstore");
    assert!(h.session.is_enabled("CONDSTORE"));
}

/// COMPRESS DEFLATE (RFC 4978): offered once logged in, when the embedder does it; its OK
/// is the last output before compression; a second one is refused.
#[test]
fn compress_deflate_once_after_login() {
    let make =
        || Harness::new(ServerConfig { plaintext_without_tls: true, compress: true, ..embedder_config() }, false);
    let mut h = make();
    h.feed(b"a COMPRESS DEFLATE\r\nb LOGIN mrc secret\r\nc COMPRESS LZW\r\nd COMPRESS DEFLATE\r\n");
    let wire = h.wire();
    assert!(wire.contains("a BAD Not authenticated\r\n"), "{wire}");
    let after = CAPS_AFTER.replace(" IDLE ", " IDLE COMPRESS=DEFLATE ");
    assert!(wire.contains(&format!("b OK [CAPABILITY {after}] Logged in\r\n")), "{wire}");
    assert!(wire.contains("c BAD Unknown compression algorithm\r\n"), "{wire}");
    assert!(wire.ends_with("d OK DEFLATE active\r\n"), "{wire}");
    assert_eq!(h.events.iter().filter(|e| matches!(e, Event::Compress)).count(), 1);
    // From here the embedder inflates: the session reads plain commands again.
    h.feed(b"e COMPRESS DEFLATE\r\nf CAPABILITY\r\n");
    let wire = h.wire();
    assert!(wire.contains("e NO [COMPRESSIONACTIVE] Compression is already active\r\n"), "{wire}");
    assert!(wire.contains(&format!("* CAPABILITY {CAPS_AFTER}\r\n")), "no longer offered: {wire}");
    // Not offered, not taken.
    let mut h = Harness::plaintext();
    h.feed(b"a LOGIN mrc secret\r\nb COMPRESS DEFLATE\r\n");
    assert!(h.wire().ends_with("b BAD COMPRESS not available\r\n"), "{}", h.wire());
}
