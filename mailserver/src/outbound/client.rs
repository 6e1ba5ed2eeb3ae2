//! One delivery attempt to one host: TCP (time-limited), then `smtp-proto`'s
//! [`ClientSession`] pumped over it, with STARTTLS through rustls when the session asks.
//! The session bounds every reply, so a hostile server costs bounded memory; whatever goes
//! wrong below the transaction (connect, TLS, garbage, silence, close mid-reply) makes the
//! host unreachable for this attempt, and the caller tries the next one or defers.
//!
//! A connection that ends a transaction in good order is parked in a [`Pool`] for a few
//! seconds, so the next message to the same host goes over it (RSET/MAIL, no new TCP,
//! TLS or EHLO round trips).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig as TlsConfig, DigitallySignedStruct, SignatureScheme};
use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, ClientTimeouts, Credentials, Envelope, Stage, TlsPolicy,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::config::RouteTls;

/// How to talk to the host.
pub(crate) struct Attempt {
    pub(crate) hello: String,
    pub(crate) tls: RouteTls,
    pub(crate) tls_config: Arc<TlsConfig>,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) connect_timeout: Duration,
    /// The waits for each reply.
    pub(crate) timeouts: ClientTimeouts,
}

/// What one host said.
#[derive(Debug)]
pub(crate) enum HopResult {
    /// The final reply for each recipient (2xx delivered, 4xx try later, 5xx failed), and
    /// whether the host offered DSN (then it, not we, reports success: RFC 3461 §6.2.2.1).
    Answered { replies: Vec<Reply<'static>>, dsn: bool },
    /// This host could not be used now: try the next, or later.
    Unreachable(String),
}

/// Opportunistic TLS (RFC 7435): encrypt, whatever the certificate says; the signature of
/// the handshake is still checked, so the session is bound to the key that was offered.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client configuration for opportunistic STARTTLS.
pub(crate) fn opportunistic_tls() -> io::Result<Arc<TlsConfig>> {
    let provider = provider();
    let config = TlsConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TLS client configuration for required TLS: certificates verified against `ca_file`
/// (PEM) or the Mozilla roots.
pub(crate) fn verified_tls(ca_file: Option<&std::path::Path>) -> io::Result<Arc<TlsConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path)?;
            for cert in rustls_pemfile_certs(&pem)? {
                roots.add(cert).map_err(io::Error::other)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = TlsConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of a PEM file.
fn rustls_pemfile_certs(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(io::Error::other)
}

/// Anything a session can run over: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection between transactions.
struct Parked {
    io: Box<dyn Io>,
    session: ClientSession,
    since: Instant,
    messages: usize,
}

/// How long a parked connection waits for the next message, and how many messages one
/// connection carries.
const PARK_FOR: Duration = Duration::from_secs(5);
const MESSAGES_PER_CONNECTION: usize = 100;

/// Connections kept for reuse, by address and the terms they were opened with.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Parked>>>,
}

impl Pool {
    fn take(&self, key: &str) -> Option<Parked> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(key)?;
        let p = list.pop();
        if list.is_empty() {
            idle.remove(key);
        }
        p.filter(|p| p.since.elapsed() < PARK_FOR)
    }

    fn put(&self, key: String, p: Parked) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.entry(key).or_default().push(p);
    }

    /// Says QUIT on the connections that waited too long.
    pub(crate) fn reap(&self) {
        let expired: Vec<Parked> = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            idle.retain(|_, list| {
                let (old, fresh): (Vec<_>, Vec<_>) = list.drain(..).partition(|p| p.since.elapsed() >= PARK_FOR);
                out.extend(old);
                *list = fresh;
                !list.is_empty()
            });
            out
        };
        for p in expired {
            tokio::spawn(quit(p));
        }
    }
}

/// Ends a parked connection politely, within a few seconds.
async fn quit(mut p: Parked) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        p.session.quit(Instant::now());
        let mut out = Vec::new();
        p.session.poll_transmit(&mut out);
        let _ = p.io.write_all(&out).await;
        let mut buf = [0u8; 512];
        while !p.session.is_closed() {
            match p.io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = p.session.handle_input(Instant::now(), &buf[..n]);
                }
            }
        }
        let _ = p.io.shutdown().await;
    })
    .await;
}

/// Sends one message to one address: over a parked connection when one is waiting, else a
/// new one. `server_name` is the host's name (for SNI and certificate checks); `content`
/// is the message as queued.
pub(crate) async fn send(
    pool: &Pool,
    addr: SocketAddr,
    server_name: &str,
    attempt: &Attempt,
    envelope: Envelope,
    content: &[u8],
) -> HopResult {
    // A connection is reused only under the same terms: TLS policy, the authorities that
    // verified it (one configuration per CA file), and the credentials it logged in with.
    let user = attempt.credentials.as_ref().map_or("", |c| c.0.as_str());
    let verifier = Arc::as_ptr(&attempt.tls_config) as usize;
    let key = format!("{addr}|{server_name}|{:?}|{verifier:x}|{user}", attempt.tls);
    if let Some(mut parked) = pool.take(&key)
        && parked.session.next_transaction(Instant::now(), envelope.clone()).is_ok()
    {
        let mut pump = Pump::new(envelope.recipients.len());
        if let Ok(Stop::Idle) = pump.run(&mut parked.io, &mut parked.session, content).await {
            let result = pump.result(addr, &parked.session);
            if let HopResult::Answered { .. } = result {
                park(pool, key, parked);
                return result;
            }
        }
        // The kept connection failed (the server closed it meanwhile): a new one.
    }
    fresh(pool, key, addr, server_name, attempt, envelope, content, false).await
}

/// Asks `addr` whether it takes the envelope's recipients (MAIL and RCPT, then QUIT, no
/// DATA): a callout. Each recipient's reply, or why the host could not be asked.
pub(crate) async fn verify(addr: SocketAddr, server_name: &str, attempt: &Attempt, envelope: Envelope) -> HopResult {
    fresh(&Pool::default(), String::new(), addr, server_name, attempt, envelope, b"", true).await
}

fn park(pool: &Pool, key: String, mut p: Parked) {
    p.messages += 1;
    p.since = Instant::now();
    if p.messages < MESSAGES_PER_CONNECTION && p.session.is_idle() {
        pool.put(key, p);
    } else {
        tokio::spawn(quit(p));
    }
}

#[allow(clippy::too_many_arguments)]
async fn fresh(
    pool: &Pool,
    key: String,
    addr: SocketAddr,
    server_name: &str,
    attempt: &Attempt,
    envelope: Envelope,
    content: &[u8],
    verify: bool,
) -> HopResult {
    let recipients = envelope.recipients.len();
    let stream = match tokio::time::timeout(attempt.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return HopResult::Unreachable(format!("connect to {addr}: {e}")),
        Err(_) => return HopResult::Unreachable(format!("connect to {addr}: timed out")),
    };
    let _ = stream.set_nodelay(true);
    let config = {
        let mut conf = ClientConfig::default();
        conf.hello_name = attempt.hello.clone();
        conf.tls = match attempt.tls {
            RouteTls::Opportunistic => TlsPolicy::Opportunistic,
            RouteTls::Required => TlsPolicy::Required,
            RouteTls::None => TlsPolicy::Never,
        };
        conf.credentials = attempt.credentials.clone().map(|(username, password)| Credentials { username, password });
        conf.keep_open = !verify;
        conf.timeouts = attempt.timeouts;
        conf
    };
    let session = if verify { ClientSession::verify } else { ClientSession::new };
    let mut session = match session(config, envelope, Instant::now(), false) {
        Ok(s) => s,
        Err(e) => return HopResult::Unreachable(format!("cannot write the envelope: {e}")),
    };
    let mut pump = Pump::new(recipients);
    let mut io: Box<dyn Io> = Box::new(stream);
    let (stop, io) = match pump.run(&mut io, &mut session, content).await {
        Ok(Stop::StartTls) => {
            let Ok(name) = ServerName::try_from(server_name.to_owned()) else {
                return HopResult::Unreachable(format!("{server_name} is not a TLS server name"));
            };
            let connector = TlsConnector::from(attempt.tls_config.clone());
            match tokio::time::timeout(Duration::from_secs(60), connector.connect(name, io)).await {
                Ok(Ok(tls)) => {
                    session.handle_tls_established(Instant::now());
                    let mut tls: Box<dyn Io> = Box::new(tls);
                    (pump.run(&mut tls, &mut session, content).await, tls)
                }
                Ok(Err(e)) => return HopResult::Unreachable(format!("TLS handshake with {addr}: {e}")),
                Err(_) => return HopResult::Unreachable(format!("TLS handshake with {addr}: timed out")),
            }
        }
        other => (other, io),
    };
    let io = match stop {
        Err(e) => return HopResult::Unreachable(e),
        Ok(Stop::Idle) => Some(io),
        Ok(_) => None,
    };
    let result = pump.result(addr, &session);
    if let (Some(io), HopResult::Answered { .. }) = (io, &result) {
        park(pool, key, Parked { io, session, since: Instant::now(), messages: 0 });
    }
    result
}

/// Why [`Pump::run`] returned.
pub(crate) enum Stop {
    /// The session is over.
    Closed,
    /// STARTTLS was accepted: the connection is ready for the handshake.
    StartTls,
    /// The transaction is over and the connection kept.
    Idle,
}

/// One transaction's exchange over a connection, and the replies it gathered: the queue's
/// deliveries and callouts, and ATRN's turn (`gateway/atrn.rs`), over whatever stream.
pub(crate) struct Pump {
    rcpt: Vec<Option<Reply<'static>>>,
    done: Option<Result<Reply<'static>, ClientError>>,
}

fn synthetic(code: u16, enhanced: (u8, u16, u16), text: &str) -> Reply<'static> {
    Reply::new(code, enhanced, "").with_text(text.to_owned())
}

impl Pump {
    /// For a transaction to `recipients` recipients.
    pub(crate) fn new(recipients: usize) -> Self {
        Self { rcpt: vec![None; recipients], done: None }
    }

    /// Runs the session over `stream` until it closes, asks for TLS, or (kept open) ends
    /// its transaction. I/O errors end the attempt.
    pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
        &mut self,
        stream: &mut S,
        session: &mut ClientSession,
        content: &[u8],
    ) -> Result<Stop, String> {
        let mut buf = vec![0u8; 16 * 1024];
        let mut out = Vec::new();
        loop {
            let mut starttls = false;
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::StartTls => starttls = true,
                    ClientEvent::ReadyForBody => {
                        // Streamed in pieces, written as they are encoded.
                        let mut rest = content;
                        while !rest.is_empty() {
                            let taken = session.write_body(rest).unwrap_or(rest.len());
                            rest = &rest[taken..];
                            session.poll_transmit(&mut out);
                            write(stream, &mut out).await?;
                        }
                        let _ = session.finish_body(Instant::now());
                    }
                    ClientEvent::Recipient { index, reply } => {
                        if let Some(slot) = self.rcpt.get_mut(index) {
                            *slot = Some(reply);
                        }
                    }
                    ClientEvent::Done(result) => self.done = Some(result),
                    _ => {}
                }
            }
            session.poll_transmit(&mut out);
            write(stream, &mut out).await?;
            if starttls {
                return Ok(Stop::StartTls);
            }
            if session.is_closed() {
                let _ = stream.shutdown().await;
                return Ok(Stop::Closed);
            }
            if self.done.is_some() && session.is_idle() {
                return Ok(Stop::Idle);
            }
            match crate::net::read_by(stream, &mut buf, session.poll_timeout()).await {
                None => session.handle_timeout(Instant::now()),
                Some(Ok(0)) => session.handle_eof(),
                Some(Ok(n)) => {
                    let _ = session.handle_input(Instant::now(), &buf[..n]);
                }
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Each recipient's final reply, or why the host (`peer`, for the message) could not be
    /// used.
    pub(crate) fn result(self, peer: impl std::fmt::Display, session: &ClientSession) -> HopResult {
        let n = self.rcpt.len();
        let dsn = session.capabilities().has(&sansmail_smtp_proto::Capability::Dsn);
        let answered = |replies| HopResult::Answered { replies, dsn };
        let rcpt_or = |reply: &Reply<'static>| -> Vec<Reply<'static>> {
            self.rcpt
                .iter()
                .map(|r| match r {
                    // Refused at RCPT: that reply stands.
                    Some(r) if !r.is_positive() => r.clone(),
                    _ => reply.clone(),
                })
                .collect()
        };
        match self.done {
            Some(Ok(end)) => answered(rcpt_or(&end)),
            Some(Err(ClientError::Rejected(Stage::Mail | Stage::Data | Stage::EndOfData, reply))) => {
                answered(rcpt_or(&reply))
            }
            Some(Err(ClientError::NoRecipientsAccepted)) => answered(
                self.rcpt
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| synthetic(451, (4, 4, 0), "no reply to RCPT")))
                    .collect(),
            ),
            Some(Err(ClientError::MessageTooBig { limit })) => answered(vec![
                synthetic(
                    552,
                    (5, 3, 4),
                    &format!("message larger than the server's limit of {limit} octets")
                );
                n
            ]),
            Some(Err(ClientError::ExtensionMissing(ext))) => {
                let code = if ext == "REQUIRETLS" { (5, 7, 10) } else { (5, 6, 7) };
                answered(vec![synthetic(550, code, &format!("the server does not offer {ext}")); n])
            }
            Some(Err(e)) => HopResult::Unreachable(format!("{peer}: {e}")),
            None => HopResult::Unreachable(format!("{peer}: the session ended without a result")),
        }
    }
}

async fn write<S: AsyncWrite + Unpin + ?Sized>(stream: &mut S, out: &mut Vec<u8>) -> Result<(), String> {
    let r = crate::net::write_all(stream, out, Duration::from_secs(300)).await;
    out.clear();
    r.map_err(|e| format!("write: {e}"))
}
