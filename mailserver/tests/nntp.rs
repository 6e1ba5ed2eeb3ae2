//! The news service with a real reader: Python's nntplib over plain NNTP and STARTTLS.
//! Who may read and post follows each group's rule; a post is there after `kill -9`;
//! OVER, ARTICLE, HEAD, XHDR, NEWNEWS, LIST NEWSGROUPS and DATE read what was posted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;

const PASSWORD: &str = "news-secret";

fn config() -> String {
    "[[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
     [[listener]]\nname = \"nntpplain\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
     allow_plaintext_auth = true\n\
     [[newsgroup]]\nname = \"local.general\"\ndescription = \"Talk about anything\"\n\
     [[newsgroup]]\nname = \"local.staff\"\ndescription = \"Staff only\"\nread = \"authenticated\"\n\
     [[newsgroup]]\nname = \"local.announce\"\nstatus = \"n\"\n"
        .to_owned()
}

const READER: &str = r#"
import datetime, io, nntplib, ssl, sys, warnings
warnings.simplefilter('ignore')
port, mode, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = nntplib.NNTP('127.0.0.1', port, readermode=False)
print('welcome', s.getwelcome()[:3].decode() if isinstance(s.getwelcome(), bytes) else s.getwelcome()[:3])
if mode == 'starttls':
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(ctx)
    print('tls', s.sock.version() is not None)
caps = s.getcapabilities()
print('caps', 'READER' in caps, 'OVER' in caps, 'AUTHINFO' in caps)
resp, groups = s.list()
print('anonymous list', ' '.join(sorted(g.group for g in groups)))
for g in ['local.staff', 'no.such.group']:
    try:
        s.group(g)
    except nntplib.NNTPTemporaryError as e:
        print('group', g, str(e)[:3])
try:
    s.post(io.BytesIO(b'From: a@b.test\r\nNewsgroups: local.general\r\nSubject: x\r\n\r\nbody\r\n'))
except nntplib.NNTPError as e:
    print('anonymous post', str(e)[:3])
s.login(user, password, usenetrc=False)
resp, groups = s.list()
print('list', ' '.join(sorted(g.group for g in groups)))
article = (b'From: Alice <alice@localhost>\r\nNewsgroups: local.general,local.staff\r\n'
           b'Subject: Hello news\r\n\r\nFirst line\r\n.dotted line\r\n')
print('post', s.post(io.BytesIO(article))[:3])
try:
    s.post(io.BytesIO(b'From: a@b.test\r\nNewsgroups: local.announce\r\nSubject: x\r\n\r\nbody\r\n'))
except nntplib.NNTPError as e:
    print('announce post', str(e)[:3])
resp, count, first, last, name = s.group('local.general')
print('group', count, first, last, name)
resp, overviews = s.over((first, last))
for n, o in overviews:
    print('over', n, o['subject'], o[':lines'], o['message-id'].startswith('<'), o['xref'].startswith('localhost'))
resp, info = s.article(first)
print('article', b'.dotted line' in info.lines, any(l.startswith(b'Path: localhost!') for l in info.lines),
      any(l.startswith(b'Injection-Info: ') for l in info.lines), info.message_id.startswith('<'))
resp, info = s.head(info.message_id)
print('head', info.number, all(b'dotted' not in l for l in info.lines))
resp, info = s.body(first)
print('body', info.lines)
resp, headers = s.xhdr('subject', '%d-' % first)
print('xhdr', headers)
resp, ids = s.newnews('local.*', datetime.datetime(2000, 1, 1))
print('newnews', len(ids))
resp, descriptions = s.descriptions('local.*')
print('descriptions', sorted(descriptions.items()))
resp, date = s.date()
print('date', date.year >= 2026)
resp, count, first, last, name = s.group('local.staff')
print('staff', count, name)
print('quit', s.quit()[:3])
"#;

fn reader(s: &Server, listener: &str, mode: &str) -> String {
    let port = s.addr(listener).port().to_string();
    common::python(READER, &[&port, mode, "alice@localhost", PASSWORD])
}

#[test]
fn nntplib_reads_posts_and_follows_each_groups_rules() {
    let mut s = Server::start("nntp-reader", &config());
    let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    let out = reader(&s, "nntpplain", "plain");
    for expected in [
        "welcome 200",
        "caps True True True",
        "anonymous list local.announce local.general",
        "group local.staff 411",
        "group no.such.group 411",
        "anonymous post 480",
        "list local.announce local.general local.staff",
        "post 240",
        "announce post 441",
        "group 1 1 1 local.general",
        "over 1 Hello news 2 True True",
        "article True True True True",
        "head 0 True",
        "body [b'First line', b'.dotted line']",
        "xhdr [('1', 'Hello news')]",
        "newnews 1",
        "descriptions [('local.general', 'Talk about anything'), ('local.staff', 'Staff only')]",
        "date True",
        "staff 1 local.staff",
        "quit 205",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    // The cross-post is the same article in both groups, its Xref naming both.
    let out = common::nntp_raw(
        s.addr("nntpplain"),
        &[
            &format!("AUTHINFO USER alice@localhost\r\nAUTHINFO PASS {PASSWORD}"),
            "GROUP local.general",
            "ARTICLE 1",
            "GROUP local.staff",
            "ARTICLE 1",
        ],
    );
    let articles: Vec<&str> = out.split("\r\n220 ").skip(1).map(|a| a.split("\r\n.\r\n").next().unwrap()).collect();
    assert_eq!(articles.len(), 2, "{out}");
    assert_eq!(articles[0], articles[1]);
    assert!(articles[0].contains("Xref: localhost local.general:1 local.staff:1"), "{out}");
    // Acknowledged, then kill -9: there after the restart, numbered on from it.
    s.kill();
    s.restart();
    let out = reader(&s, "nntp", "starttls");
    assert!(out.contains("tls True"), "{out}");
    assert!(out.contains("post 240") && out.contains("group 2 1 2 local.general"), "{out}");
}

/// A group of 2,500 articles put in the spool by hand (as after a crash that left articles
/// without their overview lines): the server rebuilds the overview at start, and OVER,
/// XHDR and LISTGROUP go through the whole range (in batches) with every line there.
#[test]
fn a_large_group_is_rebuilt_and_listed_whole() {
    let s = Server::start("nntp-large", &config());
    let group = s.data().join("news/local.general");
    std::fs::create_dir_all(&group).unwrap();
    for n in 1..=2500u32 {
        let article = format!(
            "From: p{n}@example.net\r\nNewsgroups: local.general\r\nSubject: article {n}\r\n\
             Message-ID: <{n}@example.net>\r\n\r\nbody {n}\r\n"
        );
        std::fs::write(group.join(n.to_string()), article).unwrap();
    }
    let mut s = s;
    s.kill();
    s.restart();
    const SCRIPT: &str = r#"
import nntplib, sys, warnings
warnings.simplefilter('ignore')
s = nntplib.NNTP('127.0.0.1', int(sys.argv[1]), readermode=False)
resp, count, first, last, name = s.group('local.general')
print('group', count, first, last)
resp, overviews = s.over((first, last))
print('over', len(overviews), overviews[0][1]['subject'], overviews[-1][1]['subject'])
print('numbers', [n for n, _ in overviews] == list(range(1, 2501)))
resp, headers = s.xhdr('subject', '1-')
print('xhdr', len(headers), headers[1234])
resp, headers = s.xhdr('newsgroups', '2499-')
print('xhdr other', headers)
s.quit()
"#;
    let port = s.addr("nntpplain").port().to_string();
    let out = common::python(SCRIPT, &[&port]);
    for expected in [
        "group 2500 1 2500",
        "over 2500 article 1 article 2500",
        "numbers True",
        "xhdr 2500 ('1235', 'article 1235')",
        "xhdr other [('2499', 'local.general'), ('2500', 'local.general')]",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    // LISTGROUP over a raw socket: every number of the range, then the end.
    use std::io::{BufRead, BufReader, Write};
    let stream = std::net::TcpStream::connect(s.addr("nntpplain")).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    (&stream).write_all(b"LISTGROUP local.general 1001-\r\nNEXT\r\nLAST\r\nQUIT\r\n").unwrap();
    let mut lines = Vec::new();
    for l in reader.lines() {
        let l = l.unwrap();
        let done = l.starts_with("205 ");
        lines.push(l);
        if done {
            break;
        }
    }
    assert!(lines[0].starts_with("211 2500 1 2500 local.general"), "{:?}", &lines[..2]);
    assert_eq!(lines[1], "1001");
    assert_eq!(lines[1500], "2500");
    assert_eq!(lines[1501], ".");
    assert!(lines[1502].starts_with("223 2 <2@example.net>"), "{}", lines[1502]);
    assert!(lines[1503].starts_with("223 1 <1@example.net>"), "{}", lines[1503]);
}

/// A peer feeds articles with IHAVE and with MODE STREAM's CHECK and TAKETHIS: each is
/// stored with our name added to its Path; duplicates, loops, foreign groups and a
/// mismatched message-id are refused with the RFC's codes; a reader sees what was fed. A
/// server with no `[[newspeer]]` does not offer transit at all.
#[test]
fn a_peer_feeds_with_ihave_and_streaming() {
    let with_peer = format!("{}[[newspeer]]\nname = \"upstream\"\nnetworks = [\"127.0.0.0/8\"]\n", config());
    let s = Server::start("nntp-transit", &with_peer);
    const FEED: &str = r#"
import socket, sys
sock = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
f = sock.makefile('rb')
def line():
    return f.readline().decode().rstrip('\r\n')
def send(data):
    sock.sendall(data)
def article(mid, groups='local.general', path='upstream!not-for-mail'):
    return ('Path: %s\r\nFrom: p@upstream.test\r\nNewsgroups: %s\r\nSubject: fed %s\r\n'
            'Message-ID: %s\r\n\r\n.fed body\r\n.\r\n' % (path, groups, mid, mid)).replace('\r\n.fed', '\r\n..fed').encode()
print('greeting', line()[:3])
send(b'IHAVE <1@upstream.test>\r\n'); print('ihave', line()[:3])
send(article('<1@upstream.test>')); print('transferred', line()[:3])
send(b'IHAVE <1@upstream.test>\r\n'); print('again', line()[:3])
send(b'MODE STREAM\r\n'); print('stream', line()[:3])
send(b'CHECK <1@upstream.test>\r\nCHECK <2@upstream.test>\r\n')
print('check', line(), '|', line())
send(b'TAKETHIS <2@upstream.test>\r\n' + article('<2@upstream.test>')
     + b'TAKETHIS <3@upstream.test>\r\n' + article('<3@upstream.test>', path='localhost!upstream')
     + b'TAKETHIS <4@upstream.test>\r\n' + article('<4@upstream.test>', groups='alt.elsewhere')
     + b'TAKETHIS <5@upstream.test>\r\n' + article('<6@upstream.test>')
     + b'TAKETHIS <2@upstream.test>\r\n' + article('<2@upstream.test>'))
for _ in range(5):
    print('takethis', line())
send(b'QUIT\r\n'); print('quit', line()[:3])
"#;
    let port = s.addr("nntpplain").port().to_string();
    let out = common::python(FEED, &[&port]);
    for expected in [
        "greeting 200",
        "ihave 335",
        "transferred 235",
        "again 435",
        "stream 203",
        "check 438 <1@upstream.test> | 238 <2@upstream.test>",
        "takethis 239 <2@upstream.test>",
        "takethis 439 <3@upstream.test> Loop",
        "takethis 439 <4@upstream.test> No group",
        "takethis 439 <5@upstream.test> Message-ID differs",
        "takethis 439 <2@upstream.test> Duplicate",
        "quit 205",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    // What was fed is there, our name first in its Path, its dot-stuffing undone.
    let stored = common::nntp_article(s.addr("nntpplain"), "local.general", 2).unwrap();
    assert!(stored.contains("Path: localhost!upstream!not-for-mail\r\n"), "{stored}");
    // (Read back over NNTP: stored as ".fed body", dot-stuffed again on the wire.)
    assert!(stored.contains("\r\n..fed body\r\n"), "{stored}");
    // Without a peer, no transit: IHAVE is not a command here.
    let plain = Server::start("nntp-no-transit", &config());
    let out = common::python(
        "import socket,sys\ns=socket.create_connection(('127.0.0.1',int(sys.argv[1])));f=s.makefile('rb')\n\
         f.readline();s.sendall(b'IHAVE <x@y>\\r\\n');print(f.readline().decode()[:3])",
        &[&plain.addr("nntpplain").port().to_string()],
    );
    assert_eq!(out.trim(), "500");
}

/// An outgoing feed: what is posted on one server is offered to its peer with CHECK and
/// TAKETHIS, arrives with both names in its Path, and leaves the backlog; a group the feed
/// does not take stays home.
#[test]
fn articles_are_fed_to_a_peer() {
    let peer_b = "[[newspeer]]\nname = \"a.test\"\nnetworks = [\"127.0.0.0/8\"]\n";
    let b = Server::start("nntp-feed-b", &format!("hostname = \"b.test\"\n{}{peer_b}", config()));
    let b_port = b.addr("nntpplain").port();
    let peer_a =
        format!("[[newspeer]]\nname = \"b.test\"\nfeed = \"127.0.0.1:{b_port}\"\ngroups = \"local.*,!local.staff\"\n");
    let a = Server::start("nntp-feed-a", &format!("hostname = \"a.test\"\n{}{peer_a}", config()));
    let out = a.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    const POST: &str = r#"
import io, nntplib, sys, warnings
warnings.simplefilter('ignore')
s = nntplib.NNTP('127.0.0.1', int(sys.argv[1]), readermode=False)
s.login(sys.argv[2], sys.argv[3], usenetrc=False)
for group in ['local.general', 'local.staff']:
    print('post', group, s.post(io.BytesIO(('From: alice@localhost\r\nNewsgroups: %s\r\nSubject: to the peer\r\n\r\nhello\r\n' % group).encode()))[:3])
s.quit()
"#;
    let port = a.addr("nntpplain").port().to_string();
    let out = common::python(POST, &[&port, "alice@localhost", PASSWORD]);
    assert!(out.contains("post local.general 240") && out.contains("post local.staff 240"), "{out}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while common::news_count(&b, "local.general") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let article = common::nntp_article(b.addr("nntpplain"), "local.general", 1)
        .unwrap_or_else(|| panic!("not fed; A's log:\n{}", a.log_text()));
    assert!(article.contains("Path: b.test!a.test!not-for-mail\r\n"), "{article}");
    assert!(article.contains("Subject: to the peer\r\n") && !article.contains("Xref: a.test"), "{article}");
    // The staff group is not in the feed's groups; the backlog is empty once the run ends.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(common::news_count(&b, "local.staff"), 0);
    let backlog = std::fs::read_to_string(a.data().join("news/feeds/b.test.backlog")).unwrap();
    assert_eq!(backlog, "", "{backlog}");
}

/// Two servers feeding each other: an article posted on either reaches the other once and
/// is not fed back (the peer's name is in its Path), so nothing loops and each group holds
/// each article once.
#[test]
fn two_servers_feeding_each_other_do_not_loop() {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (port_a, port_b) = (free(), free());
    let side = |me: &str, other: &str, mine: u16, theirs: u16| {
        format!(
            "hostname = \"{me}\"\n[[listener]]\nname = \"nntpplain\"\nservice = \"nntp\"\nbind = \"127.0.0.1:{mine}\"\n\
             tls = \"none\"\nallow_plaintext_auth = true\n[[newsgroup]]\nname = \"local.general\"\n\
             [[newspeer]]\nname = \"{other}\"\nnetworks = [\"127.0.0.0/8\"]\nfeed = \"127.0.0.1:{theirs}\"\n"
        )
    };
    let a = Server::start("nntp-loop-a", &side("a.test", "b.test", port_a, port_b));
    let b = Server::start("nntp-loop-b", &side("b.test", "a.test", port_b, port_a));
    for s in [&a, &b] {
        let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
        assert!(out.status.success(), "{out:?}");
    }
    const POST: &str = r#"
import io, nntplib, sys, warnings
warnings.simplefilter('ignore')
s = nntplib.NNTP('127.0.0.1', int(sys.argv[1]), readermode=False)
s.login(sys.argv[2], sys.argv[3], usenetrc=False)
print('post', s.post(io.BytesIO(('From: alice@localhost\r\nNewsgroups: local.general\r\nSubject: from %s\r\n\r\nhi\r\n' % sys.argv[1]).encode()))[:3])
s.quit()
"#;
    for port in [port_a, port_b] {
        let out = common::python(POST, &[&port.to_string(), "alice@localhost", PASSWORD]);
        assert!(out.contains("post 240"), "{out}");
    }
    let count = |s: &Server| common::news_count(s, "local.general");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (count(&a) < 2 || count(&b) < 2) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A while longer: a loop would show as more articles or a refused feed in a log.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!((count(&a), count(&b)), (2, 2), "A's log:\n{}\nB's log:\n{}", a.log_text(), b.log_text());
    for (s, peer) in [(&a, "b.test"), (&b, "a.test")] {
        let backlog = std::fs::read_to_string(s.data().join(format!("news/feeds/{peer}.backlog"))).unwrap_or_default();
        assert_eq!(backlog, "", "nothing left to feed");
        // Each side offered its own article only: the other's was never queued back.
        let log = s.log_text();
        let offered: usize = log
            .lines()
            .filter(|l| l.contains("news feed run"))
            .filter_map(|l| l.split("offered=").nth(1)?.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(offered, 1, "{log}");
    }
    let fed_to_a = common::nntp_article(a.addr("nntpplain"), "local.general", 2).unwrap();
    assert!(fed_to_a.contains("Path: a.test!b.test!not-for-mail\r\n"), "{fed_to_a}");
}
