#!/usr/bin/env python3
"""A minimal Python PreToolUse hook, for comparison with `gavel hook` (bench/hook.sh).

It does the core of the same job and no more: parse the hook event on stdin, map
the tool call to an Agent Governance Toolkit action string, load the YAML rules
(PyYAML, as the toolkit does), match them (priority order, first match wins,
default deny) and print the Claude Code decision object. It signs nothing and
writes nothing to disk, so it does strictly less than gavel.

usage: hook_python.py POLICY.yaml < event.json
"""

import json
import re
import sys

import yaml


def action_of(tool, tool_input):
    if tool == "Bash":
        return "shell:" + tool_input["command"].strip()
    if tool == "Read":
        return "file:read:" + tool_input["file_path"]
    if tool in ("Write", "Edit", "MultiEdit"):
        return "file:write:" + tool_input["file_path"]
    if tool == "WebFetch":
        url = tool_input["url"].split("://", 1)[-1]
        return "http:GET:" + url.split("?", 1)[0].split("#", 1)[0]
    return "tool:" + tool


def matches(cond, action, context):
    field = cond.get("field", "action")
    target = action if field == "action" else context.get(field, "")
    op, value = cond.get("operator", "equals"), cond.get("value", "")
    if op == "equals":
        return target == value
    if op == "starts_with":
        return isinstance(target, str) and target.startswith(str(value))
    if op == "contains":
        return str(value) in target
    if op == "matches":
        return isinstance(target, str) and re.search(value, target) is not None
    if op == "in":
        return target in value if isinstance(value, list) else target == value
    return False


def main():
    event = json.load(sys.stdin)
    tool_input = event["tool_input"]
    action = action_of(event["tool_name"], tool_input)
    context = dict(tool_input, session_id=event["session_id"], cwd=event["cwd"])
    with open(sys.argv[1]) as f:
        rules = (yaml.safe_load(f) or {}).get("rules", [])
    rules.sort(key=lambda r: r.get("priority", 0), reverse=True)
    allowed, reason = False, "No matching rule - default deny"
    for rule in rules:
        if matches(rule.get("condition", {}), action, context):
            allowed = rule.get("action", "deny") == "allow"
            verdict = "Allowed" if allowed else "Denied"
            reason = rule.get("message") or f"{verdict} by rule: {rule.get('name')}"
            break
    print(json.dumps({"hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "allow" if allowed else "deny",
        "permissionDecisionReason": reason,
    }}))


if __name__ == "__main__":
    main()
