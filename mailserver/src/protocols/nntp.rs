//! The NNTP driver: moves bytes between a socket and `nntp-proto`'s [`ServerSession`], and
//! answers its decisions over the news spool ([`crate::news`]): logins (the same accounts,
//! mechanisms and throttling as POP3 and IMAP), the reader commands (GROUP, LISTGROUP, NEXT,
//! LAST, ARTICLE/HEAD/BODY/STAT, LIST, OVER, HDR, NEWNEWS, NEWGROUPS, DATE), and POST
//! (headers checked and completed per RFC 5537, the article stored durably before `240`).
//! Who may read and post where is each group's `read`/`post` rule.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sansmail_imap_proto::datetime;
use sansmail_nntp_proto::command::{ArticleRef, Command, ListKeyword, Range, Target};
use sansmail_nntp_proto::overview::{OVERVIEW_FMT, write_hdr};
use sansmail_nntp_proto::response::Response;
use sansmail_nntp_proto::server::{Event, Request, ServerSession};
use sansmail_nntp_proto::wildmat::Wildmat;
use tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Handler, Wire};
use crate::identity::login::{Login, Outcome};
use crate::news::News;
use crate::news::intake::{Intake, Poster};
use crate::news::store::{Entry, header_value};
use crate::protocols::Shared;

/// Article content is written in pieces of this size.
const CHUNK: usize = 64 * 1024;
/// OVER, HDR and LISTGROUP go through a range this many articles at a time: a command over
/// a large group holds one batch, never the group.
const BATCH: usize = 1000;

/// One NNTP client connection.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    news: Arc<News>,
    peer: SocketAddr,
    login: Login,
    user: Option<String>,
    /// The selected group and the current article in it.
    group: Option<String>,
    current: Option<u64>,
    /// The article being received, and what brought it.
    article: Vec<u8>,
    carrier: Carrier,
    /// Articles posted, for the session log line.
    pub(crate) posted: usize,
    /// Articles answered but not committed yet (see `before_send`).
    uncommitted: usize,
}

/// The most articles answered before one commit makes them durable (and the answers go).
const MAX_UNCOMMITTED: usize = 64;

impl Handler<ServerSession> for Connection {
    const READ_BUFFER: usize = 64 * 1024;

    async fn before_send(&mut self, may_defer: bool) -> io::Result<bool> {
        if self.uncommitted == 0 {
            return Ok(true);
        }
        if may_defer && self.uncommitted < MAX_UNCOMMITTED {
            return Ok(false);
        }
        self.commit()?;
        Ok(true)
    }

    async fn on_event<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        event: Event,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        match event {
            Event::Login { user, password } => {
                let outcome = self.login.password(&user, password.into_inner()).await;
                self.outcome(outcome, session);
            }
            Event::AuthStart { mechanism, initial_response } => {
                match self.login.start(&mechanism, initial_response.map(sansmail_nntp_proto::Secret::into_inner)).await
                {
                    Some(outcome) => self.outcome(outcome, session),
                    None => {
                        let _ = session.reject_login("Unsupported mechanism");
                    }
                }
            }
            Event::AuthResponse(response) => {
                let outcome = self.login.respond(&response).await;
                self.outcome(outcome, session);
            }
            Event::Command(request) => self.command(&request, session, wire).await?,
            Event::ArticleData(piece) => self.article.extend_from_slice(&piece),
            Event::ArticleEnd => {
                let article = std::mem::take(&mut self.article);
                let carrier = std::mem::take(&mut self.carrier);
                let response = tokio::task::block_in_place(|| self.take(&article, &carrier));
                self.uncommitted += 1;
                match response {
                    // A TAKETHIS that could not be stored now cannot be answered "try later"
                    // (RFC 4644 has 239 and 439 only): the connection ends, and the peer
                    // offers it again.
                    (400, text) => session.close(&text),
                    (code, text) => {
                        let _ = session.respond(Response { code, text: &text });
                    }
                }
            }
            Event::ArticleAborted => {
                self.article = Vec::new();
                self.carrier = Carrier::Post;
            }
            _ => {}
        }
        Ok(())
    }
}

/// An answer made of a code and owned text.
type Answer = (u16, String);

/// What brought the article being received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Carrier {
    #[default]
    Post,
    /// IHAVE or TAKETHIS, with the message-id the command named.
    Ihave(String),
    Takethis(String),
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>, news: Arc<News>, peer: SocketAddr) -> Self {
        let login = Login::new(shared.identity.clone(), peer.ip());
        Self {
            shared,
            news,
            peer,
            login,
            user: None,
            group: None,
            current: None,
            article: Vec::new(),
            carrier: Carrier::Post,
            posted: 0,
            uncommitted: 0,
        }
    }

    /// Makes the articles answered so far durable, before their answers are written. A
    /// failure ends the connection unanswered: the peer offers them again.
    fn commit(&mut self) -> io::Result<()> {
        if self.uncommitted > 0 {
            tokio::task::block_in_place(|| self.news.commit())?;
            self.uncommitted = 0;
        }
        Ok(())
    }

    /// Answers a login step in NNTP terms (RFC 4643).
    fn outcome(&mut self, outcome: Outcome, session: &mut ServerSession) {
        let _ = match outcome {
            Outcome::Challenge(c) => session.auth_challenge(&c),
            Outcome::Success(user) => {
                self.shared.identity.logins.record(self.peer.ip());
                tracing::info!(client = %self.peer.ip(), user = %user, "NNTP login");
                let r = session.accept_login(&user);
                self.user = Some(user);
                r
            }
            Outcome::Failed | Outcome::Malformed => session.reject_login("Authentication failed"),
            Outcome::Blocked => session.reject_login("Too many failures, try again later"),
            Outcome::NowBlocked => {
                let _ = session.reject_login("Too many failures, try again later");
                session.close("Too many failures");
                Ok(())
            }
        };
    }

    fn readable(&self, group: &str) -> bool {
        self.news.group(group).is_some_and(|g| g.readable(self.peer.ip(), self.user.is_some()))
    }

    async fn command<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        request: &Request,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        let cmd = request.command();
        let (code, text, block): (u16, String, Option<Vec<u8>>) = match cmd {
            Command::Group { name } => match self.select(name) {
                Some((count, low, high)) => (211, format!("{count} {low} {high} {name}"), None),
                None => (411, "No such newsgroup".into(), None),
            },
            Command::ListGroup { group, range } => {
                let name = match group {
                    Some(g) => (*g).to_owned(),
                    None => self.group.clone().unwrap_or_default(),
                };
                let Some((count, low, high)) = self.select(&name) else {
                    let _ = session.respond(Response { code: 411, text: "No such newsgroup" });
                    return Ok(());
                };
                let text = format!("{count} {low} {high} {name} list follows");
                let _ = session.respond(Response { code: 211, text: &text });
                let range = range.unwrap_or(Range { low: 1, high: None });
                return self
                    .stream(&name, range, session, wire, |_, e, out| {
                        out.extend_from_slice(format!("{}\r\n", e.number).as_bytes());
                    })
                    .await;
            }
            Command::Over { target: Some(Target::Range(range)), .. }
            | Command::Hdr { target: Some(Target::Range(range)), .. } => {
                let Some(group) = self.group.clone() else {
                    let _ = session.respond(Response { code: 412, text: "No newsgroup selected" });
                    return Ok(());
                };
                if self.news.store.overview(&group, range.low, range.high.unwrap_or(u64::MAX), 1).is_empty() {
                    let _ = session.respond(Response { code: 423, text: "No articles in that range" });
                    return Ok(());
                }
                return match cmd {
                    Command::Hdr { field, x, .. } => {
                        let code = if *x { 221 } else { 225 };
                        let _ = session.respond(Response { code, text: "Headers follow" });
                        let field = (*field).to_owned();
                        self.stream(&group, *range, session, wire, move |me, e, out| {
                            let value = me.field(e, &field);
                            write_hdr(out, e.number, &value);
                        })
                        .await
                    }
                    _ => {
                        let _ = session.respond(Response { code: 224, text: "Overview information follows" });
                        self.stream(&group, *range, session, wire, |_, e, out| e.overview().encode(out)).await
                    }
                };
            }
            Command::Next | Command::Last => self.step(matches!(cmd, Command::Next)),
            Command::Article(which) | Command::Head(which) | Command::Body(which) | Command::Stat(which) => {
                return self.retrieve(cmd, *which, session, wire).await;
            }
            Command::List(keyword) => self.list(*keyword),
            Command::Over { target, .. } => match self.targets(*target) {
                Err(answer) => (answer.0, answer.1, None),
                Ok(entries) => {
                    let mut block = Vec::new();
                    for (number, e) in &entries {
                        let mut o = e.overview();
                        o.number = *number;
                        o.encode(&mut block);
                    }
                    (224, "Overview information follows".into(), Some(block))
                }
            },
            Command::Hdr { field, target, x } => match self.targets(*target) {
                Err(answer) => (answer.0, answer.1, None),
                Ok(entries) => {
                    let mut block = Vec::new();
                    for (number, e) in &entries {
                        let value = tokio::task::block_in_place(|| self.field(e, field));
                        write_hdr(&mut block, *number, &value);
                    }
                    let code = if *x { 221 } else { 225 };
                    (code, "Headers follow".into(), Some(block))
                }
            },
            Command::NewGroups { .. } => (231, "No new newsgroups".into(), Some(Vec::new())),
            Command::NewNews { wildmat, since } => {
                let since = to_system_time(since);
                let wanted = Wildmat::parse(wildmat);
                let ids =
                    self.news.store.since(since, |g| wanted.as_ref().is_some_and(|w| w.matches(g)) && self.readable(g));
                let mut block = Vec::new();
                for id in ids {
                    block.extend_from_slice(id.as_bytes());
                    block.extend_from_slice(b"\r\n");
                }
                (230, "New news follows".into(), Some(block))
            }
            Command::Date => (111, date_now(), None),
            Command::Ihave { message_id } | Command::Check { message_id } => {
                let ihave = matches!(cmd, Command::Ihave { .. });
                match self.news.peer(self.peer.ip(), self.user.as_deref()) {
                    None if self.user.is_none() => (480, "Transfer permission denied, log in".into(), None),
                    None => (502, "Transfer permission denied".into(), None),
                    Some(_) if self.news.store.seen(message_id) => {
                        if ihave {
                            (435, "Duplicate".into(), None)
                        } else {
                            (438, (*message_id).to_owned(), None)
                        }
                    }
                    Some(_) if ihave => {
                        self.carrier = Carrier::Ihave((*message_id).to_owned());
                        (335, "Send it; end with <CR-LF>.<CR-LF>".into(), None)
                    }
                    Some(_) => (238, (*message_id).to_owned(), None),
                }
            }
            Command::Takethis { message_id } => {
                // Its article follows at once; the verdict comes at its end.
                self.carrier = Carrier::Takethis((*message_id).to_owned());
                return Ok(());
            }
            Command::Post => {
                let ip = self.peer.ip();
                let logged_in = self.user.is_some();
                if self.news.groups().iter().any(|g| g.postable(ip, logged_in)) {
                    self.carrier = Carrier::Post;
                    (340, "Send article to be posted".into(), None)
                } else if !logged_in {
                    (480, "Authentication required for posting".into(), None)
                } else {
                    (440, "Posting not permitted".into(), None)
                }
            }
            Command::XPat { .. } => (503, "XPAT not supported".into(), None),
            _ => (503, "Not supported".into(), None),
        };
        let _ = session.respond(Response { code, text: &text });
        if let Some(block) = block {
            let _ = session.block_data(&block);
            let _ = session.block_end();
        }
        Ok(())
    }

    /// GROUP: selects a readable group, the current article its first; (count, low, high).
    fn select(&mut self, name: &str) -> Option<(u64, u64, u64)> {
        if !self.readable(name) {
            return None;
        }
        let info = self.news.store.group(name)?;
        self.group = Some(name.to_owned());
        self.current = (info.count > 0).then_some(info.low);
        Some((info.count, info.low, info.high))
    }

    /// Writes a block of one line per article of a range, [`BATCH`] articles at a time
    /// (each batch sent before the next is read), then ends it.
    async fn stream<IO: AsyncRead + AsyncWrite + Unpin>(
        &self,
        group: &str,
        range: Range,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
        line: impl Fn(&Self, &Entry, &mut Vec<u8>),
    ) -> io::Result<()> {
        // What is written from here goes out at once, behind the answers already queued.
        if self.uncommitted > 0 {
            tokio::task::block_in_place(|| self.news.commit())?;
        }
        let high = range.high.unwrap_or(u64::MAX);
        let mut low = range.low;
        while low <= high {
            let batch = self.news.store.overview(group, low, high, BATCH);
            let mut block = Vec::new();
            tokio::task::block_in_place(|| {
                for e in &batch {
                    line(self, e, &mut block);
                }
            });
            let _ = session.block_data(&block);
            wire.send(session).await?;
            match batch.last() {
                Some(last) if batch.len() == BATCH => low = last.number.saturating_add(1),
                _ => break,
            }
        }
        let _ = session.block_end();
        Ok(())
    }

    /// NEXT and LAST (RFC 3977 §6.1.3–4).
    fn step(&mut self, forward: bool) -> (u16, String, Option<Vec<u8>>) {
        let (Some(group), Some(current)) = (self.group.clone(), self.current) else {
            return (420, "No current article selected".into(), None);
        };
        let found = self.news.store.neighbour(&group, current, forward);
        match found {
            Some(e) => {
                self.current = Some(e.number);
                (223, format!("{} {} retrieved", e.number, e.message_id), None)
            }
            None if forward => (421, "No next article in this group".into(), None),
            None => (422, "No previous article in this group".into(), None),
        }
    }

    /// OVER's and HDR's articles: (number to show, entry); or the refusal.
    fn targets(&self, target: Option<Target<'_>>) -> Result<Vec<(u64, Entry)>, Answer> {
        match target {
            Some(Target::MessageId(id)) => {
                let (g, n) = self
                    .news
                    .store
                    .locate(id)
                    .filter(|(g, _)| self.readable(g))
                    .ok_or((430, "No such article".into()))?;
                let e =
                    self.news.store.overview(&g, n, n, 1).into_iter().next().ok_or((430, "No such article".into()))?;
                Ok(vec![(0, e)])
            }
            // Ranges are streamed by `stream`.
            Some(Target::Range(_)) => Err((423, "No articles in that range".into())),
            None => {
                let group = self.group.as_deref().ok_or((412, "No newsgroup selected".into()))?;
                let n = self.current.ok_or((420, "No current article selected".into()))?;
                let e = self
                    .news
                    .store
                    .overview(group, n, n, 1)
                    .into_iter()
                    .next()
                    .ok_or((420, "Current article gone".into()))?;
                Ok(vec![(n, e)])
            }
        }
    }

    /// A header field of an article for HDR: from the overview when it is there, else from
    /// the article's header.
    fn field(&self, e: &Entry, field: &str) -> Vec<u8> {
        let from_overview = match field.to_ascii_lowercase().as_str() {
            "subject" => Some(e.subject.clone()),
            "from" => Some(e.from.clone()),
            "date" => Some(e.date.clone()),
            "message-id" => Some(e.message_id.clone()),
            "references" => Some(e.references.clone()),
            ":bytes" | "bytes" => Some(e.bytes.to_string()),
            ":lines" | "lines" => Some(e.lines.to_string()),
            "xref" => Some(e.xref.clone()),
            _ => None,
        };
        if let Some(v) = from_overview {
            return v.into_bytes();
        }
        let raw = self.news.store.article_by_id(&e.message_id).unwrap_or_default();
        let end = memchr::memmem::find(&raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
        header_value(&raw[..end], field).unwrap_or_default()
    }

    /// LIST and its keywords.
    fn list(&self, keyword: ListKeyword<'_>) -> (u16, String, Option<Vec<u8>>) {
        let ip = self.peer.ip();
        let logged_in = self.user.is_some();
        let wanted = |w: Option<&str>, name: &str| w.and_then(Wildmat::parse).is_none_or(|w| w.matches(name));
        let mut block = Vec::new();
        match keyword {
            ListKeyword::Active(w) | ListKeyword::Counts(w) => {
                let counts = matches!(keyword, ListKeyword::Counts(_));
                for info in self.news.store.groups() {
                    let Some(g) = self.news.group(&info.name).filter(|g| g.readable(ip, logged_in)) else { continue };
                    if !wanted(w, &info.name) {
                        continue;
                    }
                    let status = if g.status == "m" {
                        "m"
                    } else if g.postable(ip, logged_in) {
                        "y"
                    } else {
                        "n"
                    };
                    let line = if counts {
                        format!("{} {} {} {} {status}\r\n", info.name, info.high, info.low, info.count)
                    } else {
                        format!("{} {} {} {status}\r\n", info.name, info.high, info.low)
                    };
                    block.extend_from_slice(line.as_bytes());
                }
            }
            ListKeyword::ActiveTimes(w) => {
                for g in self.news.groups().iter().filter(|g| g.readable(ip, logged_in) && wanted(w, &g.name)) {
                    block.extend_from_slice(format!("{} 0 sansmail\r\n", g.name).as_bytes());
                }
            }
            ListKeyword::Newsgroups(w) => {
                for g in self.news.groups().iter().filter(|g| g.readable(ip, logged_in) && wanted(w, &g.name)) {
                    let mut line = g.name.clone().into_bytes();
                    line.push(b'\t');
                    sansmail_nntp_proto::overview::write_field(&mut line, g.description.as_bytes());
                    line.extend_from_slice(b"\r\n");
                    block.extend_from_slice(&line);
                }
            }
            ListKeyword::OverviewFmt => {
                for f in OVERVIEW_FMT {
                    block.extend_from_slice(format!("{f}\r\n").as_bytes());
                }
            }
            ListKeyword::Headers(_) => block.extend_from_slice(b":\r\n:bytes\r\n:lines\r\n"),
            ListKeyword::DistribPats => {}
            _ => return (503, "Not supported".into(), None),
        }
        (215, "Information follows".into(), Some(block))
    }

    /// ARTICLE, HEAD, BODY and STAT.
    async fn retrieve<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cmd: &Command<'_>,
        which: Option<ArticleRef<'_>>,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        // What is written from here goes out at once, behind the answers already queued.
        self.commit()?;
        let found: Result<(String, u64, u64), Answer> = match which {
            Some(ArticleRef::MessageId(id)) => self
                .news
                .store
                .locate(id)
                .filter(|(g, _)| self.readable(g))
                .map(|(g, n)| (g, n, 0))
                .ok_or((430, "No article with that message-id".into())),
            Some(ArticleRef::Number(n)) => match self.group.clone() {
                None => Err((412, "No newsgroup selected".into())),
                Some(g) => match self.news.store.contains(&g, n) {
                    true => {
                        self.current = Some(n);
                        Ok((g, n, n))
                    }
                    false => Err((423, "No article with that number".into())),
                },
            },
            None => match (self.group.clone(), self.current) {
                (Some(g), Some(n)) if self.news.store.contains(&g, n) => Ok((g, n, n)),
                _ => Err((420, "No current article selected".into())),
            },
        };
        let (group, number, shown) = match found {
            Ok(f) => f,
            Err((code, text)) => {
                let _ = session.respond(Response { code, text: &text });
                return Ok(());
            }
        };
        let Some(entry) = self.news.store.overview(&group, number, number, 1).into_iter().next() else {
            let _ = session.respond(Response { code: 430, text: "Article gone" });
            return Ok(());
        };
        let code = match cmd {
            Command::Article(_) => 220,
            Command::Head(_) => 221,
            Command::Body(_) => 222,
            _ => 223,
        };
        let text = format!("{shown} {}", entry.message_id);
        if code == 223 {
            let _ = session.respond(Response { code, text: &text });
            return Ok(());
        }
        let raw = match tokio::task::block_in_place(|| self.news.store.article(&group, number)) {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                let _ = session.respond(Response { code: 430, text: "Article gone" });
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(group = %group, number, error = %e, "NNTP article unreadable");
                let _ = session.respond(Response { code: 403, text: "Article unavailable" });
                return Ok(());
            }
        };
        let split = memchr::memmem::find(&raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 2);
        let part = match code {
            220 => &raw[..],
            221 => &raw[..split],
            _ => raw.get(split + 2..).unwrap_or_default(),
        };
        let _ = session.respond(Response { code, text: &text });
        for piece in part.chunks(CHUNK) {
            let _ = session.block_data(piece);
            wire.send(session).await?;
        }
        let _ = session.block_end();
        Ok(())
    }

    /// The article just received, to the news service; the answer in NNTP terms.
    fn take(&mut self, article: &[u8], carrier: &Carrier) -> Answer {
        let intake = match carrier {
            Carrier::Post => {
                let poster = Poster { ip: self.peer.ip(), user: self.user.as_deref() };
                let intake = self.news.post(article, poster);
                return match intake {
                    Intake::Stored(id) | Intake::Control(id) => {
                        self.posted += 1;
                        (240, format!("Article received {id}"))
                    }
                    Intake::Mailed(id) => {
                        self.posted += 1;
                        (240, format!("Article {id} sent to the moderator"))
                    }
                    Intake::Refused(text) | Intake::Failed(text) => (441, text),
                };
            }
            Carrier::Ihave(id) | Carrier::Takethis(id) => match self.news.peer(self.peer.ip(), self.user.as_deref()) {
                Some(peer) => self.news.transfer(article, id, peer),
                None => Intake::Refused("Transfer permission denied".into()),
            },
        };
        let (Carrier::Ihave(id) | Carrier::Takethis(id)) = carrier else { return (441, String::new()) };
        let takethis = matches!(carrier, Carrier::Takethis(_));
        match intake {
            Intake::Stored(_) | Intake::Control(_) | Intake::Mailed(_) => {
                self.posted += 1;
                if takethis { (239, id.clone()) } else { (235, "Article transferred OK".into()) }
            }
            Intake::Refused(text) if takethis => (439, format!("{id} {text}")),
            Intake::Refused(text) => (437, text),
            // A TAKETHIS that could not be stored now cannot be answered "try later"
            // (RFC 4644 has 239 and 439 only): the connection ends, and the peer offers
            // it again.
            Intake::Failed(text) if takethis => (400, text),
            Intake::Failed(_) => (436, "Transfer failed, try again later".into()),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// DATE's `yyyymmddhhmmss` (UTC).
fn date_now() -> String {
    let now = unix_now();
    let (y, m, d) = datetime::civil_from_days(now.div_euclid(86_400));
    let s = now.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// NEWNEWS's date and time as a time (the server's local time is taken as UTC).
fn to_system_time(d: &sansmail_nntp_proto::command::DateTime) -> SystemTime {
    let this_year = datetime::civil_from_days(unix_now().div_euclid(86_400)).0;
    let year = i64::from(d.full_year(u16::try_from(this_year.clamp(0, 9999)).unwrap_or(2000)));
    let days = datetime::days_from_civil(year, u32::from(d.month), u32::from(d.day));
    let secs = days * 86_400 + i64::from(d.hour) * 3600 + i64::from(d.minute) * 60 + i64::from(d.second);
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_now().len(), 14);
        let d = sansmail_nntp_proto::command::DateTime {
            year: 1999,
            two_digit_year: false,
            month: 6,
            day: 24,
            hour: 1,
            minute: 2,
            second: 3,
            gmt: true,
        };
        assert_eq!(to_system_time(&d), UNIX_EPOCH + Duration::from_secs(930_186_123));
    }
}
