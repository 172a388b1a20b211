//! Options and steps several commands share: the policy, the operator key, the backend.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use gavel::Governance;
use gavel::governance::{DecisionRequest, GovernanceBuilder, SandboxBackend};
use gavel::{StateDir, keyfile};
use gavel_policy::{PolicySet, RuleCache};
use gavel_receipt::jcs::json_kind;
use gavel_receipt::keys::{OperatorKey, public_hex};
use serde_json::{Map, Value};

use crate::failure::Failure;

/// `--policy-dir D | --policy F`
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct PolicyArgs {
    /// A directory of policy files (*.yaml / *.yml rules, or *.cedar with an optional schema).
    #[arg(long, value_name = "DIR")]
    pub policy_dir: Option<PathBuf>,
    /// A single policy file (.yaml / .yml or .cedar).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

impl PolicyArgs {
    /// The path given.
    pub fn path(&self) -> PathBuf {
        self.policy_dir
            .clone()
            .or_else(|| self.policy.clone())
            .unwrap_or_default()
    }

    /// Loads and validates the policy.
    pub fn load(&self) -> Result<PolicySet, Failure> {
        self.file_exists()?;
        Ok(PolicySet::load(&self.path())?)
    }

    /// A `--policy FILE` that does not exist is named as a file (the library's message,
    /// AGT's, speaks of a directory, which fits `--policy-dir` only).
    fn file_exists(&self) -> Result<(), Failure> {
        match &self.policy {
            Some(f) if std::fs::symlink_metadata(f).is_err() => Err(Failure::bad_input(format!(
                "Policy file not found: {}; check the --policy path (or give a directory with --policy-dir)",
                f.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Loads the policy like [`PolicyArgs::load`]; with the operator key at hand, a
    /// YAML rule set loaded before from exactly the same files is read from the state
    /// directory's rule cache instead of parsed again (see `gavel_policy::RuleCache`;
    /// `GAVEL_NO_POLICY_CACHE=1` turns it off). Commands that run once per agent action
    /// (exec, check-policy, hook) use this; `policy check` always loads in full.
    pub fn load_cached(
        &self,
        state: &StateDir,
        key: Option<&OperatorKey>,
    ) -> Result<PolicySet, Failure> {
        self.file_exists()?;
        let off = std::env::var_os(NO_POLICY_CACHE).is_some_and(|v| !v.is_empty() && v != "0");
        let cache = key
            .filter(|_| !off)
            .map(|k| RuleCache::new(state.policy_cache(), &k.derive_secret(POLICY_CACHE_CONTEXT)));
        Ok(PolicySet::load_with_cache(&self.path(), cache.as_ref())?)
    }
}

/// The environment variable that turns the policy rule cache off.
pub const NO_POLICY_CACHE: &str = "GAVEL_NO_POLICY_CACHE";
/// What the rule cache's secret is derived for (`OperatorKey::derive_secret`).
const POLICY_CACHE_CONTEXT: &str = "gavel policy cache v1";

/// Signing and placement options.
#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// The operator key (PKCS#8 PEM or hex seed, mode 0600). Default: keys/issuer.pem in
    /// the state directory, created on first use.
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// The receipts directory (one chain). Default: receipts/ in the state directory.
    #[arg(long, value_name = "DIR")]
    pub receipts_dir: Option<PathBuf>,
    /// Who confines: sb_runtime_builtin, nono, openshell or none.
    #[arg(long, value_name = "B", default_value = "sb_runtime_builtin", value_parser = parse_backend)]
    pub sandbox_backend: SandboxBackend,
    /// The execution ring to record (default: 3 for sb_runtime_builtin, 2 for nono and openshell).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=3))]
    pub ring: Option<u8>,
    /// Deny allowed actions of agents whose trust score is below this.
    #[arg(long, value_name = "T", default_value_t = gavel::governance::DEFAULT_TRUST_THRESHOLD, value_parser = parse_threshold)]
    pub trust_threshold: f64,
}

impl SignArgs {
    /// The receipts directory: `--receipts-dir`, else the state directory's.
    pub fn receipts_dir_in(&self, state: &StateDir) -> PathBuf {
        self.receipts_dir
            .clone()
            .unwrap_or_else(|| state.receipts())
    }

    /// A governance builder over `policy` with these options (backend, ring, trust
    /// threshold, receipts directory) and the state directory; the caller adds the
    /// signer.
    pub fn governance(&self, state: &StateDir, policy: PolicySet) -> GovernanceBuilder {
        Governance::builder(policy)
            .state(state.clone())
            .sandbox_backend(self.sandbox_backend)
            .ring(self.ring)
            .trust_threshold(self.trust_threshold)
            .receipts_dir(self.receipts_dir.clone())
    }
}

fn parse_backend(s: &str) -> Result<SandboxBackend, String> {
    SandboxBackend::parse(s).ok_or_else(|| {
        format!(
            "unknown sandbox backend {s:?} (expected sb_runtime_builtin, nono, openshell or none)"
        )
    })
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!("{s:?} is not a number in [0, 1]")),
    }
}

/// The operator key if it exists and loads (`--key`, else the state directory's):
/// never creates one and never fails, so that using it early (for the policy cache)
/// changes neither what a bad-input run writes nor which error it reports; the caller
/// falls back to [`operator_key`], which does both.
pub fn existing_key(state: &StateDir, key: Option<&PathBuf>) -> Option<OperatorKey> {
    let path = key.cloned().unwrap_or_else(|| state.default_key());
    keyfile::load(&path).ok()
}

/// The key [`existing_key`] found, else [`operator_key`] (which creates or reports).
pub fn operator_key_or(
    early: Option<OperatorKey>,
    state: &StateDir,
    key: Option<&PathBuf>,
) -> Result<OperatorKey, Failure> {
    early.map_or_else(|| operator_key(state, key), Ok)
}

/// Like [`operator_key_or`] for a command about to decide on `req` with a governance
/// built from `builder`: when the state directory's key would be created now (first
/// use), `builder.preflight(req)` runs first, so that a request the decision would
/// refuse as bad input (a malformed context, an unreadable trust store, a receipts
/// directory that is not a chain gavel may continue) leaves no key behind.
pub fn operator_key_for(
    early: Option<OperatorKey>,
    state: &StateDir,
    key: Option<&PathBuf>,
    builder: &GovernanceBuilder,
    req: &DecisionRequest<'_>,
) -> Result<OperatorKey, Failure> {
    // only when the key would be created: one that exists but does not load (mode,
    // format) is reported as such by `operator_key`
    let to_create =
        early.is_none() && key.is_none() && std::fs::symlink_metadata(state.default_key()).is_err();
    if to_create && let Err(refused) = builder.preflight(req) {
        // another gavel may have made the key (and its first receipt) since `early`
        // was looked for: then nothing is created here, and the decision checks the
        // request itself
        return existing_key(state, None).ok_or_else(|| refused.into());
    }
    operator_key_or(early, state, key)
}

/// The operator key: `--key`, else the state directory's, created (and announced on
/// stderr with its public key) on first use.
pub fn operator_key(state: &StateDir, key: Option<&PathBuf>) -> Result<OperatorKey, Failure> {
    if let Some(path) = key {
        return Ok(keyfile::load(path)?);
    }
    let path = state.default_key();
    let (key, created) = keyfile::load_or_create(&path)?;
    if created {
        eprintln!(
            "gavel: created operator key {} (mode 0600), kid {}, public key {}",
            path.display(),
            key.kid(),
            public_hex(&key.verifying_key())
        );
    }
    Ok(key)
}

/// Parses `--context`: a JSON object.
pub fn parse_context(text: &str) -> Result<Map<String, Value>, Failure> {
    match gavel_receipt::jcs::parse_strict(text.as_bytes()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Failure::bad_input(format!(
            "--context must be a JSON object like '{{\"agent_did\":\"did:example:1\"}}', not {}",
            json_kind(&other)
        ))),
        Err(e) => Err(Failure::bad_input(format!(
            "--context is not valid JSON ({e}); quote it for the shell, e.g. --context '{{\"k\":\"v\"}}'"
        ))),
    }
}

/// Whether to print human niceties on stderr.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}
