#!/usr/bin/env bash
# Durable SMTP intake under load: Postfix's smtp-source sends N messages of 4 KiB over 20
# concurrent sessions to sansmail, then (if a Postfix is listening on POSTFIX_PORT) to
# Postfix on the same machine, back to back. Prints messages/s for each and the ratio.
# Every message is fsynced in the queue before its 250 and delivered into a Maildir.
#
#   benches/load/smtp-intake.sh [N]        (default N = 10000)
#
# Needs: smtp-source (Debian package postfix). The Postfix
# set-up used for the figures in benches/README.md is described there.
set -euo pipefail
N=${1:-10000}
PORT=${PORT:-2525}
POSTFIX_PORT=${POSTFIX_PORT:-2526}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# BIN: another build of the server to measure; by default this checkout's, built now (a
# release binary left from an older checkout would be measured otherwise).
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
# A fresh data directory on the same filesystem each run (deleting the last one right before
# would leave ext4 scanning past thousands of just-freed inodes: it skews the run).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-load.XXXXXX")
cat > "$WORK/load.toml" <<CONF
data_dir = "$WORK/data"
[[listener]]
name = "mx"
service = "smtp"
# Intake as before the sender checks (their cost: sender-checks.sh).
sender_checks = false
bind = "127.0.0.1:$PORT"
tls = "none"
limits = { max_connections_per_ip = 100 }
[abuse]
# smtp-source opens a connection per message: lift the per-address connection rate.
connections_per_window = 1000000
CONF
RUST_LOG=warn "$BIN" serve -c "$WORK/load.toml" 2>"$WORK/log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
sleep 1
rate() { # port
  local start end
  start=$(date +%s.%N)
  smtp-source -l 4096 -m "$N" -s 20 -f load@remote.test -t postmaster@localhost "127.0.0.1:$1"
  end=$(date +%s.%N)
  echo "$N / ($end - $start)" | bc -l
}
S=$(rate "$PORT")
printf 'sansmail: %.0f messages/s\n' "$S"
# Wait until every message is in the Maildir.
while [ "$(ls "$WORK/data/mail/localhost/postmaster/Maildir/new" | wc -l)" -lt "$N" ]; do sleep 0.2; done
echo "sansmail: all $N delivered"
echo "sansmail: peak RSS $(awk '/^VmHWM:/ {print $2, $3}' "/proc/$PID/status")"
if ss -ltn | grep -q "127.0.0.1:$POSTFIX_PORT "; then
  P=$(rate "$POSTFIX_PORT")
  printf 'postfix:  %.0f messages/s\n' "$P"
  printf 'sansmail / postfix: %.2f\n' "$(echo "$S / $P" | bc -l)"
fi
