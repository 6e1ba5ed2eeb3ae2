//! Commands ([RFC 3977 §5–8](https://www.rfc-editor.org/rfc/rfc3977#section-5) and the
//! extensions): one line, a keyword (any case) and arguments separated by spaces or tabs,
//! at most [`MAX_COMMAND_LINE`] octets with its CRLF. [`Command::parse_line`] reads one;
//! [`Command::encode`] writes one back and refuses a value that would not parse back to
//! itself (a space or line break inside an argument, a message-id without its brackets, a
//! line too long), so no caller can smuggle a second command into a line.

use std::fmt;

use sansmail_smtp_proto::{Mechanism, Secret};

/// Longest command line, CRLF included (RFC 3977 §3.1).
pub const MAX_COMMAND_LINE: usize = 512;
/// Longest message-id, brackets included (RFC 3977 §3.6).
pub const MAX_MESSAGE_ID: usize = 250;
/// Largest article number (RFC 3977 §6: 1 to 2,147,483,647; RFC 3977 allows servers to go
/// past it, so numbers are read up to 2^63 - 1 and the embedder decides).
pub const MAX_ARTICLE_NUMBER: u64 = i64::MAX as u64;

/// The command keywords this crate knows.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Keyword {
    Article,
    Authinfo,
    Body,
    Capabilities,
    Check,
    Date,
    Group,
    Hdr,
    Head,
    Help,
    Ihave,
    Last,
    List,
    ListGroup,
    Mode,
    NewGroups,
    NewNews,
    Next,
    Over,
    Post,
    Quit,
    StartTls,
    Stat,
    Takethis,
    XHdr,
    XOver,
    XPat,
    /// A keyword this crate does not know (RFC 3977 §3.2.1: answer `500`).
    Unknown,
}

impl Keyword {
    const ALL: [(Self, &'static str); 27] = [
        (Self::Article, "ARTICLE"),
        (Self::Authinfo, "AUTHINFO"),
        (Self::Body, "BODY"),
        (Self::Capabilities, "CAPABILITIES"),
        (Self::Check, "CHECK"),
        (Self::Date, "DATE"),
        (Self::Group, "GROUP"),
        (Self::Hdr, "HDR"),
        (Self::Head, "HEAD"),
        (Self::Help, "HELP"),
        (Self::Ihave, "IHAVE"),
        (Self::Last, "LAST"),
        (Self::List, "LIST"),
        (Self::ListGroup, "LISTGROUP"),
        (Self::Mode, "MODE"),
        (Self::NewGroups, "NEWGROUPS"),
        (Self::NewNews, "NEWNEWS"),
        (Self::Next, "NEXT"),
        (Self::Over, "OVER"),
        (Self::Post, "POST"),
        (Self::Quit, "QUIT"),
        (Self::StartTls, "STARTTLS"),
        (Self::Stat, "STAT"),
        (Self::Takethis, "TAKETHIS"),
        (Self::XHdr, "XHDR"),
        (Self::XOver, "XOVER"),
        (Self::XPat, "XPAT"),
    ];

    /// The keyword as written (upper case).
    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(k, _)| *k == self).map_or("", |(_, s)| s)
    }

    fn from_word(word: &str) -> Self {
        // Upper-cased into a buffer and matched whole: one pass, no allocation.
        let mut buf = [0u8; 12];
        let Some(upper) = buf.get_mut(..word.len()) else { return Self::Unknown };
        for (u, b) in upper.iter_mut().zip(word.bytes()) {
            *u = b.to_ascii_uppercase();
        }
        match &*upper {
            b"ARTICLE" => Self::Article,
            b"AUTHINFO" => Self::Authinfo,
            b"BODY" => Self::Body,
            b"CAPABILITIES" => Self::Capabilities,
            b"CHECK" => Self::Check,
            b"DATE" => Self::Date,
            b"GROUP" => Self::Group,
            b"HDR" => Self::Hdr,
            b"HEAD" => Self::Head,
            b"HELP" => Self::Help,
            b"IHAVE" => Self::Ihave,
            b"LAST" => Self::Last,
            b"LIST" => Self::List,
            b"LISTGROUP" => Self::ListGroup,
            b"MODE" => Self::Mode,
            b"NEWGROUPS" => Self::NewGroups,
            b"NEWNEWS" => Self::NewNews,
            b"NEXT" => Self::Next,
            b"OVER" => Self::Over,
            b"POST" => Self::Post,
            b"QUIT" => Self::Quit,
            b"STARTTLS" => Self::StartTls,
            b"STAT" => Self::Stat,
            b"TAKETHIS" => Self::Takethis,
            b"XHDR" => Self::XHdr,
            b"XOVER" => Self::XOver,
            b"XPAT" => Self::XPat,
            _ => Self::Unknown,
        }
    }
}

/// An article named by number in the selected group, or by message-id.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArticleRef<'a> {
    /// An article number (1 to [`MAX_ARTICLE_NUMBER`]).
    Number(u64),
    /// A message-id, brackets included (`<abc@example>`).
    MessageId(&'a str),
}

/// `range = article-number ["-" [article-number]]` (RFC 3977 §8.3.1): `n`, `n-` (to the
/// end), or `n-m` (empty when `m < n`).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// The first article number.
    pub low: u64,
    /// The last one; `None` for `n-`, to the group's end.
    pub high: Option<u64>,
}

impl Range {
    /// Whether `n` is in the range.
    pub fn contains(&self, n: u64) -> bool {
        n >= self.low && self.high.is_none_or(|h| n <= h)
    }
}

/// What OVER and HDR are about: a range of the selected group, or one message-id (`None` in
/// the command: the current article).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    /// Article numbers.
    Range(Range),
    /// One article, by message-id.
    MessageId(&'a str),
}

/// LIST HEADERS' argument (RFC 3977 §8.6).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeadersArg {
    /// `MSGID`: the fields HDR can give for a message-id.
    MessageId,
    /// `RANGE`: the fields HDR can give for a range.
    Range,
}

/// LIST's keyword and argument (RFC 3977 §7.6, RFC 6048). A plain `LIST` is `ACTIVE`.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListKeyword<'a> {
    /// `ACTIVE [wildmat]`.
    Active(Option<&'a str>),
    /// `ACTIVE.TIMES [wildmat]`.
    ActiveTimes(Option<&'a str>),
    /// `NEWSGROUPS [wildmat]`.
    Newsgroups(Option<&'a str>),
    /// `DISTRIB.PATS`.
    DistribPats,
    /// `HEADERS [MSGID|RANGE]`.
    Headers(Option<HeadersArg>),
    /// `OVERVIEW.FMT`.
    OverviewFmt,
    /// `COUNTS [wildmat]` (RFC 6048 §2.2).
    Counts(Option<&'a str>),
}

/// NEWGROUPS' and NEWNEWS' `date SP time` (RFC 3977 §7.3): `yymmdd` or `yyyymmdd`, then
/// `hhmmss`, and `GMT` or server-local time.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The year as written: four digits, or two (then `two_digit_year`, and the century is
    /// the one that makes the date closest to now: [`DateTime::full_year`]).
    pub year: u16,
    /// Whether the year was written with two digits.
    pub two_digit_year: bool,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–60 (a leap second).
    pub second: u8,
    /// `GMT` was given; else the time is the server's local time.
    pub gmt: bool,
}

impl DateTime {
    /// The four-digit year: a two-digit one is put in the century that brings it nearest
    /// `current_year` (RFC 3977 §7.3.2: within 50 years, the future included).
    pub fn full_year(&self, current_year: u16) -> u16 {
        if !self.two_digit_year {
            return self.year;
        }
        let century = current_year - current_year % 100;
        let candidates = [century.saturating_sub(100), century, century + 100].map(|c| c + self.year);
        candidates.into_iter().min_by_key(|y| y.abs_diff(current_year)).unwrap_or(century + self.year)
    }
}

/// A parsed command line. Text borrows from the line; fields are named as the RFCs name the
/// arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Command<'a> {
    /// `CAPABILITIES [keyword]`.
    Capabilities { keyword: Option<&'a str> },
    /// `MODE READER` (RFC 3977 §5.3).
    ModeReader,
    /// `MODE STREAM` (RFC 4644 §2.3).
    ModeStream,
    /// `QUIT`.
    Quit,
    /// `GROUP group`.
    Group { name: &'a str },
    /// `LISTGROUP [group [range]]`.
    ListGroup { group: Option<&'a str>, range: Option<Range> },
    /// `LAST`.
    Last,
    /// `NEXT`.
    Next,
    /// `ARTICLE [message-id|number]`.
    Article(Option<ArticleRef<'a>>),
    /// `HEAD [message-id|number]`.
    Head(Option<ArticleRef<'a>>),
    /// `BODY [message-id|number]`.
    Body(Option<ArticleRef<'a>>),
    /// `STAT [message-id|number]`.
    Stat(Option<ArticleRef<'a>>),
    /// `POST`.
    Post,
    /// `IHAVE message-id`.
    Ihave { message_id: &'a str },
    /// `CHECK message-id` (RFC 4644 §2.4).
    Check { message_id: &'a str },
    /// `TAKETHIS message-id`, the article following at once (RFC 4644 §2.5).
    Takethis { message_id: &'a str },
    /// `DATE`.
    Date,
    /// `HELP`.
    Help,
    /// `NEWGROUPS date time [GMT]`.
    NewGroups { since: DateTime },
    /// `NEWNEWS wildmat date time [GMT]`.
    NewNews { wildmat: &'a str, since: DateTime },
    /// `LIST [keyword [argument]]`.
    List(ListKeyword<'a>),
    /// `OVER [range|message-id]`, or `XOVER [range]` (RFC 2980) with `x`.
    Over { target: Option<Target<'a>>, x: bool },
    /// `HDR field [range|message-id]`, or `XHDR` (RFC 2980) with `x`.
    Hdr { field: &'a str, target: Option<Target<'a>>, x: bool },
    /// `XPAT field range|message-id pattern…` (RFC 2980 §2.9).
    XPat { field: &'a str, target: Target<'a>, patterns: Vec<&'a str> },
    /// `AUTHINFO USER name` (RFC 4643 §2.3).
    AuthinfoUser { user: &'a str },
    /// `AUTHINFO PASS password` (its `Debug` is redacted).
    AuthinfoPass { password: Secret<&'a str> },
    /// `AUTHINFO SASL mechanism [initial-response]` (RFC 4643 §2.4; `=` is an empty one).
    AuthinfoSasl { mechanism: Mechanism<'a>, initial_response: Option<Secret<&'a str>> },
    /// `STARTTLS` (RFC 4642).
    StartTls,
}

/// Why a command line did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// No keyword this crate knows (`500`).
    Unknown,
    /// A known keyword with arguments that do not fit it (`501`).
    Syntax(Keyword),
    /// The line is longer than [`MAX_COMMAND_LINE`] (`501`, RFC 3977 §3.1).
    TooLong,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown command"),
            Self::Syntax(k) => write!(f, "syntax error in {}", k.as_str()),
            Self::TooLong => f.write_str("command line too long"),
        }
    }
}

impl std::error::Error for CommandError {}

/// A value that cannot be written as a command that would parse back to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError(pub Keyword);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cannot carry this value", self.0.as_str())
    }
}

impl std::error::Error for EncodeError {}

/// An argument: printable, no space or tab, UTF-8 allowed (RFC 3977 §3.1).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b > b' ' && b != 0x7f)
}

/// `message-id = "<" 1*248(%d33-61 / %d63-126) ">"` (RFC 3977 §3.6, `>` not inside).
pub fn is_message_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b.len() <= MAX_MESSAGE_ID
        && b[0] == b'<'
        && b[b.len() - 1] == b'>'
        && b[1..b.len() - 1].iter().all(|&c| (33..=126).contains(&c) && c != b'>')
}

/// `newsgroup-name = 1*wildmat-exact` (RFC 3977 §4.1: printable, none of `!*,?[\]`).
pub fn is_newsgroup_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (b > b' ' && b != 0x7f) && !b"!*,?[\\]".contains(&b))
}

/// `1*16DIGIT`, at most [`MAX_ARTICLE_NUMBER`].
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&n| n <= MAX_ARTICLE_NUMBER)
}

fn article_number(s: &str) -> Option<u64> {
    number(s).filter(|&n| n >= 1)
}

fn range(s: &str) -> Option<Range> {
    match s.split_once('-') {
        None => article_number(s).map(|n| Range { low: n, high: Some(n) }),
        Some((low, "")) => Some(Range { low: article_number(low)?, high: None }),
        Some((low, high)) => Some(Range { low: article_number(low)?, high: Some(article_number(high)?) }),
    }
}

fn article_ref(s: &str) -> Option<ArticleRef<'_>> {
    if s.starts_with('<') {
        is_message_id(s).then_some(ArticleRef::MessageId(s))
    } else {
        article_number(s).map(ArticleRef::Number)
    }
}

fn target(s: &str) -> Option<Target<'_>> {
    if s.starts_with('<') { is_message_id(s).then_some(Target::MessageId(s)) } else { range(s).map(Target::Range) }
}

fn two_digits(s: &[u8]) -> Option<u8> {
    match s {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// `date SP time [SP "GMT"]` from the words.
fn date_time(date: &str, time: &str, gmt: Option<&str>) -> Option<DateTime> {
    let d = date.as_bytes();
    let (year, two_digit_year, rest) = match d.len() {
        6 => (u16::from(two_digits(&d[..2])?), true, &d[2..]),
        8 => (u16::from(two_digits(&d[..2])?) * 100 + u16::from(two_digits(&d[2..4])?), false, &d[4..]),
        _ => return None,
    };
    let (month, day) = (two_digits(&rest[..2])?, two_digits(&rest[2..])?);
    let t = time.as_bytes();
    if t.len() != 6 {
        return None;
    }
    let (hour, minute, second) = (two_digits(&t[..2])?, two_digits(&t[2..4])?, two_digits(&t[4..])?);
    let gmt = match gmt {
        None => false,
        Some(g) if g.eq_ignore_ascii_case("GMT") => true,
        Some(_) => return None,
    };
    let valid = (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second <= 60;
    valid.then_some(DateTime { year, two_digit_year, month, day, hour, minute, second, gmt })
}

/// Base64 characters and padding, or `=` (an empty initial response).
fn is_base64_or_empty(s: &str) -> bool {
    if s == "=" {
        return true;
    }
    let b = s.as_bytes();
    let body = b.strip_suffix(b"==").or_else(|| b.strip_suffix(b"=")).unwrap_or(b);
    !b.is_empty()
        && b.len().is_multiple_of(4)
        && body.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

impl<'a> Command<'a> {
    /// Parses one command line, without its line ending. A line longer than
    /// [`MAX_COMMAND_LINE`] with its CRLF is refused whatever it holds.
    pub fn parse_line(line: &'a [u8]) -> Result<Self, CommandError> {
        if line.len() + 2 > MAX_COMMAND_LINE {
            return Err(CommandError::TooLong);
        }
        let line = std::str::from_utf8(line).map_err(|_| CommandError::Unknown)?;
        if line.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(CommandError::Unknown);
        }
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        let keyword = Keyword::from_word(words.next().ok_or(CommandError::Unknown)?);
        // No command takes more than four arguments but XPAT (its patterns): those go on
        // the stack, and only an XPAT with many patterns takes a vector.
        let mut few = [""; 4];
        let mut count = 0;
        let mut many: Vec<&'a str> = Vec::new();
        for w in words {
            if count < few.len() {
                few[count] = w;
            } else {
                if many.is_empty() {
                    many.extend_from_slice(&few);
                }
                many.push(w);
            }
            count += 1;
        }
        let args: &[&'a str] = if many.is_empty() { &few[..count] } else { &many };
        let syntax = CommandError::Syntax(keyword);
        let cmd = match (keyword, args) {
            (Keyword::Unknown, _) => return Err(CommandError::Unknown),
            (Keyword::Capabilities, []) => Self::Capabilities { keyword: None },
            (Keyword::Capabilities, [k]) if is_token(k) => Self::Capabilities { keyword: Some(k) },
            (Keyword::Mode, [m]) if m.eq_ignore_ascii_case("READER") => Self::ModeReader,
            (Keyword::Mode, [m]) if m.eq_ignore_ascii_case("STREAM") => Self::ModeStream,
            (Keyword::Quit, []) => Self::Quit,
            (Keyword::Group, [g]) if is_newsgroup_name(g) => Self::Group { name: g },
            (Keyword::ListGroup, []) => Self::ListGroup { group: None, range: None },
            (Keyword::ListGroup, [g]) if is_newsgroup_name(g) => Self::ListGroup { group: Some(g), range: None },
            (Keyword::ListGroup, [g, r]) if is_newsgroup_name(g) => {
                Self::ListGroup { group: Some(g), range: Some(range(r).ok_or(syntax)?) }
            }
            (Keyword::Last, []) => Self::Last,
            (Keyword::Next, []) => Self::Next,
            (Keyword::Article | Keyword::Head | Keyword::Body | Keyword::Stat, [..]) if args.len() <= 1 => {
                let which = match args.first() {
                    None => None,
                    Some(a) => Some(article_ref(a).ok_or(syntax)?),
                };
                match keyword {
                    Keyword::Article => Self::Article(which),
                    Keyword::Head => Self::Head(which),
                    Keyword::Body => Self::Body(which),
                    _ => Self::Stat(which),
                }
            }
            (Keyword::Post, []) => Self::Post,
            (Keyword::Ihave, [m]) if is_message_id(m) => Self::Ihave { message_id: m },
            (Keyword::Check, [m]) if is_message_id(m) => Self::Check { message_id: m },
            (Keyword::Takethis, [m]) if is_message_id(m) => Self::Takethis { message_id: m },
            (Keyword::Date, []) => Self::Date,
            (Keyword::Help, []) => Self::Help,
            (Keyword::NewGroups, [d, t, gmt @ ..]) if gmt.len() <= 1 => {
                Self::NewGroups { since: date_time(d, t, gmt.first().copied()).ok_or(syntax)? }
            }
            (Keyword::NewNews, [w, d, t, gmt @ ..]) if gmt.len() <= 1 && crate::wildmat::is_wildmat(w) => {
                Self::NewNews { wildmat: w, since: date_time(d, t, gmt.first().copied()).ok_or(syntax)? }
            }
            (Keyword::List, _) => Self::List(list(args).ok_or(syntax)?),
            (Keyword::Over, []) => Self::Over { target: None, x: false },
            (Keyword::Over, [t]) => Self::Over { target: Some(target(t).ok_or(syntax)?), x: false },
            (Keyword::XOver, []) => Self::Over { target: None, x: true },
            (Keyword::XOver, [r]) => Self::Over { target: Some(Target::Range(range(r).ok_or(syntax)?)), x: true },
            (Keyword::Hdr | Keyword::XHdr, [f, t @ ..]) if t.len() <= 1 && is_token(f) => {
                let target = match t.first() {
                    None => None,
                    Some(t) => Some(target(t).ok_or(syntax)?),
                };
                Self::Hdr { field: f, target, x: keyword == Keyword::XHdr }
            }
            (Keyword::XPat, [f, t, patterns @ ..]) if !patterns.is_empty() && is_token(f) => {
                Self::XPat { field: f, target: target(t).ok_or(syntax)?, patterns: patterns.to_vec() }
            }
            (Keyword::Authinfo, [sub, rest @ ..]) => authinfo(sub, rest).ok_or(syntax)?,
            (Keyword::StartTls, []) => Self::StartTls,
            _ => return Err(syntax),
        };
        Ok(cmd)
    }

    /// The command's keyword.
    pub fn keyword(&self) -> Keyword {
        match self {
            Self::Capabilities { .. } => Keyword::Capabilities,
            Self::ModeReader | Self::ModeStream => Keyword::Mode,
            Self::Quit => Keyword::Quit,
            Self::Group { .. } => Keyword::Group,
            Self::ListGroup { .. } => Keyword::ListGroup,
            Self::Last => Keyword::Last,
            Self::Next => Keyword::Next,
            Self::Article(_) => Keyword::Article,
            Self::Head(_) => Keyword::Head,
            Self::Body(_) => Keyword::Body,
            Self::Stat(_) => Keyword::Stat,
            Self::Post => Keyword::Post,
            Self::Ihave { .. } => Keyword::Ihave,
            Self::Check { .. } => Keyword::Check,
            Self::Takethis { .. } => Keyword::Takethis,
            Self::Date => Keyword::Date,
            Self::Help => Keyword::Help,
            Self::NewGroups { .. } => Keyword::NewGroups,
            Self::NewNews { .. } => Keyword::NewNews,
            Self::List(_) => Keyword::List,
            Self::Over { x: false, .. } => Keyword::Over,
            Self::Over { x: true, .. } => Keyword::XOver,
            Self::Hdr { x: false, .. } => Keyword::Hdr,
            Self::Hdr { x: true, .. } => Keyword::XHdr,
            Self::XPat { .. } => Keyword::XPat,
            Self::AuthinfoUser { .. } | Self::AuthinfoPass { .. } | Self::AuthinfoSasl { .. } => Keyword::Authinfo,
            Self::StartTls => Keyword::StartTls,
        }
    }

    /// Writes the command and its CRLF; fails, writing nothing, for a value that would not
    /// parse back to itself or would not fit [`MAX_COMMAND_LINE`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let err = EncodeError(self.keyword());
        let line = self.line().ok_or(err)?;
        // What is written must read back as this very command.
        if line.len() + 2 > MAX_COMMAND_LINE || Command::parse_line(line.as_bytes()).as_ref() != Ok(self) {
            return Err(err);
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The line without CRLF, or `None` for an argument that is not one word.
    fn line(&self) -> Option<String> {
        let mut parts: Vec<String> = vec![self.keyword().as_str().to_owned()];
        let mut push = |s: &str| parts.push(s.to_owned());
        let article = |r: &ArticleRef<'_>| match r {
            ArticleRef::Number(n) => n.to_string(),
            ArticleRef::MessageId(m) => (*m).to_owned(),
        };
        let range_text = |r: &Range| match r.high {
            Some(h) if h == r.low => r.low.to_string(),
            Some(h) => format!("{}-{h}", r.low),
            None => format!("{}-", r.low),
        };
        let target_text = |t: &Target<'_>| match t {
            Target::Range(r) => range_text(r),
            Target::MessageId(m) => (*m).to_owned(),
        };
        let when = |d: &DateTime| {
            let date = if d.two_digit_year {
                format!("{:02}{:02}{:02}", d.year, d.month, d.day)
            } else {
                format!("{:04}{:02}{:02}", d.year, d.month, d.day)
            };
            let mut words = vec![date, format!("{:02}{:02}{:02}", d.hour, d.minute, d.second)];
            if d.gmt {
                words.push("GMT".to_owned());
            }
            words
        };
        match self {
            Self::Capabilities { keyword } => keyword.iter().for_each(|k| push(k)),
            Self::ModeReader => push("READER"),
            Self::ModeStream => push("STREAM"),
            Self::Group { name } => push(name),
            Self::ListGroup { group, range } => {
                group.iter().for_each(|g| push(g));
                range.iter().for_each(|r| push(&range_text(r)));
            }
            Self::Article(r) | Self::Head(r) | Self::Body(r) | Self::Stat(r) => {
                r.iter().for_each(|r| push(&article(r)));
            }
            Self::Ihave { message_id } | Self::Check { message_id } | Self::Takethis { message_id } => push(message_id),
            Self::NewGroups { since } => when(since).iter().for_each(|w| push(w)),
            Self::NewNews { wildmat, since } => {
                push(wildmat);
                when(since).iter().for_each(|w| push(w));
            }
            Self::List(k) => {
                let (name, arg): (&str, Option<String>) = match k {
                    ListKeyword::Active(w) => ("ACTIVE", w.map(str::to_owned)),
                    ListKeyword::ActiveTimes(w) => ("ACTIVE.TIMES", w.map(str::to_owned)),
                    ListKeyword::Newsgroups(w) => ("NEWSGROUPS", w.map(str::to_owned)),
                    ListKeyword::DistribPats => ("DISTRIB.PATS", None),
                    ListKeyword::Headers(a) => {
                        ("HEADERS", a.map(|a| if a == HeadersArg::MessageId { "MSGID" } else { "RANGE" }.to_owned()))
                    }
                    ListKeyword::OverviewFmt => ("OVERVIEW.FMT", None),
                    ListKeyword::Counts(w) => ("COUNTS", w.map(str::to_owned)),
                };
                push(name);
                arg.iter().for_each(|a| push(a));
            }
            Self::Over { target, .. } => target.iter().for_each(|t| push(&target_text(t))),
            Self::Hdr { field, target, .. } => {
                push(field);
                target.iter().for_each(|t| push(&target_text(t)));
            }
            Self::XPat { field, target, patterns } => {
                push(field);
                push(&target_text(target));
                patterns.iter().for_each(|p| push(p));
            }
            Self::AuthinfoUser { user } => {
                push("USER");
                push(user);
            }
            Self::AuthinfoPass { password } => {
                push("PASS");
                push(password.expose());
            }
            Self::AuthinfoSasl { mechanism, initial_response } => {
                push("SASL");
                push(mechanism.as_str());
                initial_response.iter().for_each(|r| push(r.expose()));
            }
            Self::Quit | Self::Last | Self::Next | Self::Post | Self::Date | Self::Help | Self::StartTls => {}
        }
        // Every argument is one word: a space, tab or line break inside one is refused.
        if parts.iter().skip(1).any(|p| p.is_empty() || p.bytes().any(|b| b <= b' ' || b == 0x7f)) {
            return None;
        }
        Some(parts.join(" "))
    }
}

fn list<'a>(args: &[&'a str]) -> Option<ListKeyword<'a>> {
    let wildmat = |a: Option<&&'a str>| -> Option<Option<&'a str>> {
        match a {
            None => Some(None),
            Some(w) if crate::wildmat::is_wildmat(w) => Some(Some(*w)),
            Some(_) => None,
        }
    };
    let Some(keyword) = args.first() else { return Some(ListKeyword::Active(None)) };
    let is = |k: &str| keyword.eq_ignore_ascii_case(k);
    let arg = args.get(1);
    if args.len() > 2 {
        return None;
    }
    Some(match () {
        _ if is("ACTIVE") => ListKeyword::Active(wildmat(arg)?),
        _ if is("ACTIVE.TIMES") => ListKeyword::ActiveTimes(wildmat(arg)?),
        _ if is("NEWSGROUPS") => ListKeyword::Newsgroups(wildmat(arg)?),
        _ if is("COUNTS") => ListKeyword::Counts(wildmat(arg)?),
        _ if is("DISTRIB.PATS") && arg.is_none() => ListKeyword::DistribPats,
        _ if is("OVERVIEW.FMT") && arg.is_none() => ListKeyword::OverviewFmt,
        _ if is("HEADERS") => ListKeyword::Headers(match arg {
            None => None,
            Some(a) if a.eq_ignore_ascii_case("MSGID") => Some(HeadersArg::MessageId),
            Some(a) if a.eq_ignore_ascii_case("RANGE") => Some(HeadersArg::Range),
            Some(_) => return None,
        }),
        _ => return None,
    })
}

fn authinfo<'a>(sub: &str, rest: &[&'a str]) -> Option<Command<'a>> {
    let is = |k: &str| sub.eq_ignore_ascii_case(k);
    match rest {
        [user] if is("USER") => Some(Command::AuthinfoUser { user }),
        [password] if is("PASS") => Some(Command::AuthinfoPass { password: Secret::new(password) }),
        [mechanism, ir @ ..] if is("SASL") && ir.len() <= 1 => {
            let mechanism = Mechanism::parse(mechanism.as_bytes())?;
            let initial_response = match ir.first() {
                None => None,
                Some(r) if is_base64_or_empty(r) => Some(Secret::new(*r)),
                Some(_) => return None,
            };
            Some(Command::AuthinfoSasl { mechanism, initial_response })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
