//! The Agent Governance Toolkit skill's own contract tests
//! (openshell-skill/tests/test_skill.py), ported to the governance API: the policy
//! ones through `Governance::check_policy` (with signed receipts), and the trust and
//! audit ones, which in gavel also persist across instances.

use gavel::{Governance, StateDir};
use gavel_policy::PolicySet;
use gavel_receipt::keys::OperatorKey;
use serde_json::{Map, Value};

/// SAMPLE_POLICY of test_skill.py, as `yaml.dump` writes it.
const SAMPLE_POLICY: &str = "\
apiVersion: governance.toolkit/v1
rules:
- action: allow
  condition:
    field: action
    operator: starts_with
    value: file:read
  name: allow-file-read
  priority: 90
- action: allow
  condition:
    field: action
    operator: in
    value:
    - shell:ls
    - shell:python
    - shell:git
  name: allow-safe-shell
  priority: 80
- action: deny
  condition:
    field: action
    operator: matches
    value: shell:(rm|dd|curl)
  message: Dangerous shell command blocked
  name: block-dangerous-shell
  priority: 100
";

struct Fixture {
    _dir: tempfile::TempDir,
    state: StateDir,
    policy_dir: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir(&policy_dir).expect("mkdir");
    std::fs::write(policy_dir.join("test-policy.yaml"), SAMPLE_POLICY).expect("write");
    let state = StateDir::at(dir.path().join("state"));
    Fixture {
        _dir: dir,
        state,
        policy_dir,
    }
}

fn skill(f: &Fixture) -> Governance {
    Governance::builder(PolicySet::load(&f.policy_dir).expect("policy"))
        .state(f.state.clone())
        .signer(OperatorKey::generate().expect("key"))
        .build()
}

fn no_context() -> Map<String, Value> {
    Map::new()
}

#[test]
fn test_policy_allow_file_read() {
    let f = fixture();
    let d = skill(&f)
        .check_policy("file:read:/workspace/main.py", &no_context(), true)
        .unwrap();
    assert!(d.allowed);
    assert_eq!(d.policy_name.as_deref(), Some("allow-file-read"));
    assert!(d.receipt.is_some());
}

#[test]
fn test_policy_allow_safe_shell() {
    let f = fixture();
    assert!(
        skill(&f)
            .check_policy("shell:python", &no_context(), true)
            .unwrap()
            .allowed
    );
}

#[test]
fn test_policy_deny_dangerous_shell() {
    let f = fixture();
    let d = skill(&f)
        .check_policy("shell:rm -rf /tmp", &no_context(), true)
        .unwrap();
    assert!(!d.allowed);
    assert!(d.reason.to_lowercase().contains("blocked"), "{}", d.reason);
}

#[test]
fn test_policy_default_deny() {
    let f = fixture();
    let d = skill(&f)
        .check_policy("unknown:action", &no_context(), true)
        .unwrap();
    assert!(!d.allowed);
    assert_eq!(d.policy_name, None);
    assert_eq!(d.policy_id, "default_deny");
}

#[test]
fn test_trust_score_default() {
    let f = fixture();
    assert_eq!(skill(&f).trust_score("did:mesh:unknown").unwrap(), 1.0);
}

#[test]
fn test_trust_score_adjust() {
    let f = fixture();
    let s = skill(&f);
    s.adjust_trust("did:mesh:agent1", -0.3).unwrap();
    assert!((s.trust_score("did:mesh:agent1").unwrap() - 0.7).abs() < 1e-9);
    s.adjust_trust("did:mesh:agent1", -0.9).unwrap();
    assert_eq!(s.trust_score("did:mesh:agent1").unwrap(), 0.0);
    // gavel: the score persists for the next instance (the AGT skill forgot it)
    assert_eq!(skill(&f).trust_score("did:mesh:agent1").unwrap(), 0.0);
}

#[test]
fn test_audit_log() {
    let f = fixture();
    let s = skill(&f);
    s.check_policy("file:read:/test", &no_context(), true)
        .unwrap();
    s.check_policy("shell:rm -rf /", &no_context(), true)
        .unwrap();
    let log = s.audit(50).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].decision, "allow");
    assert_eq!(log[1].decision, "deny");
    // gavel: each entry names its receipt, and the log persists
    assert!(log.iter().all(|e| e.receipt_hash.is_some()));
    assert_eq!(skill(&f).audit(0).unwrap().len(), 2);
}

#[test]
fn test_load_policies_count() {
    let f = fixture();
    assert_eq!(PolicySet::load(&f.policy_dir).unwrap().rule_count(), 3);
}

#[test]
fn test_load_policies_missing_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    let e = PolicySet::load(&missing).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Policy directory not found: {}", missing.display())
    );
}

#[test]
fn test_priority_ordering() {
    let f = fixture();
    let d = skill(&f)
        .check_policy("shell:rm", &no_context(), true)
        .unwrap();
    assert!(!d.allowed);
    assert_eq!(d.policy_name.as_deref(), Some("block-dangerous-shell"));
}

#[test]
fn the_trust_threshold_is_enforced() {
    let f = fixture();
    let s = skill(&f);
    let mut ctx = Map::new();
    ctx.insert("agent_did".into(), Value::from("did:mesh:agent1"));
    assert!(s.check_policy("shell:python", &ctx, true).unwrap().allowed);
    s.adjust_trust("did:mesh:agent1", -0.6).unwrap();
    let d = s.check_policy("shell:python", &ctx, true).unwrap();
    assert!(!d.allowed);
    assert_eq!(d.reason, "Trust score 0.4 below threshold 0.5");
}

#[test]
fn unsigned_decisions_do_not_advance_the_chain() {
    let f = fixture();
    let s = skill(&f);
    assert!(
        s.check_policy("shell:ls", &no_context(), false)
            .unwrap()
            .receipt
            .is_none()
    );
    let d = s.check_policy("shell:ls", &no_context(), true).unwrap();
    assert_eq!(d.receipt.unwrap().payload["sequence"], Value::from(1));
}
