//! The news service's mail side and its administration, with real clients: mail sent with
//! smtplib to a group's posting address becomes an article nntplib reads, and each article
//! reaches the group's subscribers' mailboxes (a mail → news → mail round trip, with the
//! loop back through the posting address cut); posts to a moderated group go to its
//! moderator, whose approved post comes in; cancels are honoured from the poster and an
//! administrator only; groups added and deleted with `sansmail news group` are served at
//! once; `sansmail news pull` fetches a second server's new articles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;

const PASSWORD: &str = "news-secret";

/// nntplib, driven by a list of steps (JSON); one output line per step.
const STEPS: &str = r#"
import io, json, nntplib, sys, warnings
warnings.simplefilter('ignore')
port, steps = int(sys.argv[1]), json.loads(sys.argv[2])
s = nntplib.NNTP('127.0.0.1', port, readermode=False)
for step in steps:
    op = step[0]
    try:
        if op == 'login':
            s.login(step[1], step[2], usenetrc=False)
            print('login ok')
        elif op == 'post':
            print('post', s.post(io.BytesIO(step[1].encode()))[:3])
        elif op == 'group':
            print('group', step[1], s.group(step[1])[1])
        elif op == 'article':
            resp, info = s.article(step[1])
            print('article', json.dumps(b'\r\n'.join(info.lines).decode('utf-8', 'replace')))
        elif op == 'list':
            print('list', ' '.join(sorted(g.group for g in s.list()[1])))
        elif op == 'subjects':
            resp, count, first, last, name = s.group(step[1])
            subjects = [o['subject'] for _, o in s.over((first, last))[1]] if count else []
            print('subjects', step[1], json.dumps(subjects))
    except nntplib.NNTPError as e:
        print(op, 'error', str(e)[:3])
s.quit()
"#;

fn steps(s: &Server, steps: &serde_json::Value) -> String {
    let port = s.addr("nntp").port().to_string();
    common::python(STEPS, &[&port, &steps.to_string()])
}

fn config(groups: &str) -> String {
    common::mx(
        "hostname = \"news.example.test\"\n[[domain]]\nname = \"example.test\"\n\
         [news]\nadmins = [\"admin@example.test\"]\n",
        &format!(
            "[[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             allow_plaintext_auth = true\n{groups}"
        ),
    )
}

fn add_users(s: &Server, users: &[&str]) {
    for u in users {
        let out = s.cli(&["user", "add", &format!("{u}@example.test")], &format!("{PASSWORD}\n"));
        assert!(out.status.success(), "{out:?}");
    }
}

fn article(from: &str, groups: &str, subject: &str, extra: &str) -> String {
    format!("From: {from}\r\nNewsgroups: {groups}\r\nSubject: {subject}\r\n{extra}\r\nBody of {subject}\r\n")
}

#[test]
fn mail_to_news_to_mail_round_trip() {
    let groups = "[[newsgroup]]\nname = \"local.lists\"\npost = \"anyone\"\n\
                  posting_address = \"lists@example.test\"\n\
                  subscribers = [\"bob@example.test\", \"lists@example.test\"]\n\
                  [[newsgroup]]\nname = \"local.closed\"\nposting_address = \"closed@example.test\"\n";
    let s = Server::start("news-gateway", &config(groups));
    add_users(&s, &["alice", "bob"]);
    // Mail from outside, carrying fields no mail may bring into a group.
    let mail = "From: Carol <carol@remote.test>\r\nTo: lists@example.test\r\nSubject: By mail\r\n\
                Message-ID: <mail-1@remote.test>\r\nApproved: carol\r\nControl: cancel <x@y>\r\n\r\nHello group\r\n";
    let body = s.dir.join("mail.eml");
    std::fs::write(&body, mail).unwrap();
    let out = common::smtplib(
        s.addr("mx"),
        "plain",
        "carol@remote.test",
        "lists@example.test",
        &format!("@{}", body.display()),
    );
    assert!(out.contains("sent"), "{out}");
    // The closed group's address takes only logged-in senders.
    let out =
        common::smtplib(s.addr("mx"), "plain", "carol@remote.test", "closed@example.test", "Subject: x\r\n\r\ny\r\n");
    assert!(out.contains("refused closed@example.test 550 5.7.1"), "{out}");
    // News → mail: bob gets it as list mail.
    let mails = s.wait_maildir("example.test", "bob", 1);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0].1;
    for expected in [
        "List-Id: <local.lists.news.example.test>",
        "Precedence: list",
        "Message-ID: <mail-1@remote.test>",
        "Hello group",
    ] {
        assert!(m.contains(expected), "{expected:?} in {m}");
    }
    assert!(!m.contains("\nPath:") && !m.contains("Xref:") && !m.contains("Injection-Info:"), "{m}");
    // The copy for the posting address itself came back and was not posted again.
    assert!(s.wait_queue_empty());
    assert!(
        s.wait_for_log(&["mail not posted", "local.lists"], std::time::Duration::from_secs(20)),
        "{}",
        s.log_text()
    );
    let out = steps(&s, &serde_json::json!([["group", "local.lists"], ["article", "<mail-1@remote.test>"]]));
    assert!(out.contains("group local.lists 1"), "{out}");
    let line = out.lines().find(|l| l.starts_with("article ")).unwrap();
    assert!(
        line.contains("Newsgroups: local.lists") && line.contains("Path: news.example.test!not-for-mail"),
        "{line}"
    );
    assert!(!line.contains("Approved:") && !line.contains("Control:") && !line.contains("Received:"), "{line}");
    // A post by NNTP reaches the subscribers too.
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "alice@example.test", PASSWORD],
            ["post", article("alice@example.test", "local.lists", "By news", "")],
            ["subjects", "local.lists"]
        ]),
    );
    assert!(out.contains("post 240") && out.contains(r#"subjects local.lists ["By mail", "By news"]"#), "{out}");
    let mails = s.wait_maildir("example.test", "bob", 2);
    assert!(
        mails
            .iter()
            .any(|(_, m)| m.contains("Subject: By news") && m.contains("List-Post: <mailto:lists@example.test>")),
        "{mails:?}"
    );
    assert!(s.wait_queue_empty());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(s.maildir("example.test", "bob").len(), 2);
    let out = steps(&s, &serde_json::json!([["group", "local.lists"]]));
    assert!(out.contains("group local.lists 2"), "{out}");
}

#[test]
fn moderated_posts_go_to_the_moderator_and_approvals_come_in() {
    let groups = "[[newsgroup]]\nname = \"local.announce\"\nstatus = \"m\"\nmoderator = \"mod@example.test\"\n";
    let s = Server::start("news-moderated", &config(groups));
    add_users(&s, &["alice", "mod"]);
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "alice@example.test", PASSWORD],
            ["list"],
            ["post", article("alice@example.test", "local.announce", "Please publish", "")],
            [
                "post",
                article("alice@example.test", "local.announce", "Self approved", "Approved: alice@example.test\r\n")
            ],
            ["group", "local.announce"]
        ]),
    );
    assert!(
        out.contains("post 240") && out.contains("post error 441") && out.contains("group local.announce 0"),
        "{out}"
    );
    let mails = s.wait_maildir("example.test", "mod", 1);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let submission = &mails[0].1;
    assert!(
        submission.contains("Newsgroups: local.announce") && submission.contains("To: mod@example.test"),
        "{submission}"
    );
    // The moderator posts it with Approved: it goes in, under its Message-ID.
    let header_end = submission.find("\r\n\r\n").unwrap();
    let kept: Vec<&str> = submission[..header_end]
        .split("\r\n")
        .filter(|l| {
            !["Received:", "Return-Path:", "Delivered-To:", "To:", "X-", " ", "\t"].iter().any(|p| l.starts_with(p))
        })
        .collect();
    let approved = format!("{}\r\nApproved: mod@example.test{}", kept.join("\r\n"), &submission[header_end..]);
    let id = kept.iter().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap().to_owned();
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "mod@example.test", PASSWORD],
            ["post", approved],
            ["group", "local.announce"],
            ["article", id]
        ]),
    );
    assert!(out.contains("post 240") && out.contains("group local.announce 1"), "{out}");
    assert!(out.contains("Approved: mod@example.test") && out.contains("Body of Please publish"), "{out}");
}

#[test]
fn cancels_only_from_the_poster_or_an_admin() {
    let s = Server::start("news-cancel", &config("[[newsgroup]]\nname = \"local.general\"\n"));
    add_users(&s, &["alice", "bob", "admin"]);
    let cancel = |target: &str, from: &str| {
        article(from, "local.general", &format!("cmsg cancel {target}"), &format!("Control: cancel {target}\r\n"))
    };
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "alice@example.test", PASSWORD],
            ["post", article("alice@example.test", "local.general", "Alice's", "Message-ID: <a1@example.test>\r\n")],
            [
                "post",
                article("alice@example.test", "local.general", "Alice's second", "Message-ID: <a2@example.test>\r\n")
            ],
            ["post", article("alice@example.test", "local.general", "new group", "Control: newgroup local.new\r\n")],
            ["group", "local.general"]
        ]),
    );
    assert!(out.contains("post error 441") && out.contains("group local.general 2"), "{out}");
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "bob@example.test", PASSWORD],
            ["post", cancel("<a1@example.test>", "alice@example.test")],
            ["group", "local.general"]
        ]),
    );
    assert!(out.contains("post error 441") && out.contains("group local.general 2"), "{out}");
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "alice@example.test", PASSWORD],
            ["post", cancel("<a1@example.test>", "alice@example.test")],
            ["group", "local.general"],
            ["article", "<a1@example.test>"],
            // Cancelled: not taken again.
            ["post", article("alice@example.test", "local.general", "Again", "Message-ID: <a1@example.test>\r\n")]
        ]),
    );
    assert!(
        out.contains("post 240") && out.contains("group local.general 1") && out.contains("article error 430"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("post error 441"), "{out}");
    let out = steps(
        &s,
        &serde_json::json!([
            ["login", "admin@example.test", PASSWORD],
            ["post", cancel("<a2@example.test>", "admin@example.test")],
            ["group", "local.general"]
        ]),
    );
    assert!(out.contains("post 240") && out.contains("group local.general 0"), "{out}");
    // The articles are gone from the spool (their bytes overwritten), the history keeps
    // their ids.
    let spool = s.data().join("news");
    for entry in std::fs::read_dir(spool.join("local.general")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("Body of Alice's"), "cancelled bytes left");
    }
    let history = std::fs::read_to_string(spool.join("history")).unwrap();
    assert!(history.contains("<a1@example.test>") && history.contains("<a2@example.test>"), "{history}");
}

#[test]
fn groups_added_from_the_cli_are_served_at_once() {
    let s = Server::start("news-cli", &config("[[newsgroup]]\nname = \"local.general\"\n"));
    add_users(&s, &["alice"]);
    let out = s.cli(&["news", "group", "add", "local.new", "--description", "Brand new", "--post", "anyone"], "");
    assert!(out.status.success(), "{out:?}");
    let out = s.cli(&["news", "group", "add", "bad..name"], "");
    assert!(!out.status.success(), "{out:?}");
    let out = s.cli(&["news", "group", "del", "local.general"], "");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("config file"), "{out:?}");
    assert!(common::wait_until(|| steps(&s, &serde_json::json!([["list"]])).contains("list local.general local.new")));
    let out = steps(
        &s,
        &serde_json::json!([["post", article("x@example.test", "local.new", "First", "")], ["group", "local.new"]]),
    );
    assert!(out.contains("post 240") && out.contains("group local.new 1"), "{out}");
    let out = s.cli(&["news", "group", "list"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("local.general  y  0 article(s)  high 0  (config)"), "{text}");
    assert!(text.contains("local.new  y  1 article(s)  high 1  (managed)"), "{text}");
    let out = s.cli(&["news", "group", "del", "local.new"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(common::wait_until(|| steps(&s, &serde_json::json!([["list"]])).contains("list local.general\n")));
}

#[test]
fn a_pull_fetches_what_is_new_upstream() {
    let upstream =
        Server::start("news-upstream", &config("[[newsgroup]]\nname = \"local.general\"\npost = \"anyone\"\n"));
    for n in 1..=3 {
        let out = steps(
            &upstream,
            &serde_json::json!([["post", article("u@example.test", "local.general", &format!("up {n}"), "")]]),
        );
        assert!(out.contains("post 240"), "{out}");
    }
    let up = upstream.addr("nntp");
    let site = Server::start(
        "news-site",
        &format!(
            "[[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             [[newsgroup]]\nname = \"local.general\"\n\
             [[newspeer]]\nname = \"upstream\"\npull = \"{up}\"\npull_every_mins = 0\npath_name = \"news.example.test\"\n"
        ),
    );
    let out = site.cli(&["news", "pull"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(site.wait_for_log(&["news pull", "articles=3"], std::time::Duration::from_secs(20)), "{}", site.log_text());
    let out = steps(&site, &serde_json::json!([["subjects", "local.general"]]));
    assert!(out.contains(r#"["up 1", "up 2", "up 3"]"#), "{out}");
    // Only what is new comes the next time.
    let out = steps(&upstream, &serde_json::json!([["post", article("u@example.test", "local.general", "up 4", "")]]));
    assert!(out.contains("post 240"), "{out}");
    let out = site.cli(&["news", "pull", "upstream"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(site.wait_for_log(&["news pull", "articles=1"], std::time::Duration::from_secs(20)), "{}", site.log_text());
    let out = steps(&site, &serde_json::json!([["subjects", "local.general"], ["article", "1"]]));
    assert!(out.contains(r#"["up 1", "up 2", "up 3", "up 4"]"#), "{out}");
    assert!(out.contains("Path: localhost!news.example.test!not-for-mail"), "{out}");
    let marks = std::fs::read_to_string(site.data().join("news/pull/upstream.marks")).unwrap();
    assert_eq!(marks, "local.general 4\n");
    assert!(!site.cli(&["news", "pull", "nobody"], "").status.success());
}

/// Control messages fed by peers: a cancel from a peer with `control = true` removes the
/// article; the same from a peer without it is remembered and ignored; a newgroup from the
/// trusted peer makes the group only with `[news] control_groups`.
#[test]
fn peers_cancel_only_when_trusted_to() {
    let s = Server::start(
        "news-control-peers",
        &config(
            "[[newsgroup]]\nname = \"local.general\"\npost = \"anyone\"\n\
             [[newspeer]]\nname = \"trusted\"\nusers = [\"trusted@example.test\"]\ncontrol = true\n\
             [[newspeer]]\nname = \"other\"\nusers = [\"other@example.test\"]\n",
        ),
    );
    add_users(&s, &["trusted", "other"]);
    let out = steps(
        &s,
        &serde_json::json!([
            ["post", article("p@example.test", "local.general", "first", "Message-ID: <c1@example.test>\r\n")],
            ["post", article("p@example.test", "local.general", "second", "Message-ID: <c2@example.test>\r\n")]
        ]),
    );
    assert_eq!(out.matches("post 240").count(), 2, "{out}");
    let ihave = |user: &str, id: &str, control: &str| {
        let art = format!(
            "Path: peer!not-for-mail\r\nFrom: p@example.test\r\nNewsgroups: local.general\r\nSubject: cmsg\r\n\
             Message-ID: {id}\r\nControl: {control}\r\n\r\ncontrol\r\n."
        );
        common::nntp_raw(
            s.addr("nntp"),
            &[
                &format!("AUTHINFO USER {user}@example.test"),
                &format!("AUTHINFO PASS {PASSWORD}"),
                &format!("IHAVE {id}"),
                &art,
            ],
        )
    };
    let out = ihave("other", "<k1@peer>", "cancel <c1@example.test>");
    assert!(out.contains("\r\n235 "), "{out}");
    let out = ihave("trusted", "<k2@peer>", "cancel <c2@example.test>");
    assert!(out.contains("\r\n235 "), "{out}");
    let out = ihave("trusted", "<k3@peer>", "newgroup local.fromcontrol");
    assert!(out.contains("\r\n235 "), "{out}");
    let out = steps(&s, &serde_json::json!([["subjects", "local.general"], ["list"]]));
    assert!(out.contains(r#"subjects local.general ["first"]"#), "{out}");
    assert!(!out.contains("local.fromcontrol"), "{out}");
    // Control messages are remembered: not taken twice.
    let out = ihave("trusted", "<k2@peer>", "cancel <c2@example.test>");
    assert!(out.contains("\r\n435 "), "{out}");
}
