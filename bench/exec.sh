#!/usr/bin/env bash
# `gavel exec --profile-name read-only -- /bin/true` (the release build as shipped by
# scripts/build-release, static-pie, and beside it the dynamically linked
# `cargo build --release`: a signed decision
# receipt made durable before the fork, Landlock + seccomp applied in the child, a
# signed execution receipt made durable after it; each durable write is an fsync of the
# receipt and of its directory), side by side in ONE hyperfine run with plain
# /bin/true, `bwrap --ro-bind / / /bin/true` and `nono run -r /tmp -- /bin/true`,
# then the same commands interleaved round by round (bench/interleaved.py), which
# is where the ratios between them are read on a shared machine, together with the
# floor (bench/floor.c: the same two writes and /bin/true with none of gavel's work).
# Then the peak RSS of the gavel process (GNU time's %M: ru_maxrss of gavel and of the
# /bin/true it reaped, i.e. gavel's own peak).
#
# The receipts directory is a fresh temporary directory on disk (under BENCH_DIR), never
# tmpfs: an fsync there is real.
#
# The example policy (examples/policies) does not allow `shell:true` (only ls, cat,
# grep, python, pip, git, curl), so gavel would deny /bin/true with exit 126 and never
# run it. The benchmark uses a copy of the example policy with one more rule allowing
# exactly `shell:true`: the same rules, regular expressions and load cost, plus one.
#
# On a machine shared with other work (builds, other benchmarks), every blocking point
# of a command (an fsync, a pipe read, waiting for the child) costs a scheduler wait
# behind the CPU-bound processes, which inflates the commands that block most: gavel
# exec more than bwrap. BENCH_RT=1 runs the whole hyperfine (all four commands alike)
# as a real-time process (chrt -f 50, ionice -c 1), which measures the commands'
# own cost on such a machine; on an idle machine both ways agree.
#
# usage: bench/exec.sh [RUNS]       (default 300)
# env:   CARGO_TARGET_DIR (default target), BENCH_DIR (default $CARGO_TARGET_DIR/bench-exec),
#        BENCH_RT=1 (real-time scheduling for the measurement, needs root)
# needs: hyperfine, bwrap, nono 0.81.0, GNU time, python3, a C compiler with glibc's
#        static libraries (installed when missing: apt-get for hyperfine, bubblewrap,
#        time and gcc; cargo install for nono-cli)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-300}
target=${CARGO_TARGET_DIR:-$root/target}
export PATH="$HOME/.cargo/bin:$PATH"

need_apt=()
command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "bench/exec.sh: installing ${need_apt[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v nono >/dev/null 2>&1; then
    echo "bench/exec.sh: installing nono-cli 0.81.0 (cargo install; takes several minutes once)" >&2
    cargo install --locked nono-cli --version 0.81.0 || cargo install nono-cli --version 0.81.0
fi

# both builds: the shipped one (scripts/build-release: static-pie) and the plain
# `cargo build --release` (dynamically linked)
gavel_static=$(scripts/build-release)
cargo build --release --quiet -p gavel-cli
gavel="$target/release/gavel"

bench_dir=${BENCH_DIR:-$target/bench-exec}
mkdir -p "$bench_dir"
tmp=$(mktemp -d "$bench_dir/run.XXXXXX")
# the run's state and receipts stay in $tmp on purpose, like all on-disk state of the
# benchmarks: after thousands of receipts are deleted, allocating a file on this disk
# (ext4 without a journal) takes ~1 ms instead of 20 us for a minute or two, which would
# land on whatever is measured next. Remove target/bench-* when done.
echo "== receipts of this run: $tmp"
state="$tmp/state"
receipts="$tmp/receipts"
policy="$tmp/policy"
mkdir -p "$policy"
cp "$root/examples/policies/sandbox-policy.yaml" "$policy/"
cat >> "$policy/sandbox-policy.yaml" <<'EOF'
  - name: allow-true-for-the-exec-benchmark
    condition: {field: action, operator: equals, value: "shell:true"}
    action: allow
    priority: 80
EOF
"$gavel" policy check --policy-dir "$policy" >/dev/null
# the operator key exists before timing starts (its creation is a one-time cost)
"$gavel" --state-dir "$state" keys generate >/dev/null

gavel_exec="$gavel --state-dir $state exec --profile-name read-only --policy-dir $policy --receipts-dir $receipts -- /bin/true"
receipts_static="$tmp/receipts-static"
gavel_exec_static="$gavel_static --state-dir $state exec --profile-name read-only --policy-dir $policy --receipts-dir $receipts_static -- /bin/true"
# reference only, not durable: the shipped build with its receipts on tmpfs, i.e.
# gavel's own work without the disk's fsync latency
shm=$(mktemp -d /dev/shm/gavel-bench-exec.XXXXXX)
gavel_exec_shm="$gavel_static --state-dir $state exec --profile-name read-only --policy-dir $policy --receipts-dir $shm/receipts -- /bin/true"
# the floor (bench/floor.c): /bin/true between two receipt-sized writes and nothing
# else, built like the shipped gavel (static-pie on glibc), in three modes: nothing
# written; two appends made durable the way gavel's store makes them (four flushes);
# two in-place rewrites with one flush each (the least two durable writes cost here)
floor="$tmp/floor"
cc -O2 -static-pie -fPIE -o "$floor" bench/floor.c
mkdir -p "$tmp/floor-store" "$tmp/floor-minimal"
# gavel exec runs from a directory of its own: the read-only profile reads ".", and
# gavel refuses a profile that could read its key (the state is under $tmp)
mkdir -p "$tmp/cwd"
cd "$tmp/cwd"
# must run /bin/true (exit 0), not be denied (126) or refused (125)
$gavel_exec
$gavel_exec_static
$gavel_exec_shm

abi=$(python3 -c 'import json,sys,glob; print(json.load(open(sorted(glob.glob(sys.argv[1]+"/*.json"))[-1]))["payload"]["sandbox"]["landlock_abi"])' "$receipts")
echo "== Linux $(uname -r), Landlock ABI $abi, $(nproc) cores, receipts on $(df -T "$tmp" | awk 'NR==2 {print $2 " " $1}')"

# the disk's durable-append latency right now (gavel exec makes two), before and after
python3 "$root"/bench/disk_probe.py "$bench_dir"
trap 'python3 "$root"/bench/disk_probe.py "$bench_dir"; rm -rf "$shm"' EXIT

json="$bench_dir/exec.json"
md="$bench_dir/exec.md"
rt=()
if [ "${BENCH_RT:-0}" = 1 ]; then
    rt=(chrt -f 50 ionice -c 1 -n 0)
    echo "== real-time scheduling: ${rt[*]}"
fi
"${rt[@]}" hyperfine -N --warmup 20 --runs "$runs" --export-json "$json" --export-markdown "$md" \
    -n "gavel exec (read-only, 2 durable receipts)" "$gavel_exec_static" \
    -n "gavel exec, dynamically linked build" "$gavel_exec" \
    -n "gavel exec, receipts on tmpfs (not durable)" "$gavel_exec_shm" \
    -n "/bin/true" "/bin/true" \
    -n "bwrap --ro-bind / / /bin/true" "bwrap --ro-bind / / /bin/true" \
    -n "nono run -r /tmp -- /bin/true" "nono run -r /tmp -- /bin/true"

# the same commands interleaved (bench/interleaved.py): each round runs each once, so
# that the machine's drift during the run falls on all of them alike (not nono: it
# would make each round 20 times longer, for a ratio hyperfine already gives far from
# its threshold), with the floor beside them
"${rt[@]}" python3 "$root"/bench/interleaved.py "$((runs * 2 / 3))" \
    "gavel exec durable=$gavel_exec_static" \
    "gavel exec tmpfs=$gavel_exec_shm" \
    "/bin/true=/bin/true" \
    "bwrap=bwrap --ro-bind / / /bin/true" \
    "floor, nothing written=$floor none $tmp" \
    "floor, 2 appends as the store=$floor store $tmp/floor-store" \
    "floor, 2 minimal durable writes=$floor minimal $tmp/floor-minimal" | tee "$bench_dir/exec-interleaved.txt"

# peak RSS of gavel exec (the shipped build), 30 runs
rss="$bench_dir/exec-rss.txt"
: > "$rss"
for _ in $(seq 30); do
    "${rt[@]}" /usr/bin/time -a -o "$rss" -f %M $gavel_exec_static
done

python3 - "$json" "$rss" <<'EOF'
import json, statistics, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
def p(x, q):
    t = sorted(x["times"])
    return t[min(len(t) - 1, int(q * len(t)))] * 1e3
g = r["gavel exec (read-only, 2 durable receipts)"]
for name, x in r.items():
    print(f"{name:45} p50 {x['median'] * 1e3:7.2f} ms   p90 {p(x, 0.9):7.2f} ms   mean {x['mean'] * 1e3:7.2f} ms")
for build in ("gavel exec (read-only, 2 durable receipts)", "gavel exec, dynamically linked build"):
    for name in ("/bin/true", "bwrap --ro-bind / / /bin/true", "nono run -r /tmp -- /bin/true"):
        print(f"{name:45} / {build} (p50): {r[name]['median'] / r[build]['median']:.2f}x")
kb = [int(l) for l in open(sys.argv[2]) if l.strip().isdigit()]
print(f"gavel exec peak RSS: median {statistics.median(kb) / 1024:.1f} MiB, max {max(kb) / 1024:.1f} MiB ({len(kb)} runs)")
EOF
for r in "$receipts_static" "$receipts"; do
    echo "receipts written: $(find "$r" -name '*.json' | wc -l)"
    "$gavel" verify "$r" --key "$("$gavel" --state-dir "$state" public-key)" | head -1
done
echo "results: $json, $md"
