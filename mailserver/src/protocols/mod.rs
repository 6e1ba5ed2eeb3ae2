//! The protocol drivers: each protocol crate's server session run over a socket by the
//! one [`driver`] loop, its events answered by the protocol's handler with the policy,
//! identity and store layers.

mod deflate;
pub(crate) mod driver;
pub(crate) mod imap;
pub(crate) mod nntp;
pub(crate) mod pop3;
pub(crate) mod smtp;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::identity::Identity;
use crate::identity::directory::Directory;
use crate::store::delivery::{Job, Mailboxes};
use crate::store::quota::Quotas;
use crate::store::spool::Spool;

/// What every connection shares.
pub(crate) struct Shared {
    /// This server's name (greetings, `Received`, APOP timestamps).
    pub(crate) hostname: String,
    /// `Received` fields past which a message is refused as looping.
    pub(crate) hop_limit: usize,
    /// What an IMAP account may make of its folders.
    pub(crate) imap: imap::folders::ImapConfig,
    pub(crate) identity: Arc<Identity>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) quotas: Arc<Quotas>,
    pub(crate) mailboxes: Arc<Mailboxes>,
    pub(crate) pop3_locks: pop3::Locks,
    pub(crate) imap_folders: imap::store::Registry,
    /// Folder change notices (delivery, POP3 and IMAP wake the sessions watching).
    pub(crate) changes: Arc<crate::store::changes::Changes>,
    pub(crate) spool: Arc<Spool>,
    pub(crate) jobs: mpsc::UnboundedSender<Job>,
    /// The newsgroups and their spool.
    pub(crate) news: Arc<crate::news::News>,
    /// The store-and-forward gateways.
    pub(crate) gateways: Arc<crate::gateway::Gateways>,
    /// Greylisting (off: `None`).
    pub(crate) greylist: Option<Arc<crate::identity::greylist::Greylist>>,
    /// The DNS block and allow lists (none configured: `None`).
    pub(crate) dnsbl: Option<Arc<crate::identity::dnsbl::Dnsbl>>,
    /// SPF, DKIM, DMARC and ARC checks of arriving mail.
    pub(crate) senderauth: Arc<crate::senderauth::verify::Checker>,
    /// The DKIM keys (forwards are ARC-sealed with them at the end of data).
    pub(crate) dkim: Arc<crate::senderauth::keys::KeyStore>,
    /// The outbound queue's side (callouts ask over its routes).
    pub(crate) outbound: Arc<crate::outbound::Manager>,
    /// The data directory (ETRN's releases).
    pub(crate) data_dir: std::path::PathBuf,
}
