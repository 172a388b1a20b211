//! Verification outcomes and causes (receipts.md section 6), one bad input per test.

mod common;
use common::*;

use gavel_receipt::keys::{TrustedKey, parse_trusted_keys, public_hex};
use gavel_receipt::sign_payload;
use gavel_receipt::verify::{
    Cause, ChainReport, Input, Order, Status, VerifyOptions, verify_chain, verify_receipt,
};
use serde_json::{Value, json};
use std::path::Path;

fn opts(keys: Vec<TrustedKey>) -> VerifyOptions {
    VerifyOptions {
        keys,
        expected_policy_digest: None,
    }
}

fn one(v: &Value) -> ChainReport {
    verify_receipt(input("r.json", v), &opts(trusted(&key())))
}

fn bytes_one(b: &[u8], keys: Vec<TrustedKey>) -> ChainReport {
    verify_receipt(
        Input {
            source: "r.json".into(),
            bytes: b.to_vec(),
        },
        &opts(keys),
    )
}

fn cause(r: &ChainReport) -> Option<Cause> {
    r.receipts
        .iter()
        .find_map(|x| x.cause)
        .or_else(|| r.chain_problems.first().map(|p| p.cause))
}

fn assert_outcome(r: &ChainReport, status: Status, c: Cause) {
    assert_eq!((r.status, cause(r)), (status, Some(c)), "{r:#?}");
}

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

#[test]
fn a_signed_receipt_verifies() {
    let r = one(&chain(1, &key())[0]);
    assert_eq!(r.status, Status::Valid, "{r:#?}");
    assert_eq!(r.receipts[0].kid.as_deref(), Some(key().kid()));
}

#[test]
fn truncated_json() {
    let full = serde_json::to_vec(&chain(1, &key())[0]).unwrap();
    for cut in [1, full.len() / 2, full.len() - 1] {
        assert_outcome(
            &bytes_one(&full[..cut], trusted(&key())),
            Status::Invalid,
            Cause::MalformedJson,
        );
    }
    assert_outcome(
        &bytes_one(b"", trusted(&key())),
        Status::Invalid,
        Cause::MalformedJson,
    );
    assert_outcome(
        &bytes_one(b"\xff\xfe{}", trusted(&key())),
        Status::Invalid,
        Cause::MalformedJson,
    );
}

#[test]
fn json_that_is_no_object() {
    for text in ["[]", "42", "\"receipt\"", "null", "true"] {
        assert_outcome(
            &bytes_one(text.as_bytes(), trusted(&key())),
            Status::Invalid,
            Cause::UnknownShape,
        );
    }
    assert_outcome(
        &bytes_one(b"{}", trusted(&key())),
        Status::Invalid,
        Cause::UnknownShape,
    );
}

#[test]
fn duplicate_members_are_malformed() {
    let r = chain(1, &key()).remove(0);
    let text = serde_json::to_string(&r).unwrap().replacen(
        "{\"payload\":{",
        "{\"payload\":{\"decision\":\"deny\",",
        1,
    );
    assert_outcome(
        &bytes_one(text.as_bytes(), trusted(&key())),
        Status::Invalid,
        Cause::MalformedJson,
    );
}

#[test]
fn missing_signature() {
    let mut r = chain(1, &key()).remove(0);
    r.as_object_mut().unwrap().remove("signature");
    assert_outcome(&one(&r), Status::Invalid, Cause::MissingSignature);
    let mut r = chain(1, &key()).remove(0);
    r["signature"].as_object_mut().unwrap().remove("sig");
    assert_outcome(&one(&r), Status::Invalid, Cause::MissingSignature);
}

#[test]
fn sig_not_hex_or_wrong_length() {
    let good = chain(1, &key()).remove(0);
    let sig = good["signature"]["sig"].as_str().unwrap().to_owned();
    for bad in [
        json!(format!("{}zz", &sig[..126])),
        json!(&sig[..126]),
        json!(format!("{sig}00")),
        json!(sig.to_uppercase()),
        json!(""),
        json!(12),
        json!(base64_of(&hex::decode(&sig).unwrap())),
    ] {
        let mut r = good.clone();
        r["signature"]["sig"] = bad.clone();
        assert_outcome(&one(&r), Status::Invalid, Cause::MalformedEncoding);
    }
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn alg_other_than_eddsa() {
    for alg in ["ES256", "none", "eddsa", "Ed25519"] {
        let mut r = chain(1, &key()).remove(0);
        r["signature"]["alg"] = json!(alg);
        assert_outcome(&one(&r), Status::Invalid, Cause::UnsupportedAlgorithm);
    }
}

#[test]
fn payload_edited_after_signing() {
    for (field, value) in [
        ("decision", json!("deny")),
        ("sandbox_backend", json!("sb_runtime_builtin")),
        ("ring", json!(3.5)),
        ("ring", json!(2)),
        (
            "policy_digest",
            json!("sha256:0000000000000000000000000000000000000000000000000000000000000000"),
        ),
        ("trust_score", json!(0.999999)),
    ] {
        let mut r = chain(1, &key()).remove(0);
        assert_ne!(r["payload"][field], value);
        r["payload"][field] = value;
        assert_outcome(&one(&r), Status::Invalid, Cause::InvalidSignature);
    }
    // adding a member is an edit too
    let mut r = chain(1, &key()).remove(0);
    r["payload"]["note"] = json!("added later");
    assert_outcome(&one(&r), Status::Invalid, Cause::InvalidSignature);
}

#[test]
fn signed_by_another_key() {
    let theirs = chain(1, &other_key()).remove(0);
    assert_outcome(&one(&theirs), Status::Invalid, Cause::KidMismatch);
    // and one that claims our kid but is signed by another key
    let mut forged = theirs.clone();
    forged["signature"]["kid"] = json!(key().kid());
    forged["payload"]["issuer_id"] = json!(key().kid());
    assert_outcome(&one(&forged), Status::Invalid, Cause::InvalidSignature);
}

#[test]
fn issuer_id_must_equal_kid() {
    let mut r = chain(1, &key()).remove(0);
    r["signature"]["kid"] = json!("sb:issuer:somebodyelse");
    assert_outcome(&one(&r), Status::Invalid, Cause::KidMismatch);
}

#[test]
fn carried_public_key() {
    let mine = public_hex(&key().verifying_key());
    let theirs = public_hex(&other_key().verifying_key());
    // carried key equal to the trusted key: fine
    let mut r = chain(1, &key()).remove(0);
    r["public_key"] = json!(mine);
    assert_eq!(one(&r).status, Status::Valid);
    // differing: invalid
    r["public_key"] = json!(theirs);
    assert_outcome(&one(&r), Status::Invalid, Cause::CarriedKeyMismatch);
    // no outside key at all: undecidable, never the carried one
    let none = verify_receipt(input("r.json", &r), &opts(vec![]));
    assert_outcome(&none, Status::Undecidable, Cause::NoTrustedKey);
    let detail = none.receipts[0].detail.clone().unwrap();
    assert!(detail.contains("no trust-anchored key"), "{detail}");
    // a key carried even in a perfectly consistent receipt is not used
    let mut r2 = chain(1, &key()).remove(0);
    r2["public_key"] = json!(mine);
    assert_outcome(
        &verify_receipt(input("r.json", &r2), &opts(vec![])),
        Status::Undecidable,
        Cause::NoTrustedKey,
    );
}

#[test]
fn jwks_window_applies_to_issued_at() {
    let vk = key().verifying_key();
    let mut jwk = gavel_receipt::keys::public_jwk(&vk, key().kid());
    jwk["valid_from"] = json!("2027-01-01T00:00:00Z");
    let keys = parse_trusted_keys(&json!({"keys": [jwk.clone()]}).to_string()).unwrap();
    let r = verify_receipt(input("r.json", &chain(1, &key())[0]), &opts(keys));
    assert_outcome(&r, Status::Invalid, Cause::KeyWindow);
    jwk["valid_from"] = json!("2026-01-01T00:00:00Z");
    jwk["valid_until"] = json!("2026-11-25T19:30:02.123Z"); // receipt 2 issued exactly then: excluded bound
    let keys = parse_trusted_keys(&json!({"keys": [jwk]}).to_string()).unwrap();
    let r = verify_chain(
        inputs(&chain(2, &key())),
        Order::BySequence,
        &opts(keys),
        None,
    );
    assert_eq!(r.receipts[0].status, Status::Valid);
    assert_eq!(r.receipts[1].cause, Some(Cause::KeyWindow));
}

#[test]
fn jwks_without_the_kid_is_undecidable() {
    let jwks = gavel_receipt::keys::public_jwks(&other_key().verifying_key(), "k-other");
    let keys = parse_trusted_keys(&jwks.to_string()).unwrap();
    let r = verify_receipt(input("r.json", &chain(1, &key())[0]), &opts(keys));
    assert_outcome(&r, Status::Undecidable, Cause::NoTrustedKey);
}

#[test]
fn policy_digest_comparison() {
    let c = chain(1, &key());
    let good = c[0]["payload"]["policy_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut o = opts(trusted(&key()));
    o.expected_policy_digest = Some(good);
    assert_eq!(
        verify_receipt(input("r.json", &c[0]), &o).status,
        Status::Valid
    );
    o.expected_policy_digest = Some("sha256:".to_owned() + &"1".repeat(64));
    assert_outcome(
        &verify_receipt(input("r.json", &c[0]), &o),
        Status::Invalid,
        Cause::DigestMismatch,
    );
}

#[test]
fn too_large() {
    let big = vec![b' '; 50 * 1024 * 1024];
    assert_outcome(
        &bytes_one(&big, trusted(&key())),
        Status::Invalid,
        Cause::TooLarge,
    );
}

// ---- chains ----

fn chain_report(vs: &[Value], order: Order) -> ChainReport {
    verify_chain(inputs(vs), order, &opts(trusted(&key())), None)
}

#[test]
fn a_chain_verifies_in_any_file_order() {
    let mut c = chain(20, &key());
    assert_eq!(chain_report(&c, Order::BySequence).status, Status::Valid);
    c.reverse(); // names no longer match sequences: the sequence field decides
    let r = chain_report(&c, Order::BySequence);
    assert_eq!(r.status, Status::Valid, "{r:#?}");
    assert_eq!(
        (r.first_sequence, r.last_sequence, r.count),
        (Some(1), Some(20), 20)
    );
}

#[test]
fn chain_with_a_receipt_removed_from_the_middle() {
    let mut c = chain(5, &key());
    c.remove(2);
    let r = chain_report(&c, Order::BySequence);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    assert!(
        r.chain_problems[0].detail.contains("receipt 3 is missing"),
        "{r:#?}"
    );
}

#[test]
fn chain_with_two_receipts_swapped() {
    let mut c = chain(5, &key());
    c.swap(1, 3);
    let r = chain_report(&c, Order::AsGiven);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    // swapped payloads between two envelopes: signatures break
    let mut c = chain(5, &key());
    let p1 = c[1]["payload"].clone();
    c[1]["payload"] = c[3]["payload"].clone();
    c[3]["payload"] = p1;
    let r = chain_report(&c, Order::BySequence);
    assert_eq!(r.status, Status::Invalid);
    assert_eq!(r.receipts[1].cause, Some(Cause::InvalidSignature));
}

#[test]
fn chain_with_a_duplicated_receipt() {
    let mut c = chain(4, &key());
    c.push(c[1].clone());
    let r = chain_report(&c, Order::BySequence);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    assert!(
        r.chain_problems
            .iter()
            .any(|p| p.detail.contains("duplicate sequence 2")),
        "{r:#?}"
    );
}

#[test]
fn chain_with_a_sequence_gap_and_resigned_links() {
    // a forger with the key could re-link, but never hide the gap in sequence numbers
    let k = key();
    let a = sign_payload(decision_payload(1, None, &k), &k).unwrap();
    let b = sign_payload(decision_payload(3, Some(&a.chain_hash), &k), &k).unwrap();
    let c = vec![
        serde_json::to_value(&a.envelope).unwrap(),
        serde_json::to_value(&b.envelope).unwrap(),
    ];
    let r = chain_report(&c, Order::BySequence);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    assert!(r.chain_problems[0].detail.contains("gap"));
}

#[test]
fn link_on_sequence_one() {
    let k = key();
    let a = sign_payload(
        decision_payload(1, Some(&format!("sha256:{}", "a".repeat(64))), &k),
        &k,
    )
    .unwrap();
    let r = chain_report(
        &[serde_json::to_value(&a.envelope).unwrap()],
        Order::BySequence,
    );
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
}

#[test]
fn chain_that_starts_late_or_lacks_a_link() {
    let c = chain(4, &key());
    let r = chain_report(&c[1..], Order::BySequence);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    let k = key();
    let a = sign_payload(decision_payload(1, None, &k), &k).unwrap();
    let b = sign_payload(decision_payload(2, None, &k), &k).unwrap();
    let r = chain_report(
        &[
            serde_json::to_value(&a.envelope).unwrap(),
            serde_json::to_value(&b.envelope).unwrap(),
        ],
        Order::BySequence,
    );
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
}

#[test]
fn altered_receipt_breaks_the_next_link_too() {
    let mut c = chain(3, &key());
    c[0]["payload"]["decision"] = json!("deny");
    let r = chain_report(&c, Order::BySequence);
    assert_eq!(r.receipts[0].cause, Some(Cause::InvalidSignature));
    assert_eq!(r.receipts[1].cause, Some(Cause::ChainBreak));
    assert_eq!(r.receipts[2].status, Status::Valid);
}

#[test]
fn empty_chain_is_undecidable() {
    let r = verify_chain(vec![], Order::BySequence, &opts(trusted(&key())), None);
    assert_outcome(&r, Status::Undecidable, Cause::NoReceipts);
}

#[test]
fn two_chains_mixed() {
    let mut c = chain(3, &key());
    c.extend(chain(3, &key()).into_iter().map(|mut v| {
        v["payload"]["tool_name"] = json!("x"); // a different chain: re-sign below
        v
    }));
    // rebuild the second chain properly signed so only the mixing is wrong
    let k = key();
    let mut second = Vec::new();
    let mut prev: Option<String> = None;
    for seq in 1..=3 {
        let mut p = decision_payload(seq, prev.as_deref(), &k);
        p.insert("tool_name".into(), json!("file:read:/x"));
        let s = sign_payload(p, &k).unwrap();
        prev = Some(s.chain_hash);
        second.push(serde_json::to_value(&s.envelope).unwrap());
    }
    let mut mixed = chain(3, &key());
    mixed.extend(second);
    let r = chain_report(&mixed, Order::BySequence);
    assert_outcome(&r, Status::Invalid, Cause::ChainBreak);
    assert_eq!(r.chain_problems.len(), 3, "{r:#?}");
}

#[test]
fn a_malformed_file_inside_a_chain_is_reported_and_breaks_it() {
    let c = chain(3, &key());
    let mut ins = inputs(&c);
    ins[1].bytes.truncate(10);
    let r = verify_chain(ins, Order::BySequence, &opts(trusted(&key())), None);
    assert_eq!(r.status, Status::Invalid);
    let causes: Vec<_> = r.receipts.iter().map(|x| x.cause).collect();
    assert!(causes.contains(&Some(Cause::MalformedJson)), "{causes:?}");
    assert!(causes.contains(&Some(Cause::ChainBreak)), "{causes:?}");
}

#[test]
fn batch_and_single_agree_on_large_chains() {
    // 300 receipts: several batches; one bad signature in the middle of one batch
    let mut c = chain(300, &key());
    assert_eq!(chain_report(&c, Order::BySequence).status, Status::Valid);
    c[150]["payload"]["decision"] = json!("deny");
    let r = chain_report(&c, Order::BySequence);
    let bad: Vec<_> = r
        .receipts
        .iter()
        .filter(|x| x.status != Status::Valid)
        .map(|x| (x.sequence, x.cause))
        .collect();
    assert_eq!(
        bad,
        vec![
            (Some(151), Some(Cause::InvalidSignature)),
            (Some(152), Some(Cause::ChainBreak))
        ]
    );
}

#[test]
fn progress_reaches_the_total() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = AtomicUsize::new(0);
    let cb = |n: usize| {
        seen.fetch_max(n, Ordering::Relaxed);
    };
    let r = verify_chain(
        inputs(&chain(130, &key())),
        Order::BySequence,
        &opts(trusted(&key())),
        Some(&cb),
    );
    assert_eq!(r.status, Status::Valid);
    assert_eq!(seen.load(Ordering::Relaxed), 130);
}

// ---- the reference verifier's v2 envelopes ----

fn v2_key() -> Vec<TrustedKey> {
    parse_trusted_keys(
        &std::fs::read_to_string(data("veritasacta/sample-receipt-v2.key.hex")).unwrap(),
    )
    .unwrap()
}

#[test]
fn v2_sample_receipt_is_valid_and_every_flipped_byte_is_not() {
    let text = std::fs::read(data("veritasacta/sample-receipt-v2.receipt.json")).unwrap();
    let r = bytes_one(&text, v2_key());
    assert_eq!(r.status, Status::Valid, "{r:#?}");
    let compact = serde_json::to_vec(&serde_json::from_slice::<Value>(&text).unwrap()).unwrap();
    for doc in [text, compact] {
        for i in 0..doc.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut t = doc.clone();
                t[i] ^= bit;
                let r = bytes_one(&t, v2_key());
                assert_ne!(
                    r.status,
                    Status::Valid,
                    "byte {i} ^ {bit:#x} still valid: {}",
                    String::from_utf8_lossy(&t)
                );
            }
        }
    }
}

#[test]
fn ku_bundle_chain_is_valid_and_every_flipped_byte_is_not() {
    let keys = parse_trusted_keys(
        &std::fs::read_to_string(data("veritasacta/ku-bundle.jwks.json")).unwrap(),
    )
    .unwrap();
    let jsonl = std::fs::read_to_string(data("veritasacta/ku-bundle.jsonl")).unwrap();
    let lines: Vec<Vec<u8>> = jsonl.lines().map(|l| l.as_bytes().to_vec()).collect();
    let run = |ls: &[Vec<u8>]| {
        let ins = ls
            .iter()
            .enumerate()
            .map(|(i, b)| Input {
                source: format!("line {}", i + 1),
                bytes: b.clone(),
            })
            .collect();
        verify_chain(ins, Order::AsGiven, &opts(keys.clone()), None)
    };
    let r = run(&lines);
    assert_eq!(r.status, Status::Valid, "{r:#?}");
    assert_eq!(r.issuers.len(), 2);
    for line in 0..lines.len() {
        for i in 0..lines[line].len() {
            let mut ls = lines.clone();
            ls[line][i] ^= 0x01;
            assert_ne!(run(&ls).status, Status::Valid, "line {line} byte {i}");
        }
    }
    // and the link is what the vector says it is
    let bundle: Value = serde_json::from_slice(
        &std::fs::read(data("veritasacta/ku-bundle-first-two.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        r.receipts[0].hash.as_deref().unwrap(),
        format!(
            "sha256:{}",
            bundle["receipt0_whole_envelope_sha256_hex"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn legacy_receipts_are_named_not_accepted() {
    let legacy: Value =
        serde_json::from_slice(&std::fs::read(data("legacy/sb-runtime-rust.json")).unwrap())
            .unwrap();
    let text = legacy["receipts"][0]["file_000001_json"].as_str().unwrap();
    let r = bytes_one(text.as_bytes(), trusted(&key()));
    assert_outcome(&r, Status::Invalid, Cause::UnknownShape);
    assert!(r.receipts[0].detail.as_ref().unwrap().contains("legacy"));
}

#[test]
fn a_decision_without_policy_digest_is_not_valid() {
    // signed by the operator, but bound to no policy: with or without a policy to
    // compare with, it is not a gavel decision receipt
    let k = key();
    let mut p = decision_payload(1, None, &k);
    let good = p["policy_digest"].as_str().unwrap().to_owned();
    p.remove("policy_digest");
    let r = serde_json::to_value(sign_payload(p, &k).unwrap().envelope).unwrap();
    assert_outcome(
        &verify_receipt(input("r.json", &r), &opts(trusted(&k))),
        Status::Invalid,
        Cause::UnknownShape,
    );
    let mut o = opts(trusted(&k));
    o.expected_policy_digest = Some(good);
    assert_eq!(
        verify_receipt(input("r.json", &r), &o).status,
        Status::Invalid
    );
}

#[test]
fn gavel_receipts_must_have_their_members() {
    let k = key();
    let signed = |p: serde_json::Map<String, Value>| {
        serde_json::to_value(sign_payload(p, &k).unwrap().envelope).unwrap()
    };
    let base = decision_payload(1, None, &k);
    // the untouched payload is valid; so are JCS-equal forms of its integers
    assert_eq!(one(&signed(base.clone())).status, Status::Valid);
    let mut p = base.clone();
    p.insert("ring".into(), json!(3.0));
    p.insert("sequence".into(), json!(1.0));
    assert_eq!(one(&signed(p)).status, Status::Valid);
    let broken: Vec<(&str, Option<Value>)> = vec![
        ("decision", None),
        ("decision", Some(json!("maybe"))),
        ("issued_at", None),
        ("issued_at", Some(json!("yesterday"))),
        ("type", Some(json!("gavel:evil"))),
        ("ring", Some(json!(7))),
        ("sandbox_backend", Some(json!("docker"))),
        ("trust_score", Some(json!(1.5))),
        ("policy_digest", Some(json!("sha256:abc"))),
        ("payload_digest", Some(json!({"hash": "x", "size": 1}))),
        ("agent_id", Some(json!(7))),
        ("spec", Some(json!("draft-99"))),
        ("sequence", Some(json!(1.5))),
    ];
    for (member, value) in broken {
        let mut p = base.clone();
        match &value {
            None => {
                p.remove(member);
            }
            Some(v) => {
                p.insert(member.into(), v.clone());
            }
        }
        let r = one(&signed(p));
        assert_outcome(&r, Status::Invalid, Cause::UnknownShape);
        assert!(
            r.receipts[0]
                .detail
                .as_deref()
                .unwrap_or("")
                .contains(member),
            "{member}: {r:#?}"
        );
    }
    // a payload without a type is no receipt of any kind
    let mut p = base.clone();
    p.remove("type");
    assert_outcome(&one(&signed(p)), Status::Invalid, Cause::UnknownShape);
}

#[test]
fn a_gap_says_the_missing_receipt_may_be_one_that_was_rejected() {
    let mut c = chain(3, &key());
    c[1]["signature"]["alg"] = json!("HS256");
    let r = chain_report(&c, Order::BySequence);
    assert_eq!(r.status, Status::Invalid);
    let gap = r
        .chain_problems
        .iter()
        .find(|p| p.detail.contains("sequence gap"))
        .expect("a gap");
    assert!(
        gap.detail
            .contains("receipt 2 is missing, or among the 1 receipt rejected before"),
        "{}",
        gap.detail
    );
    // without a rejected receipt, a gap is only a gap
    let mut c = chain(3, &key());
    c.remove(1);
    let r = chain_report(&c, Order::BySequence);
    let gap = &r.chain_problems[0].detail;
    assert_eq!(gap, "sequence gap: receipt 2 is missing");
}
