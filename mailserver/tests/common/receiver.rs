//! Loopback SMTP receivers for the outbound tests: aiosmtpd (Python) writing what it takes
//! to files.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::temp_dir;

/// An aiosmtpd server writing each message it takes to `dir/<n>.txt` (envelope lines, then
/// the content). Modes: `accept`; `reject` (550 5.1.1 to recipients starting with `bad`);
/// `tempfail` (451 to the first connection's recipients, then accept); `slow` (accept, two
/// seconds after the content).
pub const RECEIVER: &str = r#"
import asyncio, sys, os
from aiosmtpd.controller import Controller
host, port, outdir, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class Handler:
    def __init__(self):
        self.n = 0
        self.deferred = False
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if mode == 'reject' and address.startswith('bad'):
            return '550 5.1.1 <%s>: Recipient address rejected: no such user' % address
        if mode == 'tempfail' and not self.deferred:
            return '451 4.3.0 Try again later'
        envelope.rcpt_tos.append(address)
        return '250 OK'
    async def handle_DATA(self, server, session, envelope):
        if mode == 'slow':
            await asyncio.sleep(2)
        self.n += 1
        # Written aside and renamed: a reader never sees half a message.
        path = os.path.join(outdir, '%d.txt' % self.n)
        with open(path + '.part', 'wb') as f:
            f.write(('FROM %s\n' % envelope.mail_from).encode())
            f.write(('PEER %s:%s\n' % session.peer[:2]).encode())
            for r in envelope.rcpt_tos:
                f.write(('TO %s\n' % r).encode())
            f.write(b'\n')
            f.write(envelope.content)
        os.replace(path + '.part', path)
        return '250 2.0.0 Ok: queued'
    async def handle_QUIT(self, server, session, envelope):
        if mode == 'tempfail':
            self.deferred = True
        return '221 Bye'
c = Controller(Handler(), hostname=host, port=port)
c.start()
print('ready', flush=True)
sys.stdin.read()
"#;

pub struct Child2(pub Child);

impl Drop for Child2 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a Python helper and waits for its `ready` line.
pub fn spawn_ready(script: &str, args: &[&str]) -> Child2 {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "helper did not start");
    Child2(child)
}

/// A port on 127.0.0.1 held by a socket that does not listen: connections to it are refused,
/// and no other socket (another test's listener, the server under test's own) can take it
/// while this lives. A "down" receiver that `free_port` would only guess is free.
pub struct DeadPort {
    pub port: u16,
    _socket: tokio::net::TcpSocket,
}

pub fn dead_port() -> DeadPort {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    DeadPort { port, _socket: socket }
}

/// A port free on every one of `ips` (so one MX port serves several hosts).
pub fn free_port(ips: &[&str]) -> u16 {
    loop {
        let first = TcpListener::bind((ips[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        if ips[1..].iter().all(|ip| TcpListener::bind((*ip, port)).is_ok()) {
            return port;
        }
    }
}

pub struct Receiver {
    pub dir: PathBuf,
    _child: Child2,
    pub addr: SocketAddr,
}

pub fn receiver(ip: &str, port: u16, mode: &str) -> Receiver {
    let dir = temp_dir("receiver");
    let child = spawn_ready(RECEIVER, &[ip, &port.to_string(), &dir.display().to_string(), mode]);
    Receiver { dir, _child: child, addr: SocketAddr::new(ip.parse().unwrap(), port) }
}

impl Receiver {
    pub fn messages(&self) -> Vec<String> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                // Whole messages only (one being written ends in `.part`).
                if !name.ends_with(".txt") {
                    return None;
                }
                Some((name, String::from_utf8_lossy(&std::fs::read(e.path()).ok()?).into_owned()))
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, m)| m).collect()
    }

    pub fn wait(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A host that takes TCP connections and never says a word (a stalled receiver): it
/// counts the connections and keeps them open until dropped.
pub struct Staller {
    pub addr: SocketAddr,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Staller {
    pub fn start() -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (a, s) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        held.push(conn);
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self { addr, accepted, stop }
    }

    /// Connections taken so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Staller {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A DNS server for a zone, answering on 127.0.0.1 (dnslib): NXDOMAIN for names not in
/// the zone, an empty answer (NODATA) for names without records of the asked type, UDP
/// answers past 1232 octets truncated (TCP then).
pub const DNS: &str = r#"
import sys, os
from dnslib import RR, RCODE
from dnslib.server import DNSServer, BaseResolver
port, zone = int(sys.argv[1]), sys.argv[2]
records = RR.fromZone(zone)
class Zone(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        names = [rr for rr in records if rr.rname == request.q.qname]
        if not names:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in names:
            if rr.rtype == request.q.qtype:
                reply.add_answer(rr)
        # As real servers do: a UDP answer past 1232 octets (the usual EDNS size) is cut to
        # its question with TC set, and the client asks again over TCP.
        if handler.protocol == 'udp' and len(reply.pack()) > 1232:
            reply.rr = []
            reply.header.tc = 1
        return reply
# Port 0: a port free for both UDP and TCP, found here where both are bound (a port chosen
# by the caller could be taken over TCP in the meantime).
while True:
    udp = DNSServer(Zone(), port=port, address='127.0.0.1')
    chosen = udp.server.server_address[1]
    try:
        tcp = DNSServer(Zone(), port=chosen, address='127.0.0.1', tcp=True)
        break
    except OSError:
        udp.server.server_close()
        if port:
            raise
udp.start_thread(); tcp.start_thread()
print('ready', chosen, flush=True)
sys.stdout = open(os.devnull, 'w')
sys.stdin.read()
"#;

/// Starts [`DNS`] for `zone` (RFC 1035 master-file lines) on a port of 127.0.0.1 it finds
/// free for both UDP and TCP.
pub fn dns_server(zone: &str) -> (Child2, u16) {
    spawn_ready_port(DNS, &["0", zone])
}

/// Starts a Python helper that binds its own port and says `ready PORT`.
pub fn spawn_ready_port(script: &str, args: &[&str]) -> (Child2, u16) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok());
    let port = port.unwrap_or_else(|| panic!("helper did not start: {line:?}"));
    (Child2(child), port)
}
