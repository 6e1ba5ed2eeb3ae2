//! One delivery attempt to one host: TCP (time-limited), then `smtp-proto`'s
//! [`ClientSession`] pumped over it, with STARTTLS through rustls when the session asks.
//! The session bounds every reply, so a hostile server costs bounded memory; whatever goes
//! wrong below the transaction (connect, TLS, garbage, silence, close mid-reply) makes the
//! host unreachable for this attempt, and the caller tries the next one or defers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig as TlsConfig, DigitallySignedStruct, SignatureScheme};
use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Credentials, Envelope, Stage, TlsPolicy,
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
}

/// What one host said.
#[derive(Debug)]
pub(crate) enum HopResult {
    /// The final reply for each recipient (2xx delivered, 4xx try later, 5xx failed).
    Answered(Vec<Reply<'static>>),
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

/// Sends one message to one address. `server_name` is the host's name (for SNI and
/// certificate checks); `content` is the message as queued.
pub(crate) async fn send(
    addr: SocketAddr,
    server_name: &str,
    attempt: &Attempt,
    envelope: Envelope,
    content: &[u8],
) -> HopResult {
    let recipients = envelope.recipients.len();
    let stream = match tokio::time::timeout(attempt.connect_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return HopResult::Unreachable(format!("connect to {addr}: {e}")),
        Err(_) => return HopResult::Unreachable(format!("connect to {addr}: timed out")),
    };
    let _ = stream.set_nodelay(true);
    let config = ClientConfig {
        hello_name: attempt.hello.clone(),
        tls: match attempt.tls {
            RouteTls::Opportunistic => TlsPolicy::Opportunistic,
            RouteTls::Required => TlsPolicy::Required,
            RouteTls::None => TlsPolicy::Never,
        },
        credentials: attempt.credentials.clone().map(|(username, password)| Credentials { username, password }),
        ..ClientConfig::default()
    };
    let mut session = match ClientSession::new(config, envelope, Instant::now(), false) {
        Ok(s) => s,
        Err(e) => return HopResult::Unreachable(format!("cannot write the envelope: {e}")),
    };
    let mut pump = Pump { rcpt: vec![None; recipients], done: None };
    let plain = pump.run(stream, &mut session, content).await;
    let outcome = match plain {
        Ok(Some(stream)) => {
            // STARTTLS accepted: handshake, then go on over TLS.
            let Ok(name) = ServerName::try_from(server_name.to_owned()) else {
                return HopResult::Unreachable(format!("{server_name} is not a TLS server name"));
            };
            let connector = TlsConnector::from(attempt.tls_config.clone());
            match tokio::time::timeout(Duration::from_secs(60), connector.connect(name, stream)).await {
                Ok(Ok(tls)) => {
                    session.handle_tls_established(Instant::now());
                    pump.run(tls, &mut session, content).await.map(|_| ())
                }
                Ok(Err(e)) => Err(format!("TLS handshake with {addr}: {e}")),
                Err(_) => Err(format!("TLS handshake with {addr}: timed out")),
            }
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        return HopResult::Unreachable(e);
    }
    pump.result(addr)
}

/// The replies gathered while pumping.
struct Pump {
    rcpt: Vec<Option<Reply<'static>>>,
    done: Option<Result<Reply<'static>, ClientError>>,
}

fn synthetic(code: u16, enhanced: (u8, u16, u16), text: &str) -> Reply<'static> {
    Reply::owned(code, Some(enhanced), text.to_owned())
}

impl Pump {
    /// Runs the session over `stream` until it closes (`None`) or asks for TLS (the stream
    /// is handed back). I/O errors end the attempt.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut stream: S,
        session: &mut ClientSession,
        content: &[u8],
    ) -> Result<Option<S>, String> {
        let mut buf = vec![0u8; 16 * 1024];
        let mut out = Vec::new();
        loop {
            let mut starttls = false;
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::StartTls => starttls = true,
                    ClientEvent::ReadyForBody => {
                        // Streamed in pieces, written as they are encoded.
                        for piece in content.chunks(64 * 1024) {
                            let _ = session.send_body(piece);
                            session.poll_transmit(&mut out);
                            write(&mut stream, &mut out).await?;
                        }
                        let _ = session.finish_body(Instant::now());
                    }
                    ClientEvent::Recipient { index, reply } => {
                        if let Some(slot) = self.rcpt.get_mut(index) {
                            *slot = Some(reply);
                        }
                    }
                    ClientEvent::Done(result) => self.done = Some(result),
                    ClientEvent::Close => {}
                    _ => {}
                }
            }
            session.poll_transmit(&mut out);
            write(&mut stream, &mut out).await?;
            if starttls {
                return Ok(Some(stream));
            }
            if session.is_closed() {
                let _ = stream.shutdown().await;
                return Ok(None);
            }
            let deadline = session.poll_timeout().map(tokio::time::Instant::from_std);
            let read = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, stream.read(&mut buf)).await.ok(),
                    None => Some(stream.read(&mut buf).await),
                }
            };
            match read.await {
                None => session.handle_timeout(Instant::now()),
                Some(Ok(0)) => session.handle_eof(),
                Some(Ok(n)) => {
                    session.handle_input(Instant::now(), &buf[..n]);
                }
                Some(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Each recipient's final reply, or why the host could not be used.
    fn result(self, addr: SocketAddr) -> HopResult {
        let n = self.rcpt.len();
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
            Some(Ok(end)) => HopResult::Answered(rcpt_or(&end)),
            Some(Err(ClientError::Rejected(Stage::Mail | Stage::Data | Stage::EndOfData, reply))) => {
                HopResult::Answered(rcpt_or(&reply))
            }
            Some(Err(ClientError::NoRecipientsAccepted)) => HopResult::Answered(
                self.rcpt
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| synthetic(451, (4, 4, 0), "no reply to RCPT")))
                    .collect(),
            ),
            Some(Err(ClientError::MessageTooBig { limit })) => HopResult::Answered(vec![
                synthetic(
                    552,
                    (5, 3, 4),
                    &format!("message larger than the server's limit of {limit} octets")
                );
                n
            ]),
            Some(Err(ClientError::ExtensionMissing(ext))) => {
                let code = if ext == "REQUIRETLS" { (5, 7, 10) } else { (5, 6, 7) };
                HopResult::Answered(vec![synthetic(550, code, &format!("the server does not offer {ext}")); n])
            }
            Some(Err(e)) => HopResult::Unreachable(format!("{addr}: {e}")),
            None => HopResult::Unreachable(format!("{addr}: the session ended without a result")),
        }
    }
}

async fn write<S: AsyncWrite + Unpin>(stream: &mut S, out: &mut Vec<u8>) -> Result<(), String> {
    if out.is_empty() {
        return Ok(());
    }
    let r = tokio::time::timeout(Duration::from_secs(300), async {
        stream.write_all(out).await?;
        stream.flush().await
    })
    .await;
    out.clear();
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write: {e}")),
        Err(_) => Err("write: timed out".to_owned()),
    }
}
