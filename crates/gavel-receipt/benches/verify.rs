//! Verification speed: one typical decision receipt, and a chain in memory.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gavel_receipt::keys::{OperatorKey, parse_trusted_keys, public_hex};
use gavel_receipt::verify::{Input, Order, VerifyOptions, verify_chain, verify_receipt};
use gavel_receipt::{SPEC, sign_payload};
use serde_json::{Map, Value, json};
use std::hint::black_box;

fn payload(seq: u64, prev: Option<&str>, k: &OperatorKey) -> Map<String, Value> {
    let mut p = json!({
        "type": "gavel:decision", "spec": SPEC, "issuer_id": k.kid(),
        "issued_at": "2026-11-25T19:30:00.123Z", "sequence": seq,
        "tool_name": "file:read:/workspace/main.py", "decision": "allow",
        "reason": "Allowed by rule: allow-workspace-read", "policy_id": "allow-workspace-read",
        "policy_engine": "yaml-rules",
        "policy_digest": "sha256:095c56b995768de62cb6f622e49ff234832bd3b1c4b926daecf71b62194976ff",
        "agent_id": "did:mesh:gavel-demo-agent", "trust_score": 1.0, "ring": 3,
        "sandbox_backend": "sb_runtime_builtin",
        "payload_digest": {"hash": "5f".repeat(32), "size": 97},
        "session_id": "sess-1", "hook_latency_ms": 0.042,
    });
    if let Some(h) = prev {
        p["previousReceiptHash"] = json!(h);
    }
    p.as_object().cloned().unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let k = OperatorKey::generate().expect("random");
    let opts = VerifyOptions {
        keys: parse_trusted_keys(&public_hex(&k.verifying_key())).expect("key"),
        expected_policy_digest: None,
    };
    let signed = sign_payload(
        payload(2, Some(&format!("sha256:{}", "0".repeat(64))), &k),
        &k,
    )
    .expect("sign");
    let bytes = serde_json::to_vec_pretty(&signed.envelope).expect("json");
    c.bench_function("verify one decision receipt (parse + JCS + Ed25519)", |b| {
        b.iter_batched(
            || Input {
                source: "r".into(),
                bytes: bytes.clone(),
            },
            |i| black_box(verify_receipt(i, &opts)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function(
        "sign one decision receipt (JCS + Ed25519 + chain hash)",
        |b| {
            b.iter_batched(
                || payload(2, None, &k),
                |p| black_box(sign_payload(p, &k)),
                BatchSize::SmallInput,
            )
        },
    );

    let n = 10_000u64;
    let mut prev: Option<String> = None;
    let mut chain = Vec::new();
    for seq in 1..=n {
        let s = sign_payload(payload(seq, prev.as_deref(), &k), &k).expect("sign");
        prev = Some(s.chain_hash);
        chain.push(serde_json::to_vec_pretty(&s.envelope).expect("json"));
    }
    let mut g = c.benchmark_group("verify chain in memory");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("10k receipts, all cores", |b| {
        b.iter_batched(
            || {
                chain
                    .iter()
                    .enumerate()
                    .map(|(i, b)| Input {
                        source: i.to_string(),
                        bytes: b.clone(),
                    })
                    .collect::<Vec<_>>()
            },
            |ins| black_box(verify_chain(ins, Order::BySequence, &opts, None)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
