//! What each command does in each state: the sequencing rules of
//! [RFC 5321 §4.1.4](https://www.rfc-editor.org/rfc/rfc5321#section-4.1.4) and §3.3, and of
//! the extensions.

use super::{Event, Pending, Phase, ServerSession};
use crate::Secret;
use crate::command::{Body, Command};
use crate::data::DataDecoder;
use crate::reply::{Capability, EhloReply, Reply};

const BAD_SEQUENCE: Reply<'static> = Reply::new(503, (5, 5, 1), "Bad sequence of commands");
const NOT_IMPLEMENTED: Reply<'static> = Reply::new(502, (5, 5, 1), "Command not implemented");
const UNSUPPORTED_PARAM: Reply<'static> = Reply::new(555, (5, 5, 4), "Parameter not recognized or not implemented");

impl ServerSession {
    /// One command line, framed and within the length limit.
    pub(super) fn command_line(&mut self, line: &[u8]) {
        let cmd = match Command::parse_line(line) {
            Ok(cmd) => cmd,
            Err(e) => return self.error_reply(&e.reply()),
        };
        if matches!(self.phase, Phase::Refused) {
            return match cmd {
                Command::Quit => self.quit(),
                _ => self.error_reply(&BAD_SEQUENCE),
            };
        }
        match cmd {
            Command::Ehlo { host } => self.hello(host.into_owned().into(), true),
            Command::Helo { host } => self.hello(host.into_owned().into(), false),
            Command::Mail { .. } | Command::Rcpt { .. } | Command::Data if self.helo.is_none() => {
                self.error_reply(&Reply::new(503, (5, 5, 1), "Send HELO or EHLO first"))
            }
            Command::Mail { from, params } => {
                if self.tx.is_some() {
                    return self.error_reply(&Reply::new(503, (5, 5, 1), "Nested MAIL command"));
                }
                if let Some(reply) = self.check_mail_params(&params) {
                    return self.error_reply(&reply);
                }
                let pending =
                    Pending::Mail { smtputf8: params.smtputf8, binary: params.body == Some(Body::BinaryMime) };
                self.decide(pending, Event::MailFrom { from: from.into_owned(), params: params.into_owned() });
            }
            Command::Rcpt { to, params } => {
                let Some(tx) = &self.tx else {
                    return self.error_reply(&Reply::new(503, (5, 5, 1), "Need MAIL before RCPT"));
                };
                if tx.bdat {
                    return self.error_reply(&BAD_SEQUENCE);
                }
                if tx.recipients >= self.config.limits.recipients {
                    return self.error_reply(&Reply::new(452, (4, 5, 3), "Too many recipients"));
                }
                if !tx.smtputf8 && !to.is_ascii() {
                    return self.error_reply(&Reply::new(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8"));
                }
                let dsn = params.notify.is_some() || params.orcpt.is_some();
                if !params.other.is_empty() || (dsn && !self.esmtp_ext(|e| e.dsn)) {
                    return self.error_reply(&UNSUPPORTED_PARAM);
                }
                self.decide(Pending::Rcpt, Event::Recipient { to: to.into_owned(), params: params.into_owned() });
            }
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.reset();
                self.reply(&Reply::new(250, (2, 0, 0), "OK"));
            }
            Command::Noop { .. } => self.reply(&Reply::new(250, (2, 0, 0), "OK")),
            Command::Quit => self.quit(),
            Command::Help { .. } => {
                self.reply(&Reply::new(214, (2, 0, 0), "See RFC 5321: https://www.rfc-editor.org/rfc/rfc5321"))
            }
            Command::Vrfy { arg } if self.config.vrfy => {
                self.decide(Pending::Vrfy, Event::Verify(arg.into_owned().into()))
            }
            Command::Vrfy { .. } => self.reply(&Reply::new(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Expn { arg } if self.config.expn => {
                self.decide(Pending::Expn, Event::Expand(arg.into_owned().into()))
            }
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial_response } => {
                self.auth(mechanism, initial_response.map(Secret::into_inner))
            }
            Command::Etrn { .. } | Command::Atrn { .. } if self.helo.is_none() => {
                self.error_reply(&Reply::new(503, (5, 5, 1), "Send HELO or EHLO first"))
            }
            Command::Etrn { queue } if self.esmtp_ext(|e| e.etrn) => {
                self.decide(Pending::Etrn, Event::Etrn(queue.into_owned().into()))
            }
            Command::Atrn { .. } if self.esmtp_ext(|e| e.atrn) && !self.authenticated => {
                self.error_reply(&Reply::new(530, (5, 7, 0), "Authentication required"))
            }
            Command::Atrn { .. } if self.esmtp_ext(|e| e.atrn) && self.tx.is_some() => self.error_reply(&BAD_SEQUENCE),
            ref atrn @ Command::Atrn { .. } if self.esmtp_ext(|e| e.atrn) => {
                let domains = atrn.atrn_domains().map(str::to_owned).collect();
                self.decide(Pending::Atrn, Event::Atrn { domains });
            }
            Command::Unknown { .. } => self.error_reply(&Reply::new(500, (5, 5, 1), "Command unrecognized")),
            _ => self.error_reply(&NOT_IMPLEMENTED),
        }
    }

    /// Whether an extension is on and the client said EHLO (extensions are EHLO-only).
    fn esmtp_ext(&self, f: impl Fn(&super::Extensions) -> bool) -> bool {
        self.helo == Some(true) && f(&self.config.extensions)
    }

    fn hello(&mut self, host: std::borrow::Cow<'static, str>, esmtp: bool) {
        self.reset();
        self.decide(Pending::Hello { esmtp }, Event::Hello { host, esmtp });
    }

    /// Drops the transaction, telling the embedder if there was one (RFC 5321 §4.1.1.5).
    fn reset(&mut self) {
        if self.tx.take().is_some() {
            self.events.push_back(Event::Reset);
        }
        if self.helo.is_some() {
            self.phase = Phase::Ready;
        }
    }

    fn quit(&mut self) {
        let text = format!("{} Service closing transmission channel", self.config.hostname);
        self.reply(&Reply::new(221, (2, 0, 0), "").with_text(text));
        self.close();
    }

    /// The parameters MAIL may carry given what was advertised.
    fn check_mail_params(&self, p: &crate::command::MailParams<'_>) -> Option<Reply<'static>> {
        let ext = &self.config.extensions;
        let esmtp = self.helo == Some(true);
        let unsupported = !p.other.is_empty()
            || (!esmtp
                && (p.size.is_some()
                    || p.body.is_some()
                    || p.smtputf8
                    || p.ret.is_some()
                    || p.envid.is_some()
                    || p.auth.is_some()
                    || p.requiretls))
            || (p.body == Some(Body::EightBitMime) && !ext.eight_bit_mime)
            || (p.body == Some(Body::BinaryMime) && !(ext.binary_mime && ext.chunking))
            || (p.smtputf8 && !ext.smtputf8)
            || ((p.ret.is_some() || p.envid.is_some()) && !ext.dsn)
            || (p.auth.is_some() && self.config.auth_mechanisms.is_empty())
            || (p.requiretls && !ext.requiretls);
        if unsupported {
            return Some(UNSUPPORTED_PARAM);
        }
        if p.requiretls && !self.tls {
            return Some(Reply::new(530, (5, 7, 10), "REQUIRETLS needs a TLS connection"));
        }
        if let (Some(size), Some(max)) = (p.size, self.config.limits.message_size)
            && size > max
        {
            return Some(Reply::new(552, (5, 3, 4), "Message size exceeds fixed maximum message size"));
        }
        None
    }

    fn data(&mut self) {
        let refusal = match &self.tx {
            None => Some(Reply::new(503, (5, 5, 1), "Need MAIL before DATA")),
            Some(tx) if tx.bdat || tx.binary => {
                Some(Reply::new(503, (5, 5, 1), "DATA not allowed with BDAT or BODY=BINARYMIME"))
            }
            Some(tx) if tx.recipients == 0 => Some(Reply::new(554, (5, 5, 1), "No valid recipients")),
            Some(_) => None,
        };
        if let Some(reply) = refusal {
            return self.error_reply(&reply);
        }
        self.reply(&Reply::basic(354, "Start mail input; end with <CRLF>.<CRLF>"));
        let decoder = DataDecoder::new(self.config.bare_line_endings, self.config.limits.text_line);
        self.phase = Phase::Data(Box::new(decoder));
        self.events.push_back(Event::MessageStart);
    }

    /// BDAT: the chunk's octets follow the line whatever the reply, so a refused chunk is
    /// still read and skipped (RFC 3030 §2).
    fn bdat(&mut self, size: u64, last: bool) {
        let refusal = match &self.tx {
            _ if !self.esmtp_ext(|e| e.chunking) => Some(NOT_IMPLEMENTED),
            None => Some(Reply::new(503, (5, 5, 1), "Need MAIL before BDAT")),
            Some(tx) if tx.recipients == 0 => Some(Reply::new(554, (5, 5, 1), "No valid recipients")),
            Some(_) => None,
        };
        let refused = refusal.is_some();
        if let Some(reply) = refusal {
            self.error_reply(&reply);
            if self.is_closed() {
                return;
            }
        } else if let Some(tx) = &mut self.tx
            && !tx.bdat
        {
            tx.bdat = true;
            self.events.push_back(Event::MessageStart);
        }
        self.phase = Phase::Bdat { remaining: size, last, refused };
        if size == 0 {
            self.phase = Phase::Ready;
            self.bdat_chunk_done(last, refused);
        }
    }

    fn starttls(&mut self) {
        if !self.config.extensions.starttls {
            return self.error_reply(&NOT_IMPLEMENTED);
        }
        if self.tls || self.tx.is_some() {
            return self.error_reply(&BAD_SEQUENCE);
        }
        self.reply(&Reply::new(220, (2, 0, 0), "Ready to start TLS"));
        self.phase = Phase::AwaitingTls;
        self.helo = None;
        self.inbuf.clear();
        self.rpos = 0;
        self.events.push_back(Event::StartTls);
    }

    fn auth(&mut self, mechanism: crate::Mechanism<'_>, initial: Option<std::borrow::Cow<'_, str>>) {
        let refusal = if self.config.auth_mechanisms.is_empty() {
            Some(NOT_IMPLEMENTED)
        } else if self.helo != Some(true) || self.authenticated || self.tx.is_some() {
            Some(BAD_SEQUENCE)
        } else if self.config.auth_requires_tls && !self.tls {
            Some(Reply::new(538, (5, 7, 11), "Encryption required for requested authentication mechanism"))
        } else if !self.config.auth_mechanisms.contains(&mechanism) {
            Some(Reply::new(504, (5, 5, 4), "Unrecognized authentication type"))
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.error_reply(&reply);
        }
        let initial_response = match initial {
            None => None,
            Some(r) => match super::decode_base64(if r.is_empty() { b"=" } else { r.as_bytes() }) {
                Some(bytes) => Some(bytes),
                None => return self.error_reply(&Reply::new(501, (5, 5, 2), "Invalid base64 data")),
            },
        };
        self.decide(
            Pending::Auth,
            Event::AuthStart { mechanism: mechanism.into_owned(), initial_response: initial_response.map(Secret::new) },
        );
    }

    /// The EHLO reply for the session's current state.
    pub(super) fn ehlo_reply(&self) -> Reply<'static> {
        let ext = &self.config.extensions;
        let mut caps = Vec::with_capacity(12);
        let mut on = |enabled: bool, cap: Capability<'static>| {
            if enabled {
                caps.push(cap);
            }
        };
        on(ext.pipelining, Capability::Pipelining);
        on(true, Capability::Size(Some(self.config.limits.message_size.unwrap_or(0))));
        on(ext.eight_bit_mime, Capability::EightBitMime);
        on(ext.smtputf8, Capability::SmtpUtf8);
        on(ext.chunking, Capability::Chunking);
        on(ext.chunking && ext.binary_mime, Capability::BinaryMime);
        on(ext.dsn, Capability::Dsn);
        on(ext.enhanced_status_codes, Capability::EnhancedStatusCodes);
        on(ext.starttls && !self.tls, Capability::StartTls);
        let auth_offered = !self.config.auth_mechanisms.is_empty()
            && !self.authenticated
            && (self.tls || !self.config.auth_requires_tls);
        on(auth_offered, Capability::Auth(self.config.auth_mechanisms.clone()));
        on(ext.etrn, Capability::Etrn);
        on(ext.atrn, Capability::Atrn);
        on(ext.requiretls && self.tls, Capability::RequireTls);
        on(self.config.vrfy, Capability::Unknown { keyword: "VRFY".into(), params: "".into() });
        let greeting = "Hello".into();
        EhloReply { domain: self.config.hostname.clone().into(), greeting, capabilities: caps }.to_reply()
    }
}
