//! The decisions and records of a hook process: PreToolUse decides and signs,
//! PostToolUse records what ran.

use std::path::PathBuf;

use gavel::StateDir;
use gavel::governance::{DecisionRequest, ExecutionRecord, Governance, SandboxBackend};
use gavel_policy::Engine;
use serde_json::{Map, Value, json};

use super::Answer;
use super::RunArgs;
use super::event::{Event, EventName};
use super::index::{self, Entry, Index};
use super::mapping;
use crate::cmd::common::{existing_key, operator_key_or};

/// Where a hook process writes, and who it speaks for.
struct Setup {
    gov: Governance,
    /// The receipts directory, absolute (the index is keyed by it).
    receipts_dir: PathBuf,
    /// The agent the receipts name.
    agent_did: String,
    index: Index,
}

/// The index directory of a state directory.
pub fn index_dir(state: &StateDir) -> PathBuf {
    state.root().join("hook-index")
}

fn setup(state: &StateDir, args: &RunArgs, ev: &Event) -> Result<Setup, String> {
    let early_key = existing_key(state, args.sign.key.as_ref());
    let policy = args
        .policy
        .load_cached(state, early_key.as_ref())
        .map_err(|f| f.message)?;
    let key = operator_key_or(early_key, state, args.sign.key.as_ref()).map_err(|f| f.message)?;
    let receipts = args.sign.receipts_dir_in(state);
    let receipts_dir = std::path::absolute(&receipts)
        .map_err(|e| format!("receipts directory {}: {e}", receipts.display()))?;
    let gov = args
        .sign
        .governance(state, policy)
        .signer(key)
        .receipts_dir(Some(receipts_dir.clone()))
        .build();
    let agent_did = args
        .agent_did
        .clone()
        .or_else(|| ev.str_field("agent_did").map(str::to_owned))
        .unwrap_or_else(|| format!("did:gavel:{}", args.agent.name()));
    Ok(Setup {
        gov,
        receipts_dir,
        agent_did,
        index: Index::new(index_dir(state)),
    })
}

fn receipt_name(d: &gavel::Decision) -> String {
    d.receipt_path
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// PreToolUse: map, decide (one decision per action), sign, index, answer. Every
/// error is returned and becomes a deny.
pub fn pre_tool_use(state: &StateDir, args: &RunArgs, ev: &Event) -> Result<Answer, String> {
    let call = ev.tool_call()?;
    let s = setup(state, args, ev)?;
    let mut context: Map<String, Value> = call.tool_input.clone();
    context.insert("session_id".into(), json!(call.session_id));
    context.insert("cwd".into(), json!(call.cwd));
    context.insert("agent_did".into(), json!(s.agent_did));
    let actions = match s.gov.policy().engine() {
        Engine::Cedar => vec![call.tool_name.to_owned()],
        Engine::YamlRules => mapping::yaml_actions(call.tool_name, call.tool_input, call.cwd)?,
    };
    let mut last = None;
    let mut prune = false;
    for action in &actions {
        let mut req = DecisionRequest::new(action, &context);
        req.tool_name = Some(call.tool_name);
        let d = s
            .gov
            .decide(&req)
            .map_err(|e| format!("the decision could not be made and recorded: {e}"))?;
        let sequence = d
            .receipt
            .as_ref()
            .and_then(|r| r.payload.get("sequence"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        prune |= sequence % index::PRUNE_EVERY == 0;
        let why = format!(
            "gavel {}: {} (policy {}, action {}, receipt {})",
            if d.allowed { "allowed" } else { "denied" },
            d.reason,
            d.policy_id,
            clip(action, 200),
            receipt_name(&d)
        );
        let allowed = d.allowed;
        last = Some((d, why));
        if !allowed {
            break;
        }
    }
    let (d, why) = last.ok_or("no action to decide on")?;
    // One index entry per tool use: the deciding receipt (the deny, or the last allow).
    let entry = Entry {
        decision_ref: d
            .receipt_hash
            .clone()
            .ok_or("the decision has no receipt")?,
        agent_id: d.agent_id.clone(),
        tool_name: call.tool_name.to_owned(),
        decision: if d.allowed { "allow" } else { "deny" }.to_owned(),
    };
    if let Err(e) = s.index.put(&s.receipts_dir, call.tool_use_id, &entry) {
        eprintln!(
            "gavel: warning: cannot index tool use {} ({e}); its PostToolUse receipt will say the decision was not found",
            crate::failure::one_line(call.tool_use_id)
        );
    }
    if prune {
        s.index.prune(index::MAX_AGE, index::MAX_ENTRIES);
    }
    Ok(Answer::Decision {
        allow: d.allowed,
        reason: why,
    })
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Whether a tool response says the tool failed.
fn response_says_error(v: Option<&Value>) -> bool {
    let Some(Value::Object(m)) = v else {
        return false;
    };
    let truthy = |k: &str| m.get(k).is_some_and(|v| v == &json!(true));
    let nonzero = |k: &str| m.get(k).and_then(Value::as_i64).is_some_and(|c| c != 0);
    truthy("is_error")
        || truthy("isError")
        || truthy("interrupted")
        || m.get("success") == Some(&json!(false))
        || nonzero("exit_code")
        || nonzero("exitCode")
        || m.get("error")
            .is_some_and(|e| !matches!(e, Value::Null | Value::Bool(false)) && e != &json!(""))
}

fn exit_code(v: Option<&Value>) -> Option<i32> {
    let m = v?.as_object()?;
    ["exit_code", "exitCode"]
        .iter()
        .find_map(|k| m.get(*k).and_then(Value::as_i64))
        .and_then(|c| i32::try_from(c).ok())
}

/// A usable identifier from the event (bounded, no control characters).
fn ident<'a>(ev: &'a Event, name: &str) -> Option<&'a str> {
    ev.str_field(name)
        .filter(|s| !s.is_empty() && s.len() <= 1024 && !s.chars().any(char::is_control))
}

/// PostToolUse / PostToolUseFailure: one execution receipt, linked to the decision of
/// the same `tool_use_id` when the index knows it, saying `decision_status:
/// "not_found"` otherwise. Returns a one-line summary.
pub fn post_tool_use(state: &StateDir, args: &RunArgs, ev: &Event) -> Result<String, String> {
    let s = setup(state, args, ev)?;
    let tool_name = ident(ev, "tool_name").unwrap_or("unknown");
    let tool_use_id = ident(ev, "tool_use_id");
    let found = tool_use_id.and_then(|id| s.index.take(&s.receipts_dir, id));
    let response = ev.fields.get("tool_response");
    let failed = ev.name == EventName::PostToolUseFailure || response_says_error(response);
    let mut extra = Map::new();
    extra.insert(
        "hook_event".into(),
        json!(match ev.name {
            EventName::PostToolUseFailure => "PostToolUseFailure",
            _ => "PostToolUse",
        }),
    );
    extra.insert(
        "outcome".into(),
        json!(if failed { "error" } else { "success" }),
    );
    if let Some(r) = response.or_else(|| ev.fields.get("error")) {
        let canonical = gavel_receipt::jcs::canonicalize(r)
            .map_err(|e| format!("cannot digest the tool response: {e}"))?;
        extra.insert(
            "tool_response_digest".into(),
            json!(gavel_receipt::digest::sha256_prefixed(&canonical)),
        );
    }
    if let Some(id) = tool_use_id {
        extra.insert("tool_use_id".into(), json!(id));
    }
    if let Some(sid) = ident(ev, "session_id") {
        extra.insert("session_id".into(), json!(sid));
    }
    let status = match &found {
        Some(e) if e.decision == "allow" => "allowed",
        Some(_) => "denied",
        None => "not_found",
    };
    extra.insert("decision_status".into(), json!(status));
    let duration = ev
        .fields
        .get("duration_ms")
        .and_then(Value::as_f64)
        .filter(|d| d.is_finite() && *d >= 0.0);
    let run = ExecutionRecord {
        tool_name: tool_name.to_owned(),
        sandbox_state: if args.sign.sandbox_backend == SandboxBackend::None {
            "disabled"
        } else {
            "enabled"
        }
        .to_owned(),
        sandbox: None,
        exit_code: exit_code(response),
        signal: None,
        tool_duration_ms: duration,
        extra,
    };
    let (decision_ref, agent_id) = match &found {
        Some(e) => (e.decision_ref.as_str(), e.agent_id.as_str()),
        None => ("none", s.agent_did.as_str()),
    };
    let appended = s
        .gov
        .record_execution_for(decision_ref, agent_id, &run)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "gavel: recorded {tool_name} ({}; decision {status}) as receipt {}",
        if failed { "error" } else { "success" },
        appended.sequence
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses() {
        for v in [
            json!({"is_error": true}),
            json!({"isError": true}),
            json!({"success": false}),
            json!({"interrupted": true}),
            json!({"exit_code": 1}),
            json!({"error": "boom"}),
        ] {
            assert!(response_says_error(Some(&v)), "{v}");
        }
        for v in [
            json!({"stdout": "x", "stderr": "", "interrupted": false}),
            json!({"success": true, "exit_code": 0, "error": null}),
            json!("plain text"),
        ] {
            assert!(!response_says_error(Some(&v)), "{v}");
        }
        assert_eq!(exit_code(Some(&json!({"exitCode": 3}))), Some(3));
    }

    #[test]
    fn clipping_respects_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééé", 3), "é…");
    }
}
