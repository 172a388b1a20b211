//! Decision latency (no signing): YAML rules with 10 and 1,000 rules, Cedar
//! with 10 policies, on the policies and requests under `benches/data/`
//! (written by `gen_bench_data.py`; `agt_check_policy.py` times AGT on the
//! same files). One iteration is one decision; the request cycles through the
//! request list, so the figure is the mean over the mix.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use gavel_policy::{PolicySet, Request};
use serde_json::{Map, Value};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data")
}

fn load(name: &str) -> PolicySet {
    match PolicySet::load(&data().join(name)) {
        Ok(p) => p,
        Err(e) => panic!("{name}: {e} (run benches/gen_bench_data.py)"),
    }
}

fn requests(name: &str) -> Vec<(String, Map<String, Value>)> {
    let text = std::fs::read_to_string(data().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
        panic!("{name}: not a JSON array")
    };
    items
        .into_iter()
        .map(|r| {
            let action = r["action"].as_str().unwrap_or_default().to_owned();
            let context = match &r["context"] {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            (action, context)
        })
        .collect()
}

fn bench_set(
    c: &mut Criterion,
    id: &str,
    policy: &PolicySet,
    reqs: &[(String, Map<String, Value>)],
) {
    let mut i = 0usize;
    c.bench_function(id, |b| {
        b.iter(|| {
            i = (i + 1) % reqs.len();
            let (action, context) = &reqs[i];
            black_box(policy.evaluate(&Request::new(black_box(action), context)))
        })
    });
}

/// Per-decision latency percentiles over `rounds` passes of the request list
/// (each decision timed on its own; includes ~20-40 ns of clock overhead).
fn percentiles(id: &str, policy: &PolicySet, reqs: &[(String, Map<String, Value>)], rounds: usize) {
    let mut samples: Vec<u128> = Vec::with_capacity(rounds * reqs.len());
    for _ in 0..rounds {
        for (action, context) in reqs {
            let t = std::time::Instant::now();
            black_box(policy.evaluate(&Request::new(black_box(action), context)));
            samples.push(t.elapsed().as_nanos());
        }
    }
    samples.sort_unstable();
    let at = |q: f64| {
        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0
    };
    eprintln!(
        "{id:40} per decision: p50 {:.3} us, p90 {:.3} us, p99 {:.3} us ({} decisions)",
        at(0.50),
        at(0.90),
        at(0.99),
        samples.len()
    );
}

fn benches(c: &mut Criterion) {
    let y10 = load("yaml-10");
    let y1000 = load("yaml-1000");
    let cedar = load("cedar-10");
    assert_eq!(
        (y10.rule_count(), y1000.rule_count(), cedar.rule_count()),
        (10, 1000, 10)
    );
    let r10 = requests("requests-10.json");
    let r1000 = requests("requests-1000.json");
    let deny = requests("deny-only.json");
    let rc = requests("cedar-requests.json");
    // Sanity: the Cedar requests decide without evaluation errors, and every
    // fast decision equals the reference evaluation.
    for (a, ctx) in &rc {
        let v = cedar.evaluate(&Request::new(a, ctx));
        assert!(!v.reason.contains("fail closed"), "{a}: {}", v.reason);
        assert_eq!(v, cedar.evaluate_reference(&Request::new(a, ctx)));
    }
    for (p, reqs) in [
        (&y10, &r10),
        (&y10, &deny),
        (&y1000, &r1000),
        (&y1000, &deny),
    ] {
        for (a, ctx) in reqs {
            assert_eq!(
                p.evaluate(&Request::new(a, ctx)),
                p.evaluate_reference(&Request::new(a, ctx))
            );
        }
    }
    percentiles("yaml_decision/10_rules/mix", &y10, &r10, 400);
    percentiles("yaml_decision/1000_rules/mix", &y1000, &r1000, 100);
    percentiles("cedar_decision/10_policies/mix", &cedar, &rc, 100);
    bench_set(c, "yaml_decision/10_rules/mix", &y10, &r10);
    bench_set(c, "yaml_decision/10_rules/default_deny", &y10, &deny);
    bench_set(c, "yaml_decision/1000_rules/mix", &y1000, &r1000);
    bench_set(c, "yaml_decision/1000_rules/default_deny", &y1000, &deny);
    bench_set(c, "cedar_decision/10_policies/mix", &cedar, &rc);
}

criterion_group!(policy, benches);
criterion_main!(policy);
