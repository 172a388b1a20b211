//! RFC 8785 JSON Canonicalization Scheme.
//!
//! Canonicalization is `serde_json_canonicalizer` (ECMAScript number formatting,
//! UTF-16 member ordering, minimal escapes). This module adds what the receipt format
//! requires on top: member names restricted to printable ASCII when signing, and a
//! parser that rejects what RFC 8785 calls out as non I-JSON (duplicate member
//! names), so that two readers of a receipt can never disagree about what was signed.
//!
//! Receipts are signed and verified by the million, so values whose member names are
//! all ASCII (every receipt gavel writes) take a fast path: for ASCII, UTF-16 code
//! unit order is byte order, serde_json's string escapes are exactly RFC 8785's, and
//! numbers are written with `ryu-js` (the ECMAScript formatter the crate uses), so the
//! output is the crate's, byte for byte, at a fifth of the cost. Anything else goes
//! through the crate. A differential test compares both on generated values.

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

/// What kind of JSON value `v` is, for messages: "null", "a boolean", "a number",
/// "a string", "an array", "an object".
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Canonical bytes of `value` (RFC 8785).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    if ascii_keys(value) {
        let mut out = Vec::with_capacity(512);
        write_ascii(&mut out, value)?;
        return Ok(out);
    }
    canonicalize_with_crate(value)
}

/// Canonical bytes through `serde_json_canonicalizer`, for any value.
pub fn canonicalize_with_crate(value: &Value) -> Result<Vec<u8>, JcsError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| JcsError::Number(e.to_string()))
}

/// Whether every member name, at any depth, is ASCII.
fn ascii_keys(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().all(|(k, v)| k.is_ascii() && ascii_keys(v)),
        Value::Array(items) => items.iter().all(ascii_keys),
        _ => true,
    }
}

/// Largest integer an IEEE double holds exactly (2^53).
const MAX_SAFE: u64 = 1 << 53;

/// RFC 8785 for a value whose member names are all ASCII (see the module docs).
fn write_ascii(out: &mut Vec<u8>, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64().filter(|u| *u <= MAX_SAFE) {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE) {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                // integers past 2^53 are IEEE doubles too (RFC 8785 section 3.2.2.3)
                let f = n
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| JcsError::Number(format!("{n} is not a finite IEEE double")))?;
                out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
            }
        }
        Value::String(s) => write_string(out, s)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_ascii(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k)?;
                out.push(b':');
                write_ascii(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// serde_json escapes exactly what RFC 8785 escapes, the same way: `\"`, `\\`, the
/// short forms `\b \f \n \r \t`, other control characters as lowercase `\u00xx`.
fn write_string(out: &mut Vec<u8>, s: &str) -> Result<(), JcsError> {
    serde_json::to_writer(&mut *out, s).map_err(|e| JcsError::Number(e.to_string()))
}

/// Canonical bytes of a value that is about to be signed: like [`canonicalize`], but
/// every object member name, at any depth, must be printable ASCII (U+0020..U+007E).
pub fn canonicalize_for_signing(value: &Value) -> Result<Vec<u8>, JcsError> {
    check_ascii_keys(value)?;
    // printable-ASCII member names: the ASCII path applies, no second walk to find out
    let mut out = Vec::with_capacity(512);
    write_ascii(&mut out, value)?;
    Ok(out)
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

    /// splitmix64, for the differential test
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn gen_string(r: &mut Rng, ascii_only: bool) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "/",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{1f}",
            "\u{0}",
            "\u{7f}",
            "é",
            "€",
            "\u{e000}",
            "\u{ffff}",
            "😀",
            "\u{10ffff}",
            "key",
        ];
        let n = r.below(6);
        (0..n)
            .map(|_| {
                let p = PIECES[r.below(PIECES.len() as u64) as usize];
                if ascii_only && !p.is_ascii() { "x" } else { p }
            })
            .collect()
    }

    fn gen_number(r: &mut Rng) -> Value {
        match r.below(8) {
            0 => json!(r.next()),
            1 => json!(-((r.next() >> 1) as i64)),
            2 => json!(r.below(1 << 54)),
            3 => json!((r.below(1 << 54) as i64) - (1 << 53)),
            4 => json!(
                f64::from_bits(r.next() & 0x7fef_ffff_ffff_ffff)
                    * if r.below(2) == 0 { 1.0 } else { -1.0 }
            ),
            5 => json!((r.below(2_000_001) as f64 - 1e6) / 1000.0),
            6 => json!(
                [
                    0.0,
                    -0.0,
                    1e21,
                    1e20,
                    5e-324,
                    1e-7,
                    0.000001,
                    9007199254740993.0
                ][r.below(8) as usize]
            ),
            _ => json!(r.below(100)),
        }
    }

    fn gen_value(r: &mut Rng, depth: u32) -> Value {
        match r.below(if depth > 3 { 4 } else { 6 }) {
            0 => Value::Null,
            1 => json!(r.below(2) == 0),
            2 => gen_number(r),
            3 => json!(gen_string(r, false)),
            4 => Value::Array((0..r.below(4)).map(|_| gen_value(r, depth + 1)).collect()),
            _ => {
                let mut m = Map::new();
                for _ in 0..r.below(6) {
                    m.insert(gen_string(r, true), gen_value(r, depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    #[test]
    fn the_ascii_fast_path_is_the_crate_byte_for_byte() {
        let mut r = Rng(0x0006_a7e1_0001);
        for i in 0..50_000 {
            let v = gen_value(&mut r, 0);
            assert!(ascii_keys(&v));
            let mut fast = Vec::new();
            let fast = write_ascii(&mut fast, &v).map(|()| fast);
            let slow = canonicalize_with_crate(&v);
            assert_eq!(fast.ok(), slow.ok(), "value {i}: {v}");
        }
        // and non-ASCII member names go through the crate, in UTF-16 order
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2});
        assert!(!ascii_keys(&v));
        assert_eq!(
            canonicalize(&v).unwrap(),
            canonicalize_with_crate(&v).unwrap()
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_strict(deep.as_bytes()).is_err());
    }
}
