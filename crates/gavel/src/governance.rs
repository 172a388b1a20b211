//! The governance API, shaped like the Agent Governance Toolkit's `GovernanceSkill`:
//! `check_policy`, `adjust_trust`, `trust_score`, `audit` — plus what the skill
//! lacked: signed, chained, durable receipts, persistent trust scores, and a trust
//! threshold that is enforced.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use gavel_policy::{CedarShape, PolicySet, Request, Verdict};
use gavel_receipt::envelope::{Envelope, Signed};
use gavel_receipt::keys::OperatorKey;
use gavel_receipt::{DECISION_TYPE, EXECUTION_TYPE, SPEC, payload_digest, sign_payload};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::audit::{AuditEntry, AuditError, AuditLog};
use crate::state::StateDir;
use crate::store::{Appended, ReceiptStore, StoreError, payload_of};
use crate::trust::{TrustError, TrustStore, round_score};

/// Who confines the governed process (receipts.md section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxBackend {
    /// gavel's own Landlock + seccomp (`gavel exec`), ring 3.
    #[default]
    SbRuntimeBuiltin,
    /// nono, ring 2.
    Nono,
    /// An OpenShell container around the agent, ring 2.
    Openshell,
    /// Nobody.
    None,
}

impl SandboxBackend {
    /// The name receipts carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SbRuntimeBuiltin => "sb_runtime_builtin",
            Self::Nono => "nono",
            Self::Openshell => "openshell",
            Self::None => "none",
        }
    }

    /// The ring recorded when none is set: 3 for gavel's own sandbox, 2 when another
    /// layer owns confinement.
    pub fn default_ring(self) -> u8 {
        match self {
            Self::Nono | Self::Openshell => 2,
            Self::SbRuntimeBuiltin | Self::None => 3,
        }
    }

    /// Parses a receipt name (`sb_runtime_builtin`, `nono`, `openshell`, `none`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sb_runtime_builtin" | "builtin" => Self::SbRuntimeBuiltin,
            "nono" => Self::Nono,
            "openshell" => Self::Openshell,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// Why a decision could not be made and recorded. The caller must not act.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// The request itself is unusable.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Trust scores could not be read or written.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The receipt could not be signed or stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log could not be written.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Signing was asked for without a key.
    #[error("signing is on but no operator key was given")]
    NoSigner,
}

/// A request to decide on, in full.
#[derive(Debug, Clone)]
pub struct DecisionRequest<'a> {
    /// The action string (`shell:python`, `file:read:/x`, a tool name).
    pub action: &'a str,
    /// The request context; `agent_did` and `session_id` are read from it.
    pub context: &'a Map<String, Value>,
    /// The Cedar resource (default: the action).
    pub resource: Option<&'a str>,
    /// How Cedar sees the request.
    pub shape: CedarShape<'a>,
    /// What the receipt names as `tool_name` (default: the action).
    pub tool_name: Option<&'a str>,
    /// Sign and store a receipt (policy.md section 6).
    pub sign: bool,
}

impl<'a> DecisionRequest<'a> {
    /// A tool-call-style request: `action` with `context`, signed.
    pub fn new(action: &'a str, context: &'a Map<String, Value>) -> Self {
        Self {
            action,
            context,
            resource: None,
            shape: CedarShape::ToolCall,
            tool_name: None,
            sign: true,
        }
    }
}

/// A governance decision (policy.md section 1), fields in the AGT `PolicyDecision` order.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// The action decided on.
    pub action: String,
    /// Why.
    pub reason: String,
    /// The deciding rule or policies; null on default deny.
    pub policy_name: Option<String>,
    /// acta-policy-digest-v1 of the loaded policy.
    pub policy_digest: String,
    /// The agent's trust score at decision time.
    pub trust_score: f64,
    /// The execution ring.
    pub ring: u8,
    /// Who confines.
    pub sandbox_backend: &'static str,
    /// The signed receipt, or null when signing is off.
    pub receipt: Option<Envelope>,
    /// Where the receipt was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_path: Option<PathBuf>,
    /// `policy_id` as the receipt carries it.
    #[serde(skip)]
    pub policy_id: String,
    /// Chain hash of the receipt (what an execution receipt refers to).
    #[serde(skip)]
    pub receipt_hash: Option<String>,
    /// The agent, as the receipt names it.
    #[serde(skip)]
    pub agent_id: String,
}

/// What ran after a decision, for the execution receipt (receipts.md section 5).
#[derive(Debug, Clone, Default)]
pub struct ExecutionRecord {
    /// What ran (the executable path, or the tool name).
    pub tool_name: String,
    /// `enabled`, `disabled` or `unavailable`.
    pub sandbox_state: String,
    /// The enforcement report.
    pub sandbox: Option<Value>,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Signal name, when killed by one.
    pub signal: Option<String>,
    /// How long it ran.
    pub tool_duration_ms: Option<f64>,
    /// Further members (digests only: receipts never carry raw data).
    pub extra: Map<String, Value>,
}

/// Builder for [`Governance`].
#[derive(Debug)]
pub struct GovernanceBuilder {
    policy: Arc<PolicySet>,
    signer: Option<OperatorKey>,
    backend: SandboxBackend,
    ring: Option<u8>,
    trust_threshold: f64,
    state: StateDir,
    receipts_dir: Option<PathBuf>,
}

impl GovernanceBuilder {
    /// The operator key that signs receipts.
    pub fn signer(mut self, key: OperatorKey) -> Self {
        self.signer = Some(key);
        self
    }
    /// Who confines (default `sb_runtime_builtin`).
    pub fn sandbox_backend(mut self, b: SandboxBackend) -> Self {
        self.backend = b;
        self
    }
    /// The ring to record (default: 3 for the built-in sandbox, 2 for nono/openshell).
    pub fn ring(mut self, ring: Option<u8>) -> Self {
        self.ring = ring;
        self
    }
    /// Below this trust score an allow becomes a deny (default 0.5).
    pub fn trust_threshold(mut self, t: f64) -> Self {
        self.trust_threshold = t;
        self
    }
    /// Where trust scores, the audit log and (by default) receipts live.
    pub fn state(mut self, s: StateDir) -> Self {
        self.state = s;
        self
    }
    /// Another receipts directory than the state directory's.
    pub fn receipts_dir(mut self, d: Option<PathBuf>) -> Self {
        self.receipts_dir = d;
        self
    }
    /// What [`Governance::decide`] would refuse as bad input, found without writing
    /// anything: the request (`context.agent_did`), the agent's trust score, and
    /// whether the receipts directory takes a receipt of the signer set here (none
    /// set: of a key yet to be created, so only a missing or empty directory will do).
    /// For a caller about to create the operator key on first use, so that a request
    /// that would be refused leaves no key behind.
    pub fn preflight(&self, req: &DecisionRequest<'_>) -> Result<(), GovernanceError> {
        let probe = GovernanceBuilder {
            policy: Arc::clone(&self.policy),
            signer: None,
            backend: self.backend,
            ring: self.ring,
            trust_threshold: self.trust_threshold,
            state: self.state.clone(),
            receipts_dir: self.receipts_dir.clone(),
        }
        .build();
        probe.evaluate(req)?;
        if req.sign {
            probe
                .store
                .check_appendable(self.signer.as_ref().map(OperatorKey::kid))?;
        }
        Ok(())
    }

    /// Done.
    pub fn build(self) -> Governance {
        let receipts = self.receipts_dir.unwrap_or_else(|| self.state.receipts());
        Governance {
            ring: self.ring.unwrap_or_else(|| self.backend.default_ring()),
            policy: self.policy,
            signer: self.signer,
            backend: self.backend,
            trust_threshold: self.trust_threshold,
            trust: TrustStore::new(self.state.trust()),
            audit: AuditLog::new(self.state.audit()),
            store: ReceiptStore::new(receipts),
        }
    }
}

/// Decides, signs, records.
#[derive(Debug)]
pub struct Governance {
    policy: Arc<PolicySet>,
    signer: Option<OperatorKey>,
    backend: SandboxBackend,
    ring: u8,
    trust_threshold: f64,
    trust: TrustStore,
    audit: AuditLog,
    store: ReceiptStore,
}

/// Default trust threshold (policy.md section 4).
pub const DEFAULT_TRUST_THRESHOLD: f64 = 0.5;

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

impl Governance {
    /// Starts a builder over a loaded policy.
    pub fn builder(policy: impl Into<Arc<PolicySet>>) -> GovernanceBuilder {
        GovernanceBuilder {
            policy: policy.into(),
            signer: None,
            backend: SandboxBackend::default(),
            ring: None,
            trust_threshold: DEFAULT_TRUST_THRESHOLD,
            state: StateDir::resolve(None),
            receipts_dir: None,
        }
    }

    /// The loaded policy.
    pub fn policy(&self) -> &PolicySet {
        &self.policy
    }

    /// The receipt store.
    pub fn store(&self) -> &ReceiptStore {
        &self.store
    }

    /// The ring receipts record.
    pub fn ring(&self) -> u8 {
        self.ring
    }

    /// The backend receipts record.
    pub fn sandbox_backend(&self) -> SandboxBackend {
        self.backend
    }

    /// The operator key, if any.
    pub fn signer(&self) -> Option<&OperatorKey> {
        self.signer.as_ref()
    }

    /// `check_policy(action, context, sign)` of the AGT skill.
    pub fn check_policy(
        &self,
        action: &str,
        context: &Map<String, Value>,
        sign: bool,
    ) -> Result<Decision, GovernanceError> {
        let mut req = DecisionRequest::new(action, context);
        req.sign = sign;
        self.decide(&req)
    }

    /// Decides on `req`; when signing, the receipt is durably in the chain before this
    /// returns. An `Err` means nothing may proceed.
    pub fn decide(&self, req: &DecisionRequest<'_>) -> Result<Decision, GovernanceError> {
        let started = Instant::now();
        let mut decision = self.evaluate(req)?;
        if req.sign {
            let key = self.signer.as_ref().ok_or(GovernanceError::NoSigner)?;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            let appended = self.store.append(key.kid(), |sequence, previous| {
                self.sign_decision(&decision, req, sequence, previous, latency_ms)
                    .map_err(|e| e.to_string())
            })?;
            decision.receipt_hash = Some(appended.signed.chain_hash.clone());
            decision.receipt_path = Some(appended.path);
            decision.receipt = Some(appended.signed.envelope);
        }
        self.audit.append(&AuditEntry {
            timestamp: gavel_receipt::time::now_millis(),
            action: req.action.to_owned(),
            decision: if decision.allowed { "allow" } else { "deny" }.to_owned(),
            agent_did: decision.agent_id.clone(),
            trust_score: decision.trust_score,
            context: req.context.clone(),
            receipt_hash: decision.receipt_hash.clone(),
        })?;
        Ok(decision)
    }

    /// The decision on `req` without signing or writing anything but reading the
    /// agent's trust score: the policy verdict, then the trust threshold.
    pub fn evaluate(&self, req: &DecisionRequest<'_>) -> Result<Decision, GovernanceError> {
        let agent_did = match req.context.get("agent_did") {
            None | Some(Value::Null) => "unknown".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(GovernanceError::BadRequest(format!(
                    "context.agent_did must be a string, not {other}"
                )));
            }
        };
        // the receipt records session_id only as a string: any other value would be
        // dropped silently, so it is refused like a malformed agent_did
        if let Some(other) = req
            .context
            .get("session_id")
            .filter(|v| !v.is_string() && !v.is_null())
        {
            return Err(GovernanceError::BadRequest(format!(
                "context.session_id must be a string, not {other}"
            )));
        }
        let trust_score = self.trust.score(&agent_did)?;
        let verdict: Verdict = self.policy.evaluate(&Request {
            action: req.action,
            context: req.context,
            resource: req.resource,
            shape: req.shape,
        });
        let (allowed, reason, policy_name, policy_id) =
            if verdict.allowed && trust_score < self.trust_threshold {
                (
                    false,
                    format!(
                        "Trust score {trust_score} below threshold {}",
                        self.trust_threshold
                    ),
                    Some("trust_threshold".to_owned()),
                    "trust_threshold".to_owned(),
                )
            } else {
                (
                    verdict.allowed,
                    verdict.reason,
                    verdict.policy_name,
                    verdict.policy_id,
                )
            };
        Ok(Decision {
            allowed,
            action: req.action.to_owned(),
            reason,
            policy_name,
            policy_digest: self.policy.digest().to_owned(),
            trust_score,
            ring: self.ring,
            sandbox_backend: self.backend.as_str(),
            receipt: None,
            receipt_path: None,
            policy_id,
            receipt_hash: None,
            agent_id: agent_did,
        })
    }

    /// Signs the decision receipt of `decision` for place `sequence` in the chain
    /// (`previous`: the chain hash it links to). No I/O: [`Governance::decide`] calls
    /// it while the chain is locked.
    pub fn sign_decision(
        &self,
        decision: &Decision,
        req: &DecisionRequest<'_>,
        sequence: u64,
        previous: Option<&str>,
        latency_ms: f64,
    ) -> Result<Signed, GovernanceError> {
        let key = self.signer.as_ref().ok_or(GovernanceError::NoSigner)?;
        let digest = payload_digest(req.action, &Value::Object(req.context.clone()))
            .map_err(|e| GovernanceError::BadRequest(e.to_string()))?;
        let session = req
            .context
            .get("session_id")
            .and_then(Value::as_str)
            .map(|s| json!(s));
        let d = decision;
        let payload = payload_of([
            ("type", Some(json!(DECISION_TYPE))),
            ("spec", Some(json!(SPEC))),
            ("issuer_id", Some(json!(key.kid()))),
            ("issued_at", Some(json!(gavel_receipt::time::now_millis()))),
            ("sequence", Some(json!(sequence))),
            ("previousReceiptHash", previous.map(|p| json!(p))),
            (
                "tool_name",
                Some(json!(req.tool_name.unwrap_or(req.action))),
            ),
            (
                "decision",
                Some(json!(if d.allowed { "allow" } else { "deny" })),
            ),
            ("reason", Some(json!(d.reason))),
            ("policy_id", Some(json!(d.policy_id))),
            ("policy_engine", Some(json!(self.policy.engine().as_str()))),
            ("policy_digest", Some(json!(d.policy_digest))),
            ("agent_id", Some(json!(d.agent_id))),
            ("trust_score", Some(number(round_score(d.trust_score)))),
            ("ring", Some(json!(d.ring))),
            ("sandbox_backend", Some(json!(d.sandbox_backend))),
            (
                "payload_digest",
                Some(json!({"hash": digest.hash, "size": digest.size})),
            ),
            ("session_id", session),
            (
                "hook_latency_ms",
                Some(number((latency_ms * 1e3).round() / 1e3)),
            ),
        ]);
        sign_payload(payload, key).map_err(|e| GovernanceError::BadRequest(e.to_string()))
    }

    /// Appends the execution receipt for what ran after `decision`: a later link of
    /// the same chain, referring to the decision by its hash (`decision_ref`).
    pub fn record_execution(
        &self,
        decision: &Decision,
        run: &ExecutionRecord,
    ) -> Result<Appended, GovernanceError> {
        let decision_ref = decision.receipt_hash.as_deref().ok_or_else(|| {
            GovernanceError::BadRequest("an execution receipt needs a signed decision".into())
        })?;
        self.record_execution_for(decision_ref, &decision.agent_id, run)
    }

    /// Like [`Governance::record_execution`] when the decision was made by another
    /// process (a hook's PostToolUse): `decision_ref` is its receipt's chain hash.
    pub fn record_execution_for(
        &self,
        decision_ref: &str,
        agent_id: &str,
        run: &ExecutionRecord,
    ) -> Result<Appended, GovernanceError> {
        let key = self.signer.as_ref().ok_or(GovernanceError::NoSigner)?;
        Ok(self.store.append(key.kid(), |sequence, previous| {
            let mut payload = payload_of([
                ("type", Some(json!(EXECUTION_TYPE))),
                ("spec", Some(json!(SPEC))),
                ("issuer_id", Some(json!(key.kid()))),
                ("issued_at", Some(json!(gavel_receipt::time::now_millis()))),
                ("sequence", Some(json!(sequence))),
                ("previousReceiptHash", previous.map(|p| json!(p))),
                ("tool_name", Some(json!(run.tool_name))),
                ("agent_id", Some(json!(agent_id))),
                ("ring", Some(json!(self.ring))),
                ("sandbox_backend", Some(json!(self.backend.as_str()))),
                ("decision_ref", Some(json!(decision_ref))),
                ("sandbox_state", Some(json!(run.sandbox_state))),
                ("sandbox", run.sandbox.clone()),
                ("exit_code", run.exit_code.map(|c| json!(c))),
                ("signal", run.signal.as_ref().map(|s| json!(s))),
                (
                    "tool_duration_ms",
                    run.tool_duration_ms
                        .map(|d| number((d * 1e3).round() / 1e3)),
                ),
            ]);
            for (k, v) in &run.extra {
                payload.entry(k.clone()).or_insert_with(|| v.clone());
            }
            sign_payload(payload, key).map_err(|e| e.to_string())
        })?)
    }

    /// Adds `delta` to an agent's trust score (clamped to [0, 1]); returns the new score.
    pub fn adjust_trust(&self, agent_did: &str, delta: f64) -> Result<f64, GovernanceError> {
        Ok(self.trust.adjust(agent_did, delta)?)
    }

    /// An agent's trust score (1.0 when never adjusted).
    pub fn trust_score(&self, agent_did: &str) -> Result<f64, GovernanceError> {
        Ok(self.trust.score(agent_did)?)
    }

    /// The last `limit` audit entries, oldest first (0: all).
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, GovernanceError> {
        Ok(self.audit.tail(limit)?)
    }
}
