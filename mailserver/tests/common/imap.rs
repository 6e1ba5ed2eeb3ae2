//! The IMAP tests' helpers: a server with IMAP listeners and mail for alice, and a raw
//! IMAP connection for what clients do not show.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{Server, mx, smtplib};

pub const PASSWORD: &str = "imap-secret";

/// `mx` (SMTP, to deliver with) and three IMAP listeners: `imap` (STARTTLS), `imaps`
/// (implicit TLS), `imapplain` (no TLS, plaintext login allowed: raw socket tests).
pub fn config(top: &str) -> String {
    mx(
        top,
        "[[listener]]\nname = \"imap\"\nservice = \"imap\"\nbind = \"127.0.0.1:0\"\ntls = \"starttls\"\n\
         [[listener]]\nname = \"imaps\"\nservice = \"imap\"\nbind = \"127.0.0.1:0\"\ntls = \"implicit\"\n\
         [[listener]]\nname = \"imapplain\"\nservice = \"imap\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\n\
         [[listener]]\nname = \"popplain\"\nservice = \"pop3\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
         allow_plaintext_auth = true\n",
    )
}

pub fn deliver(s: &Server, i: usize) {
    let body = format!(
        "From: Bob <bob@remote.test>\r\nTo: alice@localhost\r\nSubject: message {i}\r\n\
         Message-ID: <m{i}@remote.test>\r\n\r\nbody of message {i}\r\n"
    );
    assert!(smtplib(s.addr("mx"), "plain", "bob@remote.test", "alice@localhost", &body).contains("sent"));
}

/// A server with alice@localhost holding `n` messages.
pub fn server_with_mail(name: &str, top: &str, n: usize) -> Server {
    let s = Server::start(name, &config(top));
    let out = s.cli(&["user", "add", "alice@localhost"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    for i in 1..=n {
        deliver(&s, i);
    }
    assert_eq!(s.wait_maildir("localhost", "alice", n).len(), n);
    s
}

/// A raw IMAP connection (no TLS, plaintext login allowed).
pub struct Raw {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
    pub next: usize,
}

impl Raw {
    pub fn login(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = Self { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream, next: 0 };
        assert!(r.line().starts_with("* OK"));
        let resp = r.cmd(&format!("LOGIN alice@localhost {PASSWORD}"));
        assert!(resp.last().unwrap().contains("OK"), "{resp:?}");
        r
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l
    }

    pub fn send(&mut self, raw: &str) {
        self.writer.write_all(raw.as_bytes()).unwrap();
    }

    /// Sends a tagged command; returns every line up to the tagged response.
    pub fn cmd(&mut self, c: &str) -> Vec<String> {
        self.next += 1;
        let tag = format!("t{}", self.next);
        self.send(&format!("{tag} {c}\r\n"));
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "closed after {lines:?}");
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    }
}
