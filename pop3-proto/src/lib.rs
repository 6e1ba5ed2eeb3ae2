//! Sans-IO POP3 ([RFC 1939](https://www.rfc-editor.org/rfc/rfc1939)) for servers and clients,
//! with CAPA and response codes ([RFC 2449](https://www.rfc-editor.org/rfc/rfc2449)), STLS
//! ([RFC 2595](https://www.rfc-editor.org/rfc/rfc2595)), SASL AUTH
//! ([RFC 5034](https://www.rfc-editor.org/rfc/rfc5034)) and UTF8
//! ([RFC 6856](https://www.rfc-editor.org/rfc/rfc6856)).
//!
//! Bytes in, typed events out; typed answers in, bytes out; time passed in. The crate never
//! touches a socket, a clock or a file, and never decides policy: whether a password is
//! right or a maildrop is free is an [`server::Event`] that waits for the embedder's answer.
//!
//! - [`Command`] / [`Response`]: parsers and validating encoders of the wire grammar.
//! - [`multiline`]: the byte-stuffed multi-line framing, streamed both ways.
//! - [`server::ServerSession`] and [`client::ClientSession`]: the two state machines.
//!
//! A server pump loop, with the socket replaced by byte slices:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use sansmail_pop3_proto::server::{Event, MessageInfo, ServerConfig, ServerSession};
//!
//! let now = Instant::now();
//! let mut config = ServerConfig::new("pop.example");
//! config.plaintext_without_tls = true; // for the example; a server leaves it off
//! let mut session = ServerSession::new(Arc::new(config), now, false, None);
//! let message = b"Subject: hi\r\n\r\n.dot\r\n";
//! let mut input = &b"USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n"[..];
//! let mut wire = Vec::new();
//! let mut removed = Vec::new();
//! while !session.is_closed() {
//!     let used = session.handle_input(now, input);
//!     input = &input[used..];
//!     while let Some(event) = session.poll_event() {
//!         match event {
//!             // A real server checks the password and locks the maildrop here.
//!             Event::Login { user, .. } => {
//!                 let drop = vec![MessageInfo { size: message.len() as u64, uid: "m1".into() }];
//!                 session.accept_login(&user, drop).unwrap();
//!             }
//!             Event::Retrieve { .. } => {
//!                 session.message_data(message).unwrap();
//!                 session.message_end().unwrap();
//!             }
//!             Event::Update { deleted } => {
//!                 removed = deleted;
//!                 session.accept().unwrap();
//!             }
//!             _ => {}
//!         }
//!     }
//!     session.poll_transmit(&mut wire);
//! }
//! assert_eq!(removed, [0]);
//! let wire = String::from_utf8(wire).unwrap();
//! assert!(wire.contains("+OK 21 octets\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod command;
pub mod multiline;
pub mod response;
pub mod server;

pub use command::{Command, CommandError, Secret, Verb};
pub use response::{Capability, Response, ResponseCode, ServerLine};
/// The SASL mechanism names (RFC 4422), one type across the SMTP, POP3 and IMAP crates.
pub use sansmail_smtp_proto::Mechanism;
/// The outcome of parsing a prefix of a stream (shared with `sansmail-smtp-proto`).
pub use sansmail_smtp_proto::Status;
