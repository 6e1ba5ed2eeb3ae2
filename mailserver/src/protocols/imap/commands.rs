//! The commands an IMAP session hands to the server, over the user's Maildir: folders
//! (LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS, NAMESPACE), APPEND, and the
//! selected folder (SELECT/EXAMINE, FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, CLOSE,
//! UNSELECT, CHECK, NOOP, IDLE). These run on a blocking thread (`block_in_place`): they
//! read and rename files.
//!
//! A selected folder is seen through the session's own [`Selected`] view
//! ([`super::selected`]); before a command completes, the view is brought up to date.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sansmail_imap_proto::command::{Body, Flag, ListReturn, ListSelect, Mailbox, ReturnOption};
use sansmail_imap_proto::lex::SeqRange;
use sansmail_imap_proto::mutf7;
use sansmail_imap_proto::response::{Code, Data, Status, StatusResponse};
use sansmail_imap_proto::server::{Request, ServerSession};

use sansmail_imap_proto::sequence;

use super::search::{self, Candidate, matches_all};
pub(crate) use super::selected::Selected;
use super::store::{self, Flags, Folder};
use super::{Connection, condstore, fetch, folders};

/// Keys one SEARCH may use (each text key reads every message): past it, `NO [LIMIT]`.
const MAX_SEARCH_KEYS: usize = 256;

/// The result of one command: tagged status, code, text.
pub(super) struct Done(pub(super) Status, pub(super) Option<Code<'static>>, pub(super) String);

pub(super) fn ok(text: &str) -> Done {
    Done(Status::Ok, None, text.to_owned())
}

pub(super) fn no(code: Option<Code<'static>>, text: &str) -> Done {
    Done(Status::No, code, text.to_owned())
}

pub(super) fn failed(e: &io::Error) -> Done {
    tracing::warn!(error = %e, "IMAP command failed");
    no(Some(Code::ServerBug), "Internal error, try again later")
}

/// Runs one command and completes it.
pub(crate) fn run(conn: &mut Connection, request: Request, session: &mut ServerSession) {
    let done = match dispatch(conn, &request, session) {
        Ok(Some(done)) => done,
        // IDLE: completed at DONE; a FETCH with more to send: run again once written.
        Ok(None) => {
            if conn.fetch_more.is_some() {
                conn.resume = Some(request);
            }
            return;
        }
        Err(e) => {
            conn.fetch_more = None;
            conn.fetch_vanished = false;
            failed(&e)
        }
    };
    let Done(status, code, text) = done;
    let _ = session.complete(status, code, &text);
}

fn dispatch(conn: &mut Connection, request: &Request, session: &mut ServerSession) -> io::Result<Option<Done>> {
    conn.utf8_names = session.is_enabled("IMAP4rev2");
    let converted = if conn.utf8_names { stored_names(&request.command().body) } else { None };
    let body = converted.as_ref().unwrap_or(&request.command().body);
    let Some((user, maildir)) = conn.user.clone() else {
        return Ok(Some(no(None, "Not logged in")));
    };
    // A first CONDSTORE-enabling command turns it on; a selected folder tells its
    // HIGHESTMODSEQ at once (RFC 7162 §3.1).
    if condstore::enables(body) && !session.is_enabled("CONDSTORE") {
        session.mark_enabled("CONDSTORE");
        if let Some(sel) = conn.selected.as_mut() {
            sel.condstore = true;
            condstore::write_highest(&*sel.folder.lock()?, session.output());
        }
    }
    let out = session.output();
    let done = match body {
        Body::Noop | Body::Check => ok("Completed"),
        Body::Idle => {
            if let Some(sel) = conn.selected.as_mut() {
                sel.updates(out, true);
            }
            return Ok(None);
        }
        Body::Namespace => {
            out.extend_from_slice(b"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
            ok("Completed")
        }
        Body::Select { mailbox, params } | Body::Examine { mailbox, params } => {
            conn.selected = None;
            let read_only = matches!(body, Body::Examine { .. });
            let modes =
                (session.is_enabled("CONDSTORE"), session.is_enabled("QRESYNC"), session.is_enabled("IMAP4rev2"));
            let out = session.output();
            let done = select(conn, &maildir, mailbox, read_only, modes, out)?;
            if let (Some(sel), Some(q)) = (conn.selected.as_ref(), params.qresync.as_ref()) {
                condstore::resync(sel, q, out)?;
            }
            done
        }
        Body::Unselect => {
            conn.selected = None;
            ok("Returned to authenticated state")
        }
        Body::Close => {
            if let Some(mut sel) = conn.selected.take()
                && !sel.read_only
            {
                let mut sink = Vec::new();
                expunge(conn, &user, &mut sel, None, &mut sink)?;
            }
            ok("Closed")
        }
        Body::Expunge | Body::UidExpunge { .. } => {
            let set = match body {
                Body::UidExpunge { set } => Some(set.as_slice()),
                _ => None,
            };
            match conn.selected.take() {
                Some(sel) if sel.read_only => {
                    conn.selected = Some(sel);
                    no(Some(Code::ReadOnly), "Mailbox is read-only")
                }
                Some(mut sel) => {
                    let r = expunge(conn, &user, &mut sel, set, out);
                    let condstore = sel.condstore;
                    conn.selected = Some(sel);
                    // The expunges moved HIGHESTMODSEQ, and no FETCH told of it (RFC 7162 §3.1.10).
                    let code = condstore.then(|| Code::HighestModSeq(r.as_ref().copied().unwrap_or(0)));
                    r?;
                    Done(Status::Ok, code, "Expunged".to_owned())
                }
                None => no(None, "No mailbox selected"),
            }
        }
        Body::Create { mailbox, special_use } => folders::create(&conn.shared.imap, &maildir, mailbox, special_use)?,
        Body::Delete { mailbox } => folders::delete(conn, &user, &maildir, mailbox)?,
        Body::Rename { from, to } => folders::rename(&conn.shared.imap, &maildir, from, to)?,
        Body::Subscribe { mailbox } => folders::subscribe(&conn.shared.imap, &maildir, mailbox)?,
        Body::Unsubscribe { mailbox } => {
            let name = wire_name(mailbox);
            let mut subs = store::subscriptions(&maildir);
            let before = subs.len();
            subs.retain(|s| *s != name);
            if subs.len() != before {
                store::save_subscriptions(&maildir, &subs)?;
            }
            ok("Completed")
        }
        Body::List { selection, reference, patterns, return_options } => {
            let subscribed = selection.contains(&ListSelect::Subscribed);
            let how = folders::Listing {
                lsub: false,
                subscribed_only: subscribed,
                recursive: selection.contains(&ListSelect::RecursiveMatch),
                special_use_only: selection.contains(&ListSelect::SpecialUse),
                show_subscribed: subscribed || return_options.contains(&ListReturn::Subscribed),
                utf8: conn.utf8_names,
            };
            // LIST-STATUS (RFC 5819): a STATUS after each folder listed that exists.
            let items = return_options.iter().find_map(|o| match o {
                ListReturn::Status(items) => Some(items.as_slice()),
                _ => None,
            });
            let patterns: Vec<&[u8]> = patterns.iter().map(|p| &**p).collect();
            let mut status = |name: &str, out: &mut Vec<u8>| {
                if let Some(items) = items {
                    let mailbox = if name == "INBOX" { Mailbox::Inbox } else { Mailbox::Other(name.as_bytes().into()) };
                    if let Err(e) = folders::status(conn, &maildir, &mailbox, items, out) {
                        tracing::warn!(error = %e, folder = name, "LIST-STATUS: no STATUS");
                    }
                }
            };
            folders::list(&maildir, reference, &patterns, how, out, &mut status);
            ok("Completed")
        }
        Body::Lsub { reference, pattern } => {
            let how = folders::Listing {
                lsub: true,
                subscribed_only: true,
                recursive: false,
                special_use_only: false,
                show_subscribed: false,
                utf8: conn.utf8_names,
            };
            folders::list(&maildir, reference, &[pattern], how, out, &mut |_, _| {});
            ok("Completed")
        }
        Body::Status { mailbox, items } => folders::status(conn, &maildir, mailbox, items, out)?,
        Body::Append { .. } => super::append::whole(conn, body),
        Body::Fetch { uid, set, attributes, modifiers } => {
            let done = with_selected(conn, out, |conn, sel, out| {
                fetch::fetch(conn, sel, *uid, set, attributes, *modifiers, out)
            })?;
            if conn.fetch_more.is_some() {
                return Ok(None);
            }
            done
        }
        Body::Store { uid, set, unchanged_since, mode, silent, flags } => {
            let cmd = super::flags::Store {
                uid: *uid,
                set,
                unchanged_since: *unchanged_since,
                mode: *mode,
                silent: *silent,
                flags,
            };
            with_selected(conn, out, |_, sel, out| super::flags::store(sel, &cmd, out))?
        }
        Body::Search { charset: Some(cs), .. }
            if !cs.eq_ignore_ascii_case(b"UTF-8") && !cs.eq_ignore_ascii_case(b"US-ASCII") =>
        {
            Done(Status::No, Some(Code::BadCharset(vec!["UTF-8", "US-ASCII"])), "Charset not supported".to_owned())
        }
        Body::Search { keys, .. } | Body::Sort { keys, .. } if search::key_count(keys) > MAX_SEARCH_KEYS => {
            no(Some(Code::Limit), "Too many search keys")
        }
        Body::GetQuotaRoot { mailbox } => match folder_of(&maildir, mailbox).filter(|d| exists(d) || is_inbox(mailbox))
        {
            None => no(Some(Code::Nonexistent), "No such mailbox"),
            Some(_) => {
                let limit = conn.shared.quotas.limit(&user);
                let name = wire_name(mailbox);
                let roots: Vec<&[u8]> = if limit.is_some() { vec![b""] } else { Vec::new() };
                Data::QuotaRoot { mailbox: name.as_bytes(), roots }.encode(out);
                quota(conn, &user, out);
                ok("GETQUOTAROOT completed")
            }
        },
        Body::GetQuota { root } if root.is_empty() && conn.shared.quotas.limit(&user).is_some() => {
            quota(conn, &user, out);
            ok("GETQUOTA completed")
        }
        Body::GetQuota { .. } => no(Some(Code::Nonexistent), "No such quota root"),
        Body::SetQuota { .. } => no(Some(Code::Cannot), "Quotas are set by the administrator"),
        Body::Thread { keys, .. } if search::key_count(keys) > MAX_SEARCH_KEYS => {
            no(Some(Code::Limit), "Too many search keys")
        }
        Body::Sort { charset, .. } | Body::Thread { charset, .. }
            if !charset.eq_ignore_ascii_case(b"UTF-8") && !charset.eq_ignore_ascii_case(b"US-ASCII") =>
        {
            Done(Status::No, Some(Code::BadCharset(vec!["UTF-8", "US-ASCII"])), "Charset not supported".to_owned())
        }
        Body::Thread { uid, algorithm, keys, .. } => {
            with_selected(conn, out, |_, sel, out| super::thread::thread(sel, *uid, *algorithm, keys, out))?
        }
        Body::Sort { uid, ret, criteria, keys, .. } => {
            let tag = tag_of_request(session);
            let out = session.output();
            let sort = super::sort::Sort { uid: *uid, ret: ret.as_deref(), tag: &tag, criteria, keys };
            with_selected(conn, out, |_, sel, out| super::sort::sort(sel, &sort, request.as_bytes(), out))?
        }
        Body::Search { uid, ret, keys, .. } => {
            // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 §6.4.4).
            let all = [ReturnOption::All];
            let ret = ret.as_deref().or(session.is_enabled("IMAP4rev2").then_some(&all[..]));
            let tag = tag_of_request(session);
            let out = session.output();
            let command = request.as_bytes();
            with_selected(conn, out, |_, sel, out| search(sel, *uid, ret, keys, (&tag, command), out))?
        }
        Body::CancelUpdate { tags } => with_selected(conn, out, |_, sel, _| {
            super::context::cancel(sel, tags);
            Ok(ok("CANCELUPDATE completed"))
        })?,
        Body::Copy { uid, set, mailbox } | Body::Move { uid, set, mailbox } => {
            let moving = matches!(body, Body::Move { .. });
            match conn.selected.take() {
                Some(mut sel) => {
                    let r = copy(conn, &user, &maildir, &mut sel, *uid, set, mailbox, moving, out);
                    conn.selected = Some(sel);
                    r?
                }
                None => no(None, "No mailbox selected"),
            }
        }
        _ => Done(Status::Bad, None, "Command not supported".to_owned()),
    };
    // Updates before the tagged response; none that renumber after FETCH, STORE, SEARCH.
    let expunge_ok = !matches!(
        body,
        Body::Fetch { .. } | Body::Store { .. } | Body::Search { .. } | Body::Sort { .. } | Body::Thread { .. }
    );
    if let Some(sel) = conn.selected.as_mut() {
        sel.updates(session.output(), expunge_ok);
    }
    Ok(Some(done))
}

fn tag_of_request(session: &ServerSession) -> String {
    session.current_tag().unwrap_or("*").to_owned()
}

fn with_selected(
    conn: &mut Connection,
    out: &mut Vec<u8>,
    f: impl FnOnce(&mut Connection, &mut Selected, &mut Vec<u8>) -> io::Result<Done>,
) -> io::Result<Done> {
    let Some(mut sel) = conn.selected.take() else { return Ok(no(None, "No mailbox selected")) };
    let r = f(conn, &mut sel, out);
    conn.selected = Some(sel);
    r
}

/// The wire name (modified UTF-7) of a mailbox, normalised before anything else looks at
/// it: trailing delimiters dropped, and `INBOX` in any case, with or without them
/// (`inbox.`, `INBOX..`), is `INBOX`. Only that name is the Maildir's root.
pub(super) fn wire_name(m: &Mailbox<'_>) -> String {
    match m {
        Mailbox::Inbox => "INBOX".to_owned(),
        Mailbox::Other(n) => {
            let name = String::from_utf8_lossy(n);
            let name = name.trim_end_matches('.');
            if name.eq_ignore_ascii_case("INBOX") { "INBOX".to_owned() } else { name.to_owned() }
        }
    }
}

/// A UTF-8 name or pattern (IMAP4rev2, RFC 9051 §5.1) as the store names folders: in
/// modified UTF-7 (`&` itself becomes `&-`). Octets that are not UTF-8 stay as they are, and
/// no folder has such a name.
fn utf8_to_wire(name: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(name) {
        Ok(utf8) => mutf7::encode(utf8).into_bytes(),
        Err(_) => name.to_vec(),
    }
}

/// With IMAP4rev2 on, a command's mailbox names and LIST patterns (UTF-8) as the store names
/// folders (modified UTF-7), so that everything below sees one form and rev1 clients see the
/// same folders; `None` for a command without names.
pub(super) fn stored_names<'a>(body: &Body<'a>) -> Option<Body<'a>> {
    use std::borrow::Cow;
    let convert = |m: &mut Mailbox<'a>| {
        if let Mailbox::Other(n) = m {
            *n = Cow::Owned(utf8_to_wire(n));
        }
    };
    let mut b = body.clone();
    match &mut b {
        Body::Select { mailbox, .. }
        | Body::Examine { mailbox, .. }
        | Body::Create { mailbox, .. }
        | Body::Delete { mailbox }
        | Body::Subscribe { mailbox }
        | Body::Unsubscribe { mailbox }
        | Body::Status { mailbox, .. }
        | Body::Append { mailbox, .. }
        | Body::Copy { mailbox, .. }
        | Body::Move { mailbox, .. }
        | Body::GetQuotaRoot { mailbox } => convert(mailbox),
        Body::Rename { from, to } => {
            convert(from);
            convert(to);
        }
        Body::List { reference, patterns, .. } => {
            *reference = Cow::Owned(utf8_to_wire(reference));
            for p in patterns {
                *p = Cow::Owned(utf8_to_wire(p));
            }
        }
        Body::Lsub { reference, pattern } => {
            *reference = Cow::Owned(utf8_to_wire(reference));
            *pattern = Cow::Owned(utf8_to_wire(pattern));
        }
        _ => return None,
    }
    Some(b)
}

/// A store name as this session shows it: UTF-8 once IMAP4rev2 is on, else as it is.
pub(super) fn shown(name: &str, utf8: bool) -> std::borrow::Cow<'_, [u8]> {
    match mutf7::decode(name.as_bytes()) {
        Ok(decoded) if utf8 && decoded != name => std::borrow::Cow::Owned(decoded.into_bytes()),
        _ => std::borrow::Cow::Borrowed(name.as_bytes()),
    }
}

/// Whether a mailbox name, normalised, is the inbox.
pub(super) fn is_inbox(m: &Mailbox<'_>) -> bool {
    wire_name(m) == "INBOX"
}

/// The folder's directory, if the name is valid (strict modified UTF-7, no empty levels,
/// short enough for a directory name). No name but INBOX gives the Maildir itself.
pub(super) fn folder_of(maildir: &Path, m: &Mailbox<'_>) -> Option<PathBuf> {
    let name = wire_name(m);
    if name != "INBOX" {
        let decoded = mutf7::decode(name.as_bytes()).ok()?;
        if !store::valid_name(&decoded) || name.len() > store::MAX_NAME_ON_DISK {
            return None;
        }
    }
    let dir = store::folder_dir(maildir, &name);
    (name == "INBOX" || dir != maildir).then_some(dir)
}

pub(super) fn exists(dir: &Path) -> bool {
    dir.join("cur").is_dir()
}

/// SELECT and EXAMINE; `modes` says whether CONDSTORE and QRESYNC are on.
fn select(
    conn: &mut Connection,
    maildir: &Path,
    mailbox: &Mailbox<'_>,
    read_only: bool,
    (condstore, qresync, rev2): (bool, bool, bool),
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d) || is_inbox(mailbox)) else {
        return Ok(no(Some(Code::Nonexistent), "No such mailbox"));
    };
    store::create_maildir(&dir)?;
    let folder = conn.shared.imap_folders.folder(&dir);
    let mut sel = Selected {
        changes: folder.watch(),
        folder,
        name: wire_name(mailbox),
        read_only,
        view: Vec::new(),
        recent: HashSet::new(),
        keywords: Vec::new(),
        condstore,
        qresync,
        rev2,
        saved: Vec::new(),
        contexts: Vec::new(),
        context_stamp: None,
    };
    let mut sink = Vec::new();
    sel.updates(&mut sink, true);
    let index = sel.folder.lock()?;
    let (validity, next) = (index.validity, index.next);
    let mut highest = Vec::new();
    condstore::write_highest(&index, &mut highest);
    drop(index);
    let mut flags = Vec::new();
    sel.write_flags(&mut flags);
    let (flags, permanent) = flags.split_at(flags.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1));
    out.extend_from_slice(flags);
    Data::Exists(sel.view.len() as u32).encode(out);
    if rev2 {
        // RFC 9051 §6.3.2: the folder's name as LIST gives it; no RECENT.
        let mailbox = shown(&sel.name, true);
        Data::List { attributes: Vec::new(), delimiter: Some('.'), mailbox: &mailbox, child_info: Vec::new() }
            .encode(out);
    } else {
        Data::Recent(sel.recent.len() as u32).encode(out);
    }
    if let Some(i) = sel.view.iter().position(|k| !k.flags.has(Flags::SEEN)) {
        StatusResponse { tag: None, status: Status::Ok, code: Some(&Code::Unseen(i as u32 + 1)), text: "First unseen" }
            .encode(out);
    }
    out.extend_from_slice(permanent);
    StatusResponse { tag: None, status: Status::Ok, code: Some(&Code::UidValidity(validity)), text: "UIDs valid" }
        .encode(out);
    StatusResponse { tag: None, status: Status::Ok, code: Some(&Code::UidNext(next)), text: "Predicted next UID" }
        .encode(out);
    // Every folder keeps mod-sequences: told at every SELECT (RFC 7162 §3.1.2.1).
    out.extend_from_slice(&highest);
    let code = if read_only { Code::ReadOnly } else { Code::ReadWrite };
    let text = if read_only { "EXAMINE completed" } else { "SELECT completed" };
    tracing::debug!(folder = %sel.name, messages = sel.view.len(), "IMAP select");
    conn.selected = Some(sel);
    Ok(Done(Status::Ok, Some(code), text.to_owned()))
}

/// Removes the messages marked `\Deleted` (of `set`, for UID EXPUNGE); returns the
/// folder's HIGHESTMODSEQ after.
fn expunge(
    conn: &Connection,
    user: &str,
    sel: &mut Selected,
    set: Option<&[SeqRange]>,
    out: &mut Vec<u8>,
) -> io::Result<u64> {
    // Bring the view up to date first, so the numbers written below are the client's.
    sel.updates(out, true);
    let allowed = match set {
        Some(set) => sel.resolve(set, true).unwrap_or_default(),
        None => (0..sel.view.len()).collect(),
    };
    let mut index = sel.folder.lock()?;
    let doomed: Vec<usize> = allowed
        .into_iter()
        .filter(|&i| index.position(sel.view[i].uid).is_some_and(|p| index.messages[p].flags.has(Flags::DELETED)))
        .collect();
    let positions: Vec<usize> = doomed.iter().filter_map(|&i| index.position(sel.view[i].uid)).collect();
    let freed = sel.folder.remove(&mut index, &positions)?;
    let highest = index.highest_modseq;
    drop(index);
    conn.shared.quotas.remove(user, freed);
    sel.expunged(&doomed, out);
    if !doomed.is_empty() {
        sel.folder.notify();
    }
    Ok(highest)
}

pub(super) fn system_and_keywords(flags: &[Flag<'_>]) -> (Flags, Vec<String>) {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in flags {
        let name = f.name();
        if f.is_system() {
            bits |= Flags::bit(name).unwrap_or(0);
        } else if !keywords.iter().any(|x: &String| x.eq_ignore_ascii_case(name)) {
            keywords.push(name.to_owned());
        }
    }
    (Flags(bits), keywords)
}

/// Writes `content` to the folder's `tmp/`, synced; returns its path.
fn write_tmp(dir: &Path, base: &str, content: &[u8], mtime: Option<std::time::SystemTime>) -> io::Result<PathBuf> {
    let tmp = dir.join("tmp").join(base);
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    f.write_all(content)?;
    if let Some(t) = mtime {
        f.set_modified(t)?;
    }
    f.sync_all()?;
    Ok(tmp)
}

/// COPY's copies, all or none (RFC 3501 §6.4.7): a failure part-way takes back those
/// already made. Returns (source UID, new UID) pairs.
fn copy_into(
    hostname: &str,
    source: &Folder,
    target: &Arc<Folder>,
    sources: &[store::Message],
) -> io::Result<Vec<(u32, u32)>> {
    let mut pairs = Vec::new();
    let mut result = Ok(());
    for m in sources {
        let base = Folder::new_base(hostname);
        let tmp = target.dir.join("tmp").join(&base);
        let one = (|| -> io::Result<u32> {
            // A hard link costs no space and no copy; a copy where links are not possible.
            if fs::hard_link(&m.path, &tmp).is_err() {
                let content = fetch::read_message(source, m.uid, &m.path)?;
                write_tmp(&target.dir, &base, &content, Some(m.internal))?;
            }
            let mut index = target.lock()?;
            target.add(&mut index, &tmp, &base, m.flags, m.keywords.clone())
        })();
        match one {
            Ok(new_uid) => pairs.push((m.uid, new_uid)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                result = Err(e);
                break;
            }
        }
    }
    if let Err(e) = result {
        let mut index = target.lock()?;
        let made: Vec<usize> = pairs.iter().filter_map(|&(_, new)| index.position(new)).collect();
        target.remove(&mut index, &made)?;
        drop(index);
        target.notify();
        return Err(e);
    }
    Ok(pairs)
}

/// `* QUOTA "" (STORAGE used limit)` in KiB (RFC 9208), for a user with a quota: one root,
/// `""`, for all their folders.
fn quota(conn: &Connection, user: &str, out: &mut Vec<u8>) {
    if let Some(limit) = conn.shared.quotas.limit(user) {
        let used = conn.shared.quotas.usage(user);
        Data::Quota { root: b"", resources: vec![("STORAGE", used.div_ceil(1024), limit / 1024)] }.encode(out);
    }
}

/// The messages of the view that match `keys`: their message numbers and index entries, in
/// order.
pub(super) fn matching(
    sel: &Selected,
    keys: &[sansmail_imap_proto::command::SearchKey<'_>],
) -> io::Result<Vec<(u32, store::Message)>> {
    let index = sel.folder.lock()?;
    let max_seq = sel.view.len() as u32;
    let max_uid = sel.view.last().map_or(0, |k| k.uid);
    let mut found = Vec::new();
    for (i, k) in sel.view.iter().enumerate() {
        let Some(p) = index.position(k.uid) else { continue };
        let mut c = Candidate::new(i as u32 + 1, &index.messages[p], sel.recent.contains(&k.uid), max_seq, max_uid);
        c.saved = &sel.saved;
        if matches_all(keys, &mut c) {
            found.push((i as u32 + 1, index.messages[p].clone()));
        }
    }
    Ok(found)
}

fn search(
    sel: &mut Selected,
    uid: bool,
    ret: Option<&[ReturnOption]>,
    keys: &[sansmail_imap_proto::command::SearchKey<'_>],
    (tag, command): (&str, &[u8]),
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    let matched = matching(sel, keys)?;
    let with_modseq = search::has_modseq(keys);
    let found: Vec<u32> = matched.iter().map(|(seq, m)| if uid { m.uid } else { *seq }).collect();
    match ret.zip(sansmail_imap_proto::Tag::new(tag).ok()) {
        None => {
            let modseq = condstore::result_modseq(matched.iter().map(|(_, m)| m.modseq)).filter(|_| with_modseq);
            Data::Search { ids: found, modseq }.encode(out);
        }
        Some((opts, tag)) => {
            let all = opts.is_empty() || opts.contains(&ReturnOption::All);
            let has = |o| opts.contains(&o);
            // MIN and MAX alone return two messages at most: the MODSEQ is theirs, and
            // SAVE keeps them alone (RFC 5182 §2.4).
            let ends_only = !all && !has(ReturnOption::Count);
            let returned: Vec<&store::Message> = matched
                .iter()
                .enumerate()
                .filter(|&(i, _)| {
                    !ends_only
                        || (has(ReturnOption::Min) && i == 0)
                        || (has(ReturnOption::Max) && i + 1 == matched.len())
                })
                .map(|(_, (_, m))| m)
                .collect();
            let modseq = condstore::result_modseq(returned.iter().map(|m| m.modseq)).filter(|_| with_modseq);
            if has(ReturnOption::Save) {
                let only_ends = ends_only && (has(ReturnOption::Min) || has(ReturnOption::Max));
                let saved = if only_ends {
                    returned.iter().map(|m| m.uid).collect()
                } else {
                    matched.iter().map(|(_, m)| m.uid).collect()
                };
                sel.saved = saved;
                // SAVE alone answers nothing but the OK (RFC 5182 §2.4).
                if opts.iter().all(|o| *o == ReturnOption::Save) {
                    return Ok(ok(if uid { "UID SEARCH completed" } else { "SEARCH completed" }));
                }
            }
            Data::ESearch {
                tag,
                uid,
                min: found.first().copied().filter(|_| has(ReturnOption::Min)),
                max: found.last().copied().filter(|_| has(ReturnOption::Max)),
                count: has(ReturnOption::Count).then_some(found.len() as u32),
                all: all.then(|| sequence::ranges(&found)),
                partial: super::context::partial(opts, &found),
                add_to: Vec::new(),
                remove_from: Vec::new(),
                modseq,
            }
            .encode(out);
            // RETURN (UPDATE): the result is kept and its changes told (RFC 5267 §4.3).
            if has(ReturnOption::Update) {
                let uids = matched.iter().map(|(_, m)| m.uid).collect();
                super::context::keep(sel, tag.as_str(), uid, false, command, uids, out);
            }
        }
    }
    Ok(ok(if uid { "UID SEARCH completed" } else { "SEARCH completed" }))
}

#[allow(clippy::too_many_arguments)]
fn copy(
    conn: &mut Connection,
    user: &str,
    maildir: &Path,
    sel: &mut Selected,
    uid: bool,
    set: &[SeqRange],
    mailbox: &Mailbox<'_>,
    moving: bool,
    out: &mut Vec<u8>,
) -> io::Result<Done> {
    if moving && sel.read_only {
        return Ok(no(Some(Code::ReadOnly), "Mailbox is read-only"));
    }
    let Some(positions) = sel.resolve(set, uid) else {
        return Ok(Done(Status::Bad, None, "Invalid message sequence number".to_owned()));
    };
    let Some(dir) = folder_of(maildir, mailbox).filter(|d| exists(d)) else {
        return Ok(no(Some(Code::TryCreate), "No such mailbox"));
    };
    let sources: Vec<store::Message> = {
        let index = sel.folder.lock()?;
        positions.iter().filter_map(|&i| index.position(sel.view[i].uid).map(|p| index.messages[p].clone())).collect()
    };
    let total: u64 = sources.iter().map(|m| m.size).sum();
    let same = dir == sel.folder.dir;
    let quotas = conn.shared.quotas.clone();
    let key = crate::store::quota::command_key();
    // A move within one folder takes no more space.
    let needs_space = !(moving && same);
    if needs_space && !quotas.reserve(&key, user, total) {
        return Ok(no(Some(Code::OverQuota), "Mailbox quota exceeded"));
    }
    let target = conn.shared.imap_folders.folder(&dir);
    let copied = copy_into(&conn.shared.hostname, &sel.folder, &target, &sources);
    quotas.release(&key);
    let pairs = copied?;
    let validity = target.lock()?.validity;
    target.notify();
    let code = (!pairs.is_empty()).then(|| Code::CopyUid {
        validity,
        source: pairs.iter().map(|&(s, _)| (s, s)).collect(),
        destination: pairs.iter().map(|&(_, d)| (d, d)).collect(),
    });
    if !moving {
        quotas.add(user, total);
        return Ok(Done(Status::Ok, code, "COPY completed".to_owned()));
    }
    // MOVE (RFC 6851 §4.3): COPYUID in an untagged OK, then the expunges.
    if let Some(code) = &code {
        StatusResponse { tag: None, status: Status::Ok, code: Some(code), text: "Moved" }.encode(out);
    }
    let mut index = sel.folder.lock()?;
    let moved: Vec<usize> = positions.iter().copied().filter(|&i| index.position(sel.view[i].uid).is_some()).collect();
    let in_index: Vec<usize> = moved.iter().filter_map(|&i| index.position(sel.view[i].uid)).collect();
    sel.folder.remove(&mut index, &in_index)?;
    drop(index);
    sel.expunged(&moved, out);
    sel.folder.notify();
    Ok(ok("MOVE completed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A COPY that fails on its second message takes the first copy back (RFC 3501
    /// §6.4.7): the target holds nothing, on disk or in its index.
    #[test]
    fn a_copy_that_fails_part_way_is_undone() {
        let root = std::env::temp_dir().join(format!("sansmail-copy-undo-{}", std::process::id()));
        let (src, dst) = (root.join("src"), root.join("dst"));
        for d in [&src, &dst] {
            store::create_maildir(d).unwrap();
        }
        fs::write(src.join("cur/1.a.host:2,"), "Subject: a\r\n\r\n").unwrap();
        fs::write(src.join("cur/2.b.host:2,"), "Subject: b\r\n\r\n").unwrap();
        let reg =
            store::Registry::new(Arc::new(crate::store::changes::Changes::new(crate::store::changes::Mode::Poll)));
        let (source, target) = (reg.folder(&src), reg.folder(&dst));
        let mut messages = source.lock().unwrap().messages.clone();
        assert_eq!(messages.len(), 2);
        // The second message's file is gone by the time it is copied.
        fs::remove_file(&messages[1].path).unwrap();
        messages[1].path = src.join("cur/gone");
        assert!(copy_into("host", &source, &target, &messages).is_err());
        assert!(target.lock().unwrap().messages.is_empty());
        assert_eq!(fs::read_dir(dst.join("cur")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dst.join("tmp")).unwrap().count(), 0);
        let _ = fs::remove_dir_all(&root);
    }
}
