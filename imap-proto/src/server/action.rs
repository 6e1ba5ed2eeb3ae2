//! What the session makes of each parsed command in its state: the answers it gives
//! itself (CAPABILITY, ID, ENABLE, the login commands, COMPRESS, state errors), and which
//! commands go to the embedder; and the capabilities it advertises.

use crate::Secret;
use crate::command::{Body, Command};
use crate::response::{Code, Data, Status, write_data, write_status, write_string};

use super::{After, Event, ServerSession, State};

impl ServerSession {
    /// The capabilities for the current state.
    pub(super) fn capabilities(&self) -> Vec<String> {
        let mut caps = vec!["IMAP4rev1".to_owned()];
        if self.state == State::NotAuthenticated {
            if self.config.starttls && !self.tls {
                caps.push("STARTTLS".to_owned());
            }
            if !(self.tls || self.config.plaintext_without_tls) {
                caps.push("LOGINDISABLED".to_owned());
            }
            for m in &self.config.mechanisms {
                if self.mechanism_ok(m) {
                    caps.push(format!("AUTH={m}"));
                }
            }
        }
        let framing = &self.config.framing;
        if framing.literal_plus {
            caps.push("LITERAL+".to_owned());
        } else if framing.literal_minus {
            caps.push("LITERAL-".to_owned());
        }
        if framing.binary {
            caps.push("BINARY".to_owned());
        }
        caps.extend(["SASL-IR", "ID", "ENABLE", "IDLE"].map(str::to_owned));
        if self.config.compress && self.state != State::NotAuthenticated && !self.compressed {
            caps.push("COMPRESS=DEFLATE".to_owned());
        }
        caps.extend(self.config.extensions.iter().cloned());
        caps
    }

    /// What to do with a parsed command in the current state.
    pub(super) fn action(&mut self, cmd: &Command<'_>) -> Action {
        let authenticated = matches!(self.state, State::Authenticated | State::Selected { .. });
        let selected = matches!(self.state, State::Selected { .. });
        match &cmd.body {
            Body::Capability => {
                let caps = self.capabilities();
                write_data(&mut self.out, &Data::Capability(caps.iter().map(String::as_str).collect()));
                Action::Ok("CAPABILITY completed")
            }
            Body::Logout => Action::Logout,
            Body::Noop if !authenticated => Action::Ok("NOOP completed"),
            Body::Id { .. } => {
                self.out.extend_from_slice(b"* ID (");
                for (i, (k, v)) in self.config.id.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b' ');
                    }
                    write_string(&mut self.out, k.as_bytes());
                    self.out.push(b' ');
                    write_string(&mut self.out, v.as_bytes());
                }
                self.out.extend_from_slice(b")\r\n");
                Action::Ok("ID completed")
            }
            Body::StartTls | Body::Login { .. } | Body::Authenticate { .. } if authenticated => {
                Action::Bad("Already authenticated")
            }
            Body::StartTls if self.tls || !self.config.starttls => Action::Bad("STARTTLS not available"),
            Body::StartTls => Action::StartTls,
            Body::Login { .. } if !self.tls && !self.config.plaintext_without_tls => {
                Action::No(Some(Code::PrivacyRequired), "Plaintext authentication disallowed without TLS")
            }
            Body::Login { username, password } => {
                // User names and passwords are text (RFC 4013's SASLprep works on Unicode
                // strings): octets that are not UTF-8 match no account.
                match (std::str::from_utf8(username), std::str::from_utf8(password.expose())) {
                    (Ok(user), Ok(password)) => Action::Login(Event::Login {
                        user: user.to_owned(),
                        password: Secret::new(password.to_owned()),
                    }),
                    _ => Action::LoginFailed,
                }
            }
            Body::Authenticate { mechanism, initial_response } => {
                self.authenticate(mechanism, initial_response.as_ref().map(|r| r.expose().as_ref()))
            }
            Body::Enable { capabilities } if self.state == State::Authenticated => {
                let mut newly = Vec::new();
                for cap in capabilities {
                    // Named back as the server spells it (`IMAP4rev2`).
                    let offered = self.config.enable.iter().find(|c| c.eq_ignore_ascii_case(cap));
                    if let Some(offered) = offered.filter(|_| !self.is_enabled(cap)).cloned() {
                        self.enabled.push(offered.clone());
                        newly.push(offered);
                    }
                }
                // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
                if self.is_enabled("QRESYNC") {
                    self.mark_enabled("CONDSTORE");
                }
                write_data(&mut self.out, &Data::Enabled(newly.iter().map(String::as_str).collect()));
                Action::Ok("ENABLE completed")
            }
            Body::Enable { .. } if authenticated => Action::Bad("ENABLE is valid only before SELECT"),
            _ if !authenticated => Action::Bad("Not authenticated"),
            Body::Compress { .. } if !self.config.compress => Action::Bad("COMPRESS not available"),
            Body::Compress { .. } if self.compressed => {
                Action::No(Some(Code::CompressionActive), "Compression is already active")
            }
            Body::Compress { algorithm } if algorithm.eq_ignore_ascii_case("DEFLATE") => Action::Compress,
            Body::Compress { .. } => Action::Bad("Unknown compression algorithm"),
            Body::Idle => Action::Idle,
            Body::Select { params, .. } | Body::Examine { params, .. }
                if params.qresync.is_some() && !self.is_enabled("QRESYNC") =>
            {
                Action::Bad("QRESYNC is not enabled")
            }
            Body::Fetch { modifiers, .. } if modifiers.vanished && !self.is_enabled("QRESYNC") => {
                Action::Bad("QRESYNC is not enabled")
            }
            Body::Select { .. } | Body::Examine { .. } => {
                // The selected mailbox closes as the new one is looked up (RFC 7162 §3.2.11,
                // RFC 9051 §6.3.2): the client learns where its responses stop applying.
                if selected {
                    write_status(&mut self.out, None, Status::Ok, Some(&Code::Closed), "Previous mailbox closed");
                }
                Action::Embedder(After::Select { read_only: matches!(cmd.body, Body::Examine { .. }) })
            }
            Body::Close | Body::Unselect if selected => Action::Embedder(After::Deselect),
            Body::Check
            | Body::Close
            | Body::Unselect
            | Body::Expunge
            | Body::UidExpunge { .. }
            | Body::Copy { .. }
            | Body::Move { .. }
            | Body::Store { .. }
            | Body::Fetch { .. }
            | Body::Search { .. }
            | Body::Sort { .. }
            | Body::Thread { .. }
            | Body::CancelUpdate { .. }
                if !selected =>
            {
                Action::Bad("No mailbox selected")
            }
            _ => Action::Embedder(After::Nothing),
        }
    }
}

/// What the session does with one command.
pub(super) enum Action {
    Ok(&'static str),
    Bad(&'static str),
    No(Option<Code<'static>>, &'static str),
    Logout,
    StartTls,
    Compress,
    Login(Event),
    /// A login that cannot succeed: answered and counted as a rejected one.
    LoginFailed,
    Idle,
    Embedder(After),
}
