//! Mail is private: everything the server makes under its data directory is readable by
//! its own user only (folders 0700, files 0600), whatever umask it was started with. A tree
//! made by an older version, or copied in, is checked at start: what others could read is
//! named in the log, and `serve --fix-permissions` closes it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::Mode;

/// Gives the process the umask 0077: no file or folder it creates from now on is open to
/// its group or to others.
pub(crate) fn private_umask() {
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

/// How deep the start-up check looks without `--fix-permissions`: the data directory,
/// its folders, the domains and the mailboxes (a closed mailbox folder closes what is in
/// it), not every message.
const CHECK_DEPTH: usize = 3;

/// Finds what under `data_dir` others may read or enter; with `fix`, the whole tree is
/// walked and closed (folders 0700, files 0600). Returns what was open (and, with `fix`,
/// is closed now).
pub(crate) fn check(data_dir: &Path, fix: bool) -> io::Result<Vec<PathBuf>> {
    let mut open = Vec::new();
    walk(data_dir, if fix { usize::MAX } else { CHECK_DEPTH }, fix, &mut open)?;
    Ok(open)
}

fn walk(path: &Path, depth: usize, fix: bool, open: &mut Vec<PathBuf>) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Links are not followed (nor changed): they may point outside the data.
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        if fix {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
        }
        open.push(path.to_path_buf());
    }
    if meta.is_dir() && depth > 0 {
        for entry in fs::read_dir(path)? {
            walk(&entry?.path(), depth - 1, fix, open)?;
        }
    }
    Ok(())
}

/// The start-up check, said in the log: a warning naming a few open paths, or what was
/// fixed.
pub(crate) fn report(data_dir: &Path, fix: bool) -> io::Result<()> {
    let open = check(data_dir, fix)?;
    if open.is_empty() {
        return Ok(());
    }
    let some: Vec<String> = open.iter().take(5).map(|p| p.display().to_string()).collect();
    if fix {
        tracing::info!(count = open.len(), examples = ?some, "permissions closed: folders 0700, files 0600");
    } else {
        tracing::warn!(
            count = open.len(),
            examples = ?some,
            "mail data readable by other users; run `sansmail serve --fix-permissions` once to close it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_paths_are_found_and_closed() {
        let dir = std::env::temp_dir().join(format!("sansmail-perms-{}", std::process::id()));
        let deep = dir.join("mail/example.org/alice/Maildir/new");
        fs::create_dir_all(&deep).unwrap();
        let msg = deep.join("1.eml");
        fs::write(&msg, "x").unwrap();
        for p in [&dir, &deep] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(&msg, fs::Permissions::from_mode(0o644)).unwrap();
        let found = check(&dir, false).unwrap();
        assert!(found.contains(&dir) && !found.contains(&msg), "the shallow check: {found:?}");
        let fixed = check(&dir, true).unwrap();
        assert!(fixed.contains(&msg) && fixed.contains(&deep), "{fixed:?}");
        assert!(check(&dir, true).unwrap().is_empty());
        assert_eq!(fs::metadata(&msg).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&deep).unwrap().permissions().mode() & 0o777, 0o700);
        fs::remove_dir_all(&dir).unwrap();
    }
}
