//! `gavel mcp-proxy` on the real binary, in front of a scripted MCP server
//! (tests/mcp/fake_server.py, which logs every line it receives byte for byte), and
//! once with real parts: the official TypeScript SDK client and the reference
//! filesystem server from npm.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Liveness guard only (no test asserts on time): how long to wait for an answer
/// before declaring the proxy stuck.
const PATIENCE: Duration = Duration::from_secs(30);

fn mcp_data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp")
        .join(p)
}

fn yaml_policy() -> PathBuf {
    mcp_data("policy")
}

fn fake_server() -> Vec<String> {
    vec![
        "python3".into(),
        mcp_data("fake_server.py").to_string_lossy().into_owned(),
    ]
}

/// A running `gavel mcp-proxy` with the fake server behind it.
struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    log: PathBuf,
    sync_n: u32,
}

impl Proxy {
    fn start(env: &Env, policy: &Path, extra: &[&str], server_env: &[(&str, &str)]) -> Proxy {
        Self::start_with(env, policy, extra, server_env, &fake_server())
    }

    fn start_with(
        env: &Env,
        policy: &Path,
        extra: &[&str],
        server_env: &[(&str, &str)],
        server: &[String],
    ) -> Proxy {
        let log = env.home().join("server.log");
        let mut cmd = env.cmd();
        cmd.arg("mcp-proxy")
            .arg("--policy-dir")
            .arg(policy)
            .args(extra)
            .arg("--")
            .args(server)
            .env("FAKE_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in server_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn gavel mcp-proxy");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Proxy {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stderr,
            stderr_reader: Some(stderr_reader),
            log,
            sync_n: 0,
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Sends raw bytes (a line must carry its own `\n`).
    fn send_raw(&mut self, bytes: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin open");
        w.write_all(bytes).expect("write to proxy");
        w.flush().unwrap();
    }

    fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        self.send_raw(&line);
    }

    /// The next line the client receives, with its `\n`.
    fn recv_raw(&mut self) -> Vec<u8> {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(e) => panic!("no line from the proxy ({e:?}); stderr:\n{}", self.stderr()),
        }
    }

    fn recv(&mut self) -> Value {
        let l = self.recv_raw();
        serde_json::from_slice(&l).unwrap_or_else(|e| {
            panic!(
                "client got a line that is not JSON ({e}): {}",
                String::from_utf8_lossy(&l)
            )
        })
    }

    /// Sends a ping and collects every line the client receives before its answer:
    /// afterwards the server has read (and logged) everything sent before.
    fn sync(&mut self) -> Vec<Vec<u8>> {
        self.sync_n += 1;
        let id = format!("sync-{}", self.sync_n);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}));
        let mut before = Vec::new();
        loop {
            let l = self.recv_raw();
            if let Ok(v) = serde_json::from_slice::<Value>(&l)
                && v["id"] == json!(id)
            {
                return before;
            }
            before.push(l);
        }
    }

    /// Every line the server received, each with its `\n`.
    fn server_saw(&self) -> Vec<Vec<u8>> {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn server_saw_text(&self) -> String {
        String::from_utf8_lossy(&self.server_saw().concat()).into_owned()
    }

    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the proxy to exit (liveness guard: kills it after PATIENCE).
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // the proxy and its server are gone: stderr is at its end
                if let Some(h) = self.stderr_reader.take() {
                    let _ = h.join();
                }
                return st;
            }
            if start.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("the proxy did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes the client side and checks a clean exit without a panic.
    fn finish(mut self) -> (ExitStatus, String) {
        self.close_stdin();
        let st = self.wait();
        let err = self.stderr();
        assert!(!err.contains("panicked"), "{err}");
        (st, err)
    }
}

fn call(id: Value, name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": args}})
}

fn receipts(env: &Env) -> Vec<Value> {
    receipt_files(&env.receipts())
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn assert_chain_valid(env: &Env, count: usize) {
    let (code, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["results"][0]["count"], json!(count), "{v:#}");
}

fn line(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(b'\n');
    v
}

fn text_of(result: &Value) -> &str {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
}

// ---- relaying -------------------------------------------------------------------

#[test]
fn everything_but_decided_calls_is_relayed_byte_for_byte_both_ways() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    // client -> server: odd spacing, escapes, key order, a trailing CR
    let init = "{ \"params\" : {\"z\":1, \"a\":\"\\u00e9\\ud83d\\ude00 é\"}, \"method\":\"initialize\" ,\"jsonrpc\":\"2.0\",\"id\":1.0 }\r";
    p.send_raw(&line(init));
    let answer = p.recv_raw();
    assert!(String::from_utf8_lossy(&answer).contains("\"serverInfo\""));
    // an allowed tools/call is forwarded as sent, not re-serialized
    let allowed = r#"{"jsonrpc":"2.0","id":2,"method":"tools\/call","params":{"arguments":{"path":"/w/a.txt","n":1.50,"big":123456789012345678901234},"name":"read_text_file"}}"#;
    p.send_raw(&line(allowed));
    let r = p.recv();
    assert_eq!(r["id"], json!(2));
    assert!(text_of(&r).starts_with("called read_text_file"), "{r}");
    p.sync();
    let saw = p.server_saw();
    assert_eq!(saw[0], line(init), "initialize changed on the way");
    assert_eq!(
        saw[1],
        line(allowed),
        "allowed tools/call changed on the way"
    );

    // server -> client: lines the server writes arrive exactly, JSON or not
    let emitted: Vec<Vec<u8>> = vec![
        br#"{"jsonrpc" : "2.0","method":"notifications/progress","params":{"b":2,"a":1.50,"progressToken":"\u0041"}}"#.to_vec(),
        b"not json from the server".to_vec(),
        b"\xff\xfe invalid utf-8 \xc3".to_vec(),
        br#"{"jsonrpc":"2.0","id":999,"result":{"stray":true}}"#.to_vec(),
    ];
    let b64: Vec<String> = emitted.iter().map(|l| b64(l)).collect();
    p.send(&json!({"jsonrpc":"2.0","id":3,"method":"test/emit","params":{"b64": b64}}));
    for want in &emitted {
        let mut want = want.clone();
        want.push(b'\n');
        assert_eq!(p.recv_raw(), want);
    }
    assert_eq!(p.recv()["result"]["emitted"], json!(4));
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    assert_chain_valid(&env, 1);
}

/// Minimal standard base64 (the fake server decodes it).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn notifications_and_server_to_client_requests_pass_through() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"x"}}"#;
    p.send_raw(&line(note));
    p.send_raw(&line(cancel));
    // the server asks the client something, and notifies it
    p.send(&json!({"jsonrpc":"2.0","id":1,"method":"test/ask"}));
    let ask = p.recv_raw();
    assert_eq!(
        ask,
        line(r#"{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}"#)
    );
    let n = p.recv();
    assert_eq!(n["method"], json!("notifications/message"));
    assert_eq!(p.recv()["result"]["asked"], json!(true));
    // the client's answer to the server's request reaches the server unchanged
    let reply =
        r#"{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[{"uri":"file:///w","name":"w"}]}}"#;
    p.send_raw(&line(reply));
    p.sync();
    let saw = p.server_saw();
    assert!(saw.contains(&line(note)));
    assert!(saw.contains(&line(cancel)));
    assert!(saw.contains(&line(reply)));
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    // nothing was decided
    assert!(receipts(&env).is_empty());
}

#[test]
fn batches_are_decided_per_call_and_denied_calls_answered_separately() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    // an untouched batch is relayed as it is
    let plain = r#"[ {"jsonrpc":"2.0","id":20,"method":"ping"} , {"jsonrpc":"2.0","method":"notifications/progress","params":{}} ]"#;
    p.send_raw(&line(plain));
    let r = p.recv();
    assert_eq!(r, json!([{"jsonrpc":"2.0","id":20,"result":{}}]));

    let allowed = r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}"#;
    let denied = r#"{"jsonrpc":"2.0","id":"eleven","method":"tools/call","params":{"name":"write_file","arguments":{"path":"/w"}}}"#;
    let notif = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"p":1}}"#;
    let ping = r#"{"jsonrpc":"2.0","id":12,"method":"ping"}"#;
    p.send_raw(&line(&format!("[{allowed} ,{denied},  {notif},{ping}]")));
    let mut got = [p.recv(), p.recv()];
    got.sort_by_key(|v| v.as_array().map_or(0, Vec::len));
    // the denied call, answered by the proxy, in a batch of its own
    assert_eq!(got[0].as_array().unwrap().len(), 1);
    let d = &got[0][0];
    assert_eq!(d["id"], json!("eleven"));
    assert_eq!(d["result"]["isError"], json!(true));
    assert!(
        d["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Writes are not allowed through this proxy")
    );
    // the server's answers to the rest
    let ids: Vec<&Value> = got[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["id"])
        .collect();
    assert_eq!(ids, vec![&json!(10), &json!(12)]);

    // a batch of only denied calls never reaches the server
    let only =
        r#"[{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"write_file"}}]"#;
    p.send_raw(&line(only));
    let r = p.recv();
    assert_eq!(r[0]["id"], json!(30));
    assert_eq!(r[0]["result"]["isError"], json!(true));
    // a batch nested in a batch is not JSON-RPC; a server that ran it would run an
    // undecided call, so it is refused and the rest goes on
    let nested = format!(r#"[[{denied}],{ping}]"#);
    p.send_raw(&line(&nested));
    let mut got = [p.recv(), p.recv()];
    got.sort_by_key(|v| v[0]["id"] == json!(12));
    assert_eq!(got[0][0]["id"], Value::Null);
    assert_eq!(got[0][0]["error"]["code"], json!(-32600));
    assert_eq!(got[1][0]["id"], json!(12));
    p.sync();

    let saw = p.server_saw();
    assert_eq!(saw[0], line(plain));
    // the rest of the batch, each element's bytes unchanged, without the denied call
    assert_eq!(saw[1], line(&format!("[{allowed},{notif},{ping}]")));
    assert_eq!(saw[2], line(&format!("[{ping}]")));
    assert_eq!(saw.len(), 4, "{}", p.server_saw_text()); // + the sync ping
    assert!(!p.server_saw_text().contains("write_file"));
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    let r = receipts(&env);
    let decisions: Vec<(&str, &str)> = r
        .iter()
        .map(|e| {
            (
                e["payload"]["tool_name"].as_str().unwrap(),
                e["payload"]["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            ("echo", "allow"),
            ("write_file", "deny"),
            ("write_file", "deny")
        ]
    );
    assert_chain_valid(&env, 3);
}

#[test]
fn messages_of_several_megabytes_pass_intact_and_an_oversized_line_is_refused() {
    let env = Env::new();
    let mut p = Proxy::start(
        &env,
        &yaml_policy(),
        &["--max-message-bytes", &(7 << 20).to_string()],
        &[],
    );
    // client -> server: a 5 MiB argument in an allowed call
    let blob = "a".repeat(5 << 20);
    let big_call = serde_json::to_string(&call(json!(40), "echo", json!({"blob": blob}))).unwrap();
    p.send_raw(&line(&big_call));
    let r = p.recv();
    assert_eq!(r["id"], json!(40));
    assert!(text_of(&r).contains(&blob));
    // server -> client: a 6 MiB result
    p.send(&json!({"jsonrpc":"2.0","id":41,"method":"test/big","params":{"size": 6 << 20}}));
    let r = p.recv();
    assert_eq!(r["id"], json!(41));
    let data = r["result"]["data"].as_str().unwrap();
    assert_eq!(data.len(), 6 << 20);
    assert!(data.bytes().all(|b| b == b'x'));
    // over the cap from the client: an error, never forwarded, and the proxy carries on
    let huge = serde_json::to_string(&call(
        json!(42),
        "echo",
        json!({"blob": "b".repeat(8 << 20)}),
    ))
    .unwrap();
    p.send_raw(&line(&huge));
    let r = p.recv();
    assert_eq!(r["id"], Value::Null);
    assert_eq!(r["error"]["code"], json!(-32600));
    // over the cap from the server: dropped, the proxy carries on
    p.send(&json!({"jsonrpc":"2.0","id":43,"method":"test/big","params":{"size": 8 << 20}}));
    let before_sync = p.sync();
    assert!(before_sync.is_empty(), "the oversized answer was delivered");
    let saw = p.server_saw();
    assert_eq!(saw[0], line(&big_call));
    assert!(!saw.iter().any(|l| l.len() > (7 << 20)));
    let (st, err) = p.finish();
    assert_eq!(st.code(), Some(0));
    assert!(err.contains("dropped a client message of"), "{err}");
    assert!(err.contains("dropped a server message of"), "{err}");
    assert_chain_valid(&env, 1);
}

// ---- bad input ------------------------------------------------------------------

#[test]
fn lines_that_are_not_json_or_are_ambiguous_are_never_forwarded() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    p.send_raw(b"this is not json\n");
    let r = p.recv();
    assert_eq!(r["id"], Value::Null);
    assert_eq!(r["error"]["code"], json!(-32700));
    // a tools/call a lenient parser would accept (invalid UTF-8 replaced by U+FFFD)
    p.send_raw(
        b"{\"jsonrpc\":\"2.0\",\"id\":60,\"method\":\"tools/call\",\"params\":{\"name\":\"write_file\",\"arguments\":{\"path\":\"\xff\"}}}\n",
    );
    assert_eq!(p.recv()["error"]["code"], json!(-32700));
    // duplicated member names: first-wins and last-wins readers would disagree
    p.send_raw(&line(
        r#"{"jsonrpc":"2.0","id":61,"method":"ping","method":"tools/call","params":{"name":"write_file"}}"#,
    ));
    let r = p.recv();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (Value::Null, json!(-32600))
    );
    p.send_raw(&line(
        r#"{"jsonrpc":"2.0","id":62,"method":"tools/call","params":{"name":"echo","name":"write_file"}}"#,
    ));
    let r = p.recv();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(62), json!(-32602))
    );
    // blank lines are ignored without an answer
    p.send_raw(b"\n   \n");
    let early = p.sync();
    assert!(early.is_empty(), "{early:?}");
    let saw = p.server_saw_text();
    assert!(!saw.contains("not json"));
    assert!(!saw.contains("tools/call"), "{saw}");
    assert!(!saw.contains("write_file"), "{saw}");
    let (st, err) = p.finish();
    assert_eq!(st.code(), Some(0));
    assert!(err.contains("not JSON"), "{err}");
    assert!(receipts(&env).is_empty());
}

#[test]
fn malformed_tools_calls_are_refused_with_their_id_and_never_forwarded() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    let cases = [
        (
            json!({"jsonrpc":"2.0","id":70,"method":"tools/call"}),
            "without params",
        ),
        (
            json!({"jsonrpc":"2.0","id":71,"method":"tools/call","params":{"arguments":{}}}),
            "without a tool name",
        ),
        (
            json!({"jsonrpc":"2.0","id":72,"method":"tools/call","params":{"name":5}}),
            "must be a string",
        ),
        (
            json!({"jsonrpc":"2.0","id":73,"method":"tools/call","params":["echo"]}),
            "must be an object",
        ),
        (
            json!({"jsonrpc":"2.0","id":74,"method":"tools/call","params":{"name":"echo","arguments":[1]}}),
            "arguments must be an object",
        ),
        (
            json!({"jsonrpc":"2.0","id":"75","method":"tools/call","params":{"name":"echo","arguments":{"agent_did":"did:root"}}}),
            "governance context key",
        ),
    ];
    for (msg, why) in &cases {
        p.send(msg);
        let r = p.recv();
        assert_eq!(r["id"], msg["id"], "{r}");
        assert_eq!(r["error"]["code"], json!(-32602), "{r}");
        let m = r["error"]["message"].as_str().unwrap();
        assert!(m.contains(why), "{m}");
    }
    // an id that is neither a string nor a number: answered with id null
    p.send(&json!({"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}));
    let r = p.recv();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (Value::Null, json!(-32600))
    );
    // a tools/call notification cannot be answered: dropped
    p.send(&json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}));
    let early = p.sync();
    assert!(early.is_empty(), "{early:?}");
    let saw = p.server_saw_text();
    assert!(!saw.contains("tools/call"), "{saw}");
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    // nothing reached a decision, so nothing was receipted
    assert!(receipts(&env).is_empty());
}

// ---- decisions ------------------------------------------------------------------

#[test]
fn denied_calls_get_an_error_result_with_the_reason_and_never_reach_the_server() {
    let env = Env::new();
    let mut p = Proxy::start(
        &env,
        &yaml_policy(),
        &["--agent-did", "did:example:agent-7", "--session-id", "s-42"],
        &[],
    );
    let raw_ids = ["\"w\\u002d1\"", "7", "123456789012345678901234"];
    for id in raw_ids {
        let msg = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"write_file","arguments":{{"path":"/w/x","content":"top secret content"}}}}}}"#
        );
        p.send_raw(&line(&msg));
        let r = p.recv_raw();
        let text = String::from_utf8(r.clone()).unwrap();
        // the id is repeated byte for byte
        assert!(
            text.starts_with(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":")),
            "{text}"
        );
        let v: Value = serde_json::from_slice(&r).unwrap();
        assert_eq!(v["result"]["isError"], json!(true));
        assert_eq!(
            text_of(&v),
            "gavel denied the call to tool \"write_file\": Writes are not allowed through this proxy"
        );
    }
    // the same tool name, allowed or denied by its arguments (YAML context = arguments)
    p.send(&call(
        json!(1),
        "read_text_file",
        json!({"path": "/w/notes.txt"}),
    ));
    let r = p.recv();
    assert_eq!(r["result"]["isError"], json!(false));
    p.send(&call(
        json!(2),
        "read_text_file",
        json!({"path": "/w/secret.txt"}),
    ));
    let r = p.recv();
    assert_eq!(r["result"]["isError"], json!(true));
    assert!(text_of(&r).contains("Paths containing 'secret' are off limits"));
    // default deny
    p.send(&call(json!(3), "delete_everything", json!({})));
    let r = p.recv();
    assert!(
        text_of(&r).contains("No matching rule - default deny"),
        "{r}"
    );
    p.sync();
    let saw = p.server_saw_text();
    assert!(!saw.contains("write_file"), "{saw}");
    assert!(!saw.contains("secret.txt"), "{saw}");
    assert!(!saw.contains("delete_everything"), "{saw}");
    assert!(saw.contains("/w/notes.txt"));
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));

    let r = receipts(&env);
    assert_eq!(r.len(), 6);
    let expect = [
        ("write_file", "deny", "no-writes"),
        ("write_file", "deny", "no-writes"),
        ("write_file", "deny", "no-writes"),
        ("read_text_file", "allow", "allow-reading-tools"),
        ("read_text_file", "deny", "no-secret-paths"),
        ("delete_everything", "deny", "default_deny"),
    ];
    for (e, (tool, decision, policy)) in r.iter().zip(expect) {
        let p = &e["payload"];
        assert_eq!(p["type"], json!("gavel:decision"));
        assert_eq!(p["tool_name"], json!(tool));
        assert_eq!(p["decision"], json!(decision));
        assert_eq!(p["policy_id"], json!(policy));
        assert_eq!(p["agent_id"], json!("did:example:agent-7"));
        assert_eq!(p["session_id"], json!("s-42"));
        assert_eq!(p["sandbox_backend"], json!("none"));
        assert_eq!(p["policy_engine"], json!("yaml-rules"));
    }
    // the arguments are in the receipts only as a digest of {action, context}
    let all = r.iter().map(Value::to_string).collect::<String>();
    assert!(!all.contains("top secret content") && !all.contains("/w/notes.txt"));
    let ctx =
        json!({"path": "/w/notes.txt", "agent_did": "did:example:agent-7", "session_id": "s-42"});
    let d = gavel_receipt::payload_digest("tool:read_text_file", &ctx).unwrap();
    assert_eq!(r[3]["payload"]["payload_digest"]["hash"], json!(d.hash));
    assert_chain_valid(&env, 6);
}

#[test]
fn cedar_decides_request_tool_on_agent_tool_with_and_without_the_schema() {
    for dir in ["cedar", "cedar-schema"] {
        let env = Env::new();
        let mut p = Proxy::start(&env, &mcp_data(dir), &[], &[]);
        p.send(&call(
            json!(1),
            "read_text_file",
            json!({"path": "/w/a", "n": 0.5}),
        ));
        let r = p.recv();
        assert_eq!(r["result"]["isError"], json!(false), "{dir}: {r}");
        p.send(&call(json!(2), "write_file", json!({"path": "/w/a"})));
        let r = p.recv();
        assert_eq!(
            text_of(&r),
            "gavel denied the call to tool \"write_file\": Denied by policy: no-write",
            "{dir}"
        );
        p.send(&call(json!(3), "list_directory", json!({})));
        assert!(text_of(&p.recv()).ends_with("No matching permit - default deny"));
        p.sync();
        assert!(!p.server_saw_text().contains("write_file"));
        let (st, _) = p.finish();
        assert_eq!(st.code(), Some(0));
        let r = receipts(&env);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0]["payload"]["policy_engine"], json!("cedar"));
        assert_eq!(r[0]["payload"]["policy_id"], json!("read-tools"));
        assert_eq!(r[1]["payload"]["policy_id"], json!("no-write"));
        assert_chain_valid(&env, 3);
    }
}

#[test]
fn hide_denied_filters_tools_list_without_receipts_and_calls_are_still_decided() {
    let env = Env::new();
    let list = json!({"jsonrpc":"2.0","id":"l1","method":"tools/list"});
    // without the flag: the server's answer, as it is
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    p.send(&list);
    let names: Vec<Value> = p.recv()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("read_text_file"), json!("write_file"), json!("echo")]
    );
    p.finish();
    // with it: only what the policy allows with no arguments
    let mut p = Proxy::start(&env, &yaml_policy(), &["--hide-denied"], &[]);
    p.send(&list);
    let r = p.recv();
    assert_eq!(r["id"], json!("l1"));
    let names: Vec<Value> = r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("read_text_file"), json!("echo")]);
    // also inside a batch
    p.send_raw(&line(
        r#"[{"jsonrpc":"2.0","id":5,"method":"tools/list"},{"jsonrpc":"2.0","id":6,"method":"ping"}]"#,
    ));
    let r = p.recv();
    assert_eq!(r[0]["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(r[1]["id"], json!(6));
    assert!(receipts(&env).is_empty(), "filtering wrote receipts");
    // hiding is advisory: a call to a hidden tool is decided as always
    p.send(&call(json!(7), "write_file", json!({})));
    assert_eq!(p.recv()["result"]["isError"], json!(true));
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    assert_chain_valid(&env, 1);
}

#[test]
fn execution_receipts_link_results_to_their_decisions() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &["--execution-receipts"], &[]);
    p.send(&call(json!("c1"), "echo", json!({"x": 1})));
    let r = p.recv();
    assert_eq!(r["id"], json!("c1"));
    p.send(&call(json!("c2"), "write_file", json!({})));
    p.recv();
    p.sync(); // the execution receipt is written before later server lines are handled
    let (st, _) = p.finish();
    assert_eq!(st.code(), Some(0));
    let r = receipts(&env);
    assert_eq!(r.len(), 3, "{r:#?}");
    // the execution receipt is written once the result is on its way to the client,
    // so the next call's decision may come before it in the chain
    let of = |ty: &str, decision: Option<&str>| -> Vec<&Value> {
        r.iter()
            .filter(|e| {
                e["payload"]["type"] == json!(ty)
                    && decision.is_none_or(|d| e["payload"]["decision"] == json!(d))
            })
            .collect()
    };
    let (allowed, denied, execs) = (
        of("gavel:decision", Some("allow")),
        of("gavel:decision", Some("deny")),
        of("gavel:execution", None),
    );
    assert_eq!(
        (allowed.len(), denied.len(), execs.len()),
        (1, 1, 1),
        "{r:#?}"
    );
    let (decision, exec) = (allowed[0], &execs[0]["payload"]);
    assert_eq!(r[0], *decision);
    assert_eq!(exec["type"], json!("gavel:execution"));
    assert_eq!(exec["tool_name"], json!("echo"));
    assert_eq!(
        exec["decision_ref"],
        json!(gavel_receipt::receipt_hash(decision).unwrap())
    );
    assert_eq!(exec["is_error"], json!(false));
    assert_eq!(exec["mcp_outcome"], json!("result"));
    assert_eq!(exec["sandbox_state"], json!("disabled"));
    let result =
        json!({"content":[{"type":"text","text":"called echo {\"x\": 1}"}],"isError":false});
    let canon = gavel_receipt::jcs::canonicalize(&result).unwrap();
    let hash = gavel_receipt::digest::sha256_prefixed(&canon);
    assert_eq!(
        exec["result_digest"],
        json!({"hash": hash.trim_start_matches("sha256:"), "size": canon.len()})
    );
    // the denied call has no execution receipt
    assert_eq!(denied[0]["payload"]["tool_name"], json!("write_file"));
    assert_chain_valid(&env, 3);
}

// ---- lifecycle ------------------------------------------------------------------

#[test]
fn the_proxy_exits_with_the_servers_status() {
    for (params, code) in [
        (json!({"code": 3}), 3),
        (json!({"code": 0}), 0),
        (json!({"signal": 9}), 137),
    ] {
        let env = Env::new();
        let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
        p.send(&json!({"jsonrpc":"2.0","id":1,"method":"test/exit","params": params}));
        let st = p.wait();
        assert_eq!(st.code(), Some(code), "{params}: {}", p.stderr());
        assert!(!p.stderr().contains("panicked"));
    }
}

#[test]
fn a_server_that_cannot_start_is_a_one_line_error_and_exit_2() {
    let env = Env::new();
    let policy = yaml_policy();
    let not_executable = mcp_data("policy/mcp-tools.yaml");
    for server in ["/nonexistent/mcp-server", not_executable.to_str().unwrap()] {
        let o = env.run(&[
            "mcp-proxy",
            "--policy-dir",
            policy.to_str().unwrap(),
            "--",
            server,
            "--flag",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        // besides the key announcement of a first run: one line
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("gavel: created operator key"))
            .collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(
            lines[0].starts_with("gavel: error: cannot start the MCP server"),
            "{err}"
        );
        assert!(lines[0].contains(server), "{err}");
        assert!(!err.contains("panicked"));
        assert!(o.stdout.is_empty());
    }
    // no server command at all, or a policy that does not load
    let o = env.run(&["mcp-proxy", "--policy-dir", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let o = env.run(&["mcp-proxy", "--policy-dir", "/nonexistent", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert!(receipts(&env).is_empty());
}

#[test]
fn a_chain_of_another_key_is_refused_before_the_server_starts() {
    let env = Env::new();
    let other = env.home().join("other.pem");
    let o = env.run(&["keys", "generate", "--out", other.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.check("shell:git", &["--key", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let marker = env.home().join("started");
    let o = env.run(&[
        "mcp-proxy",
        "--policy-dir",
        yaml_policy().to_str().unwrap(),
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds a chain signed by"),
        "{}",
        stderr(&o)
    );
    assert!(!marker.exists(), "the server was started");
}

#[test]
fn a_server_that_ignores_the_end_of_its_input_is_terminated() {
    let env = Env::new();
    let mut p = Proxy::start(
        &env,
        &yaml_policy(),
        &["--shutdown-timeout", "0.2"],
        &[("FAKE_IGNORE_EOF", "1")],
    );
    p.send(&call(json!(1), "echo", json!({})));
    p.recv();
    let (st, err) = p.finish();
    assert_eq!(st.code(), Some(128 + 15), "{err}");
    assert!(err.contains("sending SIGTERM"), "{err}");
    assert_chain_valid(&env, 1);
}

#[test]
fn a_client_that_disconnects_mid_call_leaves_a_valid_chain() {
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.arg("mcp-proxy")
        .arg("--policy-dir")
        .arg(yaml_policy())
        .arg("--execution-receipts")
        .arg("--")
        .args(fake_server())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut batch = String::new();
    // a call the server is still working on when the client goes away, then more
    batch.push_str(&serde_json::to_string(&call(json!(1), "slow", json!({"secs": 0.5}))).unwrap());
    batch.push('\n');
    for i in 2..12 {
        let tool = if i % 3 == 0 { "write_file" } else { "echo" };
        batch.push_str(&serde_json::to_string(&call(json!(i), tool, json!({"i": i}))).unwrap());
        batch.push('\n');
    }
    stdin.write_all(batch.as_bytes()).unwrap();
    // the client vanishes: both pipes closed, no answer read
    drop(stdin);
    drop(stdout);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "the proxy did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    // every call was decided and receipted; the chain verifies
    let r = receipts(&env);
    let decisions = r
        .iter()
        .filter(|e| e["payload"]["type"] == json!("gavel:decision"))
        .count();
    assert_eq!(decisions, 11, "{err}");
    assert_chain_valid(&env, r.len());
}

#[test]
fn a_line_without_a_final_newline_is_still_decided() {
    let env = Env::new();
    let mut p = Proxy::start(&env, &yaml_policy(), &[], &[]);
    let msg = serde_json::to_string(&call(json!(9), "write_file", json!({}))).unwrap();
    p.send_raw(msg.as_bytes());
    p.close_stdin();
    let r = p.recv();
    assert_eq!(r["id"], json!(9));
    assert_eq!(r["result"]["isError"], json!(true));
    let st = p.wait();
    assert_eq!(st.code(), Some(0));
    assert!(!p.server_saw_text().contains("write_file"));
    assert_chain_valid(&env, 1);
}

// ---- real parts -----------------------------------------------------------------

/// Where scripts/test installs the pinned npm packages (`GAVEL_MCP_NODE_DIR`, else
/// target/ci/node in the workspace).
fn node_dir() -> PathBuf {
    std::env::var_os("GAVEL_MCP_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/ci/node")
                .canonicalize()
                .unwrap_or_else(|_| {
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ci/node")
                })
        })
}

#[test]
fn real_sdk_client_through_the_proxy_to_the_reference_filesystem_server() {
    let node = node_dir();
    let modules = node.join("node_modules");
    let server = modules.join("@modelcontextprotocol/server-filesystem/dist/index.js");
    let sdk = modules.join("@modelcontextprotocol/sdk/package.json");
    assert!(
        server.is_file() && sdk.is_file(),
        "the pinned MCP packages are not installed in {}; install them with:\n  mkdir -p {0} && cp {1}/package.json {1}/package-lock.json {0}/ && (cd {0} && npm ci)\n(scripts/test does this)",
        node.display(),
        mcp_data("").display()
    );
    let env = Env::new();
    let root = env.home().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let file = root.join("hello.txt");
    std::fs::write(&file, "hello from disk\n").unwrap();
    // the client script beside a node_modules link, so its imports resolve
    let run = env.home().join("client");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::copy(mcp_data("client.mjs"), run.join("client.mjs")).unwrap();
    std::os::unix::fs::symlink(&modules, run.join("node_modules")).unwrap();

    let o = Command::new("node")
        .arg(run.join("client.mjs"))
        .arg(BIN)
        .arg(yaml_policy())
        .arg(&server)
        .arg(&root)
        .env("GAVEL_HOME", env.home())
        .env_remove("XDG_STATE_HOME")
        .output()
        .expect("run node (Node.js 20 or later is needed)");
    assert!(
        o.status.success(),
        "client failed: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let out = json(&o);
    assert!(!stderr(&o).contains("panicked"));
    let tools = out["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("read_text_file")) && tools.contains(&json!("write_file")));
    // the server asked the client for its roots, through the proxy, and got them
    assert_eq!(out["sawRootsRequest"], json!(true));
    // allowed: the file's content
    assert_ne!(out["read"]["isError"], json!(true), "{out:#}");
    assert_eq!(
        out["read"]["content"][0]["text"],
        json!("hello from disk\n")
    );
    // denied: the reason, and the disk is unchanged
    assert_eq!(out["write"]["isError"], json!(true), "{out:#}");
    assert_eq!(
        out["write"]["content"][0]["text"],
        json!(
            "gavel denied the call to tool \"write_file\": Writes are not allowed through this proxy"
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello from disk\n");
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
    // both receipted, and the chain verifies
    let r = receipts(&env);
    let seen: Vec<(Value, Value)> = r
        .iter()
        .map(|e| {
            (
                e["payload"]["tool_name"].clone(),
                e["payload"]["decision"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("read_text_file"), json!("allow")),
            (json!("write_file"), json!("deny"))
        ]
    );
    assert_chain_valid(&env, 2);
}
