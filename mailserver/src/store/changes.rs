//! Folder change notices: one counter per Maildir folder in use, shared by every session
//! that watches it (IMAP IDLE, and a selected folder between commands).
//!
//! Writers inside the server say at once what they changed ([`Changes::touch`]: delivery,
//! POP3's deletions, IMAP's STORE/EXPUNGE/COPY/APPEND). Writers outside it (another
//! program, a second server on the same store) are seen by one inotify watch on each
//! folder's `new/` and `cur/` through the `notify` crate, whose single event thread serves
//! every folder (a second thread adds and removes the watches, so no session waits on it). Where inotify is not available (or runs out of watches) the folder is looked at
//! once a second by one task per folder, never per session. A session costs a
//! `watch::Receiver` and nothing runs for it until its folder changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak, mpsc};
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
    /// Watch requests for the thread that owns the inotify watcher; `None` when polling
    /// (inotify was not asked for or could not start).
    watches: Option<mpsc::Sender<Request>>,
    /// Where per-folder polls run (none outside a runtime, as in the store's unit tests).
    runtime: Option<tokio::runtime::Handle>,
}

struct Inner {
    folders: Mutex<HashMap<PathBuf, Watched>>,
}

/// One folder's counter, and whether inotify watches it (then every change bumps it).
struct Watched {
    tx: watch::Sender<u64>,
    inotify: bool,
}

/// What the watcher's thread is asked to do.
enum Request {
    Watch(PathBuf),
    Unwatch(PathBuf),
}

impl Inner {
    fn touch(&self, dir: &Path) {
        if let Some(w) = self.folders.lock().unwrap_or_else(|e| e.into_inner()).get(dir) {
            w.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Every folder may have changed (the kernel's event queue overflowed, or the watcher
    /// failed): all are looked at again.
    fn touch_all(&self) {
        for w in self.folders.lock().unwrap_or_else(|e| e.into_inner()).values() {
            w.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl Changes {
    /// Starts the inotify watcher and the thread that adds and removes its watches (when
    /// `mode` asks for it and the system has inotify).
    pub(crate) fn new(mode: Mode) -> Self {
        let inner = Arc::new(Inner { folders: Mutex::default() });
        let runtime = tokio::runtime::Handle::try_current().ok();
        let watches = match mode {
            Mode::Poll => None,
            Mode::Inotify => start_watcher(&inner, runtime.clone()),
        };
        Self { inner, watches, runtime }
    }

    /// The change counter of the folder at `dir` (a Maildir or a Maildir++ sub-folder).
    /// The first subscriber starts its watch; the watch ends once no subscriber is left.
    /// Never waits for the watcher: its calls wait for its event thread, which a flood of
    /// events can keep busy, so watches are added by a thread of their own and the folder
    /// counts as unwatched (its notices incomplete) until its watch is in place.
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
        if let Some(w) = folders.get(dir) {
            let rx = w.tx.subscribe();
            drop(folders);
            self.unwatch(gone);
            return rx;
        }
        let (tx, rx) = watch::channel(0);
        folders.insert(dir.to_path_buf(), Watched { tx, inotify: false });
        drop(folders);
        self.unwatch(gone);
        let asked = self.watches.as_ref().is_some_and(|w| w.send(Request::Watch(dir.to_path_buf())).is_ok());
        if !asked && let Some(runtime) = &self.runtime {
            poll(Arc::downgrade(&self.inner), dir.to_path_buf(), runtime);
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

    /// How many folders are watched now, and how many of them by inotify.
    #[cfg(test)]
    fn folders(&self) -> (usize, usize) {
        let folders = self.inner.folders.lock().unwrap_or_else(|e| e.into_inner());
        (folders.len(), folders.values().filter(|w| w.inotify).count())
    }

    fn unwatch(&self, gone: Vec<PathBuf>) {
        if let Some(w) = &self.watches {
            for dir in gone {
                let _ = w.send(Request::Unwatch(dir));
            }
        }
    }
}

/// The inotify watcher (its event thread wakes the folders' subscribers) and the thread
/// that owns it and adds and removes watches as asked. `None` without inotify.
fn start_watcher(inner: &Arc<Inner>, runtime: Option<tokio::runtime::Handle>) -> Option<mpsc::Sender<Request>> {
    let events = Arc::downgrade(inner);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Some(inner) = events.upgrade() else { return };
        // Lost events (IN_Q_OVERFLOW) or a failing watcher: what changed is unknown, so
        // every folder counts as changed (the folders trust an unchanged counter).
        let event = match event {
            Ok(event) if !event.need_rescan() => event,
            _ => return inner.touch_all(),
        };
        // Events name `folder/new/file` or `folder/cur/file` (or the sub-directory
        // itself): the folder is two or one levels up.
        for path in &event.paths {
            for dir in path.ancestors().skip(1).take(2) {
                inner.touch(dir);
            }
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "no inotify: folders are polled for changes"))
    .ok()?;
    let (requests, asked) = mpsc::channel();
    let inner = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new().name("folder-watch".into()).spawn(move || {
        // Ends when the `Changes` is dropped (its sender with it).
        for request in asked {
            let Some(folders) = inner.upgrade() else { return };
            match request {
                Request::Watch(dir) => {
                    let mut ok = true;
                    for sub in ["new", "cur"] {
                        if let Err(e) = watcher.watch(&dir.join(sub), RecursiveMode::NonRecursive) {
                            tracing::warn!(folder = %dir.display(), error = %e, "cannot watch the folder: polling it");
                            ok = false;
                        }
                    }
                    let mut list = folders.folders.lock().unwrap_or_else(|e| e.into_inner());
                    match list.get_mut(&dir) {
                        Some(w) if ok => w.inotify = true,
                        Some(_) => {
                            drop(list);
                            if let Some(runtime) = &runtime {
                                poll(inner.clone(), dir, runtime);
                            }
                        }
                        // Dropped meanwhile: no watch without a subscriber.
                        None => {
                            drop(list);
                            for sub in ["new", "cur"] {
                                let _ = watcher.unwatch(&dir.join(sub));
                            }
                        }
                    }
                }
                Request::Unwatch(dir) => {
                    for sub in ["new", "cur"] {
                        let _ = watcher.unwatch(&dir.join(sub));
                    }
                }
            }
        }
    });
    match spawned {
        Ok(_) => Some(requests),
        Err(e) => {
            tracing::warn!(error = %e, "no thread for folder watches: folders are polled for changes");
            None
        }
    }
}

/// One task for the folder: looks at its directories once a second while anyone watches it.
fn poll(inner: Weak<Inner>, dir: PathBuf, runtime: &tokio::runtime::Handle) {
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

    /// Whether `n` folders are watched by inotify within 10 s.
    async fn watched_soon(changes: &Changes, n: usize) -> bool {
        for _ in 0..1000 {
            if changes.folders().1 == n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
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
            assert_eq!(changes.folders().0, 1, "one watch per folder, not per session");
            if mode == Mode::Inotify {
                // The watch is added by the watcher's thread, shortly.
                assert!(watched_soon(&changes, 1).await, "the folder's inotify watch");
            }
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

    /// New folders are subscribed at once while a flood of events keeps the watcher's event
    /// thread busy (a subscription once called the watcher under the folders lock, which
    /// the event thread needs to deliver: a deadlock; then outside the lock, which still
    /// waited as long as the flood lasted). The watches follow once the flood is over.
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
        // Once the flood is over, every folder gets its watch.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        assert!(runtime.block_on(watched_soon(&changes, 101)), "watches added: {:?}", changes.folders());
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
        assert_eq!(changes.folders().0, 1);
        for dir in [one, two] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
