//! SASL server mechanisms shared by the protocols (SMTP now; POP3 and IMAP with their
//! services): PLAIN ([RFC 4616](https://www.rfc-editor.org/rfc/rfc4616)), LOGIN, and
//! SCRAM-SHA-256 ([RFC 5802](https://www.rfc-editor.org/rfc/rfc5802),
//! [RFC 7677](https://www.rfc-editor.org/rfc/rfc7677)) without channel binding. PLAIN and
//! LOGIN yield credentials to check (argon2, throttling: the caller's); SCRAM asks the caller
//! for the user's stored verifier and proves the password itself, never seeing it.
//! A failed or cancelled exchange is dropped whole: nothing carries into the next attempt.

use base64::Engine;
use hmac::{Hmac, Mac};
use sansmail_smtp_proto::Mechanism;
use sha2::{Digest, Sha256};

use crate::identity::users::{ScramSecrets, unreachable_hmac};

/// What to do after a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send this challenge and wait for the client's response.
    Challenge(Vec<u8>),
    /// The client claims this identity with this password.
    Credentials { user: String, password: String },
    /// SCRAM needs this user's verifier: call [`Exchange::with_secrets`].
    Lookup { user: String },
    /// SCRAM proved the client knows the password.
    Authenticated { user: String },
    /// SCRAM's proof was wrong.
    Failed { user: String },
    /// CRAM-MD5: check `digest` against HMAC-MD5(`challenge`) under the user's verifier
    /// (see [`cram_md5_ok`]).
    CramMd5 { user: String, challenge: String, digest: [u8; 16] },
    /// The response did not follow the mechanism (501 5.5.2).
    Malformed,
}

/// One exchange in progress.
#[derive(Debug)]
pub(crate) enum Exchange {
    Plain,
    LoginUser,
    LoginPassword {
        user: String,
    },
    ScramClientFirst,
    ScramLookup {
        user: String,
        client_first_bare: String,
        client_nonce: String,
    },
    ScramClientFinal {
        user: String,
        secrets: ScramSecrets,
        client_first_bare: String,
        server_first: String,
        nonce: String,
    },
    ScramDone {
        user: String,
    },
    CramMd5 {
        challenge: String,
    },
}

/// The mechanisms this server offers, strongest first; CRAM-MD5 unless turned off.
pub(crate) fn offered(cram_md5: bool) -> Vec<Mechanism<'static>> {
    let mut m = vec![Mechanism::ScramSha256];
    if cram_md5 {
        m.push(Mechanism::CramMd5);
    }
    m.extend([Mechanism::Plain, Mechanism::Login]);
    m
}

/// Whether a CRAM-MD5 answer is right, under the user's verifier (`None`: no such user, or
/// no verifier yet — wrong, after the same work).
pub(crate) fn cram_md5_ok(states: Option<&str>, challenge: &str, digest: &[u8; 16]) -> bool {
    let Some(expected) = states.and_then(|s| crate::identity::users::cram_md5_digest(s, challenge.as_bytes())) else {
        return false;
    };
    expected.iter().zip(digest).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// `user SP 32 lower-case hex digits` (RFC 2195).
fn cram_md5_response(response: &[u8]) -> Option<(String, [u8; 16])> {
    let line = std::str::from_utf8(response).ok()?;
    let (user, hex) = line.rsplit_once(' ')?;
    if hex.len() != 32 || user.is_empty() {
        return None;
    }
    let mut digest = [0u8; 16];
    for (i, d) in digest.iter_mut().enumerate() {
        *d = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((text(user.as_bytes())?, digest))
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// `saslname`: `=2C` is `,` and `=3D` is `=`; any other `=` is an error (RFC 5802 §5.1).
fn saslname(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

/// The client-first message: `n,,n=user,r=nonce` (no channel binding, no authzid other
/// than the user itself).
fn scram_client_first(message: &[u8]) -> Step2 {
    let Ok(m) = std::str::from_utf8(message) else { return Step2::Malformed };
    let Some(bare) = m.strip_prefix("n,,").or_else(|| m.strip_prefix("y,,")) else {
        // `p=`: channel binding, which this server does not offer; `a=`: acting for another.
        return Step2::Malformed;
    };
    // RFC 5802 §7: `[reserved-mext ","] username "," nonce ["," extensions]`, in that
    // order, each once. A repeated `n=` (`n=alice,r=…,n=bob`) would let a proxy and this
    // server read different users: refused, as is `m=` (no mandatory extension is known).
    let mut attrs = bare.split(',');
    let user = attrs.next().and_then(|a| a.strip_prefix("n=")).and_then(saslname);
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        .map(str::to_owned);
    let extension_ok = |a: &str| a.len() >= 2 && a.as_bytes()[0].is_ascii_alphabetic() && a.as_bytes()[1] == b'=';
    if attrs.any(|a| !extension_ok(a) || a.starts_with("n=") || a.starts_with("r=") || a.starts_with("m=")) {
        return Step2::Malformed;
    }
    match (user, nonce) {
        (Some(user), Some(client_nonce)) => Step2::Ok(user, bare.to_string(), client_nonce),
        _ => Step2::Malformed,
    }
}

enum Step2 {
    Ok(String, String, String),
    Malformed,
}

/// A verifier for a user who has none (unknown, or no SCRAM secrets yet): the exchange runs
/// to its end and fails there, with a salt that does not change between attempts, so the
/// answer does not tell whether the user exists.
fn decoy(user: &str) -> ScramSecrets {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut k);
        k
    });
    let salt = hmac(key, user.as_bytes());
    ScramSecrets { iterations: 4096, salt: salt[..16].to_vec(), stored_key: vec![0; 32], server_key: vec![0; 32] }
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
    /// Starts a mechanism; `None` if it is not one of [`offered`]. `host` names this server
    /// in the CRAM-MD5 challenge.
    pub(crate) fn start(
        mechanism: &Mechanism<'_>,
        initial: Option<Vec<u8>>,
        host: &str,
    ) -> Option<(Option<Self>, Step)> {
        Some(match (mechanism, initial) {
            (Mechanism::CramMd5, None) => {
                let mut r = [0u8; 8];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
                let stamp =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let nonce: String = r.iter().map(|b| format!("{b:02x}")).collect();
                let challenge = format!("<{nonce}.{stamp}@{host}>");
                let bytes = challenge.clone().into_bytes();
                (Some(Self::CramMd5 { challenge }), Step::Challenge(bytes))
            }
            // CRAM-MD5 has no initial response.
            (Mechanism::CramMd5, Some(_)) => (None, Step::Malformed),
            (Mechanism::Plain, Some(message)) => (None, plain(&message)),
            // RFC 4954 §4: no initial response, so an empty challenge asks for it.
            (Mechanism::Plain, None) => (Some(Self::Plain), Step::Challenge(Vec::new())),
            (Mechanism::Login, Some(user)) => match text(&user) {
                Some(user) => (Some(Self::LoginPassword { user }), Step::Challenge(b"Password:".to_vec())),
                None => (None, Step::Malformed),
            },
            (Mechanism::Login, None) => (Some(Self::LoginUser), Step::Challenge(b"Username:".to_vec())),
            (Mechanism::ScramSha256, None) => (Some(Self::ScramClientFirst), Step::Challenge(Vec::new())),
            (Mechanism::ScramSha256, Some(first)) => Self::scram_first(&first),
            _ => return None,
        })
    }

    /// Takes the client's response; returns the next exchange state (if any) and the step.
    pub(crate) fn respond(self, response: &[u8]) -> (Option<Self>, Step) {
        match self {
            Self::Plain => (None, plain(response)),
            Self::LoginUser => match text(response) {
                Some(user) => (Some(Self::LoginPassword { user }), Step::Challenge(b"Password:".to_vec())),
                None => (None, Step::Malformed),
            },
            Self::LoginPassword { user } => match text(response) {
                Some(password) => (None, Step::Credentials { user, password }),
                None => (None, Step::Malformed),
            },
            Self::ScramClientFirst => Self::scram_first(response),
            // The lookup answers this state, not the client.
            Self::ScramLookup { .. } => (None, Step::Malformed),
            Self::ScramClientFinal { user, secrets, client_first_bare, server_first, nonce } => {
                scram_final(user, &secrets, &client_first_bare, &server_first, &nonce, response)
            }
            // RFC 4954 §4: the server's final message went as a challenge; the client
            // answers it with an empty response.
            Self::ScramDone { user } if response.is_empty() => (None, Step::Authenticated { user }),
            Self::ScramDone { .. } => (None, Step::Malformed),
            Self::CramMd5 { challenge } => match cram_md5_response(response) {
                Some((user, digest)) => (None, Step::CramMd5 { user, challenge, digest }),
                None => (None, Step::Malformed),
            },
        }
    }

    fn scram_first(message: &[u8]) -> (Option<Self>, Step) {
        match scram_client_first(message) {
            Step2::Ok(user, client_first_bare, client_nonce) => {
                let lookup = Step::Lookup { user: user.clone() };
                (Some(Self::ScramLookup { user, client_first_bare, client_nonce }), lookup)
            }
            Step2::Malformed => (None, Step::Malformed),
        }
    }

    /// Answers [`Step::Lookup`]: the user's verifier, if any; returns the server-first
    /// challenge.
    pub(crate) fn with_secrets(self, secrets: Option<ScramSecrets>) -> (Option<Self>, Step) {
        let Self::ScramLookup { user, client_first_bare, client_nonce } = self else {
            return (None, Step::Malformed);
        };
        let secrets = secrets.unwrap_or_else(|| decoy(&user));
        let mut server_nonce = [0u8; 18];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut server_nonce);
        let nonce = format!("{client_nonce}{}", b64().encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={}", b64().encode(&secrets.salt), secrets.iterations);
        let challenge = server_first.clone().into_bytes();
        (
            Some(Self::ScramClientFinal { user, secrets, client_first_bare, server_first, nonce }),
            Step::Challenge(challenge),
        )
    }
}

/// Checks the client-final message `c=biws,r=nonce,p=proof` (RFC 5802 §3, §5.1).
fn scram_final(
    user: String,
    secrets: &ScramSecrets,
    client_first_bare: &str,
    server_first: &str,
    nonce: &str,
    message: &[u8],
) -> (Option<Exchange>, Step) {
    let Ok(m) = std::str::from_utf8(message) else { return (None, Step::Malformed) };
    let Some((without_proof, proof)) = m.rsplit_once(",p=") else { return (None, Step::Malformed) };
    let mut attrs = without_proof.split(',');
    // `biws` is base64("n,,"), `eSws` base64("y,,"): the GS2 header sent first.
    let binding_ok = matches!(attrs.next(), Some("c=biws" | "c=eSws"));
    let nonce_ok = attrs.next().and_then(|r| r.strip_prefix("r=")) == Some(nonce);
    let Ok(proof) = b64().decode(proof) else { return (None, Step::Malformed) };
    if !binding_ok || !nonce_ok || proof.len() != 32 {
        return (None, Step::Failed { user });
    }
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&secrets.stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    let stored = Sha256::digest(&client_key);
    // Constant time: fold every octet's difference.
    let diff = stored.iter().zip(&secrets.stored_key).fold(0u8, |d, (a, b)| d | (a ^ b));
    if diff != 0 || secrets.stored_key.len() != 32 {
        return (None, Step::Failed { user });
    }
    let server_signature = hmac(&secrets.server_key, auth_message.as_bytes());
    let server_final = format!("v={}", b64().encode(server_signature)).into_bytes();
    (Some(Exchange::ScramDone { user }), Step::Challenge(server_final))
}

#[cfg(test)]
impl Exchange {
    fn start_test(mechanism: &Mechanism<'_>, initial: Option<Vec<u8>>) -> Option<(Option<Self>, Step)> {
        Self::start(mechanism, initial, "mx.test")
    }
}

#[cfg(test)]
mod scram_tests {
    use super::*;

    /// A client written from RFC 5802 §3, independently of the server code above.
    fn client_proof(password: &str, salt: &[u8], i: u32, auth_message: &str) -> (Vec<u8>, Vec<u8>) {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, i, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let sig = hmac(&stored_key, auth_message.as_bytes());
        let proof = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let server_sig = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
        (proof, server_sig)
    }

    fn run(password_on_server: Option<&str>, password_of_client: &str) -> Step {
        let (ex, step) =
            Exchange::start_test(&Mechanism::ScramSha256, Some(b"n,,n=alice@x,r=abcdef".to_vec())).unwrap();
        assert_eq!(step, Step::Lookup { user: "alice@x".into() });
        let secrets = password_on_server.map(|p| ScramSecrets::derive(p, b"0123456789abcdef", 4096));
        let (ex, step) = ex.unwrap().with_secrets(secrets);
        let Step::Challenge(server_first) = step else { panic!("{step:?}") };
        let server_first = String::from_utf8(server_first).unwrap();
        let mut fields = server_first.split(',');
        let nonce = fields.next().unwrap().strip_prefix("r=").unwrap().to_string();
        let salt = b64().decode(fields.next().unwrap().strip_prefix("s=").unwrap()).unwrap();
        let i: u32 = fields.next().unwrap().strip_prefix("i=").unwrap().parse().unwrap();
        assert!(nonce.starts_with("abcdef") && nonce.len() > 6);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("n=alice@x,r=abcdef,{server_first},{without_proof}");
        let (proof, server_sig) = client_proof(password_of_client, &salt, i, &auth);
        let (ex, step) = ex.unwrap().respond(format!("{without_proof},p={}", b64().encode(proof)).as_bytes());
        match step {
            Step::Challenge(v) => {
                assert_eq!(v, format!("v={}", b64().encode(server_sig)).into_bytes(), "server proves itself");
                ex.unwrap().respond(b"").1
            }
            other => other,
        }
    }

    #[test]
    fn scram_sha256_round_trip() {
        assert_eq!(run(Some("pencil"), "pencil"), Step::Authenticated { user: "alice@x".into() });
        assert_eq!(run(Some("pencil"), "crayon"), Step::Failed { user: "alice@x".into() });
        assert_eq!(run(None, "pencil"), Step::Failed { user: "alice@x".into() });
    }

    #[test]
    fn cram_md5_exchange() {
        let (ex, step) = Exchange::start_test(&Mechanism::CramMd5, None).unwrap();
        let Step::Challenge(challenge) = step else { panic!("{step:?}") };
        let challenge = String::from_utf8(challenge).unwrap();
        assert!(challenge.starts_with('<') && challenge.ends_with("@mx.test>"), "{challenge}");
        // The client's side: HMAC-MD5 written out from RFC 2104 over the password.
        let hmac_md5 = |key: &[u8], msg: &[u8]| {
            use md5::Digest;
            let mut k = [0u8; 64];
            k[..key.len()].copy_from_slice(key);
            let inner = md5::Md5::new().chain_update(k.map(|b| b ^ 0x36)).chain_update(msg).finalize();
            md5::Md5::new().chain_update(k.map(|b| b ^ 0x5c)).chain_update(inner).finalize()
        };
        let hex: String = hmac_md5(b"pw", challenge.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let (_, step) = ex.unwrap().respond(format!("alice@x {hex}").as_bytes());
        let Step::CramMd5 { user, challenge: c, digest } = step else { panic!("{step:?}") };
        assert_eq!((user.as_str(), c.as_str()), ("alice@x", challenge.as_str()));
        let states = {
            let mut u = crate::identity::users::Users::default();
            u.set_password("alice@x", "pw", false).unwrap();
            u.cram_md5("alice@x")
        };
        assert!(cram_md5_ok(states.as_deref(), &challenge, &digest));
        assert!(!cram_md5_ok(None, &challenge, &digest));
        assert!(!cram_md5_ok(states.as_deref(), "<other@mx.test>", &digest));
        let (ex, _) = Exchange::start_test(&Mechanism::CramMd5, None).unwrap();
        assert_eq!(ex.unwrap().respond(b"alice@x nothex").1, Step::Malformed);
        assert_eq!(Exchange::start_test(&Mechanism::CramMd5, Some(b"x".to_vec())).unwrap().1, Step::Malformed);
    }

    #[test]
    fn scram_refuses_what_it_does_not_offer() {
        for first in [
            &b"p=tls-unique,,n=a,r=x"[..],
            b"n,a=bob,n=alice,r=x",
            b"n,,n=a,r=x,m=ext",
            b"n,,r=x",
            b"n,,n=a=2,r=x",
            // Repeated or out-of-order attributes: which user would it be?
            b"n,,n=alice,r=x,n=bob",
            b"n,,n=alice,r=x,r=y",
            b"n,,r=x,n=alice",
            b"n,,n=alice,n=bob,r=x",
            b"n,,m=ext,n=alice,r=x",
            b"n,,n=alice,r=x,",
        ] {
            let (_, step) = Exchange::start_test(&Mechanism::ScramSha256, Some(first.to_vec())).unwrap();
            assert_eq!(step, Step::Malformed, "{first:?}");
        }
        assert_eq!(saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
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
        let (_, s) = Exchange::start_test(&Mechanism::Plain, Some(b"\0alice@x\0pw".to_vec())).unwrap();
        assert_eq!(s, creds("alice@x", "pw"));
        let (_, s) = Exchange::start_test(&Mechanism::Plain, Some(b"alice@x\0alice@x\0pw".to_vec())).unwrap();
        assert_eq!(s, creds("alice@x", "pw"));
        // Acting as someone else, missing parts, extra parts, empty user.
        for bad in [&b"bob@x\0alice@x\0pw"[..], b"\0alice@x", b"\0a\0b\0c", b"\0\0pw", b"\0a\r\nb\0pw"] {
            let (_, s) = Exchange::start_test(&Mechanism::Plain, Some(bad.to_vec())).unwrap();
            assert_eq!(s, Step::Malformed, "{bad:?}");
        }
        let (ex, s) = Exchange::start_test(&Mechanism::Plain, None).unwrap();
        assert_eq!(s, Step::Challenge(Vec::new()));
        assert_eq!(ex.unwrap().respond(b"\0u\0p").1, creds("u", "p"));
    }

    #[test]
    fn login_forms() {
        let (ex, s) = Exchange::start_test(&Mechanism::Login, None).unwrap();
        assert_eq!(s, Step::Challenge(b"Username:".to_vec()));
        let (ex, s) = ex.unwrap().respond(b"alice@x");
        assert_eq!(s, Step::Challenge(b"Password:".to_vec()));
        assert_eq!(ex.unwrap().respond(b"pw").1, creds("alice@x", "pw"));
        let (ex, _) = Exchange::start_test(&Mechanism::Login, Some(b"alice@x".to_vec())).unwrap();
        assert_eq!(ex.unwrap().respond(b"pw").1, creds("alice@x", "pw"));
        assert!(Exchange::start_test(&Mechanism::XOAuth2, None).is_none());
    }
}
