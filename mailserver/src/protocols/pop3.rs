//! The POP3 driver: moves bytes between a socket and `pop3-proto`'s [`ServerSession`], and
//! answers its decisions: logins (shared SASL and throttling, [`crate::identity::login`]), the
//! maildrop (a Maildir snapshot taken at login, locked against a second POP3 session),
//! message content (streamed from the file, so a message of any size uses flat memory),
//! and the UPDATE state (deletions at QUIT only, quota usage reduced).

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use sansmail_pop3_proto::ResponseCode;
use sansmail_pop3_proto::server::{Event, MessageInfo, ServerSession};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::driver::{Handler, Wire};

use crate::identity::login::{Login, Outcome};
use crate::protocols::Shared;

/// Message content is read and sent in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// The mailboxes with a POP3 session in the TRANSACTION state.
#[derive(Default)]
pub(crate) struct Locks(Mutex<HashSet<String>>);

/// Holds a maildrop lock until dropped.
struct Lock {
    shared: Arc<Shared>,
    mailbox: String,
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.shared.pop3_locks.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.mailbox);
    }
}

fn lock(shared: &Arc<Shared>, mailbox: &str) -> Option<Lock> {
    let mut held = shared.pop3_locks.0.lock().unwrap_or_else(|e| e.into_inner());
    held.insert(mailbox.to_owned()).then(|| Lock { shared: shared.clone(), mailbox: mailbox.to_owned() })
}

/// One message of the snapshot.
struct Entry {
    path: PathBuf,
    size: u64,
}

/// The maildrop of the logged-in user.
struct Maildrop {
    mailbox: String,
    maildir: PathBuf,
    entries: Vec<Entry>,
    _lock: Lock,
}

/// The unique id of a Maildir file: its base name (before the `:` info), or a digest of it
/// when it is not a valid POP3 unique-id (RFC 1939 §7: 1–70 octets of `%x21-7E`).
fn unique_id(name: &str) -> String {
    let base = name.split(':').next().unwrap_or(name);
    if sansmail_pop3_proto::response::is_unique_id(base) {
        base.to_owned()
    } else {
        Sha256::digest(base.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Lists `new/` and `cur/`, oldest first (then by name): the order is stable across
/// sessions while the mailbox does not change.
fn snapshot(maildir: &Path) -> io::Result<Vec<(Entry, String)>> {
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let dir = match std::fs::read_dir(maildir.join(sub)) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in dir {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            if name.starts_with('.') || !meta.is_file() {
                continue;
            }
            let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
            found.push((mtime, name, Entry { path: e.path(), size: meta.len() }));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(found.into_iter().map(|(_, name, entry)| (entry, unique_id(&name))).collect())
}

/// Where a snapshot's file is now: IMAP renames a file when its flags change (`new/x` →
/// `cur/x:2,S`), keeping the base name before `:`. `None` if it is gone.
fn current(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let name = path.file_name()?.to_str()?;
    let base = name.split(':').next()?;
    let maildir = path.parent()?.parent()?;
    let prefix = format!("{base}:");
    ["cur", "new"].iter().find_map(|sub| {
        std::fs::read_dir(maildir.join(sub)).ok()?.flatten().find_map(|e| {
            let n = e.file_name();
            let n = n.to_str()?;
            (n == base || n.starts_with(&prefix)).then(|| e.path())
        })
    })
}

/// Removes the files, then syncs their folders; returns the octets removed and whether all
/// went (a file already gone counts as removed).
fn remove(maildir: &Path, paths: &[(PathBuf, u64)]) -> (u64, bool) {
    let mut freed = 0;
    let mut ok = true;
    for (path, size) in paths {
        let Some(path) = current(path) else { continue };
        match std::fs::remove_file(&path) {
            Ok(()) => freed += size,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "POP3 delete failed");
                ok = false;
            }
        }
    }
    for sub in ["new", "cur"] {
        if let Ok(dir) = std::fs::File::open(maildir.join(sub)) {
            ok &= dir.sync_all().is_ok();
        }
    }
    (freed, ok)
}

/// One POP3 client connection.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    login: Login,
    apop_timestamp: String,
    maildrop: Option<Maildrop>,
    /// Messages retrieved, for the session log line.
    pub(crate) retrieved: usize,
}

impl Handler<ServerSession> for Connection {
    const READ_BUFFER: usize = 8 * 1024;

    async fn on_event<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        event: Event,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        match event {
            Event::Retrieve { index, .. } => self.retrieve(index, session, wire).await,
            other => {
                self.answer(other, session).await;
                Ok(())
            }
        }
    }
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>, peer: SocketAddr) -> Self {
        let mut r = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
        let nonce: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let apop_timestamp = format!("<{nonce}.{now}@{}>", shared.hostname);
        let login = Login::new(shared.identity.clone(), peer.ip());
        Self { shared, peer, login, apop_timestamp, maildrop: None, retrieved: 0 }
    }

    pub(crate) fn apop_timestamp(&self) -> &str {
        &self.apop_timestamp
    }

    /// Answers one decision event (each is answered once, right after it is polled, so the
    /// API-misuse results cannot happen and are ignored).
    async fn answer(&mut self, event: Event, session: &mut ServerSession) {
        match event {
            Event::Login { user, password } => {
                let outcome = self.login.password(&user, password.into_inner()).await;
                self.outcome(outcome, session).await;
            }
            Event::Apop { user, digest } => {
                let dir = self.shared.directory.clone();
                let ts = self.apop_timestamp.clone();
                let outcome = self.login.checked(&user, |address| dir.apop_ok(address, &ts, &digest)).await;
                self.outcome(outcome, session).await;
            }
            Event::AuthStart { mechanism, initial_response } => {
                match self.login.start(&mechanism, initial_response.map(sansmail_pop3_proto::Secret::into_inner)).await
                {
                    Some(outcome) => self.outcome(outcome, session).await,
                    None => {
                        let _ = session.reject(None, "Unsupported authentication mechanism");
                    }
                }
            }
            Event::AuthResponse(response) => {
                let outcome = self.login.respond(&response).await;
                self.outcome(outcome, session).await;
            }
            Event::AuthCancelled => self.login.cancel(),
            Event::Update { deleted } => self.update(&deleted, session).await,
            _ => {}
        }
    }

    /// Answers a login step in POP3 terms (RFC 2449 §8, RFC 3206).
    async fn outcome(&mut self, outcome: Outcome, session: &mut ServerSession) {
        let _ = match outcome {
            Outcome::Challenge(c) => session.auth_challenge(&c),
            Outcome::Success(user) => return self.open_maildrop(user, session).await,
            Outcome::Failed => session.reject(Some(ResponseCode::Auth), "Authentication failed"),
            Outcome::Blocked => session.reject(Some(ResponseCode::SysTemp), "Too many failures, try again later"),
            Outcome::NowBlocked => {
                let _ = session.reject(Some(ResponseCode::SysTemp), "Too many failures, try again later");
                session.abort();
                Ok(())
            }
            Outcome::Malformed => session.reject(None, "Malformed authentication response"),
        };
    }

    /// A user proved the password: lock and list the maildrop.
    async fn open_maildrop(&mut self, user: String, session: &mut ServerSession) {
        let ip = self.peer.ip();
        let Some(lock) = lock(&self.shared, &user) else {
            tracing::info!(client = %ip, user = %user, "POP3 login refused: maildrop in use");
            let _ = session.reject(Some(ResponseCode::InUse), "Maildrop already locked by another session");
            return;
        };
        let maildir = self.shared.mailboxes.maildir(&user);
        let dir = maildir.clone();
        let listed = tokio::task::spawn_blocking(move || snapshot(&dir)).await.map_err(io::Error::other);
        match listed {
            Ok(Ok(list)) => {
                let infos = list.iter().map(|(e, uid)| MessageInfo { size: e.size, uid: uid.clone() }).collect();
                let entries = list.into_iter().map(|(e, _)| e).collect();
                self.shared.identity.logins.record(ip);
                tracing::info!(client = %ip, user = %user, "POP3 login");
                let _ = session.accept_login(&user, infos);
                self.maildrop = Some(Maildrop { mailbox: user, maildir, entries, _lock: lock });
            }
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(user = %user, error = %e, "cannot list the maildrop");
                let _ = session.reject(Some(ResponseCode::SysTemp), "Cannot open the maildrop");
            }
        }
    }

    /// Streams one message: read a piece, let the session stuff it, write it, repeat.
    async fn retrieve<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        index: usize,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        let Some(path) = self.maildrop.as_ref().and_then(|m| m.entries.get(index)).map(|e| e.path.clone()) else {
            let _ = session.reject(Some(ResponseCode::SysTemp), "Message unavailable");
            return Ok(());
        };
        let path = tokio::task::spawn_blocking(move || current(&path).unwrap_or(path)).await.unwrap_or_default();
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "POP3 retrieve failed");
                let _ = session.reject(Some(ResponseCode::SysTemp), "Message unavailable");
                return Ok(());
            }
        };
        let mut piece = vec![0u8; CHUNK];
        while session.wants_content() {
            let n = match file.read(&mut piece).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // Half a multi-line response cannot be taken back: end the session.
                    tracing::warn!(file = %path.display(), error = %e, "POP3 read failed mid-message");
                    session.abort();
                    return Ok(());
                }
            };
            let _ = session.message_data(&piece[..n]);
            wire.send(session).await?;
        }
        let _ = session.message_end();
        self.retrieved += 1;
        Ok(())
    }

    /// QUIT after login: remove the marked messages, then answer.
    async fn update(&mut self, deleted: &[usize], session: &mut ServerSession) {
        let Some(drop) = self.maildrop.take() else {
            let _ = session.accept();
            return;
        };
        let paths: Vec<(PathBuf, u64)> =
            deleted.iter().filter_map(|&i| drop.entries.get(i)).map(|e| (e.path.clone(), e.size)).collect();
        let maildir = drop.maildir.clone();
        let (freed, ok) = tokio::task::spawn_blocking(move || remove(&maildir, &paths)).await.unwrap_or((0, false));
        self.shared.quotas.remove(&drop.mailbox, freed);
        if !deleted.is_empty() {
            self.shared.changes.touch(&drop.maildir);
        }
        tracing::info!(client = %self.peer.ip(), user = %drop.mailbox, deleted = deleted.len(), "POP3 update");
        if ok {
            let _ = session.accept();
        } else {
            let _ = session.reject(Some(ResponseCode::SysTemp), "Some deleted messages not removed");
        }
    }
}
