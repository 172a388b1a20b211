//! Digests that bind a receipt to what it is about without disclosing it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::jcs;

/// The name of the policy digest construction (draft section 6.8).
pub const POLICY_DIGEST_CONSTRUCTION: &str = "acta-policy-digest-v1";

/// `"sha256:" + lowercase hex` of `bytes`.
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `acta-policy-digest-v1` over the policy source files that were loaded.
///
/// `engine` is `yaml-rules` or `cedar`; each file is `(name, exact bytes)` where the
/// name is the path relative to the policy directory (or the base name of a single
/// policy file). Files are hashed one by one (never concatenated) and listed in code
/// point order of their names, so the digest does not depend on the order the caller
/// read them in.
pub fn policy_digest<N: AsRef<str>, B: AsRef<[u8]>>(engine: &str, files: &[(N, B)]) -> String {
    let mut entries: Vec<(&str, String)> = files
        .iter()
        .map(|(n, b)| (n.as_ref(), hex::encode(Sha256::digest(b.as_ref()))))
        .collect();
    // `str` ordering is byte ordering, which for UTF-8 is code point order.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let material = json!({
        "construction": POLICY_DIGEST_CONSTRUCTION,
        "engine": engine,
        "files": entries
            .iter()
            .map(|(name, sha)| json!({"name": name, "sha256": sha}))
            .collect::<Vec<_>>(),
    });
    // Strings and arrays only: canonicalization cannot fail.
    let canonical = jcs::canonicalize(&material).unwrap_or_default();
    sha256_prefixed(&canonical)
}

/// The `payload_digest` member of a decision receipt: SHA-256 and length of
/// `JCS({"action": action, "context": context})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadDigest {
    /// Lowercase hex SHA-256 of the canonical request.
    pub hash: String,
    /// Byte length of the canonical request.
    pub size: u64,
}

/// Digest of the request `{action, context}` (receipts.md section 2).
pub fn payload_digest(action: &str, context: &Value) -> Result<PayloadDigest, jcs::JcsError> {
    let canonical = jcs::canonicalize(&json!({"action": action, "context": context}))?;
    Ok(PayloadDigest {
        hash: hex::encode(Sha256::digest(&canonical)),
        size: canonical.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_digest_is_the_documented_construction() {
        let files = [
            ("b.yaml", b"rules: []\n".as_slice()),
            ("a.yaml", b"".as_slice()),
        ];
        let expected_material = format!(
            "{{\"construction\":\"acta-policy-digest-v1\",\"engine\":\"yaml-rules\",\"files\":[{{\"name\":\"a.yaml\",\"sha256\":\"{}\"}},{{\"name\":\"b.yaml\",\"sha256\":\"{}\"}}]}}",
            hex::encode(Sha256::digest(b"")),
            hex::encode(Sha256::digest(b"rules: []\n"))
        );
        assert_eq!(
            policy_digest("yaml-rules", &files),
            sha256_prefixed(expected_material.as_bytes())
        );
    }

    #[test]
    fn policy_digest_depends_on_every_input() {
        let base = policy_digest("yaml-rules", &[("a.yaml", "x")]);
        assert_ne!(base, policy_digest("cedar", &[("a.yaml", "x")]));
        assert_ne!(base, policy_digest("yaml-rules", &[("b.yaml", "x")]));
        assert_ne!(base, policy_digest("yaml-rules", &[("a.yaml", "y")]));
        assert_ne!(
            base,
            policy_digest("yaml-rules", &[("a.yaml", "x"), ("b.yaml", "")])
        );
        // not a concatenation: moving bytes between files changes the digest
        assert_ne!(
            policy_digest("yaml-rules", &[("a", "xy"), ("b", "")]),
            policy_digest("yaml-rules", &[("a", "x"), ("b", "y")])
        );
        // order of the caller does not matter
        assert_eq!(
            policy_digest("cedar", &[("a", "1"), ("b", "2")]),
            policy_digest("cedar", &[("b", "2"), ("a", "1")])
        );
    }

    #[test]
    fn payload_digest_covers_action_and_context() {
        let d = payload_digest("shell:ls", &json!({"agent_did": "a"})).unwrap();
        let canonical = br#"{"action":"shell:ls","context":{"agent_did":"a"}}"#;
        assert_eq!(d.size, canonical.len() as u64);
        assert_eq!(d.hash, hex::encode(Sha256::digest(canonical)));
    }
}
