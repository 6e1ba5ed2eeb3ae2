//! An IMAP server over tokio with STARTTLS through tokio-rustls: one account, an INBOX of
//! one message, SELECT and FETCH answered by the embedder, on 127.0.0.1. The client half is
//! a short script of command lines (this crate has no client session yet); it upgrades,
//! logs in, fetches the message and logs out. Copy the server half.
//!
//! ```text
//! cargo run -p sansmail-imap-proto --example tokio_starttls
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sansmail_imap_proto::command::{Body, FetchAttr, Mailbox};
use sansmail_imap_proto::response::{Code, Data, FetchItem, Status, StatusResponse};
use sansmail_imap_proto::server::{Event, Request, ServerConfig, ServerSession};
use sansmail_imap_proto::{Flag, sequence};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const MESSAGE: &[u8] = b"Subject: hello\r\n\r\nA line.\r\n";

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

/// The embedder's part of one command: untagged data into `session.output()`, then the
/// tagged status. The mailbox is one message, UID 1, UIDVALIDITY 1.
fn run(request: &Request, session: &mut ServerSession) -> Result<()> {
    let out = session.output();
    let (status, code, text) = match &request.command().body {
        Body::Select { mailbox: Mailbox::Inbox, .. } | Body::Examine { mailbox: Mailbox::Inbox, .. } => {
            Data::Flags(vec![Flag::SEEN, Flag::DELETED]).encode(out);
            Data::Exists(1).encode(out);
            Data::Recent(0).encode(out);
            let validity = Code::UidValidity(1);
            StatusResponse { tag: None, status: Status::Ok, code: Some(&validity), text: "UIDs valid" }.encode(out);
            (Status::Ok, Some(Code::ReadWrite), "SELECT completed")
        }
        Body::Select { .. } | Body::Examine { .. } => (Status::No, Some(Code::Nonexistent), "No such mailbox"),
        Body::Fetch { set, attributes, .. } => {
            // Message numbers and UIDs are both 1 here; a real store maps each.
            for seq in sequence::numbers(set, 1) {
                let mut items = Vec::new();
                for attr in attributes {
                    match attr {
                        FetchAttr::Uid => items.push(FetchItem::Uid(1)),
                        FetchAttr::Rfc822Size => items.push(FetchItem::Rfc822Size(MESSAGE.len() as u64)),
                        FetchAttr::BodySection { section, partial, .. } if section.part.is_empty() => {
                            let data = partial.map_or(MESSAGE, |p| p.slice(MESSAGE));
                            let origin = partial.map(|p| p.start);
                            items.push(FetchItem::Section {
                                section: section.clone(),
                                origin,
                                data: Some(data.into()),
                            });
                        }
                        _ => {}
                    }
                }
                Data::Fetch { seq, items: &items }.encode(out);
            }
            (Status::Ok, None, "FETCH completed")
        }
        _ => (Status::No, Some(Code::Cannot), "Not in this example"),
    };
    session.complete(status, code, text)?;
    Ok(())
}

/// The server: runs the session until it closes or asks for TLS (`Ok(true)`).
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, session: &mut ServerSession) -> Result<bool> {
    let mut buf = vec![0u8; 8 * 1024];
    let (mut taken, mut filled) = (0, 0);
    let mut out = Vec::new();
    loop {
        // One command at a time: the session takes input up to the command it hands over.
        loop {
            let used = session.handle_input(Instant::now(), &buf[taken..filled]);
            taken += used;
            let mut starttls = false;
            let mut answered = false;
            while let Some(event) = session.poll_event() {
                answered = true;
                match event {
                    Event::StartTls => starttls = true,
                    // The embedder's policy: one account.
                    Event::Login { user, password } if user == "alice" && password.expose() == "secret" => {
                        session.accept_login(&user)?
                    }
                    Event::Login { .. } => session.reject_login(None, "Invalid credentials")?,
                    Event::AuthStart { .. } => session.reject_login(Some(Code::Cannot), "Use LOGIN")?,
                    Event::Command(request) => run(&request, session)?,
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
            if used == 0 && !answered {
                break;
            }
        }
        // Keep what the session has not taken; read more behind it.
        buf.copy_within(taken..filled, 0);
        filled -= taken;
        taken = 0;
        if filled == buf.len() {
            return Err("the session took nothing from a full buffer".into());
        }
        match read_by(stream, &mut buf[filled..], session.poll_timeout()).await {
            None => session.handle_timeout(Instant::now()),
            Some(Ok(0)) => return Ok(false),
            Some(Ok(n)) => filled += n,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The client's script: sends `command`, then reads lines (and the literals they announce)
/// up to the one tagged with `tag`; returns all of it.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    tag: &str,
    command: &str,
) -> Result<String> {
    stream.get_mut().write_all(format!("{tag} {command}\r\n").as_bytes()).await?;
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Err("the server closed the connection".into());
        }
        seen.push_str(&line);
        // A line ending in {n} is followed by n octets of literal.
        if let Some(n) = line.trim_end().strip_suffix('}').and_then(|l| l.rsplit_once('{')).map(|(_, n)| n) {
            let mut literal = vec![0u8; n.parse()?];
            stream.read_exact(&mut literal).await?;
            seen.push_str(&String::from_utf8_lossy(&literal));
            continue;
        }
        if line.starts_with(&format!("{tag} ")) {
            return Ok(seen);
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
        let mut config = ServerConfig::default();
        config.starttls = true;
        // No SASL mechanism by default: an embedder lists those it verifies
        // (`config.mechanisms`); this one takes LOGIN only, and only under TLS.
        let mut session = ServerSession::new(Arc::new(config), Instant::now(), false);
        if serve(&mut tcp, &mut session).await? {
            let mut tls = tokio_rustls::TlsAcceptor::from(Arc::new(tls_server)).accept(tcp).await?;
            session.handle_tls_established(Instant::now());
            serve(&mut tls, &mut session).await?;
        }
        Result::Ok(())
    });

    let mut plain = BufReader::new(TcpStream::connect(addr).await?);
    let mut greeting = String::new();
    plain.read_line(&mut greeting).await?;
    if !greeting.contains("STARTTLS") || !greeting.contains("LOGINDISABLED") {
        return Err(format!("no STARTTLS, or LOGIN allowed in the clear: {greeting}").into());
    }
    exchange(&mut plain, "a", "STARTTLS").await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_client))
        .connect(ServerName::try_from("localhost")?, plain.into_inner())
        .await?;
    let mut tls = BufReader::new(tls);
    // Credentials only once the channel is private.
    let login = exchange(&mut tls, "b", "LOGIN alice secret").await?;
    let select = exchange(&mut tls, "c", "SELECT INBOX").await?;
    let fetch = exchange(&mut tls, "d", "UID FETCH 1 (RFC822.SIZE BODY.PEEK[])").await?;
    let logout = exchange(&mut tls, "e", "LOGOUT").await?;
    server.await??;

    print!("{login}{select}{fetch}{logout}");
    let expected = format!("* 1 FETCH (UID 1 RFC822.SIZE {} BODY[] {{{}}}\r\n", MESSAGE.len(), MESSAGE.len());
    if !login.starts_with("b OK")
        || !select.contains("* 1 EXISTS")
        || !fetch.contains(&expected)
        || !fetch.contains(&String::from_utf8_lossy(MESSAGE).into_owned())
        || !logout.contains("* BYE")
    {
        return Err("the session did not run as scripted".into());
    }
    Ok(())
}

/// `cargo test` runs the example whole: STARTTLS, LOGIN, SELECT, UID FETCH and LOGOUT.
#[test]
fn the_example_fetches_over_starttls() {
    assert!(main().is_ok());
}
