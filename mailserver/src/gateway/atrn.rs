//! ATRN's turn (On-Demand Mail Relay, RFC 2645): after `250` to ATRN on an `odmr`
//! listener, the roles reverse on the same connection and this server delivers the held
//! mail of the domains asked for as the SMTP client (`smtp-proto`'s `ClientSession`), the
//! other side answering as the server. Each message's outcome is recorded in its
//! outbound-queue state as the queue manager records its own: delivered and refused
//! recipients are final (a refusal reported to the sender by the manager), a temporary
//! refusal leaves the recipient held for the next ATRN.

use std::time::Instant;

use sansmail_smtp_proto::Reply;
use sansmail_smtp_proto::client::{ClientConfig, ClientSession, ClientTimeouts, TlsPolicy};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::outbound::RESCAN_MARK;
use crate::outbound::client::{HopResult, Pump};
use crate::store::outbound_queue::{Status, Store};

/// What one turn did.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    pub(crate) delivered: usize,
    pub(crate) refused: usize,
    pub(crate) deferred: usize,
}

/// Runs the turn over `stream`: every message waiting for `domains`, one transaction each.
pub(crate) async fn hand_over<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    store: &Store,
    data_dir: &std::path::Path,
    domains: &[String],
    hostname: &str,
    strip: bool,
) -> Result<Turn, String> {
    let ids = tokio::task::block_in_place(|| store.waiting_for(domains)).map_err(|e| e.to_string())?;
    let mut turn = Turn::default();
    let mut session: Option<ClientSession> = None;
    let mut report_due = false;
    for id in ids {
        let Ok((env, content)) = tokio::task::block_in_place(|| store.read(&id)) else { continue };
        let Ok(mut state) = tokio::task::block_in_place(|| store.state(&id, env.recipients.len(), 0)) else {
            continue;
        };
        let idxs: Vec<usize> = (0..env.recipients.len())
            .filter(|&i| {
                !state.rcpt[i].status.is_final()
                    && env.recipients[i]
                        .address
                        .rsplit_once('@')
                        .is_some_and(|(_, d)| domains.contains(&d.to_ascii_lowercase()))
            })
            .collect();
        if idxs.is_empty() {
            continue;
        }
        let rcpts: Vec<&crate::store::spool::Recipient> = idxs.iter().map(|&i| &env.recipients[i]).collect();
        let stripped = if strip { super::strip::strip_attachments(&content) } else { None };
        let content = stripped.unwrap_or(content);
        let envelope = crate::outbound::smtp_envelope(&env, &content, &rcpts)?;
        let now = Instant::now();
        match session.as_mut() {
            None => {
                let mut config = ClientConfig::default();
                config.hello_name = hostname.to_owned();
                // The connection is what the client chose for ATRN (TLS or not).
                config.tls = TlsPolicy::Never;
                config.keep_open = true;
                config.timeouts = ClientTimeouts::default();
                session = Some(ClientSession::new(config, envelope, now, false).map_err(|e| e.to_string())?);
            }
            Some(s) => s.next_transaction(now, envelope).map_err(|e| format!("{e:?}"))?,
        }
        let Some(s) = session.as_mut() else { break };
        let replies = transaction(stream, s, &content, idxs.len()).await?;
        for (&i, reply) in idxs.iter().zip(replies) {
            let r = &mut state.rcpt[i];
            r.attempts += 1;
            r.remote = "ATRN".into();
            r.status_code = reply.enhanced().map_or_else(|| format!("{}.0.0", reply.code().class()), |e| e.to_string());
            r.last_error = reply.to_string().replace('\n', " ");
            match reply.code().class() {
                2 => {
                    r.status = Status::Delivered;
                    turn.delivered += 1;
                }
                5 => {
                    r.status = Status::Failed;
                    r.unreported = !env.from.is_empty();
                    report_due |= r.unreported;
                    turn.refused += 1;
                }
                _ => turn.deferred += 1,
            }
        }
        let finished = state.is_done() && !state.rcpt.iter().any(|r| r.unreported);
        let saved =
            tokio::task::block_in_place(|| if finished { store.remove(&id) } else { store.save_state(&id, &state) });
        saved.map_err(|e| e.to_string())?;
    }
    if let Some(s) = session.as_mut() {
        s.quit(Instant::now());
        let mut out = Vec::new();
        s.poll_transmit(&mut out);
        let _ = stream.write_all(&out).await;
    }
    let _ = stream.shutdown().await;
    if report_due {
        // The manager reports the refusals at its next look.
        let _ = std::fs::write(data_dir.join("queue").join("out").join(RESCAN_MARK), b"");
    }
    Ok(turn)
}

/// One transaction over the turned connection: each recipient's final reply (refused at
/// RCPT, else the end of data's), through the queue's own [`Pump`].
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ClientSession,
    content: &[u8],
    recipients: usize,
) -> Result<Vec<Reply<'static>>, String> {
    let mut pump = Pump::new(recipients);
    pump.run(stream, session, content).await?;
    match pump.result("the ATRN turn", session) {
        HopResult::Answered { replies, .. } => Ok(replies),
        HopResult::Unreachable(why) => Err(why),
    }
}
