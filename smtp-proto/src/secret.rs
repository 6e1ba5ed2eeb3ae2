//! Values that must not reach a log: passwords and SASL exchanges.

use std::fmt;
use std::ops::Deref;

/// A password or an authentication exchange. Its `Debug` prints `<redacted>`, so an
/// event or command logged with `{:?}` shows no secret; read the value with
/// [`Secret::expose`], [`Secret::into_inner`] or by dereference.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<'a> From<&'a str> for Secret<std::borrow::Cow<'a, str>> {
    fn from(value: &'a str) -> Self {
        Self(std::borrow::Cow::Borrowed(value))
    }
}

impl<T> Deref for Secret<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.len(), 7);
    }
}
