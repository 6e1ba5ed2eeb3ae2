//! SEARCH (RFC 3501 §6.4.4) over the selected folder, and the IMAP date forms: INTERNALDATE
//! (`dd-Mon-yyyy hh:mm:ss +0000`), APPEND's date-time, and SEARCH's dates (compared in UTC,
//! a choice RFC 3501 leaves to the server).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mail_parser::Message as Parsed;
use sansmail_imap_proto::command::{Date, SearchKey};
use sansmail_imap_proto::{datetime, sequence};

use super::message;
use super::store::{Flags, Message};

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `INTERNALDATE`: `17-Jul-1996 02:44:25 +0000`.
pub(crate) fn internal_date(t: SystemTime) -> String {
    datetime::format(unix(t))
}

/// APPEND's `date-time`, if it is one (and not before 1970).
pub(crate) fn parse_date_time(text: &[u8]) -> Option<SystemTime> {
    let secs = u64::try_from(datetime::parse(text)?).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn day_of(date: Date) -> i64 {
    datetime::days_from_civil(i64::from(date.year), u32::from(date.month), u32::from(date.day))
}

/// The texts of a message that SEARCH's text keys look in, lower-cased once.
struct Texts {
    /// Header fields, unfolded: names as sent, values lower-cased.
    fields: Vec<(String, String)>,
    /// The decoded (encoded words undone) values of FROM, TO, CC, BCC and SUBJECT.
    decoded: [String; 5],
    /// The decoded text parts.
    body: String,
    /// The whole message as text.
    raw: String,
    /// The day of the Date header, for SENT*.
    sent_day: Option<i64>,
}

const DECODED: [&str; 5] = ["From", "To", "Cc", "Bcc", "Subject"];

impl Texts {
    fn of(raw: &[u8]) -> Option<Self> {
        let m = message::parse(raw)?;
        let fields = message::top_fields(&m).into_iter().map(|(n, v)| (n, v.to_lowercase())).collect();
        Some(Self {
            fields,
            decoded: DECODED.map(|name| message::decoded_header(&m, name).to_lowercase()),
            body: message::body_text(&m).to_lowercase(),
            raw: String::from_utf8_lossy(raw).to_lowercase(),
            sent_day: sent_day(&m),
        })
    }
}

/// One message as SEARCH sees it; the file is read and parsed only if a key needs it, and
/// at most once however many keys do.
pub(crate) struct Candidate<'a> {
    pub(crate) seq: u32,
    pub(crate) msg: &'a Message,
    pub(crate) recent: bool,
    /// The largest sequence number and UID (what `*` means).
    pub(crate) max_seq: u32,
    pub(crate) max_uid: u32,
    /// The UIDs `$` names (SEARCHRES), ascending.
    pub(crate) saved: &'a [u32],
    texts: Option<Option<Texts>>,
}

impl<'a> Candidate<'a> {
    pub(crate) fn new(seq: u32, msg: &'a Message, recent: bool, max_seq: u32, max_uid: u32) -> Self {
        Self { seq, msg, recent, max_seq, max_uid, saved: &[], texts: None }
    }

    fn texts(&mut self) -> Option<&Texts> {
        let path = &self.msg.path;
        self.texts.get_or_insert_with(|| std::fs::read(path).ok().and_then(|raw| Texts::of(&raw))).as_ref()
    }
}

/// The number of keys in a SEARCH (NOT, OR and parentheses counted), so a server can bound
/// the work one command asks for.
pub(crate) fn key_count(keys: &[SearchKey<'_>]) -> usize {
    keys.iter()
        .map(|k| match k {
            SearchKey::Not(k) => 1 + key_count(std::slice::from_ref(k)),
            SearchKey::Or(a, b) => 1 + key_count(std::slice::from_ref(a)) + key_count(std::slice::from_ref(b)),
            SearchKey::And(keys) => 1 + key_count(keys),
            _ => 1,
        })
        .sum()
}

/// Whether the keys hold `MODSEQ` (RFC 7162 §3.1.5): the results then carry the highest
/// mod-sequence of the messages returned.
pub(crate) fn has_modseq(keys: &[SearchKey<'_>]) -> bool {
    keys.iter().any(|k| match k {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => has_modseq(std::slice::from_ref(k)),
        SearchKey::Or(a, b) => has_modseq(std::slice::from_ref(a)) || has_modseq(std::slice::from_ref(b)),
        SearchKey::And(keys) => has_modseq(keys),
        _ => false,
    })
}

/// Case-insensitive substring test against a lower-cased haystack.
fn contains_ci(lower_haystack: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    needle.is_empty() || lower_haystack.contains(&needle)
}

/// Whether every key matches (the top level of SEARCH is an AND).
pub(crate) fn matches_all(keys: &[SearchKey<'_>], c: &mut Candidate<'_>) -> bool {
    keys.iter().all(|k| matches(k, c))
}

fn with_texts(c: &mut Candidate<'_>, f: impl FnOnce(&Texts) -> bool) -> bool {
    c.texts().is_some_and(f)
}

fn sent_day(m: &Parsed<'_>) -> Option<i64> {
    let d = m.date()?;
    // The date as written in the header, its own zone kept (RFC 3501: disregarding time and timezone).
    Some(datetime::days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day)))
}

fn matches(key: &SearchKey<'_>, c: &mut Candidate<'_>) -> bool {
    let flags = c.msg.flags;
    let internal_day = unix(c.msg.internal).div_euclid(86_400);
    match key {
        SearchKey::All => true,
        SearchKey::Answered => flags.has(Flags::ANSWERED),
        SearchKey::Unanswered => !flags.has(Flags::ANSWERED),
        SearchKey::Deleted => flags.has(Flags::DELETED),
        SearchKey::Undeleted => !flags.has(Flags::DELETED),
        SearchKey::Draft => flags.has(Flags::DRAFT),
        SearchKey::Undraft => !flags.has(Flags::DRAFT),
        SearchKey::Flagged => flags.has(Flags::FLAGGED),
        SearchKey::Unflagged => !flags.has(Flags::FLAGGED),
        SearchKey::Seen => flags.has(Flags::SEEN),
        SearchKey::Unseen => !flags.has(Flags::SEEN),
        SearchKey::Recent => c.recent,
        SearchKey::Old => !c.recent,
        SearchKey::New => c.recent && !flags.has(Flags::SEEN),
        SearchKey::Keyword(k) => c.msg.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)),
        SearchKey::Unkeyword(k) => !c.msg.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)),
        SearchKey::Larger(n) => c.msg.size > u64::from(*n),
        SearchKey::Smaller(n) => c.msg.size < u64::from(*n),
        SearchKey::Before(d) => internal_day < day_of(*d),
        SearchKey::On(d) => internal_day == day_of(*d),
        SearchKey::Since(d) => internal_day >= day_of(*d),
        SearchKey::SentBefore(d) => with_texts(c, |t| t.sent_day.is_some_and(|s| s < day_of(*d))),
        SearchKey::SentOn(d) => with_texts(c, |t| t.sent_day == Some(day_of(*d))),
        SearchKey::SentSince(d) => with_texts(c, |t| t.sent_day.is_some_and(|s| s >= day_of(*d))),
        SearchKey::Uid(set) | SearchKey::Sequence(set) if sequence::is_saved(set) => {
            c.saved.binary_search(&c.msg.uid).is_ok()
        }
        SearchKey::Uid(set) => sequence::contains(set, c.msg.uid, c.max_uid),
        SearchKey::Sequence(set) => sequence::contains(set, c.seq, c.max_seq),
        SearchKey::Not(k) => !matches(k, c),
        SearchKey::Or(a, b) => matches(a, c) || matches(b, c),
        SearchKey::And(keys) => matches_all(keys, c),
        SearchKey::From(s) => header_has(c, "From", s),
        SearchKey::To(s) => header_has(c, "To", s),
        SearchKey::Cc(s) => header_has(c, "Cc", s),
        SearchKey::Bcc(s) => header_has(c, "Bcc", s),
        SearchKey::Subject(s) => header_has(c, "Subject", s),
        SearchKey::Header(name, s) => {
            let name = String::from_utf8_lossy(name).into_owned();
            with_texts(c, |t| {
                let mut values = t.fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(&name)).peekable();
                // HEADER name "" matches every message that has the field.
                values.peek().is_some() && (s.is_empty() || values.any(|(_, v)| contains_ci(v, s)))
            })
        }
        SearchKey::Body(s) => with_texts(c, |t| contains_ci(&t.body, s)),
        SearchKey::Text(s) => with_texts(c, |t| contains_ci(&t.body, s) || contains_ci(&t.raw, s)),
        // One mod-sequence per message serves every flag's entry (RFC 7162 §3.1.5).
        SearchKey::ModSeq { modseq, .. } => c.msg.modseq >= *modseq,
        _ => false,
    }
}

fn header_has(c: &mut Candidate<'_>, name: &str, s: &[u8]) -> bool {
    let i = DECODED.iter().position(|n| *n == name).unwrap_or(0);
    with_texts(c, |t| {
        contains_ci(&t.decoded[i], s) || t.fields.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && contains_ci(v, s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_320_000);
        assert_eq!(internal_date(t), "22-Nov-2026 04:00:00 +0000");
        assert_eq!(internal_date(UNIX_EPOCH), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(parse_date_time(b"22-Nov-2026 04:00:00 +0000"), Some(t));
        assert_eq!(parse_date_time(b" 1-Jan-1970 02:00:00 +0200"), Some(UNIX_EPOCH));
        assert_eq!(
            parse_date_time(b"29-Feb-2000 00:00:00 -0100").map(internal_date).as_deref(),
            Some("29-Feb-2000 01:00:00 +0000")
        );
        for bad in
            [&b"32-Jan-2000 00:00:00 +0000"[..], b"1-Foo-2000 00:00:00 +0000", b"1-Jan-2000 25:00:00 +0000", b"x"]
        {
            assert_eq!(parse_date_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keys_are_counted_through_not_or_and_parentheses() {
        let k = SearchKey::Or(
            Box::new(SearchKey::Not(Box::new(SearchKey::All))),
            Box::new(SearchKey::And(vec![SearchKey::Seen, SearchKey::Draft])),
        );
        assert_eq!(key_count(&[k, SearchKey::All]), 7);
    }
}
