//! Delivery status notifications ([RFC 3464](https://www.rfc-editor.org/rfc/rfc3464)):
//! `multipart/report; report-type=delivery-status` with a human-readable part, the
//! `message/delivery-status` fields, and the original header section (or, for a failure
//! when the sender asked `RET=FULL`, the whole message). Built with mail-builder; sent from
//! the null reverse path, so no DSN is ever answered with another.

use std::io;

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};

use crate::identity::directory::rfc5322_date;
use crate::store::outbound_queue::RcptState;
use crate::store::spool::{Envelope, Recipient};

/// What a report says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Failure,
    Delay,
    Success,
}

impl Kind {
    fn action(self) -> &'static str {
        match self {
            Self::Failure => "failed",
            Self::Delay => "delayed",
            // Handed to a next hop that will not report (RFC 3464 §2.3.3).
            Self::Success => "relayed",
        }
    }

    /// The `NOTIFY` keyword that asks for this kind.
    pub(crate) fn notify_keyword(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Delay => "delay",
            Self::Success => "success",
        }
    }
}

/// Whether a recipient asked for reports of `kind`: `NOTIFY` as given, or failures and
/// delays when it gave none (RFC 3461 §4.1 leaves the default to the MTA).
pub(crate) fn wants(rcpt: &Recipient, kind: Kind) -> bool {
    match rcpt.notify.as_deref() {
        None => kind != Kind::Success,
        Some(list) => list.split(',').any(|k| k.trim().eq_ignore_ascii_case(kind.notify_keyword())),
    }
}

/// The header section of a message (up to the first empty line).
fn header_section(content: &[u8]) -> &[u8] {
    let end = content.windows(4).position(|w| w == b"\r\n\r\n").map_or(content.len(), |p| p + 4);
    &content[..end]
}

/// Text that may go in a header field: control characters become spaces.
fn field(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The recipient a report names: the address the sender gave. A forward's target is the
/// forwarding user's private business (RFC 3461 §6.3: the original recipient is reported).
fn reported(r: &Recipient) -> &str {
    r.original.as_deref().unwrap_or(&r.address)
}

/// The remote server's words, with a forward's target replaced by the address the sender
/// gave.
fn diagnostic(r: &Recipient, s: &RcptState) -> String {
    let Some(original) = &r.original else { return s.last_error.clone() };
    // In any case: servers echo addresses lower-cased, too.
    let (text, lower, needle) = (&s.last_error, s.last_error.to_ascii_lowercase(), r.address.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(&needle).filter(|_| !needle.is_empty()) {
        out.push_str(&text[at..at + found]);
        out.push_str(original);
        at += found + needle.len();
    }
    out.push_str(&text[at..]);
    out
}

/// Builds the report for `rcpts` of `envelope` (each with its state). `until` is when a
/// delayed message will bounce.
pub(crate) fn build(
    kind: Kind,
    hostname: &str,
    envelope: &Envelope,
    content: &[u8],
    rcpts: &[(&Recipient, &RcptState)],
    now: u64,
    until: u64,
) -> io::Result<Vec<u8>> {
    let (subject, intro) = match kind {
        Kind::Failure => (
            "Undelivered Mail Returned to Sender",
            "Your message could not be delivered to the recipients below. This is a permanent error.",
        ),
        Kind::Delay => (
            "Delayed Mail (still being retried)",
            "Your message has not yet been delivered to the recipients below. No action is needed: \
             delivery will be retried.",
        ),
        Kind::Success => (
            "Successful Mail Delivery Report",
            "Your message was delivered to the mail servers of the recipients below, which do not send \
             delivery reports.",
        ),
    };
    let mut human = format!("This is the mail system at {hostname}.\r\n\r\n{intro}\r\n\r\n");
    for (r, s) in rcpts {
        human.push_str(&format!("<{}>", field(reported(r))));
        if !s.last_error.is_empty() {
            human.push_str(&format!(": {}", field(&diagnostic(r, s))));
        }
        human.push_str("\r\n");
    }
    if kind == Kind::Delay {
        human.push_str(&format!("\r\nDelivery will be tried until {}.\r\n", rfc5322_date(until)));
    }

    let mut status = format!("Reporting-MTA: dns; {}\r\n", field(hostname));
    if let Some(envid) = &envelope.envid {
        status.push_str(&format!("Original-Envelope-Id: {}\r\n", field(envid)));
    }
    status.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(envelope.received)));
    for (r, s) in rcpts {
        status.push_str("\r\n");
        if let Some(orcpt) = &r.orcpt {
            status.push_str(&format!("Original-Recipient: {}\r\n", field(orcpt)));
        }
        status.push_str(&format!("Final-Recipient: rfc822; {}\r\n", field(reported(r))));
        status.push_str(&format!("Action: {}\r\n", kind.action()));
        let code = match (kind, s.status_code.as_str()) {
            (_, c) if !c.is_empty() => c.to_owned(),
            (Kind::Failure, _) => "5.0.0".to_owned(),
            (Kind::Delay, _) => "4.0.0".to_owned(),
            (Kind::Success, _) => "2.0.0".to_owned(),
        };
        status.push_str(&format!("Status: {code}\r\n"));
        if !s.remote.is_empty() && r.original.is_none() {
            status.push_str(&format!("Remote-MTA: dns; {}\r\n", field(&s.remote)));
        }
        if !s.last_error.is_empty() {
            status.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", field(&diagnostic(r, s))));
        }
        status.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc5322_date(now)));
        if kind == Kind::Delay {
            status.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }

    // The whole message goes back only when asked for, and never to a sender that did not
    // log in when a forward is involved: anyone can claim a sender, and the report would
    // send the forwarded copy wherever it was claimed (RFC 3461 §4.3 lets us choose).
    let forwarded = rcpts.iter().any(|(r, _)| r.original.is_some());
    let full = kind == Kind::Failure && envelope.ret_full && (envelope.authenticated || !forwarded);
    let original = if full {
        MimePart::new(ContentType::new("message/rfc822"), BodyPart::Binary(content.into()))
    } else {
        MimePart::new(ContentType::new("text/rfc822-headers"), BodyPart::Binary(header_section(content).into()))
    };
    let eight_bit = content.iter().any(|&b| b >= 0x80);
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        BodyPart::Multipart(vec![
            MimePart::new(ContentType::new("text/plain").attribute("charset", "utf-8"), BodyPart::Text(human.into())),
            MimePart::new(ContentType::new("message/delivery-status"), BodyPart::Binary(status.into_bytes().into()))
                .transfer_encoding("7bit"),
            original.transfer_encoding(if eight_bit { "8bit" } else { "7bit" }),
        ]),
    );
    MessageBuilder::new()
        .from(("Mail Delivery System".to_owned(), format!("MAILER-DAEMON@{hostname}")))
        .to(envelope.from.as_str())
        .subject(subject)
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_defaults_and_lists() {
        let r = |n: Option<&str>| Recipient { notify: n.map(str::to_owned), ..Recipient::default() };
        assert!(wants(&r(None), Kind::Failure) && wants(&r(None), Kind::Delay) && !wants(&r(None), Kind::Success));
        assert!(!wants(&r(Some("never")), Kind::Failure));
        assert!(wants(&r(Some("success,failure")), Kind::Success) && !wants(&r(Some("success")), Kind::Delay));
    }

    #[test]
    fn a_failure_report_has_the_three_parts() {
        let env = Envelope {
            id: "0".into(),
            from: "s@example.org".into(),
            envid: Some("QQ314159".into()),
            ..Envelope::default()
        };
        let rcpt = Recipient {
            address: "x@remote.test".into(),
            orcpt: Some("rfc822;X@remote.test".into()),
            ..Recipient::default()
        };
        let state = RcptState {
            status_code: "5.1.1".into(),
            last_error: "550 5.1.1 no such user".into(),
            remote: "mx.remote.test".into(),
            ..RcptState::default()
        };
        let content = b"Subject: hello\r\nFrom: s@example.org\r\n\r\nsecret body\r\n";
        let dsn = build(Kind::Failure, "mx.example.org", &env, content, &[(&rcpt, &state)], 0, 0).unwrap();
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"delivery-status\"") || text.contains("report-type=delivery-status"),
            "{text}"
        );
        for f in [
            "Original-Envelope-Id: QQ314159",
            "Original-Recipient: rfc822;X@remote.test",
            "Final-Recipient: rfc822; x@remote.test",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user",
            "Content-Type: text/rfc822-headers",
            "Subject: hello",
        ] {
            assert!(text.contains(f), "{f} missing in\n{text}");
        }
        assert!(!text.contains("secret body"), "headers only without RET=FULL");
    }

    /// A forwarded recipient is reported as the address the sender gave; the forward's
    /// target appears nowhere, and an unauthenticated sender gets headers only.
    #[test]
    fn a_forward_target_is_never_revealed() {
        let mut env = Envelope { id: "0".into(), from: "s@example.org".into(), ret_full: true, ..Envelope::default() };
        let rcpt = Recipient {
            address: "Private@Hidden.test".into(),
            original: Some("alice@example.org".into()),
            ..Recipient::default()
        };
        let state = RcptState {
            last_error: "550 5.1.1 <private@hidden.test>: no such user".into(),
            remote: "mx.hidden.test".into(),
            ..RcptState::default()
        };
        let content = b"Subject: hello\r\n\r\nsecret body\r\n";
        let text =
            String::from_utf8(build(Kind::Failure, "mx", &env, content, &[(&rcpt, &state)], 0, 0).unwrap()).unwrap();
        assert!(text.contains("Final-Recipient: rfc822; alice@example.org"), "{text}");
        assert!(text.contains("<alice@example.org>: no such user"), "{text}");
        assert!(!text.to_ascii_lowercase().contains("hidden.test"), "{text}");
        assert!(!text.contains("secret body"), "{text}");
        env.authenticated = true;
        let text =
            String::from_utf8(build(Kind::Failure, "mx", &env, content, &[(&rcpt, &state)], 0, 0).unwrap()).unwrap();
        assert!(text.contains("secret body"), "a logged-in sender gets what it asked for");
    }
}
