//! The two socket operations every driver needs: a read that ends at the session's
//! deadline, and a write of everything queued that ends if the peer stops reading.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads into `buf`, giving up at `deadline` (the session's `poll_timeout`): `None` when
/// the deadline passed, else the read's result.
pub(crate) async fn read_by<S: AsyncRead + Unpin + ?Sized>(
    stream: &mut S,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Option<io::Result<usize>> {
    match deadline {
        Some(d) => tokio::time::timeout_at(tokio::time::Instant::from_std(d), stream.read(buf)).await.ok(),
        None => Some(stream.read(buf).await),
    }
}

/// Writes and flushes all of `out`, then clears it; a peer that takes longer than `limit`
/// to read it is an error.
pub(crate) async fn write_all<S: AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
    out: &mut Vec<u8>,
    limit: Duration,
) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    tokio::time::timeout(limit, async {
        stream.write_all(out).await?;
        stream.flush().await
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer does not read"))??;
    out.clear();
    Ok(())
}

/// An IPv4 client seen through a dual-stack socket (`::ffff:a.b.c.d`) as the IPv4 address
/// the administrator wrote.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
