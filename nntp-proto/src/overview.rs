//! Overview data ([RFC 3977 §8](https://www.rfc-editor.org/rfc/rfc3977#section-8)): the
//! lines of OVER/XOVER (the article number, then the tab-separated fields of
//! [`OVERVIEW_FMT`]) and of HDR/XHDR (`number value`).
//!
//! A header value is written unfolded, with every tab, CR, LF and NUL made a space (RFC 3977
//! §8.3.1): nothing in a header can add a field to an overview line or a line to the block.
//! Lines are written without dot-stuffing; pass them through [`crate::multiline`]'s encoder
//! (a field cannot start a line, but the article number could be anything an embedder
//! writes).

/// LIST OVERVIEW.FMT's answer for the fields [`Overview`] writes (RFC 3977 §8.4), `Xref:full`
/// included.
pub const OVERVIEW_FMT: [&str; 8] =
    ["Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines", "Xref:full"];

/// One article's overview.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Overview<'a> {
    /// The article number in the group (0 for OVER by message-id, RFC 3977 §8.3.2).
    pub number: u64,
    /// The header values, as in the article (folded or not).
    pub subject: &'a [u8],
    #[allow(missing_docs)]
    pub from: &'a [u8],
    #[allow(missing_docs)]
    pub date: &'a [u8],
    #[allow(missing_docs)]
    pub message_id: &'a [u8],
    #[allow(missing_docs)]
    pub references: &'a [u8],
    /// The article's size in octets.
    pub bytes: u64,
    /// The number of lines in its body.
    pub lines: u64,
    /// The Xref header's value, written as `Xref: value`; empty for none.
    pub xref: &'a [u8],
}

/// Writes a header value as one field: unfolded (CRLF before white space dropped), tabs and
/// line breaks and NULs made spaces, leading and trailing white space trimmed.
pub fn write_field(out: &mut Vec<u8>, value: &[u8]) {
    // Most values hold no tab, line break or NUL and no white space at their ends: copied.
    let clean = value.first().is_none_or(|&b| b != b' ')
        && value.last().is_none_or(|&b| b != b' ')
        && memchr::memchr3(b'\t', b'\r', b'\n', value).is_none()
        && memchr::memchr(0, value).is_none();
    if clean {
        out.extend_from_slice(value);
        return;
    }
    let start = out.len();
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            // A fold (CRLF, then white space): the line break goes, the white space stays.
            b'\r' if value.get(i + 1) == Some(&b'\n') && matches!(value.get(i + 2), Some(b' ' | b'\t')) => i += 1,
            // Any other line break, a tab or a NUL: one space.
            b'\r' if value.get(i + 1) == Some(&b'\n') => {
                out.push(b' ');
                i += 1;
            }
            b'\n' | b'\r' | b'\t' | 0 => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    // Trim what surrounds the value.
    let end = out[start..].iter().rposition(|&b| b != b' ').map_or(start, |p| start + p + 1);
    out.truncate(end);
    let lead = out[start..].iter().take_while(|&&b| b == b' ').count();
    out.drain(start..start + lead);
}

/// Writes `n` in decimal, without an allocation.
fn write_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Overview<'_> {
    /// Writes the line and its CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_number(out, self.number);
        for field in [self.subject, self.from, self.date, self.message_id, self.references] {
            out.push(b'\t');
            write_field(out, field);
        }
        out.push(b'\t');
        write_number(out, self.bytes);
        out.push(b'\t');
        write_number(out, self.lines);
        out.push(b'\t');
        if !self.xref.is_empty() {
            out.extend_from_slice(b"Xref: ");
            write_field(out, self.xref);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Reads an overview line (without CRLF), as a client gets it: `None` for fewer than
    /// the seven fields after the number. Fields past the eighth are ignored.
    pub fn parse(line: &[u8]) -> Option<Overview<'_>> {
        let mut f = line.split(|&b| b == b'\t');
        let number = std::str::from_utf8(f.next()?).ok()?.parse().ok()?;
        let (subject, from, date, message_id, references) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
        let bytes = std::str::from_utf8(f.next()?).ok()?.trim().parse().unwrap_or(0);
        let lines = std::str::from_utf8(f.next()?).ok()?.trim().parse().unwrap_or(0);
        let xref = f.next().map_or(&b""[..], |x| {
            let x = x.strip_prefix(b"Xref:").or_else(|| x.strip_prefix(b"XREF:")).unwrap_or(x);
            x.strip_prefix(b" ").unwrap_or(x)
        });
        Some(Overview { number, subject, from, date, message_id, references, bytes, lines, xref })
    }
}

/// Writes an HDR/XHDR line: `number value` and CRLF (an absent header is an empty value).
pub fn write_hdr(out: &mut Vec<u8>, number: u64, value: &[u8]) {
    write_number(out, number);
    out.push(b' ');
    write_field(out, value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3977_overview_line() {
        let o = Overview {
            number: 3000234,
            subject: b"I am just a test article",
            from: b"\"Demo User\" <nobody@example.com>",
            date: b"6 Oct 1998 04:38:40 -0500",
            message_id: b"<45223423@example.com>",
            references: b"<45454@example.net>",
            bytes: 1234,
            lines: 17,
            xref: b"news.example.com misc.test:3000363",
        };
        let mut out = Vec::new();
        o.encode(&mut out);
        assert_eq!(
            out,
            b"3000234\tI am just a test article\t\"Demo User\" <nobody@example.com>\t6 Oct 1998 04:38:40 -0500\t\
              <45223423@example.com>\t<45454@example.net>\t1234\t17\tXref: news.example.com misc.test:3000363\r\n"
                .to_vec()
        );
        assert_eq!(Overview::parse(out.strip_suffix(b"\r\n").unwrap()), Some(o));
    }

    /// A header with tabs, folds and line breaks stays one field of one line.
    #[test]
    fn hostile_headers_stay_in_their_field() {
        let o = Overview {
            number: 1,
            subject: b"a\tb\r\n\tc\r\n.\r\n3\tforged",
            from: b"x\0y",
            date: b"",
            message_id: b"<1@x>",
            references: b"  <a@b>\r\n <c@d>  ",
            bytes: 5,
            lines: 1,
            xref: b"",
        };
        let mut out = Vec::new();
        o.encode(&mut out);
        let line = out.strip_suffix(b"\r\n").unwrap();
        assert!(!line.contains(&b'\n') && !line.contains(&b'\r') && !line.contains(&0));
        assert_eq!(line.iter().filter(|&&b| b == b'\t').count(), 8, "exactly the eight separators");
        let back = Overview::parse(line).unwrap();
        assert_eq!(back.subject, b"a b c . 3 forged");
        assert_eq!(back.references, b"<a@b> <c@d>");
        let mut hdr = Vec::new();
        write_hdr(&mut hdr, 7, b"x\r\n\ty\r\nz");
        assert_eq!(hdr, b"7 x y z\r\n");
    }

    proptest::proptest! {
        /// Whatever the header values, the line has exactly its eight separators and one
        /// line ending, and reads back with the same number, sizes and field count.
        #[test]
        fn any_values_make_one_line(
            fields in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 6),
            number in 0u64..u64::MAX,
            bytes in 0u64..u64::MAX,
        ) {
            let o = Overview {
                number,
                subject: &fields[0],
                from: &fields[1],
                date: &fields[2],
                message_id: &fields[3],
                references: &fields[4],
                bytes,
                lines: 3,
                xref: &fields[5],
            };
            let mut out = Vec::new();
            o.encode(&mut out);
            let line = out.strip_suffix(b"\r\n").unwrap();
            proptest::prop_assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
            proptest::prop_assert_eq!(line.iter().filter(|&&b| b == b'\t').count(), 8);
            let back = Overview::parse(line).unwrap();
            proptest::prop_assert_eq!((back.number, back.bytes, back.lines), (number, bytes, 3));
        }
    }
}
