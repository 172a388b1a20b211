//! The rule semantics and the load errors of the YAML engine. Every decision
//! is also checked against the unindexed reference scan.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::YamlRules;
use crate::{PolicyError, Verdict};

fn load(files: &[(&str, &str)]) -> Result<YamlRules, PolicyError> {
    let owned: Vec<(String, &Path, Vec<u8>)> = files
        .iter()
        .map(|(n, t)| ((*n).to_owned(), Path::new(*n), t.as_bytes().to_vec()))
        .collect();
    YamlRules::load(&owned)
}

fn ok(files: &[(&str, &str)]) -> YamlRules {
    match load(files) {
        Ok(r) => r,
        Err(e) => panic!("load failed: {e}"),
    }
}

fn err(files: &[(&str, &str)]) -> String {
    match load(files) {
        Ok(r) => panic!("loaded {} rules, expected an error", r.len()),
        Err(e) => e.to_string(),
    }
}

fn decide(rules: &YamlRules, action: &str, ctx: Value) -> Verdict {
    let empty = Map::new();
    let map = ctx.as_object().unwrap_or(&empty);
    let fast = rules.evaluate(action, map);
    let slow = rules.evaluate_linear(action, map);
    assert_eq!(
        fast, slow,
        "index and reference scan disagree on {action:?} {ctx}"
    );
    fast
}

/// The deciding rule's name, or None on default deny.
fn who(rules: &YamlRules, action: &str, ctx: Value) -> Option<String> {
    decide(rules, action, ctx).policy_name
}

fn one_rule(cond: &str) -> YamlRules {
    ok(&[(
        "p.yaml",
        &format!("rules:\n  - name: r\n    action: allow\n    condition: {cond}\n"),
    )])
}

fn hit(rules: &YamlRules, action: &str, ctx: Value) -> bool {
    who(rules, action, ctx).is_some()
}

#[test]
fn defaults_are_the_skills() {
    // no name -> file stem; no condition -> action equals ""; no action -> deny
    let r = ok(&[(
        "my.rules.yaml",
        "rules:\n  - priority: 1\n  - {name: x, condition: {value: go}}\n",
    )]);
    assert_eq!(r.len(), 2);
    let v = decide(&r, "", json!({}));
    assert_eq!(
        v,
        Verdict {
            allowed: false,
            reason: "Denied by rule: my.rules".into(),
            policy_name: Some("my.rules".into()),
            policy_id: "my.rules".into(),
        }
    );
    // field defaults to the action, operator to equals
    assert_eq!(who(&r, "go", json!({"go": "go"})).as_deref(), Some("x"));
    assert_eq!(who(&r, "go2", json!({})), None);
}

#[test]
fn reasons_and_default_deny() {
    let r = ok(&[(
        "p.yaml",
        "rules:\n  - {name: a, condition: {value: a}, action: allow}\n  - {name: d, condition: {value: d}, action: deny}\n  - {name: m, condition: {value: m}, action: allow, message: Custom text}\n  - {name: e, condition: {value: e}, action: allow, message: ''}\n",
    )]);
    assert_eq!(decide(&r, "a", json!({})).reason, "Allowed by rule: a");
    assert!(decide(&r, "a", json!({})).allowed);
    assert_eq!(decide(&r, "d", json!({})).reason, "Denied by rule: d");
    assert_eq!(decide(&r, "m", json!({})).reason, "Custom text");
    assert_eq!(decide(&r, "e", json!({})).reason, "Allowed by rule: e");
    assert_eq!(
        decide(&r, "zzz", json!({})),
        Verdict {
            allowed: false,
            reason: "No matching rule - default deny".into(),
            policy_name: None,
            policy_id: "default_deny".into(),
        }
    );
}

#[test]
fn priority_sort_is_stable_across_files() {
    let r = ok(&[
        (
            "a.yaml",
            "rules:\n  - {name: a-low, condition: {operator: starts_with, value: x}, priority: 1}\n  - {name: a-tie, condition: {operator: starts_with, value: x}, priority: 5}\n",
        ),
        (
            "b.yml",
            "rules:\n  - {name: b-tie, condition: {operator: starts_with, value: x}, priority: 5}\n  - {name: b-top, condition: {operator: starts_with, value: xy}, priority: 9}\n  - {name: b-neg, condition: {operator: starts_with, value: ''}, priority: -3}\n",
        ),
    ]);
    assert_eq!(who(&r, "xy", json!({})).as_deref(), Some("b-top"));
    assert_eq!(who(&r, "x", json!({})).as_deref(), Some("a-tie")); // tie: load order
    assert_eq!(who(&r, "q", json!({})).as_deref(), Some("b-neg"));
}

#[test]
fn target_is_action_or_context_field_or_empty() {
    let r = ok(&[(
        "p.yaml",
        "rules:\n  - {name: tool, condition: {field: tool, value: bash}, action: allow, priority: 2}\n  - {name: missing, condition: {field: nope, operator: equals, value: ''}, priority: 1}\n  - {name: act, condition: {field: action, value: run}, action: allow, priority: 3}\n",
    )]);
    assert_eq!(
        who(&r, "x", json!({"tool": "bash"})).as_deref(),
        Some("tool")
    );
    // `nope` is absent: the target is "" and equals "" matches
    assert_eq!(
        who(&r, "x", json!({"tool": "sh"})).as_deref(),
        Some("missing")
    );
    // a null field is not absent: None != ""
    assert_eq!(who(&r, "x", json!({"nope": null})), None);
    assert_eq!(who(&r, "x", json!({"nope": null, "tool": 1})), None);
    // field `action` is the action, never context["action"]
    assert_eq!(
        who(&r, "run", json!({"action": "other", "nope": 0})).as_deref(),
        Some("act")
    );
    assert_eq!(who(&r, "other", json!({"action": "run", "nope": 0})), None);
}

#[test]
fn equals_is_python_equality() {
    let r = one_rule("{field: n, operator: equals, value: 1}");
    assert!(hit(&r, "", json!({"n": 1})));
    assert!(hit(&r, "", json!({"n": 1.0})));
    assert!(hit(&r, "", json!({"n": true})));
    assert!(!hit(&r, "", json!({"n": "1"})));
    assert!(!hit(&r, "", json!({"n": 2})));
    let r = one_rule("{field: n, operator: equals, value: 1.5}");
    assert!(hit(&r, "", json!({"n": 1.5})));
    assert!(!hit(&r, "", json!({"n": "1.5"})));
    let r = one_rule("{field: n, operator: equals, value: true}");
    assert!(hit(&r, "", json!({"n": 1})));
    assert!(hit(&r, "", json!({"n": true})));
    assert!(!hit(&r, "", json!({"n": "True"})));
    let r = one_rule("{field: n, operator: equals, value: null}");
    assert!(hit(&r, "", json!({"n": null})));
    assert!(!hit(&r, "", json!({})));
    let r = one_rule("{field: n, operator: equals, value: [1, a, {k: true}]}");
    assert!(hit(&r, "", json!({"n": [1.0, "a", {"k": 1}]})));
    assert!(!hit(&r, "", json!({"n": [1, "a"]})));
    let r = one_rule("{field: n, operator: equals, value: {a: 1, b: [x]}}");
    assert!(hit(&r, "", json!({"n": {"b": ["x"], "a": true}})));
    assert!(!hit(&r, "", json!({"n": {"a": 1}})));
    let r = one_rule("{operator: equals, value: \"shell:ls\"}");
    assert!(hit(&r, "shell:ls", json!({})));
    assert!(!hit(&r, "shell:ls ", json!({})));
}

#[test]
fn starts_with_needs_a_string_target_and_uses_str_of_value() {
    let r = one_rule("{field: f, operator: starts_with, value: ab}");
    assert!(hit(&r, "", json!({"f": "abc"})));
    assert!(!hit(&r, "", json!({"f": ["abc"]})));
    assert!(!hit(&r, "", json!({"f": 12})));
    let r = one_rule("{field: f, operator: starts_with, value: true}");
    assert!(hit(&r, "", json!({"f": "True story"})));
    assert!(!hit(&r, "", json!({"f": "true"})));
    let r = one_rule("{field: f, operator: starts_with, value: null}");
    assert!(hit(&r, "", json!({"f": "None"})));
    let r = one_rule("{field: f, operator: starts_with, value: 1.0e+16}");
    assert!(hit(&r, "", json!({"f": "1e+16x"})));
    let r = one_rule("{field: f, operator: starts_with, value: ''}");
    assert!(hit(&r, "", json!({})));
    assert!(hit(&r, "", json!({"f": "x"})));
    assert!(!hit(&r, "", json!({"f": null})));
    let r = one_rule("{operator: starts_with, value: é}");
    assert!(hit(&r, "été", json!({})));
    assert!(!hit(&r, "e", json!({})));
}

#[test]
fn contains_follows_pythons_in_per_target_type() {
    let r = one_rule("{field: f, operator: contains, value: rm}");
    assert!(hit(&r, "", json!({"f": "sudo rm -rf"})));
    assert!(hit(&r, "", json!({"f": ["ls", "rm"]})));
    assert!(!hit(&r, "", json!({"f": ["ls", "rm -rf"]})));
    assert!(hit(&r, "", json!({"f": {"rm": 0}})));
    assert!(!hit(&r, "", json!({"f": {"x": "rm"}})));
    assert!(!hit(&r, "", json!({"f": 5})));
    assert!(!hit(&r, "", json!({"f": null})));
    assert!(!hit(&r, "", json!({})));
    let r = one_rule("{field: f, operator: contains, value: 5}");
    assert!(hit(&r, "", json!({"f": "x5y"})));
    assert!(hit(&r, "", json!({"f": ["5"]})));
    assert!(!hit(&r, "", json!({"f": [5]})));
    let r = one_rule("{field: f, operator: contains, value: [a, 1]}");
    assert!(hit(&r, "", json!({"f": "x['a', 1]y"})));
    let r = one_rule("{field: f, operator: contains, value: ''}");
    assert!(hit(&r, "", json!({})));
    assert!(hit(&r, "", json!({"f": ["", "x"]})));
    assert!(!hit(&r, "", json!({"f": ["x"]})));
    assert!(!hit(&r, "", json!({"f": false})));
}

#[test]
fn matches_is_re_search() {
    let r = one_rule("{operator: matches, value: \"shell:(rm|dd)\"}");
    assert!(hit(&r, "x shell:rm y", json!({})));
    assert!(!hit(&r, "shell:ls", json!({})));
    let r = one_rule("{operator: matches, value: \"^ls$\"}");
    assert!(hit(&r, "ls", json!({})));
    assert!(hit(&r, "ls\n", json!({})));
    assert!(!hit(&r, "ls\n\n", json!({})));
    assert!(!hit(&r, "als", json!({})));
    let r = one_rule("{field: f, operator: matches, value: \"^$\"}");
    assert!(hit(&r, "", json!({})));
    assert!(hit(&r, "", json!({"f": "\n"})));
    assert!(!hit(&r, "", json!({"f": null})));
    assert!(!hit(&r, "", json!({"f": []})));
    let r = one_rule("{field: f, operator: matches, value: 12}");
    assert!(hit(&r, "", json!({"f": "a12"})));
    assert!(!hit(&r, "", json!({"f": 12})));
    let r = one_rule("{field: f, operator: matches, value: \"\\\\s\"}");
    assert!(hit(&r, "", json!({"f": "a\u{1c}b"})));
}

#[test]
fn in_is_membership_by_python_equality() {
    let r = one_rule("{field: f, operator: in, value: [ls, 1, null, [x]]}");
    assert!(hit(&r, "", json!({"f": "ls"})));
    assert!(hit(&r, "", json!({"f": 1.0})));
    assert!(hit(&r, "", json!({"f": true})));
    assert!(hit(&r, "", json!({"f": null})));
    assert!(hit(&r, "", json!({"f": ["x"]})));
    assert!(!hit(&r, "", json!({"f": "l"})));
    assert!(!hit(&r, "", json!({})));
    // a scalar value is a one-element list: equality, not substring
    let r = one_rule("{field: f, operator: in, value: shell}");
    assert!(hit(&r, "", json!({"f": "shell"})));
    assert!(!hit(&r, "", json!({"f": "she"})));
    let r = one_rule("{field: f, operator: in, value: []}");
    assert!(!hit(&r, "", json!({"f": "x"})));
}

#[test]
fn index_keeps_first_match_wins_across_fields_and_operators() {
    let r = ok(&[(
        "p.yaml",
        "rules:
  - {name: c1, condition: {field: cmd, operator: contains, value: rm}, priority: 9}
  - {name: m1, condition: {operator: matches, value: '^git'}, priority: 8, action: allow}
  - {name: s1, condition: {operator: starts_with, value: git p}, priority: 7}
  - {name: e1, condition: {operator: equals, value: git status}, priority: 6}
  - {name: i1, condition: {field: cmd, operator: in, value: [a, b, 3]}, priority: 5}
  - {name: m2, condition: {field: cmd, operator: matches, value: 'x$'}, priority: 4}
  - {name: c2, condition: {operator: contains, value: status}, priority: 3}
",
    )]);
    assert_eq!(
        who(&r, "git status", json!({"cmd": "rm"})).as_deref(),
        Some("c1")
    );
    assert_eq!(
        who(&r, "git status", json!({"cmd": "b"})).as_deref(),
        Some("m1")
    );
    assert_eq!(
        who(&r, "status", json!({"cmd": "b"})).as_deref(),
        Some("i1")
    );
    assert_eq!(
        who(&r, "status", json!({"cmd": 3.0})).as_deref(),
        Some("i1")
    );
    assert_eq!(
        who(&r, "status", json!({"cmd": "x\n"})).as_deref(),
        Some("m2")
    );
    assert_eq!(who(&r, "status", json!({})).as_deref(), Some("c2"));
    assert_eq!(who(&r, "nothing", json!({})), None);
}

#[test]
fn empty_files_contribute_nothing() {
    for text in [
        "",
        "# comment only\n",
        "---\n",
        "null\n",
        "{}\n",
        "[]\n",
        "rules: []\n",
        "apiVersion: governance.toolkit/v1\nrules: []\n",
    ] {
        let r = ok(&[
            ("e.yaml", text),
            (
                "p.yaml",
                "rules:\n  - {name: r, condition: {value: x}, action: allow}\n",
            ),
        ]);
        assert_eq!(r.len(), 1, "{text:?}");
    }
}

#[test]
fn quoted_and_tagged_scalars_are_strings() {
    let r = one_rule("{field: f, operator: equals, value: 'yes'}");
    assert!(hit(&r, "", json!({"f": "yes"})));
    let r = one_rule("{field: f, operator: equals, value: !!str 012}");
    assert!(hit(&r, "", json!({"f": "012"})));
    let r = ok(&[(
        "p.yaml",
        "rules:\n  - name: r\n    action: allow\n    condition:\n      field: f\n      value: |\n        two\n        lines\n",
    )]);
    assert!(hit(&r, "", json!({"f": "two\nlines\n"})));
    let r = ok(&[(
        "p.yaml",
        "base: &b [ls, cat]\nrules:\n  - {name: r, action: allow, condition: {operator: in, value: *b}}\n",
    )]);
    assert!(hit(&r, "cat", json!({})));
}

// ---- load errors: each message is asserted ----

#[test]
fn unknown_operator() {
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r1\n    condition: {field: action, operator: regex, value: x}\n"
        )]),
        "p.yaml:3:42: rule 1 (\"r1\"): unknown operator \"regex\" (use one of equals, starts_with, contains, matches, in)"
    );
}

#[test]
fn action_must_be_allow_or_deny() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: r1\n    action: permit\n")]),
        "p.yaml:3:13: rule 1 (\"r1\"): `action` must be `allow` or `deny`, found \"permit\""
    );
}

#[test]
fn regex_errors() {
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: ok, condition: {value: a}}\n  - name: bad\n    condition: {operator: matches, value: \"(unclosed\"}\n"
        )]),
        "p.yaml:4:43: rule 2 (\"bad\"): regular expression \"(unclosed\": does not compile: unclosed group (at offset 0)"
    );
    let e = err(&[(
        "p.yaml",
        "rules:\n  - name: la\n    condition: {operator: matches, value: \"a(?=b)\"}\n",
    )]);
    assert!(e.starts_with("p.yaml:3:43: rule 1 (\"la\"): regular expression \"a(?=b)\": does not compile: look-around"), "{e}");
    let e = err(&[(
        "p.yaml",
        "rules:\n  - name: br\n    condition: {operator: matches, value: \"(a)\\\\1\"}\n",
    )]);
    assert!(e.contains("rule 1 (\"br\"): regular expression \"(a)\\\\1\": does not compile: backreferences are not supported"), "{e}");
    let e = err(&[(
        "p.yaml",
        "rules:\n  - name: d\n    condition: {operator: matches, value: \"a$b\"}\n",
    )]);
    assert!(
        e.contains("`$` is only supported at the end of the pattern"),
        "{e}"
    );
    let e = err(&[(
        "p.yaml",
        "rules:\n  - name: posix\n    condition: {operator: matches, value: \"[[:alpha:]]\"}\n",
    )]);
    assert!(e.contains("POSIX classes"), "{e}");
}

#[test]
fn priority_must_be_an_integer() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: r\n    priority: 1.5\n")]),
        "p.yaml:3:15: rule 1 (\"r\"): `priority` must be an integer, found the number 1.5"
    );
    assert!(
        err(&[("p.yaml", "rules:\n  - {name: r, priority: high}\n")])
            .ends_with("`priority` must be an integer, found the string \"high\"")
    );
    assert!(
        err(&[("p.yaml", "rules:\n  - {name: r, priority: true}\n")])
            .ends_with("`priority` must be an integer, found the boolean true")
    );
    assert!(
        err(&[("p.yaml", "rules:\n  - {name: r, priority: '5'}\n")])
            .ends_with("found the string \"5\"")
    );
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: r, priority: 9223372036854775808}\n"
        )])
        .ends_with("out of range (64-bit integers)")
    );
    assert!(err(&[("p.yaml", "rules:\n  - {name: r, priority: 010}\n")]).contains("`priority`: plain `010` is the integer 8 to PyYAML/AGT (YAML 1.1) but the integer 10 in YAML 1.2"));
}

#[test]
fn structure_errors() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - just a string\n")]),
        "p.yaml:2:5: rule 1: a rule must be a mapping (`name`, `condition`, `action`, …), found a scalar"
    );
    assert_eq!(
        err(&[("p.yaml", "rules: {name: r}\n")]),
        "p.yaml:1:8: `rules` must be a list of rules (`- name: …`)"
    );
    assert_eq!(
        err(&[("p.yaml", "rules:\n")]),
        "p.yaml:1:6: `rules` must be a list of rules (`- name: …`)"
    );
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r\n    condition: [action, equals, x]\n"
        )]),
        "p.yaml:3:16: rule 1 (\"r\"): the condition must be a mapping, found a list"
    );
    assert_eq!(
        err(&[("p.yaml", "apiVersion: v1\nrule:\n  - name: r\n")]),
        "p.yaml:1:1: no `rules` key; a policy file needs a `rules` list (write `rules: []` for a file that is meant to be empty)"
    );
    assert_eq!(
        err(&[("p.yaml", "- name: r\n")]),
        "p.yaml:1:1: the top level must be a mapping with a `rules` list, not a list"
    );
    assert_eq!(
        err(&[("p.yaml", "hello\n")]),
        "p.yaml:1:1: the top level must be a mapping with a `rules` list"
    );
}

#[test]
fn non_string_names_fields_messages() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: 12\n")]),
        "p.yaml:2:11: rule 1: `name` must be a string, found the integer 12; quote it"
    );
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r\n    condition: {field: [a]}\n"
        )]),
        "p.yaml:3:24: rule 1 (\"r\"): `field` must be a string, found a list"
    );
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: r\n    message: null\n")]),
        "p.yaml:3:14: rule 1 (\"r\"): `message` must be a string, found null; quote it"
    );
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r\n    condition: {operator: 5}\n"
        )])
        .ends_with("`operator` must be a string, found the integer 5; quote it")
    );
}

#[test]
fn ambiguous_plain_scalars_must_be_quoted() {
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r\n    condition: {field: tty, value: yes}\n"
        )]),
        "p.yaml:3:36: rule 1 (\"r\"): `value`: plain `yes` is the boolean True to PyYAML/AGT (YAML 1.1) but the string \"yes\" in YAML 1.2: ambiguous; quote it (\"yes\") if you mean the string"
    );
    for v in [
        "off",
        "012",
        "1e3",
        "1:30",
        "0o7",
        "2024-01-02",
        "[1, 1_000]",
        "{on: 1}",
        "~x",
    ] {
        let text = format!("rules:\n  - name: r\n    condition: {{field: f, value: {v}}}\n");
        let result = load(&[("p.yaml", &text)]);
        if v == "~x" {
            assert!(result.is_ok(), "{v}");
        } else {
            let e = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("ambiguous; quote it"), "{v}: {e}");
        }
    }
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: r, condition: {value: 2001-12-14}}\n"
        )])
        .contains("a date/timestamp to PyYAML")
    );
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: r, condition: {value: .inf}}\n"
        )])
        .contains("not a finite number")
    );
    // an ambiguous key inside a rule
    assert!(
        err(&[("p.yaml", "rules:\n  - {name: r, on: 1}\n")])
            .contains("key in a rule: plain `on` is the boolean True")
    );
}

#[test]
fn unknown_and_duplicate_keys() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: r\n    priorty: 5\n")]),
        "p.yaml:3:5: rule 1 (\"r\"): unknown key `priorty` in a rule (allowed: name, condition, action, priority, message, description)"
    );
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - name: r\n    condition: {feild: x}\n")]),
        "p.yaml:3:17: rule 1 (\"r\"): unknown key `feild` in the condition (allowed: field, operator, value)"
    );
    assert_eq!(
        err(&[(
            "p.yaml",
            "rules:\n  - name: r\n    action: allow\n    action: deny\n"
        )]),
        "p.yaml:4:5: rule 1 (\"r\"): duplicate key `action` in a rule; keep one"
    );
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: r, condition: {value: {1: a, 1.0: b}}}\n"
        )])
        .contains("duplicate mapping key 1.0")
    );
    assert!(
        load(&[(
            "p.yaml",
            "rules:\n  - {name: r, description: why, condition: {value: x}}\n"
        )])
        .is_ok()
    );
}

#[test]
fn yaml_level_errors() {
    assert_eq!(
        err(&[("p.yaml", "rules:\n  - {name: r\n  - x\n")]),
        "p.yaml:4:1: invalid YAML: while parsing a flow mapping, did not find expected ',' or '}'"
    );
    assert_eq!(
        err(&[("p.yaml", "rules: []\n---\nrules: []\n")]),
        "p.yaml:2:1: a second YAML document (`---`): PyYAML's safe_load (the AGT loader) refuses multi-document files; keep one document per file"
    );
    assert!(
        err(&[(
            "p.yaml",
            "rules:\n  - {name: r, condition: {value: !!int '3'}}\n"
        )])
        .contains("YAML tag `!!int` is not supported here")
    );
    let bad = String::from_utf8_lossy(b"rules: []\n").into_owned();
    assert!(load(&[("p.yaml", &bad)]).is_ok());
    let owned = vec![(
        "p.yaml".to_owned(),
        Path::new("p.yaml"),
        b"rules: [\xff]\n".to_vec(),
    )];
    let e = YamlRules::load(&owned)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(e, "p.yaml: not UTF-8 (byte 8); save the file as UTF-8");
}

#[test]
fn nothing_is_half_loaded() {
    // the second file is broken: the whole load fails, naming that file
    let e = err(&[
        (
            "a.yaml",
            "rules:\n  - {name: fine, condition: {value: x}, action: allow}\n",
        ),
        ("b.yaml", "rules:\n  - {name: broken, action: maybe}\n"),
    ]);
    assert!(e.starts_with("b.yaml:2:28: rule 1 (\"broken\")"), "{e}");
}

#[test]
fn large_indexes_agree_with_the_plain_scan() {
    // More than 8 entries per operator and field, so the hash maps, the
    // Aho-Corasick automaton and the RegexSet are used; overlapping values
    // and tied priorities make the first-match order matter.
    let pieces = ["a", "ab", "b", "abc", "ba", "c", "", "cab", "bb", "x"];
    let patterns = [
        "^a",
        "b$",
        "a|c",
        "^(ab|ba)$",
        "c.b",
        "^$",
        "\\d",
        "bb",
        "^x",
        "a{2}",
        "(?i)^AB",
    ];
    let mut text = String::from("rules:\n");
    for i in 0..120 {
        let op = ["equals", "starts_with", "contains", "matches", "in"][i % 5];
        let field = if i % 3 == 0 { "f" } else { "action" };
        let value = match op {
            "matches" => format!("{:?}", patterns[i % patterns.len()]),
            "in" => format!(
                "[{:?}, {:?}, {}]",
                pieces[i % 10],
                pieces[(i + 3) % 10],
                i % 4
            ),
            _ if i % 11 == 0 => format!("{}", i % 3),
            _ => format!("{:?}", pieces[(i * 7) % 10]),
        };
        text.push_str(&format!(
            "  - {{name: r{i}, priority: {}, action: {}, condition: {{field: {field}, operator: {op}, value: {value}}}}}\n",
            i % 7,
            if i % 2 == 0 { "allow" } else { "deny" }
        ));
    }
    let r = ok(&[("big.yaml", &text)]);
    assert_eq!(r.len(), 120);
    let mut winners = std::collections::BTreeSet::new();
    let targets = [
        "", "a", "ab", "abc", "ba", "bab", "cab", "xyz", "b\n", "1", "aa", "AB", "q", "zz9",
    ];
    for t in targets {
        for f in [
            json!(t),
            json!(1),
            json!(["a", "ba"]),
            json!({"ab": 1}),
            json!(null),
            json!(2.0),
        ] {
            let v = decide(&r, t, json!({"f": f}));
            winners.insert(v.policy_name);
            decide(&r, t, json!({}));
        }
    }
    assert!(winners.len() >= 10, "{winners:?}");
}

#[test]
fn bom_and_yaml_directive_load_like_pyyaml() {
    // PyYAML skips a UTF-8 byte order mark and accepts a `%YAML 1.1` directive.
    let r = ok(&[(
        "bom.yaml",
        "\u{feff}rules:\n  - {name: r, condition: {value: x}, action: allow}\n",
    )]);
    assert!(hit(&r, "x", json!({})));
    let r = ok(&[(
        "v.yaml",
        "%YAML 1.1\n---\nrules:\n  - {name: r, condition: {value: x}}\n",
    )]);
    assert_eq!(r.len(), 1);
    // tabs as indentation are invalid YAML for both
    assert!(err(&[("t.yaml", "rules:\n\t- x\n")]).starts_with("t.yaml:2:"));
}

/// A pattern that is valid but too large to compile loads (patterns compile on first
/// use); an evaluation that reaches its rule denies and says why, one that is decided
/// earlier is not affected, and `compile_all` reports the rule.
#[test]
fn a_pattern_too_large_to_compile_denies_where_it_decides() {
    let rules = ok(&[(
        "p.yaml",
        "rules:\n  - name: early\n    action: allow\n    priority: 100\n    condition: {field: action, operator: equals, value: read}\n  - name: huge\n    action: allow\n    priority: 50\n    condition: {field: action, operator: matches, value: '\\w{1000}'}\n  - name: late\n    action: allow\n    priority: 10\n    condition: {field: action, operator: equals, value: write}\n",
    )]);
    let early = decide(&rules, "read", json!({}));
    assert!(early.allowed);
    assert_eq!(early.policy_name.as_deref(), Some("early"));
    for action in ["write", "anything"] {
        let v = decide(&rules, action, json!({}));
        assert!(!v.allowed, "{action}: fail closed");
        assert_eq!(v.policy_name.as_deref(), Some("huge"));
        assert!(
            v.reason.starts_with(
                "Policy error (fail closed): the pattern of rule huge does not compile"
            ),
            "{}",
            v.reason
        );
    }
    let (rule, problem) = rules.compile_all().unwrap_err();
    assert_eq!(rule, "huge");
    assert!(problem.contains("does not compile"), "{problem}");
    // an empty target reaches the rule too
    let v = decide(&rules, "", json!({}));
    assert!(!v.allowed);
}
