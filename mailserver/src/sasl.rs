//! SASL server mechanisms shared by the protocols (SMTP now; POP3 and IMAP with their
//! services): PLAIN ([RFC 4616](https://www.rfc-editor.org/rfc/rfc4616)) and LOGIN. The
//! exchange yields credentials; checking them (argon2, throttling) is the caller's.
//! A failed or cancelled exchange is dropped whole: nothing carries into the next attempt.

use sansmail_smtp_proto::Mechanism;

/// What to do after a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this challenge and wait for the client's response.
    Challenge(&'static [u8]),
    /// The client claims this identity with this password.
    Credentials { user: String, password: String },
    /// The response did not follow the mechanism (501 5.5.2).
    Malformed,
}

/// One exchange in progress.
#[derive(Debug)]
pub(crate) enum Exchange {
    Plain,
    LoginUser,
    LoginPassword { user: String },
}

/// The mechanisms this server offers.
pub(crate) fn offered() -> Vec<Mechanism<'static>> {
    vec![Mechanism::Plain, Mechanism::Login]
}

fn text(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    // No NUL or line breaks inside a name or password.
    (!s.contains(['\0', '\r', '\n'])).then(|| s.to_string())
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`. Acting for another identity (an authzid
/// other than the authcid) is not offered.
fn plain(message: &[u8]) -> Step {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authz), Some(authc), Some(pass), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Step::Malformed;
    };
    match (text(authz), text(authc), text(pass)) {
        (Some(z), Some(user), Some(password)) if (z.is_empty() || z == user) && !user.is_empty() => {
            Step::Credentials { user, password }
        }
        _ => Step::Malformed,
    }
}

impl Exchange {
    /// Starts a mechanism; `None` if it is not one of [`offered`].
    pub(crate) fn start(mechanism: &Mechanism<'_>, initial: Option<Vec<u8>>) -> Option<(Option<Self>, Step)> {
        Some(match (mechanism, initial) {
            (Mechanism::Plain, Some(message)) => (None, plain(&message)),
            // RFC 4954 §4: no initial response, so an empty challenge asks for it.
            (Mechanism::Plain, None) => (Some(Self::Plain), Step::Challenge(b"")),
            (Mechanism::Login, Some(user)) => match text(&user) {
                Some(user) => (Some(Self::LoginPassword { user }), Step::Challenge(b"Password:")),
                None => (None, Step::Malformed),
            },
            (Mechanism::Login, None) => (Some(Self::LoginUser), Step::Challenge(b"Username:")),
            _ => return None,
        })
    }

    /// Takes the client's response; returns the next exchange state (if any) and the step.
    pub(crate) fn respond(self, response: &[u8]) -> (Option<Self>, Step) {
        match self {
            Self::Plain => (None, plain(response)),
            Self::LoginUser => match text(response) {
                Some(user) => (Some(Self::LoginPassword { user }), Step::Challenge(b"Password:")),
                None => (None, Step::Malformed),
            },
            Self::LoginPassword { user } => match text(response) {
                Some(password) => (None, Step::Credentials { user, password }),
                None => (None, Step::Malformed),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Step {
        Step::Credentials { user: u.into(), password: p.into() }
    }

    #[test]
    fn plain_forms() {
        let (_, s) = Exchange::start(&Mechanism::Plain, Some(b"\0alice@x\0pw".to_vec())).unwrap();
        assert_eq!(s, creds("alice@x", "pw"));
        let (_, s) = Exchange::start(&Mechanism::Plain, Some(b"alice@x\0alice@x\0pw".to_vec())).unwrap();
        assert_eq!(s, creds("alice@x", "pw"));
        // Acting as someone else, missing parts, extra parts, empty user.
        for bad in [&b"bob@x\0alice@x\0pw"[..], b"\0alice@x", b"\0a\0b\0c", b"\0\0pw", b"\0a\r\nb\0pw"] {
            let (_, s) = Exchange::start(&Mechanism::Plain, Some(bad.to_vec())).unwrap();
            assert_eq!(s, Step::Malformed, "{bad:?}");
        }
        let (ex, s) = Exchange::start(&Mechanism::Plain, None).unwrap();
        assert_eq!(s, Step::Challenge(b""));
        assert_eq!(ex.unwrap().respond(b"\0u\0p").1, creds("u", "p"));
    }

    #[test]
    fn login_forms() {
        let (ex, s) = Exchange::start(&Mechanism::Login, None).unwrap();
        assert_eq!(s, Step::Challenge(b"Username:"));
        let (ex, s) = ex.unwrap().respond(b"alice@x");
        assert_eq!(s, Step::Challenge(b"Password:"));
        assert_eq!(ex.unwrap().respond(b"pw").1, creds("alice@x", "pw"));
        let (ex, _) = Exchange::start(&Mechanism::Login, Some(b"alice@x".to_vec())).unwrap();
        assert_eq!(ex.unwrap().respond(b"pw").1, creds("alice@x", "pw"));
        assert!(Exchange::start(&Mechanism::CramMd5, None).is_none());
    }
}
