//! `sansmail fetch …`: the collection jobs for the administrator, beside a running server.

use clap::Subcommand;

use crate::config::Config;
use crate::fetch::{fetch_dir, run_mark};

/// `sansmail fetch`.
#[derive(Subcommand)]
pub(crate) enum FetchAction {
    /// Run one job (or every job) now; the server starts it within a second.
    Run { name: Option<String> },
    /// Each job: how it collects and what its last run did.
    Status,
}

/// Runs `sansmail fetch …`.
pub(crate) fn run(config: &Config, action: FetchAction) -> Result<(), Box<dyn std::error::Error>> {
    let dir = fetch_dir(&config.data_dir);
    std::fs::create_dir_all(&dir)?;
    match action {
        FetchAction::Run { name } => {
            if let Some(n) = &name
                && !config.fetch.iter().any(|j| &j.name == n)
            {
                return Err(format!("no [[fetch]] job {n}").into());
            }
            std::fs::write(run_mark(&config.data_dir, name.as_deref()), b"")?;
            println!("{} asked to run", name.as_deref().unwrap_or("every job"));
        }
        FetchAction::Status => {
            let now = crate::outbound::unix_now();
            for job in &config.fetch {
                let status = std::fs::read_to_string(dir.join(format!("{}.status", job.name))).ok();
                let last = status.as_deref().and_then(|s| toml::from_str::<toml::Table>(s).ok()).map(|t| {
                    let n = |k: &str| t.get(k).and_then(toml::Value::as_integer).unwrap_or(0);
                    let error = t.get("error").and_then(toml::Value::as_str).unwrap_or_default().to_owned();
                    let ago = now.saturating_sub(n("at") as u64) / 60;
                    let outcome = if error.is_empty() { "ok".to_owned() } else { format!("error: {error}") };
                    format!(
                        "last run {ago} min ago: {} message(s), {} octets, {} skipped, {outcome}",
                        n("messages"),
                        n("octets"),
                        n("skipped")
                    )
                });
                let (host, port) = job.address();
                println!(
                    "{}  {:?} {host}:{port}  {}",
                    job.name,
                    job.method,
                    last.unwrap_or_else(|| "never run".to_owned())
                );
            }
        }
    }
    Ok(())
}
