//! slrn's batch tool, `slrnpull` (Debian `slrnpull`, installed by `scripts/test.sh`), as an
//! offline reader would run it from cron, without a terminal: it posts what waits in its
//! `out.going` folder (POST), then pulls the configured group into its spool (GROUP, XOVER
//! or HEAD, BODY), its own post included, and a second run fetches only what is new.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::Server;

fn slrnpull(root: &std::path::Path, addr: std::net::SocketAddr) {
    let out = Command::new("slrnpull")
        .arg("-d")
        .arg(root)
        .args(["-h", &addr.to_string()])
        .output()
        .expect("slrnpull is installed (scripts/test.sh)");
    assert!(out.status.success(), "{out:?}");
}

fn spooled(root: &std::path::Path) -> Vec<String> {
    let dir = root.join("news/local/general");
    let mut numbered: Vec<u64> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    numbered.sort_unstable();
    numbered.iter().map(|n| std::fs::read_to_string(dir.join(n.to_string())).unwrap()).collect()
}

#[test]
fn slrnpull_posts_and_pulls_a_group() {
    let s = Server::start(
        "nntp-slrnpull",
        "hostname = \"news.test\"\n\
         [[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         [[newsgroup]]\nname = \"local.general\"\npost = \"anyone\"\n",
    );
    let addr = s.addr("nntp");
    let posted = common::nntp_raw(
        addr,
        &["POST", "From: a@b.test\r\nNewsgroups: local.general\r\nSubject: already here\r\n\r\nfirst body\r\n."],
    );
    assert!(posted.contains("\r\n240 "), "{posted}");
    let root = s.dir.join("slrnpull");
    std::fs::create_dir_all(root.join("out.going")).unwrap();
    std::fs::write(root.join("slrnpull.conf"), "local.general 100 14 0\n").unwrap();
    // slrn names what it queues X…; the rest of the folder is not posted.
    std::fs::write(
        root.join("out.going/Xfirst"),
        "From: offline@b.test\nNewsgroups: local.general\nSubject: written offline\n\nposted by slrnpull\n",
    )
    .unwrap();
    slrnpull(&root, addr);
    assert!(!root.join("out.going/Xfirst").exists(), "posted and removed");
    let articles = spooled(&root);
    assert_eq!(articles.len(), 2, "{articles:?}");
    assert!(articles[0].contains("Subject: already here") && articles[0].contains("first body"), "{}", articles[0]);
    assert!(articles[1].contains("Subject: written offline") && articles[1].contains("Path: news.test!not-for-mail"));
    let posted = common::nntp_raw(
        addr,
        &["POST", "From: a@b.test\r\nNewsgroups: local.general\r\nSubject: later\r\n\r\nthird body\r\n."],
    );
    assert!(posted.contains("\r\n240 "), "{posted}");
    slrnpull(&root, addr);
    let articles = spooled(&root);
    assert_eq!(articles.len(), 3, "{articles:?}");
    assert!(articles[2].contains("Subject: later"), "{}", articles[2]);
}
