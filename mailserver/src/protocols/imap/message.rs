//! What FETCH and SEARCH need from a message, computed with mail-parser: the ENVELOPE, the
//! BODYSTRUCTURE, sections by part number (RFC 3501 §6.4.5), transfer-decoded content for
//! BINARY (RFC 3516), and header values for SEARCH.

use std::borrow::Cow;
use std::num::NonZeroU32;

use base64::Engine as _;
use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use sansmail_imap_proto::command::{Section, SectionText};
use sansmail_imap_proto::response::{Address, BodyFields, BodyStructure, Disposition, Envelope, Extension, Param};

/// Parses a message (MIME and address headers).
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::new().with_mime_headers().with_address_headers().with_date_headers().parse(raw)
}

fn owned(s: &str) -> Option<Cow<'static, [u8]>> {
    Some(Cow::Owned(s.as_bytes().to_vec()))
}

/// Octets `a..b` of a message by mail-parser's offsets. The parts of an enclosed message
/// carry offsets into the outermost message while its `raw_message` is its own octets:
/// offsets are taken from where its root part starts (0 at the top, and for an enclosed
/// message that was transfer-encoded and parsed on its own).
fn span<'r>(m: &'r Message<'_>, a: u32, b: u32) -> &'r [u8] {
    let base = m.parts.first().map_or(0, |p| p.offset_header);
    let (a, b) = (a.saturating_sub(base) as usize, b.saturating_sub(base) as usize);
    m.raw_message().get(a..b).unwrap_or_default()
}

/// The header block of a part: blank line included.
fn header_block<'r>(m: &'r Message<'_>, part: &MessagePart<'_>) -> &'r [u8] {
    span(m, part.offset_header, part.offset_body)
}

/// The body of a part, as encoded.
fn body_of<'r>(m: &'r Message<'_>, part: &MessagePart<'_>) -> &'r [u8] {
    span(m, part.offset_body, part.offset_end)
}

/// A message's text: everything after its header, to its very end. A multipart root's
/// `offset_end` stops at its closing boundary, and so does an enclosed message's
/// `raw_message`; the epilogue and the last line end are text too. So the text of an
/// enclosed message is the enclosing part's body after the header, unless that body was
/// transfer-encoded (then the message was parsed on its own, and its octets are whole).
fn text_of<'r>(found: &Found<'r, '_>, m: &'r Message<'_>, root: &MessagePart<'_>, top: bool) -> &'r [u8] {
    let own = || {
        let base = m.parts.first().map_or(0, |p| p.offset_header);
        m.raw_message().get(root.offset_body.saturating_sub(base) as usize..).unwrap_or_default()
    };
    let Some(enclosing) = found.msg.parts.get(found.index).filter(|_| !top) else { return own() };
    let encoded = enclosing
        .content_transfer_encoding()
        .is_some_and(|c| c.eq_ignore_ascii_case("base64") || c.eq_ignore_ascii_case("quoted-printable"));
    if encoded {
        return own();
    }
    let header = root.offset_body.saturating_sub(root.offset_header) as usize;
    body_of(found.msg, enclosing).get(header..).unwrap_or_default()
}

/// Header fields of a block, unfolded: `(name, value)`, values trimmed.
pub(crate) fn fields(block: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                last.1.push_str(&text);
            }
        } else if let Some((name, value)) = text.split_once(':') {
            out.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    for f in &mut out {
        f.1 = f.1.trim().to_owned();
    }
    out
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A display name as an IMAP client expects it: ASCII as is, other text as an RFC 2047
/// encoded word (clients decode those).
fn display_name(name: &str) -> Cow<'static, [u8]> {
    if name.is_ascii() {
        Cow::Owned(name.as_bytes().to_vec())
    } else {
        Cow::Owned(format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(name)).into_bytes())
    }
}

fn addresses(value: Option<&HeaderValue<'_>>) -> Vec<Address<'static>> {
    let one = |name: Option<&str>, address: Option<&str>| {
        // An obsolete source route (`<@route:user@domain>`, RFC 5322 §4.4) is the `adl`.
        let (adl, address) = match address.and_then(|a| a.strip_prefix('@').and(a.split_once(':'))) {
            Some((route, rest)) => (owned(route), Some(rest)),
            None => (None, address),
        };
        let (mailbox, host) = match address.and_then(|a| a.rsplit_once('@')) {
            Some((l, d)) => (owned(l), owned(d)),
            None => (address.and_then(owned), None),
        };
        // A mailbox without a host would read as group syntax: give it an empty host.
        let host = host.or_else(|| mailbox.as_ref().map(|_| Cow::Borrowed(&b""[..])));
        Address { name: name.map(display_name), adl, mailbox, host }
    };
    let mut out = Vec::new();
    match value.and_then(HeaderValue::as_address) {
        Some(mail_parser::Address::List(list)) => {
            out.extend(list.iter().map(|a| one(a.name.as_deref(), a.address.as_deref())));
        }
        Some(mail_parser::Address::Group(groups)) => {
            for g in groups {
                if let Some(name) = &g.name {
                    out.push(Address { mailbox: owned(name), ..Address::default() });
                }
                // A comment alone (`group2: (foo) ;`) is no member.
                let members = g.addresses.iter().filter(|a| a.address.is_some());
                out.extend(members.map(|a| one(a.name.as_deref(), a.address.as_deref())));
                if g.name.is_some() {
                    out.push(Address::default());
                }
            }
        }
        None => {}
    }
    out
}

/// ENVELOPE of a message (RFC 3501 §7.4.2): Sender and Reply-To default to From.
pub(crate) fn envelope(msg: &Message<'_>) -> Envelope<'static> {
    let root = msg.root_part();
    let f = fields(header_block(msg, root));
    let text = |name: &str| field(&f, name).filter(|v| !v.is_empty()).and_then(owned);
    let list =
        |name: &str| addresses(root.headers.iter().find(|h| h.name().eq_ignore_ascii_case(name)).map(|h| h.value()));
    let from = list("From");
    let sender = list("Sender");
    let reply_to = list("Reply-To");
    Envelope {
        date: text("Date"),
        subject: text("Subject"),
        sender: if sender.is_empty() { from.clone() } else { sender },
        reply_to: if reply_to.is_empty() { from.clone() } else { reply_to },
        from,
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        in_reply_to: text("In-Reply-To"),
        message_id: text("Message-ID"),
    }
}

fn upper(s: &str) -> Cow<'static, [u8]> {
    Cow::Owned(s.to_ascii_uppercase().into_bytes())
}

fn params(ct: Option<&mail_parser::ContentType<'_>>) -> Vec<Param<'static>> {
    ct.and_then(|c| c.attributes())
        .map(|attrs| {
            attrs.iter().map(|a| (upper(&a.name), Cow::Owned(a.value.as_bytes().to_vec()))).collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

fn extension(part: &MessagePart<'_>) -> Extension<'static> {
    let language = match part.content_language() {
        HeaderValue::Text(t) => vec![Cow::Owned(t.as_bytes().to_vec())],
        HeaderValue::TextList(l) => l.iter().map(|t| Cow::Owned(t.as_bytes().to_vec())).collect(),
        _ => Vec::new(),
    };
    Extension {
        md5: None,
        disposition: part
            .content_disposition()
            .map(|d| Disposition { kind: upper(d.ctype()), params: params(Some(d)) }),
        language,
        location: part.content_location().and_then(owned),
    }
}

/// Text lines of a body: a last line without its line end still counts.
fn lines(body: &[u8]) -> u64 {
    let ends = body.iter().filter(|&&b| b == b'\n').count() as u64;
    ends + u64::from(body.last().is_some_and(|&b| b != b'\n'))
}

/// BODYSTRUCTURE of the part `index` of `msg` (0 is the root).
pub(crate) fn body_structure(msg: &Message<'_>, index: usize, depth: usize) -> BodyStructure<'static> {
    let Some(part) = msg.parts.get(index) else {
        return text_plain(0, 0);
    };
    let ct = part.content_type();
    let (ty, sub) = match ct {
        Some(c) => (c.ctype().to_owned(), c.subtype().unwrap_or("").to_owned()),
        None => ("text".to_owned(), "plain".to_owned()),
    };
    let body = body_of(msg, part);
    if let PartType::Multipart(children) = &part.body
        && depth < 32
    {
        let parts: Vec<_> = children.iter().map(|&c| body_structure(msg, c as usize, depth + 1)).collect::<Vec<_>>();
        if !parts.is_empty() {
            return BodyStructure::Multipart {
                parts,
                subtype: upper(if sub.is_empty() { "mixed" } else { &sub }),
                params: params(ct),
                extension: extension(part),
            };
        }
    }
    let mut p = params(ct);
    if ty.eq_ignore_ascii_case("text") && !p.iter().any(|(k, _)| k.as_ref() == b"CHARSET") {
        p.push((Cow::Borrowed(b"CHARSET"), Cow::Borrowed(b"us-ascii")));
    }
    let fields = BodyFields {
        params: p,
        id: part.content_id().map(|id| Cow::Owned(format!("<{id}>").into_bytes())),
        description: part.content_description().and_then(owned),
        encoding: upper(part.content_transfer_encoding().unwrap_or("7bit")),
        size: body.len() as u64,
    };
    if let PartType::Message(nested) = &part.body
        && depth < 32
    {
        return BodyStructure::Message {
            fields,
            envelope: Box::new(envelope(nested)),
            body: Box::new(body_structure(nested, 0, depth + 1)),
            lines: lines(body),
            extension: extension(part),
        };
    }
    let is_text = ty.eq_ignore_ascii_case("text");
    BodyStructure::Single {
        media_type: upper(&ty),
        subtype: upper(if sub.is_empty() { "plain" } else { &sub }),
        fields,
        lines: is_text.then(|| lines(body)),
        extension: extension(part),
    }
}

fn text_plain(size: u64, n: u64) -> BodyStructure<'static> {
    BodyStructure::Single {
        media_type: Cow::Borrowed(b"TEXT"),
        subtype: Cow::Borrowed(b"PLAIN"),
        fields: BodyFields {
            params: vec![(Cow::Borrowed(b"CHARSET"), Cow::Borrowed(b"us-ascii"))],
            id: None,
            description: None,
            encoding: Cow::Borrowed(b"7BIT"),
            size,
        },
        lines: Some(n),
        extension: Extension::default(),
    }
}

/// A part found by its number: the message it is in, and its index there.
struct Found<'m, 'x> {
    msg: &'m Message<'x>,
    index: usize,
}

/// Finds a part by number (RFC 3501 §6.4.5): the parts of a multipart are numbered from 1;
/// a non-multipart message's only part is 1; a message/rfc822 part's numbers go into the
/// enclosed message.
fn find<'m, 'x>(msg: &'m Message<'x>, path: &[NonZeroU32]) -> Option<Found<'m, 'x>> {
    let mut cur = Found { msg, index: 0 };
    let mut at_message_root = true;
    for n in path {
        let n = n.get() as usize;
        let part = cur.msg.parts.get(cur.index)?;
        match &part.body {
            PartType::Multipart(children) => {
                cur.index = *children.get(n - 1)? as usize;
                at_message_root = false;
            }
            PartType::Message(nested) if !at_message_root => {
                cur = Found { msg: nested, index: 0 };
                match &nested.parts.first()?.body {
                    PartType::Multipart(children) => cur.index = *children.get(n - 1)? as usize,
                    _ if n == 1 => {}
                    _ => return None,
                }
                at_message_root = false;
            }
            _ if n == 1 && at_message_root => at_message_root = false,
            _ => return None,
        }
    }
    Some(cur)
}

/// The enclosed message a HEADER/TEXT section of `found` refers to: the message itself at
/// the top, or a message/rfc822 part's content.
fn enclosed<'m, 'x>(found: &Found<'m, 'x>, top: bool) -> Option<&'m Message<'x>> {
    if top {
        return Some(found.msg);
    }
    match &found.msg.parts.get(found.index)?.body {
        PartType::Message(nested) => Some(nested),
        _ => None,
    }
}

/// Header fields of a block whose names are (or, with `not`, are not) in `names`, then the
/// blank line.
fn header_fields(block: &[u8], names: &[Cow<'_, [u8]>], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line[0] != b' ' && line[0] != b'\t' {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = name.trim_ascii();
            keep = names.iter().any(|n| n.eq_ignore_ascii_case(name)) != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The octets of `BODY[section]`; `None` when the section does not exist.
pub(crate) fn section(msg: &Message<'_>, section: &Section<'_>) -> Option<Vec<u8>> {
    let raw = msg.raw_message();
    let top = section.part.is_empty();
    let found = find(msg, &section.part)?;
    let part = found.msg.parts.get(found.index)?;
    match &section.text {
        None if top => Some(raw.to_vec()),
        None => Some(body_of(found.msg, part).to_vec()),
        Some(SectionText::Mime) => Some(header_block(found.msg, part).to_vec()),
        Some(text) => {
            let m = enclosed(&found, top)?;
            let root = m.parts.first()?;
            Some(match text {
                SectionText::Header => header_block(m, root).to_vec(),
                SectionText::HeaderFields { not, fields } => header_fields(header_block(m, root), fields, *not),
                _ => text_of(&found, m, root, top).to_vec(),
            })
        }
    }
}

/// `BINARY[part]`: the part's content with its transfer encoding undone; `None` when the
/// part does not exist or its encoding is unknown (`NO [UNKNOWN-CTE]`).
pub(crate) fn binary(msg: &Message<'_>, path: &[NonZeroU32]) -> Option<Vec<u8>> {
    if path.is_empty() {
        return Some(msg.raw_message().to_vec());
    }
    let found = find(msg, path)?;
    let part = found.msg.parts.get(found.index)?;
    let body = body_of(found.msg, part);
    let cte = part.content_transfer_encoding().unwrap_or("7bit").to_ascii_lowercase();
    match cte.as_str() {
        "7bit" | "8bit" | "binary" => Some(body.to_vec()),
        "base64" => {
            let clean: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(clean).ok()
        }
        "quoted-printable" => Some(quoted_printable(body)),
        _ => None,
    }
}

/// Undoes quoted-printable (RFC 2045 §6.7), line by line: whitespace at a line's end was
/// added in transport and goes; `=` at a line's end (whitespace after it allowed) is a soft
/// line break; `=XX` is an octet; any other `=` stays as it is. Hard line breaks come out
/// as CRLF.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let hard_break = lines.peek().is_some();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let end = line.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |p| p + 1);
        let (line, soft) = match line[..end].strip_suffix(b"=") {
            Some(kept) => (kept, true),
            None => (&line[..end], false),
        };
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            match (b, line.get(i + 1).copied().and_then(hex), line.get(i + 2).copied().and_then(hex)) {
                (b'=', Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if hard_break && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The text a SEARCH BODY key looks in: the decoded text parts, else the raw body.
pub(crate) fn body_text(msg: &Message<'_>) -> String {
    let mut text = String::new();
    for part in &msg.parts {
        if let PartType::Text(t) | PartType::Html(t) = &part.body {
            text.push_str(t);
            text.push('\n');
        }
    }
    text
}

/// Header fields of the message, unfolded, for SEARCH.
pub(crate) fn top_fields(msg: &Message<'_>) -> Vec<(String, String)> {
    fields(header_block(msg, msg.root_part()))
}

/// The decoded value of a header (encoded words undone) for SEARCH: subject and addresses.
pub(crate) fn decoded_header(msg: &Message<'_>, name: &str) -> String {
    let root = msg.root_part();
    let mut out = String::new();
    for h in root.headers.iter().filter(|h| h.name().eq_ignore_ascii_case(name)) {
        match h.value() {
            HeaderValue::Text(t) => out.push_str(t),
            HeaderValue::TextList(l) => out.push_str(&l.join(" ")),
            HeaderValue::Address(a) => {
                for addr in a.iter() {
                    if let Some(n) = &addr.name {
                        out.push_str(n);
                        out.push(' ');
                    }
                    if let Some(x) = &addr.address {
                        out.push_str(x);
                        out.push(' ');
                    }
                }
            }
            _ => {}
        }
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.net, Team: carol@example.net;\r\n\
Subject: =?utf-8?q?caf=C3=A9?= report\r\nMessage-ID: <m1@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 line one\r\nline two\r\n--b1\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\n\
AAECAw==\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@y.z\r\n\r\ninner body\r\n\
--b1--\r\n";

    fn n(v: &[u32]) -> Vec<NonZeroU32> {
        v.iter().map(|&x| NonZeroU32::new(x).unwrap()).collect()
    }

    #[test]
    fn envelope_fields_and_defaults() {
        let m = parse(MIXED).unwrap();
        let e = envelope(&m);
        assert_eq!(e.subject.as_deref(), Some(&b"=?utf-8?q?caf=C3=A9?= report"[..]), "raw, not decoded");
        assert_eq!(e.from.len(), 1);
        assert_eq!(e.from[0].mailbox.as_deref(), Some(&b"alice"[..]));
        assert_eq!(e.from[0].host.as_deref(), Some(&b"example.org"[..]));
        assert_eq!(e.sender, e.from, "Sender defaults to From");
        // bob, then the group: start (name), carol, end (all NIL).
        assert_eq!(e.to.len(), 4, "{:?}", e.to);
        assert_eq!(e.to[1].mailbox.as_deref(), Some(&b"Team"[..]));
        assert_eq!(e.to[1].host, None);
        assert_eq!(e.to[3], Address::default());
        assert_eq!(e.message_id.as_deref(), Some(&b"<m1@example.org>"[..]));
    }

    /// imaptest's `fetch-body-message-rfc822-mime`: the TEXT of an attached message whose
    /// body is a multipart runs to the message's end, epilogue and last line end included.
    #[test]
    fn text_of_a_multipart_message_keeps_its_epilogue() {
        let inner = "From: sub@domain.org\r\nContent-Type: multipart/digest; boundary=\"foo\"\r\n\r\n\
                     prologue\r\n\r\n--foo \r\n\r\nFrom: m1@example.com\r\n\r\nm1 body\r\n\r\n--foo--\r\n\r\nepilogue\r\n";
        let outer =
            format!("From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n{inner}");
        let m = parse(outer.as_bytes()).unwrap();
        let text = section(&m, &Section { part: n(&[1]), text: Some(SectionText::Text) }).unwrap();
        assert!(text.starts_with(b"prologue\r\n"), "{}", String::from_utf8_lossy(&text));
        assert!(text.ends_with(b"--foo--\r\n\r\nepilogue\r\n"), "{}", String::from_utf8_lossy(&text));
        // The same at the top: BODY[TEXT] of a multipart message keeps its epilogue.
        let m = parse(inner.as_bytes()).unwrap();
        let text = section(&m, &Section { part: n(&[]), text: Some(SectionText::Text) }).unwrap();
        assert!(text.ends_with(b"epilogue\r\n"), "{}", String::from_utf8_lossy(&text));
    }

    /// imaptest's `fetch-binary-mime-qp`: trailing whitespace dropped, soft line breaks with
    /// whitespace after the `=`, octets, and a lone `=` kept.
    #[test]
    fn quoted_printable_is_undone_as_rfc_2045_says() {
        let body = b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\n\
                     foo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n";
        let decoded = quoted_printable(body);
        assert_eq!(
            String::from_utf8_lossy(&decoded),
            "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"
        );
        assert_eq!(decoded.len(), 65);
        assert_eq!(quoted_printable(b"caf=C3=A9 = 1=\r\n=3D x=4"), "café = 1= x=4".as_bytes());
    }

    /// imaptest's `fetch-envelope`: groups empty or holding only a comment, and a route.
    #[test]
    fn envelope_groups_and_routes() {
        let m = parse(
            b"From: <@route:user@domain>\r\nTo: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\r\n\
              Cc: group:;, group2: (foo) ;\r\n\r\nbody\r\n",
        )
        .unwrap();
        let e = envelope(&m);
        let a = |mailbox: Option<&'static str>, host: Option<&'static str>| Address {
            mailbox: mailbox.map(|m| Cow::Borrowed(m.as_bytes())),
            host: host.map(|h| Cow::Borrowed(h.as_bytes())),
            ..Address::default()
        };
        assert_eq!(e.from[0].adl.as_deref(), Some(&b"@route"[..]));
        assert_eq!(
            (e.from[0].mailbox.as_deref(), e.from[0].host.as_deref()),
            (Some(&b"user"[..]), Some(&b"domain"[..]))
        );
        assert_eq!(
            e.to,
            [
                a(Some("group"), None),
                a(Some("g1"), Some("d1.org")),
                a(Some("g2"), Some("d2.org")),
                a(None, None),
                a(Some("group2"), None),
                a(Some("g3"), Some("d3.org")),
                a(None, None)
            ]
        );
        assert_eq!(e.cc, [a(Some("group"), None), a(None, None), a(Some("group2"), None), a(None, None)]);
    }

    #[test]
    fn structure_and_sections_by_part_number() {
        let m = parse(MIXED).unwrap();
        let BodyStructure::Multipart { parts, subtype, .. } = body_structure(&m, 0, 0) else { panic!() };
        assert_eq!(&*subtype, b"MIXED");
        assert_eq!(parts.len(), 3);
        assert!(matches!(&parts[0], BodyStructure::Single { lines: Some(2), .. }));
        assert!(matches!(&parts[2], BodyStructure::Message { .. }));
        let sec = |p: &[u32], text: Option<SectionText<'static>>| section(&m, &Section { part: n(p), text });
        assert_eq!(sec(&[1], None).unwrap(), b"caf=C3=A9 line one\r\nline two");
        assert!(sec(&[1], Some(SectionText::Mime)).unwrap().starts_with(b"Content-Type: text/plain"));
        assert_eq!(sec(&[3], Some(SectionText::Header)).unwrap(), b"Subject: inner\r\nFrom: x@y.z\r\n\r\n");
        assert_eq!(sec(&[3], Some(SectionText::Text)).unwrap(), b"inner body");
        assert_eq!(sec(&[3, 1], None).unwrap(), b"inner body");
        assert_eq!(sec(&[4], None), None);
        assert_eq!(sec(&[1], Some(SectionText::Header)), None, "HEADER of a non-message part");
        let fields = SectionText::HeaderFields { not: false, fields: vec![Cow::Borrowed(b"subject")] };
        assert_eq!(sec(&[], Some(fields)).unwrap(), b"Subject: =?utf-8?q?caf=C3=A9?= report\r\n\r\n");
        assert_eq!(sec(&[], None).unwrap(), MIXED);
        assert_eq!(binary(&m, &n(&[2])).unwrap(), [0, 1, 2, 3]);
        assert_eq!(binary(&m, &n(&[1])).unwrap(), "café line one\r\nline two".as_bytes());
    }

    #[test]
    fn a_single_part_message_is_part_one() {
        let raw = b"Subject: s\r\n\r\nhello\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(section(&m, &Section { part: n(&[1]), text: None }).unwrap(), b"hello\r\n");
        assert_eq!(section(&m, &Section { part: n(&[2]), text: None }), None);
        assert!(matches!(body_structure(&m, 0, 0), BodyStructure::Single { lines: Some(1), .. }));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // 3,000 nested multiparts, each with its own boundary.
        let mut raw = Vec::new();
        for i in 0..3000 {
            raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
        let m = parse(&raw).unwrap();
        let mut out = Vec::new();
        body_structure(&m, 0, 0).encode(&mut out, true);
        assert!(out.len() < 64 * 1024, "the structure is cut at 32 levels: {} octets", out.len());
        let _ = section(&m, &Section { part: n(&[1; 64]), text: None });
    }

    /// Messages made of MIME-ish pieces (boundaries, nested message/rfc822, bad encodings,
    /// truncation anywhere): whatever arrives by SMTP, FETCH must not panic on it.
    fn hostile_message() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(&b"Content-Type: multipart/mixed; boundary=b\r\n"[..]),
            Just(&b"Content-Type: message/rfc822\r\n"[..]),
            Just(&b"Content-Transfer-Encoding: base64\r\n"[..]),
            Just(&b"Content-Transfer-Encoding: quoted-printable\r\n"[..]),
            Just(&b"From: \"x\" <a@b>, g: c@d;\r\n"[..]),
            Just(&b"Subject: =?utf-8?q?=C3?=\r\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"--b\r\n"[..]),
            Just(&b"--b--\r\n"[..]),
            Just(&b"=4\r\nAAE=\r\n"[..]),
            Just(&b"\n\r\0\xff"[..]),
        ];
        (proptest::collection::vec(piece, 0..40), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(pieces, tail)| pieces.concat().into_iter().chain(tail).collect())
    }

    proptest::proptest! {
        #[test]
        fn fetch_data_never_panics(raw in hostile_message(), path in proptest::collection::vec(1u32..5, 0..5)) {
            let path = n(&path);
            if let Some(m) = parse(&raw) {
                let _ = envelope(&m);
                let _ = body_structure(&m, 0, 0);
                for text in [None, Some(SectionText::Header), Some(SectionText::Text), Some(SectionText::Mime)] {
                    let _ = section(&m, &Section { part: path.clone(), text });
                }
                let fields = SectionText::HeaderFields { not: true, fields: vec![Cow::Borrowed(b"from")] };
                let _ = section(&m, &Section { part: path.clone(), text: Some(fields) });
                let _ = binary(&m, &path);
                let _ = body_text(&m);
                let _ = decoded_header(&m, "From");
            }
        }
    }
}
