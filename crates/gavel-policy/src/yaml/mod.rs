//! The YAML rule engine: the rule format of the Agent Governance Toolkit's
//! `openshell-agentmesh` 3.6.0 skill, with its exact decision semantics.

pub(crate) mod cache;
mod index;
pub(crate) mod node;
pub(crate) mod pyregex;
pub(crate) mod pyvalue;

use std::path::Path;

use serde_json::{Map, Value};

use crate::Verdict;
use crate::error::{Item, Location, PolicyError};
use node::{Node, NodeKind, Scalar};
use pyvalue::{PyValue, py_eq, py_str};

/// The operators of the rule format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Operator {
    Equals,
    StartsWith,
    Contains,
    Matches,
    In,
}

impl Operator {
    fn parse(s: &str) -> Option<Operator> {
        Some(match s {
            "equals" => Operator::Equals,
            "starts_with" => Operator::StartsWith,
            "contains" => Operator::Contains,
            "matches" => Operator::Matches,
            "in" => Operator::In,
            _ => return None,
        })
    }
}

/// One loaded rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub name: String,
    /// `None` for the action itself.
    pub field: Option<String>,
    pub operator: Operator,
    pub value: PyValue,
    pub allow: bool,
    pub priority: i64,
    pub reason: String,
    /// `str(value)` (the prefix, needle or pattern).
    pub text: String,
    /// For `matches`: the translated pattern (shared with the index, which compiles
    /// it on first use).
    pub regex: Option<std::sync::Arc<pyregex::Translated>>,
}

/// The loaded rules, sorted, with their evaluation index.
#[derive(Debug)]
pub(crate) struct YamlRules {
    rules: Vec<Rule>,
    index: index::Index,
}

/// Keys a rule may have (`description` is accepted and ignored).
const RULE_KEYS: &[&str] = &[
    "name",
    "condition",
    "action",
    "priority",
    "message",
    "description",
];
const CONDITION_KEYS: &[&str] = &["field", "operator", "value"];

impl YamlRules {
    /// Loads the given files (already in name order) and sorts the rules.
    #[cfg(test)]
    pub(crate) fn load(files: &[crate::SourceFile<'_>]) -> Result<YamlRules, PolicyError> {
        Self::load_cached(files, None)
    }

    /// Loads the given files (already in name order) and sorts the rules, reading them
    /// from `cache` when it holds exactly these files' (see `cache.rs`), and storing
    /// them there after a full load.
    pub(crate) fn load_cached(
        files: &[crate::SourceFile<'_>],
        cache: Option<&cache::RuleCache>,
    ) -> Result<YamlRules, PolicyError> {
        // the files are hashed once, for the lookup and for storing after a miss
        let keyed = cache.map(|c| (c, cache::key_of(files)));
        let rules = match keyed.as_ref().and_then(|(c, key)| c.get_keyed(key)) {
            Some(rules) => rules,
            None => {
                let mut rules = Vec::new();
                for (_, path, bytes) in files {
                    load_file(path, bytes, &mut rules)?;
                }
                // Python's list.sort(key=priority, reverse=True) is stable.
                rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
                if let Some((c, key)) = &keyed {
                    c.put_keyed(key, &rules);
                }
                rules
            }
        };
        let index = index::Index::build(&rules);
        Ok(YamlRules { rules, index })
    }

    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    pub(crate) fn evaluate(&self, action: &str, context: &Map<String, Value>) -> Verdict {
        match self.index.first_match(action, context) {
            Some(index::Hit::Rule(i)) => match self.rules.get(i) {
                Some(rule) => rule_verdict(rule),
                None => default_deny(),
            },
            Some(index::Hit::Error(i, e)) => match self.rules.get(i) {
                Some(rule) => pattern_error(rule, &e),
                None => default_deny(),
            },
            None => default_deny(),
        }
    }

    /// Compiles every pattern now; the first that cannot be compiled, by rule name.
    pub(crate) fn compile_all(&self) -> Result<(), (String, String)> {
        for rule in &self.rules {
            if let Some(t) = &rule.regex {
                t.compile_all().map_err(|e| (rule.name.clone(), e))?;
            }
        }
        Ok(())
    }

    /// The plain first-match scan, the reference the index must agree with.
    pub(crate) fn evaluate_linear(&self, action: &str, context: &Map<String, Value>) -> Verdict {
        for rule in &self.rules {
            let target = match &rule.field {
                None => None,
                Some(f) => context.get(f.as_str()),
            };
            let hit = match (&rule.field, target) {
                (None, _) => index::matches_str(rule, action),
                (Some(_), None) => index::matches_str(rule, ""),
                (Some(_), Some(Value::String(s))) => index::matches_str(rule, s),
                (Some(_), Some(v)) => Ok(index::matches_json(rule, v)),
            };
            match hit {
                Ok(false) => {}
                Ok(true) => return rule_verdict(rule),
                Err(e) => return pattern_error(rule, &e),
            }
        }
        default_deny()
    }
}

fn rule_verdict(rule: &Rule) -> Verdict {
    Verdict {
        allowed: rule.allow,
        reason: rule.reason.clone(),
        policy_name: Some(rule.name.clone()),
        policy_id: rule.name.clone(),
    }
}

/// The rule that decides has a pattern that cannot be compiled (its size limit):
/// deny, naming the rule (fail closed).
fn pattern_error(rule: &Rule, error: &str) -> Verdict {
    Verdict {
        allowed: false,
        reason: format!(
            "Policy error (fail closed): the pattern of rule {} {error}",
            rule.name
        ),
        policy_name: Some(rule.name.clone()),
        policy_id: rule.name.clone(),
    }
}

fn default_deny() -> Verdict {
    Verdict {
        allowed: false,
        reason: "No matching rule - default deny".to_owned(),
        policy_name: None,
        policy_id: "default_deny".to_owned(),
    }
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        item: Option<Item>,
        problem: impl Into<String>,
    ) -> PolicyError {
        PolicyError::Yaml {
            at: Location {
                file: self.path.to_path_buf(),
                line,
                column,
                item,
            },
            problem: problem.into(),
        }
    }

    fn at(&self, node: &Node, item: Option<&Item>, problem: impl Into<String>) -> PolicyError {
        self.err(Some(node.line), Some(node.col), item.cloned(), problem)
    }
}

pub(crate) fn load_file(
    path: &Path,
    bytes: &[u8],
    rules: &mut Vec<Rule>,
) -> Result<(), PolicyError> {
    let ctx = Ctx { path };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ctx.err(
            None,
            None,
            None,
            format!(
                "not UTF-8 (byte {}); save the file as UTF-8",
                e.valid_up_to()
            ),
        )
    })?;
    let doc = node::parse(text).map_err(|e| ctx.err(e.line, e.col, None, e.message))?;
    let Some(doc) = doc else {
        return Ok(()); // empty file
    };
    let pairs = match &doc.kind {
        NodeKind::Map(pairs) => pairs,
        NodeKind::Scalar { text, plain } => {
            // PyYAML: `if not doc: continue` for a falsy document.
            let falsy = matches!(
                node::resolve(text, *plain),
                Ok(Scalar::Null | Scalar::Bool(false)) | Ok(Scalar::Int(0))
            ) || matches!(node::resolve(text, *plain), Ok(Scalar::Float(f)) if f == 0.0)
                || text.is_empty();
            if falsy {
                return Ok(());
            }
            return Err(ctx.at(
                &doc,
                None,
                "the top level must be a mapping with a `rules` list",
            ));
        }
        NodeKind::Seq(items) if items.is_empty() => return Ok(()),
        NodeKind::Seq(_) => {
            return Err(ctx.at(
                &doc,
                None,
                "the top level must be a mapping with a `rules` list, not a list",
            ));
        }
    };
    if pairs.is_empty() {
        return Ok(());
    }
    let mut rules_node = None;
    for (k, v) in pairs {
        if let NodeKind::Scalar { text, plain } = &k.kind
            && matches!(node::resolve(text, *plain), Ok(Scalar::Str(s)) if s == "rules")
        {
            if rules_node.is_some() {
                return Err(ctx.at(k, None, "duplicate key `rules`; merge the two lists"));
            }
            rules_node = Some(v);
        }
    }
    let Some(rules_node) = rules_node else {
        return Err(ctx.at(
            &doc,
            None,
            "no `rules` key; a policy file needs a `rules` list (write `rules: []` for a file that is meant to be empty)",
        ));
    };
    let items = match &rules_node.kind {
        NodeKind::Seq(items) => items,
        _ => {
            return Err(ctx.at(
                rules_node,
                None,
                "`rules` must be a list of rules (`- name: …`)",
            ));
        }
    };
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    for (i, item) in items.iter().enumerate() {
        rules.push(load_rule(&ctx, i + 1, item, &stem)?);
    }
    Ok(())
}

fn scalar_str(ctx: &Ctx<'_>, node: &Node, item: &Item, key: &str) -> Result<String, PolicyError> {
    match &node.kind {
        NodeKind::Scalar { text, plain } => match node::resolve(text, *plain) {
            Ok(Scalar::Str(s)) => Ok(s),
            Ok(other) => Err(ctx.at(
                node,
                Some(item),
                format!(
                    "`{key}` must be a string, found {}; quote it",
                    describe(&other)
                ),
            )),
            Err(problem) => Err(ctx.at(node, Some(item), format!("`{key}`: {problem}"))),
        },
        _ => Err(ctx.at(
            node,
            Some(item),
            format!("`{key}` must be a string, found a {}", kind_name(node)),
        )),
    }
}

fn describe(s: &Scalar) -> String {
    match s {
        Scalar::Null => "null".into(),
        Scalar::Bool(b) => format!("the boolean {b}"),
        Scalar::Int(i) => format!("the integer {i}"),
        Scalar::Float(f) => format!("the number {}", pyvalue::float_repr(*f)),
        Scalar::Str(s) => format!("the string {s:?}"),
    }
}

fn kind_name(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Scalar { .. } => "scalar",
        NodeKind::Seq(_) => "list",
        NodeKind::Map(_) => "mapping",
    }
}

/// The mapping's entries by string key, refusing unknown and duplicate keys.
fn entries<'n>(
    ctx: &Ctx<'_>,
    node: &'n Node,
    item: &Item,
    allowed: &[&str],
    what: &str,
) -> Result<Vec<(String, &'n Node, &'n Node)>, PolicyError> {
    let NodeKind::Map(pairs) = &node.kind else {
        return Err(ctx.at(
            node,
            Some(item),
            format!("{what} must be a mapping, found a {}", kind_name(node)),
        ));
    };
    let mut out: Vec<(String, &Node, &Node)> = Vec::new();
    for (k, v) in pairs {
        let key = match &k.kind {
            NodeKind::Scalar { text, plain } => match node::resolve(text, *plain) {
                Ok(Scalar::Str(s)) => Some(s),
                Ok(_) => None,
                Err(problem) => {
                    return Err(ctx.at(k, Some(item), format!("key in {what}: {problem}")));
                }
            },
            _ => None,
        };
        let Some(key) = key.filter(|k| allowed.contains(&k.as_str())) else {
            let shown = match &k.kind {
                NodeKind::Scalar { text, .. } => text.clone(),
                _ => format!("<{}>", kind_name(k)),
            };
            return Err(ctx.at(
                k,
                Some(item),
                format!(
                    "unknown key `{shown}` in {what} (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        };
        if out.iter().any(|(seen, _, _)| *seen == key) {
            return Err(ctx.at(
                k,
                Some(item),
                format!("duplicate key `{key}` in {what}; keep one"),
            ));
        }
        out.push((key, k, v));
    }
    Ok(out)
}

fn load_rule(ctx: &Ctx<'_>, index: usize, node: &Node, stem: &str) -> Result<Rule, PolicyError> {
    // The name first, so every later message can show it.
    let mut item = Item { index, name: None };
    if let NodeKind::Map(pairs) = &node.kind {
        for (k, v) in pairs {
            if matches!(&k.kind, NodeKind::Scalar { text, .. } if text == "name")
                && let NodeKind::Scalar { text, plain } = &v.kind
                && let Ok(Scalar::Str(s)) = node::resolve(text, *plain)
            {
                item.name = Some(s);
            }
        }
    } else {
        return Err(ctx.at(
            node,
            Some(&item),
            format!(
                "a rule must be a mapping (`name`, `condition`, `action`, …), found a {}",
                kind_name(node)
            ),
        ));
    }
    let mut name = None;
    let mut condition = None;
    let mut action = None;
    let mut priority = None;
    let mut message = None;
    for (key, _, v) in entries(ctx, node, &item, RULE_KEYS, "a rule")? {
        match key.as_str() {
            "name" => name = Some(scalar_str(ctx, v, &item, "name")?),
            "condition" => condition = Some(v),
            "action" => action = Some((scalar_str(ctx, v, &item, "action")?, v)),
            "priority" => priority = Some(load_priority(ctx, v, &item)?),
            "message" => message = Some(scalar_str(ctx, v, &item, "message")?),
            _ => {} // description
        }
    }
    let name = name.unwrap_or_else(|| stem.to_owned());
    item.name = Some(name.clone());
    let allow = match action {
        None => false,
        Some((a, _)) if a == "allow" => true,
        Some((a, _)) if a == "deny" => false,
        Some((a, v)) => {
            return Err(ctx.at(
                v,
                Some(&item),
                format!("`action` must be `allow` or `deny`, found {a:?}"),
            ));
        }
    };
    let mut field = None;
    let mut operator = Operator::Equals;
    let mut value = PyValue::Str(String::new());
    let mut value_node = None;
    if let Some(cond) = condition {
        for (key, _, v) in entries(ctx, cond, &item, CONDITION_KEYS, "the condition")? {
            match key.as_str() {
                "field" => field = Some(scalar_str(ctx, v, &item, "field")?),
                "operator" => {
                    let op = scalar_str(ctx, v, &item, "operator")?;
                    operator = Operator::parse(&op).ok_or_else(|| {
                        ctx.at(
                            v,
                            Some(&item),
                            format!("unknown operator {op:?} (use one of equals, starts_with, contains, matches, in)"),
                        )
                    })?;
                }
                _ => {
                    value = to_pyvalue(ctx, v, &item)?;
                    value_node = Some(v);
                }
            }
        }
    }
    let text = py_str(&value);
    let regex = if operator == Operator::Matches {
        match pyregex::translate(&text) {
            Ok(t) => Some(std::sync::Arc::new(t)),
            Err(problem) => {
                let (line, col) = value_node.map_or((None, None), |n| (Some(n.line), Some(n.col)));
                return Err(ctx.err(
                    line,
                    col,
                    Some(item),
                    format!("regular expression {text:?}: {problem}"),
                ));
            }
        }
    } else {
        None
    };
    let message = message.unwrap_or_default();
    let reason = if message.is_empty() {
        format!(
            "{} by rule: {name}",
            if allow { "Allowed" } else { "Denied" }
        )
    } else {
        message
    };
    Ok(Rule {
        name,
        field: field.filter(|f| f != "action"),
        operator,
        value,
        allow,
        priority: priority.unwrap_or(0),
        reason,
        text,
        regex,
    })
}

fn load_priority(ctx: &Ctx<'_>, node: &Node, item: &Item) -> Result<i64, PolicyError> {
    match &node.kind {
        NodeKind::Scalar { text, plain } => match node::resolve(text, *plain) {
            Ok(Scalar::Int(i)) => i64::try_from(i).map_err(|_| {
                ctx.at(
                    node,
                    Some(item),
                    format!("`priority` {i} is out of range (64-bit integers)"),
                )
            }),
            Ok(other) => Err(ctx.at(
                node,
                Some(item),
                format!("`priority` must be an integer, found {}", describe(&other)),
            )),
            Err(problem) => Err(ctx.at(node, Some(item), format!("`priority`: {problem}"))),
        },
        _ => Err(ctx.at(
            node,
            Some(item),
            format!("`priority` must be an integer, found a {}", kind_name(node)),
        )),
    }
}

fn to_pyvalue(ctx: &Ctx<'_>, node: &Node, item: &Item) -> Result<PyValue, PolicyError> {
    Ok(match &node.kind {
        NodeKind::Scalar { text, plain } => match node::resolve(text, *plain) {
            Ok(Scalar::Null) => PyValue::None,
            Ok(Scalar::Bool(b)) => PyValue::Bool(b),
            Ok(Scalar::Int(i)) => PyValue::Int(i),
            Ok(Scalar::Float(f)) => PyValue::Float(f),
            Ok(Scalar::Str(s)) => PyValue::Str(s),
            Err(problem) => return Err(ctx.at(node, Some(item), format!("`value`: {problem}"))),
        },
        NodeKind::Seq(items) => PyValue::List(
            items
                .iter()
                .map(|n| to_pyvalue(ctx, n, item))
                .collect::<Result<_, _>>()?,
        ),
        NodeKind::Map(pairs) => {
            let mut out: Vec<(PyValue, PyValue)> = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                if !matches!(k.kind, NodeKind::Scalar { .. }) {
                    return Err(ctx.at(k, Some(item), "`value`: a mapping key must be a scalar (PyYAML cannot hash a list or mapping key)"));
                }
                let key = to_pyvalue(ctx, k, item)?;
                if matches!(&k.kind, NodeKind::Scalar { text, plain: true } if text == "<<") {
                    return Err(ctx.at(
                        k,
                        Some(item),
                        "`value`: merge keys (`<<`) are not supported",
                    ));
                }
                if out.iter().any(|(seen, _)| py_eq(seen, &key)) {
                    return Err(ctx.at(
                        k,
                        Some(item),
                        format!("`value`: duplicate mapping key {} (PyYAML would silently keep the last); keep one", py_str(&key)),
                    ));
                }
                let value = to_pyvalue(ctx, v, item)?;
                out.push((key, value));
            }
            PyValue::Dict(out)
        }
    })
}

#[cfg(test)]
mod tests;
