//! Input corpora shared by the benches. Nothing here is published.

/// A realistic pipelined SMTP transaction: EHLO, MAIL with parameters, 50 RCPT (some with
/// DSN parameters), DATA, QUIT — the command lines a busy MX parses per message.
pub fn pipelined_transaction() -> Vec<u8> {
    let mut t = String::from("EHLO mail-sor-f41.google.com\r\n");
    t.push_str("MAIL FROM:<newsletter-bounces+user=example.org@lists.example.com> SIZE=48213 BODY=8BITMIME\r\n");
    for i in 0..50u32 {
        if i.is_multiple_of(5) {
            t.push_str(&format!(
                "RCPT TO:<recipient.number{i}@subdomain.example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;recipient.number{i}@subdomain.example.org\r\n"
            ));
        } else {
            t.push_str(&format!("RCPT TO:<user{i}.lastname@example.net>\r\n"));
        }
    }
    t.push_str("DATA\r\nQUIT\r\n");
    t.into_bytes()
}

/// A DATA body of about `size` octets as it crosses the wire: headers, quoted-printable
/// text of 76-column lines, a few transparency dots, a base64 attachment, then `.` CRLF.
pub fn data_body(size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size + 128);
    b.extend_from_slice(
        b"Received: from client.example (client.example [192.0.2.1])\r\n\tby mx.example with ESMTPS id 4F3k2; Sun, 22 Nov 2026 04:00:00 +0000\r\n\
          From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: Quarterly report\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
          Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    let text = b"The quick brown fox jumps over the lazy dog; numbers follow: 0123456789 ==";
    let b64 = b"TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZWxpdC4g";
    let mut i = 0usize;
    while b.len() < size {
        if i == 200 {
            b.extend_from_slice(b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        }
        if i.is_multiple_of(97) {
            // A line that starts with a dot, stuffed on the wire.
            b.extend_from_slice(b"..and a line that began with a dot\r\n");
        } else if i < 200 {
            b.extend_from_slice(text);
            b.extend_from_slice(b"\r\n");
        } else {
            b.extend_from_slice(b64);
            b.extend_from_slice(b"\r\n");
        }
        i += 1;
    }
    b.extend_from_slice(b".\r\n");
    b
}

/// The commands of a typical IMAP client session (a desktop client syncing a folder, then a
/// user reading, flagging, moving and saving a draft), each as sent on the wire; literals
/// are LITERAL+ (`{n+}`), as clients send them when the server offers it. Only commands
/// imap-codec 1.0 parses too (it has no ID, NAMESPACE, LIST-EXTENDED or UID EXPUNGE), so
/// both parsers get the same corpus.
pub fn imap_session_commands() -> Vec<Vec<u8>> {
    let draft = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Draft\r\n\r\nSee you at 10.\r\n";
    let mut c: Vec<String> = vec![
        "a1 CAPABILITY".into(),
        "a2 NOOP".into(),
        "a3 LOGIN \"alice@example.org\" \"correct horse battery staple\"".into(),
        "a4 ENABLE UTF8=ACCEPT".into(),
        "a5 SUBSCRIBE \"Archive.2026\"".into(),
        "a6 LIST \"\" \"*\"".into(),
        "a7 LSUB \"\" \"*\"".into(),
        "a8 STATUS \"Sent\" (MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY)".into(),
        "a9 SELECT INBOX".into(),
        "a10 UID FETCH 1:* (FLAGS)".into(),
        "a11 UID FETCH 4210:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])".into(),
        "a12 UID SEARCH UNSEEN UNDELETED SINCE 1-Nov-2026".into(),
        "a13 UID FETCH 4213 (UID RFC822.SIZE BODY.PEEK[])".into(),
        "a14 UID STORE 4213 +FLAGS (\\Seen)".into(),
        "a15 UID FETCH 4200:4220 (UID FLAGS ENVELOPE BODYSTRUCTURE INTERNALDATE)".into(),
        "a16 UID STORE 4190,4195:4199 +FLAGS.SILENT (\\Deleted $Junk)".into(),
        "a17 UID MOVE 4190,4195:4199 \"Junk\"".into(),
        "a18 UID COPY 4201 \"Archive.2026\"".into(),
        "a19 UID SEARCH OR FROM \"bob@example.net\" SUBJECT \"quarterly report\" NOT DELETED".into(),
        "a20 NOOP".into(),
        format!("a21 APPEND \"Drafts\" (\\Draft \\Seen) \"22-Nov-2026 10:00:00 +0000\" {{{}+}}\r\n{}", draft.len(), draft),
        "a22 EXPUNGE".into(),
        "a23 IDLE".into(),
        "a24 CLOSE".into(),
        "a25 LOGOUT".into(),
    ];
    for s in &mut c {
        s.push_str("\r\n");
    }
    c.into_iter().map(String::into_bytes).collect()
}
