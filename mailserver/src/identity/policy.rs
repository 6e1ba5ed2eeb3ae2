//! Relay policy: may this client send from this sender, to this recipient? One code path
//! for the live server (`smtp.rs`) and for `sansmail explain`, and every answer names the
//! rule that made it.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::address::{Domain, ForwardPath, ReversePath};

use crate::identity::directory::{Directory, Target};
use crate::identity::users::normalize;
use crate::net::canonical;

/// The rule named when a local recipient does not exist (directory-harvest counting).
pub(crate) const UNKNOWN_USER: &str = "local domain, unknown user";
/// How every rule that refuses to relay begins.
pub(crate) const RELAY_DENIED: &str = "relaying denied";

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Client<'a> {
    pub(crate) ip: IpAddr,
    /// The authenticated user, if any.
    pub(crate) user: Option<&'a str>,
    /// This address logged in to POP3 or IMAP within the listener's after-login window.
    pub(crate) recent_login: bool,
    /// The address the client connected to (ours), when known.
    pub(crate) local_ip: Option<IpAddr>,
}

/// Whether a sender's domain names this server: a local domain, or an address literal of
/// one of our addresses (the one the client reached, loopback, the unspecified address).
fn is_ours(dir: &Directory, client: &Client<'_>, domain: &Domain<'_>) -> bool {
    let literal = |ip: IpAddr| {
        let ip = crate::net::canonical(ip);
        ip.is_loopback() || ip.is_unspecified() || client.local_ip.map(crate::net::canonical) == Some(ip)
    };
    match domain {
        Domain::Name(d) => dir.is_local_domain(d),
        Domain::Ipv4(ip) => literal(IpAddr::V4(*ip)),
        Domain::Ipv6(ip) => literal(IpAddr::V6(*ip)),
        // General literals (and kinds to come) name no address of ours.
        _ => false,
    }
}

/// A refusal: the reply to send and the rule that refused.
#[derive(Debug)]
pub(crate) struct Denied {
    pub(crate) reply: Reply<'static>,
    pub(crate) rule: String,
}

fn deny(code: u16, enhanced: (u8, u16, u16), text: String, rule: impl Into<String>) -> Denied {
    Denied { reply: Reply::new(code, enhanced, "").with_text(text), rule: rule.into() }
}

/// MAIL FROM: returns the rule that let it pass.
pub(crate) fn mail_from(
    relay: &Relay,
    dir: &Directory,
    client: Client<'_>,
    from: &ReversePath<'_>,
) -> Result<String, Denied> {
    if relay.require_auth && client.user.is_none() {
        return Err(deny(530, (5, 7, 0), "Authentication required".into(), "relay.require_auth"));
    }
    let ReversePath::Mailbox(mailbox) = from else {
        return Ok("null sender (bounces are always accepted)".into());
    };
    let address = mailbox.to_string();
    if let Some(user) = client.user
        && relay.sender_must_match_login
        && !dir.owns(user, &address)
    {
        return Err(deny(
            553,
            (5, 7, 1),
            format!("<{address}>: Sender address rejected: not owned by user {user}"),
            "relay.sender_must_match_login",
        ));
    }
    let local = is_ours(dir, &client, &mailbox.domain);
    if local && relay.reject_local_spoof && client.user.is_none() && !relay.in_networks(client.ip) {
        return Err(deny(
            550,
            (5, 7, 1),
            format!("<{address}>: Sender address in a local domain: authenticate first"),
            "relay.reject_local_spoof",
        ));
    }
    Ok(match (client.user, local) {
        (Some(_), _) => "authenticated sender".into(),
        (None, true) => "local sender from relay.networks".into(),
        (None, false) => "remote sender".into(),
    })
}

/// RCPT TO: where the mail goes, and the rule that allowed it.
pub(crate) fn rcpt_to(
    relay: &Relay,
    dir: &Directory,
    gateways: &crate::gateway::Gateways,
    client: Client<'_>,
    to: &ForwardPath<'_>,
) -> Result<(String, Vec<Target>, String), Denied> {
    let mailbox = match to {
        ForwardPath::Postmaster => {
            return Ok(("postmaster".into(), vec![Target::Mailbox(dir.postmaster().to_string())], "postmaster".into()));
        }
        ForwardPath::Mailbox(m) => m,
    };
    let address = mailbox.to_string();
    // The answer to a backup-MX confirmation request: to the postmaster (the SMTP side
    // confirmed the domain when it saw the token).
    if let Domain::Name(domain) = &mailbox.domain
        && let Some(token) = mailbox.local_part_unquoted().strip_prefix(crate::gateway::backup::CONFIRM_LOCAL)
        && gateways.own_names().first().is_some_and(|h| h.eq_ignore_ascii_case(domain))
        && gateways.backups.all().iter().any(|b| b.token.eq_ignore_ascii_case(token))
    {
        let postmaster = vec![Target::Mailbox(dir.postmaster().to_string())];
        return Ok((address, postmaster, "backup MX confirmation".into()));
    }
    if let Domain::Name(domain) = &mailbox.domain
        && dir.is_local_domain(domain)
    {
        return match dir.targets(&mailbox.local_part_unquoted(), domain) {
            Some(t) => Ok((address, t, "local domain".into())),
            None => Err(deny(
                550,
                (5, 1, 1),
                format!("<{address}>: Recipient address rejected: no such user here"),
                UNKNOWN_USER,
            )),
        };
    }
    let target = || vec![Target::Remote(normalize(&address))];
    // A gateway's domain: taken from anyone, for the domain's own server.
    if let Domain::Name(domain) = &mailbox.domain
        && let Some(g) = gateways.for_domain(domain)
    {
        let listed = || g.addresses.iter().any(|a| normalize(a) == normalize(&address));
        if g.recipients == crate::gateway::Recipients::Listed && !listed() {
            return Err(deny(
                550,
                (5, 1, 1),
                format!("<{address}>: Recipient address rejected: no such user at {domain}"),
                UNKNOWN_USER,
            ));
        }
        if g.recipients == crate::gateway::Recipients::Callout {
            use crate::gateway::callout::Verdict;
            match gateways.callouts.get(&normalize(&address)) {
                Some(Verdict::Exists) => {}
                Some(Verdict::NoSuchUser(said)) => {
                    return Err(deny(
                        550,
                        (5, 1, 1),
                        format!("<{address}>: Recipient address rejected: its server says: {said}"),
                        UNKNOWN_USER,
                    ));
                }
                Some(Verdict::Unknown(_)) | None if g.callout_fallback == crate::gateway::CalloutFallback::Defer => {
                    return Err(deny(
                        451,
                        (4, 4, 3),
                        format!("<{address}>: cannot check it with the server of {domain} now, try again later"),
                        "gateway callout unanswered",
                    ));
                }
                Some(Verdict::Unknown(_)) | None => {}
            }
        }
        if gateways.over_quota(g) {
            return Err(deny(
                452,
                (4, 2, 2),
                format!("<{address}>: the gateway for {domain} is full, try again later"),
                "gateway quota",
            ));
        }
        let how = match g.delivery {
            crate::gateway::Delivery::Forward => "forwarded to its host",
            crate::gateway::Delivery::Hold => "held until ETRN or `sansmail gateway flush`",
            crate::gateway::Delivery::Mailbox => "kept in the gateway's mailbox",
        };
        let mut targets = match (g.delivery, g.mailbox.as_deref().and_then(|m| m.rsplit_once('@'))) {
            (crate::gateway::Delivery::Mailbox, Some((l, d))) => match dir.targets(l, d).as_deref() {
                Some([Target::Mailbox(m)]) => vec![Target::GatewayCopy(m.clone())],
                _ => {
                    return Err(deny(
                        451,
                        (4, 3, 0),
                        format!("<{address}>: the gateway's mailbox is not set up, try again later"),
                        "gateway mailbox missing",
                    ));
                }
            },
            _ => target(),
        };
        // The archive copy (one per message: the SMTP driver keeps one copy per mailbox).
        if let Some((l, d)) = g.keep_copy.as_deref().and_then(|m| m.rsplit_once('@')) {
            match dir.targets(l, d).as_deref() {
                Some([Target::Mailbox(m)]) => targets.push(Target::Mailbox(m.clone())),
                _ => {
                    return Err(deny(
                        451,
                        (4, 3, 0),
                        format!("<{address}>: the gateway's copy mailbox is not set up, try again later"),
                        "gateway keep_copy missing",
                    ));
                }
            }
        }
        return Ok((address.clone(), targets, format!("gateway {}, {how}", g.name())));
    }
    // A domain whose MX records list this server as its backup (`[backup_mx]`).
    if let Domain::Name(domain) = &mailbox.domain
        && let Some(b) = gateways.backups.get(domain)
        && b.state != crate::gateway::backup::State::Expired
    {
        if gateways.backup_over_quota(domain) {
            return Err(deny(
                452,
                (4, 2, 2),
                format!("<{address}>: the backup queue for {domain} is full, try again later"),
                "backup MX quota",
            ));
        }
        let state =
            if b.state == crate::gateway::backup::State::Pending { "pending confirmation" } else { "confirmed" };
        return Ok((address.clone(), target(), format!("backup MX for {domain} ({state}), held for {}", b.primary)));
    }
    if relay.in_networks(client.ip) {
        return Ok((address.clone(), target(), "relay.networks".into()));
    }
    if relay.after_login.is_some() && client.recent_login {
        return Ok((address.clone(), target(), "relay.after_login_minutes".into()));
    }
    if let Some(user) = client.user {
        let may = dir.settings(&normalize(user)).is_none_or(|u| u.may_relay);
        if relay.authenticated && may {
            return Ok((address.clone(), target(), "relay.authenticated".into()));
        }
    }
    if relay.in_allow_from(client.ip) {
        return Ok((address.clone(), target(), "relay.allow_from".into()));
    }
    if let Domain::Name(domain) = &mailbox.domain
        && relay.allow_to.contains(&normalize(domain))
    {
        return Ok((address.clone(), target(), "relay.allow_to".into()));
    }
    let why = match client.user {
        Some(_) if !relay.authenticated => "relaying denied: relay.authenticated is off",
        Some(_) => "relaying denied: user has may_relay = false",
        None => {
            "relaying denied: client not in relay.networks or relay.allow_from, not authenticated, domain not in relay.allow_to"
        }
    };
    Err(deny(550, (5, 7, 1), format!("<{address}>: Relay access denied"), why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn after_login_window_relays_only_when_on_and_recent() {
        let dir = Config::embedded().directory().unwrap();
        let gw = crate::gateway::Gateways::new(&[], std::path::Path::new("/nonexistent")).unwrap();
        let (to, _) = ForwardPath::parse(b"<x@remote.test>").unwrap();
        let mut relay = Relay::default();
        let client =
            |recent_login| Client { ip: "192.0.2.1".parse().unwrap(), user: None, recent_login, local_ip: None };
        assert!(rcpt_to(&relay, &dir, &gw, client(true), &to).is_err(), "off: a recent login does not relay");
        relay.after_login = Some(std::time::Duration::from_secs(300));
        let (_, _, rule) = rcpt_to(&relay, &dir, &gw, client(true), &to).unwrap();
        assert_eq!(rule, "relay.after_login_minutes");
        assert!(rcpt_to(&relay, &dir, &gw, client(false), &to).is_err(), "on: no recent login, no relay");
    }
}

/// `[listener.access]`: which client addresses may connect. A client in `deny`, or not in a
/// non-empty `allow`, gets `554 5.7.1` and is disconnected.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Access {
    #[serde(default)]
    pub(crate) allow: Vec<IpNet>,
    #[serde(default)]
    pub(crate) deny: Vec<IpNet>,
}

impl Access {
    pub(crate) fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        !self.deny.iter().any(|n| n.contains(&ip))
            && (self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip)))
    }
}

/// `[listener.relay]` as written: who may send to non-local domains, and what a sender
/// must prove. Unset keys take the service's defaults (see `config::Listener::relay`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelayConfig {
    /// Client networks that may relay (the LAN).
    #[serde(default)]
    pub(crate) networks: Option<Vec<IpNet>>,
    /// Authenticated users may relay (each unless `may_relay = false`).
    #[serde(default)]
    pub(crate) authenticated: Option<bool>,
    /// Client addresses always allowed to relay, authenticated or not.
    #[serde(default)]
    pub(crate) allow_from: Vec<IpNet>,
    /// Recipient domains anyone may relay to (backup MX, gateways).
    #[serde(default)]
    pub(crate) allow_to: Vec<String>,
    /// MAIL FROM in a local domain needs AUTH or `networks`.
    #[serde(default)]
    pub(crate) reject_local_spoof: Option<bool>,
    /// MAIL needs AUTH first.
    #[serde(default)]
    pub(crate) require_auth: Option<bool>,
    /// An authenticated user sends only as their own address or aliases.
    #[serde(default)]
    pub(crate) sender_must_match_login: Option<bool>,
    /// Relay for a client address that logged in to POP3 or IMAP within this many minutes
    /// ("POP-before-SMTP"); fractions allowed. Absent: off.
    #[serde(default)]
    pub(crate) after_login_minutes: Option<f64>,
}

/// The effective relay rules of a listener.
#[derive(Clone, Debug, Default)]
pub(crate) struct Relay {
    pub(crate) networks: Vec<IpNet>,
    pub(crate) authenticated: bool,
    pub(crate) allow_from: Vec<IpNet>,
    /// Lower-cased.
    pub(crate) allow_to: Vec<String>,
    pub(crate) reject_local_spoof: bool,
    pub(crate) require_auth: bool,
    pub(crate) sender_must_match_login: bool,
    pub(crate) after_login: Option<std::time::Duration>,
}

impl Relay {
    /// Whether the client is in `networks`.
    pub(crate) fn in_networks(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// Whether the client is in `allow_from`.
    pub(crate) fn in_allow_from(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allow_from.iter().any(|n| n.contains(&ip))
    }
}
