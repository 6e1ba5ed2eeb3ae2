//! Pulling from an upstream server (pullnews's job), for a site that only connects out:
//! for each `[[newspeer]]` with `pull`, every `pull_every_mins` and on `sansmail news pull`,
//! connect, log in when told to, and for each group carried here that the peer's `groups`
//! takes, fetch the articles numbered above the last one pulled (at most
//! `pull_max_articles`, the newest) with pipelined ARTICLE commands. Each is taken as from
//! that peer (loop check, our name added to its Path, duplicates skipped) and is then fed
//! on like any other. The high-water marks (`news/pull/<peer>.marks`, `group number` per
//! line) are written after each group, so a crash repeats at most one group's fetch, whose
//! articles the history then skips.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sansmail_nntp_proto::Command;
use sansmail_nntp_proto::client::{ClientEvent, ClientSession};
use sansmail_nntp_proto::command::ArticleRef;
use sansmail_nntp_proto::wildmat::Wildmat;
use tokio::net::TcpStream;

use super::feed::{code, next, quit};
use super::intake::Intake;
use super::{News, NewsPeerConfig};

/// ARTICLE commands in flight at once.
const WINDOW: usize = 16;
/// The largest article taken from an upstream when its groups set no limit.
const MAX_ARTICLE: usize = 16 << 20;
/// The mark file a CLI run leaves: pull now.
pub(crate) const PULL_MARK: &str = "pull/.now";

fn marks_path(news: &News, peer: &NewsPeerConfig) -> PathBuf {
    news.store.dir().join("pull").join(format!("{}.marks", peer.name))
}

fn load_marks(news: &News, peer: &NewsPeerConfig) -> BTreeMap<String, u64> {
    fs::read_to_string(marks_path(news, peer))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(g, n)| Some((g.to_owned(), n.trim().parse().ok()?)))
        .collect()
}

fn save_marks(news: &News, peer: &NewsPeerConfig, marks: &BTreeMap<String, u64>) -> io::Result<()> {
    let path = marks_path(news, peer);
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    fs::create_dir_all(&dir)?;
    let text: String = marks.iter().map(|(g, n)| format!("{g} {n}\n")).collect();
    let tmp = path.with_extension("marks.tmp");
    fs::write(&tmp, text)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(&dir)?.sync_all()
}

/// What one pull did.
#[derive(Debug, Default)]
pub(crate) struct Pulled {
    pub(crate) articles: usize,
    pub(crate) octets: usize,
    pub(crate) skipped: usize,
}

/// Runs every peer's pull on its schedule, and all of them when the CLI leaves its mark.
pub(crate) async fn run(news: Arc<News>) {
    let pulling: Vec<usize> = (0..news.peers.len()).filter(|&i| news.peers[i].pull.is_some()).collect();
    if pulling.is_empty() {
        return;
    }
    let mark = news.store.dir().join(PULL_MARK);
    let mut due: Vec<tokio::time::Instant> = pulling.iter().map(|_| tokio::time::Instant::now()).collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        // The mark names one peer, or none for all.
        let asked = fs::read_to_string(&mark).ok();
        if asked.is_some() {
            let _ = fs::remove_file(&mark);
        }
        for (slot, &i) in pulling.iter().enumerate() {
            let peer = &news.peers[i];
            let scheduled = peer.pull_every_mins > 0 && tokio::time::Instant::now() >= due[slot];
            let now_asked = asked.as_deref().is_some_and(|a| a.trim().is_empty() || a.trim() == peer.name);
            if !(scheduled || now_asked) {
                continue;
            }
            match pull_once(&news, peer).await {
                Ok(p) => {
                    tracing::info!(peer = %peer.name, articles = p.articles, octets = p.octets, skipped = p.skipped, "news pull")
                }
                Err(e) => tracing::warn!(peer = %peer.name, error = %e, "news pull failed"),
            }
            due[slot] = tokio::time::Instant::now() + Duration::from_secs(peer.pull_every_mins.max(1) * 60);
        }
    }
}

/// One pull from one peer.
pub(crate) async fn pull_once(news: &News, peer: &NewsPeerConfig) -> io::Result<Pulled> {
    let addr = peer.pull.as_deref().unwrap_or_default();
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let mut client = ClientSession::new();
    let mut buf = vec![0u8; 64 * 1024];
    let greeting = code(&mut stream, &mut client, &mut buf).await?;
    if greeting != 200 && greeting != 201 {
        return Err(io::Error::other(format!("the upstream greets with {greeting}")));
    }
    if let (Some(user), Some(pass)) = (&peer.pull_user, &peer.pull_password) {
        client.send(&Command::AuthinfoUser { user }).map_err(io::Error::other)?;
        if code(&mut stream, &mut client, &mut buf).await? == 381 {
            client
                .send(&Command::AuthinfoPass { password: sansmail_nntp_proto::Secret::new(pass) })
                .map_err(io::Error::other)?;
            let c = code(&mut stream, &mut client, &mut buf).await?;
            if c != 281 {
                return Err(io::Error::other(format!("the upstream refuses the login ({c})")));
            }
        }
    }
    client.send(&Command::ModeReader).map_err(io::Error::other)?;
    code(&mut stream, &mut client, &mut buf).await?;
    let wanted = Wildmat::parse(&peer.groups).ok_or_else(|| io::Error::other("groups is not a wildmat"))?;
    let mut marks = load_marks(news, peer);
    let mut pulled = Pulled::default();
    for g in news.groups() {
        if !wanted.matches(&g.name) {
            continue;
        }
        client.send(&Command::Group { name: &g.name }).map_err(io::Error::other)?;
        let text = match next(&mut stream, &mut client, &mut buf).await? {
            ClientEvent::Response { code: 211, text, .. } => text,
            ClientEvent::Response { .. } => continue,
            _ => return Err(io::Error::other("unexpected data from the upstream")),
        };
        let mut nums = text.split_whitespace().skip(1).map(|w| w.parse::<u64>().unwrap_or(0));
        let (low, high) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        let last = marks.get(&g.name).copied().unwrap_or(0);
        // A mark above the upstream's high (a renumbered group) starts over from its window.
        let from = if last > high { 0 } else { last }
            .saturating_add(1)
            .max(low)
            .max(high.saturating_sub(peer.pull_max_articles.saturating_sub(1)));
        let limit = g.max_article_size.map_or(MAX_ARTICLE, |l| usize::try_from(l).unwrap_or(MAX_ARTICLE));
        if high >= from {
            fetch(news, peer, (&mut stream, &mut client, &mut buf), (from, high), limit, &mut pulled).await?;
        }
        marks.insert(g.name.clone(), high);
        save_marks(news, peer, &marks)?;
    }
    quit(&mut stream, &mut client).await;
    Ok(pulled)
}

/// Fetches articles `from..=to` of the selected group, [`WINDOW`] commands in flight.
async fn fetch(
    news: &News,
    peer: &NewsPeerConfig,
    (stream, client, buf): (&mut TcpStream, &mut ClientSession, &mut Vec<u8>),
    (from, to): (u64, u64),
    limit: usize,
    pulled: &mut Pulled,
) -> io::Result<()> {
    let mut sent = from;
    let mut answered = from;
    while answered <= to {
        while sent <= to && sent - answered < WINDOW as u64 {
            client.send(&Command::Article(Some(ArticleRef::Number(sent)))).map_err(io::Error::other)?;
            sent += 1;
        }
        answered += 1;
        let (code, text) = match next(stream, client, buf).await? {
            ClientEvent::Response { code, text, .. } => (code, text),
            _ => return Err(io::Error::other("unexpected data from the upstream")),
        };
        if code != 220 {
            pulled.skipped += 1;
            continue;
        }
        // A hostile upstream's word is not taken for a message-id: the article's own header
        // must say the same (`transfer`), and this must be one.
        let id = text.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let valid = sansmail_nntp_proto::command::is_message_id(&id);
        let mut article = Vec::new();
        let mut too_large = false;
        loop {
            match next(stream, client, buf).await? {
                ClientEvent::Data(piece) => {
                    if article.len() + piece.len() > limit {
                        too_large = true;
                        article = Vec::new();
                    } else if !too_large {
                        article.extend_from_slice(&piece);
                    }
                }
                ClientEvent::End => break,
                _ => return Err(io::Error::other("unexpected data from the upstream")),
            }
        }
        if too_large || !valid {
            pulled.skipped += 1;
            continue;
        }
        let len = article.len();
        // Committed a window at a time (and at the end): what is staged is held in memory.
        let last_of_window = answered > to || (answered - from) % WINDOW as u64 == 0;
        let intake = tokio::task::block_in_place(|| {
            let intake = news.transfer(&article, &id, peer);
            if last_of_window { news.commit().map(|()| intake) } else { Ok(intake) }
        })?;
        match intake {
            Intake::Stored(_) | Intake::Control(_) => {
                pulled.articles += 1;
                pulled.octets += len;
            }
            Intake::Failed(text) => return Err(io::Error::other(text)),
            Intake::Refused(_) | Intake::Mailed(_) => pulled.skipped += 1,
        }
    }
    tokio::task::block_in_place(|| news.commit())
}
