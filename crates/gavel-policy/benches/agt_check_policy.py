#!/usr/bin/env python3
"""Times AGT's GovernanceSkill.check_policy on the benchmark data gavel uses.

Run it beside `cargo bench -p gavel-policy` (benches/policy.rs): same policy
files, same requests, same cycling over the request list, one decision per
call. Needs openshell-agentmesh==3.6.0:

    /tmp/agtvenv/bin/python crates/gavel-policy/benches/agt_check_policy.py

Prints, per case, the mean time per check_policy call (the median of 7 runs
of N calls each, after a warm-up), and the p50/p90 of single calls each timed
on its own, in microseconds. check_policy includes AGT's own audit-log
append, which is part of every AGT decision.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from openshell_agentmesh import GovernanceSkill

DATA = Path(__file__).resolve().parent / "data"


def requests(name: str) -> list[tuple[str, dict]]:
    return [(r["action"], r["context"]) for r in json.loads((DATA / name).read_text(encoding="utf-8"))]


def time_case(policy_dir: str, reqs: list[tuple[str, dict]], calls: int) -> tuple[float, float, float]:
    skill = GovernanceSkill(policy_dir=DATA / policy_dir)
    n = len(reqs)
    check = skill.check_policy
    for i in range(min(calls, 2000)):  # warm-up
        a, c = reqs[i % n]
        check(a, c)
    runs = []
    for _ in range(7):
        skill._audit_log.clear()  # keep memory flat between runs
        t0 = time.perf_counter_ns()
        for i in range(calls):
            a, c = reqs[i % n]
            check(a, c)
        runs.append((time.perf_counter_ns() - t0) / calls / 1000.0)
    single = []
    skill._audit_log.clear()
    clock = time.perf_counter_ns
    for i in range(calls):
        a, c = reqs[i % n]
        t0 = clock()
        check(a, c)
        single.append(clock() - t0)
    single.sort()
    return statistics.median(runs), single[len(single) // 2] / 1000.0, single[len(single) * 9 // 10] / 1000.0


def main() -> int:
    cases = [
        ("yaml_decision/10_rules/mix", "yaml-10", "requests-10.json", 50_000),
        ("yaml_decision/10_rules/default_deny", "yaml-10", "deny-only.json", 50_000),
        ("yaml_decision/1000_rules/mix", "yaml-1000", "requests-1000.json", 3_000),
        ("yaml_decision/1000_rules/default_deny", "yaml-1000", "deny-only.json", 3_000),
    ]
    print(f"AGT openshell-agentmesh check_policy, Python {sys.version.split()[0]}")
    for name, d, r, calls in cases:
        mean, p50, p90 = time_case(d, requests(r), calls)
        print(f"{name:40s} mean {mean:9.2f} us/decision   p50 {p50:9.2f} us   p90 {p90:9.2f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
