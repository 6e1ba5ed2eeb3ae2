//! A job's connection: TCP within a time limit, TLS from the first octet or after the
//! protocol's STARTTLS/STLS, the certificate checked unless the job says otherwise.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
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
