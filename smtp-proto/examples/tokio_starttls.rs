//! Both sides of SMTP over tokio, with STARTTLS through tokio-rustls: a server that accepts
//! one message on 127.0.0.1 and a client that sends it. Copy either half.
//!
//! ```text
//! cargo run -p sansmail-smtp-proto --example tokio_starttls
//! ```
//!
//! The pump loop is the same on both sides: give the session what was read, answer its
//! events, write what it queued, wait for input or its deadline. The only protocol-specific
//! step is the STARTTLS event: write the pending output, run the handshake, tell the
//! session.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sansmail_smtp_proto::client::{ClientConfig, ClientEvent, ClientSession, Envelope, TlsPolicy};
use sansmail_smtp_proto::server::{Event, ServerConfig, ServerSession};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Reads with the session's deadline; `None` when it passed.
async fn read_by<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Option<std::io::Result<usize>> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), s.read(buf)).await.ok(),
        None => Some(s.read(buf).await),
    }
}

/// The server: runs one session; returns the message it accepted.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerSession,
    message: &mut Vec<u8>,
) -> Result<bool> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    let mut input = 0;
    loop {
        let mut taken = 0;
        let mut starttls = false;
        loop {
            let step = session.handle_input(Instant::now(), &buf[taken..input]);
            taken += step;
            let mut events = 0;
            while let Some(event) = session.poll_event() {
                events += 1;
                match event {
                    Event::StartTls => starttls = true,
                    Event::MessageData(chunk) => message.extend_from_slice(&chunk),
                    // Policy lives here: this example accepts every decision.
                    e if e.is_decision() => session.accept()?,
                    _ => {}
                }
            }
            if taken == input || starttls || (step == 0 && events == 0) {
                break;
            }
        }
        session.poll_transmit(&mut out);
        stream.write_all(&out).await?;
        out.clear();
        if starttls {
            return Ok(true); // the caller runs the handshake and calls again
        }
        if session.is_closed() {
            return Ok(false);
        }
        match read_by(stream, &mut buf, session.poll_timeout()).await {
            None => {
                session.handle_timeout(Instant::now());
                input = 0;
            }
            Some(Ok(0)) => return Ok(false), // the client went away
            Some(Ok(n)) => input = n,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The client: runs one session until it closes or asks for TLS; returns whether it did.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ClientSession,
    body: &[u8],
    done: &mut Option<String>,
) -> Result<bool> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        let mut starttls = false;
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::StartTls => starttls = true,
                ClientEvent::ReadyForBody => {
                    // The session takes the body a bounded piece at a time.
                    let mut rest = body;
                    while !rest.is_empty() {
                        rest = &rest[session.write_body(rest)?..];
                        session.poll_transmit(&mut out);
                        stream.write_all(&out).await?;
                        out.clear();
                    }
                    session.finish_body(Instant::now())?;
                }
                ClientEvent::Done(result) => *done = Some(result?.to_string()),
                _ => {}
            }
        }
        session.poll_transmit(&mut out);
        stream.write_all(&out).await?;
        out.clear();
        if starttls {
            return Ok(true);
        }
        if session.is_closed() {
            return Ok(false);
        }
        match read_by(stream, &mut buf, session.poll_timeout()).await {
            None => session.handle_timeout(Instant::now()),
            Some(Ok(0)) => session.handle_eof(),
            Some(Ok(n)) => {
                let _ = session.handle_input(Instant::now(), &buf[..n]);
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    // A certificate for "localhost", made on the spot; a real server loads its own.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone())?;
    let tls_client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;

    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await?;
        let mut config = ServerConfig::new("localhost");
        config.extensions.starttls = true;
        let mut session = ServerSession::new(Arc::new(config), Instant::now(), false);
        let mut message = Vec::new();
        if serve(&mut tcp, &mut session, &mut message).await? {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_server));
            let mut tls = acceptor.accept(tcp).await?;
            session.handle_tls_established(Instant::now());
            serve(&mut tls, &mut session, &mut message).await?;
        }
        Result::Ok(message)
    });

    let mut config = ClientConfig::new("client.localhost");
    config.tls = TlsPolicy::Required;
    let envelope = Envelope::new("alice@example.org", &["bob@example.net"])?;
    let mut session = ClientSession::new(config, envelope, Instant::now(), false)?;
    let body = b"Subject: hello\r\n\r\n.a line that starts with a dot\r\nbye\r\n";
    let mut done = None;
    let mut tcp = TcpStream::connect(addr).await?;
    if send(&mut tcp, &mut session, body, &mut done).await? {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_client));
        let mut tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
        session.handle_tls_established(Instant::now());
        send(&mut tls, &mut session, body, &mut done).await?;
    }

    let received = server.await??;
    println!("client: {}", done.as_deref().unwrap_or("no result"));
    println!("server received {} octets over TLS", received.len());
    if received != body || done.is_none() {
        return Err("the message did not arrive intact".into());
    }
    Ok(())
}

/// `cargo test` runs the example whole: a message crosses STARTTLS intact.
#[test]
fn the_example_delivers_over_starttls() {
    assert!(main().is_ok());
}
