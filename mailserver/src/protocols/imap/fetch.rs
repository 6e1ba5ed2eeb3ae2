//! FETCH: every attribute of RFC 3501 and BINARY, from the message file (read once per
//! message, and not at all for flags, sizes and dates); ENVELOPE and the body structure
//! from the folder's cache. Fetching a section without `.PEEK` sets `\Seen`, told in the
//! same response.

use std::borrow::Cow;
use std::fs;
use std::io::{self, Read as _};
use std::path::Path;

use sansmail_imap_proto::command::{FetchAttr, FetchModifiers, Partial};
use sansmail_imap_proto::lex::SeqRange;
use sansmail_imap_proto::response::{Code, Data, FetchItem, Status};

use super::Connection;
use super::commands::{Done, Selected, no, ok};
use super::search::internal_date;
use super::selected::flag_list;
use super::store::{Flags, Folder, Summary};

/// The message file's content, following a rename by another session.
pub(super) fn read_message(folder: &Folder, uid: u32, path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_message(folder, uid, path)?;
    // Sized once, as `fs::read` would.
    let size = file.metadata().map_or(0, |m| usize::try_from(m.len()).unwrap_or(0));
    let mut content = Vec::with_capacity(size);
    file.read_to_end(&mut content)?;
    Ok(content)
}

/// The header of a message (at most `limit` octets of it, blank line included): what SORT
/// and THREAD read, whatever the size of the message.
pub(super) fn read_header(folder: &Folder, uid: u32, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_message(folder, uid, path)?;
    let mut head = Vec::new();
    file.take(limit).read_to_end(&mut head)?;
    let end = memchr::memmem::find(&head, b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| memchr::memmem::find(&head, b"\n\n").map(|p| p + 2));
    head.truncate(end.unwrap_or(head.len()));
    Ok(head)
}

/// The message file, opened, following a rename by another session.
fn open_message(folder: &Folder, uid: u32, path: &Path) -> io::Result<fs::File> {
    match fs::File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let index = folder.lock()?;
            let path = index.position(uid).map(|p| index.messages[p].path.clone()).ok_or(e)?;
            drop(index);
            fs::File::open(path)
        }
        r => r,
    }
}

/// Messages larger than this have a whole-message section (`BODY[]`, with or without a
/// partial range) streamed from the file after the response's head, never held whole.
const STREAM_OVER: u64 = 256 * 1024;

/// A literal the driver writes from the file, then `)` CRLF, before the FETCH goes on.
pub(crate) struct Streaming {
    pub(crate) file: fs::File,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Whether an attribute is a whole message's content (the one FETCH may stream).
fn whole_message(attr: &FetchAttr<'_>) -> bool {
    matches!(attr, FetchAttr::BodySection { section, .. } if section.part.is_empty() && section.text.is_none())
}

/// The part of `data` a `<origin.count>` asks for, and the origin to echo.
fn partial(data: Vec<u8>, p: Option<Partial>) -> (Option<u32>, Vec<u8>) {
    match p {
        None => (None, data),
        Some(p) => (Some(p.start), p.slice(&data).to_vec()),
    }
}

/// Output a FETCH may queue before the driver writes it: the rest of the messages are
/// fetched after (a `FETCH 1:* BODY[]` of a large folder holds one batch, not the folder).
const BATCH: usize = 1024 * 1024;

pub(super) fn fetch(
    conn: &mut Connection,
    sel: &mut Selected,
    uid: bool,
    set: &[SeqRange],
    attributes: &[FetchAttr<'_>],
    modifiers: FetchModifiers,
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    let skip = conn.fetch_more.take().unwrap_or(0);
    let Some(mut positions) = sel.resolve(set, uid) else {
        return Ok(Done(Status::Bad, None, "Invalid message sequence number".to_owned()));
    };
    // CHANGEDSINCE (RFC 7162 §3.1.4.1): only what changed after it, each with its MODSEQ;
    // with VANISHED, first the UIDs of the set expunged after it (§3.2.6).
    if let Some(since) = modifiers.changed_since {
        let index = sel.folder.lock()?;
        if modifiers.vanished && skip == 0 {
            super::condstore::write_vanished_earlier(&index, since, Some(set), out);
        }
        positions.retain(|&i| index.position(sel.view[i].uid).is_some_and(|p| index.messages[p].modseq > since));
    }
    let with_modseq = modifiers.changed_since.is_some() || attributes.contains(&FetchAttr::ModSeq);
    let needs_content = |streaming: bool| {
        attributes.iter().any(|a| {
            let from_index = matches!(
                a,
                FetchAttr::Flags | FetchAttr::Uid | FetchAttr::Rfc822Size | FetchAttr::InternalDate | FetchAttr::ModSeq
            );
            !(from_index || streaming && whole_message(a))
        })
    };
    let streamed = attributes.iter().position(whole_message);
    let sets_seen = !sel.read_only && attributes.iter().any(FetchAttr::sets_seen);
    for (done, i) in positions.into_iter().enumerate().skip(skip) {
        if out.len() > BATCH && done > skip {
            conn.fetch_more = Some(done);
            sel.folder.sync_flags(&mut *sel.folder.lock()?)?;
            return Ok(ok("continued"));
        }
        let k_uid = sel.view[i].uid;
        let snapshot = {
            let mut index = sel.folder.lock()?;
            let Some(p) = index.position(k_uid) else {
                conn.fetch_vanished = true;
                continue;
            };
            if sets_seen && !index.messages[p].flags.has(Flags::SEEN) {
                let flags = Flags(index.messages[p].flags.0 | Flags::SEEN);
                sel.folder.set_flags(&mut index, p, flags, None)?;
                sel.folder.notify();
            }
            index.messages[p].clone()
        };
        // A large message's whole content goes out from the file, after the other items.
        let stream = streamed.filter(|_| snapshot.size > STREAM_OVER);
        let needs_content = needs_content(stream.is_some());
        // ENVELOPE and the body structure come from the folder's cache when they can.
        let summary_only = attributes.iter().enumerate().all(|(k, a)| {
            Some(k) == stream
                || matches!(
                    a,
                    FetchAttr::Flags
                        | FetchAttr::Uid
                        | FetchAttr::ModSeq
                        | FetchAttr::Rfc822Size
                        | FetchAttr::InternalDate
                        | FetchAttr::Envelope
                        | FetchAttr::Body
                        | FetchAttr::BodyStructure
                )
        });
        let content = if needs_content && !summary_only {
            match read_message(&sel.folder, k_uid, &snapshot.path) {
                Ok(content) => Some(content),
                // Expunged by another session since the view was taken (RFC 2180 §4.1):
                // the rest goes on, and the command ends NO [EXPUNGEISSUED].
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    conn.fetch_vanished = true;
                    continue;
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let parsed = content.as_deref().and_then(super::message::parse);
        let summary = if needs_content {
            let folder = sel.folder.clone();
            let make = || {
                let of = |m: &mail_parser::Message<'_>| Summary {
                    envelope: super::message::envelope(m),
                    structure: super::message::body_structure(m, 0, 0),
                };
                // The message parsed for the sections serves here too; else read it now.
                match &parsed {
                    Some(m) => of(m),
                    None => {
                        let raw = match &content {
                            Some(_) => Vec::new(),
                            None => read_message(&folder, k_uid, &snapshot.path).unwrap_or_default(),
                        };
                        of(&super::message::parse(&raw).unwrap_or_default())
                    }
                }
            };
            Some(sel.folder.summary(k_uid, make))
        } else {
            None
        };
        let mut items: Vec<FetchItem<'_>> = Vec::new();
        let flags_changed = sel.view[i].flags != snapshot.flags || sel.view[i].keywords != snapshot.keywords;
        sel.announce(&snapshot.keywords, out);
        let recent = sel.shows_recent(k_uid);
        for (k, attr) in attributes.iter().enumerate() {
            if Some(k) == stream {
                continue;
            }
            let raw = content.as_deref().unwrap_or_default();
            let item = match attr {
                FetchAttr::Flags => FetchItem::Flags(flag_list(snapshot.flags, &snapshot.keywords, recent)),
                FetchAttr::Uid => FetchItem::Uid(k_uid),
                FetchAttr::ModSeq => FetchItem::ModSeq(snapshot.modseq),
                FetchAttr::Rfc822Size => FetchItem::Rfc822Size(snapshot.size),
                FetchAttr::InternalDate => FetchItem::InternalDate(Cow::Owned(internal_date(snapshot.internal))),
                FetchAttr::Envelope => {
                    FetchItem::Envelope(summary.as_ref().map(|s| s.envelope.clone()).unwrap_or_default())
                }
                FetchAttr::Body | FetchAttr::BodyStructure => {
                    let Some(s) = summary.as_ref().map(|s| s.structure.clone()) else { continue };
                    if *attr == FetchAttr::Body { FetchItem::Body(s) } else { FetchItem::BodyStructure(s) }
                }
                FetchAttr::Rfc822 => FetchItem::Rfc822(Cow::Owned(raw.to_vec())),
                FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
                    if *attr == FetchAttr::Rfc822Header {
                        FetchItem::Rfc822Header(Cow::Owned(raw[..split].to_vec()))
                    } else {
                        FetchItem::Rfc822Text(Cow::Owned(raw[split..].to_vec()))
                    }
                }
                FetchAttr::BodySection { section, partial: p, .. } => {
                    let data = parsed.as_ref().and_then(|m| super::message::section(m, section));
                    let (origin, data) = match data {
                        Some(d) => {
                            let (o, d) = partial(d, *p);
                            (o, Some(Cow::Owned(d)))
                        }
                        // A part that does not exist is empty (as Dovecot answers).
                        None => (p.map(|p| p.start), Some(Cow::Borrowed(&b""[..]))),
                    };
                    FetchItem::Section { section: section.clone(), origin, data }
                }
                FetchAttr::Binary { part, partial: p, .. } => {
                    let Some(d) = parsed.as_ref().and_then(|m| super::message::binary(m, part)) else {
                        return Ok(no(Some(Code::UnknownCte), "Cannot undo the part's transfer encoding"));
                    };
                    let (origin, d) = partial(d, *p);
                    FetchItem::Binary { part: part.clone(), origin, data: Some(Cow::Owned(d)) }
                }
                FetchAttr::BinarySize { part } => {
                    let size = parsed.as_ref().and_then(|m| super::message::binary(m, part)).map_or(0, |d| d.len());
                    FetchItem::BinarySize { part: part.clone(), size: size as u64 }
                }
                _ => continue,
            };
            items.push(item);
        }
        if flags_changed && !attributes.contains(&FetchAttr::Flags) {
            items.push(FetchItem::Flags(flag_list(snapshot.flags, &snapshot.keywords, recent)));
        }
        // A change told (or CHANGEDSINCE) carries its MODSEQ once CONDSTORE is on.
        let modseq_due = with_modseq || (sel.condstore && (flags_changed || sel.view[i].modseq != snapshot.modseq));
        if modseq_due && !attributes.contains(&FetchAttr::ModSeq) {
            items.push(FetchItem::ModSeq(snapshot.modseq));
        }
        sel.view[i].flags = snapshot.flags;
        sel.view[i].keywords.clone_from(&snapshot.keywords);
        sel.view[i].modseq = snapshot.modseq;
        let seq = i as u32 + 1;
        if let Some(FetchAttr::BodySection { section, partial: p, .. }) = stream.map(|k| &attributes[k]) {
            let file = match open_message(&sel.folder, k_uid, &snapshot.path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    conn.fetch_vanished = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let size = file.metadata()?.len();
            let (origin, offset, len) = match p {
                None => (None, 0, size),
                Some(p) => {
                    let start = u64::from(p.start).min(size);
                    (Some(p.start), start, u64::from(p.length.get()).min(size - start))
                }
            };
            Data::FetchStreamed { seq, items: &items, section, origin, len }.encode(out);
            conn.streaming = Some(Streaming { file, offset, len });
            // The driver writes the content and `)`, then this FETCH goes on after it.
            conn.fetch_more = Some(done + 1);
            sel.folder.sync_flags(&mut *sel.folder.lock()?)?;
            return Ok(ok("continued"));
        }
        Data::Fetch { seq, items: &items }.encode(out);
    }
    // The \Seen this FETCH set is durable before its OK.
    if sets_seen {
        sel.folder.sync_flags(&mut *sel.folder.lock()?)?;
    }
    if std::mem::take(&mut conn.fetch_vanished) {
        return Ok(no(Some(Code::ExpungeIssued), "Some of the requested messages no longer exist"));
    }
    Ok(ok(if uid { "UID FETCH completed" } else { "FETCH completed" }))
}
