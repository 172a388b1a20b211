//! The members gavel's own receipt types must have (receipts.md sections 2 and 5),
//! checked by the verifier once a receipt's signature holds: a correctly signed
//! `gavel:decision` without a `decision`, or with `issued_at: "yesterday"`, proves
//! nothing an auditor can use, so it is `unknown_shape`, not `valid`.
//!
//! Receipts of other issuers' types (`veritasacta:...`, `decision_receipt`) are not
//! judged here: the draft lets each namespace define its members. Numbers are judged
//! by value, as JCS reads them: `2.0` is the integer 2 (both canonicalize to `2`, so
//! both carry the same signature).

use serde_json::{Map, Value};

use crate::envelope::{DECISION_TYPE, EXECUTION_TYPE, SPEC};
use crate::jcs::json_kind;

/// Largest integer a JSON number carries exactly (2^53 - 1).
const MAX_EXACT: f64 = 9_007_199_254_740_991.0;

/// The value of `v` when it is a non-negative integer, written `2` or `2.0` or `2e0`.
pub fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=MAX_EXACT).contains(f))
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// Checks the members of a payload whose `type` is one of gavel's; `Err` says what
/// is wrong in one sentence. Members not listed for the type are allowed (an
/// integration may add its own; the signature covers them all).
pub fn check_gavel_payload(payload: &Map<String, Value>) -> Result<(), String> {
    let Some(ty) = payload.get("type").and_then(Value::as_str) else {
        return Ok(());
    };
    let members: &[(&str, Rule)] = match ty {
        DECISION_TYPE => DECISION,
        EXECUTION_TYPE => EXECUTION,
        other if other.starts_with("gavel:") => {
            return Err(format!(
                "type {other:?} is not a gavel receipt type ({DECISION_TYPE} or {EXECUTION_TYPE})"
            ));
        }
        _ => return Ok(()),
    };
    for (name, rule) in members {
        match (payload.get(*name), rule) {
            (None, Rule::Optional(_)) => {}
            (None, _) => return Err(format!("a {ty} receipt must have {name}")),
            (Some(v), Rule::Required(check) | Rule::Optional(check)) => {
                check(v).map_err(|why| format!("{name} {why}"))?;
            }
        }
    }
    Ok(())
}

type Check = fn(&Value) -> Result<(), String>;

enum Rule {
    Required(Check),
    Optional(Check),
}

use Rule::{Optional, Required};

const DECISION: &[(&str, Rule)] = &[
    ("spec", Required(spec)),
    ("issuer_id", Required(text)),
    ("issued_at", Required(timestamp)),
    ("sequence", Required(positive)),
    ("tool_name", Required(text)),
    ("decision", Required(decision)),
    ("reason", Required(text)),
    ("policy_id", Required(text)),
    ("policy_engine", Required(engine)),
    ("policy_digest", Required(sha256_ref)),
    ("agent_id", Required(text)),
    ("trust_score", Required(unit_interval)),
    ("ring", Required(ring)),
    ("sandbox_backend", Required(backend)),
    ("payload_digest", Required(payload_digest)),
    ("session_id", Optional(text)),
    ("hook_latency_ms", Optional(duration)),
];

const EXECUTION: &[(&str, Rule)] = &[
    ("spec", Required(spec)),
    ("issuer_id", Required(text)),
    ("issued_at", Required(timestamp)),
    ("sequence", Required(positive)),
    ("tool_name", Required(text)),
    ("agent_id", Required(text)),
    ("ring", Required(ring)),
    ("sandbox_backend", Required(backend)),
    ("decision_ref", Required(decision_ref)),
    ("sandbox_state", Required(sandbox_state)),
    ("sandbox", Optional(object)),
    ("exit_code", Optional(exit_code)),
    ("signal", Optional(text)),
    ("tool_duration_ms", Optional(duration)),
];

fn text(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        other => Err(format!("must be a string, not {}", json_kind(other))),
    }
}

fn one_of(v: &Value, allowed: &[&str]) -> Result<(), String> {
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!("is {v}, not one of {}", allowed.join(", "))),
    }
}

fn spec(v: &Value) -> Result<(), String> {
    one_of(v, &[SPEC])
}

fn decision(v: &Value) -> Result<(), String> {
    one_of(v, &["allow", "deny", "require_approval"])
}

fn engine(v: &Value) -> Result<(), String> {
    one_of(v, &["yaml-rules", "cedar"])
}

fn backend(v: &Value) -> Result<(), String> {
    one_of(v, &["sb_runtime_builtin", "nono", "openshell", "none"])
}

fn sandbox_state(v: &Value) -> Result<(), String> {
    one_of(v, &["enabled", "disabled", "unavailable"])
}

fn timestamp(v: &Value) -> Result<(), String> {
    match v.as_str().and_then(crate::time::parse) {
        Some(_) => Ok(()),
        None => Err(format!("is {v}, not an RFC 3339 time")),
    }
}

fn positive(v: &Value) -> Result<(), String> {
    match as_count(v) {
        Some(n) if n >= 1 => Ok(()),
        _ => Err(format!("is {v}, not a positive integer")),
    }
}

fn ring(v: &Value) -> Result<(), String> {
    match as_count(v) {
        Some(n) if n <= 3 => Ok(()),
        _ => Err(format!("is {v}, not a ring from 0 to 3")),
    }
}

fn exit_code(v: &Value) -> Result<(), String> {
    let integral = match v {
        Value::Number(n) => n.as_i64().is_some() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    };
    if integral {
        Ok(())
    } else {
        Err(format!("is {v}, not an integer"))
    }
}

fn unit_interval(v: &Value) -> Result<(), String> {
    match v.as_f64() {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(()),
        _ => Err(format!("is {v}, not a number from 0 to 1")),
    }
}

fn duration(v: &Value) -> Result<(), String> {
    match v.as_f64() {
        Some(x) if x >= 0.0 => Ok(()),
        _ => Err(format!("is {v}, not a duration in milliseconds")),
    }
}

fn object(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(_) => Ok(()),
        other => Err(format!("must be an object, not {}", json_kind(other))),
    }
}

fn sha256_ref(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if crate::verify::is_sha256_ref(s) => Ok(()),
        _ => Err(format!(
            "is {v}, not \"sha256:\" followed by 64 lowercase hex characters"
        )),
    }
}

/// A decision's chain hash, or `"none"`: a hook's PostToolUse whose PreToolUse
/// decision was not found is still receipted (docs/hooks.md), saying so.
fn decision_ref(v: &Value) -> Result<(), String> {
    if v.as_str() == Some("none") {
        return Ok(());
    }
    sha256_ref(v).map_err(|e| format!("{e} (or \"none\")"))
}

fn payload_digest(v: &Value) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err(format!("must be an object, not {}", json_kind(v)));
    };
    let hash_ok = m.get("hash").and_then(Value::as_str).is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if !hash_ok {
        return Err("must hold hash, 64 lowercase hex characters".into());
    }
    match m.get("size").and_then(as_count) {
        Some(_) => Ok(()),
        None => Err("must hold size, a byte count".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_are_read_by_value() {
        for (v, n) in [
            (json!(2), Some(2)),
            (json!(2.0), Some(2)),
            (json!(0), Some(0)),
            (json!(2.5), None),
            (json!(-1), None),
            (json!(-1.0), None),
            (json!(1e300), None),
            (json!("2"), None),
        ] {
            assert_eq!(as_count(&v), n, "{v}");
        }
    }

    #[test]
    fn execution_receipts() {
        let mut p = json!({
            "type": "gavel:execution", "spec": SPEC, "issuer_id": "sb:issuer:x",
            "issued_at": "2026-11-25T19:30:00.123Z", "sequence": 2, "tool_name": "/bin/true",
            "agent_id": "unknown", "ring": 3, "sandbox_backend": "sb_runtime_builtin",
            "decision_ref": format!("sha256:{}", "a".repeat(64)), "sandbox_state": "enabled",
            "sandbox": {}, "exit_code": -1, "tool_duration_ms": 1.5, "hook_event": "extra"
        });
        let m = |v: &Value| v.as_object().unwrap().clone();
        assert_eq!(check_gavel_payload(&m(&p)), Ok(()));
        // a hook's execution whose decision was not found says so
        p["decision_ref"] = json!("none");
        assert_eq!(check_gavel_payload(&m(&p)), Ok(()));
        for (k, bad) in [
            ("decision_ref", json!("nope")),
            ("sandbox_state", json!("half")),
            ("exit_code", json!(1.5)),
            ("sandbox", json!([])),
            ("tool_duration_ms", json!(-1)),
        ] {
            let mut q = p.clone();
            q[k] = bad;
            let e = check_gavel_payload(&m(&q)).unwrap_err();
            assert!(e.starts_with(k), "{e}");
        }
        p.as_object_mut().unwrap().remove("sandbox_state");
        assert!(
            check_gavel_payload(&m(&p))
                .unwrap_err()
                .contains("must have sandbox_state")
        );
    }

    #[test]
    fn other_types_are_not_judged_and_unknown_gavel_types_are_refused() {
        let p = |v: Value| v.as_object().unwrap().clone();
        assert!(check_gavel_payload(&p(json!({"type": "decision_receipt"}))).is_ok());
        assert!(check_gavel_payload(&p(json!({"type": "veritasacta:x", "ring": "nine"}))).is_ok());
        let e = check_gavel_payload(&p(json!({"type": "gavel:evil"}))).unwrap_err();
        assert!(e.contains("not a gavel receipt type"), "{e}");
    }
}
