//! What waits instead of leaving: a held gateway domain's recipients (until a release), a
//! pending or expired backup-MX domain's, and — with `[outbound] schedule` — every remote
//! recipient while the schedule is closed (a site that connects to the Internet only at
//! times). None of them counts a failed attempt; the hold limits, the queue's expiry and
//! the delay warning still run.

use std::time::{Duration, Instant};

use super::{BackupState, HOLD_RECHECK_SECS, Manager, wants_report};
use crate::gateway::RELEASE_SECS;
use crate::store::outbound_queue::{State, Status};
use crate::store::spool::Envelope;

/// What [`apply`] held back.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// A recipient's state changed (held, returned, or rescheduled).
    pub(super) changed: bool,
    /// Recipients waiting for the schedule to open (their own `next_attempt` is left as it
    /// is: once open they go at it, or at once if it has passed).
    pub(super) waiting: Vec<usize>,
}

impl Manager {
    /// Whether remote mail may leave now: no schedule, an open window, or a connection in
    /// force (a connection time, `sansmail connect`, `queue flush`).
    pub(crate) fn open_for_mail(&self, now: u64) -> bool {
        let Some(t) = &self.timetable else { return true };
        t.open(now as i64) || self.connected()
    }

    /// Whether a connection is in force.
    pub(crate) fn connected(&self) -> bool {
        self.connection.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|until| until > Instant::now())
    }

    /// A connection: remote mail may leave for [`RELEASE_SECS`] whatever the schedule says.
    pub(crate) fn connect(&self) {
        let until = Instant::now() + Duration::from_secs(RELEASE_SECS);
        *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
    }

    /// When mail held by the schedule is looked at again: the next opening, or within
    /// the hour when there is none (on demand), sooner for its expiry or delay warning.
    fn wake_time(&self, env: &Envelope, state: &State, now: u64) -> u64 {
        let opening =
            self.timetable.as_ref().and_then(|t| t.next(now as i64)).map_or(now + HOLD_RECHECK_SECS, |t| t as u64);
        let expiry = env.received.saturating_add(self.config.max_queue_secs);
        let warning = (self.config.delay_warning_secs > 0 && !state.warned)
            .then(|| env.received.saturating_add(self.config.delay_warning_secs))
            .filter(|&t| t > now);
        opening.min(expiry.max(now + 1)).min(warning.unwrap_or(u64::MAX))
    }

    /// Whether a delay warning is due for `env` now.
    pub(super) fn warning_due(&self, env: &Envelope, state: &State, now: u64) -> bool {
        self.config.delay_warning_secs > 0
            && !state.warned
            && now >= env.received.saturating_add(self.config.delay_warning_secs)
    }
}

/// Takes out of `by_domain` the recipients that wait, recording in `state` what changed.
pub(super) fn apply(
    m: &Manager,
    env: &Envelope,
    state: &mut State,
    by_domain: &mut Vec<(String, Vec<usize>)>,
    now: u64,
) -> Held {
    let closed = !m.open_for_mail(now);
    let mut held = Held::default();
    by_domain.retain(|(domain, idxs)| {
        let gateway = m.gateways.held(domain) || m.gateways.backup_holds(domain, &env.client);
        // A gateway's or backup domain's mail follows its own rules, not the schedule.
        let own_rules = m.gateways.for_domain(domain).is_some() || m.gateways.backups.get(domain).is_some();
        let scheduled = closed && !own_rules && m.gateways.release(domain).is_none();
        if !gateway && !scheduled {
            return true;
        }
        let unconfirmed = m.gateways.backups.get(domain).is_some_and(|b| b.state == BackupState::Expired);
        for &i in idxs {
            let s = &mut state.rcpt[i];
            if unconfirmed {
                s.status = Status::Failed;
                s.status_code = "5.7.1".into();
                s.last_error = format!("this server was not confirmed as backup MX for {domain}");
            } else if now >= env.received.saturating_add(m.lifetime(domain)) {
                s.status = Status::Failed;
                s.status_code = "4.4.7".into();
                s.last_error = if gateway {
                    format!("held for {domain} and not collected in time")
                } else {
                    "held for the delivery schedule and not sent in time".to_owned()
                };
            } else if gateway {
                s.next_attempt = now + HOLD_RECHECK_SECS;
            } else {
                held.waiting.push(i);
                continue;
            }
            s.unreported = s.status == Status::Failed && wants_report(env, &env.recipients[i], s);
        }
        held.changed = true;
        false
    });
    held
}

/// When the message comes back: the soonest of its recipients' times, those waiting for
/// the schedule counted at the schedule's.
pub(super) fn next_time(m: &Manager, env: &Envelope, state: &State, held: &Held, now: u64) -> Option<u64> {
    let later = (!held.waiting.is_empty()).then(|| m.wake_time(env, state, now));
    state
        .rcpt
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.status.is_final())
        .map(|(i, r)| if held.waiting.contains(&i) { later.unwrap_or(r.next_attempt) } else { r.next_attempt })
        .min()
}
