//! Operator keys (what signs) and trusted keys (what a verifier accepts).
//!
//! Private keys are PKCS#8 PEM, the same bytes the Python `cryptography` package
//! writes, or a raw 32-byte seed in hex. Public keys are read from hex, SPKI PEM, a
//! PKCS#8 private key PEM (public part derived), a JWK or a JWKS whose keys may carry
//! `valid_from` / `valid_until`. Weak (small-order) public keys are refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// PEM that is not an Ed25519 PKCS#8 private key.
    #[error("not an Ed25519 PKCS#8 private key: {0}")]
    Pkcs8(String),
    /// PEM that is not an Ed25519 SubjectPublicKeyInfo.
    #[error("not an Ed25519 SPKI public key: {0}")]
    Spki(String),
    /// Hex of the wrong length or with non-hex characters.
    #[error("{what} must be {len} hex characters (got {got:?})")]
    Hex {
        /// What was expected.
        what: &'static str,
        /// Expected number of hex characters.
        len: usize,
        /// A short excerpt of what was found.
        got: String,
    },
    /// A JWK that is not an Ed25519 OKP key.
    #[error("JWK {0}")]
    Jwk(String),
    /// A public key of small order: every signature would verify under it.
    #[error("weak Ed25519 public key {0} (small order) refused")]
    Weak(String),
    /// Nothing recognisable.
    #[error(
        "unrecognised key format: expected a PEM (PUBLIC KEY or PRIVATE KEY), 64 hex characters, a JWK or a JWKS"
    )]
    Unrecognised,
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
}

/// The `sb:issuer:` key id of a public key: the first 12 characters of the base58btc
/// (Bitcoin alphabet) encoding of its 32 raw bytes.
pub fn kid_for(key: &VerifyingKey) -> String {
    let b58 = bs58::encode(key.as_bytes()).into_string();
    format!("sb:issuer:{}", &b58[..12.min(b58.len())])
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key: the `kid`
/// used by the reference verifier's v2 receipts and by the Python skill.
pub fn jwk_thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let members = format!("{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{x}\"}}");
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
}

/// The public key as 64 lowercase hex characters.
pub fn public_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// The public key as an SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn public_pem(key: &VerifyingKey) -> String {
    // Encoding 32 bytes into a fixed DER structure cannot fail.
    key.to_public_key_pem(Default::default())
        .unwrap_or_default()
}

/// The public key as a JWK (`kty: OKP`, `crv: Ed25519`).
pub fn public_jwk(key: &VerifyingKey, kid: &str) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// The public key as a JWKS with one key.
pub fn public_jwks(key: &VerifyingKey, kid: &str) -> Value {
    json!({ "keys": [public_jwk(key, kid)] })
}

/// The operator's signing key and the key id it signs under.
pub struct OperatorKey {
    signing: SigningKey,
    kid: String,
}

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl OperatorKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    /// The key with this 32-byte seed (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let kid = kid_for(&signing.verifying_key());
        Self { signing, kid }
    }

    /// Reads a PKCS#8 PEM private key or a 64-hex-character seed.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN") {
            let signing =
                SigningKey::from_pkcs8_pem(t).map_err(|e| KeyError::Pkcs8(e.to_string()))?;
            let kid = kid_for(&signing.verifying_key());
            return Ok(Self { signing, kid });
        }
        let seed = decode_hex32(t, "an Ed25519 seed")?;
        Ok(Self::from_seed(&seed))
    }

    /// Signs under another key id than the default `sb:issuer:` form.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The key id receipts carry as `signature.kid` and `payload.issuer_id`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// PKCS#8 v1 PEM (no public key member), byte for byte what Python
    /// `cryptography` writes, so keys move freely between gavel and the AGT skill.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let v1 = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.signing.to_bytes(),
            public_key: None,
        };
        v1.to_pkcs8_pem(Default::default())
            .map(|s| Zeroizing::new(s.as_str().to_owned()))
            .map_err(|e| KeyError::Pkcs8(e.to_string()))
    }

    /// PureEdDSA signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// A 32-byte secret for another purpose than signing, derived from the private key:
    /// SHA-256 of `context`, a NUL byte and the seed. Only the key's holder can compute
    /// it; secrets for different contexts are unrelated, and none reveals the seed.
    pub fn derive_secret(&self, context: &str) -> Zeroizing<[u8; 32]> {
        let seed = Zeroizing::new(self.signing.to_bytes());
        let mut h = Sha256::new();
        h.update(context.as_bytes());
        h.update([0u8]);
        h.update(seed.as_slice());
        Zeroizing::new(h.finalize().into())
    }
}

/// A public key the verifier trusts, with the key ids it answers to and its window.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The key.
    pub key: VerifyingKey,
    /// An explicit key id (a JWK `kid`), if one was given.
    pub kid: Option<String>,
    /// First instant at which the key may have signed (included).
    pub valid_from: Option<OffsetDateTime>,
    /// Instant from which the key may no longer have signed (excluded).
    pub valid_until: Option<OffsetDateTime>,
    /// Its `sb:issuer:` kid and RFC 7638 thumbprint, computed once: a verifier asks
    /// for every receipt.
    derived: [String; 2],
}

impl TrustedKey {
    /// A key with no explicit kid and no window.
    pub fn new(key: VerifyingKey) -> Result<Self, KeyError> {
        if key.is_weak() {
            return Err(KeyError::Weak(public_hex(&key)));
        }
        Ok(Self {
            derived: [kid_for(&key), jwk_thumbprint(&key)],
            key,
            kid: None,
            valid_from: None,
            valid_until: None,
        })
    }

    /// Whether a receipt naming `kid` names this key: its explicit kid, its
    /// `sb:issuer:` kid, or its RFC 7638 thumbprint.
    pub fn answers_to(&self, kid: &str) -> bool {
        self.kid.as_deref() == Some(kid) || self.derived.iter().any(|d| d == kid)
    }

    /// Whether `t` lies in `[valid_from, valid_until)`.
    pub fn in_window(&self, t: OffsetDateTime) -> bool {
        self.valid_from.is_none_or(|from| t >= from)
            && self.valid_until.is_none_or(|until| t < until)
    }

    /// Whether the key has a validity window at all.
    pub fn has_window(&self) -> bool {
        self.valid_from.is_some() || self.valid_until.is_some()
    }
}

/// Reads trusted public keys from any of the accepted forms: 64 hex characters, an
/// SPKI PEM, a PKCS#8 private key PEM (its public part), a JWK, or a JWKS.
pub fn parse_trusted_keys(text: &str) -> Result<Vec<TrustedKey>, KeyError> {
    let t = text.trim();
    if t.starts_with("-----BEGIN PUBLIC KEY-----") {
        let key =
            VerifyingKey::from_public_key_pem(t).map_err(|e| KeyError::Spki(e.to_string()))?;
        return Ok(vec![TrustedKey::new(key)?]);
    }
    if t.starts_with("-----BEGIN") {
        let op = OperatorKey::parse(t)?;
        return Ok(vec![TrustedKey::new(op.verifying_key())?]);
    }
    if t.starts_with('{') {
        // strict: a member named twice (two `x`, two `valid_until`) would otherwise be
        // read as whichever came last, and a trust anchor must not be ambiguous
        let v: Value = crate::jcs::parse_strict(t.as_bytes())
            .map_err(|e| KeyError::Jwk(format!("is not JSON: {e}")))?;
        if let Some(keys) = v.get("keys") {
            let keys = keys
                .as_array()
                .ok_or_else(|| KeyError::Jwk("set: `keys` is not an array".into()))?;
            if keys.is_empty() {
                return Err(KeyError::Jwk("set holds no keys".into()));
            }
            let keys: Vec<TrustedKey> =
                keys.iter().map(jwk_to_trusted).collect::<Result<_, _>>()?;
            // one answer per receipt: which of two entries for one kid (or one key)
            // applies would otherwise depend on their order
            for (i, a) in keys.iter().enumerate() {
                for b in &keys[..i] {
                    if a.kid.is_some() && a.kid == b.kid {
                        return Err(KeyError::Jwk(format!(
                            "set names kid {:?} twice; give each key one entry with a kid of its own",
                            a.kid.as_deref().unwrap_or_default()
                        )));
                    }
                    if a.key == b.key {
                        return Err(KeyError::Jwk(format!(
                            "set lists the key {} twice; give it one entry (with one validity window)",
                            public_hex(&a.key)
                        )));
                    }
                }
            }
            return Ok(keys);
        }
        return Ok(vec![jwk_to_trusted(&v)?]);
    }
    if t.len() == 64 {
        let bytes = decode_hex32(t, "a public key")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Spki(e.to_string()))?;
        return Ok(vec![TrustedKey::new(key)?]);
    }
    Err(KeyError::Unrecognised)
}

fn jwk_to_trusted(jwk: &Value) -> Result<TrustedKey, KeyError> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
        return Err(KeyError::Jwk(
            "is not an Ed25519 key (need kty OKP, crv Ed25519)".into(),
        ));
    }
    if let Some(alg) = field("alg")
        && alg != "EdDSA"
        && alg != "Ed25519"
    {
        return Err(KeyError::Jwk(format!("alg {alg:?} is not EdDSA")));
    }
    let x = field("x").ok_or_else(|| KeyError::Jwk("has no `x`".into()))?;
    let raw = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|e| KeyError::Jwk(format!("`x` is not base64url: {e}")))?;
    let bytes: [u8; 32] = raw
        .try_into()
        .map_err(|_| KeyError::Jwk("`x` is not 32 bytes".into()))?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Jwk(e.to_string()))?;
    let mut trusted = TrustedKey::new(key)?;
    trusted.kid = field("kid").map(str::to_owned);
    trusted.valid_from = window_bound(jwk, "valid_from")?;
    trusted.valid_until = window_bound(jwk, "valid_until")?;
    Ok(trusted)
}

fn window_bound(jwk: &Value, name: &str) -> Result<Option<OffsetDateTime>, KeyError> {
    match jwk.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::time::parse(s)
            .map(Some)
            .ok_or_else(|| KeyError::Jwk(format!("`{name}` {s:?} is not an RFC 3339 timestamp"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .map(Some)
            .ok_or_else(|| KeyError::Jwk(format!("`{name}` {n} is not a Unix time in seconds"))),
        Some(other) => Err(KeyError::Jwk(format!(
            "`{name}` is {other}, not a timestamp"
        ))),
    }
}

fn decode_hex32(t: &str, what: &'static str) -> Result<[u8; 32], KeyError> {
    let err = || KeyError::Hex {
        what,
        len: 64,
        got: t.chars().take(16).collect(),
    };
    let bytes = hex::decode(t).map_err(|_| err())?;
    bytes.try_into().map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUB: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    // Written by Python `cryptography` (shared/vectors/legacy/agt-python-skill.json).
    const PY_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
    const PY_SPKI: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn python_cryptography_pem_round_trips() {
        let k = OperatorKey::parse(PY_PKCS8).unwrap();
        assert_eq!(public_hex(&k.verifying_key()), RFC8032_PUB);
        assert_eq!(k.to_pkcs8_pem().unwrap().as_str(), PY_PKCS8);
        assert_eq!(public_pem(&k.verifying_key()), PY_SPKI);
        let seed = OperatorKey::parse(RFC8032_SEED).unwrap();
        assert_eq!(seed.verifying_key(), k.verifying_key());
    }

    #[test]
    fn derived_secrets_depend_on_key_and_context_only() {
        let a = OperatorKey::from_seed(&[7u8; 32]);
        let b = OperatorKey::from_seed(&[8u8; 32]);
        let x = a.derive_secret("gavel test");
        assert_eq!(
            *x,
            *OperatorKey::from_seed(&[7u8; 32]).derive_secret("gavel test")
        );
        assert_ne!(*x, *b.derive_secret("gavel test"), "another key");
        assert_ne!(*x, *a.derive_secret("gavel test2"), "another context");
        // SHA-256("gavel test" || 0x00 || seed), computed independently
        let mut m = b"gavel test\0".to_vec();
        m.extend_from_slice(&[7u8; 32]);
        assert_eq!(x.as_slice(), Sha256::digest(&m).as_slice());
    }

    #[test]
    fn rfc8032_test1_signature() {
        let k = OperatorKey::parse(RFC8032_SEED).unwrap();
        assert_eq!(
            hex::encode(k.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn kids() {
        let k = OperatorKey::parse(RFC8032_SEED).unwrap();
        let vk = k.verifying_key();
        assert_eq!(
            jwk_thumbprint(&vk),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let b58 = bs58::encode(vk.as_bytes()).into_string();
        assert_eq!(k.kid(), format!("sb:issuer:{}", &b58[..12]));
        // conformance key of seed 00..01
        let mut seed = [0u8; 32];
        seed[31] = 1;
        assert_eq!(
            public_hex(&OperatorKey::from_seed(&seed).verifying_key()),
            "4cb5abf6ad79fbf5abbccafcc269d85cd2651ed4b885b5869f241aedf0a5ba29"
        );
    }

    #[test]
    fn every_public_form_reads_back() {
        let vk = OperatorKey::parse(RFC8032_SEED).unwrap().verifying_key();
        let kid = kid_for(&vk);
        for text in [
            RFC8032_PUB.to_owned(),
            PY_SPKI.to_owned(),
            PY_PKCS8.to_owned(),
            public_jwk(&vk, &kid).to_string(),
            public_jwks(&vk, &kid).to_string(),
        ] {
            let keys = parse_trusted_keys(&text).unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].key, vk);
            assert!(keys[0].answers_to(&kid));
        }
    }

    #[test]
    fn jwks_windows() {
        let vk = OperatorKey::parse(RFC8032_SEED).unwrap().verifying_key();
        let mut jwk = public_jwk(&vk, "k1");
        jwk["valid_from"] = json!("2026-01-01T00:00:00Z");
        jwk["valid_until"] = json!(1798761600); // 2027-01-01
        let keys = parse_trusted_keys(&json!({"keys": [jwk]}).to_string()).unwrap();
        let k = &keys[0];
        assert!(k.has_window());
        assert!(k.in_window(crate::time::parse("2026-01-01T00:00:00Z").unwrap()));
        assert!(k.in_window(crate::time::parse("2026-12-31T23:59:59.999Z").unwrap()));
        assert!(!k.in_window(crate::time::parse("2027-01-01T00:00:00Z").unwrap()));
        assert!(!k.in_window(crate::time::parse("2025-12-31T23:59:59Z").unwrap()));
    }

    #[test]
    fn bad_keys_are_errors() {
        for bad in [
            "",
            "zz",
            &"0".repeat(63),
            &"g".repeat(64),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            r#"{"kty":"EC","crv":"P-256","x":"AA"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
            r#"{"keys":[]}"#,
            r#"{"keys":{}}"#,
            "{not json",
        ] {
            assert!(parse_trusted_keys(bad).is_err(), "{bad:?} accepted");
        }
        // the identity point is a weak key
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            parse_trusted_keys(&hex::encode(identity)),
            Err(KeyError::Weak(_))
        ));
    }

    #[test]
    fn a_member_named_twice_makes_the_key_file_malformed() {
        let vk = OperatorKey::parse(RFC8032_SEED).unwrap().verifying_key();
        let x = public_jwk(&vk, "k1")["x"].as_str().unwrap().to_owned();
        let one = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#);
        assert!(parse_trusted_keys(&one).is_ok());
        let other = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        for dup in [
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{other}","x":"{x}"}}"#),
            format!(
                r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","valid_until":"2020-01-01T00:00:00Z","valid_until":"2099-01-01T00:00:00Z"}}]}}"#
            ),
            format!(r#"{{"keys":[],"keys":[{one}]}}"#),
        ] {
            assert!(
                matches!(parse_trusted_keys(&dup), Err(KeyError::Jwk(_))),
                "{dup} accepted"
            );
        }
    }

    #[test]
    fn a_set_with_one_kid_or_one_key_twice_is_ambiguous() {
        let a = OperatorKey::parse(RFC8032_SEED).unwrap().verifying_key();
        let b = OperatorKey::generate().unwrap().verifying_key();
        let set = |keys: Vec<Value>| json!({ "keys": keys }).to_string();
        assert_eq!(
            parse_trusted_keys(&set(vec![public_jwk(&a, "k1"), public_jwk(&b, "k2")]))
                .unwrap()
                .len(),
            2
        );
        for bad in [
            set(vec![public_jwk(&b, "k1"), public_jwk(&a, "k1")]),
            set(vec![public_jwk(&a, "k1"), public_jwk(&a, "k2")]),
        ] {
            let e = parse_trusted_keys(&bad).unwrap_err().to_string();
            assert!(e.contains("twice"), "{e}");
        }
    }

    #[test]
    fn generated_keys_differ() {
        let a = OperatorKey::generate().unwrap();
        let b = OperatorKey::generate().unwrap();
        assert_ne!(a.verifying_key(), b.verifying_key());
    }
}
