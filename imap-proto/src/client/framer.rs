//! Splitting the server's octets into whole responses: a line, and when it ends with a
//! literal header `{n}`, the `n` octets and the rest of the line after them, as many times
//! as the response has literals. Every line and literal is bounded, and so is the whole.

/// Limits on what one server response may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseLimits {
    /// One line (between literals), CRLF included.
    pub line: usize,
    /// One literal (a message body, in FETCH).
    pub literal: u64,
    /// The whole response, literals included.
    pub total: u64,
}

impl Default for ResponseLimits {
    /// Lines of 64 KiB (servers send long CAPABILITY and FETCH lines), literals and
    /// responses of 64 MiB.
    fn default() -> Self {
        Self { line: 64 * 1024, literal: 64 << 20, total: 64 << 20 }
    }
}

/// A response broke a limit, or was not a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Overflow {
    Line,
    Literal,
    Total,
}

#[derive(Debug, Default)]
pub(super) struct ResponseFramer {
    /// The response so far.
    buf: Vec<u8>,
    /// Where the current line starts in `buf`.
    line_start: usize,
    /// Octets of a literal still to come.
    literal_left: u64,
}

impl ResponseFramer {
    /// Takes octets from `data`; returns how many it took and a whole response when one is
    /// complete (then call again with the rest).
    pub(super) fn push(&mut self, data: &[u8], limits: &ResponseLimits) -> Result<(usize, Option<Vec<u8>>), Overflow> {
        let mut used = 0;
        while used < data.len() {
            if self.literal_left > 0 {
                let n = usize::try_from(self.literal_left).unwrap_or(usize::MAX).min(data.len() - used);
                self.buf.extend_from_slice(&data[used..used + n]);
                used += n;
                self.literal_left -= n as u64;
                if self.literal_left == 0 {
                    self.line_start = self.buf.len();
                }
                continue;
            }
            let rest = &data[used..];
            let (take, complete) = match memchr::memchr(b'\n', rest) {
                Some(nl) => (nl + 1, true),
                None => (rest.len(), false),
            };
            // Checked before anything is kept: the buffer never passes the limits.
            if self.buf.len() - self.line_start + take > limits.line {
                return Err(Overflow::Line);
            }
            if (self.buf.len() + take) as u64 > limits.total {
                return Err(Overflow::Total);
            }
            self.buf.extend_from_slice(&rest[..take]);
            used += take;
            if !complete {
                break;
            }
            match literal_at_end(&self.buf[self.line_start..]) {
                Some(n) if n > limits.literal => return Err(Overflow::Literal),
                Some(n) if self.buf.len() as u64 + n > limits.total => return Err(Overflow::Total),
                Some(0) => self.line_start = self.buf.len(),
                Some(n) => self.literal_left = n,
                None => {
                    self.line_start = 0;
                    return Ok((used, Some(std::mem::take(&mut self.buf))));
                }
            }
        }
        Ok((used, None))
    }

    /// Octets of an unfinished response held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buf.len()
    }
}

/// The size of the literal announced at the end of `line` (`{n}` or `~{n}` before CRLF).
fn literal_at_end(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_taken_whole_and_bounded() {
        let limits = ResponseLimits::default();
        let input = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 7)\r\n* 2 EXISTS\r\n";
        let mut f = ResponseFramer::default();
        let (used, first) = f.push(input, &limits).unwrap();
        assert_eq!(first.unwrap(), b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 7)\r\n");
        let (_, second) = f.push(&input[used..], &limits).unwrap();
        assert_eq!(second.unwrap(), b"* 2 EXISTS\r\n");
        let small = ResponseLimits { line: 16, literal: 4, total: 64 };
        assert_eq!(ResponseFramer::default().push(b"* 1 FETCH (BODY[] {5}\r\n", &small), Err(Overflow::Line));
        assert_eq!(ResponseFramer::default().push(b"* X {5}\r\n", &small), Err(Overflow::Literal));
        assert_eq!(ResponseFramer::default().push(&[b'a'; 17], &small), Err(Overflow::Line));
        assert_eq!(literal_at_end(b"x {99999999999999999999}\r\n"), None, "too many digits: not a literal");
        let mut chain = b"* X {0}\r\n".repeat(10);
        chain.extend_from_slice(b"end\r\n");
        assert_eq!(ResponseFramer::default().push(&chain, &small), Err(Overflow::Total), "empty literals add up");
    }
}
