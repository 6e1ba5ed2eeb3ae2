//! SPF (RFC 7208) results beside pyspf's on one table of records served by dnslib on
//! loopback: ip4, all's qualifiers, include, redirect, macros (`%{i}`, `%{l}`, `%{d}`), mx,
//! the 10-lookup limit, an include loop, void lookups at and past their limit of two, no
//! record, two records, a syntax error. Ours is asked through `sansmail explain`, which runs
//! the listener's sender checks; DMARC alignment follows RFC 7489's rules in the same run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::receiver::dns_server;
use common::{Server, python};

/// pyspf over dnspython pointed at the loopback DNS; prints one result per `ip,sender` pair.
const PYSPF: &str = r#"
import sys, spf, dns.resolver
port, cases = int(sys.argv[1]), sys.argv[2:]
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = port
dns.resolver.default_resolver = r
for case in cases:
    ip, sender = case.split(',')
    result, _ = spf.check2(i=ip, s=sender, h=sender.split('@')[1], timeout=5)
    print(case, result)
"#;

const ZONE: &str = r#"
a.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
soft.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 ~all"
neutral.spf.test. 60 IN TXT "v=spf1 ?all"
inc.spf.test. 60 IN TXT "v=spf1 include:a.spf.test ~all"
red.spf.test. 60 IN TXT "v=spf1 redirect=a.spf.test"
mac.spf.test. 60 IN TXT "v=spf1 exists:%{i}._ip.mac.spf.test -all"
192.0.2.7._ip.mac.spf.test. 60 IN A 127.0.0.2
user.spf.test. 60 IN TXT "v=spf1 exists:%{l}._u.%{d} -all"
ann._u.user.spf.test. 60 IN A 127.0.0.2
mx.spf.test. 60 IN TXT "v=spf1 mx -all"
mx.spf.test. 60 IN MX 10 mail.mx.spf.test.
mail.mx.spf.test. 60 IN A 192.0.2.9
limit.spf.test. 60 IN TXT "v=spf1 a:h1.spf.test a:h2.spf.test a:h3.spf.test a:h4.spf.test a:h5.spf.test a:h6.spf.test a:h7.spf.test a:h8.spf.test a:h9.spf.test a:h10.spf.test a:h11.spf.test ip4:192.0.2.1 -all"
h1.spf.test. 60 IN A 192.0.2.200
h2.spf.test. 60 IN A 192.0.2.200
h3.spf.test. 60 IN A 192.0.2.200
h4.spf.test. 60 IN A 192.0.2.200
h5.spf.test. 60 IN A 192.0.2.200
h6.spf.test. 60 IN A 192.0.2.200
h7.spf.test. 60 IN A 192.0.2.200
h8.spf.test. 60 IN A 192.0.2.200
h9.spf.test. 60 IN A 192.0.2.200
h10.spf.test. 60 IN A 192.0.2.200
h11.spf.test. 60 IN A 192.0.2.200
nine.spf.test. 60 IN TXT "v=spf1 a:h1.spf.test a:h2.spf.test a:h3.spf.test a:h4.spf.test a:h5.spf.test a:h6.spf.test a:h7.spf.test a:h8.spf.test a:h9.spf.test ip4:192.0.2.1 -all"
loop1.spf.test. 60 IN TXT "v=spf1 include:loop2.spf.test -all"
loop2.spf.test. 60 IN TXT "v=spf1 include:loop1.spf.test -all"
void.spf.test. 60 IN TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test a:nx3.spf.test ip4:192.0.2.1 -all"
void2.spf.test. 60 IN TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test ip4:192.0.2.1 -all"
none.spf.test. 60 IN A 192.0.2.1
two.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
two.spf.test. 60 IN TXT "v=spf1 -all"
bad.spf.test. 60 IN TXT "v=spf1 ip4:300.1.1.1 -all"
aligned.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.aligned.spf.test. 60 IN TXT "v=DMARC1; p=reject"
sub.relaxed.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.relaxed.spf.test. 60 IN TXT "v=DMARC1; p=reject"
_dmarc.strict.spf.test. 60 IN TXT "v=DMARC1; p=reject; aspf=s"
sub.strict.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.quar.spf.test. 60 IN TXT "v=DMARC1; p=quarantine"
quar.spf.test. 60 IN TXT "v=spf1 -all"
"#;

/// (client, sender) of each row.
const CASES: [(&str, &str); 25] = [
    ("192.0.2.1", "x@a.spf.test"),
    ("192.0.2.2", "x@a.spf.test"),
    ("192.0.2.2", "x@soft.spf.test"),
    ("192.0.2.2", "x@neutral.spf.test"),
    ("192.0.2.1", "x@inc.spf.test"),
    ("192.0.2.2", "x@inc.spf.test"),
    ("192.0.2.1", "x@red.spf.test"),
    ("192.0.2.2", "x@red.spf.test"),
    ("192.0.2.7", "x@mac.spf.test"),
    ("192.0.2.8", "x@mac.spf.test"),
    ("192.0.2.1", "ann@user.spf.test"),
    ("192.0.2.1", "bob@user.spf.test"),
    ("192.0.2.9", "x@mx.spf.test"),
    ("192.0.2.1", "x@mx.spf.test"),
    ("192.0.2.1", "x@limit.spf.test"),
    ("192.0.2.1", "x@nine.spf.test"),
    ("192.0.2.1", "x@loop1.spf.test"),
    ("192.0.2.1", "x@void.spf.test"),
    ("192.0.2.1", "x@void2.spf.test"),
    ("192.0.2.1", "x@none.spf.test"),
    ("192.0.2.1", "x@two.spf.test"),
    ("192.0.2.1", "x@bad.spf.test"),
    ("192.0.2.1", "x@nx.spf.test"),
    ("192.0.2.2", "x@quar.spf.test"),
    ("192.0.2.1", "x@aligned.spf.test"),
];

fn explain(s: &Server, ip: &str, from: &str) -> String {
    explain_from(s, ip, from, from)
}

/// `explain` for a message whose `From:` differs from its sender.
fn explain_from(s: &Server, ip: &str, from: &str, header_from: &str) -> String {
    let args = ["explain", "--listener", "mx", "--client", ip, "--from", from, "--to", "bob@localhost"];
    let out = s.cli(&[&args[..], &["--header-from", header_from]].concat(), "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// The first `key=value` word of `explain`'s verdict line.
fn word(text: &str, key: &str) -> String {
    let line = text.lines().find(|l| l.starts_with("sender checks (")).unwrap_or_else(|| panic!("{text}"));
    let at = line.find(&format!(" {key}=")).unwrap_or_else(|| panic!("{key} in {line}")) + key.len() + 2;
    line[at..].split_whitespace().next().unwrap().to_owned()
}

#[test]
fn spf_results_match_pyspf_and_dmarc_aligns_as_the_rfc_says() {
    let (_dns, port) = dns_server(ZONE);
    let s = Server::start(
        "spf-pyspf",
        &common::mx(
            &format!("[[user]]\naddress = \"bob@localhost\"\n[outbound]\ndns_servers = [\"127.0.0.1:{port}\"]\n"),
            "sender_checks = true\n",
        ),
    );
    let cases: Vec<String> = CASES.iter().map(|(ip, from)| format!("{ip},{from}")).collect();
    let mut py_args = vec![port.to_string()];
    py_args.extend(cases.iter().cloned());
    let py_args: Vec<&str> = py_args.iter().map(String::as_str).collect();
    let theirs = python(PYSPF, &py_args);
    let mut table = String::new();
    let mut differ = Vec::new();
    for (case, (ip, from)) in cases.iter().zip(CASES) {
        let pyspf = theirs
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{case} ")))
            .unwrap_or_else(|| panic!("{case} in {theirs}"))
            .to_owned();
        let ours = word(&explain(&s, ip, from), "spf");
        table.push_str(&format!("{case:32} pyspf={pyspf:10} ours={ours}\n"));
        if ours != pyspf {
            differ.push(case.clone());
        }
    }
    assert!(differ.is_empty(), "differ: {differ:?}\n{table}");
    // The table covers every kind of result.
    for r in ["pass", "fail", "softfail", "neutral", "none", "permerror"] {
        assert!(table.contains(&format!("pyspf={r} ")), "{r}\n{table}");
    }

    // DMARC alignment (RFC 7489 §3.1.2): SPF passes for the sender's domain; it aligns with
    // From: when the organisational domains match (relaxed), or the names do (aspf=s).
    let verdict = explain(&s, "192.0.2.1", "x@aligned.spf.test");
    assert_eq!(word(&verdict, "dmarc"), "pass", "{verdict}");
    assert!(verdict.contains("end of data -> 250 accepted"), "{verdict}");
    let verdict = explain(&s, "192.0.2.2", "x@aligned.spf.test");
    assert_eq!(word(&verdict, "dmarc"), "fail", "{verdict}");
    assert!(verdict.contains("end of data -> 550 5.7.1 Rejected by the DMARC policy of aligned.spf.test"), "{verdict}");
    let verdict = explain(&s, "192.0.2.2", "x@quar.spf.test");
    assert!(verdict.contains("250, delivered to the recipients' Junk folders"), "{verdict}");
    // A sender in a subdomain of From:'s domain: aligned under relaxed alignment (the
    // default), not under `aspf=s`, SPF passing both times.
    let verdict = explain_from(&s, "192.0.2.1", "b@sub.relaxed.spf.test", "a@relaxed.spf.test");
    assert_eq!((word(&verdict, "spf"), word(&verdict, "dmarc")), ("pass".into(), "pass".into()), "{verdict}");
    let verdict = explain_from(&s, "192.0.2.1", "b@sub.strict.spf.test", "a@strict.spf.test");
    assert_eq!((word(&verdict, "spf"), word(&verdict, "dmarc")), ("pass".into(), "fail".into()), "{verdict}");
    assert!(verdict.contains("550 5.7.1 Rejected by the DMARC policy of strict.spf.test"), "{verdict}");
}
