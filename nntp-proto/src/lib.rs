//! Sans-IO NNTP ([RFC 3977](https://www.rfc-editor.org/rfc/rfc3977)) for news readers,
//! servers and feeds, with AUTHINFO ([RFC 4643](https://www.rfc-editor.org/rfc/rfc4643)),
//! STARTTLS ([RFC 4642](https://www.rfc-editor.org/rfc/rfc4642)), streaming feeds
//! ([RFC 4644](https://www.rfc-editor.org/rfc/rfc4644)), LIST COUNTS
//! ([RFC 6048](https://www.rfc-editor.org/rfc/rfc6048)) and the RFC 2980 forms readers still
//! send (XOVER, XHDR, XPAT).
//!
//! Bytes in, typed values out; typed values in, bytes out. The crate never touches a socket,
//! a clock or a file, and never decides policy.
//!
//! - [`Command`]: commands parsed from a line and encoded back, refusing any value that
//!   would break the line;
//! - [`Response`]: status lines both ways, and [`response::has_block`] for the responses a
//!   multi-line block follows;
//! - [`wildmat`]: RFC 3977 §4 patterns, matched in bounded time;
//! - [`overview`]: OVER and HDR lines whose fields no header can break;
//! - [`multiline`]: dot-stuffed blocks, streamed both ways;
//! - [`server::ServerSession`] and [`client::ClientSession`]: the two state machines.
//!
//! ```
//! use sansmail_nntp_proto::{Command, Response, wildmat::Wildmat};
//! use sansmail_nntp_proto::command::ArticleRef;
//!
//! let cmd = Command::parse_line(b"ARTICLE <45223423@example.com>").unwrap();
//! assert_eq!(cmd, Command::Article(Some(ArticleRef::MessageId("<45223423@example.com>"))));
//! let mut out = Vec::new();
//! cmd.encode(&mut out).unwrap();
//! assert_eq!(out, b"ARTICLE <45223423@example.com>\r\n");
//!
//! let groups = Wildmat::parse("comp.*,!comp.lang.*").unwrap();
//! assert!(groups.matches("comp.os.linux") && !groups.matches("comp.lang.rust"));
//!
//! let status = Response::parse(b"211 3 1 3 misc.test").unwrap();
//! assert_eq!(status.code, 211);
//! ```

pub mod client;
pub mod command;
pub mod multiline;
pub mod overview;
pub mod response;
pub mod server;
pub mod wildmat;

pub use command::{Command, CommandError, EncodeError, Keyword};
pub use response::{Response, ResponseError};
pub use sansmail_smtp_proto::{Mechanism, Secret};
