//! The one driver loop: moves bytes between a socket and a protocol crate's server
//! session, hands each event to the protocol's [`Handler`], and splices in TLS (implicit,
//! or after STARTTLS/STLS) and IMAP's COMPRESS=DEFLATE ([`super::deflate`]). SMTP, POP3,
//! IMAP and NNTP are its users; the ODMR role reversal will be the next.
//!
//! ```text
//!  read_by ──► handle_input ──► poll_event ──► Handler::on_event ──► policy / store
//!     ▲                                              │ (may write: RETR, FETCH batches)
//!     └──────── write_all ◄── poll_transmit ◄────────┘
//! ```

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::deflate::Deflate;
use crate::net::{read_by, write_all};

/// What the loop needs of a protocol crate's server session: the Sans-IO pump contract
/// the three crates share.
pub(crate) trait Session {
    /// The session's event type.
    type Event;
    /// Feeds received octets; returns how many were taken.
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize;
    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// Appends the output to `out`.
    fn poll_transmit(&mut self, out: &mut Vec<u8>);
    /// When `handle_timeout` is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Time has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The TLS handshake that the session asked for is done.
    fn handle_tls_established(&mut self, now: Instant);
    /// Whether the session is over.
    fn is_closed(&self) -> bool;
    /// Whether this event asks for the TLS handshake (STARTTLS, STLS answered).
    fn is_starttls(event: &Self::Event) -> bool;
    /// Whether this event turns compression on (IMAP's COMPRESS DEFLATE answered).
    fn is_compress(event: &Self::Event) -> bool;
}

macro_rules! session_impl {
    ($session:ty, $event:ty, $starttls:pat $(, $compress:pat)?) => {
        impl Session for $session {
            type Event = $event;
            fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
                <$session>::handle_input(self, now, data)
            }
            fn poll_event(&mut self) -> Option<Self::Event> {
                <$session>::poll_event(self)
            }
            fn poll_transmit(&mut self, out: &mut Vec<u8>) {
                <$session>::poll_transmit(self, out)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$session>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$session>::handle_timeout(self, now)
            }
            fn handle_tls_established(&mut self, now: Instant) {
                <$session>::handle_tls_established(self, now)
            }
            fn is_closed(&self) -> bool {
                <$session>::is_closed(self)
            }
            fn is_starttls(event: &Self::Event) -> bool {
                matches!(event, $starttls)
            }
            fn is_compress(event: &Self::Event) -> bool {
                let _ = event;
                false $(|| matches!(event, $compress))?
            }
        }
    };
}

session_impl!(
    sansmail_smtp_proto::server::ServerSession,
    sansmail_smtp_proto::server::Event,
    sansmail_smtp_proto::server::Event::StartTls
);
session_impl!(
    sansmail_pop3_proto::server::ServerSession,
    sansmail_pop3_proto::server::Event,
    sansmail_pop3_proto::server::Event::StartTls
);
session_impl!(
    sansmail_nntp_proto::server::ServerSession,
    sansmail_nntp_proto::server::Event,
    sansmail_nntp_proto::server::Event::StartTls
);
session_impl!(
    sansmail_imap_proto::server::ServerSession,
    sansmail_imap_proto::server::Event,
    sansmail_imap_proto::server::Event::StartTls,
    sansmail_imap_proto::server::Event::Compress
);

/// The socket and what is queued for it.
pub(crate) struct Wire<'a, IO> {
    /// The connection (plain or TLS).
    pub(crate) stream: &'a mut IO,
    out: Vec<u8>,
    write_timeout: Duration,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Wire<'_, IO> {
    /// Writes what the session has queued; `Ok(true)` if there was anything.
    pub(crate) async fn send<S: Session>(&mut self, session: &mut S) -> io::Result<bool> {
        session.poll_transmit(&mut self.out);
        let wrote = !self.out.is_empty();
        write_all(self.stream, &mut self.out, self.write_timeout).await?;
        // A large response's buffer is not kept for the rest of the session.
        if self.out.capacity() > KEEP_OUTPUT {
            self.out = Vec::new();
        }
        Ok(wrote)
    }

    /// Writes `data` as it is, after what the session queued (a literal streamed from a
    /// file); `flush` at the end of a response.
    pub(crate) async fn write_raw(&mut self, data: &[u8], flush: bool) -> io::Result<()> {
        tokio::time::timeout(self.write_timeout, async {
            self.stream.write_all(data).await?;
            if flush { self.stream.flush().await } else { Ok(()) }
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer does not read"))?
    }

    /// Reads into `buf` until the session's deadline (`None` when it passed).
    pub(crate) async fn read<S: Session>(&mut self, buf: &mut [u8], session: &S) -> Option<io::Result<usize>> {
        read_by(self.stream, buf, session.poll_timeout()).await
    }
}

/// What a protocol does with its session's events. Each decision is answered right after
/// it is polled, so the crates' `ApiMisuse` results cannot happen and the handlers ignore
/// them.
pub(crate) trait Handler<S: Session> {
    /// The read buffer's size (lines and pipelined commands; literals and message content
    /// pass through it in pieces).
    const READ_BUFFER: usize = 16 * 1024;

    /// How long a peer may take to read what is written.
    fn write_timeout(&self, _session: &S) -> Duration {
        Duration::from_secs(600)
    }

    /// Answers one event (never the STARTTLS one). May write to the wire itself, for a
    /// response made in pieces.
    async fn on_event<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        event: S::Event,
        session: &mut S,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()>;

    /// Waits for input; IMAP overrides it to write folder changes while a client IDLEs.
    async fn read<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &mut Wire<'_, IO>,
        buf: &mut [u8],
        session: &mut S,
    ) -> io::Result<Option<io::Result<usize>>> {
        Ok(wire.read(buf, session).await)
    }

    /// Called before what the session queued is written. A handler that answered before
    /// its work was durable (NNTP's articles, committed together) makes it so here, or,
    /// when `may_defer` (more pipelined input waits and the last round made progress),
    /// returns `false` to take that input in first and answer it all after one commit.
    async fn before_send(&mut self, _may_defer: bool) -> io::Result<bool> {
        Ok(true)
    }

    /// The session closed with its last output written: a handler that takes the
    /// connection over (ATRN's turn) uses it here, before it is shut down.
    async fn take_over<IO: AsyncRead + AsyncWrite + Unpin>(&mut self, _stream: &mut IO) -> io::Result<()> {
        Ok(())
    }

    /// TLS is up after STARTTLS: forget what the plaintext exchange established.
    fn on_tls_established(&mut self) {}

    /// The connection ends (closed, timed out, broken): drop what is half done.
    fn on_end(&mut self) {}
}

/// Output buffer capacity kept between responses; a larger one is freed once written.
/// (The session and the driver trade buffers at each `poll_transmit`, so an idle session
/// keeps at most two of this size.)
const KEEP_OUTPUT: usize = 16 * 1024;
/// The read buffer of a session that holds no input: it grows to [`Handler::READ_BUFFER`]
/// while reads fill it, and shrinks back here once the session has taken everything.
const IDLE_READ_BUFFER: usize = 2 * 1024;

/// How a driven stretch of the session ended.
enum Flow {
    Closed,
    /// The session asked for the TLS handshake: run it, then drive again.
    StartTls,
    /// The session turned compression on: drive again through [`Deflate`], with the
    /// octets read past the command.
    Compress(Vec<u8>),
}

/// Runs `session` over `stream` until it closes or asks for TLS.
async fn drive<S, H, IO>(stream: &mut IO, session: &mut S, handler: &mut H) -> io::Result<Flow>
where
    S: Session,
    H: Handler<S>,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let write_timeout = handler.write_timeout(session);
    let mut wire = Wire { stream, out: Vec::new(), write_timeout };
    let mut buf = vec![0u8; IDLE_READ_BUFFER.min(H::READ_BUFFER)];
    let (mut offset, mut filled, mut last_read) = (0, 0, 0);
    loop {
        // Let the session work through what it holds, answer its events, send its output.
        loop {
            let used = session.handle_input(Instant::now(), &buf[offset..filled]);
            offset += used;
            let (mut starttls, mut compress) = (false, false);
            let mut events = 0;
            while let Some(event) = session.poll_event() {
                events += 1;
                if S::is_starttls(&event) {
                    starttls = true;
                } else if S::is_compress(&event) {
                    compress = true;
                } else {
                    handler.on_event(event, session, &mut wire).await?;
                }
            }
            let may_defer =
                !(starttls || compress || session.is_closed()) && offset < filled && (used > 0 || events > 0);
            if !handler.before_send(may_defer).await? {
                continue;
            }
            let wrote = wire.send(session).await?;
            if starttls {
                return Ok(Flow::StartTls);
            }
            if compress {
                return Ok(Flow::Compress(buf[offset..filled].to_vec()));
            }
            if session.is_closed() {
                handler.take_over(wire.stream).await?;
                let _ = wire.stream.shutdown().await;
                return Ok(Flow::Closed);
            }
            // All taken, or a round that changed nothing: the session waits for input.
            if offset == filled || (used == 0 && events == 0 && !wrote) {
                break;
            }
        }
        // Keep what the session has not taken yet (a command pipelined behind one whose
        // response is being written); a session that takes nothing of a full buffer is stuck.
        buf.copy_within(offset..filled, 0);
        filled -= offset;
        offset = 0;
        if filled == buf.len() {
            if buf.len() >= H::READ_BUFFER {
                return Err(io::Error::other("session took no input"));
            }
            // A command or content larger than the buffer: room for more.
            buf.resize((buf.len() * 2).min(H::READ_BUFFER), 0);
        } else if filled == 0 && buf.len() > IDLE_READ_BUFFER && last_read < IDLE_READ_BUFFER {
            // Nothing held, and the peer no longer sends in bulk: back to a small buffer
            // for the wait (an idle session keeps 2 KiB, not its largest read).
            buf = vec![0u8; IDLE_READ_BUFFER];
        }
        match handler.read(&mut wire, &mut buf[filled..], session).await? {
            None => session.handle_timeout(Instant::now()),
            Some(Ok(0)) => return Ok(Flow::Closed),
            Some(Ok(n)) => {
                filled += n;
                last_read = n;
                // Reads that fill the buffer: the peer is sending in bulk (message
                // content, a literal), so read in larger pieces.
                if filled == buf.len() && buf.len() < H::READ_BUFFER {
                    buf.resize((buf.len() * 2).min(H::READ_BUFFER), 0);
                }
            }
            Some(Err(e)) => return Err(e),
        }
    }
}

/// How a listener's connections get TLS.
pub(crate) struct Tls<'a> {
    /// The acceptor, if the listener has a certificate.
    pub(crate) acceptor: Option<&'a TlsAcceptor>,
    /// TLS from the first octet (465, 993, 995), rather than after STARTTLS.
    pub(crate) implicit: bool,
    /// The handshake's time limit.
    pub(crate) handshake_timeout: Duration,
}

/// Serves one connection: the session (built by `new_session(tls)`), over TLS from the
/// start or after the session asks for it. Every protocol's session goes through here.
pub(crate) async fn serve<S, H>(
    stream: TcpStream,
    tls: Tls<'_>,
    new_session: impl FnOnce(bool) -> S,
    handler: &mut H,
) -> io::Result<()>
where
    S: Session,
    H: Handler<S>,
{
    let result = async {
        if tls.implicit {
            let stream = tls_accept(&tls, stream).await?;
            let mut session = new_session(true);
            return drive_on(stream, &mut session, handler).await;
        }
        let mut stream = stream;
        let mut session = new_session(false);
        match drive(&mut stream, &mut session, handler).await? {
            Flow::Closed => Ok(()),
            Flow::Compress(pending) => {
                drive(&mut Deflate::new(stream, &pending), &mut session, handler).await.map(|_| ())
            }
            Flow::StartTls => {
                let stream = tls_accept(&tls, stream).await?;
                session.handle_tls_established(Instant::now());
                handler.on_tls_established();
                // A second STARTTLS is refused by the session itself.
                drive_on(stream, &mut session, handler).await
            }
        }
    }
    .await;
    handler.on_end();
    result
}

/// Drives the session over a stream that is already as secure as it gets (TLS, or plain
/// after the session ruled STARTTLS out), and through [`Deflate`] if it turns compression on.
async fn drive_on<S, H, IO>(mut stream: IO, session: &mut S, handler: &mut H) -> io::Result<()>
where
    S: Session,
    H: Handler<S>,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    match drive(&mut stream, session, handler).await? {
        Flow::Compress(pending) => drive(&mut Deflate::new(stream, &pending), session, handler).await.map(|_| ()),
        Flow::Closed | Flow::StartTls => Ok(()),
    }
}

/// Serves a session over a connection this server opened as the client, after the roles
/// reversed (ATRN's turn, RFC 2645): already as secure as it will be.
pub(crate) async fn serve_turned<S, H, IO>(stream: IO, session: &mut S, handler: &mut H) -> io::Result<()>
where
    S: Session,
    H: Handler<S>,
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let result = drive_on(stream, session, handler).await;
    handler.on_end();
    result
}

async fn tls_accept(tls: &Tls<'_>, stream: TcpStream) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    let acceptor = tls.acceptor.ok_or_else(|| io::Error::other("TLS without a certificate"))?;
    tokio::time::timeout(tls.handshake_timeout, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}
