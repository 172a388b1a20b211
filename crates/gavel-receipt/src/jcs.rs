//! RFC 8785 JSON Canonicalization Scheme.
//!
//! Canonicalization is delegated to `serde_json_canonicalizer` (ECMAScript number
//! formatting, UTF-16 member ordering, minimal escapes). This module adds what the
//! receipt format requires on top: member names restricted to printable ASCII when
//! signing, and a parser that rejects what RFC 8785 calls out as non I-JSON
//! (duplicate member names), so that two readers of a receipt can never disagree
//! about what was signed.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a value could not be canonicalized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JcsError {
    /// A member name outside printable ASCII (the reference verifier refuses these).
    #[error("Non-ASCII key {0:?} in artifact payload. Only ASCII keys are permitted.")]
    NonAsciiKey(String),
    /// A number that has no JSON form (NaN or an infinity).
    #[error("number cannot be canonicalized: {0}")]
    Number(String),
}

/// Canonical bytes of `value` (RFC 8785).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| JcsError::Number(e.to_string()))
}

/// Canonical bytes of a value that is about to be signed: like [`canonicalize`], but
/// every object member name, at any depth, must be printable ASCII (U+0020..U+007E).
pub fn canonicalize_for_signing(value: &Value) -> Result<Vec<u8>, JcsError> {
    check_ascii_keys(value)?;
    canonicalize(value)
}

/// Fails on the first member name, at any depth, that is not printable ASCII.
pub fn check_ascii_keys(value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if !k.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                    return Err(JcsError::NonAsciiKey(k.clone()));
                }
                check_ascii_keys(v)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_ascii_keys),
        _ => Ok(()),
    }
}

/// Parses JSON text as I-JSON (RFC 7493): like `serde_json::from_slice`, but an object
/// with a duplicated member name is an error instead of silently keeping the last one.
/// Nesting depth is bounded by serde_json's recursion limit, so hostile input cannot
/// overflow the stack.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let StrictValue(v) = serde_json::from_slice(bytes)?;
    Ok(v)
}

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name {key:?} (I-JSON forbids it)"
                )));
            }
            let StrictValue(v) = access.next_value()?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jcs(text: &str) -> String {
        String::from_utf8(canonicalize(&parse_strict(text.as_bytes()).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn utf16_order_differs_from_code_point_order() {
        // U+1F600 is encoded as the surrogates D83D DE00, which sort BEFORE U+E000
        // in UTF-16 code units, although its code point is larger.
        let out = jcs("{\"\u{e000}\":1,\"\u{1f600}\":2,\"a\":0}");
        assert_eq!(out, "{\"a\":0,\"\u{1f600}\":2,\"\u{e000}\":1}");
    }

    #[test]
    fn numbers_follow_ecmascript() {
        assert_eq!(jcs("[9007199254740993]"), "[9007199254740992]");
        assert_eq!(jcs("[18446744073709551615]"), "[18446744073709552000]");
        assert_eq!(jcs("[-0]"), "[0]");
        assert_eq!(jcs("[-0.0]"), "[0]");
        assert_eq!(jcs("[1e21]"), "[1e+21]");
        assert_eq!(jcs("[1e20]"), "[100000000000000000000]");
        assert_eq!(jcs("[5e-324]"), "[5e-324]");
        assert_eq!(
            jcs("[1.0, 1e-7, 0.000001, 1.5e300]"),
            "[1,1e-7,0.000001,1.5e+300]"
        );
        assert_eq!(jcs("[-9007199254740993]"), "[-9007199254740992]");
    }

    #[test]
    fn nan_and_infinity_are_rejected() {
        // serde_json_canonicalizer 0.4.1 rejects a bare non-finite f64 but writes one
        // nested in a struct or Vec as `null` (it goes through serde_json's own
        // serializer there). gavel therefore only ever canonicalizes `Value`s, and a
        // `Value` cannot hold NaN or an infinity: construction refuses them.
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(
                serde_json_canonicalizer::to_vec(&x).is_err(),
                "{x} accepted"
            );
            assert!(serde_json::Number::from_f64(x).is_none());
        }
        // and serde_json refuses to parse them
        assert!(parse_strict(b"[NaN]").is_err());
        assert!(parse_strict(b"[Infinity]").is_err());
        assert!(parse_strict(b"[-Infinity]").is_err());
        assert!(parse_strict(b"[1e400]").is_err());
    }

    #[test]
    fn strings_use_only_rfc8785_escapes() {
        assert_eq!(
            jcs(r#"["\u0000\u001f\"\\\/\b\f\n\r\t\u007f\u00e9"]"#),
            "[\"\\u0000\\u001f\\\"\\\\/\\b\\f\\n\\r\\t\u{7f}\u{e9}\"]"
        );
    }

    #[test]
    fn duplicate_members_are_refused() {
        let err = parse_strict(br#"{"decision":"deny","decision":"allow"}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("duplicate member name \"decision\""),
            "{err}"
        );
        assert!(parse_strict(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(parse_strict(br#"[{"b":1},{"b":2}]"#).is_ok());
    }

    #[test]
    fn lone_surrogates_are_refused() {
        assert!(parse_strict(br#"["\ud800"]"#).is_err());
    }

    #[test]
    fn signing_rejects_non_printable_ascii_keys() {
        let ok = json!({"a": {"b c": "h\u{e9}llo"}});
        assert!(canonicalize_for_signing(&ok).is_ok());
        for bad in [
            json!({"h\u{e9}llo": 1}),
            json!({"a": [{"\u{7f}": 1}]}),
            json!({"\n": 1}),
        ] {
            assert!(matches!(
                canonicalize_for_signing(&bad),
                Err(JcsError::NonAsciiKey(_))
            ));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_strict(deep.as_bytes()).is_err());
    }
}
