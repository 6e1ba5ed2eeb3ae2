//! Folder change notices: one counter per Maildir folder in use, shared by every session
//! that watches it (IMAP IDLE, and a selected folder between commands).
//!
//! Writers inside the server say at once what they changed ([`Changes::touch`]: delivery,
//! POP3's deletions, IMAP's STORE/EXPUNGE/COPY/APPEND). Writers outside it (another
//! program, a second server on the same store) are seen by one inotify watch on each
//! folder's `new/` and `cur/` through the `notify` crate, whose single thread serves every
//! folder. Where inotify is not available (or runs out of watches) the folder is looked at
//! once a second by one task per folder, never per session. A session costs a
//! `watch::Receiver` and nothing runs for it until its folder changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::watch;

/// How often a folder without an inotify watch is looked at.
const POLL: Duration = Duration::from_secs(1);

/// How a folder is watched for changes made outside the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// inotify (one thread for all folders), falling back to polling per folder.
    #[default]
    Inotify,
    /// A look at the directories once a second, one task per folder (for a store on a
    /// network filesystem, whose remote writes inotify does not see).
    Poll,
}

/// The change counters of the folders in use, by directory.
pub(crate) struct Changes {
    inner: Arc<Inner>,
}

struct Inner {
    folders: Mutex<HashMap<PathBuf, Watched>>,
    /// `None` when polling: inotify was not asked for or could not start.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

/// One folder's counter, and whether inotify watches it (then every change bumps it).
struct Watched {
    tx: watch::Sender<u64>,
    inotify: bool,
}

impl Inner {
    fn touch(&self, dir: &Path) {
        if let Some(w) = self.folders.lock().unwrap_or_else(|e| e.into_inner()).get(dir) {
            w.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl Changes {
    /// Starts the inotify watcher (when `mode` asks for it and the system has one).
    pub(crate) fn new(mode: Mode) -> Self {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            let watcher = match mode {
                Mode::Poll => None,
                Mode::Inotify => notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                    let (Some(inner), Ok(event)) = (weak.upgrade(), event) else { return };
                    // Events name `folder/new/file` or `folder/cur/file` (or the
                    // sub-directory itself): the folder is two or one levels up.
                    for path in &event.paths {
                        for dir in path.ancestors().skip(1).take(2) {
                            inner.touch(dir);
                        }
                    }
                })
                .map_err(|e| tracing::warn!(error = %e, "no inotify: folders are polled for changes"))
                .ok(),
            };
            Inner { folders: Mutex::default(), watcher: Mutex::new(watcher) }
        });
        Self { inner }
    }

    /// The change counter of the folder at `dir` (a Maildir or a Maildir++ sub-folder).
    /// The first subscriber starts its watch; the watch ends once no subscriber is left.
    pub(crate) fn subscribe(&self, dir: &Path) -> watch::Receiver<u64> {
        let mut folders = self.inner.folders.lock().unwrap_or_else(|e| e.into_inner());
        // Folders nobody watches any more are dropped as others are opened.
        let mut gone = Vec::new();
        folders.retain(|folder, w| {
            let keep = w.tx.receiver_count() > 0;
            if !keep {
                gone.push(folder.clone());
            }
            keep
        });
        let existing = folders.get(dir).map(|w| w.tx.subscribe());
        let created = existing.is_none();
        let rx = existing.unwrap_or_else(|| {
            // Listed as not watched (its notices incomplete) until the watch is in place.
            let (tx, rx) = watch::channel(0);
            folders.insert(dir.to_path_buf(), Watched { tx, inotify: false });
            rx
        });
        // The watcher's calls wait for its thread, which may itself be waiting for this
        // lock to deliver an event: nothing below runs under it.
        drop(folders);
        for folder in &gone {
            self.unwatch(folder);
        }
        if created {
            if self.watch(dir) {
                let mut folders = self.inner.folders.lock().unwrap_or_else(|e| e.into_inner());
                match folders.get_mut(dir) {
                    Some(w) => w.inotify = true,
                    // Dropped meanwhile by another subscription: no watch without it.
                    None => {
                        drop(folders);
                        self.unwatch(dir);
                    }
                }
            } else {
                self.poll(dir);
            }
        }
        rx
    }

    /// The folder's counter now, when every change to it bumps the counter (it is watched
    /// by inotify): a look at the folder taken after reading it sees everything up to it.
    /// `None` when changes from outside may go unnoticed (not watched, or polled).
    pub(crate) fn generation(&self, dir: &Path) -> Option<u64> {
        let folders = self.inner.folders.lock().unwrap_or_else(|e| e.into_inner());
        folders.get(dir).filter(|w| w.inotify).map(|w| *w.tx.borrow())
    }

    /// Says that the folder at `dir` changed: every session watching it wakes.
    pub(crate) fn touch(&self, dir: &Path) {
        self.inner.touch(dir);
    }

    /// How many folders are watched now.
    #[cfg(test)]
    fn folders(&self) -> usize {
        self.inner.folders.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Adds the inotify watches of a folder; false when there is no watcher or it refused.
    fn watch(&self, dir: &Path) -> bool {
        let mut watcher = self.inner.watcher.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = watcher.as_mut() else { return false };
        let mut ok = true;
        for sub in ["new", "cur"] {
            if let Err(e) = w.watch(&dir.join(sub), RecursiveMode::NonRecursive) {
                tracing::warn!(folder = %dir.display(), error = %e, "cannot watch the folder: polling it");
                ok = false;
            }
        }
        ok
    }

    fn unwatch(&self, dir: &Path) {
        if let Some(w) = self.inner.watcher.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            for sub in ["new", "cur"] {
                let _ = w.unwatch(&dir.join(sub));
            }
        }
    }

    /// One task for the folder: looks at its directories once a second while anyone
    /// watches it (outside a runtime, as in unit tests of the store, nothing polls).
    fn poll(&self, dir: &Path) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let inner = Arc::downgrade(&self.inner);
        let dir = dir.to_path_buf();
        runtime.spawn(async move {
            let mut seen = stamp(&dir);
            loop {
                tokio::time::sleep(POLL).await;
                let Some(inner) = inner.upgrade() else { return };
                let watched = inner
                    .folders
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&dir)
                    .is_some_and(|w| w.tx.receiver_count() > 0);
                if !watched {
                    return;
                }
                let now = stamp(&dir);
                if now != seen {
                    seen = now;
                    inner.touch(&dir);
                }
            }
        });
    }
}

/// The modification times of a folder's `new/` and `cur/`.
fn stamp(dir: &Path) -> [SystemTime; 2] {
    ["new", "cur"].map(|sub| std::fs::metadata(dir.join(sub)).and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sansmail-changes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        dir
    }

    async fn changed(rx: &mut watch::Receiver<u64>) -> bool {
        tokio::time::timeout(Duration::from_secs(5), rx.changed()).await.is_ok_and(|r| r.is_ok())
    }

    /// A file that appears in `new/` from outside wakes every subscriber, by inotify or by
    /// the per-folder poll; a touch from inside wakes them at once.
    #[tokio::test]
    async fn outside_writes_and_touches_wake_every_subscriber() {
        for mode in [Mode::Inotify, Mode::Poll] {
            let dir = maildir(&format!("{mode:?}"));
            let changes = Changes::new(mode);
            let mut a = changes.subscribe(&dir);
            let mut b = changes.subscribe(&dir);
            assert_eq!(changes.folders(), 1, "one watch per folder, not per session");
            // The poll compares modification times, kept to the second on some filesystems.
            if mode == Mode::Poll {
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
            std::fs::write(dir.join("new").join("1.x"), b"Subject: x\r\n\r\n").unwrap();
            assert!(changed(&mut a).await && changed(&mut b).await, "{mode:?}: an outside write");
            a.mark_unchanged();
            b.mark_unchanged();
            changes.touch(&dir);
            assert!(a.has_changed().unwrap() && b.has_changed().unwrap(), "{mode:?}: a touch");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// New folders are watched while events of others flow: the watcher's thread, waiting
    /// to deliver an event, and a subscription, waiting for the watcher, must not hold each
    /// other up (they once did: the subscription called the watcher under the folders lock).
    #[test]
    fn subscriptions_while_events_flow_do_not_deadlock() {
        let busy = maildir("busy");
        let changes = Arc::new(Changes::new(Mode::Inotify));
        let _rx = changes.subscribe(&busy);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (busy, stop) = (busy.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let file = busy.join("new").join(format!("{i}.x"));
                    std::fs::write(&file, b"x").unwrap();
                    std::fs::remove_file(&file).unwrap();
                    i += 1;
                }
            })
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let dirs: Vec<PathBuf> = (0..100).map(|i| maildir(&format!("many-{i}"))).collect();
        {
            let (changes, dirs) = (changes.clone(), dirs.clone());
            std::thread::spawn(move || {
                let held: Vec<_> = dirs.iter().map(|d| changes.subscribe(d)).collect();
                let _ = done_tx.send(held.len());
            });
        }
        let result = done_rx.recv_timeout(Duration::from_secs(30));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(result, Ok(100), "subscribing stalled while events flowed");
        for dir in dirs.into_iter().chain([busy]) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Once no session watches a folder, the next subscription elsewhere drops its watch.
    #[tokio::test]
    async fn unwatched_folders_are_dropped() {
        let (one, two) = (maildir("one"), maildir("two"));
        let changes = Changes::new(Mode::Inotify);
        drop(changes.subscribe(&one));
        let _two = changes.subscribe(&two);
        assert_eq!(changes.folders(), 1);
        for dir in [one, two] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
