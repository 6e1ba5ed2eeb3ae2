//! The SMTP driver: moves bytes between a socket and `smtp-proto`'s [`ServerSession`], and
//! answers the session's decision events with the server's policy (who is local, who may
//! relay) and store (the durable spool). No SMTP text is parsed or built here beyond the
//! reply texts: the state machine does the protocol.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::address::{ForwardPath, ReversePath};
use sansmail_smtp_proto::command::{RcptParams, Ret, XText};
use sansmail_smtp_proto::server::{Event, ServerSession};
use tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Handler, Wire};

mod gateway;
mod senderauth;

use crate::identity::directory::{Target, rfc5322_date};
use crate::identity::login::{Login, Outcome};
use crate::identity::policy::Relay;
use crate::identity::policy::{self, Client};
use crate::identity::users::normalize;
use crate::net::canonical;
use crate::protocols::Shared;
use crate::store::delivery::Job;
use crate::store::spool::{self, Envelope, Incoming, Recipient};

/// Content is written to the spool file in pieces of at least this size.
const SPOOL_CHUNK: usize = 256 * 1024;

/// The message being received.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    /// DSN parameters of MAIL: `RET=FULL`, `ENVID`.
    ret_full: bool,
    envid: Option<String>,
    recipients: Vec<Recipient>,
    incoming: Option<Incoming>,
    /// Content not yet written to the spool file.
    pending: Vec<u8>,
    /// Writing the spool file failed: the end of data gets 451.
    failed: bool,
    /// Octets delivery adds on top of the content (`Received`, `Return-Path`).
    head_len: u64,
    /// The message's envelope and `Received` header, fixed at the start of content.
    envelope: Option<Envelope>,
    head: Vec<u8>,
    /// Loop signs in the message's header section.
    scan: crate::store::loops::HeaderScan,
}

/// One client connection.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) relay: Relay,
    pub(crate) peer: SocketAddr,
    /// The address the client connected to.
    pub(crate) local_ip: Option<std::net::IpAddr>,
    pub(crate) listener: String,
    helo: String,
    tx: Transaction,
    /// The authenticated user.
    pub(crate) user: Option<String>,
    login: Login,
    /// RCPT to unknown local users in this session (directory harvest).
    unknown_recipients: u32,
    /// Messages accepted in this session, for the session log line.
    pub(crate) accepted: usize,
    /// An `odmr` listener's session: ATRN only, no mail taken.
    pub(crate) odmr: bool,
    /// ATRN's domains, once accepted: the connection's turn comes when the session closes.
    turn: Option<Vec<String>>,
    /// The last RCPT was refused as relaying (a backup-MX lookup may change that).
    relay_refused: bool,
    /// This listener checks senders (SPF, DKIM, DMARC, ARC) and answers failures so.
    pub(crate) sender_checks: Option<(crate::senderauth::verify::DmarcAction, crate::senderauth::verify::SpfAction)>,
}

/// An xtext value decoded, if it decodes to printable text (what a DSN may carry).
fn xtext(x: &XText<'_>) -> Option<String> {
    let bytes = x.decode()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.chars().all(|c| !c.is_control()).then(|| text.to_owned())
}

fn reply(code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Reply<'static> {
    Reply::new(code, enhanced, "").with_text(text.into())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

impl Handler<ServerSession> for Connection {
    fn write_timeout(&self, session: &ServerSession) -> Duration {
        session.config().timeouts.command
    }

    async fn take_over<IO: AsyncRead + AsyncWrite + Unpin>(&mut self, stream: &mut IO) -> io::Result<()> {
        let Some(domains) = self.turn.take() else { return Ok(()) };
        let data_dir = self.shared.data_dir.clone();
        let store = crate::store::outbound_queue::Store::open(&data_dir)?;
        let gateways = &self.shared.gateways;
        let strip = domains.iter().any(|d| gateways.for_domain(d).is_some_and(|g| g.strip_attachments));
        match crate::gateway::atrn::hand_over(stream, &store, &data_dir, &domains, &self.shared.hostname, strip).await {
            Ok(t) => {
                if t.delivered > 0 {
                    self.shared.gateways.handed_over(&domains[0], t.delivered as u64, crate::outbound::unix_now());
                }
                tracing::info!(
                    client = %self.peer.ip(), user = ?self.user, domains = ?domains,
                    delivered = t.delivered, refused = t.refused, deferred = t.deferred, "ATRN turn"
                )
            }
            Err(e) => tracing::warn!(client = %self.peer.ip(), domains = ?domains, error = %e, "ATRN turn failed"),
        }
        Ok(())
    }

    async fn on_event<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        event: Event,
        session: &mut ServerSession,
        _wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        self.answer(event, session).await;
        Ok(())
    }

    /// RFC 3207 §4.2: everything learnt before TLS is forgotten, authentication too.
    fn on_tls_established(&mut self) {
        self.user = None;
    }

    fn on_end(&mut self) {
        self.abort_message();
    }
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>, relay: Relay, peer: SocketAddr, listener: String) -> Self {
        let login = Login::new(shared.identity.clone(), peer.ip());
        Self {
            shared,
            relay,
            peer,
            local_ip: None,
            listener,
            helo: String::new(),
            tx: Transaction::default(),
            user: None,
            login,
            unknown_recipients: 0,
            accepted: 0,
            odmr: false,
            turn: None,
            relay_refused: false,
            sender_checks: None,
        }
    }

    fn abort_message(&mut self) {
        if let Some(incoming) = self.tx.incoming.take() {
            incoming.discard();
        }
    }

    fn reset(&mut self) {
        self.abort_message();
        self.tx = Transaction::default();
    }

    /// Answers one event. API misuse is impossible by construction here (each decision is
    /// answered once, right after it is polled), so those results are ignored.
    async fn answer(&mut self, event: Event, session: &mut ServerSession) {
        match event {
            Event::Hello { host, .. } => {
                self.helo = host.into_owned();
                self.reset();
                let _ = session.accept();
            }
            Event::MailFrom { .. } if self.odmr => {
                let _ = session.reject(&reply(502, (5, 5, 1), "This listener takes ATRN only (RFC 2645)"));
            }
            Event::MailFrom { from, params } => {
                self.reset();
                self.tx.ret_full = params.ret == Some(Ret::Full);
                self.tx.envid = params.envid.as_ref().and_then(xtext);
                let client = self.client();
                match policy::mail_from(&self.relay, &self.shared.directory, client, &from) {
                    Ok(_) => {
                        self.tx.from = Some(match &from {
                            ReversePath::Null => String::new(),
                            ReversePath::Mailbox(m) => m.to_string(),
                        });
                        let _ = session.accept();
                    }
                    Err(d) => {
                        tracing::info!(client = %self.peer.ip(), user = ?self.user, rule = %d.rule, "MAIL refused");
                        let _ = session.reject(&d.reply);
                    }
                }
            }
            Event::Recipient { to, params } => {
                match self.checked_recipient(&to, &params).await {
                    Ok(rcpts) => {
                        for r in rcpts {
                            // One copy per mailbox (an alias and its user, two forwards to one
                            // address), one entry per remote address; a gateway mailbox keeps a
                            // copy per address (each says which it was for).
                            let dup = self.tx.recipients.iter().any(|o| match (&o.mailbox, &r.mailbox) {
                                _ if r.gateway_copy => o.gateway_copy && o.address == r.address,
                                (Some(a), Some(b)) => a == b,
                                (None, None) => o.address == r.address,
                                _ => false,
                            });
                            if !dup {
                                self.tx.recipients.push(r);
                            }
                        }
                        let _ = session.accept();
                    }
                    Err(r) => {
                        let _ = session.reject(&r);
                    }
                }
            }
            Event::MessageStart => self.message_start(session.is_tls(), session.is_authenticated()),
            Event::MessageData(data) => self.message_data(&data).await,
            Event::MessageEnd { size } => {
                let r = self.message_end(size).await;
                let _ = if r.is_positive() { session.accept_with(&r) } else { session.reject(&r) };
            }
            Event::MessageAborted(_) => self.abort_message(),
            Event::Reset => self.reset(),
            Event::AuthStart { mechanism, initial_response } => {
                match self.login.start(&mechanism, initial_response.map(sansmail_smtp_proto::Secret::into_inner)).await
                {
                    Some(outcome) => self.auth_outcome(outcome, session),
                    None => {
                        let _ = session.reject(&reply(504, (5, 5, 4), "Authentication mechanism not supported"));
                    }
                }
            }
            Event::AuthResponse(response) => {
                let outcome = self.login.respond(&response).await;
                self.auth_outcome(outcome, session);
            }
            Event::AuthCancelled => self.login.cancel(),
            Event::Etrn(node) => {
                let answer = tokio::task::block_in_place(|| self.etrn(&node));
                let _ = if answer.code().class() == 2 { session.accept_with(&answer) } else { session.reject(&answer) };
            }
            Event::Atrn { domains } => {
                let answer = tokio::task::block_in_place(|| self.atrn(&domains));
                match answer {
                    Ok(domains) => {
                        self.turn = Some(domains);
                        let _ = session.accept();
                    }
                    Err(r) => {
                        let _ = session.reject(&r);
                    }
                }
            }
            Event::Verify(_) | Event::Expand(_) => {
                let _ = session.reject(&reply(502, (5, 5, 1), "Command not implemented"));
            }
            _ => {}
        }
    }

    /// Who is asking, for the relay policy.
    /// Logged in, or from the relay networks: exempt from sender authentication checks, and
    /// our DKIM keys may sign what it sends.
    fn trusted(&self) -> bool {
        let ip = self.peer.ip();
        self.user.is_some() || self.relay.in_networks(ip) || self.relay.in_allow_from(ip)
    }

    fn client(&self) -> Client<'_> {
        let ip = self.peer.ip();
        let recent_login = self.relay.after_login.is_some_and(|w| self.shared.identity.logins.recent(ip, w));
        Client { ip, user: self.user.as_deref(), recent_login, local_ip: self.local_ip }
    }

    /// Answers an authentication step in SMTP terms (RFC 4954 §6).
    fn auth_outcome(&mut self, outcome: Outcome, session: &mut ServerSession) {
        let _ = match outcome {
            Outcome::Challenge(c) => session.auth_challenge(&c),
            Outcome::Success(user) => {
                self.user = Some(user);
                session.accept()
            }
            Outcome::Failed => session.reject(&reply(535, (5, 7, 8), "Authentication credentials invalid")),
            Outcome::Blocked => {
                session.reject(&reply(454, (4, 7, 0), "Temporary authentication failure, try again later"))
            }
            Outcome::NowBlocked => {
                session.reject(&reply(421, (4, 7, 0), "Too many authentication failures, try again later"))
            }
            Outcome::Malformed => session.reject(&reply(501, (5, 5, 2), "Malformed authentication response")),
        };
    }

    fn recipient(&mut self, to: &ForwardPath<'_>, params: &RcptParams<'_>) -> Result<Vec<Recipient>, Reply<'static>> {
        let notify = params.notify.map(|n| {
            let names = [(n.success, "success"), (n.failure, "failure"), (n.delay, "delay")];
            let on: Vec<&str> = names.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
            if on.is_empty() { "never".to_owned() } else { on.join(",") }
        });
        let orcpt = params.orcpt.as_ref().and_then(|o| Some(format!("{};{}", o.addr_type, xtext(&o.addr)?)));
        let dsn = Recipient { notify, orcpt, ..Recipient::default() };
        let client = self.client();
        let (address, targets, rule) =
            match policy::rcpt_to(&self.relay, &self.shared.directory, &self.shared.gateways, client, to) {
                Ok(ok) => ok,
                Err(d) => {
                    tracing::info!(client = %self.peer.ip(), user = ?self.user, rule = %d.rule, "RCPT refused");
                    self.relay_refused = d.rule.starts_with(policy::RELAY_DENIED);
                    if d.rule == policy::UNKNOWN_USER {
                        self.unknown_recipients += 1;
                        if self.shared.identity.defences.unknown_recipient(self.peer.ip(), self.unknown_recipients) {
                            return Err(reply(421, (4, 7, 0), "Too many unknown recipients, closing connection"));
                        }
                    }
                    return Err(d.reply);
                }
            };
        // Greylisting: not for logged-in users or clients the relay rules trust.
        if let Some(grey) = &self.shared.greylist
            && self.user.is_none()
            && !rule.starts_with("relay.")
        {
            let from = self.tx.from.clone().unwrap_or_default();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let verdict = tokio::task::block_in_place(|| grey.check(self.peer.ip(), &from, &address, now));
            if let crate::identity::greylist::Verdict::Defer(secs) = verdict {
                tracing::info!(client = %self.peer.ip(), from = %from, to = %address, "RCPT greylisted");
                return Err(reply(451, (4, 7, 1), format!("<{address}>: Greylisted, try again in {secs} seconds")));
            }
        }
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            let gateway_copy = matches!(t, Target::GatewayCopy(_));
            match t {
                Target::Mailbox(m) | Target::GatewayCopy(m) => {
                    let full = tokio::task::block_in_place(|| self.shared.quotas.is_full(&m));
                    if full {
                        return Err(reply(452, (4, 2, 2), format!("<{address}>: Mailbox full, try again later")));
                    }
                    out.push(Recipient { address: address.clone(), mailbox: Some(m), gateway_copy, ..dsn.clone() });
                }
                Target::Remote(a) if a == normalize(&address) => {
                    out.push(Recipient { address: address.clone(), ..dsn.clone() });
                }
                Target::Remote(a) => out.push(Recipient { address: a, original: Some(address.clone()), ..dsn.clone() }),
                Target::Newsgroup(g) => {
                    let group = self.shared.news.group(&g);
                    if !group.is_some_and(|c| c.postable(self.peer.ip(), self.user.is_some())) {
                        tracing::info!(client = %self.peer.ip(), user = ?self.user, group = %g, "RCPT refused: may not post");
                        return Err(reply(550, (5, 7, 1), format!("<{address}>: You may not post to {g}")));
                    }
                    out.push(Recipient { address: address.clone(), newsgroup: Some(g), ..dsn.clone() });
                }
            }
        }
        Ok(out)
    }

    fn message_start(&mut self, tls: bool, authenticated: bool) {
        let id = spool::new_id();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let client = canonical(self.peer.ip()).to_string();
        // RFC 5321 §4.4, with RFC 3848's protocol names.
        let with = match (tls, authenticated) {
            (false, false) => "ESMTP",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (true, true) => "ESMTPSA",
        };
        // The address the client gave, never where a forward sends it.
        let for_clause = match self.tx.recipients.as_slice() {
            [one] => format!("\r\n\tfor <{}>", one.original.as_deref().unwrap_or(&one.address)),
            _ => String::new(),
        };
        let head = format!(
            "Received: from {} ([{client}])\r\n\tby {} (sansmail) with {with} id {id}{for_clause};\r\n\t{}\r\n",
            sanitize(&self.helo),
            self.shared.hostname,
            rfc5322_date(now)
        );
        let envelope = Envelope {
            id,
            from: self.tx.from.clone().unwrap_or_default(),
            recipients: self.tx.recipients.clone(),
            received: now,
            client,
            ret_full: self.tx.ret_full,
            envid: self.tx.envid.clone(),
            authenticated,
            trusted: self.trusted(),
            auth_results: None,
            junk: false,
            unverified_sender: false,
            arc_seal: None,
        };
        // What delivery adds: this header, and `Return-Path: <from>` CRLF.
        self.tx.head_len = (head.len() + "Return-Path: <>\r\n".len() + envelope.from.len()) as u64;
        self.tx.head = head.into_bytes();
        self.tx.envelope = Some(envelope);
    }

    /// Content is held in memory up to [`SPOOL_CHUNK`]; a larger message moves to a spool
    /// file of its own, written as it arrives.
    async fn message_data(&mut self, data: &[u8]) {
        if self.tx.failed {
            return;
        }
        self.tx.scan.feed(data);
        self.tx.pending.extend_from_slice(data);
        if self.tx.pending.len() >= SPOOL_CHUNK {
            if self.tx.incoming.is_none() {
                let Some(envelope) = self.tx.envelope.clone() else {
                    self.tx.failed = true;
                    return;
                };
                let (spool, head) = (self.shared.spool.clone(), std::mem::take(&mut self.tx.head));
                match blocking(move || spool.begin(&envelope, &head)).await {
                    Ok(incoming) => self.tx.incoming = Some(incoming),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot create a spool file");
                        self.tx.failed = true;
                        return;
                    }
                }
            }
            self.flush_pending().await;
        }
    }

    async fn flush_pending(&mut self) {
        let Some(mut incoming) = self.tx.incoming.take() else {
            self.tx.failed = true;
            return;
        };
        let data = std::mem::take(&mut self.tx.pending);
        match blocking(move || incoming.write(&data).map(|()| (incoming, data))).await {
            Ok((incoming, mut data)) => {
                data.clear();
                self.tx.pending = data;
                self.tx.incoming = Some(incoming);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write a spool file");
                self.tx.failed = true;
            }
        }
    }

    /// A mail loop shows as too many `Received` fields, or as a message we forward from an
    /// address that already has our `Delivered-To` for it (we add it to what we forward).
    fn loop_refusal(&self) -> Option<Reply<'static>> {
        let limit = self.shared.hop_limit;
        let scan = &self.tx.scan;
        if limit > 0 && scan.received >= limit {
            let text = format!("Too many hops ({} Received fields, limit {limit}): mail loop", scan.received);
            return Some(reply(554, (5, 4, 6), text));
        }
        let looped = self.tx.recipients.iter().find_map(|r| r.original.as_deref().filter(|o| scan.delivered_to(o)))?;
        Some(reply(554, (5, 4, 6), format!("Mail forwarding loop for <{looped}>")))
    }

    async fn message_end(&mut self, size: u64) -> Reply<'static> {
        let failed = reply(451, (4, 3, 0), "Requested action aborted: local error in processing");
        let Some(mut envelope) = self.tx.envelope.take().filter(|_| !self.tx.failed) else {
            self.reset();
            return failed;
        };
        if let Some(refusal) = self.loop_refusal() {
            tracing::warn!(client = %self.peer.ip(), from = %envelope.from, reason = %refusal, "mail loop refused");
            self.reset();
            return refusal;
        }
        if let Err(refusal) = self.check_sender(&mut envelope).await {
            tracing::info!(client = %self.peer.ip(), from = %envelope.from, reason = %refusal, "refused by the sender checks");
            self.abort_message();
            self.reset();
            return refusal;
        }
        // Quota: refuse the message when no local copy fits and nothing goes elsewhere. When
        // some copies fit, the message is accepted and the others are delivered over quota:
        // one reply covers every recipient, and a 5xx would lose the copies that fit.
        let stored = size + self.tx.head_len;
        let quotas = &self.shared.quotas;
        let local: Vec<&str> = self.tx.recipients.iter().filter_map(|r| r.mailbox.as_deref()).collect();
        let remote = self.tx.recipients.iter().any(Recipient::is_remote);
        // The space is promised now, until delivery has the copies (or the spool fails).
        let over =
            tokio::task::block_in_place(|| local.iter().filter(|m| !quotas.reserve(&envelope.id, m, stored)).count());
        if over > 0 && over == local.len() && !remote {
            quotas.release(&envelope.id);
            self.reset();
            return reply(552, (5, 2, 2), "Mailbox full: the message exceeds the recipient's quota");
        }
        if over > 0 {
            tracing::warn!(client = %self.peer.ip(), over, "accepted over quota for some recipients");
        }
        let result = match self.tx.incoming.is_some() {
            // A large message: finish its own file.
            true => {
                if !self.tx.pending.is_empty() {
                    self.flush_pending().await;
                }
                match self.tx.incoming.take().filter(|_| !self.tx.failed) {
                    Some(mut incoming) => {
                        if (envelope.auth_results.is_some() || envelope.junk || envelope.arc_seal.is_some())
                            && let Err(e) = incoming.set_envelope(&envelope)
                        {
                            tracing::warn!(error = %e, "the sender checks' results are not kept");
                        }
                        let spool = self.shared.spool.clone();
                        blocking(move || spool.commit(incoming)).await
                    }
                    None => Err(io::Error::other("spool write failed")),
                }
            }
            // A small one: through the group committer.
            false => {
                self.shared.spool.commit_small(&envelope, &self.tx.head, &self.tx.pending).await.map(|()| String::new())
            }
        };
        let tx = std::mem::take(&mut self.tx);
        match result {
            Ok(file) => {
                let id = &envelope.id;
                let to: Vec<&str> = tx.recipients.iter().map(|r| r.address.as_str()).collect();
                tracing::info!(
                    queue_id = %id, listener = %self.listener, client = %self.peer.ip(),
                    from = %envelope.from, to = ?to, size, "accepted"
                );
                self.accepted += 1;
                // A gateway's quota counts it at once (the manager's next count takes over).
                let mut gateways: Vec<&str> = Vec::new();
                for r in &tx.recipients {
                    let domain = r.address.rsplit_once('@').map_or("", |(_, d)| d);
                    if let Some(g) = self.shared.gateways.for_domain(domain)
                        && !gateways.contains(&g.name())
                    {
                        gateways.push(g.name());
                        self.shared.gateways.taken(g, size);
                    }
                }
                // The committer announces segments itself; a message in its own file is ours to announce.
                if !file.is_empty() {
                    let _ = self.shared.jobs.send(Job { file, recovering: false });
                }
                reply(250, (2, 0, 0), format!("Ok: queued as {id}"))
            }
            Err(e) => {
                self.shared.quotas.release(&envelope.id);
                tracing::error!(error = %e, client = %self.peer.ip(), "cannot commit a message to the spool: replied 451");
                if let Some(incoming) = tx.incoming {
                    incoming.discard();
                }
                failed
            }
        }
    }
}

/// The HELO name as it may appear in our header: printable ASCII without spaces.
fn sanitize(helo: &str) -> String {
    let s: String = helo.chars().filter(|c| c.is_ascii_graphic() && *c != '(' && *c != ')').take(255).collect();
    if s.is_empty() { "unknown".into() } else { s }
}
