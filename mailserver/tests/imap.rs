//! The IMAP service with real clients: Python's imaplib (STARTTLS and implicit TLS), curl
//! `imap://` and `imaps://`, and raw sockets for what clients do not show (IDLE seeing
//! delivery, two sessions seeing each other's changes, hostile literals).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::imap::{PASSWORD, Raw, deliver, server_with_mail};
use common::{Server, mx, python};

const IMAPLIB: &str = r#"
import imaplib, ssl, sys, time
host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'implicit':
    M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=20)
else:
    M = imaplib.IMAP4(host, port, timeout=20)
    print('caps-before', ' '.join(M.capabilities))
    print('starttls', M.starttls(ssl_context=ctx)[0])
print('login', M.login(user, password)[0])
print('caps', ' '.join(M.capabilities))
typ, data = M.list()
print('list', typ, [d.decode() for d in data])
typ, data = M.select('INBOX')
print('select', typ, data[0].decode())
typ, data = M.fetch('1:*', '(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)')
print('fetch', typ, len([d for d in data if d]))
print('fetch1', data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode())
typ, data = M.fetch('2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT] BODYSTRUCTURE)')
print('sections', repr(data))
typ, data = M.search(None, 'SUBJECT', '"message 3"')
print('search-subject', data[0].decode())
typ, data = M.search(None, 'UNSEEN')
print('search-unseen', data[0].decode())
print('store', M.store('1', '+FLAGS', '(\\Flagged $Important)')[1][0].decode())
typ, data = M.uid('SEARCH', 'FLAGGED')
print('uid-search-flagged', data[0].decode())
typ, data = M.copy('1', 'Archive')
print('copy', typ, data[0].decode())
typ, data = M.uid('MOVE', data and M.uid('SEARCH', 'ALL')[1][0].split()[-1].decode(), 'Trash')
print('move', typ, data)
print('store-deleted', M.store('1', '+FLAGS', '\\Deleted')[0])
typ, data = M.expunge()
print('expunge', typ, data)
msg = b'From: alice@localhost\r\nSubject: draft\r\n\r\nappended body\r\n'
typ, data = M.append('Drafts', '(\\Draft \\Seen)', imaplib.Time2Internaldate(time.time()), msg)
print('append', typ, data[0].decode())
typ, data = M.status('Drafts', '(MESSAGES UIDNEXT UNSEEN)')
print('status', typ, data[0].decode())
typ, data = M.status('Archive', '(MESSAGES)')
print('status-archive', data[0].decode())
print('create', M.create('Projects.2026')[0])
print('rename', M.rename('Projects.2026', 'Projects.Done')[0])
typ, data = M.list('""', 'Projects*')
print('list-projects', [d.decode() for d in data])
print('delete', M.delete('Projects.Done')[0])
print('select-missing', M.select('Nope')[0])
print('logout', M.logout()[0])
"#;

fn imaplib(addr: SocketAddr, mode: &str, user: &str, password: &str) -> String {
    python(IMAPLIB, &[&addr.ip().to_string(), &addr.port().to_string(), mode, user, password])
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key} "))).unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

#[test]
fn imaplib_session_over_starttls_and_implicit_tls() {
    let s = server_with_mail("imap-imaplib", "", 4);
    let out = imaplib(s.addr("imap"), "starttls", "alice@localhost", PASSWORD);
    assert!(line(&out, "caps-before").contains("LOGINDISABLED"), "{out}");
    // No mechanism at all before TLS, challenge-response included.
    assert!(!line(&out, "caps-before").contains("AUTH="), "{out}");
    assert!(line(&out, "caps").contains("AUTH=SCRAM-SHA-256"), "{out}");
    assert_eq!(line(&out, "starttls"), "OK", "{out}");
    assert_eq!(line(&out, "login"), "OK", "{out}");
    for cap in ["IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE"] {
        assert!(line(&out, "caps").contains(cap), "{cap}: {out}");
    }
    // Special-use folders exist from the first login.
    let list = line(&out, "list");
    for f in ["\\Sent) \".\" Sent", "\\Drafts) \".\" Drafts", "\\Trash) \".\" Trash", "INBOX"] {
        assert!(list.contains(f), "{f}: {list}");
    }
    assert_eq!(line(&out, "select"), "OK 4", "{out}");
    assert_eq!(line(&out, "fetch"), "OK 4", "{out}");
    let first = line(&out, "fetch1");
    assert!(first.contains("UID 1 FLAGS (\\Recent) RFC822.SIZE"), "{first}");
    assert!(first.contains("\"message 1\" ((\"Bob\" NIL \"bob\" \"remote.test\"))"), "{first}");
    assert!(first.contains("\"<m1@remote.test>\""), "{first}");
    let sections = line(&out, "sections");
    assert!(sections.contains("Subject: message 2\\r\\n\\r\\n"), "{sections}");
    assert!(sections.contains("body of message 2\\r\\n"), "{sections}");
    assert!(sections.contains("BODYSTRUCTURE (\"TEXT\" \"PLAIN\""), "{sections}");
    assert_eq!(line(&out, "search-subject"), "3", "{out}");
    // BODY[TEXT] (not PEEK) set \Seen on message 2.
    assert_eq!(line(&out, "search-unseen"), "1 3 4", "{out}");
    assert!(line(&out, "store").contains("FLAGS (\\Flagged \\Recent $Important)"), "{out}");
    assert_eq!(line(&out, "uid-search-flagged"), "1", "{out}");
    assert!(line(&out, "copy").starts_with("OK [COPYUID "), "{out}");
    assert!(line(&out, "move").starts_with("OK"), "{out}");
    // imaplib also hands back the `* 4 EXPUNGE` of the MOVE before it.
    assert!(line(&out, "expunge").ends_with("b'1']"), "{out}");
    assert!(line(&out, "append").starts_with("OK [APPENDUID "), "{out}");
    assert!(line(&out, "status").contains("Drafts (MESSAGES 1 UIDNEXT 2 UNSEEN 0)"), "{out}");
    assert!(line(&out, "status-archive").contains("(MESSAGES 1)"), "{out}");
    assert_eq!(line(&out, "create"), "OK", "{out}");
    assert_eq!(line(&out, "rename"), "OK", "{out}");
    assert!(line(&out, "list-projects").contains("Projects.Done"), "{out}");
    assert_eq!(line(&out, "delete"), "OK", "{out}");
    assert_eq!(line(&out, "select-missing"), "NO", "{out}");
    assert_eq!(line(&out, "logout"), "BYE", "{out}");

    // What the first session did is on disk: a second one (implicit TLS) sees it, with
    // the UIDs unchanged and the flags kept.
    let out = imaplib(s.addr("imaps"), "implicit", "alice@localhost", PASSWORD);
    assert_eq!(line(&out, "select"), "OK 2", "{out}");
    let first = line(&out, "fetch1");
    assert!(first.contains("UID 2 FLAGS (\\Seen)"), "no \\Recent the second time: {first}");
}

#[test]
fn idle_sees_delivery_within_a_second_and_sessions_see_each_other() {
    let s = server_with_mail("imap-idle", "", 2);
    let mut a = Raw::login(s.addr("imapplain"));
    let mut b = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("SELECT INBOX").iter().any(|l| l == "* 2 EXISTS\r\n"));
    assert!(b.cmd("SELECT INBOX").iter().any(|l| l == "* 2 EXISTS\r\n"));

    a.send("i1 IDLE\r\n");
    assert!(a.line().starts_with("+ "));
    deliver(&s, 3);
    // The delivery is durable before smtplib returns; IDLE must report it within a second
    // (plus the time the SMTP exchange itself took, measured from its end).
    let delivered = Instant::now();
    let exists = a.line();
    assert_eq!(exists, "* 3 EXISTS\r\n");
    assert!(delivered.elapsed() < Duration::from_millis(1500), "IDLE took {:?} after delivery", delivered.elapsed());
    assert_eq!(a.line(), "* 3 RECENT\r\n", "messages 1 and 2 were recent to this session already");

    // B changes a flag and expunges: A, still idling, is told. B learns of message 3
    // before its command completes.
    let r = b.cmd("STORE 1 +FLAGS (\\Deleted)");
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    assert!(r.contains(&"* 3 EXISTS\r\n".to_owned()), "{r:?}");
    let l = a.line();
    assert!(l.starts_with("* 1 FETCH (FLAGS (\\Deleted"), "{l}");
    let r = b.cmd("EXPUNGE");
    assert!(r.contains(&"* 1 EXPUNGE\r\n".to_owned()), "{r:?}");
    assert_eq!(a.line(), "* 1 EXPUNGE\r\n");
    a.send("DONE\r\n");
    assert!(a.line().starts_with("i1 OK"));
    // Nothing is told twice: both views agree now.
    assert_eq!(a.cmd("NOOP"), ["t3 OK Completed\r\n"]);
    let r = b.cmd("FETCH 1:* (UID)");
    assert_eq!(r[..2], ["* 1 FETCH (UID 2)\r\n", "* 2 FETCH (UID 3)\r\n"], "{r:?}");
}

#[test]
fn curl_lists_and_fetches_over_imap_and_imaps() {
    let s = server_with_mail("imap-curl", "", 2);
    let imaps = s.addr("imaps");
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "20", "-u", &format!("alice@localhost:{PASSWORD}")])
        .arg(format!("imaps://127.0.0.1:{}/INBOX;UID=2", imaps.port()))
        .output()
        .expect("curl is installed (.ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Subject: message 2") && text.contains("body of message 2"), "{text}");
    let imap = s.addr("imap");
    let out = Command::new("curl")
        .args(["-sS", "-k", "--ssl-reqd", "--max-time", "20", "-u", &format!("alice@localhost:{PASSWORD}")])
        .arg(format!("imap://127.0.0.1:{}/", imap.port()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("INBOX") && text.contains("Sent"), "{text}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn hostile_literals_and_nesting_are_refused_with_flat_memory() {
    let s = server_with_mail("imap-hostile", "", 1);
    let before = rss_kib(s.pid());
    let mut a = Raw::login(s.addr("imapplain"));
    // A literal of 2^64-1 octets: refused before a continuation, session goes on.
    let r = a.cmd("APPEND INBOX {18446744073709551615}");
    assert!(r.last().unwrap().contains("BAD") || r.last().unwrap().contains("NO"), "{r:?}");
    let r = a.cmd("APPEND INBOX {4294967296}");
    assert!(r.last().unwrap().contains("NO [TOOBIG]"), "{r:?}");
    // The listener's message size bounds APPEND, and is advertised (RFC 7889).
    let caps = a.cmd("CAPABILITY");
    assert!(caps[0].contains(" APPENDLIMIT=26214400"), "{caps:?}");
    let r = a.cmd("APPEND INBOX {26214401}");
    assert!(r.last().unwrap().contains("NO [TOOBIG]"), "{r:?}");
    // A 100 MB non-synchronising literal is drained, not stored.
    a.send("t90 APPEND INBOX {100000000+}\r\n");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..95 {
        a.writer.write_all(&chunk).unwrap();
    }
    a.writer.write_all(&chunk[..100_000_000 - 95 * (1 << 20)]).unwrap();
    a.send("\r\n");
    let l = a.line();
    assert!(l.starts_with("t90 NO [TOOBIG]") || l.starts_with("t90 BAD"), "{l}");
    // Deep nesting: a BAD, not a crash.
    let deep = format!("SEARCH {}ALL{}", "(".repeat(5000), ")".repeat(5000));
    let r = a.cmd(&deep);
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    let r = a.cmd(&format!("SEARCH {}ALL", "NOT ".repeat(100_000)));
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    // Many text keys in one line: bounded before any message is read.
    let r = a.cmd(&format!("SEARCH{}", " TEXT x".repeat(300)));
    assert!(r.last().unwrap().contains("NO [LIMIT]"), "{r:?}");
    let r = a.cmd(&format!("SEARCH{}", " TEXT body".repeat(200)));
    assert_eq!(r[0], "* SEARCH 1\r\n", "{r:?}");
    // The session still works.
    let r = a.cmd("SELECT INBOX");
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    let after = rss_kib(s.pid());
    assert!(after < before + 32 * 1024, "peak RSS grew from {before} KiB to {after} KiB");
    let mut rest = String::new();
    let _ = a.reader.get_mut().set_read_timeout(Some(Duration::from_millis(100)));
    let _ = a.reader.read_to_string(&mut rest);
}

#[test]
fn list_extended_basics_and_subscriptions() {
    let s = server_with_mail("imap-list", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("UNSUBSCRIBE Junk").last().unwrap().contains("OK"));
    assert!(a.cmd("CREATE Work.Q4").last().unwrap().contains("OK"));
    let r = a.cmd("LIST (SUBSCRIBED) \"\" *");
    assert!(r.contains(&"* LIST (\\HasNoChildren \\Subscribed \\Sent) \".\" Sent\r\n".to_owned()), "{r:?}");
    assert!(!r.iter().any(|l| l.contains("Junk") || l.contains("Work")), "{r:?}");
    let r = a.cmd("LIST (SPECIAL-USE) \"\" *");
    assert_eq!(r.len(), 6, "the five special-use folders (subscribed or not), then OK: {r:?}");
    let r = a.cmd("LIST \"\" (INBOX Work*) RETURN (SUBSCRIBED CHILDREN)");
    assert_eq!(r[0], "* LIST (\\HasNoChildren \\Subscribed) \".\" INBOX\r\n", "{r:?}");
    assert_eq!(r[1], "* LIST (\\HasNoChildren) \".\" Work.Q4\r\n", "{r:?}");
    let r = a.cmd("LSUB \"\" %");
    assert!(r.iter().any(|l| l.contains("Archive")) && !r.iter().any(|l| l.contains("Junk")), "{r:?}");
    let r = a.cmd("LIST \"\" \"\"");
    assert_eq!(r[0], "* LIST (\\Noselect) \".\" \"\"\r\n");
    // Names that cannot be folders are refused; the session goes on.
    for bad in ["CREATE \"a..b\"", "CREATE \"x/y\"", "CREATE \"&Jjo\"", "CREATE INBOX"] {
        let r = a.cmd(bad);
        assert!(r.last().unwrap().contains(" NO ") || r.last().unwrap().contains(" BAD "), "{bad}: {r:?}");
    }
    assert!(a.cmd("CREATE \"&ZeVnLIqe-\"").last().unwrap().contains("OK"), "modified UTF-7 names are fine");
}

#[test]
fn quota_refuses_append_before_the_literal_and_copy() {
    let s = server_with_mail("imap-quota", "default_quota = 3000\n", 1);
    let mut a = Raw::login(s.addr("imapplain"));
    // Over the quota: NO [OVERQUOTA] at once, no `+`: the client never sends the message.
    a.send("q1 APPEND INBOX {5000}\r\n");
    let l = a.line();
    assert!(l.starts_with("q1 NO [OVERQUOTA]"), "{l}");
    // Within it: `+`, the message, APPENDUID.
    let msg = "Subject: small\r\n\r\nfits\r\n";
    a.send(&format!("q2 APPEND INBOX (\\Seen) {{{}}}\r\n", msg.len()));
    assert!(a.line().starts_with("+ "));
    a.send(&format!("{msg}\r\n"));
    let l = a.line();
    assert!(l.starts_with("q2 OK [APPENDUID "), "{l}");
    // COPY counts too: copies of the first message fill the quota, then NO [OVERQUOTA].
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let mut refused = false;
    for _ in 0..20 {
        let r = a.cmd("COPY 1 Archive");
        if r.last().unwrap().contains("NO [OVERQUOTA]") {
            refused = true;
            break;
        }
        assert!(r.last().unwrap().contains("OK [COPYUID"), "{r:?}");
    }
    assert!(refused, "copies never hit the quota");
}

#[test]
fn failed_logins_are_refused_then_the_session_ends() {
    let s = server_with_mail("imap-login", "", 0);
    let stream = TcpStream::connect(s.addr("imapplain")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut a = Raw { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream, next: 0 };
    assert!(a.line().starts_with("* OK [CAPABILITY IMAP4rev1"));
    for i in 1..=3 {
        let r = a.cmd("LOGIN alice@localhost wrong-password");
        assert!(r.last().unwrap().contains("NO [AUTHENTICATIONFAILED]"), "attempt {i}: {r:?}");
    }
    assert!(a.line().starts_with("* BYE"), "three failures end the session");
    // Plaintext LOGIN on the STARTTLS listener before TLS is refused without a check.
    let stream = TcpStream::connect(s.addr("imap")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut b = Raw { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream, next: 0 };
    assert!(b.line().contains("LOGINDISABLED"));
    let r = b.cmd(&format!("LOGIN alice@localhost {PASSWORD}"));
    assert!(r.last().unwrap().contains("NO [PRIVACYREQUIRED]"), "{r:?}");
}

#[test]
fn pop3_and_imap_share_the_maildir() {
    let s = server_with_mail("imap-pop3", "", 2);
    // A POP3 session lists the maildrop; then IMAP flags message 1 (its file is renamed).
    let stream = TcpStream::connect(s.addr("popplain")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut pop = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = || {
        let mut l = String::new();
        pop.read_line(&mut l).unwrap();
        l
    };
    assert!(line().starts_with("+OK"));
    for c in ["USER alice@localhost".to_owned(), format!("PASS {PASSWORD}")] {
        w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        assert!(line().starts_with("+OK"), "{c}");
    }
    let mut a = Raw::login(s.addr("imapplain"));
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    assert!(a.cmd("STORE 1 +FLAGS (\\Flagged)").last().unwrap().contains("OK"));
    // POP3 still retrieves and deletes it under its new name.
    w.write_all(b"RETR 1\r\n").unwrap();
    assert!(line().starts_with("+OK"));
    let mut body = String::new();
    loop {
        let l = line();
        if l == ".\r\n" {
            break;
        }
        body.push_str(&l);
    }
    assert!(body.contains("Subject: message 1"), "{body}");
    w.write_all(b"DELE 1\r\nQUIT\r\n").unwrap();
    assert!(line().starts_with("+OK"));
    assert!(line().starts_with("+OK"));
    // IMAP sees the deletion at its next command.
    let r = a.cmd("NOOP");
    assert!(r.contains(&"* 1 EXPUNGE\r\n".to_owned()), "{r:?}");
    let r = a.cmd("FETCH 1:* (UID)");
    assert_eq!(r[0], "* 1 FETCH (UID 2)\r\n", "{r:?}");
    let mut rest = String::new();
    let _ = a.reader.get_mut().set_read_timeout(Some(Duration::from_millis(100)));
    let _ = a.reader.read_to_string(&mut rest);
}

#[test]
fn binary_fetch_and_literal8_append() {
    let s = server_with_mail("imap-binary", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    let r = a.cmd("CAPABILITY");
    assert!(r[0].contains(" BINARY"), "{r:?}");
    let msg = "Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
               Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n\
               --b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzz\r\n--b--\r\n";
    a.send(&format!("b1 APPEND INBOX {{{}}}\r\n", msg.len()));
    assert!(a.line().starts_with("+ "));
    a.send(&format!("{msg}\r\n"));
    assert!(a.line().starts_with("b1 OK"));
    // literal8: a message with a NUL octet in it.
    let bin = "S: x\r\n\r\na\0b";
    a.send(&format!("b2 APPEND INBOX ~{{{}}}\r\n", bin.len()));
    assert!(a.line().starts_with("+ "));
    a.send(&format!("{bin}\r\n"));
    let l = a.line();
    assert!(l.starts_with("b2 OK [APPENDUID"), "{l}");
    assert!(a.cmd("SELECT INBOX").last().unwrap().contains("OK"));
    let r = a.cmd("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])");
    assert_eq!(r[0], "* 1 FETCH (BINARY.SIZE[1] 4 BINARY[1] ~{4}\r\n", "{r:?}");
    assert_eq!(r[1], "\0\u{1}\u{2}\u{3})\r\n", "{r:?}");
    let r = a.cmd("FETCH 1 (BINARY.PEEK[2])");
    assert!(r.last().unwrap().contains("NO [UNKNOWN-CTE]"), "{r:?}");
    let r = a.cmd("SEARCH CHARSET KOI8-R TEXT x");
    assert!(r.last().unwrap().contains("NO [BADCHARSET (UTF-8 US-ASCII)]"), "{r:?}");
    let r = a.cmd("SEARCH CHARSET UTF-8 SUBJECT bin");
    assert_eq!(r[0], "* SEARCH 1\r\n", "{r:?}");
    // Its NUL cannot go in a plain literal: the part was stored as base64, and BINARY gives
    // the octets back.
    let r = a.cmd("FETCH 2 (RFC822.SIZE BODY.PEEK[TEXT])");
    assert_eq!(r[0], "* 2 FETCH (RFC822.SIZE 49 BODY[TEXT] {6}\r\n", "{r:?}");
    assert_eq!(r[1], "YQBi\r\n", "{r:?}");
    let r = a.cmd("FETCH 2 (BINARY.PEEK[1])");
    assert_eq!(r[0], "* 2 FETCH (BINARY[1] ~{3}\r\n", "{r:?}");
    assert_eq!(r[1], "a\0b)\r\n", "{r:?}");
}

#[test]
fn an_imap_login_opens_the_after_login_relay_window_for_its_address() {
    let config = mx(
        "",
        "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\nafter_login_minutes = 1\n\
         [[listener]]\nname = \"imapplain\"\nservice = \"imap\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\n",
    );
    let s = Server::start("imap-before-smtp", &config);
    assert!(s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n")).status.success());
    let (mx, imap) = (s.addr("mx"), s.addr("imapplain"));
    let from = common::from_address;
    let relay = |src: &str| from(src, mx, "EHLO o\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<y@other.test>\r\nQUIT\r\n");
    assert!(relay("127.0.0.5").contains("550 5.7.1"), "no login yet");
    let failed = from("127.0.0.5", imap, "a LOGIN alice@localhost wrong\r\nb LOGOUT\r\n");
    assert!(failed.contains("a NO [AUTHENTICATIONFAILED]"), "{failed}");
    assert!(relay("127.0.0.5").contains("550 5.7.1"), "a failed login opens nothing");
    let ok = from("127.0.0.5", imap, &format!("a LOGIN alice@localhost {PASSWORD}\r\nb LOGOUT\r\n"));
    assert!(ok.contains("a OK [CAPABILITY"), "{ok}");
    assert!(relay("127.0.0.5").contains("250 2.1.5"), "within the window");
    assert!(relay("127.0.0.6").contains("550 5.7.1"), "only for that address");
}

#[test]
fn fetch_of_a_large_folder_goes_out_in_batches_with_flat_memory() {
    let s = server_with_mail("imap-bigfetch", "", 0);
    let mut a = Raw::login(s.addr("imapplain"));
    // 60 messages of 500 KB: 30 MB in the folder.
    let line = format!("{}\r\n", "x".repeat(998));
    let body = format!("Subject: big\r\n\r\n{}", line.repeat(500));
    for i in 0..60 {
        a.send(&format!("p{i} APPEND INBOX {{{}+}}\r\n{body}\r\n", body.len()));
        let l = a.line();
        assert!(l.starts_with(&format!("p{i} OK")), "{l}");
    }
    assert!(a.cmd("SELECT INBOX").iter().any(|l| l == "* 60 EXISTS\r\n"));
    let before = rss_kib(s.pid());
    a.send("f1 FETCH 1:* (BODY.PEEK[])\r\n");
    let mut got = 0;
    loop {
        let l = a.line();
        if l.starts_with("f1 ") {
            assert!(l.starts_with("f1 OK"), "{l}");
            break;
        }
        let size: usize =
            l.rsplit_once('{').and_then(|(_, n)| n.trim_end().trim_end_matches('}').parse().ok()).unwrap();
        assert_eq!(size, body.len());
        let mut content = vec![0u8; size];
        a.reader.read_exact(&mut content).unwrap();
        assert_eq!(a.line(), ")\r\n");
        got += 1;
    }
    assert_eq!(got, 60);
    let after = rss_kib(s.pid());
    assert!(after < before + 12 * 1024, "peak RSS grew from {before} KiB to {after} KiB for a 30 MB FETCH");
}

#[test]
fn uids_and_flags_survive_kill_9_and_restart() {
    let mut s = server_with_mail("imap-restart", "", 3);
    let (validity, uids) = {
        let mut a = Raw::login(s.addr("imapplain"));
        let r = a.cmd("SELECT INBOX");
        let validity = r.iter().find_map(|l| l.strip_prefix("* OK [UIDVALIDITY ")).unwrap().to_owned();
        assert!(a.cmd("STORE 2 +FLAGS (\\Answered $Label1)").last().unwrap().contains("OK"));
        assert!(a.cmd("STORE 3 +FLAGS (\\Deleted)").last().unwrap().contains("OK"));
        assert!(a.cmd("EXPUNGE").last().unwrap().contains("OK"));
        (validity, a.cmd("FETCH 1:* (UID FLAGS)"))
    };
    s.kill();
    s.restart();
    deliver(&s, 4);
    s.wait_maildir("localhost", "alice", 2);
    let mut a = Raw::login(s.addr("imapplain"));
    let r = a.cmd("SELECT INBOX");
    assert!(r.iter().any(|l| l.strip_prefix("* OK [UIDVALIDITY ") == Some(&validity)), "{r:?} vs {validity}");
    let after = a.cmd("FETCH 1:* (UID FLAGS)");
    // The two messages keep their UIDs and flags (no longer \Recent: this is the second
    // session to see them); the new one gets UID 4 (3 is never reused).
    assert!(uids[1].contains("(\\Answered \\Recent $Label1)"), "{uids:?}");
    assert_eq!(after[0], "* 1 FETCH (UID 1 FLAGS ())\r\n", "{after:?}");
    assert_eq!(after[1], "* 2 FETCH (UID 2 FLAGS (\\Answered $Label1))\r\n", "{after:?}");
    assert!(after[2].starts_with("* 3 FETCH (UID 4 FLAGS (\\Recent))"), "{after:?}");
}

#[test]
fn fetchmail_collects_over_imaps_and_expunges() {
    let s = server_with_mail("imap-fetchmail", "", 3);
    let out = s.dir.join("fetched.mbox");
    let (ok, log) = common::fetchmail(&s.dir, "imap", s.addr("imaps").port(), "alice@localhost", PASSWORD, &out);
    assert!(ok, "{log}");
    let mbox = std::fs::read_to_string(&out).unwrap();
    for i in 1..=3 {
        assert!(mbox.contains(&format!("Subject: message {i}")), "{mbox}");
    }
    // `no keep`: fetchmail flagged them \Deleted and expunged them.
    let left: usize = ["new", "cur"]
        .iter()
        .map(|d| std::fs::read_dir(s.data().join("mail/localhost/alice/Maildir").join(d)).map_or(0, |rd| rd.count()))
        .sum();
    assert_eq!(left, 0, "{log}");
}

/// A large message's BODY[] is streamed from its file after the response's head: imaplib
/// reads the same octets as the file holds, whole and in a partial range, beside other
/// items and the messages before and after it, and the session goes on in step.
#[test]
fn large_messages_are_streamed_from_the_file_byte_exact() {
    let s = server_with_mail("imap-stream", "", 1);
    // 3 MiB of varied lines, put straight into the Maildir (files are the truth).
    let mut message = b"Subject: large\r\nFrom: a@b.test\r\n\r\n".to_vec();
    for i in 0..40_000u32 {
        message.extend_from_slice(format!("line {i} {}\r\n", "abcdefghij".repeat((i % 7) as usize + 1)).as_bytes());
    }
    let file = s.data().join("mail/localhost/alice/Maildir/new/1000000000.large.test");
    std::fs::write(&file, &message).unwrap();
    deliver(&s, 3);
    assert_eq!(s.wait_maildir("localhost", "alice", 3).len(), 3);
    const SCRIPT: &str = r#"
import hashlib, imaplib, sys
port, user, password, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = open(path, 'rb').read()
m = imaplib.IMAP4('127.0.0.1', port)
m.login(user, password)
print('select', m.select('INBOX')[1][0].decode())
typ, got = m.fetch('1:3', '(UID BODY.PEEK[])')
bodies = [part[1] for part in got if isinstance(part, tuple)]
print('count', len(bodies))
print('whole', bodies[1] == data, len(bodies[1]), len(data))
print('others', b'message 1' in bodies[0], b'message 3' in bodies[2])
typ, got = m.uid('FETCH', '2', '(FLAGS BODY[]<1000.70000>)')
print('partial', got[0][1] == data[1000:71000], b'\\Seen' in got[0][0] or b'\\Seen' in got[1])
print('noop', m.noop()[0])
m.logout()
"#;
    let addr = s.addr("imapplain");
    let out = python(SCRIPT, &[&addr.port().to_string(), "alice@localhost", PASSWORD, &common::path_str(&file)]);
    assert!(out.contains("select 3"), "{out}");
    assert!(out.contains("count 3"), "{out}");
    assert!(out.contains(&format!("whole True {} {}", message.len(), message.len())), "{out}");
    assert!(out.contains("others True True"), "{out}");
    assert!(out.contains("partial True True"), "{out}");
    assert!(out.contains("noop OK"), "{out}");
}
