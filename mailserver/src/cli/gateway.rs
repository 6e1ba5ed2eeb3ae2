//! `sansmail gateway …`: the store-and-forward gateways for the administrator, beside a
//! running server: what each holds, and handing a domain's held mail over now.

use clap::Subcommand;

use crate::config::Config;
use crate::gateway::{Delivery, Gateways, request_release};
use crate::store::outbound_queue::Store;

/// `sansmail gateway`.
#[derive(Subcommand)]
pub(crate) enum GatewayAction {
    /// Each gateway: its domains, how its mail leaves, and what it holds.
    List,
    /// Hand a domain's held mail over now (to the gateway's host), as ETRN would.
    Flush { domain: String },
}

/// Runs `sansmail gateway …`.
pub(crate) fn run(config: &Config, action: GatewayAction) -> Result<(), Box<dyn std::error::Error>> {
    let gateways = Gateways::new(&config.gateway, &config.data_dir)?;
    let store = Store::open(&config.data_dir)?;
    match action {
        GatewayAction::List => {
            for g in &gateways.list {
                let domains: Vec<String> = g.domains.iter().map(|d| d.to_ascii_lowercase()).collect();
                let (count, octets) = store.for_domains(&domains)?;
                let how = match g.delivery {
                    Delivery::Forward => format!("forward to {}", g.host.join(", ")),
                    Delivery::Hold if g.etrn_to_client => "hold (ETRN delivers to the asking client)".to_owned(),
                    Delivery::Hold => format!("hold (ETRN delivers to {})", g.host.join(", ")),
                    Delivery::Mailbox => format!("kept in the mailbox {}", g.mailbox.as_deref().unwrap_or_default()),
                };
                println!("{}  {}  {how}  {count} message(s), {octets} octets held", g.name(), domains.join(","));
            }
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
