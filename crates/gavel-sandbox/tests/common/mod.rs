//! Shared helpers of the confinement tests: locating (and if needed building) the
//! probe, profiles for a per-test workspace, and running one probe attempt in a fresh
//! confined child.
//!
//! Locating `gavel-probe`: `CARGO_BIN_EXE_gavel-probe` exists only for binaries of the
//! same package, and a dev-dependency does not build a dependency's binaries. So:
//! 1. `GAVEL_PROBE` (a path) when set;
//! 2. otherwise `<target>/<profile>/gavel-probe`, derived from this test executable's
//!    path (`<target>/<profile>/deps/<test>-<hash>`), after running
//!    `$CARGO build -p gavel-probe` for that profile and target dir once per test
//!    process (a no-op when it is fresh, and it keeps the probe from being stale);
//! 3. a probe that still cannot be found fails the test with a message saying how to
//!    build it. Nothing is skipped.
//!
//! Test profiles grant exec (and so read) on the probe's directory.

#![allow(dead_code)]

use gavel_sandbox::{Finished, Options, Profile, SpawnError, prepare, prepare_unconfined};
use serde_json::Value;
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn locate_probe() -> PathBuf {
    if let Some(p) = std::env::var_os("GAVEL_PROBE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let profile_dir = deps.parent().expect("profile dir");
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

/// The probe (located once per test process).
pub fn probe() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| std::fs::canonicalize(locate_probe()).expect("canonical probe path"))
        .clone()
}

/// The directory of the probe, which test profiles grant exec on.
pub fn probe_dir() -> PathBuf {
    probe().parent().expect("probe dir").to_path_buf()
}

/// A per-test workspace: `ws/` readable, `ws/rw/` writable, `ws/ro/file` with known
/// content, and `outside/secret` outside the profile.
pub struct Ws {
    pub root: tempfile::TempDir,
    pub ws: PathBuf,
    pub rw: PathBuf,
    pub ro: PathBuf,
    pub outside: PathBuf,
}

pub const ORIGINAL: &str = "original content\n";

impl Ws {
    pub fn new() -> Ws {
        let root = tempfile::Builder::new()
            .prefix("gavel-sbx-")
            .tempdir()
            .expect("tempdir");
        let base = std::fs::canonicalize(root.path()).unwrap();
        let ws = base.join("ws");
        let rw = ws.join("rw");
        let ro = ws.join("ro");
        let outside = base.join("outside");
        for d in [&ws, &rw, &ro, &outside] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ro.join("file"), ORIGINAL).unwrap();
        std::fs::write(rw.join("file"), ORIGINAL).unwrap();
        std::fs::write(outside.join("secret"), "secret\n").unwrap();
        Ws {
            root,
            ws,
            rw,
            ro,
            outside,
        }
    }

    /// A profile: read the system libraries, `/proc` and `ws`; write `ws/rw`; exec the
    /// probe directory and the system library directories (the dynamic loader).
    pub fn profile(&self, extra: &str) -> Profile {
        self.profile_with(extra, "deny", "default")
    }

    pub fn profile_with(&self, extra: &str, network: &str, syscalls: &str) -> Profile {
        let libs: Vec<&str> = ["/usr", "/lib", "/lib64"]
            .into_iter()
            .filter(|p| Path::new(p).exists())
            .collect();
        let exec_libs: Vec<&str> = ["/usr/lib", "/usr/lib64", "/lib", "/lib64"]
            .into_iter()
            .filter(|p| Path::new(p).exists())
            .collect();
        let yaml = format!(
            "filesystem:\n  read: [{libs}, /etc, /proc, {ws}]\n  write: [{rw}]\n  exec: [{exec_libs}, {probe}]\nnetwork: {network}\nsyscalls: {syscalls}\nenv:\n  allow: [PATH]\n{extra}",
            libs = libs.join(", "),
            ws = self.ws.display(),
            rw = self.rw.display(),
            exec_libs = exec_libs.join(", "),
            probe = probe_dir().display(),
        );
        Profile::from_yaml_str(&yaml, "test-profile", &self.ws)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }
}

/// The result of one probe run.
pub struct Outcome {
    pub finished: Finished,
    pub stdout: String,
}

impl Outcome {
    /// The probe's JSON line.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("probe output {:?}: {e}", self.stdout))
    }
    /// Asserts the probe succeeded.
    pub fn assert_ok(&self) -> Value {
        let j = self.json();
        assert_eq!(j["ok"], Value::Bool(true), "expected success, got {j}");
        assert_eq!(self.finished.exit_code, Some(0), "{j}");
        j
    }
    /// Asserts the probe failed with `errno`.
    pub fn assert_errno(&self, errno: i32) -> Value {
        let j = self.json();
        assert_eq!(
            j["ok"],
            Value::Bool(false),
            "expected errno {errno}, got {j}"
        );
        assert_eq!(
            j["errno"],
            Value::from(errno),
            "expected errno {errno}, got {j}"
        );
        assert_eq!(self.finished.exit_code, Some(1), "{j}");
        j
    }
}

pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors that we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are fresh and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn collect(mut prepared: gavel_sandbox::Prepared) -> Result<Outcome, SpawnError> {
    let (r, w) = pipe();
    prepared.set_stdio(None, Some(w), None).expect("stdio");
    let running = prepared.spawn()?;
    let mut stdout = String::new();
    std::fs::File::from(r)
        .read_to_string(&mut stdout)
        .expect("read probe stdout");
    let finished = running.wait()?;
    Ok(Outcome { finished, stdout })
}

pub fn default_env() -> Vec<(OsString, OsString)> {
    vec![("PATH".into(), "/usr/bin:/bin".into())]
}

/// Runs the probe with `args` confined by `profile`.
pub fn run_with(
    profile: &Profile,
    opts: &Options,
    args: &[&str],
    env: Vec<(OsString, OsString)>,
) -> Result<Outcome, SpawnError> {
    let mut argv = os(&["gavel-probe"]);
    argv.extend(os(args));
    let prepared = prepare(
        profile,
        opts,
        &probe(),
        &argv,
        env.into_iter(),
        &probe_dir(),
    )
    .expect("prepare");
    collect(prepared)
}

pub fn run(profile: &Profile, args: &[&str]) -> Outcome {
    run_with(profile, &Options::default(), args, default_env()).expect("spawn")
}

/// Runs the probe unconfined (controls: what the same attempt does without gavel).
pub fn run_unconfined(args: &[&str]) -> Outcome {
    let mut argv = os(&["gavel-probe"]);
    argv.extend(os(args));
    let prepared = prepare_unconfined(&probe(), &argv, default_env().into_iter(), &probe_dir())
        .expect("prepare");
    collect(prepared).expect("spawn")
}
