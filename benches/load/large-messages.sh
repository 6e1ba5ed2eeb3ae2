#!/usr/bin/env bash
# Large messages both ways: starts a release sansmail with a plain IMAP listener on
# 127.0.0.1 (max_message_size raised above the message), then runs load/large_messages.rs:
# C clients each APPEND an S MiB message and fetch it back at once, every octet checked.
# Prints the server's peak RSS before and after, and the time. Exits non-zero if any client
# did not get its message back whole.
#
#   benches/load/large-messages.sh [C] [S]   (defaults 10 clients, 200 MiB)
#
# Port PORT (24100 unless set). Needs about C × S × 2 of free disk under TMPDIR.
set -euo pipefail
C=${1:-10}
S=${2:-200}
PORT=${PORT:-24100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
(cd "$ROOT" && cargo build -q --release -p sansmail-benches --example large_messages)
TOOL="$ROOT/target/release/examples/large_messages"
PASSWORD=load-secret
work=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-large.XXXXXX")
cat > "$work/load.toml" <<CONF
data_dir = "$work/data"
[abuse]
connections_per_window = 1000000
account_failures_before_lock = 1000000
[[listener]]
name = "imap"
service = "imap"
bind = "127.0.0.1:$PORT"
tls = "none"
allow_plaintext_auth = true
limits = { max_message_size = $(((S + 1) * 1024 * 1024)) }
CONF
echo "$PASSWORD" | "$BIN" -c "$work/load.toml" user add "alice@localhost" >/dev/null
RUST_LOG=warn "$BIN" serve -c "$work/load.toml" 2>"$work/log" &
pid=$!
while ! ss -ltn | grep -q "127.0.0.1:$PORT "; do sleep 0.1; done
status=0
"$TOOL" "127.0.0.1:$PORT" "$C" "$S" "$pid" alice@localhost "$PASSWORD" || status=$?
stored=$(find "$work/data/mail/localhost/alice/Maildir/cur" -type f | wc -l)
left=$(find "$work/data/mail/localhost/alice/Maildir/tmp" -type f | wc -l)
echo "messages stored: $stored of $C; files left in tmp/: $left"
kill "$pid"
wait "$pid" 2>/dev/null || true
if [ "$status" != 0 ] || [ "$stored" != "$C" ] || [ "$left" != 0 ]; then
  echo "FAILED (server log: $work/log)" >&2
  exit 1
fi
rm -rf "$work"
