//! Receipts built through the public API for the tests.
#![allow(dead_code)]

use gavel_receipt::keys::{OperatorKey, TrustedKey, parse_trusted_keys, public_hex};
use gavel_receipt::verify::Input;
use gavel_receipt::{SPEC, sign_payload};
use serde_json::{Map, Value, json};

pub const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

pub fn key() -> OperatorKey {
    OperatorKey::parse(SEED).unwrap()
}

pub fn other_key() -> OperatorKey {
    let mut seed = [0u8; 32];
    seed[31] = 1;
    OperatorKey::from_seed(&seed)
}

pub fn trusted(k: &OperatorKey) -> Vec<TrustedKey> {
    parse_trusted_keys(&public_hex(&k.verifying_key())).unwrap()
}

/// A decision payload like gavel writes (receipts.md section 2).
pub fn decision_payload(seq: u64, prev: Option<&str>, k: &OperatorKey) -> Map<String, Value> {
    let mut p = json!({
        "type": "gavel:decision",
        "spec": SPEC,
        "issuer_id": k.kid(),
        "issued_at": format!("2026-11-25T19:30:{:02}.123Z", seq % 60),
        "sequence": seq,
        "tool_name": "shell:python",
        "decision": "allow",
        "reason": "Allowed by rule: allow-safe-shell",
        "policy_id": "allow-safe-shell",
        "policy_engine": "yaml-rules",
        "policy_digest": "sha256:095c56b995768de62cb6f622e49ff234832bd3b1c4b926daecf71b62194976ff",
        "agent_id": "did:mesh:gavel-demo-agent",
        "trust_score": 1.0,
        "ring": 3,
        "sandbox_backend": "nono",
        "payload_digest": {"hash": "00".repeat(32), "size": 42},
    });
    if let Some(h) = prev {
        p["previousReceiptHash"] = json!(h);
    }
    p.as_object().unwrap().clone()
}

/// A chain of `n` receipts as JSON values.
pub fn chain(n: u64, k: &OperatorKey) -> Vec<Value> {
    let mut out = Vec::new();
    let mut prev: Option<String> = None;
    for seq in 1..=n {
        let s = sign_payload(decision_payload(seq, prev.as_deref(), k), k).unwrap();
        prev = Some(s.chain_hash);
        out.push(serde_json::to_value(&s.envelope).unwrap());
    }
    out
}

pub fn input(name: &str, v: &Value) -> Input {
    Input {
        source: name.into(),
        bytes: serde_json::to_vec_pretty(v).unwrap(),
    }
}

pub fn inputs(vs: &[Value]) -> Vec<Input> {
    vs.iter()
        .enumerate()
        .map(|(i, v)| input(&format!("{:012}.json", i + 1), v))
        .collect()
}
