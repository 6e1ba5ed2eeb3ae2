//! Commands ([RFC 3501 §6](https://www.rfc-editor.org/rfc/rfc3501#section-6) and the
//! extensions), parsed from one framed command with [`crate::lex`]. Text borrows from the
//! command; mailbox names stay as sent (modified UTF-7, see [`crate::mutf7`]).
//!
//! FETCH attributes are [`FetchAttr`]s (with [`Section`] and [`Partial`]); SEARCH keys are [`SearchKey`]s.

mod condstore;
mod fetch;
mod search;
mod sort;

pub use condstore::{EntryKind, FetchModifiers, ModSeqEntry, Qresync, SelectParams};
pub use fetch::{FetchAttr, Partial, Section, SectionText};
pub use search::{Date, MAX_KEY_DEPTH, ReturnOption, SearchKey};
pub use sort::{SortCriterion, SortKey, ThreadAlgorithm};
use sort::{sort, thread};

use std::borrow::Cow;
use std::fmt;

use crate::lex::{Cursor, LexError, SeqRange};
use crate::{Mechanism, Secret};

/// A mailbox name: `INBOX` in any case is the inbox (RFC 3501 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mailbox<'a> {
    /// The inbox.
    Inbox,
    /// Any other name, as sent (modified UTF-7 unless UTF8=ACCEPT is enabled).
    Other(Cow<'a, [u8]>),
}

impl<'a> Mailbox<'a> {
    fn from_astring(name: Cow<'a, [u8]>) -> Self {
        if name.eq_ignore_ascii_case(b"INBOX") { Self::Inbox } else { Self::Other(name) }
    }
}

/// `STATUS` items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    /// `HIGHESTMODSEQ` (CONDSTORE, RFC 7162 §3.1.2).
    HighestModSeq,
}

/// How STORE changes the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

pub use crate::atom::Flag;

/// One `field value` pair of ID (RFC 2971): the value may be NIL.
pub type IdField<'a> = (Cow<'a, [u8]>, Option<Cow<'a, [u8]>>);

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag.
    pub tag: &'a str,
    /// What it asks.
    pub body: Body<'a>,
}

/// A LIST selection option (RFC 5258 §3.1, RFC 6154 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListSelect {
    /// `SUBSCRIBED`: subscribed mailboxes only, existing or not.
    Subscribed,
    /// `REMOTE`: remote mailboxes too (none here: it changes nothing).
    Remote,
    /// `RECURSIVEMATCH`: a parent the pattern matches is named (with `CHILDINFO`) when only
    /// its children satisfy the other options. Never alone, nor with `REMOTE` alone.
    RecursiveMatch,
    /// `SPECIAL-USE`: mailboxes with a special use only.
    SpecialUse,
}

/// A LIST return option (RFC 5258 §3.2, RFC 5819, RFC 6154 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListReturn {
    /// `SUBSCRIBED`: `\Subscribed` on subscribed mailboxes.
    Subscribed,
    /// `CHILDREN`: `\HasChildren` / `\HasNoChildren`.
    Children,
    /// `SPECIAL-USE`: the special-use attributes.
    SpecialUse,
    /// `STATUS (items)` (LIST-STATUS): a STATUS response after each selectable mailbox.
    Status(Vec<StatusItem>),
}

/// What a command asks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Body<'a> {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR, RFC 4959); `=` is an empty one.
    Authenticate {
        mechanism: Mechanism<'a>,
        initial_response: Option<Secret<&'a str>>,
    },
    Login {
        username: Cow<'a, [u8]>,
        password: Secret<Cow<'a, [u8]>>,
    },
    /// `SELECT mailbox [(CONDSTORE / QRESYNC (…))]` (RFC 7162).
    Select {
        mailbox: Mailbox<'a>,
        params: SelectParams,
    },
    /// `EXAMINE`, with SELECT's parameters.
    Examine {
        mailbox: Mailbox<'a>,
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (attributes))]` (RFC 6154 §3's CREATE-SPECIAL-USE: the
    /// special-use attributes without their backslash, e.g. `Drafts`).
    Create {
        mailbox: Mailbox<'a>,
        special_use: Vec<&'a str>,
    },
    Delete {
        mailbox: Mailbox<'a>,
    },
    Rename {
        from: Mailbox<'a>,
        to: Mailbox<'a>,
    },
    Subscribe {
        mailbox: Mailbox<'a>,
    },
    Unsubscribe {
        mailbox: Mailbox<'a>,
    },
    /// `LIST [(selection)] reference (pattern / (patterns)) [RETURN (options)]` (RFC 3501,
    /// and RFC 5258's extended form, with RFC 5819's STATUS and RFC 6154's SPECIAL-USE).
    List {
        selection: Vec<ListSelect>,
        reference: Cow<'a, [u8]>,
        patterns: Vec<Cow<'a, [u8]>>,
        return_options: Vec<ListReturn>,
    },
    Lsub {
        reference: Cow<'a, [u8]>,
        pattern: Cow<'a, [u8]>,
    },
    Status {
        mailbox: Mailbox<'a>,
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flag-list] [date-time] literal`.
    Append {
        mailbox: Mailbox<'a>,
        flags: Vec<Flag<'a>>,
        /// The `date-time` as sent, quotes removed.
        date: Option<Cow<'a, [u8]>>,
        message: &'a [u8],
    },
    Check,
    Close,
    Expunge,
    /// `UID EXPUNGE set` (UIDPLUS).
    UidExpunge {
        set: Vec<SeqRange>,
    },
    Copy {
        uid: bool,
        set: Vec<SeqRange>,
        mailbox: Mailbox<'a>,
    },
    Move {
        uid: bool,
        set: Vec<SeqRange>,
        mailbox: Mailbox<'a>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE modseq)] [+|-]FLAGS[.SILENT] flags` (the
    /// modifier is CONDSTORE's, RFC 7162 §3.1.3).
    Store {
        uid: bool,
        set: Vec<SeqRange>,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: Vec<Flag<'a>>,
    },
    /// `[UID] FETCH set attributes [(modifiers)]`; macros are expanded, and `UID FETCH`
    /// always has [`FetchAttr::Uid`] (first, if it was not asked for: RFC 3501 §6.4.8).
    Fetch {
        uid: bool,
        set: Vec<SeqRange>,
        attributes: Vec<FetchAttr<'a>>,
        modifiers: FetchModifiers,
    },
    /// `[UID] SEARCH [RETURN (options)] [CHARSET charset] keys`; `ret` is `Some` for ESEARCH.
    Search {
        uid: bool,
        ret: Option<Vec<ReturnOption>>,
        charset: Option<Cow<'a, [u8]>>,
        keys: Vec<SearchKey<'a>>,
    },
    /// `[UID] SORT [RETURN (options)] (criteria) charset keys` (RFC 5256; DISPLAYFROM and
    /// DISPLAYTO, RFC 5957; `ret` is `Some` for ESORT, RFC 5267).
    Sort {
        uid: bool,
        ret: Option<Vec<ReturnOption>>,
        criteria: Vec<SortCriterion>,
        charset: Cow<'a, [u8]>,
        keys: Vec<SearchKey<'a>>,
    },
    /// `[UID] THREAD algorithm charset keys` (RFC 5256 §4).
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: Cow<'a, [u8]>,
        keys: Vec<SearchKey<'a>>,
    },
    /// `GETQUOTA root` (RFC 9208).
    GetQuota {
        root: Cow<'a, [u8]>,
    },
    /// `GETQUOTAROOT mailbox` (RFC 9208).
    GetQuotaRoot {
        mailbox: Mailbox<'a>,
    },
    /// `SETQUOTA root (resource limit …)` (RFC 9208): resource names as sent.
    SetQuota {
        root: Cow<'a, [u8]>,
        limits: Vec<(&'a str, u64)>,
    },
    /// `CANCELUPDATE tag…` (RFC 5267 §4.3): the search contexts, by the tags of the
    /// commands that made them, whose updates stop.
    CancelUpdate {
        tags: Vec<Cow<'a, [u8]>>,
    },
    /// `COMPRESS algorithm` (RFC 4978); `DEFLATE` is the one algorithm defined.
    Compress {
        algorithm: &'a str,
    },
    Idle,
    Unselect,
    Namespace,
    Enable {
        capabilities: Vec<&'a str>,
    },
    /// `ID ( *(string nstring) ) / NIL` (RFC 2971).
    Id {
        fields: Option<Vec<IdField<'a>>>,
    },
}

/// Why a command did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// No tag: answer `* BAD`.
    NoTag,
    /// Not a command this parser knows.
    Unknown,
    /// The arguments do not follow the grammar.
    Syntax(LexError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTag => f.write_str("no tag"),
            Self::Unknown => f.write_str("unknown command"),
            Self::Syntax(e) => write!(f, "syntax error: {e}"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        Self::Syntax(e)
    }
}

/// Atoms in parentheses: `"(" [atom *(SP atom)] ")"`.
fn atom_list<'a>(c: &mut Cursor<'a>) -> Result<Vec<&'a str>, LexError> {
    c.open()?;
    let mut out = Vec::new();
    while !c.rest().starts_with(b")") {
        if !out.is_empty() {
            c.sp()?;
        }
        out.push(c.atom()?);
    }
    c.close()?;
    Ok(out)
}

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// ([RFC 5258 §6](https://www.rfc-editor.org/rfc/rfc5258#section-6)).
fn list<'a>(c: &mut Cursor<'a>) -> Result<Body<'a>, LexError> {
    c.sp()?;
    let mut selection = Vec::new();
    if c.rest().starts_with(b"(") {
        let at = c.pos();
        for option in atom_list(c)? {
            let is = |n: &str| option.eq_ignore_ascii_case(n);
            selection.push(match () {
                _ if is("SUBSCRIBED") => ListSelect::Subscribed,
                _ if is("REMOTE") => ListSelect::Remote,
                _ if is("RECURSIVEMATCH") => ListSelect::RecursiveMatch,
                _ if is("SPECIAL-USE") => ListSelect::SpecialUse,
                _ => return Err(LexError { expected: "a LIST selection option", at }),
            });
        }
        // RECURSIVEMATCH needs an option that selects (RFC 5258 §3.1).
        let selects = selection.iter().any(|o| matches!(o, ListSelect::Subscribed | ListSelect::SpecialUse));
        if selection.contains(&ListSelect::RecursiveMatch) && !selects {
            return Err(LexError { expected: "RECURSIVEMATCH with a selecting option", at });
        }
        c.sp()?;
    }
    let reference = c.astring()?;
    c.sp()?;
    let mut patterns = Vec::new();
    if c.rest().starts_with(b"(") {
        c.open()?;
        loop {
            patterns.push(c.list_mailbox()?);
            if c.rest().starts_with(b")") {
                break;
            }
            c.sp()?;
        }
        c.close()?;
    } else {
        patterns.push(c.list_mailbox()?);
    }
    let mut return_options = Vec::new();
    if c.rest().starts_with(b" ") {
        c.sp()?;
        if !c.keyword("RETURN") {
            return Err(LexError { expected: "RETURN", at: c.pos() });
        }
        c.sp()?;
        c.open()?;
        while !c.rest().starts_with(b")") {
            if !return_options.is_empty() {
                c.sp()?;
            }
            let at = c.pos();
            let option = c.atom()?;
            let is = |n: &str| option.eq_ignore_ascii_case(n);
            return_options.push(match () {
                _ if is("SUBSCRIBED") => ListReturn::Subscribed,
                _ if is("CHILDREN") => ListReturn::Children,
                _ if is("SPECIAL-USE") => ListReturn::SpecialUse,
                _ if is("STATUS") => {
                    c.sp()?;
                    ListReturn::Status(status_items(c)?)
                }
                _ => return Err(LexError { expected: "a LIST return option", at }),
            });
        }
        c.close()?;
    }
    Ok(Body::List { selection, reference, patterns, return_options })
}

/// Where an APPEND's mailbox ends (`tag SP "APPEND" SP mailbox`): what each message of a
/// MULTIAPPEND (RFC 3502) is appended to.
pub(crate) fn append_head_len(command: &[u8]) -> Option<usize> {
    let mut c = Cursor::new(command);
    c.tag().ok()?;
    c.sp().ok()?;
    c.atom().ok().filter(|n| n.eq_ignore_ascii_case("APPEND"))?;
    c.sp().ok()?;
    c.astring().ok()?;
    Some(c.pos())
}

/// The tag of a command, for answering one that did not parse.
pub fn tag_of(command: &[u8]) -> Option<&str> {
    Cursor::new(command).tag().ok()
}

/// The name of a command (the atom after the tag), also of one not yet complete.
pub fn name_of(command: &[u8]) -> Option<&str> {
    let mut c = Cursor::new(command);
    c.tag().ok()?;
    c.sp().ok()?;
    c.atom().ok()
}

impl<'a> Command<'a> {
    /// Parses one framed command (CRLF included).
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let mut c = Cursor::new(input);
        let tag = c.tag().map_err(|_| ParseError::NoTag)?;
        c.sp()?;
        let name = c.atom().map_err(|_| ParseError::Unknown)?;
        let body = Self::body(&mut c, name)?;
        c.end()?;
        Ok(Self { tag, body })
    }

    fn body(c: &mut Cursor<'a>, name: &str) -> Result<Body<'a>, ParseError> {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let mailbox = |c: &mut Cursor<'a>| -> Result<Mailbox<'a>, ParseError> {
            c.sp()?;
            Ok(Mailbox::from_astring(c.astring()?))
        };
        Ok(match () {
            _ if is("CAPABILITY") => Body::Capability,
            _ if is("NOOP") => Body::Noop,
            _ if is("LOGOUT") => Body::Logout,
            _ if is("STARTTLS") => Body::StartTls,
            _ if is("CHECK") => Body::Check,
            _ if is("CLOSE") => Body::Close,
            _ if is("EXPUNGE") => Body::Expunge,
            _ if is("IDLE") => Body::Idle,
            _ if is("UNSELECT") => Body::Unselect,
            _ if is("NAMESPACE") => Body::Namespace,
            _ if is("AUTHENTICATE") => {
                c.sp()?;
                let mechanism = Mechanism::parse(c.atom()?.as_bytes()).ok_or(c.err("a SASL mechanism name"))?;
                let initial_response = if c.eat(b' ') { Some(base64_or_empty(c)?) } else { None };
                Body::Authenticate { mechanism, initial_response: initial_response.map(Secret::new) }
            }
            _ if is("LOGIN") => {
                c.sp()?;
                let username = c.astring()?;
                c.sp()?;
                Body::Login { username, password: Secret::new(c.astring()?) }
            }
            _ if is("SELECT") => Body::Select { mailbox: mailbox(c)?, params: condstore::select_params(c)? },
            _ if is("EXAMINE") => Body::Examine { mailbox: mailbox(c)?, params: condstore::select_params(c)? },
            _ if is("CREATE") => {
                let mailbox = mailbox(c)?;
                let mut special_use = Vec::new();
                if c.eat(b' ') {
                    c.open()?;
                    let at = c.pos();
                    if !c.keyword("USE") {
                        return Err(ParseError::Syntax(LexError { expected: "USE", at }));
                    }
                    c.sp()?;
                    c.open()?;
                    while !c.rest().starts_with(b")") {
                        if !special_use.is_empty() {
                            c.sp()?;
                        }
                        let at = c.pos();
                        if !c.eat(b'\\') {
                            return Err(ParseError::Syntax(LexError { expected: "a special-use attribute", at }));
                        }
                        special_use.push(c.atom()?);
                    }
                    c.close()?;
                    c.close()?;
                }
                Body::Create { mailbox, special_use }
            }
            _ if is("DELETE") => Body::Delete { mailbox: mailbox(c)? },
            _ if is("SUBSCRIBE") => Body::Subscribe { mailbox: mailbox(c)? },
            _ if is("UNSUBSCRIBE") => Body::Unsubscribe { mailbox: mailbox(c)? },
            _ if is("RENAME") => {
                let from = mailbox(c)?;
                Body::Rename { from, to: mailbox(c)? }
            }
            _ if is("LSUB") => {
                c.sp()?;
                let reference = c.astring()?;
                c.sp()?;
                Body::Lsub { reference, pattern: c.list_mailbox()? }
            }
            _ if is("LIST") => list(c)?,
            _ if is("STATUS") => {
                let mailbox = mailbox(c)?;
                c.sp()?;
                Body::Status { mailbox, items: status_items(c)? }
            }
            _ if is("APPEND") => {
                let mailbox = mailbox(c)?;
                c.sp()?;
                let mut flags = Vec::new();
                if c.rest().first() == Some(&b'(') {
                    flags = flag_list(c)?;
                    c.sp()?;
                }
                let mut date = None;
                if c.rest().first() == Some(&b'"') {
                    date = Some(c.quoted()?);
                    c.sp()?;
                }
                Body::Append { mailbox, flags, date, message: c.literal()? }
            }
            _ if is("COPY") || is("MOVE") => {
                let (set, mailbox) = set_and_mailbox(c)?;
                if is("COPY") {
                    Body::Copy { uid: false, set, mailbox }
                } else {
                    Body::Move { uid: false, set, mailbox }
                }
            }
            _ if is("UID") => {
                c.sp()?;
                let at = c.pos();
                let sub = c.atom()?;
                let sub_is = |n: &str| sub.eq_ignore_ascii_case(n);
                if sub_is("COPY") || sub_is("MOVE") {
                    let (set, mailbox) = set_and_mailbox(c)?;
                    if sub_is("COPY") {
                        Body::Copy { uid: true, set, mailbox }
                    } else {
                        Body::Move { uid: true, set, mailbox }
                    }
                } else if sub_is("EXPUNGE") {
                    c.sp()?;
                    Body::UidExpunge { set: c.sequence_set()? }
                } else if sub_is("STORE") {
                    store(c, true)?
                } else if sub_is("FETCH") {
                    fetch(c, true)?
                } else if sub_is("SEARCH") {
                    search(c, true)?
                } else if sub_is("SORT") {
                    sort(c, true)?
                } else if sub_is("THREAD") {
                    thread(c, true)?
                } else {
                    return Err(ParseError::Syntax(LexError {
                        expected: "UID COPY, MOVE, EXPUNGE, FETCH, SEARCH, SORT, STORE or THREAD",
                        at,
                    }));
                }
            }
            _ if is("ENABLE") => {
                let mut capabilities = Vec::new();
                while c.eat(b' ') {
                    capabilities.push(c.atom()?);
                }
                if capabilities.is_empty() {
                    return Err(ParseError::Syntax(LexError { expected: "capability", at: c.pos() }));
                }
                Body::Enable { capabilities }
            }
            _ if is("ID") => {
                c.sp()?;
                if c.keyword("NIL") {
                    Body::Id { fields: None }
                } else {
                    c.open()?;
                    let mut fields = Vec::new();
                    // RFC 2971 §3.3: at most 30 field-value pairs.
                    while c.rest().first() != Some(&b')') && fields.len() < 30 {
                        if !fields.is_empty() {
                            c.sp()?;
                        }
                        let field = c.string()?;
                        c.sp()?;
                        fields.push((field, c.nstring()?));
                    }
                    c.close()?;
                    Body::Id { fields: Some(fields) }
                }
            }
            _ if is("STORE") => store(c, false)?,
            _ if is("FETCH") => fetch(c, false)?,
            _ if is("SEARCH") => search(c, false)?,
            _ if is("SORT") => sort(c, false)?,
            _ if is("GETQUOTA") => {
                c.sp()?;
                Body::GetQuota { root: c.astring()? }
            }
            _ if is("GETQUOTAROOT") => Body::GetQuotaRoot { mailbox: mailbox(c)? },
            _ if is("SETQUOTA") => {
                c.sp()?;
                let root = c.astring()?;
                c.sp()?;
                c.open()?;
                let mut limits = Vec::new();
                while !c.rest().starts_with(b")") {
                    if !limits.is_empty() {
                        c.sp()?;
                    }
                    let resource = c.atom()?;
                    c.sp()?;
                    limits.push((resource, c.number64()?));
                }
                c.close()?;
                Body::SetQuota { root, limits }
            }
            _ if is("THREAD") => thread(c, false)?,
            _ if is("COMPRESS") => {
                c.sp()?;
                Body::Compress { algorithm: c.atom()? }
            }
            _ if is("CANCELUPDATE") => {
                let mut tags = Vec::new();
                loop {
                    c.sp()?;
                    tags.push(c.string()?);
                    if c.rest().first() != Some(&b' ') {
                        break;
                    }
                }
                Body::CancelUpdate { tags }
            }
            _ => return Err(ParseError::Unknown),
        })
    }
}

/// `"(" status-att *(SP status-att) ")"`.
fn status_items(c: &mut Cursor<'_>) -> Result<Vec<StatusItem>, LexError> {
    c.open()?;
    let mut items = Vec::new();
    loop {
        let at = c.pos();
        let item = c.atom()?;
        items.push(status_item(item).ok_or(LexError { expected: "status item", at })?);
        if !c.eat(b' ') {
            break;
        }
    }
    c.close()?;
    Ok(items)
}

fn status_item(s: &str) -> Option<StatusItem> {
    let is = |n: &str| s.eq_ignore_ascii_case(n);
    Some(match () {
        _ if is("MESSAGES") => StatusItem::Messages,
        _ if is("RECENT") => StatusItem::Recent,
        _ if is("UIDNEXT") => StatusItem::UidNext,
        _ if is("UIDVALIDITY") => StatusItem::UidValidity,
        _ if is("UNSEEN") => StatusItem::Unseen,
        _ if is("DELETED") => StatusItem::Deleted,
        _ if is("SIZE") => StatusItem::Size,
        _ if is("HIGHESTMODSEQ") => StatusItem::HighestModSeq,
        _ => return None,
    })
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
fn flag_list<'a>(c: &mut Cursor<'a>) -> Result<Vec<Flag<'a>>, ParseError> {
    c.open()?;
    let mut flags = Vec::new();
    while c.rest().first() != Some(&b')') {
        if !flags.is_empty() {
            c.sp()?;
        }
        flags.push(flag(c)?);
    }
    c.close()?;
    Ok(flags)
}

/// `STORE sequence-set SP store-att-flags`, `store-att-flags = (["+" / "-"] "FLAGS"
/// [".SILENT"]) SP (flag-list / (flag *(SP flag)))`.
fn store<'a>(c: &mut Cursor<'a>, uid: bool) -> Result<Body<'a>, ParseError> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let unchanged_since = condstore::store_modifiers(c)?;
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let at = c.pos();
    let item = c.atom()?;
    let silent = if item.eq_ignore_ascii_case("FLAGS.SILENT") {
        true
    } else if item.eq_ignore_ascii_case("FLAGS") {
        false
    } else {
        return Err(ParseError::Syntax(LexError { expected: "FLAGS or FLAGS.SILENT", at }));
    };
    c.sp()?;
    let flags = if c.rest().first() == Some(&b'(') {
        flag_list(c)?
    } else {
        let mut flags = vec![flag(c)?];
        while c.eat(b' ') {
            flags.push(flag(c)?);
        }
        flags
    };
    Ok(Body::Store { uid, set, unchanged_since, mode, silent, flags })
}

fn fetch<'a>(c: &mut Cursor<'a>, uid: bool) -> Result<Body<'a>, ParseError> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mut attributes = fetch::attributes(c)?;
    // RFC 3501 §6.4.8: UID FETCH answers with the UID whether or not it was asked for.
    if uid && !attributes.contains(&FetchAttr::Uid) {
        attributes.insert(0, FetchAttr::Uid);
    }
    let modifiers = condstore::fetch_modifiers(c, uid)?;
    Ok(Body::Fetch { uid, set, attributes, modifiers })
}

fn search<'a>(c: &mut Cursor<'a>, uid: bool) -> Result<Body<'a>, ParseError> {
    let s = search::search(c)?;
    Ok(Body::Search { uid, ret: s.ret, charset: s.charset, keys: s.keys })
}

fn flag<'a>(c: &mut Cursor<'a>) -> Result<Flag<'a>, ParseError> {
    // The lexer's atoms are atoms: the constructors cannot refuse them.
    let at = c.pos();
    let system = c.eat(b'\\');
    let name = c.atom()?;
    let flag = if system { Flag::system(name) } else { Flag::keyword(name) };
    flag.map_err(|_| ParseError::Syntax(LexError { expected: "flag", at }))
}

fn set_and_mailbox<'a>(c: &mut Cursor<'a>) -> Result<(Vec<SeqRange>, Mailbox<'a>), ParseError> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    Ok((set, Mailbox::from_astring(c.astring()?)))
}

/// SASL-IR's initial response: base64 characters and padding, or `=` for empty.
fn base64_or_empty<'a>(c: &mut Cursor<'a>) -> Result<&'a str, ParseError> {
    let at = c.pos();
    let text = c.rest();
    let len = text.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')).count();
    let token = std::str::from_utf8(&text[..len]).unwrap_or_default();
    let ok = token == "="
        || (!token.is_empty() && token.len().is_multiple_of(4) && !token.trim_end_matches('=').contains('='));
    if !ok {
        return Err(ParseError::Syntax(LexError { expected: "base64 initial response", at }));
    }
    c.advance(len);
    Ok(token)
}

#[cfg(test)]
mod tests;
