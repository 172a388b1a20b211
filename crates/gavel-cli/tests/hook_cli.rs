//! `gavel hook` on the real binary: the mapping for both engines, the exact output
//! contract, PostToolUse linkage, fail-closed behaviour under faulty input and a
//! broken environment, and install / uninstall.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn example_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/sandbox-policy.yaml")
}

fn event(name: &str, tool: &str, input: Value, id: &str) -> Value {
    json!({
        "session_id": "sess-1",
        "transcript_path": "/home/u/.claude/projects/x/sess-1.jsonl",
        "cwd": "/workspace",
        "permission_mode": "default",
        "hook_event_name": name,
        "tool_name": tool,
        "tool_input": input,
        "tool_use_id": id,
    })
}

fn pre(tool: &str, input: Value, id: &str) -> Vec<u8> {
    serde_json::to_vec(&event("PreToolUse", tool, input, id)).unwrap()
}

/// Runs `cmd` with `stdin` (written from another thread, so large inputs cannot
/// deadlock) and returns its output.
fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gavel");
    let mut sink = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sink.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait gavel");
    writer.join().unwrap();
    out
}

fn hook_cmd(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd();
    c.arg("hook").args(args);
    c
}

fn hook(env: &Env, args: &[&str], stdin: &[u8]) -> Output {
    run_with_stdin(hook_cmd(env, args), stdin)
}

fn policy_args(p: &Path) -> Vec<String> {
    vec![
        if p.is_dir() {
            "--policy-dir"
        } else {
            "--policy"
        }
        .to_owned(),
        p.to_str().unwrap().to_owned(),
    ]
}

fn hook_with(env: &Env, agent: &str, policy: &Path, extra: &[&str], stdin: &[u8]) -> Output {
    let mut args: Vec<String> = vec!["--agent".into(), agent.into()];
    args.extend(policy_args(policy));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    hook(env, &args, stdin)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The PreToolUse answer: exit 0 and exactly the documented members (Codex discards
/// output with any other member). Returns (allowed, reason).
fn answer(o: &Output) -> (bool, String) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} / {}", stdout(o), stderr(o)));
    assert_eq!(
        keys(&v),
        BTreeSet::from(["hookSpecificOutput".to_owned()]),
        "{v}"
    );
    let h = &v["hookSpecificOutput"];
    assert_eq!(
        keys(h),
        BTreeSet::from([
            "hookEventName".to_owned(),
            "permissionDecision".to_owned(),
            "permissionDecisionReason".to_owned()
        ]),
        "{v}"
    );
    assert_eq!(h["hookEventName"], json!("PreToolUse"));
    let reason = h["permissionDecisionReason"]
        .as_str()
        .expect("reason string");
    assert!(!reason.trim().is_empty(), "empty reason");
    match h["permissionDecision"].as_str() {
        Some("allow") => (true, reason.to_owned()),
        Some("deny") => (false, reason.to_owned()),
        other => panic!("permissionDecision {other:?}"),
    }
}

fn receipts(dir: &Path) -> Vec<Value> {
    receipt_files(dir)
        .iter()
        .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap())
        .collect()
}

fn last_receipt(dir: &Path) -> Value {
    receipts(dir).pop().expect("a receipt")
}

#[test]
fn the_built_in_mapping_decides_the_example_policy() {
    let env = Env::new();
    let policy = example_policy();
    let cases = [
        (
            "Bash",
            json!({"command": "rm -rf /tmp/build", "description": "clean"}),
            false,
            "block-destructive-shell",
            "shell:rm -rf /tmp/build",
        ),
        (
            "Bash",
            json!({"command": "git"}),
            true,
            "allow-safe-shell",
            "shell:git",
        ),
        (
            "Read",
            json!({"file_path": "/workspace/x"}),
            true,
            "allow-workspace-read",
            "file:read:/workspace/x",
        ),
        (
            "Read",
            json!({"file_path": "/workspace/../etc/shadow"}),
            false,
            "default_deny",
            "file:read:/etc/shadow",
        ),
        (
            "Write",
            json!({"file_path": "/etc/shadow", "content": "root::0:0"}),
            false,
            "block-system-writes",
            "file:write:/etc/shadow",
        ),
        (
            "Edit",
            json!({"file_path": "/workspace/src/main.rs", "old_string": "a", "new_string": "b"}),
            true,
            "allow-workspace-write",
            "file:write:/workspace/src/main.rs",
        ),
        (
            "WebFetch",
            json!({"url": "http://169.254.169.254/latest/meta-data/", "prompt": "x"}),
            false,
            "block-metadata-endpoint",
            "http:GET:169.254.169.254/latest/meta-data/",
        ),
        (
            "WebFetch",
            json!({"url": "http://2852039166/latest", "prompt": "x"}),
            false,
            "block-metadata-endpoint",
            "http:GET:169.254.169.254/latest",
        ),
        (
            "WebFetch",
            json!({"url": "https://api.github.com/repos/a/b?page=2", "prompt": "x"}),
            true,
            "allow-github-api",
            "http:GET:api.github.com/repos/a/b",
        ),
        (
            "mcp__github__create_issue",
            json!({"owner": "a", "repo": "b", "title": "t"}),
            false,
            "default_deny",
            "tool:mcp__github__create_issue",
        ),
    ];
    let mut count = 0;
    for (i, (tool, input, allowed, policy_id, action)) in cases.iter().enumerate() {
        let id = format!("toolu_{i}");
        let o = hook_with(
            &env,
            "claude-code",
            &policy,
            &[],
            &pre(tool, input.clone(), &id),
        );
        let (allow, reason) = answer(&o);
        assert_eq!(allow, *allowed, "{tool} {input}: {reason}");
        assert!(reason.contains(&format!("policy {policy_id}")), "{reason}");
        assert!(reason.contains(action), "{reason}");
        count += 1;
        let r = last_receipt(&env.receipts());
        let p = &r["payload"];
        assert_eq!(p["sequence"], json!(count));
        assert_eq!(p["type"], json!("gavel:decision"));
        assert_eq!(p["tool_name"], json!(tool), "the hook's tool_name");
        assert_eq!(
            p["decision"],
            json!(if *allowed { "allow" } else { "deny" })
        );
        assert_eq!(p["policy_id"], json!(policy_id));
        assert_eq!(p["policy_engine"], json!("yaml-rules"));
        assert_eq!(p["agent_id"], json!("did:gavel:claude-code"));
        assert_eq!(p["session_id"], json!("sess-1"));
        assert_eq!(p["sandbox_backend"], json!("none"));
        // the raw tool input never appears in a receipt, only its digest
        let text = fs::read_to_string(receipt_files(&env.receipts()).last().unwrap()).unwrap();
        for v in input.as_object().unwrap().values() {
            let s = v.as_str().unwrap();
            if s.len() > 3 {
                assert!(!text.contains(s), "{s} in receipt");
            }
        }
    }
    let (code, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_command_with_line_breaks_stays_one_line_on_stderr() {
    // the agent's command is data: it must not be able to write lines of its own into
    // gavel's log (a fake "ALLOW" line) or drive the terminal
    let env = Env::new();
    env.run(&["keys", "generate"]);
    let cmd = "shutdown -h now\ngavel: ALLOW shell:ls: Allowed by rule\r\u{1b}[2J";
    let o = hook_with(
        &env,
        "claude-code",
        &example_policy(),
        &[],
        &pre("Bash", json!({"command": cmd}), "toolu_nl"),
    );
    let (allow, _) = answer(&o);
    assert!(!allow);
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(err.contains("\\ngavel: ALLOW"), "{err:?}");
}

#[test]
fn codex_allow_is_silent_and_deny_is_the_minimal_object() {
    let env = Env::new();
    let policy = example_policy();
    let o = hook_with(
        &env,
        "codex",
        &policy,
        &[],
        &pre("Bash", json!({"command": "ls"}), "call_1"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty(),
        "codex allow must print nothing: {}",
        stdout(&o)
    );
    let r = last_receipt(&env.receipts());
    assert_eq!(
        r["payload"]["decision"],
        json!("allow"),
        "allowed and receipted"
    );
    assert_eq!(r["payload"]["agent_id"], json!("did:gavel:codex"));
    let o = hook_with(
        &env,
        "codex",
        &policy,
        &[],
        &pre("Bash", json!({"command": "shutdown -h now"}), "call_2"),
    );
    let (allow, reason) = answer(&o);
    assert!(!allow);
    assert!(
        reason.contains("Destructive shell command blocked"),
        "{reason}"
    );
    // Codex's apply_patch: every file the patch touches is decided
    let patch = "*** Begin Patch\n*** Update File: src/lib.rs\n@@\n-a\n+b\n*** Add File: /etc/cron.d/x\n+* * * * * root sh\n*** End Patch\n";
    let o = hook_with(
        &env,
        "codex",
        &policy,
        &[],
        &pre("apply_patch", json!({"command": patch}), "call_3"),
    );
    let (allow, reason) = answer(&o);
    assert!(!allow, "{reason}");
    assert!(reason.contains("file:write:/etc/cron.d/x"), "{reason}");
    let all = receipts(&env.receipts());
    let n = all.len();
    assert_eq!(
        all[n - 2]["payload"]["decision"],
        json!("allow"),
        "src/lib.rs decided first"
    );
    assert_eq!(all[n - 1]["payload"]["decision"], json!("deny"));
    assert_eq!(all[n - 1]["payload"]["tool_name"], json!("apply_patch"));
}

#[test]
fn cedar_decides_by_tool_name() {
    let env = Env::new();
    let dir = env.home().join("cedar");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("hook.cedar"),
        r#"@id("shell-ls")
permit (principal, action == Action::"Bash", resource) when { context.command == "ls -la" };
@id("issues-in-our-repo")
permit (principal, action == Action::"mcp__github__create_issue", resource) when { context.repo == "gavel" };
@id("no-issues-from-untrusted")
forbid (principal, action == Action::"mcp__github__create_issue", resource) when { context.title like "*token*" };
"#,
    )
    .unwrap();
    let cases = [
        (
            "Bash",
            json!({"command": "ls -la"}),
            true,
            "Allowed by policy: shell-ls",
        ),
        (
            "Bash",
            json!({"command": "rm -rf /"}),
            false,
            "No matching permit - default deny",
        ),
        (
            "mcp__github__create_issue",
            json!({"owner": "o", "repo": "gavel", "title": "bug"}),
            true,
            "Allowed by policy: issues-in-our-repo",
        ),
        (
            "mcp__github__create_issue",
            json!({"owner": "o", "repo": "gavel", "title": "leak token"}),
            false,
            "Denied by policy: no-issues-from-untrusted",
        ),
        (
            "mcp__github__create_issue",
            json!({"owner": "o", "repo": "other", "title": "bug"}),
            false,
            "No matching permit - default deny",
        ),
        (
            "Read",
            json!({"file_path": "/workspace/x"}),
            false,
            "No matching permit - default deny",
        ),
    ];
    for (i, (tool, input, allowed, why)) in cases.iter().enumerate() {
        let o = hook_with(
            &env,
            "claude-code",
            &dir,
            &[],
            &pre(tool, input.clone(), &format!("t{i}")),
        );
        let (allow, reason) = answer(&o);
        assert_eq!(allow, *allowed, "{tool} {input}: {reason}");
        assert!(reason.contains(why), "{reason}");
        let p = last_receipt(&env.receipts())["payload"].clone();
        assert_eq!(p["policy_engine"], json!("cedar"));
        assert_eq!(p["tool_name"], json!(tool));
    }
    let (code, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn post_tool_use_links_to_the_decision_and_keeps_only_a_digest() {
    let env = Env::new();
    let policy = example_policy();
    let secret_in = "SECRET-INPUT-7f3a";
    let secret_out = "SECRET-OUTPUT-91bc";
    let input = json!({"file_path": "/workspace/notes.txt", "content": secret_in});
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &pre("Write", input.clone(), "toolu_w"),
    );
    assert!(answer(&o).0);
    let decision = last_receipt(&env.receipts());
    let response = json!({"type": "create", "filePath": "/workspace/notes.txt", "content": secret_out, "structuredPatch": []});
    let mut post = event("PostToolUse", "Write", input.clone(), "toolu_w");
    post["tool_response"] = response.clone();
    post["duration_ms"] = json!(42);
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &serde_json::to_vec(&post).unwrap(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty(),
        "PostToolUse answers no decision: {}",
        stdout(&o)
    );
    let exec = last_receipt(&env.receipts());
    let p = &exec["payload"];
    assert_eq!(p["type"], json!("gavel:execution"));
    assert_eq!(p["sequence"], json!(2));
    assert_eq!(
        p["decision_ref"],
        json!(gavel_receipt::receipt_hash(&decision).unwrap()),
        "links to the PreToolUse decision"
    );
    assert_eq!(p["decision_status"], json!("allowed"));
    assert_eq!(p["tool_name"], json!("Write"));
    assert_eq!(p["tool_use_id"], json!("toolu_w"));
    assert_eq!(p["outcome"], json!("success"));
    assert_eq!(p["tool_duration_ms"].as_f64(), Some(42.0));
    assert_eq!(p["agent_id"], decision["payload"]["agent_id"]);
    let digest = gavel_receipt::digest::sha256_prefixed(
        &gavel_receipt::jcs::canonicalize(&response).unwrap(),
    );
    assert_eq!(p["tool_response_digest"], json!(digest));
    for f in receipt_files(&env.receipts()) {
        let text = fs::read_to_string(f).unwrap();
        assert!(
            !text.contains(secret_in) && !text.contains(secret_out),
            "{text}"
        );
    }

    // the same tool use again: its index entry was used up, never silently dropped
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &serde_json::to_vec(&post).unwrap(),
    );
    assert_eq!(o.status.code(), Some(0));
    let p = last_receipt(&env.receipts())["payload"].clone();
    assert_eq!(p["decision_status"], json!("not_found"));
    assert_eq!(p["decision_ref"], json!("none"));

    // a failure, and a response that says it failed
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &pre("Bash", json!({"command": "git"}), "toolu_b"),
    );
    assert!(answer(&o).0);
    let mut fail = event(
        "PostToolUseFailure",
        "Bash",
        json!({"command": "git"}),
        "toolu_b",
    );
    fail["error"] = json!("fatal: not a git repository");
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &serde_json::to_vec(&fail).unwrap(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let p = last_receipt(&env.receipts())["payload"].clone();
    assert_eq!(p["outcome"], json!("error"));
    assert_eq!(p["hook_event"], json!("PostToolUseFailure"));
    assert_eq!(p["decision_status"], json!("allowed"));
    let mut codex_post = event("PostToolUse", "Bash", json!({"command": "ls"}), "call_x");
    codex_post["tool_response"] = json!({"exit_code": 2, "output": "no such file"});
    let o = hook_with(
        &env,
        "codex",
        &policy,
        &[],
        &serde_json::to_vec(&codex_post).unwrap(),
    );
    assert_eq!(o.status.code(), Some(0));
    let p = last_receipt(&env.receipts())["payload"].clone();
    assert_eq!(p["outcome"], json!("error"));
    assert_eq!(p["exit_code"], json!(2));
    assert_eq!(p["decision_status"], json!("not_found"));
    assert!(
        p.get("tool_duration_ms").is_none(),
        "no duration given, none recorded"
    );

    let (code, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn events_other_than_tool_use_answer_nothing() {
    let env = Env::new();
    let policy = example_policy();
    for name in [
        "Stop",
        "SessionStart",
        "UserPromptSubmit",
        "PermissionRequest",
        "Notification",
    ] {
        let ev = event(name, "Bash", json!({"command": "rm -rf /"}), "t");
        let o = hook_with(
            &env,
            "claude-code",
            &policy,
            &[],
            &serde_json::to_vec(&ev).unwrap(),
        );
        assert_eq!(o.status.code(), Some(0), "{name}");
        assert!(o.stdout.is_empty(), "{name}: {}", stdout(&o));
    }
    assert!(receipt_files(&env.receipts()).is_empty());
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const REQUIRED: [&str; 6] = [
    "hook_event_name",
    "session_id",
    "cwd",
    "tool_name",
    "tool_input",
    "tool_use_id",
];

fn wrong_type_for(field: &str, rng: &mut Rng) -> Value {
    let strings_wrong = [
        json!(1),
        json!(-2.5),
        json!(true),
        json!(null),
        json!([]),
        json!(["Read"]),
        json!({}),
        json!({"a": "b"}),
    ];
    let object_wrong = [
        json!("x"),
        json!(3),
        json!(false),
        json!(null),
        json!([]),
        json!([{"file_path": "/workspace/x"}]),
    ];
    if field == "tool_input" {
        rng.pick(&object_wrong).clone()
    } else {
        rng.pick(&strings_wrong).clone()
    }
}

/// One faulty PreToolUse event, built from an event that would be allowed intact.
fn faulty(rng: &mut Rng, base: &Value) -> (String, Vec<u8>) {
    let base_bytes = serde_json::to_vec(base).unwrap();
    match rng.below(16) {
        0 => {
            let cut = 1 + rng.below(base_bytes.len() - 1);
            (format!("truncated at {cut}"), base_bytes[..cut].to_vec())
        }
        1 => {
            let f = *rng.pick(&REQUIRED);
            let mut v = base.clone();
            v[f] = wrong_type_for(f, rng);
            (
                format!("{f} of the wrong type"),
                serde_json::to_vec(&v).unwrap(),
            )
        }
        2 => {
            let f = *rng.pick(&REQUIRED);
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove(f);
            (format!("{f} missing"), serde_json::to_vec(&v).unwrap())
        }
        3 => {
            let mut v = base.clone();
            let bad = [
                json!(7),
                json!(null),
                json!(["/workspace/x"]),
                json!({"p": "/workspace/x"}),
                json!(""),
                json!("~/x"),
            ];
            let choice = rng.below(bad.len() + 1);
            if choice == bad.len() {
                v["tool_input"].as_object_mut().unwrap().remove("file_path");
            } else {
                v["tool_input"]["file_path"] = bad[choice].clone();
            }
            (
                "tool_input.file_path unusable".into(),
                serde_json::to_vec(&v).unwrap(),
            )
        }
        4 => {
            let depth = 129 + rng.below(20_000);
            let text = String::from_utf8(base_bytes).unwrap().replace(
                "\"/workspace/x\"",
                &format!("{}\"/workspace/x\"{}", "[".repeat(depth), "]".repeat(depth)),
            );
            (format!("nested {depth} deep"), text.into_bytes())
        }
        5 => {
            let size = (1 << 20) + rng.below(3 << 20);
            let mut v = base.clone();
            v["tool_input"]["padding"] = json!("x".repeat(size));
            (
                format!("{size}-byte string"),
                serde_json::to_vec(&v).unwrap(),
            )
        }
        6 => {
            let mut bytes = base_bytes;
            let at = bytes.iter().position(|b| *b == b'/').unwrap() + 1;
            let junk = [0xff, 0xc3, 0x80, 0xed, 0xa0, 0xfe];
            bytes.insert(at, *rng.pick(&junk));
            ("invalid UTF-8 in a string".into(), bytes)
        }
        7 => {
            let text = String::from_utf8(base_bytes).unwrap();
            let dup = rng.pick(&["tool_name", "hook_event_name", "cwd", "tool_use_id"]);
            let text = text.replacen('{', &format!("{{\"{dup}\":\"Bash\","), 1);
            (format!("duplicate {dup}"), text.into_bytes())
        }
        8 => {
            let tops: [&[u8]; 9] = [
                b"",
                b"   \n",
                b"null",
                b"[]",
                b"\"PreToolUse\"",
                b"42",
                b"true",
                b"\0\0\0",
                b"\xef\xbb\xbf{}",
            ];
            let t = rng.pick(&tops);
            ("not an object".into(), t.to_vec())
        }
        9 => {
            let mut bytes = base_bytes;
            let tails: [&[u8]; 4] = [b"x", b"{}", b",", b"\0"];
            let tail: &&[u8] = rng.pick(&tails);
            bytes.extend_from_slice(tail);
            ("trailing garbage".into(), bytes)
        }
        10 => {
            let mut v = base.clone();
            v["cwd"] = json!(*rng.pick(&["", "workspace", "./w", "~"]));
            ("relative cwd".into(), serde_json::to_vec(&v).unwrap())
        }
        11 => {
            let mut v = base.clone();
            let k = *rng.pick(&["cwd", "session_id", "agent_did"]);
            v["tool_input"][k] = json!("/");
            (
                format!("tool_input sets {k}"),
                serde_json::to_vec(&v).unwrap(),
            )
        }
        12 => {
            let mut v = base.clone();
            let f = *rng.pick(&["tool_name", "tool_use_id"]);
            v[f] = json!(*rng.pick(&["", "Re\nad", "Read\u{0}", "\u{7}"]));
            (
                format!("{f} empty or with control characters"),
                serde_json::to_vec(&v).unwrap(),
            )
        }
        13 => {
            let mut v = base.clone();
            v["tool_use_id"] = json!("t".repeat(1025 + rng.below(500_000)));
            ("huge tool_use_id".into(), serde_json::to_vec(&v).unwrap())
        }
        14 => {
            // two faults at once: a wrong type or a missing field, then truncated (a
            // strict prefix of a serialized object is never valid JSON)
            let f = *rng.pick(&REQUIRED);
            let mut v = base.clone();
            if rng.below(2) == 0 {
                v[f] = wrong_type_for(f, rng);
            } else {
                v.as_object_mut().unwrap().remove(f);
            }
            let bytes = serde_json::to_vec(&v).unwrap();
            let cut = 1 + rng.below(bytes.len() - 1);
            (
                format!("{f} broken, then truncated at {cut}"),
                bytes[..cut].to_vec(),
            )
        }
        _ => {
            // a structural character (outside strings) replaced by another one
            let mut bytes = base_bytes;
            let mut in_string = false;
            let mut escaped = false;
            let mut structural = Vec::new();
            for (i, b) in bytes.iter().enumerate() {
                match (in_string, escaped, *b) {
                    (true, true, _) => escaped = false,
                    (true, false, b'\\') => escaped = true,
                    (_, false, b'"') => in_string = !in_string,
                    (false, _, b'{' | b'}' | b':' | b',') => structural.push(i),
                    _ => {}
                }
            }
            let at = *rng.pick(&structural);
            let old = bytes[at];
            let choices: Vec<u8> = b"{}[]:,".iter().copied().filter(|c| *c != old).collect();
            bytes[at] = *rng.pick(&choices);
            if serde_json::from_slice::<Value>(&bytes).is_ok() {
                bytes.truncate(at);
            }
            (format!("structural byte {at} replaced"), bytes)
        }
    }
}

/// Never an allow: exit 0 with the deny object, or exit 2 with a reason on stderr.
fn assert_blocked(label: &str, o: &Output) {
    match o.status.code() {
        Some(0) => {
            let (allow, reason) = answer(o);
            assert!(!allow, "{label}: ALLOWED: {reason}");
        }
        Some(2) => assert!(
            !stderr(o).trim().is_empty(),
            "{label}: exit 2 without a reason"
        ),
        other => panic!(
            "{label}: exit {other:?} (agents run the tool): stdout {} stderr {}",
            stdout(o),
            stderr(o)
        ),
    }
}

#[test]
fn fail_closed_on_a_thousand_faulty_events() {
    let env = Env::new();
    let policy = example_policy();
    let base = event(
        "PreToolUse",
        "Read",
        json!({"file_path": "/workspace/x"}),
        "toolu_base",
    );
    // intact, it is allowed: every fault below must turn it into a deny
    let o = hook_with(
        &env,
        "claude-code",
        &policy,
        &[],
        &serde_json::to_vec(&base).unwrap(),
    );
    assert!(answer(&o).0, "the base event is allowed");
    let before = receipt_files(&env.receipts()).len();

    let mut rng = Rng(0x05EE_D0F6_A7E1);
    let cases: Vec<(String, Vec<u8>)> = (0..1100).map(|_| faulty(&mut rng, &base)).collect();
    let kinds: BTreeSet<String> = cases
        .iter()
        .map(|(l, _)| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert!(kinds.len() > 10, "{kinds:?}");
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((label, bytes)) = cases.get(i) else {
                        break;
                    };
                    for agent in ["claude-code", "codex"] {
                        let o = hook_with(&env, agent, &policy, &[], bytes);
                        assert_blocked(&format!("case {i} ({label}, {agent})"), &o);
                    }
                }
            });
        }
    });
    assert_eq!(
        receipt_files(&env.receipts()).len(),
        before,
        "no faulty event reached a decision"
    );
}

/// `chattr +i` on a directory, undone on drop (root ignores mode bits, not this).
struct Immutable(PathBuf);

impl Immutable {
    fn set(p: &Path) -> Self {
        let o = Command::new("chattr")
            .arg("+i")
            .arg(p)
            .output()
            .expect("chattr is installed");
        assert!(
            o.status.success(),
            "chattr +i {}: {}",
            p.display(),
            stderr(&o)
        );
        Immutable(p.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn fail_closed_when_the_environment_is_broken() {
    let allowed = [
        pre("Read", json!({"file_path": "/workspace/x"}), "toolu_r"),
        pre("Bash", json!({"command": "git"}), "toolu_b"),
        pre(
            "Edit",
            json!({"file_path": "/tmp/y", "old_string": "a", "new_string": "b"}),
            "toolu_e",
        ),
    ];
    let policy = example_policy();
    let mut total = 0;
    let mut check = |label: &str, env: &Env, policy: &Path, extra: &[&str], why: &str| {
        for ev in &allowed {
            for agent in ["claude-code", "codex"] {
                let o = hook_with(env, agent, policy, extra, ev);
                assert_blocked(&format!("{label} ({agent})"), &o);
                let (_, reason) = answer(&o);
                assert!(
                    reason.starts_with("gavel could not decide, so it denies"),
                    "{reason}"
                );
                assert!(reason.contains(why), "{label}: {reason}");
                total += 1;
            }
        }
    };

    // the policy: missing, broken, empty
    let env = Env::new();
    check(
        "missing policy",
        &env,
        &env.home().join("no-such-policy.yaml"),
        &[],
        "not found",
    );
    let broken = env.home().join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("a.yaml"), "rules:\n  - name: x\n    condition: {field: action, operator: resembles, value: y}\n    action: allow\n").unwrap();
    check("unknown operator", &env, &broken, &[], "unknown operator");
    fs::write(broken.join("a.yaml"), "rules: [\n").unwrap();
    check("YAML syntax error", &env, &broken, &[], "a.yaml");
    let empty = env.home().join("empty");
    fs::create_dir_all(&empty).unwrap();
    check(
        "empty policy directory",
        &env,
        &empty,
        &[],
        "no policy file",
    );
    let cedar = env.home().join("c.cedar");
    fs::write(&cedar, "permit (principal, action, resource) when {").unwrap();
    check("broken Cedar", &env, &cedar, &[], "c.cedar");

    // the receipts directory: immutable, a file, another signer's chain
    let env = Env::new();
    let ro = env.home().join("ro-receipts");
    fs::create_dir_all(&ro).unwrap();
    {
        let _guard = Immutable::set(&ro);
        check(
            "immutable receipts directory",
            &env,
            &policy,
            &["--receipts-dir", ro.to_str().unwrap()],
            "receipts directory",
        );
    }
    let file = env.home().join("receipts-file");
    fs::write(&file, "not a directory").unwrap();
    check(
        "receipts path is a file",
        &env,
        &policy,
        &["--receipts-dir", file.to_str().unwrap()],
        "receipts directory",
    );
    let other = Env::new();
    let o = hook_with(&other, "claude-code", &policy, &[], &allowed[0]);
    assert!(answer(&o).0);
    check(
        "foreign chain",
        &env,
        &policy,
        &["--receipts-dir", other.receipts().to_str().unwrap()],
        "chain signed by",
    );

    // the key: readable by others, garbage, a directory, missing
    let env = Env::new();
    let key = env.home().join("k.pem");
    let o = env.run(&["keys", "generate", "--out", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    check(
        "world-readable key",
        &env,
        &policy,
        &["--key", key.to_str().unwrap()],
        "chmod 600",
    );
    fs::write(&key, "-----BEGIN PRIVATE KEY-----\ngarbage\n").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    check(
        "garbage key",
        &env,
        &policy,
        &["--key", key.to_str().unwrap()],
        "k.pem",
    );
    let key_dir = env.home().join("key-dir");
    fs::create_dir_all(&key_dir).unwrap();
    fs::set_permissions(&key_dir, fs::Permissions::from_mode(0o700)).unwrap();
    check(
        "key is a directory",
        &env,
        &policy,
        &["--key", key_dir.to_str().unwrap()],
        "is not a key file (it is a directory",
    );
    check(
        "missing key",
        &env,
        &policy,
        &["--key", env.home().join("nope.pem").to_str().unwrap()],
        "no operator key",
    );

    // the state directory: the audit log cannot be written, the key cannot be created
    let env = Env::new();
    fs::create_dir_all(env.home().join("audit.jsonl")).unwrap();
    check("audit log unwritable", &env, &policy, &[], "audit log");
    let env = Env::new();
    fs::write(env.home().join("keys"), "a file where keys/ should be").unwrap();
    check("no key can be created", &env, &policy, &[], "keys");

    // a panic anywhere
    let env = Env::new();
    for ev in &allowed {
        let mut c = hook_cmd(&env, &["--policy", policy.to_str().unwrap()]);
        c.env("GAVEL_TEST_HOOK_FAULT", "panic");
        let o = run_with_stdin(c, ev);
        let (allow, reason) = answer(&o);
        assert!(!allow);
        assert!(
            reason.contains("internal error (injected test panic"),
            "{reason}"
        );
        assert!(!stderr(&o).contains("RUST_BACKTRACE"), "{}", stderr(&o));
        total += 1;
    }
    assert_eq!(total, 87);
}

#[test]
fn unwritable_stdout_exits_2_with_the_reason() {
    let env = Env::new();
    let policy = example_policy();
    for ev in [
        pre("Read", json!({"file_path": "/workspace/x"}), "t1"),
        pre("Bash", json!({"command": "rm -rf /"}), "t2"),
    ] {
        let mut c = hook_cmd(&env, &["--policy", policy.to_str().unwrap()]);
        c.stdin(Stdio::piped())
            .stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(&ev).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write the hook answer"),
            "{}",
            stderr(&o)
        );
    }
    let o = env.run(&["hook", "fail-closed"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("blocked"), "{}", stderr(&o));
}

fn install(env: &Env, args: &[&str]) -> Output {
    let policy = example_policy();
    let mut all = vec!["hook", "install"];
    all.extend_from_slice(args);
    if !args.contains(&"--policy") && !args.contains(&"--policy-dir") {
        all.extend(["--policy", policy.to_str().unwrap()]);
    }
    let all: Vec<String> = all.iter().map(|s| (*s).to_owned()).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    env.run(&all)
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".gavel-backup-"))
        .collect();
    v.sort();
    v
}

fn gavel_commands(settings: &Value, event: &str) -> Vec<String> {
    settings["hooks"][event]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
                .filter_map(|h| h["command"].as_str().map(str::to_owned))
                .filter(|c| c.contains(" hook fail-closed"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn install_merges_backs_up_is_idempotent_and_uninstall_removes_only_gavel() {
    let env = Env::new();
    let project = env.home().join("project");
    let settings_dir = project.join(".claude");
    fs::create_dir_all(&settings_dir).unwrap();
    let settings = settings_dir.join("settings.json");
    let original = r#"{
  "permissions": {"allow": ["Bash(npm test)"], "deny": []},
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/lint-bash.sh", "timeout": 5}]}
    ],
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
  },
  "model": "opus"
}
"#;
    fs::write(&settings, original).unwrap();
    let pd = project.to_str().unwrap();

    let o = install(&env, &["--agent", "claude-code", "--project-dir", pd]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = backups(&settings_dir);
    assert_eq!(b.len(), 1, "one backup");
    assert_eq!(
        fs::read_to_string(&b[0]).unwrap(),
        original,
        "backup holds the old file"
    );
    let text = fs::read_to_string(&settings).unwrap();
    assert!(
        text.starts_with("{\n  \"permissions\": {\"allow\": [\"Bash(npm test)\"], \"deny\": []},\n  \"hooks\": {\n    \"PreToolUse\": [\n      {\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"~/bin/lint-bash.sh\", \"timeout\": 5}]},"),
        "formatting kept: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let orig: Value = serde_json::from_str(original).unwrap();
    assert_eq!(v["permissions"], orig["permissions"]);
    assert_eq!(v["model"], orig["model"]);
    assert_eq!(v["hooks"]["Stop"], orig["hooks"]["Stop"]);
    assert_eq!(
        v["hooks"]["PreToolUse"][0], orig["hooks"]["PreToolUse"][0],
        "the user's hook stays"
    );
    for ev in ["PreToolUse", "PostToolUse", "PostToolUseFailure"] {
        let cmds = gavel_commands(&v, ev);
        assert_eq!(cmds.len(), 1, "{ev}: {cmds:?}");
        let c = &cmds[0];
        assert!(c.starts_with('\''), "{c}");
        let exe = c[1..].split('\'').next().unwrap();
        assert!(
            Path::new(exe).is_absolute() && Path::new(exe).exists(),
            "{c}"
        );
        assert!(
            c.contains(&format!("--state-dir '{}'", env.home().display())),
            "{c}"
        );
        assert!(
            c.contains(&format!(
                "--policy '{}'",
                fs::canonicalize(example_policy()).unwrap().display()
            )),
            "{c}"
        );
        assert!(c.contains("hook --agent claude-code"), "{c}");
        assert!(c.ends_with(" || exit 2"), "{c}");
    }
    let group = v["hooks"]["PostToolUse"][0].clone();
    assert_eq!(group["matcher"], json!("*"));
    assert_eq!(group["hooks"][0]["type"], json!("command"));
    assert_eq!(group["hooks"][0]["timeout"], json!(30));

    // twice: nothing changes, no new backup
    let o = install(&env, &["--agent", "claude-code", "--project-dir", pd]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("already installed"), "{}", stdout(&o));
    assert_eq!(fs::read_to_string(&settings).unwrap(), text);
    assert_eq!(backups(&settings_dir).len(), 1);

    // again with other options: still one entry per event, the new command
    let o = install(
        &env,
        &[
            "--agent",
            "claude-code",
            "--project-dir",
            pd,
            "--agent-did",
            "did:example:ci",
            "--timeout",
            "20",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&fs::read_to_string(&settings).unwrap()).unwrap();
    for ev in ["PreToolUse", "PostToolUse", "PostToolUseFailure"] {
        let cmds = gavel_commands(&v, ev);
        assert_eq!(cmds.len(), 1, "{ev}");
        assert!(
            cmds[0].contains("--agent-did 'did:example:ci'"),
            "{}",
            cmds[0]
        );
    }
    assert_eq!(backups(&settings_dir).len(), 2);

    // the installed command works, from any directory
    let cmd = gavel_commands(&v, "PreToolUse").remove(0);
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(&cmd).current_dir("/");
    let o = run_with_stdin(
        sh,
        &pre("Read", json!({"file_path": "/workspace/x"}), "toolu_i"),
    );
    assert!(answer(&o).0, "{}", stderr(&o));
    assert_eq!(
        last_receipt(&env.receipts())["payload"]["agent_id"],
        json!("did:example:ci")
    );
    // and a hook process that dies without answering still blocks
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(&cmd).env("GAVEL_TEST_HOOK_FAULT", "abort");
    let o = run_with_stdin(
        sh,
        &pre("Read", json!({"file_path": "/workspace/x"}), "toolu_a"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("blocked"), "{}", stderr(&o));
    let broken = cmd.replacen(
        &cmd[1..].split('\'').next().unwrap().to_owned(),
        "/nonexistent/gavel",
        2,
    );
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(&broken);
    let o = run_with_stdin(sh, b"{}");
    assert_eq!(
        o.status.code(),
        Some(2),
        "a missing gavel still blocks: {}",
        stderr(&o)
    );
    assert!(!stderr(&o).trim().is_empty());

    // uninstall removes only gavel's entries
    let o = env.run(&[
        "hook",
        "uninstall",
        "--agent",
        "claude-code",
        "--project-dir",
        pd,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after = fs::read_to_string(&settings).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&after).unwrap(),
        orig,
        "{after}"
    );
    assert_eq!(backups(&settings_dir).len(), 3);
    let o = env.run(&[
        "hook",
        "uninstall",
        "--agent",
        "claude-code",
        "--project-dir",
        pd,
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(fs::read_to_string(&settings).unwrap(), after);
    assert_eq!(backups(&settings_dir).len(), 3);
}

#[test]
fn install_refuses_settings_that_do_not_parse() {
    let env = Env::new();
    let dir = env.home().join("p/.claude");
    fs::create_dir_all(&dir).unwrap();
    let settings = dir.join("settings.json");
    let pd = env.home().join("p");
    for bad in [
        "{\"hooks\": {\"PreToolUse\": [",
        "{\"model\": \"a\", \"model\": \"b\"}",
        "// comment\n{}",
        "[]",
        "{\"hooks\": []}",
        "{\"hooks\": {\"PreToolUse\": {\"matcher\": \"*\"}}}",
    ] {
        fs::write(&settings, bad).unwrap();
        let policy = example_policy();
        let pd = pd.to_str().unwrap();
        for args in [
            vec![
                "hook",
                "install",
                "--agent",
                "claude-code",
                "--project-dir",
                pd,
                "--policy",
                policy.to_str().unwrap(),
            ],
            vec![
                "hook",
                "uninstall",
                "--agent",
                "claude-code",
                "--project-dir",
                pd,
            ],
        ] {
            let o = env.run(&args);
            assert_eq!(o.status.code(), Some(2), "{bad}: {}", stdout(&o));
            assert_one_line_error(&o);
            assert!(stderr(&o).contains("nothing was changed"), "{}", stderr(&o));
            assert_eq!(fs::read_to_string(&settings).unwrap(), bad, "untouched");
            assert!(backups(&dir).is_empty(), "no backup written");
        }
    }
    // a policy that does not load is refused before anything is written
    fs::write(&settings, "{}").unwrap();
    let o = install(
        &env,
        &[
            "--agent",
            "claude-code",
            "--project-dir",
            pd.to_str().unwrap(),
            "--policy",
            "/no/such.yaml",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert_eq!(fs::read_to_string(&settings).unwrap(), "{}");
}

#[test]
fn codex_user_scope_and_symlinked_settings() {
    let env = Env::new();
    let home = env.home().join("home");
    fs::create_dir_all(&home).unwrap();
    let mut c = env.cmd();
    c.env("HOME", &home).env_remove("CODEX_HOME").args([
        "hook",
        "install",
        "--agent",
        "codex",
        "--scope",
        "user",
        "--policy",
        example_policy().to_str().unwrap(),
    ]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("/hooks"),
        "tells about Codex's hook review: {}",
        stdout(&o)
    );
    let file = home.join(".codex/hooks.json");
    let v: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        keys(&v["hooks"]),
        BTreeSet::from(["PostToolUse".to_owned(), "PreToolUse".to_owned()])
    );
    assert!(gavel_commands(&v, "PreToolUse")[0].contains("--agent codex"));
    assert!(
        backups(&home.join(".codex")).is_empty(),
        "no previous file, no backup"
    );

    // a settings file that is a symbolic link is edited where it points
    let real = env.home().join("dotfiles/claude-settings.json");
    fs::create_dir_all(real.parent().unwrap()).unwrap();
    fs::write(&real, "{\"model\": \"opus\"}\n").unwrap();
    let link = env.home().join("link-settings.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = install(
        &env,
        &[
            "--agent",
            "claude-code",
            "--settings",
            link.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "still a link"
    );
    let v: Value = serde_json::from_str(&fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(v["model"], json!("opus"));
    assert_eq!(gavel_commands(&v, "PreToolUse").len(), 1);
}
