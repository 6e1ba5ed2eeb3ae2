//! CONDSTORE and QRESYNC ([RFC 7162](https://www.rfc-editor.org/rfc/rfc7162)): the SELECT
//! and EXAMINE parameters, the FETCH and STORE modifiers, and the `MODSEQ` search key's
//! grammar. Every mod-sequence is a `number64` (at most 2^63 - 1).

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::lex::{Cursor, LexError, SeqRange};

use super::ParseError;

/// SELECT and EXAMINE parameters (RFC 4466 §2.1): `[SP "(" select-param *(SP select-param) ")"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SelectParams {
    /// `CONDSTORE` (RFC 7162 §3.1.8): the client turns CONDSTORE on with this SELECT.
    pub condstore: bool,
    /// `QRESYNC (…)` (RFC 7162 §3.2.5): what the client knew of the mailbox.
    pub qresync: Option<Qresync>,
}

/// `QRESYNC (uidvalidity modseq [known-uids] [seq-match-data])` (RFC 7162 §3.2.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Qresync {
    /// The UIDVALIDITY the client's cache belongs to: if it is not the mailbox's, nothing
    /// else here applies.
    pub uidvalidity: NonZeroU32,
    /// The last HIGHESTMODSEQ the client saw.
    pub modseq: u64,
    /// The UIDs the client knows (all of them when absent).
    pub known_uids: Option<Vec<SeqRange>>,
    /// Message numbers and the UIDs the client holds for them (the same count each), for
    /// a server that no longer remembers all expunges since `modseq` to narrow VANISHED.
    pub seq_match: Option<(Vec<SeqRange>, Vec<SeqRange>)>,
}

/// FETCH modifiers (RFC 4466 §2.4): `[SP "(" fetch-modifier *(SP fetch-modifier) ")"]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FetchModifiers {
    /// `CHANGEDSINCE modseq` (RFC 7162 §3.1.4.1): only messages whose mod-sequence is
    /// greater (and MODSEQ is fetched with each).
    pub changed_since: Option<u64>,
    /// `VANISHED` (RFC 7162 §3.2.6, UID FETCH with CHANGEDSINCE only): also a
    /// `VANISHED (EARLIER)` response for the UIDs of the set expunged since.
    pub vanished: bool,
}

/// The metadata item a `MODSEQ` search key may name (RFC 7162 §3.1.5): a flag's, of one
/// type. Servers that keep one mod-sequence per message may ignore it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModSeqEntry<'a> {
    /// The flag after `/flags/`, unescaped (`\Seen` from `"/flags/\\Seen"`).
    pub flag: Cow<'a, [u8]>,
    /// `priv`, `shared` or `all`.
    pub kind: EntryKind,
}

/// `entry-type-req` (RFC 7162 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum EntryKind {
    Private,
    Shared,
    All,
}

/// `mod-sequence-value`, which may not be 0 unless `zero`.
fn modseq(c: &mut Cursor<'_>, zero: bool) -> Result<u64, ParseError> {
    let at = c.pos();
    let n = c.number64()?;
    if n == 0 && !zero {
        return Err(ParseError::Syntax(LexError { expected: "non-zero mod-sequence", at }));
    }
    Ok(n)
}

fn syntax(expected: &'static str, at: usize) -> ParseError {
    ParseError::Syntax(LexError { expected, at })
}

/// The parameters after a SELECT or EXAMINE mailbox, if any.
pub(super) fn select_params(c: &mut Cursor<'_>) -> Result<SelectParams, ParseError> {
    let mut params = SelectParams::default();
    if !c.eat(b' ') {
        return Ok(params);
    }
    c.open()?;
    loop {
        let at = c.pos();
        let name = c.atom()?;
        if name.eq_ignore_ascii_case("CONDSTORE") && !params.condstore {
            params.condstore = true;
        } else if name.eq_ignore_ascii_case("QRESYNC") && params.qresync.is_none() {
            c.sp()?;
            params.qresync = Some(qresync(c)?);
        } else {
            return Err(syntax("CONDSTORE or QRESYNC, once each", at));
        }
        if !c.eat(b' ') {
            break;
        }
    }
    c.close()?;
    Ok(params)
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"`.
fn qresync(c: &mut Cursor<'_>) -> Result<Qresync, ParseError> {
    c.open()?;
    let uidvalidity = c.nz_number()?;
    c.sp()?;
    let modseq = modseq(c, false)?;
    let mut known_uids = None;
    let mut seq_match = None;
    if c.eat(b' ') {
        if c.rest().first() != Some(&b'(') {
            known_uids = Some(c.sequence_set()?);
            if c.eat(b' ') {
                seq_match = Some(seq_match_data(c)?);
            }
        } else {
            seq_match = Some(seq_match_data(c)?);
        }
    }
    c.close()?;
    Ok(Qresync { uidvalidity, modseq, known_uids, seq_match })
}

/// `seq-match-data = "(" known-sequence-set SP known-uid-set ")"`.
fn seq_match_data(c: &mut Cursor<'_>) -> Result<(Vec<SeqRange>, Vec<SeqRange>), ParseError> {
    c.open()?;
    let numbers = c.sequence_set()?;
    c.sp()?;
    let uids = c.sequence_set()?;
    c.close()?;
    Ok((numbers, uids))
}

/// The modifiers after FETCH's attributes, if any. `uid` says whether it is UID FETCH:
/// VANISHED is allowed there only, and only with CHANGEDSINCE (RFC 7162 §3.2.6).
pub(super) fn fetch_modifiers(c: &mut Cursor<'_>, uid: bool) -> Result<FetchModifiers, ParseError> {
    let mut m = FetchModifiers::default();
    if !c.eat(b' ') {
        return Ok(m);
    }
    let start = c.pos();
    c.open()?;
    loop {
        let at = c.pos();
        let name = c.atom()?;
        if name.eq_ignore_ascii_case("CHANGEDSINCE") && m.changed_since.is_none() {
            c.sp()?;
            m.changed_since = Some(modseq(c, true)?);
        } else if name.eq_ignore_ascii_case("VANISHED") && uid && !m.vanished {
            m.vanished = true;
        } else {
            return Err(syntax("CHANGEDSINCE or (UID FETCH) VANISHED, once each", at));
        }
        if !c.eat(b' ') {
            break;
        }
    }
    c.close()?;
    if m.vanished && m.changed_since.is_none() {
        return Err(syntax("CHANGEDSINCE with VANISHED", start));
    }
    Ok(m)
}

/// STORE's `[SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]` (RFC 7162 §3.1.3),
/// before the flags.
pub(super) fn store_modifiers(c: &mut Cursor<'_>) -> Result<Option<u64>, ParseError> {
    if c.rest().first() != Some(&b'(') {
        return Ok(None);
    }
    c.open()?;
    let at = c.pos();
    if !c.keyword("UNCHANGEDSINCE") {
        return Err(syntax("UNCHANGEDSINCE", at));
    }
    c.sp()?;
    let since = modseq(c, true)?;
    c.close()?;
    c.sp()?;
    Ok(Some(since))
}

/// The `MODSEQ` search key after its name: `[SP entry-name SP entry-type-req] SP
/// mod-sequence-valzer`.
pub(super) fn search_modseq<'a>(c: &mut Cursor<'a>) -> Result<(Option<ModSeqEntry<'a>>, u64), ParseError> {
    c.sp()?;
    let mut entry = None;
    if c.rest().first() == Some(&b'"') {
        let at = c.pos();
        let name = c.quoted()?;
        let flag = match name {
            Cow::Borrowed(b) => b.strip_prefix(b"/flags/").map(Cow::Borrowed),
            Cow::Owned(b) => b.strip_prefix(b"/flags/").map(|f| Cow::Owned(f.to_vec())),
        };
        let flag = flag.filter(|f| !f.is_empty()).ok_or(syntax("\"/flags/\" and a flag", at))?;
        c.sp()?;
        let at = c.pos();
        let kind = match c.atom()? {
            k if k.eq_ignore_ascii_case("priv") => EntryKind::Private,
            k if k.eq_ignore_ascii_case("shared") => EntryKind::Shared,
            k if k.eq_ignore_ascii_case("all") => EntryKind::All,
            _ => return Err(syntax("priv, shared or all", at)),
        };
        c.sp()?;
        entry = Some(ModSeqEntry { flag, kind });
    }
    Ok((entry, modseq(c, true)?))
}
