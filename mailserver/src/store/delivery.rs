//! Local delivery: queued messages into Maildir mailboxes, exactly once.
//!
//! Each copy gets a name fixed by the queue id and the recipient's index
//! (`<id>.<index>.<hostname>,S=<size>`). It is written in `tmp/`, fsynced, and renamed
//! into `new/`; the queue file is removed only after every local copy is in place. If the
//! server dies in between, the retry finds the name in `new/` (or, in a mailbox a client has
//! since read, in `cur/` with flags) and skips it: a message is delivered once, not at
//! least once.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::identity::directory::Autoreply;
use crate::identity::directory::{Directory, Target};
use crate::news::intake::Intake;
use crate::store::autoreply;
use crate::store::quota::Quotas;
use crate::store::spool::{Envelope, Recipient, Spool};

/// Where mailboxes live.
#[derive(Clone, Debug)]
pub(crate) struct Mailboxes {
    root: PathBuf,
    hostname: String,
}

/// A file-name-safe form of one address part: ASCII letters, digits and `._+-` stay, every
/// other octet becomes `%XX`, and so does a leading dot.
fn path_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b"_+-".contains(&b) || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Mailboxes {
    pub(crate) fn new(data_dir: &Path, hostname: &str) -> Self {
        Self { root: data_dir.join("mail"), hostname: path_component(hostname) }
    }

    /// The Maildir of `mailbox` (`local@domain`, already lower-cased).
    pub(crate) fn maildir(&self, mailbox: &str) -> PathBuf {
        let (local, domain) = mailbox.rsplit_once('@').unwrap_or((mailbox, ""));
        self.root.join(path_component(domain)).join(path_component(local)).join("Maildir")
    }

    fn create(maildir: &Path) -> io::Result<()> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(maildir.join(sub))?;
        }
        Ok(())
    }

    /// Whether a copy named `name` is already in the mailbox.
    fn has(maildir: &Path, name: &str, look_in_cur: bool) -> io::Result<bool> {
        if maildir.join("new").join(name).exists() {
            return Ok(true);
        }
        if look_in_cur {
            let prefix = format!("{name}:");
            for entry in fs::read_dir(maildir.join("cur"))? {
                if entry?.file_name().to_str().is_some_and(|n| n == name || n.starts_with(&prefix)) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Writes one copy into `tmp/`, with `Return-Path` on top (RFC 5321 §4.4), and
    /// `Delivered-To` naming the address it was for when that is not the mailbox's own (a
    /// gateway mailbox's copies, so whoever collects them can route each); not yet synced;
    /// `None` if an earlier attempt had already delivered it.
    fn stage(
        &self,
        mailbox: &str,
        name_base: &str,
        (from, delivered_to, junk): (&str, Option<&str>, bool),
        content: &[u8],
        recovering: bool,
    ) -> io::Result<Option<Staged>> {
        let mut dir = self.maildir(mailbox);
        if junk {
            dir = dir.join(".Junk");
        }
        Self::create(&dir)?;
        let mut return_path = format!("Return-Path: <{from}>\r\n");
        if let Some(to) = delivered_to {
            return_path.push_str(&format!("Delivered-To: {to}\r\n"));
        }
        let size = return_path.len() + content.len();
        let name = format!("{name_base}.{},S={size}", self.hostname);
        if Self::has(&dir, &name, recovering)? {
            return Ok(None);
        }
        let tmp = dir.join("tmp").join(&name);
        let result = (|| {
            let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
            f.write_all(return_path.as_bytes())?;
            f.write_all(content)
        })();
        match result {
            // Closed for now (a segment may stage hundreds); `publish` reopens to sync.
            Ok(()) => Ok(Some(Staged { tmp, new: dir.join("new").join(&name), size: size as u64 })),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Makes staged copies visible, durably: every file synced (under ext4's ordered mode
    /// the first sync commits the others' data with it), renamed into `new/`, and each
    /// `new/` directory synced once.
    fn publish(staged: Vec<Staged>) -> io::Result<Vec<Staged>> {
        let result = (|| {
            for s in &staged {
                File::open(&s.tmp)?.sync_all()?;
            }
            let mut dirs = Vec::new();
            for s in &staged {
                fs::rename(&s.tmp, &s.new)?;
                if let Some(d) = s.new.parent()
                    && !dirs.contains(&d)
                {
                    dirs.push(d);
                }
            }
            for d in dirs {
                File::open(d)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for s in &staged {
                let _ = fs::remove_file(&s.tmp);
            }
            return Err(e);
        }
        Ok(staged)
    }

    /// Removes files left in Maildir `tmp/` folders for longer than `max_age` (a delivery
    /// cut short by a crash; the Maildir convention is 36 hours). Returns how many.
    pub(crate) fn sweep_tmp(&self, max_age: std::time::Duration) -> usize {
        let now = SystemTime::now();
        let dirs = |p: &Path| fs::read_dir(p).into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path());
        let mut removed = 0;
        for domain in dirs(&self.root) {
            for mailbox in dirs(&domain) {
                for file in dirs(&mailbox.join("Maildir").join("tmp")) {
                    let old = fs::metadata(&file)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > max_age));
                    if old && fs::remove_file(&file).is_ok() {
                        removed += 1;
                    }
                }
            }
        }
        removed
    }

    /// The folder of a mailbox that holds its Maildir and its state files.
    pub(crate) fn home(&self, mailbox: &str) -> PathBuf {
        let maildir = self.maildir(mailbox);
        maildir.parent().map_or(maildir.clone(), Path::to_path_buf)
    }
}

/// A copy written to a Maildir's `tmp/`, waiting to be synced and moved into `new/`.
struct Staged {
    tmp: PathBuf,
    new: PathBuf,
    size: u64,
}

/// The one address every remote recipient was forwarded from, if there is one: the copy
/// that leaves then carries `Delivered-To` with it, so it is recognised if it comes back
/// (a forwarding loop). With other recipients beside (plain remote ones, or forwards from
/// another address) no such field is added, since it would show them an address of ours
/// they were not sent to (a Bcc, perhaps); the hop limit still ends such a loop.
fn forwarded_from(remote: &[Recipient]) -> Option<&str> {
    let first = remote.first()?.original.as_deref()?;
    remote.iter().all(|r| r.original.as_deref() == Some(first)).then_some(first)
}

/// A queue file to deliver; `recovering` when it was found in the queue at start.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) file: String,
    pub(crate) recovering: bool,
}

/// What local delivery needs.
pub(crate) struct Deliverer {
    pub(crate) spool: Arc<Spool>,
    pub(crate) mailboxes: Arc<Mailboxes>,
    pub(crate) quotas: Arc<Quotas>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) jobs: mpsc::UnboundedSender<Job>,
    /// The outbound queue, and its manager's mailbox for new ids.
    pub(crate) outbound: Arc<crate::store::outbound_queue::Store>,
    pub(crate) outbound_ids: mpsc::UnboundedSender<String>,
    /// Wakes the sessions watching a mailbox that mail reached.
    pub(crate) changes: Arc<crate::store::changes::Changes>,
    /// The news service, for mail to newsgroups' posting addresses.
    pub(crate) news: Option<Arc<crate::news::News>>,
    /// The gateways (a gateway mailbox's copies may lose their attachments).
    pub(crate) gateways: Arc<crate::gateway::Gateways>,
    /// The DKIM keys that sign what leaves for remote domains.
    pub(crate) dkim: Arc<crate::senderauth::keys::KeyStore>,
    /// Our authserv-id: `Authentication-Results` naming it are ours alone to write.
    pub(crate) authserv_id: String,
}

impl Deliverer {
    /// Delivers every local recipient of every message in a queue file and hands the remote
    /// ones to the outbound queue; the file is finished with once this succeeded.
    ///
    /// A damaged file has its whole messages delivered, then goes to `queue/quarantine/`.
    fn deliver(&self, file: &str, recovering: bool) -> io::Result<()> {
        let (messages, fault) = match self.spool.read(file) {
            Ok(m) => m,
            // Already delivered and removed (a repeated job).
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        self.deliver_messages(file, &messages, recovering)?;
        if let Some(fault) = fault {
            let to = self.spool.quarantine(file)?;
            tracing::error!(file, fault, whole_messages = messages.len(), moved_to = %to.display(), "damaged queue file: its whole messages were delivered, the rest quarantined");
        }
        Ok(())
    }

    /// `content` without its attachments, if `address`'s gateway strips them and it has any.
    fn stripped_for(&self, address: &str, content: &[u8]) -> Option<Vec<u8>> {
        let (_, domain) = address.rsplit_once('@')?;
        self.gateways.for_domain(domain).filter(|g| g.strip_attachments)?;
        crate::gateway::strip::strip_attachments(content)
    }

    /// `content` as it is delivered and forwarded: without `Authentication-Results` that
    /// claim our authserv-id (RFC 8601 §5), with ours from the sender checks on top.
    fn with_our_results<'a>(&self, envelope: &Envelope, content: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        use std::borrow::Cow;
        let cleaned = crate::senderauth::fields::without_our_results(content, &self.authserv_id);
        match (&envelope.auth_results, cleaned) {
            (None, None) => Cow::Borrowed(content),
            (None, Some(c)) => Cow::Owned(c),
            (Some(ours), c) => Cow::Owned([ours.as_bytes(), c.as_deref().unwrap_or(content)].concat()),
        }
    }

    /// Our DKIM signatures for a message leaving for `remote` (see `senderauth::sign`).
    fn signatures(&self, envelope: &Envelope, remote: &[Recipient], content: &[u8]) -> Option<String> {
        use crate::senderauth::sign::{Origin, signatures};
        let origin =
            match (envelope.trusted || envelope.authenticated, remote.iter().find_map(|r| r.original.as_deref())) {
                (true, _) => Origin::Trusted { envelope_sender: &envelope.from },
                // A forward of mail DMARC failed is not vouched for with our signature.
                (false, Some(by)) if !envelope.junk => Origin::Forwarded { by },
                _ => return None,
            };
        signatures(&self.dkim, |d| self.directory.is_local_domain(d), origin, content)
    }

    fn deliver_messages(&self, file: &str, messages: &[(Envelope, Vec<u8>)], recovering: bool) -> io::Result<()> {
        let mut handed_off = Vec::new();
        // Every copy of every message in the file is staged, then all are published at
        // once: one round of syncs for the file, not one per copy.
        let mut staged = Vec::new();
        let mut delivered = Vec::new();
        for (m, (envelope, content)) in messages.iter().enumerate() {
            let content = &self.with_our_results(envelope, content);
            let id = &envelope.id;
            if !crate::store::spool::is_id(id) {
                tracing::error!(file, queue_id = %id, "a queued message with a malformed id is skipped");
                continue;
            }
            let remote: Vec<Recipient> = envelope.recipients.iter().filter(|r| r.is_remote()).cloned().collect();
            if !remote.is_empty() {
                // The remote recipients move to the outbound queue (durably) before this
                // file can go; a repeat after a crash finds them there already.
                let delivered_to = forwarded_from(&remote).map(|o| format!("Delivered-To: {o}\r\n"));
                // A forward carries the ARC set sealed at arrival; our signatures cover it.
                let sealed;
                let content: &[u8] = match envelope.arc_seal.as_deref() {
                    Some(set) if remote.iter().any(|r| r.original.is_some()) => {
                        sealed = [set.as_bytes(), content].concat();
                        &sealed
                    }
                    _ => content,
                };
                let signatures = self.signatures(envelope, &remote, content);
                let out = Envelope { recipients: remote, ..envelope.clone() };
                let content = match (&delivered_to, &signatures) {
                    (None, None) => std::borrow::Cow::Borrowed(content),
                    (d, s) => std::borrow::Cow::Owned(
                        [
                            d.as_deref().unwrap_or_default().as_bytes(),
                            s.as_deref().unwrap_or_default().as_bytes(),
                            content,
                        ]
                        .concat(),
                    ),
                };
                if self.outbound.add(&out, &content)? {
                    handed_off.push(out.id);
                }
            }
            for (index, rcpt) in envelope.recipients.iter().enumerate() {
                if let Some(group) = &rcpt.newsgroup {
                    self.to_newsgroup(envelope, index, group, content)?;
                }
                let Some(mailbox) = &rcpt.mailbox else {
                    continue;
                };
                let name = format!("{id}.{index}");
                // A copy for a gateway mailbox says which address it was for.
                let delivered_to = rcpt.gateway_copy.then_some(rcpt.address.as_str());
                let stripped = rcpt.gateway_copy.then(|| self.stripped_for(&rcpt.address, content)).flatten();
                let content = stripped.as_deref().unwrap_or(content);
                if let Some(copy) = self.mailboxes.stage(
                    mailbox,
                    &name,
                    // A gateway mailbox's copy is not junked: the site collecting it filters.
                    (&envelope.from, delivered_to, envelope.junk && !rcpt.gateway_copy),
                    content,
                    recovering,
                )? {
                    staged.push(copy);
                    delivered.push((m, index));
                }
            }
        }
        let published = Mailboxes::publish(staged)?;
        for copy in &published {
            if let Some(folder) = copy.new.parent().and_then(Path::parent) {
                self.changes.touch(folder);
            }
        }
        for (copy, (m, index)) in published.iter().zip(delivered) {
            let (envelope, content) = &messages[m];
            let rcpt = &envelope.recipients[index];
            let Some(mailbox) = &rcpt.mailbox else { continue };
            self.quotas.add(mailbox, copy.size);
            tracing::info!(queue_id = %envelope.id, to = %rcpt.address, mailbox = %mailbox, size = copy.size, "delivered");
            // Mail DMARC sent to Junk is not answered (it is likely forged).
            if let Some(settings) =
                self.directory.settings(mailbox).and_then(|u| u.autoreply.as_ref()).filter(|_| !envelope.junk)
            {
                self.autoreply(mailbox, envelope, settings, content)?;
            }
        }
        // What intake promised these messages is now stored (or was delivered before).
        for (envelope, _) in messages {
            self.quotas.release(&envelope.id);
        }
        for id in handed_off {
            let _ = self.outbound_ids.send(id);
        }
        Ok(())
    }

    /// Mail to a newsgroup's posting address: posted (see [`crate::news::gateway`]). Only a
    /// failure to store is an error (the delivery is tried again, as the same article).
    fn to_newsgroup(&self, envelope: &Envelope, index: usize, group: &str, content: &[u8]) -> io::Result<()> {
        let Some(news) = &self.news else { return Ok(()) };
        let fallback = crate::news::gateway::mail_message_id(&envelope.id, index, &news.path_host);
        let intake = news.post_mail(content, group, &envelope.from, &envelope.client, &fallback);
        news.commit()?;
        match intake {
            Intake::Failed(text) => Err(io::Error::other(text)),
            Intake::Refused(why) => {
                tracing::info!(queue_id = %envelope.id, group, why, "mail not posted");
                Ok(())
            }
            Intake::Stored(id) | Intake::Mailed(id) | Intake::Control(id) => {
                tracing::info!(queue_id = %envelope.id, group, id = %id, "mail posted to the newsgroup");
                Ok(())
            }
        }
    }

    fn autoreply(&self, mailbox: &str, original: &Envelope, settings: &Autoreply, content: &[u8]) -> io::Result<()> {
        let sender = &original.from;
        if original.unverified_sender {
            // An autoreply signed by us to a forged address would be backscatter with our name.
            tracing::info!(mailbox, sender = %sender, "no autoreply: the sender checks did not verify the sender");
            return Ok(());
        }
        if let autoreply::Verdict::Skip(why) = autoreply::judge(mailbox, sender, content) {
            tracing::debug!(mailbox, sender = %sender, why, "no autoreply");
            return Ok(());
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if !autoreply::record(&self.mailboxes.home(mailbox), sender, settings.days, now, autoreply::MAX_SENDERS)? {
            tracing::debug!(mailbox, sender = %sender, "autoreply already sent within the window");
            return Ok(());
        }
        let message = autoreply::build(mailbox, sender, settings, content)?;
        if let Some(id) = self.queue_generated(sender, &message, "autoreply")? {
            tracing::info!(queue_id = %id, mailbox, to = %sender, "autoreply queued");
        }
        Ok(())
    }

    /// Queues a message the server wrote itself (an autoreply, a delivery report) from the
    /// null reverse path (RFC 3834 §3.3, RFC 3464 §2), so nothing answers it; `to` is
    /// resolved like any recipient. Returns the queue id, or `None` when `to` leads nowhere.
    pub(crate) fn queue_generated(&self, to: &str, message: &[u8], origin: &str) -> io::Result<Option<String>> {
        self.queue_generated_to(&[to], message, origin)
    }

    /// Takes in a message collected from elsewhere (`[[fetch]]`) for local addresses, under
    /// the id given (a message taken again after a crash gets the same id; `recovering`
    /// then makes its mailboxes keep the one copy they have): in the spool, fsynced, when
    /// this returns, and delivered by the usual job.
    pub(crate) fn inject(
        &self,
        id: &str,
        (from, to): (&str, &[&str]),
        message: &[u8],
        origin: &str,
        recovering: bool,
    ) -> io::Result<()> {
        let recipients: Vec<Recipient> = to.iter().flat_map(|to| self.resolve(to)).collect();
        if recipients.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no local mailbox for {to:?}")));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let envelope = Envelope {
            id: id.to_owned(),
            from: from.to_owned(),
            recipients,
            received: now,
            client: origin.into(),
            ..Envelope::default()
        };
        self.spool.discard_tmp(id)?;
        let mut incoming = self.spool.begin(&envelope, &[])?;
        incoming.write(message)?;
        let file = self.spool.commit(incoming)?;
        let _ = self.jobs.send(Job { file, recovering });
        Ok(())
    }

    /// [`Self::queue_generated`] for several recipients: one queued message.
    pub(crate) fn queue_generated_to(&self, to: &[&str], message: &[u8], origin: &str) -> io::Result<Option<String>> {
        let recipients: Vec<Recipient> = to.iter().flat_map(|to| self.resolve(to)).collect();
        if recipients.is_empty() {
            return Ok(None);
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let id = crate::store::spool::new_id();
        let envelope =
            Envelope { id, recipients, received: now, client: origin.into(), trusted: true, ..Envelope::default() };
        let mut incoming = self.spool.begin(&envelope, &[])?;
        incoming.write(message)?;
        let file = self.spool.commit(incoming)?;
        let _ = self.jobs.send(Job { file: file.clone(), recovering: false });
        Ok(Some(file))
    }

    /// Where a generated message to `to` goes.
    fn resolve(&self, to: &str) -> Vec<Recipient> {
        match to.rsplit_once('@') {
            Some((l, d)) if self.directory.is_local_domain(d) => self
                .directory
                .targets(l, d)
                .unwrap_or_default()
                .into_iter()
                .map(|t| match t {
                    Target::Mailbox(m) => {
                        Recipient { address: to.to_owned(), mailbox: Some(m), ..Recipient::default() }
                    }
                    Target::Remote(a) => {
                        Recipient { address: a, original: Some(to.to_owned()), ..Recipient::default() }
                    }
                    Target::Newsgroup(g) => {
                        Recipient { address: to.to_owned(), newsgroup: Some(g), ..Recipient::default() }
                    }
                    Target::GatewayCopy(m) => Recipient {
                        address: to.to_owned(),
                        mailbox: Some(m),
                        gateway_copy: true,
                        ..Recipient::default()
                    },
                })
                .collect(),
            _ => vec![Recipient { address: to.to_owned(), ..Recipient::default() }],
        }
    }
}

/// Local deliveries in progress at once: each waits mostly on fsync, so several overlap.
const CONCURRENCY: usize = 4;
/// How often the queue folder is looked at for files no job names (belt and braces).
const RESCAN: Duration = Duration::from_secs(60);
/// The wait before a failed delivery is tried again: doubling from the first, capped.
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Delivers queued messages as their ids arrive, several at a time; remote recipients go to
/// the outbound queue ([`super::outbound_queue`]). A delivery that fails (a full disk, too many
/// open files, an I/O error) is tried again with back-off while the server runs, and every
/// [`RESCAN`] the queue folder is read for files no job holds, so nothing acknowledged
/// waits for a restart.
pub(crate) async fn run(deliverer: Arc<Deliverer>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let (done_tx, mut done) = mpsc::unbounded_channel::<(Job, bool)>();
    let (retry_tx, mut retries) = mpsc::unbounded_channel::<Job>();
    // Files being delivered or waiting to be tried again, with their failures so far.
    let mut held: HashMap<String, u32> = HashMap::new();
    let mut rescan = tokio::time::interval_at(tokio::time::Instant::now() + RESCAN, RESCAN);
    let start = |job: Job| {
        let (d, slots, done_tx) = (deliverer.clone(), slots.clone(), done_tx.clone());
        tokio::spawn(async move {
            let Ok(_permit) = slots.acquire_owned().await else { return };
            let file = job.file.clone();
            let recovering = job.recovering;
            let result = tokio::task::spawn_blocking(move || -> io::Result<()> {
                d.deliver(&file, recovering)?;
                d.spool.remove(&file)
            })
            .await;
            let ok = match result {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::error!(queue_id = %job.file, error = %e, "local delivery failed; the message stays queued and is tried again");
                    false
                }
                Err(e) => {
                    tracing::error!(queue_id = %job.file, error = %e, "delivery task failed; tried again");
                    false
                }
            };
            let _ = done_tx.send((job, ok));
        });
    };
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                if !held.contains_key(&job.file) {
                    held.insert(job.file.clone(), 0);
                    start(job);
                }
            }
            Some((job, ok)) = done.recv() => {
                if ok {
                    held.remove(&job.file);
                    continue;
                }
                let failures = held.entry(job.file.clone()).or_insert(0);
                *failures += 1;
                let wait = RETRY_FIRST.saturating_mul(1 << (*failures - 1).min(16)).min(RETRY_MAX);
                let retry_tx = retry_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let _ = retry_tx.send(Job { recovering: true, ..job });
                });
            }
            Some(job) = retries.recv() => start(job),
            _ = rescan.tick() => {
                let spool = deliverer.spool.clone();
                if let Ok(Ok(files)) = tokio::task::spawn_blocking(move || spool.list()).await {
                    for file in files {
                        if !held.contains_key(&file) {
                            tracing::info!(queue_id = %file, "found in the queue by the periodic scan");
                            held.insert(file.clone(), 0);
                            start(Job { file, recovering: true });
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tmp_files_are_swept_fresh_ones_kept() {
        let dir = std::env::temp_dir().join(format!("sansmail-sweep-{}", std::process::id()));
        let m = Mailboxes::new(&dir, "mx");
        let maildir = m.maildir("alice@example.org");
        Mailboxes::create(&maildir).unwrap();
        let (old, fresh) = (maildir.join("tmp/old"), maildir.join("tmp/fresh"));
        fs::write(&old, "x").unwrap();
        fs::write(&fresh, "y").unwrap();
        let two_days = std::time::Duration::from_secs(48 * 3600);
        File::options().write(true).open(&old).unwrap().set_modified(SystemTime::now() - two_days).unwrap();
        assert_eq!(m.sweep_tmp(std::time::Duration::from_secs(36 * 3600)), 1);
        assert!(!old.exists() && fresh.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_cannot_escape_the_mail_root() {
        let m = Mailboxes::new(Path::new("/d"), "mx");
        assert_eq!(m.maildir("alice@example.org"), Path::new("/d/mail/example.org/alice/Maildir"));
        let evil = m.maildir("../../etc@../x");
        assert!(evil.starts_with("/d/mail/") && !evil.components().any(|c| c.as_os_str() == ".."), "{evil:?}");
        assert_eq!(path_component("a/b"), "a%2Fb");
    }
}
