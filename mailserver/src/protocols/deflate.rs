//! COMPRESS=DEFLATE (RFC 4978) on a connection: a stream that inflates what it reads and
//! deflates what it writes (raw DEFLATE, RFC 1951, no zlib header), over the plain or TLS
//! stream below. Each flush ends the compressed data written so far with a sync flush, so
//! the client can inflate every response at once.
//!
//! Memory is bounded: reads fill the caller's buffer and no more (a small compressed input
//! that inflates to much only yields it a buffer at a time, and the session's own limits
//! apply to what it reads); compressed output waits in a buffer of at most [`HIGH_WATER`]
//! before a write waits for the socket. The compressor's state is about 300 KiB, taken only
//! by sessions that ask for compression.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed input read at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Compressed output held before a write waits for the socket to take it.
const HIGH_WATER: usize = 64 * 1024;

/// A stream with COMPRESS=DEFLATE on.
pub(crate) struct Deflate<IO> {
    inner: IO,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed octets read and not yet inflated: `input[start..end]`.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// The peer's compressed stream ended (or the socket did).
    eof: bool,
    /// Deflated octets not yet written: `output[written..]`.
    output: Vec<u8>,
    written: usize,
    /// Data was deflated since the last sync flush.
    unflushed: bool,
}

fn broken(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("COMPRESS: {e}"))
}

impl<IO> Deflate<IO> {
    /// Compression on `inner`, with `pending` the octets already read past the COMPRESS
    /// command (compressed, if a client sent any before the OK).
    pub(crate) fn new(inner: IO, pending: &[u8]) -> Self {
        let mut input = vec![0u8; READ_CHUNK.max(pending.len())].into_boxed_slice();
        input[..pending.len()].copy_from_slice(pending);
        Self {
            inner,
            inflate: Decompress::new(false),
            // IMAP is text: the fastest level takes most of the gain for the least CPU.
            deflate: Compress::new(Compression::fast(), false),
            input,
            start: 0,
            end: pending.len(),
            eof: false,
            output: Vec::new(),
            written: 0,
            unflushed: false,
        }
    }

    /// Deflates `data` into the output buffer (with `flush`, until the flush is complete).
    fn deflate(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            if self.output.capacity() - self.output.len() < 1024 {
                self.output.reserve(8 * 1024);
            }
            let before_in = self.deflate.total_in();
            let room = self.output.capacity() - self.output.len();
            let before_out = self.output.len();
            self.deflate.compress_vec(data, &mut self.output, flush).map_err(broken)?;
            let taken = usize::try_from(self.deflate.total_in() - before_in).unwrap_or(data.len());
            data = &data[taken.min(data.len())..];
            let produced = self.output.len() - before_out;
            // Done when all input is taken and the compressor had room left (nothing more
            // of the flush is waiting).
            if data.is_empty() && produced < room {
                return Ok(());
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> Deflate<IO> {
    /// Writes the deflated output to the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.output.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.output[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.output.clear();
        self.written = 0;
        // A large response's buffer is not kept for an idle session.
        if self.output.capacity() > HIGH_WATER {
            self.output = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Deflate<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.eof && this.start == this.end {
                return Poll::Ready(Ok(()));
            }
            let (before_in, before_out) = (this.inflate.total_in(), this.inflate.total_out());
            let status = this
                .inflate
                .decompress(&this.input[this.start..this.end], buf.initialize_unfilled(), FlushDecompress::None)
                .map_err(broken)?;
            let taken = usize::try_from(this.inflate.total_in() - before_in).unwrap_or(0);
            let produced = usize::try_from(this.inflate.total_out() - before_out).unwrap_or(0);
            this.start += taken;
            buf.advance(produced);
            if this.eof && taken == 0 && produced == 0 {
                // The socket closed inside a compressed block: the end of input.
                this.start = this.end;
                return Poll::Ready(Ok(()));
            }
            if status == Status::StreamEnd {
                // The client ended its compressed stream: nothing more can come.
                this.eof = true;
                this.start = this.end;
            }
            if produced > 0 || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if taken > 0 && this.start < this.end {
                continue;
            }
            // Everything read is inflated: read more compressed input.
            this.input.copy_within(this.start..this.end, 0);
            this.end -= this.start;
            this.start = 0;
            if this.end == this.input.len() {
                return Poll::Ready(Err(broken("input that inflates to nothing")));
            }
            let mut more = ReadBuf::new(&mut this.input[this.end..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut more))?;
            let n = more.filled().len();
            if n == 0 {
                this.eof = true;
            }
            this.end += n;
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Deflate<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.output.len() - this.written >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        this.deflate(data, FlushCompress::None)?;
        this.unflushed = true;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.unflushed {
            this.deflate(&[], FlushCompress::Sync)?;
            this.unflushed = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What one side deflates, the other inflates, through a socket pair, whatever the
    /// sizes; each flush makes everything written so far readable.
    #[tokio::test]
    async fn both_ways_through_a_pipe() {
        let (a, b) = tokio::io::duplex(4096);
        let mut a = Deflate::new(a, &[]);
        let mut b = Deflate::new(b, &[]);
        let big: Vec<u8> =
            (0..300_000u32).flat_map(|i| format!("* {i} FETCH (FLAGS (\\Seen))\r\n").into_bytes()).collect();
        let expected = big.clone();
        let writer = tokio::spawn(async move {
            a.write_all(b"t1 OK hello\r\n").await.unwrap();
            a.flush().await.unwrap();
            a.write_all(&big).await.unwrap();
            a.flush().await.unwrap();
            a.shutdown().await.unwrap();
            a
        });
        let mut first = [0u8; 13];
        b.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"t1 OK hello\r\n");
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest.len(), expected.len());
        assert!(rest == expected);
        writer.await.unwrap();
    }

    /// Octets that are not DEFLATE end the connection with an error, not a panic.
    #[tokio::test]
    async fn garbage_is_an_error() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut a = Deflate::new(a, &[]);
        b.write_all(&[0xff; 64]).await.unwrap();
        let mut buf = [0u8; 64];
        assert!(a.read(&mut buf).await.is_err());
    }
}
