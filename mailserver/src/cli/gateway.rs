//! `sansmail gateway …`: the store-and-forward gateways for the administrator, beside a
//! running server: what each holds, how and when it leaves, and handing a domain's held
//! mail over now.

use clap::Subcommand;

use crate::config::Config;
use crate::gateway::backup::State;
use crate::gateway::{Delivery, GatewayConfig, Gateways, Recipients, last_handover, request_release};
use crate::outbound::unix_now;
use crate::store::outbound_queue::Store;

/// `sansmail gateway`.
#[derive(Subcommand)]
pub(crate) enum GatewayAction {
    /// Each gateway: its domains, how its mail leaves, and what it holds.
    List,
    /// One gateway (by a domain or its name) in full: its rules, quota, schedule, last
    /// hand-over, and each message it holds.
    Show { domain: String },
    /// Hand a domain's held mail over now (to the gateway's host), as ETRN would.
    Flush { domain: String },
    /// Confirm a pending backup-MX domain: its held mail goes to its primary now.
    Confirm { domain: String },
}

/// Runs `sansmail gateway …`.
pub(crate) fn run(config: &Config, action: GatewayAction) -> Result<(), Box<dyn std::error::Error>> {
    let gateways = Gateways::of(config)?;
    let store = Store::open(&config.data_dir)?;
    match action {
        GatewayAction::Confirm { domain } => {
            let d = domain.trim_end_matches('.').to_ascii_lowercase();
            let b = gateways.backups.get(&d).ok_or_else(|| format!("{d} is not a backup MX domain"))?;
            if b.state == State::Expired {
                return Err(format!("{d} expired unconfirmed; its mail was returned").into());
            }
            gateways.backups.set_state(&d, State::Active)?;
            request_release(&config.data_dir, &d, None)?;
            println!("{d} confirmed: this server is its backup MX (primary {})", b.primary);
        }
        GatewayAction::List => {
            for b in gateways.backups.all() {
                let (count, octets) = store.for_domains(std::slice::from_ref(&b.domain))?;
                let state = format!("{:?}", b.state).to_ascii_lowercase();
                println!(
                    "{}  {}  backup MX ({state}) below {}  {count} message(s), {octets} octets held",
                    b.domain, b.domain, b.primary
                );
            }
            for g in &gateways.list {
                let (count, octets) = store.for_domains(&domains(g))?;
                println!(
                    "{}  {}  {}  {count} message(s), {octets} octets held",
                    g.name(),
                    domains(g).join(","),
                    how(&gateways, g)
                );
            }
        }
        GatewayAction::Show { domain } => {
            let d = domain.trim_end_matches('.').to_ascii_lowercase();
            if let Some(b) = gateways.backups.get(&d) {
                let (count, octets) = store.for_domains(std::slice::from_ref(&d))?;
                let c = &gateways.backups.config;
                println!("backup MX    {d} ({:?}), below {}", b.state, b.primary);
                println!(
                    "held         {count} message(s), {octets} octets (quota {} message(s), {} octets)",
                    c.max_messages, c.max_octets
                );
                if b.state == State::Pending {
                    let left = (b.created + c.confirm_days * 86_400).saturating_sub(unix_now());
                    println!("unconfirmed: returned in {} h unless `sansmail gateway confirm {d}`", left / 3600);
                }
                return Ok(());
            }
            let g = gateways
                .for_domain(&d)
                .or_else(|| gateways.list.iter().find(|g| g.name().eq_ignore_ascii_case(&d)))
                .ok_or_else(|| format!("no [[gateway]] takes {d}"))?;
            show(config, &gateways, &store, g)?;
        }
        GatewayAction::Flush { domain } => {
            let d = domain.trim_end_matches('.').to_ascii_lowercase();
            let g = gateways.for_domain(&d).ok_or_else(|| format!("no [[gateway]] takes {d}"))?;
            if g.host.is_empty() {
                return Err(format!(
                    "gateway {} has no host: its mail goes to the client that asks with ETRN",
                    g.name()
                )
                .into());
            }
            let (count, _) = store.for_domains(std::slice::from_ref(&d))?;
            request_release(&config.data_dir, &d, None)?;
            println!("{count} message(s) for {d} handed over now");
        }
    }
    Ok(())
}

fn domains(g: &GatewayConfig) -> Vec<String> {
    g.domains.iter().map(|d| d.to_ascii_lowercase()).collect()
}

/// How a gateway's mail leaves, in a few words.
fn how(gateways: &Gateways, g: &GatewayConfig) -> String {
    match g.delivery {
        Delivery::Forward => match gateways.timetable(g) {
            Some(t) => format!("forward to {} on schedule ({})", g.host.join(", "), t.describe()),
            None => format!("forward to {}", g.host.join(", ")),
        },
        Delivery::Hold if g.etrn_to_client => "hold (ETRN delivers to the asking client)".to_owned(),
        Delivery::Hold if g.host.is_empty() => "hold (for ATRN)".to_owned(),
        Delivery::Hold => format!("hold (ETRN delivers to {})", g.host.join(", ")),
        Delivery::Mailbox => format!("kept in the mailbox {}", g.mailbox.as_deref().unwrap_or_default()),
    }
}

fn show(
    config: &Config,
    gateways: &Gateways,
    store: &Store,
    g: &GatewayConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let now = unix_now();
    println!("gateway      {}", g.name());
    println!("domains      {}", domains(g).join(", "));
    println!("delivery     {}", how(gateways, g));
    let recipients = match g.recipients {
        Recipients::Any => "any address".to_owned(),
        Recipients::Listed => format!("listed: {}", g.addresses.join(", ")),
        Recipients::Callout => format!("checked with the domain's server (fallback: {:?})", g.callout_fallback),
    };
    println!("recipients   {recipients}");
    if let Some(t) = gateways.timetable(g)
        && let Some(next) = t.next(now as i64)
    {
        println!("next opening in {} min", (next - now as i64).max(0) / 60);
    }
    if !g.etrn_networks.is_empty() {
        let nets: Vec<String> = g.etrn_networks.iter().map(ToString::to_string).collect();
        println!("ETRN from    {}", nets.join(", "));
    }
    if !g.atrn_users.is_empty() {
        println!("ATRN users   {}", g.atrn_users.join(", "));
    }
    let (count, octets) = store.for_domains(&domains(g))?;
    let quota = match (g.max_messages, g.max_octets) {
        (None, None) => "no quota".to_owned(),
        (m, o) => format!(
            "quota {} message(s), {} octets",
            m.map_or("-".into(), |m| m.to_string()),
            o.map_or("-".into(), |o| o.to_string())
        ),
    };
    println!("held         {count} message(s), {octets} octets ({quota}); returned after {} days", g.hold_days);
    match last_handover(&config.data_dir, g.name()) {
        Some((at, n)) => println!("last hand-over {} min ago, {n} message(s)", now.saturating_sub(at) / 60),
        None => println!("last hand-over  none recorded"),
    }
    for id in store.waiting_for(&domains(g))? {
        let Ok(env) = store.envelope(&id) else { continue };
        let rcpts: Vec<&str> = env
            .recipients
            .iter()
            .filter(|r| r.address.rsplit_once('@').is_some_and(|(_, d)| g.serves(&d.to_ascii_lowercase())))
            .map(|r| r.address.as_str())
            .collect();
        let age = now.saturating_sub(env.received) / 60;
        println!("  {id}  {age} min  <{}>  {}", env.from, rcpts.join(" "));
    }
    Ok(())
}
