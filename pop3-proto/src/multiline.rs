//! Multi-line bodies ([RFC 1939 §3](https://www.rfc-editor.org/rfc/rfc1939#section-3)):
//! lines starting with `.` are byte-stuffed and `.` CRLF ends the body. That is SMTP's DATA
//! framing, so the codec is `sansmail-smtp-proto`'s, streamed both ways: the server encodes a
//! message piece by piece as it reads it, the client decodes it as it arrives, and neither
//! holds a whole message.
//!
//! [`TopFilter`] cuts a message to its header and the first *n* body lines, for `TOP`.

pub use sansmail_smtp_proto::data::{BareLineEndings, DataDecoder as Decoder, DataEncoder as Encoder, Decoded};

/// Passes a message's header, the empty line after it, and then `n` lines of its body,
/// over any split of the input.
#[derive(Clone, Debug)]
pub struct TopFilter {
    /// In the header: whether the current line is empty so far.
    header_line_empty: Option<bool>,
    /// Body lines still to pass.
    remaining: u32,
    done: bool,
}

impl TopFilter {
    /// A filter for `TOP msg n`.
    pub fn new(lines: u32) -> Self {
        Self { header_line_empty: Some(true), remaining: lines, done: false }
    }

    /// Whether everything wanted has passed: the rest of the message can be skipped.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// How many octets at the start of `input` belong to the output; the rest of `input`
    /// (and everything after) does not, once [`TopFilter::is_done`].
    pub fn take(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while !self.done && pos < input.len() {
            match self.header_line_empty {
                Some(empty) => {
                    let Some(lf) = memchr::memchr(b'\n', &input[pos..]) else {
                        let rest = &input[pos..];
                        if rest.iter().any(|&b| b != b'\r') {
                            self.header_line_empty = Some(false);
                        } else {
                            self.header_line_empty = Some(empty);
                        }
                        return input.len();
                    };
                    let line = &input[pos..pos + lf];
                    let blank = empty && line.iter().all(|&b| b == b'\r');
                    pos += lf + 1;
                    if blank {
                        self.header_line_empty = None;
                        self.done = self.remaining == 0;
                    } else {
                        self.header_line_empty = Some(true);
                    }
                }
                None => {
                    let Some(lf) = memchr::memchr(b'\n', &input[pos..]) else { return input.len() };
                    pos += lf + 1;
                    self.remaining -= 1;
                    self.done = self.remaining == 0;
                }
            }
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(message: &[u8], n: u32, split: usize) -> Vec<u8> {
        let mut f = TopFilter::new(n);
        let mut out = Vec::new();
        for part in [&message[..split], &message[split..]] {
            if f.is_done() {
                break;
            }
            let k = f.take(part);
            out.extend_from_slice(&part[..k]);
        }
        out
    }

    #[test]
    fn header_and_n_lines_over_every_split() {
        let m = b"Subject: x\r\nFrom: a\r\n\r\none\r\ntwo\r\nthree\r\n";
        for split in 0..=m.len() {
            assert_eq!(top(m, 0, split), b"Subject: x\r\nFrom: a\r\n\r\n", "split {split}");
            assert_eq!(top(m, 2, split), b"Subject: x\r\nFrom: a\r\n\r\none\r\ntwo\r\n", "split {split}");
            assert_eq!(top(m, 9, split), m.to_vec(), "split {split}");
        }
        // No header at all: the body starts at once.
        assert_eq!(top(b"\r\nbody\r\nmore\r\n", 1, 3), b"\r\nbody\r\n");
    }
}
