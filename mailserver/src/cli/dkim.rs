//! `sansmail dkim …`: DKIM keys for the administrator, beside a running server (which
//! signs with a new key from its next message on).

use clap::Subcommand;

use crate::config::Config;
use crate::senderauth::keys::{self, Algorithm};

/// `sansmail dkim`.
#[derive(Subcommand)]
pub(crate) enum DkimAction {
    /// Make a domain's keys (RSA-2048 as `<SELECTOR>r`, Ed25519 as `<SELECTOR>e`) and print
    /// the TXT records to publish. A new selector rotates: the newest key of each kind signs.
    Generate {
        domain: String,
        /// The selector's base (default: this month, `YYYYMM`).
        #[arg(long)]
        selector: Option<String>,
        /// Only one kind of key, under the selector as given.
        #[arg(long, value_parser = ["rsa", "ed25519"])]
        only: Option<String>,
    },
    /// Every key, its record, and which sign.
    List,
}

/// Runs `sansmail dkim …`.
pub(crate) fn run(config: &Config, action: DkimAction) -> Result<(), Box<dyn std::error::Error>> {
    match action {
        DkimAction::Generate { domain, selector, only } => {
            if !config.domain.iter().any(|d| d.name.eq_ignore_ascii_case(&domain)) {
                eprintln!(
                    "note: {domain} is not a [[domain]] of this server; its mail is signed only if it leaves from here"
                );
            }
            let base = selector.unwrap_or_else(|| jiff::Zoned::now().strftime("%Y%m").to_string());
            if !keys::valid_selector(&base) {
                return Err(format!("selector {base:?}: letters, digits, hyphens and dots only").into());
            }
            let wanted: Vec<(String, Algorithm)> = match only.as_deref() {
                Some("rsa") => vec![(base, Algorithm::Rsa)],
                Some(_) => vec![(base, Algorithm::Ed25519)],
                None => vec![(format!("{base}r"), Algorithm::Rsa), (format!("{base}e"), Algorithm::Ed25519)],
            };
            println!("; publish in the zone of {domain}, then mail from it is signed:");
            for (selector, algorithm) in wanted {
                let key = keys::generate(&config.data_dir, &domain, &selector, algorithm)?;
                println!("{}", key.zone_line());
            }
        }
        DkimAction::List => {
            let (keys, errors) = keys::listing(&config.data_dir);
            for (key, signs) in keys {
                let state = if signs { "signs" } else { "published only (rotated out)" };
                println!("; {} {} {}: {state}", key.domain, key.selector, key.algorithm.name());
                println!("{}", key.zone_line());
            }
            for e in errors {
                eprintln!("not loaded: {e}");
            }
        }
    }
    Ok(())
}
