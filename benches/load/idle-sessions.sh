#!/usr/bin/env bash
# Idle sessions at scale: starts a release sansmail with implicit-TLS IMAP, POP3, SMTP and
# NNTP listeners on 127.0.0.1, then runs load/idle_sessions.rs against each in turn (a fresh
# server each time, so every figure is measured from an empty server):
#   IMAP: N sessions (LOGIN, SELECT INBOX, IDLE) on one mailbox, then one delivery;
#   POP3: P sessions logged in, one account each (a maildrop takes one session);
#   SMTP: N sessions after EHLO and AUTH PLAIN;
#   NNTP: N readers after AUTHINFO USER/PASS and GROUP (asked for by name: "nntp").
# Prints RSS per session, threads, idle CPU, a newcomer's login time and (IMAP) how long
# the delivery took to reach every IDLE session. Exits non-zero if any session failed.
#
#   benches/load/idle-sessions.sh [N] [P] [PROTOCOLS]   (defaults 10000, 1000, "imap pop3 smtp")
#
# Ports BASE..BASE+4 (BASE=24000 unless set). Needs a file-descriptor limit above 2 N;
# sessions come from 127.x.y.z source addresses, one each, so the per-address limits are
# not what is measured.
set -euo pipefail
N=${1:-10000}
P=${2:-1000}
PROTOCOLS=${3:-imap pop3 smtp}
BASE=${BASE:-24000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# BIN: another build of the server to measure (another allocator, say).
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
(cd "$ROOT" && cargo build -q --release -p sansmail-benches --example idle_sessions)
TOOL="$ROOT/target/release/examples/idle_sessions"
ulimit -n "$(ulimit -Hn)"
PASSWORD=load-secret

run() { # protocol sessions
  local work pid
  work=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-idle.XXXXXX")
  cat > "$work/load.toml" <<CONF
data_dir = "$work/data"
[abuse]
connections_per_window = 1000000
# Every session logs in to the same account at once: in-flight attempts count until they
# succeed, so lift the account lock too.
account_failures_before_lock = 1000000
[[listener]]
name = "mx"
service = "smtp"
# Intake as before the sender checks (their cost: sender-checks.sh).
sender_checks = false
bind = "127.0.0.1:$BASE"
tls = "none"
[[listener]]
name = "imaps"
service = "imap"
bind = "127.0.0.1:$((BASE + 1))"
tls = "implicit"
limits = { max_connections = 100000, idle_timeout_secs = 3600 }
[[listener]]
name = "pop3s"
service = "pop3"
bind = "127.0.0.1:$((BASE + 2))"
tls = "implicit"
limits = { max_connections = 100000 }
[[listener]]
name = "submissions"
service = "submission"
bind = "127.0.0.1:$((BASE + 3))"
tls = "implicit"
limits = { max_connections = 100000, idle_timeout_secs = 3600 }
[[listener]]
name = "nntps"
service = "nntp"
bind = "127.0.0.1:$((BASE + 4))"
tls = "implicit"
limits = { max_connections = 100000, idle_timeout_secs = 3600 }
[[newsgroup]]
name = "local.general"
CONF
  if [ "$1" = pop3 ]; then
    for i in $(seq 0 "$(($2 + 9))"); do echo "$PASSWORD" | "$BIN" -c "$work/load.toml" user add "u$i@localhost" >/dev/null; done
  else
    echo "$PASSWORD" | "$BIN" -c "$work/load.toml" user add "alice@localhost" >/dev/null
  fi
  RUST_LOG=warn "$BIN" serve -c "$work/load.toml" 2>"$work/log" &
  pid=$!
  while ! ss -ltn | grep -q "127.0.0.1:$((BASE + 4)) "; do sleep 0.1; done
  local status=0
  case "$1" in
    imap) "$TOOL" imap "127.0.0.1:$((BASE + 1))" "$2" "$pid" alice@localhost "$PASSWORD" "127.0.0.1:$BASE" || status=$? ;;
    pop3) "$TOOL" pop3 "127.0.0.1:$((BASE + 2))" "$2" "$pid" 'u{}@localhost' "$PASSWORD" || status=$? ;;
    smtp) "$TOOL" smtp "127.0.0.1:$((BASE + 3))" "$2" "$pid" alice@localhost "$PASSWORD" || status=$? ;;
    nntp) "$TOOL" nntp "127.0.0.1:$((BASE + 4))" "$2" "$pid" alice@localhost "$PASSWORD" || status=$? ;;
  esac
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if [ "$status" != 0 ]; then
    echo "$1: FAILED (server log: $work/log)" >&2
    exit "$status"
  fi
  rm -rf "$work"
}

for p in $PROTOCOLS; do
  case "$p" in
    pop3) run pop3 "$P" ;;
    *) run "$p" "$N" ;;
  esac
done
