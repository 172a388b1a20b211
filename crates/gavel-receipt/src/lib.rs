//! Signed receipts in the Veritas Acta format (work in progress: more modules land next).

pub mod digest;
pub mod jcs;

pub use digest::{PayloadDigest, payload_digest, policy_digest};
