//! Collection jobs (`[[fetch]]`) against a second sansmail as the provider: ETRN (the held
//! mail arrives on the site's own listener), ATRN (the site takes it on the same
//! connection), and POP3 from the provider's gateway mailbox, sorted to local users by
//! `Delivered-To`, To/Cc and rules, taken once even when the site is killed mid-run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Server;

const SITE_USERS: &str = "hostname = \"mx.office.test\"\n[[domain]]\nname = \"office.test\"\n\
    [[user]]\naddress = \"bob@office.test\"\n[[user]]\naddress = \"carol@office.test\"\n\
    [[user]]\naddress = \"sales@office.test\"\n";

fn provider(name: &str, gateway: &str) -> Server {
    Server::start(
        name,
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n",
            &format!(
                "[[listener]]\nname = \"pop3\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
                 allow_plaintext_auth = true\n\
                 [[listener]]\nname = \"odmr\"\nservice = \"odmr\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
                 allow_plaintext_auth = true\n\
                 [[gateway]]\nname = \"office\"\ndomains = [\"office.test\"]\ntls = \"none\"\n{gateway}"
            ),
        ),
    )
}

fn site(name: &str, jobs: &str) -> Server {
    Server::start(name, &format!("{}{jobs}", common::mx(SITE_USERS, "")))
}

fn send(s: &Server, to: &str, headers: &str) {
    let server = s.addr("mx").to_string();
    let mut args = vec!["--server", server.as_str(), "--from", "alice@remote.test", "--to", to];
    for h in headers.split('|').filter(|h| !h.is_empty()) {
        args.push("--header");
        args.push(h);
    }
    let (ok, out) = common::swaks(&args);
    assert!(ok, "{out}");
}

fn add_user(s: &Server, address: &str, password: &str) {
    let out = s.cli(&["user", "add", address], &format!("{password}\n"));
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn etrn_asks_the_provider_and_the_mail_comes_to_our_listener() {
    // The site's listener on a port chosen first: the provider delivers there.
    let port = common::receiver::free_port(&["127.0.0.1"]);
    let p = provider(
        "fetch-etrn-provider",
        &format!(
            "delivery = \"hold\"\netrn_networks = [\"127.0.0.1/32\"]\netrn_to_client = true\netrn_port = {port}\n"
        ),
    );
    for i in 1..=2 {
        send(&p, "bob@office.test", &format!("Subject: etrn {i}"));
    }
    assert_eq!(p.wait_outbound(2).len(), 2);
    let job = format!(
        "\n[[fetch]]\nname = \"provider\"\nmethod = \"etrn\"\nhost = \"{}\"\ntls = \"none\"\ndomains = [\"office.test\"]\n",
        p.addr("mx")
    );
    let config = common::mx(SITE_USERS, "").replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let s = Server::start("fetch-etrn-site", &format!("{config}{job}"));
    let out = s.cli(&["fetch", "run", "provider"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.wait_maildir("office.test", "bob", 2).len(), 2, "{}\n{}", s.log_text(), p.log_text());
    assert!(s.wait_for_log(&["fetch run", "job=provider", "messages=2"], Duration::from_secs(10)), "{}", s.log_text());
    let status = String::from_utf8_lossy(&s.cli(&["fetch", "status"], "").stdout).into_owned();
    assert!(status.contains("provider  Etrn") && status.contains("2 message(s)"), "{status}");
}

#[test]
fn atrn_takes_the_held_mail_on_the_same_connection() {
    let p = provider("fetch-atrn-provider", "delivery = \"hold\"\natrn_users = [\"office@provider.test\"]\n");
    add_user(&p, "office@provider.test", "odmr-secret");
    for to in ["bob@office.test", "carol@office.test", "nobody@office.test"] {
        send(&p, to, &format!("Subject: atrn for {to}"));
    }
    assert_eq!(p.wait_outbound(3).len(), 3);
    let s = site(
        "fetch-atrn-site",
        &format!(
            "\n[[fetch]]\nname = \"odmr\"\nmethod = \"atrn\"\nhost = \"{}\"\ntls = \"none\"\ndomains = [\"office.test\"]\n\
             username = \"office@provider.test\"\npassword = \"odmr-secret\"\n",
            p.addr("odmr")
        ),
    );
    let out = s.cli(&["fetch", "run"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.wait_maildir("office.test", "bob", 1).len(), 1, "{}\n{}", s.log_text(), p.log_text());
    assert_eq!(s.wait_maildir("office.test", "carol", 1).len(), 1);
    // The unknown user was refused by the site, so the provider returns it (its sender is
    // remote: the bounce waits in the provider's queue); nothing else is left there.
    assert!(common::wait_until(|| p.outbound().len() <= 1), "{}", p.log_text());
    assert!(s.wait_for_log(&["fetch run", "job=odmr", "messages=2"], Duration::from_secs(10)), "{}", s.log_text());
    // Nothing more: 453, a run with no mail and no error.
    let out = s.cli(&["fetch", "run", "odmr"], "");
    assert!(out.status.success());
    assert!(s.wait_for_log(&["fetch run", "job=odmr", "messages=0", "error=\"\""], Duration::from_secs(10)));
}

/// ETRN and ATRN to a provider that speaks STARTTLS with a certificate from a private
/// authority: both jobs verify it (`ca_file`) and collect; without the authority the job
/// refuses the provider and nothing is taken.
#[test]
fn etrn_and_atrn_over_starttls_check_the_providers_certificate() {
    let (ca, cert_file, key_file) = common::private_ca(&common::temp_dir("fetch-tls-ca"));

    let port = common::receiver::free_port(&["127.0.0.1"]);
    let p = Server::start(
        "fetch-tls-provider",
        &format!(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n\
             [tls]\ncert = {:?}\nkey = {:?}\n\
             [[listener]]\nname = \"mx\"\nservice = \"smtp\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
             [[listener]]\nname = \"odmr\"\nservice = \"odmr\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
             [[gateway]]\nname = \"office\"\ndomains = [\"office.test\"]\ntls = \"none\"\ndelivery = \"hold\"\n\
             etrn_networks = [\"127.0.0.1/32\"]\netrn_to_client = true\netrn_port = {port}\n\
             atrn_users = [\"office@provider.test\"]\n",
            cert_file.display().to_string(),
            key_file.display().to_string()
        ),
    );
    add_user(&p, "office@provider.test", "odmr-secret");
    let job = |name: &str, method: &str, listener: &str, ca_file: Option<&std::path::Path>| {
        let ca = ca_file.map(|c| format!("ca_file = {:?}\n", c.display().to_string())).unwrap_or_default();
        format!(
            "\n[[fetch]]\nname = \"{name}\"\nmethod = \"{method}\"\nhost = \"localhost:{}\"\ntls = \"starttls\"\n\
             domains = [\"office.test\"]\nusername = \"office@provider.test\"\npassword = \"odmr-secret\"\n{ca}",
            p.addr(listener).port()
        )
    };
    let config = common::mx(SITE_USERS, "").replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let jobs = [
        job("etrn-tls", "etrn", "mx", Some(&ca)),
        job("atrn-tls", "atrn", "odmr", Some(&ca)),
        job("atrn-untrusted", "atrn", "odmr", None),
    ]
    .concat();
    let s = Server::start("fetch-tls-site", &format!("{config}{jobs}"));

    // Without the authority: refused, the mail stays at the provider.
    send(&p, "bob@office.test", "Subject: over tls 1");
    assert_eq!(p.wait_outbound(1).len(), 1);
    assert!(s.cli(&["fetch", "run", "atrn-untrusted"], "").status.success());
    assert!(
        s.wait_for_log(&["fetch run", "job=atrn-untrusted", "certificate"], Duration::from_secs(20)),
        "{}",
        s.log_text()
    );
    assert_eq!(p.outbound().len(), 1);
    // ATRN over TLS takes it on the same connection.
    assert!(s.cli(&["fetch", "run", "atrn-tls"], "").status.success());
    assert_eq!(s.wait_maildir("office.test", "bob", 1).len(), 1, "{}\n{}", s.log_text(), p.log_text());
    assert!(s.wait_for_log(&["fetch run", "job=atrn-tls", "messages=1"], Duration::from_secs(10)), "{}", s.log_text());
    // ETRN over TLS: the provider delivers to our listener.
    send(&p, "carol@office.test", "Subject: over tls 2");
    assert_eq!(p.wait_outbound(1).len(), 1);
    assert!(s.cli(&["fetch", "run", "etrn-tls"], "").status.success());
    assert_eq!(s.wait_maildir("office.test", "carol", 1).len(), 1, "{}\n{}", s.log_text(), p.log_text());
    assert!(s.wait_for_log(&["fetch run", "job=etrn-tls", "error=\"\""], Duration::from_secs(10)), "{}", s.log_text());
}

/// DomainPOP: the provider keeps the domain's mail in one mailbox (a copy per recipient
/// with Delivered-To); the site collects it over POP3 and sorts it.
#[test]
fn pop3_collection_routes_each_message_and_takes_it_once() {
    let p = provider("fetch-pop3-provider", "delivery = \"mailbox\"\nmailbox = \"office@provider.test\"\n");
    add_user(&p, "office@provider.test", "pop-secret");
    send(&p, "bob@office.test,carol@office.test", "Subject: for both");
    send(&p, "nobody@office.test", "Subject: Order 42");
    send(&p, "stranger@office.test", "Subject: who?");
    assert_eq!(p.wait_maildir("provider.test", "office", 4).len(), 4);
    let mut s = site(
        "fetch-pop3-site",
        &format!(
            "\n[[fetch]]\nname = \"domainpop\"\nmethod = \"pop3\"\nhost = \"{}\"\ntls = \"none\"\n\
             username = \"office@provider.test\"\npassword = \"pop-secret\"\n\
             [[fetch.rule]]\nheader = \"Subject\"\ncontains = \"order\"\ndeliver_to = \"sales@office.test\"\n",
            p.addr("pop3")
        ),
    );
    let out = s.cli(&["fetch", "run", "domainpop"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.wait_maildir("office.test", "bob", 1).len(), 1, "{}", s.log_text());
    assert_eq!(s.wait_maildir("office.test", "carol", 1).len(), 1);
    assert_eq!(s.wait_maildir("office.test", "sales", 1).len(), 1, "the rule");
    assert_eq!(s.wait_maildir("office.test", "postmaster", 1).len(), 1, "unplaced: the postmaster");
    let bob = &s.maildir("office.test", "bob")[0].1;
    assert!(bob.contains("by mx.office.test (sansmail) with POP3 (fetch domainpop)"), "{bob}");
    assert!(common::wait_until(|| p.maildir("provider.test", "office").is_empty()), "deleted once taken");
    // Taken once: mail that arrives now is collected, nothing before again; a crash mid-run
    // (the site killed while it collects) loses and repeats nothing.
    for i in 1..=20 {
        send(&p, "bob@office.test", &format!("Subject: batch {i}"));
    }
    assert_eq!(p.wait_maildir("provider.test", "office", 20).len(), 20);
    let out = s.cli(&["fetch", "run", "domainpop"], "");
    assert!(out.status.success());
    assert!(common::wait_until(|| s.maildir("office.test", "bob").len() > 3), "{}", s.log_text());
    s.kill();
    s.restart();
    let out = s.cli(&["fetch", "run", "domainpop"], "");
    assert!(out.status.success());
    assert!(common::wait_until(|| p.maildir("provider.test", "office").is_empty()), "{}", s.log_text());
    let bob = s.wait_maildir("office.test", "bob", 21);
    std::thread::sleep(Duration::from_millis(500));
    let subjects: Vec<String> = s
        .maildir("office.test", "bob")
        .iter()
        .filter_map(|(_, m)| m.lines().find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned)))
        .collect();
    for i in 1..=20 {
        let n = subjects.iter().filter(|s| **s == format!("batch {i}")).count();
        assert_eq!(n, 1, "batch {i} delivered {n} times: {subjects:?}");
    }
    assert_eq!(bob.len(), 21);
    // `sansmail connect`: the queue goes out, then every job runs.
    send(&p, "carol@office.test", "Subject: on connect");
    assert_eq!(p.wait_maildir("provider.test", "office", 1).len(), 1);
    let out = s.cli(&["connect"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.wait_maildir("office.test", "carol", 2).len(), 2, "{}", s.log_text());
}

/// Dovecot as the provider's POP3 server: STLS with its certificate checked against the
/// authority given, each message placed by its envelope header, the maildrop emptied; a job
/// with `keep_days` leaves the mail there and still takes each message once.
#[test]
fn pop3_collection_from_dovecot_over_stls() {
    let dv = common::dovecot::Dovecot::start(&[
        ("office@provider.test", "pop-secret"),
        ("kept@provider.test", "pop-secret"),
    ]);
    let batch: Vec<String> = (1..=30)
        .map(|i| {
            let to = if i % 2 == 0 { "bob" } else { "carol" };
            format!(
                "X-Original-To: {to}@office.test\r\nTo: list@lists.test\r\nSubject: dovecot {i}\r\n\r\nbody {i}\r\n"
            )
        })
        .collect();
    dv.put("office@provider.test", &batch);
    dv.put("kept@provider.test", &batch[..5]);
    let job = |name: &str, user: &str, extra: &str| {
        format!(
            "\n[[fetch]]\nname = \"{name}\"\nmethod = \"pop3\"\nhost = \"localhost:{}\"\nca_file = {:?}\n\
             username = \"{user}\"\npassword = \"pop-secret\"\n{extra}",
            dv.pop3,
            dv.ca.display().to_string()
        )
    };
    let s = site(
        "fetch-dovecot",
        &(job("dovecot", "office@provider.test", "")
            + &job("kept", "kept@provider.test", "keep_days = 1\ndeliver_to = \"sales@office.test\"\n")),
    );
    let out = s.cli(&["fetch", "run"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.wait_maildir("office.test", "bob", 15).len(), 15, "{}\n{}", s.log_text(), dv.log());
    assert_eq!(s.wait_maildir("office.test", "carol", 15).len(), 15);
    assert_eq!(s.wait_maildir("office.test", "sales", 5).len(), 5);
    assert!(common::wait_until(|| dv.count("office@provider.test") == 0), "{}", dv.log());
    assert_eq!(dv.count("kept@provider.test"), 5, "kept for a day");
    // Again: nothing new, nothing twice.
    let out = s.cli(&["fetch", "run", "kept"], "");
    assert!(out.status.success());
    assert!(s.wait_for_log(&["fetch run", "job=kept", "messages=0"], Duration::from_secs(20)), "{}", s.log_text());
    assert_eq!(s.maildir("office.test", "sales").len(), 5);
    // A certificate it cannot check: no login, an error in the status.
    let t =
        site("fetch-dovecot-untrusted", &job("dovecot", "office@provider.test", "").replace("ca_file", "# ca_file"));
    let out = t.cli(&["fetch", "run"], "");
    assert!(out.status.success());
    assert!(
        t.wait_for_log(&["fetch run", "job=dovecot", "TLS with localhost"], Duration::from_secs(20)),
        "{}",
        t.log_text()
    );
}

/// Dovecot over IMAP with STARTTLS: a folder collected, each message placed, flagged and
/// expunged only once stored here; killed mid-run, the site loses and repeats nothing.
#[test]
fn imap_collection_from_dovecot_survives_kill_9() {
    const N: usize = 200;
    let dv = common::dovecot::Dovecot::start(&[("office@provider.test", "imap-secret")]);
    let batch: Vec<String> = (1..=N)
        .map(|i| {
            let to = if i % 2 == 0 { "bob" } else { "carol" };
            let filler = "x".repeat(2000);
            format!("Delivered-To: {to}@office.test\r\nSubject: imap {i}\r\n\r\n{filler}\r\n")
        })
        .collect();
    dv.put("office@provider.test", &batch);
    let mut s = site(
        "fetch-imap",
        &format!(
            "\n[[fetch]]\nname = \"imap\"\nmethod = \"imap\"\nhost = \"localhost:{}\"\nca_file = {:?}\n\
             username = \"office@provider.test\"\npassword = \"imap-secret\"\n",
            dv.imap,
            dv.ca.display().to_string()
        ),
    );
    let out = s.cli(&["fetch", "run", "imap"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        common::wait_until(|| s.maildir("office.test", "bob").len() + s.maildir("office.test", "carol").len() >= 10),
        "{}\n{}",
        s.log_text(),
        dv.log()
    );
    s.kill();
    s.restart();
    let out = s.cli(&["fetch", "run", "imap"], "");
    assert!(out.status.success());
    assert!(s.wait_for_log(&["fetch run", "job=imap", "error=\"\""], Duration::from_secs(60)), "{}", s.log_text());
    assert!(common::wait_until(|| dv.count("office@provider.test") == 0), "expunged: {}", dv.log());
    let bob = s.wait_maildir("office.test", "bob", N / 2);
    let carol = s.wait_maildir("office.test", "carol", N / 2);
    std::thread::sleep(Duration::from_millis(500));
    let mut subjects: Vec<String> = bob
        .iter()
        .chain(&carol)
        .filter_map(|(_, m)| m.lines().find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned)))
        .collect();
    subjects.sort();
    let before = subjects.len();
    subjects.dedup();
    assert_eq!(before, subjects.len(), "nothing delivered twice");
    assert_eq!(subjects.len(), N, "nothing lost");
    assert!(bob[0].1.contains("with IMAP (fetch imap)"), "{}", bob[0].1);
}
