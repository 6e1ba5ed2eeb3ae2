//! The lexical layer of the command grammar
//! ([RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9),
//! [RFC 9051 §9](https://www.rfc-editor.org/rfc/rfc9051#section-9)): a [`Cursor`] over one
//! framed command ([`crate::framing`]) that reads tags, atoms, strings (quoted or literal),
//! numbers and sequence sets, borrowing from the command wherever it can.
//!
//! Byte classes are one table lookup each; a quoted string is copied only when it holds an
//! escape; a literal is a slice of the command.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

/// Why the command did not lex, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexError {
    /// What the grammar wanted here.
    pub expected: &'static str,
    /// The offset in the command.
    pub at: usize,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} at octet {}", self.expected, self.at)
    }
}

impl std::error::Error for LexError {}

const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const LIST: u8 = 4;
const TAG: u8 = 8;

/// `ATOM-CHAR = <any CHAR except atom-specials>`, `atom-specials = "(" / ")" / "{" / SP /
/// CTL / "%" / "*" / DQUOTE / "\" / "]"`; `ASTRING-CHAR` adds `]`; `list-char` adds `%`, `*`
/// and `]`; a tag is `ASTRING-CHAR` less `+`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0x21;
    while b < 0x7f {
        let c = b as u8;
        let special = matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']');
        if !special {
            t[b] = ATOM | ASTRING | LIST | TAG;
        }
        b += 1;
    }
    t[b']' as usize] = ASTRING | LIST | TAG;
    t[b'%' as usize] = LIST;
    t[b'*' as usize] = LIST;
    t[b'+' as usize] = ATOM | ASTRING | LIST;
    t
};

/// One element of a sequence set: a number, or `*` (the largest in use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SeqNumber {
    /// A message sequence number or UID.
    Value(NonZeroU32),
    /// `*`.
    Largest,
    /// `$` (SEARCHRES, RFC 5182): the messages the last `SEARCH RETURN (SAVE)` saved. It
    /// stands alone (`$` is the whole set, as [`crate::sequence::is_saved`] tells); as a
    /// number it is 0, in no range.
    Saved,
}

/// `seq-number / seq-range` (a range may be written either way round).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// The first end.
    pub from: SeqNumber,
    /// The other end (equal to `from` for a single number).
    pub to: SeqNumber,
}

/// The largest nesting of parenthesised lists a command may use.
pub const MAX_DEPTH: usize = 16;

/// A reading position in one command.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of a framed command.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0, depth: 0 }
    }

    /// The offset reached.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    pub(crate) fn err(&self, expected: &'static str) -> LexError {
        LexError { expected, at: self.pos }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Moves past `n` octets (at most to the end).
    pub fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.input.len());
    }

    /// Takes one octet if it is `b`.
    pub fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// `SP`.
    pub fn sp(&mut self) -> Result<(), LexError> {
        if self.eat(b' ') { Ok(()) } else { Err(self.err("SP")) }
    }

    /// The end of the command: CRLF and nothing after.
    pub fn end(&mut self) -> Result<(), LexError> {
        match self.rest() {
            b"\r\n" | b"\n" => {
                self.pos = self.input.len();
                Ok(())
            }
            _ => Err(self.err("end of command")),
        }
    }

    fn run(&mut self, class: u8, what: &'static str) -> Result<&'a [u8], LexError> {
        let start = self.pos;
        let len = self.rest().iter().position(|&b| CLASS[b as usize] & class == 0).unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.err(what));
        }
        self.pos += len;
        Ok(&self.input[start..self.pos])
    }

    /// `tag`.
    pub fn tag(&mut self) -> Result<&'a str, LexError> {
        self.run(TAG, "tag").map(ascii)
    }

    /// `atom` (command names, flags' names, …).
    pub fn atom(&mut self) -> Result<&'a str, LexError> {
        self.run(ATOM, "atom").map(ascii)
    }

    /// An atom that must be `keyword` (any case); the cursor moves only on a match.
    pub fn keyword(&mut self, keyword: &str) -> bool {
        let mut probe = self.clone();
        match probe.atom() {
            Ok(a) if a.eq_ignore_ascii_case(keyword) => {
                *self = probe;
                true
            }
            _ => false,
        }
    }

    /// `number` (32 bits).
    pub fn number(&mut self) -> Result<u32, LexError> {
        let start = self.pos;
        let digits = self.rest().iter().take_while(|b| b.is_ascii_digit()).count();
        let n = self.input[start..start + digits]
            .iter()
            .try_fold(0u32, |n, &d| n.checked_mul(10)?.checked_add(u32::from(d - b'0')));
        match n {
            Some(n) if digits > 0 => {
                self.pos += digits;
                Ok(n)
            }
            _ => Err(self.err("number")),
        }
    }

    /// `nz-number`.
    pub fn nz_number(&mut self) -> Result<NonZeroU32, LexError> {
        let at = self.pos;
        let n = self.number()?;
        NonZeroU32::new(n).ok_or(LexError { expected: "non-zero number", at })
    }

    /// `sequence-set`. Each element takes at least two octets of the command, so the set is
    /// bounded by the command's size.
    pub fn sequence_set(&mut self) -> Result<Vec<SeqRange>, LexError> {
        if self.eat(b'$') {
            return Ok(vec![SeqRange { from: SeqNumber::Saved, to: SeqNumber::Saved }]);
        }
        let mut out = Vec::new();
        loop {
            let from = self.seq_number()?;
            let to = if self.eat(b':') { self.seq_number()? } else { from };
            out.push(SeqRange { from, to });
            if !self.eat(b',') {
                return Ok(out);
            }
        }
    }

    fn seq_number(&mut self) -> Result<SeqNumber, LexError> {
        if self.eat(b'*') { Ok(SeqNumber::Largest) } else { self.nz_number().map(SeqNumber::Value) }
    }

    /// `quoted`: the text between the quotes, unescaped (copied only if it held escapes).
    /// UTF-8 is allowed (RFC 9051); CR, LF and NUL are not.
    pub fn quoted(&mut self) -> Result<Cow<'a, [u8]>, LexError> {
        if !self.eat(b'"') {
            return Err(self.err("quoted string"));
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => match self.input.get(self.pos + 1) {
                    Some(b'"' | b'\\') => {
                        escaped = true;
                        self.pos += 2;
                    }
                    _ => return Err(self.err("quoted-special after \\")),
                },
                Some(b'\r' | b'\n' | 0) | None => return Err(self.err("closing quote")),
                Some(_) => self.pos += 1,
            }
        }
        let body = &self.input[start..self.pos];
        self.pos += 1;
        if !escaped {
            return Ok(Cow::Borrowed(body));
        }
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while let Some(&b) = body.get(i) {
            if b == b'\\' {
                i += 1;
            }
            if let Some(&c) = body.get(i) {
                out.push(c);
            }
            i += 1;
        }
        Ok(Cow::Owned(out))
    }

    /// `literal` (or `literal8`): the octets, a slice of the command.
    pub fn literal(&mut self) -> Result<&'a [u8], LexError> {
        let start = self.pos;
        self.eat(b'~');
        if !self.eat(b'{') {
            self.pos = start;
            return Err(self.err("literal"));
        }
        let len = self.number64()?;
        self.eat(b'+');
        if !self.eat(b'}') {
            return Err(self.err("literal header"));
        }
        // The framer has checked the line ending; a bare LF is taken as it took it.
        self.eat(b'\r');
        if !self.eat(b'\n') {
            return Err(self.err("CRLF after the literal header"));
        }
        let len = usize::try_from(len).map_err(|_| self.err("literal within the command"))?;
        let data = self.input.get(self.pos..self.pos.saturating_add(len)).ok_or(self.err("literal octets"))?;
        self.pos += len;
        Ok(data)
    }

    /// `number64` (RFC 9051): digits, at most 2^63 - 1.
    pub fn number64(&mut self) -> Result<u64, LexError> {
        let digits = self.rest().iter().take_while(|b| b.is_ascii_digit()).count();
        let n = self.input[self.pos..self.pos + digits]
            .iter()
            .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')));
        match n {
            Some(n) if digits > 0 && n <= i64::MAX as u64 => {
                self.pos += digits;
                Ok(n)
            }
            _ => Err(self.err("number")),
        }
    }

    /// `string = quoted / literal`.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, LexError> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{' | b'~') => self.literal().map(Cow::Borrowed),
            _ => Err(self.err("string")),
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub fn astring(&mut self) -> Result<Cow<'a, [u8]>, LexError> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            Some(b'~') if self.rest().get(1) == Some(&b'{') => self.string(),
            _ => self.run(ASTRING, "astring").map(Cow::Borrowed),
        }
    }

    /// `nstring = string / "NIL"`.
    pub fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>, LexError> {
        if self.keyword("NIL") { Ok(None) } else { self.string().map(Some) }
    }

    /// `list-mailbox = 1*list-char / string`.
    pub fn list_mailbox(&mut self) -> Result<Cow<'a, [u8]>, LexError> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            // `~` is an ASTRING-CHAR too: a literal8 only when `{` follows.
            Some(b'~') if self.rest().get(1) == Some(&b'{') => self.string(),
            _ => self.run(LIST, "list-mailbox").map(Cow::Borrowed),
        }
    }

    /// `(`: opens a list, within [`MAX_DEPTH`].
    pub fn open(&mut self) -> Result<(), LexError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("shallower nesting"));
        }
        if !self.eat(b'(') {
            return Err(self.err("("));
        }
        self.depth += 1;
        Ok(())
    }

    /// `)`: closes a list.
    pub fn close(&mut self) -> Result<(), LexError> {
        if self.depth == 0 || !self.eat(b')') {
            return Err(self.err(")"));
        }
        self.depth -= 1;
        Ok(())
    }
}

/// Octets of an ASCII class run as text (every class is printable ASCII).
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_atoms_and_keywords() {
        let mut c = Cursor::new(b"a001 login {5}\r\nalice \"se\\\"cret\"\r\n");
        assert_eq!(c.tag(), Ok("a001"));
        c.sp().unwrap();
        assert!(!c.keyword("LOGOUT"));
        assert!(c.keyword("LOGIN"));
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), Cow::Borrowed(&b"alice"[..]));
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), Cow::<[u8]>::Owned(b"se\"cret".to_vec()));
        c.end().unwrap();
        // `+` is not in a tag; `]` is in an astring, not in an atom.
        assert!(Cursor::new(b"+x").tag().is_err());
        assert_eq!(Cursor::new(b"a]b ").astring().unwrap(), Cow::Borrowed(&b"a]b"[..]));
        assert_eq!(Cursor::new(b"a]b ").atom(), Ok("a"));
        assert_eq!(Cursor::new(b"%/*x ").list_mailbox().unwrap(), Cow::Borrowed(&b"%/*x"[..]));
    }

    #[test]
    fn a_tilde_starts_a_literal8_only_before_a_brace() {
        // Found by the astring round-trip proptest: `~` alone is an ASTRING-CHAR.
        assert_eq!(Cursor::new(b"~ ").astring().unwrap(), &b"~"[..]);
        assert_eq!(Cursor::new(b"~user/x ").list_mailbox().unwrap(), &b"~user/x"[..]);
        assert_eq!(Cursor::new(b"~{1}\r\nz").astring().unwrap(), &b"z"[..]);
    }

    #[test]
    fn quoted_strings_are_strict() {
        for bad in [&b"\"abc"[..], b"\"a\rb\"", b"\"a\\xb\"", b"\"a\0b\""] {
            assert!(Cursor::new(bad).quoted().is_err(), "{bad:?}");
        }
        assert_eq!(Cursor::new("\"Entwürfe\"".as_bytes()).quoted().unwrap(), Cow::Borrowed("Entwürfe".as_bytes()));
    }

    #[test]
    fn literals_are_slices_and_bounded_by_the_command() {
        let mut c = Cursor::new(b"{3+}\r\na\r\nb ~{2}\r\n\x00\x01");
        assert_eq!(c.literal().unwrap(), b"a\r\n");
        assert_eq!(c.rest(), b"b ~{2}\r\n\x00\x01");
        assert!(Cursor::new(b"{9}\r\nshort").literal().is_err());
        assert!(Cursor::new(b"{18446744073709551616}\r\n").literal().is_err());
    }

    #[test]
    fn numbers_and_sequence_sets() {
        let mut c = Cursor::new(b"1:*,4,7:5 ");
        let set = c.sequence_set().unwrap();
        let v = |n| SeqNumber::Value(NonZeroU32::new(n).unwrap());
        assert_eq!(
            set,
            vec![
                SeqRange { from: v(1), to: SeqNumber::Largest },
                SeqRange { from: v(4), to: v(4) },
                SeqRange { from: v(7), to: v(5) }
            ]
        );
        assert!(Cursor::new(b"0").nz_number().is_err());
        assert!(Cursor::new(b"4294967296").number().is_err());
        assert_eq!(Cursor::new(b"4294967295").number(), Ok(u32::MAX));
        assert!(Cursor::new(b"1,").sequence_set().is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = [b'('; 64];
        let mut c = Cursor::new(&deep);
        for _ in 0..MAX_DEPTH {
            c.open().unwrap();
        }
        assert_eq!(c.open(), Err(LexError { expected: "shallower nesting", at: MAX_DEPTH }));
        assert!(Cursor::new(b")").close().is_err());
    }

    proptest::proptest! {
        /// Any text without CR, LF or NUL, quoted with escapes, reads back as itself.
        #[test]
        fn quoted_round_trip(text in "[^\\r\\n\\x00]{0,40}") {
            let mut wire = vec![b'"'];
            for b in text.bytes() {
                if b == b'"' || b == b'\\' {
                    wire.push(b'\\');
                }
                wire.push(b);
            }
            wire.push(b'"');
            let mut c = Cursor::new(&wire);
            let got = c.quoted().unwrap();
            proptest::prop_assert_eq!(&got[..], text.as_bytes());
            proptest::prop_assert_eq!(c.pos(), wire.len());
        }

        /// Every reader on arbitrary octets: an answer or an error, never a panic, and the
        /// cursor never past the end.
        #[test]
        fn readers_never_panic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            for k in 0..9 {
                let mut c = Cursor::new(&input);
                let _ = match k {
                    0 => c.tag().map(|_| ()),
                    1 => c.astring().map(|_| ()),
                    2 => c.string().map(|_| ()),
                    3 => c.literal().map(|_| ()),
                    4 => c.sequence_set().map(|_| ()),
                    5 => c.list_mailbox().map(|_| ()),
                    6 => c.nstring().map(|_| ()),
                    7 => c.number().map(|_| ()),
                    _ => c.open().and_then(|()| c.close()),
                };
                proptest::prop_assert!(c.pos() <= input.len());
            }
        }
    }
}
