//! The Python values a rule's `value` becomes under PyYAML `safe_load`, and the
//! few Python operations the AGT skill applies to them: `==` against a JSON
//! value (as Python's `json` module would have built it), and `str()`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::{Number, Value};

/// A rule value as PyYAML builds it (only the types gavel accepts: dates,
/// non-finite floats and integers beyond 128 bits are refused at load).
///
/// Serialized only for the rule cache, where a value must come back bit for bit:
/// integers as decimal strings and floats as their IEEE 754 bits, so that no JSON
/// number parsing (best-effort for floats in serde_json) stands between the load and
/// the decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum PyValue {
    None,
    Bool(bool),
    Int(#[serde(with = "exact::int")] i128),
    Float(#[serde(with = "exact::float")] f64),
    Str(String),
    List(Vec<PyValue>),
    /// Insertion order, keys unique under Python `==` (checked at load).
    Dict(Vec<(PyValue, PyValue)>),
}

/// Exact encodings of numbers for the rule cache (see [`PyValue`]).
mod exact {
    pub(super) mod int {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};
        pub(crate) fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&v.to_string())
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
            String::deserialize(d)?.parse().map_err(D::Error::custom)
        }
    }
    pub(super) mod float {
        use serde::{Deserialize, Deserializer, Serializer};
        pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u64(v.to_bits())
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            u64::deserialize(d).map(f64::from_bits)
        }
    }
}

/// Python `==` between two rule values (used for duplicate mapping keys).
pub(crate) fn py_eq(a: &PyValue, b: &PyValue) -> bool {
    use PyValue as P;
    match (a, b) {
        (P::None, P::None) => true,
        (P::Str(x), P::Str(y)) => x == y,
        (P::List(x), P::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| py_eq(x, y)),
        (P::Dict(x), P::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| py_eq(k, k2) && py_eq(v, v2)))
        }
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => x.eq(&y),
            _ => false,
        },
    }
}

/// A Python number: `bool` is an `int`.
#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn eq(&self, other: &Num) -> bool {
        match (*self, *other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a == b,
            (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => int_eq_float(i, f),
        }
    }
}

fn numeric(v: &PyValue) -> Option<Num> {
    match v {
        PyValue::Bool(b) => Some(Num::Int(i128::from(*b))),
        PyValue::Int(i) => Some(Num::Int(*i)),
        PyValue::Float(f) => Some(Num::Float(*f)),
        _ => None,
    }
}

fn json_numeric(n: &Number) -> Option<Num> {
    if let Some(u) = n.as_u64() {
        Some(Num::Int(i128::from(u)))
    } else if let Some(i) = n.as_i64() {
        Some(Num::Int(i128::from(i)))
    } else {
        n.as_f64().map(Num::Float)
    }
}

/// Python compares an `int` and a `float` exactly (not by converting the int).
fn int_eq_float(i: i128, f: f64) -> bool {
    // 2^127: every finite float strictly inside (-2^127, 2^127) converts exactly
    // when it has no fractional part.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if !f.is_finite() || f.fract() != 0.0 || !(-LIMIT..LIMIT).contains(&f) {
        return false;
    }
    // In range and integral: the conversion is exact.
    #[allow(clippy::cast_possible_truncation)]
    let as_int = f as i128;
    as_int == i
}

/// Python `target == value` where `target` came from JSON (`json.loads`).
pub(crate) fn json_eq_py(target: &Value, value: &PyValue) -> bool {
    match (target, value) {
        (Value::Null, PyValue::None) => true,
        (Value::String(a), PyValue::Str(b)) => a == b,
        (Value::Array(a), PyValue::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_eq_py(x, y))
        }
        (Value::Object(m), PyValue::Dict(d)) => {
            // `d` has unique keys; equal sizes plus every key of `d` found with an
            // equal value is dict equality.
            m.len() == d.len()
                && d.iter().all(|(k, v)| match k {
                    PyValue::Str(k) => m.get(k.as_str()).is_some_and(|t| json_eq_py(t, v)),
                    _ => false,
                })
        }
        (Value::Bool(b), _) => numeric(value).is_some_and(|n| Num::Int(i128::from(*b)).eq(&n)),
        (Value::Number(n), _) => match (json_numeric(n), numeric(value)) {
            (Some(a), Some(b)) => a.eq(&b),
            _ => false,
        },
        _ => false,
    }
}

/// Python `str(value)`.
pub(crate) fn py_str(value: &PyValue) -> String {
    match value {
        PyValue::Str(s) => s.clone(),
        other => {
            let mut out = String::new();
            py_repr(other, &mut out);
            out
        }
    }
}

/// Python `repr(value)` (for `str` of containers and of their elements).
pub(crate) fn py_repr(value: &PyValue, out: &mut String) {
    match value {
        PyValue::None => out.push_str("None"),
        PyValue::Bool(true) => out.push_str("True"),
        PyValue::Bool(false) => out.push_str("False"),
        PyValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        PyValue::Float(f) => out.push_str(&float_repr(*f)),
        PyValue::Str(s) => str_repr(s, out),
        PyValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out);
            }
            out.push(']');
        }
        PyValue::Dict(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(k, out);
                out.push_str(": ");
                py_repr(v, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in [-4, 16), else `1e+16` style.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` prints the shortest round-trip digits, like Python's repr.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    // value = 0.DIGITS * 10^decpt
    let decpt = exp + 1;
    let n = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let body = if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        let exp = decpt - 1;
        let exp_sign = if exp < 0 { '-' } else { '+' };
        if rest.is_empty() {
            format!("{first}e{exp_sign}{:02}", exp.abs())
        } else {
            format!("{first}.{rest}e{exp_sign}{:02}", exp.abs())
        }
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
    } else if decpt >= n {
        format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// Characters Python's `str.isprintable()` rejects: Unicode "Other" and
/// "Separator" categories (ASCII space aside, handled by the caller).
static NON_PRINTABLE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$").ok());

fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    match NON_PRINTABLE.as_ref() {
        Some(re) => {
            let mut buf = [0u8; 4];
            !re.is_match(c.encode_utf8(&mut buf))
        }
        // Cannot happen (a constant pattern); escaping is the safe fallback.
        None => c.is_ascii_graphic(),
    }
}

/// Python's `repr(str)`.
pub(crate) fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c if is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_python() {
        // Expected strings are Python 3.11's repr().
        for (f, py) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (12345.678, "12345.678"),
            (0.000123, "0.000123"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
        ] {
            assert_eq!(float_repr(f), py, "{f:e}");
        }
    }

    #[test]
    fn str_of_values_matches_python() {
        let v = PyValue::List(vec![
            PyValue::Str("a".into()),
            PyValue::Str("b'".into()),
            PyValue::Str("c\"'".into()),
            PyValue::Str("\u{0}é\u{200b}\u{7f}\u{85}\u{1F600}\u{E000}".into()),
            PyValue::Float(1.5),
            PyValue::None,
            PyValue::Bool(true),
            PyValue::Dict(vec![(PyValue::Str("k".into()), PyValue::Int(2))]),
            PyValue::Dict(vec![(PyValue::Int(1), PyValue::Bool(false))]),
            PyValue::List(vec![]),
            PyValue::Str("tab\there\\".into()),
        ]);
        // print(str([...])) in Python 3.11
        assert_eq!(
            py_str(&v),
            r#"['a', "b'", 'c"\'', '\x00é\u200b\x7f\x85😀\ue000', 1.5, None, True, {'k': 2}, {1: False}, [], 'tab\there\\']"#
        );
        assert_eq!(py_str(&PyValue::Str("x".into())), "x");
        assert_eq!(py_str(&PyValue::Int(-12)), "-12");
        assert_eq!(py_str(&PyValue::Bool(false)), "False");
        assert_eq!(py_str(&PyValue::None), "None");
    }

    #[test]
    fn equality_is_pythons() {
        let t = |j: Value, p: PyValue| json_eq_py(&j, &p);
        assert!(t(json!(1), PyValue::Float(1.0)));
        assert!(t(json!(1.0), PyValue::Int(1)));
        assert!(t(json!(true), PyValue::Int(1)));
        assert!(t(json!(1), PyValue::Bool(true)));
        assert!(t(json!(0.0), PyValue::Bool(false)));
        assert!(!t(json!(2), PyValue::Bool(true)));
        assert!(!t(json!("1"), PyValue::Int(1)));
        assert!(!t(json!(1), PyValue::Str("1".into())));
        assert!(t(json!(null), PyValue::None));
        assert!(!t(json!(""), PyValue::None));
        // exact int/float comparison, as Python does
        assert!(!t(
            json!(9_007_199_254_740_993_u64),
            PyValue::Float(9_007_199_254_740_992.0)
        ));
        assert!(t(
            json!(9_007_199_254_740_992_u64),
            PyValue::Float(9_007_199_254_740_992.0)
        ));
        assert!(t(json!(u64::MAX), PyValue::Int(i128::from(u64::MAX))));
        assert!(t(json!(-5), PyValue::Int(-5)));
        assert!(t(
            json!([1, "a", [true]]),
            PyValue::List(vec![
                PyValue::Float(1.0),
                PyValue::Str("a".into()),
                PyValue::List(vec![PyValue::Int(1)])
            ])
        ));
        assert!(!t(json!([1]), PyValue::List(vec![])));
        assert!(t(
            json!({"a": 1, "b": null}),
            PyValue::Dict(vec![
                (PyValue::Str("b".into()), PyValue::None),
                (PyValue::Str("a".into()), PyValue::Bool(true)),
            ])
        ));
        assert!(!t(
            json!({"a": 1}),
            PyValue::Dict(vec![(PyValue::Int(1), PyValue::Int(1))])
        ));
        assert!(!t(
            json!({"a": 1, "b": 2}),
            PyValue::Dict(vec![(PyValue::Str("a".into()), PyValue::Int(1))])
        ));
        assert!(py_eq(&PyValue::Int(1), &PyValue::Bool(true)));
        assert!(py_eq(&PyValue::Float(1.0), &PyValue::Bool(true)));
        assert!(!py_eq(&PyValue::Str("1".into()), &PyValue::Int(1)));
    }
}
