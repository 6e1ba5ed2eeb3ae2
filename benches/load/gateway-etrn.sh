#!/usr/bin/env bash
# A gateway's held mail handed over by ETRN, beside the same mail sent straight to the
# receiver. Postfix's smtp-source sends N messages of 4 KiB over 20 sessions to a sansmail
# gateway that holds the domain `sink.test`; once all N are held (in the outbound queue),
# one ETRN releases them to Postfix's smtp-sink on loopback, timed from the ETRN to the
# queue empty, and only if every message was delivered (else it fails and says what is
# stuck). Then smtp-source sends the same N straight to the sink, 20 sessions, as the
# ceiling measured in the same run. Prints messages/s for each and the ratio.
#
#   benches/load/gateway-etrn.sh [N]        (default N = 5000)
#
# Needs: smtp-source and smtp-sink (Debian package postfix). Ports PORT and SINK.
set -euo pipefail
N=${1:-5000}
PORT=${PORT:-2545}
SINK=${SINK:-2546}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-etrn.XXXXXX")
cat > "$WORK/gateway.toml" <<CONF
data_dir = "$WORK/data"
abuse = { connections_per_window = 1000000 }
[[listener]]
name = "mx"
service = "smtp"
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
CONF
SINKUSER=""; [ "$(id -u)" -eq 0 ] && SINKUSER="-u nobody"
smtp-sink $SINKUSER 127.0.0.1:$SINK 256 &
SINKPID=$!
RUST_LOG=warn,sansmail::outbound=info "$BIN" serve -c "$WORK/gateway.toml" 2>"$WORK/log" &
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
reply=$(python3 -c "
import smtplib
s = smtplib.SMTP('127.0.0.1', $PORT); s.ehlo('sink.test')
print(s.docmd('ETRN', 'sink.test')); s.quit()")
echo "ETRN: $reply"
deadline=$(( $(date +%s) + 120 + N / 50 ))
while [ "$(held)" -gt 0 ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "FAILED: $(held) messages still held"; exit 1; fi
  sleep 0.05
done
end=$(date +%s.%N)
delivered=$(grep -c 'status=Delivered' "$WORK/log" || true)
if [ "$delivered" -ne "$N" ]; then echo "FAILED: $delivered of $N delivered to the sink"; exit 1; fi
S=$(echo "$N / ($end - $start)" | bc -l)
printf 'ETRN hand-over: %d messages in %.2fs: %.0f messages/s\n' "$N" "$(echo "$end - $start" | bc -l)" "$S"
echo "sansmail: peak RSS $(awk '/^VmHWM:/ {print $2, $3}' "/proc/$PID/status")"
start=$(date +%s.%N)
smtp-source -l 4096 -m "$N" -s 20 -f load@localhost -t u@sink.test "127.0.0.1:$SINK"
end=$(date +%s.%N)
D=$(echo "$N / ($end - $start)" | bc -l)
printf 'smtp-source straight to the sink: %.0f messages/s\n' "$D"
printf 'hand-over / straight: %.2f\n' "$(echo "$S / $D" | bc -l)"
