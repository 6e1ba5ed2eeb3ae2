//! `sansmail explain`'s second half: the SPF and DMARC verdict a listener's sender checks
//! would reach for a client address, HELO name and sender, asked of the configured DNS (as
//! for a message `From:` the sender, without a DKIM signature).

use std::net::IpAddr;

use crate::config::Config;
use crate::senderauth::verify::{Checker, Outcome};

/// Prints the verdict, or why the listener would not check.
pub(crate) fn explain(
    config: &Config,
    listener: &str,
    ip: IpAddr,
    helo: Option<&str>,
    (from, header_from): (&str, Option<&str>),
) -> Result<(), Box<dyn std::error::Error>> {
    let listeners = config.listeners()?;
    let Some(l) = listeners.iter().find(|l| l.name == listener) else { return Ok(()) };
    let on = l.config.sender_checks.unwrap_or(l.config.service == crate::config::Service::Smtp);
    let relay = l.relay();
    if !on {
        println!("sender checks: off on this listener");
        return Ok(());
    }
    if l.config.sender_checks_exempt.iter().any(|n| n.contains(&ip)) {
        println!("sender checks: not made ({ip} is in this listener's sender_checks_exempt)");
        return Ok(());
    }
    if relay.in_networks(ip) || relay.in_allow_from(ip) {
        println!("sender checks: not made (the relay rules trust {ip}; logged-in clients are not checked either)");
        return Ok(());
    }
    let bare = |a: &str| a.trim_start_matches('<').trim_end_matches('>').to_owned();
    let (from, header_from) = (bare(from), header_from.map_or_else(|| bare(from), bare));
    let from = from.as_str();
    let helo = helo.map(str::to_owned).unwrap_or_else(|| from.rsplit_once('@').map_or("", |(_, d)| d).to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let verdict = runtime.block_on(async {
        let resolver = crate::outbound::route::resolver(&config.outbound)?;
        let checker = Checker::new(&config.authentication, &config.hostname, resolver);
        let message = format!("From: <{header_from}>\r\nSubject: explain\r\n\r\n");
        let checked = Some(message.as_bytes()).filter(|_| !header_from.is_empty());
        Ok::<_, String>(checker.check(ip, &helo, from, checked, None).await)
    })?;
    println!("sender checks (a message From: <{header_from}> without a DKIM signature): {}", verdict.summary);
    print!("{}", verdict.header);
    match verdict.outcome(ip, l.config.dmarc_policy, l.config.spf_policy) {
        Outcome::Refuse(code, (a, b, c), text) => println!("end of data -> {code} {a}.{b}.{c} {text}"),
        Outcome::Junk => println!("end of data -> 250, delivered to the recipients' Junk folders"),
        Outcome::Accept => println!("end of data -> 250 accepted"),
    }
    Ok(())
}
