//! Authentication for every protocol: runs the SASL exchange ([`crate::sasl`]) and the
//! USER/PASS check against the directory, under the shared throttling
//! ([`crate::abuse::Defences`]). Each protocol driver turns an [`Outcome`] into its own
//! reply (SMTP 235/535/454/421, POP3 `+OK`/`-ERR [AUTH]`/`-ERR [SYS/TEMP]`).

use std::net::IpAddr;
use std::sync::Arc;

use crate::abuse::AfterFailure;
use crate::sasl::{Exchange, Step};
use crate::server::Shared;
use crate::users::normalize;

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
    shared: Arc<Shared>,
    ip: IpAddr,
    sasl: Option<Exchange>,
}

impl Login {
    pub(crate) fn new(shared: Arc<Shared>, ip: IpAddr) -> Self {
        Self { shared, ip, sasl: None }
    }

    /// Starts a SASL mechanism; `None` if the server does not offer it.
    pub(crate) async fn start(
        &mut self,
        mechanism: &sansmail_smtp_proto::Mechanism<'_>,
        initial: Option<Vec<u8>>,
    ) -> Option<Outcome> {
        let (next, step) = Exchange::start(mechanism, initial, &self.shared.config.hostname)?;
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
        match self.shared.config.domain.first() {
            Some(d) if !user.contains('@') => format!("{user}@{}", d.name),
            _ => user.to_owned(),
        }
    }

    /// USER/PASS (and SASL PLAIN/LOGIN's credentials).
    pub(crate) async fn password(&mut self, user: &str, password: String) -> Outcome {
        self.sasl = None;
        let user = &self.qualify(user);
        if !self.may_try(user) {
            return Outcome::Blocked;
        }
        let dir = self.shared.directory.clone();
        let who = user.to_owned();
        // argon2 takes tens of milliseconds: off the async workers.
        let ok = tokio::task::spawn_blocking(move || dir.verify(&who, &password)).await.unwrap_or(false);
        if ok { self.success(user, "password") } else { self.failure(user).await }
    }

    /// A credential the caller checks itself (APOP's digest): `check` gets the account
    /// address, under the same blocks and failure counting as a password.
    pub(crate) async fn checked(&mut self, user: &str, check: impl FnOnce(&str) -> bool) -> Outcome {
        self.sasl = None;
        let user = &self.qualify(user);
        if !self.may_try(user) {
            return Outcome::Blocked;
        }
        if tokio::task::block_in_place(|| check(user)) { self.success(user, "APOP") } else { self.failure(user).await }
    }

    fn may_try(&self, user: &str) -> bool {
        let ok = self.shared.defences.may_try_auth(self.ip, &normalize(user));
        if !ok {
            tracing::warn!(client = %self.ip, user = %user, "authentication refused: blocked");
        }
        ok
    }

    fn success(&mut self, user: &str, mechanism: &str) -> Outcome {
        let user = &self.qualify(user);
        tracing::info!(client = %self.ip, user = %user, mechanism, "authenticated");
        Outcome::Success(normalize(user))
    }

    /// Counts a failure: the delay is served here; past the threshold, the address is blocked.
    async fn failure(&mut self, user: &str) -> Outcome {
        let user = &self.qualify(user);
        tracing::warn!(client = %self.ip, user = %user, "authentication failed");
        match self.shared.defences.auth_failed(self.ip, &normalize(user)) {
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
                if !self.may_try(&user) {
                    self.sasl = None;
                    return Outcome::Blocked;
                }
                let secrets = self.shared.directory.scram(&user);
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
                if !self.may_try(&user) {
                    return Outcome::Blocked;
                }
                let states = self.shared.directory.cram_md5(&user);
                if crate::sasl::cram_md5_ok(states.as_deref(), &challenge, &digest) {
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
