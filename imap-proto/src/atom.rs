//! What the encoder writes bare, validated when it is made: tags and flags. Neither can
//! hold a space, a CR or LF, a parenthesis or a bracket, so none can end a response line
//! early or fake a status ([RFC 3501 §9](https://www.rfc-editor.org/rfc/rfc3501#section-9)).

use std::fmt;

/// `ATOM-CHAR`: any CHAR but the atom-specials.
pub(crate) fn is_atom_char(b: u8) -> bool {
    b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// A string that was to be a tag or a flag, and is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidAtom;

impl fmt::Display for InvalidAtom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid IMAP tag or flag")
    }
}

impl std::error::Error for InvalidAtom {}

/// A command tag: one or more `ASTRING-CHAR` but `+` (RFC 3501 §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tag<'a>(&'a str);

impl<'a> Tag<'a> {
    /// `tag` if it is one.
    pub fn new(tag: &'a str) -> Result<Self, InvalidAtom> {
        let ok = !tag.is_empty() && tag.bytes().all(|b| (is_atom_char(b) || b == b']') && b != b'+');
        if ok { Ok(Self(tag)) } else { Err(InvalidAtom) }
    }

    /// The tag's text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A message flag: a system flag (`\Seen`, …, an extension `\Name`, or `\*` in
/// PERMANENTFLAGS) or a keyword (`$Junk`, …). Made only from an atom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flag<'a> {
    system: bool,
    name: &'a str,
}

impl<'a> Flag<'a> {
    /// `\Answered`.
    pub const ANSWERED: Flag<'static> = Flag { system: true, name: "Answered" };
    /// `\Flagged`.
    pub const FLAGGED: Flag<'static> = Flag { system: true, name: "Flagged" };
    /// `\Deleted`.
    pub const DELETED: Flag<'static> = Flag { system: true, name: "Deleted" };
    /// `\Seen`.
    pub const SEEN: Flag<'static> = Flag { system: true, name: "Seen" };
    /// `\Draft`.
    pub const DRAFT: Flag<'static> = Flag { system: true, name: "Draft" };
    /// `\Recent`.
    pub const RECENT: Flag<'static> = Flag { system: true, name: "Recent" };
    /// `\*`: new keywords may be made (PERMANENTFLAGS only).
    pub const ANY_KEYWORD: Flag<'static> = Flag { system: true, name: "*" };

    /// A system flag `\name` (`name` without the backslash): an atom, or `*`.
    pub fn system(name: &'a str) -> Result<Self, InvalidAtom> {
        if name == "*" || is_atom(name) { Ok(Self { system: true, name }) } else { Err(InvalidAtom) }
    }

    /// A keyword: an atom.
    pub fn keyword(name: &'a str) -> Result<Self, InvalidAtom> {
        if is_atom(name) { Ok(Self { system: false, name }) } else { Err(InvalidAtom) }
    }

    /// Whether this is a system flag (written with a backslash).
    pub fn is_system(&self) -> bool {
        self.system
    }

    /// The name, without the backslash of a system flag.
    pub fn name(&self) -> &'a str {
        self.name
    }
}

fn is_atom(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_atom_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_atoms_pass() {
        assert!(Tag::new("a001").is_ok() && Tag::new("a]1").is_ok());
        for bad in ["", "a b", "a+", "a\r\nb", "a(", "x\"", "t\u{e9}"] {
            assert_eq!(Tag::new(bad), Err(InvalidAtom), "{bad:?}");
        }
        assert!(Flag::keyword("$Junk").is_ok() && Flag::system("Seen").is_ok() && Flag::system("*").is_ok());
        for bad in ["", "a)\r\na2 OK forged", "a b", "a]", "*", "\\Seen", "%"] {
            assert_eq!(Flag::keyword(bad), Err(InvalidAtom), "{bad:?}");
        }
        assert_eq!(Flag::system("Se en"), Err(InvalidAtom));
    }
}
