//! Message content of `DATA`
//! ([RFC 5321 §4.1.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.4), §4.5.2).
//!
//! [`DataDecoder`] (server side) removes the transparency dots and ends the message only on
//! `<CRLF>.<CRLF>`. A bare LF or bare CR never ends it, whatever follows: reading `\n.\n`,
//! `\n.\r\n` or `\r.\r\n` as the end is what SMTP smuggling
//! ([CVE-2023-51764](https://www.cve.org/CVERecord?id=CVE-2023-51764)) exploits. Bare line
//! endings are either flagged (the session then rejects the message) or rewritten to CRLF.
//!
//! [`DataEncoder`] (client side) writes CRLF line endings and dot-stuffs, so that no content
//! can end the message early on any receiver.
//!
//! Both copy runs of ordinary bytes with one `extend_from_slice`, not byte by byte.

use memchr::memchr2;

/// What to do with a CR or LF that is not part of a CRLF pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BareLineEndings {
    /// Flag the message ([`DataDecoder::saw_bare_line_ending`]) so it can be refused.
    #[default]
    Reject,
    /// Rewrite each to CRLF in the decoded content. A line after a bare line ending is still
    /// not a line start: a dot there is kept, and never ends the message.
    Normalize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line: a dot here is a transparency dot or the end marker.
    LineStart,
    /// Inside a line.
    Text,
    /// After a CR inside a line.
    Cr,
    /// After a dot at the start of a line.
    Dot,
    /// After `.` CR at the start of a line: an LF now ends the message.
    DotCr,
    /// The end marker has been read.
    Done,
}

/// Finds the next CR or LF, with the best routine for this CPU chosen once.
enum LineEnds {
    #[cfg(target_arch = "x86_64")]
    Avx2(memchr::arch::x86_64::avx2::memchr::Two),
    Generic,
}

impl LineEnds {
    #[inline]
    fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(two) = memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n') {
            return Self::Avx2(two);
        }
        Self::Generic
    }

    #[inline]
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(two) => two.find(haystack),
            Self::Generic => memchr2(b'\r', b'\n', haystack),
        }
    }
}

/// What one [`DataDecoder::decode`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used. Less than the input only when the end marker was found: the rest
    /// belongs to the next command.
    pub consumed: usize,
    /// Whether the end marker `<CRLF>.<CRLF>` was read.
    pub done: bool,
}

/// Decodes the content that follows a `354` reply, up to and excluding the end marker.
#[derive(Clone, Debug)]
pub struct DataDecoder {
    state: State,
    bare: BareLineEndings,
    max_line: Option<usize>,
    line_len: usize,
    size: u64,
    saw_bare: bool,
    saw_long_line: bool,
    /// The widest vector instructions this CPU has, for the clean-block check.
    arch: pulp::Arch,
}

impl DataDecoder {
    /// A decoder for one message. `max_line` bounds a line in octets, CRLF included
    /// (RFC 5321 §4.5.3.1.6 says 1,000); longer lines are flagged, not cut.
    pub fn new(bare: BareLineEndings, max_line: Option<usize>) -> Self {
        Self {
            state: State::LineStart,
            bare,
            max_line,
            line_len: 0,
            size: 0,
            saw_bare: false,
            saw_long_line: false,
            arch: pulp::Arch::new(),
        }
    }

    /// Decoded octets so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether a bare CR or LF was seen.
    pub fn saw_bare_line_ending(&self) -> bool {
        self.saw_bare
    }

    /// Whether a line longer than `max_line` was seen.
    pub fn saw_long_line(&self) -> bool {
        self.saw_long_line
    }

    /// Whether the end marker has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn end_line(&mut self) {
        if self.max_line.is_some_and(|max| self.line_len + 2 > max) {
            self.saw_long_line = true;
        }
        self.line_len = 0;
    }

    /// Flags a bare CR or LF. When normalising, copies the span up to `flush_to`, writes
    /// `fill` (what the line ending lacked to be CRLF) and restarts the span at `resume`.
    fn bare_line_ending(
        &mut self,
        input: &[u8],
        (flush_to, fill, resume): (usize, &[u8], usize),
        span: &mut usize,
        out: &mut Vec<u8>,
    ) {
        self.saw_bare = true;
        if self.bare == BareLineEndings::Normalize {
            out.extend_from_slice(input.get(*span..flush_to).unwrap_or_default());
            out.extend_from_slice(fill);
            *span = resume;
        }
        self.end_line();
    }

    /// Decodes as much of `input` as belongs to the message, appending content to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Decoded {
        let before = out.len();
        let n = input.len();
        // One finder for the call: the CPU-feature dispatch is paid once, not per line.
        let finder = LineEnds::new();
        let mut i = 0;
        // Start of the bytes to copy verbatim at the next flush.
        let mut span = 0;
        while i < n && self.state != State::Done {
            let (skipped_to, slow_to) = self.skip_clean_blocks(input, i);
            i = skipped_to;
            // Through the state machine to `slow_to` (at least one octet), then the block
            // check again.
            let limit = n.min(slow_to.max(i + 1));
            i = self.step(input, (i, limit), &finder, &mut span, out);
        }
        let flush_end = match self.state {
            State::Done => span,
            // Hold back the CR of `.` CR: it vanishes if an LF follows.
            State::DotCr if i > 0 => i - 1,
            _ => i,
        };
        if let Some(rest) = input.get(span..flush_end) {
            out.extend_from_slice(rest);
        }
        if self.max_line.is_some_and(|max| self.line_len + 2 > max) {
            self.saw_long_line = true;
        }
        self.size += (out.len() - before) as u64;
        Decoded { consumed: i, done: self.state == State::Done }
    }

    /// Skips whole blocks of ordinary content from `start`, inside a line: blocks in which
    /// every CR is followed by an LF and every LF preceded by a CR, and no line starts with a
    /// dot. Their bytes stay in the span to be copied; only the line length and the state
    /// need updating after them. Returns where the skip ended and how far the state machine
    /// should then go before the next skip: through the block that failed the check, past
    /// the end of an over-long line, or not at all when the skip stopped at its bound.
    #[inline]
    fn skip_clean_blocks(&mut self, input: &[u8], start: usize) -> (usize, usize) {
        // In `Text`, the byte before `start` is neither CR nor an LF before a dot, and a byte
        // at `start` that is an LF is bare: the block check covers every other pair.
        // A line already too long is left to the state machine until it ends.
        let too_long = self.max_line.is_some_and(|max| self.line_len >= max);
        if self.state != State::Text || input.get(start) == Some(&b'\n') || too_long {
            return (start, start + BLOCK);
        }
        // Bounded, so that a long line found below wastes little of the scan.
        let scan_end = start.saturating_add(SKIP_BLOCKS * BLOCK);
        let (end, lf_in_every_block) = self.arch.dispatch(CleanRun { input, start, limit: scan_end });
        if end == start {
            return (start, start + BLOCK);
        }
        let max = self.max_line.unwrap_or(usize::MAX);
        let mut line = start;
        let mut room = max.saturating_sub(self.line_len);
        // Line lengths. When every block held an LF, no two LFs in the run are more than
        // `2 * BLOCK - 1` octets apart: only the first line needs measuring.
        let first_fits = || memchr::memchr(b'\n', &input[start..end]).is_some_and(|first| first < room);
        if lf_in_every_block && max >= 2 * BLOCK && first_fits() {
            line = memchr::memrchr(b'\n', &input[start..end]).map_or(start, |last| start + last + 1);
        } else {
            // Otherwise from each line start, the last LF within the longest allowed line is
            // found backwards, skipping many lines per search.
            loop {
                let window_end = line.saturating_add(room).min(end);
                match memchr::memrchr(b'\n', &input[line..window_end]) {
                    Some(off) => {
                        line += off + 1;
                        room = max;
                    }
                    None if window_end == end => break,
                    None => {
                        // This line is too long: the state machine reads it and flags it.
                        if line > start {
                            self.line_len = 0;
                        }
                        return (line, window_end + 1);
                    }
                }
            }
        }
        if line > start {
            self.line_len = 0;
        }
        self.line_len += end - line;
        if input[end - 1] == b'\r' {
            // The block check saw the LF that follows: let the state machine take it.
            self.line_len -= 1;
            self.state = State::Cr;
        }
        // Stopped at a block that failed the check, or too near the end of the input.
        let failed = end < scan_end;
        (end, if failed { end + BLOCK } else { end })
    }

    /// Runs the state machine over `input[i..limit]` (it may read past `limit` to finish a
    /// line ending); returns where it stopped.
    fn step(
        &mut self,
        input: &[u8],
        (mut i, limit): (usize, usize),
        finder: &LineEnds,
        span: &mut usize,
        out: &mut Vec<u8>,
    ) -> usize {
        while i < limit {
            let b = input[i];
            match self.state {
                State::Text => match finder.find(&input[i..limit]) {
                    None => {
                        self.line_len += limit - i;
                        i = limit;
                    }
                    Some(off) => {
                        let p = i + off;
                        self.line_len += off;
                        i = p + 1;
                        if input[p] == b'\r' {
                            // The usual line end, before a line that does not start with a dot:
                            // finish it here rather than through the Cr and LineStart states.
                            if input.get(p + 1) == Some(&b'\n') && input.get(p + 2).is_some_and(|&c| c != b'.') {
                                i = p + 2;
                                self.end_line();
                                continue;
                            }
                            self.state = State::Cr;
                        } else {
                            // Bare LF: never a line start, so never the end of the message.
                            self.bare_line_ending(input, (p, b"\r\n", i), span, out);
                        }
                    }
                },
                State::Cr => {
                    if b == b'\n' {
                        i += 1;
                        self.end_line();
                        self.state = State::LineStart;
                    } else {
                        // Bare CR (already copied, or in the span): add the LF it lacks.
                        self.bare_line_ending(input, (i, b"\n", i), span, out);
                        self.state = State::Text;
                    }
                }
                State::LineStart => {
                    if b == b'.' {
                        out.extend_from_slice(&input[*span..i]);
                        i += 1;
                        *span = i;
                        self.line_len = 1;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Text;
                    }
                }
                State::Dot => {
                    if b == b'\r' {
                        // Not copied at the end of this call, so that `.` CR LF leaves no CR.
                        i += 1;
                        self.state = State::DotCr;
                    } else {
                        // RFC 5321 §4.5.2: the leading dot of a longer line is removed.
                        self.state = State::Text;
                    }
                }
                State::DotCr => {
                    if b == b'\n' {
                        // The CR is at `span` (or was held back by the last call): drop both.
                        i += 1;
                        self.state = State::Done;
                        break;
                    }
                    if i == 0 {
                        // The CR ended the previous input and was held back.
                        out.push(b'\r');
                    }
                    self.bare_line_ending(input, (i, b"\n", i), span, out);
                    self.state = State::Text;
                }
                State::Done => break,
            }
        }
        i
    }
}

/// Octets per block of the clean-block check.
const BLOCK: usize = 256;
/// Blocks checked per skip, at most.
const SKIP_BLOCKS: usize = 16;

/// The clean blocks from `start`, at most up to `limit`: returns where they end.
///
/// Run through [`pulp::Arch::dispatch`], so that the loop is compiled once more for the widest
/// vector instructions the CPU has (AVX2 on most x86-64), chosen at run time: this doubles
/// the speed of the check against the SSE2 baseline, without `unsafe` in this crate.
struct CleanRun<'a> {
    input: &'a [u8],
    start: usize,
    limit: usize,
}

impl pulp::WithSimd for CleanRun<'_> {
    /// Where the clean blocks end, and whether each of them held an LF.
    type Output = (usize, bool);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> (usize, bool) {
        let Self { input, start, limit } = self;
        let mut end = start;
        let mut lf_in_every_block = true;
        while end < limit
            && let Some(window) = input.get(end..end + BLOCK + 2).and_then(|w| <&[u8; BLOCK + 2]>::try_from(w).ok())
        {
            let (clean, has_lf) = clean_block(window);
            if !clean {
                break;
            }
            lf_in_every_block &= has_lf;
            end += BLOCK;
        }
        (end, lf_in_every_block)
    }
}

/// Whether the pairs starting in `w[..BLOCK]` (two octets of look-ahead) pair every CR with a
/// following LF and every LF with a preceding CR, and whether no LF in `w[1..=BLOCK]` comes
/// before a dot (an LF at `w[0]` pairs with the octet before the block: the caller checks it);
/// and whether `w[1..=BLOCK]` holds an LF.
/// Reading the dot from the third load (not `x == LF` against the second) saves one compare
/// per vector. Branch-free, so the compiler vectorises it: this is what lets ordinary content
/// pass at copy-like speed.
#[inline(always)]
fn clean_block(w: &[u8; BLOCK + 2]) -> (bool, bool) {
    let (mut bad, mut lf) = (0u8, 0u8);
    for ((&x, &y), &z) in w[..BLOCK].iter().zip(&w[1..]).zip(&w[2..]) {
        bad |= u8::from((x == b'\r') != (y == b'\n')) | (u8::from(y == b'\n') & u8::from(z == b'.'));
        lf |= u8::from(y == b'\n');
    }
    (bad == 0, lf != 0)
}

/// Encodes message content for `DATA`: CRLF line endings and dot-stuffing.
///
/// Feed the message with [`DataEncoder::encode`] in pieces of any size, then call
/// [`DataEncoder::finish`] for the end marker. A bare CR or LF in the content is written as
/// CRLF, so the receiver sees exactly the lines the end marker is judged by.
#[derive(Clone, Debug)]
pub struct DataEncoder {
    at_line_start: bool,
    cr_pending: bool,
    /// The widest vector instructions this CPU has, for the clean-block check.
    arch: pulp::Arch,
}

impl Default for DataEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataEncoder {
    /// An encoder at the start of a message.
    pub fn new() -> Self {
        Self { at_line_start: true, cr_pending: false, arch: pulp::Arch::new() }
    }

    /// Appends the encoded form of `input` to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        let mut i = 0;
        if self.cr_pending && !input.is_empty() {
            self.cr_pending = false;
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
            if input.first() == Some(&b'\n') {
                i = 1;
            }
        }
        while i < input.len() {
            if self.at_line_start {
                self.at_line_start = false;
                if input[i] == b'.' {
                    out.push(b'.');
                }
            }
            // Ordinary content (CRLF line endings, no line starting with a dot) is copied as
            // it is, checked a block at a time. A block ending in CR takes its LF along.
            if input[i] != b'\n' {
                let start = i;
                i = self.arch.dispatch(CleanRun { input, start, limit: input.len() }).0;
                if i > start {
                    match input[i - 1] {
                        // The block check saw the LF that follows.
                        b'\r' => {
                            i += 1;
                            self.at_line_start = true;
                        }
                        b'\n' => self.at_line_start = true,
                        _ => {}
                    }
                    out.extend_from_slice(&input[start..i]);
                    continue;
                }
            }
            match memchr2(b'\r', b'\n', &input[i..]) {
                None => {
                    out.extend_from_slice(&input[i..]);
                    return;
                }
                Some(off) => {
                    let p = i + off;
                    out.extend_from_slice(&input[i..p]);
                    match (input[p], input.get(p + 1)) {
                        (b'\r', None) => {
                            self.cr_pending = true;
                            return;
                        }
                        (b'\r', Some(b'\n')) => i = p + 2,
                        _ => i = p + 1,
                    }
                    out.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
            }
        }
    }

    /// Appends the end marker, after a CRLF if the content did not end with one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.cr_pending || !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests;
