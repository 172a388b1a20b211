//! What the proxy asks the policy: one decision per `tools/call`, an advisory
//! visibility check per tool of a `tools/list` result, and the execution receipt of a
//! call's result.

use std::time::Instant;

use gavel::governance::{DecisionRequest, ExecutionRecord, Governance, SandboxBackend};
use gavel_policy::{AgentAction, CedarShape, Engine, PRINCIPAL_CONTEXT_KEYS, Request};
use gavel_receipt::digest::sha256_prefixed;
use gavel_receipt::jcs;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS};

/// The `transport` the Cedar context names.
const TRANSPORT: &str = "stdio";

/// Who asks, as every decision's context names it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `agent_did`.
    pub agent_did: String,
    /// `session_id`, when given.
    pub session_id: Option<String>,
}

/// The decision side of the proxy.
#[derive(Debug)]
pub struct Gate {
    gov: Governance,
    who: Principal,
    trust_threshold: f64,
}

/// What to do with one `tools/call`.
#[derive(Debug)]
pub enum CallOutcome {
    /// Allowed: forward the original line. The receipt's chain hash, for the
    /// execution receipt.
    Forward(AllowedCall),
    /// Denied by the policy: answer with a tool result, `isError: true`, this text.
    Deny(String),
    /// Not decidable (malformed) or the decision could not be recorded: answer with a
    /// JSON-RPC error. Never forwarded.
    Refuse {
        /// JSON-RPC error code.
        code: i64,
        /// Message.
        message: String,
    },
}

/// An allowed call, waiting for its result.
#[derive(Debug, Clone)]
pub struct AllowedCall {
    /// The MCP tool name.
    pub tool: String,
    /// Chain hash of the decision receipt.
    pub decision_ref: Option<String>,
    /// The agent, as the receipt names it.
    pub agent_id: String,
    /// When it was forwarded.
    pub started: Instant,
}

fn refuse(code: i64, message: impl Into<String>) -> CallOutcome {
    CallOutcome::Refuse {
        code,
        message: message.into(),
    }
}

/// `sha256:<hex>` of JCS(`v`), with the canonical size.
fn digest(v: &Value) -> Result<(String, usize), String> {
    let c = jcs::canonicalize(v).map_err(|e| e.to_string())?;
    Ok((sha256_prefixed(&c), c.len()))
}

impl Gate {
    /// A gate over `gov`.
    pub fn new(gov: Governance, who: Principal, trust_threshold: f64) -> Self {
        Self {
            gov,
            who,
            trust_threshold,
        }
    }

    /// The decision context for `tool` called with `args` (see docs/mcp-proxy.md,
    /// "Mapping"): YAML rules see the arguments themselves plus `agent_did` (and
    /// `session_id`); Cedar sees the `request_tool` context of cedar-agent-schemas
    /// (`args_hash`, `transport`) plus the principal's attributes.
    fn context(&self, args: &Map<String, Value>) -> Result<Map<String, Value>, CallOutcome> {
        let mut ctx = Map::new();
        match self.gov.policy().engine() {
            Engine::YamlRules => {
                if let Some(k) = PRINCIPAL_CONTEXT_KEYS
                    .iter()
                    .find(|k| args.contains_key(**k))
                {
                    return Err(refuse(
                        INVALID_PARAMS,
                        format!(
                            "gavel refused the call: the argument {k:?} has the name of a governance context key ({}), which only the proxy sets; the call was not forwarded",
                            PRINCIPAL_CONTEXT_KEYS.join(", ")
                        ),
                    ));
                }
                ctx.clone_from(args);
            }
            Engine::Cedar => {
                let (args_hash, _) = digest(&Value::Object(args.clone())).map_err(|e| {
                    refuse(
                        INVALID_PARAMS,
                        format!("gavel refused the call: arguments cannot be digested ({e})"),
                    )
                })?;
                let trust = self.gov.trust_score(&self.who.agent_did).map_err(|e| {
                    refuse(
                        INTERNAL_ERROR,
                        format!(
                            "gavel could not read the trust score, the call was not forwarded: {e}"
                        ),
                    )
                })?;
                ctx.insert("args_hash".into(), json!(args_hash));
                ctx.insert("transport".into(), json!(TRANSPORT));
                ctx.insert("trust_score".into(), json!(trust));
                ctx.insert("ring".into(), json!(self.gov.ring()));
            }
        }
        ctx.insert("agent_did".into(), json!(self.who.agent_did));
        if let Some(s) = &self.who.session_id {
            ctx.insert("session_id".into(), json!(s));
        }
        Ok(ctx)
    }

    /// Decides one `tools/call` from its raw `params`, writing the decision receipt.
    pub fn decide_call(&self, params: Option<&RawValue>) -> (Option<String>, CallOutcome) {
        let Some(params) = params else {
            return (
                None,
                refuse(
                    INVALID_PARAMS,
                    "gavel refused the call: tools/call without params (no tool name)",
                ),
            );
        };
        let params = match jcs::parse_strict(params.get().as_bytes()) {
            Ok(Value::Object(p)) => p,
            Ok(_) => {
                return (
                    None,
                    refuse(
                        INVALID_PARAMS,
                        "gavel refused the call: tools/call params must be an object",
                    ),
                );
            }
            Err(e) => {
                return (
                    None,
                    refuse(
                        INVALID_PARAMS,
                        format!("gavel refused the call: tools/call params are ambiguous ({e})"),
                    ),
                );
            }
        };
        let name = match params.get("name") {
            Some(Value::String(s)) => s.clone(),
            None => {
                return (
                    None,
                    refuse(
                        INVALID_PARAMS,
                        "gavel refused the call: tools/call without a tool name",
                    ),
                );
            }
            Some(_) => {
                return (
                    None,
                    refuse(
                        INVALID_PARAMS,
                        "gavel refused the call: the tool name must be a string",
                    ),
                );
            }
        };
        let empty = Map::new();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(a)) => a,
            Some(_) => {
                return (
                    Some(name),
                    refuse(
                        INVALID_PARAMS,
                        "gavel refused the call: tools/call arguments must be an object",
                    ),
                );
            }
        };
        let context = match self.context(args) {
            Ok(c) => c,
            Err(outcome) => return (Some(name), outcome),
        };
        let action = format!("tool:{name}");
        let req = DecisionRequest {
            action: &action,
            context: &context,
            resource: None,
            shape: CedarShape::Agent {
                action: AgentAction::RequestTool,
                resource_id: &name,
            },
            tool_name: Some(&name),
            sign: true,
        };
        let outcome = match self.gov.decide(&req) {
            Ok(d) if d.allowed => CallOutcome::Forward(AllowedCall {
                tool: name.clone(),
                decision_ref: d.receipt_hash,
                agent_id: d.agent_id,
                started: Instant::now(),
            }),
            Ok(d) => CallOutcome::Deny(format!(
                "gavel denied the call to tool {name:?}: {}",
                d.reason
            )),
            Err(e) => refuse(
                INTERNAL_ERROR,
                format!(
                    "gavel could not decide or record the decision, the call was not forwarded: {e}"
                ),
            ),
        };
        (Some(name), outcome)
    }

    /// Whether `tool` called with no arguments would be allowed (for `--hide-denied`).
    /// Evaluates the policy and the trust threshold only: no receipt, no audit entry.
    pub fn visible(&self, tool: &str, trust: Option<f64>) -> bool {
        let Some(trust) = trust else { return false };
        let Ok(context) = self.context(&Map::new()) else {
            return false;
        };
        let action = format!("tool:{tool}");
        let verdict = self.gov.policy().evaluate(&Request {
            action: &action,
            context: &context,
            resource: None,
            shape: CedarShape::Agent {
                action: AgentAction::RequestTool,
                resource_id: tool,
            },
        });
        verdict.allowed && trust >= self.trust_threshold
    }

    /// The agent's trust score now (`None` when it cannot be read: hide everything).
    pub fn trust(&self) -> Option<f64> {
        self.gov.trust_score(&self.who.agent_did).ok()
    }

    /// Filters a `tools/list` response: `Some(new line)` when tools were hidden.
    pub fn filter_tools_list(&self, response: &str) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_str(response).ok()?;
        let tools = v.get_mut("result")?.get_mut("tools")?.as_array_mut()?;
        let trust = self.trust();
        let before = tools.len();
        tools.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| self.visible(n, trust))
        });
        if tools.len() == before {
            return None;
        }
        serde_json::to_vec(&v).ok()
    }

    /// Makes the file of the next receipt now, unless one is ready (a no-op then), so
    /// that the next decision does not allocate it: call it once the proxy would
    /// otherwise wait (a call forwarded, an answer sent).
    pub fn prepare_receipt(&self) {
        self.gov.store().prepare();
    }

    /// Writes the execution receipt of an allowed call whose response came back:
    /// the digest of the `result` (or `error`) and whether it reports an error.
    pub fn record_result(&self, call: &AllowedCall, response: &str) -> Result<(), String> {
        let Some(decision_ref) = &call.decision_ref else {
            return Ok(());
        };
        let v: Value = serde_json::from_str(response).map_err(|e| e.to_string())?;
        let (outcome, body, is_error) = match (v.get("result"), v.get("error")) {
            (Some(r), _) => (
                "result",
                r,
                r.get("isError").and_then(Value::as_bool).unwrap_or(false),
            ),
            (None, Some(e)) => ("error", e, true),
            (None, None) => ("none", &Value::Null, true),
        };
        let (hash, size) = digest(body)?;
        let mut extra = Map::new();
        extra.insert("mcp_outcome".into(), json!(outcome));
        extra.insert("is_error".into(), json!(is_error));
        extra.insert(
            "result_digest".into(),
            json!({"hash": hash.trim_start_matches("sha256:"), "size": size}),
        );
        let backend = self.gov.sandbox_backend();
        let run = ExecutionRecord {
            tool_name: call.tool.clone(),
            sandbox_state: if backend == SandboxBackend::None {
                "disabled".into()
            } else {
                "enabled".into()
            },
            sandbox: None,
            exit_code: None,
            signal: None,
            tool_duration_ms: Some(call.started.elapsed().as_secs_f64() * 1e3),
            extra,
        };
        self.gov
            .record_execution_for(decision_ref, &call.agent_id, &run)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
