#!/usr/bin/env bash
# The cost of the sender checks per message: a corpus of N messages (~4 KiB, each signed by
# dkimpy with RSA-2048, its domain publishing SPF, DKIM and DMARC on a loopback dnslib
# server) sent to one sansmail twice, over 8 pipelining connections: to a listener with
# `sender_checks = false`, then to one with `sender_checks = true` (SPF for HELO and MAIL
# FROM, the DKIM signature, ARC, DMARC; DNS answers from hickory's cache after the warm-up).
# Each pass is timed from its first command to its last message in the Maildir; the checked
# pass must show `dkim=pass` and `dmarc=pass` on every message, else the run fails. Prints
# messages/s and the server's CPU time per message (from /proc) for each, and the ratios:
# throughput here is bound by the fsyncs and the Python client, CPU is what the checks cost.
#
#   benches/load/sender-checks.sh [N]     (default N = 4000)
#
# Needs: python3 with dnslib and dkimpy (scripts/test.sh installs them), openssl, bc.
set -euo pipefail
N=${1:-4000}
PLAIN=${PLAIN:-2561}
CHECKED=${CHECKED:-2562}
DNS=${DNS:-2563}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-checks.XXXXXX")
openssl genrsa -traditional -out "$WORK/key.pem" 2048 2>/dev/null
P=$(openssl rsa -in "$WORK/key.pem" -pubout -outform DER 2>/dev/null | base64 -w0)

# The corpus: N + 200 (the warm-up) signed messages, one file each.
python3 - "$WORK" "$N" <<'PY'
import sys, os, dkim
work, n = sys.argv[1], int(sys.argv[2])
key = open(os.path.join(work, 'key.pem'), 'rb').read()
os.makedirs(os.path.join(work, 'corpus'))
line = b'All work and no play makes a mail server a dull server; checked anyway.\r\n'
for i in range(n + 200):
    msg = (b'From: Ann <ann@signer.test>\r\nTo: someone@localhost\r\nSubject: corpus %d\r\n'
           b'Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%d@signer.test>\r\n\r\n' % (i, i)) + line * 55
    sig = dkim.sign(msg, b'sel', b'signer.test', key, canonicalize=(b'relaxed', b'relaxed'),
                    include_headers=[b'from', b'from', b'to', b'subject', b'date', b'message-id'])
    open(os.path.join(work, 'corpus', '%06d' % i), 'wb').write(sig + msg)
PY

# The domain's records.
python3 - "$DNS" "$P" <<'PY' >"$WORK/dns.log" 2>&1 &
import sys, time
from dnslib import RR, RCODE
from dnslib.server import DNSServer, BaseResolver
port, p = int(sys.argv[1]), sys.argv[2]
parts = ' '.join('"%s"' % p[i:i+200] for i in range(0, len(p), 200))
zone = ('signer.test. 3600 IN TXT "v=spf1 ip4:127.0.0.1 -all"\n'
        'sel._domainkey.signer.test. 3600 IN TXT "v=DKIM1; k=rsa; p=" %s\n'
        '_dmarc.signer.test. 3600 IN TXT "v=DMARC1; p=reject"\n' % parts)
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
        return reply
class Quiet:
    def __getattr__(self, _):
        return lambda *a, **k: None
DNSServer(Zone(), port=port, address='127.0.0.1', logger=Quiet()).start_thread()
DNSServer(Zone(), port=port, address='127.0.0.1', tcp=True, logger=Quiet()).start_thread()
time.sleep(100000)
PY
DNSPID=$!

cat > "$WORK/load.toml" <<CONF
data_dir = "$WORK/data"
[[user]]
address = "plain@localhost"
[[user]]
address = "checked@localhost"
[[user]]
address = "warm@localhost"
[[listener]]
name = "plain"
service = "smtp"
bind = "127.0.0.1:$PLAIN"
tls = "none"
sender_checks = false
limits = { max_connections_per_ip = 100 }
[[listener]]
name = "checked"
service = "smtp"
bind = "127.0.0.1:$CHECKED"
tls = "none"
sender_checks = true
limits = { max_connections_per_ip = 100 }
[outbound]
dns_servers = ["127.0.0.1:$DNS"]
[abuse]
connections_per_window = 1000000
CONF
RUST_LOG=warn "$BIN" serve -c "$WORK/load.toml" 2>"$WORK/log" &
PID=$!
trap 'kill $PID $DNSPID 2>/dev/null || true' EXIT
sleep 1

# Sends corpus files [first, first+count) to PORT for RCPT, 8 connections, pipelined.
send() { # port rcpt first count
  python3 - "$WORK/corpus" "$@" <<'PY'
import sys, os, socket, threading
corpus, port, rcpt, first, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
files = sorted(os.listdir(corpus))[first:first + count]
def replies(f, n):
    for _ in range(n):
        while True:
            line = f.readline()
            if not line:
                raise SystemExit('connection closed')
            if line[3:4] != b'-':
                break
        if line[:1] not in (b'2', b'3'):
            raise SystemExit('refused: %r' % line)
def worker(part):
    s = socket.create_connection(('127.0.0.1', port))
    f = s.makefile('rb')
    replies(f, 1)
    s.sendall(b'EHLO client.signer.test\r\n'); replies(f, 1)
    for name in part:
        body = open(os.path.join(corpus, name), 'rb').read()
        s.sendall(b'MAIL FROM:<ann@signer.test>\r\nRCPT TO:<%s>\r\nDATA\r\n' % rcpt.encode())
        replies(f, 3)
        s.sendall(body.replace(b'\r\n.', b'\r\n..') + b'.\r\n')
        replies(f, 1)
    s.sendall(b'QUIT\r\n')
threads = [threading.Thread(target=worker, args=(files[i::8],)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
}
delivered() { ls "$WORK/data/mail/localhost/$1/Maildir/new" 2>/dev/null | wc -l; }
# The server's CPU time so far, in clock ticks (user + system).
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)
pass() { # port user first; prints "messages/s server-CPU-ms-per-message"
  local start end c0 c1
  start=$(date +%s.%N)
  c0=$(cpu)
  send "$1" "$2@localhost" "$3" "$N"
  while [ "$(delivered "$2")" -lt "$N" ]; do sleep 0.05; done
  end=$(date +%s.%N)
  c1=$(cpu)
  echo "$(echo "$N / ($end - $start)" | bc -l) $(echo "($c1 - $c0) * 1000 / $TICK / $N" | bc -l)"
}
# Warm-up: connections, allocator, hickory's cache.
send "$CHECKED" warm@localhost "$N" 200
while [ "$(delivered warm)" -lt 200 ]; do sleep 0.05; done
read -r S SCPU <<<"$(pass "$PLAIN" plain 0)"
read -r C CCPU <<<"$(pass "$CHECKED" checked 0)"
NEW="$WORK/data/mail/localhost/checked/Maildir/new"
passed=$(grep -l "dkim=pass" -r "$NEW" | xargs grep -l "dmarc=pass" | wc -l)
if [ "$passed" -ne "$N" ]; then
  echo "only $passed of $N checked messages show dkim=pass and dmarc=pass" >&2
  exit 1
fi
if grep -rq "Authentication-Results" "$WORK/data/mail/localhost/plain/Maildir/new"; then
  echo "the unchecked listener added Authentication-Results" >&2
  exit 1
fi
printf 'without the checks: %.0f messages/s, server CPU %.3f ms/message\n' "$S" "$SCPU"
printf 'with the checks:    %.0f messages/s, server CPU %.3f ms/message (all %d: dkim=pass dmarc=pass)\n' "$C" "$CCPU" "$N"
printf 'checked / unchecked: %.2f (throughput), %.2f (CPU per message)\n' "$(echo "$C / $S" | bc -l)" "$(echo "$CCPU / $SCPU" | bc -l)"
echo "peak RSS $(awk '/^VmHWM:/ {print $2, $3}' "/proc/$PID/status")"
rm -rf "$WORK"
