//! Identity and policy: the users and their passwords, the directory of domains, aliases
//! and mailboxes, logins (SASL, throttling, verification), abuse defences, and the relay
//! policy that decides who may send where.

pub(crate) mod abuse;
pub(crate) mod credentials;
pub(crate) mod directory;
pub(crate) mod dnsbl;
pub(crate) mod greylist;
pub(crate) mod login;
pub(crate) mod policy;
pub(crate) mod sasl;
pub(crate) mod users;

use std::sync::Arc;

/// What every login needs: the directory, the abuse defences, the password verifier and
/// the record of recent logins (for POP-before-SMTP).
pub(crate) struct Identity {
    /// This server's name (SASL realms and challenges).
    pub(crate) hostname: String,
    /// The first local domain: a bare login name is taken in it.
    pub(crate) default_domain: Option<String>,
    pub(crate) directory: Arc<directory::Directory>,
    pub(crate) defences: abuse::Defences,
    pub(crate) verifier: login::Verifier,
    /// Credentials verified lately (keyed hashes, never passwords).
    pub(crate) credentials: credentials::CredentialCache,
    pub(crate) logins: abuse::Logins,
}
