//! JSON-RPC 2.0 as the MCP stdio transport carries it: one message (or one batch) per
//! line. Messages are read with their top-level values left raw, so a relayed line is
//! never re-serialized and a synthesized response can repeat the request's `id`
//! byte for byte.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// JSON-RPC: the line is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC: internal error.
pub const INTERNAL_ERROR: i64 = -32603;

/// The top-level members of one JSON object, values raw, in source order. A member
/// name that occurs twice is a parse error: readers that keep the first and readers
/// that keep the last would see different messages.
#[derive(Debug)]
pub struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The raw value of member `name`.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// `method` when it is present and a string.
    pub fn method(&self) -> Option<String> {
        self.get("method")
            .and_then(|m| serde_json::from_str::<String>(m.get()).ok())
    }

    /// A response: no `method`, an `id`.
    pub fn is_response(&self) -> bool {
        self.get("method").is_none() && self.get("id").is_some()
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Members<'de>, A::Error> {
                let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some(key) = access.next_key::<String>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate member name {key:?}"
                        )));
                    }
                    let v: &'de RawValue = access.next_value()?;
                    out.push((key, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// What one line holds.
#[derive(Debug)]
pub enum Line<'a> {
    /// Only whitespace.
    Blank,
    /// Not JSON (or not UTF-8); the parser's message.
    NotJson(String),
    /// JSON, but an object with a duplicated member name; the message.
    Ambiguous(String),
    /// One object.
    Object(Members<'a>),
    /// A batch: the elements, raw.
    Batch(Vec<&'a RawValue>),
    /// Valid JSON that is neither an object nor an array.
    Scalar,
}

/// An element of a batch.
#[derive(Debug)]
pub enum Element<'a> {
    /// An object.
    Object(Members<'a>),
    /// An object with a duplicated member name.
    Ambiguous(String),
    /// An array: a batch inside a batch, which JSON-RPC does not have. A server that
    /// took it for one would run calls nobody decided, so it is never forwarded.
    Nested,
    /// Anything else.
    Other,
}

fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Classifies one line (without its `\n`).
pub fn parse_line(line: &[u8]) -> Line<'_> {
    match first_non_ws(line) {
        None => Line::Blank,
        Some(b'{') => match serde_json::from_slice::<Members<'_>>(line) {
            Ok(m) => Line::Object(m),
            Err(e) if e.is_data() => Line::Ambiguous(e.to_string()),
            Err(e) => Line::NotJson(e.to_string()),
        },
        Some(b'[') => match serde_json::from_slice::<Vec<&RawValue>>(line) {
            Ok(v) => Line::Batch(v),
            Err(e) => Line::NotJson(e.to_string()),
        },
        Some(_) => match serde_json::from_slice::<de::IgnoredAny>(line) {
            Ok(_) => Line::Scalar,
            Err(e) => Line::NotJson(e.to_string()),
        },
    }
}

/// Classifies one element of a batch.
pub fn parse_element(raw: &RawValue) -> Element<'_> {
    match first_non_ws(raw.get().as_bytes()) {
        Some(b'{') => {}
        Some(b'[') => return Element::Nested,
        _ => return Element::Other,
    }
    match serde_json::from_str::<Members<'_>>(raw.get()) {
        Ok(m) => Element::Object(m),
        Err(e) => Element::Ambiguous(e.to_string()),
    }
}

/// Whether a raw `id` is one a request may carry (a string or a number).
pub fn is_valid_id(id: &RawValue) -> bool {
    matches!(
        first_non_ws(id.get().as_bytes()),
        Some(b'"' | b'-' | b'0'..=b'9')
    )
}

/// A key that matches a request `id` with the `id` its response carries, even when
/// the responder re-serialized a number (`1.0` and `1` are the same id to a
/// JavaScript peer). `None` for ids that are neither strings nor numbers.
pub fn id_key(id: &RawValue) -> Option<String> {
    match serde_json::from_str::<Value>(id.get()).ok()? {
        Value::String(s) => Some(format!("s:{s}")),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(format!("n:{i}"))
            } else if let Some(u) = n.as_u64() {
                Some(format!("n:{u}"))
            } else {
                let f = n.as_f64()?;
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    Some(format!("n:{}", f as i64))
                } else {
                    Some(format!("n:{f}"))
                }
            }
        }
        _ => None,
    }
}

fn with_id(id: Option<&RawValue>, body_key: &str, body: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.map_or("null", |r| r.get()).as_bytes());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(body_key.as_bytes());
    out.extend_from_slice(b"\":");
    // serde_json escapes control characters, so the line holds no raw newline
    out.extend_from_slice(&serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec()));
    out.push(b'}');
    out
}

/// A JSON-RPC error response (`id` null when the request's id could not be read).
pub fn error_response(id: Option<&RawValue>, code: i64, message: &str) -> Vec<u8> {
    with_id(
        id,
        "error",
        &serde_json::json!({"code": code, "message": message}),
    )
}

/// A `tools/call` result that reports a failure to the model (`isError: true`).
pub fn tool_error_result(id: &RawValue, text: &str) -> Vec<u8> {
    with_id(
        Some(id),
        "result",
        &serde_json::json!({"content": [{"type": "text", "text": text}], "isError": true}),
    )
}

/// A batch line from raw elements.
pub fn batch(elements: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(elements.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn classifies_lines() {
        assert!(matches!(parse_line(b""), Line::Blank));
        assert!(matches!(parse_line(b" \r"), Line::Blank));
        assert!(matches!(parse_line(b"hello"), Line::NotJson(_)));
        assert!(matches!(parse_line(b"{\"a\":1"), Line::NotJson(_)));
        assert!(matches!(parse_line(b"{\"a\":1} x"), Line::NotJson(_)));
        assert!(matches!(parse_line(b"{\"a\":\"\xff\"}"), Line::NotJson(_)));
        assert!(matches!(parse_line(b"[1,\"\xff\"]"), Line::NotJson(_)));
        assert!(matches!(parse_line(b"42"), Line::Scalar));
        assert!(matches!(
            parse_line(b"{\"a\":1,\"a\":2}"),
            Line::Ambiguous(_)
        ));
        let Line::Object(m) = parse_line(br#"{"method":"tools\/call","id":7}"#) else {
            panic!("object")
        };
        assert_eq!(m.method().as_deref(), Some("tools/call"));
        assert_eq!(m.get("id").map(|r| r.get()), Some("7"));
        let Line::Batch(v) = parse_line(br#"[{"id":1} , 2]"#) else {
            panic!("batch")
        };
        assert_eq!(v.len(), 2);
        assert!(matches!(parse_element(v[0]), Element::Object(_)));
        assert!(matches!(parse_element(v[1]), Element::Other));
        let Line::Batch(v) = parse_line(br#"[[{"id":1}]]"#) else {
            panic!("batch")
        };
        assert!(matches!(parse_element(v[0]), Element::Nested));
    }

    #[test]
    fn ids_keep_their_bytes_and_match_reserialized_numbers() {
        let id = raw("1.0");
        assert_eq!(id_key(&id), id_key(&raw("1")));
        assert_ne!(id_key(&raw("\"1\"")), id_key(&raw("1")));
        assert_eq!(id_key(&raw("null")), None);
        assert!(is_valid_id(&raw("\"x\"")) && is_valid_id(&raw("-3")));
        assert!(!is_valid_id(&raw("null")) && !is_valid_id(&raw("{}")));
        let r = tool_error_result(&raw("\"a\\u0041\""), "no\nway");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            r#"{"jsonrpc":"2.0","id":"a\u0041","result":{"content":[{"type":"text","text":"no\nway"}],"isError":true}}"#
        );
        let e = error_response(None, PARSE_ERROR, "bad");
        assert_eq!(
            String::from_utf8(e).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#
        );
        assert_eq!(batch(&[b"1", b"{}"]), b"[1,{}]");
    }
}
