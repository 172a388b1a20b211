//! YAML text -> a node tree that keeps what PyYAML would need to resolve plain
//! scalars (their style and tag) and where each node is, using the
//! `saphyr-parser` event stream. Scalars are resolved later ([`resolve`]) with
//! PyYAML's YAML 1.1 rules, refusing those that YAML 1.2 reads differently.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

/// At most this many nodes per file, aliases expanded (a "billion laughs" guard).
const MAX_NODES: usize = 1_000_000;
/// At most this many nested collections (later steps recurse).
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// 1-based line of the node's start.
    pub line: usize,
    /// 1-based column of the node's start.
    pub col: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar {
        text: String,
        /// Plain (unquoted, not a block scalar) and without an explicit tag:
        /// only these are resolved to non-strings.
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML problem with its position.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl YamlError {
    fn at(line: usize, col: usize, message: impl Into<String>) -> Self {
        YamlError {
            line: Some(line),
            col: Some(col),
            message: message.into(),
        }
    }
}

enum Frame {
    Seq {
        anchor: usize,
        line: usize,
        col: usize,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        line: usize,
        col: usize,
        pairs: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

fn check_tag(
    tag: Option<&Cow<'_, Tag>>,
    want: &str,
    line: usize,
    col: usize,
) -> Result<bool, YamlError> {
    match tag {
        None => Ok(false),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == want => Ok(true),
        Some(t) => Err(YamlError::at(
            line,
            col,
            format!(
                "YAML tag `{}{}` is not supported here (only `!!str` on scalars, `!!seq`, `!!map`); remove it and quote the value if it must be a string",
                if t.handle == "tag:yaml.org,2002:" {
                    "!!"
                } else {
                    t.handle.as_str()
                },
                t.suffix
            ),
        )),
    }
}

/// Parses one YAML stream into at most one document (`None` when the stream
/// has no document, like PyYAML's `safe_load` of an empty file).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            YamlError::at(
                e.marker().line(),
                e.marker().col() + 1,
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        let line = span.start.line();
        let col = span.start.col() + 1;
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::at(
                        line,
                        col,
                        "a second YAML document (`---`): PyYAML's safe_load (the AGT loader) refuses multi-document files; keep one document per file",
                    ));
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| {
                    YamlError::at(
                        line,
                        col,
                        "alias to an anchor that is not defined before it (or to its own node)",
                    )
                })?;
                nodes += count(&node);
                Some((Node { line, col, ..node }, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tagged_str = check_tag(tag.as_ref(), "str", line, col)?;
                nodes += 1;
                Some((
                    Node {
                        kind: NodeKind::Scalar {
                            text: value.into_owned(),
                            plain: style == ScalarStyle::Plain && !tagged_str,
                        },
                        line,
                        col,
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, tag) => {
                check_tag(tag.as_ref(), "seq", line, col)?;
                stack.push(Frame::Seq {
                    anchor,
                    line,
                    col,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                check_tag(tag.as_ref(), "map", line, col)?;
                stack.push(Frame::Map {
                    anchor,
                    line,
                    col,
                    pairs: Vec::new(),
                    pending_key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    anchor,
                    line,
                    col,
                    items,
                }) => {
                    nodes += 1;
                    Some((
                        Node {
                            kind: NodeKind::Seq(items),
                            line,
                            col,
                        },
                        anchor,
                    ))
                }
                _ => {
                    return Err(YamlError::at(
                        line,
                        col,
                        "invalid YAML: unbalanced sequence",
                    ));
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    anchor,
                    line,
                    col,
                    pairs,
                    pending_key: None,
                }) => {
                    nodes += 1;
                    Some((
                        Node {
                            kind: NodeKind::Map(pairs),
                            line,
                            col,
                        },
                        anchor,
                    ))
                }
                _ => return Err(YamlError::at(line, col, "invalid YAML: unbalanced mapping")),
            },
        };
        if stack.len() > MAX_DEPTH {
            return Err(YamlError::at(
                line,
                col,
                format!("collections nested more than {MAX_DEPTH} deep; flatten the file"),
            ));
        }
        if nodes > MAX_NODES {
            return Err(YamlError::at(
                line,
                col,
                format!(
                    "more than {MAX_NODES} YAML nodes once aliases are expanded; simplify the file"
                ),
            ));
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                pairs, pending_key, ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => pairs.push((key, node)),
            },
        }
    }
    Ok(root)
}

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| count(k) + count(v))
                .sum::<usize>()
        }
    }
}

/// What a scalar means.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

/// How PyYAML's resolver (YAML 1.1) reads a plain scalar.
#[derive(Debug, Clone, PartialEq)]
enum Yaml11 {
    Null,
    Bool(bool),
    Int(Option<i128>),
    Float(f64),
    Timestamp,
    Merge,
    Value,
    Str,
}

/// How a YAML 1.2 (core schema) reader reads a plain scalar.
#[derive(Debug, Clone, PartialEq)]
enum Yaml12 {
    Null,
    Bool(bool),
    Int(Option<i128>),
    Float(f64),
    Str,
}

/// Resolves a scalar the way PyYAML's `safe_load` does, and refuses a plain
/// scalar that YAML 1.2 (and so most other YAML tools) would read differently,
/// or that PyYAML turns into something gavel cannot compare (dates, `=`, `<<`,
/// non-finite floats, integers beyond 128 bits).
pub(crate) fn resolve(text: &str, plain: bool) -> Result<Scalar, String> {
    if !plain {
        return Ok(Scalar::Str(text.to_owned()));
    }
    let quote_hint = format!("quote it (\"{text}\") if you mean the string");
    let v11 = yaml11(text);
    let v12 = yaml12(text);
    let same = match (&v11, &v12) {
        (Yaml11::Null, Yaml12::Null) | (Yaml11::Str, Yaml12::Str) => true,
        (Yaml11::Bool(a), Yaml12::Bool(b)) => a == b,
        (Yaml11::Int(a), Yaml12::Int(b)) => a == b,
        (Yaml11::Float(a), Yaml12::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
        _ => false,
    };
    if !same {
        return Err(format!(
            "plain `{text}` is {} to PyYAML/AGT (YAML 1.1) but {} in YAML 1.2: ambiguous; {quote_hint}{}",
            describe11(&v11, text),
            describe12(&v12, text),
            match v11 {
                Yaml11::Int(_) | Yaml11::Float(_) => ", or write the number in plain decimal",
                _ => "",
            }
        ));
    }
    match v11 {
        Yaml11::Null => Ok(Scalar::Null),
        Yaml11::Bool(b) => Ok(Scalar::Bool(b)),
        Yaml11::Int(Some(i)) => Ok(Scalar::Int(i)),
        Yaml11::Int(None) => Err(format!(
            "integer `{text}` is too large (gavel supports 128-bit integers); {quote_hint}"
        )),
        Yaml11::Float(f) if f.is_finite() => Ok(Scalar::Float(f)),
        Yaml11::Float(_) => Err(format!(
            "`{text}` is not a finite number and cannot be compared with JSON values; {quote_hint}"
        )),
        Yaml11::Str => Ok(Scalar::Str(text.to_owned())),
        // Cannot happen: these never agree with YAML 1.2 (strings there).
        Yaml11::Timestamp | Yaml11::Merge | Yaml11::Value => {
            Err(format!("unsupported plain scalar `{text}`; {quote_hint}"))
        }
    }
}

fn describe11(v: &Yaml11, text: &str) -> String {
    match v {
        Yaml11::Null => "null (None)".into(),
        Yaml11::Bool(b) => format!("the boolean {}", if *b { "True" } else { "False" }),
        Yaml11::Int(Some(i)) => format!("the integer {i}"),
        Yaml11::Int(None) => "a huge integer".into(),
        Yaml11::Float(f) => format!("the float {}", super::pyvalue::float_repr(*f)),
        Yaml11::Timestamp => "a date/timestamp".into(),
        Yaml11::Merge => "a merge key (`<<`)".into(),
        Yaml11::Value => "a `=` value key (which safe_load rejects)".into(),
        Yaml11::Str => format!("the string \"{text}\""),
    }
}

fn describe12(v: &Yaml12, text: &str) -> String {
    match v {
        Yaml12::Null => "null".into(),
        Yaml12::Bool(b) => format!("the boolean {b}"),
        Yaml12::Int(Some(i)) => format!("the integer {i}"),
        Yaml12::Int(None) => "a huge integer".into(),
        Yaml12::Float(f) => format!("the float {}", super::pyvalue::float_repr(*f)),
        Yaml12::Str => format!("the string \"{text}\""),
    }
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(f)
}

fn strip_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// `(:[0-5]?[0-9])+` after a first part: the sexagesimal tail.
fn sexagesimal_tail(parts: &[&str]) -> bool {
    !parts.is_empty()
        && parts.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
}

fn is_digit_us(b: u8) -> bool {
    b.is_ascii_digit() || b == b'_'
}

/// `[0-9][0-9_]*`
fn dec_us(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_digit) && all(s, is_digit_us)
}

fn checked_radix(digits: &str, radix: u32, negative: bool) -> Option<i128> {
    let mut acc: i128 = 0;
    for c in digits.chars() {
        let d = i128::from(c.to_digit(radix)?);
        acc = acc.checked_mul(i128::from(radix))?.checked_add(d)?;
    }
    if negative {
        acc.checked_neg()
    } else {
        Some(acc)
    }
}

/// PyYAML 6.0 `Resolver` + `SafeConstructor` for a plain scalar.
fn yaml11(s: &str) -> Yaml11 {
    match s {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Yaml11::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Yaml11::Bool(false);
        }
        "~" | "null" | "Null" | "NULL" | "" => return Yaml11::Null,
        "<<" => return Yaml11::Merge,
        "=" => return Yaml11::Value,
        _ => {}
    }
    if let Some(f) = yaml11_float(s) {
        return Yaml11::Float(f);
    }
    if let Some(i) = yaml11_int(s) {
        return Yaml11::Int(i);
    }
    if yaml11_timestamp(s) {
        return Yaml11::Timestamp;
    }
    Yaml11::Str
}

fn yaml11_float(s: &str) -> Option<f64> {
    let (neg, body) = strip_sign(s);
    let signed = body.len() != s.len();
    let sign = if neg { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if !signed => return Some(f64::NAN),
        _ => {}
    }
    // exponent part `[eE][-+][0-9]+`
    let split_exp = |t: &str| -> Option<(String, String)> {
        match t.find(['e', 'E']) {
            None => Some((t.to_owned(), String::new())),
            Some(i) => {
                let (m, e) = t.split_at(i);
                let e = &e[1..];
                let eb = e.as_bytes();
                if eb.len() >= 2
                    && (eb[0] == b'-' || eb[0] == b'+')
                    && all(&e[1..], |b| b.is_ascii_digit())
                {
                    Some((m.to_owned(), format!("e{e}")))
                } else {
                    None
                }
            }
        }
    };
    if let Some(rest) = body.strip_prefix('.') {
        // `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` (no sign allowed)
        if signed {
            return None;
        }
        let (m, e) = split_exp(rest)?;
        if !dec_us(&m) {
            return None;
        }
        return format!("0.{}{e}", m.replace('_', "")).parse().ok();
    }
    let (int_part, frac) = body.split_once('.')?;
    if int_part.contains(':') {
        // `[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*`
        let parts: Vec<&str> = int_part.split(':').collect();
        if !dec_us(parts[0]) || !sexagesimal_tail(&parts[1..]) || !frac.bytes().all(is_digit_us) {
            return None;
        }
        let mut value = 0.0f64;
        let mut base = 1.0f64;
        let last = format!("{}.{}", parts[parts.len() - 1], frac).replace('_', "");
        let mut nums: Vec<f64> = parts[..parts.len() - 1]
            .iter()
            .map(|p| p.replace('_', "").parse::<f64>().unwrap_or(0.0))
            .collect();
        nums.push(last.parse::<f64>().unwrap_or(0.0));
        for d in nums.iter().rev() {
            value += d * base;
            base *= 60.0;
        }
        return Some(sign * value);
    }
    // `[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?`
    if !dec_us(int_part) {
        return None;
    }
    let (frac_digits, e) = split_exp(frac)?;
    if !frac_digits.bytes().all(is_digit_us) {
        return None;
    }
    let frac_digits = frac_digits.replace('_', "");
    let frac_digits = if frac_digits.is_empty() {
        "0".to_owned()
    } else {
        frac_digits
    };
    let text = format!("{}.{frac_digits}{e}", int_part.replace('_', ""));
    text.parse::<f64>().ok().map(|f| sign * f)
}

/// `Some(None)` when it is an integer too large for i128.
fn yaml11_int(s: &str) -> Option<Option<i128>> {
    let (neg, body) = strip_sign(s);
    if let Some(bin) = body.strip_prefix("0b") {
        if all(bin, |b| b == b'0' || b == b'1' || b == b'_') {
            return Some(checked_radix(&bin.replace('_', ""), 2, neg));
        }
        return None;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        if all(hex, |b| b.is_ascii_hexdigit() || b == b'_') {
            return Some(checked_radix(&hex.replace('_', ""), 16, neg));
        }
        return None;
    }
    if body == "0" {
        return Some(Some(0));
    }
    if body.len() > 1 && body.starts_with('0') {
        // `[-+]?0[0-7_]+`
        if all(&body[1..], |b| (b'0'..=b'7').contains(&b) || b == b'_') {
            return Some(checked_radix(&body.replace('_', ""), 8, neg));
        }
        return None;
    }
    if body.contains(':') {
        // `[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
        let parts: Vec<&str> = body.split(':').collect();
        let first = parts[0];
        let first_ok = first
            .as_bytes()
            .first()
            .is_some_and(|b| (b'1'..=b'9').contains(b))
            && all(first, is_digit_us);
        if !first_ok || !sexagesimal_tail(&parts[1..]) {
            return None;
        }
        let mut value: Option<i128> = Some(0);
        let mut base: Option<i128> = Some(1);
        for p in parts.iter().rev() {
            let d = checked_radix(&p.replace('_', ""), 10, false);
            value = match (value, d, base) {
                (Some(v), Some(d), Some(b)) => d.checked_mul(b).and_then(|x| v.checked_add(x)),
                _ => None,
            };
            base = base.and_then(|b| b.checked_mul(60));
        }
        return Some(value.and_then(|v| if neg { v.checked_neg() } else { Some(v) }));
    }
    // `[-+]?[1-9][0-9_]*`
    if body
        .as_bytes()
        .first()
        .is_some_and(|b| (b'1'..=b'9').contains(b))
        && all(body, is_digit_us)
    {
        return Some(checked_radix(&body.replace('_', ""), 10, neg));
    }
    None
}

fn yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0usize;
    // up to `max` digits, at least `min`
    let digits = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start >= min
    };
    let byte = |i: &mut usize, c: u8| -> bool {
        if b.get(*i) == Some(&c) {
            *i += 1;
            true
        } else {
            false
        }
    };
    // `[0-9]{4}-[0-9]{2}-[0-9]{2}`
    if b.len() == 10 && {
        let mut j = 0;
        digits(&mut j, 4, 4)
            && byte(&mut j, b'-')
            && digits(&mut j, 2, 2)
            && byte(&mut j, b'-')
            && digits(&mut j, 2, 2)
    } {
        return true;
    }
    // `[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?`
    if !(digits(&mut i, 4, 4)
        && byte(&mut i, b'-')
        && digits(&mut i, 1, 2)
        && byte(&mut i, b'-')
        && digits(&mut i, 1, 2))
    {
        return false;
    }
    if !(byte(&mut i, b'T') || byte(&mut i, b't')) {
        let start = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !(digits(&mut i, 1, 2)
        && byte(&mut i, b':')
        && digits(&mut i, 2, 2)
        && byte(&mut i, b':')
        && digits(&mut i, 2, 2))
    {
        return false;
    }
    if byte(&mut i, b'.') {
        digits(&mut i, 0, usize::MAX);
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i == b.len() {
        return true;
    }
    if byte(&mut i, b'Z') {
        return i == b.len();
    }
    if !(byte(&mut i, b'-') || byte(&mut i, b'+')) || !digits(&mut i, 1, 2) {
        return false;
    }
    if byte(&mut i, b':') && !digits(&mut i, 2, 2) {
        return false;
    }
    i == b.len()
}

/// The YAML 1.2 core schema.
fn yaml12(s: &str) -> Yaml12 {
    match s {
        "~" | "null" | "Null" | "NULL" | "" => return Yaml12::Null,
        "true" | "True" | "TRUE" => return Yaml12::Bool(true),
        "false" | "False" | "FALSE" => return Yaml12::Bool(false),
        _ => {}
    }
    let (neg, body) = strip_sign(s);
    let signed = body.len() != s.len();
    if all(body, |b| b.is_ascii_digit()) {
        return Yaml12::Int(checked_radix(body, 10, neg));
    }
    if !signed {
        if let Some(o) = s.strip_prefix("0o")
            && all(o, |b| (b'0'..=b'7').contains(&b))
        {
            return Yaml12::Int(checked_radix(o, 8, false));
        }
        if let Some(h) = s.strip_prefix("0x")
            && all(h, |b| b.is_ascii_hexdigit())
        {
            return Yaml12::Int(checked_radix(h, 16, false));
        }
        if matches!(s, ".nan" | ".NaN" | ".NAN") {
            return Yaml12::Float(f64::NAN);
        }
    }
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Yaml12::Float(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mant_ok = if let Some(frac) = mant.strip_prefix('.') {
        all(frac, |b| b.is_ascii_digit())
    } else {
        match mant.split_once('.') {
            Some((i, f)) => all(i, |b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit()),
            None => all(mant, |b| b.is_ascii_digit()),
        }
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        all(e, |b| b.is_ascii_digit())
    });
    if mant_ok && exp_ok {
        if let Ok(f) = s.parse::<f64>() {
            return Yaml12::Float(f);
        }
        // Rust does not parse "1." with an exponent etc.; rebuild.
        let fixed = s.replace(".e", ".0e").replace(".E", ".0E");
        if let Ok(f) = fixed.parse::<f64>() {
            return Yaml12::Float(f);
        }
    }
    Yaml12::Str
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Scalar {
        match resolve(s, true) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn ambiguous(s: &str) -> String {
        match resolve(s, true) {
            Ok(v) => panic!("{s} resolved to {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn unambiguous_plain_scalars_resolve_like_pyyaml() {
        assert_eq!(ok("abc"), Scalar::Str("abc".into()));
        assert_eq!(ok("shell:ls"), Scalar::Str("shell:ls".into()));
        assert_eq!(ok("12"), Scalar::Int(12));
        assert_eq!(ok("-7"), Scalar::Int(-7));
        assert_eq!(ok("+7"), Scalar::Int(7));
        assert_eq!(ok("0"), Scalar::Int(0));
        assert_eq!(ok("0x1F"), Scalar::Int(31));
        assert_eq!(ok("1.5"), Scalar::Float(1.5));
        assert_eq!(ok("-2.0"), Scalar::Float(-2.0));
        assert_eq!(ok("1."), Scalar::Float(1.0));
        assert_eq!(ok(".5"), Scalar::Float(0.5));
        assert_eq!(ok("1.0e+3"), Scalar::Float(1000.0));
        assert_eq!(ok("1.0e-05"), Scalar::Float(1e-5));
        assert_eq!(ok("true"), Scalar::Bool(true));
        assert_eq!(ok("FALSE"), Scalar::Bool(false));
        assert_eq!(ok("~"), Scalar::Null);
        assert_eq!(ok("null"), Scalar::Null);
        assert_eq!(ok(""), Scalar::Null);
        assert_eq!(ok("tRUE"), Scalar::Str("tRUE".into()));
        // `y`/`n` are booleans in the YAML 1.1 spec, but strings to PyYAML and YAML 1.2
        assert_eq!(ok("n"), Scalar::Str("n".into()));
        assert_eq!(ok("Y"), Scalar::Str("Y".into()));
        assert_eq!(ok("2024-05:x"), Scalar::Str("2024-05:x".into()));
        assert_eq!(
            ok("170141183460469231731687303715884105727"),
            Scalar::Int(i128::MAX)
        );
        assert_eq!(resolve("yes", false), Ok(Scalar::Str("yes".into())));
        assert_eq!(resolve("012", false), Ok(Scalar::Str("012".into())));
    }

    #[test]
    fn yaml_1_1_versus_1_2_ambiguities_are_refused() {
        for s in ["yes", "No", "on", "OFF"] {
            let e = ambiguous(s);
            assert!(e.contains("quote it"), "{e}");
        }
        assert_eq!(
            ambiguous("yes"),
            "plain `yes` is the boolean True to PyYAML/AGT (YAML 1.1) but the string \"yes\" in YAML 1.2: ambiguous; quote it (\"yes\") if you mean the string"
        );
        assert!(
            ambiguous("012")
                .contains("the integer 10 to PyYAML/AGT (YAML 1.1) but the integer 12 in YAML 1.2")
        );
        assert!(ambiguous("1e3").contains(
            "the string \"1e3\" to PyYAML/AGT (YAML 1.1) but the float 1000.0 in YAML 1.2"
        ));
        assert!(ambiguous("1.0e3").contains("but the float 1000.0"));
        assert!(ambiguous("1:30").contains("the integer 90 to PyYAML"));
        assert!(ambiguous("1:30.5").contains("the float 90.5 to PyYAML"));
        assert!(ambiguous("1_000").contains("the integer 1000 to PyYAML"));
        assert!(ambiguous("0b101").contains("the integer 5 to PyYAML"));
        assert!(ambiguous("0o17").contains("the string \"0o17\" to PyYAML"));
        assert!(ambiguous("08").contains("the string \"08\" to PyYAML"));
        assert!(ambiguous("-.5").contains("the string \"-.5\" to PyYAML"));
        assert!(ambiguous("2001-12-14").contains("a date/timestamp"));
        assert!(ambiguous("2001-12-14 21:59:43.10 -5").contains("a date/timestamp"));
        assert!(ambiguous("<<").contains("merge key"));
        assert!(ambiguous("=").contains("`=`"));
        assert!(ambiguous(".inf").contains("not a finite number"));
        assert!(ambiguous(".nan").contains("not a finite number"));
        assert!(ambiguous("170141183460469231731687303715884105728").contains("too large"));
    }

    #[test]
    fn parses_styles_positions_and_aliases() {
        let doc = parse("a: &x [1, 'q']\nb: *x\nc: !!str 12\n").ok().flatten();
        let Some(Node {
            kind: NodeKind::Map(pairs),
            ..
        }) = doc
        else {
            panic!("not a map")
        };
        assert_eq!(pairs.len(), 3);
        let (k, v) = &pairs[1];
        assert_eq!((k.line, k.col), (2, 1));
        assert!(matches!(&v.kind, NodeKind::Seq(items) if items.len() == 2));
        assert!(
            matches!(&pairs[2].1.kind, NodeKind::Scalar { text, plain: false } if text == "12")
        );
        assert!(parse("").ok().flatten().is_none());
        assert!(parse("# only a comment\n").ok().flatten().is_none());
        let e = parse("a: 1\n---\nb: 2\n")
            .err()
            .map(|e| (e.line, e.message));
        assert!(matches!(e, Some((Some(2), m)) if m.contains("multi-document")));
        let e = parse("a: [1\nb: 2\n").err().map(|e| e.line);
        assert_eq!(e, Some(Some(2)));
        assert!(parse("a: &x [1, *x]\n").is_err());
        assert!(
            parse("a: !!int 1\n")
                .err()
                .is_some_and(|e| e.message.contains("`!!int`"))
        );
        // billion laughs
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        assert!(
            parse(&bomb)
                .err()
                .is_some_and(|e| e.message.contains("aliases are expanded"))
        );
    }
}
