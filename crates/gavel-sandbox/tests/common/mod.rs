//! Shared helpers of the confinement tests: locating (and if needed building) the
//! probe, profiles for a per-test workspace, and running one probe attempt in a fresh
//! confined child.
//!
//! Locating `gavel-probe`: `gavel_probe::for_this_test`, once per test process
//! (`GAVEL_PROBE` when set, else the probe built for this test executable's target
//! dir and profile; a probe that cannot be found fails the test, saying how to build
//! it. Nothing is skipped).
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

/// The probe (located once per test process).
pub fn probe() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(gavel_probe::for_this_test).clone()
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
