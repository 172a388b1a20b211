//! Operator key files: PKCS#8 PEM written with mode 0600, and refused when group or
//! others can read them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use gavel_receipt::keys::{KeyError, OperatorKey};

/// Why an operator key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file does not exist.
    #[error(
        "no operator key at {}: create it with `gavel keys generate --out {}`, or point --key at an existing key",
        .0.display(), .0.display()
    )]
    Missing(PathBuf),
    /// The path is a directory (or another non-regular file).
    #[error("{} is not a key file (it is a directory or a special file): give the key file itself", .0.display())]
    NotAFile(PathBuf),
    /// Group or others may read the private key.
    #[error(
        "private key {path} is readable by group or others (mode {mode:04o}): run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file exists and would be overwritten.
    #[error(
        "{0} already exists: gavel never overwrites a key; choose another --out or remove it yourself"
    )]
    Exists(PathBuf),
    /// The file is not a key.
    #[error("{path}: {source}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        source: KeyError,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads an operator key (PKCS#8 PEM or hex seed) after checking that only its owner
/// can read it.
pub fn load(path: &Path) -> Result<OperatorKey, KeyFileError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyFileError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(io(path)(e)),
    };
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile(path.to_path_buf()));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(io(path))?);
    OperatorKey::parse(&text).map_err(|source| KeyFileError::Bad {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `key` as PKCS#8 PEM to a new file with mode 0600 (never overwriting), and
/// creates missing parent directories with mode 0700.
pub fn write_new(path: &Path, key: &OperatorKey) -> Result<(), KeyFileError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io(parent))?;
    }
    let pem = key.to_pkcs8_pem().map_err(|source| KeyFileError::Bad {
        path: path.to_path_buf(),
        source,
    })?;
    // Write a temporary file, then hard-link it into place: the key appears complete
    // or not at all, and an existing key is never replaced (link fails with EEXIST).
    let mut tmp = path.as_os_str().to_owned();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tmp.push(format!(".tmp-{}-{n}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(pem.as_bytes())?;
        f.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(KeyFileError::Exists(path.to_path_buf()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Loads the key at `path`; when it does not exist yet, creates it. Returns the key and
/// whether it was created (the caller tells the user, with the public key).
pub fn load_or_create(path: &Path) -> Result<(OperatorKey, bool), KeyFileError> {
    match load(path) {
        Ok(k) => Ok((k, false)),
        Err(KeyFileError::Missing(_)) => {
            let key = OperatorKey::generate().map_err(|source| KeyFileError::Bad {
                path: path.to_path_buf(),
                source,
            })?;
            match write_new(path, &key) {
                Ok(()) => Ok((key, true)),
                // another process created it first: use theirs
                Err(KeyFileError::Exists(_)) => load(path).map(|k| (k, false)),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_a_missing_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("keys");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        // not "readable by others: chmod 600", which would not help
        assert!(matches!(load(&d), Err(KeyFileError::NotAFile(_))));
        let missing = dir.path().join("none.pem");
        let e = load(&missing).unwrap_err().to_string();
        assert!(
            e.contains(&format!("gavel keys generate --out {}", missing.display())),
            "{e}"
        );
    }

    #[test]
    fn written_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys/issuer.pem");
        let k = OperatorKey::generate().unwrap();
        write_new(&p, &k).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert_eq!(load(&p).unwrap().verifying_key(), k.verifying_key());
        assert!(matches!(write_new(&p, &k), Err(KeyFileError::Exists(_))));
    }

    #[test]
    fn group_or_world_readable_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_new(&p, &OperatorKey::generate().unwrap()).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            let e = load(&p).unwrap_err();
            assert!(matches!(e, KeyFileError::TooOpen { .. }), "{mode:o}");
            assert!(
                e.to_string()
                    .contains(&format!("chmod 600 {}", p.display())),
                "{e}"
            );
        }
        fs::set_permissions(&p, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load(&p).is_ok());
    }

    #[test]
    fn load_or_create_creates_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("issuer.pem");
        let (a, created) = load_or_create(&p).unwrap();
        assert!(created);
        let (b, created) = load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(a.verifying_key(), b.verifying_key());
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        fs::write(&p, "hello").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()), "{e}");
    }
}
