//! The Cedar engine: `cedar-policy` 4.x, failing closed on evaluation errors.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    Request as CedarRequest, RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde_json::{Map, Value};

use crate::error::{Location, PolicyError};
use crate::{AgentAction, CedarShape, Request, SourceFile, Verdict};

/// The `Agent` namespace of cedar-agent-schemas (VeritasActa/cedar-agent-schemas,
/// `schemas/agent-actions.cedarschema.json`) in the Cedar schema syntax: the entity
/// and action types gavel's agent-action requests use. Write it next to a Cedar
/// policy as `*.cedarschema` to have the policy validated against it.
pub const AGENT_SCHEMA: &str = include_str!("agent.cedarschema");

/// The context keys that, in the agent-action shape, describe the principal
/// (they become attributes of the `Agent::Principal` entity and are taken out
/// of the Cedar context, whose record type the schema closes).
pub const PRINCIPAL_CONTEXT_KEYS: [&str; 4] = ["agent_did", "trust_score", "ring", "session_id"];

#[derive(Debug)]
pub(crate) struct CedarEngine {
    policies: cedar_policy::PolicySet,
    /// The policies that can apply to a request action (the action scope is
    /// the only thing that differs): `Any` policies plus those whose scope
    /// names the action or one of its ancestors. Skipping the others is exact:
    /// their scope evaluates to false without error.
    by_action: HashMap<EntityUid, cedar_policy::PolicySet>,
    /// For any other action: the `action`-unconstrained policies.
    unscoped: cedar_policy::PolicySet,
    schema: Option<Schema>,
    entities: Entities,
    authorizer: Authorizer,
    /// Load order of each policy id (for stable reasons).
    order: HashMap<PolicyId, usize>,
    types: Types,
}

#[derive(Debug)]
struct Types {
    agent: EntityTypeName,
    action: EntityTypeName,
    resource: EntityTypeName,
    principal: EntityTypeName,
    agent_action: EntityTypeName,
    executable: EntityTypeName,
    file: EntityTypeName,
    endpoint: EntityTypeName,
    tool: EntityTypeName,
}

impl Types {
    fn new() -> Result<Types, String> {
        let t = |s: &str| EntityTypeName::from_str(s).map_err(|e| e.to_string());
        Ok(Types {
            agent: t("Agent")?,
            action: t("Action")?,
            resource: t("Resource")?,
            principal: t("Agent::Principal")?,
            agent_action: t("Agent::Action")?,
            executable: t("Agent::Executable")?,
            file: t("Agent::File")?,
            endpoint: t("Agent::Endpoint")?,
            tool: t("Agent::Tool")?,
        })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// One line: the diagnostic, its help, its inner causes.
fn diag_text(d: &dyn Diagnostic) -> String {
    let mut s = d.to_string();
    if let Some(help) = d.help() {
        s.push_str(&format!(" (help: {help})"));
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn diag_offset(d: &dyn Diagnostic) -> Option<usize> {
    d.labels().and_then(|mut l| l.next()).map(|l| l.offset())
}

fn cedar_err(path: &Path, text: Option<&str>, d: &dyn Diagnostic, what: &str) -> PolicyError {
    cedar_at(
        path,
        text,
        diag_offset(d),
        format!("{what}: {}", diag_text(d)),
    )
}

/// A Cedar error in `path`, located at byte `offset` of its `text` when both are known.
fn cedar_at(
    path: &Path,
    text: Option<&str>,
    offset: Option<usize>,
    problem: String,
) -> PolicyError {
    let (line, column) = match (text, offset) {
        (Some(text), Some(off)) => {
            let (l, c) = line_col(text, off);
            (Some(l), Some(c))
        }
        _ => (None, None),
    };
    PolicyError::Cedar {
        at: Location {
            file: path.to_path_buf(),
            line,
            column,
            item: None,
        },
        problem,
    }
}

fn plain_err(path: &Path, problem: impl Into<String>) -> PolicyError {
    PolicyError::Cedar {
        at: Location {
            file: path.to_path_buf(),
            line: None,
            column: None,
            item: None,
        },
        problem: problem.into(),
    }
}

fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, PolicyError> {
    std::str::from_utf8(bytes).map_err(|e| {
        plain_err(
            path,
            format!(
                "not UTF-8 (byte {}); save the file as UTF-8",
                e.valid_up_to()
            ),
        )
    })
}

impl CedarEngine {
    pub(crate) fn load(
        policy_files: &[SourceFile<'_>],
        schema_file: Option<&SourceFile<'_>>,
        entity_files: &[SourceFile<'_>],
    ) -> Result<CedarEngine, PolicyError> {
        let first = policy_files.first().map_or(Path::new(""), |f| f.1);
        let types = Types::new().map_err(|e| plain_err(first, e))?;
        let mut policies = cedar_policy::PolicySet::new();
        let mut order = HashMap::new();
        // id -> (file, text) for validation messages
        let mut origin: HashMap<PolicyId, usize> = HashMap::new();
        for (file_no, (rel, path, bytes)) in policy_files.iter().enumerate() {
            let text = utf8(path, bytes)?;
            let parsed = cedar_policy::PolicySet::from_str(text)
                .map_err(|e| cedar_err(path, Some(text), &e, "Cedar syntax error"))?;
            if let Some(t) = parsed.templates().next() {
                return Err(cedar_err_at(
                    path,
                    text,
                    t.to_string().as_str(),
                    "templates (policies with `?principal` / `?resource` slots) are not supported: gavel never links them, so they would never apply; write the entity in the scope",
                ));
            }
            let mut in_file: Vec<(usize, cedar_policy::Policy)> = parsed
                .policies()
                .map(|p| {
                    let n = p
                        .id()
                        .to_string()
                        .trim_start_matches("policy")
                        .parse::<usize>()
                        .unwrap_or(usize::MAX);
                    (n, p.clone())
                })
                .collect();
            in_file.sort_by_key(|(n, _)| *n);
            for (n, p) in in_file {
                let id = match p.annotation("id") {
                    Some(id) => id.to_owned(),
                    None => format!("{rel}#{n}"),
                };
                let pid = PolicyId::new(&id);
                if order.contains_key(&pid) {
                    return Err(plain_err(
                        path,
                        format!(
                            "duplicate policy id {id:?} (from an @id annotation or a file#index name); give each policy a distinct @id"
                        ),
                    ));
                }
                policies
                    .add(p.new_id(pid.clone()))
                    .map_err(|e| cedar_err(path, Some(text), &e, "cannot add policy"))?;
                order.insert(pid.clone(), order.len());
                origin.insert(pid, file_no);
            }
        }

        let schema = match schema_file {
            None => None,
            Some((rel, path, bytes)) => {
                let text = utf8(path, bytes)?;
                let schema = if rel.ends_with(".json") {
                    Schema::from_json_str(text)
                        .map_err(|e| cedar_err(path, Some(text), &e, "invalid Cedar schema"))?
                } else {
                    Schema::from_cedarschema_str(text)
                        .map_err(|e| cedar_err(path, Some(text), &e, "invalid Cedar schema"))?
                        .0
                };
                let result =
                    Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
                if let Some(first_err) = result.validation_errors().next() {
                    let count = result.validation_errors().count();
                    let file_no = origin.get(first_err.policy_id()).copied().unwrap_or(0);
                    let (ppath, ptext) = match policy_files.get(file_no) {
                        Some((_, p, b)) => (*p, std::str::from_utf8(b).ok()),
                        None => (*path, None),
                    };
                    let mut e = cedar_err(
                        ppath,
                        ptext,
                        first_err,
                        &format!(
                            "policy `{}` fails strict validation against the schema {rel}",
                            first_err.policy_id()
                        ),
                    );
                    if count > 1
                        && let PolicyError::Cedar { problem, .. } = &mut e
                    {
                        problem.push_str(&format!(" (and {} more validation error(s))", count - 1));
                    }
                    return Err(e);
                }
                Some(schema)
            }
        };

        let mut all_entities: Vec<Value> = Vec::new();
        for (_, path, bytes) in entity_files {
            let text = utf8(path, bytes)?;
            // Each file on its own first, so an error names its file.
            Entities::from_json_str(text, schema.as_ref())
                .map_err(|e| cedar_err(path, Some(text), &e, "invalid Cedar entities"))?;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => all_entities.extend(items),
                _ => {
                    return Err(plain_err(
                        path,
                        "Cedar entities must be a JSON array of entities",
                    ));
                }
            }
        }
        let entities = Entities::from_json_value(Value::Array(all_entities), schema.as_ref())
            .map_err(|e| {
                let path = entity_files.first().map_or(first, |f| f.1);
                cedar_err(path, None, &e, "invalid Cedar entities (across files)")
            })?;

        let (by_action, unscoped) =
            index_by_action(&policies, &entities).map_err(|e| plain_err(first, e))?;
        Ok(CedarEngine {
            by_action,
            unscoped,
            policies,
            schema,
            entities,
            authorizer: Authorizer::new(),
            order,
            types,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// `reference`: evaluate every policy on a context parsed from JSON (the
    /// plain path the optimised one must agree with).
    pub(crate) fn evaluate(&self, req: &Request<'_>, reference: bool) -> Verdict {
        match req.shape {
            CedarShape::ToolCall => {
                self.tool_call(req.action, req.context, req.resource, reference)
            }
            CedarShape::Agent {
                action,
                resource_id,
            } => self.agent(action, resource_id, req.context, reference),
        }
    }

    fn tool_call(
        &self,
        action: &str,
        context: &Map<String, Value>,
        resource: Option<&str>,
        reference: bool,
    ) -> Verdict {
        let did = match agent_did(context) {
            Ok(d) => d,
            Err(v) => return v,
        };
        let principal =
            EntityUid::from_type_name_and_id(self.types.agent.clone(), EntityId::new(did));
        let action_uid =
            EntityUid::from_type_name_and_id(self.types.action.clone(), EntityId::new(action));
        let resource = EntityUid::from_type_name_and_id(
            self.types.resource.clone(),
            EntityId::new(resource.unwrap_or(action)),
        );
        self.decide(
            principal,
            action_uid,
            resource,
            context,
            &self.entities,
            reference,
        )
    }

    fn agent(
        &self,
        action: AgentAction,
        resource_id: &str,
        context: &Map<String, Value>,
        reference: bool,
    ) -> Verdict {
        let did = match agent_did(context) {
            Ok(d) => d,
            Err(v) => return v,
        };
        let principal =
            EntityUid::from_type_name_and_id(self.types.principal.clone(), EntityId::new(did));
        let action_uid = EntityUid::from_type_name_and_id(
            self.types.agent_action.clone(),
            EntityId::new(action.as_str()),
        );
        let resource_ty = match action {
            AgentAction::Exec => &self.types.executable,
            AgentAction::Open => &self.types.file,
            AgentAction::Connect => &self.types.endpoint,
            AgentAction::RequestTool => &self.types.tool,
        };
        let resource =
            EntityUid::from_type_name_and_id(resource_ty.clone(), EntityId::new(resource_id));

        let mut extra = Vec::new();
        if self.entities.get(&principal).is_none() {
            match principal_entity(&principal, did, context) {
                Ok(e) => extra.push(e),
                Err(why) => {
                    return deny_reason(&format!(
                        "Cannot build the principal entity (fail closed): {why}"
                    ));
                }
            }
        }
        if self.entities.get(&resource).is_none() {
            match resource_entity(&resource, action, resource_id) {
                Ok(e) => extra.push(e),
                Err(why) => {
                    return deny_reason(&format!(
                        "Cannot build the resource entity (fail closed): {why}"
                    ));
                }
            }
        }
        let entities = if extra.is_empty() {
            None
        } else {
            match self
                .entities
                .clone()
                .add_entities(extra, self.schema.as_ref())
            {
                Ok(e) => Some(e),
                Err(e) => {
                    return deny_reason(&format!(
                        "Request entities do not conform to the Cedar schema (fail closed): {}",
                        diag_text(&e)
                    ));
                }
            }
        };
        let mut ctx = context.clone();
        for k in PRINCIPAL_CONTEXT_KEYS {
            ctx.remove(k);
        }
        self.decide(
            principal,
            action_uid,
            resource,
            &ctx,
            entities.as_ref().unwrap_or(&self.entities),
            reference,
        )
    }

    fn decide(
        &self,
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: &Map<String, Value>,
        entities: &Entities,
        reference: bool,
    ) -> Verdict {
        let fast = if reference || self.schema.is_some() {
            None
        } else {
            fast_context(context)
        };
        let context = match fast {
            Some(c) => c,
            None => match Context::from_json_value(
                Value::Object(context.clone()),
                self.schema.as_ref().map(|s| (s, &action)),
            ) {
                Ok(c) => c,
                Err(e) => {
                    return deny_reason(&format!(
                        "Context cannot be mapped to Cedar (fail closed): {}",
                        diag_text(&e)
                    ));
                }
            },
        };
        let policies = if reference {
            &self.policies
        } else {
            self.by_action.get(&action).unwrap_or(&self.unscoped)
        };
        let request =
            match CedarRequest::new(principal, action, resource, context, self.schema.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    return deny_reason(&format!(
                        "Request does not conform to the Cedar schema (fail closed): {}",
                        diag_text(&e)
                    ));
                }
            };
        let response = self.authorizer.is_authorized(&request, policies, entities);
        let diagnostics = response.diagnostics();
        let mut errors: Vec<(&PolicyId, String)> = diagnostics
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(pe) => {
                    (pe.policy_id(), diag_text(pe.inner()))
                }
            })
            .collect();
        if !errors.is_empty() {
            errors.sort_by_key(|(id, _)| self.order.get(*id).copied().unwrap_or(usize::MAX));
            let ids = errors
                .iter()
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let detail = errors
                .iter()
                .map(|(id, e)| format!("policy {id}: {e}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Verdict {
                allowed: false,
                reason: format!("Denied by policy evaluation error (fail closed): {detail}"),
                policy_name: Some(ids.clone()),
                policy_id: ids,
            };
        }
        let mut ids: Vec<&PolicyId> = diagnostics.reason().collect();
        ids.sort_by_key(|id| self.order.get(*id).copied().unwrap_or(usize::MAX));
        let ids = ids
            .iter()
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        match response.decision() {
            Decision::Allow => Verdict {
                allowed: true,
                reason: format!("Allowed by policy: {ids}"),
                policy_name: Some(ids.clone()),
                policy_id: ids,
            },
            Decision::Deny if ids.is_empty() => Verdict {
                allowed: false,
                reason: "No matching permit - default deny".to_owned(),
                policy_name: None,
                policy_id: "default_deny".to_owned(),
            },
            Decision::Deny => Verdict {
                allowed: false,
                reason: format!("Denied by policy: {ids}"),
                policy_name: Some(ids.clone()),
                policy_id: ids,
            },
        }
    }
}

/// The per-action policy subsets (see [`CedarEngine::by_action`]).
#[allow(clippy::type_complexity)]
fn index_by_action(
    policies: &cedar_policy::PolicySet,
    entities: &Entities,
) -> Result<
    (
        HashMap<EntityUid, cedar_policy::PolicySet>,
        cedar_policy::PolicySet,
    ),
    String,
> {
    use cedar_policy::ActionConstraint;
    let mut unscoped = Vec::new();
    let mut eq: HashMap<EntityUid, Vec<&cedar_policy::Policy>> = HashMap::new();
    let mut within: HashMap<EntityUid, Vec<&cedar_policy::Policy>> = HashMap::new();
    for p in policies.policies() {
        match p.action_constraint() {
            ActionConstraint::Any => unscoped.push(p),
            ActionConstraint::Eq(uid) => eq.entry(uid).or_default().push(p),
            ActionConstraint::In(uids) => {
                for uid in uids {
                    within.entry(uid).or_default().push(p);
                }
            }
        }
    }
    // Every action a request may name that some scope can select: the named
    // ones, and entities in the store that descend from a named one.
    let mut keys: HashSet<EntityUid> = eq.keys().chain(within.keys()).cloned().collect();
    for e in entities.iter() {
        let uid = e.uid();
        if entities
            .ancestors(&uid)
            .is_some_and(|mut a| a.next().is_some())
        {
            keys.insert(uid);
        }
    }
    let mut by_action = HashMap::new();
    for key in keys {
        let mut chosen: Vec<&cedar_policy::Policy> = unscoped.clone();
        chosen.extend(eq.get(&key).into_iter().flatten());
        chosen.extend(within.get(&key).into_iter().flatten());
        if let Some(ancestors) = entities.ancestors(&key) {
            for a in ancestors {
                chosen.extend(within.get(a).into_iter().flatten());
            }
        }
        let mut set = cedar_policy::PolicySet::new();
        let mut seen = HashSet::new();
        for p in chosen {
            if seen.insert(p.id().clone()) {
                set.add(p.clone()).map_err(|e| e.to_string())?;
            }
        }
        by_action.insert(key, set);
    }
    let mut default = cedar_policy::PolicySet::new();
    for p in unscoped {
        default.add(p.clone()).map_err(|e| e.to_string())?;
    }
    Ok((by_action, default))
}

/// The context as Cedar values without going through Cedar's JSON parser,
/// for the plain cases (strings, booleans, 64-bit integers, sets, records
/// without `__` escapes). Anything else (floats, nulls, escapes) returns
/// `None` and takes the JSON path, which also produces the error message.
fn fast_context(m: &Map<String, Value>) -> Option<Context> {
    /// Deeper values take the JSON path (which has its own limit).
    const MAX_DEPTH: usize = 32;
    fn value(v: &Value, depth: usize) -> Option<RestrictedExpression> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match v {
            Value::String(s) => RestrictedExpression::new_string(s.clone()),
            Value::Bool(b) => RestrictedExpression::new_bool(*b),
            Value::Number(n) => RestrictedExpression::new_long(n.as_i64()?),
            Value::Array(items) => RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|i| value(i, depth + 1))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Object(m) => RestrictedExpression::new_record(fields(m, depth + 1)?).ok()?,
            Value::Null => return None,
        })
    }
    fn fields(m: &Map<String, Value>, depth: usize) -> Option<Vec<(String, RestrictedExpression)>> {
        if m.keys().any(|k| k.starts_with("__")) {
            return None;
        }
        m.iter()
            .map(|(k, v)| value(v, depth).map(|e| (k.clone(), e)))
            .collect()
    }
    Context::from_pairs(fields(m, 0)?).ok()
}

fn cedar_err_at(path: &Path, text: &str, snippet: &str, problem: &str) -> PolicyError {
    let head = snippet.lines().next().unwrap_or("").trim();
    let offset = text.find(head).filter(|_| !head.is_empty());
    cedar_at(path, Some(text), offset, problem.to_owned())
}

/// The principal's id: `context.agent_did`, `unknown` when absent; anything but a
/// string is a deny.
fn agent_did(context: &Map<String, Value>) -> Result<&str, Verdict> {
    match context.get("agent_did") {
        None => Ok("unknown"),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(deny_reason(
            "context.agent_did must be a string (fail closed)",
        )),
    }
}

fn deny_reason(reason: &str) -> Verdict {
    Verdict {
        allowed: false,
        reason: reason.to_owned(),
        policy_name: None,
        policy_id: "default_deny".to_owned(),
    }
}

fn principal_entity(
    uid: &EntityUid,
    did: &str,
    context: &Map<String, Value>,
) -> Result<Entity, String> {
    let mut attrs: HashMap<String, RestrictedExpression> = HashMap::new();
    attrs.insert(
        "agent_id".into(),
        RestrictedExpression::new_string(did.to_owned()),
    );
    match context.get("trust_score") {
        None => {}
        Some(Value::Number(n)) => {
            let f = n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e14)
                .ok_or("context.trust_score is out of Cedar decimal range")?;
            attrs.insert(
                "trust_score".into(),
                RestrictedExpression::new_decimal(format!("{f:.4}")),
            );
        }
        Some(_) => return Err("context.trust_score must be a number".into()),
    }
    match context.get("ring") {
        None => {}
        Some(Value::Number(n)) => {
            let i = n.as_i64().ok_or("context.ring must be an integer")?;
            attrs.insert("ring".into(), RestrictedExpression::new_long(i));
        }
        Some(_) => return Err("context.ring must be an integer".into()),
    }
    match context.get("session_id") {
        None => {}
        Some(Value::String(s)) => {
            attrs.insert(
                "session_id".into(),
                RestrictedExpression::new_string(s.clone()),
            );
        }
        Some(_) => return Err("context.session_id must be a string".into()),
    }
    Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| diag_text(&e))
}

fn resource_entity(uid: &EntityUid, action: AgentAction, id: &str) -> Result<Entity, String> {
    let mut attrs: HashMap<String, RestrictedExpression> = HashMap::new();
    match action {
        AgentAction::Exec | AgentAction::Open => {
            attrs.insert(
                "path".into(),
                RestrictedExpression::new_string(id.to_owned()),
            );
        }
        AgentAction::RequestTool => {
            attrs.insert(
                "name".into(),
                RestrictedExpression::new_string(id.to_owned()),
            );
        }
        AgentAction::Connect => {
            let ep = parse_endpoint(id).ok_or_else(|| {
                format!("endpoint {id:?} is not `scheme://host[:port][/…]` or `host:port` (a port is needed unless the scheme is http, https, ws or wss)")
            })?;
            attrs.insert("host".into(), RestrictedExpression::new_string(ep.host));
            attrs.insert(
                "port".into(),
                RestrictedExpression::new_long(i64::from(ep.port)),
            );
            attrs.insert(
                "protocol".into(),
                RestrictedExpression::new_string(ep.protocol),
            );
        }
    }
    Entity::new(uid.clone(), attrs, HashSet::new()).map_err(|e| diag_text(&e))
}

/// An `Agent::Endpoint`'s attributes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u16,
    pub protocol: String,
}

/// `scheme://[user@]host[:port][/path]` or `host:port` (protocol `tcp`);
/// IPv6 hosts in brackets. The host is lowercased, without brackets.
pub(crate) fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let (protocol, rest) = match s.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        Some(_) => return None,
        None => ("tcp".to_owned(), s),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (host, tail) = after.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p),
            None if tail.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok()?,
        None => match protocol.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return None,
        },
    };
    Some(Endpoint {
        host: host.to_ascii_lowercase(),
        port,
        protocol,
    })
}
