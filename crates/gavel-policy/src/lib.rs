//! gavel's policy engines.
//!
//! A [`PolicySet`] is loaded once from a file or a directory and is then
//! immutable (`Send + Sync`); [`PolicySet::evaluate`] decides a [`Request`]
//! and never fails: every failure is a deny [`Verdict`] whose reason says why.
//! [`PolicySet::digest`] is the `acta-policy-digest-v1` of exactly the bytes
//! that were loaded (receipts.md section 4).
//!
//! # Engines
//!
//! The engine is chosen by file extension: `.yaml`/`.yml` files are YAML rules
//! ([`Engine::YamlRules`]), `.cedar` files are Cedar ([`Engine::Cedar`]). A
//! directory is read non-recursively; one mixing the two, or holding neither,
//! is refused.
//!
//! ## YAML rules: the AGT `openshell-agentmesh` 3.6.0 semantics
//!
//! - Loading: every `*.yaml` and `*.yml` file directly in the directory
//!   (hidden files included, as Python's `Path.glob` does), in name order, rules
//!   in file order, then a stable sort by `priority`, highest first. An empty
//!   file (or one holding only comments, `null`, `{}` or `[]`) contributes
//!   nothing. Defaults: `name` = the file's stem, `field` = `action`,
//!   `operator` = `equals`, `value` = `""`, `action` = `deny`, `priority` = 0,
//!   `message` = `""`. Note: AGT 3.6.0 itself only globs `*.yaml`; gavel also
//!   reads `*.yml`, as its spec says.
//! - Target: the action when `field` is `action`, else `context[field]`, or `""`
//!   when the key is absent. First match wins; no match is a deny with reason
//!   `No matching rule - default deny`, no policy name, policy id `default_deny`.
//!   The reason is the rule's `message` when non-empty, else
//!   `Allowed by rule: <name>` / `Denied by rule: <name>`; the policy name and
//!   id are the rule's name.
//! - Operators, exactly as Python evaluates them on the values `json.loads` and
//!   `yaml.safe_load` build: `equals` is Python `==` (`1 == 1.0`,
//!   `True == 1`, exact int/float comparison); `in` is `target in value` (or
//!   `== value` when `value` is not a list); `starts_with` and `matches` only
//!   ever match a string target; `contains` is `str(value) in target`, i.e. a
//!   substring for a string target, an element equal to `str(value)` for a list,
//!   a key for a mapping, and no match for numbers, booleans and null (where
//!   Python raises). `str(value)` is Python's `str()` (`True`, `None`, `1e+16`,
//!   `['a', 'b']`, …). `matches` is Python's `re.search`, see below.
//! - Regular expressions are compiled when an evaluation first needs them (a
//!   target that contains none of a pattern's prefix literals needs none; the
//!   syntax is checked at load). One that is too large to compile makes the
//!   evaluation reaching its rule deny with the reason; `PolicySet::compile_all`
//!   (`gavel policy check`) reports it up front.
//! - Regular expressions are Python `re` patterns, translated at load into
//!   Rust `regex` patterns with Python's meaning. Python's `$` (without
//!   MULTILINE) also matches just before a final `\n`: a `$` at the end of the
//!   pattern is emulated exactly; a `$` followed by more pattern is refused.
//!   `\Z`, `\s`, `\w` and the `\B`-on-empty-string rule are Python's. Constructs
//!   that Rust would read differently from Python are refused at load (POSIX and
//!   nested classes, `\p{..}`, `\x{..}`, `(?<name>..)`, possessive quantifiers,
//!   verbose mode, …). Residual, documented differences: `\b`/`\B` use Rust's
//!   Unicode word definition at non-ASCII boundaries (combining marks,
//!   connector punctuation), case-insensitive matching uses Unicode simple case
//!   folding, and the Unicode version is newer than Python 3.11's 14.0.
//! - Stricter than AGT, as load errors that name the file, the line, the rule
//!   (1-based position in its file, and name) and the fix; nothing is
//!   half-loaded: an unknown operator; an `action` other than `allow`/`deny`; a
//!   regular expression that does not parse, uses look-around or
//!   back-references, or is read differently by Rust; a non-integer (or
//!   out-of-range) `priority`; a rule, condition or top level that is not a
//!   mapping; `rules` that is not a list, or missing from a non-empty mapping;
//!   a non-string `name`, `field`, `operator`, `action` or `message`; unknown
//!   keys in a rule (besides the ignored `description`) or a condition;
//!   duplicate keys; more than one YAML document; YAML tags other than `!!str`;
//!   values PyYAML builds but JSON cannot hold (dates, `.inf`, `.nan`, integers
//!   beyond 128 bits); and plain (unquoted) scalars that PyYAML (YAML 1.1)
//!   and YAML 1.2 read differently: `yes`/`no`/`on`/`off` (and `y`/`n`),
//!   `012`, `0o17`, `0b1`, `1_000`, `1e3`, `1:30`, `2001-12-14`, `<<`, `=`: quote
//!   them to mean the string.
//!   Load errors read `<file>:<line>:<column>: rule <n> ("<name>"): <problem>`,
//!   `<n>` being the rule's 1-based position in its file.
//! - Speed: rules are indexed per field (hash maps for `equals`/`in`/
//!   `starts_with`, one Aho-Corasick automaton for `contains`, one `RegexSet`
//!   for `matches`; plain ordered scans for fields with few rules), keeping
//!   first-match-wins exact.
//!
//! ## Cedar
//!
//! A policy is one `.cedar` file or a directory of `.cedar` files, with
//! optionally one schema (`*.cedarschema`, or `*.cedarschema.json` in JSON) and
//! entities (every other `*.json` file, each a JSON array of entities). With a
//! schema, the policies are validated in strict mode at load and a validation
//! error refuses the load with Cedar's diagnostic; entities and requests are
//! checked against the schema too. Templates are refused (gavel never links
//! them).
//!
//! Policy ids: the `@id("…")` annotation when present, else
//! `<file>#<n>`: the file's name relative to the policy directory and the
//! policy's 0-based position in that file (e.g. `main.cedar#2`). Duplicate ids
//! are a load error.
//!
//! Request mapping, [`CedarShape::ToolCall`] (the default, for tool calls):
//! principal `Agent::"<context.agent_did, or unknown>"`, action
//! `Action::"<action>"`, resource `Resource::"<resource, else the action>"`,
//! context = the request context.
//!
//! Request mapping, [`CedarShape::Agent`]: the vocabulary of
//! `cedar-agent-schemas` (`VeritasActa/cedar-agent-schemas`,
//! `schemas/agent-actions.cedarschema.json`, namespace `Agent`):
//!
//! | [`AgentAction`] | action | resource (attributes built from `resource_id`) |
//! | --- | --- | --- |
//! | `Exec` | `Agent::Action::"exec"` | `Agent::Executable::"<id>"` `{path: id}` |
//! | `Open` | `Agent::Action::"open"` | `Agent::File::"<id>"` `{path: id}` |
//! | `Connect` | `Agent::Action::"connect"` | `Agent::Endpoint::"<id>"` `{host, port, protocol}` parsed from `scheme://host[:port]/…` (default port for http/https/ws/wss) or `host:port` (protocol `tcp`) |
//! | `RequestTool` | `Agent::Action::"request_tool"` | `Agent::Tool::"<id>"` `{name: id}` |
//!
//! The principal is `Agent::Principal::"<agent_did, or unknown>"` with
//! attributes `agent_id` (the did), and from the context when present
//! `trust_score` (a `decimal`), `ring` (a `Long`) and `session_id`. Those four
//! context keys ([`PRINCIPAL_CONTEXT_KEYS`]) are taken out of the Cedar context;
//! the rest is the context (for `exec`, the schema expects `command`, `argv`,
//! optionally `cwd`, `uid`). An entity with the same uid in the loaded entities
//! is used instead of the built one.
//!
//! Fail closed: Cedar skips a policy whose evaluation errors, so an erroring
//! `forbid` would let a `permit` through (cedar-policy/cedar#2428). gavel denies
//! whenever the response carries any evaluation error; the reason names each
//! erroring policy and its error, and the policy name/id are the erroring ids.
//! A context Cedar cannot represent (floats, nulls, integers beyond 64 bits), a
//! request the schema rejects, or request entities that do not conform are
//! denies too, with the reason (no policy name, policy id `default_deny`). Otherwise the reason is
//! `Allowed by policy: <ids>`, `Denied by policy: <ids>` (the satisfied
//! forbids) or `No matching permit - default deny` (policy id `default_deny`),
//! ids joined with `,` in load order.
//!
//! Speed: a request is authorized against the policies its action can select
//! (those without an action constraint, plus those naming the action or one of
//! its ancestors in the entity store); the others would evaluate to false
//! without error, so the answer is the same. Without a schema, plain contexts (strings,
//! booleans, 64-bit integers, lists, objects) are converted to Cedar values
//! directly; anything else goes through Cedar's JSON parser.
//!
//! A note on `in`: in Cedar, `in` is entity membership (hierarchy), not set
//! membership. `context.command_pattern in ["git", "ls"]` with a string
//! `command_pattern` is a type error at evaluation (and is rejected by strict
//! validation when there is a schema). Cedar itself skips such a `permit`, so a
//! request it was meant to allow is denied even without gavel's fail-closed
//! rule; with fail-closed, any request that reaches the erroring condition is
//! denied with the error as the reason. Write set membership as
//! `["git", "ls"].contains(context.command_pattern)`.

mod cedar;
mod error;
mod yaml;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use cedar::{AGENT_SCHEMA, PRINCIPAL_CONTEXT_KEYS};
pub use error::{Item, Location, PolicyError};
pub use yaml::cache::{KEEP as RULE_CACHE_KEEP, RuleCache};

/// The policy engine of a [`PolicySet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// AGT-style YAML rules.
    YamlRules,
    /// Cedar.
    Cedar,
}

impl Engine {
    /// The name used in the policy digest and in receipts: `yaml-rules` or `cedar`.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::YamlRules => "yaml-rules",
            Engine::Cedar => "cedar",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agent-action verbs of `cedar-agent-schemas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentAction {
    /// `exec` on an `Agent::Executable`.
    Exec,
    /// `open` on an `Agent::File`.
    Open,
    /// `connect` on an `Agent::Endpoint`.
    Connect,
    /// `request_tool` on an `Agent::Tool`.
    RequestTool,
}

impl AgentAction {
    /// The action id: `exec`, `open`, `connect` or `request_tool`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentAction::Exec => "exec",
            AgentAction::Open => "open",
            AgentAction::Connect => "connect",
            AgentAction::RequestTool => "request_tool",
        }
    }
}

/// How a request is presented to Cedar (ignored by the YAML engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CedarShape<'a> {
    /// `Agent::"did"`, `Action::"<action>"`, `Resource::"<resource or action>"`.
    #[default]
    ToolCall,
    /// The `cedar-agent-schemas` vocabulary (see the crate docs).
    Agent {
        /// The verb.
        action: AgentAction,
        /// The resource entity's id (a path, an endpoint, a tool name).
        resource_id: &'a str,
    },
}

/// A request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, e.g. `shell:ls` or a tool name.
    pub action: &'a str,
    /// The request context (`agent_did`, `session_id`, and anything rules look at).
    pub context: &'a Map<String, Value>,
    /// The Cedar resource (`--resource`); the action when `None`.
    pub resource: Option<&'a str>,
    /// How Cedar sees the request.
    pub shape: CedarShape<'a>,
}

impl<'a> Request<'a> {
    /// A tool-call-style request without an explicit resource.
    pub fn new(action: &'a str, context: &'a Map<String, Value>) -> Self {
        Request {
            action,
            context,
            resource: None,
            shape: CedarShape::ToolCall,
        }
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// Why (see the crate docs for the exact texts).
    pub reason: String,
    /// The deciding rule's name or Cedar policy ids; `None` on a default deny.
    pub policy_name: Option<String>,
    /// The receipt's `policy_id`: the rule name, the Cedar ids joined with `,`,
    /// or `default_deny`.
    pub policy_id: String,
}

#[derive(Debug)]
enum Inner {
    Yaml(yaml::YamlRules),
    Cedar(Box<cedar::CedarEngine>),
}

/// A loaded, immutable policy.
#[derive(Debug)]
pub struct PolicySet {
    source: PathBuf,
    engine: Engine,
    digest: String,
    inner: Inner,
}

/// What a directory entry is to the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Yaml,
    CedarPolicy,
    CedarSchema,
    CedarEntities,
}

fn kind_of(name: &str) -> Option<Kind> {
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        Some(Kind::Yaml)
    } else if name.ends_with(".cedar") {
        Some(Kind::CedarPolicy)
    } else if name.ends_with(".cedarschema") || name.ends_with(".cedarschema.json") {
        Some(Kind::CedarSchema)
    } else if name.ends_with(".json") {
        Some(Kind::CedarEntities)
    } else {
        None
    }
}

/// A file to load: its name relative to the policy directory (or its base
/// name), its path, its bytes.
pub(crate) type SourceFile<'a> = (String, &'a Path, Vec<u8>);

fn read(path: &Path) -> Result<Vec<u8>, PolicyError> {
    fs::read(path).map_err(|e| PolicyError::io(path, e))
}

impl PolicySet {
    /// Loads a policy file or directory (see the crate docs).
    pub fn load(path: &Path) -> Result<PolicySet, PolicyError> {
        Self::load_with_cache(path, None)
    }

    /// [`PolicySet::load`], with YAML rule sets read from and stored in `cache`
    /// ([`RuleCache`]: only an entry for exactly the same files, built by this
    /// build, authenticated by the operator key, is used). Cedar policies are always
    /// loaded in full.
    pub fn load_with_cache(
        path: &Path,
        cache: Option<&RuleCache>,
    ) -> Result<PolicySet, PolicyError> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PolicyError::NotFound(path.to_path_buf()));
            }
            Err(e) => return Err(PolicyError::io(path, e)),
        };
        if meta.is_dir() {
            Self::load_dir(path, cache)
        } else if meta.is_file() {
            Self::load_file(path, cache)
        } else {
            Err(PolicyError::BadEntry {
                path: path.to_path_buf(),
                problem: "neither a file nor a directory".into(),
            })
        }
    }

    fn load_file(path: &Path, cache: Option<&RuleCache>) -> Result<PolicySet, PolicyError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| PolicyError::UnsupportedFile(path.to_path_buf()))?
            .to_owned();
        match kind_of(&name) {
            Some(Kind::Yaml) => {
                let files = vec![(name, path, read(path)?)];
                let rules = yaml::YamlRules::load_cached(&files, cache)?;
                Ok(Self::finish(
                    path,
                    Engine::YamlRules,
                    &files,
                    Inner::Yaml(rules),
                ))
            }
            Some(Kind::CedarPolicy) => {
                let files = vec![(name, path, read(path)?)];
                let engine = cedar::CedarEngine::load(&files, None, &[])?;
                Ok(Self::finish(
                    path,
                    Engine::Cedar,
                    &files,
                    Inner::Cedar(Box::new(engine)),
                ))
            }
            _ => Err(PolicyError::UnsupportedFile(path.to_path_buf())),
        }
    }

    fn load_dir(dir: &Path, cache: Option<&RuleCache>) -> Result<PolicySet, PolicyError> {
        let mut found: Vec<(String, PathBuf, Kind)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| PolicyError::io(dir, e))? {
            let entry = entry.map_err(|e| PolicyError::io(dir, e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                let raw = entry.file_name();
                let bytes = raw.as_encoded_bytes();
                if [".yaml", ".yml", ".cedar", ".cedarschema", ".json"]
                    .iter()
                    .any(|ext| bytes.ends_with(ext.as_bytes()))
                {
                    return Err(PolicyError::BadEntry {
                        path,
                        problem: "file name is not UTF-8; rename it".into(),
                    });
                }
                continue;
            };
            let Some(kind) = kind_of(&name) else { continue };
            let meta = fs::metadata(&path).map_err(|e| PolicyError::io(&path, e))?;
            if !meta.is_file() {
                return Err(PolicyError::BadEntry {
                    path,
                    problem:
                        "has a policy file extension but is not a regular file; rename or move it"
                            .into(),
                });
            }
            found.push((name, path, kind));
        }
        // Code point order of the names (= byte order of UTF-8), like Python's sorted().
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let first = |k: &[Kind]| found.iter().find(|f| k.contains(&f.2)).map(|f| f.0.clone());
        let yaml = first(&[Kind::Yaml]);
        let cedar = first(&[Kind::CedarPolicy, Kind::CedarSchema]);
        if let (Some(yaml), Some(cedar)) = (yaml.clone(), cedar) {
            return Err(PolicyError::MixedEngines {
                dir: dir.to_path_buf(),
                yaml,
                cedar,
            });
        }
        let take = |k: Kind| -> Result<Vec<SourceFile<'_>>, PolicyError> {
            found
                .iter()
                .filter(|f| f.2 == k)
                .map(|(n, p, _)| Ok((n.clone(), p.as_path(), read(p)?)))
                .collect()
        };
        if yaml.is_some() {
            let files = take(Kind::Yaml)?;
            let rules = yaml::YamlRules::load_cached(&files, cache)?;
            return Ok(Self::finish(
                dir,
                Engine::YamlRules,
                &files,
                Inner::Yaml(rules),
            ));
        }
        let policies = take(Kind::CedarPolicy)?;
        if policies.is_empty() {
            return Err(PolicyError::NoPolicyFiles(dir.to_path_buf()));
        }
        let schemas = take(Kind::CedarSchema)?;
        if schemas.len() > 1 {
            return Err(PolicyError::BadEntry {
                path: dir.to_path_buf(),
                problem: format!(
                    "more than one Cedar schema ({}); keep one *.cedarschema or *.cedarschema.json file",
                    schemas
                        .iter()
                        .map(|s| s.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let entities = take(Kind::CedarEntities)?;
        let engine = cedar::CedarEngine::load(&policies, schemas.first(), &entities)?;
        let mut files = policies;
        files.extend(schemas);
        files.extend(entities);
        Ok(Self::finish(
            dir,
            Engine::Cedar,
            &files,
            Inner::Cedar(Box::new(engine)),
        ))
    }

    fn finish(
        source: &Path,
        engine: Engine,
        files: &[(String, &Path, Vec<u8>)],
        inner: Inner,
    ) -> PolicySet {
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, _, b)| (n.as_str(), b.as_slice()))
            .collect();
        PolicySet {
            source: source.to_path_buf(),
            engine,
            digest: gavel_receipt::policy_digest(engine.as_str(), &named),
            inner,
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `acta-policy-digest-v1` of the files that were loaded (for Cedar, with
    /// the schema and entities files), named relative to the directory or by
    /// the base name of a single file.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Compiles every regular expression of the YAML rules now. Loading validates
    /// their syntax but compiles them only when an evaluation first needs one (most
    /// need none: see the yaml module); a pattern too large to compile then makes that
    /// evaluation deny. `gavel policy check` calls this so that it reports such a rule.
    pub fn compile_all(&self) -> Result<(), PolicyError> {
        match &self.inner {
            Inner::Yaml(y) => y
                .compile_all()
                .map_err(|(rule, problem)| PolicyError::Pattern {
                    path: self.source().to_path_buf(),
                    rule,
                    problem,
                }),
            Inner::Cedar(_) => Ok(()),
        }
    }

    /// The number of YAML rules or Cedar policies.
    pub fn rule_count(&self) -> usize {
        match &self.inner {
            Inner::Yaml(y) => y.len(),
            Inner::Cedar(c) => c.len(),
        }
    }

    /// The path it was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Decides a request. Never panics and never errors: any failure is a deny
    /// whose reason says why.
    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        let run = std::panic::AssertUnwindSafe(|| match &self.inner {
            Inner::Yaml(y) => y.evaluate(req.action, req.context),
            Inner::Cedar(c) => c.evaluate(req, false),
        });
        std::panic::catch_unwind(run).unwrap_or_else(|_| Verdict {
            allowed: false,
            reason: "Internal error while evaluating the policy (fail closed)".to_owned(),
            policy_name: None,
            policy_id: "default_deny".to_owned(),
        })
    }

    /// The unoptimised reference evaluation: a plain first-match scan for YAML
    /// rules; for Cedar, every policy on a context parsed by Cedar's JSON
    /// parser. For tests that check the fast path against it.
    #[doc(hidden)]
    pub fn evaluate_reference(&self, req: &Request<'_>) -> Verdict {
        match &self.inner {
            Inner::Yaml(y) => y.evaluate_linear(req.action, req.context),
            Inner::Cedar(c) => c.evaluate(req, true),
        }
    }
}

/// What `gavel policy digest` prints: the policy is fully loaded (and so
/// validated) first; a policy that does not load has no digest.
pub fn digest_path(path: &Path) -> Result<(Engine, String), PolicyError> {
    let set = PolicySet::load(path)?;
    Ok((set.engine, set.digest))
}

#[cfg(test)]
mod tests;
