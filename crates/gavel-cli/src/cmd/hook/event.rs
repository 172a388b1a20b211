//! Reading the hook event: stdin with a size cap, strict JSON, and the fields a
//! decision needs, each checked for presence and type.

use std::io::{self, Read};

use gavel_receipt::jcs::json_kind;
use serde_json::{Map, Value};

/// Largest event gavel reads (1 MiB). A larger one is denied.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// How much of an oversized event gavel reads and throws away before answering, so
/// that the agent's write to our stdin completes (Codex treats a failed stdin write as
/// a failed hook, and a failed hook lets the tool run).
const MAX_DRAIN_BYTES: u64 = 1 << 30;

/// Reads the whole event, at most `cap` bytes. Over the cap, the rest of stdin is
/// drained (up to 1 GiB, never kept in memory) and an error says how large it was.
pub fn read_capped(r: &mut impl Read, cap: usize) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    r.by_ref()
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read the hook event on stdin: {e}"))?;
    if buf.len() <= cap {
        return Ok(buf);
    }
    let drained = io::copy(&mut r.by_ref().take(MAX_DRAIN_BYTES), &mut io::sink()).unwrap_or(0);
    Err(format!(
        "the hook event is larger than {cap} bytes ({} bytes or more read); gavel does not decide on events that large",
        buf.len() as u64 + drained
    ))
}

/// The hook events gavel knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventName {
    /// Before a tool runs: gavel decides.
    PreToolUse,
    /// After a tool ran successfully: gavel records.
    PostToolUse,
    /// After a tool failed (Claude Code): gavel records.
    PostToolUseFailure,
    /// Anything else: gavel answers nothing.
    Other(String),
}

/// A parsed hook event.
#[derive(Debug)]
pub struct Event {
    /// `hook_event_name`.
    pub name: EventName,
    /// The whole event object.
    pub fields: Map<String, Value>,
}

/// Names of context members the hook sets itself; a tool input may not carry them.
pub const RESERVED_CONTEXT_KEYS: [&str; 3] = ["session_id", "cwd", "agent_did"];

/// Parses the event: strict JSON (duplicate member names are refused, nesting is
/// bounded), an object with a string `hook_event_name`.
pub fn parse(bytes: &[u8]) -> Result<Event, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the hook event on stdin is empty".into());
    }
    let value = gavel_receipt::jcs::parse_strict(bytes)
        .map_err(|e| format!("the hook event is not valid JSON ({e})"))?;
    let Value::Object(fields) = value else {
        return Err(format!(
            "the hook event must be a JSON object, not {}",
            json_kind(&value)
        ));
    };
    let name = match fields.get("hook_event_name") {
        Some(Value::String(s)) => match s.as_str() {
            "PreToolUse" => EventName::PreToolUse,
            "PostToolUse" => EventName::PostToolUse,
            "PostToolUseFailure" => EventName::PostToolUseFailure,
            other => EventName::Other(other.to_owned()),
        },
        Some(other) => {
            return Err(format!(
                "hook_event_name must be a string, not {}",
                json_kind(other)
            ));
        }
        None => return Err("the hook event has no hook_event_name".into()),
    };
    Ok(Event { name, fields })
}

/// What a PreToolUse decision needs, every field present and of the right type.
#[derive(Debug)]
pub struct ToolCall<'a> {
    /// `session_id`.
    pub session_id: &'a str,
    /// `cwd`, an absolute path.
    pub cwd: &'a str,
    /// `tool_name`.
    pub tool_name: &'a str,
    /// `tool_input`, an object.
    pub tool_input: &'a Map<String, Value>,
    /// `tool_use_id`.
    pub tool_use_id: &'a str,
}

/// Longest tool name or tool use id accepted.
const MAX_NAME_BYTES: usize = 1024;

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match fields.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{name} must be a string, not {}", json_kind(other))),
        None => Err(format!("the hook event has no {name}")),
    }
}

fn name_like<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    let s = string(fields, name)?;
    if s.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(format!("{name} is longer than {MAX_NAME_BYTES} bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{name} contains control characters"));
    }
    Ok(s)
}

impl Event {
    /// The fields of a tool call, or why they are unusable.
    pub fn tool_call(&self) -> Result<ToolCall<'_>, String> {
        let f = &self.fields;
        let session_id = string(f, "session_id")?;
        let cwd = string(f, "cwd")?;
        if !cwd.starts_with('/') {
            return Err(format!("cwd must be an absolute path, not {cwd:?}"));
        }
        let tool_name = name_like(f, "tool_name")?;
        let tool_use_id = name_like(f, "tool_use_id")?;
        let tool_input = match f.get("tool_input") {
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(format!(
                    "tool_input must be an object, not {}",
                    json_kind(other)
                ));
            }
            None => return Err("the hook event has no tool_input".into()),
        };
        if let Some(k) = RESERVED_CONTEXT_KEYS
            .iter()
            .find(|k| tool_input.contains_key(**k))
        {
            return Err(format!(
                "tool_input has a member {k:?}, which gavel reserves for the hook's own value"
            ));
        }
        Ok(ToolCall {
            session_id,
            cwd,
            tool_name,
            tool_input,
            tool_use_id,
        })
    }

    /// A string field, when present and a string.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_is_enforced_and_the_rest_drained() {
        let data = vec![b'x'; 100];
        let mut r = io::Cursor::new(data.clone());
        assert_eq!(read_capped(&mut r, 100).unwrap(), data);
        let mut r = io::Cursor::new(vec![b'x'; 250]);
        let e = read_capped(&mut r, 100).unwrap_err();
        assert!(e.contains("larger than 100 bytes"), "{e}");
        assert!(e.contains("250 bytes"), "{e}");
        assert_eq!(r.position(), 250, "stdin drained");
    }

    #[test]
    fn strict_parse() {
        assert!(parse(b"").is_err());
        assert!(parse(b"  \n").is_err());
        assert!(parse(b"[]").unwrap_err().contains("object"));
        assert!(parse(br#"{"hook_event_name":1}"#).is_err());
        assert!(parse(br#"{"hook_event_name":"PreToolUse","hook_event_name":"Stop"}"#).is_err());
        let e = parse(br#"{"hook_event_name":"Stop"}"#).unwrap();
        assert_eq!(e.name, EventName::Other("Stop".into()));
    }

    #[test]
    fn tool_call_fields_are_checked() {
        let ok = br#"{"hook_event_name":"PreToolUse","session_id":"s","cwd":"/w","tool_name":"Read","tool_input":{"file_path":"/w/x"},"tool_use_id":"t"}"#;
        let e = parse(ok).unwrap();
        let c = e.tool_call().unwrap();
        assert_eq!((c.tool_name, c.cwd, c.tool_use_id), ("Read", "/w", "t"));
        for (bad, why) in [
            (r#""cwd":"/w""#, r#""cwd":"w""#),
            (r#""tool_name":"Read""#, r#""tool_name":"""#),
            (r#""tool_name":"Read""#, r#""tool_name":"Re\nad""#),
            (
                r#""tool_input":{"file_path":"/w/x"}"#,
                r#""tool_input":"x""#,
            ),
            (
                r#""tool_input":{"file_path":"/w/x"}"#,
                r#""tool_input":{"cwd":"/"}"#,
            ),
            (r#""session_id":"s","#, ""),
        ] {
            let text = String::from_utf8_lossy(ok).replace(bad, why);
            let e = parse(text.as_bytes()).unwrap();
            assert!(e.tool_call().is_err(), "{text}");
        }
    }
}
