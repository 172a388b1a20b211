//! `gavel demo`: the worked example. One policy, three sandbox backends, eighteen
//! signed receipts, verified with the public key only, tamper-checked and
//! chain-checked, plus a real command confined by `gavel exec`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use gavel::keyfile;
use gavel::{DecisionRequest, Governance, SandboxBackend, StateDir};
use gavel_policy::PolicySet;
use gavel_receipt::keys::{OperatorKey, TrustedKey, public_hex, public_jwks};
use gavel_receipt::verify::{Status, VerifyOptions};
use serde_json::{Map, Value, json};

use super::verify::verify_path;
use crate::failure::{CmdResult, Failure};

/// The example policy of the Agent Governance Toolkit's sb-runtime example.
pub const EXAMPLE_POLICY: &str = include_str!("../../../../examples/policies/sandbox-policy.yaml");
const POLICY_FILE: &str = "sandbox-policy.yaml";
const AGENT: &str = "did:mesh:gavel-demo-agent";

/// The six actions and what the example policy must decide.
const ACTIONS: [(&str, bool, &str); 6] = [
    (
        "file:read:/workspace/main.py",
        true,
        "Allowed by rule: allow-workspace-read",
    ),
    ("shell:python", true, "Allowed by rule: allow-safe-shell"),
    ("shell:git", true, "Allowed by rule: allow-safe-shell"),
    (
        "shell:rm -rf /tmp",
        false,
        "Destructive shell command blocked",
    ),
    (
        "http:GET:169.254.169.254/metadata",
        false,
        "Cloud metadata endpoint blocked",
    ),
    (
        "file:write:/etc/shadow",
        false,
        "Writes to system directories blocked",
    ),
];

const SCENARIOS: [(&str, SandboxBackend); 3] = [
    ("standalone", SandboxBackend::SbRuntimeBuiltin),
    ("nono", SandboxBackend::Nono),
    ("openshell", SandboxBackend::Openshell),
];

/// `gavel demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the receipts, the key and the report (a new directory).
    /// Default: a new directory under demo/ in the state directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One expectation of the demo and how it came out.
struct Checks(Vec<Value>);

impl Checks {
    fn check(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<String>) -> bool {
        self.0
            .push(json!({"name": name.into(), "ok": ok, "detail": detail.into()}));
        ok
    }
    fn all_ok(&self) -> bool {
        self.0.iter().all(|c| c["ok"] == json!(true))
    }
}

pub fn run(state: &StateDir, args: &DemoArgs) -> CmdResult {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => state
            .root()
            .join("demo")
            .join(gavel_receipt::time::now_millis().replace([':', '.'], "-")),
    };
    if out.exists()
        && fs::read_dir(&out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::bad_input(format!(
            "--out {}: the directory exists and is not empty; the demo writes a fresh one",
            out.display()
        )));
    }
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| Failure::bad_input(format!("{what}: {e}"))
    };
    fs::create_dir_all(&out).map_err(io(&out))?;
    let out = out.canonicalize().map_err(io(&out))?;

    // one operator key for the whole demo, and the policy the receipts commit to
    let key = OperatorKey::generate()?;
    let key_path = out.join("operator.pem");
    keyfile::write_new(&key_path, &key)?;
    let public = public_hex(&key.verifying_key());
    fs::write(out.join("operator.pub"), format!("{public}\n")).map_err(io(&out))?;
    let jwks = serde_json::to_string_pretty(&public_jwks(&key.verifying_key(), key.kid()))
        .unwrap_or_default();
    fs::write(out.join("operator.jwks.json"), jwks + "\n").map_err(io(&out))?;
    let policy_dir = out.join("policy");
    fs::create_dir_all(&policy_dir).map_err(io(&policy_dir))?;
    fs::write(policy_dir.join(POLICY_FILE), EXAMPLE_POLICY).map_err(io(&policy_dir))?;
    let policy = std::sync::Arc::new(PolicySet::load(&policy_dir)?);
    let digest = policy.digest().to_owned();
    let demo_state = StateDir::at(out.join("state"));

    let mut checks = Checks(Vec::new());
    let nono_installed =
        gavel_sandbox::find_nono(std::env::var_os("PATH").as_deref(), &out).is_ok();

    // 1. the six actions in each scenario, each scenario its own chain
    let mut scenarios = Vec::new();
    for (name, backend) in SCENARIOS {
        let receipts = out.join(name).join("receipts");
        let gov = Governance::builder(policy.clone())
            .state(demo_state.clone())
            .signer(keyfile::load(&key_path)?)
            .sandbox_backend(backend)
            .receipts_dir(Some(receipts.clone()))
            .build();
        let mut context = Map::new();
        context.insert("agent_did".into(), json!(AGENT));
        let mut decisions = Vec::new();
        let mut sample = Value::Null;
        for (action, expect_allowed, expect_reason) in ACTIONS {
            let d = gov.decide(&DecisionRequest::new(action, &context))?;
            checks.check(
                format!("{name}: {action}"),
                d.allowed == expect_allowed && d.reason == expect_reason,
                format!(
                    "{} ({})",
                    if d.allowed { "allow" } else { "deny" },
                    d.reason
                ),
            );
            if sample.is_null()
                && let Some(r) = &d.receipt
            {
                sample = sample_fields(&r.payload);
            }
            decisions.push(json!({
                "action": action,
                "allowed": d.allowed,
                "reason": d.reason,
                "policy_name": d.policy_name,
                "sequence": d.receipt.as_ref().and_then(|r| r.payload.get("sequence").cloned()),
            }));
        }
        let allow = decisions
            .iter()
            .filter(|d| d["allowed"] == json!(true))
            .count();
        let mut s = json!({
            "name": name,
            "sandbox_backend": backend.as_str(),
            "ring": gov.ring(),
            "receipts_dir": receipts,
            "receipts": decisions.len(),
            "allow": allow,
            "deny": decisions.len() - allow,
            "policy_digest": digest,
            "decisions": decisions,
            "sample_payload": sample,
        });
        if backend == SandboxBackend::Nono {
            s["nono_exercised"] = json!(nono_installed);
            if !nono_installed {
                s["note"] = json!(
                    "nono is not installed: this scenario records ring 2 and the backend in the receipts, as the original example did, but nono itself was not exercised (install it with `cargo install nono-cli --version 0.81.0`)"
                );
            }
        }
        scenarios.push(s);
    }
    let same_digest = scenarios
        .iter()
        .all(|s| s["policy_digest"] == json!(digest));
    checks.check(
        "policy digest identical across scenarios",
        same_digest,
        digest.clone(),
    );

    // 2. cross-verification of all receipts with the public key only
    let opts = VerifyOptions {
        keys: vec![TrustedKey::new(key.verifying_key())?],
        expected_policy_digest: Some(digest.clone()),
    };
    let mut valid = 0;
    let mut total = 0;
    for (name, _) in SCENARIOS {
        let v = verify_path(&out.join(name).join("receipts"), &opts)?;
        valid += v.report.valid;
        total += v.report.count;
        checks.check(
            format!("verify {name} chain"),
            v.report.status == Status::Valid,
            v.report.status.as_str(),
        );
    }
    checks.check(
        "cross-verification",
        valid == 18 && total == 18,
        format!("{valid}/{total} valid"),
    );
    let cross = json!({"valid": valid, "total": total, "status": if valid == total { "valid" } else { "invalid" }});

    // 3. tamper check on a copy of a nono receipt
    let tamper_dir = out.join("tamper");
    fs::create_dir_all(&tamper_dir).map_err(io(&tamper_dir))?;
    let original = out.join("nono/receipts").join(gavel::store::file_name(1));
    let before_path = tamper_dir.join("before.json");
    let after_path = tamper_dir.join("after.json");
    fs::copy(&original, &before_path).map_err(io(&original))?;
    let mut tampered: Value = read_json(&before_path)?;
    tampered["payload"]["sandbox_backend"] = json!("sb_runtime_builtin");
    fs::write(
        &after_path,
        serde_json::to_vec_pretty(&tampered).unwrap_or_default(),
    )
    .map_err(io(&after_path))?;
    let before = verify_path(&before_path, &opts)?.report;
    let after = verify_path(&after_path, &opts)?.report;
    let after_cause = after
        .receipts
        .first()
        .and_then(|r| r.cause)
        .map(|c| c.as_str())
        .unwrap_or("none");
    checks.check(
        "tamper: sandbox_backend nono -> sb_runtime_builtin",
        before.status == Status::Valid
            && after.status == Status::Invalid
            && after_cause == "invalid_signature",
        format!(
            "before {}, after {} ({after_cause})",
            before.status.as_str(),
            after.status.as_str()
        ),
    );
    let tamper = json!({
        "receipt": original,
        "copy": after_path,
        "field": "sandbox_backend",
        "from": "nono",
        "to": "sb_runtime_builtin",
        "before": before.status.as_str(),
        "after": after.status.as_str(),
        "cause": after_cause,
    });

    // 4. chain check: the link, and what removing a receipt does
    let standalone = out.join("standalone/receipts");
    let r1: Value = read_json(&standalone.join(gavel::store::file_name(1)))?;
    let r2: Value = read_json(&standalone.join(gavel::store::file_name(2)))?;
    let hash1 = gavel_receipt::receipt_hash(&r1).unwrap_or_default();
    let link = r2["payload"]["previousReceiptHash"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    checks.check(
        "chain: receipt 2 links to receipt 1",
        link == hash1,
        format!("{link} == {hash1}"),
    );
    let gap_dir = out.join("chain-check");
    fs::create_dir_all(&gap_dir).map_err(io(&gap_dir))?;
    for seq in (1..=6).filter(|s| *s != 3) {
        let f = gavel::store::file_name(seq);
        fs::copy(standalone.join(&f), gap_dir.join(&f)).map_err(io(&gap_dir))?;
    }
    let gap = verify_path(&gap_dir, &opts)?.report;
    let gap_cause = gap
        .receipts
        .iter()
        .find_map(|r| r.cause)
        .map(|c| c.as_str())
        .unwrap_or("none");
    let gap_detail = gap
        .chain_problems
        .first()
        .map(|p| p.detail.clone())
        .unwrap_or_default();
    checks.check(
        "chain: removing receipt 3 breaks the chain",
        gap.status == Status::Invalid && gap_cause == "chain_break",
        format!("{} ({gap_cause}: {gap_detail})", gap.status.as_str()),
    );
    let chain = json!({
        "receipt_1_hash": hash1,
        "receipt_2_previousReceiptHash": link,
        "linked": link == hash1,
        "removed": 3,
        "copy": gap_dir,
        "after_removal": gap.status.as_str(),
        "cause": gap_cause,
        "detail": gap_detail,
    });

    // 5. a real command under gavel exec, confined by the built-in sandbox (and by nono)
    let mut exec = Map::new();
    exec.insert(
        "standalone".into(),
        real_commands(&out, &key_path, "sb_runtime_builtin", &mut checks)?,
    );
    if nono_installed {
        exec.insert(
            "nono".into(),
            real_commands(&out, &key_path, "nono", &mut checks)?,
        );
    } else {
        exec.insert(
            "nono".into(),
            json!({"exercised": false, "why": "nono is not on PATH (cargo install nono-cli --version 0.81.0)"}),
        );
    }

    // 6. where everything is, and how to check it again
    let self_exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "gavel".into());
    let verify_commands: Vec<String> = SCENARIOS
        .iter()
        .map(|(name, _)| {
            format!(
                "{self_exe} verify {} --key {} --policy-dir {}",
                out.join(name).join("receipts").display(),
                out.join("operator.pub").display(),
                policy_dir.display()
            )
        })
        .collect();
    let ok = checks.all_ok();
    let report = json!({
        "ok": ok,
        "out": out,
        "agent_id": AGENT,
        "kid": key.kid(),
        "public_key": public,
        "public_key_file": out.join("operator.pub"),
        "policy_file": policy_dir.join(POLICY_FILE),
        "policy_digest": digest,
        "scenarios": scenarios,
        "cross_verification": cross,
        "tamper": tamper,
        "chain": chain,
        "exec": exec,
        "verify_commands": verify_commands,
        "checks": checks.0,
    });
    let report_text = serde_json::to_string_pretty(&report).unwrap_or_default();
    fs::write(out.join("report.json"), format!("{report_text}\n")).map_err(io(&out))?;
    if args.json {
        println!("{report_text}");
    } else {
        print!("{}", human(&report));
    }
    Ok(if ok { 0 } else { 1 })
}

fn read_json(p: &Path) -> Result<Value, Failure> {
    let bytes = fs::read(p).map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))
}

fn sample_fields(payload: &Map<String, Value>) -> Value {
    let keep = [
        "type",
        "sequence",
        "tool_name",
        "decision",
        "policy_id",
        "policy_digest",
        "agent_id",
        "trust_score",
        "ring",
        "sandbox_backend",
        "issuer_id",
        "issued_at",
    ];
    Value::Object(
        keep.iter()
            .filter_map(|k| payload.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    )
}

/// Runs an allowed read and a write into a system directory through `gavel exec`
/// with `backend`, and returns what happened with the execution receipts' reports.
fn real_commands(
    out: &Path,
    key: &Path,
    backend: &str,
    checks: &mut Checks,
) -> Result<Value, Failure> {
    let workspace = out.join("workspace");
    fs::create_dir_all(&workspace)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", workspace.display())))?;
    let file = workspace.join("main.py");
    let content = "print('hello from the governed workspace')\n";
    fs::write(&file, content)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    let receipts = out.join("exec").join(backend).join("receipts");
    let profile = out.join("profile.yaml");
    if !profile.exists() {
        fs::write(&profile, demo_profile())
            .map_err(|e| Failure::bad_input(format!("{}: {e}", profile.display())))?;
    }
    // HOME for the commands: inside `out`, never created by the demo, readable by
    // nobody in the sandbox (tools find no dotfiles there), and not below any granted
    // path, because nono keeps its state below HOME and refuses to grant a directory
    // that holds it
    let home = out.join("home");
    let exe = std::env::current_exe()
        .map_err(|e| Failure::bad_input(format!("cannot find the gavel binary: {e}")))?;
    let run = |argv: &[&str]| -> Result<(Option<i32>, String, String), Failure> {
        let o = Command::new(&exe)
            .arg("exec")
            .arg("--policy-dir")
            .arg(out.join("policy"))
            .arg("--profile")
            .arg(&profile)
            .args(["--sandbox-backend", backend])
            .arg("--key")
            .arg(key)
            .arg("--receipts-dir")
            .arg(&receipts)
            .arg("--state-dir")
            .arg(out.join("state"))
            .args(["--context", &json!({"agent_did": AGENT}).to_string()])
            .arg("--")
            .args(argv)
            .current_dir(&workspace)
            .env("HOME", &home)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Failure::bad_input(format!("running gavel exec: {e}")))?;
        Ok((
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ))
    };
    let (read_code, read_out, read_err) = run(&["cat", file.to_str().unwrap_or_default()])?;
    let read_ok = read_code == Some(0) && read_out == content;
    checks.check(
        format!("exec ({backend}): allowed read of the workspace succeeds"),
        read_ok,
        format!(
            "{}{}",
            exit_text(read_code),
            if read_ok {
                String::new()
            } else {
                format!(": {}", read_err.trim())
            }
        ),
    );
    // a program the policy allows (shell:git), writing where the profile forbids it
    let target = format!("/etc/gavel-demo-{}", std::process::id());
    let (write_code, _, write_err) = run(&["git", "init", "-q", &target])?;
    // the program's own failure status, not one of gavel's (125 error, 126 denied, 127 not found)
    let refused = write_code.is_some_and(|c| c != 0 && !(125..=127).contains(&c))
        && write_err.contains("Permission denied")
        && !Path::new(&target).exists();
    checks.check(
        format!("exec ({backend}): a write into /etc is refused by the kernel"),
        refused,
        format!("{}: {}", exit_text(write_code), write_err.trim()),
    );
    let _ = fs::remove_dir_all(&target);
    // the execution receipts and what they say was enforced
    let mut executions = Vec::new();
    if let Ok(rd) = fs::read_dir(&receipts) {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
        {
            let v = read_json(f)?;
            if v["payload"]["type"] == json!("gavel:execution") {
                executions.push(json!({
                    "file": f,
                    "tool_name": v["payload"]["tool_name"],
                    "exit_code": v["payload"]["exit_code"],
                    "sandbox_state": v["payload"]["sandbox_state"],
                    "sandbox": v["payload"]["sandbox"],
                    "decision_ref": v["payload"]["decision_ref"],
                }));
            }
        }
    }
    let expect_state = json!("enabled");
    checks.check(
        format!("exec ({backend}): two execution receipts, sandbox enabled"),
        executions.len() == 2
            && executions
                .iter()
                .all(|e| e["sandbox_state"] == expect_state),
        format!("{} execution receipts", executions.len()),
    );
    Ok(json!({
        "exercised": true,
        "receipts_dir": receipts,
        "read": {"command": format!("cat {}", file.display()), "exit_code": read_code, "ok": read_ok},
        "write": {"command": format!("git init -q {target}"), "exit_code": write_code, "refused": refused, "stderr": write_err.trim()},
        "executions": executions,
    }))
}

/// The sandbox profile of the demo's real commands: the built-in `workspace` profile
/// without `/tmp` (the demo's directory may be below /tmp, and nono refuses a grant
/// that covers its own state), listing only the system directories this machine has.
fn demo_profile() -> String {
    let existing = |paths: &[&str]| -> String {
        paths
            .iter()
            .filter(|p| Path::new(p).exists())
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# gavel demo: the built-in workspace profile without /tmp: read the system and\n\
         # the workspace, write only the workspace, execute system binaries, no network\n\
         filesystem:\n  read: [{}, \".\"]\n  write: [\".\", \"/dev/null\"]\n  exec: [{}]\n\
         network: deny\nsyscalls: default\nenv:\n  allow: [PATH, HOME, LANG, TERM]\n",
        existing(gavel_sandbox::SYSTEM_READ),
        existing(gavel_sandbox::SYSTEM_EXEC),
    )
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(|| "killed by a signal".into(), |c| format!("exit {c}"))
}

fn human(r: &Value) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "gavel demo: one policy, three sandbox backends, one operator key\n"
    );
    let _ = writeln!(
        w,
        "policy   {} ({})",
        r["policy_file"].as_str().unwrap_or(""),
        r["policy_digest"].as_str().unwrap_or("")
    );
    let _ = writeln!(w, "agent    {}", r["agent_id"].as_str().unwrap_or(""));
    let _ = writeln!(
        w,
        "operator {} ({})\n",
        r["kid"].as_str().unwrap_or(""),
        r["public_key"].as_str().unwrap_or("")
    );
    let _ = writeln!(w, "1. Decisions");
    for sc in r["scenarios"].as_array().into_iter().flatten() {
        let _ = writeln!(
            w,
            "   {:<11} backend {:<18} ring {}  {} receipts: {} allow, {} deny",
            sc["name"].as_str().unwrap_or(""),
            sc["sandbox_backend"].as_str().unwrap_or(""),
            sc["ring"],
            sc["receipts"],
            sc["allow"],
            sc["deny"]
        );
        if let Some(note) = sc["note"].as_str() {
            let _ = writeln!(w, "               note: {note}");
        }
    }
    if let Some(first) = r["scenarios"][0]["decisions"].as_array() {
        for d in first {
            let _ = writeln!(
                w,
                "     {:<5} {:<36} {}",
                if d["allowed"] == json!(true) {
                    "allow"
                } else {
                    "deny"
                },
                d["action"].as_str().unwrap_or(""),
                d["reason"].as_str().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        w,
        "   sample payload (nono): {}",
        r["scenarios"][1]["sample_payload"]
    );
    let c = &r["cross_verification"];
    let _ = writeln!(
        w,
        "\n2. Cross-verification with the operator public key only: {}/{} {}",
        c["valid"],
        c["total"],
        c["status"].as_str().unwrap_or("")
    );
    let t = &r["tamper"];
    let _ = writeln!(
        w,
        "\n3. Tamper check: sandbox_backend {} -> {} in a nono receipt: before {}, after {} ({})",
        t["from"].as_str().unwrap_or(""),
        t["to"].as_str().unwrap_or(""),
        t["before"].as_str().unwrap_or(""),
        t["after"].as_str().unwrap_or(""),
        t["cause"].as_str().unwrap_or("")
    );
    let ch = &r["chain"];
    let _ = writeln!(
        w,
        "\n4. Chain check: receipt 2's previousReceiptHash {} receipt 1's hash {}",
        if ch["linked"] == json!(true) {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        ch["receipt_1_hash"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        w,
        "   without receipt 3: {} ({}: {})",
        ch["after_removal"].as_str().unwrap_or(""),
        ch["cause"].as_str().unwrap_or(""),
        ch["detail"].as_str().unwrap_or("")
    );
    let _ = writeln!(w, "\n5. Real commands under gavel exec");
    for (name, e) in r["exec"].as_object().into_iter().flatten() {
        if e["exercised"] != json!(true) {
            let _ = writeln!(
                w,
                "   {name}: not exercised: {}",
                e["why"].as_str().unwrap_or("")
            );
            continue;
        }
        let _ = writeln!(
            w,
            "   {name}: {} -> exit {}",
            e["read"]["command"].as_str().unwrap_or(""),
            e["read"]["exit_code"]
        );
        let _ = writeln!(
            w,
            "   {name}: {} -> exit {}: {}",
            e["write"]["command"].as_str().unwrap_or(""),
            e["write"]["exit_code"],
            e["write"]["stderr"].as_str().unwrap_or("")
        );
        if let Some(x) = e["executions"].as_array().and_then(|x| x.first()) {
            let _ = writeln!(w, "   {name}: enforcement report: {}", x["sandbox"]);
        }
    }
    let _ = writeln!(
        w,
        "\n6. Receipts, key and report are in {}",
        r["out"].as_str().unwrap_or("")
    );
    let _ = writeln!(w, "   check them again with:");
    for cmd in r["verify_commands"].as_array().into_iter().flatten() {
        let _ = writeln!(w, "     {}", cmd.as_str().unwrap_or(""));
    }
    let failed: Vec<&Value> = r["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ok"] != json!(true))
        .collect();
    let total = r["checks"].as_array().map_or(0, Vec::len);
    if failed.is_empty() {
        let _ = writeln!(w, "\nall {total} checks came out as expected");
    } else {
        let _ = writeln!(w, "\n{} of {total} checks FAILED:", failed.len());
        for c in failed {
            let _ = writeln!(
                w,
                "   {}: {}",
                c["name"].as_str().unwrap_or(""),
                c["detail"].as_str().unwrap_or("")
            );
        }
    }
    s
}
