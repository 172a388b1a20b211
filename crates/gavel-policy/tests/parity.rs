//! Differential parity with the real Agent Governance Toolkit skill.
//!
//! A seeded generator writes policy directories (several `.yaml` files, block
//! and flow styles, priorities tied across files, every default exercised) and
//! requests covering the five operators, missing context fields, non-string
//! targets and rule values, anchored and alternating regexes, targets with a
//! trailing newline, and default denies. The Python oracle
//! (`tests/parity/agt_oracle.py`) runs openshell-agentmesh 3.6.0's
//! `GovernanceSkill` on them; every decision, reason and policy name (and every
//! rule count) must agree with gavel, whose indexed evaluation must also agree
//! with its plain reference scan.
//!
//! The interpreter is `$GAVEL_AGT_PYTHON` (a Python with
//! `openshell-agentmesh==3.6.0`). Without it the test FAILS, saying how to
//! install it: it never skips.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use gavel_policy::{PolicySet, Request, Verdict};
use serde_json::{Map, Value, json};

const SEED: u64 = 0x6761_7665_6c21_2026;
const DIRS: usize = 40;
const REQUESTS_PER_DIR: usize = 80;

const INSTALL: &str = "set GAVEL_AGT_PYTHON to a Python that has the reference implementation:\n  python3 -m venv /tmp/agtvenv\n  /tmp/agtvenv/bin/pip install openshell-agentmesh==3.6.0\n  export GAVEL_AGT_PYTHON=/tmp/agtvenv/bin/python";

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "shell:ls",
    "shell:ls -la",
    "shell:rm -rf /",
    "shell:rm",
    "shell:dd if=/dev/zero",
    "shell:git status",
    "shell:git",
    "shell:python",
    "SHELL:LS",
    "file:read:/workspace/a.py",
    "file:read:/etc/passwd",
    "file:write:/tmp/x",
    "file:write:/etc/hosts",
    "http:GET:api.github.com/x",
    "http:POST:169.254.169.254/latest",
    "ls",
    "ls\n",
    "git",
    "git\n",
    "python\n",
    "abc",
    "abc\n",
    "a\nb",
    "",
    "\n",
    "12",
    "1.5",
    "True",
    "None",
    "['a', 'b']",
    "x1e+16",
    "1e+16",
    "é",
    "naïve café",
    "tab\there",
    "git push --force",
    "rm",
    "dd",
    "curl http://x",
    "  spaced  ",
    "0",
    "-3",
    "b\n",
    "ab",
    "k",
    "1.0",
    "False",
    "x.py\n",
    "{'k': 1}",
];

const REGEXES: &[&str] = &[
    "^shell:(rm|dd|mkfs)",
    "shell:(rm|dd)",
    "^file:read:/(workspace|tmp)",
    "^file:write:/(etc|usr|root)",
    "ls$",
    "^ls$",
    "^(git|ls|python)$",
    "git( |$)",
    "\\d+$",
    "^\\d+$",
    "^$",
    "a|b",
    "(?i)^shell:",
    "^\\w+:\\s",
    "python$",
    "[0-9]{2,}",
    "^(foo|bar)$",
    "\\bls\\b",
    "x\\Z",
    "^a\\nb$",
    "\\.py$",
    "^http:(GET|POST):api\\.github\\.com",
    "169\\.254\\.169\\.254",
    "^$|^\\n$",
    ".",
    "^.$",
    "(?s)a.b",
    "(?m)^b$",
    "[^a-z]",
    "é",
    "^\\s*$",
    "e\\+16$",
    "True$",
    "^None$",
    "abc$",
    "\\B",
    "^-?\\d+(\\.\\d+)?$",
    "\\w\\s\\w",
    "^[a-z]+:\\w+\\n?$",
];

/// Patterns ending in `$`, and targets ending in a newline for them.
const DOLLAR_REGEXES: &[&str] = &[
    "^ls$",
    "ls$",
    "python$",
    "^(git|ls|python)$",
    "abc$",
    "\\.py$",
    "^\\d+$",
    "True$",
    "e\\+16$",
    "(ls|cat)$",
    "^shell:ls$",
    "^a\\nb$",
    "b$",
];
const NEWLINE_TARGETS: &[&str] = &[
    "ls\n",
    "python\n",
    "abc\n",
    "x.py\n",
    "12\n",
    "True\n",
    "shell:ls\n",
    "1e+16\n",
    "a\nb\n",
    "cat\n",
    "git\n",
    "ls\n\n",
    "b\n",
];

const KEYS: &[&str] = &[
    "cmd",
    "path",
    "tool",
    "n",
    "flag",
    "tags",
    "meta",
    "missing",
    "agent_did",
];

const OPS: &[&str] = &["equals", "starts_with", "contains", "matches", "in"];

/// A generated rule value, with the exact YAML spelling of its scalars.
#[derive(Clone, Debug)]
enum Gen {
    Str(String),
    Int(i64),
    /// The YAML text of a float.
    Float(&'static str),
    Bool(&'static str),
    Null(&'static str),
    List(Vec<Gen>),
    Dict(Vec<(String, Gen)>),
}

impl Gen {
    fn is_str(&self) -> bool {
        matches!(self, Gen::Str(_))
    }
}

const FLOATS: &[(&str, f64)] = &[
    ("1.0", 1.0),
    ("1.5", 1.5),
    ("0.1", 0.1),
    ("-2.5", -2.5),
    ("1.0e+16", 1e16),
    ("1.0e-05", 1e-5),
    ("100.0", 100.0),
    ("-0.0", -0.0),
    ("12.0", 12.0),
];
const BOOLS: &[&str] = &["true", "false", "True", "FALSE"];
const NULLS: &[&str] = &["null", "~", "Null"];
const INTS: &[i64] = &[0, 1, 12, -3, 100, 9_007_199_254_740_993];

fn gen_nonstr(rng: &mut Rng) -> Gen {
    match rng.below(5) {
        0 | 1 => Gen::Int(*rng.pick(INTS)),
        2 => Gen::Float(rng.pick(FLOATS).0),
        3 => Gen::Bool(BOOLS[rng.below(BOOLS.len())]),
        _ => Gen::Null(NULLS[rng.below(NULLS.len())]),
    }
}

fn prefix_of(rng: &mut Rng, s: &str) -> String {
    let cuts: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
    let min = if rng.chance(90) {
        1.min(cuts.len() - 1)
    } else {
        0
    };
    s[..cuts[min + rng.below(cuts.len() - min)]].to_owned()
}

fn substring_of(rng: &mut Rng, s: &str) -> String {
    let cuts: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
    let a = *rng.pick(&cuts);
    let b = *rng.pick(&cuts);
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if a == b && rng.chance(90) {
        return s.to_owned();
    }
    s[a..b].to_owned()
}

fn gen_value(rng: &mut Rng, op: &str) -> Gen {
    match op {
        "equals" => match rng.below(10) {
            0..=4 => Gen::Str(rng.pick(STRINGS).to_string()),
            5..=7 => gen_nonstr(rng),
            8 => Gen::List(vec![Gen::Int(1), Gen::Str("a".into())]),
            _ => Gen::Dict(vec![("k".into(), Gen::Int(1))]),
        },
        "starts_with" => {
            if rng.chance(75) {
                let s = rng.pick(STRINGS).to_string();
                Gen::Str(prefix_of(rng, &s))
            } else {
                gen_nonstr(rng)
            }
        }
        "contains" => match rng.below(10) {
            0..=6 => {
                let s = rng.pick(STRINGS).to_string();
                Gen::Str(substring_of(rng, &s))
            }
            7 => Gen::List(vec![Gen::Str("a".into()), Gen::Str("b".into())]),
            _ => gen_nonstr(rng),
        },
        "matches" => {
            if rng.chance(35) {
                Gen::Str(rng.pick(DOLLAR_REGEXES).to_string())
            } else if rng.chance(85) {
                Gen::Str(rng.pick(REGEXES).to_string())
            } else {
                match rng.below(4) {
                    0 => Gen::Int(12),
                    1 => Gen::Bool("True"),
                    2 => Gen::Float("1.5"),
                    _ => Gen::Null("~"),
                }
            }
        }
        _ => {
            if rng.chance(80) {
                let n = rng.below(5);
                Gen::List(
                    (0..n)
                        .map(|_| match rng.below(6) {
                            0..=2 => Gen::Str(rng.pick(STRINGS).to_string()),
                            3 => Gen::List(vec![Gen::Str("a".into())]),
                            _ => gen_nonstr(rng),
                        })
                        .collect(),
                )
            } else if rng.chance(50) {
                Gen::Str(rng.pick(STRINGS).to_string())
            } else {
                gen_nonstr(rng)
            }
        }
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn plain_safe(s: &str) -> bool {
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-:".contains(c))
        && !s.ends_with(':')
        && !reserved.contains(&s.to_ascii_lowercase().as_str())
}

fn flow(v: &Gen) -> String {
    match v {
        Gen::Str(s) => quoted(s),
        Gen::Int(i) => i.to_string(),
        Gen::Float(t) => (*t).to_owned(),
        Gen::Bool(t) | Gen::Null(t) => (*t).to_owned(),
        Gen::List(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Gen::Dict(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", quoted(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A value in block context at the given indentation (after `value:`).
fn block(rng: &mut Rng, v: &Gen, indent: usize) -> String {
    match v {
        Gen::Str(s) if plain_safe(s) && rng.chance(60) => format!(" {s}"),
        Gen::Str(s)
            if !s.contains('\'') && !s.contains('\n') && !s.contains('\t') && rng.chance(30) =>
        {
            format!(" '{s}'")
        }
        Gen::List(items) if !items.is_empty() && rng.chance(60) => {
            let mut out = String::new();
            for item in items {
                let _ = write!(out, "\n{}- {}", " ".repeat(indent), flow(item));
            }
            out
        }
        other => format!(" {}", flow(other)),
    }
}

/// One generated rule.
#[derive(Clone, Debug)]
struct RuleSpec {
    name: Option<String>,
    field: Option<String>,
    op: Option<&'static str>,
    value: Option<Gen>,
    action: Option<&'static str>,
    priority: Option<i64>,
    message: Option<String>,
}

fn gen_rule(rng: &mut Rng, idx: usize) -> RuleSpec {
    let op: Option<&'static str> = if rng.chance(5) {
        None
    } else {
        Some(OPS[rng.below(OPS.len())])
    };
    let effective = op.unwrap_or("equals");
    RuleSpec {
        name: if rng.chance(85) {
            Some(format!("r{idx}-{effective}"))
        } else {
            None
        },
        field: match rng.below(20) {
            0..=3 => None,
            4..=8 => Some("action".into()),
            _ => Some(rng.pick(KEYS).to_string()),
        },
        op,
        value: if rng.chance(3) {
            None
        } else {
            Some(gen_value(rng, effective))
        },
        action: match rng.below(10) {
            0..=4 => Some("allow"),
            5..=8 => Some("deny"),
            _ => None,
        },
        priority: if rng.chance(10) {
            None
        } else {
            Some(*rng.pick(&[0, 5, 10, 10, 100, -1, 50]))
        },
        message: match rng.below(10) {
            0..=5 => None,
            6..=7 => Some(String::new()),
            _ => Some(format!("message {idx}")),
        },
    }
}

fn write_rule(rng: &mut Rng, r: &RuleSpec, out: &mut String) {
    let mut cond: Vec<(String, String)> = Vec::new(); // (key, flow text)
    if let Some(f) = &r.field {
        cond.push((
            "field".into(),
            if plain_safe(f) && rng.chance(50) {
                f.clone()
            } else {
                quoted(f)
            },
        ));
    }
    if let Some(op) = r.op {
        cond.push(("operator".into(), op.to_owned()));
    }
    let has_cond = !cond.is_empty() || r.value.is_some();
    let mut top: Vec<(String, String)> = Vec::new();
    if let Some(n) = &r.name {
        top.push(("name".into(), quoted(n)));
    }
    if let Some(a) = r.action {
        top.push(("action".into(), a.to_owned()));
    }
    if let Some(p) = r.priority {
        top.push(("priority".into(), p.to_string()));
    }
    if let Some(m) = &r.message {
        top.push(("message".into(), quoted(m)));
    }
    match rng.below(3) {
        // fully flow: - {name: ..., condition: {...}}
        0 => {
            let mut parts: Vec<String> = top.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if has_cond {
                let mut c: Vec<String> = cond.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                if let Some(v) = &r.value {
                    c.push(format!("value: {}", flow(v)));
                }
                parts.insert(
                    rng.below(parts.len() + 1),
                    format!("condition: {{{}}}", c.join(", ")),
                );
            }
            let _ = writeln!(out, "  - {{{}}}", parts.join(", "));
        }
        // block rule, flow condition (the reference file's style)
        1 => {
            let mut lines: Vec<String> = top.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if has_cond {
                let mut c: Vec<String> = cond.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                if let Some(v) = &r.value {
                    c.push(format!("value: {}", flow(v)));
                }
                lines.insert(
                    rng.below(lines.len() + 1),
                    format!("condition: {{{}}}", c.join(", ")),
                );
            }
            if lines.is_empty() {
                out.push_str("  - {}\n");
                return;
            }
            for (i, l) in lines.iter().enumerate() {
                let _ = writeln!(out, "{}{l}", if i == 0 { "  - " } else { "    " });
            }
        }
        // all block
        _ => {
            let mut lines: Vec<String> = top.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if has_cond {
                let mut c = String::from("condition:");
                for (k, v) in &cond {
                    let _ = write!(c, "\n      {k}: {v}");
                }
                if let Some(v) = &r.value {
                    let b = block(rng, v, 8);
                    let _ = write!(c, "\n      value:{b}");
                }
                lines.insert(rng.below(lines.len() + 1), c);
            }
            if lines.is_empty() {
                out.push_str("  - {}\n");
                return;
            }
            for (i, l) in lines.iter().enumerate() {
                let _ = writeln!(out, "{}{l}", if i == 0 { "  - " } else { "    " });
            }
        }
    }
}

fn gen_json(rng: &mut Rng, needles: &[String]) -> Value {
    let string = |rng: &mut Rng| -> String {
        if rng.chance(10) {
            return rng.pick(NEWLINE_TARGETS).to_string();
        }
        let mut s = if !needles.is_empty() && rng.chance(40) {
            rng.pick(needles).clone()
        } else {
            rng.pick(STRINGS).to_string()
        };
        if rng.chance(15) {
            s.push('\n');
        }
        s
    };
    match rng.below(20) {
        0..=7 => Value::String(string(rng)),
        8..=9 => json!(*rng.pick(INTS)),
        10 => json!(rng.pick(FLOATS).1),
        11 => json!(rng.chance(50)),
        12 => Value::Null,
        13..=16 => {
            let n = rng.below(4);
            Value::Array(
                (0..n)
                    .map(|_| match rng.below(5) {
                        0..=2 => Value::String(string(rng)),
                        3 => json!(*rng.pick(INTS)),
                        _ => json!(rng.pick(FLOATS).1),
                    })
                    .collect(),
            )
        }
        _ => {
            let n = rng.below(3);
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(string(rng), json!(rng.below(3)));
            }
            if rng.chance(20) {
                m = Map::new();
                m.insert("k".into(), json!(1));
            }
            Value::Object(m)
        }
    }
}

fn gen_action(rng: &mut Rng, needles: &[String]) -> String {
    if rng.chance(12) {
        return rng.pick(NEWLINE_TARGETS).to_string();
    }
    match rng.below(10) {
        0..=3 => rng.pick(STRINGS).to_string(),
        4..=5 if !needles.is_empty() => {
            let mut s = rng.pick(needles).clone();
            if rng.chance(20) {
                s.push('\n');
            }
            s
        }
        6..=7 => format!("{}{}", rng.pick(STRINGS), rng.pick(STRINGS)),
        _ => format!("unlisted:{}", rng.below(1000)),
    }
}

struct Case {
    dir: PathBuf,
    rules: Vec<(String, RuleSpec)>, // (file, spec)
    requests: Vec<(String, Map<String, Value>)>,
}

fn string_leaves(v: &Gen, out: &mut Vec<String>) {
    match v {
        Gen::Str(s) => out.push(s.clone()),
        Gen::List(items) => items.iter().for_each(|i| string_leaves(i, out)),
        Gen::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
            out.push(k.clone());
            string_leaves(v, out);
        }),
        _ => {}
    }
}

fn generate(root: &Path) -> Vec<Case> {
    let mut rng = Rng(SEED);
    let file_names = [
        "00-base.yaml",
        "10-shell.yaml",
        "20-files.yaml",
        "a.yaml",
        "B.yaml",
        ".hidden.yaml",
        "z-last.yaml",
    ];
    let mut cases = Vec::new();
    let mut rule_no = 0usize;
    for d in 0..DIRS {
        let dir = root.join(format!("case-{d:02}"));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("mkdir: {e}");
        }
        let mut names: Vec<&str> = file_names.to_vec();
        let n_files = 2 + rng.below(3);
        let mut chosen = Vec::new();
        for _ in 0..n_files {
            let i = rng.below(names.len());
            chosen.push(names.remove(i));
        }
        let mut rules = Vec::new();
        for file in &chosen {
            let mut text = String::new();
            if rng.chance(50) {
                text.push_str("apiVersion: governance.toolkit/v1\n");
            }
            if rng.chance(30) {
                text.push_str("# generated by the gavel parity test\n");
            }
            text.push_str("rules:\n");
            for _ in 0..(2 + rng.below(9)) {
                rule_no += 1;
                let spec = gen_rule(&mut rng, rule_no);
                write_rule(&mut rng, &spec, &mut text);
                rules.push((file.to_string(), spec));
            }
            if let Err(e) = std::fs::write(dir.join(file), text) {
                panic!("write: {e}");
            }
        }
        // files that contribute nothing, and one that is not a policy
        if rng.chance(40) {
            let _ = std::fs::write(dir.join("empty.yaml"), "");
        }
        if rng.chance(30) {
            let _ = std::fs::write(dir.join("comments.yaml"), "# nothing here\n");
        }
        if rng.chance(30) {
            let _ = std::fs::write(dir.join("none.yaml"), "rules: []\n");
        }
        let _ = std::fs::write(dir.join("README.txt"), "not a policy\n");

        let mut needles = Vec::new();
        for (_, r) in &rules {
            if let Some(v) = &r.value {
                string_leaves(v, &mut needles);
            }
        }
        let mut requests = Vec::new();
        for _ in 0..REQUESTS_PER_DIR {
            let action = gen_action(&mut rng, &needles);
            let mut context = Map::new();
            for key in KEYS {
                if rng.chance(35) {
                    let mut v = gen_json(&mut rng, &needles);
                    // AGT hashes agent_did (trust lookup): a list or mapping crashes it.
                    if *key == "agent_did" && (v.is_array() || v.is_object()) {
                        v = Value::String("did:mesh:x".into());
                    }
                    context.insert((*key).to_owned(), v);
                }
            }
            requests.push((action, context));
        }
        cases.push(Case {
            dir,
            rules,
            requests,
        });
    }
    cases
}

#[derive(Debug, PartialEq, Eq, Clone, PartialOrd, Ord)]
struct Outcome {
    allowed: bool,
    reason: String,
    policy_name: Option<String>,
}

impl From<&Verdict> for Outcome {
    fn from(v: &Verdict) -> Self {
        Outcome {
            allowed: v.allowed,
            reason: v.reason.clone(),
            policy_name: v.policy_name.clone(),
        }
    }
}

fn python() -> String {
    match std::env::var("GAVEL_AGT_PYTHON") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => panic!(
            "GAVEL_AGT_PYTHON is not set: the differential parity test needs the AGT reference implementation.\n{INSTALL}"
        ),
    }
}

#[test]
fn decisions_match_the_agt_skill() {
    let python = python();
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => panic!("tempdir: {e}"),
    };
    let cases = generate(tmp.path());

    // Input for the oracle.
    let spec = json!({
        "cases": cases.iter().map(|c| json!({
            "dir": c.dir.to_string_lossy(),
            "requests": c.requests.iter().map(|(a, ctx)| json!({"action": a, "context": ctx})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    });
    let spec_path = tmp.path().join("cases.json");
    if let Err(e) = std::fs::write(&spec_path, spec.to_string()) {
        panic!("write cases: {e}");
    }
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/agt_oracle.py");
    let output = match Command::new(&python).arg(&oracle).arg(&spec_path).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run GAVEL_AGT_PYTHON={python}: {e}\n{INSTALL}"),
    };
    if !output.status.success() {
        panic!(
            "the AGT oracle failed ({}):\n{}\n{INSTALL}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout
        .lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) => v,
            Err(e) => panic!("oracle line {l:?}: {e}"),
        });

    let mut total = 0usize;
    let mut outcomes: BTreeSet<Outcome> = BTreeSet::new();
    let mut by_operator: BTreeMap<String, usize> = BTreeMap::new();
    let mut default_denies = 0usize;
    let mut raised_requests = 0usize;
    let mut raised_types: BTreeMap<String, usize> = BTreeMap::new();
    let mut dollar_newline = 0usize;
    let mut nonstring_value_decisions = 0usize;
    let mut nonstring_target_requests = 0usize;
    let mut stem_named = 0usize;
    let mut tie_decisions = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    let mut mismatch_count = 0usize;
    let mut rules_total = 0usize;

    for case in &cases {
        let policy = match PolicySet::load(&case.dir) {
            Ok(p) => p,
            Err(e) => panic!("gavel refused generated policy {}: {e}", case.dir.display()),
        };
        let load = lines.next().unwrap_or(Value::Null);
        assert_eq!(load["kind"], "load");
        assert_eq!(
            load["count"].as_u64(),
            Some(policy.rule_count() as u64),
            "rule count of {}",
            case.dir.display()
        );
        rules_total += policy.rule_count();
        let by_name: HashMap<&str, &RuleSpec> = case
            .rules
            .iter()
            .filter_map(|(_, r)| r.name.as_deref().map(|n| (n, r)))
            .collect();
        let mut priority_files: HashMap<i64, BTreeSet<&str>> = HashMap::new();
        for (file, r) in &case.rules {
            priority_files
                .entry(r.priority.unwrap_or(0))
                .or_default()
                .insert(file);
        }
        let used_fields: BTreeSet<&str> = case
            .rules
            .iter()
            .filter_map(|(_, r)| r.field.as_deref())
            .collect();

        for (action, context) in &case.requests {
            total += 1;
            let line = lines.next().unwrap_or(Value::Null);
            assert_eq!(line["kind"], "decision");
            let agt = Outcome {
                allowed: line["allowed"].as_bool().unwrap_or(true),
                reason: line["reason"].as_str().unwrap_or("<missing>").to_owned(),
                policy_name: line["policy_name"].as_str().map(str::to_owned),
            };
            let raised: Vec<String> = line["raised"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if !raised.is_empty() {
                raised_requests += 1;
            }
            for t in raised {
                *raised_types.entry(t).or_default() += 1;
            }

            let req = Request::new(action, context);
            let fast = policy.evaluate(&req);
            let slow = policy.evaluate_reference(&req);
            let ours = Outcome::from(&fast);
            if ours != agt || fast != slow {
                mismatch_count += 1;
                if mismatches.len() < 15 {
                    mismatches.push(format!(
                        "{}: action={action:?} context={}\n  gavel={ours:?}\n  reference={:?}\n  agt={agt:?}",
                        case.dir.display(),
                        Value::Object(context.clone()),
                        Outcome::from(&slow)
                    ));
                }
                continue;
            }
            outcomes.insert(ours.clone());
            if used_fields
                .iter()
                .any(|f| context.get(*f).is_some_and(|v| !v.is_string()))
            {
                nonstring_target_requests += 1;
            }
            match &ours.policy_name {
                None => default_denies += 1,
                Some(name) => match by_name.get(name.as_str()) {
                    None => stem_named += 1,
                    Some(rule) => {
                        let op = rule.op.unwrap_or("equals");
                        *by_operator.entry(op.to_owned()).or_default() += 1;
                        if rule.value.as_ref().is_some_and(|v| !v.is_str()) {
                            nonstring_value_decisions += 1;
                        }
                        if priority_files
                            .get(&rule.priority.unwrap_or(0))
                            .is_some_and(|f| f.len() > 1)
                        {
                            tie_decisions += 1;
                        }
                        let target = match rule.field.as_deref() {
                            None | Some("action") => Some(action.as_str()),
                            Some(f) => context.get(f).and_then(Value::as_str),
                        };
                        let dollar = matches!(&rule.value, Some(Gen::Str(p)) if p.ends_with('$') || p.ends_with("$)"));
                        if op == "matches" && dollar && target.is_some_and(|t| t.ends_with('\n')) {
                            dollar_newline += 1;
                        }
                    }
                },
            }
        }
    }
    assert!(
        lines.next().is_none(),
        "the oracle printed more lines than requests"
    );

    eprintln!(
        "parity: {total} requests over {} policy dirs ({rules_total} rules), {} distinct outcomes (allowed, reason, policy_name)",
        cases.len(),
        outcomes.len()
    );
    eprintln!(
        "  decided by operator: {by_operator:?}; by stem-named rules: {stem_named}; default denies: {default_denies}"
    );
    eprintln!(
        "  requests where AGT's _match raised (counted as no match): {raised_requests}, exceptions by type: {raised_types:?}"
    );
    eprintln!(
        "  `$` rules matching a target with a trailing newline: {dollar_newline}; decisions by non-string rule values: {nonstring_value_decisions}; requests with non-string targets: {nonstring_target_requests}; decisions at a priority tied across files: {tie_decisions}"
    );
    if !mismatches.is_empty() {
        panic!(
            "{mismatch_count} disagreement(s) with AGT 3.6.0 (first ones):\n{}",
            mismatches.join("\n")
        );
    }

    // Coverage: the generator must really exercise what the test claims.
    assert!(total >= 2000, "{total}");
    for op in OPS {
        assert!(
            by_operator.get(*op).copied().unwrap_or(0) >= 20,
            "operator {op} decided too few requests: {by_operator:?}"
        );
    }
    assert!(default_denies >= 100, "{default_denies}");
    assert!(stem_named >= 5, "{stem_named}");
    assert!(raised_requests >= 50, "{raised_requests}");
    assert!(
        raised_types
            .keys()
            .all(|t| t == "TypeError" || t == "AttributeError"),
        "unexpected exceptions in _match: {raised_types:?}"
    );
    assert!(dollar_newline >= 5, "{dollar_newline}");
    assert!(
        nonstring_value_decisions >= 50,
        "{nonstring_value_decisions}"
    );
    assert!(
        nonstring_target_requests >= 500,
        "{nonstring_target_requests}"
    );
    assert!(tie_decisions >= 100, "{tie_decisions}");
    assert!(outcomes.len() >= 200, "{}", outcomes.len());
}

/// The rule cache (`RuleCache`) on the same 40 generated policies and 3,200 requests:
/// a rule set read back from the cache decides every request exactly as the full load
/// of the files does (no reference implementation needed: the full load is the
/// reference here, and it is the one compared with AGT above).
#[test]
fn cached_rule_sets_decide_like_full_loads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = generate(tmp.path());
    let cache = gavel_policy::RuleCache::new(tmp.path().join("cache"), &[42u8; 32]);
    let mut compared = 0usize;
    for case in &cases {
        let full = PolicySet::load(&case.dir).expect("full load");
        // the first load with the cache is a full load that stores the entry, the
        // second reads it back
        let first = PolicySet::load_with_cache(&case.dir, Some(&cache)).expect("first load");
        let cached = PolicySet::load_with_cache(&case.dir, Some(&cache)).expect("cached load");
        assert_eq!(cached.digest(), full.digest(), "{}", case.dir.display());
        assert_eq!(
            cached.rule_count(),
            full.rule_count(),
            "{}",
            case.dir.display()
        );
        for (action, context) in &case.requests {
            let req = Request::new(action, context);
            let want = Outcome::from(&full.evaluate(&req));
            assert_eq!(
                Outcome::from(&first.evaluate(&req)),
                want,
                "{action} {context:?}"
            );
            assert_eq!(
                Outcome::from(&cached.evaluate(&req)),
                want,
                "cached rules of {} on {action:?} {context:?}",
                case.dir.display()
            );
            compared += 1;
        }
    }
    assert_eq!(compared, DIRS * REQUESTS_PER_DIR);
    // the directory keeps the most recent entries only
    let kept = std::fs::read_dir(tmp.path().join("cache"))
        .expect("cache dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".rules"))
        })
        .count();
    assert_eq!(kept, gavel_policy::RULE_CACHE_KEEP);
}
