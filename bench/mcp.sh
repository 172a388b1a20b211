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
    printf 'receipts written: %s\n' "$(find "$state/receipts" -name '*.json' | wc -l)" >&2
    rm -rf "$state"
}

# The floor under any durable receipt, on this disk right now: the receipt store's
# write pattern (an anonymous O_TMPFILE written and fsynced, linked into place, the
# directory fsynced), timed on its own.
probe() {
    python3 - "$bench_dir" <<'PY'
import ctypes, os, statistics, sys, tempfile, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
d = tempfile.mkdtemp(dir=sys.argv[1])
dfd = os.open(d, os.O_RDONLY)
t_all = []
for i in range(100):
    t = time.perf_counter()
    fd = os.open(d, os.O_WRONLY | os.O_TMPFILE, 0o644)
    os.write(fd, b"x" * 900)
    os.fsync(fd)
    to = os.path.join(d, "%012d.json" % i).encode()
    if libc.linkat(AT_FDCWD, b"/proc/self/fd/%d" % fd, AT_FDCWD, to, AT_SYMLINK_FOLLOW) != 0:
        sys.exit("linkat: " + os.strerror(ctypes.get_errno()))
    os.close(fd)
    os.fsync(dfd)
    t_all.append(time.perf_counter() - t)
os.close(dfd)
for f in os.listdir(d):
    os.unlink(os.path.join(d, f))
os.rmdir(d)
print("== durable append like the receipt store's on %s: p50 %.0f us, mean %.0f us (load average %.1f)"
      % (sys.argv[1], statistics.median(t_all) * 1e6, statistics.fmean(t_all) * 1e6, os.getloadavg()[0]))
PY
}
probe

echo "== decision receipts only (default)"
run
echo "== with --execution-receipts"
run --proxy-flag=--execution-receipts
probe
