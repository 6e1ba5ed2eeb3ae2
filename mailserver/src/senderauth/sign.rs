//! Which mail is signed, and by which domain.
//!
//! A message is signed as it enters the outbound queue (every remote recipient passes
//! there: relayed submissions, forwards, autoreplies, reports), once, by every key of one
//! domain (RSA and Ed25519 side by side, RFC 8463 §1):
//!
//! - mail a trusted client sent (logged in, or from the relay networks) or the server wrote
//!   itself: the `From:` domain's keys, or its nearest parent domain's (relaxed alignment,
//!   RFC 7489 §3.1.1), else the envelope sender's;
//! - mail that came from anywhere else and leaves again (a forward): the forwarding
//!   address's domain signs, and only when the `From:` domain is not ours. A stranger's
//!   message claiming one of our domains is never signed by us, so no forged `From:` of
//!   ours passes DMARC through a forward.

use mail_parser::MessageParser;

use super::keys::{Key, KeyStore, Keys, signing};

/// Who handed the message in, as far as signing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin<'a> {
    /// A logged-in or relay-network client, or the server itself.
    Trusted { envelope_sender: &'a str },
    /// Anyone else; the message is forwarded by this local address.
    Forwarded { by: &'a str },
}

/// The header section of a message (up to the empty line, or all of it).
pub(crate) fn header_section(message: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| memchr::memmem::find(message, b"\n\n").map(|i| i + 1))
        .unwrap_or(message.len());
    &message[..end]
}

/// The domain of the first `From:` address, lower-cased.
pub(crate) fn from_domain(message: &[u8]) -> Option<String> {
    let parsed = MessageParser::new().parse_headers(header_section(message))?;
    let address = parsed.from()?.first()?.address()?;
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

fn domain_of(address: &str) -> Option<String> {
    address.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty())
}

/// `domain`, then each parent that is still a domain of two labels or more.
fn with_parents(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, p)| p)).filter(|d| d.contains('.'))
}

/// The domain whose keys vouch for a forward by the local address `by` of a message
/// `From:` `from`: `by`'s domain or its nearest parent with keys, unless `from` claims one of
/// our domains (by the directory, `is_ours`, or by our keys), which a stranger's message may
/// not have vouched for. The one rule for DKIM signing and ARC sealing of forwards.
pub(crate) fn forward_signer(
    all: &Keys,
    is_ours: impl Fn(&str) -> bool,
    from: Option<&str>,
    by: &str,
) -> Option<String> {
    if from.is_some_and(|f| with_parents(f).any(|d| is_ours(d) || all.contains_key(d))) {
        return None;
    }
    let by = domain_of(by)?;
    with_parents(&by).find(|d| all.contains_key(*d)).map(str::to_owned)
}

/// The `DKIM-Signature` fields to put on top of `message`, or nothing when no key of ours
/// may sign it. `is_ours` says whether a domain is one of the server's.
pub(crate) fn signatures(
    keys: &KeyStore,
    is_ours: impl Fn(&str) -> bool,
    origin: Origin<'_>,
    message: &[u8],
) -> Option<String> {
    // One look at the keys for the whole message.
    let all = keys.all();
    let from = from_domain(message);
    let signer = match origin {
        Origin::Trusted { envelope_sender } => {
            let with_keys = |domain: &str| with_parents(domain).find(|d| all.contains_key(*d)).map(str::to_owned);
            from.as_deref().and_then(with_keys).or_else(|| with_keys(&domain_of(envelope_sender)?))?
        }
        Origin::Forwarded { by } => forward_signer(&all, is_ours, from.as_deref(), by)?,
    };
    let mut out = String::new();
    for key in signing(&all, &signer) {
        match key.sign(message) {
            Ok(field) => out.push_str(&field),
            Err(e) => {
                tracing::error!(domain = %key.domain, selector = %key.selector, error = %e, "DKIM signing failed")
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The RSA key that ARC-seals a message forwarded by `by` (ARC defines RSA only), by the
/// rule of [`forward_signer`].
pub(crate) fn forward_sealer(
    keys: &KeyStore,
    is_ours: impl Fn(&str) -> bool,
    message: &[u8],
    by: &str,
) -> Option<std::sync::Arc<Key>> {
    let all = keys.all();
    let domain = forward_signer(&all, is_ours, from_domain(message).as_deref(), by)?;
    signing(&all, &domain).into_iter().find(|k| k.algorithm == super::keys::Algorithm::Rsa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::senderauth::keys::{Algorithm, generate};

    #[test]
    fn from_domains() {
        assert_eq!(
            from_domain(b"Subject: x\r\nFrom: A <a@Example.COM>\r\n\r\nFrom: b@c.d\r\n").unwrap(),
            "example.com"
        );
        assert_eq!(from_domain(b"From: a@b.c\n\nbody"), Some("b.c".into()));
        assert_eq!(from_domain(b"Subject: none\r\n\r\n"), None);
        assert_eq!(
            with_parents("a.b.example.com").collect::<Vec<_>>(),
            ["a.b.example.com", "b.example.com", "example.com"]
        );
    }

    #[test]
    fn who_signs() {
        let dir = std::env::temp_dir().join(format!("sansmail-dkim-sign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        generate(&dir, "example.com", "k1", Algorithm::Ed25519).unwrap();
        let keys = KeyStore::new(&dir);
        let ours = |d: &str| d == "example.com";
        let trusted = Origin::Trusted { envelope_sender: "a@example.com" };
        let sub = b"From: a@news.example.com\r\n\r\nhi\r\n";
        assert!(signatures(&keys, ours, trusted, sub).unwrap().contains("d=example.com"), "parent domain signs");
        let foreign = b"From: x@elsewhere.org\r\n\r\nhi\r\n";
        assert!(signatures(&keys, ours, trusted, foreign).is_some(), "by the envelope sender");
        let stranger = Origin::Trusted { envelope_sender: "x@elsewhere.org" };
        assert!(signatures(&keys, ours, stranger, foreign).is_none());
        let forward = Origin::Forwarded { by: "user@example.com" };
        assert!(signatures(&keys, ours, forward, foreign).unwrap().contains("d=example.com"));
        let forged = b"From: ceo@example.com\r\n\r\nwire money\r\n";
        assert!(signatures(&keys, ours, forward, forged).is_none(), "a stranger's claim of our domain");
        // The one rule of signing and sealing forwards: a subdomain of ours counts as ours.
        let all = keys.all();
        assert_eq!(forward_signer(&all, ours, Some("mail.example.com"), "user@example.com"), None);
        assert_eq!(
            forward_signer(&all, ours, Some("elsewhere.org"), "user@example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(forward_signer(&all, ours, None, "user@sub.example.com").as_deref(), Some("example.com"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
