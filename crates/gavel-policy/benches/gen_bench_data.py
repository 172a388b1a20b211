#!/usr/bin/env python3
"""Writes the benchmark policies and requests under benches/data/ (deterministic).

Both `cargo bench -p gavel-policy` (benches/policy.rs) and
benches/agt_check_policy.py read these files, so gavel and AGT are timed on the
same policies and the same requests. Needs only the standard library:

    python3 crates/gavel-policy/benches/gen_bench_data.py

Layout:
  data/yaml-10/policy.yaml            10 rules
  data/yaml-1000/rules-{0..3}.yaml   1,000 rules in 4 files (priority ties across files)
  data/requests-10.json, data/requests-1000.json
      [{"action": ..., "context": {...}}, ...]
      a mix: each request targets one rule (spread over all priorities),
      about a fifth match nothing (default deny, a full scan for AGT)
  data/deny-only.json                 requests that match no rule of either set
  data/cedar-10/policies.cedar       10 Cedar policies (tool-call style)
  data/cedar-requests.json
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"
SEED = 20261125

VERBS = ["shell", "file", "http", "tool", "net", "db", "mcp", "git"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]
FIELDS = ["tool", "path", "cmd"]


def q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def make_rules(rng: random.Random, n: int) -> list[dict]:
    rules = []
    for i in range(n):
        verb = rng.choice(VERBS)
        word = rng.choice(WORDS)
        field = "action" if rng.random() < 0.7 else rng.choice(FIELDS)
        r = rng.random()
        if r < 0.35:
            op = "matches"
            value = f"^{verb}:(rm|dd|{word})_{i}( |$)"
            example = f"{verb}:{word}_{i} --flag"
        elif r < 0.55:
            op = "starts_with"
            value = f"{verb}:/srv/{word}{i}/"
            example = f"{verb}:/srv/{word}{i}/data.txt"
        elif r < 0.70:
            op = "contains"
            value = f"secret-{word}-{i}"
            example = f"{verb}:read token secret-{word}-{i} now"
        elif r < 0.85:
            op = "equals"
            value = f"{verb}:call_{word}_{i}"
            example = value
        else:
            op = "in"
            value = [f"{verb}:q{i}", f"{verb}:w{i}", f"{word}:{i}"]
            example = value[1]
        rules.append(
            {
                "name": f"b{i}-{op}",
                "field": field,
                "operator": op,
                "value": value,
                "action": "allow" if rng.random() < 0.6 else "deny",
                "priority": rng.randrange(0, 100),
                "example": example,
            }
        )
    return rules


def rule_yaml(r: dict) -> str:
    value = "[" + ", ".join(q(v) for v in r["value"]) + "]" if isinstance(r["value"], list) else q(r["value"])
    return (
        f"  - name: {q(r['name'])}\n"
        f"    condition: {{field: {r['field']}, operator: {r['operator']}, value: {value}}}\n"
        f"    action: {r['action']}\n"
        f"    priority: {r['priority']}\n"
    )


def write_rules(dirname: str, rules: list[dict], files: int) -> None:
    d = HERE / dirname
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.yaml"):
        old.unlink()
    per = (len(rules) + files - 1) // files
    for k in range(files):
        chunk = rules[k * per : (k + 1) * per]
        name = "policy.yaml" if files == 1 else f"rules-{k}.yaml"
        text = "apiVersion: governance.toolkit/v1\nrules:\n" + "".join(rule_yaml(r) for r in chunk)
        (d / name).write_text(text, encoding="utf-8")


def base_context(rng: random.Random) -> dict:
    return {
        "agent_did": "did:mesh:bench",
        "session_id": "s-1",
        "tool": rng.choice(["bash", "read", "write"]),
        "path": f"/workspace/{rng.choice(WORDS)}.txt",
        "cmd": rng.choice(["ls -la", "cat x", "python run.py"]),
    }


def make_requests(rng: random.Random, rules: list[dict], n: int) -> list[dict]:
    out = []
    for _ in range(n):
        ctx = base_context(rng)
        if rng.random() < 0.2:
            out.append({"action": f"unmatched:{rng.choice(WORDS)}:{rng.randrange(10**6)}", "context": ctx})
            continue
        r = rng.choice(rules)
        if r["field"] == "action":
            action = r["example"]
        else:
            action = f"tool:{rng.choice(WORDS)}"
            ctx[r["field"]] = r["example"]
        out.append({"action": action, "context": ctx})
    return out


CEDAR = """@id("read-tools")
permit (principal, action in [Action::"Read", Action::"Grep", Action::"Glob"], resource);

@id("safe-bash")
permit (principal, action == Action::"Bash", resource)
when { ["git", "ls", "python", "cargo"].contains(context.command_pattern) };

@id("destructive-bash")
forbid (principal, action == Action::"Bash", resource)
when { ["rm -rf", "dd", "mkfs"].contains(context.command_pattern) };

@id("admin-write")
permit (principal == Agent::"did:mesh:admin", action == Action::"Write", resource);

@id("no-system-writes")
forbid (principal, action == Action::"Write", resource)
when { context has path && context.path like "/etc/*" };

@id("github-fetch")
permit (principal, action == Action::"WebFetch", resource)
when { context has host && context.host like "*.github.com" };

@id("no-metadata")
forbid (principal, action == Action::"WebFetch", resource)
when { context has host && context.host == "169.254.169.254" };

@id("workspace-edit")
permit (principal, action == Action::"Edit", resource)
when { context has path && context.path like "/workspace/*" };

@id("ring-limit")
forbid (principal, action, resource)
when { context has ring && context.ring > 2 };

@id("shallow-tasks")
permit (principal, action == Action::"Task", resource)
when { context has depth && context.depth < 3 };
"""


def cedar_requests(rng: random.Random, n: int) -> list[dict]:
    shapes = [
        ("Read", {}),
        ("Grep", {}),
        ("Bash", {"command_pattern": "git"}),
        ("Bash", {"command_pattern": "rm -rf"}),
        ("Bash", {"command_pattern": "vim"}),
        ("Write", {"path": "/etc/passwd"}),
        ("Write", {"path": "/workspace/a"}),
        ("WebFetch", {"host": "api.github.com"}),
        ("WebFetch", {"host": "169.254.169.254"}),
        ("Edit", {"path": "/workspace/src/main.rs", "ring": 1}),
        ("Task", {"depth": 1}),
        ("Deploy", {}),
    ]
    out = []
    for _ in range(n):
        action, extra = rng.choice(shapes)
        ctx = {"agent_did": rng.choice(["did:mesh:a", "did:mesh:admin"]), "session_id": "s-1"}
        ctx.update(extra)
        out.append({"action": action, "context": ctx})
    return out


def main() -> None:
    rng = random.Random(SEED)
    HERE.mkdir(parents=True, exist_ok=True)
    small = make_rules(rng, 10)
    large = make_rules(rng, 1000)
    write_rules("yaml-10", small, 1)
    write_rules("yaml-1000", large, 4)
    (HERE / "requests-10.json").write_text(json.dumps(make_requests(rng, small, 256), indent=0) + "\n", encoding="utf-8")
    (HERE / "requests-1000.json").write_text(json.dumps(make_requests(rng, large, 256), indent=0) + "\n", encoding="utf-8")
    deny = [{"action": f"unmatched:{w}:{i}", "context": base_context(rng)} for i, w in enumerate(WORDS)]
    (HERE / "deny-only.json").write_text(json.dumps(deny, indent=0) + "\n", encoding="utf-8")
    (HERE / "cedar-10").mkdir(parents=True, exist_ok=True)
    (HERE / "cedar-10" / "policies.cedar").write_text(CEDAR, encoding="utf-8")
    (HERE / "cedar-requests.json").write_text(json.dumps(cedar_requests(rng, 256), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {HERE}")


if __name__ == "__main__":
    main()
