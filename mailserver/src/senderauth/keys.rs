//! DKIM keys (RFC 6376 §3.6, RFC 8463): one PEM file per selector in
//! `dkim/<domain>/<selector>.pem` under the data directory, PKCS#8 for both algorithms.
//!
//! `sansmail dkim generate` writes a pair (RSA-2048 `<base>r`, Ed25519 `<base>e`) and prints
//! the TXT records to publish. Per domain and algorithm the newest key (by file time)
//! signs, so a key is rotated by generating a pair under a new selector base once its
//! records are published; the old records stay in DNS a while for mail in flight. A
//! running server notices new keys by the folder's time (the CLI touches
//! `dkim/.generation` after writing).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done, Signature};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject};

/// The fields signed: each of the first list once more than it occurs (over-signed, so
/// none can be added after signing), the second as they occur or as absent.
const OVERSIGNED: [&str; 7] = ["From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID"];
const SIGNED: [&str; 8] = [
    "Sender",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// What an ARC message signature covers: the fields a forward leaves alone (not
/// `DKIM-Signature`: ours is added after sealing, and a field signed as absent would break).
const ARC_SIGNED: [&str; 9] =
    ["From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version", "Content-Type"];

/// The signed header names as `h=` lists them.
pub(crate) fn header_list() -> Vec<&'static str> {
    OVERSIGNED.iter().flat_map(|h| [*h, *h]).chain(SIGNED).collect()
}

/// A key's algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Algorithm {
    /// `rsa-sha256`, 2048 bits.
    Rsa,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519,
}

impl Algorithm {
    /// As the record's `k=` names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

enum Inner {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// One domain's key under one selector, ready to sign.
pub(crate) struct Key {
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) algorithm: Algorithm,
    /// The TXT record's value (`v=DKIM1; k=…; p=…`).
    pub(crate) record: String,
    modified: SystemTime,
    inner: Inner,
    /// The private key, for the ARC sealer (made per seal).
    der: PrivatePkcs8KeyDer<'static>,
}

impl Key {
    /// Reads a key file; its domain is its folder's name, its selector the file's stem.
    fn load(domain: &str, path: &Path) -> Result<Key, String> {
        let selector = path.file_stem().and_then(|s| s.to_str()).ok_or("bad file name")?.to_owned();
        if !valid_selector(&selector) {
            return Err(format!("selector {selector:?} is not a DNS label sequence"));
        }
        let pem = fs::read(path).map_err(|e| e.to_string())?;
        let modified = fs::metadata(path).and_then(|m| m.modified()).map_err(|e| e.to_string())?;
        let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|e| format!("not a PKCS#8 PEM key: {e}"))?;
        let headers = header_list();
        let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
        let (algorithm, inner, public) = match Ed25519Key::from_pkcs8_der(der.secret_pkcs8_der()) {
            Ok(k) => {
                let public = b64(&k.public_key());
                let signer = DkimSigner::from_key(k).domain(domain).selector(&selector).headers(headers);
                (Algorithm::Ed25519, Inner::Ed25519(signer), public)
            }
            Err(_) => {
                let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der.clone_key()))
                    .map_err(|e| format!("neither an Ed25519 nor an RSA key: {e}"))?;
                let public = rsa_spki(&k.public_key())?;
                let signer = DkimSigner::from_key(k).domain(domain).selector(&selector).headers(headers);
                (Algorithm::Rsa, Inner::Rsa(signer), b64(&public))
            }
        };
        let record = format!("v=DKIM1; k={}; p={public}", algorithm.name());
        Ok(Key { domain: domain.to_owned(), selector, algorithm, record, modified, inner, der: der.clone_key() })
    }

    /// Signs `message`: the `DKIM-Signature` field, folded, CRLF-terminated.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<String, String> {
        let signature: Signature = match &self.inner {
            Inner::Rsa(s) => s.sign(message),
            Inner::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| e.to_string())?;
        Ok(signature.to_header())
    }

    /// An ARC set (RFC 8617 §4.1: seal, message signature, our results) for `message` as it
    /// arrived, continuing the chain `arc` found; RSA keys only (ARC defines no other).
    pub(crate) fn arc_seal(
        &self,
        message: &mail_auth::AuthenticatedMessage<'_>,
        results: &mail_auth::AuthenticationResults<'_>,
        arc: &mail_auth::ArcOutput<'_>,
    ) -> Result<String, String> {
        if self.algorithm != Algorithm::Rsa {
            return Err("ARC seals with RSA keys only".into());
        }
        let key =
            RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(self.der.clone_key())).map_err(|e| e.to_string())?;
        let set = mail_auth::arc::ArcSealer::from_key(key)
            .domain(self.domain.clone())
            .selector(self.selector.clone())
            .headers(ARC_SIGNED)
            .seal(message, results, arc)
            .map_err(|e| e.to_string())?;
        Ok(set.to_header())
    }

    /// The record as a DNS zone line, split in strings of at most 255 octets.
    pub(crate) fn zone_line(&self) -> String {
        let strings: Vec<String> =
            self.record.as_bytes().chunks(255).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
        format!("{}._domainkey.{}. IN TXT ( {} )", self.selector, self.domain, strings.join(" "))
    }
}

/// RFC 6376 §3.6.1 with erratum 3017: `p=` holds a SubjectPublicKeyInfo; ring gives the
/// bare RSAPublicKey.
fn rsa_spki(pkcs1: &[u8]) -> Result<Vec<u8>, String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    let key = rsa::RsaPublicKey::from_pkcs1_der(pkcs1).map_err(|e| e.to_string())?;
    Ok(key.to_public_key_der().map_err(|e| e.to_string())?.as_bytes().to_vec())
}

/// A selector: dot-separated labels of letters, digits and hyphens (RFC 6376 §3.1).
pub(crate) fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The keys' folder.
pub(crate) fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("dkim")
}

/// Makes a key for `domain` under `selector`, writes it (0600, like everything the server
/// makes) and tells a running server; returns it loaded.
pub(crate) fn generate(data_dir: &Path, domain: &str, selector: &str, algorithm: Algorithm) -> Result<Key, String> {
    if !valid_selector(selector) {
        return Err(format!("selector {selector:?}: letters, digits, hyphens and dots only"));
    }
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() || domain.contains(['/', '\\']) || domain.starts_with('.') {
        return Err(format!("{domain:?} is not a domain"));
    }
    let folder = dir(data_dir).join(&domain);
    fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let path = folder.join(format!("{selector}.pem"));
    if path.exists() {
        return Err(format!("{} exists: choose another selector", path.display()));
    }
    let pem = match algorithm {
        Algorithm::Rsa => {
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
            key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?.as_bytes().to_vec()
        }
        Algorithm::Ed25519 => {
            let der = Ed25519Key::generate_pkcs8().map_err(|e| e.to_string())?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = b64.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n")).into_bytes()
        }
    };
    let tmp = folder.join(format!(".{selector}.tmp"));
    let written = (|| {
        fs::write(&tmp, &pem)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &path)?;
        crate::store::spool::fsync_dir(&folder)?;
        // The folder's time changes: a running server loads the key at its next signature.
        // (a rename, since rewriting a file in place leaves its folder's time alone).
        let mark = dir(data_dir).join(".generation");
        fs::write(mark.with_extension("tmp"), crate::outbound::unix_now().to_string())?;
        fs::rename(mark.with_extension("tmp"), mark)
    })();
    written.map_err(|e| format!("{}: {e}", path.display()))?;
    Key::load(&domain, &path)
}

/// Every key on disk, by domain, newest first; files that do not load are reported.
fn load_all(root: &Path) -> (Keys, Vec<String>) {
    let mut keys: Keys = HashMap::new();
    let mut errors = Vec::new();
    let Ok(domains) = fs::read_dir(root) else { return (keys, errors) };
    for d in domains.flatten() {
        let Some(domain) = d.file_name().to_str().map(str::to_ascii_lowercase) else { continue };
        if domain.starts_with('.') || !d.path().is_dir() {
            continue;
        }
        let Ok(files) = fs::read_dir(d.path()) else { continue };
        for f in files.flatten() {
            let path = f.path();
            if path.extension().is_none_or(|e| e != "pem") || f.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match Key::load(&domain, &path) {
                Ok(k) => keys.entry(domain.clone()).or_default().push(Arc::new(k)),
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        }
    }
    for list in keys.values_mut() {
        list.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.selector.cmp(&a.selector)));
    }
    (keys, errors)
}

/// Every key, by domain, newest first.
pub(crate) type Keys = HashMap<String, Vec<Arc<Key>>>;

/// The keys a server signs with, loaded again when the folder changes.
pub(crate) struct KeyStore {
    root: PathBuf,
    loaded: Mutex<(Option<SystemTime>, Arc<Keys>)>,
}

impl KeyStore {
    /// The store over `dkim/` in `data_dir` (nothing is read yet).
    pub(crate) fn new(data_dir: &Path) -> Self {
        Self { root: dir(data_dir), loaded: Mutex::new((None, Arc::default())) }
    }

    /// Every key, by domain, newest first (read again if the folder changed).
    pub(crate) fn all(&self) -> Arc<Keys> {
        let stamp = fs::metadata(&self.root).and_then(|m| m.modified()).ok();
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some() && loaded.0 != stamp {
            let (keys, errors) = load_all(&self.root);
            for e in errors {
                tracing::error!(error = %e, "a DKIM key does not load: not used");
            }
            let count: usize = keys.values().map(Vec::len).sum();
            tracing::info!(keys = count, domains = keys.len(), "DKIM keys loaded");
            *loaded = (stamp, Arc::new(keys));
        }
        loaded.1.clone()
    }

    /// The keys that sign for `domain`: the newest of each algorithm.
    #[cfg(test)]
    pub(crate) fn signing(&self, domain: &str) -> Vec<Arc<Key>> {
        signing(&self.all(), domain)
    }
}

/// Of the keys `all`, those that sign for `domain`: the newest of each algorithm.
pub(crate) fn signing(all: &Keys, domain: &str) -> Vec<Arc<Key>> {
    let mut out: Vec<Arc<Key>> = Vec::new();
    for k in all.get(&domain.to_ascii_lowercase()).into_iter().flatten() {
        if !out.iter().any(|o| o.algorithm == k.algorithm) {
            out.push(k.clone());
        }
    }
    out
}

/// For `sansmail dkim list`: every key, and whether it signs.
pub(crate) fn listing(data_dir: &Path) -> (Vec<(Arc<Key>, bool)>, Vec<String>) {
    let (keys, errors) = load_all(&dir(data_dir));
    let mut domains: Vec<&String> = keys.keys().collect();
    domains.sort();
    let mut out = Vec::new();
    for d in domains {
        let mut seen = Vec::new();
        for k in &keys[d] {
            let signs = !seen.contains(&k.algorithm);
            seen.push(k.algorithm);
            out.push((k.clone(), signs));
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_list_oversigns() {
        let h = header_list();
        assert_eq!(h.iter().filter(|n| **n == "From").count(), 2);
        assert_eq!(h.iter().filter(|n| **n == "MIME-Version").count(), 1);
    }

    #[test]
    fn selectors() {
        assert!(valid_selector("202612r"));
        assert!(valid_selector("a.b-c"));
        for bad in ["", "a..b", "-a", "a/b", "a b", ".a", &"x".repeat(64)] {
            assert!(!valid_selector(bad), "{bad:?}");
        }
    }

    #[test]
    fn generate_sign_and_rotate() {
        let dir = std::env::temp_dir().join(format!("sansmail-dkim-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = KeyStore::new(&dir);
        assert!(store.signing("example.com").is_empty());
        let rsa = generate(&dir, "Example.COM", "s1r", Algorithm::Rsa).unwrap();
        let ed = generate(&dir, "example.com", "s1e", Algorithm::Ed25519).unwrap();
        assert!(rsa.record.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
        assert!(ed.record.starts_with("v=DKIM1; k=ed25519; p="));
        assert!(rsa.zone_line().starts_with("s1r._domainkey.example.com. IN TXT ( \""));
        let signing = store.signing("example.com");
        assert_eq!(signing.len(), 2);
        let message = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        for k in &signing {
            let h = k.sign(message).unwrap();
            assert!(h.starts_with("DKIM-Signature: v=1; a="), "{h}");
            assert!(h.contains("d=example.com") && h.contains(&format!("s={}", k.selector)), "{h}");
            assert!(h.ends_with("\r\n"));
        }
        assert!(generate(&dir, "example.com", "s1r", Algorithm::Rsa).is_err(), "no overwrite");
        // Rotation: a newer RSA key takes over; the Ed25519 one stays.
        std::thread::sleep(std::time::Duration::from_millis(20));
        generate(&dir, "example.com", "s2r", Algorithm::Rsa).unwrap();
        let selectors: Vec<String> = store.signing("example.com").iter().map(|k| k.selector.clone()).collect();
        assert!(selectors.contains(&"s2r".to_owned()) && selectors.contains(&"s1e".to_owned()), "{selectors:?}");
        let (list, errors) = listing(&dir);
        assert!(errors.is_empty());
        assert_eq!(list.len(), 3);
        assert_eq!(list.iter().filter(|(_, signs)| *signs).count(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }
}
