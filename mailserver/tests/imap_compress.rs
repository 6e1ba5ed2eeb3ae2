//! COMPRESS=DEFLATE (RFC 4978) against an independent DEFLATE: Python's zlib (raw DEFLATE,
//! `wbits=-15`) on a real socket, over plain IMAP and over implicit TLS. Everything after
//! the OK is compressed both ways: commands, FETCHed messages, an APPEND literal, the updates
//! of IDLE (each flushed as it is written, or the client would wait), and the LOGOUT.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::imap::{PASSWORD, server_with_mail};

const SCRIPT: &str = r#"
import smtplib, socket, ssl, sys, zlib
port, tls, user, password, mx = int(sys.argv[1]), sys.argv[2] == 'tls', sys.argv[3], sys.argv[4], int(sys.argv[5])
sock = socket.create_connection(('127.0.0.1', port), timeout=20)
if tls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(sock)

class Wire:
    def __init__(self, sock):
        self.sock, self.buf, self.z, self.wire_in, self.plain_in = sock, b'', None, 0, 0
    def compress(self):
        self.c = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z = zlib.decompressobj(-15)
    def send(self, data):
        if self.z:
            data = self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('closed')
        self.wire_in += len(chunk)
        if self.z:
            chunk = self.z.decompress(chunk)
        self.plain_in += len(chunk)
        self.buf += chunk
    def line(self):
        while b'\r\n' not in self.buf:
            self.fill()
        i = self.buf.index(b'\r\n') + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out
    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def response(self):
        # One response, literals included.
        out = self.line()
        while out.endswith(b'}\r\n') and b'{' in out:
            n = int(out[out.rindex(b'{') + 1:-3])
            out += self.take(n) + self.line()
        return out
    def cmd(self, tag, text):
        self.send(tag + b' ' + text + b'\r\n')
        lines = []
        while True:
            r = self.response()
            lines.append(r)
            if r.startswith(tag + b' '):
                return lines

w = Wire(sock)
w.line()
w.cmd(b'a', b'LOGIN ' + user.encode() + b' ' + password.encode())
caps = w.cmd(b'b', b'CAPABILITY')[0]
print('offered', b'COMPRESS=DEFLATE' in caps)
print('compress', w.cmd(b'c', b'COMPRESS DEFLATE')[-1].decode().strip())
w.compress()
caps = w.cmd(b'd', b'CAPABILITY')[0]
print('still offered', b'COMPRESS=DEFLATE' in caps)
print('again', w.cmd(b'e', b'COMPRESS DEFLATE')[-1].decode().strip())
print('select', w.cmd(b'f', b'SELECT INBOX')[-1].decode().strip())
body = b''.join(b'line %d of a long message that compresses well\r\n' % i for i in range(4000))
message = b'Subject: big\r\nFrom: a@b.test\r\n\r\n' + body
w.send(b'g APPEND INBOX {%d+}\r\n' % len(message) + message + b'\r\n')
while True:
    r = w.response()
    if r.startswith(b'g '):
        print('append', r.decode().split(' ')[1])
        break
before_wire, before_plain = w.wire_in, w.plain_in
got = w.cmd(b'h', b'FETCH 1:* (BODY.PEEK[])')
fetched = [r for r in got if r.startswith(b'* ') and b' FETCH ' in r]
print('fetched', len(fetched), any(message in r for r in fetched), b'message 2' in b''.join(fetched))
print('ratio', (w.wire_in - before_wire) / (w.plain_in - before_plain))
# IDLE: a delivery is told at once, in its own flushed compressed piece.
w.send(b'i IDLE\r\n')
print('idling', w.line().decode().strip())
s = smtplib.SMTP('127.0.0.1', mx, timeout=20)
s.sendmail('bob@remote.test', [user], b'Subject: during idle\r\n\r\nhi\r\n')
s.quit()
print('told', w.line().decode().strip())
w.send(b'DONE\r\n')
while not w.line().startswith(b'i '):
    pass
bye = w.cmd(b'j', b'LOGOUT')
print('logout', bye[0].decode().split(' ')[1], bye[-1].decode().split(' ')[1])
"#;

fn run(mode: &str, listener: &str) {
    let s = server_with_mail(&format!("imap-compress-{mode}"), "", 3);
    let port = s.addr(listener).port().to_string();
    let mx = s.addr("mx").port().to_string();
    let out = common::python(SCRIPT, &[&port, mode, "alice@localhost", PASSWORD, &mx]);
    for expected in [
        "offered True",
        "compress c OK DEFLATE active",
        "still offered False",
        "again e NO [COMPRESSIONACTIVE]",
        "select f OK",
        "append OK",
        "fetched 4 True True",
        "idling + idling",
        "told * 5 EXISTS",
        "logout BYE OK",
    ] {
        assert!(out.contains(expected), "{expected:?} in:\n{out}");
    }
    let ratio: f64 = out.lines().find_map(|l| l.strip_prefix("ratio ")).unwrap().parse().unwrap();
    assert!(ratio < 0.2, "the FETCH went out compressed: {ratio} of its size\n{out}");
}

#[test]
fn compress_deflate_over_plain_imap() {
    run("plain", "imapplain");
}

#[test]
fn compress_deflate_over_implicit_tls() {
    run("tls", "imaps");
}
