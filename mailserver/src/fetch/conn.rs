//! A job's connection: TCP within a time limit, TLS from the first octet or after the
//! protocol's STARTTLS/STLS, the certificate checked unless the job says otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::FetchConfig;
use crate::outbound::client::{Io, opportunistic_tls, verified_tls};

/// How long a connection or a TLS handshake may take.
const CONNECT_SECS: u64 = 30;

/// The TLS settings of a job.
fn tls_config(job: &FetchConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    if job.verify_certificate {
        verified_tls(job.ca_file.as_deref()).map_err(|e| format!("TLS settings: {e}"))
    } else {
        opportunistic_tls().map_err(|e| format!("TLS settings: {e}"))
    }
}

/// Connects to the job's server (TLS at once for `tls = "implicit"`).
pub(super) async fn open(job: &FetchConfig) -> Result<Box<dyn Io>, String> {
    let (host, port) = job.address();
    let limit = Duration::from_secs(CONNECT_SECS);
    let tcp = match tokio::time::timeout(limit, TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect to {host}:{port}: {e}")),
        Err(_) => return Err(format!("connect to {host}:{port}: timed out")),
    };
    let _ = tcp.set_nodelay(true);
    if job.tls == super::FetchTls::Implicit {
        return upgrade(job, Box::new(tcp)).await;
    }
    Ok(Box::new(tcp))
}

/// The TLS handshake over `io` (after STARTTLS/STLS was accepted, or at once).
pub(super) async fn upgrade(job: &FetchConfig, io: Box<dyn Io>) -> Result<Box<dyn Io>, String> {
    let (host, _) = job.address();
    let name = ServerName::try_from(host.clone()).map_err(|_| format!("{host} is not a TLS server name"))?;
    let connector = TlsConnector::from(tls_config(job)?);
    match tokio::time::timeout(Duration::from_secs(CONNECT_SECS), connector.connect(name, io)).await {
        Ok(Ok(tls)) => Ok(Box::new(tls)),
        Ok(Err(e)) => Err(format!("TLS with {host}: {e}")),
        Err(_) => Err(format!("TLS with {host}: timed out")),
    }
}

/// What the collection pumps need of a Sans-IO client session (POP3's and IMAP's).
pub(super) trait ClientSans {
    fn transmit(&mut self, out: &mut Vec<u8>);
    fn input(&mut self, now: Instant, data: &[u8]);
    fn deadline(&self) -> Option<Instant>;
    fn expire(&mut self, now: Instant);
}

/// The two sessions spell these alike.
macro_rules! client_sans {
    ($($session:ty),*) => {$(
        impl ClientSans for $session {
            fn transmit(&mut self, out: &mut Vec<u8>) {
                self.poll_transmit(out);
            }
            fn input(&mut self, now: Instant, data: &[u8]) {
                let _ = self.handle_input(now, data);
            }
            fn deadline(&self) -> Option<Instant> {
                self.poll_timeout()
            }
            fn expire(&mut self, now: Instant) {
                self.handle_timeout(now);
            }
        }
    )*};
}

client_sans!(sansmail_pop3_proto::client::ClientSession, sansmail_imap_proto::client::ClientSession);

/// A client session over its connection.
pub(super) struct Pump<S> {
    pub(super) io: Box<dyn Io>,
    pub(super) session: S,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl<S: ClientSans> Pump<S> {
    pub(super) fn new(io: Box<dyn Io>, session: S) -> Self {
        Self { io, session, buf: vec![0; 64 * 1024], out: Vec::new() }
    }

    /// Writes what the session has to send.
    pub(super) async fn flush(&mut self) -> Result<(), String> {
        self.session.transmit(&mut self.out);
        if !self.out.is_empty() {
            self.io.write_all(&self.out).await.map_err(|e| format!("write: {e}"))?;
            self.io.flush().await.map_err(|e| format!("write: {e}"))?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes what is pending, then reads once (or lets the session time out).
    pub(super) async fn read(&mut self) -> Result<(), String> {
        self.flush().await?;
        match crate::net::read_by(&mut self.io, &mut self.buf, self.session.deadline()).await {
            None => self.session.expire(Instant::now()),
            Some(Ok(0)) => return Err("the server closed the connection".into()),
            Some(Ok(n)) => self.session.input(Instant::now(), &self.buf[..n]),
            Some(Err(e)) => return Err(format!("read: {e}")),
        }
        Ok(())
    }

    /// The TLS handshake after the protocol's STARTTLS/STLS was accepted.
    pub(super) async fn upgrade(self, job: &FetchConfig) -> Result<Self, String> {
        let Self { io, session, buf, out } = self;
        Ok(Self { io: upgrade(job, io).await?, session, buf, out })
    }
}
