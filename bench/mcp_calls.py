#!/usr/bin/env python3
"""Per-call latency of sequential MCP tools/call requests, direct and through
`gavel mcp-proxy`, against the same stub server. Used by bench/mcp.sh.

Each sample is one round trip as a client sees it: write the request line, read
the response line. Direct and proxied runs alternate (--rounds) so drift on a
shared machine hits both alike. Prints a JSON summary (microseconds).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def calls(cmd, n, warmup, tool, env):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)

    def send(obj):
        p.stdin.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        p.stdin.flush()

    def recv():
        line = p.stdout.readline()
        if not line:
            sys.exit("the server closed its output: %r" % cmd)
        return json.loads(line)

    send({"jsonrpc": "2.0", "id": "init", "method": "initialize",
          "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                     "clientInfo": {"name": "bench", "version": "1"}}})
    recv()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    samples = []
    for i in range(warmup + n):
        msg = (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s",'
               b'"arguments":{"path":"/workspace/notes.txt","i":%d}}}\n') % (i, tool.encode(), i)
        t0 = time.perf_counter_ns()
        p.stdin.write(msg)
        p.stdin.flush()
        line = p.stdout.readline()
        t1 = time.perf_counter_ns()
        if json.loads(line).get("id") != i:
            sys.exit("unexpected answer: %r" % line[:200])
        if i >= warmup:
            samples.append((t1 - t0) / 1000.0)
    p.stdin.close()
    p.wait()
    return samples


def summary(s):
    s = sorted(s)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]
    return {"n": len(s), "p50": round(statistics.median(s), 1), "mean": round(statistics.fmean(s), 1),
            "p90": round(q(0.90), 1), "p99": round(q(0.99), 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gavel", required=True)
    ap.add_argument("--policy-dir", required=True)
    ap.add_argument("--state-dir", required=True, help="gavel state directory (keys, receipts)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--proxy-flag", action="append", default=[], help="extra mcp-proxy flag")
    ap.add_argument("server", nargs="+", help="the stub server command")
    a = ap.parse_args()
    env = dict(os.environ, GAVEL_HOME=a.state_dir)
    env.pop("FAKE_LOG", None)
    proxy = [a.gavel, "mcp-proxy", "--policy-dir", a.policy_dir, *a.proxy_flag, "--", *a.server]
    direct, through, denied = [], [], []
    for _ in range(a.rounds):
        direct += calls(a.server, a.n, a.warmup, "echo", env)
        through += calls(proxy, a.n, a.warmup, "echo", env)
        denied += calls(proxy, a.n // 4, a.warmup // 4, "write_file", env)
    d, t = summary(direct), summary(through)
    print(json.dumps({
        "unit": "microseconds per call",
        "proxy_flags": a.proxy_flag,
        "direct": d,
        "through_proxy_allowed": t,
        "through_proxy_denied": summary(denied),
        "overhead_p50": round(t["p50"] - d["p50"], 1),
        "overhead_mean": round(t["mean"] - d["mean"], 1),
    }, indent=2))


if __name__ == "__main__":
    main()
