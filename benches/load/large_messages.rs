//! Large messages both ways: C clients log in to a running `sansmail` over IMAP, then each
//! APPENDs a message of S MiB (a non-synchronising literal, written as fast as TCP takes it)
//! and fetches it back with `UID FETCH … BODY.PEEK[]`, all at once. Every octet fetched is
//! checked against what was appended, and the tool fails loudly when any client did not get
//! its message back whole. It reports the server's peak RSS before and after (`VmHWM`), so
//! the figure is what the messages cost the server, and the time taken.
//!
//! ```text
//! cargo run --release -p sansmail-benches --example large_messages -- \
//!     ADDR CLIENTS MIB PID USER PASSWORD
//! ```
//!
//! `ADDR` is a plain (no TLS) IMAP listener that allows LOGIN, with a `max_message_size`
//! above the message; `PID` is the server's process. `benches/load/large-messages.sh` starts
//! such a server and runs the tool.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Octets of one body line, CRLF included.
const LINE: usize = 80;

/// Client `client`'s message: a header, then numbered lines, made again piece by piece to
/// check what comes back without holding either copy.
struct Message {
    header: Vec<u8>,
    lines: usize,
    client: usize,
}

impl Message {
    fn new(client: usize, mib: usize) -> Self {
        let header = format!("Subject: large message of client {client}\r\n\r\n").into_bytes();
        let lines = (mib * 1024 * 1024).saturating_sub(header.len()) / LINE;
        Self { header, lines, client }
    }

    fn len(&self) -> usize {
        self.header.len() + self.lines * LINE
    }

    /// Body line `n`, CRLF included.
    fn line(&self, n: usize) -> Vec<u8> {
        let mut l = format!("{:04} {n:09} ", self.client).into_bytes();
        l.resize(LINE - 2, b'a' + (n % 26) as u8);
        l.extend_from_slice(b"\r\n");
        l
    }

    /// The message's octets, `LINE × 512` at a time.
    fn pieces(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        std::iter::once(self.header.clone()).chain(
            (0..self.lines).step_by(512).map(move |first| {
                (first..(first + 512).min(self.lines)).flat_map(|n| self.line(n)).collect::<Vec<u8>>()
            }),
        )
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(l)
    }

    /// Reads up to the line starting with `tag ` and gives it, failing on anything but OK.
    fn tagged(&mut self, tag: &str) -> Result<String> {
        loop {
            let l = self.line()?;
            if let Some(rest) = l.strip_prefix(&format!("{tag} ")) {
                return if rest.starts_with("OK") { Ok(l) } else { Err(format!("refused: {}", l.trim_end()).into()) };
            }
        }
    }
}

fn login(addr: SocketAddr, user: &str, password: &str) -> Result<Client> {
    let stream = TcpStream::connect(addr)?;
    let mut c = Client { reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?), writer: stream };
    c.line()?;
    c.writer.write_all(format!("a LOGIN {user} {password}\r\n").as_bytes())?;
    c.tagged("a")?;
    Ok(c)
}

/// Appends client `i`'s message, fetches it back and checks every octet.
fn round_trip(c: &mut Client, message: &Message) -> Result<()> {
    c.writer.write_all(format!("b APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes())?;
    for piece in message.pieces() {
        c.writer.write_all(&piece)?;
    }
    c.writer.write_all(b"\r\n")?;
    let ok = c.tagged("b")?;
    let uid: u32 = ok
        .split_once("[APPENDUID ")
        .and_then(|(_, r)| r.split(' ').nth(1))
        .and_then(|u| u.trim_end_matches(']').parse().ok())
        .ok_or_else(|| format!("no APPENDUID in {ok}"))?;
    c.writer.write_all(b"c SELECT INBOX\r\n")?;
    c.tagged("c")?;
    c.writer.write_all(format!("d UID FETCH {uid} BODY.PEEK[]\r\n").as_bytes())?;
    let head = c.line()?;
    let announced = format!("{{{}}}\r\n", message.len());
    if !(head.starts_with("* ") && head.ends_with(&announced)) {
        return Err(format!("unexpected FETCH response: {}", head.trim_end()).into());
    }
    let mut got = Vec::new();
    for (i, piece) in message.pieces().enumerate() {
        got.resize(piece.len(), 0);
        c.reader.read_exact(&mut got)?;
        if got != piece {
            return Err(format!("piece {i} of the fetched message differs from what was appended").into());
        }
    }
    let end = c.line()?;
    if end != ")\r\n" {
        return Err(format!("the FETCH response went on past the message: {}", end.trim_end()).into());
    }
    c.tagged("d")?;
    c.writer.write_all(b"e LOGOUT\r\n")?;
    Ok(())
}

/// A number field of `/proc/PID/status`, in KiB.
fn field(pid: u32, name: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let v = text.lines().find_map(|l| l.strip_prefix(name)).ok_or("no such field")?;
    Ok(v.split_whitespace().next().ok_or("empty field")?.parse()?)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, clients, mib, pid, user, password] = &args[..] else {
        return Err("usage: large_messages ADDR CLIENTS MIB PID USER PASSWORD".into());
    };
    let (addr, clients, mib, pid): (SocketAddr, usize, usize, u32) =
        (addr.parse()?, clients.parse()?, mib.parse()?, pid.parse()?);
    let mut sessions = Vec::new();
    for _ in 0..clients {
        sessions.push(login(addr, user, password)?);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (rss0, peak0) = (field(pid, "VmRSS:")?, field(pid, "VmHWM:")?);
    let start = Barrier::new(clients);
    let start = Arc::new(start);
    let began = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let start = start.clone();
                scope.spawn(move || {
                    let message = Message::new(i, mib);
                    start.wait();
                    round_trip(&mut c, &message).map_err(|e| format!("client {i}: {e}").into())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client thread panicked".into()))).collect()
    });
    let took = began.elapsed();
    let (rss1, peak1) = (field(pid, "VmRSS:")?, field(pid, "VmHWM:")?);
    let failed: Vec<String> = results.into_iter().filter_map(|r| r.err().map(|e| e.to_string())).collect();
    let size = Message::new(0, mib).len();
    println!(
        "{clients} clients appended and fetched back {size} octets each in {:.2} s ({:.0} MiB/s both ways)",
        took.as_secs_f64(),
        (2 * clients * size) as f64 / 1048576.0 / took.as_secs_f64()
    );
    println!(
        "server peak RSS {peak0} KiB before, {peak1} KiB after: grew {} KiB; RSS {rss0} KiB before, {rss1} KiB after",
        peak1.saturating_sub(peak0)
    );
    if !failed.is_empty() {
        for f in &failed {
            eprintln!("FAILED {f}");
        }
        return Err(format!("{} of {clients} clients did not get their message back whole", failed.len()).into());
    }
    println!("every client got its message back octet for octet");
    Ok(())
}
