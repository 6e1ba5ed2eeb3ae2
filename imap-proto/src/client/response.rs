//! Reading one framed server response (RFC 9051 §7, RFC 3501 §7) into what a client acts
//! on: status responses with their codes, the data a collecting client needs (CAPABILITY,
//! EXISTS, EXPUNGE, FLAGS, SEARCH, FETCH with its items), and anything else kept raw.

use crate::lex::Cursor;

/// A status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum State {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// `OK`/`NO`/`BAD`/`BYE`/`PREAUTH` with its response code and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    /// The status word.
    pub state: State,
    /// The response code without its brackets (`UIDVALIDITY 3`, `CAPABILITY IMAP4rev1 …`).
    pub code: Option<String>,
    /// The human-readable text.
    pub text: String,
}

/// One item of a FETCH response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchItem {
    /// `UID n`.
    Uid(u32),
    /// `RFC822.SIZE n`.
    Size(u64),
    /// `FLAGS (…)`.
    Flags(Vec<String>),
    /// `INTERNALDATE "…"`.
    InternalDate(String),
    /// `BODY[section]<origin>`, `BINARY[…]`, `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`: the
    /// name as sent (`BODY[]`, `BODY[HEADER]`, `RFC822`) and the octets (`None` for NIL).
    Body {
        /// The item's name with its section.
        name: String,
        /// Its content.
        data: Option<Vec<u8>>,
    },
    /// Any other item: its name (its value skipped).
    Other(String),
}

/// Untagged data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Untagged {
    /// `* OK/NO/BAD/BYE/PREAUTH …`.
    Status(StatusLine),
    /// `* CAPABILITY …`.
    Capability(Vec<String>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT`.
    Recent(u32),
    /// `* n EXPUNGE`.
    Expunge(u32),
    /// `* FLAGS (…)`.
    Flags(Vec<String>),
    /// `* SEARCH n …` (numbers or UIDs, as asked).
    Search(Vec<u32>),
    /// `* n FETCH (…)`.
    Fetch {
        /// The message's sequence number.
        seq: u32,
        /// Its items, in the server's order.
        items: Vec<FetchItem>,
    },
    /// Anything else, as received.
    Other(Vec<u8>),
}

/// One parsed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    Continuation(String),
    Untagged(Untagged),
    Tagged(String, StatusLine),
}

/// Why a response could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Malformed;

/// Parses a whole response (as the framer gives it, CRLF included).
pub(super) fn parse(response: &[u8]) -> Result<Parsed, Malformed> {
    let mut c = Cursor::new(response);
    if c.eat(b'+') {
        c.eat(b' ');
        return Ok(Parsed::Continuation(line_text(c.rest())));
    }
    if c.eat(b'*') {
        c.sp().map_err(|_| Malformed)?;
        return Ok(Parsed::Untagged(untagged(&mut c, response)));
    }
    let tag = c.tag().map_err(|_| Malformed)?.to_owned();
    c.sp().map_err(|_| Malformed)?;
    let status = status_line(&mut c).ok_or(Malformed)?;
    Ok(Parsed::Tagged(tag, status))
}

fn line_text(rest: &[u8]) -> String {
    let end = rest.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).into_owned()
}

/// `OK [code] text` and the like, at the cursor.
fn status_line(c: &mut Cursor<'_>) -> Option<StatusLine> {
    let word = c.atom().ok()?;
    let state = match word.to_ascii_uppercase().as_str() {
        "OK" => State::Ok,
        "NO" => State::No,
        "BAD" => State::Bad,
        "BYE" => State::Bye,
        "PREAUTH" => State::Preauth,
        _ => return None,
    };
    c.eat(b' ');
    let rest = c.rest();
    let (code, text) = match rest.strip_prefix(b"[") {
        Some(inner) => {
            let close = inner.iter().position(|&b| b == b']')?;
            let code = String::from_utf8_lossy(&inner[..close]).into_owned();
            let after = &inner[close + 1..];
            (Some(code), line_text(after.strip_prefix(b" ").unwrap_or(after)))
        }
        None => (None, line_text(rest)),
    };
    Some(StatusLine { state, code, text })
}

fn untagged(c: &mut Cursor<'_>, raw: &[u8]) -> Untagged {
    let start = c.clone();
    if let Some(s) = status_line(c) {
        return Untagged::Status(s);
    }
    *c = start.clone();
    let other = || Untagged::Other(raw.to_vec());
    if let Ok(n) = c.number() {
        if c.sp().is_err() {
            return other();
        }
        let Ok(word) = c.atom() else { return other() };
        return match word.to_ascii_uppercase().as_str() {
            "EXISTS" => Untagged::Exists(n),
            "RECENT" => Untagged::Recent(n),
            "EXPUNGE" => Untagged::Expunge(n),
            "FETCH" if c.sp().is_ok() => fetch(c).map_or_else(other, |items| Untagged::Fetch { seq: n, items }),
            _ => other(),
        };
    }
    let Ok(word) = c.atom() else { return other() };
    match word.to_ascii_uppercase().as_str() {
        "CAPABILITY" => Untagged::Capability(words(c.rest())),
        "SEARCH" => {
            let mut found = Vec::new();
            while c.eat(b' ') {
                match c.number() {
                    Ok(n) => found.push(n),
                    // `(MODSEQ n)` and the like end the list.
                    Err(_) => break,
                }
            }
            Untagged::Search(found)
        }
        "FLAGS" if c.sp().is_ok() => flag_list(c).map_or_else(other, Untagged::Flags),
        _ => other(),
    }
}

fn words(rest: &[u8]) -> Vec<String> {
    line_text(rest).split_ascii_whitespace().map(str::to_owned).collect()
}

/// `(flag …)`.
fn flag_list(c: &mut Cursor<'_>) -> Option<Vec<String>> {
    if !c.eat(b'(') {
        return None;
    }
    let rest = c.rest();
    let close = rest.iter().position(|&b| b == b')')?;
    let flags = String::from_utf8_lossy(&rest[..close]).split_ascii_whitespace().map(str::to_owned).collect();
    c.advance(close + 1);
    Some(flags)
}

/// `(item value …)`.
fn fetch(c: &mut Cursor<'_>) -> Option<Vec<FetchItem>> {
    if !c.eat(b'(') {
        return None;
    }
    let mut items = Vec::new();
    loop {
        if c.eat(b')') {
            return Some(items);
        }
        if !items.is_empty() {
            c.sp().ok()?;
        }
        let name = item_name(c)?;
        c.sp().ok()?;
        let upper = name.to_ascii_uppercase();
        let item = match upper.as_str() {
            "UID" => FetchItem::Uid(c.number().ok()?),
            "RFC822.SIZE" => FetchItem::Size(c.number64().ok()?),
            "FLAGS" => FetchItem::Flags(flag_list(c)?),
            "INTERNALDATE" => FetchItem::InternalDate(String::from_utf8_lossy(&c.quoted().ok()?).into_owned()),
            _ if upper.starts_with("BODY[") || upper.starts_with("BINARY[") || upper.starts_with("RFC822") => {
                let data = c.nstring().ok()?.map(|d| d.into_owned());
                FetchItem::Body { name, data }
            }
            _ => {
                skip_value(c, 0)?;
                FetchItem::Other(name)
            }
        };
        items.push(item);
    }
}

/// A FETCH item's name: an atom, with `[section]` and `<origin>` when it has them.
fn item_name(c: &mut Cursor<'_>) -> Option<String> {
    let rest = c.rest();
    let mut end = rest.iter().position(|&b| matches!(b, b' ' | b'[' | b')' | b'\r' | b'\n'))?;
    if rest.get(end) == Some(&b'[') {
        end += rest[end..].iter().position(|&b| b == b']')? + 1;
        if rest.get(end) == Some(&b'<') {
            end += rest[end..].iter().position(|&b| b == b'>')? + 1;
        }
    }
    if end == 0 {
        return None;
    }
    let name = String::from_utf8_lossy(&rest[..end]).into_owned();
    c.advance(end);
    Some(name)
}

/// Skips a value: a number, atom, string, NIL, or a parenthesised list of them (bounded
/// in depth).
fn skip_value(c: &mut Cursor<'_>, depth: usize) -> Option<()> {
    if depth > crate::lex::MAX_DEPTH {
        return None;
    }
    match c.rest().first()? {
        b'(' => {
            c.advance(1);
            let mut first = true;
            loop {
                if c.eat(b')') {
                    return Some(());
                }
                if !first {
                    c.sp().ok()?;
                }
                first = false;
                skip_value(c, depth + 1)?;
            }
        }
        b'"' | b'{' | b'~' => c.string().ok().map(|_| ()),
        _ => {
            let rest = c.rest();
            let n = rest.iter().position(|&b| matches!(b, b' ' | b')' | b'\r' | b'\n' | b'(')).unwrap_or(rest.len());
            if n == 0 {
                return None;
            }
            c.advance(n);
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untagged(s: &str) -> Untagged {
        match parse(s.as_bytes()).unwrap() {
            Parsed::Untagged(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_responses_and_their_codes() {
        assert_eq!(
            parse(b"a1 OK [READ-WRITE] SELECT completed\r\n").unwrap(),
            Parsed::Tagged(
                "a1".into(),
                StatusLine { state: State::Ok, code: Some("READ-WRITE".into()), text: "SELECT completed".into() }
            )
        );
        assert_eq!(
            untagged("* BYE shutting down\r\n"),
            Untagged::Status(StatusLine { state: State::Bye, code: None, text: "shutting down".into() })
        );
        assert_eq!(parse(b"+ Ready\r\n").unwrap(), Parsed::Continuation("Ready".into()));
        assert_eq!(parse(b"+\r\n").unwrap(), Parsed::Continuation(String::new()));
        assert!(parse(b"a1 MAYBE\r\n").is_err());
        assert!(parse(b"\r\n").is_err());
    }

    #[test]
    fn data_a_collecting_client_reads() {
        assert_eq!(untagged("* 23 EXISTS\r\n"), Untagged::Exists(23));
        assert_eq!(untagged("* 4 EXPUNGE\r\n"), Untagged::Expunge(4));
        assert_eq!(untagged("* SEARCH 2 3 17\r\n"), Untagged::Search(vec![2, 3, 17]));
        assert_eq!(untagged("* SEARCH\r\n"), Untagged::Search(vec![]));
        assert_eq!(
            untagged("* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n"),
            Untagged::Capability(vec!["IMAP4rev1".into(), "STARTTLS".into(), "AUTH=PLAIN".into()])
        );
        assert_eq!(
            untagged("* FLAGS (\\Seen \\Deleted)\r\n"),
            Untagged::Flags(vec!["\\Seen".into(), "\\Deleted".into()])
        );
        let f = untagged(
            "* 12 FETCH (UID 345 RFC822.SIZE 11 FLAGS (\\Seen) BODYSTRUCTURE (\"text\" \"plain\" NIL) \
             INTERNALDATE \"07-Dec-2026 10:00:00 +0000\" BODY[] {12}\r\nSubject: x\r\n MODSEQ (9))\r\n",
        );
        assert_eq!(
            f,
            Untagged::Fetch {
                seq: 12,
                items: vec![
                    FetchItem::Uid(345),
                    FetchItem::Size(11),
                    FetchItem::Flags(vec!["\\Seen".into()]),
                    FetchItem::Other("BODYSTRUCTURE".into()),
                    FetchItem::InternalDate("07-Dec-2026 10:00:00 +0000".into()),
                    FetchItem::Body { name: "BODY[]".into(), data: Some(b"Subject: x\r\n".to_vec()) },
                    FetchItem::Other("MODSEQ".into()),
                ]
            }
        );
        assert_eq!(
            untagged("* 1 FETCH (BODY[HEADER.FIELDS (TO)]<0> NIL)\r\n"),
            Untagged::Fetch {
                seq: 1,
                items: vec![FetchItem::Body { name: "BODY[HEADER.FIELDS (TO)]<0>".into(), data: None }]
            }
        );
        // What it does not know is kept, not refused.
        assert_eq!(untagged("* LIST () \"/\" INBOX\r\n"), Untagged::Other(b"* LIST () \"/\" INBOX\r\n".to_vec()));
        assert!(matches!(untagged("* 1 FETCH (UID)\r\n"), Untagged::Other(_)));
    }
}
