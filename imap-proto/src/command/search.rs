//! `SEARCH [SP "CHARSET" SP astring] 1*(SP search-key)`
//! ([RFC 3501 §6.4.4](https://www.rfc-editor.org/rfc/rfc3501#section-6.4.4)), with ESEARCH's
//! `RETURN (…)` ([RFC 4731](https://www.rfc-editor.org/rfc/rfc4731)).
//!
//! `NOT`, `OR` and parentheses nest; together they may nest at most [`MAX_KEY_DEPTH`] deep, so
//! no command can exhaust the stack however long it is.

use std::borrow::Cow;

use crate::lex::{Cursor, LexError, SeqRange};

use super::ParseError;

/// The deepest nesting of `NOT`, `OR` and parenthesised keys.
pub const MAX_KEY_DEPTH: usize = 32;

/// `date = date-day "-" date-month "-" date-year`, optionally quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// The year (four digits).
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31 (not checked against the month).
    pub day: u8,
}

/// One `search-key`. Text keys hold the string as sent (matching is a case-insensitive
/// substring search in the embedder).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum SearchKey<'a> {
    All,
    Answered,
    Bcc(Cow<'a, [u8]>),
    Before(Date),
    Body(Cow<'a, [u8]>),
    Cc(Cow<'a, [u8]>),
    Deleted,
    Draft,
    Flagged,
    From(Cow<'a, [u8]>),
    /// `HEADER field-name string`.
    Header(Cow<'a, [u8]>, Cow<'a, [u8]>),
    Keyword(&'a str),
    Larger(u32),
    New,
    Not(Box<SearchKey<'a>>),
    Old,
    On(Date),
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u32),
    Subject(Cow<'a, [u8]>),
    Text(Cow<'a, [u8]>),
    To(Cow<'a, [u8]>),
    /// `UID sequence-set`.
    Uid(Vec<SeqRange>),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(&'a str),
    Unseen,
    /// A bare `sequence-set` of message numbers.
    Sequence(Vec<SeqRange>),
    /// `( search-key *(SP search-key) )`: all of them.
    And(Vec<SearchKey<'a>>),
    /// `MODSEQ [entry-name entry-type] modseq` (CONDSTORE, RFC 7162 §3.1.5): messages whose
    /// mod-sequence is at least `modseq`.
    ModSeq {
        entry: Option<super::ModSeqEntry<'a>>,
        modseq: u64,
    },
}

/// ESEARCH result options (RFC 4731 §3.1), and RFC 5267's CONTEXT=SEARCH/SORT ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ReturnOption {
    Min,
    Max,
    All,
    Count,
    /// `UPDATE` (RFC 5267 §4.3): keep the result and tell its changes as they happen
    /// (ADDTO, REMOVEFROM) until CANCELUPDATE.
    Update,
    /// `CONTEXT` (RFC 5267 §4.2): a hint that the client will ask about the result again.
    Context,
    /// `PARTIAL low:high` (RFC 5267 §4.4): the results at these positions (1-based, `low`
    /// ≤ `high`: `4:2` reads as `2:4`).
    Partial {
        low: u32,
        high: u32,
    },
    /// `SAVE` (SEARCHRES, RFC 5182): keep the result for `$`.
    Save,
}

/// A parsed SEARCH (after the command name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Search<'a> {
    pub(super) charset: Option<Cow<'a, [u8]>>,
    pub(super) ret: Option<Vec<ReturnOption>>,
    pub(super) keys: Vec<SearchKey<'a>>,
}

pub(super) fn search<'a>(c: &mut Cursor<'a>) -> Result<Search<'a>, ParseError> {
    c.sp()?;
    let ret = return_options(c)?;
    let mut charset = None;
    if c.keyword("CHARSET") {
        c.sp()?;
        charset = Some(c.astring()?);
        c.sp()?;
    }
    Ok(Search { charset, ret, keys: keys(c)? })
}

/// `[RETURN (options) SP]` of ESEARCH (RFC 4731) and ESORT (RFC 5267).
pub(super) fn return_options(c: &mut Cursor<'_>) -> Result<Option<Vec<ReturnOption>>, ParseError> {
    let mut ret = None;
    if c.keyword("RETURN") {
        c.sp()?;
        c.open()?;
        let mut opts = Vec::new();
        while c.rest().first() != Some(&b')') {
            if !opts.is_empty() {
                c.sp()?;
            }
            let at = c.pos();
            let word = c.atom()?;
            let is = |n: &str| word.eq_ignore_ascii_case(n);
            let opt = match () {
                _ if is("MIN") => ReturnOption::Min,
                _ if is("MAX") => ReturnOption::Max,
                _ if is("ALL") => ReturnOption::All,
                _ if is("COUNT") => ReturnOption::Count,
                _ if is("UPDATE") => ReturnOption::Update,
                _ if is("CONTEXT") => ReturnOption::Context,
                _ if is("SAVE") => ReturnOption::Save,
                _ if is("PARTIAL") => {
                    c.sp()?;
                    let a = c.nz_number()?.get();
                    if !c.eat(b':') {
                        return Err(ParseError::Syntax(c.err("partial-range (low:high)")));
                    }
                    let b = c.nz_number()?.get();
                    if opts.iter().any(|o| matches!(o, ReturnOption::Partial { .. })) {
                        return Err(ParseError::Syntax(LexError { expected: "one PARTIAL", at }));
                    }
                    ReturnOption::Partial { low: a.min(b), high: a.max(b) }
                }
                _ => {
                    let expected = "MIN, MAX, ALL, COUNT, SAVE, UPDATE, CONTEXT or PARTIAL";
                    return Err(ParseError::Syntax(LexError { expected, at }));
                }
            };
            if !opts.contains(&opt) {
                opts.push(opt);
            }
        }
        c.close()?;
        c.sp()?;
        // `RETURN ()` is `RETURN (ALL)` (RFC 4731 §3.1).
        if opts.is_empty() {
            opts.push(ReturnOption::All);
        }
        ret = Some(opts);
    }
    Ok(ret)
}

/// `search-key *(SP search-key)`: the keys of a SEARCH or a SORT.
pub(super) fn keys<'a>(c: &mut Cursor<'a>) -> Result<Vec<SearchKey<'a>>, ParseError> {
    let mut keys = vec![key(c, 0)?];
    while c.eat(b' ') {
        keys.push(key(c, 0)?);
    }
    Ok(keys)
}

fn date(c: &mut Cursor<'_>) -> Result<Date, ParseError> {
    let at = c.pos();
    let bad = || ParseError::Syntax(LexError { expected: "date (d-Mon-yyyy)", at });
    let quoted = c.eat(b'"');
    let rest = c.rest();
    let day_len = rest.iter().take(2).take_while(|b| b.is_ascii_digit()).count();
    let text = rest.get(..day_len + 9).ok_or_else(bad)?;
    let (day, rest) = text.split_at(day_len);
    let day = day.iter().fold(0u8, |n, d| n * 10 + (d - b'0'));
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let (Some(b'-'), Some(mon), Some(b'-'), Some(year)) = (rest.first(), rest.get(1..4), rest.get(4), rest.get(5..9))
    else {
        return Err(bad());
    };
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon)).ok_or_else(bad)?;
    if !year.iter().all(u8::is_ascii_digit) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let year = year.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    c.advance(text.len());
    if quoted && !c.eat(b'"') {
        return Err(bad());
    }
    Ok(Date { year, month: month as u8 + 1, day })
}

fn key<'a>(c: &mut Cursor<'a>, depth: usize) -> Result<SearchKey<'a>, ParseError> {
    let at = c.pos();
    if depth >= MAX_KEY_DEPTH {
        return Err(ParseError::Syntax(LexError { expected: "shallower search key", at }));
    }
    match c.rest().first() {
        Some(b'(') => {
            c.open()?;
            let mut keys = vec![key(c, depth + 1)?];
            while c.eat(b' ') {
                keys.push(key(c, depth + 1)?);
            }
            c.close()?;
            return Ok(SearchKey::And(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return Ok(SearchKey::Sequence(c.sequence_set()?)),
        _ => {}
    }
    let word = c.atom()?;
    let is = |n: &str| word.eq_ignore_ascii_case(n);
    let arg = |c: &mut Cursor<'a>| -> Result<Cow<'a, [u8]>, ParseError> {
        c.sp()?;
        Ok(c.astring()?)
    };
    let on = |c: &mut Cursor<'a>| -> Result<Date, ParseError> {
        c.sp()?;
        date(c)
    };
    Ok(match () {
        _ if is("ALL") => SearchKey::All,
        _ if is("ANSWERED") => SearchKey::Answered,
        _ if is("BCC") => SearchKey::Bcc(arg(c)?),
        _ if is("BEFORE") => SearchKey::Before(on(c)?),
        _ if is("BODY") => SearchKey::Body(arg(c)?),
        _ if is("CC") => SearchKey::Cc(arg(c)?),
        _ if is("DELETED") => SearchKey::Deleted,
        _ if is("DRAFT") => SearchKey::Draft,
        _ if is("FLAGGED") => SearchKey::Flagged,
        _ if is("FROM") => SearchKey::From(arg(c)?),
        _ if is("HEADER") => {
            let name = arg(c)?;
            SearchKey::Header(name, arg(c)?)
        }
        _ if is("KEYWORD") || is("UNKEYWORD") => {
            c.sp()?;
            let k = c.atom()?;
            if is("KEYWORD") { SearchKey::Keyword(k) } else { SearchKey::Unkeyword(k) }
        }
        _ if is("LARGER") || is("SMALLER") => {
            c.sp()?;
            let n = c.number()?;
            if is("LARGER") { SearchKey::Larger(n) } else { SearchKey::Smaller(n) }
        }
        _ if is("MODSEQ") => {
            let (entry, modseq) = super::condstore::search_modseq(c)?;
            SearchKey::ModSeq { entry, modseq }
        }
        _ if is("NEW") => SearchKey::New,
        _ if is("NOT") => {
            c.sp()?;
            SearchKey::Not(Box::new(key(c, depth + 1)?))
        }
        _ if is("OLD") => SearchKey::Old,
        _ if is("ON") => SearchKey::On(on(c)?),
        _ if is("OR") => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            SearchKey::Or(Box::new(a), Box::new(key(c, depth + 1)?))
        }
        _ if is("RECENT") => SearchKey::Recent,
        _ if is("SEEN") => SearchKey::Seen,
        _ if is("SENTBEFORE") => SearchKey::SentBefore(on(c)?),
        _ if is("SENTON") => SearchKey::SentOn(on(c)?),
        _ if is("SENTSINCE") => SearchKey::SentSince(on(c)?),
        _ if is("SINCE") => SearchKey::Since(on(c)?),
        _ if is("SUBJECT") => SearchKey::Subject(arg(c)?),
        _ if is("TEXT") => SearchKey::Text(arg(c)?),
        _ if is("TO") => SearchKey::To(arg(c)?),
        _ if is("UID") => {
            c.sp()?;
            SearchKey::Uid(c.sequence_set()?)
        }
        _ if is("UNANSWERED") => SearchKey::Unanswered,
        _ if is("UNDELETED") => SearchKey::Undeleted,
        _ if is("UNDRAFT") => SearchKey::Undraft,
        _ if is("UNFLAGGED") => SearchKey::Unflagged,
        _ if is("UNSEEN") => SearchKey::Unseen,
        _ => return Err(ParseError::Syntax(LexError { expected: "search key", at })),
    })
}
