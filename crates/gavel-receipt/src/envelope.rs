//! The receipt envelope `{payload, signature: {alg, kid, sig}}` and the chain link.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jcs::{self, JcsError};
use crate::keys::OperatorKey;

/// The receipt format gavel emits, written into every payload as `spec`.
pub const SPEC: &str = "draft-farley-acta-signed-receipts-04";
/// `type` of a decision receipt (receipts.md section 2).
pub const DECISION_TYPE: &str = "gavel:decision";
/// `type` of an execution receipt (receipts.md section 5).
pub const EXECUTION_TYPE: &str = "gavel:execution";

/// The signature algorithm name in the envelope.
pub const ALG: &str = "EdDSA";

/// The `signature` member of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBlock {
    /// Always `EdDSA`.
    pub alg: String,
    /// The signer's key id; equals `payload.issuer_id`.
    pub kid: String,
    /// Ed25519 signature over `JCS(payload)`, 128 lowercase hex characters.
    pub sig: String,
}

/// A signed receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// What is attested.
    pub payload: Map<String, Value>,
    /// Who attests it.
    pub signature: SignatureBlock,
}

/// Why a payload could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The payload has no canonical form (or a non-ASCII member name).
    #[error(transparent)]
    Canonical(#[from] JcsError),
    /// `payload.issuer_id` names another key than the signer's.
    #[error("payload.issuer_id {found:?} differs from the signing key id {kid:?}")]
    IssuerMismatch {
        /// What the payload said.
        found: String,
        /// The signer's kid.
        kid: String,
    },
}

/// A freshly signed envelope and its chain hash (what the next receipt links to).
#[derive(Debug, Clone)]
pub struct Signed {
    /// The receipt.
    pub envelope: Envelope,
    /// `"sha256:<hex>"` of JCS of the whole envelope.
    pub chain_hash: String,
}

/// Signs `payload` with `key`: sets `issuer_id` to the key id when absent, signs the
/// RFC 8785 canonical bytes of the payload (member names must be printable ASCII),
/// and returns the envelope with its chain hash.
pub fn sign_payload(
    mut payload: Map<String, Value>,
    key: &OperatorKey,
) -> Result<Signed, SignError> {
    match payload.get("issuer_id") {
        None => {
            payload.insert("issuer_id".into(), Value::String(key.kid().to_owned()));
        }
        Some(Value::String(s)) if s == key.kid() => {}
        Some(other) => {
            return Err(SignError::IssuerMismatch {
                found: other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned),
                kid: key.kid().to_owned(),
            });
        }
    }
    let value = Value::Object(payload);
    let canonical = jcs::canonicalize_for_signing(&value)?;
    let payload = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let signature = SignatureBlock {
        alg: ALG.into(),
        kid: key.kid().into(),
        sig: hex::encode(key.sign(&canonical)),
    };
    let chain_hash = chain_hash_from_parts(&canonical, &signature.canonical()?);
    Ok(Signed {
        envelope: Envelope { payload, signature },
        chain_hash,
    })
}

impl SignatureBlock {
    /// RFC 8785 form of the signature member.
    pub fn canonical(&self) -> Result<Vec<u8>, JcsError> {
        jcs::canonicalize(&serde_json::json!({"alg": self.alg, "kid": self.kid, "sig": self.sig}))
    }
}

impl Envelope {
    /// The envelope as a JSON value.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("payload".into(), Value::Object(self.payload.clone()));
        m.insert(
            "signature".into(),
            serde_json::json!({"alg": self.signature.alg, "kid": self.signature.kid, "sig": self.signature.sig}),
        );
        Value::Object(m)
    }

    /// `"sha256:" + hex(SHA-256(JCS(envelope)))`, the value the next receipt carries as
    /// `previousReceiptHash` (draft 6.7: the whole envelope, signature included).
    pub fn chain_hash(&self) -> Result<String, JcsError> {
        let payload = jcs::canonicalize(&Value::Object(self.payload.clone()))?;
        Ok(chain_hash_from_parts(
            &payload,
            &self.signature.canonical()?,
        ))
    }
}

/// The chain hash of a two-member envelope from the canonical forms of its members:
/// JCS of `{"payload": P, "signature": S}` is exactly
/// `{"payload":` JCS(P) `,"signature":` JCS(S) `}` because "payload" < "signature".
pub fn chain_hash_from_parts(canonical_payload: &[u8], canonical_signature: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"{\"payload\":");
    h.update(canonical_payload);
    h.update(b",\"signature\":");
    h.update(canonical_signature);
    h.update(b"}");
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The chain hash of any receipt value (whole envelope, whatever its shape).
pub fn receipt_hash(receipt: &Value) -> Result<String, JcsError> {
    Ok(crate::digest::sha256_prefixed(&jcs::canonicalize(receipt)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> OperatorKey {
        OperatorKey::parse("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
    }

    fn payload(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn signs_the_canonical_payload() {
        let k = key();
        let s = sign_payload(payload(json!({"b": 1, "a": "x"})), &k).unwrap();
        assert_eq!(s.envelope.payload["issuer_id"], json!(k.kid()));
        assert_eq!(s.envelope.signature.alg, "EdDSA");
        assert_eq!(s.envelope.signature.kid, k.kid());
        let canonical = format!("{{\"a\":\"x\",\"b\":1,\"issuer_id\":\"{}\"}}", k.kid());
        assert_eq!(
            s.envelope.signature.sig,
            hex::encode(k.sign(canonical.as_bytes()))
        );
        assert_eq!(s.envelope.signature.sig.len(), 128);
    }

    #[test]
    fn chain_hash_is_jcs_of_the_whole_envelope() {
        let s = sign_payload(payload(json!({"sequence": 1, "z": [1, 2]})), &key()).unwrap();
        let whole = receipt_hash(&s.envelope.to_value()).unwrap();
        assert_eq!(s.chain_hash, whole);
        assert_eq!(s.envelope.chain_hash().unwrap(), whole);
        let via_serde = receipt_hash(&serde_json::to_value(&s.envelope).unwrap()).unwrap();
        assert_eq!(via_serde, whole);
    }

    #[test]
    fn refuses_foreign_issuer_and_non_ascii_keys() {
        assert!(matches!(
            sign_payload(
                payload(json!({"issuer_id": "sb:issuer:someoneelse"})),
                &key()
            ),
            Err(SignError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            sign_payload(payload(json!({"h\u{e9}llo": 1})), &key()),
            Err(SignError::Canonical(JcsError::NonAsciiKey(_)))
        ));
    }
}
