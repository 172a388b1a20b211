//! Signed receipts in the Veritas Acta format (`draft-farley-acta-signed-receipts-04`),
//! as gavel writes and verifies them.
//!
//! - [`jcs`]: RFC 8785 canonical JSON (through `serde_json_canonicalizer`) and a strict
//!   I-JSON parser that refuses duplicate member names.
//! - [`keys`]: Ed25519 operator keys (PKCS#8 PEM, raw seeds) and trusted public keys
//!   (hex, SPKI PEM, PKCS#8 PEM, JWK, JWKS with validity windows).
//! - [`envelope`]: the `{payload, signature}` envelope, signing, and the chain link hash.
//! - [`digest`]: `acta-policy-digest-v1` and the request payload digest.
//! - [`schema`]: the members gavel's own receipt types must have.
//! - [`verify`]: offline verification of one receipt or a chain, with outcomes
//!   `valid` / `invalid` / `undecidable` and a named cause.
//!
//! This crate does no I/O: callers hand it bytes and keys.

pub mod digest;
pub mod envelope;
pub mod jcs;
pub mod keys;
pub mod schema;
pub mod time;
pub mod verify;

pub use digest::{PayloadDigest, payload_digest, policy_digest};
pub use envelope::{
    DECISION_TYPE, EXECUTION_TYPE, Envelope, SPEC, Signed, receipt_hash, sign_payload,
};
pub use keys::{KeyError, OperatorKey, TrustedKey, kid_for};
pub use verify::{
    Cause, ChainReport, Input, Order, ReceiptReport, Status, VerifyOptions, verify_chain,
    verify_receipt,
};
