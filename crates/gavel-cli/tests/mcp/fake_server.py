#!/usr/bin/env python3
"""A scripted MCP server for gavel's mcp-proxy tests (and its benchmark).

Speaks newline-delimited JSON-RPC on stdin/stdout. Every line it receives is
appended, byte for byte, to $FAKE_LOG (when set), so a test can prove what reached
the server. Behaviour is driven by the messages themselves:

  initialize, ping, anything else with an id   -> a plain result
  tools/list                                   -> three tools
  tools/call {name: "slow"}                    -> answers after params.arguments.secs
  tools/call                                   -> "called <name> <arguments as JSON>"
  test/emit {b64: [...]}                       -> writes each decoded line raw, then answers
  test/ask                                     -> sends a request and a notification to the client
  test/big {size: N}                           -> answers with a string of N bytes
  test/exit {code: N} | {signal: N}            -> exits without answering
  a batch                                      -> an array of the answers to its requests

At the end of its input it exits 0, unless FAKE_IGNORE_EOF=1 (then it sleeps).
"""
import base64
import json
import os
import signal
import sys
import time

log = open(os.environ["FAKE_LOG"], "ab", buffering=0) if os.environ.get("FAKE_LOG") else None
out = sys.stdout.buffer
TOOLS = [
    {"name": "read_text_file", "inputSchema": {"type": "object"}},
    {"name": "write_file", "inputSchema": {"type": "object"}},
    {"name": "echo", "inputSchema": {"type": "object"}},
]


def send(obj):
    out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
    out.flush()


def answer(msg):
    """The response to one request (None for notifications and test/exit)."""
    if not isinstance(msg, dict) or "method" not in msg or "id" not in msg:
        return None
    method, params, rid = msg["method"], msg.get("params") or {}, msg["id"]
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "fake", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        args = params.get("arguments") or {}
        if params.get("name") == "slow":
            time.sleep(float(args.get("secs", 1)))
        text = "called %s %s" % (params.get("name"), json.dumps(args, sort_keys=True))
        result = {"content": [{"type": "text", "text": text}], "isError": False}
    elif method == "test/emit":
        for line in params["b64"]:
            out.write(base64.b64decode(line) + b"\n")
        out.flush()
        result = {"emitted": len(params["b64"])}
    elif method == "test/ask":
        send({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"})
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": "hello"}})
        result = {"asked": True}
    elif method == "test/big":
        result = {"data": "x" * int(params["size"])}
    elif method == "test/exit":
        out.flush()
        if "signal" in params:
            os.kill(os.getpid(), int(params["signal"]))
            time.sleep(10)
        os._exit(int(params.get("code", 0)))
    else:
        result = {}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


while True:
    line = sys.stdin.buffer.readline()
    if not line:
        break
    if log:
        log.write(line if line.endswith(b"\n") else line + b"\n")
    try:
        msg = json.loads(line)
    except ValueError:
        sys.stderr.write("fake server: a line that is not JSON\n")
        continue
    if isinstance(msg, list):
        answers = [a for a in (answer(m) for m in msg) if a is not None]
        if answers:
            send(answers)
    else:
        a = answer(msg)
        if a is not None:
            send(a)

if os.environ.get("FAKE_IGNORE_EOF") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        time.sleep(1)
sys.exit(0)
