//! Automatic backup-MX gateways against a loopback DNS server (dnslib) and an aiosmtpd
//! primary: only a domain whose MX records list this server below a better host is taken;
//! its mail is held until confirmed (by the postmaster's answer to the token message, or
//! the CLI), then goes to the primary; unconfirmed in time, it goes back to its senders.
//! Everything listens on 127.0.0.x.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::receiver::{dns_server, free_port, receiver};
use common::{Server, python};

const SEND: &str = r#"
import smtplib, sys
port, sender, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
try:
    s.sendmail(sender, [rcpt], ('Subject: %s\r\n\r\nbody\r\n' % subject).encode())
    print('sent')
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print('refused', code, text.decode())
s.quit()
"#;

fn send(s: &Server, from: &str, to: &str, subject: &str) -> String {
    python(SEND, &[&s.addr("mx").port().to_string(), from, to, subject])
}

#[test]
fn backup_mx_only_for_domains_that_list_us_held_until_confirmed() {
    // The primaries (and the senders' own MX) all answer on 127.0.0.5.
    let port = free_port(&["127.0.0.5"]);
    let primary = receiver("127.0.0.5", port, "accept");
    let zone = "branch.test. 60 IN MX 10 mx1.branch.test.\n\
                branch.test. 60 IN MX 20 gw.provider.test.\n\
                byaddr.test. 60 IN MX 10 mx1.branch.test.\n\
                byaddr.test. 60 IN MX 30 backup.byaddr.test.\n\
                late.test. 60 IN MX 10 mx1.branch.test.\n\
                late.test. 60 IN MX 20 gw.provider.test.\n\
                best.test. 60 IN MX 10 gw.provider.test.\n\
                best.test. 60 IN MX 20 mx1.branch.test.\n\
                other.test. 60 IN MX 10 mx1.branch.test.\n\
                sender.test. 60 IN MX 10 mx1.branch.test.\n\
                mx1.branch.test. 60 IN A 127.0.0.5\n\
                gw.provider.test. 60 IN A 127.0.0.9\n\
                backup.byaddr.test. 60 IN A 127.0.0.1\n";
    let (_dns, dns_port) = dns_server(zone);
    let a = Server::start(
        "backup-mx",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n",
            &format!(
                "[backup_mx]\nenabled = true\nconfirm_days = 1\n\
                 [outbound]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\nport = {port}\nretry_first_secs = 1\n"
            ),
        ),
    );
    // Not listed, or listed as the best: not a relay for them.
    for d in ["other.test", "best.test", "nowhere.test"] {
        let out = send(&a, "alice@sender.test", &format!("x@{d}"), "relay?");
        assert!(out.contains("refused 550") && out.contains("Relay access denied"), "{d}: {out}");
    }
    // Listed below mx1: taken, held, and the postmaster asked to confirm.
    assert!(send(&a, "alice@sender.test", "bob@branch.test", "held for branch").contains("sent"));
    let asked = primary.wait(1);
    assert_eq!(asked.len(), 1, "{}", a.log_text());
    assert!(asked[0].contains("TO postmaster@branch.test"), "{}", asked[0]);
    let token = asked[0]
        .lines()
        .find_map(|l| l.strip_prefix("From: <"))
        .and_then(|l| l.strip_suffix('>'))
        .expect("the request names its answer address")
        .to_owned();
    assert!(token.starts_with("backup-mx+") && token.ends_with("@gw.provider.test"), "{token}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(primary.messages().len(), 1, "held while pending, though the primary is up");
    let list = a.cli(&["gateway", "list"], "");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("branch.test  branch.test  backup MX (pending) below mx1.branch.test  1 message(s)"),
        "{text}"
    );
    let out = a.cli(
        &["explain", "--listener", "mx", "--client", "192.0.2.7", "--from", "x@sender.test", "--to", "y@branch.test"],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("backup MX for branch.test (pending confirmation)"), "{text}");
    // The postmaster answers: confirmed, the held mail goes to the primary, the answer to
    // our postmaster.
    assert!(send(&a, "postmaster@branch.test", &token, "Re: confirm").contains("sent"));
    let got = primary.wait(2);
    assert!(got.iter().any(|m| m.contains("Subject: held for branch")), "{got:?}\n{}", a.log_text());
    assert_eq!(a.wait_maildir("provider.test", "postmaster", 1).len(), 1);
    // A wrong token confirms nothing and is no address here.
    let wrong = send(&a, "x@sender.test", "backup-mx+00ff@gw.provider.test", "guess");
    assert!(wrong.contains("refused 550"), "{wrong}");

    // Listed by one of our addresses under another name; confirmed with the CLI.
    assert!(send(&a, "alice@sender.test", "carol@byaddr.test", "held for byaddr").contains("sent"));
    assert_eq!(primary.wait(3).len(), 3, "the second confirmation request");
    let out = a.cli(&["gateway", "confirm", "byaddr.test"], "");
    assert!(out.status.success(), "{out:?}");
    let got = primary.wait(4);
    assert!(got.iter().any(|m| m.contains("Subject: held for byaddr")), "{got:?}\n{}", a.log_text());

    // Never confirmed: when its time is up (made to pass here by ageing its record), its
    // mail goes back to the sender and no more is taken.
    assert!(send(&a, "alice@sender.test", "dan@late.test", "never confirmed").contains("sent"));
    assert_eq!(primary.wait(5).len(), 5, "the third confirmation request");
    let record = a.data().join("gateways/backup-mx/late.test");
    let text = std::fs::read_to_string(&record).unwrap();
    let aged: String = text
        .lines()
        .map(|l| if l.starts_with("created") { "created = 1000".to_owned() } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&record, aged).unwrap();
    let got = primary.wait(6);
    let bounce = got.iter().find(|m| m.contains("TO alice@sender.test")).unwrap_or_else(|| panic!("{got:?}"));
    assert!(bounce.contains("was not confirmed as backup MX for late.test"), "{bounce}");
    assert!(got.iter().all(|m| !m.contains("Subject: never confirmed\n")), "never handed over");
    let out = send(&a, "alice@sender.test", "dan@late.test", "after expiry");
    assert!(out.contains("refused 550"), "{out}");
    assert!(common::wait_until(|| a.outbound().is_empty()), "{}", a.log_text());
}
