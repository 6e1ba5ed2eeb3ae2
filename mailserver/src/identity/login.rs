//! Authentication for every protocol: runs the SASL exchange ([`crate::identity::sasl`]) and the
//! USER/PASS check against the directory, under the shared throttling
//! ([`crate::identity::abuse::Defences`]). Each protocol driver turns an [`Outcome`] into its own
//! reply (SMTP 235/535/454/421, POP3 `+OK`/`-ERR [AUTH]`/`-ERR [SYS/TEMP]`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::identity::Identity;
use crate::identity::abuse::AfterFailure;
use crate::identity::sasl::{Exchange, Step};
use crate::identity::users::normalize;

/// Where an authentication attempt stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send this challenge; the client's answer goes to [`Login::respond`].
    Challenge(Vec<u8>),
    /// The user (normalised) proved the password.
    Success(String),
    /// Wrong credentials (the throttling delay has been served).
    Failed,
    /// The address or account is blocked for now: answer with a temporary failure.
    Blocked,
    /// This failure blocked the address: answer and close the connection.
    NowBlocked,
    /// The response did not follow the mechanism.
    Malformed,
}

/// One client's authentication state.
pub(crate) struct Login {
    identity: Arc<Identity>,
    ip: IpAddr,
    sasl: Option<Exchange>,
}

impl Login {
    pub(crate) fn new(identity: Arc<Identity>, ip: IpAddr) -> Self {
        Self { identity, ip, sasl: None }
    }

    /// Starts a SASL mechanism; `None` if the server does not offer it.
    pub(crate) async fn start(
        &mut self,
        mechanism: &sansmail_smtp_proto::Mechanism<'_>,
        initial: Option<Vec<u8>>,
    ) -> Option<Outcome> {
        let (next, step) = Exchange::start(mechanism, initial, &self.identity.hostname)?;
        self.sasl = next;
        Some(self.step(step).await)
    }

    /// The client's answer to the last challenge.
    pub(crate) async fn respond(&mut self, response: &[u8]) -> Outcome {
        match self.sasl.take() {
            Some(exchange) => {
                let (next, step) = exchange.respond(response);
                self.sasl = next;
                self.step(step).await
            }
            None => Outcome::Malformed,
        }
    }

    /// The client cancelled: nothing carries into the next attempt.
    pub(crate) fn cancel(&mut self) {
        self.sasl = None;
    }

    /// A login name as an account address: a bare name is taken in the first local domain.
    fn qualify(&self, user: &str) -> String {
        match &self.identity.default_domain {
            Some(d) if !user.contains('@') => format!("{user}@{d}"),
            _ => user.to_owned(),
        }
    }

    /// USER/PASS (and SASL PLAIN/LOGIN's credentials).
    pub(crate) async fn password(&mut self, user: &str, password: String) -> Outcome {
        self.sasl = None;
        let user = &self.qualify(user);
        let identity = self.identity.clone();
        let hash = tokio::task::block_in_place(|| identity.directory.password_hash(user));
        // Credentials verified lately, or being verified by another session, cost no
        // second argon2id run (and no second count toward a lock).
        let cache = &identity.credentials;
        let tag = hash.as_deref().map(|h| cache.tag(&normalize(user), h, &password));
        let checking = match tag {
            Some(tag) => cache.begin(tag, self.identity.verifier.wait).await,
            None => None,
        };
        if tag.is_some_and(|t| cache.verified(&t, std::time::Instant::now())) {
            if !self.identity.defences.may_try_auth(self.ip, &normalize(user)) {
                tracing::warn!(client = %self.ip, user = %user, "authentication refused: blocked");
                return Outcome::Blocked;
            }
            tracing::info!(client = %self.ip, user = %user, mechanism = "password", cached = true, "authenticated");
            return Outcome::Success(normalize(user));
        }
        if let Err(refused) = self.begin(user) {
            return refused;
        }
        // argon2 takes tens of milliseconds and 19 MiB: off the async workers, a few at once.
        let check = move |scratch: &mut _| crate::identity::users::verify_hash(hash.as_deref(), &password, scratch);
        let verified = self.identity.verifier.run(check).await;
        // Remembered before those waiting for this check are woken.
        if let (Some(true), Some(tag)) = (verified, tag) {
            cache.remember(tag, std::time::Instant::now());
        }
        drop(checking);
        match verified {
            Some(true) => self.success(user, "password"),
            Some(false) => self.failure(user).await,
            None => {
                self.identity.defences.auth_succeeded(self.ip, &normalize(user));
                tracing::warn!(client = %self.ip, user = %user, "authentication refused: too many password checks waiting");
                Outcome::Blocked
            }
        }
    }

    /// A credential the caller checks itself (APOP's digest): `check` gets the account
    /// address, under the same blocks and failure counting as a password.
    pub(crate) async fn checked(&mut self, user: &str, check: impl FnOnce(&str) -> bool) -> Outcome {
        self.sasl = None;
        let user = &self.qualify(user);
        if let Err(refused) = self.begin(user) {
            return refused;
        }
        if tokio::task::block_in_place(|| check(user)) { self.success(user, "APOP") } else { self.failure(user).await }
    }

    /// Before a credential is checked: refused while the address or account is blocked;
    /// otherwise the attempt is counted now (as a failure until it succeeds), and refused
    /// when that count is past the block threshold.
    fn begin(&self, user: &str) -> Result<(), Outcome> {
        let account = normalize(user);
        if !self.identity.defences.may_try_auth(self.ip, &account) {
            tracing::warn!(client = %self.ip, user = %user, "authentication refused: blocked");
            return Err(Outcome::Blocked);
        }
        if !self.identity.defences.auth_attempt(self.ip, &account) {
            return Err(Outcome::NowBlocked);
        }
        Ok(())
    }

    fn success(&mut self, user: &str, mechanism: &str) -> Outcome {
        let user = &self.qualify(user);
        self.identity.defences.auth_succeeded(self.ip, &normalize(user));
        tracing::info!(client = %self.ip, user = %user, mechanism, "authenticated");
        Outcome::Success(normalize(user))
    }

    /// A failure (already counted by `begin`): the delay is served here; at the threshold,
    /// the address is blocked.
    async fn failure(&mut self, user: &str) -> Outcome {
        let user = &self.qualify(user);
        tracing::warn!(client = %self.ip, user = %user, "authentication failed");
        match self.identity.defences.auth_failed(self.ip, &normalize(user)) {
            AfterFailure::Delay(d) => {
                tokio::time::sleep(d).await;
                Outcome::Failed
            }
            AfterFailure::Blocked => Outcome::NowBlocked,
        }
    }

    async fn step(&mut self, step: Step) -> Outcome {
        match step {
            Step::Challenge(c) => Outcome::Challenge(c),
            Step::Lookup { user } => {
                let user = self.qualify(&user);
                if let Err(refused) = self.begin(&user) {
                    self.sasl = None;
                    return refused;
                }
                let secrets = self.identity.directory.scram(&user);
                match self.sasl.take() {
                    Some(exchange) => {
                        let (next, step) = exchange.with_secrets(secrets);
                        self.sasl = next;
                        // The next step is the server-first challenge, never another lookup.
                        match step {
                            Step::Challenge(c) => Outcome::Challenge(c),
                            _ => Outcome::Malformed,
                        }
                    }
                    None => Outcome::Malformed,
                }
            }
            Step::Authenticated { user } => {
                self.sasl = None;
                self.success(&user, "SCRAM-SHA-256")
            }
            Step::Failed { user } => {
                self.sasl = None;
                self.failure(&user).await
            }
            Step::CramMd5 { user, challenge, digest } => {
                self.sasl = None;
                let user = self.qualify(&user);
                if let Err(refused) = self.begin(&user) {
                    return refused;
                }
                let states = self.identity.directory.cram_md5(&user);
                if crate::identity::sasl::cram_md5_ok(states.as_deref(), &challenge, &digest) {
                    self.success(&user, "CRAM-MD5")
                } else {
                    self.failure(&user).await
                }
            }
            Step::Malformed => {
                self.sasl = None;
                Outcome::Malformed
            }
            Step::Credentials { user, password } => self.password(&user, password).await,
        }
    }
}

/// Password checks in progress at once, and those waiting for a turn: argon2id takes
/// 19 MiB and tens of milliseconds per check, so unbounded parallel attempts would take
/// memory and every core. A check that finds the queue full, or waits too long, is
/// answered with a temporary failure without hashing. The wait runs inside the session's
/// command (it counts against the session, not beside it).
pub(crate) struct Verifier {
    slots: Arc<Semaphore>,
    /// The slots' argon2 memory, reused from check to check.
    scratch: Arc<std::sync::Mutex<Vec<crate::identity::users::Scratch>>>,
    waiting: AtomicUsize,
    max_waiting: usize,
    pub(crate) wait: Duration,
}

impl Verifier {
    pub(crate) fn new(config: &crate::identity::abuse::AbuseConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let at_once = if config.concurrent_verifications == 0 { cores } else { config.concurrent_verifications };
        Self {
            slots: Arc::new(Semaphore::new(at_once)),
            scratch: Arc::default(),
            waiting: AtomicUsize::new(0),
            max_waiting: config.queued_verifications,
            wait: Duration::from_secs(config.verification_wait_secs),
        }
    }

    /// Runs `check` on the blocking pool when a slot is free; `None` when too many wait
    /// already, or the turn does not come in time.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce(&mut crate::identity::users::Scratch) -> T + Send + 'static,
    ) -> Option<T> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return None;
                }
                let turn = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                turn.ok()?.ok()?
            }
        };
        let pool = self.scratch.clone();
        tokio::task::spawn_blocking(move || {
            let mut scratch = pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
            let result = check(&mut scratch);
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(scratch);
            drop(permit);
            result
        })
        .await
        .ok()
    }
}
