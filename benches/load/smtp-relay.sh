#!/usr/bin/env bash
# End-to-end relay throughput: Postfix's smtp-source sends N messages of 4 KiB over 20
# sessions to sansmail for a remote domain; sansmail queues each durably, then delivers it
# through its outbound queue to Postfix's smtp-sink on loopback. Timed from the first message
# sent to the outbound queue empty, and only once every message was delivered (else it fails
# and prints what is stuck). For a ceiling measured in the same run, smtp-source then
# sends the same N straight to the sink. Prints messages/s for each and the ratio.
#
#   benches/load/smtp-relay.sh [N]        (default N = 5000)
#
# Needs: smtp-source and smtp-sink (Debian package postfix).
set -euo pipefail
N=${1:-5000}
PORT=${PORT:-2535}
SINK=${SINK:-2536}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# BIN: another build of the server to measure; by default this checkout's, built now (a
# release binary left from an older checkout would be measured otherwise).
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-relay.XXXXXX")
cat > "$WORK/relay.toml" <<CONF
data_dir = "$WORK/data"
# smtp-source opens a connection per message: lift the per-address connection rate.
abuse = { connections_per_window = 1000000 }
[[listener]]
name = "mx"
service = "smtp"
# Intake as before the sender checks (their cost: sender-checks.sh).
sender_checks = false
bind = "127.0.0.1:$PORT"
tls = "none"
limits = { max_connections_per_ip = 100 }
relay = { networks = ["127.0.0.1/32"] }
[outbound]
dns_servers = ["127.0.0.1:9"]
concurrency = 20
concurrency_per_domain = 20
[[route]]
domain = "sink.test"
host = ["127.0.0.1:$SINK"]
tls = "none"
CONF
SINKUSER=""; [ "$(id -u)" -eq 0 ] && SINKUSER="-u nobody"
smtp-sink $SINKUSER 127.0.0.1:$SINK 256 &
SINKPID=$!
# The outbound manager's per-recipient lines are kept, to count what was delivered.
RUST_LOG=warn,sansmail::outbound=info "$BIN" serve -c "$WORK/relay.toml" 2>"$WORK/log" &
PID=$!
trap 'kill $PID $SINKPID 2>/dev/null || true' EXIT
sleep 1
start=$(date +%s.%N)
smtp-source -l 4096 -m "$N" -s 20 -f load@localhost -t u@sink.test "127.0.0.1:$PORT"
sent=$(date +%s.%N)
# Relayed when the main queue and the outbound queue are both empty; a queue that does not
# empty in time is a failure, never a figure.
deadline=$(( $(date +%s) + 120 + N / 50 ))
while [ -n "$(ls "$WORK/data/queue/msg")" ] || ls "$WORK/data/queue/out" | grep -q '\.msg$'; do
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "FAILED: the queues did not empty: $(ls "$WORK/data/queue/msg" | wc -l) files in queue/msg," \
      "$(ls "$WORK/data/queue/out" | grep -c '\.msg$') messages in queue/out"
    exit 1
  fi
  sleep 0.05
done
end=$(date +%s.%N)
delivered=$(grep -c 'status=Delivered' "$WORK/log" || true)
if [ "$delivered" -ne "$N" ]; then
  echo "FAILED: $delivered of $N messages delivered to the sink"
  exit 1
fi
S=$(echo "$N / ($end - $start)" | bc -l)
printf 'sansmail: accepted %d in %.2fs, relayed all in %.2fs: %.0f messages/s end to end\n' \
  "$N" "$(echo "$sent - $start" | bc -l)" "$(echo "$end - $start" | bc -l)" "$S"
echo "sansmail: peak RSS $(awk '/^VmHWM:/ {print $2, $3}' "/proc/$PID/status")"
start=$(date +%s.%N)
smtp-source -l 4096 -m "$N" -s 20 -f load@localhost -t u@sink.test "127.0.0.1:$SINK"
end=$(date +%s.%N)
D=$(echo "$N / ($end - $start)" | bc -l)
printf 'straight to the sink: %.0f messages/s\n' "$D"
printf 'sansmail end to end / straight to the sink: %.2f\n' "$(echo "$S / $D" | bc -l)"
if grep -q -i "error\|failed" "$WORK/log"; then echo "errors in the log:"; grep -i "error\|failed" "$WORK/log" | head; fi
