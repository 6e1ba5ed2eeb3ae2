//! `sansmail serve`: binds every listener, accepts connections (access lists, connection
//! limits), runs TLS, hands each connection to its protocol driver, recovers the queue at
//! start, and stops gracefully on SIGTERM or SIGINT.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sansmail_imap_proto::response::{Status as ImapStatus, StatusResponse};
use sansmail_imap_proto::server::{ServerConfig as ImapConfig, ServerSession as ImapSession};
use sansmail_nntp_proto::server::{ServerConfig as NntpConfig, ServerSession as NntpSession};
use sansmail_pop3_proto::server::{ServerConfig as Pop3Config, ServerSession as Pop3Session};
use sansmail_pop3_proto::{Response as Pop3Response, ResponseCode};
use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::server::{Limits, ServerConfig as SmtpConfig, ServerSession};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Listener, Service, TlsMode};
use crate::identity::Identity;
use crate::identity::abuse::{Defences, Logins};
use crate::identity::policy::Relay;
use crate::net::canonical;
use crate::protocols::Shared;
use crate::protocols::driver::{self, Tls};
use crate::protocols::smtp::Connection;
use crate::store::delivery::{self, Deliverer, Job, Mailboxes};
use crate::store::quota::Quotas;
use crate::store::spool::Spool;

/// One bound listener and what its connections share.
struct Endpoint {
    listener: Listener,
    smtp: Arc<SmtpConfig>,
    pop3: Arc<Pop3Config>,
    imap: Arc<ImapConfig>,
    nntp: Arc<NntpConfig>,
    relay: Relay,
    tls: Option<TlsAcceptor>,
    slots: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Counts a connection against its client address while it lives.
struct IpSlot<'a> {
    endpoint: &'a Endpoint,
    ip: IpAddr,
}

impl Drop for IpSlot<'_> {
    fn drop(&mut self) {
        let mut map = self.endpoint.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

fn smtp_config(config: &Config, l: &Listener) -> SmtpConfig {
    let mut c = SmtpConfig::new(config.hostname.clone());
    c.greeting = "ESMTP sansmail".into();
    c.extensions.starttls = l.config.tls == TlsMode::Starttls;
    // ETRN where a gateway lets someone ask; ATRN on odmr listeners.
    c.extensions.etrn = l.config.service.is_smtp() && config.gateway.iter().any(|g| !g.etrn_networks.is_empty());
    c.extensions.atrn = l.config.service == Service::Odmr;
    if l.config.auth {
        c.auth_mechanisms = crate::identity::sasl::offered(l.config.cram_md5);
        c.auth_requires_tls = !l.config.allow_plaintext_auth;
    }
    c.limits = {
        let mut conf = Limits::default();
        conf.recipients = l.config.limits.max_recipients;
        conf.message_size = (l.config.limits.max_message_size > 0).then_some(l.config.limits.max_message_size);
        conf.errors = l.config.limits.max_errors;
        conf
    };
    c.timeouts.command = l.idle_timeout();
    c.timeouts.data = l.idle_timeout();
    c
}

fn pop3_config(config: &Config, l: &Listener) -> Pop3Config {
    let mut c = Pop3Config::new(config.hostname.clone());
    c.greeting = "POP3 sansmail ready".into();
    // Software and version before login only where the listener says (they tell an
    // attacker which flaws to try).
    c.implementation = l.config.announce_version.then(|| format!("sansmail {}", env!("CARGO_PKG_VERSION")));
    c.stls = l.config.tls == TlsMode::Starttls;
    c.plaintext_without_tls = l.config.allow_plaintext_auth;
    // One rule for every protocol: no authentication of any kind before TLS unless the
    // listener allows plaintext.
    c.challenge_response_without_tls = l.config.allow_plaintext_auth;
    c.apop = l.config.apop;
    c.mechanisms = if l.config.auth { crate::identity::sasl::offered(l.config.cram_md5) } else { Vec::new() };
    // The server never removes mail on its own (RFC 2449 §6.7).
    c.expire = Some(None);
    c.limits.errors = l.config.limits.max_errors;
    // RFC 1939 §3: an autologout timer, if any, of at least 10 minutes.
    let idle = l.idle_timeout().max(Duration::from_secs(600));
    c.timeouts.authorization = idle;
    c.timeouts.transaction = idle;
    c
}

/// Threads for blocking work (file system, fsync, password hashing, and the workers that
/// `block_in_place` hands over): a few per core. Work past them waits for a turn, so
/// thousands of sessions woken at once (a delivery to a folder they all IDLE on) do not
/// start a thread each.
pub(crate) fn max_blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores + 8
}

/// The IMAP extensions whose commands the mail store answers (the session adds its own).
const IMAP_EXTENSIONS: [&str; 24] = [
    "IMAP4rev2",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "ESEARCH",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "CONTEXT=SEARCH",
    "SEARCHRES",
    "CONTEXT=SORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "MULTIAPPEND",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "CONDSTORE",
    "QRESYNC",
];

fn nntp_config(config: &Config, l: &Listener) -> NntpConfig {
    let mut c = NntpConfig::new(config.hostname.clone());
    c.implementation = l.config.announce_version.then(|| format!("sansmail {}", env!("CARGO_PKG_VERSION")));
    c.starttls = l.config.tls == TlsMode::Starttls;
    c.plaintext_without_tls = l.config.allow_plaintext_auth;
    c.challenge_response_without_tls = l.config.allow_plaintext_auth;
    c.mechanisms = if l.config.auth { crate::identity::sasl::offered(l.config.cram_md5) } else { Vec::new() };
    // The reader service; transit (IHAVE, MODE STREAM, CHECK, TAKETHIS) where peers may feed.
    c.reader = true;
    c.ihave = !config.newspeer.is_empty();
    c.streaming = c.ihave;
    c.limits.max_article = l.config.limits.max_message_size;
    c.limits.errors = u32::try_from(l.config.limits.max_errors).unwrap_or(u32::MAX);
    // RFC 3977 §3.1: an inactivity timer of at least three minutes.
    c.timeouts.idle = l.idle_timeout().max(Duration::from_secs(180));
    c
}

fn imap_config(l: &Listener) -> ImapConfig {
    let mut c = ImapConfig::default();
    c.greeting = "IMAP sansmail ready".into();
    c.starttls = l.config.tls == TlsMode::Starttls;
    c.plaintext_without_tls = l.config.allow_plaintext_auth;
    c.challenge_response_without_tls = l.config.allow_plaintext_auth;
    c.mechanisms = if l.config.auth { crate::identity::sasl::offered(l.config.cram_md5) } else { Vec::new() };
    c.extensions = IMAP_EXTENSIONS.map(str::to_owned).to_vec();
    c.enable = ["CONDSTORE", "QRESYNC", "IMAP4rev2"].map(str::to_owned).to_vec();
    // RFC 4978: the driver wraps the connection in raw DEFLATE at the session's word.
    c.compress = true;
    // The listener's message size bounds APPEND too, and is advertised (RFC 7889).
    let max = l.config.limits.max_message_size;
    c.framing.max_literal = max;
    c.framing.max_command = max.saturating_add(64 * 1024);
    c.extensions.push(format!("APPENDLIMIT={max}"));
    // Every APPEND message is streamed to the store (MULTIAPPEND's included): one path, and
    // no message held in memory however it was announced.
    c.framing.stream_literals_above = Some(0);
    c.id = if l.config.announce_version {
        vec![("name".into(), "sansmail".into()), ("version".into(), env!("CARGO_PKG_VERSION").into())]
    } else {
        Vec::new()
    };
    c.limits.errors = u32::try_from(l.config.limits.max_errors).unwrap_or(u32::MAX);
    // FETCH BINARY and APPEND of literal8 (RFC 3516).
    c.framing.binary = true;
    // RFC 3501 §5.4: an autologout timer of at least 30 minutes once logged in.
    c.timeouts.prelogin = l.idle_timeout();
    c.timeouts.authenticated = l.idle_timeout().max(Duration::from_secs(30 * 60));
    c
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) async fn serve(config: Config) -> io::Result<()> {
    let mut signals = StopSignals::install()?;
    let listeners = config.listeners().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
    crate::config::preflight::check(&config, &listeners).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    std::fs::create_dir_all(&config.data_dir)?;
    let (jobs, job_rx) = mpsc::unbounded_channel();
    let committed = jobs.clone();
    let on_commit = Box::new(move |file| {
        let _ = committed.send(Job { file, recovering: false });
    });
    let spool = Spool::open(&config.data_dir, on_commit)?;
    let mailboxes = Arc::new(Mailboxes::new(&config.data_dir, &config.hostname));
    let directory = Arc::new(config.directory()?);
    let quotas = Arc::new(Quotas::new(&config.user, config.default_quota, mailboxes.clone()));
    let needs_tls = listeners.iter().any(|l| l.config.tls != TlsMode::None);
    let tls = if needs_tls { Some(TlsAcceptor::from(crate::config::tls::server_config(&config)?)) } else { None };

    let queued = spool.list()?;
    if !queued.is_empty() {
        tracing::info!(messages = queued.len(), "recovering the queue");
    }
    for id in queued {
        let _ = jobs.send(Job { file: id, recovering: true });
    }
    let sweeper = mailboxes.clone();
    tokio::task::spawn_blocking(move || {
        let n = sweeper.sweep_tmp(Duration::from_secs(36 * 3600));
        if n > 0 {
            tracing::info!(files = n, "removed stale files from Maildir tmp folders");
        }
    });
    let outbound = Arc::new(crate::store::outbound_queue::Store::open(&config.data_dir)?);
    let (outbound_ids, outbound_rx) = mpsc::unbounded_channel();
    let changes = Arc::new(crate::store::changes::Changes::new(config.imap.folder_watch));
    let news = Arc::new(crate::news::News::open(&config.data_dir, &config, Some(directory.clone()))?);
    let gateways =
        Arc::new(crate::gateway::Gateways::of(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?);
    let dkim = Arc::new(crate::senderauth::keys::KeyStore::new(&config.data_dir));
    let deliverer = Arc::new(Deliverer {
        gateways: gateways.clone(),
        spool: spool.clone(),
        mailboxes: mailboxes.clone(),
        quotas: quotas.clone(),
        directory: directory.clone(),
        jobs: jobs.clone(),
        outbound: outbound.clone(),
        outbound_ids,
        changes: changes.clone(),
        news: Some(news.clone()),
        dkim: dkim.clone(),
        authserv_id: config.authentication.authserv_id.clone().unwrap_or_else(|| config.hostname.clone()),
    });
    let _ = news.mailer.set(deliverer.clone());
    let manager = crate::outbound::Manager::new(
        outbound,
        &config.outbound,
        &config.route,
        &config.hostname,
        &config.data_dir,
        deliverer.clone(),
        gateways.clone(),
    )?;
    let manager = Arc::new(manager);
    tokio::spawn(crate::outbound::run(manager.clone(), outbound_rx));
    tokio::spawn(delivery::run(deliverer, job_rx));

    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let identity = Arc::new(Identity {
        hostname: config.hostname.clone(),
        default_domain: config.domain.first().map(|d| d.name.clone()),
        directory: directory.clone(),
        defences: Defences::new(config.abuse.clone()),
        verifier: crate::identity::login::Verifier::new(&config.abuse),
        credentials: crate::identity::credentials::CredentialCache::new(
            Duration::from_secs(config.abuse.credential_cache_secs),
            config.abuse.credential_cache_entries,
        ),
        logins: Logins::default(),
    });
    // The outgoing feeds, each offering its backlog as it grows; the pulls, each on its
    // schedule; the managed groups file, looked at every two seconds; the spool's
    // checkpoint every thirty (what the journal holds is on disk by then, so it is cheap).
    tokio::spawn(crate::news::feed::run(news.clone()));
    tokio::spawn(crate::news::pull::run(news.clone()));
    let refreshing = news.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        for round in 0u64.. {
            tick.tick().await;
            let news = refreshing.clone();
            let checkpoint = round % 15 == 14;
            let done = tokio::task::spawn_blocking(move || {
                if let Err(e) = news.refresh_groups() {
                    tracing::warn!(error = %e, "cannot read the managed newsgroups");
                }
                if checkpoint && let Err(e) = news.store.checkpoint() {
                    tracing::warn!(error = %e, "news spool checkpoint failed");
                }
            });
            let _ = done.await;
        }
    });
    // Each group's retention, applied at start and hourly.
    let expiring = news.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let news = expiring.clone();
            let removed = tokio::task::spawn_blocking(move || news.expire(std::time::SystemTime::now())).await;
            if let Ok(n @ 1..) = removed {
                tracing::info!(articles = n, "expired news articles");
            }
        }
    });
    // One resolver (and its cache) for the DNS lists and the sender checks.
    let resolver = crate::outbound::route::resolver(&config.outbound).map_err(io::Error::other)?;
    let shared = Arc::new(Shared {
        hostname: config.hostname.clone(),
        hop_limit: config.hop_limit,
        imap: config.imap.clone(),
        identity,
        directory,
        quotas,
        mailboxes: mailboxes.clone(),
        pop3_locks: crate::protocols::pop3::Locks::default(),
        imap_folders: crate::protocols::imap::store::Registry::new(changes.clone()),
        changes,
        spool,
        jobs,
        news,
        gateways,
        outbound: manager,
        greylist: crate::identity::greylist::Greylist::open(&config.greylist, &config.data_dir)?.map(Arc::new),
        dnsbl: crate::identity::dnsbl::Dnsbl::new(&config.dnsbl, resolver.clone()).map(Arc::new),
        dkim,
        senderauth: Arc::new(crate::senderauth::verify::Checker::new(
            &config.authentication,
            &config.hostname,
            resolver,
        )),
        data_dir: config.data_dir.clone(),
    });
    let stop = CancellationToken::new();
    // The accept loops and every session: waited for, within the grace period, at the end.
    let tasks = TaskTracker::new();
    for l in listeners {
        let socket =
            bind(l.addr).map_err(|e| io::Error::new(e.kind(), format!("listener {} ({}): {e}", l.name, l.addr)))?;
        let local = socket.local_addr()?;
        tracing::info!(listener = %l.name, service = %l.config.service, addr = %local, tls = ?l.config.tls, "listening");
        if l.config.allow_plaintext_auth && l.config.tls != TlsMode::Implicit {
            tracing::warn!(listener = %l.name, "allow_plaintext_auth: passwords may cross the network unencrypted");
        }
        let endpoint = Arc::new(Endpoint {
            smtp: Arc::new(smtp_config(&config, &l)),
            pop3: Arc::new(pop3_config(&config, &l)),
            imap: Arc::new(imap_config(&l)),
            nntp: Arc::new(nntp_config(&config, &l)),
            relay: l.relay(),
            tls: tls.clone().filter(|_| l.config.tls != TlsMode::None),
            slots: Arc::new(Semaphore::new(l.config.limits.max_connections.max(1))),
            per_ip: Mutex::new(HashMap::new()),
            listener: l,
        });
        tasks.spawn(accept_loop(socket, endpoint, shared.clone(), stop.clone(), tasks.clone()));
    }

    // The collection jobs: on connections, on their own clocks, from the CLI.
    let fetcher = crate::fetch::Fetcher::new(config.fetch.clone(), shared.clone(), shared.outbound.clone());
    tokio::spawn(crate::fetch::run(Arc::new(fetcher)));
    // SIGUSR1: the link came up (as `sansmail connect`).
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mark = config.data_dir.join("queue").join("out").join(crate::outbound::CONNECT_MARK);
        let mut usr1 = signal(SignalKind::user_defined1())?;
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                if let Err(e) = std::fs::write(&mark, b"") {
                    tracing::warn!(error = %e, "SIGUSR1: cannot ask for a connection");
                }
            }
        });
    }
    signals.wait().await;
    tracing::info!(grace_secs = grace.as_secs(), "stopping: no new connections; sessions may finish");
    stop.cancel();
    tasks.close();
    let finished = tokio::time::timeout(grace, tasks.wait()).await;
    if finished.is_err() {
        tracing::warn!("grace period over: closing the remaining sessions");
    }
    Ok(())
}

/// SIGTERM and SIGINT, caught from before the first listener is announced: a stop that
/// comes right after start-up still takes the graceful path.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn accept_loop(
    socket: TcpListener,
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    sessions: TaskTracker,
) {
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (endpoint, shared) = (endpoint.clone(), shared.clone());
                    sessions.spawn(async move { connection(stream, peer, &endpoint, shared).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(listener = %endpoint.listener.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = stop.cancelled() => break,
        }
    }
    // No new connections; the sessions in progress finish (the caller waits for them,
    // bounded by the grace period).
}

/// Sends one refusal on a fresh connection, in the listener's protocol, and closes it.
async fn refuse(mut stream: TcpStream, service: Service, code: u16, enhanced: (u8, u16, u16), text: &str) {
    let mut out = Vec::new();
    if service.is_smtp() {
        Reply::new(code, enhanced, text).encode(&mut out, true);
    } else if service == Service::Imap {
        let bye = StatusResponse { tag: None, status: ImapStatus::Bye, code: None, text };
        bye.encode(&mut out);
    } else if service == Service::Nntp {
        // RFC 3977 §5.1.1: 400 for a service unavailable now, 502 for one never available.
        let code = if code / 100 == 4 { 400 } else { 502 };
        sansmail_nntp_proto::Response { code, text }.encode(&mut out);
    } else {
        let code = if code / 100 == 4 { Some(ResponseCode::SysTemp) } else { Some(ResponseCode::SysPerm) };
        Pop3Response { ok: false, code, text }.encode(&mut out);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(&out).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn connection(stream: TcpStream, peer: SocketAddr, endpoint: &Endpoint, shared: Arc<Shared>) {
    let l = &endpoint.listener;
    let ip = canonical(peer.ip());
    let host = &shared.hostname;
    if !l.config.access.permits(ip) {
        tracing::info!(listener = %l.name, client = %ip, "refused by the access list");
        refuse(stream, l.config.service, 554, (5, 7, 1), &format!("{host} Access denied")).await;
        return;
    }
    if !shared.identity.defences.admit(ip) {
        tracing::warn!(listener = %l.name, client = %ip, "refused: blocked or over the connection rate");
        refuse(
            stream,
            l.config.service,
            421,
            (4, 7, 0),
            &format!("{host} Too many connections or failures, try again later"),
        )
        .await;
        return;
    }
    let Ok(_permit) = endpoint.slots.clone().try_acquire_owned() else {
        tracing::warn!(listener = %l.name, client = %ip, "refused: listener at max_connections");
        refuse(stream, l.config.service, 421, (4, 7, 0), &format!("{host} Too many connections, try again later"))
            .await;
        return;
    };
    // IPv6 clients count per network (`[abuse] ipv6_prefix`), like every other limit.
    let counted = shared.identity.defences.key(ip);
    let admitted = {
        let mut map = endpoint.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(counted).or_insert(0);
        let ok = *n < l.config.limits.max_connections_per_ip;
        if ok {
            *n += 1;
        }
        ok
    };
    if !admitted {
        tracing::warn!(listener = %l.name, client = %ip, "refused: max_connections_per_ip");
        refuse(stream, l.config.service, 421, (4, 7, 0), &format!("{host} Too many connections from your address"))
            .await;
        return;
    }
    let _slot = IpSlot { endpoint, ip: counted };
    let _ = stream.set_nodelay(true);
    // The DNS lists (not for the relay networks, nor by default on submission).
    let dnsbl_on = l.config.dnsbl.unwrap_or(l.config.service == Service::Smtp);
    if let Some(lists) = shared.dnsbl.as_ref().filter(|_| dnsbl_on && !endpoint.relay.in_networks(ip))
        && let Some(listed) = lists.check(ip).await
    {
        tracing::warn!(listener = %l.name, client = %ip, zone = %listed.zone, "refused: listed");
        let why = if listed.text.is_empty() { String::new() } else { format!(": {}", listed.text) };
        let text = format!("Service unavailable; client [{ip}] blocked using {}{why}", listed.zone);
        refuse(stream, l.config.service, 554, (5, 7, 1), &text).await;
        return;
    }
    // The pregreet test: a client that talks before the greeting is not a real MTA.
    let wait = Duration::from_millis(l.config.pregreet_ms);
    if l.config.service.is_smtp() && !wait.is_zero() && l.config.tls != TlsMode::Implicit {
        let mut probe = [0u8; 1];
        if let Ok(Ok(n)) = tokio::time::timeout(wait, stream.peek(&mut probe)).await
            && n > 0
        {
            let blocked = shared.identity.defences.early_talker(ip);
            tracing::warn!(listener = %l.name, client = %ip, blocked, "refused: talked before the greeting");
            let text = format!("{host} Protocol error: you talked before the greeting");
            refuse(stream, l.config.service, 554, (5, 7, 1), &text).await;
            return;
        }
    }
    let started = Instant::now();
    let max = Duration::from_secs(l.config.limits.max_session_secs);
    let tls = Tls {
        acceptor: endpoint.tls.as_ref(),
        implicit: l.config.tls == TlsMode::Implicit,
        handshake_timeout: Duration::from_secs(l.config.limits.tls_handshake_timeout_secs),
    };
    let (result, messages) = if l.config.service.is_smtp() {
        let mut conn = Connection::new(shared.clone(), endpoint.relay.clone(), peer, l.name.clone());
        conn.local_ip = stream.local_addr().ok().map(|a| a.ip());
        conn.odmr = l.config.service == Service::Odmr;
        let exempt = l.config.sender_checks_exempt.iter().any(|n| n.contains(&ip));
        if l.config.sender_checks.unwrap_or(l.config.service == Service::Smtp) && !exempt {
            conn.sender_checks = Some((l.config.dmarc_policy, l.config.spf_policy));
        }
        let config = &endpoint.smtp;
        let session = |tls| ServerSession::new(config.clone(), Instant::now(), tls);
        let r = tokio::time::timeout(max, driver::serve(stream, tls, session, &mut conn)).await;
        (r, conn.accepted)
    } else if l.config.service == Service::Nntp {
        let mut conn = crate::protocols::nntp::Connection::new(shared.clone(), shared.news.clone(), peer);
        let config = &endpoint.nntp;
        // Posting is each group's rule: the greeting says 200 where some group takes posts.
        let posting = !shared.news.groups().is_empty();
        let session = |tls| NntpSession::new(config.clone(), Instant::now(), tls, posting);
        let r = tokio::time::timeout(max, driver::serve(stream, tls, session, &mut conn)).await;
        (r, conn.posted)
    } else if l.config.service == Service::Imap {
        let mut conn = crate::protocols::imap::Connection::new(shared.clone(), peer);
        let config = &endpoint.imap;
        let session = |tls| ImapSession::new(config.clone(), Instant::now(), tls);
        let r = tokio::time::timeout(max, driver::serve(stream, tls, session, &mut conn)).await;
        (r, conn.commands)
    } else {
        let mut conn = crate::protocols::pop3::Connection::new(shared.clone(), peer);
        let (config, ts) = (&endpoint.pop3, conn.apop_timestamp().to_owned());
        let session = |tls| Pop3Session::new(config.clone(), Instant::now(), tls, Some(&ts));
        let r = tokio::time::timeout(max, driver::serve(stream, tls, session, &mut conn)).await;
        (r, conn.retrieved)
    };
    let result = result.unwrap_or_else(|_| {
        Err(io::Error::new(io::ErrorKind::TimedOut, "max_session_secs reached: connection closed"))
    });
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => tracing::info!(listener = %l.name, client = %ip, messages, secs, "session closed"),
        Err(e) => tracing::info!(listener = %l.name, client = %ip, messages, secs, error = %e, "session ended"),
    }
}
