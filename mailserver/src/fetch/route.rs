//! Where a collected message goes ("DomainPOP" routing): the envelope headers first (the
//! provider wrote the real recipients there), then the To/Cc/Bcc addresses that are local
//! users, then the job's rules, and what is still unplaced to `unknown_to` (the postmaster
//! by default). A message that already passed through this server, or too many servers,
//! is not taken at all: delivering it again would be a loop.

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};

use super::FetchConfig;
use crate::identity::directory::Directory;

/// Where a message goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// These local addresses (never empty).
    To(Vec<String>),
    /// Not taken: why.
    Refused(String),
}

/// How many `Received` fields a collected message may carry.
const HOP_LIMIT: usize = 50;

/// Places one message (only its header is read).
pub(crate) fn place(job: &FetchConfig, dir: &Directory, hostname: &str, message: &[u8]) -> Placement {
    let parsed = MessageParser::new().parse_headers(message);
    let headers = parsed.as_ref().map(|m| m.root_part().headers.as_slice()).unwrap_or_default();
    // Our own collection trace: mail this server collected before that came back (say, a
    // forward to the provider's mailbox). Our other traces (mail sent from here to a list
    // that sends it back) are no loop.
    let ours = format!("by {} (sansmail)", hostname.to_ascii_lowercase());
    let received: Vec<String> = headers
        .iter()
        .filter(|h| h.name == HeaderName::Received)
        .map(|h| String::from_utf8_lossy(&message[h.offset_start as usize..h.offset_end as usize]).to_ascii_lowercase())
        .collect();
    if received.iter().any(|r| r.contains(&ours) && r.contains("(fetch ")) {
        return Placement::Refused(format!("it already passed through {hostname} (a loop)"));
    }
    if received.len() > HOP_LIMIT {
        return Placement::Refused(format!("{} Received fields (a loop)", received.len()));
    }
    let local = |a: &str| -> Option<String> {
        let a = a.trim().trim_matches(['<', '>']).to_ascii_lowercase();
        let (l, d) = a.rsplit_once('@')?;
        (dir.is_local_domain(d) && dir.targets(l, d).is_some()).then_some(a)
    };
    let mut to: Vec<String> = Vec::new();
    let add = |to: &mut Vec<String>, a: String| {
        if !to.contains(&a) {
            to.push(a);
        }
    };
    if let Some(d) = &job.deliver_to {
        add(&mut to, d.to_ascii_lowercase());
        return Placement::To(to);
    }
    // 1. The envelope headers, in the job's order: the first that names local users.
    for name in &job.envelope_headers {
        let values = headers.iter().filter(|h| h.name.as_str().eq_ignore_ascii_case(name)).flat_map(|h| {
            let raw = String::from_utf8_lossy(&message[h.offset_start as usize..h.offset_end as usize]).into_owned();
            raw.split([',', ' ', '\t', '\r', '\n']).map(str::to_owned).collect::<Vec<_>>()
        });
        let found: Vec<String> = values.filter_map(|v| local(&v)).collect();
        if !found.is_empty() {
            found.into_iter().for_each(|a| add(&mut to, a));
            return Placement::To(to);
        }
    }
    // 2. To, Cc, Bcc: the local users among them.
    for h in headers.iter().filter(|h| matches!(h.name, HeaderName::To | HeaderName::Cc | HeaderName::Bcc)) {
        if let HeaderValue::Address(list) = &h.value {
            for a in addresses(list) {
                if let Some(l) = local(&a) {
                    add(&mut to, l);
                }
            }
        }
    }
    if !to.is_empty() {
        return Placement::To(to);
    }
    // 3. The rules.
    for rule in &job.rule {
        let needle = rule.contains.to_ascii_lowercase();
        let hit = headers.iter().filter(|h| h.name.as_str().eq_ignore_ascii_case(&rule.header)).any(|h| {
            String::from_utf8_lossy(&message[h.offset_start as usize..h.offset_end as usize])
                .to_ascii_lowercase()
                .contains(&needle)
        });
        if hit {
            add(&mut to, rule.deliver_to.to_ascii_lowercase());
        }
    }
    if !to.is_empty() {
        return Placement::To(to);
    }
    // 4. Nobody: the configured mailbox.
    add(&mut to, job.unknown_to.clone().unwrap_or_else(|| dir.postmaster().to_string()).to_ascii_lowercase());
    Placement::To(to)
}

fn addresses(list: &Address<'_>) -> Vec<String> {
    list.iter().filter_map(|a| a.address.as_deref().map(str::to_owned)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn job(extra: &str) -> FetchConfig {
        toml::from_str(&format!("name = \"p\"\nmethod = \"pop3\"\nhost = \"h\"\n{extra}")).unwrap()
    }

    fn dir() -> Directory {
        let config: Config = toml::from_str(
            "hostname = \"office.test\"\n[[domain]]\nname = \"office.test\"\n\
             [[user]]\naddress = \"bob@office.test\"\n[[user]]\naddress = \"carol@office.test\"\n\
             [[user]]\naddress = \"sales@office.test\"\n",
        )
        .unwrap();
        config.directory().unwrap()
    }

    fn to(list: &[&str]) -> Placement {
        Placement::To(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn envelope_headers_then_to_cc_then_rules_then_the_postmaster() {
        let (j, d) = (job(""), dir());
        let place = |m: &str| place(&j, &d, "office.test", m.as_bytes());
        let m = "Delivered-To: carol@office.test\r\nTo: bob@office.test\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(place(m), to(&["carol@office.test"]), "the envelope header wins");
        let m = "X-Envelope-To: <Bob@Office.test>\r\nDelivered-To: carol@office.test\r\n\r\nx\r\n";
        assert_eq!(place(m), to(&["bob@office.test"]), "in the configured order");
        let m = "Delivered-To: someone@elsewhere.test\r\nTo: Bob <bob@office.test>, x@y.test\r\nCc: carol@office.test\r\n\r\nx";
        assert_eq!(place(m), to(&["bob@office.test", "carol@office.test"]));
        let m = "To: list@lists.test\r\nSubject: Order 7\r\n\r\nx";
        assert_eq!(place(m), to(&["postmaster@office.test"]));
        let j = job("[[rule]]\nheader = \"Subject\"\ncontains = \"order\"\ndeliver_to = \"sales@office.test\"\n");
        assert_eq!(super::place(&j, &d, "office.test", m.as_bytes()), to(&["sales@office.test"]));
        let j = job("deliver_to = \"bob@office.test\"\n");
        assert_eq!(super::place(&j, &d, "office.test", b"To: carol@office.test\r\n\r\nx"), to(&["bob@office.test"]));
    }

    #[test]
    fn our_own_trace_and_long_paths_are_not_taken() {
        let (j, d) = (job(""), dir());
        let m = "Received: from pop.provider.test\r\n\tby office.test (sansmail) with POP3 (fetch p);\r\n\
                 \tMon, 7 Dec 2026 10:00:00 +0000\r\nTo: bob@office.test\r\n\r\nx";
        assert!(matches!(place(&j, &d, "office.test", m.as_bytes()), Placement::Refused(_)));
        let sent = "Received: from pc by office.test (sansmail) with ESMTPSA id 1;\r\n Mon, 7 Dec 2026 10:00:00 +0000\r\n\
                    To: list@lists.test, bob@office.test\r\n\r\nx";
        assert_eq!(
            place(&j, &d, "office.test", sent.as_bytes()),
            to(&["bob@office.test"]),
            "a list's copy of our post"
        );
        let many =
            "Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\n".repeat(51) + "To: bob@office.test\r\n\r\nx";
        assert!(matches!(place(&j, &d, "office.test", many.as_bytes()), Placement::Refused(_)));
        assert_eq!(place(&j, &d, "office.test", b"\xff\xfe garbage"), to(&["postmaster@office.test"]));
    }
}
