//! A group's pack files: articles appended one after another, each as one record (its
//! number, length, arrival and message-id on a first line, then its bytes), in files named
//! by the first number they hold. A file per article costs an inode per article, which
//! on a busy file system is most of the cost of taking an article in; a pack costs an
//! append, and one `fdatasync` makes every article appended since the last one durable.
//! Records describe themselves, so the overview can always be rebuilt from the packs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A record's first line starts with this.
const MAGIC: &[u8] = b"@sansmail-article ";

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record<'a> {
    pub(super) number: u64,
    pub(super) message_id: &'a str,
    pub(super) arrived: SystemTime,
    /// Where the article's bytes start in the file, and the bytes.
    pub(super) offset: u64,
    pub(super) bytes: &'a [u8],
}

/// Appends the record for an article to `out`: its first line, then the bytes and a line
/// end. Returns where the bytes start in `out`.
pub(super) fn encode(out: &mut Vec<u8>, number: u64, message_id: &str, arrived: SystemTime, bytes: &[u8]) -> u64 {
    let arrived = arrived.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(format!("{number} {} {arrived} {message_id}\n", bytes.len()).as_bytes());
    let at = out.len() as u64;
    out.extend_from_slice(bytes);
    out.push(b'\n');
    at
}

/// The whole records of a pack, in order, and where the last whole one ends: what follows
/// is a torn record (the process died while appending it, before any sync) or nothing.
pub(super) fn parse(data: &[u8]) -> (Vec<Record<'_>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((r, end)) = parse_one(data, at) {
        records.push(r);
        at = end;
    }
    (records, at)
}

fn parse_one(data: &[u8], at: usize) -> Option<(Record<'_>, usize)> {
    let rest = data.get(at..)?.strip_prefix(MAGIC)?;
    let eol = memchr::memchr(b'\n', rest)?;
    let line = std::str::from_utf8(&rest[..eol]).ok()?;
    let mut f = line.split(' ');
    let number: u64 = f.next()?.parse().ok()?;
    let len: usize = f.next()?.parse().ok()?;
    let arrived = UNIX_EPOCH + Duration::from_secs(f.next()?.parse().ok()?);
    let message_id = f.next()?;
    let start = at + MAGIC.len() + eol + 1;
    let bytes = data.get(start..start.checked_add(len)?)?;
    if data.get(start + len) != Some(&b'\n') {
        return None;
    }
    Some((Record { number, message_id, arrived, offset: start as u64, bytes }, start + len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let when = UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let mut out = Vec::new();
        let a = encode(&mut out, 7, "<1@x>", when, b"Xref: h g:7\r\n\r\nbody\n\r\n");
        let first_end = out.len();
        let b = encode(&mut out, 8, "<2@x>", when, b"two");
        let (records, end) = parse(&out);
        assert_eq!(end, out.len());
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].number, records[0].message_id, records[0].offset), (7, "<1@x>", a));
        assert_eq!((records[1].bytes, records[1].offset, records[1].arrived), (&b"two"[..], b, when));
        for cut in first_end..out.len() {
            let (whole, end) = parse(&out[..cut]);
            assert_eq!((whole.len(), end), (1, first_end), "cut at {cut}");
        }
        assert_eq!(parse(b"garbage\n").0.len(), 0);
    }
}
