//! What an article must be to get in, by the way it comes (RFC 5536, RFC 5537):
//!
//! - **POST** from a reader: From, Subject and Newsgroups required; only the named groups
//!   this client may post to; Message-ID, Date, Path and Injection-Info completed (the login
//!   as `posting-account`, which is what makes a later cancel the poster's own).
//! - **Transit** (IHAVE, TAKETHIS) from a configured peer: the message-id the command named,
//!   not seen before, not looping (our name in its Path), for a group carried here.
//! - **Mail** to a group's posting address ([`super::gateway`]).
//!
//! A post to a moderated group without an approval it may give is mailed to the group's
//! moderator; `Approved:` counts only from the moderator's account, a listed approver or a
//! news administrator. An article taken is staged: durable and visible at the next
//! [`News::commit`], which its caller makes before it answers. Control messages are never
//! filed in groups: a cancel is honoured
//! from the poster's own account, an administrator, or a peer with `control = true`;
//! newgroup and rmgroup only with `[news] control_groups`, from the same; everything else
//! (checkgroups, ihave, sendme) is remembered and ignored.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sansmail_nntp_proto::command::{is_message_id, is_newsgroup_name};

use super::store::{StoreError, header_value};
use super::{News, NewsPeerConfig, NewsgroupConfig};

/// Who posts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Poster<'a> {
    pub(crate) ip: IpAddr,
    pub(crate) user: Option<&'a str>,
}

/// What became of an article.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Intake {
    /// Stored, under this message-id.
    Stored(String),
    /// Mailed to a moderator for approval.
    Mailed(String),
    /// A control message: acted on or ignored, and remembered.
    Control(String),
    /// Refused for good, and why.
    Refused(String),
    /// Not stored now (the disk); may be offered again.
    Failed(String),
}

/// Where a control message came from.
enum Source<'a> {
    Poster(Poster<'a>),
    Peer(&'a NewsPeerConfig),
}

/// Fields the injecting server writes itself: a poster's are dropped.
const INJECTOR_FIELDS: &[&str] = &[
    "path",
    "xref",
    "injection-info",
    "injection-date",
    "message-id",
    "nntp-posting-host",
    "nntp-posting-date",
    "x-trace",
];

/// The article's header (with its last CRLF) and body (after the blank line).
pub(crate) fn split(article: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = memchr::memmem::find(article, b"\r\n\r\n")?;
    Some((&article[..p + 2], &article[p + 4..]))
}

/// A header field's value as text.
pub(crate) fn value(head: &[u8], name: &str) -> Option<String> {
    header_value(head, name).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The header's fields but those `drop` names (lower case, without the colon), each with
/// its continuation lines.
pub(crate) fn without_fields(head: &[u8], drop: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut skipping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if !line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            let name = line.split(|&b| b == b':').next().unwrap_or_default().trim_ascii();
            skipping = drop.iter().any(|d| name.eq_ignore_ascii_case(d.as_bytes()));
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Newsgroups' names, as written.
fn newsgroups(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).filter(|g| !g.is_empty()).collect()
}

/// A fresh message-id.
pub(crate) fn new_message_id(host: &str) -> String {
    let mut r = [0u8; 9];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    let rand: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("<{now}.{rand}@{host}>")
}

/// An RFC 5322 date, now.
pub(crate) fn rfc5322_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    crate::identity::directory::rfc5322_date(now)
}

/// A quoted-string's content (RFC 5322 §3.2.4).
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| (c == '"' || c == '\\').then_some('\\').into_iter().chain([c]))
        .collect()
}

impl News {
    /// POST's article.
    pub(crate) fn post(&self, article: &[u8], poster: Poster<'_>) -> Intake {
        let Some((head, body)) = split(article) else {
            return Intake::Refused("No blank line after the header".into());
        };
        let (Some(named), Some(_), Some(_)) = (value(head, "Newsgroups"), value(head, "From"), value(head, "Subject"))
        else {
            return Intake::Refused("From, Subject and Newsgroups are required".into());
        };
        let named = newsgroups(&named);
        if named.is_empty() || named.iter().any(|g| !is_newsgroup_name(g)) {
            return Intake::Refused("Invalid Newsgroups".into());
        }
        let message_id = match value(head, "Message-ID") {
            Some(id) if is_message_id(&id) => id,
            Some(_) => return Intake::Refused("Invalid Message-ID".into()),
            None => new_message_id(&self.path_host),
        };
        if self.store.seen(&message_id) {
            return Intake::Refused("Duplicate article".into());
        }
        if let Some(control) = value(head, "Control") {
            return self.control(&control, &message_id, Source::Poster(poster));
        }
        let logged_in = poster.user.is_some();
        let groups: Vec<Arc<NewsgroupConfig>> =
            named.iter().filter_map(|g| self.group(g)).filter(|g| g.postable(poster.ip, logged_in)).collect();
        if groups.is_empty() {
            return Intake::Refused("No group you may post to".into());
        }
        if too_large(&groups, article.len()) {
            return Intake::Refused("Article too large".into());
        }
        let approved = value(head, "Approved").is_some();
        let moderated: Vec<&Arc<NewsgroupConfig>> = groups.iter().filter(|g| g.moderated()).collect();
        if approved && let Some(g) = moderated.iter().find(|g| !self.may_approve(g, poster.user)) {
            return Intake::Refused(format!("You may not approve posts to {}", g.name));
        }
        let stored = self.complete(head, body, &message_id, poster);
        if !approved && let Some(g) = moderated.first() {
            return self.to_moderator(g, &stored, &message_id);
        }
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        self.file(&stored, &message_id, &names, &format!("{}!not-for-mail", self.path_host))
    }

    /// Whether an account may approve posts to a moderated group.
    fn may_approve(&self, group: &NewsgroupConfig, user: Option<&str>) -> bool {
        let Some(user) = user else { return false };
        self.is_admin(Some(user))
            || group.moderator.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(user))
            || group.approvers.iter().any(|a| a.eq_ignore_ascii_case(user))
    }

    /// The article as stored: the poster's fields but the injector's, then Path first and
    /// Message-ID, Date (when missing), Injection-Date and Injection-Info last.
    fn complete(&self, head: &[u8], body: &[u8], message_id: &str, poster: Poster<'_>) -> Vec<u8> {
        let host = &self.path_host;
        let mut stored = Vec::with_capacity(head.len() + body.len() + 320);
        stored.extend_from_slice(format!("Path: {host}!not-for-mail\r\n").as_bytes());
        stored.extend_from_slice(&without_fields(head, INJECTOR_FIELDS));
        stored.extend_from_slice(format!("Message-ID: {message_id}\r\n").as_bytes());
        let now = rfc5322_now();
        if value(head, "Date").is_none() {
            stored.extend_from_slice(format!("Date: {now}\r\n").as_bytes());
        }
        stored.extend_from_slice(format!("Injection-Date: {now}\r\n").as_bytes());
        let mut info = format!("Injection-Info: {host}; posting-host=\"{}\"", poster.ip);
        if let Some(user) = poster.user {
            info.push_str(&format!("; posting-account=\"{}\"", quoted(user)));
        }
        stored.extend_from_slice(info.as_bytes());
        stored.extend_from_slice(b"\r\n\r\n");
        stored.extend_from_slice(body);
        stored
    }

    /// Stages an article (durable and visible at the next [`News::commit`], which must come
    /// before it is acknowledged) and says so.
    pub(crate) fn file(&self, article: &[u8], message_id: &str, groups: &[&str], path: &str) -> Intake {
        match self.stage(article, message_id, groups, path) {
            Ok(places) => {
                tracing::debug!(id = %message_id, groups = ?places, "news article taken");
                Intake::Stored(message_id.to_owned())
            }
            Err(StoreError::Duplicate) => Intake::Refused("Duplicate article".into()),
            Err(StoreError::NoGroup) => Intake::Refused("No such newsgroup".into()),
            Err(StoreError::Io(e)) => {
                tracing::warn!(id = %message_id, error = %e, "news article not stored");
                Intake::Failed("Cannot store the article, try again later".into())
            }
        }
    }

    /// Mails a post to a moderated group's moderator (RFC 5537 §3.5.1), as the article
    /// would be stored, with a `To:` naming the moderator when it has none.
    pub(crate) fn to_moderator(&self, group: &NewsgroupConfig, article: &[u8], message_id: &str) -> Intake {
        let (Some(moderator), Some(mailer)) = (group.moderator.as_deref(), self.mailer.get()) else {
            return Intake::Refused(format!("{} is moderated and has no moderator here", group.name));
        };
        let Some((head, body)) = split(article) else {
            return Intake::Refused("No blank line after the header".into());
        };
        let mut mail = without_fields(head, &["path", "xref"]);
        if value(head, "To").is_none() {
            mail.extend_from_slice(format!("To: {moderator}\r\n").as_bytes());
        }
        mail.extend_from_slice(b"\r\n");
        mail.extend_from_slice(body);
        match mailer.queue_generated(moderator, &mail, "news moderation") {
            Ok(_) => {
                tracing::info!(id = %message_id, group = %group.name, moderator, "news post mailed to the moderator");
                Intake::Mailed(message_id.to_owned())
            }
            Err(e) => {
                tracing::warn!(id = %message_id, error = %e, "cannot mail the post to the moderator");
                Intake::Failed("Cannot reach the moderator now, try again later".into())
            }
        }
    }

    /// An article fed by a peer (IHAVE, TAKETHIS) with the message-id the command named:
    /// stored with our name added to its Path.
    pub(crate) fn transfer(&self, article: &[u8], id: &str, peer: &NewsPeerConfig) -> Intake {
        let Some((head, body)) = split(article) else {
            return Intake::Refused("No blank line after the header".into());
        };
        if value(head, "Message-ID").as_deref() != Some(id) {
            return Intake::Refused("Message-ID differs from the command's".into());
        }
        if self.store.seen(id) {
            return Intake::Refused("Duplicate".into());
        }
        let host = &self.path_host;
        let path = value(head, "Path").unwrap_or_default();
        if path.split('!').any(|element| element.trim() == host) {
            return Intake::Refused("Loop: already passed here".into());
        }
        if let Some(control) = value(head, "Control") {
            return self.control(&control, id, Source::Peer(peer));
        }
        let named = value(head, "Newsgroups").unwrap_or_default();
        let groups: Vec<Arc<NewsgroupConfig>> = newsgroups(&named).iter().filter_map(|g| self.group(g)).collect();
        if groups.is_empty() {
            return Intake::Refused("No group carried here".into());
        }
        if too_large(&groups, article.len()) {
            return Intake::Refused("Article too large".into());
        }
        // The header as fed, our name in front of its Path, without an Xref of its own.
        let stored_path = format!("{host}!{path}");
        let mut stored = Vec::with_capacity(article.len() + host.len() + 8);
        stored.extend_from_slice(format!("Path: {stored_path}\r\n").as_bytes());
        stored.extend_from_slice(&without_fields(head, &["path", "xref"]));
        stored.extend_from_slice(b"\r\n");
        stored.extend_from_slice(body);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let intake = self.file(&stored, id, &names, &stored_path);
        if matches!(intake, Intake::Stored(_)) {
            tracing::debug!(peer = %peer.name, id, groups = ?names, "news transfer");
        }
        intake
    }

    /// Whether `user` posted the article `id` here (its Injection-Info is ours and names
    /// the account).
    fn posted_by(&self, id: &str, user: &str) -> bool {
        let Some(raw) = self.store.article_by_id(id) else { return false };
        let Some((head, _)) = split(&raw) else { return false };
        let Some(info) = value(head, "Injection-Info") else { return false };
        let mut parts = info.split(';').map(str::trim);
        parts.next() == Some(self.path_host.as_str())
            && parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("posting-account")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case(user)
                })
            })
    }

    /// A control message (RFC 5537 §5): never filed in a group; acted on when its sender
    /// may; remembered either way.
    fn control(&self, control: &str, message_id: &str, source: Source<'_>) -> Intake {
        let mut words = control.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_lowercase();
        let admin = matches!(source, Source::Poster(p) if self.is_admin(p.user));
        let trusted_peer = matches!(source, Source::Peer(p) if p.control);
        let from_poster = matches!(source, Source::Poster(_));
        let acted = match verb.as_str() {
            "cancel" => {
                let Some(target) = words.next().filter(|t| is_message_id(t)) else {
                    return Intake::Refused("cancel needs a message-id".into());
                };
                let own = matches!(source, Source::Poster(p) if p.user.is_some_and(|u| self.posted_by(target, u)));
                if !(admin || trusted_peer || own) {
                    if from_poster {
                        return Intake::Refused("Only the poster or an administrator may cancel that article".into());
                    }
                    false
                } else {
                    // Gone now, or refused when it comes.
                    let result = match self.store.remove(target) {
                        Ok(true) => Ok(()),
                        Ok(false) => self.store.remember(target),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        tracing::warn!(target, error = %e, "cancel failed");
                        return Intake::Failed("Cannot cancel now, try again later".into());
                    }
                    tracing::info!(target, by = %message_id, "news article cancelled");
                    true
                }
            }
            "newgroup" | "rmgroup" => {
                let allowed = self.settings.control_groups && (admin || trusted_peer);
                if !allowed && from_poster {
                    return Intake::Refused("newgroup and rmgroup are not honoured here".into());
                }
                let Some(name) = words.next().filter(|n| is_newsgroup_name(n) && super::store::safe_group(n)) else {
                    return Intake::Refused(format!("{verb} needs a newsgroup name"));
                };
                allowed && {
                    let result = if verb == "newgroup" {
                        let moderated = words.next().is_some_and(|w| w.eq_ignore_ascii_case("moderated"));
                        let moderator = self.settings.admins.first().cloned();
                        if moderated && moderator.is_none() {
                            tracing::warn!(
                                group = name,
                                "moderated newgroup without a news admin to moderate it: ignored"
                            );
                            Ok(())
                        } else {
                            self.newgroup(name, moderated, moderator)
                        }
                    } else {
                        self.rmgroup(name).map(|_| ())
                    };
                    if let Err(e) = result {
                        tracing::warn!(group = name, error = %e, "{verb} failed");
                        return Intake::Failed("Cannot change the groups now, try again later".into());
                    }
                    tracing::info!(group = name, by = %message_id, "{verb} honoured");
                    true
                }
            }
            _ => false,
        };
        if !acted {
            tracing::info!(control, id = %message_id, "control message ignored");
        }
        match self.store.remember(message_id) {
            Ok(()) => Intake::Control(message_id.to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot remember a control message");
                Intake::Failed("Cannot store the article, try again later".into())
            }
        }
    }
}

/// Whether an article is past the smallest size limit of its groups.
fn too_large(groups: &[Arc<NewsgroupConfig>], len: usize) -> bool {
    groups.iter().filter_map(|g| g.max_article_size).min().is_some_and(|l| len as u64 > l)
}
