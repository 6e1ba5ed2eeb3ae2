//! Responses ([RFC 3977 §3.2](https://www.rfc-editor.org/rfc/rfc3977#section-3.2)): a status
//! line, three digits and text, and for some of them a multi-line block after it
//! ([`has_block`]), framed by [`crate::multiline`]. [`Response::parse`] reads a status line
//! (a client); [`Response::encode`] writes one (a server), with text that cannot end the line
//! or start another.

use std::fmt;

use crate::command::Keyword;

/// Longest status line a client reads, CRLF included (RFC 3977 §3.1: 512).
pub const MAX_RESPONSE_LINE: usize = 512;

/// The status codes of RFC 3977 and its extensions, by name.
#[allow(missing_docs)]
pub mod code {
    pub const HELP: u16 = 100;
    pub const CAPABILITIES: u16 = 101;
    pub const DATE: u16 = 111;
    pub const POSTING_ALLOWED: u16 = 200;
    pub const NO_POSTING: u16 = 201;
    pub const STREAMING_OK: u16 = 203;
    pub const CLOSING: u16 = 205;
    pub const GROUP_SELECTED: u16 = 211;
    pub const LIST_FOLLOWS: u16 = 215;
    pub const ARTICLE_FOLLOWS: u16 = 220;
    pub const HEAD_FOLLOWS: u16 = 221;
    pub const BODY_FOLLOWS: u16 = 222;
    pub const ARTICLE_EXISTS: u16 = 223;
    pub const OVERVIEW_FOLLOWS: u16 = 224;
    pub const HEADERS_FOLLOW: u16 = 225;
    pub const NEW_ARTICLES_FOLLOW: u16 = 230;
    pub const NEW_GROUPS_FOLLOW: u16 = 231;
    pub const TRANSFERRED: u16 = 235;
    pub const CHECK_SEND: u16 = 238;
    pub const TAKETHIS_RECEIVED: u16 = 239;
    pub const POSTED: u16 = 240;
    pub const AUTH_ACCEPTED: u16 = 281;
    pub const XPAT_FOLLOWS: u16 = 282;
    pub const AUTH_ACCEPTED_DATA: u16 = 283;
    pub const SEND_IHAVE: u16 = 335;
    pub const SEND_POST: u16 = 340;
    pub const PASSWORD_REQUIRED: u16 = 381;
    pub const CONTINUE_TLS: u16 = 382;
    pub const SASL_CHALLENGE: u16 = 383;
    pub const UNAVAILABLE: u16 = 400;
    pub const WRONG_MODE: u16 = 401;
    pub const INTERNAL_FAULT: u16 = 403;
    pub const NO_SUCH_GROUP: u16 = 411;
    pub const NO_GROUP_SELECTED: u16 = 412;
    pub const CURRENT_ARTICLE_INVALID: u16 = 420;
    pub const NO_NEXT_ARTICLE: u16 = 421;
    pub const NO_PREVIOUS_ARTICLE: u16 = 422;
    pub const NO_ARTICLE_WITH_NUMBER: u16 = 423;
    pub const NO_ARTICLE_WITH_ID: u16 = 430;
    pub const CHECK_LATER: u16 = 431;
    pub const NOT_WANTED: u16 = 435;
    pub const TRANSFER_LATER: u16 = 436;
    pub const TRANSFER_REJECTED: u16 = 437;
    pub const CHECK_NOT_WANTED: u16 = 438;
    pub const TAKETHIS_REJECTED: u16 = 439;
    pub const POSTING_NOT_PERMITTED: u16 = 440;
    pub const POSTING_FAILED: u16 = 441;
    pub const AUTH_REQUIRED: u16 = 480;
    pub const AUTH_REJECTED: u16 = 481;
    pub const AUTH_OUT_OF_SEQUENCE: u16 = 482;
    pub const ENCRYPTION_REQUIRED: u16 = 483;
    pub const UNKNOWN_COMMAND: u16 = 500;
    pub const SYNTAX_ERROR: u16 = 501;
    pub const NOT_PERMITTED: u16 = 502;
    pub const NOT_SUPPORTED: u16 = 503;
    pub const BASE64_ERROR: u16 = 504;
}

/// A status line.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Response<'a> {
    /// The code, 100 to 599.
    pub code: u16,
    /// The text after it (arguments included: `211 3 1 3 misc.test`), without CRLF.
    pub text: &'a str,
}

/// Why a status line did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not three digits 1xx–5xx, then a space or the end.
    NoCode,
    /// Control characters, or octets that are not UTF-8.
    BadText,
    /// Longer than [`MAX_RESPONSE_LINE`].
    TooLong,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoCode => "no status code",
            Self::BadText => "status text is not text",
            Self::TooLong => "status line too long",
        })
    }
}

impl std::error::Error for ResponseError {}

impl<'a> Response<'a> {
    /// Reads one status line, without its line ending.
    pub fn parse(line: &'a [u8]) -> Result<Self, ResponseError> {
        if line.len() + 2 > MAX_RESPONSE_LINE {
            return Err(ResponseError::TooLong);
        }
        let (digits, rest) = line.split_at(line.len().min(3));
        let code = match digits {
            [a @ b'1'..=b'5', b, c] if b.is_ascii_digit() && c.is_ascii_digit() => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(ResponseError::NoCode),
        };
        let text = match rest {
            [] => &[][..],
            [b' ', text @ ..] => text,
            _ => return Err(ResponseError::NoCode),
        };
        if text.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(ResponseError::BadText);
        }
        let text = std::str::from_utf8(text).map_err(|_| ResponseError::BadText)?;
        Ok(Self { code, text })
    }

    /// Writes the status line and its CRLF. A code outside 100–599 is written as 403 (the
    /// server's own fault); control characters in the text become spaces, and the line is cut
    /// to [`MAX_RESPONSE_LINE`] at a character boundary: no text ends the line early or adds
    /// one.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let code = if (100..600).contains(&self.code) { self.code } else { code::INTERNAL_FAULT };
        let start = out.len();
        out.extend_from_slice(format!("{code}").as_bytes());
        if !self.text.is_empty() {
            out.push(b' ');
            let mut room = MAX_RESPONSE_LINE - 2 - 4;
            for c in self.text.chars() {
                let len = c.len_utf8();
                if len > room {
                    break;
                }
                room -= len;
                if c.is_control() {
                    out.push(b' ');
                } else {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        debug_assert!(out.len() - start <= MAX_RESPONSE_LINE - 2);
        out.extend_from_slice(b"\r\n");
    }

    /// Whether the code says success (1xx–3xx).
    pub fn is_success(&self) -> bool {
        self.code < 400
    }
}

/// Whether a response with `code` to a command with `keyword` is followed by a multi-line
/// block (RFC 3977 §3.2.1.1's table, with RFC 2980's XOVER, XHDR and XPAT). GROUP's 211 has
/// none; LISTGROUP's has one.
pub fn has_block(keyword: Keyword, code: u16) -> bool {
    matches!(
        (keyword, code),
        (Keyword::Help, 100)
            | (Keyword::Capabilities, 101)
            | (Keyword::ListGroup, 211)
            | (Keyword::List, 215)
            | (Keyword::Article, 220)
            | (Keyword::Head, 221)
            | (Keyword::XHdr, 221)
            | (Keyword::Body, 222)
            | (Keyword::Over | Keyword::XOver, 224)
            | (Keyword::Hdr, 225)
            | (Keyword::NewNews, 230)
            | (Keyword::NewGroups, 231)
            | (Keyword::XPat, 221 | 282)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_both_ways() {
        let r = Response::parse(b"211 1234 3000234 3002322 misc.test").unwrap();
        assert_eq!((r.code, r.text), (211, "1234 3000234 3002322 misc.test"));
        assert_eq!(Response::parse(b"205").unwrap(), Response { code: 205, text: "" });
        for bad in [&b"21 x"[..], b"2111 x", b"611 x", b"abc", b"200\x00", b"200x", b""] {
            assert!(Response::parse(bad).is_err(), "{bad:?}");
        }
        let mut out = Vec::new();
        Response { code: 200, text: "news.example.com server ready" }.encode(&mut out);
        assert_eq!(out, b"200 news.example.com server ready\r\n");
        out.clear();
        Response { code: 441, text: "bad\r\n240 article posted" }.encode(&mut out);
        assert_eq!(out, b"441 bad  240 article posted\r\n", "no second line");
        out.clear();
        Response { code: 7, text: "x" }.encode(&mut out);
        assert!(out.starts_with(b"403 "));
        out.clear();
        Response { code: 500, text: &"é".repeat(400) }.encode(&mut out);
        assert!(out.len() <= MAX_RESPONSE_LINE && std::str::from_utf8(&out).is_ok());
        assert!(has_block(Keyword::ListGroup, 211) && !has_block(Keyword::Group, 211));
        assert!(has_block(Keyword::XOver, 224) && !has_block(Keyword::Article, 223));
    }

    proptest::proptest! {
        /// Whatever the text, the encoded line is one line that parses back with its code.
        #[test]
        fn encoded_lines_read_back(code in 100u16..600, text in "\\PC*") {
            let mut out = Vec::new();
            Response { code, text: &text }.encode(&mut out);
            let line = out.strip_suffix(b"\r\n").unwrap();
            proptest::prop_assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
            let back = Response::parse(line).unwrap();
            proptest::prop_assert_eq!(back.code, code);
        }
    }
}
