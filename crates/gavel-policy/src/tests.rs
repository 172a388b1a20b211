//! Loading, engine detection, digests and the Cedar engine.

use std::fs;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::{
    AGENT_SCHEMA, AgentAction, CedarShape, Engine, PolicyError, PolicySet, Request, Verdict,
    digest_path,
};

fn write(dir: &Path, name: &str, text: &str) {
    if let Err(e) = fs::write(dir.join(name), text) {
        panic!("write {name}: {e}");
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn load(path: &Path) -> PolicySet {
    match PolicySet::load(path) {
        Ok(p) => p,
        Err(e) => panic!("load {}: {e}", path.display()),
    }
}

fn load_err(path: &Path) -> String {
    match PolicySet::load(path) {
        Ok(p) => panic!(
            "{} loaded ({} rules), expected an error",
            path.display(),
            p.rule_count()
        ),
        Err(e) => e.to_string(),
    }
}

fn ctx(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn decide(p: &PolicySet, action: &str, context: Value) -> Verdict {
    let c = ctx(context);
    let v = p.evaluate(&Request::new(action, &c));
    assert_eq!(v, p.evaluate_reference(&Request::new(action, &c)));
    v
}

fn decide_agent(p: &PolicySet, action: AgentAction, resource_id: &str, context: Value) -> Verdict {
    let c = ctx(context);
    p.evaluate(&Request {
        action: action.as_str(),
        context: &c,
        resource: None,
        shape: CedarShape::Agent {
            action,
            resource_id,
        },
    })
}

#[test]
fn policy_set_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    assert_send_sync::<Verdict>();
    assert_send_sync::<PolicyError>();
}

#[test]
fn engine_names() {
    assert_eq!(Engine::YamlRules.as_str(), "yaml-rules");
    assert_eq!(Engine::Cedar.as_str(), "cedar");
    assert_eq!(Engine::Cedar.to_string(), "cedar");
    assert_eq!(AgentAction::RequestTool.as_str(), "request_tool");
}

// ---- loading ----

#[test]
fn missing_path_is_the_skills_error() {
    let d = tempdir();
    let missing = d.path().join("nope");
    assert_eq!(
        load_err(&missing),
        format!("Policy directory not found: {}", missing.display())
    );
    assert!(matches!(PolicySet::load(&missing), Err(PolicyError::NotFound(p)) if p == missing));
}

#[test]
fn a_directory_without_policy_files_is_refused() {
    let d = tempdir();
    assert_eq!(
        load_err(d.path()),
        format!(
            "{}: no policy file in this directory (put *.yaml / *.yml rule files or *.cedar policies directly in it)",
            d.path().display()
        )
    );
    write(d.path(), "README.md", "# policies\n");
    write(d.path(), "schema.cedarschema", "entity Agent;\n");
    fs::create_dir(d.path().join("sub")).ok();
    write(&d.path().join("sub"), "nested.yaml", "rules: []\n");
    assert!(load_err(d.path()).contains("no policy file in this directory"));
}

#[test]
fn mixing_engines_is_refused() {
    let d = tempdir();
    write(d.path(), "a.yaml", "rules: []\n");
    write(
        d.path(),
        "b.cedar",
        "permit(principal, action, resource);\n",
    );
    assert_eq!(
        load_err(d.path()),
        format!(
            "{}: mixes YAML rule files (a.yaml) and Cedar files (b.cedar); keep one engine per policy directory",
            d.path().display()
        )
    );
}

#[test]
fn unsupported_single_file_and_non_file_entries() {
    let d = tempdir();
    write(d.path(), "policy.txt", "rules: []\n");
    let f = d.path().join("policy.txt");
    assert_eq!(
        load_err(&f),
        format!(
            "{}: not a policy file (expected a .yaml, .yml or .cedar file, or a directory of them)",
            f.display()
        )
    );
    fs::create_dir(d.path().join("dir.yaml")).ok();
    assert!(load_err(d.path()).ends_with(
        "dir.yaml: has a policy file extension but is not a regular file; rename or move it"
    ));
}

#[test]
fn yaml_directory_loads_yaml_and_yml_in_name_order_hidden_included() {
    let d = tempdir();
    write(
        d.path(),
        "b.yml",
        "rules:\n  - {name: from-yml, condition: {value: x}, action: allow, priority: 1}\n",
    );
    write(
        d.path(),
        "a.yaml",
        "rules:\n  - {name: from-a, condition: {value: x}, priority: 1}\n",
    );
    write(
        d.path(),
        ".hidden.yaml",
        "rules:\n  - {name: hidden, condition: {value: h}, action: allow}\n",
    );
    write(d.path(), "empty.yaml", "");
    write(d.path(), "notes.txt", "rules: [oops]\n");
    write(d.path(), "data.json", "[1]\n");
    let p = load(d.path());
    assert_eq!(p.engine(), Engine::YamlRules);
    assert_eq!(p.rule_count(), 3);
    assert_eq!(p.source(), d.path());
    // tie at priority 1: a.yaml comes before b.yml
    assert_eq!(
        decide(&p, "x", json!({})).policy_name.as_deref(),
        Some("from-a")
    );
    assert!(decide(&p, "h", json!({})).allowed);
    // the digest covers exactly the loaded YAML files, by relative name
    let files: Vec<(&str, Vec<u8>)> = [".hidden.yaml", "a.yaml", "b.yml", "empty.yaml"]
        .iter()
        .map(|n| (*n, fs::read(d.path().join(n)).unwrap_or_default()))
        .collect();
    assert_eq!(
        p.digest(),
        gavel_receipt::policy_digest("yaml-rules", &files)
    );
    assert_eq!(
        digest_path(d.path()).ok(),
        Some((Engine::YamlRules, p.digest().to_owned()))
    );
    // a changed byte changes the digest
    write(d.path(), "empty.yaml", "\n");
    assert_ne!(load(d.path()).digest(), p.digest());
}

#[test]
fn single_files_use_their_base_name_in_the_digest() {
    let d = tempdir();
    let text = "rules:\n  - {name: r, condition: {value: x}, action: allow}\n";
    write(d.path(), "one.yml", text);
    let f = d.path().join("one.yml");
    let p = load(&f);
    assert_eq!(p.rule_count(), 1);
    assert_eq!(
        p.digest(),
        gavel_receipt::policy_digest("yaml-rules", &[("one.yml", text)])
    );
    let cedar = "permit(principal, action, resource);\n";
    write(d.path(), "p.cedar", cedar);
    let c = load(&d.path().join("p.cedar"));
    assert_eq!(c.engine(), Engine::Cedar);
    assert_eq!(
        c.digest(),
        gavel_receipt::policy_digest("cedar", &[("p.cedar", cedar)])
    );
    assert!(decide(&c, "anything", json!({})).allowed);
}

#[test]
fn digest_path_refuses_a_policy_that_does_not_load() {
    let d = tempdir();
    write(
        d.path(),
        "bad.yaml",
        "rules:\n  - {name: r, condition: {operator: like}}\n",
    );
    let e = digest_path(d.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("unknown operator \"like\""), "{e}");
}

#[test]
fn the_reference_sandbox_policy_decides_like_agt() {
    // Expected values: AGT openshell-agentmesh 3.6.0 on the same file.
    let p = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference"));
    assert_eq!(p.rule_count(), 7);
    let cases: &[(&str, bool, &str, Option<&str>)] = &[
        (
            "file:read:/workspace/main.py",
            true,
            "Allowed by rule: allow-workspace-read",
            Some("allow-workspace-read"),
        ),
        (
            "shell:python",
            true,
            "Allowed by rule: allow-safe-shell",
            Some("allow-safe-shell"),
        ),
        (
            "http:GET:api.github.com/repos",
            true,
            "Allowed by rule: allow-github-api",
            Some("allow-github-api"),
        ),
        (
            "shell:rm -rf /",
            false,
            "Destructive shell command blocked",
            Some("block-destructive-shell"),
        ),
        (
            "http:GET:169.254.169.254/latest/meta-data",
            false,
            "Cloud metadata endpoint blocked",
            Some("block-metadata-endpoint"),
        ),
        (
            "file:write:/etc/passwd",
            false,
            "Writes to system directories blocked",
            Some("block-system-writes"),
        ),
        (
            "file:write:/tmp/x",
            true,
            "Allowed by rule: allow-workspace-write",
            Some("allow-workspace-write"),
        ),
        (
            "shell:ls",
            true,
            "Allowed by rule: allow-safe-shell",
            Some("allow-safe-shell"),
        ),
        (
            "unknown:action",
            false,
            "No matching rule - default deny",
            None,
        ),
    ];
    for (action, allowed, reason, name) in cases {
        let v = decide(&p, action, json!({}));
        assert_eq!(
            (v.allowed, v.reason.as_str(), v.policy_name.as_deref()),
            (*allowed, *reason, *name),
            "{action}"
        );
    }
}

// ---- Cedar ----

const CONFORMANCE: &str = r#"permit (principal, action in [Action::"Read", Action::"Grep"], resource);
permit (principal, action == Action::"Bash", resource) when { context.command_pattern in ["git", "ls", "python"] };
forbid (principal, action == Action::"Bash", resource) when { context.command_pattern in ["rm -rf", "dd"] };
"#;

fn cedar_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PolicySet) {
    let d = tempdir();
    for (n, t) in files {
        write(d.path(), n, t);
    }
    let p = load(d.path());
    (d, p)
}

#[test]
fn cedar_conformance_set_as_written() {
    let (_d, p) = cedar_dir(&[("policies.cedar", CONFORMANCE)]);
    assert_eq!(p.rule_count(), 3);
    let read = decide(&p, "Read", json!({}));
    assert_eq!(
        read,
        Verdict {
            allowed: true,
            reason: "Allowed by policy: policies.cedar#0".into(),
            policy_name: Some("policies.cedar#0".into()),
            policy_id: "policies.cedar#0".into(),
        }
    );
    // `in` on a string is an evaluation error in Cedar: the permit can never
    // apply, so `git` cannot be allowed (stock Cedar denies it too, see below);
    // gavel denies and says why.
    let git = decide(&p, "Bash", json!({"command_pattern": "git"}));
    assert!(!git.allowed);
    assert_eq!(
        git.policy_name.as_deref(),
        Some("policies.cedar#1,policies.cedar#2")
    );
    assert!(
        git.reason.starts_with("Denied by policy evaluation error (fail closed): policy policies.cedar#1: type error: expected"),
        "{}",
        git.reason
    );
    assert!(
        git.reason.contains("; policy policies.cedar#2: type error"),
        "{}",
        git.reason
    );
    let rm = decide(&p, "Bash", json!({"command_pattern": "rm -rf"}));
    assert!(!rm.allowed);
    assert!(
        rm.reason
            .starts_with("Denied by policy evaluation error (fail closed)")
    );
    let write_ = decide(&p, "Write", json!({}));
    assert_eq!(
        write_,
        Verdict {
            allowed: false,
            reason: "No matching permit - default deny".into(),
            policy_name: None,
            policy_id: "default_deny".into(),
        }
    );
    // What stock Cedar answers for `git`: Deny as well (the erroring permit is skipped).
    let stock = stock_cedar(CONFORMANCE, "Bash", json!({"command_pattern": "git"}));
    assert_eq!(stock, (cedar_policy::Decision::Deny, 2));
}

#[test]
fn cedar_conformance_set_with_contains() {
    let fixed = CONFORMANCE.replace(
        "context.command_pattern in [\"git\", \"ls\", \"python\"]",
        "[\"git\", \"ls\", \"python\"].contains(context.command_pattern)",
    );
    let fixed = fixed.replace(
        "context.command_pattern in [\"rm -rf\", \"dd\"]",
        "[\"rm -rf\", \"dd\"].contains(context.command_pattern)",
    );
    let (_d, p) = cedar_dir(&[("policies.cedar", &fixed)]);
    assert!(decide(&p, "Read", json!({})).allowed);
    assert!(decide(&p, "Grep", json!({})).allowed);
    let git = decide(&p, "Bash", json!({"command_pattern": "git"}));
    assert_eq!(
        (git.allowed, git.reason.as_str()),
        (true, "Allowed by policy: policies.cedar#1")
    );
    let rm = decide(&p, "Bash", json!({"command_pattern": "rm -rf"}));
    assert_eq!(
        rm,
        Verdict {
            allowed: false,
            reason: "Denied by policy: policies.cedar#2".into(),
            policy_name: Some("policies.cedar#2".into()),
            policy_id: "policies.cedar#2".into(),
        }
    );
    assert_eq!(
        decide(&p, "Bash", json!({"command_pattern": "vim"})).reason,
        "No matching permit - default deny"
    );
    assert!(!decide(&p, "Write", json!({})).allowed);
    // a Bash request without the attribute errors -> fail closed
    let missing = decide(&p, "Bash", json!({}));
    assert!(!missing.allowed);
    assert!(
        missing
            .reason
            .contains("does not have the attribute `command_pattern`"),
        "{}",
        missing.reason
    );
}

/// Stock Cedar's decision and number of evaluation errors for one tool call.
fn stock_cedar(policies: &str, action: &str, context: Value) -> (cedar_policy::Decision, usize) {
    use std::str::FromStr;
    let Ok(set) = cedar_policy::PolicySet::from_str(policies) else {
        panic!("parse")
    };
    let uid = |t: &str, id: &str| {
        cedar_policy::EntityUid::from_type_name_and_id(
            cedar_policy::EntityTypeName::from_str(t).unwrap_or_else(|_| panic!("type")),
            cedar_policy::EntityId::new(id),
        )
    };
    let Ok(context) = cedar_policy::Context::from_json_value(context, None) else {
        panic!("context")
    };
    let Ok(req) = cedar_policy::Request::new(
        uid("Agent", "unknown"),
        uid("Action", action),
        uid("Resource", action),
        context,
        None,
    ) else {
        panic!("request")
    };
    let resp =
        cedar_policy::Authorizer::new().is_authorized(&req, &set, &cedar_policy::Entities::empty());
    (resp.decision(), resp.diagnostics().errors().count())
}

#[test]
fn cedar_erroring_forbid_beside_a_permit_is_denied() {
    let policies = "permit (principal, action, resource);\n@id(\"no-rm\")\nforbid (principal, action, resource) when { context.cmd in [\"rm\"] };\n";
    // The hazard: stock Cedar allows, because it skips the erroring forbid.
    assert_eq!(
        stock_cedar(policies, "Bash", json!({"cmd": "rm"})),
        (cedar_policy::Decision::Allow, 1)
    );
    let (_d, p) = cedar_dir(&[("p.cedar", policies)]);
    let v = decide(&p, "Bash", json!({"cmd": "rm"}));
    assert!(!v.allowed);
    assert_eq!(v.policy_name.as_deref(), Some("no-rm"));
    assert_eq!(v.policy_id, "no-rm");
    assert!(
        v.reason.starts_with(
            "Denied by policy evaluation error (fail closed): policy no-rm: type error: expected"
        ),
        "{}",
        v.reason
    );
}

#[test]
fn cedar_unmappable_context_is_a_deny() {
    let (_d, p) = cedar_dir(&[("p.cedar", "permit (principal, action, resource);\n")]);
    assert!(
        decide(
            &p,
            "Read",
            json!({"n": 1, "s": "x", "b": true, "l": [1], "o": {"k": "v"}})
        )
        .allowed
    );
    for bad in [
        json!({"f": 1.5}),
        json!({"n": null}),
        json!({"big": u64::MAX}),
        json!({"agent_did": 5}),
    ] {
        let v = decide(&p, "Read", bad.clone());
        assert!(!v.allowed, "{bad}");
        assert_eq!(v.policy_name, None);
        assert!(v.reason.contains("(fail closed)"), "{bad}: {}", v.reason);
    }
    let v = decide(&p, "Read", json!({"f": 1.5}));
    assert!(
        v.reason
            .starts_with("Context cannot be mapped to Cedar (fail closed): "),
        "{}",
        v.reason
    );
}

#[test]
fn cedar_principal_resource_and_ids() {
    let (_d, p) = cedar_dir(&[
        (
            "a.cedar",
            "@id(\"alice-reads\")\npermit (principal == Agent::\"did:alice\", action == Action::\"Read\", resource == Resource::\"/etc/motd\");\npermit (principal, action == Action::\"Ping\", resource == Resource::\"Ping\");\n",
        ),
        (
            "b.cedar",
            "forbid (principal == Agent::\"unknown\", action, resource);\n",
        ),
    ]);
    assert_eq!(p.rule_count(), 3);
    let c = ctx(json!({"agent_did": "did:alice"}));
    let v = p.evaluate(&Request {
        action: "Read",
        context: &c,
        resource: Some("/etc/motd"),
        shape: CedarShape::ToolCall,
    });
    assert_eq!(v.reason, "Allowed by policy: alice-reads");
    // the resource defaults to the action
    let v = decide(&p, "Ping", json!({"agent_did": "did:bob"}));
    assert_eq!(v.reason, "Allowed by policy: a.cedar#1");
    // agent_did defaults to "unknown"
    let v = decide(&p, "Ping", json!({}));
    assert_eq!(v.reason, "Denied by policy: b.cedar#0");
}

#[test]
fn cedar_action_groups_and_context_escapes_take_the_exact_path() {
    let policies = r#"permit (principal, action in Action::"shell", resource);
forbid (principal, action == Action::"rm", resource);
permit (principal, action == Action::"Own", resource) when { context.owner == Agent::"x" };
permit (principal, action in [Action::"Read", Action::"List"], resource) when { context.n > 1 };
"#;
    let entities = r#"[
  {"uid": {"type": "Action", "id": "rm"}, "attrs": {}, "parents": [{"type": "Action", "id": "danger"}]},
  {"uid": {"type": "Action", "id": "danger"}, "attrs": {}, "parents": [{"type": "Action", "id": "shell"}]},
  {"uid": {"type": "Action", "id": "ls"}, "attrs": {}, "parents": [{"type": "Action", "id": "shell"}]}
]"#;
    let (_d, p) = cedar_dir(&[("p.cedar", policies), ("actions.json", entities)]);
    // `ls` and `rm` are in `shell` through the entity hierarchy (rm transitively)
    assert_eq!(
        decide(&p, "ls", json!({})).reason,
        "Allowed by policy: p.cedar#0"
    );
    assert_eq!(
        decide(&p, "rm", json!({})).reason,
        "Denied by policy: p.cedar#1"
    );
    assert_eq!(
        decide(&p, "shell", json!({})).reason,
        "Allowed by policy: p.cedar#0"
    );
    assert_eq!(
        decide(&p, "cat", json!({})).reason,
        "No matching permit - default deny"
    );
    // an entity reference in the context (the `__entity` escape)
    let owner = json!({"owner": {"__entity": {"type": "Agent", "id": "x"}}});
    assert_eq!(
        decide(&p, "Own", owner).reason,
        "Allowed by policy: p.cedar#2"
    );
    assert!(!decide(&p, "Own", json!({"owner": {"type": "Agent", "id": "x"}})).allowed);
    // sets, records, booleans and integers on the fast path
    assert!(
        decide(
            &p,
            "List",
            json!({"n": 2, "tags": ["a", "b"], "meta": {"k": true}})
        )
        .allowed
    );
    assert!(!decide(&p, "List", json!({"n": 1})).allowed);
    assert!(
        decide(&p, "List", json!({"n": "2"}))
            .reason
            .contains("(fail closed)")
    );
}

#[test]
fn cedar_load_errors() {
    let d = tempdir();
    write(
        d.path(),
        "p.cedar",
        "permit (principal, action, resource);\n\nforbid (principal, action, resource)\nwhen { context.x == };\n",
    );
    let e = load_err(d.path());
    assert!(
        e.starts_with(&format!("{}:4:", d.path().join("p.cedar").display())),
        "{e}"
    );
    assert!(e.contains("Cedar syntax error: "), "{e}");

    let d = tempdir();
    write(
        d.path(),
        "a.cedar",
        "@id(\"x\")\npermit (principal, action, resource);\n",
    );
    write(
        d.path(),
        "b.cedar",
        "@id(\"x\")\nforbid (principal, action, resource);\n",
    );
    assert!(load_err(d.path()).contains("duplicate policy id \"x\""));

    let d = tempdir();
    write(
        d.path(),
        "t.cedar",
        "permit (principal == ?principal, action, resource);\n",
    );
    assert!(
        load_err(d.path()).contains(
            "templates (policies with `?principal` / `?resource` slots) are not supported"
        )
    );

    let d = tempdir();
    write(
        d.path(),
        "p.cedar",
        "permit (principal, action, resource);\n",
    );
    write(d.path(), "a.cedarschema", "entity Agent;\n");
    write(d.path(), "b.cedarschema.json", "{}\n");
    assert!(
        load_err(d.path())
            .contains("more than one Cedar schema (a.cedarschema, b.cedarschema.json)")
    );

    let d = tempdir();
    write(
        d.path(),
        "p.cedar",
        "permit (principal, action, resource);\n",
    );
    write(d.path(), "entities.json", "{\"not\": \"an array\"}\n");
    assert!(load_err(d.path()).contains("invalid Cedar entities"));
}

const TOOL_SCHEMA: &str = r#"entity Agent;
entity Resource;
action Read, Grep, Write appliesTo { principal: Agent, resource: Resource, context: {} };
action Bash appliesTo { principal: Agent, resource: Resource, context: { command_pattern: String, agent_did?: String } };
"#;

#[test]
fn cedar_schema_validation_failure_refuses_to_load() {
    let d = tempdir();
    write(d.path(), "policies.cedar", CONFORMANCE);
    write(d.path(), "tools.cedarschema", TOOL_SCHEMA);
    let e = load_err(d.path());
    assert!(
        e.starts_with(&format!("{}:2:", d.path().join("policies.cedar").display())),
        "{e}"
    );
    assert!(
        e.contains(
            "policy `policies.cedar#1` fails strict validation against the schema tools.cedarschema"
        ),
        "{e}"
    );
    // a typo in an attribute name is caught at load, not at decision time
    let d = tempdir();
    write(
        d.path(),
        "p.cedar",
        "permit (principal, action == Action::\"Bash\", resource) when { context.comand_pattern == \"ls\" };\n",
    );
    write(d.path(), "tools.cedarschema", TOOL_SCHEMA);
    let e = load_err(d.path());
    assert!(
        e.contains("fails strict validation") && e.contains("comand_pattern"),
        "{e}"
    );
    // an invalid schema
    let d = tempdir();
    write(
        d.path(),
        "p.cedar",
        "permit (principal, action, resource);\n",
    );
    write(
        d.path(),
        "s.cedarschema",
        "entity Agent\nentity Resource;\n",
    );
    let e = load_err(d.path());
    assert!(
        e.contains("s.cedarschema:") && e.contains("invalid Cedar schema"),
        "{e}"
    );
}

#[test]
fn cedar_with_a_valid_schema_and_entities() {
    let policies = "permit (principal, action == Action::\"Bash\", resource) when { [\"git\", \"ls\"].contains(context.command_pattern) };\npermit (principal in Agent::\"admins\", action == Action::\"Write\", resource);\n";
    let schema = "entity Agent in [Agent];\nentity Resource;\naction Read appliesTo { principal: Agent, resource: Resource, context: {} };\naction Write appliesTo { principal: Agent, resource: Resource, context: { agent_did?: String } };\naction Bash appliesTo { principal: Agent, resource: Resource, context: { command_pattern: String, agent_did?: String } };\n";
    let entities = r#"[{"uid": {"type": "Agent", "id": "did:root"}, "attrs": {}, "parents": [{"type": "Agent", "id": "admins"}]}]"#;
    let (d, p) = cedar_dir(&[
        ("p.cedar", policies),
        ("s.cedarschema", schema),
        ("entities.json", entities),
    ]);
    assert!(decide(&p, "Bash", json!({"command_pattern": "ls"})).allowed);
    assert!(!decide(&p, "Bash", json!({"command_pattern": "rm"})).allowed);
    // with a schema, a context that does not match it is a deny with the reason
    let v = decide(&p, "Bash", json!({"command_pattern": 5}));
    assert!(!v.allowed);
    assert_eq!(
        v.reason,
        "Request does not conform to the Cedar schema (fail closed): context `{command_pattern: 5}` is not valid for `Action::\"Bash\"`"
    );
    let v = decide(&p, "Unknown", json!({}));
    assert!(
        !v.allowed && v.reason.contains("(fail closed)"),
        "{}",
        v.reason
    );
    // entities from the JSON file: did:root is in admins
    assert!(decide(&p, "Write", json!({"agent_did": "did:root"})).allowed);
    assert!(!decide(&p, "Write", json!({"agent_did": "did:other"})).allowed);
    // Read declares an empty context: the agent_did key itself does not conform
    let v = decide(&p, "Read", json!({"agent_did": "did:root"}));
    assert_eq!(
        v.reason,
        "Context cannot be mapped to Cedar (fail closed): while parsing context, record attribute `agent_did` should not exist according to the schema"
    );
    // the digest covers policies, schema and entities
    let files: Vec<(&str, Vec<u8>)> = ["entities.json", "p.cedar", "s.cedarschema"]
        .iter()
        .map(|n| (*n, fs::read(d.path().join(n)).unwrap_or_default()))
        .collect();
    assert_eq!(p.digest(), gavel_receipt::policy_digest("cedar", &files));
}

const AGENT_POLICIES: &str = r#"@id("read-workspace")
permit (principal is Agent::Principal, action == Agent::Action::"open", resource is Agent::File)
when { principal.ring >= 2 && resource.path like "/workspace/*" && context.mode == "read" };

@id("net")
permit (principal, action == Agent::Action::"connect", resource is Agent::Endpoint) when { context.tls };

@id("no-metadata")
forbid (principal, action == Agent::Action::"connect", resource is Agent::Endpoint)
when { resource.host == "169.254.169.254" };

@id("git")
permit (principal, action == Agent::Action::"exec", resource is Agent::Executable)
when { resource.path == "/usr/bin/git" && principal.trust_score.greaterThanOrEqual(decimal("0.5")) };

@id("tools")
permit (principal, action == Agent::Action::"request_tool", resource == Agent::Tool::"search");
"#;

#[test]
fn cedar_agent_action_vocabulary() {
    let (_d, p) = cedar_dir(&[
        ("agent.cedar", AGENT_POLICIES),
        ("agent.cedarschema", AGENT_SCHEMA),
    ]);
    let who = json!({"agent_did": "did:a", "ring": 2, "trust_score": 0.8, "session_id": "s1"});
    let with = |extra: Value| {
        let mut m = ctx(who.clone());
        m.extend(ctx(extra));
        Value::Object(m)
    };
    let v = decide_agent(
        &p,
        AgentAction::Open,
        "/workspace/src/main.rs",
        with(json!({"mode": "read"})),
    );
    assert_eq!(v.reason, "Allowed by policy: read-workspace");
    let v = decide_agent(
        &p,
        AgentAction::Open,
        "/etc/shadow",
        with(json!({"mode": "read"})),
    );
    assert_eq!(v.reason, "No matching permit - default deny");
    let low = json!({"agent_did": "did:a", "ring": 1, "trust_score": 0.8, "mode": "read"});
    assert!(!decide_agent(&p, AgentAction::Open, "/workspace/a", low).allowed);
    let v = decide_agent(
        &p,
        AgentAction::Connect,
        "https://api.github.com/repos",
        with(json!({"tls": true})),
    );
    assert_eq!(v.reason, "Allowed by policy: net");
    let v = decide_agent(
        &p,
        AgentAction::Connect,
        "http://169.254.169.254/latest/meta-data",
        with(json!({"tls": true})),
    );
    assert_eq!(v.reason, "Denied by policy: no-metadata");
    let v = decide_agent(
        &p,
        AgentAction::Exec,
        "/usr/bin/git",
        with(json!({"command": "git", "argv": ["git", "status"]})),
    );
    assert_eq!(v.reason, "Allowed by policy: git");
    let v = decide_agent(
        &p,
        AgentAction::RequestTool,
        "search",
        with(json!({"args_hash": "ab12"})),
    );
    assert_eq!(v.reason, "Allowed by policy: tools");
    // fail closed: principal attributes the schema requires are missing
    let v = decide_agent(
        &p,
        AgentAction::Open,
        "/workspace/a",
        json!({"agent_did": "did:a", "mode": "read"}),
    );
    assert!(!v.allowed);
    assert!(
        v.reason
            .starts_with("Request entities do not conform to the Cedar schema (fail closed)"),
        "{}",
        v.reason
    );
    // fail closed: context not per the schema (exec needs command and argv)
    let v = decide_agent(
        &p,
        AgentAction::Exec,
        "/usr/bin/git",
        with(json!({"command": "git"})),
    );
    assert!(
        !v.allowed && v.reason.contains("(fail closed)"),
        "{}",
        v.reason
    );
    // fail closed: an endpoint without a port
    let v = decide_agent(
        &p,
        AgentAction::Connect,
        "ftp://example.org/x",
        with(json!({"tls": false})),
    );
    assert!(
        v.reason
            .starts_with("Cannot build the resource entity (fail closed): endpoint"),
        "{}",
        v.reason
    );
}

#[test]
fn endpoints_parse_into_host_port_protocol() {
    use crate::cedar::{Endpoint, parse_endpoint};
    let ep = |h: &str, p: u16, pr: &str| {
        Some(Endpoint {
            host: h.into(),
            port: p,
            protocol: pr.into(),
        })
    };
    assert_eq!(
        parse_endpoint("https://API.github.com/x?y#z"),
        ep("api.github.com", 443, "https")
    );
    assert_eq!(
        parse_endpoint("http://user@10.0.0.1:8080/"),
        ep("10.0.0.1", 8080, "http")
    );
    assert_eq!(parse_endpoint("[::1]:53"), ep("::1", 53, "tcp"));
    assert_eq!(parse_endpoint("wss://[fe80::1]"), ep("fe80::1", 443, "wss"));
    assert_eq!(
        parse_endpoint("db.internal:5432"),
        ep("db.internal", 5432, "tcp")
    );
    assert_eq!(parse_endpoint("db.internal"), None);
    assert_eq!(parse_endpoint("https://host:99999"), None);
    assert_eq!(parse_endpoint("://x:1"), None);
    assert_eq!(parse_endpoint("[::1"), None);
}
