//! FETCH data ([RFC 3501 §7.4.2](https://www.rfc-editor.org/rfc/rfc3501#section-7.4.2)):
//! `* n FETCH (item value …)`, with the envelope and body structure as typed values, and
//! section contents as literals (`~{n}` literal8 for BINARY data with NUL, RFC 3516).
//!
//! The embedder computes the values (it owns the message store); this module only writes
//! them, each string in its safe form, so no header value can break the response.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::command::{Flag, Section, SectionText};

use super::{write_astring, write_flags};

/// An `nstring`: `None` is `NIL`.
pub type NString<'a> = Option<Cow<'a, [u8]>>;

/// One `attribute value` pair of `body-fld-param`.
pub type Param<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// One `address` of an envelope: `(name adl mailbox host)`. A group start is a mailbox
/// (the group name) with no host; a group end is all four `NIL`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address<'a> {
    /// The display name.
    pub name: NString<'a>,
    /// The source route (obsolete; almost always `NIL`).
    pub adl: NString<'a>,
    /// The local part, or the group name.
    pub mailbox: NString<'a>,
    /// The domain; `NIL` marks group syntax.
    pub host: NString<'a>,
}

/// `ENVELOPE`: header values as they appear in the message (encoded words left alone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `Date:`.
    pub date: NString<'a>,
    /// `Subject:`.
    pub subject: NString<'a>,
    /// `From:`.
    pub from: Vec<Address<'a>>,
    /// `Sender:` (the server fills it from `From:` when absent, RFC 3501 §7.4.2).
    pub sender: Vec<Address<'a>>,
    /// `Reply-To:` (likewise).
    pub reply_to: Vec<Address<'a>>,
    /// `To:`.
    pub to: Vec<Address<'a>>,
    /// `Cc:`.
    pub cc: Vec<Address<'a>>,
    /// `Bcc:`.
    pub bcc: Vec<Address<'a>>,
    /// `In-Reply-To:`.
    pub in_reply_to: NString<'a>,
    /// `Message-ID:`.
    pub message_id: NString<'a>,
}

/// `body-fld-dsp`: a disposition and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disposition<'a> {
    /// `inline`, `attachment`, …
    pub kind: Cow<'a, [u8]>,
    /// Its parameters.
    pub params: Vec<Param<'a>>,
}

/// The extension data of a body part (written for BODYSTRUCTURE, not for BODY).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extension<'a> {
    /// `body-fld-md5` (single parts only).
    pub md5: NString<'a>,
    /// `body-fld-dsp`.
    pub disposition: Option<Disposition<'a>>,
    /// `body-fld-lang`.
    pub language: Vec<Cow<'a, [u8]>>,
    /// `body-fld-loc`.
    pub location: NString<'a>,
}

/// `body-fields`: what every non-multipart part has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyFields<'a> {
    /// `body-fld-param`: the Content-Type parameters.
    pub params: Vec<Param<'a>>,
    /// `Content-ID`.
    pub id: NString<'a>,
    /// `Content-Description`.
    pub description: NString<'a>,
    /// `Content-Transfer-Encoding` (`7BIT` when absent).
    pub encoding: Cow<'a, [u8]>,
    /// The size of the body in octets, as encoded.
    pub size: u64,
}

/// `body`: one part, or a multipart with its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyStructure<'a> {
    /// `body-type-basic` (and `body-type-text` when `lines` is `Some`).
    Single {
        /// The media type (`TEXT`, `APPLICATION`, …).
        media_type: Cow<'a, [u8]>,
        /// The subtype.
        subtype: Cow<'a, [u8]>,
        /// The body fields.
        fields: BodyFields<'a>,
        /// `body-fld-lines`, for `text/*`.
        lines: Option<u64>,
        /// Extension data.
        extension: Extension<'a>,
    },
    /// `body-type-msg`: a `message/rfc822` part.
    Message {
        /// The body fields.
        fields: BodyFields<'a>,
        /// The enclosed message's envelope.
        envelope: Box<Envelope<'a>>,
        /// The enclosed message's structure.
        body: Box<BodyStructure<'a>>,
        /// Lines of the part's body.
        lines: u64,
        /// Extension data.
        extension: Extension<'a>,
    },
    /// `body-type-mpart`.
    Multipart {
        /// The parts, at least one.
        parts: Vec<BodyStructure<'a>>,
        /// The subtype (`MIXED`, `ALTERNATIVE`, …).
        subtype: Cow<'a, [u8]>,
        /// The Content-Type parameters (extension data).
        params: Vec<Param<'a>>,
        /// Extension data (the MD5 is not used for multiparts).
        extension: Extension<'a>,
    },
}

/// One FETCH data item.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchItem<'a> {
    /// `FLAGS (…)`.
    Flags(Vec<Flag<'a>>),
    /// `UID n`.
    Uid(u32),
    /// `MODSEQ (n)` (CONDSTORE, RFC 7162 §3.1.4).
    ModSeq(u64),
    /// `RFC822.SIZE n`.
    Rfc822Size(u64),
    /// `INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz"` (the embedder formats it).
    InternalDate(Cow<'a, str>),
    /// `ENVELOPE (…)`.
    Envelope(Envelope<'a>),
    /// `BODY (…)`: the structure without extension data.
    Body(BodyStructure<'a>),
    /// `BODYSTRUCTURE (…)`.
    BodyStructure(BodyStructure<'a>),
    /// `BODY[section]<origin> data`: the section as the client asked it (less `.PEEK`),
    /// `origin` for a partial fetch; `None` data is `NIL`.
    Section {
        /// The section.
        section: Section<'a>,
        /// The first octet's offset, for a partial fetch.
        origin: Option<u32>,
        /// The content.
        data: Option<Cow<'a, [u8]>>,
    },
    /// `RFC822 data`.
    Rfc822(Cow<'a, [u8]>),
    /// `RFC822.HEADER data`.
    Rfc822Header(Cow<'a, [u8]>),
    /// `RFC822.TEXT data`.
    Rfc822Text(Cow<'a, [u8]>),
    /// `BINARY[part]<origin> data`: written as a literal8 when the data has a NUL.
    Binary {
        /// The part.
        part: Vec<NonZeroU32>,
        /// The first octet's offset, for a partial fetch.
        origin: Option<u32>,
        /// The decoded content.
        data: Option<Cow<'a, [u8]>>,
    },
    /// `BINARY.SIZE[part] n`.
    BinarySize {
        /// The part.
        part: Vec<NonZeroU32>,
        /// The decoded size.
        size: u64,
    },
}

/// Writes `seq FETCH (items)`; [`super::write_data`] has written `* ` and ends the line.
pub(super) fn write_fetch(out: &mut Vec<u8>, seq: u32, items: &[FetchItem<'_>]) {
    write_items(out, seq, items);
    out.push(b')');
}

fn write_items(out: &mut Vec<u8>, seq: u32, items: &[FetchItem<'_>]) {
    out.extend_from_slice(format!("{seq} FETCH (").as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_item(out, item);
    }
}

/// Writes `seq FETCH (items BODY[section]<origin> {len}`; [`super::write_data`] ends the
/// line, and the embedder writes the literal's `len` octets and then
/// [`super::FETCH_STREAMED_END`].
pub(super) fn write_fetch_streamed(
    out: &mut Vec<u8>,
    seq: u32,
    items: &[FetchItem<'_>],
    section: &Section<'_>,
    origin: Option<u32>,
    len: u64,
) {
    write_items(out, seq, items);
    if !items.is_empty() {
        out.push(b' ');
    }
    out.extend_from_slice(b"BODY");
    write_section(out, section);
    write_origin(out, origin);
    out.extend_from_slice(format!(" {{{len}}}").as_bytes());
}

fn write_item(out: &mut Vec<u8>, item: &FetchItem<'_>) {
    match item {
        FetchItem::Flags(flags) => {
            out.extend_from_slice(b"FLAGS ");
            write_flags(out, flags);
        }
        FetchItem::Uid(uid) => out.extend_from_slice(format!("UID {uid}").as_bytes()),
        FetchItem::ModSeq(n) => out.extend_from_slice(format!("MODSEQ ({n})").as_bytes()),
        FetchItem::Rfc822Size(n) => out.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes()),
        FetchItem::InternalDate(date) => {
            out.extend_from_slice(b"INTERNALDATE ");
            write_nstring(out, Some(date.as_bytes()));
        }
        FetchItem::Envelope(e) => {
            out.extend_from_slice(b"ENVELOPE ");
            write_envelope(out, e);
        }
        FetchItem::Body(b) => {
            out.extend_from_slice(b"BODY ");
            write_body(out, b, false);
        }
        FetchItem::BodyStructure(b) => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            write_body(out, b, true);
        }
        FetchItem::Section { section, origin, data } => {
            out.extend_from_slice(b"BODY");
            write_section(out, section);
            write_origin(out, *origin);
            out.push(b' ');
            write_literal(out, data.as_deref(), false);
        }
        FetchItem::Rfc822(data) => {
            out.extend_from_slice(b"RFC822 ");
            write_literal(out, Some(data), false);
        }
        FetchItem::Rfc822Header(data) => {
            out.extend_from_slice(b"RFC822.HEADER ");
            write_literal(out, Some(data), false);
        }
        FetchItem::Rfc822Text(data) => {
            out.extend_from_slice(b"RFC822.TEXT ");
            write_literal(out, Some(data), false);
        }
        FetchItem::Binary { part, origin, data } => {
            out.extend_from_slice(b"BINARY");
            write_part(out, part);
            write_origin(out, *origin);
            out.push(b' ');
            write_literal(out, data.as_deref(), true);
        }
        FetchItem::BinarySize { part, size } => {
            out.extend_from_slice(b"BINARY.SIZE");
            write_part(out, part);
            out.extend_from_slice(format!(" {size}").as_bytes());
        }
    }
}

fn write_origin(out: &mut Vec<u8>, origin: Option<u32>) {
    if let Some(o) = origin {
        out.extend_from_slice(format!("<{o}>").as_bytes());
    }
}

fn write_part(out: &mut Vec<u8>, part: &[NonZeroU32]) {
    out.push(b'[');
    write_part_numbers(out, part);
    out.push(b']');
}

fn write_part_numbers(out: &mut Vec<u8>, part: &[NonZeroU32]) {
    for (i, n) in part.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(n.to_string().as_bytes());
    }
}

impl Section<'_> {
    /// Writes `section`, as the client would write it (field names as astrings).
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_section(out, self);
    }
}

fn write_section(out: &mut Vec<u8>, section: &Section<'_>) {
    out.push(b'[');
    write_part_numbers(out, &section.part);
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            out.push(b'.');
        }
        match text {
            SectionText::Header => out.extend_from_slice(b"HEADER"),
            SectionText::Text => out.extend_from_slice(b"TEXT"),
            SectionText::Mime => out.extend_from_slice(b"MIME"),
            SectionText::HeaderFields { not, fields } => {
                out.extend_from_slice(if *not { b"HEADER.FIELDS.NOT (" } else { b"HEADER.FIELDS (" });
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    write_astring(out, f);
                }
                out.push(b')');
            }
        }
    }
    out.push(b']');
}

/// A literal (`{n}` CRLF data), or a literal8 when `binary` and the data holds a NUL; `NIL`
/// for `None`.
fn write_literal(out: &mut Vec<u8>, data: Option<&[u8]>, binary: bool) {
    match data {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            if binary && d.contains(&0) {
                out.push(b'~');
            }
            out.extend_from_slice(format!("{{{}}}\r\n", d.len()).as_bytes());
            out.extend_from_slice(d);
        }
    }
}

/// `nstring`: `NIL`, a quoted string, or a literal when quoting cannot carry it.
fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => super::write_string(out, s),
    }
}

fn write_addresses(out: &mut Vec<u8>, list: &[Address<'_>]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        for (i, part) in [&a.name, &a.adl, &a.mailbox, &a.host].into_iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            write_nstring(out, part.as_deref());
        }
        out.push(b')');
    }
    out.push(b')');
}

impl Envelope<'_> {
    /// Writes `envelope`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_envelope(out, self);
    }
}

fn write_envelope(out: &mut Vec<u8>, e: &Envelope<'_>) {
    out.push(b'(');
    write_nstring(out, e.date.as_deref());
    out.push(b' ');
    write_nstring(out, e.subject.as_deref());
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        write_addresses(out, list);
    }
    out.push(b' ');
    write_nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    write_nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn write_params(out: &mut Vec<u8>, params: &[Param<'_>]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        super::write_string(out, k);
        out.push(b' ');
        super::write_string(out, v);
    }
    out.push(b')');
}

fn write_fields(out: &mut Vec<u8>, f: &BodyFields<'_>) {
    write_params(out, &f.params);
    out.push(b' ');
    write_nstring(out, f.id.as_deref());
    out.push(b' ');
    write_nstring(out, f.description.as_deref());
    out.push(b' ');
    super::write_string(out, &f.encoding);
    out.extend_from_slice(format!(" {}", f.size).as_bytes());
}

/// `body-ext-*` after the MD5 (or after the parameters, for a multipart).
fn write_extension_tail(out: &mut Vec<u8>, e: &Extension<'_>) {
    out.push(b' ');
    match &e.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            super::write_string(out, &d.kind);
            out.push(b' ');
            write_params(out, &d.params);
            out.push(b')');
        }
    }
    out.push(b' ');
    match e.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => super::write_string(out, one),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                super::write_string(out, l);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    write_nstring(out, e.location.as_deref());
}

impl BodyStructure<'_> {
    /// Writes `body`: as BODYSTRUCTURE with `extended`, as BODY without.
    pub fn encode(&self, out: &mut Vec<u8>, extended: bool) {
        write_body(out, self, extended);
    }
}

fn write_body(out: &mut Vec<u8>, b: &BodyStructure<'_>, extended: bool) {
    out.push(b'(');
    match b {
        BodyStructure::Single { media_type, subtype, fields, lines, extension } => {
            super::write_string(out, media_type);
            out.push(b' ');
            super::write_string(out, subtype);
            out.push(b' ');
            write_fields(out, fields);
            if let Some(n) = lines {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
            if extended {
                out.push(b' ');
                write_nstring(out, extension.md5.as_deref());
                write_extension_tail(out, extension);
            }
        }
        BodyStructure::Message { fields, envelope, body, lines, extension } => {
            out.extend_from_slice(b"\"MESSAGE\" \"RFC822\" ");
            write_fields(out, fields);
            out.push(b' ');
            write_envelope(out, envelope);
            out.push(b' ');
            write_body(out, body, extended);
            out.extend_from_slice(format!(" {lines}").as_bytes());
            if extended {
                out.push(b' ');
                write_nstring(out, extension.md5.as_deref());
                write_extension_tail(out, extension);
            }
        }
        BodyStructure::Multipart { parts, subtype, params, extension } => {
            for p in parts {
                write_body(out, p, extended);
            }
            out.push(b' ');
            super::write_string(out, subtype);
            if extended {
                out.push(b' ');
                write_params(out, params);
                write_extension_tail(out, extension);
            }
        }
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> NString<'_> {
        Some(Cow::Borrowed(v.as_bytes()))
    }

    fn fetch(items: &[FetchItem<'_>]) -> String {
        let mut out = Vec::new();
        crate::response::Data::Fetch { seq: 12, items }.encode(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn text_part(size: u64, lines: u64) -> BodyStructure<'static> {
        BodyStructure::Single {
            media_type: Cow::Borrowed(b"TEXT"),
            subtype: Cow::Borrowed(b"PLAIN"),
            fields: BodyFields {
                params: vec![(Cow::Borrowed(b"CHARSET"), Cow::Borrowed(b"US-ASCII"))],
                id: None,
                description: None,
                encoding: Cow::Borrowed(b"7BIT"),
                size,
            },
            lines: Some(lines),
            extension: Extension::default(),
        }
    }

    /// A streamed section: the head ends with the literal's size, and the head, the
    /// octets and the end read as the one response `Data::Fetch` would have written.
    #[test]
    fn streamed_section_reads_as_the_whole_response() {
        let section = Section::default();
        let content = b"Subject: x\r\n\r\nbody\r\n";
        let items = [FetchItem::Uid(7), FetchItem::Rfc822Size(content.len() as u64)];
        let mut streamed = Vec::new();
        let head = crate::response::Data::FetchStreamed {
            seq: 3,
            items: &items,
            section: &section,
            origin: None,
            len: content.len() as u64,
        };
        head.encode(&mut streamed);
        assert!(streamed.ends_with(b" BODY[] {20}\r\n"), "{}", String::from_utf8_lossy(&streamed));
        streamed.extend_from_slice(content);
        streamed.extend_from_slice(crate::response::FETCH_STREAMED_END);
        let mut whole = Vec::new();
        let mut all = items.to_vec();
        all.push(FetchItem::Section { section: section.clone(), origin: None, data: Some(Cow::Borrowed(content)) });
        crate::response::Data::Fetch { seq: 3, items: &all }.encode(&mut whole);
        assert_eq!(String::from_utf8_lossy(&streamed), String::from_utf8_lossy(&whole));
        // Alone, and with an origin.
        let mut alone = Vec::new();
        let only =
            crate::response::Data::FetchStreamed { seq: 1, items: &[], section: &section, origin: Some(5), len: 0 };
        only.encode(&mut alone);
        assert_eq!(alone, b"* 1 FETCH (BODY[]<5> {0}\r\n");
    }

    #[test]
    fn rfc3501_sample_fetch() {
        // RFC 3501 §7.4.2's example, with the envelope of §8's session.
        let envelope = Envelope {
            date: s("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"),
            subject: s("IMAP4rev1 WG mtg summary and minutes"),
            from: vec![Address { name: s("Terry Gray"), adl: None, mailbox: s("gray"), host: s("cac.washington.edu") }],
            to: vec![Address { name: None, adl: None, mailbox: s("imap"), host: s("cac.washington.edu") }],
            message_id: s("<B27397-0100000@cac.washington.edu>"),
            ..Envelope::default()
        };
        let out = fetch(&[
            FetchItem::Flags(vec![Flag::system("Seen").unwrap()]),
            FetchItem::InternalDate(Cow::Borrowed("17-Jul-1996 02:44:25 -0700")),
            FetchItem::Rfc822Size(4286),
            FetchItem::Envelope(envelope),
            FetchItem::Body(text_part(3028, 92)),
        ]);
        assert_eq!(
            out,
            "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 \
             ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL NIL \
             ((NIL NIL \"imap\" \"cac.washington.edu\")) NIL NIL NIL \"<B27397-0100000@cac.washington.edu>\") \
             BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
        );
    }

    #[test]
    fn multipart_and_message_structures() {
        let inner = BodyStructure::Message {
            fields: BodyFields {
                params: vec![],
                id: None,
                description: None,
                encoding: Cow::Borrowed(b"7BIT"),
                size: 40,
            },
            envelope: Box::default(),
            body: Box::new(text_part(10, 1)),
            lines: 3,
            extension: Extension::default(),
        };
        let b = BodyStructure::Multipart {
            parts: vec![text_part(5, 1), inner],
            subtype: Cow::Borrowed(b"MIXED"),
            params: vec![(Cow::Borrowed(b"BOUNDARY"), Cow::Borrowed(b"b1"))],
            extension: Extension {
                disposition: Some(Disposition { kind: Cow::Borrowed(b"inline"), params: vec![] }),
                language: vec![Cow::Borrowed(b"en"), Cow::Borrowed(b"fr")],
                ..Extension::default()
            },
        };
        let mut out = Vec::new();
        write_body(&mut out, &b, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)\
             (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 40 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \
             \"MIXED\" (\"BOUNDARY\" \"b1\") (\"inline\" NIL) (\"en\" \"fr\") NIL)"
        );
        let mut out = Vec::new();
        write_body(&mut out, &b, false);
        assert!(String::from_utf8(out).unwrap().ends_with(" \"MIXED\")"));
    }

    #[test]
    fn sections_and_literals() {
        let section = Section {
            part: vec![NonZeroU32::MIN],
            text: Some(SectionText::HeaderFields {
                not: false,
                fields: vec![Cow::Borrowed(b"FROM"), Cow::Borrowed(b"x y")],
            }),
        };
        let out = fetch(&[
            FetchItem::Uid(7),
            FetchItem::Section { section, origin: Some(0), data: Some(Cow::Borrowed(b"From: a\r\n\r\n")) },
            FetchItem::Binary { part: vec![NonZeroU32::MIN], origin: None, data: Some(Cow::Borrowed(b"a\0b")) },
            FetchItem::Binary { part: vec![], origin: None, data: None },
            FetchItem::BinarySize { part: vec![NonZeroU32::MIN], size: 3 },
        ]);
        assert_eq!(
            out,
            "* 12 FETCH (UID 7 BODY[1.HEADER.FIELDS (FROM \"x y\")]<0> {11}\r\nFrom: a\r\n\r\n \
             BINARY[1] ~{3}\r\na\0b BINARY[] NIL BINARY.SIZE[1] 3)\r\n"
        );
    }

    #[test]
    fn hostile_header_values_cannot_break_the_line() {
        let e = Envelope { subject: s("a\r\n* 1 EXPUNGE\r\n\"x\\"), ..Envelope::default() };
        let out = fetch(&[FetchItem::Envelope(e)]);
        // The subject goes as a literal: its CRLF is data, counted, not a new response.
        assert!(out.starts_with("* 12 FETCH (ENVELOPE (NIL {19}\r\na\r\n* 1 EXPUNGE\r\n\"x\\ NIL"), "{out}");
        let e = Envelope { subject: s("say \"hi\" \\o/"), ..Envelope::default() };
        assert!(fetch(&[FetchItem::Envelope(e)]).contains("\"say \\\"hi\\\" \\\\o/\""));
    }
}
