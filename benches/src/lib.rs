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
