//! What `serve` needs of this host, checked the same way by `serve` (before it binds) and by
//! `check-config`: the TLS certificate and key readable and matching, the data directory
//! writable, and every listener's address present on this host.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use crate::config::{Config, Listener, TlsMode};

/// Every check; the first failure, worded for the administrator.
pub(crate) fn check(config: &Config, listeners: &[Listener]) -> Result<(), String> {
    tls(config, listeners)?;
    writable(&config.data_dir).map_err(|e| format!("data_dir {}: {e}", config.data_dir.display()))?;
    for l in listeners {
        address(l.addr).map_err(|e| format!("listener {}: {e}", l.name))?;
    }
    Ok(())
}

fn tls(config: &Config, listeners: &[Listener]) -> Result<(), String> {
    if listeners.iter().all(|l| l.config.tls == TlsMode::None) {
        return Ok(());
    }
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => crate::config::tls::load(cert, key).map(drop).map_err(|e| format!("[tls]: {e}")),
        (None, None) => Ok(()), // a self-signed pair is made (or found) in the data directory
        _ => Err("[tls] needs both cert and key, or neither".into()),
    }
}

/// Whether files can be made in `dir`, or in the nearest folder above it that exists (where
/// `serve` would make it), without leaving anything behind.
fn writable(dir: &Path) -> io::Result<()> {
    let at = dir
        .ancestors()
        .map(|a| if a.as_os_str().is_empty() { Path::new(".") } else { a })
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    if !at.is_dir() {
        return Err(io::Error::other(format!("{} is not a folder", at.display())));
    }
    let probe = at.join(format!(".sansmail-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write in {}: {e}", at.display())))?;
    std::fs::remove_file(&probe)
}

/// Whether `addr`'s IP is one of this host's: a bind to it on a port of the system's choice
/// succeeds (and is closed at once; no traffic).
fn address(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_unspecified() {
        return Ok(());
    }
    TcpListener::bind(SocketAddr::new(addr.ip(), 0)).map(drop).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrNotAvailable {
            io::Error::new(e.kind(), format!("address {} is not on this host", addr.ip()))
        } else {
            io::Error::new(e.kind(), format!("address {}: {e}", addr.ip()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_folders() {
        assert!(address("127.0.0.1:25".parse().unwrap()).is_ok());
        assert!(address("[::]:25".parse().unwrap()).is_ok());
        let e = address("192.0.2.1:25".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("not on this host"), "{e}");
        let dir = std::env::temp_dir().join(format!("sansmail-preflight-{}/a/b", std::process::id()));
        assert!(writable(&dir).is_ok(), "a folder to be made under a writable one");
        assert!(!dir.exists(), "nothing made");
        let file = std::env::temp_dir().join(format!("sansmail-preflight-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        assert!(writable(&file.join("data")).is_err(), "under a file");
        std::fs::remove_file(&file).unwrap();
    }
}
