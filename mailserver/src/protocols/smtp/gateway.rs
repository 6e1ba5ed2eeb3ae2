//! The SMTP session's gateway side: ETRN and ATRN answers, and the steps RCPT takes before
//! the policy decides for a gateway's domains (a callout's answer), for a backup-MX
//! domain's confirmation address, and for a domain the policy would not relay to (does its
//! DNS list this server as a backup MX?).

use std::time::Duration;

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::address::ForwardPath;
use sansmail_smtp_proto::command::RcptParams;

use super::{Connection, reply};
use crate::gateway::backup::{self, CONFIRM_LOCAL};
use crate::identity::users::normalize;
use crate::store::spool::Recipient;

/// The longest a backup-MX lookup may hold up a RCPT.
const BACKUP_LOOKUP_SECS: u64 = 20;

/// What a backup-MX lookup found.
enum Lookup {
    /// The domain lists this server below a better host: it is (now) a backup domain.
    Listed,
    /// It does not (or backup MX is off, or the domain is known already).
    NotListed,
    /// DNS could not say (failure or timeout): the sender should try again.
    Unknown,
}

/// The local part and domain name of a recipient (not for address literals or postmaster).
fn name_domain<'a>(to: &'a ForwardPath<'_>) -> Option<(String, &'a str)> {
    let ForwardPath::Mailbox(m) = to else { return None };
    let sansmail_smtp_proto::Domain::Name(domain) = &m.domain else { return None };
    Some((m.local_part_unquoted().to_string(), domain.as_ref()))
}

impl Connection {
    /// RCPT: the gateway steps, then the policy (again, when a lookup just made the
    /// domain a backup-MX domain).
    pub(super) async fn checked_recipient(
        &mut self,
        to: &ForwardPath<'_>,
        params: &RcptParams<'_>,
    ) -> Result<Vec<Recipient>, Reply<'static>> {
        self.callout(to).await;
        self.confirmation(to);
        self.relay_refused = false;
        match self.recipient(to, params) {
            Err(refused) if self.relay_refused => match self.backup_lookup(to).await {
                Lookup::Listed => self.recipient(to, params),
                Lookup::NotListed => Err(refused),
                Lookup::Unknown => {
                    Err(reply(451, (4, 4, 3), "Cannot look up the domain's mail exchangers now, try again later"))
                }
            },
            other => other,
        }
    }

    /// Mail to `backup-mx+TOKEN@hostname`: the answer to a confirmation request confirms
    /// the pending backup domain whose token it is (the policy sends it on to the
    /// postmaster).
    fn confirmation(&self, to: &ForwardPath<'_>) {
        let Some((local, domain)) = name_domain(to) else { return };
        let Some(token) = local.strip_prefix(CONFIRM_LOCAL) else { return };
        if !domain.eq_ignore_ascii_case(&self.shared.hostname) {
            return;
        }
        let backups = &self.shared.gateways.backups;
        if let Some(d) = tokio::task::block_in_place(|| backups.confirm_token(&token.to_ascii_lowercase())) {
            tracing::info!(client = %self.peer.ip(), domain = %d, "backup MX confirmed by its postmaster");
            // What it held goes now.
            if let Err(e) = crate::gateway::request_release(&self.shared.data_dir, &d, None) {
                tracing::warn!(domain = %d, error = %e, "cannot release the confirmed domain's mail");
            }
            self.shared.gateways.wake.notify_one();
        }
    }

    /// Whether `to`'s domain lists this server as its backup MX (looked up now, bounded in
    /// time and in lookups at once); if so it becomes a backup domain, and when it needs a
    /// confirmation, the request is queued to its postmaster.
    async fn backup_lookup(&self, to: &ForwardPath<'_>) -> Lookup {
        let Some((_, domain)) = name_domain(to) else { return Lookup::NotListed };
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let gateways = &self.shared.gateways;
        let backups = &gateways.backups;
        if !backups.worth_looking_up(&domain) {
            return Lookup::NotListed;
        }
        // A slot among the few lookups at once, then the lookup: both within the limit.
        let limit = Duration::from_secs(BACKUP_LOOKUP_SECS);
        let looked = tokio::time::timeout(limit, async {
            let _slot = backups.running.acquire().await;
            self.shared.outbound.backup_primary(&domain).await
        });
        let found = match looked.await {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => {
                backups.not_listed(&domain);
                return Lookup::NotListed;
            }
            Ok(Err(e)) => {
                tracing::info!(domain = %domain, error = %e, "backup MX lookup failed");
                return Lookup::Unknown;
            }
            Err(_) => return Lookup::Unknown,
        };
        let now = crate::outbound::unix_now();
        let (primary, ours) = (found.0.as_str(), found.1.as_str());
        let made = tokio::task::block_in_place(|| backups.add(&domain, (primary, ours), now));
        let b = match made {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(domain = %domain, error = %e, "cannot record the backup MX domain");
                return Lookup::Unknown;
            }
        };
        tracing::info!(domain = %domain, primary, state = ?b.state, "this server is now backup MX for the domain");
        if b.state == backup::State::Pending {
            let (_, message) = backup::confirmation_request(&b, &self.shared.hostname, backups.config.confirm_days);
            let to = format!("postmaster@{domain}");
            let origin = backup::confirm_origin(&domain);
            let deliverer = &self.shared.outbound.deliverer;
            if let Err(e) = tokio::task::block_in_place(|| deliverer.queue_generated(&to, &message, &origin)) {
                tracing::error!(domain = %domain, error = %e, "cannot queue the backup MX confirmation request");
            }
        }
        Lookup::Listed
    }

    /// ETRN (RFC 1985): the node's held mail handed over now (to the gateway's host, or to
    /// this client); the RFC's replies (250/251/253, 458, 459).
    pub(super) fn etrn(&self, node: &str) -> Reply<'static> {
        use crate::gateway::EtrnRefusal;
        let (gateway, domains) = match self.shared.gateways.etrn(node, self.peer.ip()) {
            Ok(x) => x,
            Err(EtrnRefusal::Unknown) => return reply(459, (4, 7, 1), format!("{node}: no mail is held here for it")),
            Err(EtrnRefusal::NotAllowed) => {
                tracing::info!(client = %self.peer.ip(), node, "ETRN refused");
                return reply(459, (4, 7, 1), format!("{node}: not allowed from your address"));
            }
            Err(EtrnRefusal::TooSoon) => return reply(458, (4, 7, 1), format!("{node}: a run started moments ago")),
        };
        let held = crate::store::outbound_queue::Store::open(&self.shared.data_dir)
            .and_then(|q| q.for_domains(&domains))
            .map_or(0, |(n, _)| n);
        if held == 0 {
            return reply(251, (2, 0, 0), format!("OK, no messages waiting for {node}"));
        }
        let to = gateway.etrn_to_client.then(|| std::net::SocketAddr::new(self.peer.ip(), gateway.etrn_port));
        for d in &domains {
            if let Err(e) = crate::gateway::request_release(&self.shared.data_dir, d, to) {
                tracing::warn!(domain = %d, error = %e, "ETRN release failed");
                return reply(458, (4, 3, 0), format!("Unable to queue messages for {node}"));
            }
        }
        self.shared.gateways.wake.notify_one();
        tracing::info!(client = %self.peer.ip(), node, gateway = gateway.name(), messages = held, "ETRN");
        reply(253, (2, 0, 0), format!("OK, {held} pending messages for node {node} started"))
    }

    /// ATRN (RFC 2645) from a logged-in account: the domains whose held mail it may
    /// collect; else 450 (refused) or 453 (no mail waiting).
    pub(super) fn atrn(&self, asked: &[String]) -> Result<Vec<String>, Reply<'static>> {
        if !self.odmr {
            return Err(reply(502, (5, 5, 1), "ATRN is taken on the ODMR listener"));
        }
        let user = self.user.clone().unwrap_or_default();
        let Ok(domains) = self.shared.gateways.atrn(&user, self.peer.ip(), asked) else {
            tracing::info!(client = %self.peer.ip(), user, asked = ?asked, "ATRN refused");
            return Err(reply(450, (4, 7, 1), "ATRN request refused"));
        };
        let held = crate::store::outbound_queue::Store::open(&self.shared.data_dir)
            .and_then(|q| q.for_domains(&domains))
            .map_or(0, |(n, _)| n);
        if held == 0 {
            return Err(reply(453, (4, 7, 0), "You have no mail"));
        }
        tracing::info!(client = %self.peer.ip(), user, domains = ?domains, messages = held, "ATRN");
        Ok(domains)
    }

    /// For a gateway that checks its recipients with its domain's server: asks, unless the
    /// answer is remembered (the policy then reads it).
    async fn callout(&self, to: &ForwardPath<'_>) {
        let Some((_, domain)) = name_domain(to) else { return };
        let gateways = &self.shared.gateways;
        let Some(g) = gateways.for_domain(domain) else { return };
        let ForwardPath::Mailbox(m) = to else { return };
        let address = normalize(&m.to_string());
        if g.recipients != crate::gateway::Recipients::Callout || gateways.callouts.get(&address).is_some() {
            return;
        }
        let Ok(_slot) = gateways.callouts.running.acquire().await else { return };
        let verdict = self.shared.outbound.callout(domain, &address).await;
        tracing::info!(client = %self.peer.ip(), to = %address, verdict = ?verdict, "gateway callout");
        gateways.callouts.put(g, &address, verdict);
    }
}
