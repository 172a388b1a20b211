"""Times whole commands interleaved: each round runs every command once, in a rotating
order, so that a shared machine's drift (a noisy neighbour, a slow minute of the
disk) falls on all commands alike instead of on whichever hyperfine ran during it.
Ratios between commands are read from here; hyperfine's figures beside them carry
the sustained load of one command run hundreds of times in a row.

Each run is a posix_spawnp + waitpid from Python (stdout and stderr to /dev/null),
which adds about 0.1 ms to every figure alike. A command must exit 0.

usage: python3 bench/interleaved.py ROUNDS NAME=COMMAND... [--ratio-to NAME]
       (COMMAND is split on spaces; the first NAME is the reference of the ratios
       unless --ratio-to names another)
"""
import os
import shlex
import statistics
import sys
import time


def main():
    args = sys.argv[1:]
    ref = None
    if "--ratio-to" in args:
        i = args.index("--ratio-to")
        ref = args[i + 1]
        del args[i : i + 2]
    if len(args) < 2 or not args[0].isdigit() or any("=" not in a for a in args[1:]):
        sys.exit(__doc__)
    rounds = int(args[0])
    cmds = []
    for a in args[1:]:
        name, cmd = a.split("=", 1)
        argv = shlex.split(cmd)
        cmds.append((name, argv))
    ref = ref or cmds[0][0]
    if ref not in {n for n, _ in cmds}:
        sys.exit(f"interleaved.py: --ratio-to {ref}: no such command")
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    times = {n: [] for n, _ in cmds}
    warmup = 10
    for k in range(warmup + rounds):
        order = cmds[k % len(cmds) :] + cmds[: k % len(cmds)]
        for name, argv in order:
            t = time.perf_counter()
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            d = time.perf_counter() - t
            if status != 0:
                sys.exit(f"interleaved.py: '{name}' exited with status {status >> 8}")
            if k >= warmup:
                times[name].append(d * 1e3)
        time.sleep(0.001)
    p50 = {n: statistics.median(v) for n, v in times.items()}
    width = max(len(n) for n in times)
    print(f"== interleaved, {rounds} rounds")
    for name, v in times.items():
        v = sorted(v)
        p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
        print(
            f"{name:{width}}  p50 {p50[name]:7.2f} ms   p90 {p90:7.2f} ms"
            f"   mean {statistics.mean(v):7.2f} ms   p50 / {ref}: {p50[name] / p50[ref]:.2f}"
        )


if __name__ == "__main__":
    main()
