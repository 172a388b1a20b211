//! Composition with nono (`nono run <args> -- CMD ARGS`, crates.io `nono-cli`).
//!
//! Translation of a resolved profile (nono 0.81 flags):
//!
//! | profile | nono |
//! |---|---|
//! | `write` directory / file | `-a DIR` / `--allow-file FILE` (read+write: gavel's `write` implies read) |
//! | `read` or `exec` directory / file | `-r DIR` / `--read-file FILE` (nono's read grant includes execute) |
//! | `network: deny` | `--block-net` |
//! | `network: allow` | nothing (nono allows outbound by default) |
//! | `{connect_tcp: [p], bind_tcp: [q]}` | `--block-net --allow-connect-port p --listen-port q` |
//! | always | `-s` (silent: no banner, and never an interactive prompt) |
//! | with [`nono_argv_with_profile`] | `-p FILE`, a nono profile ([`NONO_PROFILE_JSON`]) that excludes nono's `system_write_linux` group |
//!
//! nono adds its own groups on top of the flags: read access to ~50 system paths, and
//! (group `system_write_linux`) write access to `/tmp`, `/dev/null`, `/dev/zero`,
//! `/dev/full`, `/dev/tty`, `/dev/pts`. [`nono_argv`] leaves those defaults in place,
//! so under it anything below `/tmp` is writable whatever the profile says;
//! [`nono_argv_with_profile`] with a file written by [`write_nono_profile`] removes
//! the write group, so that writes are exactly the profile's. Reads stay a superset
//! (nono's system read group). `syscalls` is not translated: nono installs its own
//! seccomp baseline. The environment is not a flag: run nono with
//! [`crate::Profile::child_env`] as its environment. In silent mode nono refuses to
//! start when the working directory is not readable under the profile ("CWD access
//! requires --allow-cwd"), so the profile should grant read on the working directory.

use crate::error::SandboxError;
use crate::exe::resolve_executable;
use crate::profile::{Network, Profile};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The nono profile that removes nono's default write grants (`/tmp`, `/dev/...`).
pub const NONO_PROFILE_JSON: &str =
    r#"{"meta":{"name":"gavel-exact-writes"},"groups":{"exclude":["system_write_linux"]}}"#;

/// Writes [`NONO_PROFILE_JSON`] as `gavel-nono-profile.json` in `dir` (a directory the
/// caller owns, e.g. gavel's state directory: never a world-writable one, where another
/// user could plant a permissive profile) and returns its path.
pub fn write_nono_profile(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join("gavel-nono-profile.json");
    let tmp = dir.join(format!(".gavel-nono-profile.{}.tmp", std::process::id()));
    std::fs::write(&tmp, NONO_PROFILE_JSON)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `nono run <args> -- EXE ARGV[1..]` as an argv (element 0 is `"nono"`; replace it
/// with the path from [`find_nono`]). `argv[0]` is not passed: nono runs `exe`.
/// nono's default write group stays in place: see [`nono_argv_with_profile`].
pub fn nono_argv(profile: &Profile, exe: &Path, argv: &[OsString]) -> Vec<OsString> {
    nono_argv_with_profile(profile, None, exe, argv)
}

/// Like [`nono_argv`], plus `-p NONO_PROFILE` (from [`write_nono_profile`]) when given.
pub fn nono_argv_with_profile(
    profile: &Profile,
    nono_profile: Option<&Path>,
    exe: &Path,
    argv: &[OsString],
) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["nono".into(), "run".into(), "-s".into()];
    if let Some(np) = nono_profile {
        out.push("-p".into());
        out.push(np.as_os_str().to_owned());
    }
    let mut push = |flag: &str, path: &Path| {
        out.push(flag.into());
        out.push(path.as_os_str().to_owned());
    };
    for p in profile.write() {
        push(
            if profile.is_dir(p) {
                "-a"
            } else {
                "--allow-file"
            },
            p,
        );
    }
    let mut readable: Vec<&PathBuf> = profile.read().iter().chain(profile.exec()).collect();
    readable.sort();
    readable.dedup();
    for p in readable {
        if profile.write().contains(p) {
            continue;
        }
        push(
            if profile.is_dir(p) {
                "-r"
            } else {
                "--read-file"
            },
            p,
        );
    }
    match profile.network() {
        Network::Allow => {}
        Network::Deny => out.push("--block-net".into()),
        Network::Ports {
            connect_tcp,
            bind_tcp,
        } => {
            out.push("--block-net".into());
            for p in connect_tcp {
                out.push("--allow-connect-port".into());
                out.push(p.to_string().into());
            }
            for p in bind_tcp {
                out.push("--listen-port".into());
                out.push(p.to_string().into());
            }
        }
    }
    out.push("--".into());
    out.push(exe.as_os_str().to_owned());
    out.extend(argv.iter().skip(1).cloned());
    out
}

/// Finds `nono` on `path_env`; the error names `cargo install nono-cli`.
pub fn find_nono(path_env: Option<&OsStr>, cwd: &Path) -> Result<PathBuf, SandboxError> {
    resolve_executable(OsStr::new("nono"), path_env, cwd).map_err(|e| match e {
        SandboxError::CommandNotFound { searched, .. } => {
            SandboxError::NonoNotInstalled { searched }
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn translation_of_paths_network_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(base.join("out")).unwrap();
        std::fs::write(base.join("notes.txt"), "x").unwrap();
        let yaml = "filesystem:\n  read: [/usr, ., /etc/hostname]\n  write: [out, notes.txt]\n  exec: [/usr/bin]\nnetwork: {connect_tcp: [443], bind_tcp: [8080]}\n";
        let p = Profile::from_yaml_str(yaml, "t", &base).unwrap();
        let argv = nono_argv(&p, Path::new("/usr/bin/cat"), &["cat".into(), "a b".into()]);
        let b = base.display();
        let hostname = std::fs::canonicalize("/etc/hostname").unwrap();
        let expected: Vec<String> = [
            "nono",
            "run",
            "-s",
            "--allow-file",
            &format!("{b}/notes.txt"),
            "-a",
            &format!("{b}/out"),
            "--read-file",
            &hostname.display().to_string(),
            "-r",
            &b.to_string(),
            "-r",
            "/usr",
            "-r",
            "/usr/bin",
            "--block-net",
            "--allow-connect-port",
            "443",
            "--listen-port",
            "8080",
            "--",
            "/usr/bin/cat",
            "a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(strs(&argv), expected);
    }

    #[test]
    fn network_deny_and_allow() {
        let dir = tempfile::tempdir().unwrap();
        let deny = Profile::from_yaml_str("filesystem: {read: [/usr]}", "t", dir.path()).unwrap();
        let argv = strs(&nono_argv(&deny, Path::new("/bin/true"), &[]));
        assert_eq!(
            argv,
            [
                "nono",
                "run",
                "-s",
                "-r",
                "/usr",
                "--block-net",
                "--",
                "/bin/true"
            ]
        );
        let allow = Profile::from_yaml_str("network: allow", "t", dir.path()).unwrap();
        let argv = strs(&nono_argv(&allow, Path::new("/bin/true"), &["true".into()]));
        assert_eq!(argv, ["nono", "run", "-s", "--", "/bin/true"]);
    }

    #[test]
    fn with_a_nono_profile() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::from_yaml_str("network: allow", "t", dir.path()).unwrap();
        let np = write_nono_profile(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&np).unwrap(), NONO_PROFILE_JSON);
        let argv = strs(&nono_argv_with_profile(
            &p,
            Some(&np),
            Path::new("/bin/true"),
            &[],
        ));
        assert_eq!(
            argv,
            [
                "nono",
                "run",
                "-s",
                "-p",
                &np.display().to_string(),
                "--",
                "/bin/true"
            ]
        );
    }

    #[test]
    fn missing_nono_names_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_nono(Some(OsStr::new("/nonexistent-gavel-bin")), dir.path()).unwrap_err();
        assert!(matches!(err, SandboxError::NonoNotInstalled { .. }));
        assert!(err.to_string().contains("cargo install nono-cli"), "{err}");
    }
}
