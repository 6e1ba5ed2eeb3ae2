//! SORT (RFC 5256 §3, with RFC 5957's DISPLAYFROM and DISPLAYTO): the messages SEARCH would
//! find, ordered by the criteria, ties by message number. Strings compare under
//! `i;ascii-casemap` (ASCII letters folded to upper case, octets otherwise); the subject by
//! its base subject (§2.1); addresses by the first address's mailbox; DATE by the sent date
//! in UTC, or the internal date when the message has none.

use std::cmp::Ordering;
use std::io;
use std::time::UNIX_EPOCH;

use mail_parser::{Address, HeaderValue, Message as Parsed};
use sansmail_imap_proto::command::{ReturnOption, SearchKey, SortCriterion, SortKey};
use sansmail_imap_proto::response::Data;

use super::commands::{Done, Selected, matching, ok};
use super::fetch;

/// What SORT and THREAD read of each message: its header, up to this many octets.
pub(super) const HEADER_LIMIT: u64 = 64 * 1024;

/// One sort key's value for one message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Number(i64),
    Text(Vec<u8>),
}

/// What one SORT asks.
pub(super) struct Sort<'c, 'a> {
    pub(super) uid: bool,
    pub(super) ret: Option<&'c [ReturnOption]>,
    pub(super) tag: &'c str,
    pub(super) criteria: &'c [SortCriterion],
    pub(super) keys: &'c [SearchKey<'a>],
}

/// SORT, or ESORT with RETURN; `command` is the command's octets, kept for RETURN (UPDATE).
pub(super) fn sort(sel: &mut Selected, cmd: &Sort<'_, '_>, command: &[u8], out: &mut Vec<u8>) -> io::Result<Done> {
    let Sort { uid, ret, tag, criteria, keys } = *cmd;
    let found = matching(sel, keys)?;
    // With MODSEQ among the keys, the results carry the highest (RFC 7162 §3.1.5).
    let modseq = super::condstore::result_modseq(found.iter().map(|(_, m)| m.modseq))
        .filter(|_| super::search::has_modseq(keys));
    let order = ordered(sel, criteria, found);
    let ids: Vec<u32> = order.iter().map(|&(seq, u)| if uid { u } else { seq }).collect();
    let Some((opts, tag)) = ret.zip(sansmail_imap_proto::Tag::new(tag).ok()) else {
        Data::Sort { ids, modseq }.encode(out);
        return Ok(ok(if uid { "UID SORT completed" } else { "SORT completed" }));
    };
    // ESORT (RFC 5267): MIN and MAX are numbers, ALL and PARTIAL keep the sorted order.
    let has = |o| opts.contains(&o);
    let partial = super::context::partial(opts, &ids);
    // SAVE (RFC 5182, RFC 5267 §3): `$` names the messages found.
    if has(ReturnOption::Save) {
        let mut uids: Vec<u32> = order.iter().map(|&(_, u)| u).collect();
        uids.sort_unstable();
        sel.saved = uids;
        if opts.iter().all(|o| *o == ReturnOption::Save) {
            return Ok(ok(if uid { "UID SORT completed" } else { "SORT completed" }));
        }
    }
    Data::ESearch {
        tag,
        uid,
        min: ids.iter().min().copied().filter(|_| has(ReturnOption::Min)),
        max: ids.iter().max().copied().filter(|_| has(ReturnOption::Max)),
        count: has(ReturnOption::Count).then_some(ids.len() as u32),
        all: (has(ReturnOption::All) && !ids.is_empty()).then(|| sansmail_imap_proto::sequence::ranges(&ids)),
        partial,
        add_to: Vec::new(),
        remove_from: Vec::new(),
        modseq,
    }
    .encode(out);
    if has(ReturnOption::Update) {
        let uids = order.iter().map(|&(_, u)| u).collect();
        super::context::keep(sel, tag.as_str(), uid, true, command, uids, out);
    }
    Ok(ok(if uid { "UID SORT completed" } else { "SORT completed" }))
}

/// The messages found, as (message number, UID), in the criteria's order.
pub(super) fn ordered(
    sel: &Selected,
    criteria: &[SortCriterion],
    found: Vec<(u32, super::store::Message)>,
) -> Vec<(u32, u32)> {
    let needs_content = criteria.iter().any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size));
    let mut rows: Vec<(Vec<Value>, u32, u32)> = Vec::with_capacity(found.len());
    for (seq, m) in found {
        let internal = m.internal.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        // A message gone meanwhile sorts on empty values; SEARCH would have listed it too.
        let raw = if needs_content {
            fetch::read_header(&sel.folder, m.uid, &m.path, HEADER_LIMIT).unwrap_or_default()
        } else {
            Vec::new()
        };
        let parsed = needs_content.then(|| parse(&raw)).flatten();
        let values = criteria
            .iter()
            .map(|c| match c.key {
                SortKey::Arrival => Value::Number(internal),
                SortKey::Size => Value::Number(m.size as i64),
                SortKey::Date => Value::Number(parsed.as_ref().and_then(sent_date).unwrap_or(internal)),
                SortKey::Subject => {
                    Value::Text(casemap(&base_subject(parsed.as_ref().and_then(Parsed::subject).unwrap_or(""))))
                }
                SortKey::From => Value::Text(casemap(&mailbox(parsed.as_ref(), "From"))),
                SortKey::To => Value::Text(casemap(&mailbox(parsed.as_ref(), "To"))),
                SortKey::Cc => Value::Text(casemap(&mailbox(parsed.as_ref(), "Cc"))),
                SortKey::DisplayFrom => Value::Text(casemap(&display(parsed.as_ref(), "From"))),
                SortKey::DisplayTo => Value::Text(casemap(&display(parsed.as_ref(), "To"))),
                // A key of a later release: no order of its own.
                _ => Value::Number(0),
            })
            .collect();
        rows.push((values, seq, m.uid));
    }
    rows.sort_by(|a, b| {
        for (i, c) in criteria.iter().enumerate() {
            let order = a.0[i].cmp(&b.0[i]);
            let order = if c.reverse { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.1.cmp(&b.1)
    });
    rows.into_iter().map(|(_, seq, u)| (seq, u)).collect()
}

/// The message with what SORT reads parsed: addresses, the date, and the subject with its
/// encoded words decoded.
fn parse(raw: &[u8]) -> Option<Parsed<'_>> {
    mail_parser::MessageParser::new()
        .with_address_headers()
        .with_date_headers()
        .header_text(mail_parser::HeaderName::Subject)
        .parse(raw)
}

/// `i;ascii-casemap`: ASCII letters in upper case.
fn casemap(s: &str) -> Vec<u8> {
    s.as_bytes().to_ascii_uppercase()
}

/// The sent date in Unix seconds (UTC), if the message has a valid one.
pub(super) fn sent_date(m: &Parsed<'_>) -> Option<i64> {
    m.date().filter(|d| d.is_valid()).map(mail_parser::DateTime::to_timestamp)
}

/// The addresses of the first header field `name`.
fn field<'m>(m: Option<&'m Parsed<'_>>, name: &str) -> Option<&'m Address<'m>> {
    m?.root_part().headers.iter().find(|h| h.name().eq_ignore_ascii_case(name)).and_then(|h| match h.value() {
        HeaderValue::Address(a) => Some(a),
        _ => None,
    })
}

/// The first address's mailbox (local part); a group's name when the field starts with one.
fn mailbox(m: Option<&Parsed<'_>>, name: &str) -> String {
    let local = |a: &str| a.rsplit_once('@').map_or(a, |(l, _)| l).to_owned();
    match field(m, name) {
        Some(Address::List(list)) => list.iter().find_map(|a| a.address.as_deref()).map(local).unwrap_or_default(),
        Some(Address::Group(groups)) => groups
            .first()
            .and_then(|g| {
                g.name.as_deref().map(str::to_owned).or_else(|| g.addresses.first()?.address.as_deref().map(local))
            })
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// RFC 5957: the first address's display name, else its address; a group's name when the
/// field starts with one.
fn display(m: Option<&Parsed<'_>>, name: &str) -> String {
    let shown = |a: &mail_parser::Addr<'_>| {
        a.name.as_deref().filter(|n| !n.trim().is_empty()).or(a.address.as_deref()).map(str::to_owned)
    };
    match field(m, name) {
        Some(Address::List(list)) => list.first().and_then(shown),
        Some(Address::Group(groups)) => groups.first().and_then(|g| {
            g.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .or_else(|| g.addresses.first().and_then(shown))
        }),
        None => None,
    }
    .unwrap_or_default()
}

/// The base subject (RFC 5256 §2.1) of a subject whose encoded words are already decoded.
pub(super) fn base_subject(subject: &str) -> String {
    base_subject_and_reply(subject).0
}

/// The base subject, and whether the subject was a reply or a forward (a `re`/`fw`/`fwd`
/// leader or a `[fwd: …]` was taken off: THREAD=REFERENCES §2.2 step 6 asks).
pub(super) fn base_subject_and_reply(subject: &str) -> (String, bool) {
    let mut reply = false;
    // (1) Runs of whitespace become one space. Every later step only narrows this slice, so
    // hostile subjects (thousands of leaders or blobs) cost linear time.
    let normalized: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: &str = &normalized;
    loop {
        // (2) Trailers: "(fwd)" and whitespace, from the end, as long as there are some.
        loop {
            s = s.trim_end();
            match s.len().checked_sub(5).filter(|&at| s.is_char_boundary(at)) {
                Some(at) if s[at..].eq_ignore_ascii_case("(fwd)") => s = &s[..at],
                _ => break,
            }
        }
        // (3)–(5) Leaders: `re`, `fw`, `fwd` (with blobs) and colon, and blobs, while any.
        loop {
            s = s.trim_start();
            let mut blobs = vec![s];
            while let Some(rest) = strip_blob(blobs[blobs.len() - 1]) {
                blobs.push(rest);
            }
            let after_blobs = blobs[blobs.len() - 1];
            if let Some(rest) = strip_refwd(after_blobs) {
                s = rest;
                reply = true;
                continue;
            }
            // No leader follows the blobs: they go (4), but the last stays if nothing is left
            // after it; nothing else can change here then.
            s = if after_blobs.is_empty() && blobs.len() > 1 { blobs[blobs.len() - 2] } else { after_blobs };
            break;
        }
        // (6) "[fwd: ...]" around it all: unwrap, and again from (2).
        if s.len() >= 6 && s.is_char_boundary(5) && s[..5].eq_ignore_ascii_case("[fwd:") && s.ends_with(']') {
            s = &s[5..s.len() - 1];
            reply = true;
            continue;
        }
        return (s.to_owned(), reply);
    }
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: what follows one, if `s` starts with one.
fn strip_blob(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('[')?;
    let end = rest.find(['[', ']'])?;
    rest[end..].strip_prefix(']').map(str::trim_start)
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`: what follows one, if `s`
/// starts with one.
fn strip_refwd(s: &str) -> Option<&str> {
    let word = ["re", "fwd", "fw"]
        .into_iter()
        .find(|w| s.len() >= w.len() && s.is_char_boundary(w.len()) && s[..w.len()].eq_ignore_ascii_case(w))?;
    let mut after = s[word.len()..].trim_start();
    if let Some(r) = strip_blob(after) {
        after = r;
    }
    after.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5256 §2.1's steps on the subjects of imaptest's `sort-subject` mailbox.
    #[test]
    fn base_subjects() {
        for (subject, base) in [
            ("a", "a"),
            ("Re: [FWD: c]", "c"),
            ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b"),
            ("b (a)", "b (a)"),
            ("[xyz]", "[xyz]"),
            (" ", ""),
            ("RE: C", "C"),
            ("Ad: Re: Ad: Re: Ad: x", "Ad: Re: Ad: Re: Ad: x"),
            ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon"),
            ("Re:  Re: \t hello\t (fwd) ", "hello"),
            ("[a][b] re: [c] fwd: subject", "subject"),
            ("[a] [b]", "[b]"),
            ("re: (fwd)", ""),
        ] {
            assert_eq!(base_subject(subject), base, "{subject:?}");
        }
        // Hostile subjects: tens of thousands of leaders, blobs or wrappers.
        assert_eq!(base_subject(&format!("{}x", "Re: ".repeat(20_000))), "x");
        assert_eq!(base_subject(&"[a]".repeat(20_000)), "[a]");
        assert_eq!(base_subject(&format!("{}x{}", "[fwd: ".repeat(5_000), "]".repeat(5_000))), "x");
        assert_eq!(base_subject(&format!("x{}", " (fwd)".repeat(20_000))), "x");
    }
}
