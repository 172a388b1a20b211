//! Executable resolution, like a POSIX shell, before fork.

use crate::error::SandboxError;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `PATH` used when the caller has none (glibc's `confstr(_CS_PATH)`).
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

enum Check {
    Ok(PathBuf),
    Missing,
    NotExecutable(PathBuf, String),
}

fn check(candidate: &Path) -> Check {
    let meta = match std::fs::metadata(candidate) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Check::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Check::Missing,
        Err(e) => return Check::NotExecutable(candidate.to_path_buf(), e.to_string()),
    };
    if meta.is_dir() {
        return Check::NotExecutable(candidate.to_path_buf(), "Is a directory".into());
    }
    if !meta.is_file() {
        return Check::NotExecutable(candidate.to_path_buf(), "not a regular file".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Check::NotExecutable(
            candidate.to_path_buf(),
            "Permission denied (no execute bit)".into(),
        );
    }
    let Ok(c) = std::ffi::CString::new(candidate.as_os_str().as_bytes()) else {
        return Check::NotExecutable(candidate.to_path_buf(), "path contains a NUL byte".into());
    };
    // SAFETY: c is a valid NUL-terminated path; access(2) only checks permissions.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Check::NotExecutable(candidate.to_path_buf(), e.to_string());
    }
    match std::fs::canonicalize(candidate) {
        Ok(p) => Check::Ok(p),
        Err(e) => Check::NotExecutable(candidate.to_path_buf(), e.to_string()),
    }
}

/// Resolves `cmd` like a shell: a name containing `/` is a path (relative to `cwd`);
/// otherwise each `PATH` entry is tried in order (an empty entry means `cwd`, relative
/// entries are relative to `cwd`; [`DEFAULT_PATH`] when `path_env` is `None`).
///
/// Returns the canonical path (symlinks resolved, so that the policy decision is about
/// the file that will really run). [`SandboxError::CommandNotFound`] (exit 127) when
/// nothing matches; [`SandboxError::NotExecutable`] (exit 126) when only a
/// non-executable file (or a directory) matches.
pub fn resolve_executable(
    cmd: &OsStr,
    path_env: Option<&OsStr>,
    cwd: &Path,
) -> Result<PathBuf, SandboxError> {
    let shown = cmd.to_string_lossy().into_owned();
    if cmd.is_empty() {
        return Err(SandboxError::CommandNotFound {
            command: shown,
            searched: "(empty command)".into(),
        });
    }
    if cmd.as_bytes().contains(&0) {
        return Err(SandboxError::NulByte {
            what: format!("command {shown:?}"),
        });
    }
    if cmd.as_bytes().contains(&b'/') {
        let p = cwd.join(Path::new(cmd));
        return match check(&p) {
            Check::Ok(p) => Ok(p),
            Check::Missing => Err(SandboxError::CommandNotFound {
                command: shown,
                searched: p.display().to_string(),
            }),
            Check::NotExecutable(path, reason) => Err(SandboxError::NotExecutable { path, reason }),
        };
    }
    let path_env = path_env.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut first_unusable: Option<(PathBuf, String)> = None;
    for dir in path_env.as_bytes().split(|b| *b == b':') {
        let dir = Path::new(OsStr::from_bytes(dir));
        let base = if dir.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(dir)
        };
        match check(&base.join(cmd)) {
            Check::Ok(p) => return Ok(p),
            Check::Missing => {}
            Check::NotExecutable(p, r) => {
                if first_unusable.is_none() {
                    first_unusable = Some((p, r));
                }
            }
        }
    }
    match first_unusable {
        Some((path, reason)) => Err(SandboxError::NotExecutable { path, reason }),
        None => Err(SandboxError::CommandNotFound {
            command: shown,
            searched: format!("PATH={}", path_env.to_string_lossy()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn path_lookup_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = bin.join("plain");
        std::fs::write(&plain, "data").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = OsStr::new("/nonexistent-dir:bin");
        let cwd = dir.path();
        let canon = std::fs::canonicalize(&tool).unwrap();
        assert_eq!(
            resolve_executable(OsStr::new("tool"), Some(path), cwd).unwrap(),
            canon
        );
        assert_eq!(
            resolve_executable(OsStr::new("./bin/tool"), None, cwd).unwrap(),
            canon
        );
        let e = resolve_executable(OsStr::new("nope"), Some(path), cwd).unwrap_err();
        assert!(matches!(e, SandboxError::CommandNotFound { .. }));
        assert_eq!(e.exit_code(), 127);
        let e = resolve_executable(OsStr::new("./bin/nope"), Some(path), cwd).unwrap_err();
        assert_eq!(e.exit_code(), 127);
        let e = resolve_executable(OsStr::new("bin"), Some(OsStr::new(".")), cwd).unwrap_err();
        assert!(
            matches!(e, SandboxError::NotExecutable { .. }),
            "a directory is not executable: {e}"
        );
        let e = resolve_executable(OsStr::new("./bin"), None, cwd).unwrap_err();
        assert_eq!(e.exit_code(), 126);
        // a non-executable file is 126 (only when root-bypass does not apply: root
        // still needs one execute bit, which plain has none of)
        let e = resolve_executable(OsStr::new("plain"), Some(path), cwd).unwrap_err();
        assert!(matches!(e, SandboxError::NotExecutable { .. }), "{e}");
        assert_eq!(e.exit_code(), 126);
        assert_eq!(
            resolve_executable(OsStr::new("sh"), None, cwd).unwrap(),
            std::fs::canonicalize("/bin/sh").unwrap()
        );
        assert!(matches!(
            resolve_executable(OsStr::new(""), None, cwd),
            Err(SandboxError::CommandNotFound { .. })
        ));
    }
}
