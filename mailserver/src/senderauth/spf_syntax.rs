//! What mail-auth's SPF evaluation forgives and RFC 7208 does not: a domain with more than
//! one SPF record (§4.5) and a record that does not follow the grammar (§4.6, §12: an
//! unknown mechanism, an address out of range, a CIDR length past its family, a bad macro,
//! `redirect` or `exp` twice) are `permerror`. mail-auth evaluates; this only rejects
//! records, checked after evaluation against the records it read.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether a TXT record's text is an SPF record (`v=spf1` alone or before a space).
pub(crate) fn is_spf(record: &[u8]) -> bool {
    record.len() >= 6 && record[..6].eq_ignore_ascii_case(b"v=spf1") && (record.len() == 6 || record[6] == b' ')
}

/// What is wrong with the SPF records of one domain (every TXT record it has), if anything.
pub(crate) fn check_records(records: &[Vec<u8>]) -> Option<String> {
    let spf: Vec<&Vec<u8>> = records.iter().filter(|r| is_spf(r)).collect();
    match spf.as_slice() {
        [] => None,
        [one] => check(one).err(),
        _ => Some("more than one SPF record".to_owned()),
    }
}

/// Checks one SPF record against RFC 7208 §12.
pub(crate) fn check(record: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(record).map_err(|_| "not ASCII".to_owned())?;
    if !text.is_ascii() {
        return Err("not ASCII".to_owned());
    }
    let (mut redirect, mut exp) = (false, false);
    for term in text.split(' ').skip(1).filter(|t| !t.is_empty()) {
        let bad = || format!("bad term {term:?}");
        // A modifier: name "=" macro-string (a mechanism never has "=" before ":" or "/").
        let eq = term.find('=');
        let colon = term.find([':', '/']);
        if let Some(eq) = eq.filter(|e| colon.is_none_or(|c| *e < c)) {
            let (name, value) = (&term[..eq], &term[eq + 1..]);
            let ok_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok_name {
                return Err(bad());
            }
            macro_string(value).map_err(|e| format!("{term:?}: {e}"))?;
            let seen = match name.to_ascii_lowercase().as_str() {
                "redirect" => &mut redirect,
                "exp" => &mut exp,
                _ => continue,
            };
            if *seen || value.is_empty() {
                return Err(bad());
            }
            *seen = true;
            continue;
        }
        let body = term.strip_prefix(['+', '-', '?', '~']).unwrap_or(term);
        let (name, rest) = match body.find([':', '/']) {
            Some(i) => (&body[..i], &body[i..]),
            None => (body, ""),
        };
        let arg = rest.strip_prefix(':');
        match name.to_ascii_lowercase().as_str() {
            "all" if rest.is_empty() => {}
            "include" | "exists" => domain_spec(arg.ok_or_else(bad)?).map_err(|e| format!("{term:?}: {e}"))?,
            "ptr" => {
                if let Some(d) = arg {
                    domain_spec(d).map_err(|e| format!("{term:?}: {e}"))?;
                } else if !rest.is_empty() {
                    return Err(bad());
                }
            }
            "a" | "mx" => {
                let (domain, cidr) = match arg {
                    Some(a) => match a.find('/') {
                        Some(i) => (Some(&a[..i]), &a[i..]),
                        None => (Some(a), ""),
                    },
                    None => (None, rest),
                };
                if let Some(d) = domain {
                    domain_spec(d).map_err(|e| format!("{term:?}: {e}"))?;
                }
                dual_cidr(cidr).ok_or_else(bad)?;
            }
            "ip4" => {
                let a = arg.ok_or_else(bad)?;
                let (ip, cidr) = a.split_once('/').map_or((a, None), |(i, c)| (i, Some(c)));
                ip.parse::<Ipv4Addr>().map_err(|_| bad())?;
                if let Some(c) = cidr {
                    cidr_len(c, 32).ok_or_else(bad)?;
                }
            }
            "ip6" => {
                let a = arg.ok_or_else(bad)?;
                let (ip, cidr) = a.split_once('/').map_or((a, None), |(i, c)| (i, Some(c)));
                ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
                if let Some(c) = cidr {
                    cidr_len(c, 128).ok_or_else(bad)?;
                }
            }
            _ => return Err(format!("unknown mechanism in {term:?}")),
        }
    }
    Ok(())
}

/// A CIDR length: digits without a leading zero, at most `max`.
fn cidr_len(s: &str, max: u32) -> Option<()> {
    let ok =
        !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse::<u32>().ok().filter(|n| *n <= max)).flatten().map(|_| ())
}

/// `[ "/" ip4-cidr ] [ "//" ip6-cidr ]`.
fn dual_cidr(s: &str) -> Option<()> {
    if s.is_empty() {
        return Some(());
    }
    let rest = s.strip_prefix('/')?;
    let (v4, v6) = match rest.split_once("//") {
        Some((a, b)) => (a, Some(b)),
        None => match rest.strip_prefix('/') {
            Some(b) => ("", Some(b)),
            None => (rest, None),
        },
    };
    if !v4.is_empty() {
        cidr_len(v4, 32)?;
    }
    if let Some(v6) = v6 {
        cidr_len(v6, 128)?;
    }
    Some(())
}

/// A domain-spec: a macro-string that expands to a name (not checked further here: its
/// expansion is what is looked up).
fn domain_spec(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty domain".into());
    }
    macro_string(s)
}

/// RFC 7208 §7.1: `%{` letter digits [r] delimiters `}`, `%%`, `%_`, `%-`; visible
/// characters otherwise.
fn macro_string(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match b.get(i + 1) {
                Some(b'%' | b'_' | b'-') => i += 2,
                Some(b'{') => {
                    let end = s[i..].find('}').ok_or("unclosed macro")? + i;
                    let inner = &s[i + 2..end];
                    let mut chars = inner.chars();
                    let letter = chars.next().ok_or("empty macro")?;
                    if !"slodiphcrtvSLODIPHCRTV".contains(letter) {
                        return Err(format!("unknown macro letter {letter:?}"));
                    }
                    let rest: String = chars.collect();
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let mut tail = &rest[digits..];
                    tail = tail.strip_prefix(['r', 'R']).unwrap_or(tail);
                    if !tail.chars().all(|c| ".-+,/_=".contains(c)) {
                        return Err(format!("bad macro {{{inner}}}"));
                    }
                    i = end + 1;
                }
                _ => return Err("a lone %".into()),
            },
            0x21..=0x7e => i += 1,
            _ => return Err("invisible character".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_records() {
        for r in [
            "v=spf1",
            "v=spf1 -all",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 a:mail.example.com/24//64 ~all",
            "v=spf1 include:_spf.example.com exists:%{i}._ip.%{d} ptr ?all",
            "v=spf1 redirect=_spf.example.com",
            "v=spf1 exists:%{l1r+}.%{d2} exp=explain.%{d} foo-bar=baz -all",
            "V=SPF1 IP4:192.0.2.1 -ALL",
        ] {
            assert_eq!(check(r.as_bytes()), Ok(()), "{r}");
        }
    }

    #[test]
    fn bad_records() {
        for r in [
            "v=spf1 ip4:300.1.1.1 -all",
            "v=spf1 ip4:192.0.2.1/33",
            "v=spf1 ip6:2001:db8::/129",
            "v=spf1 a/033",
            "v=spf1 foo:bar",
            "v=spf1 include:",
            "v=spf1 exists",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 exists:%{q}.example",
            "v=spf1 exists:%{i.example",
            "v=spf1 exists:100%.example",
            "v=spf1 all:x",
            "v=spf1 1bad=x",
        ] {
            assert!(check(r.as_bytes()).is_err(), "{r}");
        }
    }

    proptest::proptest! {
        /// Any record from a hostile zone is judged without a panic.
        #[test]
        fn never_panics(record in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = check(&record);
            let _ = check_records(&[record.clone(), b"v=spf1 ".iter().chain(&record).copied().collect()]);
        }

        #[test]
        fn spf_like_text_never_panics(tail in "[ -~]{0,200}") {
            let _ = check(format!("v=spf1 {tail}").as_bytes());
        }
    }

    #[test]
    fn records_of_a_domain() {
        let one = |s: &str| s.as_bytes().to_vec();
        assert_eq!(check_records(&[one("google-site-verification=x"), one("v=spf1 -all")]), None);
        assert!(check_records(&[one("v=spf1 -all"), one("v=spf1 +all")]).is_some());
        assert_eq!(check_records(&[one("v=spf10 -all")]), None, "not an SPF record");
        assert!(is_spf(b"v=spf1") && !is_spf(b"v=spf1x"));
    }
}
