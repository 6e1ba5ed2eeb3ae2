//! `check-config` checks what `serve` checks, the same way: a `[tls]` with a cert and no
//! key, files that do not exist, a key that is not the certificate's, a data directory that
//! cannot be written, an address not on this host. And `bind` takes ports by name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, Server, temp_dir};

/// Runs `sansmail ARGS -c FILE` with `config` written to FILE; (success, stdout + stderr).
fn run(dir: &Path, args: &[&str], config: &str) -> (bool, String) {
    let file = dir.join("c.toml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("-c").arg(&file);
    if args[0] == "serve" {
        // It must refuse before it binds: a success would block, so it is given no time.
        cmd.env("RUST_LOG", "error");
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn listener(bind: &str, tls: &str) -> String {
    format!("[[listener]]\nname = \"l1\"\nservice = \"smtp\"\nbind = \"{bind}\"\ntls = \"{tls}\"\n")
}

#[test]
fn check_config_and_serve_refuse_the_same_things() {
    // Two self-signed pairs, made by the server itself: a key of one is not the other's.
    let a = Server::start("cc-a", &listener("127.0.0.1:0", "starttls"));
    let b = Server::start("cc-b", &listener("127.0.0.1:0", "starttls"));
    let (cert, key, other_key) = (
        a.data().join("tls/self-signed.crt"),
        a.data().join("tls/self-signed.key"),
        b.data().join("tls/self-signed.key"),
    );
    let dir = temp_dir("cc");
    let data = format!("data_dir = {:?}\n", dir.join("data").display().to_string());
    let tls = |c: &Path, k: Option<&Path>| match k {
        Some(k) => format!("[tls]\ncert = {:?}\nkey = {:?}\n", c.display().to_string(), k.display().to_string()),
        None => format!("[tls]\ncert = {:?}\n", c.display().to_string()),
    };
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let cases = [
        (format!("{data}{}{}", tls(&cert, None), listener("127.0.0.1:0", "starttls")), "needs both cert and key"),
        (
            format!("{data}{}{}", tls(&dir.join("nope.crt"), Some(&key)), listener("127.0.0.1:0", "starttls")),
            "nope.crt",
        ),
        (format!("{data}{}{}", tls(&cert, Some(&other_key)), listener("127.0.0.1:0", "starttls")), "[tls]"),
        (
            format!("data_dir = {:?}\n{}", blocker.join("data").display().to_string(), listener("127.0.0.1:0", "none")),
            "data_dir",
        ),
        (format!("{data}{}", listener("192.0.2.1:2525", "none")), "listener l1: address 192.0.2.1 is not on this host"),
        (
            format!(
                "{data}{}[[gateway]]\ndomains = [\"b.test\"]\nhost = [\"127.0.0.1:25\"]\nschedule = [\"mon 25:00\"]\n",
                listener("127.0.0.1:0", "none")
            ),
            "[[gateway]] b.test: schedule entry \"mon 25:00\"",
        ),
    ];
    for (config, says) in &cases {
        let (ok, out) = run(&dir, &["check-config"], config);
        assert!(!ok && out.contains(says), "check-config should refuse ({says}):\n{config}\n{out}");
        let (ok, out) = run(&dir, &["serve"], config);
        assert!(!ok && out.contains(says), "serve should refuse ({says}):\n{config}\n{out}");
    }
    // The matching pair passes, and ports can be named.
    let good = format!("{data}{}{}", tls(&cert, Some(&key)), listener("127.0.0.1:submission", "starttls"));
    let (ok, out) = run(&dir, &["check-config"], &good);
    assert!(ok && out.contains("addr=127.0.0.1:587"), "{out}");
    let (ok, out) = run(&dir, &["check-config"], &format!("{data}{}", listener("127.0.0.1:gopher", "none")));
    assert!(!ok && out.contains("imaps"), "the names are listed: {out}");
}
