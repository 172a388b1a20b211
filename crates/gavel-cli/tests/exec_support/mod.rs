//! Helpers of the `gavel exec` tests: locating (and if needed building) `gavel-probe`,
//! a per-test workspace with a profile, running the real `gavel exec` in it, and
//! reading the receipts it wrote.
//!
//! Locating the probe: `gavel_probe::locate` for the directory of the `gavel` binary
//! under test (`<target>/<profile>/`), once per test process: `GAVEL_PROBE` when set,
//! else the probe built there; a probe that cannot be found fails the test, saying how
//! to build it. Nothing is skipped.
//!
//! Every `gavel exec` runs with a cleared environment (`PATH=/usr/bin:/bin`, `HOME`,
//! `GAVEL_HOME` = the workspace's private state directory) and its working directory
//! in the workspace.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub use crate::common::{BIN, assert_one_line_error, first_cause, receipt_files, stderr, stdout};
pub const ORIGINAL: &str = "original content\n";
pub const SYSTEM_PATH: &str = "/usr/bin:/bin";

/// The probe, canonical (located once per test process).
pub fn probe() -> PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let profile_dir = Path::new(BIN).parent().expect("profile dir");
            std::fs::canonicalize(gavel_probe::locate(profile_dir)).expect("canonical probe path")
        })
        .clone()
}

/// The probe's directory (test profiles grant exec on it).
pub fn probe_dir() -> PathBuf {
    probe().parent().expect("probe dir").to_path_buf()
}

/// The example policy of the repository (`examples/policies`), out of /tmp (see
/// [`out_of_tmp`]).
pub fn example_policies() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        out_of_tmp(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies"),
            "example-policy",
        )
    })
    .clone()
}

/// The exec tests' policy: denies rm and friends, allows every other `shell:` action;
/// out of /tmp (see [`out_of_tmp`]).
pub fn exec_policies() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        out_of_tmp(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/exec-policy"),
            "exec-policy",
        )
    })
    .clone()
}

/// `src`, a directory of the source tree, or a copy of its files under
/// `common::test_tmp_base` when the tree lies under /tmp: the built-in `workspace`
/// profile lets a command write /tmp, so gavel would refuse to run with a policy there.
fn out_of_tmp(src: &Path, name: &str) -> PathBuf {
    let real = std::fs::canonicalize(src).unwrap_or_else(|_| src.to_path_buf());
    if !real.starts_with("/tmp") {
        return src.to_path_buf();
    }
    let copy = crate::common::test_tmp_base().join(format!("gavel-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(src).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    copy
}

/// nono: `~/.cargo/bin/nono` or on `PATH`. Fails (never skips) when missing.
pub fn nono_dir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(h) = std::env::var_os("HOME") {
        candidates.push(Path::new(&h).join(".cargo/bin"));
    }
    if let Some(p) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&p));
    }
    candidates
        .into_iter()
        .find(|d| d.join("nono").is_file())
        .unwrap_or_else(|| {
            panic!(
                "nono is not installed: the nono backend tests need it; install it with `cargo install nono-cli --version 0.81.0` (scripts/test does)"
            )
        })
}

/// A per-test workspace:
/// - `ws/` readable, `ws/rw/` writable, `ws/ro/file` and `ws/rw/file` with known content;
/// - `outside/secret` outside the profile;
/// - `state/` the private GAVEL_HOME (receipts in `state/receipts`);
/// - `profile.yaml` written by [`Ws::write_profile`].
pub struct Ws {
    pub root: tempfile::TempDir,
    pub base: PathBuf,
    pub ws: PathBuf,
    pub rw: PathBuf,
    pub ro: PathBuf,
    pub outside: PathBuf,
    pub state: PathBuf,
}

pub fn s(p: &Path) -> String {
    p.display().to_string()
}

impl Ws {
    pub fn new() -> Ws {
        // never under /tmp, which the built-in `workspace` profile lets a command write
        // (see `common::test_tmp_base`)
        let root = tempfile::Builder::new()
            .prefix("gavel-exec-")
            .tempdir_in(crate::common::test_tmp_base())
            .expect("tempdir");
        let base = std::fs::canonicalize(root.path()).unwrap();
        let ws = base.join("ws");
        let rw = ws.join("rw");
        let ro = ws.join("ro");
        let outside = base.join("outside");
        let state = base.join("state");
        for d in [&ws, &rw, &ro, &outside, &state] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ro.join("file"), ORIGINAL).unwrap();
        std::fs::write(rw.join("file"), ORIGINAL).unwrap();
        std::fs::write(outside.join("secret"), "secret\n").unwrap();
        Ws {
            root,
            base,
            ws,
            rw,
            ro,
            outside,
            state,
        }
    }

    pub fn receipts(&self) -> PathBuf {
        self.state.join("receipts")
    }

    pub fn profile_path(&self) -> PathBuf {
        self.base.join("profile.yaml")
    }

    /// The test profile's YAML: read the system libraries, /etc, /proc and `ws`; write
    /// `ws/rw`; exec the probe's directory and the library directories (the loader).
    pub fn profile_yaml(&self, network: &str, syscalls: &str, env: &str) -> String {
        let existing = |v: &[&str]| -> String {
            v.iter()
                .filter(|p| Path::new(p).exists())
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "filesystem:\n  read: [{libs}, /etc, /proc, {ws}]\n  write: [{rw}]\n  exec: [{exec_libs}, {probe}]\nnetwork: {network}\nsyscalls: {syscalls}\nenv:\n{env}\n",
            libs = existing(&["/usr", "/lib", "/lib64"]),
            ws = s(&self.ws),
            rw = s(&self.rw),
            exec_libs = existing(&["/usr/lib", "/usr/lib64", "/lib", "/lib64"]),
            probe = s(&probe_dir()),
        )
    }

    /// Writes `profile.yaml` (the standard test profile) and returns its path.
    pub fn write_profile(&self) -> PathBuf {
        self.write_profile_text(&self.profile_yaml("deny", "default", "  allow: [PATH]"))
    }

    pub fn write_profile_text(&self, yaml: &str) -> PathBuf {
        let p = self.profile_path();
        std::fs::write(&p, yaml).unwrap();
        p
    }

    /// `gavel exec` with a cleared environment in this workspace; `opts` go before
    /// `--`, `cmd` after it.
    pub fn command(&self, opts: &[&str], cmd: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", SYSTEM_PATH)
            .env("HOME", &self.base)
            .env("GAVEL_HOME", &self.state)
            .current_dir(&self.ws)
            .stdin(Stdio::null())
            .arg("exec")
            .args(opts)
            .arg("--")
            .args(cmd);
        c
    }

    pub fn exec(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.command(opts, cmd).output().expect("run gavel exec")
    }

    /// The probe through `gavel exec` with the standard test policy and `profile.yaml`.
    pub fn probe(&self, args: &[&str]) -> Run {
        self.probe_with(&[], args)
    }

    pub fn probe_with(&self, extra_opts: &[&str], args: &[&str]) -> Run {
        let pd = exec_policies();
        let profile = self.profile_path();
        if !profile.exists() {
            self.write_profile();
        }
        let mut opts = vec![
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ];
        opts.extend_from_slice(extra_opts);
        let probe = probe();
        let mut cmd = vec![probe.to_str().unwrap()];
        cmd.extend_from_slice(args);
        let before = receipt_files(&self.receipts()).len();
        let output = self.exec(&opts, &cmd);
        let receipts = read_receipts(&self.receipts());
        Run {
            new: receipts[before.min(receipts.len())..].to_vec(),
            output,
        }
    }

    /// The probe run directly, not through gavel (controls).
    pub fn probe_direct(&self, args: &[&str]) -> Value {
        let o = Command::new(probe())
            .args(args)
            .current_dir(&self.ws)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        probe_json(&o)
    }
}

/// One `gavel exec` of the probe, and the receipts it added.
pub struct Run {
    pub output: Output,
    pub new: Vec<Value>,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn json(&self) -> Value {
        probe_json(&self.output)
    }

    /// The probe succeeded, gavel exited 0, and the receipts are a decision and an
    /// execution with exit_code 0.
    pub fn assert_ok(&self) -> Value {
        let j = self.json();
        assert_eq!(j["ok"], Value::Bool(true), "expected success, got {j}");
        assert_eq!(self.code(), Some(0), "{j} {}", stderr(&self.output));
        assert_eq!(self.execution()["exit_code"], serde_json::json!(0));
        j
    }

    /// The probe failed with `errno` (probe exit 1, passed through by gavel).
    pub fn assert_errno(&self, errno: i32) -> Value {
        let j = self.json();
        assert_eq!(
            (j["ok"].clone(), j["errno"].clone()),
            (Value::Bool(false), Value::from(errno)),
            "expected errno {errno}, got {j}; stderr {}",
            stderr(&self.output)
        );
        assert_eq!(self.code(), Some(1), "{j}");
        assert_eq!(self.execution()["exit_code"], serde_json::json!(1));
        j
    }

    /// The execution receipt's payload (the last receipt added).
    pub fn execution(&self) -> Value {
        let last = self
            .new
            .last()
            .unwrap_or_else(|| panic!("no receipt was written; stderr {}", stderr(&self.output)));
        let p = last["payload"].clone();
        assert_eq!(p["type"], serde_json::json!("gavel:execution"), "{p}");
        p
    }

    pub fn decision(&self) -> Value {
        let first = self.new.first().expect("a decision receipt");
        let p = first["payload"].clone();
        assert_eq!(p["type"], serde_json::json!("gavel:decision"), "{p}");
        p
    }
}

/// The probe's JSON line (the last line of stdout).
pub fn probe_json(o: &Output) -> Value {
    let out = stdout(o);
    let line = out.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "probe output {out:?} is not JSON ({e}); exit {:?}, stderr {}",
            o.status,
            stderr(o)
        )
    })
}

pub fn read_receipts(dir: &Path) -> Vec<Value> {
    receipt_files(dir)
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}
