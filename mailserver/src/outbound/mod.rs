//! Outbound delivery: the queue manager. Local delivery hands each message's remote
//! recipients to [`Store`]; the manager tries them when due, grouped by domain,
//! through [`route::Router`] and [`client::send`], keeps a state per recipient (pending,
//! deferred with its next attempt and last error, delivered, failed), retries with a
//! doubling back-off up to the queue lifetime, and reports with [`dsn`].
//!
//! Concurrency is bounded in total and per destination domain. `sansmail queue …` edits the
//! state files and leaves a `.flush` mark that the manager notices within a second.

pub(crate) mod client;
mod config;
pub(crate) mod dsn;
mod hold;
pub(crate) mod route;
mod runner;
mod verify;

pub(crate) use config::{OutboundConfig, RouteConfig, RouteTls};
pub(crate) use runner::run;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::address::{ForwardPath, ReversePath};
use sansmail_smtp_proto::client::{ClientTimeouts, Envelope as SmtpEnvelope};
use sansmail_smtp_proto::command::{Body, MailParams, Notify, Orcpt, RcptParams, Ret, XText};
use tokio::sync::Semaphore;

use self::client::{Attempt, HopResult};
use self::dsn::Kind;
use self::route::{Routed, Router};
use crate::gateway::Gateways;
use crate::gateway::backup::State as BackupState;
use crate::store::delivery::Deliverer;
use crate::store::outbound_queue::{RcptState, State, Status, Store};
use crate::store::spool::{Envelope, Recipient};

/// The name of the mark `sansmail queue flush|release` leaves for the running server.
pub(crate) const FLUSH_MARK: &str = ".flush";
/// The mark `sansmail connect` (or SIGUSR1) leaves: a connection (the schedule opened for a
/// while) and the collection jobs after the queue has gone out.
pub(crate) const CONNECT_MARK: &str = ".connect";
/// The mark that only asks for a look at every queued message (after an ATRN turn).
pub(crate) const RESCAN_MARK: &str = ".rescan";

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What the manager shares with its delivery tasks.
pub(crate) struct Manager {
    pub(crate) store: Arc<Store>,
    router: Router,
    config: OutboundConfig,
    hostname: String,
    pub(crate) deliverer: Arc<Deliverer>,
    opportunistic: Arc<rustls::ClientConfig>,
    verified: Mutex<HashMap<Option<PathBuf>, Arc<rustls::ClientConfig>>>,
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
    flush_mark: PathBuf,
    /// `[outbound] schedule`: when remote mail may leave (none: always).
    timetable: Option<crate::schedule::Timetable>,
    /// A connection in force until then (`sansmail connect`, a flush, a connection time).
    connection: Mutex<Option<std::time::Instant>>,
    /// Wakes what waits for a connection (the collection jobs).
    pub(crate) connections: tokio::sync::Notify,
    /// Messages being tried or due now (the collection jobs wait for it to fall to none).
    busy: std::sync::atomic::AtomicBool,
    /// Connections kept between messages.
    pool: client::Pool,
    /// The store-and-forward gateways: their hosts, holds and releases.
    pub(crate) gateways: Arc<Gateways>,
    data_dir: PathBuf,
}

/// How soon a held gateway domain's mail is looked at again (for its hold limit).
const HOLD_RECHECK_SECS: u64 = 3600;

impl Manager {
    /// The outbound queue of `data_dir`, sending as `hostname` by these settings and routes.
    pub(crate) fn new(
        store: Arc<Store>,
        config: &OutboundConfig,
        routes: &[RouteConfig],
        hostname: &str,
        data_dir: &std::path::Path,
        deliverer: Arc<Deliverer>,
        gateways: Arc<Gateways>,
    ) -> io::Result<Self> {
        // A gateway's domains go to its host, before any [[route]].
        let all: Vec<RouteConfig> = gateways.routes().into_iter().chain(routes.iter().cloned()).collect();
        let router = Router::new(config, &all).map_err(io::Error::other)?;
        for n in gateways.own_names().iter().chain(gateways.backups.all().iter().map(|b| &b.ours)) {
            router.add_own_name(n);
        }
        Ok(Self {
            flush_mark: data_dir.join("queue").join("out").join(FLUSH_MARK),
            timetable: match config.schedule.is_empty() {
                true => None,
                false => Some(
                    crate::schedule::Timetable::parse(&config.schedule, config.timezone.as_deref())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("[outbound] {e}")))?,
                ),
            },
            connection: Mutex::new(None),
            connections: tokio::sync::Notify::new(),
            busy: std::sync::atomic::AtomicBool::new(false),
            store,
            router,
            config: config.clone(),
            hostname: hostname.to_owned(),
            deliverer,
            opportunistic: client::opportunistic_tls()?,
            verified: Mutex::new(HashMap::new()),
            per_domain: Mutex::new(HashMap::new()),
            pool: client::Pool::default(),
            gateways,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// Whether the queue is sending (messages being tried, or due now).
    pub(crate) fn sending(&self) -> bool {
        self.busy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How long mail for `domain` may wait before it is returned: a gateway's hold limit,
    /// else `max_queue_secs`.
    fn lifetime(&self, domain: &str) -> u64 {
        if self.gateways.backups.get(domain).is_some() {
            return self.gateways.backups.config.hold_days.saturating_mul(86_400);
        }
        self.gateways.for_domain(domain).map_or(self.config.max_queue_secs, |g| g.hold_days.saturating_mul(86_400))
    }

    fn domain_slots(&self, domain: &str) -> Arc<Semaphore> {
        let mut map = self.per_domain.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            // Idle entries only cost memory; forget them all now and then.
            map.retain(|_, s| s.available_permits() < self.config.concurrency_per_domain.max(1));
        }
        map.entry(domain.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.concurrency_per_domain.max(1))))
            .clone()
    }

    fn tls_config(&self, tls: RouteTls, ca_file: Option<&PathBuf>) -> io::Result<Arc<rustls::ClientConfig>> {
        if tls != RouteTls::Required {
            return Ok(self.opportunistic.clone());
        }
        let mut map = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(&ca_file.cloned()) {
            return Ok(c.clone());
        }
        let c = client::verified_tls(ca_file.map(PathBuf::as_path))?;
        map.insert(ca_file.cloned(), c.clone());
        Ok(c)
    }

    /// The wait after the `attempts`-th failure: doubling from `retry_first_secs`, capped.
    fn backoff(&self, attempts: u32) -> u64 {
        let first = self.config.retry_first_secs.max(1);
        first.saturating_mul(1u64 << attempts.saturating_sub(1).min(30)).min(self.config.retry_max_secs.max(first))
    }
}

/// How soon a message comes back when a domain it waits for had no free slot.
const BUSY_RETRY_SECS: u64 = 2;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

/// The SMTP envelope for some recipients of a queued message.
pub(crate) fn smtp_envelope(env: &Envelope, content: &[u8], rcpts: &[&Recipient]) -> Result<SmtpEnvelope, String> {
    let from = if env.from.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::parse(format!("<{}>", env.from).as_bytes()).map_err(|e| format!("sender: {e}"))?.0.into_owned()
    };
    let params = MailParams {
        size: Some(content.len() as u64),
        body: content.iter().any(|&b| b >= 0x80).then_some(Body::EightBitMime),
        ret: env.ret_full.then_some(Ret::Full),
        envid: env.envid.as_deref().map(XText::encode),
        ..MailParams::default()
    };
    let mut recipients = Vec::with_capacity(rcpts.len());
    for r in rcpts {
        let to = ForwardPath::parse(format!("<{}>", r.address).as_bytes())
            .map_err(|e| format!("recipient {}: {e}", r.address))?
            .0
            .into_owned();
        let notify = r.notify.as_deref().map(|n| {
            let has = |k: &str| n.split(',').any(|x| x == k);
            Notify { success: has("success"), failure: has("failure"), delay: has("delay") }
        });
        let orcpt = r
            .orcpt
            .as_deref()
            .and_then(|o| o.split_once(';'))
            .map(|(t, a)| Orcpt { addr_type: t.to_owned().into(), addr: XText::encode(a) });
        recipients.push((to, RcptParams { notify, orcpt, ..RcptParams::default() }));
    }
    Ok(SmtpEnvelope { from, params, recipients })
}

/// How long the client waits for each reply, from `[outbound]`.
fn outbound_timeouts(c: &OutboundConfig) -> ClientTimeouts {
    let mut t = ClientTimeouts::default();
    t.greeting = Duration::from_secs(c.greeting_timeout_secs.max(1));
    t.command = Duration::from_secs(c.command_timeout_secs.max(1));
    t.data_term = Duration::from_secs(c.data_timeout_secs.max(1));
    t
}

/// The enhanced code of a reply as text (`5.1.1`), or one made from its class.
fn status_code(reply: &Reply<'_>) -> String {
    match reply.enhanced() {
        Some(e) => e.to_string(),
        None => format!("{}.0.0", reply.code().class()),
    }
}

/// One message's turn: every due recipient tried, its state saved, reports queued. Returns
/// when to come back, or `None` when the message is finished (or held, or gone).
///
/// The state is saved after each domain's replies, before the next domain is tried and
/// before any report is built, so a crash repeats at most the deliveries between a remote
/// server's 250 and our fsync. A domain with no free slot is not waited for (that would
/// hold a slot of the whole queue meanwhile): its recipients stay due and the message comes
/// back in [`BUSY_RETRY_SECS`].
async fn attempt(m: &Arc<Manager>, id: &str) -> io::Result<Option<u64>> {
    let store = m.store.clone();
    let key = id.to_owned();
    // The envelope first (a few hundred octets): a message whose every due domain is busy
    // comes back later without its content being read.
    let loaded = blocking(move || {
        let env = store.envelope(&key)?;
        let state = store.state(&key, env.recipients.len(), unix_now())?;
        Ok((env, state))
    })
    .await;
    let (env, mut state) = match loaded {
        Ok(x) => x,
        Err(e) => return unreadable(m, id, e),
    };
    if state.held {
        return Ok(None);
    }
    let now = unix_now();
    // Due recipients, grouped by domain.
    let mut by_domain: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (r, s)) in env.recipients.iter().zip(&state.rcpt).enumerate() {
        let domain = r.address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
        // A released gateway domain's recipients are due while the release lasts.
        let due = s.next_attempt <= now || m.gateways.release(&domain).is_some();
        if s.status.is_final() || !due {
            continue;
        }
        match by_domain.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, v)) => v.push(i),
            None => by_domain.push((domain, vec![i])),
        }
    }
    // Held mail waits without an attempt counted (a gateway's until its release, remote
    // mail until the schedule opens); past its time it is returned.
    let held = hold::apply(m, &env, &mut state, &mut by_domain, now);
    if by_domain.is_empty() && held.changed {
        let done = state.is_done() && !state.rcpt.iter().any(|r| r.unreported);
        if !done {
            save(m, id, &state).await?;
        }
        if state.rcpt.iter().any(|r| r.unreported) || m.warning_due(&env, &state, now) {
            let store = m.store.clone();
            let key = id.to_owned();
            let content = blocking(move || store.read(&key)).await?.1;
            if report_and_finish(m, id, (&env, &content), &mut state, now).await? {
                return Ok(None);
            }
        } else if finish(m, id, &state).await? {
            return Ok(None);
        }
        return Ok(hold::next_time(m, &env, &state, &held, now));
    }
    let all_busy = !by_domain.is_empty()
        && by_domain.iter().all(|(d, _)| m.domain_slots(d).available_permits() == 0)
        && !state.rcpt.iter().any(|r| r.unreported);
    if all_busy {
        return Ok(Some(busy_retry(&state, now)));
    }
    let store = m.store.clone();
    let key = id.to_owned();
    let content = match blocking(move || store.read(&key)).await {
        Ok((_, content)) => content,
        Err(e) => return unreadable(m, id, e),
    };
    let mut busy = false;
    let limit = Duration::from_secs(m.config.attempt_timeout_secs.max(1));
    let domains = by_domain.len();
    for (k, (domain, idxs)) in by_domain.into_iter().enumerate() {
        let Ok(_permit) = m.domain_slots(&domain).try_acquire_owned() else {
            busy = true;
            continue;
        };
        let outcome = match tokio::time::timeout(limit, deliver_domain(m, &env, &content, &domain, &idxs)).await {
            Ok(outcome) => outcome,
            Err(_) => idxs
                .iter()
                .map(|_| Outcome::local(Status::Deferred, "4.4.2", format!("no result within {}s", limit.as_secs())))
                .collect(),
        };
        for (i, result) in idxs.iter().zip(outcome) {
            let s = &mut state.rcpt[*i];
            s.attempts += 1;
            s.remote = result.remote;
            s.status_code = result.status_code;
            s.last_error = result.text;
            s.status = result.status;
            s.next_hop_reports = result.status == Status::Delivered && result.next_hop_reports;
            if s.status == Status::Deferred {
                s.next_attempt = now + m.backoff(s.attempts);
                if now >= env.received.saturating_add(m.lifetime(&domain)) {
                    // Too long in the queue: a failure, with the last reason and 4.4.7.
                    s.status = Status::Failed;
                    s.status_code = "4.4.7".into();
                    s.last_error = format!("message expired after {} attempts: {}", s.attempts, s.last_error);
                }
            }
            s.unreported = wants_report(&env, &env.recipients[*i], s);
            tracing::info!(queue_id = %env.id, to = %env.recipients[*i].address, status = ?s.status, remote = %s.remote, detail = %s.last_error, "outbound");
        }
        if idxs.iter().any(|&i| state.rcpt[i].status == Status::Delivered) {
            m.gateways.handed_over(&domain, 1, now);
        }
        // Saved before the next domain and before any report. After the last domain, a
        // message now finished with nothing to report needs no save: its removal, next, is
        // the record.
        let finished_quietly = k + 1 == domains && state.is_done() && !state.rcpt.iter().any(|r| r.unreported);
        if !finished_quietly {
            save(m, id, &state).await?;
        }
    }
    if report_and_finish(m, id, (&env, &content), &mut state, now).await? {
        return Ok(None);
    }
    Ok(if busy { Some(busy_retry(&state, now)) } else { hold::next_time(m, &env, &state, &held, now) })
}

/// Queues what is to be reported, then removes a finished message (a finished message is
/// removed next, so its report state need not be saved; one still waiting keeps what was
/// reported). Whether it was removed.
async fn report_and_finish(
    m: &Arc<Manager>,
    id: &str,
    (env, content): (&Envelope, &[u8]),
    state: &mut State,
    now: u64,
) -> io::Result<bool> {
    if report(m, env, content, state, now).await? && !state.is_done() {
        save(m, id, state).await?;
    }
    finish(m, id, state).await
}

/// Removes a message whose every recipient is final and reported; whether it was.
async fn finish(m: &Manager, id: &str, state: &State) -> io::Result<bool> {
    if !state.is_done() {
        return Ok(false);
    }
    let (store, key) = (m.store.clone(), id.to_owned());
    blocking(move || store.remove(&key)).await?;
    Ok(true)
}

/// When a message with recipients left waiting for a busy domain comes back: in
/// [`BUSY_RETRY_SECS`], or sooner for another recipient due before then (never "now":
/// those recipients are due already, and that would spin).
fn busy_retry(state: &State, now: u64) -> u64 {
    let later = state.rcpt.iter().filter(|r| !r.status.is_final() && r.next_attempt > now).map(|r| r.next_attempt);
    later.fold(now + BUSY_RETRY_SECS, u64::min)
}

/// A message that could not be read: gone (finished meanwhile) is nothing to do; damaged
/// goes to `queue/quarantine/` with a log line; anything else is tried again later.
fn unreadable(m: &Manager, id: &str, e: io::Error) -> io::Result<Option<u64>> {
    match e.kind() {
        io::ErrorKind::NotFound => Ok(None),
        io::ErrorKind::InvalidData => {
            let to = m.store.quarantine(id)?;
            tracing::error!(queue_id = %id, error = %e, moved_to = %to.display(), "damaged outbound message quarantined");
            Ok(None)
        }
        _ => Err(e),
    }
}

async fn save(m: &Manager, id: &str, state: &State) -> io::Result<()> {
    let (store, key, state) = (m.store.clone(), id.to_owned(), state.clone());
    blocking(move || store.save_state(&key, &state)).await
}

/// One recipient's outcome.
struct Outcome {
    status: Status,
    status_code: String,
    text: String,
    remote: String,
    /// The next hop offered DSN, so success notices are its to send.
    next_hop_reports: bool,
}

impl Outcome {
    fn local(status: Status, code: &str, text: String) -> Self {
        Self { status, status_code: code.to_owned(), text, remote: String::new(), next_hop_reports: false }
    }
}

/// Tries the recipients `idxs` (all in `domain`) on the domain's hosts in order.
async fn deliver_domain(m: &Manager, env: &Envelope, content: &[u8], domain: &str, idxs: &[usize]) -> Vec<Outcome> {
    let all =
        |status, code: &str, text: String| idxs.iter().map(|_| Outcome::local(status, code, text.clone())).collect();
    // A release asked for by ETRN from a client that takes the mail itself.
    let to_client = m.gateways.release(domain).and_then(|r| r.to);
    let routed = match to_client {
        Some(addr) => Routed::To(route::Destination {
            hops: vec![route::Hop { host: addr.ip().to_string(), port: addr.port() }],
            tls: RouteTls::Opportunistic,
            ca_file: None,
            credentials: None,
        }),
        None => m.router.route(domain).await,
    };
    let dest = match routed {
        Routed::To(d) => d,
        Routed::NullMx => return all(Status::Failed, "5.1.10", format!("{domain} accepts no mail (null MX)")),
        Routed::NoSuchDomain => return all(Status::Failed, "5.1.2", format!("domain {domain} does not exist")),
        Routed::Temporary(e) => return all(Status::Deferred, "4.4.3", e),
    };
    let rcpts: Vec<&Recipient> = idxs.iter().map(|&i| &env.recipients[i]).collect();
    let gateway = m.gateways.for_domain(domain);
    let stripped =
        gateway.filter(|g| g.strip_attachments).and_then(|_| crate::gateway::strip::strip_attachments(content));
    let content = stripped.as_deref().unwrap_or(content);
    let mut envelope = match smtp_envelope(env, content, &rcpts) {
        Ok(e) => e,
        Err(e) => return all(Status::Failed, "5.1.3", e),
    };
    // A gateway may hand its mail over under a sender of its own.
    if let Some(sender) = gateway.and_then(|g| g.envelope_sender.as_deref()) {
        envelope.from = crate::gateway::reverse_path(sender).unwrap_or(ReversePath::Null);
    }
    let tls_config = match m.tls_config(dest.tls, dest.ca_file.as_ref()) {
        Ok(c) => c,
        Err(e) => return all(Status::Deferred, "4.7.5", format!("TLS configuration: {e}")),
    };
    let attempt = Attempt {
        hello: m.hostname.clone(),
        tls: dest.tls,
        tls_config,
        credentials: dest.credentials.clone(),
        connect_timeout: Duration::from_secs(m.config.connect_timeout_secs.max(1)),
        timeouts: outbound_timeouts(&m.config),
    };
    let mut last = format!("no host for {domain}");
    for hop in &dest.hops {
        let addrs = match m.router.addresses(hop).await {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                last = format!("{} has no address", hop.host);
                continue;
            }
            Err(e) => {
                last = e;
                continue;
            }
        };
        for addr in addrs {
            match client::send(&m.pool, addr, &hop.host, &attempt, envelope.clone(), content).await {
                HopResult::Answered { replies, dsn } => {
                    return replies
                        .into_iter()
                        .map(|r| Outcome {
                            status: match r.code().class() {
                                2 => Status::Delivered,
                                5 => Status::Failed,
                                _ => Status::Deferred,
                            },
                            status_code: status_code(&r),
                            text: r.to_string().replace('\n', " "),
                            remote: hop.host.clone(),
                            next_hop_reports: dsn,
                        })
                        .collect();
                }
                HopResult::Unreachable(e) => {
                    tracing::debug!(host = %hop.host, %addr, error = %e, "host unusable");
                    last = e;
                }
            }
        }
    }
    all(Status::Deferred, "4.4.1", last)
}

/// Whether the sender wants a report of this recipient's final status from us: failures
/// (and successes where asked) per `NOTIFY`, a success only where the next hop offered no
/// DSN (RFC 3461 §6.2.2.1), never to the null sender.
fn wants_report(env: &Envelope, r: &Recipient, s: &RcptState) -> bool {
    !env.from.is_empty()
        && match s.status {
            Status::Failed => dsn::wants(r, Kind::Failure),
            Status::Delivered => !s.next_hop_reports && dsn::wants(r, Kind::Success),
            _ => false,
        }
}

/// Queues the reports the state calls for: failures and successes not yet reported (a
/// success only where the next hop did not offer DSN, RFC 3461 §6.2.2.1), and one delay
/// warning per message. Never to the null sender. Returns whether the state changed.
async fn report(m: &Manager, env: &Envelope, content: &[u8], state: &mut State, now: u64) -> io::Result<bool> {
    let mut changed = false;
    let mut reports = Vec::new();
    for kind in [Kind::Failure, Kind::Success] {
        let status = if kind == Kind::Failure { Status::Failed } else { Status::Delivered };
        let wanted: Vec<usize> =
            (0..state.rcpt.len()).filter(|&i| state.rcpt[i].unreported && state.rcpt[i].status == status).collect();
        if !wanted.is_empty() {
            reports.push((kind, wanted));
        }
    }
    for r in state.rcpt.iter_mut().filter(|r| r.unreported) {
        r.unreported = false;
        changed = true;
    }
    let warn_at = env.received.saturating_add(m.config.delay_warning_secs);
    if m.config.delay_warning_secs > 0 && !state.warned && now >= warn_at {
        let delayed: Vec<usize> = (0..state.rcpt.len())
            .filter(|&i| {
                matches!(state.rcpt[i].status, Status::Pending | Status::Deferred)
                    && dsn::wants(&env.recipients[i], Kind::Delay)
            })
            .collect();
        if !delayed.is_empty() {
            state.warned = true;
            changed = true;
            reports.push((Kind::Delay, delayed));
        }
    }
    if env.from.is_empty() {
        return Ok(changed);
    }
    let until = env.received.saturating_add(m.config.max_queue_secs);
    for (kind, idxs) in reports {
        let rcpts: Vec<(&Recipient, &RcptState)> = idxs.iter().map(|&i| (&env.recipients[i], &state.rcpt[i])).collect();
        let message = dsn::build(kind, &m.hostname, env, content, &rcpts, now, until)?;
        let d = m.deliverer.clone();
        let to = env.from.clone();
        let id = blocking(move || d.queue_generated(&to, &message, "dsn")).await?;
        tracing::info!(queue_id = %env.id, report = ?kind, dsn_id = ?id, to = %env.from, "delivery report queued");
    }
    Ok(changed)
}
