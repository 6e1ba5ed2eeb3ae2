#!/usr/bin/env bash
# IMAP under stress, sansmail beside Dovecot: Dovecot's imaptest (clients log in, select,
# fetch, store, expunge, append and log out at random, checking every answer) runs for SECS
# seconds with CLIENTS clients against a release sansmail, then against a Dovecot of this
# script's own configuration, back to back, both on 127.0.0.1 with plain IMAP. Both check
# the same argon2id hash (the one `sansmail user add` wrote: Dovecot's ARGON2ID scheme reads
# it as it is) and both keep verified credentials (Dovecot's auth_cache, sansmail's
# credential cache), so neither measures the hash alone. Each starts from the same 200-message
# mailbox. Dovecot runs a second time with the password in the clear ({PLAIN}), the ceiling
# of its own work. Prints, per run: commands per second, imaptest's `Error:` lines, and peak
# RSS (sansmail's VmHWM; for Dovecot, the largest sum of all its processes' RSS sampled every
# 0.2 s). Exits non-zero if sansmail had any `Error:` line.
#
#   benches/load/imaptest-stress.sh [CLIENTS] [SECS]     (defaults 10, 30)
#
# Needs: a built imaptest (IMAPTEST=path; default $TMPDIR/imaptest/src/imaptest), Dovecot 2.3
# (apt: dovecot-imapd), run as root (Dovecot's mail processes run as `nobody`). Ports PORT
# and PORT+1 (24200 unless set).
set -euo pipefail
CLIENTS=${1:-10}
SECS=${2:-30}
PORT=${PORT:-24200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAPTEST=${IMAPTEST:-${TMPDIR:-/tmp}/imaptest/src/imaptest}
if ! [ -x "$IMAPTEST" ]; then
  echo "IMAPTEST must name a built imaptest (Dovecot's; it builds against dovecot-dev)" >&2
  exit 2
fi
command -v dovecot >/dev/null || { echo "needs dovecot (apt install dovecot-imapd)" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sansmail-imaptest.XXXXXX")
chmod 755 "$WORK"
PASSWORD=stress-secret

# The mailbox both start from: 200 messages of 1 to 80 lines.
python3 - "$WORK/stress.mbox" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], 'w') as f:
    for i in range(200):
        body = "\n".join("line %d of message %d %s" % (j, i, "x" * random.randint(0, 60))
                         for j in range(random.randint(1, 80)))
        f.write("From sender%d@example.com  Fri Feb 22 17:06:23 2008\n"
                "From: Sender %d <sender%d@example.com>\nTo: stress@localhost\n"
                "Subject: stress message %d\nDate: Thu, 15 Feb 2007 01:02:%02d +0200\n"
                "Message-ID: <m%d@example.com>\n\n%s\n\n" % (i, i, i, i, i % 60, i, body))
PY

# sansmail.
cat > "$WORK/sansmail.toml" <<CONF
data_dir = "$WORK/sansmail"
[abuse]
connections_per_window = 1000000
[[listener]]
name = "imap"
service = "imap"
bind = "127.0.0.1:$PORT"
tls = "none"
allow_plaintext_auth = true
limits = { max_connections_per_ip = 1000, max_connections = 1000 }
CONF
echo "$PASSWORD" | "$BIN" -c "$WORK/sansmail.toml" user add stress@localhost >/dev/null
HASH=$(grep -o '\$argon2id\$[^"]*' "$WORK/sansmail/users.toml" | head -1)

# Dovecot, its own configuration, nothing from /etc.
mkdir -p "$WORK/dovecot/run"
cat > "$WORK/dovecot/dovecot.conf" <<CONF
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/run
log_path = $WORK/dovecot/log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 10M
auth_cache_ttl = 1 hour
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/home/%u
}
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $((PORT + 1))
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
mail_max_userip_connections = 1000
CONF

run_imaptest() { # port label
  (cd "$(dirname "$IMAPTEST")" && LD_LIBRARY_PATH=/usr/lib/dovecot timeout $((SECS + 60)) "$IMAPTEST" \
    host=127.0.0.1 port="$1" user=stress@localhost pass="$PASSWORD" mbox="$WORK/stress.mbox" \
    clients="$CLIENTS" secs="$SECS") > "$WORK/$2.out" 2>&1 || true
}

# Commands per second: the last line of imaptest's totals, summed, over SECS.
rate() {
  tail -1 "$1" | awk -v secs="$SECS" '{ for (i = 1; i <= NF; i++) s += $i } END { printf "%.0f", s / secs }'
}

RUST_LOG=warn "$BIN" serve -c "$WORK/sansmail.toml" 2>"$WORK/sansmail.log" &
SPID=$!
trap 'kill $SPID 2>/dev/null || true; dovecot -c "$WORK/dovecot/dovecot.conf" stop 2>/dev/null || true' EXIT
while ! ss -ltn | grep -q "127.0.0.1:$PORT "; do sleep 0.1; done
run_imaptest "$PORT" sansmail
SPEAK=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
kill $SPID; wait $SPID 2>/dev/null || true

# Dovecot twice: with the same argon2id hash (the comparison), then with the password in the
# clear ({PLAIN}: no hash at all, the ceiling of Dovecot's own work), each from a fresh home.
run_dovecot() { # label passwd-line
  rm -rf "$WORK/dovecot/home" && mkdir -p "$WORK/dovecot/home" && chown nobody:nogroup "$WORK/dovecot/home"
  echo "$2" > "$WORK/dovecot/passwd"
  dovecot -c "$WORK/dovecot/dovecot.conf"
  while ! ss -ltn | grep -q "127.0.0.1:$((PORT + 1)) "; do sleep 0.1; done
  local master sampler
  master=$(cat "$WORK/dovecot/run/master.pid")
  # Dovecot's processes: the master and its children (login, auth, imap, anvil, log, config).
  ( while true; do
      { ps -o rss= -p "$master"; ps -o rss= --ppid "$master"; } 2>/dev/null | awk '{s += $1} END {print s + 0}'
      sleep 0.2
    done > "$WORK/$1-rss" ) &
  sampler=$!
  run_imaptest $((PORT + 1)) "$1"
  kill $sampler
  dovecot -c "$WORK/dovecot/dovecot.conf" stop
  while ss -ltn | grep -q "127.0.0.1:$((PORT + 1)) "; do sleep 0.1; done
}
run_dovecot dovecot "stress@localhost:{ARGON2ID}$HASH"
run_dovecot dovecot-plain "stress@localhost:{PLAIN}$PASSWORD"

printf '%-22s %10s %8s %14s\n' server 'cmds/s' 'Error:' 'peak RSS KiB'
row() { # label file peak
  printf '%-22s %10s %8s %14s\n' "$1" "$(rate "$2")" "$(grep -c '^Error:' "$2" || true)" "$3"
}
row "sansmail (argon2id)" "$WORK/sansmail.out" "$SPEAK"
row "dovecot (argon2id)" "$WORK/dovecot.out" "$(sort -n "$WORK/dovecot-rss" | tail -1)"
row "dovecot ({PLAIN})" "$WORK/dovecot-plain.out" "$(sort -n "$WORK/dovecot-plain-rss" | tail -1)"
echo "imaptest's output: $WORK/{sansmail,dovecot,dovecot-plain}.out"
[ "$(grep -c '^Error:' "$WORK/sansmail.out" || true)" = 0 ]
