//! Where mail for a domain goes ([RFC 5321 §5.1](https://www.rfc-editor.org/rfc/rfc5321#section-5.1)):
//! a `[[route]]` for the domain, else the smarthosts, else the domain's MX hosts in
//! preference order (equal preferences shuffled), the domain itself when it has no MX (the
//! implicit MX), nowhere for a null MX ([RFC 7505](https://www.rfc-editor.org/rfc/rfc7505)).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::config::{OutboundConfig, RouteConfig, RouteTls};

/// A host to try, by name (or address literal) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// How to reach a domain.
#[derive(Clone, Debug)]
pub(crate) struct Destination {
    /// Tried in order until one answers.
    pub(crate) hops: Vec<Hop>,
    pub(crate) tls: RouteTls,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) credentials: Option<(String, String)>,
}

/// What routing found.
#[derive(Debug)]
pub(crate) enum Routed {
    To(Destination),
    /// The domain says it accepts no mail (null MX): fail with 5.1.10.
    NullMx,
    /// No such domain: fail with 5.1.2.
    NoSuchDomain,
    /// DNS failed for now: try again later.
    Temporary(String),
}

/// Routes and the DNS resolver.
pub(crate) struct Router {
    routes: Vec<RouteConfig>,
    smarthost: Vec<Hop>,
    port: u16,
    resolver: TokioResolver,
    /// This server's names: MX records at or below the best of them are not tried
    /// (RFC 5321 §5.1), so a backup MX hands mail up, never to itself or sideways.
    /// Grows when a backup domain lists this server under another name of one of its
    /// addresses.
    pub(crate) own_names: std::sync::RwLock<Vec<String>>,
}

/// The DNS resolver of `[outbound] dns_servers` (the system's when empty): 5 s per query,
/// two tries, hickory's cache.
pub(crate) fn resolver(config: &OutboundConfig) -> Result<TokioResolver, String> {
    let builder = if config.dns_servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
    } else {
        let mut servers = Vec::new();
        for s in &config.dns_servers {
            let addr: SocketAddr = s
                .parse()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| format!("dns_servers: {s:?} is not an address"))?;
            let (mut udp, mut tcp) = (ConnectionConfig::udp(), ConnectionConfig::tcp());
            udp.port = addr.port();
            tcp.port = addr.port();
            servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
        }
        TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), servers),
            TokioRuntimeProvider::default(),
        )
    };
    let mut builder = builder;
    let opts = builder.options_mut();
    opts.timeout = Duration::from_secs(5);
    opts.attempts = 2;
    builder.build().map_err(|e| format!("DNS resolver: {e}"))
}

/// An MX answer's records: (preference, exchange without its final dot, lower case).
fn mx_records(answer: &Lookup) -> Vec<(u16, String)> {
    answer
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii().trim_end_matches('.').to_ascii_lowercase())),
            _ => None,
        })
        .collect()
}

/// `host:port` (or `[v6]:port`), or a bare host with `default_port`.
fn parse_hop(s: &str, default_port: u16) -> Result<Hop, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(Hop { host: addr.ip().to_string(), port: addr.port() });
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse().map_err(|_| format!("bad port in {s:?}"))?;
            Ok(Hop { host: h.trim_matches(['[', ']']).to_owned(), port })
        }
        _ => Ok(Hop { host: s.trim_matches(['[', ']']).to_owned(), port: default_port }),
    }
}

impl Router {
    pub(crate) fn new(config: &OutboundConfig, routes: &[RouteConfig]) -> Result<Self, String> {
        let smarthost = config.smarthost.iter().map(|h| parse_hop(h, 25)).collect::<Result<_, _>>()?;
        for r in routes {
            for h in &r.host {
                parse_hop(h, 25)?;
            }
        }
        let resolver = resolver(config)?;
        Ok(Self {
            routes: routes.to_vec(),
            smarthost,
            port: config.port,
            resolver,
            own_names: std::sync::RwLock::new(Vec::new()),
        })
    }

    /// Where mail for `domain` (lower-case) goes.
    pub(crate) async fn route(&self, domain: &str) -> Routed {
        let domain = domain.trim_end_matches('.');
        if let Some(r) = self.routes.iter().find(|r| r.serves(domain)) {
            let hops = r.host.iter().filter_map(|h| parse_hop(h, 25).ok()).collect();
            let credentials = r.username.clone().zip(r.password.clone());
            return Routed::To(Destination { hops, tls: r.tls, ca_file: r.ca_file.clone(), credentials });
        }
        let to =
            |hops| Routed::To(Destination { hops, tls: RouteTls::Opportunistic, ca_file: None, credentials: None });
        if !self.smarthost.is_empty() {
            return to(self.smarthost.clone());
        }
        // An address literal: that host, no DNS.
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            let ip = literal.strip_prefix("IPv6:").or_else(|| literal.strip_prefix("ipv6:")).unwrap_or(literal);
            return match ip.parse::<IpAddr>() {
                Ok(ip) => to(vec![Hop { host: ip.to_string(), port: self.port }]),
                Err(_) => Routed::NoSuchDomain,
            };
        }
        match self.resolver.mx_lookup(format!("{domain}.")).await {
            Ok(mx) => {
                let mut records = mx_records(&mx);
                if records.iter().any(|(_, host)| host.is_empty()) {
                    return Routed::NullMx;
                }
                shuffle_equal_preferences(&mut records);
                let ours = {
                    let names = self.own_names.read().unwrap_or_else(|e| e.into_inner());
                    records.iter().filter(|(_, h)| names.iter().any(|n| n.eq_ignore_ascii_case(h))).map(|r| r.0).min()
                };
                if let Some(ours) = ours {
                    records.retain(|(p, _)| *p < ours);
                    if records.is_empty() {
                        return Routed::Temporary(format!("this server is the best MX of {domain}: no host above it"));
                    }
                }
                to(records.into_iter().map(|(_, host)| Hop { host, port: self.port }).collect())
            }
            Err(e) if e.is_nx_domain() => Routed::NoSuchDomain,
            // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
            Err(e) if e.is_no_records_found() => to(vec![Hop { host: domain.to_owned(), port: self.port }]),
            Err(e) => Routed::Temporary(format!("DNS lookup of {domain} MX failed: {e}")),
        }
    }

    /// Counts `name` as one of this server's (an MX host found to have one of its addresses).
    pub(crate) fn add_own_name(&self, name: &str) {
        let mut names = self.own_names.write().unwrap_or_else(|e| e.into_inner());
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) && names.len() < 1_000 {
            names.push(name.to_ascii_lowercase());
        }
    }

    /// A domain's MX records (preference, host), none for a domain without them.
    pub(crate) async fn mx_records(&self, domain: &str) -> Result<Vec<(u16, String)>, String> {
        match self.resolver.mx_lookup(format!("{}.", domain.trim_end_matches('.'))).await {
            Ok(mx) => Ok(mx_records(&mx)),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(format!("DNS lookup of {domain} MX failed: {e}")),
        }
    }

    /// The addresses of a hop, IPv6 and IPv4 as the resolver orders them.
    pub(crate) async fn addresses(&self, hop: &Hop) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = hop.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, hop.port)]);
        }
        match self.resolver.lookup_ip(format!("{}.", hop.host)).await {
            Ok(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(ip, hop.port)).collect()),
            Err(e) => Err(format!("cannot resolve {}: {e}", hop.host)),
        }
    }
}

/// Sorts by preference and shuffles each run of equal preferences (RFC 5321 §5.1), so load
/// spreads over equal hosts.
fn shuffle_equal_preferences(records: &mut [(u16, String)]) {
    records.sort_by_key(|r| r.0);
    let mut start = 0;
    while start < records.len() {
        let end = start + records[start..].iter().take_while(|r| r.0 == records[start].0).count();
        let run = &mut records[start..end];
        for i in (1..run.len()).rev() {
            let j = (rand_core::RngCore::next_u32(&mut rand_core::OsRng) as usize) % (i + 1);
            run.swap(i, j);
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_parse() {
        assert_eq!(parse_hop("mx.example:2525", 25).unwrap(), Hop { host: "mx.example".into(), port: 2525 });
        assert_eq!(parse_hop("mx.example", 25).unwrap(), Hop { host: "mx.example".into(), port: 25 });
        assert_eq!(parse_hop("[::1]:26", 25).unwrap(), Hop { host: "::1".into(), port: 26 });
        assert_eq!(parse_hop("127.0.0.1:26", 25).unwrap(), Hop { host: "127.0.0.1".into(), port: 26 });
        assert!(parse_hop("mx:x", 25).is_err());
    }

    #[test]
    fn equal_preferences_are_shuffled_within_their_run_only() {
        let mut seen_first = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut r = vec![(20, "c".to_owned()), (10, "a".to_owned()), (10, "b".to_owned()), (30, "d".to_owned())];
            shuffle_equal_preferences(&mut r);
            assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), [10, 10, 20, 30]);
            seen_first.insert(r[0].1.clone());
        }
        assert_eq!(seen_first.len(), 2, "both equal hosts come first sometimes");
    }
}
