//! The policy-contract tests of the AGT openshell skill
//! (microsoft/agent-governance-toolkit,
//! `packages/agentmesh-integrations/openshell-skill/tests/test_skill.py`),
//! ported: allow read, allow shell, deny, default deny, load count, missing
//! directory, priority. (The trust and audit tests belong to the governance
//! layer, not to the policy engine.)
//!
//! The fixture is what the Python test writes: `yaml.dump(SAMPLE)` into
//! `p.yaml` (PyYAML 6 output, keys sorted, block style).

use std::path::{Path, PathBuf};

use gavel_policy::{Engine, PolicyError, PolicySet, Request, Verdict};
use serde_json::Map;

const SAMPLE_DUMP: &str = "apiVersion: governance.toolkit/v1
rules:
- action: allow
  condition:
    field: action
    operator: starts_with
    value: file:read
  name: allow-read
  priority: 90
- action: allow
  condition:
    field: action
    operator: in
    value:
    - shell:ls
    - shell:python
    - shell:git
  name: allow-shell
  priority: 80
- action: deny
  condition:
    field: action
    operator: matches
    value: shell:(rm|dd|curl)
  message: Blocked
  name: block-danger
  priority: 100
";

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn policy_dir() -> Fixture {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    if let Err(e) = std::fs::write(dir.path().join("p.yaml"), SAMPLE_DUMP) {
        panic!("write: {e}");
    }
    let path = dir.path().to_path_buf();
    Fixture { _dir: dir, path }
}

fn skill(dir: &Path) -> PolicySet {
    match PolicySet::load(dir) {
        Ok(p) => p,
        Err(e) => panic!("load: {e}"),
    }
}

fn check_policy(p: &PolicySet, action: &str) -> Verdict {
    let context = Map::new();
    p.evaluate(&Request::new(action, &context))
}

#[test]
fn test_allow_read() {
    let f = policy_dir();
    let d = check_policy(&skill(&f.path), "file:read:/workspace/main.py");
    assert!(d.allowed);
    assert_eq!(d.policy_name.as_deref(), Some("allow-read"));
    assert_eq!(d.reason, "Allowed by rule: allow-read");
}

#[test]
fn test_allow_shell() {
    let f = policy_dir();
    assert!(check_policy(&skill(&f.path), "shell:python").allowed);
}

#[test]
fn test_deny() {
    let f = policy_dir();
    let d = check_policy(&skill(&f.path), "shell:rm -rf /");
    assert!(!d.allowed);
    assert!(d.reason.to_lowercase().contains("blocked"));
    assert_eq!(d.reason, "Blocked");
}

#[test]
fn test_default_deny() {
    let f = policy_dir();
    let d = check_policy(&skill(&f.path), "unknown");
    assert!(!d.allowed);
    assert_eq!(d.reason, "No matching rule - default deny");
    assert_eq!(d.policy_name, None);
    assert_eq!(d.policy_id, "default_deny");
}

#[test]
fn test_load() {
    let f = policy_dir();
    let p = skill(&f.path);
    assert_eq!(p.rule_count(), 3);
    assert_eq!(p.engine(), Engine::YamlRules);
}

#[test]
fn test_missing() {
    let err = PolicySet::load(Path::new("/nope"));
    assert!(matches!(err, Err(PolicyError::NotFound(_))));
    assert_eq!(
        err.err().map(|e| e.to_string()).unwrap_or_default(),
        "Policy directory not found: /nope"
    );
}

#[test]
fn test_priority() {
    // shell:rm matches block-danger (100) and not allow-shell
    let f = policy_dir();
    let d = check_policy(&skill(&f.path), "shell:rm");
    assert!(!d.allowed);
    assert_eq!(d.policy_name.as_deref(), Some("block-danger"));
}
