#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the real clients the server's tests drive
# where they are missing (Debian packages: swaks, msmtp, curl, fetchmail, slrnpull, Perl's HMAC
# for swaks' CRAM-MD5, dovecot-pop3d and dovecot-imapd, inn2 for INN's news tools; from PyPI: scramp, aiosmtpd, dnslib, dkimpy, authres, pynacl, pyspf, dnspython), then runs `cargo test --workspace`
# with any arguments given (`scripts/test.sh -p sansmail --test imap`).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in swaks python3 msmtp curl fetchmail slrnpull openssl; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
perl -MDigest::HMAC_MD5 -e1 >/dev/null 2>&1 || need+=(libdigest-hmac-perl)
# Dovecot: the remote POP3/IMAP server of the collection tests (a private instance each).
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "scripts/test.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
      exit 1
    fi
  fi
  echo "== apt-get install ${need[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The SCRAM client of the AUTH tests, the SMTP receivers and the loopback DNS server of the
# outbound tests (all on 127.0.0.1); dkimpy (with authres for ARC, PyNaCl for Ed25519) and
# pyspf (over dnspython) as the independent DKIM, ARC and SPF implementations.
py_mods="scramp aiosmtpd dnslib dkimpy authres pynacl pyspf dnspython"
if ! python3 -c "import scramp, aiosmtpd, dnslib, dkim, authres, nacl, spf, dns.resolver" >/dev/null 2>&1; then
  echo "== pip install $py_mods"
  python3 -m pip install --quiet $py_mods 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages $py_mods
fi

# Python 3.13 dropped nntplib from the standard library; the news tests' reader is its
# packaged copy there.
if ! python3 -c "import nntplib" >/dev/null 2>&1; then
  echo "== pip install standard-nntplib"
  python3 -m pip install --quiet standard-nntplib 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages standard-nntplib
fi

# INN's tools (innxmit, pullnews) are the news tests' independent peers. On a host whose name
# does not resolve, inn2's post-install stops with "domain not set in inn.conf": give it a
# domain and a Path name, then finish the configuration. Its own daemon is not started.
if [ ! -x /usr/lib/news/bin/innxmit ] || ! dpkg -s inn2 2>/dev/null | grep -q "^Status: install ok installed"; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "== apt-get install inn2"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq inn2 >/dev/null 2>&1 || true
  if [ -f /etc/news/inn.conf ]; then
    $SUDO sed -i 's/^#*domain:.*/domain:                      localdomain/; s/^pathhost:.*/pathhost:                    inn.test/' /etc/news/inn.conf
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO dpkg --configure inn2 >/dev/null 2>&1 || true
  [ -x /usr/lib/news/bin/innxmit ] || { echo "scripts/test.sh: inn2 did not install" >&2; exit 1; }
fi

echo "== cargo test --workspace $*"
exec cargo test --workspace "$@"
