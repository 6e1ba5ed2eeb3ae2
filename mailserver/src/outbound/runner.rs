//! The queue runner: one loop that starts an attempt for each message when it is due and a
//! slot is free (in total and, inside the attempt, per domain), takes in new messages, the
//! CLI's marks (flush, connect, rescan), ETRN's releases and the schedules' openings, and
//! every few seconds counts what the gateways hold and keeps the backup-MX domains.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::{CONNECT_MARK, Manager, RESCAN_MARK, attempt, blocking, unix_now};
use crate::gateway::backup::State as BackupState;

/// Runs the queue: new ids arrive on `ids`; what was queued before a restart is found on disk.
pub(crate) async fn run(manager: Arc<Manager>, mut ids: mpsc::UnboundedReceiver<String>) {
    let mut schedule = Schedule::default();
    rescan(&manager, &mut schedule);
    let total = Arc::new(Semaphore::new(manager.config.concurrency.max(1)));
    let mut tasks: JoinSet<Option<u64>> = JoinSet::new();
    // Which message each task is trying, so even a task that died gives its message back.
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks: u64 = 0;
    // When the schedules were last looked at (a connection time passed since opens).
    let mut looked = unix_now() as i64;
    let mut was_open = manager.open_for_mail(unix_now());
    count_gateways(&manager).await;
    loop {
        // A slot first, then a message: a message leaves the schedule only when it can start.
        let now = unix_now();
        while let Ok(permit) = total.clone().try_acquire_owned() {
            let Some(id) = schedule.pop_due(now) else { break };
            let m = manager.clone();
            let key = id.clone();
            let task = tasks.spawn(async move {
                let next = attempt(&m, &key).await.unwrap_or_else(|e| {
                    tracing::error!(queue_id = %key, error = %e, "outbound attempt failed; retrying later");
                    Some(unix_now() + m.config.retry_first_secs)
                });
                drop(permit);
                next
            });
            running.insert(task.id(), id);
        }
        let busy = !tasks.is_empty() || schedule.due.first().is_some_and(|(t, _)| *t <= now);
        manager.busy.store(busy, std::sync::atomic::Ordering::Relaxed);
        tokio::select! {
            Some(id) = ids.recv() => schedule.put(id, unix_now()),
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (task, next) = match done {
                    Ok((task, next)) => (task, next),
                    Err(e) => {
                        tracing::error!(error = %e, "outbound task failed; retrying later");
                        (e.id(), Some(unix_now() + manager.config.retry_first_secs))
                    }
                };
                if let Some(id) = running.remove(&task) {
                    schedule.running_done(&id);
                    if let Some(t) = next {
                        schedule.put(id, t);
                    }
                }
            }
            // ETRN's release, at once rather than at the next tick.
            () = manager.gateways.wake.notified() => releases(&manager, &mut schedule).await,
            _ = tick.tick() => {
                manager.pool.reap();
                ticks += 1;
                if ticks.is_multiple_of(QUOTA_COUNT_TICKS) {
                    count_gateways(&manager).await;
                    // Newly confirmed and newly expired domains: their mail is looked at now
                    // (handed over, or returned).
                    let changed = backup_mx_upkeep(&manager).await;
                    for d in &changed {
                        manager.gateways.release_now(d);
                    }
                    schedule_waiting(&manager, &mut schedule, changed).await;
                }
                let out = manager.data_dir.join("queue").join("out");
                let flushed = std::fs::remove_file(&manager.flush_mark).is_ok();
                let connect = std::fs::remove_file(out.join(CONNECT_MARK)).is_ok();
                let now = unix_now() as i64;
                let fired = manager.timetable.as_ref().is_some_and(|t| t.fired(looked, now));
                if flushed || connect || fired {
                    tracing::info!(flushed, connect, scheduled = fired, "connection: the queue goes out now");
                    manager.connect();
                }
                let open = manager.open_for_mail(now as u64);
                let rescanned = std::fs::remove_file(out.join(RESCAN_MARK)).is_ok();
                if flushed || connect || fired || rescanned || (open && !was_open) {
                    rescan(&manager, &mut schedule);
                }
                if connect || fired {
                    // One waiter (the collection jobs): a permit is kept if it is busy.
                    manager.connections.notify_one();
                }
                was_open = open;
                releases(&manager, &mut schedule).await;
                let opened = manager.gateways.scheduled_releases(looked, now);
                looked = now;
                schedule_waiting(&manager, &mut schedule, opened).await;
                manager.gateways.write_handovers(&manager.data_dir);
            }
        }
    }
}

/// How often (in seconds) what the gateways with a quota hold is counted.
const QUOTA_COUNT_TICKS: u64 = 5;

/// Counts what each gateway with a quota holds, and tells `quota_notify` when one crossed
/// its quota, either way (once per crossing: a mark file remembers the side it is on).
async fn count_gateways(m: &Arc<Manager>) {
    for g in m.gateways.list.iter().filter(|g| g.has_quota()) {
        let store = m.store.clone();
        let domains: Vec<String> = g.domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        let Ok((messages, octets)) = blocking(move || store.for_domains(&domains)).await else { continue };
        let usage = crate::gateway::Usage { messages: messages as u64, octets };
        m.gateways.counted(g, usage);
        let over = g.over(usage);
        let mark = crate::gateway::quota_mark(&m.data_dir, g);
        if over == mark.exists() {
            continue;
        }
        let marked = if over { std::fs::write(&mark, b"") } else { std::fs::remove_file(&mark) };
        if let Err(e) = marked {
            tracing::warn!(gateway = g.name(), error = %e, "cannot record the gateway's quota state");
            continue;
        }
        tracing::info!(
            gateway = g.name(),
            over,
            messages = usage.messages,
            octets = usage.octets,
            "gateway quota crossed"
        );
        if let Some(to) = g.quota_notify.clone() {
            let from = g.quota_sender.clone().unwrap_or_else(|| format!("postmaster@{}", m.hostname));
            let notice = crate::gateway::quota_notice(g, &from, over, usage);
            let d = m.deliverer.clone();
            if let Err(e) = blocking(move || d.queue_generated(&to, &notice, "gateway quota")).await {
                tracing::warn!(gateway = g.name(), error = %e, "cannot queue the quota notice");
            }
        }
    }
}

/// The backup-MX domains: taken in again from their files (the CLI confirms there), what
/// each holds counted for its quota, pending ones past their time expired (returned: their
/// domains, whose mail is to be bounced now), expired ones with nothing left forgotten.
async fn backup_mx_upkeep(m: &Arc<Manager>) -> Vec<String> {
    let backups = &m.gateways.backups;
    if !backups.config.enabled && backups.all().is_empty() {
        return Vec::new();
    }
    let before: Vec<_> = backups.all().into_iter().map(|b| (b.domain, b.state)).collect();
    backups.reload();
    let mut wake: Vec<String> = backups
        .all()
        .into_iter()
        .filter(|b| b.state == BackupState::Active && !before.contains(&(b.domain.clone(), BackupState::Active)))
        .map(|b| b.domain)
        .collect();
    wake.extend(backups.expire(unix_now()));
    for b in backups.all() {
        let store = m.store.clone();
        let domains = vec![b.domain.clone()];
        let Ok((messages, octets)) = blocking(move || store.for_domains(&domains)).await else { continue };
        let g = backups.gateway(&b.domain);
        m.gateways.counted(&g, crate::gateway::Usage { messages: messages as u64, octets });
        if backups.may_forget(&b, messages, unix_now()) {
            tracing::info!(domain = %b.domain, "expired backup MX domain forgotten");
            backups.forget(&b.domain);
        }
    }
    wake
}

/// Takes in the gateways' releases: the released domains' messages scheduled now, after
/// any rescan (which would put them back at their state's time); their recipients there
/// count as due while the release lasts, so no state is rewritten for it.
async fn releases(manager: &Arc<Manager>, schedule: &mut Schedule) {
    let released = manager.gateways.take_releases();
    schedule_waiting(manager, schedule, released).await;
}

/// Schedules now every message waiting for one of `released`.
async fn schedule_waiting(manager: &Arc<Manager>, schedule: &mut Schedule, released: Vec<String>) {
    if released.is_empty() {
        return;
    }
    let store = manager.store.clone();
    match blocking(move || store.waiting_for(&released)).await {
        Ok(ids) => {
            let now = unix_now();
            for id in ids {
                schedule.put(id, now);
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot release a gateway's mail"),
    }
}

/// Schedules every queued message at its state's next attempt.
fn rescan(manager: &Manager, schedule: &mut Schedule) {
    let now = unix_now();
    match manager.store.list() {
        Ok(list) => {
            for id in list {
                let due = manager.store.peek_due(&id).unwrap_or(Some(now));
                if let Some(t) = due {
                    schedule.put(id, t);
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list the outbound queue"),
    }
}

/// Due times, one per message, and the messages being tried now.
#[derive(Default)]
struct Schedule {
    due: BTreeSet<(u64, String)>,
    at: HashMap<String, u64>,
    running: std::collections::HashSet<String>,
}

impl Schedule {
    fn put(&mut self, id: String, t: u64) {
        if let Some(old) = self.at.insert(id.clone(), t) {
            self.due.remove(&(old, id.clone()));
        }
        self.due.insert((t, id));
    }

    /// The next message due by `now` that is not already being tried.
    fn pop_due(&mut self, now: u64) -> Option<String> {
        let (t, id) = self.due.iter().find(|(t, id)| *t <= now && !self.running.contains(id))?.clone();
        self.due.remove(&(t, id.clone()));
        self.at.remove(&id);
        self.running.insert(id.clone());
        Some(id)
    }

    fn running_done(&mut self, id: &str) {
        self.running.remove(id);
    }
}
