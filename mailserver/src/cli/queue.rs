//! `sansmail queue …`: the outbound queue for the administrator. Works on the files in
//! `<data_dir>/queue/out` (so it runs beside a live server) and leaves a mark the server
//! notices within a second when something should be tried now.

use std::io;

use crate::config::Config;
use crate::identity::directory::rfc5322_date;
use crate::outbound::{FLUSH_MARK, unix_now};
use crate::store::outbound_queue::{State, Status, Store};

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn mark(config: &Config) -> io::Result<()> {
    std::fs::write(config.data_dir.join("queue").join("out").join(FLUSH_MARK), b"")
}

fn load(store: &Store, id: &str) -> io::Result<(crate::store::spool::Envelope, State)> {
    let (env, _) = store.read(id)?;
    let state = store.state(id, env.recipients.len(), 0)?;
    Ok((env, state))
}

/// `queue list`.
pub(crate) fn list(config: &Config) -> io::Result<()> {
    let store = Store::open(&config.data_dir)?;
    let now = unix_now();
    let ids = store.list()?;
    for id in &ids {
        let Ok((env, state)) = load(&store, id) else { continue };
        let from = if env.from.is_empty() { "<>" } else { env.from.as_str() };
        let held = if state.held { "  HELD" } else { "" };
        println!("{id}  age {}  from {from}{held}", human_age(now.saturating_sub(env.received)));
        for (r, s) in env.recipients.iter().zip(&state.rcpt) {
            let when = match s.status {
                Status::Pending | Status::Deferred if s.next_attempt <= now => "next attempt now".to_owned(),
                Status::Pending | Status::Deferred => format!("next attempt {}", rfc5322_date(s.next_attempt)),
                _ => String::new(),
            };
            let status = format!("{:?}", s.status).to_lowercase();
            println!("    {}  {status}  attempts {}  {when}", r.address, s.attempts);
            if !s.last_error.is_empty() {
                println!("        last error: {}", s.last_error);
            }
        }
    }
    println!("{} message(s) in the outbound queue", ids.len());
    Ok(())
}

/// `queue flush [ID | --domain D]`: due now.
pub(crate) fn flush(config: &Config, id: Option<&str>, domain: Option<&str>) -> io::Result<()> {
    let store = Store::open(&config.data_dir)?;
    let domain = domain.map(|d| d.trim_end_matches('.').to_ascii_lowercase());
    let mut n = 0;
    for qid in store.list()? {
        if id.is_some_and(|i| i != qid) {
            continue;
        }
        let (env, mut state) = load(&store, &qid)?;
        let mut touched = false;
        for (r, s) in env.recipients.iter().zip(state.rcpt.iter_mut()) {
            let in_domain = domain
                .as_deref()
                .is_none_or(|d| r.address.rsplit_once('@').is_some_and(|(_, rd)| rd.eq_ignore_ascii_case(d)));
            if !s.status.is_final() && in_domain {
                s.next_attempt = 0;
                touched = true;
            }
        }
        if touched {
            store.save_state(&qid, &state)?;
            n += 1;
        }
    }
    if id.is_some() && n == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such message waiting"));
    }
    mark(config)?;
    println!("{n} message(s) flushed");
    Ok(())
}

/// `queue remove ID`: gone, without a report.
pub(crate) fn remove(config: &Config, id: &str) -> io::Result<()> {
    let store = Store::open(&config.data_dir)?;
    if !store.list()?.iter().any(|i| i == id) {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no message {id}")));
    }
    store.remove(id)?;
    println!("removed {id}");
    Ok(())
}

/// `queue hold ID` / `queue release ID`.
pub(crate) fn hold(config: &Config, id: &str, held: bool) -> io::Result<()> {
    let store = Store::open(&config.data_dir)?;
    if !store.list()?.iter().any(|i| i == id) {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("no message {id}")));
    }
    let (_, mut state) = load(&store, id)?;
    state.held = held;
    store.save_state(id, &state)?;
    if !held {
        mark(config)?;
    }
    println!("{} {id}", if held { "held" } else { "released" });
    Ok(())
}
