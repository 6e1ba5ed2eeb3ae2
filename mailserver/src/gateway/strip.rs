//! `strip_attachments`: a gateway's mail handed on without its attachments, each replaced
//! by a short text part naming what was removed. Everything else of the message keeps its
//! bytes (headers, the text and HTML bodies, the MIME structure and its boundaries), so
//! nothing a signature or the reader relies on changes more than the removal itself.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// The message without its attachments, or `None` when it has none (or cannot be read as
/// MIME: it is then handed on as it is).
pub(crate) fn strip_attachments(content: &[u8]) -> Option<Vec<u8>> {
    let message = MessageParser::default().parse(content)?;
    if message.attachments.is_empty() {
        return None;
    }
    let mut cuts: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for &id in &message.attachments {
        let part = message.parts.get(id as usize)?;
        let (start, body, end) = (part.offset_header as usize, part.offset_body as usize, part.offset_end as usize);
        if start > body || body > end || end > content.len() {
            return None;
        }
        let note = note(part, end - body);
        if id == 0 {
            // The whole message is one attachment: its own header keeps all but the
            // content fields (and the blank line that ends it), the note's follow.
            let header = &content[..body];
            let mut kept = Vec::with_capacity(header.len() + note.len());
            for field in fields(header) {
                let name = field.split(|&b| b == b':').next().unwrap_or_default();
                let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
                let blank = field.iter().all(|b| b.is_ascii_whitespace());
                if !blank && !name.starts_with("content-") {
                    kept.extend_from_slice(field);
                }
            }
            kept.extend_from_slice(&note);
            return Some(kept);
        }
        cuts.push((start, end, note));
    }
    cuts.sort_by_key(|c| c.0);
    let mut out = Vec::with_capacity(content.len());
    let mut at = 0;
    for (start, end, note) in cuts {
        if start < at {
            continue;
        }
        out.extend_from_slice(&content[at..start]);
        out.extend_from_slice(&note);
        at = end;
    }
    out.extend_from_slice(&content[at..]);
    Some(out)
}

/// The text part that stands for a removed attachment: its headers and body, ending where
/// the removed part's body ended (the CRLF before the next boundary is the boundary's).
fn note(part: &mail_parser::MessagePart<'_>, octets: usize) -> Vec<u8> {
    let name = part
        .attachment_name()
        .map(|n| n.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect::<String>());
    let kind = match &part.body {
        PartType::Message(_) => "message/rfc822".to_owned(),
        _ => part.content_type().map_or_else(
            || "application/octet-stream".to_owned(),
            |t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or("octet-stream")),
        ),
    };
    let kind: String = kind.chars().filter(|c| !c.is_control()).take(100).collect();
    let what = match name {
        Some(n) => format!("the attachment \"{n}\" ({kind}, {octets} octets)"),
        None => format!("an attachment ({kind}, {octets} octets)"),
    };
    format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\n\r\n\
         [The mail gateway removed {what} from this message.]\r\n"
    )
    .into_bytes()
}

/// The fields of a header block, each with its folded lines and line end (the blank line
/// that ends the block is its last "field").
fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(nl) = header[i..].iter().position(|&b| b == b'\n') {
        let next = i + nl + 1;
        let continues = header.get(next).is_some_and(|&b| b == b' ' || b == b'\t');
        if !continues {
            out.push(&header[start..next]);
            start = next;
        }
        i = next;
    }
    if start < header.len() {
        out.push(&header[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const MIXED: &str = "From: a@x.test\r\nTo: b@y.test\r\nSubject: report\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
        Content-Type: text/plain\r\n\r\nSee the attached.\r\n--b1\r\n\
        Content-Type: application/x-msdownload; name=\"run.exe\"\r\n\
        Content-Disposition: attachment; filename=\"run.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n\
        --b1--\r\nepilogue\r\n";

    #[test]
    fn an_attachment_becomes_a_note_and_the_rest_keeps_its_bytes() {
        let out = strip_attachments(MIXED.as_bytes()).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.contains("TVqQ"), "{text}");
        assert!(text.contains("removed the attachment \"run.exe\" (application/x-msdownload,"), "{text}");
        assert!(text.starts_with("From: a@x.test\r\nTo: b@y.test\r\nSubject: report\r\n"));
        assert!(text.contains("--b1\r\nContent-Type: text/plain\r\n\r\nSee the attached.\r\n--b1\r\n"));
        assert!(text.ends_with("\r\n--b1--\r\nepilogue\r\n"), "{text}");
        let parsed = MessageParser::default().parse(&out).unwrap();
        assert_eq!(parsed.attachments.len(), 0, "what stands in its place is a text part");
        assert_eq!(parsed.text_bodies().count(), 2);
    }

    #[test]
    fn a_message_that_is_one_attachment_keeps_its_header() {
        let m = "From: a@x.test\r\nSubject: x\r\nContent-Type: application/pdf;\r\n name=\"a.pdf\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n";
        let text = String::from_utf8(strip_attachments(m.as_bytes()).unwrap()).unwrap();
        assert!(text.starts_with("From: a@x.test\r\nSubject: x\r\nContent-Type: text/plain"), "{text}");
        assert!(!text.contains("JVBER") && !text.contains("base64") && !text.contains(" name="), "{text}");
    }

    #[test]
    fn plain_mail_and_nonsense_are_left_alone() {
        assert_eq!(strip_attachments(b"Subject: hi\r\n\r\nhello\r\n"), None);
        assert_eq!(strip_attachments(b""), None);
        let nested = "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\
                      Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n\
                      --a\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nsecret body\r\n--a--\r\n";
        let text = String::from_utf8(strip_attachments(nested.as_bytes()).unwrap()).unwrap();
        assert!(!text.contains("secret body") && text.contains("(message/rfc822,"), "{text}");
        assert!(text.contains("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"), "{text}");
    }
}
