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

use super::store::RcptState;
use crate::directory::rfc5322_date;
use crate::spool::{Envelope, Recipient};

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
        human.push_str(&format!("<{}>", field(&r.address)));
        if !s.last_error.is_empty() {
            human.push_str(&format!(": {}", field(&s.last_error)));
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
        status.push_str(&format!("Final-Recipient: rfc822; {}\r\n", field(&r.address)));
        status.push_str(&format!("Action: {}\r\n", kind.action()));
        let code = match (kind, s.status_code.as_str()) {
            (_, c) if !c.is_empty() => c.to_owned(),
            (Kind::Failure, _) => "5.0.0".to_owned(),
            (Kind::Delay, _) => "4.0.0".to_owned(),
            (Kind::Success, _) => "2.0.0".to_owned(),
        };
        status.push_str(&format!("Status: {code}\r\n"));
        if !s.remote.is_empty() {
            status.push_str(&format!("Remote-MTA: dns; {}\r\n", field(&s.remote)));
        }
        if !s.last_error.is_empty() {
            status.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", field(&s.last_error)));
        }
        status.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc5322_date(now)));
        if kind == Kind::Delay {
            status.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }

    let original = if kind == Kind::Failure && envelope.ret_full {
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
}
