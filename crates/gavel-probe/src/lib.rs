//! Finding the `gavel-probe` binary from a test of another package.
//!
//! `CARGO_BIN_EXE_gavel-probe` exists only for tests of this package, and a
//! dev-dependency does not build a dependency's binaries. So [`locate`] takes
//! 1. `GAVEL_PROBE` (a path) when it is set;
//! 2. otherwise `<profile dir>/gavel-probe`, after running `$CARGO build -p gavel-probe`
//!    for that target dir and profile (a no-op when it is fresh, and it keeps the probe
//!    from being stale);
//! 3. and fails the test, saying how to build the probe, when it still is not there.
//!    Nothing is skipped.
//!
//! The probe itself (`src/main.rs`) depends on nothing of this library.

use std::path::{Path, PathBuf};

/// The probe for tests whose binaries live in `profile_dir` (`<target>/<profile>`).
///
/// # Panics
/// When the probe cannot be found or built: the message says how to build it.
pub fn locate(profile_dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("GAVEL_PROBE") {
        return PathBuf::from(p);
    }
    let target_dir = profile_dir.parent().expect("target dir");
    let profile_name = profile_dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("debug");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "gavel-probe"]);
    if profile_name != "debug" {
        cmd.args(["--profile", profile_name]);
    }
    cmd.env("CARGO_TARGET_DIR", target_dir);
    let status = cmd.status();
    let probe = profile_dir.join("gavel-probe");
    assert!(
        probe.is_file(),
        "gavel-probe not found at {} (building it said {status:?}); run `cargo build -p gavel-probe` with the same target dir, or set GAVEL_PROBE to its path",
        probe.display()
    );
    probe
}

/// [`locate`], canonical (the form a sandbox profile names), for the profile directory
/// of the running test executable (`<target>/<profile>/deps/<test>-<hash>`).
pub fn for_this_test() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let profile_dir = deps.parent().expect("profile dir");
    std::fs::canonicalize(locate(profile_dir)).expect("canonical probe path")
}
