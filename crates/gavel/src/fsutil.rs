//! Small file helpers shared by the trust store and the audit log.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` with `options`; when its directory does not exist yet, creates it
/// (and its parents) and tries once more. The directory is looked at only then, so
/// the usual case is one system call.
pub(crate) fn open_in_created_dir(options: &OpenOptions, path: &Path) -> io::Result<File> {
    match options.open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) => {
                    std::fs::create_dir_all(parent)?;
                    options.open(path)
                }
                None => Err(e),
            }
        }
        other => other,
    }
}

/// Opens (creating with `mode`, and its directory if missing) `path` and takes an
/// exclusive `flock` on it; the lock goes with the returned file (and with the
/// process, if it dies).
pub(crate) fn lock_file(path: &Path, mode: u32) -> io::Result<File> {
    let f = open_in_created_dir(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC),
        path,
    )?;
    flock_exclusive(f)
}

/// Like [`lock_file`], but only when `path` exists: creates nothing (NotFound when
/// the file or its directory is missing).
pub(crate) fn lock_existing_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    flock_exclusive(f)
}

/// Takes an exclusive `flock` on `f`, waiting for it.
fn flock_exclusive(f: File) -> io::Result<File> {
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(f);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Replaces `path` atomically with `bytes` (temporary file, fsync, rename).
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_in_a_missing_directory_creates_it_and_other_errors_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c/.lock");
        let f = lock_file(&nested, 0o600).unwrap();
        assert!(f.metadata().unwrap().is_file());
        assert!(dir.path().join("a/b/c").is_dir());
        // an existing directory: opened as it is
        drop(f);
        lock_file(&nested, 0o600).unwrap();
        // a parent that is a file is not "missing": ENOTDIR, nothing created
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        let e = lock_file(&dir.path().join("plain/.lock"), 0o600).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        // a relative name without a directory part is opened where it is
        let e = open_in_created_dir(
            OpenOptions::new().read(true),
            Path::new("surely-not-here-gavel"),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
