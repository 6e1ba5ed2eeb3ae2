#!/usr/bin/env bash
# Collection throughput: N messages of 4 KiB in a private Dovecot's mailbox (127.0.0.1, its
# own configuration), collected into a release sansmail four ways, each timed from the
# start of the run to the last message in its local mailbox and Dovecot's mailbox empty
# (else the run fails and says what is missing):
#   - sansmail's own [[fetch]] job, method "pop3";
#   - the same, method "imap";
#   - fetchmail over POP3, handing each message to sansmail's SMTP listener (its usual way);
#   - fetchmail over IMAP, the same.
# Plain TCP on loopback (no TLS), so the figures compare the collectors, not the ciphers.
# Prints messages/s for each and the ratios.
#
#   benches/load/fetch-dovecot.sh [N]     (default N = 2000)
#
# Needs: dovecot-pop3d, dovecot-imapd, fetchmail (scripts/test.sh installs them), bc; root,
# for Dovecot's users. Ports PORT (SMTP), DPOP, DIMAP.
set -euo pipefail
N=${1:-2000}
PORT=${PORT:-2555}
DPOP=${DPOP:-2556}
DIMAP=${DIMAP:-2557}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${BIN:-}" ]; then
  BIN="$ROOT/target/release/sansmail"
  (cd "$ROOT" && cargo build -q --release -p sansmail)
fi
WORK=$(mktemp -d /tmp/sansmail-fetch.XXXXXX)
chmod 755 "$WORK"
DV="$WORK/dovecot"
mkdir -p "$DV/home"
echo "office@provider.test:{PLAIN}secret" > "$DV/passwd"
cat > "$DV/dovecot.conf" <<CONF
base_dir = $DV/run
instance_name = sansmail-bench-$$
protocols = pop3 imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$DV/home/%u
}
mail_location = maildir:$DV/home/%u/Maildir
first_valid_uid = 1
service pop3-login {
  inet_listener pop3 {
    port = $DPOP
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = $DIMAP
  }
  inet_listener imaps {
    port = 0
  }
}
log_path = $DV/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
CONF
cat > "$WORK/site.toml" <<CONF
hostname = "mx.office.test"
data_dir = "$WORK/data"
[[domain]]
name = "office.test"
[[user]]
address = "bob@office.test"
[[listener]]
name = "mx"
service = "smtp"
# Intake as before the sender checks (their cost: sender-checks.sh).
sender_checks = false
bind = "127.0.0.1:$PORT"
tls = "none"
[outbound]
dns_servers = ["127.0.0.1:9"]
[[fetch]]
name = "pop3"
method = "pop3"
host = "127.0.0.1:$DPOP"
tls = "none"
username = "office@provider.test"
password = "secret"
max_messages = 1000000
[[fetch]]
name = "imap"
method = "imap"
host = "127.0.0.1:$DIMAP"
tls = "none"
username = "office@provider.test"
password = "secret"
max_messages = 1000000
CONF
/usr/sbin/dovecot -c "$DV/dovecot.conf"
RUST_LOG=warn,sansmail::fetch=info "$BIN" serve -c "$WORK/site.toml" 2>"$WORK/log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; /usr/sbin/dovecot -c "$DV/dovecot.conf" stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1

BOX="$DV/home/office@provider.test/Maildir"
LOCAL="$WORK/data/mail/office.test/bob/Maildir"
fill() {
  mkdir -p "$BOX/new" "$BOX/cur" "$BOX/tmp"
  local body
  body=$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 76)
  for i in $(seq 1 "$N"); do
    printf 'Delivered-To: bob@office.test\r\nFrom: a@remote.test\r\nTo: bob@office.test\r\nSubject: %s %d\r\n\r\n%s\r\n' \
      "$1" "$i" "$body" > "$BOX/new/$((1700000000 + i)).M${i}P$$.$1"
  done
  chown -R dovecot:dovecot "$DV/home"
}
remote() { find "$BOX/new" "$BOX/cur" -type f 2>/dev/null | wc -l; }
local_count() { find "$LOCAL/new" "$LOCAL/cur" -type f 2>/dev/null | wc -l; }
# Waits until `want` messages are in bob's mailbox and Dovecot's is empty; prints seconds.
wait_done() {
  local want=$1 start=$2 deadline=$(( $(date +%s) + 120 + N / 10 ))
  while [ "$(local_count)" -lt "$want" ] || [ "$(remote)" -ne 0 ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "FAILED: $(local_count) of $want delivered, $(remote) left in Dovecot" >&2
      tail -5 "$WORK/log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "$(date +%s.%N) - $start" | bc
}
rate() { echo "scale=0; $N / $1" | bc; }

fill pop3
start=$(date +%s.%N)
"$BIN" fetch run pop3 -c "$WORK/site.toml" >/dev/null
t_pop3=$(wait_done "$N" "$start")
fill imap
start=$(date +%s.%N)
"$BIN" fetch run imap -c "$WORK/site.toml" >/dev/null
t_imap=$(wait_done $((2 * N)) "$start")

fm() {
  local proto=$1 port=$2
  cat > "$WORK/fetchmailrc" <<RC
set no bouncemail
poll 127.0.0.1 service $port protocol $proto user "office@provider.test" password "secret" is bob here
  sslproto '' smtphost 127.0.0.1/$PORT smtpaddress office.test fetchall nokeep
RC
  chmod 600 "$WORK/fetchmailrc"
  HOME="$WORK" FETCHMAILHOME="$WORK" fetchmail -f "$WORK/fetchmailrc" --nodetach --nosyslog -s >/dev/null 2>&1 || true
}
fill fm-pop3
start=$(date +%s.%N)
fm pop3 "$DPOP"
t_fm_pop3=$(wait_done $((3 * N)) "$start")
fill fm-imap
start=$(date +%s.%N)
fm imap "$DIMAP"
t_fm_imap=$(wait_done $((4 * N)) "$start")

dups=$(find "$LOCAL/new" "$LOCAL/cur" -type f -exec grep -h '^Subject: ' {} + | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || { echo "FAILED: $dups messages delivered twice"; exit 1; }
printf 'N = %d messages of 4 KiB, Dovecot %s on loopback\n' "$N" "$(/usr/sbin/dovecot --version | cut -d' ' -f1)"
printf 'sansmail [[fetch]] pop3: %6.2f s  %5d msg/s\n' "$t_pop3" "$(rate "$t_pop3")"
printf 'sansmail [[fetch]] imap: %6.2f s  %5d msg/s\n' "$t_imap" "$(rate "$t_imap")"
printf 'fetchmail pop3 -> smtp:  %6.2f s  %5d msg/s\n' "$t_fm_pop3" "$(rate "$t_fm_pop3")"
printf 'fetchmail imap -> smtp:  %6.2f s  %5d msg/s\n' "$t_fm_imap" "$(rate "$t_fm_imap")"
printf 'ratio pop3 sansmail/fetchmail: %.2f   imap: %.2f\n' \
  "$(echo "$t_fm_pop3 / $t_pop3" | bc -l)" "$(echo "$t_fm_imap / $t_imap" | bc -l)"
