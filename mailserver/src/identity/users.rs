//! Accounts: `users.toml` in the data directory, one argon2id hash per address. Written by
//! `sansmail user …` (atomically: temporary file, fsync, rename) and re-read by a running
//! server when it changes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

/// One account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Account {
    /// PHC string of an argon2id hash.
    pub(crate) password: String,
    /// SCRAM-SHA-256 verifier (RFC 5802 §3: iterations, salt, StoredKey, ServerKey — not
    /// the password, and not enough to log in with), `i$salt$stored$server` in base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scram_sha256: Option<String>,
    /// CRAM-MD5 verifier (RFC 2195): the MD5 states after HMAC's inner and outer pad
    /// blocks, in base64 — keyed, not the password, though enough to answer CRAM-MD5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cram_md5: Option<String>,
    /// The POP3 APOP shared secret (RFC 1939 §7), only when the administrator opted in with
    /// `--apop`: APOP needs the secret itself, so this is the password as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) apop: Option<String>,
}

/// HMAC-MD5 of `message` under the key whose pad states `cram_md5_states` derived.
pub(crate) fn cram_md5_digest(states: &str, message: &[u8]) -> Option<[u8; 16]> {
    use base64::Engine;
    use md5::Digest;
    use md5::digest::common::hazmat::SerializableState;
    let b = base64::engine::general_purpose::STANDARD;
    let (inner, outer) = states.split_once('$')?;
    let state = |s: &str| -> Option<md5::Md5> {
        let bytes = b.decode(s).ok()?;
        md5::Md5::deserialize(bytes.as_slice().try_into().ok()?).ok()
    };
    let mut i = state(inner)?;
    i.update(message);
    let mut o = state(outer)?;
    o.update(i.finalize());
    Some(o.finalize().into())
}

/// The CRAM-MD5 verifier of a password: MD5 states after `key ^ ipad` and `key ^ opad`.
fn cram_md5_states(password: &str) -> String {
    use base64::Engine;
    use md5::Digest;
    use md5::digest::common::hazmat::SerializableState;
    let mut key = [0u8; 64];
    let pw = password.as_bytes();
    if pw.len() > 64 {
        key[..16].copy_from_slice(&md5::Md5::digest(pw));
    } else {
        key[..pw.len()].copy_from_slice(pw);
    }
    let pad = |x: u8| {
        let mut h = md5::Md5::new();
        h.update(key.map(|k| k ^ x));
        base64::engine::general_purpose::STANDARD.encode(h.serialize())
    };
    format!("{}${}", pad(0x36), pad(0x5c))
}

/// A SCRAM-SHA-256 verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScramSecrets {
    pub(crate) iterations: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

/// PBKDF2 rounds of new SCRAM verifiers (RFC 7677 asks for at least 4096).
const SCRAM_ITERATIONS: u32 = 4096;

impl ScramSecrets {
    /// Derives a verifier from a password and salt (RFC 5802 §3).
    pub(crate) fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        use hmac::{Hmac, Mac};
        use sha2::{Digest, Sha256};
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let hmac = |key: &[u8], msg: &[u8]| -> Vec<u8> {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        };
        let client_key = hmac(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(&client_key).to_vec(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    fn encode(&self) -> String {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD;
        format!(
            "{}${}${}${}",
            self.iterations,
            b.encode(&self.salt),
            b.encode(&self.stored_key),
            b.encode(&self.server_key)
        )
    }

    fn decode(s: &str) -> Option<Self> {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD;
        let mut parts = s.split('$');
        let iterations = parts.next()?.parse().ok()?;
        let salt = b.decode(parts.next()?).ok()?;
        let stored_key = b.decode(parts.next()?).ok()?;
        let server_key = b.decode(parts.next()?).ok()?;
        Some(Self { iterations, salt, stored_key, server_key })
    }
}

/// HMAC accepts keys of any length, so this is never called; it keeps the no-panic rule
/// without an `expect` (an all-zero block-size key, infallible by type).
pub(crate) fn unreachable_hmac() -> hmac::Hmac<sha2::Sha256> {
    <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new(&Default::default())
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    #[serde(default)]
    user: BTreeMap<String, Account>,
}

/// The entries of a users file that does not parse whole, one `[user."…"]` table at a
/// time: those that read, and for each that does not its name (if its header reads) and why.
#[allow(clippy::type_complexity)]
fn parse_entries(text: &str) -> (BTreeMap<String, Account>, Vec<(Option<String>, String)>) {
    let mut chunks: Vec<String> = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            chunks.push(String::new());
        }
        if let Some(last) = chunks.last_mut() {
            last.push_str(line);
        }
    }
    let mut accounts = BTreeMap::new();
    let mut damaged = Vec::new();
    for chunk in chunks.iter().filter(|c| !c.trim().is_empty()) {
        match toml::from_str::<UsersFile>(chunk) {
            Ok(file) => accounts.extend(file.user),
            Err(e) => {
                let header = chunk.lines().next().unwrap_or("").trim();
                let name = header
                    .strip_prefix("[user.")
                    .and_then(|h| h.strip_suffix(']'))
                    .map(|n| n.trim().trim_matches('"').to_owned())
                    .filter(|n| n.contains('@'));
                damaged.push((name, e.message().to_owned()));
            }
        }
    }
    (accounts, damaged)
}

/// The accounts, keyed by lower-cased address.
#[derive(Debug, Default)]
pub(crate) struct Users {
    path: PathBuf,
    accounts: BTreeMap<String, Account>,
    /// Accounts whose entry in the file could not be read (see [`Users::load_for_serving`]):
    /// they still receive mail, but nobody can log in as them.
    damaged: std::collections::BTreeSet<String>,
    loaded: Option<SystemTime>,
}

/// Addresses are compared without case: the domain always, the local part by this server's
/// choice (a user asking for `Alice@` means `alice@`).
pub(crate) fn normalize(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

fn params() -> Params {
    // OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// An argon2id PHC string for `password`.
pub(crate) fn hash_password(password: &str) -> io::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(io::Error::other)
}

/// The working memory of argon2 checks, kept from one check to the next (19 MiB each
/// time otherwise, which the system allocator does not reliably give back).
pub(crate) type Scratch = Vec<argon2::Block>;

/// Runs argon2 into `out` with `scratch` as its memory (grown to the parameters' size).
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
) -> bool {
    let blocks = params.block_count();
    if scratch.len() < blocks {
        scratch.resize(blocks, argon2::Block::default());
    }
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut scratch[..blocks])
        .is_ok()
}

/// Checks `password` against a PHC hash, in `scratch`; with no hash (no such account),
/// spends the same time and fails.
pub(crate) fn verify_hash(phc: Option<&str>, password: &str, scratch: &mut Scratch) -> bool {
    let Some(hash) = phc.and_then(|p| PasswordHash::new(p).ok()) else {
        let mut out = [0u8; 32];
        let _ = compute(
            Algorithm::Argon2id,
            Version::V0x13,
            params(),
            password.as_bytes(),
            b"sansmail-no-user",
            &mut out,
            scratch,
        );
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(&hash)) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    compute(algorithm, version, params, password.as_bytes(), salt, &mut out, scratch)
        && argon2::password_hash::Output::new(&out).is_ok_and(|computed| computed == expected)
}

impl Users {
    pub(crate) fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("users.toml")
    }

    /// Reads the file (absent is empty).
    pub(crate) fn load(data_dir: &Path) -> io::Result<Self> {
        let path = Self::path(data_dir);
        let mut users = Self { path, ..Self::default() };
        users.reload()?;
        Ok(users)
    }

    /// Reads the file for the server: a damaged file does not stop it. Every account whose
    /// entry reads is kept; each one that does not is named in the log (at error level),
    /// keeps receiving its mail, and refuses logins until the file is mended.
    pub(crate) fn load_for_serving(data_dir: &Path) -> io::Result<Self> {
        let path = Self::path(data_dir);
        let mut users = Self { path, ..Self::default() };
        if let Err(e) = users.reload() {
            if e.kind() != io::ErrorKind::InvalidData {
                return Err(e);
            }
            let modified = users.modified();
            let text = std::fs::read_to_string(&users.path)?;
            let (accounts, damaged) = parse_entries(&text);
            tracing::error!(
                path = %users.path.display(), error = %e, accounts = accounts.len(), damaged = damaged.len(),
                "users file damaged: serving the accounts that read"
            );
            for (name, why) in &damaged {
                match name {
                    Some(n) => {
                        tracing::error!(account = %n, error = %why, "account entry damaged: its mail is kept, its logins refused")
                    }
                    None => {
                        tracing::error!(error = %why, "an account entry without a readable name is lost; restore users.toml")
                    }
                }
            }
            users.accounts = accounts;
            users.damaged = damaged.into_iter().filter_map(|(n, _)| n).map(|n| normalize(&n)).collect();
            users.loaded = modified;
        }
        Ok(users)
    }

    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }

    fn reload(&mut self) -> io::Result<()> {
        let modified = self.modified();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let file: UsersFile = toml::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.accounts = file.user;
        self.damaged.clear();
        self.loaded = modified;
        Ok(())
    }

    /// Re-reads the file if it changed since it was read (one `stat`).
    pub(crate) fn refresh(&mut self) {
        if self.modified() != self.loaded
            && let Err(e) = self.reload()
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot re-read users; keeping the previous ones");
        }
    }

    pub(crate) fn contains(&self, address: &str) -> bool {
        let address = normalize(address);
        self.accounts.contains_key(&address) || self.damaged.contains(&address)
    }

    pub(crate) fn addresses(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    /// Checks a password; an unknown user costs a hash too, so timing does not tell.
    #[cfg(test)]
    pub(crate) fn verify(&self, address: &str, password: &str) -> bool {
        verify_hash(self.hash(address).as_deref(), password, &mut Scratch::new())
    }

    /// The stored hash of an account.
    pub(crate) fn hash(&self, address: &str) -> Option<String> {
        self.accounts.get(&normalize(address)).map(|a| a.password.clone())
    }

    /// Sets an account's password: its argon2id hash, and its SCRAM-SHA-256 verifier.
    /// With `apop`, also keeps the password itself for APOP (see [`Account::apop`]).
    pub(crate) fn set_password(&mut self, address: &str, password: &str, apop: bool) -> io::Result<()> {
        let mut salt = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
        let scram = ScramSecrets::derive(password, &salt, SCRAM_ITERATIONS).encode();
        let account = Account {
            password: hash_password(password)?,
            scram_sha256: Some(scram),
            cram_md5: Some(cram_md5_states(password)),
            apop: apop.then(|| password.to_owned()),
        };
        self.accounts.insert(normalize(address), account);
        Ok(())
    }

    /// Whether `digest` (hex) is MD5(`timestamp` ‖ the account's APOP secret); false when
    /// the account has no APOP secret.
    pub(crate) fn apop_ok(&self, address: &str, timestamp: &str, digest: &str) -> bool {
        use md5::Digest;
        let Some(secret) = self.accounts.get(&normalize(address)).and_then(|a| a.apop.as_deref()) else {
            return false;
        };
        let want: String = md5::Md5::new()
            .chain_update(timestamp.as_bytes())
            .chain_update(secret.as_bytes())
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Compared in full whatever the first difference, so timing says nothing.
        want.len() == digest.len() && want.bytes().zip(digest.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// An account's CRAM-MD5 verifier.
    pub(crate) fn cram_md5(&self, address: &str) -> Option<String> {
        self.accounts.get(&normalize(address))?.cram_md5.clone()
    }

    /// An account's SCRAM-SHA-256 verifier (accounts made before it existed have none until
    /// their next `user passwd`).
    pub(crate) fn scram(&self, address: &str) -> Option<ScramSecrets> {
        self.accounts.get(&normalize(address))?.scram_sha256.as_deref().and_then(ScramSecrets::decode)
    }

    pub(crate) fn remove(&mut self, address: &str) -> bool {
        self.accounts.remove(&normalize(address)).is_some()
    }

    /// Writes the file atomically, readable by the owner only.
    pub(crate) fn save(&self) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let text = toml::to_string(&UsersFile { user: self.accounts.clone() }).map_err(io::Error::other)?;
        let tmp = self.path.with_extension("toml.tmp");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(b"# Written by `sansmail user`: argon2id hashes, never passwords.\n")?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cram_md5_matches_rfc2195() {
        let states = cram_md5_states("tanstaaftanstaaf");
        let d = cram_md5_digest(&states, b"<1896.697170952@postoffice.reston.mci.net>").unwrap();
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b913a602c7eda7a495b4e6e7334d3890");
        // A long password is hashed first (RFC 2104).
        let long = "x".repeat(100);
        assert!(cram_md5_digest(&cram_md5_states(&long), b"c").is_some());
    }

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let dir = std::env::temp_dir().join(format!("sansmail-users-{}", std::process::id()));
        let mut u = Users::load(&dir).unwrap();
        u.set_password("Alice@Example.org", "s3cret", false).unwrap();
        u.save().unwrap();
        let text = std::fs::read_to_string(Users::path(&dir)).unwrap();
        assert!(text.contains("$argon2id$") && !text.contains("s3cret"));
        let u = Users::load(&dir).unwrap();
        assert!(u.verify("alice@example.org", "s3cret"));
        assert!(!u.verify("alice@example.org", "wrong"));
        assert!(!u.verify("bob@example.org", "s3cret"));
        let scram = u.scram("alice@example.org").unwrap();
        assert_eq!(scram, ScramSecrets::derive("s3cret", &scram.salt, 4096));
        assert!(u.cram_md5("alice@example.org").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
