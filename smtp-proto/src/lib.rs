//! Sans-IO SMTP ([RFC 5321](https://www.rfc-editor.org/rfc/rfc5321)) for servers and clients.
//!
//! Bytes in, typed events out; typed answers in, bytes out; time passed in. The crate
//! never touches a socket, a clock or a file, and never decides policy: whether a sender
//! may relay, whether a password is right, where a message goes — each is an [`server::Event`]
//! that waits for the embedder's answer.
//!
//! ```text
//!  socket ──bytes──► handle_input ─┐                ┌─► poll_event ──► policy / store
//!                                  ▼                │         │
//!                          ┌────────────────┐       │         ▼
//!                          │ ServerSession  │───────┘   accept / reject
//!                          └────────────────┘◄────────────────┘
//!  socket ◄──bytes── poll_transmit ◄┘
//! ```
//!
//! - [`Command`] / [`Reply`]: zero-copy parsers and validating encoders of the wire grammar,
//!   including [EHLO capabilities](EhloReply) and MAIL/RCPT parameters.
//! - [`data`]: DATA content decoding that ends only on `<CRLF>.<CRLF>` (SMTP-smuggling safe),
//!   and the dot-stuffing encoder.
//! - [`server::ServerSession`] and [`client::ClientSession`]: the two state machines.
//!
//! A server pump loop, with the socket replaced by byte slices:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use sansmail_smtp_proto::server::{Event, ServerConfig, ServerSession};
//!
//! let now = Instant::now();
//! let mut session = ServerSession::new(Arc::new(ServerConfig::default()), now, false);
//! let mut wire = Vec::new();
//! let client = b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n\
//!                DATA\r\nSubject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n";
//! let mut input = &client[..];
//! let mut message = Vec::new();
//! loop {
//!     let used = session.handle_input(now, input);
//!     input = &input[used..];
//!     while let Some(event) = session.poll_event() {
//!         match event {
//!             Event::MessageData(chunk) => message.extend_from_slice(&chunk),
//!             Event::Close => {}
//!             // A real server checks policy here and stores the message before accepting.
//!             _ if session.is_waiting() => session.accept().unwrap(),
//!             _ => {}
//!         }
//!     }
//!     session.poll_transmit(&mut wire);
//!     if input.is_empty() || session.is_closed() {
//!         break;
//!     }
//! }
//! assert_eq!(message, b"Subject: hi\r\n\r\nHello\r\n");
//! assert!(wire.ends_with(b"221 2.0.0 localhost Service closing transmission channel\r\n"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
mod auth;
mod block;
mod class;
pub mod client;
pub mod command;
pub mod data;
pub mod reply;
mod secret;
pub mod server;
mod status;

pub use address::{Domain, ForwardPath, Mailbox, ReversePath};
pub use auth::Mechanism;
/// The `bytes` crate, whose `Bytes` carries message content in [`server::Event::MessageData`].
pub use bytes;
pub use command::{Command, CommandError};
pub use reply::{Capability, EhloReply, EnhancedCode, InvalidReply, Reply, ReplyCode, ReplyError};
pub use secret::Secret;
pub use status::Status;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
