//! The spool's text formats: an article's overview entry from its header, and the
//! overview file's lines (the OVER fields, the arrival time, the article's place in its
//! pack).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sansmail_nntp_proto::overview::{Overview, write_field};

use super::{Entry, Place, unix};

/// The article without an `Xref` field of its own (a server's Xref is its own to write).
pub(super) fn strip_xref(article: &[u8]) -> &[u8] {
    if article.len() >= 5 && article[..5].eq_ignore_ascii_case(b"Xref:") {
        // Only a leading Xref is dropped here; the poster-side checks refuse others.
        let end = memchr::memmem::find(article, b"\r\n").map_or(article.len(), |p| p + 2);
        return &article[end..];
    }
    article
}

/// The overview of an article.
pub(super) fn entry_of(number: u64, raw: &[u8], arrived: SystemTime) -> Entry {
    let header_end = memchr::memmem::find(raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let (head, body) = raw.split_at(header_end);
    let field = |name: &str| -> String {
        let mut out = Vec::new();
        if let Some(v) = header_value(head, name) {
            write_field(&mut out, &v);
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let lines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    Entry {
        number,
        subject: field("Subject"),
        from: field("From"),
        date: field("Date"),
        message_id: field("Message-ID"),
        references: field("References"),
        bytes: raw.len() as u64,
        lines,
        xref: field("Xref"),
        arrived,
        at: Place::default(),
    }
}

/// A header field's value, folded lines joined, from a header block.
pub(crate) fn header_value(head: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut value: Option<Vec<u8>> = None;
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = value.as_mut() {
            if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                v.push(b' ');
                v.extend_from_slice(line.trim_ascii());
                continue;
            }
            return value;
        }
        if line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()] == b':'
        {
            value = Some(line[name.len() + 1..].trim_ascii().to_vec());
        }
    }
    value
}

/// An overview file line: the OVER line's fields, the arrival time, and where the article
/// is (pack, offset, length).
pub(super) fn format_entry(e: &Entry) -> String {
    let mut line = Vec::new();
    e.overview().encode(&mut line);
    line.truncate(line.len() - 2);
    format!("{}\t{}\t{} {} {}\n", String::from_utf8_lossy(&line), unix(e.arrived), e.at.pack, e.at.offset, e.at.len)
}

pub(super) fn parse_entry(line: &str) -> Option<Entry> {
    let (rest, at) = line.rsplit_once('\t')?;
    let mut p = at.split(' ').map(str::parse::<u64>);
    let (Some(Ok(pack)), Some(Ok(offset)), Some(Ok(len)), None) = (p.next(), p.next(), p.next(), p.next()) else {
        return None;
    };
    let (over, arrived) = rest.rsplit_once('\t')?;
    let o = Overview::parse(over.as_bytes())?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(Entry {
        number: o.number,
        subject: text(o.subject),
        from: text(o.from),
        date: text(o.date),
        message_id: text(o.message_id),
        references: text(o.references),
        bytes: o.bytes,
        lines: o.lines,
        xref: text(o.xref),
        arrived: UNIX_EPOCH + Duration::from_secs(arrived.parse().ok()?),
        at: Place { pack, offset, len },
    })
}
