//! DNS block and allow lists at connect against a loopback DNS server (dnslib): a listed
//! client gets `554 5.7.1` with the zone's text, an allow-listed one passes though it is
//! also listed, the verdict is remembered (the DNS server gone, the answer stays), and the
//! submission listener does not consult the lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;
use common::receiver::dns_server;

#[test]
fn listed_clients_are_refused_with_the_zones_text() {
    let zone = "2.0.0.127.bl.test. 300 IN A 127.0.0.2\n\
                2.0.0.127.bl.test. 300 IN TXT \"listed for testing, see https://bl.test/127.0.0.2\"\n\
                4.0.0.127.bl.test. 300 IN A 127.0.0.2\n\
                4.0.0.127.wl.test. 300 IN A 127.0.0.2\n\
                5.0.0.127.bl.test. 300 IN A 10.0.0.1\n";
    let (dns, dns_port) = dns_server(zone);
    let s = Server::start(
        "dnsbl",
        &common::mx(
            "[[user]]\naddress = \"bob@localhost\"\n",
            &format!(
                "[[listener]]\nname = \"submission\"\nservice = \"submission\"\nbind = \"127.0.0.1:0\"\ntls = \"none\"\n\
                 [outbound]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\n\
                 [dnsbl]\nthreshold = 1\n\
                 [[dnsbl.zone]]\nzone = \"bl.test\"\nweight = 1\n\
                 [[dnsbl.zone]]\nzone = \"wl.test\"\nweight = -5\n"
            ),
        ),
    );
    let (mx, submission) = (s.addr("mx"), s.addr("submission"));
    let listed = common::from_address("127.0.0.2", mx, "QUIT\r\n");
    assert!(listed.starts_with("554 5.7.1"), "{listed}");
    assert!(listed.contains("blocked using bl.test: listed for testing, see https://bl.test/127.0.0.2"), "{listed}");
    for (ip, why) in
        [("127.0.0.3", "not listed"), ("127.0.0.4", "allow-listed"), ("127.0.0.5", "an answer outside 127/8")]
    {
        let out = common::from_address(ip, mx, "QUIT\r\n");
        assert!(out.starts_with("220 "), "{why}: {out}");
    }
    let out = common::from_address("127.0.0.2", submission, "QUIT\r\n");
    assert!(out.starts_with("220 "), "submission does not consult the lists: {out}");
    // Remembered within the TTL: the DNS server gone, the answer stays.
    drop(dns);
    let again = common::from_address("127.0.0.2", mx, "QUIT\r\n");
    assert!(again.starts_with("554 5.7.1"), "{again}");
    assert!(common::wait_until(|| s.log_text().matches("refused: listed").count() >= 2), "{}", s.log_text());
}

/// A resolver that never answers costs each connection at most `timeout_ms`, and the
/// client is served (an unanswered list does not list).
#[test]
fn a_silent_resolver_is_bounded_by_the_budget() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let s = Server::start(
        "dnsbl-silent",
        &common::mx(
            "",
            &format!(
                "[outbound]\ndns_servers = [\"127.0.0.1:{port}\"]\n\
                 [dnsbl]\ntimeout_ms = 300\n[[dnsbl.zone]]\nzone = \"bl.test\"\n"
            ),
        ),
    );
    let out = common::from_address("127.0.0.2", s.addr("mx"), "QUIT\r\n");
    assert!(out.starts_with("220 ") && out.contains("221"), "{out}");
    drop(silent);
}
