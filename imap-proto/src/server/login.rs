//! The login exchange: LOGIN and AUTHENTICATE (SASL-IR, challenges, `*`), the embedder's
//! verdict, failures counted toward the session's end, and the framing before login.

use base64::Engine as _;

use super::*;

impl ServerSession {
    /// The credentials (LOGIN or AUTHENTICATE) are good: `user` is logged in.
    pub fn accept_login(&mut self, user: &str) -> Result<(), ApiMisuse> {
        let tag = self.take_login()?;
        self.user = Some(user.to_owned());
        self.state = State::Authenticated;
        self.framer.config_mut().clone_from(&self.config.framing);
        let caps = self.capabilities();
        let code = Code::Capability(caps.iter().map(String::as_str).collect());
        write_status(&mut self.out, tagged(&tag), Status::Ok, Some(&code), "Logged in");
        self.process_frames();
        Ok(())
    }

    /// The credentials are refused: `NO` with `code` (`[AUTHENTICATIONFAILED]` if `None`).
    /// After [`Limits::login_failures`] of them the session ends.
    pub fn reject_login(&mut self, code: Option<Code<'_>>, text: &str) -> Result<(), ApiMisuse> {
        let tag = self.take_login()?;
        self.login_failed(&tag, code, text);
        self.process_frames();
        Ok(())
    }

    /// AUTHENTICATE goes on: sends `+ base64(challenge)` and waits for the client's line.
    pub fn auth_challenge(&mut self, challenge: &[u8]) -> Result<(), ApiMisuse> {
        let tag = self.take_login()?;
        self.out.extend_from_slice(b"+ ");
        self.out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(challenge).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self.pending = Some(Pending::AuthLine { tag });
        self.process_frames();
        Ok(())
    }

    pub(super) fn take_login(&mut self) -> Result<String, ApiMisuse> {
        match self.pending.take() {
            Some(Pending::Login { tag }) => Ok(tag),
            other => {
                self.pending = other;
                Err(self.misuse())
            }
        }
    }

    pub(super) fn auth_line(&mut self, tag: String, raw: &[u8]) {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"*" {
            return self.bad(Some(&tag), "Authentication cancelled");
        }
        if line.len() > self.config.limits.auth_line {
            return self.bad(Some(&tag), "Authentication response too long");
        }
        match base64::engine::general_purpose::STANDARD.decode(line) {
            Ok(data) => {
                self.pending = Some(Pending::Login { tag });
                self.events.push_back(Event::AuthResponse(Secret::new(data)));
            }
            Err(_) => self.bad(Some(&tag), "Invalid base64 in authentication response"),
        }
    }

    /// Answers a failed login and counts it; the last one allowed ends the session.
    pub(super) fn login_failed(&mut self, tag: &str, code: Option<Code<'_>>, text: &str) {
        let code = code.unwrap_or(Code::AuthenticationFailed);
        write_status(&mut self.out, tagged(tag), Status::No, Some(&code), text);
        self.login_failures += 1;
        if self.login_failures >= self.config.limits.login_failures {
            self.bye("Too many invalid authentication attempts");
        }
    }

    /// Whether `mechanism` may be used on this connection now: anything under TLS (or where
    /// plaintext is allowed), challenge-response mechanisms where the configuration says.
    pub(super) fn mechanism_ok(&self, mechanism: &Mechanism<'_>) -> bool {
        self.tls
            || self.config.plaintext_without_tls
            || (!mechanism.sends_password() && self.config.challenge_response_without_tls)
    }

    pub(super) fn authenticate(&mut self, mechanism: &Mechanism<'_>, initial_response: Option<&str>) -> Action {
        if !self.config.mechanisms.contains(mechanism) {
            return Action::No(None, "Unsupported authentication mechanism");
        }
        if !self.mechanism_ok(mechanism) {
            let text = if mechanism.sends_password() {
                "Plaintext authentication disallowed without TLS"
            } else {
                "Authentication disallowed without TLS"
            };
            return Action::No(Some(Code::PrivacyRequired), text);
        }
        let initial_response = match initial_response {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(r) => match base64::engine::general_purpose::STANDARD.decode(r) {
                Ok(data) => Some(data),
                Err(_) => return Action::Bad("Invalid base64 in initial response"),
            },
        };
        Action::Login(Event::AuthStart {
            mechanism: mechanism.clone().into_owned(),
            initial_response: initial_response.map(Secret::new),
        })
    }
}

pub(super) fn prelogin_framing(config: &ServerConfig) -> FramingConfig {
    let f = &config.framing;
    let max_line = f.max_line.max(config.limits.auth_line + 2);
    FramingConfig {
        max_line,
        max_literal: config.limits.prelogin_literal,
        max_command: config.limits.prelogin_literal.saturating_mul(2).saturating_add(max_line as u64),
        literal_plus: f.literal_plus,
        literal_minus: f.literal_minus,
        binary: false,
        stream_literals_above: None,
    }
}
