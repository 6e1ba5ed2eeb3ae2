//! Mail is private whatever the umask the server starts with: the data directory and
//! every folder under it 0700, every file 0600 (Maildir messages, the queue, the outbound
//! state, autoreply memory). An open tree left by an older version is named at start and
//! closed by `serve --fix-permissions`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::receiver::free_port;
use common::{Server, mx, smtplib};

/// Every path under `dir` whose mode lets others in, with its mode.
fn open_paths(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push((p.display().to_string(), mode));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

#[test]
fn everything_the_server_writes_is_private_and_old_trees_are_closed() {
    let dead = free_port(&["127.0.0.1"]);
    let top = "[[user]]\naddress = \"alice@localhost\"\n\
               autoreply = { subject = \"Away\", body = \"Back soon.\", days = 7 }\n";
    let extra = format!(
        "[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n[outbound]\ndns_servers = [\"127.0.0.1:9\"]\n\
         [[route]]\ndomain = \"remote.test\"\nhost = [\"127.0.0.1:{dead}\"]\ntls = \"none\"\n"
    );
    let mut s = Server::start("privacy", &mx(top, &extra));
    assert!(s.cli(&["user", "add", "alice@localhost"], "pw\n").status.success());
    let mx = s.addr("mx");
    // A local copy (with an autoreply to a remote sender), and a message held for a
    // remote domain that does not answer.
    assert!(smtplib(mx, "plain", "bob@remote.test", "alice@localhost", "Subject: a\r\n\r\na\r\n").contains("sent"));
    assert!(smtplib(mx, "plain", "alice@localhost", "carol@remote.test", "Subject: b\r\n\r\nb\r\n").contains("sent"));
    assert_eq!(s.wait_maildir("localhost", "alice", 1).len(), 1);
    assert!(s.wait_for_log(&["carol@remote.test", "Deferred"], Duration::from_secs(20)), "{}", s.log_text());
    assert!(
        s.data().join("mail/localhost/alice/autoreply.toml").exists(),
        "the autoreply memory is among the files checked"
    );
    assert!(!s.outbound().is_empty());
    let open = open_paths(&s.data());
    assert!(open.is_empty(), "open to others: {open:?}");

    // A tree made otherwise (an older version, a copy): named at start, then closed.
    s.kill();
    let data = s.data();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let msg = std::fs::read_dir(data.join("mail/localhost/alice/Maildir/new")).unwrap().next().unwrap().unwrap().path();
    std::fs::set_permissions(&msg, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.restart();
    assert!(
        s.wait_for_log(&["readable by other users", "--fix-permissions"], Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    s.kill();
    s.serve_args = vec!["--fix-permissions".into()];
    s.restart();
    assert!(s.wait_for_log(&["permissions closed"], Duration::from_secs(5)), "{}", s.log_text());
    assert!(open_paths(&data).is_empty(), "{:?}", open_paths(&data));
}
