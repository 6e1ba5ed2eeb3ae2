//! `method = "imap"`: a remote folder collected with `imap-proto`'s client session.
//!
//! STARTTLS (or implicit TLS), LOGIN, SELECT, the UIDs and sizes, then for each message not
//! taken before (remembered as `UIDVALIDITY:UID`): `UID FETCH BODY.PEEK[]`, placed by the
//! routing rules, delivered into the spool (fsynced), recorded in `.seen` (fsynced), and
//! only then flagged `\Deleted`; expunged at the end (`UID EXPUNGE` where the server has
//! UIDPLUS). The same guarantees as POP3: nothing deleted before it is stored here, nothing
//! delivered twice.

use std::time::{Duration, Instant};

use sansmail_imap_proto::Secret;
use sansmail_imap_proto::client::{
    ClientCommand, ClientEvent, ClientSession, FetchItem, ResponseLimits, State, StatusLine, Untagged,
};
use tokio::io::AsyncWriteExt;

use super::conn::{self, Pump};
use super::pop3::{return_path, with_trace};
use super::route::{Placement, place};
use super::{FetchConfig, FetchTls, Fetcher, Report, Seen, message_id};

/// Each response's time limit.
const RESPONSE_SECS: u64 = 120;
/// Untagged responses one command may bring (a folder's listing): more is a hostile or
/// broken server, and the run stops rather than grow without bound.
const MAX_UNTAGGED: usize = 1_000_000;

type Imap = Pump<ClientSession>;

/// IMAP's own steps over the pump.
trait Conversation {
    async fn event(&mut self) -> Result<ClientEvent, String>;
    async fn run(&mut self, command: &ClientCommand<'_>) -> Result<(Vec<Untagged>, StatusLine), String>;
    async fn ok(&mut self, command: &ClientCommand<'_>, what: &str) -> Result<Vec<Untagged>, String>;
}

impl Conversation for Imap {
    async fn event(&mut self) -> Result<ClientEvent, String> {
        loop {
            if let Some(e) = self.session.poll_event() {
                return match e {
                    ClientEvent::Error(e) => Err(format!("server: {e}")),
                    e => Ok(e),
                };
            }
            self.read().await?;
        }
    }

    /// Sends `command`; its untagged data and its completion.
    async fn run(&mut self, command: &ClientCommand<'_>) -> Result<(Vec<Untagged>, StatusLine), String> {
        let tag = self.session.send(Instant::now(), command).map_err(|e| format!("cannot write a command: {e}"))?;
        let mut data = Vec::new();
        loop {
            match self.event().await? {
                ClientEvent::Untagged(_) if data.len() >= MAX_UNTAGGED => {
                    return Err(format!("more than {MAX_UNTAGGED} responses to one command"));
                }
                ClientEvent::Untagged(u) => data.push(u),
                ClientEvent::Tagged { tag: t, status } if t == tag => return Ok((data, status)),
                ClientEvent::Tagged { .. } | ClientEvent::Continuation(_) | ClientEvent::Greeting(_) => {}
                other => return Err(format!("unexpected {other:?}")),
            }
        }
    }

    /// `run`, failing unless the server says OK.
    async fn ok(&mut self, command: &ClientCommand<'_>, what: &str) -> Result<Vec<Untagged>, String> {
        let (data, status) = self.run(command).await?;
        if status.state != State::Ok {
            return Err(format!("{what} refused: {}", status.text));
        }
        Ok(data)
    }
}

/// Collects the job's folder.
pub(super) async fn collect(f: &Fetcher, job: &FetchConfig, recovering: bool) -> Result<Report, String> {
    let limits = {
        let mut l = ResponseLimits::default();
        // One FETCH response carries one message: room for the largest taken, and its items.
        l.literal = job.max_message_size;
        l.total = job.max_message_size.saturating_add(64 * 1024);
        l
    };
    let session = ClientSession::with_limits(Instant::now(), Duration::from_secs(RESPONSE_SECS), limits);
    let mut m = Imap::new(conn::open(job).await?, session);
    match m.event().await? {
        ClientEvent::Greeting(s) if s.state == State::Ok => {}
        ClientEvent::Greeting(s) => return Err(format!("refused: {}", s.text)),
        other => return Err(format!("unexpected {other:?}")),
    }
    if job.tls == FetchTls::Starttls {
        m.ok(&ClientCommand::StartTls, "STARTTLS").await?;
        m.flush().await?;
        m = m.upgrade(job).await?;
        m.session.handle_tls_established();
    }
    let user = job.username.as_deref().unwrap_or_default();
    let password = job.password.as_deref().unwrap_or_default();
    m.ok(&ClientCommand::Login { user, password: Secret::new(password) }, "login").await?;
    if m.session.capabilities().is_empty() {
        m.ok(&ClientCommand::Capability, "CAPABILITY").await?;
    }
    let folder = job.folder.as_deref().unwrap_or("INBOX");
    let selected = m.ok(&ClientCommand::Select { mailbox: folder }, "SELECT").await?;
    let validity = selected
        .iter()
        .find_map(|u| match u {
            Untagged::Status(StatusLine { code: Some(c), .. }) => c.strip_prefix("UIDVALIDITY ").map(str::to_owned),
            _ => None,
        })
        .unwrap_or_default();
    let exists = selected.iter().any(|u| matches!(u, Untagged::Exists(n) if *n > 0));
    let mut listing: Vec<(u32, u64)> = Vec::new();
    if exists {
        for u in m.ok(&ClientCommand::UidFetch { set: "1:*", items: "(UID RFC822.SIZE)" }, "UID FETCH").await? {
            if let Untagged::Fetch { items, .. } = u {
                let uid = items.iter().find_map(|i| if let FetchItem::Uid(n) = i { Some(*n) } else { None });
                let size = items.iter().find_map(|i| if let FetchItem::Size(n) = i { Some(*n) } else { None });
                if let Some(uid) = uid {
                    listing.push((uid, size.unwrap_or(0)));
                }
            }
        }
    }
    listing.sort_unstable();
    let key = |uid: u32| format!("{validity}:{uid}");
    let mut seen = Seen::load(&f.dir, &job.name).map_err(|e| format!("{}.seen: {e}", job.name))?;
    let listed: Vec<String> = listing.iter().map(|(u, _)| key(*u)).collect();
    let mut report = Report::default();
    let now = crate::outbound::unix_now();
    let deletable = |at: u64| now >= at.saturating_add(job.keep_days.saturating_mul(86_400));
    let (dir, hostname) = (&f.shared.directory, &f.shared.hostname);
    let mut deleted: Vec<u32> = Vec::new();
    let mut taken = 0;
    for (uid, size) in &listing {
        if let Some(&at) = seen.taken.get(&key(*uid)) {
            if deletable(at) {
                deleted.push(*uid);
            }
            continue;
        }
        if taken >= job.max_messages {
            break;
        }
        if *size > job.max_message_size {
            tracing::warn!(job = %job.name, uid, size, "message over max_message_size left on the server");
            report.skipped += 1;
            continue;
        }
        let set = uid.to_string();
        let (data, status) = m.run(&ClientCommand::UidFetch { set: &set, items: "(UID BODY.PEEK[])" }).await?;
        let body = data.into_iter().find_map(|u| match u {
            Untagged::Fetch { items, .. } => items.into_iter().find_map(|i| match i {
                FetchItem::Body { data, .. } => data,
                _ => None,
            }),
            _ => None,
        });
        let Some(body) = body.filter(|_| status.state == State::Ok) else {
            tracing::warn!(job = %job.name, uid, reason = %status.text, "message not taken");
            report.skipped += 1;
            continue;
        };
        let to = match place(job, dir, hostname, &body) {
            Placement::To(to) => to,
            Placement::Refused(why) => {
                tracing::warn!(job = %job.name, uid, why, "message left on the server");
                seen.add(&key(*uid), now).map_err(|e| format!("{}.seen: {e}", job.name))?;
                report.skipped += 1;
                continue;
            }
        };
        let content = with_trace(&body, job, hostname);
        let id = message_id(&job.name, &key(*uid));
        let from = return_path(&body);
        tokio::task::block_in_place(|| f.deliver(&id, (&from, &to), &content, recovering))
            .map_err(|e| format!("cannot store a message: {e}"))?;
        seen.add(&key(*uid), now).map_err(|e| format!("{}.seen: {e}", job.name))?;
        report.messages += 1;
        report.octets += body.len() as u64;
        taken += 1;
        if deletable(now) {
            deleted.push(*uid);
        }
    }
    if !deleted.is_empty() {
        let set = uid_set(&deleted);
        m.ok(&ClientCommand::UidStoreAdd { set: &set, flags: "\\Deleted" }, "UID STORE").await?;
        if m.session.has_capability("UIDPLUS") {
            m.ok(&ClientCommand::UidExpunge { set: &set }, "UID EXPUNGE").await?;
        } else {
            m.ok(&ClientCommand::Expunge, "EXPUNGE").await?;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), m.run(&ClientCommand::Logout)).await;
    let _ = m.io.shutdown().await;
    seen.prune(&listed).map_err(|e| format!("{}.seen: {e}", job.name))?;
    Ok(report)
}

/// `1:3,7,9:10` for sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(super::uid_set(&[9, 1, 2, 3, 7, 10, 3]), "1:3,7,9:10");
        assert_eq!(super::uid_set(&[5]), "5");
    }
}
