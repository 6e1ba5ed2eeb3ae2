//! `FETCH sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP
//! fetch-att) ")")` ([RFC 3501 §6.4.5](https://www.rfc-editor.org/rfc/rfc3501#section-6.4.5),
//! BINARY of [RFC 3516](https://www.rfc-editor.org/rfc/rfc3516)).

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::lex::{Cursor, LexError};

use super::ParseError;

/// `section-msgtext / "MIME"`: which text of a message or part.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SectionText<'a> {
    /// `HEADER`: the header, blank line included.
    Header,
    /// `HEADER.FIELDS (names)` or, with `not`, `HEADER.FIELDS.NOT (names)`.
    HeaderFields {
        /// `.NOT`: every field but these.
        not: bool,
        /// The field names, as sent.
        fields: Vec<Cow<'a, [u8]>>,
    },
    /// `TEXT`: the body, without the header.
    Text,
    /// `MIME`: the MIME header of a part (only after a part number).
    Mime,
}

/// `section = "[" [section-spec] "]"`: `part` empty is the whole message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Section<'a> {
    /// `section-part = nz-number *("." nz-number)`.
    pub part: Vec<NonZeroU32>,
    /// The text asked for; `None` is the whole (part's) content.
    pub text: Option<SectionText<'a>>,
}

/// `"<" number "." nz-number ">"`: the first octet and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partial {
    /// Offset of the first octet.
    pub start: u32,
    /// Largest number of octets.
    pub length: NonZeroU32,
}

impl Partial {
    /// The octets of `data` this asks for: from `start`, at most `length` of them; empty
    /// when `start` is past the end (RFC 3501 §6.4.5).
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use sansmail_imap_proto::command::Partial;
    /// let p = Partial { start: 2, length: NonZeroU32::new(3).unwrap() };
    /// assert_eq!(p.slice(b"abcdefg"), b"cde");
    /// assert_eq!(p.slice(b"abcd"), b"cd");
    /// assert_eq!(p.slice(b"a"), b"");
    /// ```
    pub fn slice<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        let start = (self.start as usize).min(data.len());
        let end = start.saturating_add(self.length.get() as usize).min(data.len());
        &data[start..end]
    }
}

/// One `fetch-att`; the macros `ALL`, `FAST` and `FULL` are expanded as RFC 3501 defines them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchAttr<'a> {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822` (as `BODY[]`, sets `\Seen`).
    Rfc822,
    /// `RFC822.HEADER` (as `BODY.PEEK[HEADER]`).
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT` (as `BODY[TEXT]`, sets `\Seen`).
    Rfc822Text,
    /// `BODY`: the body structure without extension data.
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `MODSEQ` (CONDSTORE, RFC 7162 §3.1.4).
    ModSeq,
    /// `BODY[section]<partial>` or `BODY.PEEK[…]` (`peek`: `\Seen` is not set).
    BodySection {
        /// `.PEEK`.
        peek: bool,
        /// The section.
        section: Section<'a>,
        /// The octet range, if any.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[…]`: content with its transfer encoding undone.
    Binary {
        /// `.PEEK`.
        peek: bool,
        /// The part (empty: the whole message).
        part: Vec<NonZeroU32>,
        /// The octet range, if any.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize {
        /// The part.
        part: Vec<NonZeroU32>,
    },
}

impl FetchAttr<'_> {
    /// Whether fetching this sets `\Seen` (RFC 3501 §6.4.5).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            Self::Rfc822 | Self::Rfc822Text | Self::BodySection { peek: false, .. } | Self::Binary { peek: false, .. }
        )
    }
}

/// Fetch attribute names: letters, digits and dots (`BODY.PEEK`, `RFC822.SIZE`).
fn name<'a>(c: &mut Cursor<'a>) -> Result<&'a str, LexError> {
    let rest = c.rest();
    let len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'.').count();
    if len == 0 {
        return Err(LexError { expected: "fetch attribute", at: c.pos() });
    }
    let text = std::str::from_utf8(&rest[..len]).unwrap_or_default();
    c.advance(len);
    Ok(text)
}

/// The attribute list of FETCH (after `sequence-set SP`).
pub(super) fn attributes<'a>(c: &mut Cursor<'a>) -> Result<Vec<FetchAttr<'a>>, ParseError> {
    if c.rest().first() == Some(&b'(') {
        c.open()?;
        let mut attrs = vec![attribute(c)?];
        while c.eat(b' ') {
            attrs.push(attribute(c)?);
        }
        c.close()?;
        return Ok(attrs);
    }
    let mut probe = c.clone();
    let word = name(&mut probe)?;
    let is = |n: &str| word.eq_ignore_ascii_case(n);
    let fast = [FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::Rfc822Size];
    let expanded = if is("ALL") {
        [&fast[..], &[FetchAttr::Envelope]].concat()
    } else if is("FAST") {
        fast.to_vec()
    } else if is("FULL") {
        [&fast[..], &[FetchAttr::Envelope, FetchAttr::Body]].concat()
    } else {
        return Ok(vec![attribute(c)?]);
    };
    *c = probe;
    Ok(expanded)
}

fn attribute<'a>(c: &mut Cursor<'a>) -> Result<FetchAttr<'a>, ParseError> {
    let at = c.pos();
    let word = name(c)?;
    let is = |n: &str| word.eq_ignore_ascii_case(n);
    Ok(match () {
        _ if is("ENVELOPE") => FetchAttr::Envelope,
        _ if is("FLAGS") => FetchAttr::Flags,
        _ if is("INTERNALDATE") => FetchAttr::InternalDate,
        _ if is("RFC822") => FetchAttr::Rfc822,
        _ if is("RFC822.HEADER") => FetchAttr::Rfc822Header,
        _ if is("RFC822.SIZE") => FetchAttr::Rfc822Size,
        _ if is("RFC822.TEXT") => FetchAttr::Rfc822Text,
        _ if is("BODYSTRUCTURE") => FetchAttr::BodyStructure,
        _ if is("UID") => FetchAttr::Uid,
        _ if is("MODSEQ") => FetchAttr::ModSeq,
        _ if is("BODY") && c.rest().first() != Some(&b'[') => FetchAttr::Body,
        _ if is("BODY") || is("BODY.PEEK") => {
            let section = section(c)?;
            FetchAttr::BodySection { peek: is("BODY.PEEK"), section, partial: partial(c)? }
        }
        _ if is("BINARY") || is("BINARY.PEEK") => {
            let part = binary_part(c)?;
            FetchAttr::Binary { peek: is("BINARY.PEEK"), part, partial: partial(c)? }
        }
        _ if is("BINARY.SIZE") => FetchAttr::BinarySize { part: binary_part(c)? },
        _ => return Err(ParseError::Syntax(LexError { expected: "fetch attribute", at })),
    })
}

/// `nz-number *("." nz-number)`, stopping before a `.` that is not followed by a digit.
fn part_numbers(c: &mut Cursor<'_>) -> Result<Vec<NonZeroU32>, LexError> {
    let mut part = Vec::new();
    if !c.rest().first().is_some_and(u8::is_ascii_digit) {
        return Ok(part);
    }
    part.push(c.nz_number()?);
    while c.rest().starts_with(b".") && c.rest().get(1).is_some_and(u8::is_ascii_digit) {
        c.advance(1);
        // A section nests at most as deep as a message does; bound it all the same.
        if part.len() >= 64 {
            return Err(LexError { expected: "shallower section", at: c.pos() });
        }
        part.push(c.nz_number()?);
    }
    Ok(part)
}

/// `section-binary = "[" [section-part] "]"`.
fn binary_part(c: &mut Cursor<'_>) -> Result<Vec<NonZeroU32>, LexError> {
    expect(c, b'[', "[")?;
    let part = part_numbers(c)?;
    expect(c, b']', "]")?;
    Ok(part)
}

fn expect(c: &mut Cursor<'_>, b: u8, what: &'static str) -> Result<(), LexError> {
    if c.eat(b) { Ok(()) } else { Err(LexError { expected: what, at: c.pos() }) }
}

/// `section = "[" [section-spec] "]"`.
fn section<'a>(c: &mut Cursor<'a>) -> Result<Section<'a>, ParseError> {
    expect(c, b'[', "[")?;
    let part = part_numbers(c)?;
    let mut text = None;
    if c.rest().first() != Some(&b']') {
        if !part.is_empty() {
            expect(c, b'.', ".")?;
        }
        let at = c.pos();
        let word = name(c)?;
        let is = |n: &str| word.eq_ignore_ascii_case(n);
        text = Some(match () {
            _ if is("HEADER") => SectionText::Header,
            _ if is("TEXT") => SectionText::Text,
            _ if is("MIME") && !part.is_empty() => SectionText::Mime,
            _ if is("HEADER.FIELDS") || is("HEADER.FIELDS.NOT") => {
                c.sp()?;
                c.open()?;
                let mut fields = vec![c.astring()?];
                while c.eat(b' ') {
                    fields.push(c.astring()?);
                }
                c.close()?;
                SectionText::HeaderFields { not: is("HEADER.FIELDS.NOT"), fields }
            }
            _ => return Err(ParseError::Syntax(LexError { expected: "section text", at })),
        });
    }
    expect(c, b']', "]")?;
    Ok(Section { part, text })
}

/// `["<" number "." nz-number ">"]`.
fn partial(c: &mut Cursor<'_>) -> Result<Option<Partial>, LexError> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let start = c.number()?;
    expect(c, b'.', ".")?;
    let length = c.nz_number()?;
    expect(c, b'>', ">")?;
    Ok(Some(Partial { start, length }))
}
