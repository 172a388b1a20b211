//! Offline verification of receipts and chains (receipts.md section 6).
//!
//! Every receipt comes out `valid`, `invalid` or `undecidable`, and every non-valid
//! outcome names its [`Cause`]. Keys come only from the caller ([`VerifyOptions::keys`]);
//! a key carried inside a receipt is never used, and one that differs from the trusted
//! key makes the receipt invalid.
//!
//! Two envelope shapes are read:
//! - gavel's (the draft's): `{payload, signature: {alg: "EdDSA", kid, sig}}`, signed
//!   over `JCS(payload)`;
//! - the reference verifier's v2: `{v: 2, type, algorithm: "ed25519", kid, issuer,
//!   issued_at, payload, signature: "<hex>"}`, signed over JCS of the envelope without
//!   `signature`.
//!
//! Signatures are checked in parallel (rayon) and in batches of 64. Batch verification
//! is used only where it is sound: the trusted key is not weak (refused at load), every
//! signature's `s` is canonical and its `R` is canonically encoded and not of small
//! order (the checks `verify_strict` makes); a failing batch is re-checked one
//! signature at a time with `verify_strict`, so the verdict on each receipt is its own.
//! One difference remains, inherent to cofactorless batch equations: a signature whose
//! `R` carries a small-order component can only be made by the key holder, deliberately,
//! and such a signature passes a batch with probability at most 1/8 where
//! `verify_strict` rejects it. No one without the key can produce one, so a batch pass
//! still proves the key holder signed; a single receipt is always checked one by one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::envelope::{ALG, chain_hash_from_parts};
use crate::jcs::{self, json_kind};
use crate::keys::{TrustedKey, kid_for, public_hex};

/// Outcome of verifying a receipt or a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything checked out.
    Valid,
    /// Nothing is wrong that we could see, but something could not be checked.
    Undecidable,
    /// Something is wrong.
    Invalid,
}

impl Status {
    /// `valid`, `invalid` or `undecidable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Undecidable => "undecidable",
        }
    }

    /// Process exit status convention of the reference verifier.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Valid => 0,
            Status::Invalid => 1,
            Status::Undecidable => 2,
        }
    }
}

/// Why a receipt is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The signature does not verify under the trusted key.
    InvalidSignature,
    /// `issuer_id` differs from `signature.kid`, or the kid names another key.
    KidMismatch,
    /// A public key carried inside the receipt differs from the trusted key.
    CarriedKeyMismatch,
    /// Link mismatch, missing link, sequence gap, duplicate sequence, reordering.
    ChainBreak,
    /// `policy_digest` differs from the digest of the policy given to compare.
    DigestMismatch,
    /// `issued_at` outside the trusted key's validity window.
    KeyWindow,
    /// Not JSON (or not I-JSON: duplicate member names).
    MalformedJson,
    /// JSON, but not a receipt.
    UnknownShape,
    /// A payload without a signature.
    MissingSignature,
    /// A signature algorithm other than Ed25519.
    UnsupportedAlgorithm,
    /// A signature, hash or key not in the required encoding.
    MalformedEncoding,
    /// No key from outside the receipt to verify it with.
    NoTrustedKey,
    /// Larger than any receipt may be.
    TooLarge,
    /// Nothing to verify.
    NoReceipts,
}

impl Cause {
    /// The snake_case name used in human and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::InvalidSignature => "invalid_signature",
            Cause::KidMismatch => "kid_mismatch",
            Cause::CarriedKeyMismatch => "carried_key_mismatch",
            Cause::ChainBreak => "chain_break",
            Cause::DigestMismatch => "digest_mismatch",
            Cause::KeyWindow => "key_window",
            Cause::MalformedJson => "malformed_json",
            Cause::UnknownShape => "unknown_shape",
            Cause::MissingSignature => "missing_signature",
            Cause::UnsupportedAlgorithm => "unsupported_algorithm",
            Cause::MalformedEncoding => "malformed_encoding",
            Cause::NoTrustedKey => "no_trusted_key",
            Cause::TooLarge => "too_large",
            Cause::NoReceipts => "no_receipts",
        }
    }

    /// The outcome this cause leads to.
    pub fn status(self) -> Status {
        match self {
            Cause::NoTrustedKey | Cause::NoReceipts => Status::Undecidable,
            _ => Status::Invalid,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Member names under which receipts of various origins carry a public key. Such a key
/// is never trusted; it is only compared with the trusted one.
pub const CARRIED_KEY_MEMBERS: &[&str] = &[
    "public_key",
    "publicKey",
    "public_key_hex",
    "pubkey",
    "verification_key",
    "verificationKey",
    "signer_public_key",
];

/// Largest receipt accepted (one file or one JSONL line).
pub const MAX_RECEIPT_BYTES: usize = 1 << 20;

/// What the verifier is told from outside the receipts.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted public keys. Empty: every receipt is at best undecidable.
    pub keys: Vec<TrustedKey>,
    /// When set, every receipt that carries a `policy_digest` must carry this one
    /// (a `gavel:decision` without one is already `unknown_shape`).
    pub expected_policy_digest: Option<String>,
}

/// How the receipts of a chain are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By their `sequence` member (a receipts directory: file names do not matter).
    BySequence,
    /// In the order given (a JSONL file or a bundle): out-of-order is a chain break.
    AsGiven,
}

/// One receipt to verify: where it came from and its bytes.
#[derive(Debug, Clone)]
pub struct Input {
    /// File name, `file:line`, or another label for messages.
    pub source: String,
    /// The receipt's JSON text.
    pub bytes: Vec<u8>,
}

/// The verdict on one receipt.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptReport {
    /// Where the receipt came from.
    pub source: String,
    /// Its `sequence`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Its receipt type (`gavel:decision`, ...), when it has one.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub receipt_type: Option<String>,
    /// The key id it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// When it says it was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    /// The outcome.
    pub status: Status,
    /// Why it is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// A sentence saying exactly what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `"sha256:<hex>"` of JCS of the whole receipt (what the next one links to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Its `previousReceiptHash`, when present.
    #[serde(skip)]
    pub link: Option<String>,
}

impl ReceiptReport {
    fn new(source: String) -> Self {
        Self {
            source,
            sequence: None,
            receipt_type: None,
            kid: None,
            issued_at: None,
            status: Status::Valid,
            cause: None,
            detail: None,
            hash: None,
            link: None,
        }
    }

    fn fail(&mut self, cause: Cause, detail: impl Into<String>) {
        if self.cause.is_none() {
            self.status = cause.status();
            self.cause = Some(cause);
            self.detail = Some(detail.into());
        }
    }

    fn failed(mut self, cause: Cause, detail: impl Into<String>) -> Self {
        self.fail(cause, detail);
        self
    }
}

/// A problem of the chain as a whole (also recorded on the receipt it concerns).
#[derive(Debug, Clone, Serialize)]
pub struct ChainProblem {
    /// The receipt where the chain breaks, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Always [`Cause::ChainBreak`] or [`Cause::NoReceipts`].
    pub cause: Cause,
    /// What is wrong.
    pub detail: String,
}

/// The verdict on a chain (or on a single receipt, as a chain of one).
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// Worst outcome over all receipts and the chain itself.
    pub status: Status,
    /// Number of receipts read.
    pub count: usize,
    /// How many came out valid.
    pub valid: usize,
    /// How many came out invalid.
    pub invalid: usize,
    /// How many came out undecidable.
    pub undecidable: usize,
    /// Lowest sequence seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_sequence: Option<u64>,
    /// Highest sequence seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sequence: Option<u64>,
    /// Key ids of the issuers.
    pub issuers: Vec<String>,
    /// Whether chain links were checked (not for a single receipt).
    pub chain_checked: bool,
    /// Chain-level problems, in chain order.
    pub chain_problems: Vec<ChainProblem>,
    /// Every receipt's verdict, in chain order.
    pub receipts: Vec<ReceiptReport>,
}

impl ChainReport {
    /// The distinct causes of non-valid outcomes, most frequent first.
    pub fn causes(&self) -> Vec<(Cause, usize)> {
        let mut counts: HashMap<Cause, usize> = HashMap::new();
        for r in &self.receipts {
            if let Some(c) = r.cause {
                *counts.entry(c).or_default() += 1;
            }
        }
        for p in &self.chain_problems {
            if p.source.is_none() {
                *counts.entry(p.cause).or_default() += 1;
            }
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
        v
    }
}

/// A signature still to check.
struct PendingSig {
    index: usize,
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

/// What remains to do for a receipt after its signature verifies.
struct Deferred {
    checks: Vec<(Cause, String)>,
}

/// Verifies one receipt on its own (no chain checks).
pub fn verify_receipt(input: Input, opts: &VerifyOptions) -> ChainReport {
    run(vec![input], None, opts, None)
}

/// Verifies a chain: every receipt, then the links between them in `order`.
pub fn verify_chain(
    inputs: Vec<Input>,
    order: Order,
    opts: &VerifyOptions,
    progress: Option<&(dyn Fn(usize) + Sync)>,
) -> ChainReport {
    run(inputs, Some(order), opts, progress)
}

fn run(
    inputs: Vec<Input>,
    order: Option<Order>,
    opts: &VerifyOptions,
    progress: Option<&(dyn Fn(usize) + Sync)>,
) -> ChainReport {
    let done = AtomicUsize::new(0);
    let tick = |n: usize| {
        if let Some(p) = progress {
            let total = done.fetch_add(n, AtomicOrdering::Relaxed) + n;
            p(total);
        }
    };

    // 1. parse, check shape, pick the key, build the signing input (parallel); the
    // reports are collected apart from the rest, and a pending signature is boxed, so
    // that an input that fails early (a line of `{}` in a hostile JSONL file) costs its
    // report and little more
    type Rest = (Option<Box<PendingSig>>, Deferred);
    let (mut reports, rest): (Vec<ReceiptReport>, Vec<Rest>) = inputs
        .into_par_iter()
        .enumerate()
        .map(|(i, input)| {
            let (r, p, d) = stage(i, input, opts);
            (r, (p.map(Box::new), d))
        })
        .unzip();
    let mut pending = Vec::new();
    let mut deferred = Vec::with_capacity(rest.len());
    for (p, d) in rest {
        match p {
            Some(p) => pending.push(*p),
            None => tick(1),
        }
        deferred.push(d);
    }

    // 2. signatures (parallel, batched where sound)
    let verdicts: Vec<(usize, bool)> = pending
        .par_chunks(64)
        .flat_map_iter(|chunk| {
            let v = check_chunk(chunk);
            tick(chunk.len());
            v
        })
        .collect();
    for (index, ok) in verdicts {
        let r = &mut reports[index];
        if ok {
            for (cause, detail) in std::mem::take(&mut deferred[index].checks) {
                r.fail(cause, detail);
            }
        } else {
            let kid = r.kid.clone().unwrap_or_default();
            r.fail(
                Cause::InvalidSignature,
                format!("the signature does not verify under the trusted key for {kid}: the receipt was altered or signed by another key"),
            );
        }
    }

    // 3. links
    let mut chain_problems = Vec::new();
    if let Some(order) = order {
        chain_problems = check_links(&mut reports, order);
        if reports.is_empty() {
            chain_problems.push(ChainProblem {
                source: None,
                sequence: None,
                cause: Cause::NoReceipts,
                detail: "no receipts found: nothing was verified".into(),
            });
        }
    }
    summarize(reports, chain_problems, order.is_some())
}

fn summarize(
    receipts: Vec<ReceiptReport>,
    chain_problems: Vec<ChainProblem>,
    chain_checked: bool,
) -> ChainReport {
    let count = receipts.len();
    let mut valid = 0;
    let mut invalid = 0;
    let mut undecidable = 0;
    let mut status = Status::Valid;
    let mut issuers: Vec<String> = Vec::new();
    for r in &receipts {
        match r.status {
            Status::Valid => valid += 1,
            Status::Invalid => invalid += 1,
            Status::Undecidable => undecidable += 1,
        }
        status = status.max(r.status);
        if let Some(k) = &r.kid
            && !issuers.contains(k)
        {
            issuers.push(k.clone());
        }
    }
    for p in &chain_problems {
        status = status.max(p.cause.status());
    }
    let first_sequence = receipts.iter().filter_map(|r| r.sequence).min();
    let last_sequence = receipts.iter().filter_map(|r| r.sequence).max();
    ChainReport {
        status,
        count,
        valid,
        invalid,
        undecidable,
        first_sequence,
        last_sequence,
        issuers,
        chain_checked,
        chain_problems,
        receipts,
    }
}

fn stage(
    index: usize,
    input: Input,
    opts: &VerifyOptions,
) -> (ReceiptReport, Option<PendingSig>, Deferred) {
    let mut deferred = Deferred { checks: Vec::new() };
    let report = ReceiptReport::new(input.source);
    if input.bytes.len() > MAX_RECEIPT_BYTES {
        return (
            report.failed(
                Cause::TooLarge,
                format!("larger than {MAX_RECEIPT_BYTES} bytes, the most a receipt may be"),
            ),
            None,
            deferred,
        );
    }
    let value = match jcs::parse_strict(&input.bytes) {
        Ok(v) => v,
        Err(e) => {
            let what = if e.is_eof() {
                "truncated JSON"
            } else {
                "not valid JSON"
            };
            return (
                report.failed(Cause::MalformedJson, format!("{what}: {e}")),
                None,
                deferred,
            );
        }
    };
    let mut report = report;
    let pending = stage_value(index, value, &mut report, opts, &mut deferred);
    (report, pending, deferred)
}

/// The parts of a receipt both shapes have, found by [`read_shape`].
struct Shape<'a> {
    kid: &'a str,
    sig_hex: &'a str,
    signing_input: Vec<u8>,
    hash: String,
    payload: &'a Map<String, Value>,
    issued_at: Option<&'a str>,
    carried: Vec<&'a Value>,
}

fn stage_value(
    index: usize,
    value: Value,
    r: &mut ReceiptReport,
    opts: &VerifyOptions,
    deferred: &mut Deferred,
) -> Option<PendingSig> {
    let Value::Object(obj) = &value else {
        let kind = json_kind(&value);
        {
            r.fail(
                Cause::UnknownShape,
                format!("a receipt is a JSON object, this is {kind}"),
            );
            return None;
        }
    };
    let shape = match read_shape(obj, &value) {
        Ok(s) => s,
        Err((cause, detail)) => {
            r.fail(cause, detail);
            return None;
        }
    };
    r.kid = Some(shape.kid.to_owned());
    r.issued_at = shape.issued_at.map(str::to_owned);
    r.hash = Some(shape.hash.clone());
    r.receipt_type = shape
        .payload
        .get("type")
        .or_else(|| obj.get("type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if obj.get("v").is_none() && r.receipt_type.is_none() {
        r.fail(
            Cause::UnknownShape,
            "the payload has no type: every receipt names its type (gavel:decision, ...)",
        );
        return None;
    }
    match shape.payload.get("sequence") {
        None => {}
        Some(v) => match crate::schema::as_count(v) {
            Some(n) if n >= 1 => r.sequence = Some(n),
            _ => {
                r.fail(
                    Cause::UnknownShape,
                    format!("sequence {v} is not a positive integer"),
                );
                return None;
            }
        },
    }
    match shape.payload.get("previousReceiptHash") {
        None => {}
        Some(Value::String(s)) if is_sha256_ref(s) => r.link = Some(s.clone()),
        Some(v) => {
            r.fail(
                Cause::MalformedEncoding,
                format!("previousReceiptHash {v} is not \"sha256:\" followed by 64 lowercase hex characters"),
            );
            return None;
        }
    }

    let sig_bytes = match decode_sig(shape.sig_hex) {
        Some(b) => b,
        None => {
            r.fail(
                Cause::MalformedEncoding,
                format!(
                    "signature must be 128 lowercase hex characters (64 bytes), found {} characters{}",
                    shape.sig_hex.len(),
                    if shape.sig_hex.bytes().all(|b| b.is_ascii_hexdigit()) { "" } else { " with non-hex characters" }
                ),
            );
            return None;
        }
    };

    // the trust anchor
    let key = match pick_key(shape.kid, &opts.keys) {
        KeyChoice::Key(k) => k,
        KeyChoice::Mismatch(ours) => {
            r.fail(
                Cause::KidMismatch,
                format!(
                    "the receipt names issuer {}, the trusted key is {ours}",
                    shape.kid
                ),
            );
            return None;
        }
        KeyChoice::None => {
            let detail = if opts.keys.is_empty() {
                "no trust-anchored key: pass the operator's public key with --key (a key inside a receipt is never used)".to_owned()
            } else {
                format!(
                    "no trust-anchored key for kid {}: none of the trusted keys answers to it",
                    shape.kid
                )
            };
            {
                r.fail(Cause::NoTrustedKey, detail);
                return None;
            }
        }
    };

    // checks that only count once the signature holds
    for carried in &shape.carried {
        if !carried_matches(carried, &key.key) {
            deferred.checks.push((
                Cause::CarriedKeyMismatch,
                format!(
                    "the receipt carries public key {} but the trusted key is {}",
                    short(carried),
                    public_hex(&key.key)
                ),
            ));
        }
    }
    if key.has_window() {
        match shape.issued_at.and_then(crate::time::parse) {
            Some(t) if key.in_window(t) => {}
            Some(_) => deferred.checks.push((
                Cause::KeyWindow,
                format!(
                    "issued_at {} is outside the key's validity window",
                    shape.issued_at.unwrap_or_default()
                ),
            )),
            None => deferred.checks.push((
                Cause::KeyWindow,
                "the key has a validity window but the receipt has no readable issued_at".into(),
            )),
        }
    }
    if let Err(why) = crate::schema::check_gavel_payload(shape.payload) {
        deferred.checks.push((Cause::UnknownShape, why));
    }
    if let Some(expected) = &opts.expected_policy_digest
        && let Some(found) = shape.payload.get("policy_digest")
        && found.as_str() != Some(expected.as_str())
    {
        deferred.checks.push((
            Cause::DigestMismatch,
            format!("policy_digest {found} differs from the given policy's {expected}"),
        ));
    }

    let pending = PendingSig {
        index,
        message: shape.signing_input,
        signature: Signature::from_bytes(&sig_bytes),
        key: key.key,
    };
    Some(pending)
}

fn read_shape<'a>(
    obj: &'a Map<String, Value>,
    whole: &'a Value,
) -> Result<Shape<'a>, (Cause, String)> {
    let shape_err = |d: String| (Cause::UnknownShape, d);
    if obj.get("v").is_some() {
        return read_v2(obj, whole);
    }
    let payload = match obj.get("payload") {
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(shape_err(format!(
                "payload is {}, not an object",
                json_kind(other)
            )));
        }
        None => {
            return Err(shape_err(
                "no payload member: not a receipt (expected {payload, signature})".into(),
            ));
        }
    };
    let sig = match obj.get("signature") {
        Some(Value::Object(s)) => s,
        Some(Value::String(_)) => {
            return Err(shape_err(
                "signature is a bare string: a legacy sb-runtime receipt, not the draft's envelope"
                    .into(),
            ));
        }
        Some(other) => {
            return Err(shape_err(format!(
                "signature is {}, not an object",
                json_kind(other)
            )));
        }
        None => {
            return Err((
                Cause::MissingSignature,
                "the receipt has a payload but no signature".into(),
            ));
        }
    };
    let mut carried = Vec::new();
    for (k, v) in obj {
        match k.as_str() {
            "payload" | "signature" => {}
            k if CARRIED_KEY_MEMBERS.contains(&k) => carried.push(v),
            other => return Err(shape_err(format!("unexpected envelope member {other:?}"))),
        }
    }
    for (k, v) in sig {
        match k.as_str() {
            "alg" | "kid" | "sig" => {}
            k if CARRIED_KEY_MEMBERS.contains(&k) => carried.push(v),
            other => return Err(shape_err(format!("unexpected signature member {other:?}"))),
        }
    }
    for k in CARRIED_KEY_MEMBERS {
        if let Some(v) = payload.get(*k) {
            carried.push(v);
        }
    }
    match sig.get("alg") {
        Some(Value::String(a)) if a == ALG => {}
        Some(Value::String(a)) => {
            return Err((
                Cause::UnsupportedAlgorithm,
                format!("signature.alg {a:?}: only EdDSA (Ed25519) is accepted"),
            ));
        }
        Some(other) => {
            return Err((
                Cause::UnsupportedAlgorithm,
                format!("signature.alg is {other}"),
            ));
        }
        None => return Err(shape_err("signature.alg is missing".into())),
    }
    let kid = match sig.get("kid") {
        Some(Value::String(k)) if !k.is_empty() => k.as_str(),
        _ => {
            return Err(shape_err(
                "signature.kid is missing or not a non-empty string".into(),
            ));
        }
    };
    let sig_hex = match sig.get("sig") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err((
                Cause::MalformedEncoding,
                format!("signature.sig is {}, not a hex string", json_kind(other)),
            ));
        }
        None => return Err((Cause::MissingSignature, "signature.sig is missing".into())),
    };
    match payload.get("issuer_id") {
        Some(Value::String(i)) if i == kid => {}
        Some(other) => {
            return Err((
                Cause::KidMismatch,
                format!("payload.issuer_id {other} differs from signature.kid {kid:?}"),
            ));
        }
        None => {
            return Err((
                Cause::KidMismatch,
                format!("payload.issuer_id is missing (signature.kid is {kid:?})"),
            ));
        }
    }
    let payload_value = &whole["payload"];
    let canonical = jcs::canonicalize_for_signing(payload_value)
        .map_err(|e| (Cause::MalformedEncoding, e.to_string()))?;
    let malformed = |e: jcs::JcsError| (Cause::MalformedEncoding, e.to_string());
    // the chain hash: from the canonical parts for the two-member envelope (the payload
    // is already canonical), else over the whole value
    let hash = if obj.len() == 2 {
        chain_hash_from_parts(
            &canonical,
            &jcs::canonicalize(&whole["signature"]).map_err(malformed)?,
        )
    } else {
        crate::digest::sha256_prefixed(&jcs::canonicalize(whole).map_err(malformed)?)
    };
    Ok(Shape {
        kid,
        sig_hex,
        signing_input: canonical,
        hash,
        payload,
        issued_at: payload.get("issued_at").and_then(Value::as_str),
        carried,
    })
}

fn read_v2<'a>(
    obj: &'a Map<String, Value>,
    whole: &'a Value,
) -> Result<Shape<'a>, (Cause, String)> {
    let shape_err = |d: String| (Cause::UnknownShape, d);
    if obj.get("v") != Some(&Value::from(2)) {
        return Err(shape_err(format!(
            "envelope version {} is not supported (only v 2)",
            obj["v"]
        )));
    }
    match obj.get("algorithm") {
        Some(Value::String(a)) if a == "ed25519" => {}
        Some(other) => {
            return Err((
                Cause::UnsupportedAlgorithm,
                format!("algorithm {other}: only ed25519 is accepted"),
            ));
        }
        None => return Err(shape_err("v2 envelope without algorithm".into())),
    }
    let kid = match obj.get("kid") {
        Some(Value::String(k)) if !k.is_empty() => k.as_str(),
        _ => {
            return Err(shape_err(
                "v2 envelope: kid is missing or not a non-empty string".into(),
            ));
        }
    };
    let payload = match obj.get("payload") {
        Some(Value::Object(p)) => p,
        _ => {
            return Err(shape_err(
                "v2 envelope: payload is missing or not an object".into(),
            ));
        }
    };
    let sig_hex = match obj.get("signature") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err((
                Cause::MalformedEncoding,
                format!("v2 signature is {}, not a hex string", json_kind(other)),
            ));
        }
        None => {
            return Err((
                Cause::MissingSignature,
                "v2 envelope without signature".into(),
            ));
        }
    };
    let mut unsigned = obj.clone();
    unsigned.remove("signature");
    let mut carried: Vec<&Value> = Vec::new();
    for k in CARRIED_KEY_MEMBERS {
        if let Some(v) = obj.get(*k).or_else(|| payload.get(*k)) {
            carried.push(v);
        }
    }
    let signing_input = jcs::canonicalize_for_signing(&Value::Object(unsigned))
        .map_err(|e| (Cause::MalformedEncoding, e.to_string()))?;
    let hash = crate::digest::sha256_prefixed(
        &jcs::canonicalize(whole).map_err(|e| (Cause::MalformedEncoding, e.to_string()))?,
    );
    Ok(Shape {
        kid,
        sig_hex,
        signing_input,
        hash,
        payload,
        issued_at: obj.get("issued_at").and_then(Value::as_str),
        carried,
    })
}

enum KeyChoice<'a> {
    Key(&'a TrustedKey),
    /// One trusted key, and the receipt names another `sb:issuer:` key.
    Mismatch(String),
    None,
}

fn pick_key<'a>(kid: &str, keys: &'a [TrustedKey]) -> KeyChoice<'a> {
    if let Some(k) = keys.iter().find(|k| k.answers_to(kid)) {
        return KeyChoice::Key(k);
    }
    if let [only] = keys
        && only.kid.is_none()
    {
        // A bare key (hex, PEM) given by the user: a receipt naming another gavel
        // issuer was not signed by it; a custom kid is checked by the signature.
        if kid.starts_with("sb:issuer:") {
            return KeyChoice::Mismatch(kid_for(&only.key));
        }
        return KeyChoice::Key(only);
    }
    KeyChoice::None
}

fn carried_matches(carried: &Value, key: &VerifyingKey) -> bool {
    let Some(text) = carried.as_str() else {
        return false;
    };
    match crate::keys::parse_trusted_keys(text) {
        Ok(keys) => keys.len() == 1 && keys[0].key == *key,
        Err(_) => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let std64 = base64::engine::general_purpose::STANDARD;
            let raw = b64
                .decode(text.trim_end_matches('='))
                .or_else(|_| std64.decode(text));
            matches!(raw, Ok(r) if r.as_slice() == key.as_bytes())
        }
    }
}

fn check_chunk(chunk: &[PendingSig]) -> Vec<(usize, bool)> {
    let batchable = chunk.len() > 1 && chunk.iter().all(|p| strict_r(&p.signature));
    if batchable {
        let messages: Vec<&[u8]> = chunk.iter().map(|p| p.message.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|p| p.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return chunk.iter().map(|p| (p.index, true)).collect();
        }
    }
    chunk
        .iter()
        .map(|p| {
            (
                p.index,
                p.key.verify_strict(&p.message, &p.signature).is_ok(),
            )
        })
        .collect()
}

/// `R` canonically encoded and not of small order (what `verify_strict` demands), on
/// the encoding alone, as libsodium does: the y-coordinate (sign bit cleared) must be
/// below p = 2^255 - 19 and must not be the y of one of the eight points of small order
/// (taken from curve25519-dalek's own torsion subgroup). For canonical encodings this is
/// exactly `decompress().is_small_order()`, without a square root and an inversion per
/// signature (a test checks the two agree). An encoding that is not a point at all
/// fails the batch, and the one-by-one `verify_strict` then rejects it.
fn strict_r(sig: &Signature) -> bool {
    let mut y = *sig.r_bytes();
    y[31] &= 0x7f;
    below_p(&y) && !small_order_ys().contains(&y)
}

/// Whether a 255-bit little-endian value is below p = 2^255 - 19.
fn below_p(y: &[u8; 32]) -> bool {
    const P: [u8; 32] = {
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        p
    };
    for i in (0..32).rev() {
        if y[i] != P[i] {
            return y[i] < P[i];
        }
    }
    false
}

/// The y-coordinates (sign bit cleared) of the points of small order.
fn small_order_ys() -> &'static [[u8; 32]] {
    static YS: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    YS.get_or_init(|| {
        let mut ys: Vec<[u8; 32]> = curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|p| {
                let mut b = p.compress().to_bytes();
                b[31] &= 0x7f;
                b
            })
            .collect();
        ys.sort_unstable();
        ys.dedup();
        ys
    })
}

fn check_links(reports: &mut [ReceiptReport], order: Order) -> Vec<ChainProblem> {
    if order == Order::BySequence {
        reports.sort_by(|a, b| {
            a.sequence
                .unwrap_or(u64::MAX)
                .cmp(&b.sequence.unwrap_or(u64::MAX))
                .then_with(|| a.source.cmp(&b.source))
        });
    }
    let mut problems = Vec::new();
    // receipts rejected before their sequence could be read may be the "missing" ones
    let unplaced = reports.iter().filter(|r| r.sequence.is_none()).count();
    let or_unplaced = |missing: &str| {
        if unplaced == 0 {
            missing.to_owned()
        } else {
            format!(
                "{missing}, or among the {unplaced} receipt{} rejected before their sequence could be read",
                if unplaced == 1 { "" } else { "s" }
            )
        }
    };
    let mut prev: Option<(u64, String, String)> = None; // sequence, hash, source
    for r in reports.iter_mut() {
        // a receipt that could not be read at all still breaks the chain where it is
        let (Some(seq), Some(hash)) = (r.sequence, r.hash.clone()) else {
            if r.cause.is_none() || r.hash.is_some() {
                let detail =
                    "the receipt has no sequence, so it has no place in the chain".to_owned();
                problems.push(problem(r, detail.clone()));
                r.fail(Cause::ChainBreak, detail);
            }
            continue;
        };
        let mut breaks = Vec::new();
        match &prev {
            None => {
                if seq != 1 {
                    breaks.push(format!(
                        "the chain starts at sequence {seq}: {}",
                        or_unplaced(&if seq == 2 {
                            "receipt 1 is missing".to_owned()
                        } else {
                            format!("receipts 1..{} are missing", seq - 1)
                        })
                    ));
                } else if r.link.is_some() {
                    breaks.push("sequence 1 carries a previousReceiptHash: the first receipt of a chain links to nothing".into());
                }
            }
            Some((pseq, phash, psource)) => {
                if seq == *pseq {
                    let detail = format!(
                        "duplicate sequence {seq} (also {psource}): a receipt was duplicated or two chains are mixed"
                    );
                    problems.push(problem(r, detail.clone()));
                    r.fail(Cause::ChainBreak, detail);
                    continue;
                }
                if seq < *pseq {
                    breaks.push(format!("reordering: sequence {seq} comes after {pseq}"));
                } else if seq > pseq + 1 {
                    breaks.push(format!(
                        "sequence gap: {}",
                        or_unplaced(&if seq == pseq + 2 {
                            format!("receipt {} is missing", pseq + 1)
                        } else {
                            format!("receipts {}..{} are missing", pseq + 1, seq - 1)
                        })
                    ));
                } else {
                    match &r.link {
                        None => breaks.push(format!("sequence {seq} has no previousReceiptHash")),
                        Some(l) if l != phash => breaks.push(format!(
                            "previousReceiptHash does not match receipt {pseq} ({psource}): the previous receipt was altered, removed or replaced"
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        if !breaks.is_empty() {
            let detail = breaks.join("; ");
            problems.push(problem(r, detail.clone()));
            r.fail(Cause::ChainBreak, detail);
        }
        prev = Some((seq, hash, r.source.clone()));
    }
    problems
}

fn problem(r: &ReceiptReport, detail: String) -> ChainProblem {
    ChainProblem {
        source: Some(r.source.clone()),
        sequence: r.sequence,
        cause: Cause::ChainBreak,
        detail,
    }
}

pub(crate) fn is_sha256_ref(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn decode_sig(s: &str) -> Option<[u8; 64]> {
    if s.len() != 128
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

fn short(v: &Value) -> String {
    let s = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if s.chars().count() > 24 {
        format!("{}...", s.chars().take(24).collect::<String>())
    } else {
        s
    }
}

/// SHA-256 of the canonical payload, as hex (used by tests and tools).
pub fn payload_sha256(payload: &Value) -> Option<String> {
    jcs::canonicalize(payload)
        .ok()
        .map(|c| hex::encode(Sha256::digest(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;

    fn sig_with_r(r: [u8; 32]) -> Signature {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&r);
        Signature::from_bytes(&b)
    }

    /// What `verify_strict` demands of R, through decompression.
    fn strict_by_decompression(r: [u8; 32]) -> bool {
        let c = CompressedEdwardsY(r);
        c.decompress()
            .is_some_and(|p| p.compress() == c && !p.is_small_order())
    }

    #[test]
    fn small_order_points_are_refused_by_encoding() {
        assert_eq!(small_order_ys().len(), 5, "y = 0, 1, -1 and two of order 8");
        for t in EIGHT_TORSION {
            for sign in [0u8, 0x80] {
                let mut r = t.compress().to_bytes();
                r[31] = (r[31] & 0x7f) | sign;
                assert!(!strict_r(&sig_with_r(r)), "{r:?}");
            }
            // a small-order component on a large point is not what verify_strict checks
        }
    }

    #[test]
    fn the_encoding_check_agrees_with_decompression() {
        // points of large order, with and without a torsion component
        for i in 1u64..300 {
            let p = ED25519_BASEPOINT_POINT * Scalar::from(i * 7919);
            for q in [p, p + EIGHT_TORSION[(i % 8) as usize]] {
                let r = q.compress().to_bytes();
                assert_eq!(
                    strict_r(&sig_with_r(r)),
                    strict_by_decompression(r),
                    "{r:?}"
                );
            }
        }
        // non-canonical encodings: y >= p
        for low in [0xedu8, 0xee, 0xef, 0xff] {
            let mut r = [0xff; 32];
            r[0] = low;
            r[31] = 0x7f;
            assert!(!strict_r(&sig_with_r(r)));
            r[31] = 0xff;
            assert!(!strict_r(&sig_with_r(r)));
        }
        let mut below = [0xff; 32];
        below[0] = 0xec;
        below[31] = 0x7f;
        assert!(below_p(&below));
    }
}
