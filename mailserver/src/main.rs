//! `sansmail`: a small mail server built on the Sansmail protocol crates.
//!
//! `sansmail serve` runs it (with no `-c`, on embedded defaults that work without root);
//! `sansmail check-config` validates a configuration; `sansmail user …` manages accounts.
//! See `ARCHITECTURE.md` for the map of the code.

mod cli;
mod config;
mod fetch;
mod gateway;
mod identity;
mod net;
mod news;
mod outbound;
mod protocols;
mod schedule;
mod senderauth;
mod server;
mod store;

use std::io::{self, BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::queue as queue_cli;
use crate::config::{Config, preflight};
use crate::identity::users::Users;
use crate::identity::{policy, users};
use crate::store::perms;

#[derive(Parser)]
#[command(name = "sansmail", version, about = "A small mail server: SMTP reception, durable spool, Maildir delivery")]
struct Cli {
    /// Configuration file (TOML); see sansmail.example.toml. Without it, embedded defaults.
    #[arg(short, long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded defaults without -c).
    Serve {
        /// Close the data directory to other users first: folders 0700, files 0600 (the
        /// server makes everything so; this fixes a tree made otherwise).
        #[arg(long)]
        fix_permissions: bool,
    },
    /// Validate a configuration and print the effective listeners and domains.
    CheckConfig,
    /// Say what a listener would answer to MAIL FROM and RCPT TO from a client, and which
    /// rule decides: the live server's own policy code.
    Explain {
        /// The listener, by name (see check-config).
        #[arg(long)]
        listener: String,
        /// The client's IP address.
        #[arg(long)]
        client: std::net::IpAddr,
        /// The authenticated user, if any.
        #[arg(long)]
        user: Option<String>,
        /// The sender (empty for the null sender).
        #[arg(long)]
        from: String,
        /// A recipient (repeatable).
        #[arg(long, required = true)]
        to: Vec<String>,
        /// Suppose the client logged in to POP3 or IMAP within the after-login window.
        #[arg(long)]
        recent_login: bool,
        /// The client's HELO name, for the SPF/DMARC verdict (default: the sender's domain).
        #[arg(long)]
        helo: Option<String>,
        /// The message's `From:` address, for the DMARC verdict (default: the sender).
        #[arg(long)]
        header_from: Option<String>,
    },
    /// Manage accounts (stored as argon2id hashes in the data directory).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Inspect and steer the outbound queue (works beside a running server).
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Newsgroups and news pulls (works beside a running server).
    News {
        #[command(subcommand)]
        action: cli::news::NewsAction,
    },
    /// Collection jobs ([[fetch]]): run one now, or see what each last did.
    Fetch {
        #[command(subcommand)]
        action: cli::fetch::FetchAction,
    },
    /// The link is up: send what the outbound queue holds now, whatever its schedule, then
    /// run the collection jobs (SIGUSR1 to the server does the same).
    Connect,
    /// Store-and-forward gateways: what they hold; hand a domain's mail over now.
    Gateway {
        #[command(subcommand)]
        action: cli::gateway::GatewayAction,
    },
    /// DKIM keys: make one for a domain and print its DNS record; list them.
    Dkim {
        #[command(subcommand)]
        action: cli::dkim::DkimAction,
    },
}

#[derive(Subcommand)]
enum QueueAction {
    /// Queued messages: id, age, sender, and each recipient's state, attempts, next attempt
    /// and last error.
    List,
    /// Try now: one message, the recipients in one domain, or everything.
    Flush {
        id: Option<String>,
        #[arg(long)]
        domain: Option<String>,
    },
    /// Remove a message without sending a report.
    Remove { id: String },
    /// Hold a message: it is not tried until released.
    Hold { id: String },
    /// Release a held message (and try it now).
    Release { id: String },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add an account; the password is read from stdin when it is not a terminal.
    Add {
        address: String,
        /// Also keep the password for POP3 APOP, which needs the secret itself (stored in
        /// users.toml, mode 0600). Only for clients that cannot use TLS or SASL.
        #[arg(long)]
        apop: bool,
    },
    /// Change an account's password.
    Passwd {
        address: String,
        /// As for `add`.
        #[arg(long)]
        apop: bool,
    },
    /// Delete an account (its mailbox stays on disk).
    Del { address: String },
    /// List the accounts.
    List,
}

/// jemalloc: less memory per idle session than glibc's malloc and mimalloc, freed memory
/// returned to the system, the same intake rate (benches/README.md, "Idle sessions").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    // Whatever the server or a command writes (mail, queue, accounts) is its user's alone.
    perms::private_umask();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sansmail: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { fix_permissions } => {
            if config.data_dir.exists() {
                perms::report(&config.data_dir, fix_permissions)?;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .max_blocking_threads(server::max_blocking_threads())
                .enable_all()
                .build()?;
            runtime.block_on(server::serve(config))?;
            // Sessions past the grace period are dropped with the runtime.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            Ok(())
        }
        Command::CheckConfig => {
            // What `serve` checks before it binds, checked the same way.
            preflight::check(&config, &config.listeners()?)?;
            println!("hostname  {}", config.hostname);
            println!("data_dir  {}", config.data_dir.display());
            for d in &config.domain {
                match &d.catch_all {
                    Some(c) => println!("domain    {} (catch-all {c})", d.name),
                    None => println!("domain    {}", d.name),
                }
            }
            println!("postmaster {}", config.postmaster());
            for l in config.listeners()? {
                let lim = &l.config.limits;
                let service = if l.config.service.is_smtp() {
                    format!(
                        "max_message_size={} max_recipients={} relay={:?}",
                        lim.max_message_size,
                        lim.max_recipients,
                        l.relay().networks
                    )
                } else if l.config.service == crate::config::Service::Pop3 {
                    format!("apop={} plaintext_auth={}", l.config.apop, l.config.allow_plaintext_auth)
                } else {
                    format!("plaintext_auth={}", l.config.allow_plaintext_auth)
                };
                println!(
                    "listener  {} service={} addr={} tls={:?} {service} max_connections={} per_ip={} \
                     allow={:?} deny={:?}",
                    l.name,
                    l.config.service,
                    l.addr,
                    l.config.tls,
                    lim.max_connections,
                    lim.max_connections_per_ip,
                    l.config.access.allow,
                    l.config.access.deny
                );
            }
            Ok(())
        }
        Command::User { action } => user(&config, action),
        Command::Queue { action } => {
            match action {
                QueueAction::List => queue_cli::list(&config)?,
                QueueAction::Flush { id, domain } => queue_cli::flush(&config, id.as_deref(), domain.as_deref())?,
                QueueAction::Remove { id } => queue_cli::remove(&config, &id)?,
                QueueAction::Hold { id } => queue_cli::hold(&config, &id, true)?,
                QueueAction::Release { id } => queue_cli::hold(&config, &id, false)?,
            }
            Ok(())
        }
        Command::News { action } => cli::news::run(&config, action),
        Command::Gateway { action } => cli::gateway::run(&config, action),
        Command::Fetch { action } => cli::fetch::run(&config, action),
        Command::Dkim { action } => cli::dkim::run(&config, action),
        Command::Connect => {
            let out = config.data_dir.join("queue").join("out");
            std::fs::create_dir_all(&out)?;
            std::fs::write(out.join(crate::outbound::CONNECT_MARK), b"")?;
            println!("connection requested: the server sends its queue within a second, then collects");
            Ok(())
        }
        Command::Explain { listener, client, user, from, to, recent_login, helo, header_from } => {
            explain(&config, &listener, (client, recent_login), user, &from, &to)?;
            cli::checks::explain(&config, &listener, client, helo.as_deref(), (&from, header_from.as_deref()))
        }
    }
}

fn explain(
    config: &Config,
    listener: &str,
    (ip, recent_login): (std::net::IpAddr, bool),
    user: Option<String>,
    from: &str,
    to: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    use sansmail_smtp_proto::address::{ForwardPath, ReversePath};
    let listeners = config.listeners()?;
    let l = listeners.iter().find(|l| l.name == listener).ok_or_else(|| {
        format!("no listener {listener:?}; listeners: {:?}", listeners.iter().map(|l| &l.name).collect::<Vec<_>>())
    })?;
    if !l.config.service.is_smtp() {
        return Err(format!(
            "listener {listener} serves {}: relay decisions belong to SMTP listeners",
            l.config.service
        )
        .into());
    }
    let relay = l.relay();
    let dir = config.directory()?;
    let gateways = crate::gateway::Gateways::of(config)?;
    let user = user.map(|u| users::normalize(&u));
    let client = policy::Client { ip, user: user.as_deref(), recent_login, local_ip: None };
    let path = |a: &str| format!("<{}>", a.trim_start_matches('<').trim_end_matches('>'));
    let from_path = path(from);
    let (reverse, _) = ReversePath::parse(from_path.as_bytes()).map_err(|e| format!("MAIL FROM:{from_path}: {e}"))?;
    match policy::mail_from(&relay, &dir, client, &reverse) {
        Ok(rule) => println!("MAIL FROM:{from_path} -> 250 accepted (rule: {rule})"),
        Err(d) => {
            println!("MAIL FROM:{from_path} -> {} (rule: {})", reply_line(&d.reply), d.rule);
            return Ok(());
        }
    }
    for t in to {
        let to_path = path(t);
        let forward = match ForwardPath::parse(to_path.as_bytes()) {
            Ok((p, _)) => p,
            Err(e) => {
                println!("RCPT TO:{to_path} -> 501 syntax error: {e}");
                continue;
            }
        };
        match policy::rcpt_to(&relay, &dir, &gateways, client, &forward) {
            Ok((_, targets, rule)) => println!("RCPT TO:{to_path} -> 250 accepted, to {targets:?} (rule: {rule})"),
            Err(d) => println!("RCPT TO:{to_path} -> {} (rule: {})", reply_line(&d.reply), d.rule),
        }
    }
    Ok(())
}

fn reply_line(reply: &sansmail_smtp_proto::Reply<'_>) -> String {
    let mut out = Vec::new();
    reply.encode(&mut out, true);
    String::from_utf8_lossy(&out).trim_end().to_string()
}

fn read_password(prompt: &str) -> io::Result<String> {
    if io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err(io::Error::other("the passwords differ"));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        // Drain the rest so a pipe writer never blocks.
        let _ = io::stdin().lock().read_to_end(&mut Vec::new());
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn user(config: &Config, action: UserAction) -> Result<(), Box<dyn std::error::Error>> {
    let mut users = Users::load(&config.data_dir)?;
    let check = |address: &str| -> Result<(), Box<dyn std::error::Error>> {
        let domain = address.rsplit_once('@').map(|(_, d)| d).ok_or("log-in names are full addresses: user@domain")?;
        if !config.domain.iter().any(|d| d.name.eq_ignore_ascii_case(domain)) {
            return Err(format!("{domain} is not a local domain (add a [[domain]])").into());
        }
        Ok(())
    };
    match action {
        UserAction::Add { address, apop } => {
            check(&address)?;
            if users.contains(&address) {
                return Err(format!("{address} exists; use `sansmail user passwd`").into());
            }
            let password = read_password("Password: ")?;
            if password.is_empty() {
                return Err("empty password".into());
            }
            users.set_password(&address, &password, apop)?;
            users.save()?;
            println!("added {address}");
        }
        UserAction::Passwd { address, apop } => {
            if !users.contains(&address) {
                return Err(format!("no account {address}").into());
            }
            let password = read_password("New password: ")?;
            if password.is_empty() {
                return Err("empty password".into());
            }
            users.set_password(&address, &password, apop)?;
            users.save()?;
            println!("password changed for {address}");
        }
        UserAction::Del { address } => {
            if !users.remove(&address) {
                return Err(format!("no account {address}").into());
            }
            users.save()?;
            println!("deleted {address} (its mailbox stays on disk)");
        }
        UserAction::List => {
            for a in users.addresses() {
                println!("{a}");
            }
        }
    }
    Ok(())
}
