#!/usr/bin/env bash
# Whole-process `gavel check-policy` (release build: load the policy, load the key,
# decide, sign, append the receipt durably: fsync of the file and of the directory)
# side by side in ONE hyperfine run with the Agent Governance Toolkit's CLI
# (`python -m openshell_agentmesh.cli check-policy`, openshell-agentmesh 3.6.0, which
# decides without signing or writing anything), on the same policy and action.
#
# usage: bench/check_policy.sh [RUNS]     (default 300)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (default $CARGO_TARGET_DIR/bench-check)
# needs: hyperfine, python3 (installed when missing: apt-get hyperfine, a venv with
#        openshell-agentmesh==3.6.0 under target/ci/agt-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-300}
target=${CARGO_TARGET_DIR:-$root/target}

command -v hyperfine >/dev/null 2>&1 || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine
}
venv="$root/target/ci/agt-venv"
if ! "$venv/bin/python" -c 'import openshell_agentmesh' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'openshell-agentmesh==3.6.0'
fi

# the binary as shipped (scripts/build-release: release profile, static-pie)
gavel=$(scripts/build-release)
bench_dir=${BENCH_DIR:-$target/bench-check}
mkdir -p "$bench_dir"
tmp=$(mktemp -d "$bench_dir/run.XXXXXX")
# $tmp stays, as all benchmarks' receipts do (why: bench/exec.sh)
"$gavel" keys generate --out "$tmp/operator.pem" >/dev/null
ctx='{"agent_did":"did:mesh:gavel-demo-agent"}'
export GAVEL_HOME="$tmp/state"

# both must decide (allow, exit 0) before anything is timed
"$gavel" check-policy --policy-dir examples/policies --action shell:python --context "$ctx" \
    --key "$tmp/operator.pem" --receipts-dir "$tmp/receipts" --json >/dev/null
"$venv/bin/python" -m openshell_agentmesh.cli check-policy --policy-dir examples/policies \
    --action shell:python --context "$ctx" >/dev/null

hyperfine --warmup 20 --runs "$runs" -N \
    --export-json "$tmp/result.json" \
    -n "gavel check-policy (signed, durable)" \
    "$gavel check-policy --policy-dir examples/policies --action shell:python --context '$ctx' --key $tmp/operator.pem --receipts-dir $tmp/receipts --json" \
    -n "AGT openshell-governance check-policy" \
    "$venv/bin/python -m openshell_agentmesh.cli check-policy --policy-dir examples/policies --action shell:python --context '$ctx'"

"$gavel" verify "$tmp/receipts" --key "$tmp/operator.pem" >/dev/null
python3 - "$tmp/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
med = {x["command"]: x["median"] * 1e3 for x in r}
g, a = r[0]["median"] * 1e3, r[1]["median"] * 1e3
for x in r:
    print(f'{x["command"]}: median {x["median"]*1e3:.2f} ms, mean {x["mean"]*1e3:.2f} ms, min {x["min"]*1e3:.2f} ms')
print(f"ratio (AGT / gavel, medians): {a/g:.1f}x")
PY
echo "receipts written: $(ls "$tmp/receipts" | wc -l), chain verified"
