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
    // The cross-post is one file in both groups.
    let news = s.data().join("news");
    let a = std::fs::read(news.join("local.general/1")).unwrap();
    assert_eq!(a, std::fs::read(news.join("local.staff/1")).unwrap());
    // Acknowledged, then kill -9: there after the restart, numbered on from it.
    s.kill();
    s.restart();
    let out = reader(&s, "nntp", "starttls");
    assert!(out.contains("tls True"), "{out}");
    assert!(out.contains("post 240") && out.contains("group 2 1 2 local.general"), "{out}");
}
