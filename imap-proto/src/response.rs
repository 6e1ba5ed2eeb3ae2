//! Server responses ([RFC 3501 §7](https://www.rfc-editor.org/rfc/rfc3501#section-7)):
//! status responses (tagged or untagged, with response codes) and the untagged data the
//! commands of this crate answer with. The encoder picks the tightest safe form of each
//! string — atom, quoted, or literal — so no value can break the line or forge a response.
//!
//! Every response is a value with an `encode(&self, out)` method, as the commands and
//! replies of the SMTP and POP3 crates are: a [`StatusResponse`], [`Data`], and inside FETCH
//! data ([`Data::Fetch`]) [`FetchItem`]s with [`Envelope`] and [`BodyStructure`].

mod fetch;

pub use fetch::{Address, BodyFields, BodyStructure, Disposition, Envelope, Extension, FetchItem, NString, Param};

use crate::Tag;
use crate::command::{Flag, Section, StatusItem};

/// `resp-cond-state` / `resp-cond-bye` / `PREAUTH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

/// Response codes (RFC 3501 §7.1, RFC 4315, RFC 5530).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Code<'a> {
    Alert,
    Capability(Vec<&'a str>),
    Parse,
    PermanentFlags(Vec<Flag<'a>>),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    /// UIDPLUS: `APPENDUID validity uids` (one UID, or a set after a MULTIAPPEND: ranges,
    /// in the order appended).
    AppendUid {
        validity: u32,
        uids: Vec<(u32, u32)>,
    },
    /// UIDPLUS: `COPYUID validity source-uids destination-uids` (the sets as ranges,
    /// in the same order).
    CopyUid {
        validity: u32,
        source: Vec<(u32, u32)>,
        destination: Vec<(u32, u32)>,
    },
    /// BINARY (RFC 3516): the part's transfer encoding is not one the server can undo.
    UnknownCte,
    /// SEARCH's charset is not supported: `BADCHARSET (the supported ones)`.
    BadCharset(Vec<&'a str>),
    /// RFC 5530 codes.
    TooBig,
    OverQuota,
    AuthenticationFailed,
    Unavailable,
    Nonexistent,
    AlreadyExists,
    Cannot,
    Limit,
    ServerBug,
    ClientBug,
    PrivacyRequired,
    /// Some of the messages a command named were expunged meanwhile (RFC 5530).
    ExpungeIssued,
    /// A special-use attribute the server cannot give a mailbox (RFC 6154 §6).
    UseAttr,
    /// CONDSTORE (RFC 7162 §3.1.2.1): the mailbox's highest mod-sequence.
    HighestModSeq(u64),
    /// CONDSTORE: the mailbox keeps no mod-sequences.
    NoModSeq,
    /// CONDSTORE (RFC 7162 §3.1.3): the messages a STORE with UNCHANGEDSINCE left alone
    /// (message numbers, or UIDs for UID STORE), as ranges.
    Modified(Vec<(u32, u32)>),
    /// QRESYNC (RFC 7162 §3.2.11): the mailbox selected before is now closed; what
    /// follows is the new one's.
    Closed,
    /// COMPRESS (RFC 4978): compression is already on.
    CompressionActive,
    /// CONTEXT=SEARCH (RFC 5267 §4.3): the server will not keep the result of the command
    /// with this tag up to date (`NOUPDATE "tag"`).
    NoUpdate(Tag<'a>),
}

/// One node of a THREAD response: a message (or, with `id` `None`, a missing parent the
/// algorithm kept to hold siblings together) and its replies.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Thread {
    /// The message number or UID; `None` for a parent that is not in the mailbox.
    pub id: Option<u32>,
    /// The replies, in order.
    pub children: Vec<Thread>,
}

impl Thread {
    /// `thread-list` (RFC 5256 §4): a chain of single replies is written flat, siblings as
    /// nested lists: `(3 6 (4 23)(44 7 96))`. A node without a message writes only its
    /// children's lists.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        let mut node = self;
        let mut members = 0;
        loop {
            if let Some(id) = node.id {
                if members > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(id.to_string().as_bytes());
                members += 1;
            }
            match node.children.as_slice() {
                [] => break,
                [only] if node.id.is_some() => node = only,
                children => {
                    if members > 0 {
                        out.push(b' ');
                    }
                    for child in children {
                        child.encode(out);
                    }
                    break;
                }
            }
        }
        out.push(b')');
    }
}

/// Untagged data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Data<'a> {
    Capability(Vec<&'a str>),
    /// `LIST (attributes) delimiter mailbox [("CHILDINFO" (criteria))]`.
    List {
        attributes: Vec<&'a str>,
        delimiter: Option<char>,
        mailbox: &'a [u8],
        /// RFC 5258's CHILDINFO: the selection criteria (`SUBSCRIBED`) that children of this
        /// mailbox, not themselves listed, satisfy. Empty: no extended data.
        child_info: Vec<&'a str>,
    },
    Lsub {
        attributes: Vec<&'a str>,
        delimiter: Option<char>,
        mailbox: &'a [u8],
    },
    /// `SORT n… [(MODSEQ m)]` (RFC 5256): message numbers, or UIDs for UID SORT, in order;
    /// `modseq` when the keys held MODSEQ (RFC 7162 §3.1.5), written only after some number.
    Sort {
        ids: Vec<u32>,
        modseq: Option<u64>,
    },
    /// `THREAD (…)…` (RFC 5256): the threads, each a tree of message numbers (or UIDs).
    Thread(Vec<Thread>),
    /// `QUOTA root (resource usage limit …)` (RFC 9208); resources that are not atoms are
    /// left out.
    Quota {
        root: &'a [u8],
        resources: Vec<(&'a str, u64, u64)>,
    },
    /// `QUOTAROOT mailbox root…` (RFC 9208).
    QuotaRoot {
        mailbox: &'a [u8],
        roots: Vec<&'a [u8]>,
    },
    Status {
        mailbox: &'a [u8],
        items: Vec<(StatusItem, u64)>,
    },
    /// `SEARCH n… [(MODSEQ m)]`: as [`Data::Sort`].
    Search {
        ids: Vec<u32>,
        modseq: Option<u64>,
    },
    /// `VANISHED [(EARLIER)] uids` (QRESYNC, RFC 7162 §3.2.10): expunged messages by UID,
    /// in place of EXPUNGE; `earlier` for those expunged before the command, as answers to
    /// SELECT QRESYNC and UID FETCH VANISHED. Nothing is written for an empty set.
    Vanished {
        earlier: bool,
        uids: Vec<(u32, u32)>,
    },
    Flags(Vec<Flag<'a>>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Enabled(Vec<&'a str>),
    /// `seq FETCH (items)`.
    Fetch {
        seq: u32,
        items: &'a [FetchItem<'a>],
    },
    /// The start of a FETCH response whose last item is a section the embedder streams
    /// (a large message, from its file): `* seq FETCH (items BODY[section]<origin> {len}`
    /// CRLF. Write exactly `len` octets after it, then [`FETCH_STREAMED_END`].
    FetchStreamed {
        seq: u32,
        items: &'a [FetchItem<'a>],
        section: &'a Section<'a>,
        origin: Option<u32>,
        len: u64,
    },
    /// ESEARCH (RFC 4731): `ESEARCH (TAG "tag") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]
    /// [PARTIAL (low:high set)] [ADDTO (position set)]… [REMOVEFROM (position set)]… [MODSEQ
    /// m]` (PARTIAL, ADDTO, REMOVEFROM: RFC 5267; an empty PARTIAL set is `NIL`; MODSEQ: RFC
    /// 7162 §3.1.5, when the keys held MODSEQ and something matched). The sets are ranges in
    /// the result's order (a sorted result's set need not ascend).
    ESearch {
        tag: Tag<'a>,
        uid: bool,
        min: Option<u32>,
        max: Option<u32>,
        count: Option<u32>,
        all: Option<Vec<(u32, u32)>>,
        partial: Option<PartialResult>,
        add_to: Vec<(u32, Vec<(u32, u32)>)>,
        remove_from: Vec<(u32, Vec<(u32, u32)>)>,
        modseq: Option<u64>,
    },
}

/// ESEARCH's `PARTIAL (low:high set)` (RFC 5267 §4.4): the range asked, and the results in
/// it as ranges in the result's order.
pub type PartialResult = ((u32, u32), Vec<(u32, u32)>);

/// A sequence set from sorted ranges: `1:3,7,9:10`.
pub(crate) fn uid_set(ranges: &[(u32, u32)]) -> String {
    let parts: Vec<String> =
        ranges.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}:{b}") }).collect();
    parts.join(",")
}

fn is_atom(s: &[u8]) -> bool {
    !s.is_empty()
        && !s.eq_ignore_ascii_case(b"NIL")
        && s.iter().all(|&b| b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b))
}

/// Writes `value` as an `astring`: an atom when it is one (and not `NIL`), else a quoted
/// string when it has no CR, LF, NUL or 8-bit octet, else a literal.
pub(crate) fn write_astring(out: &mut Vec<u8>, value: &[u8]) {
    if is_atom(value) {
        out.extend_from_slice(value);
    } else {
        write_string(out, value);
    }
}

/// Writes `value` as a `string`: quoted when it can be, else a literal.
pub(crate) fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    // One pass classifies: 1 = needs a literal, 2 = needs escapes (branch-free, vectorises).
    let class = value.iter().fold(0u8, |acc, &b| {
        acc | u8::from(b == b'\r' || b == b'\n' || b == 0 || b >= 0x80) | (u8::from(b == b'"' || b == b'\\') << 1)
    });
    if class & 1 == 0 {
        out.push(b'"');
        if class == 0 {
            out.extend_from_slice(value);
        } else {
            for &b in value {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", value.len()).as_bytes());
        out.extend_from_slice(value);
    }
}

/// Text after a status: control characters become spaces, and a leading `[` would read as
/// a response code, so it is not allowed to start the text.
fn write_text(out: &mut Vec<u8>, text: &str) {
    let text = text.trim_start_matches('[');
    let text = if text.is_empty() { "completed" } else { text };
    out.extend(text.bytes().map(|b| if b < b' ' || b == 0x7f { b' ' } else { b }));
    // A line that ends in `{n}` announces a literal to many clients: a text that ends
    // so is followed by a space, and no literal is read from the next response.
    if text.ends_with('}') {
        out.push(b' ');
    }
}

fn write_flags(out: &mut Vec<u8>, flags: &[Flag<'_>]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        // Validated when made: an atom, so nothing here can end the line.
        if f.is_system() {
            out.push(b'\\');
        }
        out.extend_from_slice(f.name().as_bytes());
    }
    out.push(b')');
}

fn atoms(out: &mut Vec<u8>, list: &[&str]) {
    for (i, a) in list.iter().filter(|a| is_atom(a.as_bytes())).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a.as_bytes());
    }
}

fn write_code(out: &mut Vec<u8>, code: &Code<'_>) {
    out.push(b'[');
    let simple = |name: &str, out: &mut Vec<u8>| out.extend_from_slice(name.as_bytes());
    match code {
        Code::Alert => simple("ALERT", out),
        Code::Capability(caps) => {
            out.extend_from_slice(b"CAPABILITY ");
            atoms(out, caps);
        }
        Code::Parse => simple("PARSE", out),
        Code::PermanentFlags(flags) => {
            out.extend_from_slice(b"PERMANENTFLAGS ");
            write_flags(out, flags);
        }
        Code::ReadOnly => simple("READ-ONLY", out),
        Code::ReadWrite => simple("READ-WRITE", out),
        Code::TryCreate => simple("TRYCREATE", out),
        Code::UidNext(n) => simple(&format!("UIDNEXT {n}"), out),
        Code::UidValidity(n) => simple(&format!("UIDVALIDITY {n}"), out),
        Code::Unseen(n) => simple(&format!("UNSEEN {n}"), out),
        Code::AppendUid { validity, uids } => simple(&format!("APPENDUID {validity} {}", uid_set(uids)), out),
        Code::CopyUid { validity, source, destination } => {
            simple(&format!("COPYUID {validity} {} {}", uid_set(source), uid_set(destination)), out);
        }
        Code::UnknownCte => simple("UNKNOWN-CTE", out),
        Code::BadCharset(list) => {
            out.extend_from_slice(b"BADCHARSET");
            if !list.is_empty() {
                out.extend_from_slice(b" (");
                atoms(out, list);
                out.push(b')');
            }
        }
        Code::TooBig => simple("TOOBIG", out),
        Code::OverQuota => simple("OVERQUOTA", out),
        Code::AuthenticationFailed => simple("AUTHENTICATIONFAILED", out),
        Code::Unavailable => simple("UNAVAILABLE", out),
        Code::Nonexistent => simple("NONEXISTENT", out),
        Code::AlreadyExists => simple("ALREADYEXISTS", out),
        Code::Cannot => simple("CANNOT", out),
        Code::Limit => simple("LIMIT", out),
        Code::ServerBug => simple("SERVERBUG", out),
        Code::ExpungeIssued => simple("EXPUNGEISSUED", out),
        Code::UseAttr => simple("USEATTR", out),
        Code::ClientBug => simple("CLIENTBUG", out),
        Code::PrivacyRequired => simple("PRIVACYREQUIRED", out),
        Code::HighestModSeq(n) => simple(&format!("HIGHESTMODSEQ {n}"), out),
        Code::NoModSeq => simple("NOMODSEQ", out),
        Code::Modified(set) => simple(&format!("MODIFIED {}", uid_set(set)), out),
        Code::Closed => simple("CLOSED", out),
        Code::CompressionActive => simple("COMPRESSIONACTIVE", out),
        Code::NoUpdate(tag) => {
            out.extend_from_slice(b"NOUPDATE ");
            write_string(out, tag.as_str().as_bytes());
        }
    }
    out.extend_from_slice(b"] ");
}

/// What ends a [`Data::FetchStreamed`] response once its literal's octets are written.
pub const FETCH_STREAMED_END: &[u8] = b")\r\n";

/// A status response: `tag` (`None`: untagged `*`), status, optional code, text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusResponse<'a> {
    /// The command's tag, or `None` for `*`.
    pub tag: Option<Tag<'a>>,
    /// OK, NO, BAD, PREAUTH or BYE.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<&'a Code<'a>>,
    /// Human-readable text (control characters become spaces; a leading `[` is dropped).
    pub text: &'a str,
}

impl StatusResponse<'_> {
    /// Writes the response line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_status(out, self.tag, self.status, self.code, self.text);
    }
}

impl Data<'_> {
    /// Writes the untagged response (`* …` CRLF).
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_data(out, self);
    }
}

/// Writes a status response.
pub(crate) fn write_status(
    out: &mut Vec<u8>,
    tag: Option<Tag<'_>>,
    status: Status,
    code: Option<&Code<'_>>,
    text: &str,
) {
    out.extend_from_slice(tag.map_or("*", |t| t.as_str()).as_bytes());
    out.extend_from_slice(match status {
        Status::Ok => b" OK ",
        Status::No => b" NO ",
        Status::Bad => b" BAD ",
        Status::PreAuth => b" PREAUTH ",
        Status::Bye => b" BYE ",
    });
    if let Some(code) = code {
        write_code(out, code);
    }
    write_text(out, text);
    out.extend_from_slice(b"\r\n");
}

fn status_item_name(item: StatusItem) -> &'static str {
    match item {
        StatusItem::Messages => "MESSAGES",
        StatusItem::Recent => "RECENT",
        StatusItem::UidNext => "UIDNEXT",
        StatusItem::UidValidity => "UIDVALIDITY",
        StatusItem::Unseen => "UNSEEN",
        StatusItem::Deleted => "DELETED",
        StatusItem::Size => "SIZE",
        StatusItem::HighestModSeq => "HIGHESTMODSEQ",
    }
}

/// Writes untagged data.
pub(crate) fn write_data(out: &mut Vec<u8>, data: &Data<'_>) {
    if matches!(data, Data::Vanished { uids, .. } if uids.is_empty()) {
        return;
    }
    out.extend_from_slice(b"* ");
    match data {
        Data::Fetch { seq, items } => fetch::write_fetch(out, *seq, items),
        Data::FetchStreamed { seq, items, section, origin, len } => {
            fetch::write_fetch_streamed(out, *seq, items, section, *origin, *len);
        }
        Data::Capability(caps) => {
            out.extend_from_slice(b"CAPABILITY ");
            atoms(out, caps);
        }
        Data::List { attributes, delimiter, mailbox, .. } | Data::Lsub { attributes, delimiter, mailbox } => {
            out.extend_from_slice(if matches!(data, Data::List { .. }) { b"LIST (" } else { b"LSUB (" });
            let attrs: Vec<&str> =
                attributes.iter().copied().filter(|a| a.starts_with('\\') && is_atom(&a.as_bytes()[1..])).collect();
            out.extend_from_slice(attrs.join(" ").as_bytes());
            out.extend_from_slice(b") ");
            match delimiter {
                Some(d) if d.is_ascii() && !d.is_ascii_control() => {
                    let mut buf = [0u8; 1];
                    write_string(out, d.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.extend_from_slice(b"NIL"),
            }
            out.push(b' ');
            write_astring(out, mailbox);
            if let Data::List { child_info, .. } = data {
                let criteria: Vec<&str> = child_info.iter().copied().filter(|c| is_atom(c.as_bytes())).collect();
                if !criteria.is_empty() {
                    out.extend_from_slice(b" (\"CHILDINFO\" (");
                    for (i, c) in criteria.iter().enumerate() {
                        if i > 0 {
                            out.push(b' ');
                        }
                        write_string(out, c.as_bytes());
                    }
                    out.extend_from_slice(b"))");
                }
            }
        }
        Data::Quota { root, resources } => {
            out.extend_from_slice(b"QUOTA ");
            write_astring(out, root);
            out.extend_from_slice(b" (");
            let list: Vec<String> = resources
                .iter()
                .filter(|(name, _, _)| is_atom(name.as_bytes()))
                .map(|(name, usage, limit)| format!("{name} {usage} {limit}"))
                .collect();
            out.extend_from_slice(list.join(" ").as_bytes());
            out.push(b')');
        }
        Data::QuotaRoot { mailbox, roots } => {
            out.extend_from_slice(b"QUOTAROOT ");
            write_astring(out, mailbox);
            for root in roots {
                out.push(b' ');
                write_astring(out, root);
            }
        }
        Data::Thread(threads) => {
            out.extend_from_slice(b"THREAD");
            if !threads.is_empty() {
                out.push(b' ');
            }
            for t in threads {
                t.encode(out);
            }
        }
        Data::Status { mailbox, items } => {
            out.extend_from_slice(b"STATUS ");
            write_astring(out, mailbox);
            out.extend_from_slice(b" (");
            let list: Vec<String> = items.iter().map(|(i, n)| format!("{} {n}", status_item_name(*i))).collect();
            out.extend_from_slice(list.join(" ").as_bytes());
            out.push(b')');
        }
        Data::Search { ids, modseq } | Data::Sort { ids, modseq } => {
            out.extend_from_slice(if matches!(data, Data::Search { .. }) { b"SEARCH" } else { b"SORT" });
            for id in ids {
                out.extend_from_slice(format!(" {id}").as_bytes());
            }
            if let Some(m) = modseq.filter(|_| !ids.is_empty()) {
                out.extend_from_slice(format!(" (MODSEQ {m})").as_bytes());
            }
        }
        Data::Vanished { earlier, uids } => {
            out.extend_from_slice(if *earlier { b"VANISHED (EARLIER) " } else { b"VANISHED " });
            out.extend_from_slice(uid_set(uids).as_bytes());
        }
        Data::Flags(flags) => {
            out.extend_from_slice(b"FLAGS ");
            write_flags(out, flags);
        }
        Data::Exists(n) => out.extend_from_slice(format!("{n} EXISTS").as_bytes()),
        Data::Recent(n) => out.extend_from_slice(format!("{n} RECENT").as_bytes()),
        Data::Expunge(n) => out.extend_from_slice(format!("{n} EXPUNGE").as_bytes()),
        Data::ESearch { tag, uid, min, max, count, all, partial, add_to, remove_from, modseq } => {
            out.extend_from_slice(b"ESEARCH (TAG ");
            write_string(out, tag.as_str().as_bytes());
            out.push(b')');
            if *uid {
                out.extend_from_slice(b" UID");
            }
            for (name, v) in [("MIN", min), ("MAX", max), ("COUNT", count)] {
                if let Some(v) = v {
                    out.extend_from_slice(format!(" {name} {v}").as_bytes());
                }
            }
            if let Some(all) = all.as_ref().filter(|a| !a.is_empty()) {
                out.extend_from_slice(format!(" ALL {}", uid_set(all)).as_bytes());
            }
            if let Some(((low, high), set)) = partial {
                let set = if set.is_empty() { "NIL".to_owned() } else { uid_set(set) };
                out.extend_from_slice(format!(" PARTIAL ({low}:{high} {set})").as_bytes());
            }
            for (name, changes) in [("ADDTO", add_to), ("REMOVEFROM", remove_from)] {
                for (position, set) in changes.iter().filter(|(_, s)| !s.is_empty()) {
                    out.extend_from_slice(format!(" {name} ({position} {})", uid_set(set)).as_bytes());
                }
            }
            if let Some(m) = modseq {
                out.extend_from_slice(format!(" MODSEQ {m}").as_bytes());
            }
        }
        Data::Enabled(caps) => {
            out.extend_from_slice(b"ENABLED");
            for c in caps.iter().filter(|c| is_atom(c.as_bytes())) {
                out.push(b' ');
                out.extend_from_slice(c.as_bytes());
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
