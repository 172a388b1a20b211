#!/usr/bin/env python3
"""Differential-parity oracle: the REAL Agent Governance Toolkit skill.

Runs openshell-agentmesh 3.6.0's GovernanceSkill (load_policies + check_policy)
on the cases the Rust parity test generated, and prints what it decided.

Usage: agt_oracle.py CASES.json

CASES.json: {"cases": [{"dir": "<policy dir>", "requests":
             [{"action": "...", "context": {...}}, ...]}, ...]}

Output, JSON Lines on stdout, in input order:
  {"kind": "load", "dir": ..., "count": N}                      per case
  {"kind": "decision", "allowed": b, "reason": s,
   "policy_name": s|null, "raised": [exception type names]}    per request

One deliberate deviation from the bare skill: AGT's _match raises for a
non-string target with `starts_with` (AttributeError), `matches` (TypeError)
and `contains` on numbers/booleans/null (TypeError); such an exception escapes
check_policy and crashes the caller. gavel's spec makes that case "no match",
so this oracle wraps _match and treats an exception as no match, recording the
exception type in "raised" so the Rust test can count those requests (and
check that nothing else, such as a regex error, was swallowed).

Exit status 3 (with a message on stderr) when the package is missing or is
not version 3.6.0.
"""

from __future__ import annotations

import json
import sys

REQUIRED = "3.6.0"
INSTALL = (
    "install the reference implementation in a virtualenv and point GAVEL_AGT_PYTHON at it:\n"
    "  python3 -m venv /tmp/agtvenv\n"
    "  /tmp/agtvenv/bin/pip install openshell-agentmesh==3.6.0\n"
    "  export GAVEL_AGT_PYTHON=/tmp/agtvenv/bin/python"
)


def main() -> int:
    try:
        from importlib.metadata import version

        from openshell_agentmesh import GovernanceSkill
    except ImportError as e:
        print(f"agt_oracle: cannot import openshell_agentmesh ({e}); {INSTALL}", file=sys.stderr)
        return 3
    got = version("openshell-agentmesh")
    if got != REQUIRED:
        print(f"agt_oracle: openshell-agentmesh {got} found, {REQUIRED} required; {INSTALL}", file=sys.stderr)
        return 3

    raised: list[str] = []
    original = GovernanceSkill._match

    def safe_match(operator, target, value):
        try:
            return original(operator, target, value)
        except Exception as e:  # the spec: an exception in _match is "no match"
            raised.append(type(e).__name__)
            return False

    GovernanceSkill._match = staticmethod(safe_match)

    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    out = sys.stdout
    for case in spec["cases"]:
        skill = GovernanceSkill()
        count = skill.load_policies(case["dir"])
        out.write(json.dumps({"kind": "load", "dir": case["dir"], "count": count}) + "\n")
        for req in case["requests"]:
            raised.clear()
            d = skill.check_policy(req["action"], req["context"])
            out.write(
                json.dumps(
                    {
                        "kind": "decision",
                        "allowed": d.allowed,
                        "reason": d.reason,
                        "policy_name": d.policy_name,
                        "raised": list(raised),
                    }
                )
                + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
