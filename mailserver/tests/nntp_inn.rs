//! INN's own tools (Debian `inn2`, installed by `scripts/test.sh`) as independent peers:
//! `innxmit` feeds us a batch with MODE STREAM's CHECK/TAKETHIS and then with IHAVE, and
//! `pullnews` pulls a group from us as a reader and feeds it to a second server with IHAVE.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::Server;

const INN_BIN: &str = "/usr/lib/news/bin";

fn tool(name: &str) -> Command {
    let path = Path::new(INN_BIN).join(name);
    assert!(path.exists(), "{} is missing: scripts/test.sh installs inn2", path.display());
    Command::new(path)
}

fn server(name: &str, host: &str) -> Server {
    Server::start(
        name,
        &format!(
            "hostname = \"{host}\"\n\
             [[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
             [[newsgroup]]\nname = \"local.test\"\npost = \"anyone\"\n\
             [[newspeer]]\nname = \"inn\"\nnetworks = [\"127.0.0.1/32\"]\n"
        ),
    )
}

/// Writes articles `range` of a batch (files and a batch file in innxmit's form).
fn batch(dir: &Path, name: &str, range: std::ops::RangeInclusive<u32>) -> std::path::PathBuf {
    let arts = dir.join("articles");
    std::fs::create_dir_all(&arts).unwrap();
    let mut lines = String::new();
    for n in range {
        let file = arts.join(n.to_string());
        let body = "A line of the article body.\n".repeat(n as usize % 50 + 1);
        std::fs::write(
            &file,
            format!(
                "Path: inn.test!not-for-mail\nFrom: poster@inn.test\nNewsgroups: local.test\nSubject: inn {n}\n\
                 Message-ID: <inn{n}@inn.test>\nDate: Mon, 7 Dec 2026 12:00:00 +0000\n\n{body}"
            ),
        )
        .unwrap();
        lines.push_str(&format!("{} <inn{n}@inn.test>\n", file.display()));
    }
    let path = dir.join(name);
    std::fs::write(&path, lines).unwrap();
    path
}

fn count(s: &Server) -> usize {
    common::news_count(s, "local.test")
}

#[test]
fn innxmit_feeds_us_with_streaming_and_with_ihave() {
    let s = server("inn-innxmit", "sansmail.test");
    let port = s.addr("nntp").port().to_string();
    // Streaming: 200 articles, CHECK then TAKETHIS.
    let first = batch(&s.dir, "streaming", 1..=200);
    let out = tool("innxmit").args(["-l", "-a", "-P", &port, "127.0.0.1"]).arg(&first).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(count(&s), 200);
    // IHAVE (-s: no streaming), half of them offered again: those are refused as duplicates.
    let second = batch(&s.dir, "ihave", 101..=300);
    let out = tool("innxmit").args(["-s", "-l", "-a", "-v", "-P", &port, "127.0.0.1"]).arg(&second).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stats = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(stats.contains("offered 200 accepted 100 refused 100"), "{stats}");
    assert_eq!(count(&s), 300);
    // Each stored once, with our name added to its Path.
    let article = common::nntp_article(s.addr("nntp"), "local.test", 300).unwrap();
    assert!(article.contains("Path: sansmail.test!inn.test!not-for-mail"), "{article}");
    assert!(article.contains("Message-ID: <inn300@inn.test>"), "{article}");
}

#[test]
fn pullnews_pulls_from_us_and_feeds_another_server() {
    let upstream = server("inn-pull-up", "up.test");
    let downstream = server("inn-pull-down", "down.test");
    let up = upstream.addr("nntp");
    let down = downstream.addr("nntp");
    let feed = batch(&upstream.dir, "seed", 1..=50);
    let out = tool("innxmit").args(["-a", "-P", &up.port().to_string(), "127.0.0.1"]).arg(&feed).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(count(&upstream), 50);
    let marks = upstream.dir.join("pullnews.marks");
    std::fs::write(&marks, format!("127.0.0.1:{}\n\tlocal.test\n", up.port())).unwrap();
    let run = || {
        let out = tool("pullnews")
            .args(["-c"])
            .arg(&marks)
            .args(["-s", &format!("127.0.0.1:{}", down.port()), "-t", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run();
    assert!(out.contains("50 articles were accepted"), "{out}");
    assert_eq!(count(&downstream), 50);
    // Its marks remember where it stopped: a second run brings only what is new.
    let more = batch(&upstream.dir, "more", 51..=60);
    let out = tool("innxmit").args(["-a", "-P", &up.port().to_string(), "127.0.0.1"]).arg(&more).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = run();
    assert!(out.contains("10 articles were accepted"), "{out}");
    assert_eq!(count(&downstream), 60);
    let article = common::nntp_article(downstream.addr("nntp"), "local.test", 60).unwrap();
    assert!(article.contains("Path: down.test!up.test!inn.test!not-for-mail"), "{article}");
}
