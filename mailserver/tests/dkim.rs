//! DKIM signing checked by an independent verifier: keys made with `sansmail dkim generate`
//! while the server runs, mail relayed, forwarded, auto-answered and bounced to an aiosmtpd receiver,
//! and every signature verified by Python's dkimpy against the records the command printed
//! (handed to dkimpy as its DNS, so no resolver is involved); the forward also carries an
//! ARC set dkimpy validates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::receiver::{free_port, receiver};
use common::{Server, python};

/// Verifies each `DKIM-Signature` of a received message (the receiver's envelope lines cut
/// off) with dkimpy; `records` maps `selector._domainkey.domain.` to the TXT value. Prints
/// one line per signature: `d= s= a= verdict`, then the same for a copy with a line added to
/// its body.
const VERIFY: &str = r#"
import sys, json, dkim
path, records = sys.argv[1], json.loads(sys.argv[2])
raw = open(path, 'rb').read()
message = raw.split(b'\n\n', 1)[1]
def dns(name, timeout=5):
    return records.get(name.decode(), '').encode() or None
def verdicts(m):
    d = dkim.DKIM(m)
    n = m.split(b'\r\n\r\n', 1)[0].lower().count(b'\ndkim-signature:') + m.lower().startswith(b'dkim-signature:')
    out = []
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=dns)
        except dkim.ValidationError:
            ok = False
        out.append('%s %s %s %s' % (d.domain.decode() if d.domain else '-', d.selector.decode() if d.selector else '-',
                                    dict(d.signature_fields).get(b'a', b'-').decode(), 'pass' if ok else 'fail'))
    return out
print('signatures', len(verdicts(message)))
if b'\nARC-Seal:' in message.split(b'\r\n\r\n', 1)[0] or message.startswith(b'ARC-Seal:'):
    cv, _, why = dkim.arc_verify(message, dnsfunc=dns)
    print('arc', cv.decode(), why)
for v in verdicts(message):
    print('intact', v)
head, body = message.split(b'\r\n\r\n', 1)
for v in verdicts(head + b'\r\n\r\n' + body + b'added in transit\r\n'):
    print('altered', v)
"#;

/// The `name. IN TXT ( "…" "…" )` lines printed by `dkim generate`, as a name → value map.
fn records(out: &str) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for line in out.lines().filter(|l| l.contains(" IN TXT ")) {
        let name = line.split_whitespace().next().unwrap().to_owned();
        let value: String = line.split('"').skip(1).step_by(2).collect();
        map.insert(name, serde_json::Value::String(value));
    }
    map.into()
}

#[test]
fn signatures_verify_with_dkimpy() {
    let port = free_port(&["127.0.0.1"]);
    // Takes everything but recipients starting with `bad` (refused `550 5.1.1`).
    let rx = receiver("127.0.0.1", port, "reject");
    // The senders' SPF (the forward and the autoreply need their checks to pass).
    let (_dns, dns_port) = common::receiver::dns_server(
        "remote.test. 60 IN TXT \"v=spf1 ip4:127.0.0.2 -all\"\nelsewhere.test. 60 IN TXT \"v=spf1 ip4:127.0.0.2 -all\"\n",
    );
    let config = common::mx(
        "hostname = \"mail.example.test\"\n[[domain]]\nname = \"example.test\"\n\
         [[user]]\naddress = \"alice@example.test\"\n\
         [[user]]\naddress = \"fw@example.test\"\nforward = [\"far@remote.test\"]\n\
         [[user]]\naddress = \"vac@example.test\"\nautoreply = { body = \"Away.\", days = 7 }\n",
        &format!(
            "sender_checks = true\n[listener.relay]\nnetworks = [\"127.0.0.1/32\"]\n\
             [[route]]\ndomain = \"remote.test\"\nhost = [\"{}\"]\ntls = \"none\"\n\
             [outbound]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\n",
            rx.addr
        ),
    );
    let s = Server::start("dkim-sign", &config);
    let mx = s.addr("mx").to_string();
    // Sends from `src` (127.0.0.1 is a relay network, 127.0.0.2 a stranger), with a `From:`.
    let send = |src: &str, from: &str, to: &str, header_from: &str| {
        let header = format!("From: {header_from}");
        let args = ["--server", &mx, "--local-interface", src, "--from", from, "--to", to, "--header", &header];
        let (ok, out) = common::swaks(&args);
        assert!(ok, "{out}");
    };

    // Unsigned while the domain has no key.
    send("127.0.0.1", "alice@example.test", "bob@remote.test", "alice@example.test");
    let first = rx.wait(1);
    assert_eq!(first.len(), 1);
    assert!(!first[0].contains("DKIM-Signature"), "{}", first[0]);

    // Keys made beside the running server: it signs with them from the next message.
    let made = s.cli(&["dkim", "generate", "example.test", "--selector", "t1"], "");
    let printed = String::from_utf8_lossy(&made.stdout).into_owned();
    assert!(made.status.success(), "{printed}{}", String::from_utf8_lossy(&made.stderr));
    assert!(printed.contains("t1r._domainkey.example.test. IN TXT ( \"v=DKIM1; k=rsa; p="), "{printed}");
    assert!(printed.contains("t1e._domainkey.example.test. IN TXT ( \"v=DKIM1; k=ed25519; p="), "{printed}");
    let records = records(&printed).to_string();

    let verify = |n: usize| -> String {
        let path = rx.dir.join(format!("{n}.txt"));
        python(VERIFY, &[&path.display().to_string(), &records])
    };
    let both_pass = |v: &str| {
        assert!(v.contains("signatures 2"), "{v}");
        assert!(v.contains("intact example.test t1r rsa-sha256 pass"), "{v}");
        assert!(v.contains("intact example.test t1e ed25519-sha256 pass"), "{v}");
        assert!(!v.contains("altered example.test t1r rsa-sha256 pass"), "a changed body must fail: {v}");
        assert!(!v.contains("altered example.test t1e ed25519-sha256 pass"), "{v}");
    };

    // 1. Relayed mail of a trusted client.
    send("127.0.0.1", "alice@example.test", "bob@remote.test", "Alice <alice@example.test>");
    assert_eq!(rx.wait(2).len(), 2);
    let v = verify(2);
    both_pass(&v);
    let signed = &rx.messages()[1];
    // Over-signed: each of these listed once more than the message has it (once), so none
    // can be added after signing.
    let unfolded = signed.replace("\r\n\t", "").replace("\r\n ", "");
    let h = unfolded.split("h=").nth(1).unwrap().split(';').next().unwrap().to_ascii_lowercase();
    for name in ["from", "subject", "to", "date"] {
        assert_eq!(h.split(':').filter(|n| n.trim() == name).count(), 2, "{name} in h={h}");
    }
    assert!(signed.contains("c=relaxed/relaxed"), "{signed}");

    // 2. A stranger's mail forwarded by a local user: signed by the forwarding domain.
    send("127.0.0.2", "someone@elsewhere.test", "fw@example.test", "someone@elsewhere.test");
    assert_eq!(rx.wait(3).len(), 3);
    let v = verify(3);
    both_pass(&v);
    // And ARC-sealed (RFC 8617) over the results of our checks, which dkimpy validates.
    assert!(v.contains("arc pass"), "{v}");
    let forwarded = &rx.messages()[2];
    assert!(
        forwarded.contains("ARC-Authentication-Results: i=1; mail.example.test;") && forwarded.contains("spf=pass"),
        "{forwarded}"
    );

    // 3. A stranger claiming our domain in `From:` (the envelope sender would be refused),
    // forwarded: never signed by us.
    send("127.0.0.2", "bounces@elsewhere.test", "fw@example.test", "ceo@example.test");
    let all = rx.wait(4);
    assert_eq!(all.len(), 4);
    assert!(!all[3].contains("DKIM-Signature") && !all[3].contains("ARC-Seal"), "{}", all[3]);

    // 4. An autoreply to a remote sender: written by the server, signed.
    send("127.0.0.2", "asker@remote.test", "vac@example.test", "asker@remote.test");
    let all = rx.wait(5);
    assert_eq!(all.len(), 5);
    assert!(all[4].contains("TO asker@remote.test"), "{}", all[4]);
    both_pass(&verify(5));

    // 5. A delivery report to a remote sender (from MAILER-DAEMON at our hostname, whose
    // parent domain has the keys): signed.
    send("127.0.0.1", "sender@remote.test", "bad@remote.test", "sender@remote.test");
    let all = rx.wait(6);
    assert_eq!(all.len(), 6);
    assert!(all[5].contains("TO sender@remote.test") && all[5].contains("multipart/report"), "{}", all[5]);
    both_pass(&verify(6));

    // The listing names both keys as signing.
    let list = s.cli(&["dkim", "list"], "");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(listed.matches(": signs").count(), 2, "{listed}");
}
