//! The spool: articles stored and found again, cross-posts, duplicates, expiry that never
//! gives a number twice, and a crash at each step of a store put right by `open`.

use std::time::Duration;

use super::*;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sansmail-news-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn article(id: &str, subject: &str) -> Vec<u8> {
    format!(
        "Path: not-for-mail\r\nFrom: Poster <p@example.net>\r\nNewsgroups: local.test\r\nSubject: {subject}\r\n\
         Date: Mon, 7 Dec 2026 10:11:12 +0000\r\nMessage-ID: {id}\r\n\r\nline one\r\nline two\r\n"
    )
    .into_bytes()
}

#[test]
fn articles_are_stored_numbered_and_found_again() {
    let d = tempdir("store");
    let s = NewsStore::open(&d, &["local.test", "local.other"], "news.test").unwrap();
    assert_eq!(s.group("local.test").unwrap(), GroupInfo { name: "local.test".into(), count: 0, low: 1, high: 0 });
    let places = s.store(&article("<1@x>", "first"), "<1@x>", &["local.test"]).unwrap();
    assert_eq!(places, [("local.test".to_owned(), 1)]);
    let places = s.store(&article("<2@x>", "cross"), "<2@x>", &["local.test", "nosuch.group", "local.other"]).unwrap();
    assert_eq!(places, [("local.test".to_owned(), 2), ("local.other".to_owned(), 1)]);
    assert!(matches!(s.store(&article("<1@x>", "again"), "<1@x>", &["local.test"]), Err(StoreError::Duplicate)));
    assert!(matches!(s.store(&article("<3@x>", "x"), "<3@x>", &["nosuch.group"]), Err(StoreError::NoGroup)));
    let over = s.overview("local.test", 1, u64::MAX, usize::MAX);
    assert_eq!(over.iter().map(|e| (e.number, e.subject.as_str())).collect::<Vec<_>>(), [(1, "first"), (2, "cross")]);
    assert_eq!(over[1].lines, 2);
    assert_eq!(s.overview("local.test", 1, u64::MAX, 1).len(), 1, "a batch at a time");
    assert_eq!(s.neighbour("local.test", 1, true).map(|e| e.number), Some(2));
    assert_eq!(s.neighbour("local.test", 2, false).map(|e| e.number), Some(1));
    assert!(s.neighbour("local.test", 2, true).is_none() && s.neighbour("local.test", 1, false).is_none());
    assert_eq!(over[1].xref, "news.test local.test:2 local.other:1");
    // The cross-post is the same in both groups, Xref first.
    let a = s.article("local.test", 2).unwrap().unwrap();
    assert!(a.starts_with(b"Xref: ") && Some(a) == s.article("local.other", 1).unwrap());
    assert!(s.article("local.test", 3).unwrap().is_none());
    assert_eq!(s.locate("<2@x>"), Some(("local.test".to_owned(), 2)));
    assert!(s.seen("<1@x>") && !s.seen("<9@x>"));
    assert_eq!(s.since(UNIX_EPOCH, |g| g == "local.other"), ["<2@x>"]);
    // A restart reads the same.
    drop(s);
    let s = NewsStore::open(&d, &["local.test", "local.other"], "news.test").unwrap();
    assert_eq!(s.group("local.test").unwrap(), GroupInfo { name: "local.test".into(), count: 2, low: 1, high: 2 });
    assert_eq!(s.overview("local.test", 2, 2, 1)[0].message_id, "<2@x>");
    assert!(s.seen("<2@x>"));
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn expiry_keeps_numbers_and_history() {
    let d = tempdir("expire");
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    for i in 1..=3 {
        let id = format!("<{i}@x>");
        s.store(&article(&id, "x"), &id, &["local.test"]).unwrap();
    }
    assert_eq!(s.expire("local.test", SystemTime::now() + Duration::from_secs(1)).unwrap(), 3);
    assert_eq!(s.group("local.test").unwrap(), GroupInfo { name: "local.test".into(), count: 0, low: 4, high: 3 });
    drop(s);
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    // An expired article is not taken again, and the next number is past every old one.
    assert!(matches!(s.store(&article("<2@x>", "x"), "<2@x>", &["local.test"]), Err(StoreError::Duplicate)));
    assert_eq!(s.store(&article("<4@x>", "x"), "<4@x>", &["local.test"]).unwrap(), [("local.test".to_owned(), 4)]);
    assert!(s.locate("<2@x>").is_none());
    let _ = fs::remove_dir_all(&d);
}

/// The process dies after an article was synced into its pack but before its overview and
/// history lines: `open` writes them from the pack, so the article is there and the three
/// agree; a torn record at a pack's end (never synced, never acknowledged) is cut; a line
/// whose article is not in its pack is dropped; an article file put in the group's folder
/// by hand (the earlier layout) is taken into the pack.
#[test]
fn a_crash_between_the_steps_is_put_right() {
    let d = tempdir("crash");
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    s.store(&article("<1@x>", "kept"), "<1@x>", &["local.test"]).unwrap();
    s.store(&article("<2@x>", "unlisted"), "<2@x>", &["local.test"]).unwrap();
    drop(s);
    let g = d.join("local.test");
    // Article 2's lines never reached the disk; a record was being appended.
    let over = fs::read_to_string(g.join(".overview")).unwrap();
    let first_line = over.lines().next().unwrap().to_owned();
    fs::write(g.join(".overview"), format!("{first_line}\n7\tghost\ta\tb\t<7@x>\t\t1\t1\t\t1\t1 0 5\n")).unwrap();
    let history = fs::read_to_string(d.join("history")).unwrap();
    fs::write(d.join("history"), history.lines().next().unwrap().to_owned() + "\n").unwrap();
    let pack = g.join("1.pack");
    let whole = fs::metadata(&pack).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&pack)
        .unwrap()
        .write_all(b"@sansmail-article 3 500 1 <3@x>\nFrom: torn")
        .unwrap();
    // And a loose file.
    fs::write(g.join("5"), article("<5@x>", "loose")).unwrap();
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    let over = s.overview("local.test", 1, u64::MAX, usize::MAX);
    assert_eq!(
        over.iter().map(|e| (e.number, e.subject.as_str())).collect::<Vec<_>>(),
        [(1, "kept"), (2, "unlisted"), (5, "loose")]
    );
    assert!(s.seen("<2@x>") && s.seen("<5@x>"), "the history learnt them");
    assert!(!s.seen("<3@x>"));
    assert!(!g.join("5").exists(), "taken into the pack");
    assert!(fs::metadata(&pack).unwrap().len() > whole, "the torn record cut, the loose one appended");
    assert!(s.article("local.test", 5).unwrap().unwrap().ends_with(b"line two\r\n"));
    // The next article is 6: no number given twice.
    assert_eq!(s.store(&article("<6@x>", "x"), "<6@x>", &["local.test"]).unwrap()[0].1, 6);
    s.checkpoint().unwrap();
    drop(s);
    // And a second open finds nothing to put right: the files agree.
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    assert_eq!(s.group("local.test").unwrap(), GroupInfo { name: "local.test".into(), count: 4, low: 1, high: 6 });
    let history = fs::read_to_string(d.join("history")).unwrap();
    assert_eq!(history.lines().filter(|l| l.starts_with("<2@x>\t")).count(), 1, "{history}");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn hostile_names_and_headers() {
    let d = tempdir("names");
    for bad in ["../etc", "a/b", ".hidden", "", "a*b", "a..b", "a."] {
        assert!(NewsStore::open(&d, &[bad], "news.test").is_err(), "{bad:?}");
    }
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    // A header with tabs and line breaks makes one overview line with its fields in place.
    let mut a = b"Subject: a\tb\r\n\tc\r\nMessage-ID: <h@x>\r\nXref: forged.host evil:99\r\n\r\nbody\r\n".to_vec();
    s.store(&a, "<h@x>", &["local.test"]).unwrap();
    let e = &s.overview("local.test", 1, 1, 1)[0];
    assert_eq!(e.subject, "a b c");
    assert!(!e.xref.contains("evil"), "the poster's Xref is not ours: {}", e.xref);
    drop(s);
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    assert_eq!(s.overview("local.test", 1, 1, 1)[0].subject, "a b c");
    a.clear();
    let _ = fs::remove_dir_all(&d);
}

/// Staged articles are neither visible nor stored twice before their commit; a cancel
/// overwrites the article's bytes in its pack and is never undone by a restart, expiry
/// removes a pack with nothing left in it, and numbers go on past both.
#[test]
fn staging_cancels_and_expiry() {
    let d = tempdir("staging");
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    s.store(&article("<1@x>", "one"), "<1@x>", &["local.test"]).unwrap();
    s.store(&article("<2@x>", "two"), "<2@x>", &["local.test"]).unwrap();
    s.stage(&article("<3@x>", "three"), "<3@x>", &["local.test"]).unwrap();
    assert!(!s.contains("local.test", 3), "staged is not visible");
    assert!(s.seen("<3@x>"), "but is not taken twice");
    assert!(matches!(s.stage(&article("<3@x>", "x"), "<3@x>", &["local.test"]), Err(StoreError::Duplicate)));
    assert_eq!(s.commit().unwrap(), ["<3@x>"]);
    assert!(s.contains("local.test", 3));
    assert!(s.remove("<2@x>").unwrap());
    let pack = fs::read(d.join("local.test/1.pack")).unwrap();
    assert!(memchr::memmem::find(&pack, b"Subject: two").is_none(), "the cancelled bytes are gone");
    s.store(&article("<4@x>", "four"), "<4@x>", &["local.test"]).unwrap();
    drop(s);
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    let over = s.overview("local.test", 1, u64::MAX, usize::MAX);
    assert_eq!(
        over.iter().map(|e| (e.number, e.subject.as_str())).collect::<Vec<_>>(),
        [(1, "one"), (3, "three"), (4, "four")]
    );
    assert_eq!(s.expire("local.test", SystemTime::now() + Duration::from_secs(1)).unwrap(), 3);
    assert!(!d.join("local.test/1.pack").exists() || s.store(&article("<5@x>", "x"), "<5@x>", &["local.test"]).is_ok());
    drop(s);
    let s = NewsStore::open(&d, &["local.test"], "news.test").unwrap();
    assert_eq!(s.group("local.test").unwrap().count, u64::from(s.seen("<5@x>")));
    let next = s.store(&article("<6@x>", "x"), "<6@x>", &["local.test"]).unwrap()[0].1;
    assert!(next >= 5, "{next}");
    let _ = fs::remove_dir_all(&d);
}
