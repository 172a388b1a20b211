//! `gavel demo --json` on the real binary: every figure of the report.

mod common;
use common::*;

use serde_json::{Value, json};

#[test]
fn the_demo_reports_every_figure() {
    let env = Env::new();
    let out = env.home().join("demo-out");
    let o = env.run(&["demo", "--json", "--out", out.to_str().unwrap()]);
    let r = json(&o);
    let failed: Vec<&Value> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] != json!(true))
        .collect();
    assert!(
        failed.is_empty(),
        "failed checks: {failed:#?}\nstderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(r["ok"], json!(true));

    // 1. per scenario
    let digest = r["policy_digest"].as_str().unwrap();
    let expected = [
        ("standalone", "sb_runtime_builtin", 3),
        ("nono", "nono", 2),
        ("openshell", "openshell", 2),
    ];
    let scenarios = r["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 3);
    for (s, (name, backend, ring)) in scenarios.iter().zip(expected) {
        assert_eq!(s["name"], json!(name));
        assert_eq!(s["sandbox_backend"], json!(backend));
        assert_eq!(s["ring"], json!(ring));
        assert_eq!(
            (s["receipts"].clone(), s["allow"].clone(), s["deny"].clone()),
            (json!(6), json!(3), json!(3))
        );
        assert_eq!(s["policy_digest"], json!(digest));
        assert_eq!(s["sample_payload"]["sandbox_backend"], json!(backend));
        assert_eq!(s["sample_payload"]["ring"], json!(ring));
        assert_eq!(s["sample_payload"]["policy_digest"], json!(digest));
        assert_eq!(
            s["sample_payload"]["agent_id"],
            json!("did:mesh:gavel-demo-agent")
        );
        let reasons: Vec<&str> = s["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons,
            [
                "Allowed by rule: allow-workspace-read",
                "Allowed by rule: allow-safe-shell",
                "Allowed by rule: allow-safe-shell",
                "Destructive shell command blocked",
                "Cloud metadata endpoint blocked",
                "Writes to system directories blocked"
            ]
        );
        let files = receipt_files(&out.join(name).join("receipts"));
        assert_eq!(files.len(), 6);
    }
    // the digest is the documented construction over the embedded example policy
    let bytes = std::fs::read(out.join("policy/sandbox-policy.yaml")).unwrap();
    assert_eq!(
        digest,
        gavel_receipt::policy_digest("yaml-rules", &[("sandbox-policy.yaml", bytes)])
    );
    // nono is installed where the tests run (scripts/test installs it)
    assert_eq!(scenarios[1]["nono_exercised"], json!(true));

    // 2. cross-verification
    assert_eq!(
        r["cross_verification"],
        json!({"valid": 18, "total": 18, "status": "valid"})
    );
    // and the same through the printed commands
    for cmd in r["verify_commands"].as_array().unwrap() {
        let parts: Vec<&str> = cmd.as_str().unwrap().split(' ').collect();
        let o = std::process::Command::new(parts[0])
            .args(&parts[1..])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stdout(&o));
    }

    // 3. tamper check
    let t = &r["tamper"];
    assert_eq!(
        (
            t["before"].as_str(),
            t["after"].as_str(),
            t["cause"].as_str()
        ),
        (Some("valid"), Some("invalid"), Some("invalid_signature"))
    );
    assert_eq!(
        (t["from"].as_str(), t["to"].as_str()),
        (Some("nono"), Some("sb_runtime_builtin"))
    );
    // the stored chain itself was not touched
    let stored: Value =
        serde_json::from_slice(&std::fs::read(t["receipt"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(stored["payload"]["sandbox_backend"], json!("nono"));

    // 4. chain check
    let c = &r["chain"];
    assert_eq!(c["linked"], json!(true));
    assert_eq!(c["receipt_1_hash"], c["receipt_2_previousReceiptHash"]);
    let r1: Value = serde_json::from_slice(
        &std::fs::read(out.join("standalone/receipts/000000000001.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        c["receipt_1_hash"],
        json!(gavel_receipt::receipt_hash(&r1).unwrap())
    );
    assert_eq!(
        (c["after_removal"].as_str(), c["cause"].as_str()),
        (Some("invalid"), Some("chain_break"))
    );

    // 5. real commands
    for backend in ["standalone", "nono"] {
        let e = &r["exec"][backend];
        assert_eq!(e["exercised"], json!(true), "{backend}");
        assert_eq!(e["read"]["exit_code"], json!(0), "{backend}");
        assert_eq!(e["write"]["refused"], json!(true), "{backend}");
        let ex = e["executions"].as_array().unwrap();
        assert_eq!(ex.len(), 2, "{backend}");
        assert!(ex.iter().all(|x| x["sandbox_state"] == json!("enabled")));
    }
    let report = &r["exec"]["standalone"]["executions"][0]["sandbox"];
    assert_eq!(report["no_new_privs"], json!(true));
    assert_eq!(report["controls"]["fs_write"], json!("enforced"));
    assert_eq!(
        report["seccomp"]["filter_sha256"].as_str().unwrap().len(),
        64
    );

    // 6. where things are
    assert_eq!(r["out"], json!(out.canonicalize().unwrap()));
    assert!(out.join("operator.pub").exists() && out.join("report.json").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("operator.pub"))
            .unwrap()
            .trim(),
        r["public_key"].as_str().unwrap()
    );
}

#[test]
fn the_demo_refuses_a_non_empty_out_dir() {
    let env = Env::new();
    let out = env.home().join("busy");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("x"), "x").unwrap();
    let o = env.run(&["demo", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
}

#[test]
fn the_human_report_names_every_section() {
    let env = Env::new();
    let o = env.run(&["demo"]);
    let text = stdout(&o);
    for needle in [
        "18/18 valid",
        "before valid, after invalid (invalid_signature)",
        "chain_break",
        "enforcement report",
        "verify",
        "checks came out as expected",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // default out: a new directory under the state directory
    assert!(env.home().join("demo").is_dir());
}
