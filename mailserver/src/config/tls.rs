//! The server's TLS configuration: the configured certificate and key, or a self-signed pair
//! generated on first start (and kept in the data directory, so clients that pinned it keep
//! trusting it).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Builds the rustls configuration shared by every TLS listener.
pub(crate) fn server_config(config: &Config) -> io::Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            let dir = config.data_dir.join("tls");
            let (c, k) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
            if !c.exists() || !k.exists() {
                generate(&config.hostname, &c, &k)?;
                tracing::warn!(
                    cert = %c.display(),
                    "no [tls] cert and key configured: generated a self-signed certificate for {}; \
                     clients will not trust it until you configure a real one",
                    config.hostname
                );
            } else {
                tracing::warn!(cert = %c.display(), "no [tls] cert and key configured: using the self-signed certificate");
            }
            (c, k)
        }
        _ => return Err(invalid("[tls] needs both cert and key, or neither".into())),
    };
    load(&cert_path, &key_path)
}

/// The rustls configuration from a PEM certificate chain and its private key: both read,
/// and the key checked against the certificate.
pub(crate) fn load(cert_path: &Path, key_path: &Path) -> io::Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| invalid(format!("{}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("{}: no certificate", cert_path.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| invalid(format!("{}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("{}: {e}", cert_path.display())))?;
    Ok(Arc::new(tls))
}

fn generate(hostname: &str, cert: &Path, key: &Path) -> io::Result<()> {
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    io::Write::write_all(&mut opts.open(key)?, certified.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert, certified.cert.pem())
}
