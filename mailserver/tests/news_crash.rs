//! `kill -9` while a peer streams articles (TAKETHIS after TAKETHIS, answers read as they
//! come): after the restart every article answered `239` is there, whole, and the group's
//! counts, overview and history agree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Server;

const FEEDER: &str = r#"
import socket, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(('127.0.0.1', port))
f = s.makefile('rb')
f.readline()
s.sendall(b'MODE STREAM\r\n')
f.readline()
def read():
    try:
        while True:
            line = f.readline()
            if not line:
                break
            if line.startswith(b'239 '):
                print('ack', line.split()[1].decode(), flush=True)
    except OSError:
        pass
t = threading.Thread(target=read)
t.start()
try:
    for i in range(n):
        body = ('line %d of a load article\r\n' % i) * (20 + i % 40)
        art = ('Path: feeder!not-for-mail\r\nFrom: f@feeder.test\r\nNewsgroups: local.load\r\n'
               'Subject: load %d\r\nMessage-ID: <load%d@feeder.test>\r\n\r\n%s' % (i, i, body))
        s.sendall(b'TAKETHIS <load%d@feeder.test>\r\n' % i + art.encode() + b'.\r\n')
except OSError:
    pass
t.join()
"#;

#[test]
fn kill_9_while_a_peer_streams_loses_nothing_acknowledged() {
    let mut s = Server::start(
        "news-crash",
        "[[listener]]\nname = \"nntp\"\nservice = \"nntp\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         [[newsgroup]]\nname = \"local.load\"\n\
         [[newspeer]]\nname = \"feeder\"\nnetworks = [\"127.0.0.1/32\"]\n",
    );
    let port = s.addr("nntp").port().to_string();
    let mut feeder =
        Command::new("python3").args(["-c", FEEDER, &port, "20000"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(feeder.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    for line in lines.by_ref() {
        acked.push(line.unwrap());
        if acked.len() == 1500 {
            s.kill();
            break;
        }
    }
    // Answers already on their way when the server died count too.
    acked.extend(lines.map_while(Result::ok));
    feeder.wait().unwrap();
    let acked: Vec<String> = acked.iter().filter_map(|l| l.strip_prefix("ack ").map(str::to_owned)).collect();
    assert!(acked.len() >= 1500 && acked.len() < 20000, "{}", acked.len());
    s.restart();
    // Every acknowledged article is there, and whole.
    let stats: Vec<String> = acked.iter().map(|id| format!("STAT {id}")).collect();
    let stats: Vec<&str> = stats.iter().map(String::as_str).collect();
    let out = common::nntp_raw(s.addr("nntp"), &stats);
    let found = out.lines().filter(|l| l.starts_with("223 ")).count();
    assert_eq!(
        found,
        acked.len(),
        "acknowledged but missing: {}",
        out.lines().filter(|l| l.starts_with("430")).count()
    );
    let last = acked.last().unwrap();
    let n: usize = last.trim_start_matches("<load").split('@').next().unwrap().parse().unwrap();
    let out = common::nntp_raw(s.addr("nntp"), &[&format!("BODY {last}")]);
    assert!(out.contains(&format!("line {n} of a load article\r\n")) && out.contains("\r\n.\r\n"), "{out}");
    // Counts, overview and history agree.
    let out = common::nntp_raw(s.addr("nntp"), &["GROUP local.load", "OVER 1-"]);
    let group: Vec<&str> = out.lines().find(|l| l.starts_with("211 ")).unwrap().split(' ').collect();
    let count: usize = group[1].parse().unwrap();
    let over_lines = out.lines().filter(|l| l.contains("\tload ")).count();
    assert_eq!(count, over_lines, "{}", &out[..200.min(out.len())]);
    assert!(count >= acked.len());
    assert_eq!(common::news_count(&s, "local.load"), count);
    let history = std::fs::read_to_string(s.data().join("news/history")).unwrap();
    let in_history = history.lines().filter(|l| l.contains("local.load:")).count();
    assert_eq!(in_history, count, "one history line per article");
}
