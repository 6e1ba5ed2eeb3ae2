//! Checks of arriving mail at the end of data: SPF (RFC 7208) for the HELO name and the
//! MAIL FROM identity, every DKIM signature (RFC 6376, RFC 8463), the ARC chain (RFC 8617)
//! and DMARC (RFC 7489, with the record discovery of its successor) with alignment, written
//! as one `Authentication-Results` field (RFC 8601). `mail-auth` evaluates; DNS is
//! hickory's resolver (and its cache) of `[outbound] dns_servers`.
//!
//! Bounded whatever the message and its DNS: one deadline for all the lookups of a message
//! (`timeout_ms`; what is unanswered then is a `temperror`), at most `max_signatures` DKIM
//! signatures looked at, and no DKIM/ARC/DMARC work on messages over `max_message_size`
//! (SPF still runs). SPF's limits: mail-auth's 10 DNS-querying terms and 20 s, and here
//! the two void lookups of RFC 7208 §4.6.4 (mail-auth has none), counted through its
//! cache hooks: a lookup asked for and never answered with a record was void.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcOutput, DmarcResult, DnsError,
    Error, MessageAuthenticator, Parameters, RecordSet, ResolverCache, SpfOutput, SpfResult, Txt,
};
use serde::Deserialize;
use tokio::time::{Instant, timeout_at};

use super::fields;

/// `[authentication]`: how arriving mail is checked (where is each listener's choice).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AuthConfig {
    /// The name our `Authentication-Results` fields carry (RFC 8601 §2.5); default: the
    /// hostname. Fields with it that arrive with a message are removed at delivery.
    pub(crate) authserv_id: Option<String>,
    /// All the DNS of one message's checks, in milliseconds; then `temperror`.
    pub(crate) timeout_ms: u64,
    /// DKIM signatures looked at per message (the rest are ignored, and said so).
    pub(crate) max_signatures: usize,
    /// Larger messages get SPF only (the others need the whole message in memory).
    pub(crate) max_message_size: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { authserv_id: None, timeout_ms: 10_000, max_signatures: 10, max_message_size: 16 << 20 }
    }
}

/// A listener's answer to a DMARC failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DmarcAction {
    /// As the domain asks: `p=reject` → `550 5.7.1`, `p=quarantine` → the Junk folder.
    #[default]
    Enforce,
    /// Both to the Junk folder; nothing refused.
    Junk,
    /// Only noted in `Authentication-Results`.
    Note,
}

/// A listener's answer to an SPF `fail` (the domain's `-all`) of the MAIL FROM identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SpfAction {
    /// Noted in `Authentication-Results` (DMARC weighs it).
    #[default]
    Note,
    /// `550 5.7.23` (RFC 7372).
    Reject,
}

/// What the checks found.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// `Authentication-Results: …` CRLF.
    pub(crate) header: String,
    /// DMARC failed and the domain asks for this (`None` when it passed or asks nothing).
    pub(crate) dmarc: Option<(Policy, String)>,
    /// The MAIL FROM identity's SPF result is `fail`: its domain.
    pub(crate) spf_fail: Option<String>,
    /// The reverse path is its domain's: SPF passed for it, or a DKIM signature of that
    /// domain (or its parent) verified. What answers the sender automatically needs this.
    pub(crate) sender_verified: bool,
    /// For logs: `spf=… dkim=… dmarc=…`.
    pub(crate) summary: String,
    /// The ARC set sealing these results, when asked for (a forward) and the chain allows.
    pub(crate) arc_seal: Option<String>,
}

/// What a listener does with a verdict.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Refused at the end of data: code, enhanced code, text.
    Refuse(u16, (u8, u16, u16), String),
    /// Delivered to the recipients' Junk folders.
    Junk,
    /// Delivered.
    Accept,
}

impl Verdict {
    /// The listener's answer under its `dmarc_policy` and `spf_policy`.
    pub(crate) fn outcome(&self, ip: IpAddr, dmarc: DmarcAction, spf: SpfAction) -> Outcome {
        if let Some(domain) = self.spf_fail.as_deref().filter(|_| spf == SpfAction::Reject) {
            return Outcome::Refuse(
                550,
                (5, 7, 23),
                format!("SPF of {domain} does not authorize [{ip}] to send its mail"),
            );
        }
        match (&self.dmarc, dmarc) {
            (Some((Policy::Reject, domain)), DmarcAction::Enforce) => Outcome::Refuse(
                550,
                (5, 7, 1),
                format!("Rejected by the DMARC policy of {domain}: not authenticated as {domain}"),
            ),
            (Some(_), DmarcAction::Enforce | DmarcAction::Junk) => Outcome::Junk,
            _ => Outcome::Accept,
        }
    }
}

/// Messages over this size are read back from their spool file for the checks only a few
/// at a time ([`Checker::large`]), so many large messages at once cannot multiply memory.
pub(crate) const LARGE: u64 = 1 << 20;

/// Runs the checks.
pub(crate) struct Checker {
    /// Permits for reading a large message back (two per core, at least four).
    pub(crate) large: tokio::sync::Semaphore,
    auth: MessageAuthenticator,
    authserv_id: String,
    timeout: Duration,
    max_signatures: usize,
    max_size: u64,
}

/// The largest header section the DKIM, ARC and DMARC checks read (Postfix keeps 100 KiB
/// of a header; real ones are a few KiB). Past it: SPF only.
const MAX_HEADER_SECTION: usize = 256 * 1024;

/// RFC 7208 §4.6.4: past this many lookups that find nothing, `permerror`.
const MAX_VOID_LOOKUPS: usize = 2;

/// mail-auth's cache hooks used as a counter: every lookup SPF evaluation makes asks `get`
/// first (this cache never answers) and `insert`s what it found; asked minus found is the
/// void lookups (NXDOMAIN, or no record of the type). The TXT names found are kept, for
/// `spf_syntax`'s look at the records read.
#[derive(Default)]
struct VoidCounter {
    asked: AtomicUsize,
    found: AtomicUsize,
    txt_names: std::sync::Mutex<Vec<Box<str>>>,
}

impl ResolverCache<Box<str>, Txt> for VoidCounter {
    fn get<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.asked.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, name: Box<str>, _: Txt, _: std::time::Instant) {
        self.found.fetch_add(1, Ordering::Relaxed);
        self.txt_names.lock().unwrap_or_else(|p| p.into_inner()).push(name);
    }
}

impl<K, T> ResolverCache<K, RecordSet<T>> for VoidCounter {
    fn get<Q>(&self, _: &Q) -> Option<RecordSet<T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.asked.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn remove<Q>(&self, _: &Q) -> Option<RecordSet<T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: K, value: RecordSet<T>, _: std::time::Instant) {
        if !value.rrset.is_empty() {
            self.found.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl VoidCounter {
    fn voids(&self) -> usize {
        self.asked.load(Ordering::Relaxed).saturating_sub(self.found.load(Ordering::Relaxed))
    }
}

/// Whether ARC verification read all `sets` the message carries (not a default output from
/// a timeout or a skipped chain).
fn arc_sets_read(arc: &ArcOutput<'_>, sets: usize) -> bool {
    sets == 0 || arc.sets().len() == sets
}

fn timed_out() -> Error {
    Error::Dns(DnsError::Resolver("timed out (timeout_ms)".into()))
}

fn spf_word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

impl Checker {
    /// A checker over `resolver` (the outbound one: its cache serves both).
    pub(crate) fn new(config: &AuthConfig, hostname: &str, resolver: TokioResolver) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            large: tokio::sync::Semaphore::new((2 * cores).max(4)),
            auth: MessageAuthenticator(resolver),
            authserv_id: config.authserv_id.clone().unwrap_or_else(|| hostname.to_owned()),
            timeout: Duration::from_millis(config.timeout_ms),
            max_signatures: config.max_signatures,
            max_size: config.max_message_size,
        }
    }

    /// The largest message whose content is checked.
    pub(crate) fn max_size(&self) -> u64 {
        self.max_size
    }

    /// SPF for the HELO name and the MAIL FROM identity (the HELO one for the null sender,
    /// RFC 7208 §2.4), within `deadline`.
    pub(crate) async fn spf(
        &self,
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        deadline: Instant,
    ) -> (SpfOutput, SpfOutput) {
        let host = self.authserv_id.as_str();
        let ehlo = self.check_host(SpfParameters::verify_ehlo(ip, helo, host), helo, deadline).await;
        let mail = match mail_from {
            "" => ehlo.clone(),
            sender => {
                let domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d);
                self.check_host(SpfParameters::verify_mail_from(ip, helo, host, sender), domain, deadline).await
            }
        };
        (ehlo, mail)
    }

    /// One SPF evaluation, its void lookups counted, within `deadline`.
    async fn check_host(&self, params: SpfParameters<'_>, domain: &str, deadline: Instant) -> SpfOutput {
        let counter = VoidCounter::default();
        let params = Parameters::new(params)
            .with_txt_cache(&counter)
            .with_mx_cache(&counter)
            .with_ipv4_cache(&counter)
            .with_ipv6_cache(&counter)
            .with_ptr_cache(&counter);
        let Ok(out) = timeout_at(deadline, self.auth.verify_spf(params)).await else {
            return SpfOutput::new(domain.to_owned()).with_result(SpfResult::TempError);
        };
        if matches!(out.result(), SpfResult::TempError | SpfResult::PermError) {
            return out;
        }
        let permerror = |why: String| {
            SpfOutput::new(out.domain().to_owned()).with_result(SpfResult::PermError).with_explanation(why)
        };
        if counter.voids() > MAX_VOID_LOOKUPS {
            return permerror("more than two void lookups (RFC 7208 section 4.6.4)".to_owned());
        }
        // The records evaluation read, as RFC 7208 reads them (from the resolver's cache).
        let names = std::mem::take(&mut *counter.txt_names.lock().unwrap_or_else(|p| p.into_inner()));
        for name in names {
            let Ok(Ok(lookup)) = timeout_at(deadline, self.auth.resolver().txt_lookup(&*name)).await else { continue };
            let records: Vec<Vec<u8>> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_resolver::proto::rr::RData::TXT(t) => Some(t.txt_data.concat()),
                    _ => None,
                })
                .collect();
            if let Some(problem) = super::spf_syntax::check_records(&records) {
                return permerror(format!("{name}: {problem}"));
            }
        }
        out
    }

    /// Every check for one message as received (`message`: its header section and body;
    /// `None` when it is over `max_message_size`, for SPF only). With `seal`, a message
    /// DMARC did not fail is ARC-sealed with that key (it is about to be forwarded).
    pub(crate) async fn check(
        &self,
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        message: Option<&[u8]>,
        seal: Option<&super::keys::Key>,
    ) -> Verdict {
        let deadline = Instant::now() + self.timeout;
        let helo_domain = if helo.is_empty() { "unknown" } else { helo };
        let (spf_ehlo, spf_mail) = self.spf(ip, helo_domain, mail_from, deadline).await;
        let spf_fail = (spf_mail.result() == SpfResult::Fail).then(|| spf_mail.domain().to_owned());
        let mut notes = Vec::new();

        let trimmed;
        // What is not read: a message over `max_message_size`, or one whose header section
        // is past any real one's (mail-auth keeps an entry per field).
        let skipped = match message {
            Some(m) if m.len() as u64 > self.max_size => Some(format!("over {} octets", self.max_size)),
            Some(m) if super::sign::header_section(m).len() > MAX_HEADER_SECTION => {
                Some(format!("a header section over {} octets", MAX_HEADER_SECTION))
            }
            Some(_) => None,
            None => Some(format!("over {} octets", self.max_size)),
        };
        let mut message = message.filter(|_| skipped.is_none());
        if let Some(shorter) = message.and_then(|m| fields::keep_first(m, b"dkim-signature", self.max_signatures)) {
            notes.push(format!("only the first {} DKIM signatures were checked", self.max_signatures));
            trimmed = shorter;
            message = Some(&trimmed);
        }
        let parsed = message.and_then(AuthenticatedMessage::parse);
        let mail_from_domain = match mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            None => helo_domain,
        };
        let mut results = AuthenticationResults::new(&self.authserv_id);
        let mut dmarc_verdict = None;
        let mut arc_seal = None;
        let mut sender_verified = spf_mail.result() == SpfResult::Pass;
        let mut summary = format!("spf={}", spf_word(spf_mail.result()));
        match &parsed {
            Some(m) => {
                let dkim = timeout_at(deadline, self.auth.verify_dkim(m))
                    .await
                    .unwrap_or_else(|_| vec![DkimOutput::temp_err(timed_out())]);
                // Each ARC set hashes the body again: a chain past `max_signatures` sets fails
                // unread (RFC 8617 allows 50; no honest path is that long).
                let sets = fields::count(message.unwrap_or_default(), b"arc-seal");
                let arc: ArcOutput<'_> = if sets > self.max_signatures {
                    notes.push(format!("{sets} ARC sets: not verified"));
                    ArcOutput::default()
                        .with_result(DkimResult::Fail(Error::Arc(mail_auth::arc::ArcError::ChainTooLong)))
                } else {
                    timeout_at(deadline, self.auth.verify_arc(m))
                        .await
                        .unwrap_or_else(|_| ArcOutput::default().with_result(DkimResult::TempError(timed_out())))
                };
                let dmarc = timeout_at(
                    deadline,
                    self.auth.verify_dmarc(DmarcParameters::new(m, &dkim, mail_from_domain, &spf_mail)),
                )
                .await
                .unwrap_or_else(|_| {
                    let domain = m.from().rsplit_once('@').map_or("", |(_, d)| d).to_owned();
                    DmarcOutput::new(domain)
                        .with_dkim_result(DmarcResult::TempError(timed_out()))
                        .with_spf_result(DmarcResult::TempError(timed_out()))
                });
                let from = m.from().to_owned();
                let sender_domain = mail_from_domain.to_ascii_lowercase();
                sender_verified |= !mail_from.is_empty()
                    && dkim.iter().any(|d| {
                        d.result() == &DkimResult::Pass
                            && d.signature().is_some_and(|s| {
                                let d = s.d.to_ascii_lowercase();
                                sender_domain == d || sender_domain.ends_with(&format!(".{d}"))
                            })
                    });
                results = results.with_dkim_results(&dkim, &from);
                for d in &dkim {
                    summary.push_str(&format!(" dkim={}", dkim_word(d.result())));
                }
                if dkim.is_empty() {
                    summary.push_str(" dkim=none");
                }
                results = results.with_spf_ehlo_result(&spf_ehlo, ip, helo_domain).with_spf_mailfrom_result(
                    &spf_mail,
                    ip,
                    mail_from,
                    helo_domain,
                );
                if !matches!(arc.result(), DkimResult::None) {
                    results = results.with_arc_result(&arc, ip);
                    summary.push_str(&format!(" arc={}", dkim_word(arc.result())));
                }
                if dmarc.dmarc_record().is_some() || !matches!(dmarc.result(), DmarcResult::None) {
                    results = results.with_dmarc_result(&dmarc);
                }
                summary.push_str(&format!(" dmarc={}", dmarc_word(&dmarc.result())));
                if matches!(dmarc.result(), DmarcResult::Fail(_))
                    && matches!(dmarc.policy(), Policy::Reject | Policy::Quarantine)
                {
                    dmarc_verdict = Some((dmarc.policy(), dmarc.domain().to_owned()));
                }
                // Seal only a chain read whole (every set it carries verified or failed by
                // verification, not skipped), and mail DMARC let through.
                let whole = arc_sets_read(&arc, sets) && sets <= self.max_signatures;
                if let Some(key) = seal.filter(|_| whole && dmarc_verdict.is_none()) {
                    match key.arc_seal(m, &results, &arc) {
                        Ok(set) => arc_seal = Some(set),
                        Err(e) => tracing::info!(domain = %key.domain, error = %e, "not ARC-sealed"),
                    }
                }
            }
            None => {
                results = results.with_spf_ehlo_result(&spf_ehlo, ip, helo_domain).with_spf_mailfrom_result(
                    &spf_mail,
                    ip,
                    mail_from,
                    helo_domain,
                );
                notes.push(match &skipped {
                    Some(why) => format!("{why}: DKIM and DMARC not checked"),
                    None => "no header section: DKIM and DMARC not checked".to_owned(),
                });
            }
        }
        let mut header = results.to_header();
        if !notes.is_empty() {
            // A comment after the last result (RFC 8601 §2.2 allows CFWS there).
            let comment: String = notes.join("; ").chars().filter(|c| *c != '(' && *c != ')').collect();
            if let Some(body) = header.strip_suffix("\r\n") {
                header = format!("{body}\r\n\t({comment})\r\n");
            }
        }
        Verdict { header, dmarc: dmarc_verdict, spf_fail, sender_verified, summary, arc_seal }
    }
}

#[cfg(test)]
mod tests {
    use mail_auth::AuthenticatedMessage;
    use proptest::prelude::*;

    /// A header field mail-auth reads closely, with a hostile value.
    fn field() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("DKIM-Signature"),
            Just("ARC-Seal"),
            Just("ARC-Message-Signature"),
            Just("ARC-Authentication-Results"),
            Just("From"),
            Just("Received"),
            Just("Content-Type"),
        ];
        let tag = prop_oneof![
            Just("v=1"),
            Just("a=rsa-sha256"),
            Just("a=ed25519-sha256"),
            Just("c=relaxed/simple"),
            Just("d=example.org"),
            Just("s=sel"),
            Just("i=@example.org"),
            Just("i=99999999999"),
            Just("l=18446744073709551615"),
            Just("h=from:from:to"),
            Just("bh=AAAA"),
            Just("b="),
            Just("cv=pass"),
            Just("x=0"),
            Just("t=-1"),
        ];
        (name, prop::collection::vec(prop_oneof![tag.prop_map(str::to_owned), "[ -~]{0,20}"], 0..12))
            .prop_map(|(n, tags)| format!("{n}: {}\r\n", tags.join("; ")))
    }

    proptest! {
        /// mail-auth's parsing of a message (DKIM and ARC fields included) never panics on
        /// what a client may send.
        #[test]
        fn hostile_headers_parse(fields in prop::collection::vec(field(), 0..20), body in "[\\x00-\\xff]{0,200}") {
            let message = format!("{}\r\n{body}", fields.concat());
            let _ = AuthenticatedMessage::parse(message.as_bytes());
        }

        #[test]
        fn arbitrary_octets_parse(message in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = AuthenticatedMessage::parse(&message);
        }
    }
}
