//! Running the real `gavel` binary in a private state directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_gavel");

pub fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

pub fn policy_dir() -> PathBuf {
    data("policies")
}

/// Where tests keep their state and workspaces: cargo's target/tmp, or /var/tmp when
/// that lies under /tmp (a clone checked out in /tmp). Never /tmp itself: the built-in
/// `workspace` profile lets a command write /tmp, and `gavel exec` refuses to run a
/// command that could reach gavel's own key, receipts, state or policy.
pub fn test_tmp_base() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let real = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
    if real.starts_with("/tmp") {
        PathBuf::from("/var/tmp")
    } else {
        target
    }
}

/// A scratch state directory with helpers to run gavel in it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh state directory under [`test_tmp_base`].
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("gavel-env-")
                .tempdir_in(test_tmp_base())
                .expect("tempdir"),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn receipts(&self) -> PathBuf {
        self.home().join("receipts")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("GAVEL_HOME", self.home())
            .env_remove("XDG_STATE_HOME");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run gavel")
    }

    pub fn check(&self, action: &str, extra: &[&str]) -> Output {
        self.check_in(&policy_dir(), action, extra)
    }

    /// `check-policy --json` against the policy directory `pd`.
    pub fn check_in(&self, pd: &Path, action: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "check-policy",
            "--action",
            action,
            "--policy-dir",
            pd.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub fn public_key(&self) -> String {
        let o = self.run(&["public-key"]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_owned()
    }

    /// `gavel verify PATH --key <operator> --json` → (exit code, parsed JSON)
    pub fn verify(&self, path: &Path, extra: &[&str]) -> (i32, Value) {
        let key = self.public_key();
        let mut args = vec![
            "verify",
            path.to_str().unwrap(),
            "--key",
            key.as_str(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        (o.status.code().unwrap_or(-1), json(&o))
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// The first cause named in a `gavel verify --json` result.
pub fn first_cause(v: &Value) -> Option<String> {
    let r = &v["results"][0];
    r["problems"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["cause"].as_str())
        .or_else(|| {
            r["chain_problems"]
                .as_array()
                .and_then(|p| p.first())
                .and_then(|p| p["cause"].as_str())
        })
        .map(str::to_owned)
}

/// Receipt files of a receipts directory, sorted by name.
pub fn receipt_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "json"));
    v.sort();
    v
}

/// A one-line error on stderr, no panic or backtrace (after the notice of a key
/// created on first use, which each fresh state directory gets).
pub fn assert_one_line_error(o: &Output) {
    let all = stderr(o);
    let e: String = all
        .lines()
        .filter(|l| !l.starts_with("gavel: created operator key "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        e.starts_with("gavel: error: ") || e.starts_with("error: "),
        "{e}"
    );
    assert_eq!(e.trim_end().lines().count(), 1, "more than one line: {e}");
    assert!(
        !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
        "{e}"
    );
}
