//! Reply codes ([RFC 5321 §4.2](https://www.rfc-editor.org/rfc/rfc5321#section-4.2)) and
//! enhanced status codes ([RFC 3463](https://www.rfc-editor.org/rfc/rfc3463)).

use std::fmt;

/// A three-digit reply code.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(pub u16);

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

    /// The first digit: 2 positive, 3 intermediate, 4 transient failure, 5 permanent failure.
    pub fn class(self) -> u16 {
        self.0 / 100
    }

    /// Whether the code is 4yz.
    pub fn is_transient(self) -> bool {
        self.class() == 4
    }

    /// Whether the code is 5yz.
    pub fn is_permanent(self) -> bool {
        self.class() == 5
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `status-code = class "." subject "." detail`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// The subject (0–999).
    pub subject: u16,
    /// The detail (0–999).
    pub detail: u16,
}

impl EnhancedCode {
    /// A code from its three parts.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self { class, subject, detail }
    }

    pub(crate) fn encode(self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{}.{}.{}", self.class, self.subject.min(999), self.detail.min(999));
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}
