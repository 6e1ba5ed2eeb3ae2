//! SPF, DKIM, DMARC and ARC checks of arriving mail, against an independent signer: Python's
//! dkimpy signs (and ARC-seals) with a key made by openssl, dnslib serves the domains' SPF,
//! DKIM and DMARC records on loopback, smtplib sends from 127.0.0.2. What arrives is judged
//! as the RFCs say: a body changed in transit fails, a field added that the signature does
//! not cover passes, an added `From:` over a signature that over-signed it fails; DMARC
//! `p=reject` → `550 5.7.1`, `p=quarantine` → the Junk folder, SPF `-all` → `550 5.7.23` on
//! a listener that asks; one `Authentication-Results` of ours, forged ones removed; trusted
//! clients never checked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::receiver::dns_server;
use common::{Server, python, temp_dir};

/// Signs `path_in` into `path_out` with dkimpy as `d=signer.test`: DKIM (`dkim`, fields
/// listed) or an ARC set (`arc`, as `relay.signer.test`).
const SIGN: &str = r#"
import sys, dkim
mode, key, path_in, path_out = sys.argv[1], open(sys.argv[2], 'rb').read(), sys.argv[3], sys.argv[4]
message = open(path_in, 'rb').read()
if mode == 'dkim':
    headers = [h.encode() for h in sys.argv[5].split(',')]
    sig = dkim.sign(message, b'sel', b'signer.test', key, canonicalize=(b'relaxed', b'relaxed'), include_headers=headers)
else:
    sig = b''.join(dkim.arc_sign(message, b'sel', b'signer.test', key, b'relay.signer.test'))
open(path_out, 'wb').write(sig + message)
"#;

/// Sends a file as it is from a given source address; prints `sent` or `refused CODE TEXT`.
const SEND: &str = r#"
import smtplib, sys
host, port, src, sender, rcpt, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
s = smtplib.SMTP(host, port, source_address=(src, 0), timeout=30)
s.ehlo('client.signer.test')
try:
    s.sendmail(sender, [rcpt], open(path, 'rb').read())
    print('sent')
except smtplib.SMTPDataError as e:
    print('refused', e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print('refused', e.recipients)
s.quit()
"#;

/// An RSA key for dkimpy (PKCS#1 PEM) and its public half as DKIM's `p=` (SPKI, base64).
fn rsa_key(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("signer.pem");
    let ok = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "openssl genrsa");
    let out = Command::new("openssl").args(["rsa", "-pubout", "-outform", "DER", "-in"]).arg(&key).output().unwrap();
    assert!(out.status.success());
    let b64 = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    b64.stdin.as_ref().unwrap().write_all(&out.stdout).unwrap();
    let p = String::from_utf8(b64.wait_with_output().unwrap().stdout).unwrap();
    (key, p)
}

/// A TXT record line, its value cut in strings of at most 255 octets.
fn txt(name: &str, value: &str) -> String {
    let parts: Vec<String> =
        value.as_bytes().chunks(200).map(|c| format!("\"{}\"", std::str::from_utf8(c).unwrap())).collect();
    format!("{name} 60 IN TXT {}\n", parts.join(" "))
}

struct Case<'a> {
    s: &'a Server,
    dir: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl Case<'_> {
    fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content.replace('\n', "\r\n")).unwrap();
        p.display().to_string()
    }

    fn sign(&self, mode: &str, path: &str, headers: &str) -> String {
        let out = format!("{path}.{mode}");
        python(SIGN, &[mode, &self.key.display().to_string(), path, &out, headers]);
        out
    }

    fn send(&self, listener: &str, src: &str, from: &str, path: &str) -> String {
        self.send_to(listener, src, from, "bob@example.test", path)
    }

    fn send_to(&self, listener: &str, src: &str, from: &str, to: &str, path: &str) -> String {
        let a = self.s.addr(listener);
        python(SEND, &[&a.ip().to_string(), &a.port().to_string(), src, from, to, path]).trim().to_owned()
    }
}

const MESSAGE: &str = "From: Ann <ann@signer.test>\nTo: bob@example.test\nSubject: Quarterly figures\n\
Date: Mon, 07 Dec 2026 10:00:00 +0000\nMessage-ID: <q1@signer.test>\n\nThe figures are attached.\nAnn\n";

#[test]
fn arriving_mail_is_judged_as_the_rfcs_say() {
    let dir = temp_dir("sender-checks-keys");
    let (key, public) = rsa_key(&dir);
    let zone = format!(
        "{}{}{}{}{}{}{}",
        txt("signer.test.", "v=spf1 ip4:127.0.0.2 -all"),
        txt("sel._domainkey.signer.test.", &format!("v=DKIM1; k=rsa; p={public}")),
        txt("_dmarc.signer.test.", "v=DMARC1; p=reject"),
        txt("example.test.", "v=spf1 ip4:192.0.2.10 -all"),
        txt("_dmarc.example.test.", "v=DMARC1; p=reject"),
        txt("quar.test.", "v=spf1 ip4:192.0.2.10 -all") + &txt("_dmarc.quar.test.", "v=DMARC1; p=quarantine"),
        txt("other.test.", "v=spf1 ?all")
            + &txt("news.signer.test.", "v=spf1 ?all")
            + &txt("_dmarc.strict.signer.test.", "v=DMARC1; p=reject; adkim=s"),
    );
    let (_dns, port) = dns_server(&zone);
    let listener = |name: &str, extra: &str| {
        format!(
            "[[listener]]\nname = \"{name}\"\nservice = \"smtp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             sender_checks = true\n{extra}[listener.relay]\nnetworks = [\"127.0.0.9/32\"]\n"
        )
    };
    let config = format!(
        "hostname = \"mail.example.test\"\n[[domain]]\nname = \"example.test\"\n[[user]]\naddress = \"bob@example.test\"\n\
         [[user]]\naddress = \"vac@example.test\"\nautoreply = {{ body = \"Away.\", days = 7 }}\n\
         [[user]]\naddress = \"gwbox@example.test\"\n\
         [[gateway]]\nname = \"office\"\ndomains = [\"office.test\"]\ndelivery = \"mailbox\"\nmailbox = \"gwbox@example.test\"\n\
         [outbound]\ndns_servers = [\"127.0.0.1:{port}\"]\n[authentication]\ntimeout_ms = 5000\n{}{}",
        listener("mx", "sender_checks_exempt = [\"127.0.0.4/32\"]\n"),
        listener("strict", "spf_policy = \"reject\"\n"),
    );
    let s = Server::start("sender-checks", &config);
    let c = Case { s: &s, dir, key };
    let signed = c.sign("dkim", &c.file("m.eml", MESSAGE), "from,from,to,subject,date,message-id");
    let signed_text = std::fs::read_to_string(&signed).unwrap();
    let delivered = std::cell::Cell::new(0);
    let last = || {
        delivered.set(delivered.get() + 1);
        let m = s.wait_maildir("example.test", "bob", delivered.get());
        assert_eq!(m.len(), delivered.get(), "{}", s.log_text());
        m.last().unwrap().1.clone()
    };

    // A. Signed, from an address SPF allows: everything passes, in one field of ours.
    assert_eq!(c.send("mx", "127.0.0.2", "ann@signer.test", &signed), "sent");
    let got = last();
    assert_eq!(got.matches("Authentication-Results: mail.example.test").count(), 1, "{got}");
    for want in [
        "dkim=pass header.i=@signer.test header.s=sel",
        "spf=pass",
        "smtp.mailfrom=ann@signer.test",
        "dmarc=pass header.from=signer.test",
    ] {
        assert!(got.contains(want), "{want} in {got}");
    }

    // B. The body changed in transit, from a sender SPF says nothing of: DKIM fails, nothing
    // aligns, and signer.test asks for reject.
    let altered = c.file("b.eml", &signed_text.replace("\r\n", "\n").replace("figures are", "figures were"));
    let out = c.send("mx", "127.0.0.2", "bounce@other.test", &altered);
    assert!(out.starts_with("refused 550 5.7.1") && out.contains("DMARC policy of signer.test"), "{out}");

    // C. A field the signature does not cover, added on top: still passes (RFC 6376 §5.4).
    let added = c.file("c.eml", &format!("X-Scanned: yes\n{}", signed_text.replace("\r\n", "\n")));
    assert_eq!(c.send("mx", "127.0.0.2", "bounce@other.test", &added), "sent");
    let got = last();
    assert!(got.contains("dkim=pass") && got.contains("dmarc=pass"), "{got}");

    // D. A second Subject on top, Subject signed once: the signature covers the bottom one
    // (RFC 6376 §5.4.2), so it still passes.
    let resubject = c.file("d.eml", &format!("Subject: URGENT\n{}", signed_text.replace("\r\n", "\n")));
    assert_eq!(c.send("mx", "127.0.0.2", "bounce@other.test", &resubject), "sent");
    assert!(last().contains("dkim=pass"));

    // E. A second From on top, From over-signed: the signature fails, and DMARC refuses.
    let refrom = c.file("e.eml", &format!("From: ceo@signer.test\n{}", signed_text.replace("\r\n", "\n")));
    let out = c.send("mx", "127.0.0.2", "bounce@other.test", &refrom);
    assert!(out.starts_with("refused 550 5.7.1"), "{out}");

    // F. Our own domain forged by a stranger: refused as example.test's DMARC asks.
    let forged = c.file("f.eml", "From: ceo@example.test\nTo: bob@example.test\nSubject: wire\n\npay now\n");
    let out = c.send("mx", "127.0.0.2", "bounce@other.test", &forged);
    assert!(out.starts_with("refused 550 5.7.1") && out.contains("example.test"), "{out}");

    // G. p=quarantine: delivered to bob's Junk folder, not his inbox.
    let quar = c.file("g.eml", "From: x@quar.test\nTo: bob@example.test\nSubject: q\n\nmaybe\n");
    assert_eq!(c.send("mx", "127.0.0.2", "x@quar.test", &quar), "sent");
    let junk = s.data().join("mail/example.test/bob/Maildir/.Junk/new");
    assert!(common::wait_until(|| std::fs::read_dir(&junk).is_ok_and(|d| d.count() == 1)), "{}", s.log_text());
    let in_junk = std::fs::read_dir(&junk).unwrap().next().unwrap().unwrap().path();
    let in_junk = std::fs::read_to_string(in_junk).unwrap();
    assert!(
        in_junk.contains("spf=fail") && in_junk.contains("dmarc=fail") && in_junk.contains("policy.dmarc=quarantine"),
        "{in_junk}"
    );
    assert_eq!(s.maildir("example.test", "bob").len(), delivered.get(), "not in the inbox");

    // G2. The same for a domain we keep a gateway mailbox for: its copy stays in the mailbox
    // the site collects (with our results on top), not in a Junk folder it never reads.
    assert_eq!(c.send_to("mx", "127.0.0.2", "x@quar.test", "anyone@office.test", &quar), "sent");
    let kept = s.wait_maildir("example.test", "gwbox", 1);
    assert_eq!(kept.len(), 1, "{}", s.log_text());
    assert!(
        kept[0].1.contains("dmarc=fail") && kept[0].1.contains("Delivered-To: anyone@office.test"),
        "{}",
        kept[0].1
    );
    assert!(!s.data().join("mail/example.test/gwbox/Maildir/.Junk").exists());

    // H. A listener that refuses SPF failures: 550 5.7.23 (RFC 7372).
    let out = c.send("strict", "127.0.0.2", "x@quar.test", &quar);
    assert!(out.starts_with("refused 550 5.7.23"), "{out}");

    // I. Authentication-Results claiming our name arrive with the message: removed; another
    // server's kept.
    let claims = c.file(
        "i.eml",
        &format!(
            "Authentication-Results: mail.example.test; dkim=pass header.d=bank.test\n\
             Authentication-Results: mx.other.test; spf=pass\n{}",
            signed_text.replace("\r\n", "\n")
        ),
    );
    assert_eq!(c.send("mx", "127.0.0.2", "ann@signer.test", &claims), "sent");
    let got = last();
    assert_eq!(got.matches("Authentication-Results: mail.example.test").count(), 1, "{got}");
    assert!(!got.contains("bank.test") && got.contains("Authentication-Results: mx.other.test; spf=pass"), "{got}");

    // J. The relay networks are trusted: not checked, nothing added.
    let out = c.send("mx", "127.0.0.9", "bounce@other.test", &forged);
    assert_eq!(out, "sent");
    let got = last();
    assert!(!got.contains("Authentication-Results"), "{got}");

    // J2. A host in `sender_checks_exempt` (a provider relaying others' mail by ETRN): not
    // checked, though it may not relay.
    let out = c.send("mx", "127.0.0.4", "bounce@other.test", &forged);
    assert_eq!(out, "sent");
    let got = last();
    assert!(!got.contains("Authentication-Results"), "{got}");

    // K. An ARC set sealed by dkimpy over a forwarder's results: the chain validates.
    let forwarded = c.file(
        "k.eml",
        &format!("Authentication-Results: relay.signer.test; spf=pass smtp.mailfrom=ann@signer.test\n{MESSAGE}"),
    );
    let sealed = c.sign("arc", &forwarded, "");
    assert_eq!(c.send("mx", "127.0.0.2", "ann@signer.test", &sealed), "sent");
    let got = last();
    assert!(got.contains("arc=pass"), "{got}");
    assert!(s.wait_for_log(&["sender checks", "arc=pass"], Duration::from_secs(5)));

    // M. DKIM alignment (RFC 7489 §3.1.1): `d=signer.test` on a message From: a subdomain
    // aligns under relaxed alignment (signer.test's record, which covers its subdomains),
    // and not where the subdomain publishes `adkim=s`.
    let sub = MESSAGE.replace("ann@signer.test", "ann@news.signer.test");
    let sub_signed = c.sign("dkim", &c.file("m2.eml", &sub), "from,from,to,subject");
    assert_eq!(c.send("mx", "127.0.0.2", "bounce@other.test", &sub_signed), "sent");
    let got = last();
    assert!(got.contains("dkim=pass") && got.contains("dmarc=pass header.from=news.signer.test"), "{got}");
    let strict = MESSAGE.replace("ann@signer.test", "ann@strict.signer.test");
    let strict_signed = c.sign("dkim", &c.file("m3.eml", &strict), "from,from,to,subject");
    let out = c.send("mx", "127.0.0.2", "bounce@other.test", &strict_signed);
    assert!(out.starts_with("refused 550 5.7.1") && out.contains("strict.signer.test"), "{out}");

    // N. Autoreplies answer only a sender the checks tied to its domain: SPF neither passing
    // nor failing for other.test, no signature of it, no reply; SPF passing, a reply.
    let ask = c.file("n.eml", "From: x@other.test\nTo: vac@example.test\nSubject: are you there?\n\nhello\n");
    assert_eq!(c.send_to("mx", "127.0.0.2", "x@other.test", "vac@example.test", &ask), "sent");
    assert!(s.wait_for_log(&["no autoreply: the sender checks did not verify the sender"], Duration::from_secs(10)));
    let ask = c.file("n2.eml", "From: ann@signer.test\nTo: vac@example.test\nSubject: are you there?\n\nhello\n");
    assert_eq!(c.send_to("mx", "127.0.0.2", "ann@signer.test", "vac@example.test", &ask), "sent");
    assert!(s.wait_for_log(&["autoreply queued", "to=ann@signer.test"], Duration::from_secs(10)), "{}", s.log_text());
    assert!(!s.log_text().contains("to=x@other.test"), "{}", s.log_text());

    // L. A message past what a session holds in memory (it streams to its spool file): read
    // back for the checks, its results written into the envelope kept for them.
    let big = format!("{MESSAGE}{}", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n".repeat(6000));
    let big_signed = c.sign("dkim", &c.file("l.eml", &big), "from,from,to,subject");
    assert_eq!(c.send("mx", "127.0.0.2", "ann@signer.test", &big_signed), "sent");
    let got = last();
    assert!(got.len() > 390_000);
    assert_eq!(got.matches("Authentication-Results: mail.example.test").count(), 1, "{}", &got[..2000]);
    assert!(got.contains("dkim=pass") && got.contains("dmarc=pass"), "{}", &got[..2000]);
}
