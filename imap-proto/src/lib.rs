//! Sans-IO IMAP ([RFC 3501](https://www.rfc-editor.org/rfc/rfc3501),
//! [RFC 9051](https://www.rfc-editor.org/rfc/rfc9051)) — in progress. What stands:
//!
//! - [`framing`]: commands framed into lines and literals before any parsing, with every
//!   limit enforced and over-size literals refused before a continuation is sent;
//! - [`command`]: the commands of RFC 3501 and the extensions, FETCH and SEARCH included;
//! - [`lex`]: the grammar's tokens (tags, atoms, quoted strings and literals, numbers,
//!   sequence sets, bounded nesting) read from a framed command, borrowing where it can;
//! - [`mutf7`]: modified UTF-7 mailbox names, decoded strictly;
//! - [`response`]: status responses with codes and the untagged data of those commands,
//!   each string in its tightest safe form.
//!
//! - [`server`]: the server session: states, login exchange, STARTTLS, IDLE, limits and
//!   autologout, every other command handed to the embedder after its state is checked.
//!
//! FETCH data (envelopes, body structures) and the client session come next.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
pub mod framing;
pub mod lex;
pub mod mutf7;
pub mod response;
pub mod server;

pub use command::{Body, Command, Mailbox, ParseError};
pub use framing::{Frame, Framer, FramingConfig, Refusal};
