//! Incremental parsing outcome.

/// The outcome of parsing a prefix of a byte stream: "need more bytes" is a
/// status, not an error (as in httparse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole item was parsed.
    Complete(T),
    /// The input ends inside an item: call again with more bytes.
    Partial,
}

impl<T> Status<T> {
    /// The parsed item, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Self::Complete(t) => Some(t),
            Self::Partial => None,
        }
    }

    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }
}
