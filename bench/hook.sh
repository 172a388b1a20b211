#!/usr/bin/env bash
# The whole `gavel hook` process, stdin to stdout, on a realistic Claude Code
# PreToolUse event (release build, the example YAML policy, one signed receipt made
# durable per run: fsync of the receipt and of its directory), side by side in the
# same hyperfine run with a minimal Python hook doing the core of the same job
# (bench/hook_python.py: parse, match a rule, print; it signs and writes nothing).
# A third command, for reference only, runs gavel with its state on tmpfs (fsync is
# free there, so not durable): the process's own cost without the disk's. The disk's
# latency for the two fsyncs of a durable receipt is probed before and after.
# Prints the medians (p50), p90 and the ratio.
#
# usage: bench/hook.sh [RUNS]        (default 500)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (default $CARGO_TARGET_DIR/bench-hook)
# needs: hyperfine, python3 with PyYAML (pip install pyyaml)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-500}
target=${CARGO_TARGET_DIR:-$root/target}
# the binary as shipped (scripts/build-release: release profile, static-pie)
gavel=$(scripts/build-release)
python3 -c 'import yaml' 2>/dev/null || {
    echo "bench/hook.sh: the Python hook needs PyYAML: pip install pyyaml" >&2
    exit 2
}
bench_dir=${BENCH_DIR:-$target/bench-hook}
mkdir -p "$bench_dir"
state=$(mktemp -d "$bench_dir/state.XXXXXX")
policy="$root/examples/policies/sandbox-policy.yaml"
event="$bench_dir/pretooluse.json"
cat > "$event" <<'EOF'
{"session_id":"8c35adc1-7d1e-4f7e-9c2e-1f0a2b3c4d5e","transcript_path":"/home/dev/.claude/projects/-workspace-app/8c35adc1-7d1e-4f7e-9c2e-1f0a2b3c4d5e.jsonl","cwd":"/workspace/app","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Read","tool_input":{"file_path":"/workspace/app/src/main.rs","offset":1,"limit":400},"tool_use_id":"toolu_01DUxqVw3fJ8nKzC5bQ9rT2m"}
EOF
hook=("$gavel" --state-dir "$state" hook --agent claude-code --policy "$policy")
# reference only: the same process with its state on tmpfs, where fsync costs
# nothing (not durable), to tell the process's own cost from the disk's
shm_state=$(mktemp -d /dev/shm/gavel-bench-hook.XXXXXX)
# $state stays, as all benchmarks' receipts do (why: bench/exec.sh)
trap 'rm -rf "$shm_state"' EXIT
hook_shm=("$gavel" --state-dir "$shm_state" hook --agent claude-code --policy "$policy")
python_hook=(python3 "$root/bench/hook_python.py" "$policy")

# the first run creates the operator key; both hooks must allow this event
"${hook[@]}" < "$event" 2>/dev/null | grep -q '"permissionDecision":"allow"'
"${hook_shm[@]}" < "$event" 2>/dev/null | grep -q '"permissionDecision":"allow"'
"${python_hook[@]}" < "$event" | grep -q '"permissionDecision": "allow"'

# what the disk alone costs here (bench/disk_probe.py), in the same directory
fsync_probe() {
    python3 bench/disk_probe.py "$bench_dir"
}
fsync_probe

json="$bench_dir/hook.json"
if hyperfine --help | grep -q -- '--input'; then
    hyperfine -N --input "$event" --warmup 20 --runs "$runs" --export-json "$json" \
        -n "gavel hook (signed, durable)" "${hook[*]}" \
        -n "python hook (unsigned)" "${python_hook[*]}" \
        -n "gavel hook, state on tmpfs (not durable; reference)" "${hook_shm[*]}"
else
    # hyperfine without --input: the shell redirects stdin, and hyperfine subtracts
    # the shell's own start-up time from both
    hyperfine --warmup 20 --runs "$runs" --export-json "$json" \
        -n "gavel hook (signed, durable)" "${hook[*]} < $event" \
        -n "python hook (unsigned)" "${python_hook[*]} < $event" \
        -n "gavel hook, state on tmpfs (not durable; reference)" "${hook_shm[*]} < $event"
fi

python3 - "$json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
def p(x, q):
    t = sorted(x["times"])
    return t[min(len(t) - 1, int(q * len(t)))] * 1e3
g, py = r["gavel hook (signed, durable)"], r["python hook (unsigned)"]
shm = r["gavel hook, state on tmpfs (not durable; reference)"]
for name, x in (("gavel hook", g), ("python hook", py), ("gavel, tmpfs", shm)):
    print(f"{name:12} p50 {x['median'] * 1e3:7.2f} ms   p90 {p(x, 0.9):7.2f} ms   mean {x['mean'] * 1e3:7.2f} ms")
print(f"python p50 / gavel p50 = {py['median'] / g['median']:.1f}x")
EOF
fsync_probe
echo "receipts written: $(find "$state/receipts" -name '*.json' | wc -l)"
verdict=$("$gavel" verify "$state/receipts" --key "$("$gavel" --state-dir "$state" public-key)")
echo "${verdict%%$'\n'*}"
