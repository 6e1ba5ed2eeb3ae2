//! Mail-loop signs in a message's header section (RFC 5321 §6.3), read as the content
//! streams in: how many `Received` fields it has, and which addresses `Delivered-To`
//! names. Reading stops at the end of the header section; memory is bounded whatever the
//! message holds.

/// The longest header line kept for inspection; the rest of a longer line is skipped.
const LINE: usize = 512;
/// The most `Delivered-To` addresses kept.
const DELIVERED_TO: usize = 64;

/// The scan of one message's header section.
#[derive(Debug, Default)]
pub(crate) struct HeaderScan {
    line: Vec<u8>,
    done: bool,
    /// `Received` fields seen.
    pub(crate) received: usize,
    /// `Delivered-To` addresses, lower-cased, without angle brackets.
    pub(crate) delivered_to: Vec<String>,
}

impl HeaderScan {
    /// Reads more of the message.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        if self.done {
            return;
        }
        for &b in data {
            if b == b'\n' {
                self.end_line();
                if self.done {
                    return;
                }
            } else if self.line.len() < LINE {
                self.line.push(b);
            }
        }
    }

    fn end_line(&mut self) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        if line.is_empty() {
            self.done = true;
        } else if let Some(colon) = line.iter().position(|&b| b == b':')
            && !line[0].is_ascii_whitespace()
        {
            let name = &line[..colon];
            if name.eq_ignore_ascii_case(b"received") {
                self.received += 1;
            } else if name.eq_ignore_ascii_case(b"delivered-to") && self.delivered_to.len() < DELIVERED_TO {
                let value = String::from_utf8_lossy(&line[colon + 1..]);
                let value = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
                self.delivered_to.push(value.to_ascii_lowercase());
            }
        }
        self.line.clear();
    }

    /// Whether `address` was named in a `Delivered-To` field (any case).
    pub(crate) fn delivered_to(&self, address: &str) -> bool {
        self.delivered_to.iter().any(|a| a.eq_ignore_ascii_case(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_received_and_reads_delivered_to_over_any_split() {
        let msg = b"Received: from a\r\n\tby b; now\r\nreceived: x\r\nDelivered-To: <Alice@Example.org>\r\n\
            Subject: Received: not a field\r\n X-Folded: Received: no\r\n\r\nReceived: in the body\r\n";
        for split in 0..msg.len() {
            let mut s = HeaderScan::default();
            s.feed(&msg[..split]);
            s.feed(&msg[split..]);
            assert_eq!(s.received, 2, "split at {split}");
            assert!(s.delivered_to("alice@example.org"));
            assert!(!s.delivered_to("bob@example.org"));
        }
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = HeaderScan::default();
        s.feed(&vec![b'x'; 1 << 20]);
        for _ in 0..1000 {
            s.feed(b"\r\nDelivered-To: a@b");
        }
        assert!(s.line.capacity() <= 2 * LINE && s.delivered_to.len() == DELIVERED_TO);
    }
}
