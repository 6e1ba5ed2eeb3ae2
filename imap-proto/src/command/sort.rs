//! SORT and THREAD (RFC 5256), with RFC 5957's DISPLAY keys and RFC 5267's ESORT return
//! options: their criteria and algorithms, and their parsers.

use super::{Body, Cursor, LexError, ParseError, search};

/// What SORT orders by (RFC 5256 §3, RFC 5957): each key, ascending unless `reverse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    /// `REVERSE` before the key.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// A SORT key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortKey {
    /// The internal date.
    Arrival,
    /// The first Cc address's mailbox (local part).
    Cc,
    /// The sent date (`Date:`, in UTC), or the internal date without one.
    Date,
    /// The first From address's mailbox (local part).
    From,
    /// The size (RFC822.SIZE).
    Size,
    /// The base subject (RFC 5256 §2.1).
    Subject,
    /// The first To address's mailbox (local part).
    To,
    /// The first From address's display name, else its address (RFC 5957).
    DisplayFrom,
    /// The first To address's display name, else its address (RFC 5957).
    DisplayTo,
}

/// How THREAD builds threads (RFC 5256 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT`: by base subject, then sent date; each thread flat under its first.
    OrderedSubject,
    /// `REFERENCES`: by References and In-Reply-To, then gathered by base subject.
    References,
}

/// `sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria` (RFC 5256 §4), where
/// `search-criteria = charset 1*(SP search-key)`.
pub(super) fn sort<'a>(c: &mut Cursor<'a>, uid: bool) -> Result<Body<'a>, ParseError> {
    c.sp()?;
    let ret = search::return_options(c)?;
    c.open()?;
    let mut criteria = Vec::new();
    loop {
        let at = c.pos();
        let word = c.atom()?;
        let reverse = word.eq_ignore_ascii_case("REVERSE");
        let word = if reverse {
            c.sp()?;
            c.atom()?
        } else {
            word
        };
        let is = |n: &str| word.eq_ignore_ascii_case(n);
        let key = match () {
            _ if is("ARRIVAL") => SortKey::Arrival,
            _ if is("CC") => SortKey::Cc,
            _ if is("DATE") => SortKey::Date,
            _ if is("FROM") => SortKey::From,
            _ if is("SIZE") => SortKey::Size,
            _ if is("SUBJECT") => SortKey::Subject,
            _ if is("TO") => SortKey::To,
            _ if is("DISPLAYFROM") => SortKey::DisplayFrom,
            _ if is("DISPLAYTO") => SortKey::DisplayTo,
            _ => return Err(ParseError::Syntax(LexError { expected: "a sort key", at })),
        };
        criteria.push(SortCriterion { reverse, key });
        if !c.eat(b' ') {
            break;
        }
    }
    c.close()?;
    c.sp()?;
    let charset = c.astring()?;
    c.sp()?;
    let keys = search::keys(c)?;
    Ok(Body::Sort { uid, ret, criteria, charset, keys })
}

/// `thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria` (RFC 5256 §4).
pub(super) fn thread<'a>(c: &mut Cursor<'a>, uid: bool) -> Result<Body<'a>, ParseError> {
    c.sp()?;
    let at = c.pos();
    let name = c.atom()?;
    let algorithm = match () {
        _ if name.eq_ignore_ascii_case("ORDEREDSUBJECT") => ThreadAlgorithm::OrderedSubject,
        _ if name.eq_ignore_ascii_case("REFERENCES") => ThreadAlgorithm::References,
        _ => return Err(ParseError::Syntax(LexError { expected: "ORDEREDSUBJECT or REFERENCES", at })),
    };
    c.sp()?;
    let charset = c.astring()?;
    c.sp()?;
    let keys = search::keys(c)?;
    Ok(Body::Thread { uid, algorithm, charset, keys })
}
