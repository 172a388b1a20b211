//! A decision with its signed receipt, no disk: evaluate the example policy (trust
//! lookup included), build the decision payload, JCS, SHA-256 payload digest, Ed25519,
//! chain hash. The same code `Governance::decide` runs while the chain is locked.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gavel::{DecisionRequest, Governance, StateDir};
use gavel_policy::PolicySet;
use gavel_receipt::keys::OperatorKey;
use serde_json::{Map, Value, json};

fn bench(c: &mut Criterion) {
    let state = tempfile::tempdir().expect("tempdir");
    let policy_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/policies");
    let policy = PolicySet::load(std::path::Path::new(policy_dir)).expect("example policy");
    let gov = Governance::builder(policy)
        .state(StateDir::at(state.path()))
        .signer(OperatorKey::generate().expect("key"))
        .build();
    let context: Map<String, Value> =
        json!({"agent_did": "did:mesh:gavel-demo-agent", "session_id": "s-1"})
            .as_object()
            .cloned()
            .unwrap_or_default();
    let previous = format!("sha256:{}", "ab".repeat(32));
    for action in ["shell:python", "file:write:/etc/shadow"] {
        let req = DecisionRequest::new(action, &context);
        c.bench_function(&format!("decision + receipt, no disk ({action})"), |b| {
            b.iter(|| {
                let d = gov.evaluate(&req).expect("decide");
                black_box(
                    gov.sign_decision(&d, &req, 2, Some(&previous), 0.0)
                        .expect("sign"),
                )
            })
        });
        c.bench_function(&format!("decision only ({action})"), |b| {
            b.iter(|| black_box(gov.evaluate(&req).expect("decide")))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
