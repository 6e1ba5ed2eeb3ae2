//! The mail↔news gateway.
//!
//! - **Mail → news**: mail to a group's `posting_address` (accepted at RCPT by the group's
//!   `post` rule, applied to the SMTP client) becomes an article when it is delivered from
//!   the queue: trace and news-only fields dropped (no mail can carry `Approved:`,
//!   `Control:` or `Supersedes:` into the group), Newsgroups, Path and Injection-Info
//!   written, its Message-ID kept (or one made from the queue id, so a retried delivery is
//!   the same article). A moderated group's mail goes to its moderator.
//! - **News → mail**: each article stored in a group with `subscribers` (posted, fed, or
//!   mailed in) is mailed to them through the outbound queue before it is acknowledged, from
//!   the null reverse path (nothing bounces back to the poster or the group), with
//!   `List-Id`, `List-Post` and `Precedence: list` (RFC 2369, RFC 2919), so no vacation
//!   reply answers it. A subscriber is mailed once per article, however many of its groups
//!   the article is in.
//!
//! Loops are cut both ways: mail that carries a group's own `List-Id` is not posted to it
//! again, and an article whose Message-ID is in the history is not taken twice.

use super::intake::{Intake, new_message_id, rfc5322_now, split, value, without_fields};
use super::{News, NewsgroupConfig};

/// Mail fields that do not go into an article.
const MAIL_ONLY: &[&str] = &[
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "path",
    "xref",
    "newsgroups",
    "followup-to",
    "injection-info",
    "injection-date",
    "nntp-posting-host",
    "nntp-posting-date",
    "approved",
    "control",
    "also-control",
    "supersedes",
    "message-id",
];

/// Article fields that do not go into a mail.
const NEWS_ONLY: &[&str] =
    &["path", "xref", "injection-info", "injection-date", "nntp-posting-host", "nntp-posting-date", "x-trace", "lines"];

/// A group's list identifier (RFC 2919): `<group>.<host>`.
pub(crate) fn list_id(group: &str, host: &str) -> String {
    format!("{group}.{host}")
}

impl News {
    /// Mail to a group's posting address, delivered from the queue. `sender` is the
    /// envelope's reverse path, `client` the SMTP client, `fallback_id` a message-id for
    /// mail without one (stable across retries).
    pub(crate) fn post_mail(
        &self,
        content: &[u8],
        group: &str,
        sender: &str,
        client: &str,
        fallback_id: &str,
    ) -> Intake {
        let Some(g) = self.group(group) else {
            return Intake::Refused(format!("{group} is not carried here"));
        };
        let (head, body): (&[u8], &[u8]) = split(content).unwrap_or((content, b""));
        let own = format!("<{}>", list_id(&g.name, &self.path_host));
        if value(head, "List-Id").is_some_and(|l| l.contains(&own)) {
            return Intake::Refused("Loop: the group's own list mail".into());
        }
        let message_id = match value(head, "Message-ID") {
            Some(id) if sansmail_nntp_proto::command::is_message_id(&id) => id,
            _ => fallback_id.to_owned(),
        };
        if self.store.seen(&message_id) {
            return Intake::Refused("Duplicate article".into());
        }
        if g.max_article_size.is_some_and(|l| content.len() as u64 > l) {
            return Intake::Refused("Article too large".into());
        }
        let host = &self.path_host;
        let mut article = Vec::with_capacity(content.len() + 512);
        article.extend_from_slice(format!("Path: {host}!not-for-mail\r\nNewsgroups: {}\r\n", g.name).as_bytes());
        article.extend_from_slice(&without_fields(head, MAIL_ONLY));
        if value(head, "From").is_none() {
            if sender.is_empty() {
                return Intake::Refused("No From and no sender".into());
            }
            article.extend_from_slice(format!("From: <{sender}>\r\n").as_bytes());
        }
        if value(head, "Subject").is_none() {
            article.extend_from_slice(b"Subject: (no subject)\r\n");
        }
        let now = rfc5322_now();
        if value(head, "Date").is_none() {
            article.extend_from_slice(format!("Date: {now}\r\n").as_bytes());
        }
        article.extend_from_slice(format!("Message-ID: {message_id}\r\nInjection-Date: {now}\r\n").as_bytes());
        article.extend_from_slice(format!("Injection-Info: {host}; posting-host=\"{client}\"\r\n\r\n").as_bytes());
        article.extend_from_slice(body);
        if g.moderated() {
            return self.to_moderator(&g, &article, &message_id);
        }
        self.file(&article, &message_id, &[g.name.as_str()], &format!("{host}!not-for-mail"))
    }

    /// Mails a stored article to the subscribers of the groups it was stored in (see the
    /// module's documentation). A failure is logged: the article stays stored.
    pub(crate) fn mail_subscribers(&self, article: &[u8], message_id: &str, groups: &[&str]) {
        let Some(mailer) = self.mailer.get() else { return };
        let mut mailed: Vec<String> = Vec::new();
        for name in groups {
            let Some(g) = self.group(name) else { continue };
            let to: Vec<&str> = g
                .subscribers
                .iter()
                .map(String::as_str)
                .filter(|s| !mailed.iter().any(|m| m.eq_ignore_ascii_case(s)))
                .collect();
            if to.is_empty() {
                continue;
            }
            let mail = self.as_mail(article, &g);
            match mailer.queue_generated_to(&to, &mail, "news subscribers") {
                Ok(_) => {
                    tracing::info!(id = %message_id, group = %g.name, subscribers = to.len(), "news article mailed")
                }
                Err(e) => tracing::warn!(id = %message_id, group = %g.name, error = %e, "cannot mail the article"),
            }
            mailed.extend(to.iter().map(|s| (*s).to_owned()));
        }
    }

    /// An article as mail for a group's subscribers.
    fn as_mail(&self, article: &[u8], g: &NewsgroupConfig) -> Vec<u8> {
        let (head, body): (&[u8], &[u8]) = split(article).unwrap_or((article, b""));
        let mut mail = without_fields(head, NEWS_ONLY);
        if value(head, "To").is_none() {
            let to = g
                .posting_address
                .as_deref()
                .map_or_else(|| "undisclosed-recipients:;".to_owned(), |a| format!("<{a}>"));
            mail.extend_from_slice(format!("To: {to}\r\n").as_bytes());
        }
        let id = list_id(&g.name, &self.path_host);
        mail.extend_from_slice(format!("List-Id: <{id}>\r\n").as_bytes());
        match &g.posting_address {
            Some(a) => mail.extend_from_slice(format!("List-Post: <mailto:{a}>\r\n").as_bytes()),
            None => mail.extend_from_slice(b"List-Post: NO\r\n"),
        }
        mail.extend_from_slice(format!("List-Archive: <news://{}/{}>\r\n", self.path_host, g.name).as_bytes());
        mail.extend_from_slice(b"Precedence: list\r\n\r\n");
        mail.extend_from_slice(body);
        mail
    }
}

/// The message-id a mail without one gets: stable for one queued copy.
pub(crate) fn mail_message_id(queue_id: &str, index: usize, host: &str) -> String {
    if queue_id.is_empty() { new_message_id(host) } else { format!("<{queue_id}.{index}.news@{host}>") }
}
