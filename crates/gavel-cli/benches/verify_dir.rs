//! `gavel verify` over a receipts directory of 100,000 receipts (the real binary,
//! all cores), generated in the setup.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gavel_receipt::keys::{OperatorKey, public_hex};
use gavel_receipt::{SPEC, sign_payload};
use serde_json::json;

const N: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let receipts = dir.path().join("receipts");
    std::fs::create_dir(&receipts).expect("mkdir");
    let k = OperatorKey::generate().expect("key");
    let started = Instant::now();
    let mut prev: Option<String> = None;
    for seq in 1..=N {
        let mut p = json!({
            "type": "gavel:decision", "spec": SPEC, "issuer_id": k.kid(),
            "issued_at": "2026-11-25T19:30:00.123Z", "sequence": seq,
            "tool_name": "shell:python", "decision": "allow",
            "reason": "Allowed by rule: allow-safe-shell", "policy_id": "allow-safe-shell",
            "policy_engine": "yaml-rules",
            "policy_digest": "sha256:095c56b995768de62cb6f622e49ff234832bd3b1c4b926daecf71b62194976ff",
            "agent_id": "did:mesh:gavel-demo-agent", "trust_score": 1.0, "ring": 3,
            "sandbox_backend": "sb_runtime_builtin",
            "payload_digest": {"hash": "5f".repeat(32), "size": 97}, "hook_latency_ms": 0.042,
        });
        if let Some(h) = &prev {
            p["previousReceiptHash"] = json!(h);
        }
        let s = sign_payload(p.as_object().cloned().unwrap_or_default(), &k).expect("sign");
        let mut bytes = serde_json::to_vec_pretty(&s.envelope).expect("json");
        bytes.push(b'\n');
        std::fs::write(receipts.join(format!("{seq:012}.json")), bytes).expect("write");
        prev = Some(s.chain_hash);
    }
    eprintln!("generated {N} receipts in {:?}", started.elapsed());
    let key = public_hex(&k.verifying_key());
    let bin = env!("CARGO_BIN_EXE_gavel");
    let mut g = c.benchmark_group("gavel verify");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    g.throughput(Throughput::Elements(N));
    g.bench_function("directory of 100k receipts", |b| {
        b.iter(|| {
            let st = Command::new(bin)
                .arg("verify")
                .arg(&receipts)
                .args(["--key", &key])
                .stdout(Stdio::null())
                .status()
                .expect("run gavel");
            assert!(st.success(), "the generated chain must verify");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
