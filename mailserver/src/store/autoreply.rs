//! Vacation replies, by the rules of [RFC 3834](https://www.rfc-editor.org/rfc/rfc3834):
//! never to the null sender, to automatic mail (`Auto-Submitted` other than `no`), to bulk or
//! list mail (`Precedence: bulk/list/junk`, any `List-*` header), to list or daemon
//! addresses (`owner-*`, `*-request`, `mailer-daemon`), to the user's own address, nor to the
//! same sender twice within the configured number of days. The reply is sent from the null
//! reverse path with `Auto-Submitted: auto-replied` (§3.1.7, §3.3), through the queue.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use mail_builder::MessageBuilder;
use mail_parser::MessageParser;

use crate::identity::directory::Autoreply;
use crate::identity::users::normalize;

/// Why no reply was sent, or that one should be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Reply,
    Skip(&'static str),
}

/// Decides by the message alone (the per-sender window is checked by [`record`]).
pub(crate) fn judge(mailbox: &str, sender: &str, content: &[u8]) -> Verdict {
    if sender.is_empty() {
        return Verdict::Skip("null sender");
    }
    let sender_n = normalize(sender);
    if sender_n == mailbox {
        return Verdict::Skip("own address");
    }
    let local = sender_n.rsplit_once('@').map_or(sender_n.as_str(), |(l, _)| l);
    if local.starts_with("owner-")
        || local.ends_with("-request")
        || ["mailer-daemon", "postmaster", "listserv", "majordomo", "noreply", "no-reply"].contains(&local)
    {
        return Verdict::Skip("list or daemon address");
    }
    let Some(msg) = MessageParser::new().parse_headers(content) else {
        return Verdict::Skip("unparsable headers");
    };
    for h in msg.headers() {
        let name = h.name.as_str();
        let raw = msg.raw_message().get(h.offset_start() as usize..h.offset_end() as usize).unwrap_or_default();
        let value = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
        if name.eq_ignore_ascii_case("Auto-Submitted") && value != "no" && !value.starts_with("no;") {
            return Verdict::Skip("Auto-Submitted");
        }
        if name.eq_ignore_ascii_case("Precedence") && ["bulk", "list", "junk"].contains(&value.as_str()) {
            return Verdict::Skip("Precedence");
        }
        if name.len() > 5 && name[..5].eq_ignore_ascii_case("List-") {
            return Verdict::Skip("mailing list");
        }
    }
    Verdict::Reply
}

/// Senders remembered per mailbox within the window. When that many were answered, new
/// senders get no reply until entries expire: memory and file stay bounded, and so does
/// the mail a flood of forged senders can draw from one mailbox.
pub(crate) const MAX_SENDERS: usize = 1000;

/// Records a reply to `sender` at `now` unless one was sent within `days` (or the memory
/// holds `max_senders` already); returns whether to send. State lives beside the Maildir (`autoreply.toml`:
/// sender → Unix time); entries past the window are dropped at each write.
pub(crate) fn record(state_dir: &Path, sender: &str, days: u64, now: u64, max_senders: usize) -> io::Result<bool> {
    let path = state_dir.join("autoreply.toml");
    let mut sent: BTreeMap<String, u64> = match std::fs::read_to_string(&path) {
        Ok(t) => toml::from_str(&t).unwrap_or_default(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let window = days.saturating_mul(86_400);
    sent.retain(|_, &mut t| now.saturating_sub(t) < window);
    let key = normalize(sender);
    if sent.contains_key(&key) {
        return Ok(false);
    }
    if sent.len() >= max_senders {
        tracing::warn!(dir = %state_dir.display(), senders = sent.len(), "autoreply: too many senders within the window; not replying");
        return Ok(false);
    }
    sent.insert(key, now);
    std::fs::create_dir_all(state_dir)?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, toml::to_string(&sent).map_err(io::Error::other)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

/// The reply message.
pub(crate) fn build(mailbox: &str, sender: &str, settings: &Autoreply, content: &[u8]) -> io::Result<Vec<u8>> {
    let original = MessageParser::new().parse_headers(content);
    // Never the sender's own subject: it would carry an attacker's text (a spam line, a
    // link) to whatever address was forged as the sender.
    let subject = settings.subject.clone().unwrap_or_else(|| "Automatic reply".into());
    let mut builder = MessageBuilder::new()
        .from(mailbox.to_string())
        .to(sender.to_string())
        .subject(subject)
        .header("Auto-Submitted", mail_builder::headers::raw::Raw::new("auto-replied"))
        .text_body(settings.body.clone());
    if let Some(id) = original.as_ref().and_then(|m| m.message_id()) {
        builder = builder.in_reply_to(id.to_string()).references(id.to_string());
    }
    builder.write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "alice@example.test";

    #[test]
    fn rfc3834_rules() {
        let plain = b"From: bob@remote.test\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(judge(ME, "bob@remote.test", plain), Verdict::Reply);
        assert_eq!(judge(ME, "", plain), Verdict::Skip("null sender"));
        assert_eq!(judge(ME, "Alice@Example.test", plain), Verdict::Skip("own address"));
        assert_eq!(judge(ME, "owner-list@remote.test", plain), Verdict::Skip("list or daemon address"));
        assert_eq!(judge(ME, "list-request@remote.test", plain), Verdict::Skip("list or daemon address"));
        assert_eq!(judge(ME, "MAILER-DAEMON@remote.test", plain), Verdict::Skip("list or daemon address"));
        let auto = b"Auto-Submitted: auto-generated\r\nSubject: x\r\n\r\n";
        assert_eq!(judge(ME, "bob@remote.test", auto), Verdict::Skip("Auto-Submitted"));
        let not_auto = b"Auto-Submitted: no\r\nSubject: x\r\n\r\n";
        assert_eq!(judge(ME, "bob@remote.test", not_auto), Verdict::Reply);
        for p in ["bulk", "list", "junk", "Bulk"] {
            let m = format!("Precedence: {p}\r\n\r\n");
            assert_eq!(judge(ME, "bob@remote.test", m.as_bytes()), Verdict::Skip("Precedence"), "{p}");
        }
        let list = b"List-Id: <x.remote.test>\r\n\r\n";
        assert_eq!(judge(ME, "bob@remote.test", list), Verdict::Skip("mailing list"));
    }

    #[test]
    fn once_per_sender_per_window() {
        let dir = std::env::temp_dir().join(format!("sansmail-autoreply-{}", std::process::id()));
        assert!(record(&dir, "bob@remote.test", 7, 1_000_000, MAX_SENDERS).unwrap());
        assert!(!record(&dir, "BOB@remote.test", 7, 1_000_000 + 86_400, MAX_SENDERS).unwrap());
        assert!(record(&dir, "carol@remote.test", 7, 1_000_000 + 86_400, MAX_SENDERS).unwrap());
        assert!(record(&dir, "bob@remote.test", 7, 1_000_000 + 7 * 86_400, MAX_SENDERS).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// At most `max_senders` within the window: the next new sender gets nothing, and
    /// once the window has passed the memory empties and replies resume.
    #[test]
    fn the_sender_memory_is_bounded_and_expires() {
        let dir = std::env::temp_dir().join(format!("sansmail-autoreply-cap-{}", std::process::id()));
        let (t, max) = (1_000_000, 100);
        for i in 0..max {
            assert!(record(&dir, &format!("s{i}@remote.test"), 1, t, max).unwrap());
        }
        assert!(!record(&dir, "one-more@remote.test", 1, t + 10, max).unwrap());
        let size = std::fs::metadata(dir.join("autoreply.toml")).unwrap().len();
        assert!(record(&dir, "one-more@remote.test", 1, t + 86_400, max).unwrap());
        assert!(std::fs::metadata(dir.join("autoreply.toml")).unwrap().len() < size / 50, "expired entries dropped");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reply_is_marked_and_threaded() {
        let settings = Autoreply { subject: None, body: "I am away.".into(), days: 7 };
        let orig = b"Message-ID: <m1@remote.test>\r\nSubject: Lunch?\r\n\r\n";
        let r = String::from_utf8(build(ME, "bob@remote.test", &settings, orig).unwrap()).unwrap();
        assert!(r.contains("Auto-Submitted: auto-replied\r\n"), "{r}");
        assert!(r.contains("Subject: Automatic reply\r\n") && !r.contains("Lunch"), "{r}");
        assert!(r.contains("In-Reply-To: <m1@remote.test>"), "{r}");
        assert!(r.contains("I am away."), "{r}");
    }
}
