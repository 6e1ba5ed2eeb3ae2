#!/usr/bin/env bash
# Article intake and OVER beside INN, on one machine in one run.
#
# N articles of 2–8 KiB (deterministic) are fed (MODE STREAM, then TAKETHIS after TAKETHIS
# on one connection without waiting, the answers read as they come: the feeder is never
# what is measured; INN's own innxmit waits on its answers and tops out near 2,000
# articles/s against either server) to a release `sansmail` and to a private `innd` from the
# Debian package inn2 (its own inn.conf, spool, history and overview under a scratch
# directory, listening on 127.0.0.1 only); then a reader times `OVER first-last` over the
# whole group on each (sansmail's reader, INN's nnrpd), five times. Both servers must hold
# every article and every OVER must return N lines, else the run fails. sansmail
# acknowledges each article (239) only after it is on disk; INN does not sync its spool.
#
#   benches/load/news-intake.sh [N]          (default 10000; run as root: innd runs as news)
#
# Ports BASE and BASE+1 (BASE=24300 unless set). KEEP=1 keeps the scratch directory.
set -euo pipefail
N=${1:-10000}
BASE=${BASE:-24300}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
INNBIN=/usr/lib/news/bin
[ -x "$INNBIN/innd" ] || { echo "needs inn2 (scripts/test.sh installs it)" >&2; exit 1; }
(cd "$ROOT" && cargo build -q --release -p sansmail)
BIN="$ROOT/target/release/sansmail"
for port in "$BASE" $((BASE + 1)); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
    echo "port $port is in use (an innd of an earlier run?)" >&2; exit 1
  fi
done
W=$(mktemp -d "${TMPDIR:-/tmp}/news-bench.XXXXXX")
chmod 755 "$W"
SPID=""
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
  # innd goes by ctlinnd (it takes a moment to flush); the next run needs its port.
  [ -f "$W/inn/etc/inn.conf" ] && su news -s /bin/sh -c "INNCONF=$W/inn/etc/inn.conf $INNBIN/ctlinnd -t 10 shutdown bench" >/dev/null 2>&1 || true
  for _ in $(seq 100); do pgrep -u news -f "^$INNBIN/innd" >/dev/null || break; sleep 0.1; done
  pkill -9 -u news -f "^$INNBIN/(innd|nnrpd)" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

echo "== $N articles"
python3 - "$W" "$N" <<'PY'
import os, random, sys
w, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(3977)
os.makedirs(f"{w}/articles")
with open(f"{w}/batch", "w") as batch:
    for i in range(1, n + 1):
        size = rng.randint(2048, 8192)
        head = (f"Path: feeder.test!not-for-mail\nFrom: poster{i % 97}@feeder.test\n"
                f"Newsgroups: local.bench\nSubject: Bench article {i}\n"
                f"Message-ID: <bench{i}@feeder.test>\nDate: Mon, 7 Dec 2026 12:00:00 +0000\n\n")
        line = "The quick brown fox jumps over the lazy dog, again and again.\n"
        body = line * max(1, (size - len(head)) // len(line))
        path = f"{w}/articles/{i}"
        with open(path, "w") as f:
            f.write(head + body)
        batch.write(f"{path} <bench{i}@feeder.test>\n")
PY
du -sh "$W/articles" | cut -f1 | sed 's/^/   on disk: /'

# sansmail: one NNTP listener, the group, the feeder as a peer.
mkdir -p "$W/sansmail"
cat > "$W/sansmail/sansmail.toml" <<CONF
data_dir = "$W/sansmail/data"
hostname = "sansmail.test"
[[listener]]
name = "nntp"
service = "nntp"
bind = "127.0.0.1:$BASE"
tls = "none"
[listener.limits]
max_message_size = 1048576
[[newsgroup]]
name = "local.bench"
[[newspeer]]
name = "feeder"
networks = ["127.0.0.1/32"]
CONF
RUST_LOG=warn "$BIN" serve -c "$W/sansmail/sansmail.toml" > "$W/sansmail/log" 2>&1 &
SPID=$!

# INN: a private instance (paths under $W/inn) on 127.0.0.1:BASE+1, running as news.
I="$W/inn"
mkdir -p "$I"/{etc,db,spool/articles,spool/overview,spool/outgoing,spool/incoming,spool/archive,run,log,tmp,http}
cp -r /etc/news/. "$I/etc/"
sed -i -E "/^(path(etc|db|spool|articles|overview|outgoing|incoming|archive|run|log|tmp|http)|bindaddress6?|port|pathhost|domain):/d" "$I/etc/inn.conf"
cat >> "$I/etc/inn.conf" <<CONF
pathhost: inn.test
domain: localdomain
port: $((BASE + 1))
bindaddress: 127.0.0.1
bindaddress6: "::1"
pathetc: $I/etc
pathdb: $I/db
pathspool: $I/spool
patharticles: $I/spool/articles
pathoverview: $I/spool/overview
pathoutgoing: $I/spool/outgoing
pathincoming: $I/spool/incoming
patharchive: $I/spool/archive
pathrun: $I/run
pathlog: $I/log
pathtmp: $I/tmp
pathhttp: $I/http
CONF
printf 'control 0000000000 0000000001 n\ncontrol.cancel 0000000000 0000000001 n\njunk 0000000000 0000000001 n\nlocal.bench 0000000000 0000000001 y\n' > "$I/db/active"
: > "$I/db/active.times"; : > "$I/db/newsgroups"; : > "$I/db/history"
chown -R news:news "$I"
su news -s /bin/sh -c "INNCONF=$I/etc/inn.conf $INNBIN/makedbz -i -o"
su news -s /bin/sh -c "INNCONF=$I/etc/inn.conf $INNBIN/innd"

wait_port() { for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
wait_port "$BASE"; wait_port $((BASE + 1))
INNPID=$(pgrep -f "^$INNBIN/innd" | head -1)

feed() { # name port -> seconds
  # Each feed starts with nothing dirty: the other's writes are not what is measured.
  sync
  python3 - "$W/batch" "$2" "$N" <<'PY'
# A streaming feeder (RFC 4644): one connection, MODE STREAM, then every article as
# TAKETHIS back to back from one thread while another reads the answers; the time is from
# the first TAKETHIS to the last answer. Fails unless every article was answered 239.
import socket, sys, threading, time
batch, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
items = []
for line in open(batch):
    path, mid = line.split()
    data = open(path, 'rb').read().replace(b'\n', b'\r\n')
    data = b'\r\n'.join(b'.' + l if l.startswith(b'.') else l for l in data.split(b'\r\n'))
    items.append(b'TAKETHIS ' + mid.encode() + b'\r\n' + data + b'.\r\n')
s = socket.create_connection(('127.0.0.1', port))
f = s.makefile('rb')
f.readline()
s.sendall(b'MODE STREAM\r\n')
assert f.readline().startswith(b'203')
codes = {}
def read():
    for _ in range(len(items)):
        c = f.readline()[:3]
        codes[c] = codes.get(c, 0) + 1
t0 = time.perf_counter()
reader = threading.Thread(target=read)
reader.start()
for i in range(0, len(items), 64):
    s.sendall(b''.join(items[i:i + 64]))
reader.join()
elapsed = time.perf_counter() - t0
s.sendall(b'QUIT\r\n')
if codes.get(b'239', 0) != n:
    sys.exit(f'answers {codes}, not {n} x 239')
print(f'{elapsed:.3f}')
PY
}

count() { # port -> articles in local.bench
  python3 -W ignore - "$1" <<'PY'
import nntplib, sys
s = nntplib.NNTP('127.0.0.1', int(sys.argv[1]), readermode=True)
print(s.group('local.bench')[1]); s.quit()
PY
}

echo "== intake (streaming TAKETHIS, one connection, pipelined)"
ts=$(feed sansmail "$BASE")
ti=$(feed inn $((BASE + 1)))
# INN writes overview and the active file as it goes; give it a moment to be readable.
sleep 1
cs=$(count "$BASE"); ci=$(count $((BASE + 1)))
[ "$cs" = "$N" ] || { echo "FAIL: sansmail holds $cs of $N articles"; exit 1; }
[ "$ci" = "$N" ] || { echo "FAIL: INN holds $ci of $N articles"; exit 1; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
python3 - "$N" "$ts" "$ti" "$(hwm "$SPID")" "$(hwm "$INNPID")" <<'PY'
import sys
n, ts, ti, ms, mi = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"   sansmail {n / ts:8.0f} articles/s ({ts:.2f} s), peak RSS {ms / 1024:.1f} MiB, every article synced before 239")
print(f"   INN      {n / ti:8.0f} articles/s ({ti:.2f} s), innd peak RSS {mi / 1024:.1f} MiB, spool not synced")
print(f"   ratio    {ti / ts:.2f}x INN's rate")
PY

echo "== OVER of the whole group, 5 times each (median)"
python3 -W ignore - "$BASE" $((BASE + 1)) "$N" <<'PY'
import socket, statistics, sys, time
def over(port, n):
    s = socket.create_connection(('127.0.0.1', port))
    f = s.makefile('rb')
    def cmd(line):
        s.sendall(line + b'\r\n')
        return f.readline()
    f.readline()
    cmd(b'MODE READER')
    r = cmd(b'GROUP local.bench').split()
    first, last = r[2].decode(), r[3].decode()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        status = cmd(f'OVER {first}-{last}'.encode())
        assert status.startswith(b'224'), status
        lines = 0
        while True:
            l = f.readline()
            if l == b'.\r\n':
                break
            lines += 1
        times.append(time.perf_counter() - t0)
        assert lines == n, f'{lines} of {n} overview lines'
    cmd(b'QUIT')
    return statistics.median(times)
ours, inn, n = over(int(sys.argv[1]), int(sys.argv[3])), over(int(sys.argv[2]), int(sys.argv[3])), int(sys.argv[3])
print(f"   sansmail {ours * 1000:7.1f} ms ({n / ours:8.0f} lines/s)")
print(f"   INN      {inn * 1000:7.1f} ms ({n / inn:8.0f} lines/s)")
print(f"   ratio    {inn / ours:.2f}x INN's speed")
PY
