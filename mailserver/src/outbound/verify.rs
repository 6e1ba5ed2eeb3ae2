//! Callouts: asking a gateway domain's own server whether it takes an address, over the
//! same route, TLS and credentials its mail would take (see `gateway::callout`).

use std::time::Duration;

use sansmail_smtp_proto::client::{ClientTimeouts, Envelope};

use super::Manager;
use super::client::{self, Attempt, HopResult};
use super::route::Routed;
use crate::gateway::callout::Verdict;

/// The longest a callout may take in all (the SMTP client waits for our RCPT reply).
const CALLOUT_SECS: u64 = 30;

impl Manager {
    /// Asks `domain`'s server (its gateway host, by the router) about `address`.
    pub(crate) async fn callout(&self, domain: &str, address: &str) -> Verdict {
        match tokio::time::timeout(Duration::from_secs(CALLOUT_SECS), self.ask(domain, address)).await {
            Ok(v) => v,
            Err(_) => Verdict::Unknown(format!("no answer within {CALLOUT_SECS}s")),
        }
    }

    async fn ask(&self, domain: &str, address: &str) -> Verdict {
        let dest = match self.router.route(domain).await {
            Routed::To(d) => d,
            Routed::Temporary(e) => return Verdict::Unknown(e),
            _ => return Verdict::Unknown(format!("no route to {domain}")),
        };
        let Ok(envelope) = Envelope::new("", &[address]) else {
            return Verdict::NoSuchUser(format!("<{address}> cannot be written in an SMTP command"));
        };
        let tls_config = match self.tls_config(dest.tls, dest.ca_file.as_ref()) {
            Ok(c) => c,
            Err(e) => return Verdict::Unknown(format!("TLS configuration: {e}")),
        };
        let step = Duration::from_secs(10);
        let mut timeouts = ClientTimeouts::default();
        timeouts.greeting = step;
        timeouts.command = step;
        let attempt = Attempt {
            hello: self.hostname.clone(),
            tls: dest.tls,
            tls_config,
            credentials: dest.credentials.clone(),
            connect_timeout: step,
            timeouts,
        };
        let mut last = format!("no host for {domain}");
        for hop in &dest.hops {
            let addrs = match self.router.addresses(hop).await {
                Ok(a) => a,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            for addr in addrs {
                match client::verify(addr, &hop.host, &attempt, envelope.clone()).await {
                    HopResult::Answered { replies, .. } => {
                        let Some(reply) = replies.first() else { continue };
                        // Passed on in our own reply: one short printable line.
                        let text: String = reply
                            .to_string()
                            .chars()
                            .map(|c| if c.is_control() { ' ' } else { c })
                            .take(200)
                            .collect::<String>()
                            .trim()
                            .to_owned();
                        return match reply.code().class() {
                            2 => Verdict::Exists,
                            5 => Verdict::NoSuchUser(text),
                            _ => Verdict::Unknown(text),
                        };
                    }
                    HopResult::Unreachable(e) => last = e,
                }
            }
        }
        Verdict::Unknown(last)
    }
}

impl Manager {
    /// Whether `domain`'s MX records list this server (by name or address) below a better
    /// host: that host and the record that is us.
    pub(crate) async fn backup_primary(&self, domain: &str) -> Result<Option<(String, String)>, String> {
        let records = self.router.mx_records(domain).await?;
        let mut marked = Vec::new();
        // A hostile zone may list many hosts; the first few are enough to judge.
        for (p, host) in records.into_iter().take(16) {
            let hop = super::route::Hop { host: host.clone(), port: 25 };
            let addrs: Vec<std::net::IpAddr> =
                self.router.addresses(&hop).await.map(|v| v.iter().map(|a| a.ip()).collect()).unwrap_or_default();
            let us = self.gateways.is_us(&host, &addrs);
            marked.push((p, host, us));
        }
        let found = crate::gateway::backup::primary_above_us(&marked);
        if let Some((_, ours)) = &found {
            self.router.add_own_name(ours);
        }
        Ok(found)
    }
}
