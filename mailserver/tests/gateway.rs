//! Store-and-forward gateways with real clients: a second `sansmail` is the gateway domain's
//! own server; mail is sent to the gateway with swaks; `fetchmail --protocol ETRN` asks for
//! held mail. Each hand-over way delivers what was accepted exactly once, and `kill -9`
//! while the gateway holds loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::Server;

/// The gateway domain's own server: branch.test with bob.
fn branch() -> Server {
    Server::start(
        "gw-branch",
        &common::mx(
            "hostname = \"mx.branch.test\"\n[[domain]]\nname = \"branch.test\"\n[[user]]\naddress = \"bob@branch.test\"\n",
            "",
        ),
    )
}

fn gateway(name: &str, keys: &str) -> Server {
    Server::start(
        name,
        &common::mx(
            "hostname = \"gw.provider.test\"\n",
            &format!("[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\n{keys}"),
        ),
    )
}

fn send(s: &Server, to: &str, subject: &str) -> (bool, String) {
    let server = s.addr("mx").to_string();
    common::swaks(&["--server", &server, "--from", "alice@remote.test", "--to", to, "--h-Subject", subject])
}

fn etrn_fetchmail(s: &Server, domain: &str) -> String {
    let out = Command::new("fetchmail")
        .args(["-v", "--nodetach", "--nosyslog", "-f", "/dev/null", "--protocol", "ETRN", "--port"])
        .arg(s.addr("mx").port().to_string())
        .args(["--fetchdomains", domain, "127.0.0.1"])
        .env("HOME", &s.dir)
        .output()
        .expect("fetchmail is installed (scripts/test.sh)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The domain's own server with two users, bob and carol.
fn branch_of_two(name: &str) -> Server {
    Server::start(
        name,
        &common::mx(
            "hostname = \"mx.branch.test\"\n[[domain]]\nname = \"branch.test\"\n\
             [[user]]\naddress = \"bob@branch.test\"\n[[user]]\naddress = \"carol@branch.test\"\n",
            "",
        ),
    )
}

/// One message to bob and carol at once.
fn send_to_both(s: &Server, subject: &str) {
    let server = s.addr("mx").to_string();
    let to = "bob@branch.test,carol@branch.test";
    let (ok, out) =
        common::swaks(&["--server", &server, "--from", "alice@remote.test", "--to", to, "--h-Subject", subject]);
    assert!(ok, "{out}");
}

/// Runs fetchmail with `rc` as its (private) run-control file; its whole log.
fn fetchmail_with(dir: &std::path::Path, rc: &str) -> String {
    let path = dir.join("fetchmailrc");
    std::fs::write(&path, rc).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&path, perms).unwrap();
    let run = Command::new("fetchmail")
        .arg("-f")
        .arg(&path)
        .args(["--nodetach", "--nosyslog", "-v"])
        .env("HOME", dir)
        .env("FETCHMAILHOME", dir)
        .output()
        .expect("fetchmail is installed (scripts/test.sh)");
    String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr)
}

#[test]
fn a_gateway_forwards_at_once_and_takes_only_its_recipients() {
    let b = branch();
    let host = b.addr("mx");
    let a = gateway(
        "gw-forward",
        &format!("recipients = \"listed\"\naddresses = [\"bob@branch.test\"]\nhost = [\"{host}\"]\n"),
    );
    let (ok, out) = send(&a, "bob@branch.test", "forwarded");
    assert!(ok, "{out}");
    let mails = b.wait_maildir("branch.test", "bob", 1);
    assert_eq!(mails.len(), 1, "{}", a.log_text());
    assert!(mails[0].1.contains("Subject: forwarded") && mails[0].1.contains("by gw.provider.test"), "{}", mails[0].1);
    let (ok, out) = send(&a, "carol@branch.test", "unlisted");
    assert!(!ok && out.contains("550 5.1.1"), "{out}");
    // Not a relay for anything else.
    let (ok, out) = send(&a, "someone@elsewhere.test", "relay?");
    assert!(!ok && out.contains("5.7.1"), "{out}");
    // explain names the rule.
    let out = a.cli(
        &["explain", "--listener", "mx", "--client", "192.0.2.7", "--from", "x@remote.test", "--to", "bob@branch.test"],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("250 accepted") && text.contains("gateway branch, forwarded to its host"), "{text}");
    assert!(a.wait_queue_empty());
    assert!(common::wait_until(|| a.outbound().is_empty()));
    assert_eq!(b.maildir("branch.test", "bob").len(), 1);
}

#[test]
fn held_mail_leaves_on_etrn_exactly_once_and_survives_kill_9() {
    let b = branch();
    let host = b.addr("mx");
    let mut a =
        gateway("gw-hold", &format!("delivery = \"hold\"\nhost = [\"{host}\"]\netrn_networks = [\"127.0.0.1/32\"]\n"));
    for i in 1..=3 {
        let (ok, out) = send(&a, "bob@branch.test", &format!("held {i}"));
        assert!(ok, "{out}");
    }
    assert_eq!(a.wait_outbound(3).len(), 3);
    std::thread::sleep(Duration::from_secs(2));
    assert!(b.maildir("branch.test", "bob").is_empty(), "held, not forwarded");
    let out = a.cli(&["gateway", "list"], "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("branch  branch.test  hold"), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 message(s)"), "{out:?}");
    // Held across a crash.
    a.kill();
    a.restart();
    assert_eq!(a.outbound().len(), 3);
    // Only the listed networks may ask.
    let refused = common::from_address("127.0.0.2", a.addr("mx"), "EHLO other.test\r\nETRN branch.test\r\nQUIT\r\n");
    assert!(refused.contains("459 4.7.1"), "{refused}");
    let unknown = common::from_address("127.0.0.1", a.addr("mx"), "EHLO branch.test\r\nETRN nothing.test\r\nQUIT\r\n");
    assert!(unknown.contains("459 4.7.1"), "{unknown}");
    let out = etrn_fetchmail(&a, "branch.test");
    assert!(out.contains("253 2.0.0 OK, 3 pending messages for node branch.test started"), "{out}");
    let mails = b.wait_maildir("branch.test", "bob", 3);
    assert_eq!(mails.len(), 3, "{}", a.log_text());
    assert!(common::wait_until(|| a.outbound().is_empty()), "{}", a.log_text());
    // Asked again at once: too soon; nothing was delivered twice.
    let again = common::from_address("127.0.0.1", a.addr("mx"), "EHLO branch.test\r\nETRN branch.test\r\nQUIT\r\n");
    assert!(again.contains("458 4.7.1"), "{again}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.maildir("branch.test", "bob").len(), 3);
}

#[test]
fn etrn_can_deliver_to_the_asking_client_and_the_cli_can_flush() {
    let b = branch();
    let port = b.addr("mx").port();
    // No host: the mail goes to whoever asks (from the listed networks), on its port.
    let a = gateway(
        "gw-to-client",
        &format!(
            "delivery = \"hold\"\netrn_networks = [\"127.0.0.1/32\"]\netrn_to_client = true\netrn_port = {port}\n"
        ),
    );
    let (ok, out) = send(&a, "bob@branch.test", "to the client");
    assert!(ok, "{out}");
    assert_eq!(a.wait_outbound(1).len(), 1);
    let out = a.cli(&["gateway", "flush", "branch.test"], "");
    assert!(!out.status.success(), "no host to flush to: {out:?}");
    let asked = common::from_address("127.0.0.1", a.addr("mx"), "EHLO branch.test\r\nETRN @test\r\nQUIT\r\n");
    assert!(asked.contains("253 2.0.0 OK, 1 pending messages for node @test started"), "{asked}");
    let mails = b.wait_maildir("branch.test", "bob", 1);
    assert_eq!(mails.len(), 1, "{}", a.log_text());
    assert!(common::wait_until(|| a.outbound().is_empty()));
    // And with a host, `sansmail gateway flush` hands it over.
    let c = branch();
    let host = c.addr("mx");
    let g = gateway("gw-flush", &format!("delivery = \"hold\"\nhost = [\"{host}\"]\n"));
    let (ok, out) = send(&g, "bob@branch.test", "flushed");
    assert!(ok, "{out}");
    assert_eq!(g.wait_outbound(1).len(), 1);
    let out = g.cli(&["gateway", "flush", "branch.test"], "");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 message(s)"), "{out:?}");
    assert_eq!(c.wait_maildir("branch.test", "bob", 1).len(), 1, "{}", g.log_text());
    // Without etrn_networks, ETRN is not offered at all.
    let no = common::from_address("127.0.0.1", g.addr("mx"), "EHLO branch.test\r\nETRN branch.test\r\nQUIT\r\n");
    assert!(!no.contains("250-ETRN") && no.contains("502"), "{no}");
}

#[test]
fn a_full_gateway_refuses_with_452_and_says_so_once_each_way() {
    let b = branch();
    let host = b.addr("mx");
    let a = Server::start(
        "gw-quota",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n[[user]]\naddress = \"admin@provider.test\"\n",
            &format!(
                "[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\ndelivery = \"hold\"\n\
                 host = [\"{host}\"]\nmax_messages = 2\nquota_notify = \"admin@provider.test\"\n"
            ),
        ),
    );
    for i in 1..=2 {
        let (ok, out) = send(&a, "bob@branch.test", &format!("held {i}"));
        assert!(ok, "{out}");
    }
    let (ok, out) = send(&a, "bob@branch.test", "one too many");
    assert!(!ok && out.contains("452 4.2.2"), "{out}");
    assert_eq!(a.wait_outbound(2).len(), 2, "nothing held is lost");
    let notices = a.wait_maildir("provider.test", "admin", 1);
    assert_eq!(notices.len(), 1, "{}", a.log_text());
    assert!(notices[0].1.contains("Subject: Gateway branch is over its quota"), "{}", notices[0].1);
    // Collected: below again, told once, and mail is taken again.
    let out = a.cli(&["gateway", "flush", "branch.test"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(b.wait_maildir("branch.test", "bob", 2).len(), 2);
    let notices = a.wait_maildir("provider.test", "admin", 2);
    assert!(notices.iter().any(|(_, m)| m.contains("Subject: Gateway branch is below its quota again")), "{notices:?}");
    let (ok, out) = send(&a, "bob@branch.test", "room again");
    assert!(ok, "{out}");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(a.maildir("provider.test", "admin").len(), 2, "each crossing told once");
}

/// "DomainPOP": the gateway keeps a domain's mail in one local mailbox, a copy per
/// recipient with `Delivered-To`; fetchmail, in multidrop mode reading that header,
/// collects it over POP3 and hands each copy to the domain's own server for its user.
#[test]
fn a_gateway_mailbox_is_collected_by_fetchmail_multidrop() {
    let b = branch_of_two("gw-branch-pop");
    let a = Server::start(
        "gw-mailbox",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n",
            "[[listener]]\nname = \"pop3\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             allow_plaintext_auth = true\n\
             [[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ndelivery = \"mailbox\"\n\
             mailbox = \"gw@provider.test\"\n",
        ),
    );
    // Without its account the mailbox cannot take mail yet: try again later.
    let (ok, out) = send(&a, "bob@branch.test", "too early");
    assert!(!ok && out.contains("451 4.3.0"), "{out}");
    let out = a.cli(&["user", "add", "gw@provider.test"], "gw-secret\n");
    assert!(out.status.success(), "{out:?}");
    send_to_both(&a, "for two");
    let held = a.wait_maildir("provider.test", "gw", 2);
    assert_eq!(held.len(), 2, "a copy per recipient");
    assert!(held.iter().any(|(_, m)| m.contains("Delivered-To: bob@branch.test\r\n")), "{held:?}");
    assert!(held.iter().any(|(_, m)| m.contains("Delivered-To: carol@branch.test\r\n")), "{held:?}");
    let log = fetchmail_with(
        &a.dir,
        &format!(
            "set no bouncemail\npoll 127.0.0.1 service {} protocol pop3 envelope \"Delivered-To:\" localdomains branch.test\n\
             user \"gw@provider.test\" password \"gw-secret\" is * here\n\
             sslproto '' smtphost 127.0.0.1/{} smtpaddress branch.test fetchall\n",
            a.addr("pop3").port(),
            b.addr("mx").port()
        ),
    );
    assert!(log.contains("RCPT TO:<bob@branch.test>") && log.contains("RCPT TO:<carol@branch.test>"), "{log}");
    assert_eq!(b.wait_maildir("branch.test", "bob", 1).len(), 1, "{log}");
    assert_eq!(b.wait_maildir("branch.test", "carol", 1).len(), 1, "{log}");
    assert!(a.maildir("provider.test", "gw").is_empty(), "collected and deleted");
}

/// ATRN (On-Demand Mail Relay, RFC 2645) with fetchmail's `protocol ODMR`: it logs in
/// (CRAM-MD5), asks for the domain, and pipes the reversed connection to the domain's own
/// server, to which this server then delivers the held mail as the client.
#[test]
fn atrn_hands_held_mail_over_the_same_connection_to_fetchmail_odmr() {
    let b = branch();
    let a = Server::start(
        "gw-atrn",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n",
            "[[listener]]\nname = \"odmr\"\nservice = \"odmr\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             allow_plaintext_auth = true\n\
             [[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ndelivery = \"hold\"\n\
             atrn_users = [\"branch@provider.test\"]\n",
        ),
    );
    for u in ["branch", "other"] {
        let out = a.cli(&["user", "add", &format!("{u}@provider.test")], "odmr-secret\n");
        assert!(out.status.success(), "{out:?}");
    }
    for i in 1..=3 {
        let (ok, out) = send(&a, "bob@branch.test", &format!("odmr {i}"));
        assert!(ok, "{out}");
    }
    assert_eq!(a.wait_outbound(3).len(), 3);
    // Another account may not collect it; and the ODMR listener takes no mail.
    const OTHER: &str = r#"
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)
s.ehlo('other.test')
print('mail', s.docmd('MAIL', 'FROM:<x@y.test>')[0])
s.login('other@provider.test', 'odmr-secret')
print('atrn', s.docmd('ATRN', 'branch.test')[0])
s.quit()
"#;
    let out = common::python(OTHER, &[&a.addr("odmr").port().to_string()]);
    assert!(out.contains("mail 502") && out.contains("atrn 450"), "{out}");
    let rc = format!(
        "poll 127.0.0.1 service {} protocol odmr user \"branch@provider.test\" password \"odmr-secret\"\n\
         fetchdomains branch.test sslproto '' smtphost 127.0.0.1/{}\n",
        a.addr("odmr").port(),
        b.addr("mx").port()
    );
    let fetch = || fetchmail_with(&a.dir, &rc);
    let log = fetch();
    assert!(log.contains("Turnaround now"), "{log}\n{}", a.log_text());
    assert_eq!(b.wait_maildir("branch.test", "bob", 3).len(), 3, "{log}\n{}", a.log_text());
    assert!(common::wait_until(|| a.outbound().is_empty()), "{}", a.log_text());
    assert!(a.wait_for_log(&["ATRN turn", "delivered=3"], Duration::from_secs(10)), "{}", a.log_text());
    // Nothing left: 453, and nothing delivered twice.
    let log = fetch();
    assert!(log.contains("You have no mail"), "{log}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.maildir("branch.test", "bob").len(), 3);
}

/// `keep_copy`: every message the gateway takes is also kept, once, in a local account.
#[test]
fn a_gateway_keeps_one_copy_of_each_message() {
    let b = branch_of_two("gw-branch-copy");
    let host = b.addr("mx");
    let a = Server::start(
        "gw-copy",
        &common::mx(
            "hostname = \"gw.provider.test\"\n[[domain]]\nname = \"provider.test\"\n\
             [[user]]\naddress = \"archive@provider.test\"\n",
            &format!(
                "[[gateway]]\nname = \"branch\"\ndomains = [\"branch.test\"]\ntls = \"none\"\nhost = [\"{host}\"]\n\
                 keep_copy = \"archive@provider.test\"\n"
            ),
        ),
    );
    send_to_both(&a, "archived");
    assert_eq!(b.wait_maildir("branch.test", "bob", 1).len(), 1);
    assert_eq!(b.wait_maildir("branch.test", "carol", 1).len(), 1);
    let copies = a.wait_maildir("provider.test", "archive", 1);
    assert_eq!(copies.len(), 1, "one copy per message, not per recipient");
    assert!(copies[0].1.contains("Subject: archived"), "{}", copies[0].1);
    assert!(common::wait_until(|| a.outbound().is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.maildir("provider.test", "archive").len(), 1);
}
