//! Relay policy and SMTP AUTH from outside: an open-relay matrix sent from an address
//! outside `relay.networks`, each rule's effect, real clients logging in, and `sansmail
//! explain` agreeing with the live server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Server, python, swaks};

const CONFIG: &str = r#"
[[domain]]
name = "local.test"

[[user]]
address = "alice@local.test"
aliases = ["a.smith@local.test"]

[[user]]
address = "norelay@local.test"
may_relay = false

[[listener]]
name = "mx"
service = "smtp"
bind = "127.0.0.1:0"
tls = "starttls"
allow_plaintext_auth = true
[listener.relay]
networks = ["127.0.0.1/32"]
allow_to = ["backup.test"]

[[listener]]
name = "sub"
service = "submission"
bind = "127.0.0.1:0"
tls = "starttls"
[listener.relay]
sender_must_match_login = true

[[listener]]
name = "nocram"
service = "submission"
bind = "127.0.0.1:0"
tls = "starttls"
cram_md5 = false
"#;

fn start() -> Server {
    let s = Server::start("relay", CONFIG);
    for (user, pw) in [("alice@local.test", "alice-pw"), ("norelay@local.test", "norelay-pw")] {
        let out = s.cli(&["user", "add", user], &format!("{pw}\n"));
        assert!(out.status.success(), "{out:?}");
    }
    s
}

/// Sends `commands` in one packet from `source`, then reads one reply per command line;
/// prints each reply's first line.
const PIPELINE: &str = r#"
import socket, sys
src, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = sys.stdin.buffer.read() if False else sys.argv[5].encode().decode('unicode_escape').encode('latin-1')
s = socket.create_connection((host, port), source_address=(src, 0), timeout=20)
f = s.makefile('rb')
def reply():
    first = None
    while True:
        line = f.readline().decode('latin-1')
        if not line:
            return first or 'EOF'
        first = first or line.rstrip()
        if line[3:4] != '-':
            return first
print('greeting', reply())
s.sendall(data)
for i in range(n):
    print(reply())
"#;

/// Runs a pipelined conversation from `source`; returns the replies after the greeting.
fn pipeline(source: &str, to: SocketAddr, commands: &[&str]) -> Vec<String> {
    let text: String = commands.iter().map(|c| format!("{c}\\r\\n")).collect();
    let out =
        python(PIPELINE, &[source, &to.ip().to_string(), &to.port().to_string(), &commands.len().to_string(), &text]);
    out.lines().skip(1).map(str::to_string).collect()
}

/// The recipient forms an open relay falls for; none may be accepted from outside.
const MATRIX: &[&str] = &[
    "<victim@remote.test>",
    "<victim%remote.test@local.test>",
    "<remote.test!victim@local.test>",
    "<@local.test:victim@remote.test>",
    "<\"victim@remote.test\"@local.test>",
    "<victim@remote.test@local.test>",
    "<victim@[192.0.2.1]>",
    "<victim@remote.test.>",
    "<VICTIM@REMOTE.TEST>",
    "<victim@Remote.Test> ",
    "<victim@remote.test >",
];

/// Every matrix recipient is refused; returns nothing, panics with the one that passed.
fn assert_refused(replies: &[String]) {
    assert_eq!(replies.len(), MATRIX.len());
    for (rcpt, r) in MATRIX.iter().zip(replies) {
        assert!(!r.starts_with('2'), "{rcpt} relayed: {r}");
        assert!(r.starts_with("550") || r.starts_with("501") || r.starts_with("553"), "{rcpt}: {r}");
    }
}

#[test]
fn open_relay_matrix_from_outside_the_networks() {
    let s = start();
    let mx = s.addr("mx");
    let rcpts: Vec<String> = MATRIX.iter().map(|r| format!("RCPT TO:{r}")).collect();
    let n = MATRIX.len();
    // One packet each (pipelined); separate sessions so the error limit (20) does not end
    // them first. Plain; then after RSET; then after a failed AUTH.
    let runs: [&[&str]; 3] = [
        &["EHLO outside.test", "MAIL FROM:<spammer@remote.test>"],
        &[
            "EHLO outside.test",
            "MAIL FROM:<x@remote.test>",
            "RCPT TO:<alice@local.test>",
            "RSET",
            "MAIL FROM:<spammer@remote.test>",
        ],
        &["EHLO outside.test", "AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAd3Jvbmc=", "MAIL FROM:<spammer@remote.test>"], // alice / wrong
    ];
    for (i, head) in runs.iter().enumerate() {
        let mut commands: Vec<&str> = head.to_vec();
        commands.extend(rcpts.iter().map(String::as_str));
        // A local recipient still works for the same client.
        commands.push("RCPT TO:<alice@local.test>");
        commands.push("QUIT");
        let replies = pipeline("127.0.0.2", mx, &commands);
        assert_eq!(replies.len(), commands.len(), "run {i}: {replies:#?}");
        assert_refused(&replies[head.len()..head.len() + n]);
        assert!(replies[head.len() + n].starts_with("250 2.1.5"), "run {i}: local recipient: {replies:#?}");
        if i == 2 {
            assert!(replies[1].starts_with("535 5.7.8"), "failed AUTH: {}", replies[1]);
        }
    }
    // The same client from inside relay.networks may relay: the rule, not a blanket refusal.
    let inside = pipeline(
        "127.0.0.1",
        mx,
        &["EHLO inside.test", "MAIL FROM:<me@remote.test>", "RCPT TO:<victim@remote.test>", "QUIT"],
    );
    assert!(inside[2].starts_with("250"), "{inside:?}");
}

#[test]
fn each_relay_rule_allows_what_it_should() {
    let s = start();
    let mx = s.addr("mx");
    let outside = |cmds: &[&str]| pipeline("127.0.0.2", mx, cmds);
    // allow_to: anyone may send to a backup-MX domain.
    let r =
        outside(&["EHLO o", "MAIL FROM:<x@remote.test>", "RCPT TO:<y@backup.test>", "RCPT TO:<y@other.test>", "QUIT"]);
    assert!(r[2].starts_with("250") && r[3].starts_with("550 5.7.1"), "{r:?}");
    // reject_local_spoof: a local sender from outside, unauthenticated.
    let r = outside(&["EHLO o", "MAIL FROM:<alice@local.test>", "QUIT"]);
    assert!(r[1].starts_with("550 5.7.1"), "{r:?}");
    // ... and one of our own addresses as a literal is local too; another address is not.
    for ours in ["alice@[127.0.0.1]", "alice@[IPv6:::1]", "alice@[0.0.0.0]"] {
        let r = outside(&["EHLO o", &format!("MAIL FROM:<{ours}>"), "QUIT"]);
        assert!(r[1].starts_with("550 5.7.1"), "{ours}: {r:?}");
    }
    let r = outside(&["EHLO o", "MAIL FROM:<bob@[192.0.2.7]>", "QUIT"]);
    assert!(r[1].starts_with("250"), "{r:?}");
    // Authenticated (plaintext AUTH allowed on this listener): relay, and local sender.
    let r = outside(&[
        "EHLO o",
        "AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAYWxpY2UtcHc=", // alice@local.test / alice-pw
        "MAIL FROM:<alice@local.test>",
        "RCPT TO:<y@other.test>",
        "AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAYWxpY2UtcHc=",
        "QUIT",
    ]);
    assert!(r[1].starts_with("235 2.7.0"), "{r:?}");
    assert!(r[2].starts_with("250") && r[3].starts_with("250"), "{r:?}");
    assert!(r[4].starts_with("503"), "AUTH after AUTH: {r:?}");
    // may_relay = false: authenticated, still no relay.
    let r = outside(&[
        "EHLO o",
        "AUTH PLAIN AG5vcmVsYXlAbG9jYWwudGVzdABub3JlbGF5LXB3", // norelay@local.test / norelay-pw
        "MAIL FROM:<norelay@local.test>",
        "RCPT TO:<y@other.test>",
        "QUIT",
    ]);
    assert!(r[1].starts_with("235") && r[3].starts_with("550 5.7.1"), "{r:?}");
}

/// Logs in with smtplib over STARTTLS on the submission listener, with one mechanism.
const LOGIN: &str = r#"
import smtplib, ssl, sys
host, port, mech, user, pw, sender, rcpt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(host, port, timeout=20)
s.ehlo('c')
print('auth before tls:', 'auth' in s.esmtp_features)
print('mail before auth', s.mail(sender)[0])
s.rset()
s.starttls(context=ctx); s.ehlo('c')
s.user, s.password = user, pw
try:
    code, _ = s.auth(mech, getattr(s, 'auth_' + mech.lower().replace('-', '_')), initial_response_ok=(mech == 'PLAIN'))
    print('auth', code)
    refused = s.sendmail(sender, [rcpt], 'Subject: t\r\n\r\nt\r\n')
    print('sent', refused)
except smtplib.SMTPSenderRefused as e:
    print('sender refused', e.smtp_code)
except smtplib.SMTPAuthenticationError as e:
    print('auth failed', e.smtp_code)
s.quit()
"#;

fn login(addr: SocketAddr, mech: &str, user: &str, pw: &str, from: &str, to: &str) -> String {
    python(LOGIN, &[&addr.ip().to_string(), &addr.port().to_string(), mech, user, pw, from, to])
}

#[test]
fn submission_with_real_clients() {
    let s = start();
    let sub = s.addr("sub");
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let out = login(sub, mech, "alice@local.test", "alice-pw", "alice@local.test", "friend@remote.test");
        assert!(out.contains("auth before tls: False"), "no AUTH before TLS: {out}");
        assert!(out.contains("mail before auth 530"), "require_auth: {out}");
        assert!(out.contains("auth 235") && out.contains("sent {}"), "{mech}: {out}");
    }
    let out = login(sub, "PLAIN", "alice@local.test", "wrong", "alice@local.test", "friend@remote.test");
    assert!(out.contains("auth failed 535"), "{out}");
    // sender_must_match_login: an alias is fine, someone else's address is not.
    let out = login(sub, "LOGIN", "alice@local.test", "alice-pw", "a.smith@local.test", "friend@remote.test");
    assert!(out.contains("sent {}"), "{out}");
    let out = login(sub, "LOGIN", "alice@local.test", "alice-pw", "norelay@local.test", "friend@remote.test");
    assert!(out.contains("sender refused 553"), "{out}");
    let out = login(sub, "CRAM-MD5", "alice@local.test", "wrong", "alice@local.test", "friend@remote.test");
    assert!(out.contains("auth failed 535"), "{out}");
    // swaks, each mechanism, with STARTTLS.
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let (ok, t) = swaks(&[
            "--server",
            &sub.to_string(),
            "--tls",
            "--auth",
            mech,
            "--auth-user",
            "alice@local.test",
            "--auth-password",
            "alice-pw",
            "--from",
            "alice@local.test",
            "--to",
            "friend@remote.test",
        ]);
        assert!(ok && t.contains("235 2.7.0") && t.contains("250 2.0.0 Ok: queued"), "{mech}: {t}");
    }
    assert!(s.wait_for_log(&["outbound", "to=friend@remote.test"], Duration::from_secs(20)), "{}", s.log_text());
}

#[test]
fn explain_agrees_with_the_live_server() {
    let s = start();
    let mx = s.addr("mx");
    for rcpt in MATRIX.iter().chain(&["<alice@local.test>", "<y@backup.test>", "<postmaster>"]) {
        let live =
            pipeline("127.0.0.2", mx, &["EHLO o", "MAIL FROM:<x@remote.test>", &format!("RCPT TO:{rcpt}"), "QUIT"]);
        let out = s.cli(
            &["explain", "--listener", "mx", "--client", "127.0.0.2", "--from", "x@remote.test", "--to", rcpt.trim()],
            "",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let rcpt_line = text.lines().find(|l| l.starts_with("RCPT TO:")).unwrap_or_else(|| panic!("{text}"));
        let live_code = &live[2][..3];
        let explained = rcpt_line.split(" -> ").nth(1).unwrap_or_default();
        // The live server's syntax errors (501) come from the protocol crate; explain says
        // 501 too. Policy answers must match code for code.
        assert!(explained.starts_with(live_code), "{rcpt}: live {} / explain {rcpt_line}", live[2]);
        assert!(rcpt_line.contains("rule: ") || live_code == "501", "names the rule: {rcpt_line}");
    }
}

const ABUSE: &str = r#"
[abuse]
window_secs = 60
auth_failures_before_delay = 2
auth_failures_before_block = 4
account_failures_before_lock = 3
unknown_recipients_per_session = 3
unknown_recipients_before_block = 100
connections_per_window = 5
block_secs = 2

[[domain]]
name = "local.test"

[[user]]
address = "alice@local.test"

[[listener]]
name = "mx"
service = "smtp"
bind = "127.0.0.1:0"
tls = "none"
allow_plaintext_auth = true
"#;

/// `AUTH PLAIN` for alice with a password.
fn auth_plain(password: &str) -> String {
    auth_plain_as("alice@local.test", password)
}

/// `AUTH PLAIN` for a user with a password.
fn auth_plain_as(user: &str, password: &str) -> String {
    use std::fmt::Write as _;
    let raw = format!("\0{user}\0{password}");
    // Tiny base64, to keep the test free of dependencies.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("AUTH PLAIN ");
    for chunk in raw.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = write!(out, "{}", T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn dictionary_attacks_are_slowed_then_blocked_and_blocks_expire() {
    let s = Server::start("abuse", ABUSE);
    s.cli(&["user", "add", "alice@local.test"], "right\n");
    let mx = s.addr("mx");
    // A different account each time (a dictionary over names), so the address limit, not
    // an account lock, is what stops it.
    let wrong: Vec<String> = (1..=4).map(|i| auth_plain_as(&format!("u{i}@local.test"), "wrong")).collect();
    let started = std::time::Instant::now();
    let r = pipeline("127.0.0.2", mx, &["EHLO a", &wrong[0], &wrong[1], &wrong[2], &wrong[3]]);
    assert!(r[1].starts_with("535") && r[2].starts_with("535") && r[3].starts_with("535"), "{r:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "the third failure was answered after a delay");
    assert!(r[4].starts_with("421 4.7.0"), "fourth failure: blocked and closed: {r:?}");
    // The address is blocked at the door; others are not.
    let out = python(PIPELINE, &["127.0.0.2", "127.0.0.1", &mx.port().to_string(), "0", ""]);
    assert!(out.contains("greeting 421 4.7.0"), "{out}");
    let out = python(PIPELINE, &["127.0.0.9", "127.0.0.1", &mx.port().to_string(), "0", ""]);
    assert!(out.contains("greeting 220"), "{out}");
    // The block expires.
    std::thread::sleep(Duration::from_millis(2200));
    let out = python(PIPELINE, &["127.0.0.2", "127.0.0.1", &mx.port().to_string(), "0", ""]);
    assert!(out.contains("greeting 220"), "{out}");
}

#[test]
fn an_attacked_account_is_locked_even_for_the_right_password_until_it_expires() {
    let s = Server::start("lock", ABUSE);
    s.cli(&["user", "add", "alice@local.test"], "right\n");
    let mx = s.addr("mx");
    for src in ["127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let r = pipeline(src, mx, &["EHLO a", &auth_plain("wrong")]);
        assert!(r[1].starts_with("535"), "{r:?}");
    }
    let r = pipeline("127.0.0.6", mx, &["EHLO a", &auth_plain("right")]);
    assert!(r[1].starts_with("454 4.7.0"), "locked: {r:?}");
    std::thread::sleep(Duration::from_millis(2200));
    let r = pipeline("127.0.0.6", mx, &["EHLO a", &auth_plain("right")]);
    assert!(r[1].starts_with("235"), "unlocked: {r:?}");
}

#[test]
fn directory_harvest_and_connection_rate_are_limited() {
    let s = Server::start("harvest", ABUSE);
    let mx = s.addr("mx");
    let r = pipeline(
        "127.0.0.7",
        mx,
        &[
            "EHLO a",
            "MAIL FROM:<h@remote.test>",
            "RCPT TO:<a1@local.test>",
            "RCPT TO:<a2@local.test>",
            "RCPT TO:<a3@local.test>",
        ],
    );
    assert!(r[2].starts_with("550 5.1.1") && r[3].starts_with("550 5.1.1"), "{r:?}");
    assert!(r[4].starts_with("421 4.7.0"), "third unknown recipient ends the session: {r:?}");
    // Connection rate: five in the window, the sixth refused.
    let port = mx.port().to_string();
    for i in 0..5 {
        let out = python(PIPELINE, &["127.0.0.8", "127.0.0.1", &port, "0", ""]);
        assert!(out.contains("greeting 220"), "connection {i}: {out}");
    }
    let out = python(PIPELINE, &["127.0.0.8", "127.0.0.1", &port, "0", ""]);
    assert!(out.contains("greeting 421 4.7.0"), "{out}");
}

#[test]
fn msmtp_submits_through_the_submission_listener() {
    let s = start();
    let sub = s.addr("sub");
    let rc = s.dir.join("msmtprc");
    std::fs::write(
        &rc,
        format!(
            "account default\nhost {}\nport {}\ntls on\ntls_starttls on\ntls_certcheck off\nauth plain\n\
             user alice@local.test\npassword alice-pw\nfrom alice@local.test\n",
            sub.ip(),
            sub.port()
        ),
    )
    .unwrap();
    // msmtp refuses a configuration file others can read.
    let _ = std::process::Command::new("chmod").arg("600").arg(&rc).status();
    let mut cmd = std::process::Command::new("msmtp");
    cmd.arg("-C").arg(&rc).arg("alice@local.test").arg("friend@remote.test");
    let out = common::run_with_stdin(cmd, "Subject: via msmtp\r\n\r\nhello\r\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // alice@local.test is a local copy; friend@remote.test goes to outbound delivery.
    let m = s.wait_maildir("local.test", "alice", 1);
    assert_eq!(m.len(), 1);
    assert!(m[0].1.contains("with ESMTPSA id"), "authenticated over TLS: {}", m[0].1);
    assert!(s.wait_for_log(&["outbound", "to=friend@remote.test"], Duration::from_secs(20)), "{}", s.log_text());
}

/// SCRAM-SHA-256 with a third-party client (the `scramp` library from PyPI, which also
/// checks the server's signature) driving smtplib's AUTH loop.
const SCRAM: &str = r#"
import smtplib, ssl, sys
from scramp import ScramClient
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(host, port, timeout=20)
s.ehlo('c'); s.starttls(context=ctx); s.ehlo('c')
print('offered', s.esmtp_features.get('auth', ''))
c = ScramClient(['SCRAM-SHA-256'], user, pw)
def step(challenge=None):
    if challenge is None:
        return c.get_client_first()
    text = challenge.decode()
    if text.startswith('r='):
        c.set_server_first(text)
        return c.get_client_final()
    c.set_server_final(text)  # raises if the server's signature is wrong
    print('server verified')
    return ''
try:
    code, _ = s.auth('SCRAM-SHA-256', step, initial_response_ok=True)
    print('auth', code)
except smtplib.SMTPAuthenticationError as e:
    print('auth failed', e.smtp_code)
s.quit()
"#;

#[test]
fn scram_sha256_with_a_third_party_client() {
    let s = start();
    let sub = s.addr("sub");
    let run = |user: &str, pw: &str| python(SCRAM, &[&sub.ip().to_string(), &sub.port().to_string(), user, pw]);
    let ok = run("alice@local.test", "alice-pw");
    assert!(ok.contains("SCRAM-SHA-256") && ok.contains("server verified") && ok.contains("auth 235"), "{ok}");
    let bad = run("alice@local.test", "wrong");
    assert!(bad.contains("auth failed 535"), "{bad}");
    let unknown = run("nobody@local.test", "x");
    assert!(unknown.contains("auth failed 535"), "an unknown user fails the same way: {unknown}");
    // CRAM-MD5 is offered unless the listener turns it off.
    assert!(ok.contains("CRAM-MD5"), "{ok}");
    let nocram = s.addr("nocram");
    let off = python(SCRAM, &[&nocram.ip().to_string(), &nocram.port().to_string(), "alice@local.test", "alice-pw"]);
    assert!(
        off.contains("SCRAM-SHA-256 PLAIN LOGIN") && !off.contains("CRAM-MD5") && off.contains("auth 235"),
        "{off}"
    );
}
