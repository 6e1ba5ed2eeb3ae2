#!/usr/bin/env bash
# A gateway's held mail handed over by ETRN (and, with ATRN=1, by ATRN through fetchmail's
# ODMR client), beside the same mail sent straight to the receiver. Postfix's smtp-source sends N messages of 4 KiB over 20 sessions to a sansmail
# gateway that holds the domain `sink.test`; once all N are held (in the outbound queue),
# one ETRN releases them to Postfix's smtp-sink on loopback, timed from the ETRN to the
# queue empty, and only if every message was delivered (else it fails and says what is
# stuck). Then smtp-source sends the same N straight to the sink, 20 sessions, as the
# ceiling measured in the same run. Prints messages/s for each and the ratio.
#
#   benches/load/gateway-etrn.sh [N]        (default N = 5000)
#   ATRN=1 benches/load/gateway-etrn.sh [N]  (the turn instead: a site logs in to the odmr
#                                             listener, sends ATRN and takes the mail itself)
#
# Needs: smtp-source and smtp-sink (Debian package postfix). Ports PORT and SINK.
set -euo pipefail
N=${1:-5000}
PORT=${PORT:-2545}
SINK=${SINK:-2546}
ODMR=${ODMR:-2547}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-etrn.XXXXXX")
cat > "$WORK/gateway.toml" <<CONF
data_dir = "$WORK/data"
abuse = { connections_per_window = 1000000 }
[[domain]]
name = "provider.test"
[[listener]]
name = "mx"
service = "smtp"
# Intake as before the sender checks (their cost: sender-checks.sh).
sender_checks = false
bind = "127.0.0.1:$PORT"
tls = "none"
limits = { max_connections_per_ip = 100 }
[outbound]
dns_servers = ["127.0.0.1:9"]
concurrency = 20
concurrency_per_domain = 20
[[gateway]]
name = "sink"
domains = ["sink.test"]
delivery = "hold"
host = ["127.0.0.1:$SINK"]
tls = "none"
etrn_networks = ["127.0.0.1/32"]
atrn_users = ["site@provider.test"]
[[listener]]
name = "odmr"
service = "odmr"
bind = "127.0.0.1:$ODMR"
tls = "none"
allow_plaintext_auth = true
CONF
echo odmr-secret | "$BIN" user add site@provider.test -c "$WORK/gateway.toml" >/dev/null
SINKUSER=""; [ "$(id -u)" -eq 0 ] && SINKUSER="-u nobody"
smtp-sink $SINKUSER 127.0.0.1:$SINK 256 &
SINKPID=$!
RUST_LOG=warn,sansmail::outbound=info,sansmail::protocols::smtp=info "$BIN" serve -c "$WORK/gateway.toml" 2>"$WORK/log" &
PID=$!
trap 'kill $PID $SINKPID 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
held() { ls "$WORK/data/queue/out" | grep -c '\.msg$' || true; }
smtp-source -l 4096 -m "$N" -s 20 -f load@source.test -t u@sink.test "127.0.0.1:$PORT"
deadline=$(( $(date +%s) + 60 + N / 50 ))
while [ "$(held)" -lt "$N" ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "FAILED: only $(held) of $N held"; exit 1; fi
  sleep 0.05
done
if grep -q 'status=Delivered' "$WORK/log"; then echo "FAILED: held mail left before ETRN"; exit 1; fi
echo "held: $N messages ($(du -sh "$WORK/data/queue/out" | cut -f1))"
start=$(date +%s.%N)
if [ -n "${ATRN:-}" ]; then
  WAY=ATRN
  # The site: logs in, asks with ATRN, then answers as the SMTP server on the same
  # connection (PIPELINING), taking every message. (fetchmail's ODMR client relays the
  # turn line by line to its SMTP host and holds it to about 11 messages/s here, so it is
  # not what is measured.)
  cat > "$WORK/odmr_client.py" <<'PY'
# An ODMR client that is its own receiver: AUTH PLAIN, ATRN, then it answers as an SMTP
# server (PIPELINING) on the same connection, counting the messages; prints the count and
# the seconds from the 250 to the QUIT.
import base64, socket, sys, time
port, user, password, domain = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(('127.0.0.1', port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile('rb')
def line():
    l = f.readline()
    if not l:
        raise SystemExit('closed')
    return l
def reply():
    while True:
        l = line()
        if l[3:4] != b'-':
            return l
line()
s.sendall(b'EHLO site.test\r\n'); reply()
tok = base64.b64encode(b'\0' + user.encode() + b'\0' + password.encode())
s.sendall(b'AUTH PLAIN ' + tok + b'\r\n'); r = reply(); assert r.startswith(b'235'), r
s.sendall(b'ATRN ' + domain.encode() + b'\r\n'); r = reply(); assert r.startswith(b'250'), r
t0 = time.perf_counter()
s.sendall(b'220 site.test ESMTP\r\n')
n = 0
out = []
while True:
    l = line().rstrip(b'\r\n')
    u = l.upper()
    if u.startswith(b'EHLO'):
        out.append(b'250-site.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n')
    elif u.startswith(b'MAIL') or u.startswith(b'RCPT') or u.startswith(b'RSET') or u.startswith(b'NOOP'):
        out.append(b'250 ok\r\n')
    elif u == b'DATA':
        out.append(b'354 go\r\n')
        s.sendall(b''.join(out)); out = []
        while line() != b'.\r\n':
            pass
        n += 1
        out.append(b'250 ok\r\n')
    elif u == b'QUIT':
        out.append(b'221 bye\r\n')
        s.sendall(b''.join(out))
        break
    else:
        out.append(b'250 ok\r\n')
    s.sendall(b''.join(out)); out = []
print(n, '%.3f' % (time.perf_counter() - t0))
PY
  echo "ATRN: $(python3 "$WORK/odmr_client.py" "$ODMR" site@provider.test odmr-secret sink.test)"
else
  WAY=ETRN
  reply=$(python3 -c "
import smtplib
s = smtplib.SMTP('127.0.0.1', $PORT); s.ehlo('sink.test')
print(s.docmd('ETRN', 'sink.test')); s.quit()")
  echo "ETRN: $reply"
fi
deadline=$(( $(date +%s) + 120 + N / 50 ))
while [ "$(held)" -gt 0 ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "FAILED: $(held) messages still held"; exit 1; fi
  sleep 0.05
done
end=$(date +%s.%N)
if [ "$WAY" = ETRN ]; then
  delivered=$(grep -c 'status=Delivered' "$WORK/log" || true)
else
  delivered=$(grep -o 'delivered=[0-9]*' "$WORK/log" | cut -d= -f2 | paste -sd+ | bc)
fi
if [ "$delivered" -ne "$N" ]; then echo "FAILED: $delivered of $N delivered to the sink"; exit 1; fi
S=$(echo "$N / ($end - $start)" | bc -l)
printf '%s hand-over: %d messages in %.2fs: %.0f messages/s\n' "$WAY" "$N" "$(echo "$end - $start" | bc -l)" "$S"
echo "sansmail: peak RSS $(awk '/^VmHWM:/ {print $2, $3}' "/proc/$PID/status")"
start=$(date +%s.%N)
smtp-source -l 4096 -m "$N" -s 20 -f load@localhost -t u@sink.test "127.0.0.1:$SINK"
end=$(date +%s.%N)
D=$(echo "$N / ($end - $start)" | bc -l)
printf 'smtp-source straight to the sink: %.0f messages/s\n' "$D"
printf 'hand-over / straight: %.2f\n' "$(echo "$S / $D" | bc -l)"
