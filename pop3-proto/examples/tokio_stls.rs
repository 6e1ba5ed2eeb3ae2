//! Both sides of POP3 over tokio, with STLS through tokio-rustls: a server with a maildrop of
//! one message on 127.0.0.1, and a client that upgrades, logs in, retrieves and deletes it.
//! Copy either half.
//!
//! ```text
//! cargo run -p sansmail-pop3-proto --example tokio_stls
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sansmail_pop3_proto::client::{ClientEvent, ClientSession};
use sansmail_pop3_proto::server::{Event, MessageInfo, ServerConfig, ServerSession};
use sansmail_pop3_proto::{Command, Secret, Verb};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const MESSAGE: &[u8] = b"Subject: hello\r\n\r\n.a line that starts with a dot\r\nbye\r\n";

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

/// The server: runs the session until it closes or asks for TLS (`Ok(true)`). `deleted`
/// collects what the client removed.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerSession,
    deleted: &mut Vec<usize>,
) -> Result<bool> {
    let mut buf = vec![0u8; 8 * 1024];
    let (mut taken, mut filled) = (0, 0);
    let mut out = Vec::new();
    loop {
        taken += session.handle_input(Instant::now(), &buf[taken..filled]);
        let mut starttls = false;
        while let Some(event) = session.poll_event() {
            match event {
                Event::StartTls => starttls = true,
                // The embedder's policy: one account, one message.
                Event::Login { user, password } if user == "alice" && password.expose() == "secret" => {
                    session.accept_login(&user, vec![MessageInfo { size: MESSAGE.len() as u64, uid: "m1".into() }])?
                }
                Event::Login { .. } => session.reject(None, "Invalid credentials")?,
                Event::Retrieve { .. } => {
                    session.message_data(MESSAGE)?;
                    session.message_end()?;
                }
                Event::Update { deleted: d } => {
                    *deleted = d;
                    session.accept()?;
                }
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
        // Keep what the session has not taken; read more behind it.
        buf.copy_within(taken..filled, 0);
        filled -= taken;
        taken = 0;
        match read_by(stream, &mut buf[filled..], session.poll_timeout()).await {
            None => session.handle_timeout(Instant::now()),
            Some(Ok(0)) => return Ok(false),
            Some(Ok(n)) => filled += n,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The client's script, one step per answered command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    Stls,
    Login,
    Retr,
    Quit,
}

/// The client: runs until the session closes or STLS was accepted (`Ok(true)`); `message`
/// collects what RETR brought.
async fn collect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ClientSession,
    step: &mut Step,
    message: &mut Vec<u8>,
) -> Result<bool> {
    let mut buf = vec![0u8; 8 * 1024];
    let mut out = Vec::new();
    let now = Instant::now;
    loop {
        let mut starttls = false;
        while let Some(event) = session.poll_event() {
            match (event, *step) {
                (ClientEvent::Greeting { ok: true, .. }, Step::Greeting) => {
                    session.send(now(), &Command::Stls)?;
                    *step = Step::Stls;
                }
                (ClientEvent::Response { verb: Verb::Stls, ok: true, .. }, Step::Stls) => starttls = true,
                (ClientEvent::Response { verb: Verb::User, ok: true, .. }, Step::Login) => {}
                (ClientEvent::Response { verb: Verb::Pass, ok: true, .. }, Step::Login) => {
                    // Pipelined: the session matches each response to its command.
                    session.send(now(), &Command::Retr { msg: 1 })?;
                    session.send(now(), &Command::Dele { msg: 1 })?;
                    *step = Step::Retr;
                }
                (ClientEvent::Data(piece), Step::Retr) => message.extend_from_slice(&piece),
                (ClientEvent::End, Step::Retr) => {}
                (ClientEvent::Response { verb: Verb::Retr, ok: true, .. }, Step::Retr) => {}
                (ClientEvent::Response { verb: Verb::Dele, ok: true, .. }, Step::Retr) => {
                    session.send(now(), &Command::Quit)?;
                    *step = Step::Quit;
                }
                (ClientEvent::Response { verb: Verb::Quit, ok: true, .. }, Step::Quit) => {
                    session.poll_transmit(&mut out);
                    stream.write_all(&out).await?;
                    return Ok(false);
                }
                (other, _) => return Err(format!("unexpected: {other:?}").into()),
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
            Some(Ok(0)) => return Err("the server closed the connection".into()),
            Some(Ok(n)) => {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let used = session.handle_input(Instant::now(), rest);
                    if used == 0 {
                        break;
                    }
                    rest = &rest[used..];
                }
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
        config.stls = true;
        let mut session = ServerSession::new(Arc::new(config), Instant::now(), false, None);
        let mut deleted = Vec::new();
        if serve(&mut tcp, &mut session, &mut deleted).await? {
            let mut tls = tokio_rustls::TlsAcceptor::from(Arc::new(tls_server)).accept(tcp).await?;
            session.handle_tls_established(Instant::now());
            serve(&mut tls, &mut session, &mut deleted).await?;
        }
        Result::Ok(deleted)
    });

    let mut session = ClientSession::new(Instant::now(), Duration::from_secs(60));
    let (mut step, mut message) = (Step::Greeting, Vec::new());
    let mut tcp = TcpStream::connect(addr).await?;
    if !collect(&mut tcp, &mut session, &mut step, &mut message).await? {
        return Err("the server did not offer STLS".into());
    }
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(tls_client)).connect(ServerName::try_from("localhost")?, tcp).await?;
    session.handle_tls_established();
    // Credentials only once the channel is private.
    session.send(Instant::now(), &Command::User { name: "alice" })?;
    session.send(Instant::now(), &Command::Pass { password: Secret::new("secret") })?;
    step = Step::Login;
    collect(&mut tls, &mut session, &mut step, &mut message).await?;

    let deleted = server.await??;
    println!("client retrieved {} octets over TLS; server removed {deleted:?}", message.len());
    if message != MESSAGE || deleted != [0] {
        return Err("the message did not arrive intact, or was not removed".into());
    }
    Ok(())
}

/// `cargo test` runs the example whole: STLS, login, RETR, DELE and QUIT.
#[test]
fn the_example_collects_over_stls() {
    assert!(main().is_ok());
}
