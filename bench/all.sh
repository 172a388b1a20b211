#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md one after the other (never two at once: the
# machine has two cores), each side by side with the peer it is compared to.
# Output: target/bench-all/<name>.log. Takes about 20 minutes.
# usage: bench/all.sh ["name name ..."]   (default: all; names: receipt verify-dir
#        decision policy policy-agt check-policy exec hook mcp)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-all
mkdir -p "$out"
export PATH="$HOME/.cargo/bin:$PATH"
venv=target/ci/agt-venv
if ! "$venv/bin/python" -c 'import openshell_agentmesh' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'openshell-agentmesh==3.6.0'
fi
run_one() {
    local name=$1
    shift
    echo "== $name: $*" | tee "$out/$name.log"
    "$@" 2>&1 | tee -a "$out/$name.log" || echo "== $name FAILED" | tee -a "$out/$name.log"
}
{ uname -a; nproc; grep -m1 'model name' /proc/cpuinfo; rustc --version; hyperfine --version; nono --version; bwrap --version; "$venv/bin/python" --version; } > "$out/machine.txt" 2>&1 || true
only=${1:-}
run() {
    if [ -n "$only" ] && ! grep -qw "$1" <<<"$only"; then return 0; fi
    run_one "$@"
}
run receipt cargo bench -p gavel-receipt --bench verify
run decision cargo bench -p gavel --bench decision
run policy cargo bench -p gavel-policy
run policy-agt "$venv/bin/python" crates/gavel-policy/benches/agt_check_policy.py
run check-policy bench/check_policy.sh
run exec bench/exec.sh
run hook bench/hook.sh
run mcp bench/mcp.sh
# last: it makes and deletes 100,000 receipt files, after which allocating files on a
# disk without a journal is slow for a minute or two (see bench/exec.sh)
run verify-dir cargo bench -p gavel-cli --bench verify_dir
