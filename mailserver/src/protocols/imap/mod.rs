//! The IMAP driver: moves bytes between a socket and `imap-proto`'s [`ServerSession`],
//! answers its decisions (logins through the shared SASL and throttling of
//! [`crate::identity::login`], APPEND's literal against the quota) and runs the commands over the
//! user's Maildir ([`store`], [`commands`]). While a client IDLEs, the driver waits on the
//! socket and on the selected folder's change counter ([`crate::store::changes`]: delivery,
//! POP3, other IMAP sessions and outside writers bump it), so nothing runs for an idle
//! session until its folder changes.

mod append;
pub(crate) mod commands;
mod condstore;
mod context;
pub(crate) mod fetch;
mod flags;
pub(crate) mod folders;
mod index;
pub(crate) mod message;
mod reencode;
pub(crate) mod search;
pub(crate) mod selected;
mod sort;
pub(crate) mod store;
mod thread;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sansmail_imap_proto::response::{Code, Status};
use sansmail_imap_proto::server::{Event, ServerSession};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::identity::login::{Login, Outcome};
use crate::protocols::Shared;

use self::commands::Selected;
use super::driver::{Handler, Wire};

/// One IMAP client connection.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    peer: SocketAddr,
    login: Login,
    /// The logged-in mailbox (`local@domain`) and its Maildir.
    pub(crate) user: Option<(String, PathBuf)>,
    pub(crate) selected: Option<Selected>,
    /// A FETCH stopped after a batch: how many of its messages are done...
    pub(crate) fetch_more: Option<usize>,
    /// ...and the command, run again once the batch is written.
    pub(crate) resume: Option<sansmail_imap_proto::server::Request>,
    /// A message's content to write from its file before the FETCH goes on.
    pub(crate) streaming: Option<fetch::Streaming>,
    /// The FETCH under way met a message expunged by another session (it ends
    /// `NO [EXPUNGEISSUED]`).
    pub(crate) fetch_vanished: bool,
    /// IMAP4rev2 is on: mailbox names are shown in UTF-8 (RFC 9051 §5.1).
    pub(crate) utf8_names: bool,
    /// An APPEND's messages, each written as it arrives (several with MULTIAPPEND), kept
    /// unpublished until the command ends.
    appending: Vec<append::Appending>,
    /// Commands run, for the session log line.
    pub(crate) commands: usize,
}

impl Handler<ServerSession> for Connection {
    async fn on_event<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        event: Event,
        session: &mut ServerSession,
        wire: &mut Wire<'_, IO>,
    ) -> io::Result<()> {
        self.answer(event, session).await;
        // A long FETCH goes out a batch at a time, a large message's content from its file.
        while let Some(request) = self.resume.take() {
            wire.send(session).await?;
            if let Some(streaming) = self.streaming.take() {
                stream(wire, streaming).await?;
            }
            tokio::task::block_in_place(|| commands::run(self, request, session));
        }
        // Large FETCH responses go out as they are made.
        if session.output().len() > 256 * 1024 {
            wire.send(session).await?;
        }
        Ok(())
    }

    async fn read<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &mut Wire<'_, IO>,
        buf: &mut [u8],
        session: &mut ServerSession,
    ) -> io::Result<Option<io::Result<usize>>> {
        if !session.is_idling() {
            return Ok(wire.read(buf, session).await);
        }
        self.idle_read(wire, buf, session).await
    }
}

/// Writes a streamed literal's octets from the file, 64 KiB at a time, then the end of its
/// FETCH response. A file shorter than announced (it cannot be: Maildir files are never
/// rewritten) ends the connection rather than the protocol's framing.
async fn stream<IO: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, IO>,
    mut streaming: fetch::Streaming,
) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut piece = vec![0u8; 64 * 1024];
    tokio::task::block_in_place(|| streaming.file.seek(SeekFrom::Start(streaming.offset)))?;
    let mut left = streaming.len;
    while left > 0 {
        let want = piece.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = tokio::task::block_in_place(|| streaming.file.read(&mut piece[..want]))?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "message file shorter than announced"));
        }
        wire.write_raw(&piece[..n], false).await?;
        left -= n as u64;
    }
    wire.write_raw(sansmail_imap_proto::response::FETCH_STREAMED_END, true).await
}

impl Connection {
    pub(crate) fn new(shared: Arc<Shared>, peer: SocketAddr) -> Self {
        let login = Login::new(shared.identity.clone(), peer.ip());
        Self {
            shared,
            peer,
            login,
            user: None,
            selected: None,
            fetch_more: None,
            resume: None,
            streaming: None,
            fetch_vanished: false,
            utf8_names: false,
            appending: Vec::new(),
            commands: 0,
        }
    }

    /// A read while the client IDLEs: folder changes are written as they happen.
    async fn idle_read<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &mut Wire<'_, IO>,
        buf: &mut [u8],
        session: &mut ServerSession,
    ) -> io::Result<Option<io::Result<usize>>> {
        let deadline = session.poll_timeout();
        let mut changes = self.selected.as_ref().map(Selected::watch);
        loop {
            let tick = async {
                match changes.as_mut() {
                    // A closed channel cannot happen while the folder is held; wait on
                    // the socket alone then.
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = crate::net::read_by(wire.stream, buf, deadline) => return Ok(read),
                () = tick => {
                    if let Some(sel) = self.selected.as_mut() {
                        tokio::task::block_in_place(|| sel.updates(session.output(), true));
                    }
                    wire.send(session).await?;
                }
            }
        }
    }

    /// Answers one event (each right after it is polled, so the API-misuse results cannot
    /// happen and are ignored).
    async fn answer(&mut self, event: Event, session: &mut ServerSession) {
        match event {
            Event::Login { user, password } => {
                let outcome = self.login.password(&user, password.into_inner()).await;
                self.outcome(outcome, session).await;
            }
            Event::AuthStart { mechanism, initial_response } => {
                match self.login.start(&mechanism, initial_response.map(sansmail_imap_proto::Secret::into_inner)).await
                {
                    Some(outcome) => self.outcome(outcome, session).await,
                    None => {
                        let _ = session.reject_login(Some(Code::Cannot), "Unsupported mechanism");
                    }
                }
            }
            Event::AuthResponse(response) => {
                let outcome = self.login.respond(&response).await;
                self.outcome(outcome, session).await;
            }
            Event::AppendLiteral { size } => {
                let full = self.user.as_ref().is_some_and(|(u, _)| self.shared.quotas.would_overflow(u, size));
                let _ = if full {
                    session.refuse_literal(Some(Code::OverQuota), "Mailbox quota exceeded")
                } else {
                    session.accept_literal()
                };
            }
            Event::AppendStart { request, size } => {
                self.commands += 1;
                // A further message of a MULTIAPPEND: the one before is whole; sync and close it.
                if let Some(before) = self.appending.last_mut() {
                    let _ = tokio::task::block_in_place(|| before.prepare());
                }
                let started = if self.appending.len() >= append::MAX_MESSAGES {
                    Err(commands::no(Some(Code::Limit), "Too many messages in one APPEND"))
                } else {
                    // IMAP4rev2's UTF-8 mailbox name, as the store names folders.
                    let converted = session
                        .is_enabled("IMAP4rev2")
                        .then(|| commands::stored_names(&request.command().body))
                        .flatten();
                    let body = converted.as_ref().unwrap_or(&request.command().body);
                    tokio::task::block_in_place(|| append::start(self, body, size))
                };
                let _ = match started {
                    Ok(appending) => {
                        self.appending.push(appending);
                        session.accept_literal()
                    }
                    Err(commands::Done(_, code, text)) => {
                        // Refusing one message refuses the whole APPEND (RFC 3502).
                        self.appending.clear();
                        session.refuse_literal(code, &text)
                    }
                };
            }
            Event::AppendData(data) => {
                if let Some(appending) = self.appending.last_mut() {
                    tokio::task::block_in_place(|| appending.write(&data));
                }
            }
            Event::AppendEnd => {
                let messages = std::mem::take(&mut self.appending);
                let done = if messages.is_empty() {
                    commands::no(None, "No message")
                } else {
                    tokio::task::block_in_place(|| append::finish(self, messages))
                };
                if let Some(sel) = self.selected.as_mut() {
                    tokio::task::block_in_place(|| sel.updates(session.output(), true));
                }
                let commands::Done(status, code, text) = done;
                let _ = session.complete(status, code, &text);
            }
            Event::AppendAborted => self.appending.clear(),
            Event::Command(request) => {
                self.commands += 1;
                tokio::task::block_in_place(|| commands::run(self, request, session));
            }
            Event::IdleDone => {
                if let Some(sel) = self.selected.as_mut() {
                    tokio::task::block_in_place(|| sel.updates(session.output(), true));
                }
                let _ = session.complete(Status::Ok, None, "IDLE terminated");
            }
            _ => {}
        }
    }

    /// Answers a login step in IMAP terms (RFC 5530 codes).
    async fn outcome(&mut self, outcome: Outcome, session: &mut ServerSession) {
        let _ = match outcome {
            Outcome::Challenge(c) => session.auth_challenge(&c),
            Outcome::Success(user) => {
                let maildir = self.shared.mailboxes.maildir(&user);
                let dir = maildir.clone();
                let ready = tokio::task::spawn_blocking(move || store::ensure_special_use(&dir)).await;
                if let Ok(Err(e)) | Err(e) = ready.map_err(io::Error::other) {
                    tracing::warn!(user = %user, error = %e, "cannot prepare the IMAP folders");
                    let _ = session.reject_login(Some(Code::Unavailable), "Mailbox unavailable, try again later");
                    return;
                }
                self.shared.identity.logins.record(self.peer.ip());
                tracing::info!(client = %self.peer.ip(), user = %user, "IMAP login");
                let r = session.accept_login(&user);
                self.user = Some((user, maildir));
                r
            }
            Outcome::Failed => session.reject_login(Some(Code::AuthenticationFailed), "Authentication failed"),
            Outcome::Blocked => session.reject_login(Some(Code::Unavailable), "Too many failures, try again later"),
            Outcome::NowBlocked => {
                let _ = session.reject_login(Some(Code::Unavailable), "Too many failures, try again later");
                session.bye("Too many failures");
                Ok(())
            }
            Outcome::Malformed => session.reject_login(None, "Malformed authentication response"),
        };
    }
}
