//! FETCH responses for 1,000 messages' `(UID ENVELOPE)`: our encoder beside imap-codec's on
//! the same envelopes (values built beforehand; the encoding is measured).
//!
//! `cargo bench -p sansmail-benches --bench imap_fetch` (figures in `benches/README.md`)

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::ResponseCodec;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::core::{NString, NonEmptyVec};
use imap_codec::imap_types::envelope::{Address as CAddress, Envelope as CEnvelope};
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::response::{Data, Response};
use sansmail_imap_proto::response::{Address, Data as OurData, Envelope, FetchItem};

const N: u32 = 1000;

/// The header values of message `i`, as a mailing list's archive holds them.
fn fields(i: u32) -> [String; 7] {
    [
        format!("Sun, 22 Nov 2026 04:{:02}:{:02} +0000", i / 60 % 60, i % 60),
        format!("Re: [project-dev] Proposal {i}: bounded literals in the IMAP framer"),
        format!("Contributor {i}"),
        format!("contributor{i}"),
        "example.org".to_owned(),
        "project-dev".to_owned(),
        format!("<{i}.1795320000@mail.example.org>"),
    ]
}

fn ours(i: u32) -> Vec<FetchItem<'static>> {
    let [date, subject, name, local, host, list, id] = fields(i);
    let b = |s: String| Some(Cow::Owned(s.into_bytes()));
    let from = vec![Address { name: b(name), adl: None, mailbox: b(local), host: b(host.clone()) }];
    let to = vec![Address { name: None, adl: None, mailbox: b(list), host: b(host) }];
    let envelope = Envelope {
        date: b(date),
        subject: b(subject),
        sender: from.clone(),
        reply_to: from.clone(),
        from,
        to,
        message_id: b(id),
        ..Envelope::default()
    };
    vec![FetchItem::Uid(4000 + i), FetchItem::Envelope(envelope)]
}

fn theirs(i: u32) -> Response<'static> {
    let [date, subject, name, local, host, list, id] = fields(i);
    let n = |s: String| NString::try_from(s).expect("a valid string");
    let from = vec![CAddress { name: n(name), adl: NString(None), mailbox: n(local), host: n(host.clone()) }];
    let to = vec![CAddress { name: NString(None), adl: NString(None), mailbox: n(list), host: n(host) }];
    let envelope = CEnvelope {
        date: n(date),
        subject: n(subject),
        sender: from.clone(),
        reply_to: from.clone(),
        from,
        to,
        cc: Vec::new(),
        bcc: Vec::new(),
        in_reply_to: NString(None),
        message_id: n(id),
    };
    let items = NonEmptyVec::try_from(vec![
        MessageDataItem::Uid(NonZeroU32::new(4000 + i).expect("non-zero")),
        MessageDataItem::Envelope(envelope),
    ])
    .expect("two items");
    Response::Data(Data::Fetch { seq: NonZeroU32::new(i).expect("non-zero"), items })
}

fn fetch(c: &mut Criterion) {
    let ours: Vec<_> = (1..=N).map(ours).collect();
    let theirs: Vec<_> = (1..=N).map(theirs).collect();
    // The same octets from both, so the comparison is fair.
    let mut a = Vec::new();
    for (i, items) in ours.iter().enumerate() {
        OurData::Fetch { seq: i as u32 + 1, items }.encode(&mut a);
    }
    let codec = ResponseCodec::default();
    let b: Vec<u8> = theirs.iter().flat_map(|r| codec.encode(r).dump()).collect();
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));

    let mut g = c.benchmark_group("imap_fetch_1000_envelopes");
    g.throughput(Throughput::Bytes(a.len() as u64));
    g.bench_function("sansmail", |bench| {
        let mut out = Vec::with_capacity(a.len());
        bench.iter(|| {
            out.clear();
            for (i, items) in ours.iter().enumerate() {
                OurData::Fetch { seq: i as u32 + 1, items: black_box(items) }.encode(&mut out);
            }
            black_box(&out);
        })
    });
    g.bench_function("imap-codec", |bench| {
        let mut out = Vec::with_capacity(b.len());
        bench.iter(|| {
            out.clear();
            for r in &theirs {
                out.extend_from_slice(&codec.encode(black_box(r)).dump());
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, fetch);
criterion_main!(benches);
