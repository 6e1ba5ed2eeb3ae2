//! Outgoing feeds (innfeed's job): each article stored here is queued for every
//! `[[newspeer]]` with a `feed` address whose `groups` take one of its groups and that it did
//! not come through (the peer's name in its Path); a task per peer offers the queue with
//! MODE STREAM's CHECK and TAKETHIS (or IHAVE), through `nntp-proto`'s client session.
//!
//! The queue is a backlog file per peer under `news/feeds/`, one message-id per line,
//! appended and synced when the article is stored (before it is acknowledged); a run that
//! ends (offered, or refused for good) takes the ids out, one that fails keeps them for the
//! next try, every [`RETRY`] or at the next article.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sansmail_nntp_proto::Command;
use sansmail_nntp_proto::client::{ClientEvent, ClientSession};
use sansmail_nntp_proto::wildmat::Wildmat;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::{News, NewsPeerConfig};

/// How long a feed waits before it tries again after a failure (or looks at its backlog).
const RETRY: Duration = Duration::from_secs(30);
/// How long one exchange with a peer may wait for an answer.
const ANSWER: Duration = Duration::from_secs(60);

/// The outgoing feeds' queues.
pub(crate) struct Feeds {
    dir: PathBuf,
    /// One wake-up per peer (in `peers` order) when its backlog grows.
    wake: Vec<Notify>,
}

impl Feeds {
    pub(crate) fn new(news_dir: &Path, peers: &[NewsPeerConfig]) -> io::Result<Self> {
        let dir = news_dir.join("feeds");
        fs::create_dir_all(&dir)?;
        Ok(Self { dir, wake: peers.iter().map(|_| Notify::new()).collect() })
    }

    fn backlog(&self, peer: &NewsPeerConfig) -> PathBuf {
        self.dir.join(format!("{}.backlog", peer.name))
    }

    /// Queues a stored article for the peers that take it (synced before this returns).
    pub(crate) fn queue(
        &self,
        peers: &[NewsPeerConfig],
        message_id: &str,
        groups: &[&str],
        path: &str,
    ) -> io::Result<()> {
        for (i, peer) in peers.iter().enumerate() {
            if peer.feed.is_none() || !peer.takes(groups, path) {
                continue;
            }
            let mut f = OpenOptions::new().create(true).append(true).open(self.backlog(peer))?;
            f.write_all(format!("{message_id}\n").as_bytes())?;
            f.sync_data()?;
            if let Some(w) = self.wake.get(i) {
                w.notify_one();
            }
        }
        Ok(())
    }

    fn pending(&self, peer: &NewsPeerConfig) -> Vec<String> {
        let mut ids: Vec<String> =
            fs::read_to_string(self.backlog(peer)).unwrap_or_default().lines().map(str::to_owned).collect();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| !id.is_empty() && seen.insert(id.clone()));
        ids
    }

    /// Takes `done` out of a peer's backlog (what was queued meanwhile stays).
    fn finish(&self, peer: &NewsPeerConfig, done: &[String]) -> io::Result<()> {
        let left: Vec<String> = fs::read_to_string(self.backlog(peer))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty() && !done.iter().any(|d| d == l))
            .map(str::to_owned)
            .collect();
        let tmp = self.dir.join(format!("{}.backlog.tmp", peer.name));
        {
            let mut f = File::create(&tmp)?;
            for id in &left {
                f.write_all(format!("{id}\n").as_bytes())?;
            }
            f.sync_all()?;
        }
        fs::rename(&tmp, self.backlog(peer))?;
        File::open(&self.dir)?.sync_all()
    }
}

/// Runs the feed of every peer that has a `feed` address.
pub(crate) async fn run(news: Arc<News>) {
    let mut tasks = Vec::new();
    for (i, peer) in news.peers.iter().enumerate() {
        if peer.feed.is_some() {
            let news = news.clone();
            tasks.push(tokio::spawn(async move { feed_loop(news, i).await }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn feed_loop(news: Arc<News>, i: usize) {
    let Some(peer) = news.peers.get(i).cloned() else { return };
    loop {
        let ids = news.feeds.pending(&peer);
        if !ids.is_empty() {
            match feed_once(&news, &peer, &ids).await {
                Ok(done) => {
                    if let Err(e) = news.feeds.finish(&peer, &done) {
                        tracing::warn!(peer = %peer.name, error = %e, "cannot update the feed's backlog");
                    }
                    tracing::info!(peer = %peer.name, offered = done.len(), left = ids.len() - done.len(), "news feed run");
                }
                Err(e) => tracing::warn!(peer = %peer.name, error = %e, "news feed failed; trying again later"),
            }
        }
        if let Some(w) = news.feeds.wake.get(i) {
            let _ = tokio::time::timeout(RETRY, w.notified()).await;
        }
    }
}

/// The next event of the client session, reading and writing as it needs.
pub(super) async fn next(
    stream: &mut TcpStream,
    client: &mut ClientSession,
    buf: &mut [u8],
) -> io::Result<ClientEvent> {
    loop {
        let mut out = Vec::new();
        client.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
        if let Some(e) = client.poll_event() {
            return match e {
                ClientEvent::Error(e) => Err(io::Error::other(e.to_string())),
                e => Ok(e),
            };
        }
        let n = tokio::time::timeout(ANSWER, stream.read(buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer does not answer"))??;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the connection"));
        }
        client.handle_input(&buf[..n]);
    }
}

/// The status code of the next response (blocks are not expected here).
pub(super) async fn code(stream: &mut TcpStream, client: &mut ClientSession, buf: &mut [u8]) -> io::Result<u16> {
    match next(stream, client, buf).await? {
        ClientEvent::Greeting { code, .. } | ClientEvent::Response { code, .. } => Ok(code),
        _ => Err(io::Error::other("unexpected data from the peer")),
    }
}

/// One connection: offers `ids`; returns those done with (taken, refused, or gone here).
async fn feed_once(news: &News, peer: &NewsPeerConfig, ids: &[String]) -> io::Result<Vec<String>> {
    let addr = peer.feed.as_deref().unwrap_or_default();
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let mut client = ClientSession::new();
    let mut buf = vec![0u8; 16 * 1024];
    let greeting = code(&mut stream, &mut client, &mut buf).await?;
    if greeting != 200 && greeting != 201 {
        return Err(io::Error::other(format!("the peer greets with {greeting}")));
    }
    let mut streaming = peer.streaming;
    if streaming {
        client.send(&Command::ModeStream).map_err(io::Error::other)?;
        streaming = code(&mut stream, &mut client, &mut buf).await? == 203;
    }
    let mut done = Vec::new();
    for id in ids {
        let Some(article) = article(news, id) else {
            // Expired or gone here: nothing to offer.
            done.push(id.clone());
            continue;
        };
        if streaming {
            client.send(&Command::Check { message_id: id }).map_err(io::Error::other)?;
            match code(&mut stream, &mut client, &mut buf).await? {
                238 => {
                    client.takethis(id, &article).map_err(io::Error::other)?;
                    match code(&mut stream, &mut client, &mut buf).await? {
                        239 | 439 => done.push(id.clone()),
                        other => return Err(io::Error::other(format!("TAKETHIS answered {other}"))),
                    }
                }
                438 => done.push(id.clone()),
                // 431: try later; anything else: this run ends.
                431 => {}
                other => return Err(io::Error::other(format!("CHECK answered {other}"))),
            }
        } else {
            client.send(&Command::Ihave { message_id: id }).map_err(io::Error::other)?;
            match code(&mut stream, &mut client, &mut buf).await? {
                335 => {
                    client.article(&article).map_err(io::Error::other)?;
                    client.article_end().map_err(io::Error::other)?;
                    match code(&mut stream, &mut client, &mut buf).await? {
                        235 | 437 => done.push(id.clone()),
                        436 => {}
                        other => return Err(io::Error::other(format!("IHAVE's article answered {other}"))),
                    }
                }
                435 => done.push(id.clone()),
                436 => {}
                other => return Err(io::Error::other(format!("IHAVE answered {other}"))),
            }
        }
    }
    quit(&mut stream, &mut client).await;
    Ok(done)
}

/// Says QUIT, without waiting for the answer.
pub(super) async fn quit(stream: &mut TcpStream, client: &mut ClientSession) {
    let _ = client.send(&Command::Quit);
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    let _ = stream.write_all(&out).await;
}

/// An article as offered: the stored file without this server's own `Xref`.
fn article(news: &News, id: &str) -> Option<Vec<u8>> {
    let raw = news.store.article_by_id(id)?;
    if raw.len() >= 5 && raw[..5].eq_ignore_ascii_case(b"Xref:") {
        let end = memchr::memmem::find(&raw, b"\r\n").map_or(raw.len(), |p| p + 2);
        return Some(raw[end..].to_vec());
    }
    Some(raw)
}

impl NewsPeerConfig {
    /// Whether an article in `groups` that came through `path` goes to this peer.
    fn takes(&self, groups: &[&str], path: &str) -> bool {
        let name = self.path_name.as_deref().unwrap_or(&self.name);
        if path.split('!').any(|e| e.trim() == name) {
            return false;
        }
        Wildmat::parse(&self.groups).is_some_and(|w| groups.iter().any(|g| w.matches(g)))
    }
}
