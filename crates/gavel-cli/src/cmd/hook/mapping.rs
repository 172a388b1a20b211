//! From a tool call to the action string(s) the policy decides on.
//!
//! Cedar: the action is the tool name (`Action::"Bash"`,
//! `Action::"mcp__github__create_issue"`), one decision.
//!
//! YAML rules (the Agent Governance Toolkit's action vocabulary, so its example policy
//! works unchanged):
//!
//! | tool | action |
//! | --- | --- |
//! | `Bash` | `shell:<command line, surrounding white space trimmed>` |
//! | `Read` | `file:read:<path>` |
//! | `Write`, `Edit`, `MultiEdit` | `file:write:<file_path>` |
//! | `NotebookEdit` | `file:write:<notebook_path>` |
//! | `WebFetch` | `http:GET:<host>[:<port>]<path>` |
//! | `apply_patch` (Codex) | `file:write:<path>` for every file the patch adds, updates, deletes or moves to: one decision each |
//! | anything else | `tool:<name>` |
//!
//! Paths are made absolute against the event's `cwd` and normalized lexically (`.`,
//! `..` and repeated `/` removed), so `/workspace/../etc/shadow` decides as
//! `/etc/shadow`. A path starting with `~` is refused (the tool may expand it to a
//! home directory the policy never saw). Symbolic links are not resolved: the
//! path may not exist yet, and the policy decides on the path the agent named.
//!
//! URLs are parsed as a browser does (WHATWG URL Standard, the `url` crate): the host
//! is lowercased and IDNA-encoded, numeric IPv4 forms are normalized
//! (`http://2852039166/` is `169.254.169.254`), user info, query and fragment are left
//! out, dot segments in the path are resolved. Only `http` and `https` URLs are
//! accepted.
//!
//! A tool input that a mapped tool cannot be decided on (no `command` for `Bash`, a
//! `file_path` that is not a string, an unparsable URL) is an error, and the hook
//! denies.

use serde_json::{Map, Value};

/// The YAML-rule actions for a tool call (one or more; every one must be allowed).
pub fn yaml_actions(
    tool_name: &str,
    input: &Map<String, Value>,
    cwd: &str,
) -> Result<Vec<String>, String> {
    let path = |field: &str| -> Result<String, String> {
        match input.get(field) {
            Some(Value::String(p)) => {
                normalize_path(p, cwd).map_err(|e| format!("{tool_name} tool_input.{field}: {e}"))
            }
            Some(_) => Err(format!("{tool_name} tool_input.{field} must be a string")),
            None => Err(format!("{tool_name} tool_input has no {field}")),
        }
    };
    Ok(match tool_name {
        "Bash" => match input.get("command") {
            Some(Value::String(c)) if !c.trim().is_empty() => {
                vec![format!("shell:{}", c.trim())]
            }
            Some(Value::String(_)) => return Err("Bash tool_input.command is empty".into()),
            Some(_) => return Err("Bash tool_input.command must be a string".into()),
            None => return Err("Bash tool_input has no command".into()),
        },
        "Read" => vec![format!("file:read:{}", path("file_path")?)],
        "Write" | "Edit" | "MultiEdit" => vec![format!("file:write:{}", path("file_path")?)],
        "NotebookEdit" => vec![format!("file:write:{}", path("notebook_path")?)],
        "WebFetch" => match input.get("url") {
            Some(Value::String(u)) => vec![format!("http:GET:{}", url_target(u)?)],
            Some(_) => return Err("WebFetch tool_input.url must be a string".into()),
            None => return Err("WebFetch tool_input has no url".into()),
        },
        "apply_patch" => {
            let files = patch_files(input)
                .iter()
                .map(|p| {
                    normalize_path(p, cwd)
                        .map(|p| format!("file:write:{p}"))
                        .map_err(|e| format!("apply_patch file {p:?}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if files.is_empty() {
                vec!["tool:apply_patch".to_owned()]
            } else {
                files
            }
        }
        other => vec![format!("tool:{other}")],
    })
}

/// Makes `path` absolute against `cwd` and removes `.`, `..` and empty segments.
pub fn normalize_path(path: &str, cwd: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if path.starts_with('~') {
        return Err(format!(
            "path {path:?} starts with ~; gavel decides only on absolute or cwd-relative paths"
        ));
    }
    let joined;
    let full = if path.starts_with('/') {
        path
    } else {
        joined = format!("{cwd}/{path}");
        &joined
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in full.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `host[:port]/path` of an http(s) URL, as a browser would fetch it.
pub fn url_target(raw: &str) -> Result<String, String> {
    let u = url::Url::parse(raw.trim()).map_err(|e| format!("WebFetch url {raw:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "WebFetch url {raw:?}: only http and https URLs are decided on, not {}",
            u.scheme()
        ));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("WebFetch url {raw:?} has no host"))?;
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{host}{port}{}", u.path()))
}

/// The files an `apply_patch` patch touches, in patch order, from the first string
/// member of the tool input that holds a patch (`*** Begin Patch`).
fn patch_files(input: &Map<String, Value>) -> Vec<String> {
    let Some(patch) = ["command", "input", "patch"]
        .iter()
        .filter_map(|k| input.get(*k).and_then(Value::as_str))
        .find(|s| s.contains("*** Begin Patch"))
    else {
        return Vec::new();
    };
    let mut files: Vec<String> = Vec::new();
    for line in patch.lines() {
        let line = line.trim_end_matches('\r');
        for marker in [
            "*** Add File: ",
            "*** Update File: ",
            "*** Delete File: ",
            "*** Move to: ",
        ] {
            if let Some(p) = line.strip_prefix(marker) {
                let p = p.trim().to_owned();
                if !files.contains(&p) {
                    files.push(p);
                }
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_built_in_mapping() {
        let cases = [
            (
                "Bash",
                json!({"command": "  rm -rf /tmp/x \n"}),
                "shell:rm -rf /tmp/x",
            ),
            (
                "Read",
                json!({"file_path": "/workspace/x"}),
                "file:read:/workspace/x",
            ),
            ("Read", json!({"file_path": "src/../x"}), "file:read:/w/x"),
            (
                "Write",
                json!({"file_path": "/etc/shadow", "content": "x"}),
                "file:write:/etc/shadow",
            ),
            (
                "Edit",
                json!({"file_path": "/workspace/../etc/passwd"}),
                "file:write:/etc/passwd",
            ),
            (
                "NotebookEdit",
                json!({"notebook_path": "/tmp/n.ipynb"}),
                "file:write:/tmp/n.ipynb",
            ),
            (
                "WebFetch",
                json!({"url": "https://api.github.com/repos/x?q=1#f"}),
                "http:GET:api.github.com/repos/x",
            ),
            (
                "WebFetch",
                json!({"url": "http://169.254.169.254/latest/meta-data"}),
                "http:GET:169.254.169.254/latest/meta-data",
            ),
            (
                "WebFetch",
                json!({"url": "http://2852039166/x"}),
                "http:GET:169.254.169.254/x",
            ),
            (
                "WebFetch",
                json!({"url": "http://api.github.com@0xA9.0xFE.0xA9.0xFE:8080/a/../b"}),
                "http:GET:169.254.169.254:8080/b",
            ),
            (
                "mcp__github__create_issue",
                json!({"title": "x"}),
                "tool:mcp__github__create_issue",
            ),
        ];
        for (tool, input, want) in cases {
            assert_eq!(
                yaml_actions(tool, &obj(input), "/w").unwrap(),
                vec![want],
                "{tool}"
            );
        }
    }

    #[test]
    fn apply_patch_decides_every_file() {
        let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: /tmp/b\n+z\n*** Update File: c\n*** Move to: /etc/c\n*** End Patch";
        let got = yaml_actions("apply_patch", &obj(json!({"command": patch})), "/w").unwrap();
        assert_eq!(
            got,
            vec![
                "file:write:/w/src/a.rs",
                "file:write:/tmp/b",
                "file:write:/w/c",
                "file:write:/etc/c"
            ]
        );
        assert_eq!(
            yaml_actions("apply_patch", &obj(json!({"command": "ls"})), "/w").unwrap(),
            vec!["tool:apply_patch"]
        );
    }

    #[test]
    fn unusable_inputs_are_errors() {
        for (tool, input) in [
            ("Bash", json!({})),
            ("Bash", json!({"command": 1})),
            ("Bash", json!({"command": "   "})),
            ("Read", json!({"file_path": ["/x"]})),
            ("Read", json!({"file_path": "~/.ssh/id_rsa"})),
            ("Read", json!({"file_path": ""})),
            ("Write", json!({"path": "/x"})),
            ("WebFetch", json!({"url": "not a url"})),
            ("WebFetch", json!({"url": "file:///etc/passwd"})),
            ("WebFetch", json!({"url": null})),
        ] {
            assert!(
                yaml_actions(tool, &obj(input.clone()), "/w").is_err(),
                "{tool} {input}"
            );
        }
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_path("/", "/w").unwrap(), "/");
        assert_eq!(normalize_path("/../..", "/w").unwrap(), "/");
        assert_eq!(normalize_path("//a//./b/", "/w").unwrap(), "/a/b");
        assert_eq!(normalize_path("..", "/w/x").unwrap(), "/w");
    }
}
