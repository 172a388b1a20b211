#!/usr/bin/env bash
# What `gavel mcp-proxy` adds per call: N sequential tools/call round trips to a stub
# MCP server (tests/mcp/fake_server.py, which answers at once), directly and through
# the proxy (release build, YAML policy, one signed durable receipt per call, the
# receipts on the same disk as the repository), alternating rounds. Reports p50 and
# mean per call, and their differences.
#
# usage: bench/mcp.sh [N] [ROUNDS]       (defaults: 1000 calls, 3 rounds)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (default $CARGO_TARGET_DIR/bench-mcp)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${1:-1000}
rounds=${2:-3}
target=${CARGO_TARGET_DIR:-$root/target}
# the binary as shipped (scripts/build-release: release profile, static-pie)
gavel=$(scripts/build-release)
bench_dir=${BENCH_DIR:-$target/bench-mcp}
mkdir -p "$bench_dir"
server=(python3 "$root/crates/gavel-cli/tests/mcp/fake_server.py")
policy="$root/crates/gavel-cli/tests/mcp/policy"

run() {
    local state
    state=$(mktemp -d "$bench_dir/state.XXXXXX")
    python3 "$root/bench/mcp_calls.py" --gavel "$gavel" --policy-dir "$policy" \
        --state-dir "$state" --n "$n" --rounds "$rounds" "$@" -- "${server[@]}"
    printf 'receipts written: %s (in %s)\n' "$(find "$state/receipts" -name '*.json' | wc -l)" "$state" >&2
    # $state stays, as all benchmarks' receipts do (why: bench/exec.sh)
}

# The floor under any durable receipt, on this disk right now (bench/disk_probe.py).
probe() {
    python3 bench/disk_probe.py "$bench_dir" 100
}
probe

echo "== decision receipts only (default)"
run
echo "== with --execution-receipts"
run --proxy-flag=--execution-receipts
probe
