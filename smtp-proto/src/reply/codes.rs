//! Reply codes ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)) and
//! enhanced status codes ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463)).
//!
//! Both types hold only values a client can read: their fields are private and their
//! constructors check them.

use std::fmt;

/// A three-digit reply code: `%x32-35 %x30-35 %x30-39` (200–559, second digit 0–5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(pub(super) u16);

impl ReplyCode {
    /// 220 Service ready.
    pub const READY: Self = Self(220);
    /// 221 Service closing transmission channel.
    pub const CLOSING: Self = Self(221);
    /// 235 Authentication succeeded.
    pub const AUTH_OK: Self = Self(235);
    /// 250 Requested mail action okay, completed.
    pub const OK: Self = Self(250);
    /// 334 Server challenge.
    pub const AUTH_CHALLENGE: Self = Self(334);
    /// 354 Start mail input.
    pub const START_MAIL_INPUT: Self = Self(354);
    /// 421 Service not available, closing transmission channel.
    pub const NOT_AVAILABLE: Self = Self(421);

    /// The code, if it is one of RFC 5321's grammar: 200–559 with a second digit of 0–5.
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 200 && code < 560 && (code / 10) % 10 <= 5 { Some(Self(code)) } else { None }
    }

    /// The code as a number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 positive, 3 intermediate, 4 transient failure, 5 permanent failure.
    pub const fn class(self) -> u16 {
        self.0 / 100
    }

    /// Whether the code is 2yz.
    pub const fn is_positive(self) -> bool {
        self.class() == 2
    }

    /// Whether the code is 4yz.
    pub const fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// Whether the code is 5yz.
    pub const fn is_permanent(self) -> bool {
        self.class() == 5
    }
}

impl PartialEq<u16> for ReplyCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ReplyCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let (c1, c2, c3) = (u.int_in_range(2u16..=5)?, u.int_in_range(0u16..=5)?, u.int_in_range(0u16..=9)?);
        Ok(Self(c1 * 100 + c2 * 10 + c3))
    }
}

/// `status-code = class "." subject "." detail`: class 2, 4 or 5; subject and detail 0–999.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    pub(super) class: u8,
    pub(super) subject: u16,
    pub(super) detail: u16,
}

impl EnhancedCode {
    /// A code from its three parts, if the class is 2, 4 or 5 and subject and detail are
    /// at most three digits (RFC 3463 §2).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000 {
            Some(Self { class, subject, detail })
        } else {
            None
        }
    }

    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject (0–999).
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail (0–999).
    pub const fn detail(self) -> u16 {
        self.detail
    }

    pub(crate) fn encode(self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}.{}.{}", self.class, self.subject, self.detail);
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for EnhancedCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let class = *u.choose(&[2u8, 4, 5])?;
        Ok(Self { class, subject: u.int_in_range(0..=999)?, detail: u.int_in_range(0..=999)? })
    }
}
