//! The SMTP session's sender checks at the end of data: SPF, DKIM, DMARC and ARC by
//! `senderauth::verify`, then the listener's policy (`dmarc_policy`, `spf_policy`) in SMTP
//! terms. Logged-in clients and the relay networks are never checked.

use sansmail_smtp_proto::Reply;

use super::{Connection, reply};
use crate::senderauth::verify::Outcome;
use crate::store::spool::Envelope;

impl Connection {
    /// Checks the message just received, if this listener checks and the client is not
    /// trusted: a refusal, or the envelope given its `Authentication-Results` (and `junk`).
    pub(super) async fn check_sender(&mut self, envelope: &mut Envelope) -> Result<(), Reply<'static>> {
        let Some((dmarc_action, spf_action)) = self.sender_checks else { return Ok(()) };
        if self.trusted() {
            return Ok(());
        }
        let checker = self.shared.senderauth.clone();
        // The message as it came: held in memory, or read back from its spool file (a large
        // one only while a permit is free, so memory does not grow with the sessions).
        // The permit is held until the checks are done: it bounds the copies alive at once.
        let read_back = self.tx.incoming.as_ref().map(|i| i.len() + self.tx.pending.len() as u64);
        let big = read_back.is_some_and(|n| n > crate::senderauth::verify::LARGE);
        let _permit = if big { checker.large.acquire().await.ok() } else { None };
        let content = match read_back {
            None => Some(std::mem::take(&mut self.tx.pending)),
            Some(_) => {
                if !self.tx.pending.is_empty() {
                    self.flush_pending().await;
                }
                let max = checker.max_size();
                self.tx.incoming.as_ref().and_then(|i| i.content(max).ok().flatten())
            }
        };
        let ip = self.peer.ip();
        let sealer = self.forward_sealer(content.as_deref());
        let verdict = checker.check(ip, &self.helo, &envelope.from, content.as_deref(), sealer.as_deref()).await;
        // What was taken from the pending buffer goes back (a small message is committed from it).
        if self.tx.incoming.is_none()
            && let Some(c) = content
        {
            self.tx.pending = c;
        }
        tracing::info!(
            client = %ip, from = %envelope.from, listener = %self.listener, checks = %verdict.summary,
            "sender checks"
        );
        match verdict.outcome(ip, dmarc_action, spf_action) {
            Outcome::Refuse(code, enhanced, text) => return Err(reply(code, enhanced, text)),
            Outcome::Junk => envelope.junk = true,
            Outcome::Accept => {}
        }
        envelope.unverified_sender = !verdict.sender_verified;
        envelope.arc_seal = verdict.arc_seal;
        envelope.auth_results = Some(verdict.header);
        Ok(())
    }
}

impl Connection {
    /// The key that ARC-seals this message, if it is forwarded from one of our domains
    /// (`senderauth::sign::forward_sealer`).
    fn forward_sealer(&self, content: Option<&[u8]>) -> Option<std::sync::Arc<crate::senderauth::keys::Key>> {
        let by = self.tx.recipients.iter().filter(|r| r.is_remote()).find_map(|r| r.original.as_deref())?;
        let directory = &self.shared.directory;
        crate::senderauth::sign::forward_sealer(&self.shared.dkim, |d| directory.is_local_domain(d), content?, by)
    }
}
