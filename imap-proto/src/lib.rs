//! Sans-IO IMAP ([RFC 3501](https://www.rfc-editor.org/rfc/rfc3501) and the extensions
//! today's clients use): bytes in, typed events out; typed answers in, bytes out; time
//! passed in. No sockets, no clock, no filesystem: whether a password is right or a
//! mailbox exists is always the embedder's answer.
//!
//! - [`framing`]: commands framed into lines and literals before any parsing, with every
//!   limit enforced, over-size literals refused before a continuation is sent, and large
//!   ones taken as a stream of pieces when the embedder asks;
//! - [`command`]: the commands of RFC 3501 and the extensions (IDLE, UIDPLUS, MOVE,
//!   LITERAL+/-, NAMESPACE, ID, ENABLE, SPECIAL-USE and CREATE-SPECIAL-USE, UNSELECT,
//!   LIST-EXTENDED and LIST-STATUS, ESEARCH, BINARY, SORT/ESORT, THREAD, QUOTA,
//!   MULTIAPPEND, CONDSTORE and QRESYNC, CONTEXT=SEARCH/SORT, SEARCHRES, COMPRESS, and
//!   IMAP4rev2's grammar), FETCH and SEARCH included;
//! - [`lex`]: the grammar's tokens (tags, atoms, quoted strings and literals, numbers,
//!   sequence sets, bounded nesting) read from a framed command, borrowing where it can;
//! - [`mutf7`]: modified UTF-7 mailbox names, decoded strictly;
//! - [`response`]: status responses with codes, untagged data, and FETCH data (envelopes,
//!   body structures, sections), each string in its tightest safe form;
//! - [`server`]: the server session: states, login exchange, STARTTLS, COMPRESS, ENABLE,
//!   IDLE, APPEND messages streamed to the embedder, limits and autologout, every other
//!   command handed to the embedder after its state is checked.
//!
//! A server session, driven by hand:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! use sansmail_imap_proto::response::Status;
//! use sansmail_imap_proto::server::{Event, ServerConfig, ServerSession};
//! use sansmail_imap_proto::Body;
//!
//! let mut config = ServerConfig::default();
//! config.plaintext_without_tls = true; // for the example; a server leaves it off
//! config.extensions = vec!["UNSELECT".into()]; // what the embedder implements
//! let config = Arc::new(config);
//! let mut session = ServerSession::new(config, Instant::now(), false);
//! let mut wire = Vec::new();
//! session.poll_transmit(&mut wire); // the greeting
//! assert!(wire.starts_with(b"* OK [CAPABILITY IMAP4rev1"));
//!
//! let input = b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n";
//! let used = session.handle_input(Instant::now(), input);
//! // A decision: the embedder checks the password.
//! let Some(Event::Login { user, .. }) = session.poll_event() else { panic!() };
//! assert_eq!(user, "alice");
//! session.accept_login("alice").unwrap();
//! // One command at a time: what the session did not take is offered again.
//! let _ = session.handle_input(Instant::now(), &input[used..]);
//! // The next command, checked against the state, for the embedder to run.
//! let Some(Event::Command(request)) = session.poll_event() else { panic!() };
//! assert!(matches!(request.command().body, Body::Select { .. }));
//! session.output().extend_from_slice(b"* 0 EXISTS\r\n");
//! session.complete(Status::Ok, None, "SELECT completed").unwrap();
//!
//! wire.clear();
//! session.poll_transmit(&mut wire);
//! let text = String::from_utf8(wire).unwrap();
//! assert!(text.starts_with("a1 OK [CAPABILITY"));
//! assert!(text.ends_with("* 0 EXISTS\r\na2 OK SELECT completed\r\n"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod atom;
pub use atom::{Flag, InvalidAtom, Tag};
/// Passwords and SASL data (`Debug` redacted) and the SASL mechanism names: one type of each
/// across the SMTP, POP3 and IMAP crates.
pub use sansmail_smtp_proto::{Mechanism, Secret};

pub mod client;
pub mod command;
pub mod datetime;
pub mod framing;
pub mod lex;
pub mod mutf7;
pub mod response;
pub mod sequence;
pub mod server;

pub use command::{Body, Command, Mailbox, ParseError};
pub use framing::{Frame, Framer, FramingConfig, Refusal};
