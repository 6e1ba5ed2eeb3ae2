//! Multi-line blocks ([RFC 3977 §3.1.1](https://www.rfc-editor.org/rfc/rfc3977#section-3.1.1)):
//! lines starting with `.` are dot-stuffed and `.` CRLF ends the block. That is SMTP's DATA
//! framing, so the codec is `sansmail-smtp-proto`'s, streamed both ways: a server encodes an
//! article as it reads it, a client (or a server taking POST, IHAVE or TAKETHIS) decodes one
//! as it arrives, and neither holds a whole article.

pub use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder as Decoder, DataEncoder as Encoder, Decoded};
