//! `gavel check-policy`, trust, audit and policy commands on the real binary.

mod common;
use common::*;

use serde_json::{Value, json};
use std::fs;
use std::process::Command;

#[test]
fn the_six_example_actions() {
    let env = Env::new();
    let ctx = r#"{"agent_did":"did:mesh:gavel-demo-agent","session_id":"s-1"}"#;
    let cases = [
        (
            "file:read:/workspace/main.py",
            0,
            "Allowed by rule: allow-workspace-read",
            Some("allow-workspace-read"),
        ),
        (
            "shell:python",
            0,
            "Allowed by rule: allow-safe-shell",
            Some("allow-safe-shell"),
        ),
        (
            "shell:git",
            0,
            "Allowed by rule: allow-safe-shell",
            Some("allow-safe-shell"),
        ),
        (
            "shell:rm -rf /tmp",
            1,
            "Destructive shell command blocked",
            Some("block-destructive-shell"),
        ),
        (
            "http:GET:169.254.169.254/metadata",
            1,
            "Cloud metadata endpoint blocked",
            Some("block-metadata-endpoint"),
        ),
        (
            "file:write:/etc/shadow",
            1,
            "Writes to system directories blocked",
            Some("block-system-writes"),
        ),
        ("tool:unknown", 1, "No matching rule - default deny", None),
    ];
    for (i, (action, code, reason, name)) in cases.iter().enumerate() {
        let o = env.check(action, &["--context", ctx]);
        assert_eq!(o.status.code(), Some(*code), "{action}: {}", stderr(&o));
        let d = json(&o);
        // the AGT PolicyDecision fields, in order, then gavel's
        let text = String::from_utf8_lossy(&o.stdout);
        let order = [
            "\"allowed\"",
            "\"action\"",
            "\"reason\"",
            "\"policy_name\"",
            "\"policy_digest\"",
            "\"trust_score\"",
            "\"ring\"",
            "\"sandbox_backend\"",
            "\"receipt\"",
            "\"receipt_path\"",
        ];
        let pos: Vec<usize> = order
            .iter()
            .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} missing")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "field order: {text}");
        assert_eq!(d["allowed"], json!(*code == 0));
        assert_eq!(d["action"], json!(action));
        assert_eq!(d["reason"], json!(reason));
        assert_eq!(d["policy_name"], json!(name));
        let p = &d["receipt"]["payload"];
        assert_eq!(p["sequence"], json!(i + 1));
        assert_eq!(p["tool_name"], json!(action));
        assert_eq!(
            p["decision"],
            json!(if *code == 0 { "allow" } else { "deny" })
        );
        assert_eq!(p["policy_id"], json!(name.unwrap_or("default_deny")));
        assert_eq!(p["agent_id"], json!("did:mesh:gavel-demo-agent"));
        assert_eq!(p["session_id"], json!("s-1"));
        assert_eq!(p["ring"], json!(3));
        assert_eq!(p["sandbox_backend"], json!("sb_runtime_builtin"));
        assert_eq!(p["policy_engine"], json!("yaml-rules"));
        assert_eq!(p["type"], json!("gavel:decision"));
        assert_eq!(p["spec"], json!("draft-farley-acta-signed-receipts-04"));
        assert_eq!(p["issuer_id"], d["receipt"]["signature"]["kid"]);
        // raw context never appears in the receipt
        assert!(
            !d["receipt"]
                .to_string()
                .contains("gavel-demo-agent\",\"session"),
            "context leaked"
        );
        assert!(d["receipt"].to_string().matches("s-1").count() == 1);
        assert_eq!(p["payload_digest"]["hash"].as_str().unwrap().len(), 64);
    }
    let (c, v) = env.verify(
        &env.receipts(),
        &["--policy-dir", policy_dir().to_str().unwrap()],
    );
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["results"][0]["count"], 7);
}

#[test]
fn ring_and_backend_are_recorded() {
    let env = Env::new();
    for (backend, ring, extra) in [
        ("nono", 2, vec![]),
        ("openshell", 2, vec![]),
        ("sb_runtime_builtin", 3, vec![]),
        ("nono", 1, vec!["--ring", "1"]),
    ] {
        let mut args = vec!["--sandbox-backend", backend];
        args.extend(extra);
        let d = json(&env.check("shell:ls", &args));
        assert_eq!(
            (d["ring"].clone(), d["sandbox_backend"].clone()),
            (json!(ring), json!(backend))
        );
        assert_eq!(d["receipt"]["payload"]["ring"], json!(ring));
    }
    let o = env.check("shell:ls", &["--sandbox-backend", "docker"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_chain_continues_across_runs_and_no_sign_does_not_advance_it() {
    let env = Env::new();
    let first = json(&env.check("shell:ls", &[]));
    let o = env.check("shell:ls", &["--no-sign"]);
    assert_eq!(o.status.code(), Some(0));
    let unsigned = json(&o);
    assert_eq!(unsigned["receipt"], Value::Null);
    assert!(unsigned.get("receipt_path").is_none());
    let second = json(&env.check("shell:git", &[]));
    assert_eq!(second["receipt"]["payload"]["sequence"], 2);
    let h = env
        .verify(first["receipt_path"].as_str().unwrap().as_ref(), &[])
        .1["results"][0]["problems"]
        .clone();
    assert_eq!(h, json!([]));
    // the link is the hash of the whole first envelope
    let whole = gavel_receipt::receipt_hash(&first["receipt"]).unwrap();
    assert_eq!(
        second["receipt"]["payload"]["previousReceiptHash"],
        json!(whole)
    );
    // the audit log saw all three, --no-sign with a null receipt hash
    let audit = json(&env.run(&["audit", "--json", "--limit", "0"]));
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1]["receipt_hash"], Value::Null);
    assert_eq!(
        entries[2]["receipt_hash"],
        json!(gavel_receipt::receipt_hash(&second["receipt"]).unwrap())
    );
}

#[test]
fn a_torn_audit_line_costs_only_itself() {
    let env = Env::new();
    for a in ["shell:ls", "shell:git"] {
        assert_eq!(env.check(a, &[]).status.code(), Some(0));
    }
    // a crash tore the last write: half a line, no newline
    let path = env.home().join("audit.jsonl");
    let text = fs::read_to_string(&path).unwrap();
    let second = text.lines().nth(1).unwrap();
    let cut = text.len() - second.len() / 2 - 1;
    fs::write(&path, &text[..cut]).unwrap();
    assert_eq!(env.check("shell:cat", &[]).status.code(), Some(0));
    let o = env.run(&["audit", "--json", "--limit", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("gavel: warning: skipped 1 line"),
        "{}",
        stderr(&o)
    );
    let actions: Vec<String> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["shell:ls", "shell:cat"]);
}

#[test]
fn first_signing_use_creates_the_key_and_says_so() {
    let env = Env::new();
    let o = env.check("shell:ls", &[]);
    assert!(
        stderr(&o).contains("created operator key"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains(&env.public_key()));
    let o = env.check("shell:ls", &[]);
    assert!(!stderr(&o).contains("created operator key"));
}

#[test]
fn trust_persists_and_the_threshold_is_enforced() {
    let env = Env::new();
    let did = "did:mesh:shaky";
    let ctx = format!(r#"{{"agent_did":"{did}"}}"#);
    assert_eq!(
        json(&env.run(&["trust-score", "--agent-did", did]))["trust_score"],
        json!(1.0)
    );
    let o = env.run(&["trust", "adjust", "--agent-did", did, "--delta", "-0.6"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&env.run(&["trust-score", "--agent-did", did]))["trust_score"]
        .as_f64()
        .unwrap();
    assert!((s - 0.4).abs() < 1e-9);
    let o = env.check("shell:python", &["--context", &ctx]);
    assert_eq!(o.status.code(), Some(1));
    let d = json(&o);
    assert_eq!(d["reason"], json!("Trust score 0.4 below threshold 0.5"));
    assert_eq!(
        d["receipt"]["payload"]["policy_id"],
        json!("trust_threshold")
    );
    assert_eq!(d["receipt"]["payload"]["trust_score"], json!(0.4));
    // a deny stays a deny, with its own reason
    let d = json(&env.check("shell:rm -rf /", &["--context", &ctx]));
    assert_eq!(d["reason"], json!("Destructive shell command blocked"));
    // a lower threshold lets it through
    assert_eq!(
        env.check(
            "shell:python",
            &["--context", &ctx, "--trust-threshold", "0.3"]
        )
        .status
        .code(),
        Some(0)
    );
    // clamping
    let o = env.run(&["trust", "adjust", "--agent-did", did, "--delta", "5"]);
    assert_eq!(json(&o)["trust_score"], json!(1.0));
    assert_eq!(
        env.check("shell:python", &["--context", &ctx])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let env = Env::new();
    env.check("shell:ls", &[]);
    let before = receipt_files(&env.receipts());
    let pd = policy_dir();
    let bad_policy = env.home().join("bad-policy");
    fs::create_dir(&bad_policy).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--context".into(), "{not json".into()],
            "--context is not valid JSON",
        ),
        (
            vec!["--context".into(), "[1]".into()],
            "must be a JSON object",
        ),
        (
            vec!["--context".into(), "\"x\"".into()],
            "must be a JSON object",
        ),
        (
            vec!["--context".into(), r#"{"agent_did": 7}"#.into()],
            "agent_did must be a string",
        ),
        (
            vec!["--context".into(), r#"{"session_id": ["s"]}"#.into()],
            "session_id must be a string",
        ),
    ];
    for (extra, msg) in cases {
        let mut args: Vec<String> = [
            "check-policy",
            "--action",
            "shell:ls",
            "--policy-dir",
            pd.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra);
        let o = env.cmd().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_one_line_error(&o);
        assert!(stderr(&o).contains(msg), "{msg}: {}", stderr(&o));
    }
    let policies: Vec<(&str, &str, &str)> = vec![
        (
            "a.yaml",
            "rules:\n  - name: r1\n    condition: {field: action, operator: regex, value: x}\n",
            "regex",
        ),
        (
            "a.yaml",
            "rules:\n  - name: r1\n    condition: {field: action, operator: matches, value: \"(\"}\n",
            "r1",
        ),
        ("a.yaml", "rules: [\n", "a.yaml"),
        (
            "a.yaml",
            "rules:\n  - name: r1\n    action: maybe\n",
            "maybe",
        ),
        (
            "p.cedar",
            "permit (principal, action, resource) when { ;",
            "p.cedar",
        ),
    ];
    for (name, text, msg) in policies {
        for f in fs::read_dir(&bad_policy).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
        fs::write(bad_policy.join(name), text).unwrap();
        let o = env.run(&[
            "check-policy",
            "--action",
            "shell:ls",
            "--policy-dir",
            bad_policy.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert_one_line_error(&o);
        assert!(stderr(&o).contains(msg), "{msg}: {}", stderr(&o));
        let o = env.run(&[
            "policy",
            "check",
            "--policy-dir",
            bad_policy.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
    }
    let o = env.run(&[
        "check-policy",
        "--action",
        " ",
        "--policy-dir",
        pd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("--action is empty"), "{}", stderr(&o));
    let o = env.run(&[
        "check-policy",
        "--action",
        "shell:ls",
        "--policy-dir",
        "/no/such/dir",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Policy directory not found: /no/such/dir"));
    // a file is named as a file
    let o = env.run(&[
        "check-policy",
        "--action",
        "shell:ls",
        "--policy",
        "/no/such/policy.yaml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("Policy file not found: /no/such/policy.yaml"),
        "{}",
        stderr(&o)
    );
    // nothing was written on any of these paths
    assert_eq!(receipt_files(&env.receipts()), before);
    assert_eq!(env.verify(&env.receipts(), &[]).0, 0);
}

#[test]
fn a_receipts_directory_that_is_not_a_chain() {
    let env = Env::new();
    env.run(&["keys", "generate"]);
    let d = env.home().join("notachain");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("holiday.jpg"), "x").unwrap();
    let o = env.check("shell:ls", &["--receipts-dir", d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("is not a gavel chain"),
        "{}",
        stderr(&o)
    );
    // not even a lock file was left in it
    assert_eq!(entries(&d), ["holiday.jpg"]);
    // a file where the directory should be
    let f = env.home().join("afile");
    fs::write(&f, "x").unwrap();
    let o = env.check("shell:ls", &["--receipts-dir", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
}

/// The names in `dir`, sorted (dot files included).
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_refused_first_run_creates_no_key_and_writes_nothing() {
    // no operator key yet: the first signing use would create one, but a request the
    // decision refuses as bad input must leave the state directory as it was
    let env = Env::new();
    let foreign = env.home().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "x").unwrap();
    let file = env.home().join("afile");
    fs::write(&file, "x").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--context", r#"{"agent_did": 5}"#],
            "agent_did must be a string",
        ),
        (
            vec!["--receipts-dir", foreign.to_str().unwrap()],
            "is not a gavel chain",
        ),
        (vec!["--receipts-dir", file.to_str().unwrap()], "afile"),
    ];
    for (extra, msg) in cases {
        let o = env.check("shell:ls", &extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert_one_line_error(&o);
        assert!(stderr(&o).contains(msg), "{msg}: {}", stderr(&o));
        assert_eq!(entries(env.home()), ["afile", "foreign"], "{extra:?}");
        assert_eq!(entries(&foreign), ["notes.txt"]);
    }
    // a corrupt trust store is refused before the key is made, too
    fs::write(env.home().join("trust.json"), "garbage").unwrap();
    let o = env.check("shell:ls", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert_eq!(entries(env.home()), ["afile", "foreign", "trust.json"]);
    // a chain signed by a key that no longer exists cannot be continued by a new one
    let other = Env::new();
    assert_eq!(other.check("shell:ls", &[]).status.code(), Some(0));
    fs::remove_file(env.home().join("trust.json")).unwrap();
    let o = env.check(
        "shell:ls",
        &["--receipts-dir", other.receipts().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("a new key"), "{}", stderr(&o));
    assert_eq!(entries(env.home()), ["afile", "foreign"]);
    // and a good request then creates the key and its chain
    assert_eq!(env.check("shell:ls", &[]).status.code(), Some(0));
    assert!(env.home().join("keys/issuer.pem").is_file());
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc_geteuid() };
    assert_eq!(
        uid, 0,
        "this test needs root (CI runs as root): it makes a directory immutable or mounts a tiny tmpfs"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn a_read_only_receipts_directory() {
    require_root();
    let env = Env::new();
    env.check("shell:ls", &[]);
    let before = receipt_files(&env.receipts());
    // root ignores mode bits: make the directory immutable instead
    let st = Command::new("chattr")
        .arg("+i")
        .arg(env.receipts())
        .status()
        .expect("chattr (e2fsprogs) is needed for this test");
    assert!(
        st.success(),
        "chattr +i failed: is the file system ext2/3/4?"
    );
    let o = env.check("shell:ls", &[]);
    let _ = Command::new("chattr")
        .arg("-i")
        .arg(env.receipts())
        .status();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains(env.receipts().to_str().unwrap()),
        "{}",
        stderr(&o)
    );
    assert_eq!(receipt_files(&env.receipts()), before);
    assert_eq!(env.verify(&env.receipts(), &[]).0, 0);
}

#[test]
fn a_full_disk() {
    require_root();
    let env = Env::new();
    env.check("shell:ls", &[]);
    let mnt = env.home().join("tiny");
    fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12k,nr_inodes=64", "tmpfs"])
        .arg(&mnt)
        .status()
        .expect("mount");
    assert!(st.success(), "mounting a tmpfs failed");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let dir = mnt.join("receipts");
    let key = env.home().join("keys/issuer.pem");
    let mut codes = Vec::new();
    for _ in 0..40 {
        let o = env.check(
            "shell:ls",
            &[
                "--receipts-dir",
                dir.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        codes.push(o.status.code());
        if o.status.code() == Some(2) {
            assert_one_line_error(&o);
            assert!(stderr(&o).contains("disk is full"), "{}", stderr(&o));
            break;
        }
    }
    assert_eq!(
        codes.last(),
        Some(&Some(2)),
        "the disk never filled up: {codes:?}"
    );
    let n = receipt_files(&dir).len();
    assert!(n >= 1);
    assert!(
        !dir.join(".tmp-next").exists(),
        "a temporary file was left behind"
    );
    let (c, v) = env.verify(&dir, &[]);
    assert_eq!(c, 0, "chain damaged by the full disk: {v:#}");
}

#[test]
fn policy_check_and_digest() {
    let env = Env::new();
    let pd = policy_dir();
    let o = env.run(&[
        "policy",
        "check",
        "--policy-dir",
        pd.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success());
    let v = json(&o);
    assert_eq!(
        (v["engine"].clone(), v["rules"].clone()),
        (json!("yaml-rules"), json!(7))
    );
    let o = env.run(&["policy", "digest", "--policy-dir", pd.to_str().unwrap()]);
    let digest = stdout(&o).trim().to_owned();
    assert_eq!(json!(digest), v["policy_digest"]);
    // the documented construction over the file's exact bytes
    let bytes = fs::read(pd.join("sandbox-policy.yaml")).unwrap();
    assert_eq!(
        digest,
        gavel_receipt::policy_digest("yaml-rules", &[("sandbox-policy.yaml", bytes)])
    );
    let d = json(&env.check("shell:ls", &[]));
    assert_eq!(d["policy_digest"], json!(digest));
}

#[test]
fn cedar_policies_decide_tool_calls() {
    let env = Env::new();
    let d = env.home().join("cedar");
    fs::create_dir(&d).unwrap();
    fs::write(
        d.join("tools.cedar"),
        "permit (principal, action in [Action::\"Read\", Action::\"Grep\"], resource);\n\
         permit (principal, action == Action::\"Bash\", resource) when { [\"git\", \"ls\", \"python\"].contains(context.command_pattern) };\n\
         forbid (principal, action == Action::\"Bash\", resource) when { [\"rm -rf\", \"dd\"].contains(context.command_pattern) };\n",
    )
    .unwrap();
    let run = |action: &str, ctx: &str| {
        let o = env.run(&[
            "check-policy",
            "--action",
            action,
            "--context",
            ctx,
            "--policy-dir",
            d.to_str().unwrap(),
            "--json",
        ]);
        (o.status.code(), json(&o))
    };
    assert_eq!(run("Read", "{}").0, Some(0));
    assert_eq!(run("Bash", r#"{"command_pattern":"git"}"#).0, Some(0));
    assert_eq!(run("Bash", r#"{"command_pattern":"rm -rf"}"#).0, Some(1));
    let (c, v) = run("Write", "{}");
    assert_eq!(c, Some(1));
    assert_eq!(v["reason"], json!("No matching permit - default deny"));
    assert_eq!(v["receipt"]["payload"]["policy_engine"], json!("cedar"));
    assert_eq!(v["receipt"]["payload"]["policy_id"], json!("default_deny"));
    assert_eq!(
        env.verify(&env.receipts(), &["--policy-dir", d.to_str().unwrap()])
            .0,
        0
    );
}

/// A rule whose pattern is valid but too large to compile: `policy check` reports it
/// (exit 2, one line naming the rule); a decision that reaches the rule is a denial
/// that says why, signed like any other; a decision made before it is unaffected.
#[test]
fn a_pattern_too_large_to_compile() {
    let env = Env::new();
    let dir = env.home().join("huge-policy");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("p.yaml"),
        "rules:\n  - name: read-ok\n    condition: {field: action, operator: equals, value: 'file:read:/a'}\n    action: allow\n    priority: 90\n  - name: huge\n    condition: {field: action, operator: matches, value: '\\w{1000}'}\n    action: allow\n    priority: 50\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    let o = env.run(&["policy", "check", "--policy-dir", d]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("rule huge: regular expression"),
        "{}",
        stderr(&o)
    );
    let run = |action: &str| {
        env.run(&[
            "check-policy",
            "--action",
            action,
            "--policy-dir",
            d,
            "--json",
        ])
    };
    let o = run("file:read:/a");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run("shell:ls");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["allowed"], json!(false));
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("Policy error (fail closed): the pattern of rule huge"),
        "{v}"
    );
    assert_eq!(env.verify(&env.receipts(), &[]).0, 0);
    assert_eq!(receipt_files(&env.receipts()).len(), 2);
}

/// The entries of the state directory's policy rule cache.
fn cache_entries(env: &Env) -> Vec<std::path::PathBuf> {
    let dir = env.home().join("cache/policy");
    let mut v: Vec<_> = fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

// The rule cache (gavel_policy::RuleCache) through the real binary: used once the
// operator key exists, never trusted over the files, off with GAVEL_NO_POLICY_CACHE.
#[test]
fn the_policy_rule_cache_follows_the_files_and_ignores_tampering() {
    let env = Env::new();
    let pd = env.home().join("policy");
    fs::create_dir_all(&pd).unwrap();
    let deny_rm = "rules:\n  - name: deny-rm\n    condition: {field: action, operator: matches, value: '^shell:rm'}\n    action: deny\n    priority: 10\n  - name: allow-shell\n    condition: {field: action, operator: starts_with, value: 'shell:'}\n    action: allow\n";
    fs::write(pd.join("p.yaml"), deny_rm).unwrap();
    let check = |action: &str| -> (Option<i32>, Value) {
        let o = env.check_in(&pd, action, &[]);
        (o.status.code(), json(&o))
    };
    // first run: no key yet when the policy loads (the key is made after), no entry
    assert_eq!(check("shell:rm").0, Some(1));
    assert!(cache_entries(&env).is_empty());
    // second run: the key exists, the entry is written; third run reads it
    assert_eq!(check("shell:rm").0, Some(1));
    let entries = cache_entries(&env);
    assert_eq!(entries.len(), 1, "{entries:?}");
    use std::os::unix::fs::MetadataExt;
    let inode = |p: &std::path::Path| fs::metadata(p).unwrap().ino();
    let written = inode(&entries[0]);
    let (code, d) = check("shell:ls");
    assert_eq!(
        (code, d["policy_name"].clone()),
        (Some(0), json!("allow-shell"))
    );
    let (code, d) = check("shell:rm");
    assert_eq!(
        (code, d["policy_name"].clone()),
        (Some(1), json!("deny-rm"))
    );
    assert_eq!(
        inode(&entries[0]),
        written,
        "read, not written again (a hit)"
    );

    // an entry changed without the operator key (the deny made an allow) is ignored:
    // the decision comes from the file, and the entry is written again from it
    let good = fs::read(&entries[0]).unwrap();
    let evil =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("\"allow\":false", "\"allow\":true", 1);
    assert_ne!(
        evil.as_bytes(),
        good.as_slice(),
        "the test changed the entry"
    );
    fs::write(&entries[0], evil).unwrap();
    let (code, d) = check("shell:rm");
    assert_eq!(
        (code, d["policy_name"].clone()),
        (Some(1), json!("deny-rm"))
    );
    assert_eq!(fs::read(&entries[0]).unwrap(), good);
    assert_ne!(
        inode(&entries[0]),
        written,
        "a miss: written again from the file"
    );

    // the file changes: the decision follows it at once (another entry)
    fs::write(
        pd.join("p.yaml"),
        deny_rm.replace("action: deny", "action: allow"),
    )
    .unwrap();
    let (code, d) = check("shell:rm");
    assert_eq!(
        (code, d["policy_name"].clone()),
        (Some(0), json!("deny-rm"))
    );
    assert_eq!(cache_entries(&env).len(), 2);

    // receipts name the files' digest either way, and the chain verifies
    let (code, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(code, 0, "{v}");

    // GAVEL_NO_POLICY_CACHE=1: no entry read or written
    let other = Env::new();
    fs::create_dir_all(other.home().join("p")).unwrap();
    fs::write(other.home().join("p/p.yaml"), deny_rm).unwrap();
    for _ in 0..3 {
        let o = other
            .cmd()
            .env("GAVEL_NO_POLICY_CACHE", "1")
            .args([
                "check-policy",
                "--action",
                "shell:rm",
                "--policy-dir",
                other.home().join("p").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
    assert!(cache_entries(&other).is_empty());
}

// A bad policy with no operator key yet still writes nothing (no key, no cache).
#[test]
fn a_bad_policy_writes_no_key_and_no_cache() {
    let env = Env::new();
    let pd = env.home().join("policy");
    fs::create_dir_all(&pd).unwrap();
    fs::write(pd.join("p.yaml"), "rules:\n  - name: x\n    condition: {field: action, operator: matches, value: '('}\n    action: deny\n").unwrap();
    let o = env.run(&[
        "check-policy",
        "--action",
        "a",
        "--policy-dir",
        pd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let names: Vec<_> = fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["policy"], "nothing but the policy itself");
}
