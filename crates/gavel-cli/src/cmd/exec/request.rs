//! The policy request of `gavel exec`: action, context, Cedar resource, receipt tool name.

use std::ffi::OsString;
use std::path::Path;

use serde_json::{Map, Value, json};

/// Context keys that gavel fills in itself; `--context` may not set them, so that an
/// agent cannot describe its command to the policy differently from what runs.
pub const GAVEL_CONTEXT_KEYS: [&str; 5] = ["command", "argv", "executable", "cwd", "uid"];

/// What is decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    /// `shell:<basename of the program as given>`.
    pub action: String,
    /// `--context` plus `command`, `argv`, `executable` (when it resolves), `cwd`, `uid`.
    pub context: Map<String, Value>,
    /// The receipt's `tool_name` and the Cedar `Agent::Executable` id: the resolved
    /// path, or the program as given when it does not resolve.
    pub tool_name: String,
}

fn lossy(s: &std::ffi::OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// The base name of the program as given (`/usr/bin/cat` and `cat` are both `cat`);
/// the whole string when it has no base name (`..`, `/`).
pub fn program_basename(program: &std::ffi::OsStr) -> String {
    Path::new(program)
        .file_name()
        .map(lossy)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| lossy(program))
}

impl ExecRequest {
    /// The request as Cedar sees it: the resolved path is the resource
    /// (`Agent::Executable::"<path>"`, attribute `path`), so `executable` leaves the
    /// context, whose shape is then exactly `exec`'s in cedar-agent-schemas (`command`,
    /// `argv`, `cwd`, `uid`): a schema-validated request would refuse the extra key.
    pub fn for_cedar(mut self) -> Self {
        self.context.remove("executable");
        self
    }
}

/// Builds the request. `user` is the `--context` object; it must not hold any of
/// [`GAVEL_CONTEXT_KEYS`].
pub fn build(
    command: &[OsString],
    resolved: Option<&Path>,
    cwd: &Path,
    uid: u32,
    mut user: Map<String, Value>,
) -> Result<ExecRequest, String> {
    let Some(program) = command.first() else {
        return Err("no command given after `--`".into());
    };
    if let Some(k) = GAVEL_CONTEXT_KEYS.iter().find(|k| user.contains_key(**k)) {
        return Err(format!(
            "--context sets {k:?}, which gavel fills in itself from the command line ({}); remove it",
            GAVEL_CONTEXT_KEYS.join(", ")
        ));
    }
    let argv: Vec<String> = command.iter().map(|a| lossy(a)).collect();
    user.insert("command".into(), json!(argv.join(" ")));
    user.insert("argv".into(), json!(argv));
    if let Some(exe) = resolved {
        user.insert("executable".into(), json!(lossy(exe.as_os_str())));
    }
    user.insert("cwd".into(), json!(lossy(cwd.as_os_str())));
    user.insert("uid".into(), json!(uid));
    Ok(ExecRequest {
        action: format!("shell:{}", program_basename(program)),
        context: user,
        tool_name: resolved.map_or_else(|| lossy(program), |p| lossy(p.as_os_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn action_is_the_basename_as_given() {
        for (given, action) in [
            ("cat", "shell:cat"),
            ("/usr/bin/cat", "shell:cat"),
            ("./bin/rm", "shell:rm"),
            ("dir/", "shell:dir"),
            ("..", "shell:.."),
        ] {
            let r = build(&os(&[given]), None, Path::new("/w"), 0, Map::new()).unwrap();
            assert_eq!(r.action, action, "{given}");
            assert_eq!(r.tool_name, given, "unresolved: the name as asked");
        }
    }

    #[test]
    fn context_has_the_command_line_and_where() {
        let mut user = Map::new();
        user.insert("agent_did".into(), json!("did:x"));
        let r = build(
            &os(&["cat", "a b", "c"]),
            Some(Path::new("/usr/bin/cat")),
            Path::new("/w"),
            1000,
            user,
        )
        .unwrap();
        assert_eq!(
            Value::Object(r.context),
            json!({"agent_did": "did:x", "command": "cat a b c", "argv": ["cat", "a b", "c"],
                   "executable": "/usr/bin/cat", "cwd": "/w", "uid": 1000})
        );
        assert_eq!(r.tool_name, "/usr/bin/cat");
        let r = build(&os(&["nope"]), None, Path::new("/w"), 0, Map::new()).unwrap();
        assert!(
            !r.context.contains_key("executable"),
            "absent when it does not resolve"
        );
    }

    #[test]
    fn cedar_sees_the_executable_as_the_resource_only() {
        let r = build(
            &os(&["cat", "x"]),
            Some(Path::new("/usr/bin/cat")),
            Path::new("/w"),
            0,
            Map::new(),
        )
        .unwrap()
        .for_cedar();
        assert!(!r.context.contains_key("executable"));
        assert_eq!(r.tool_name, "/usr/bin/cat");
        assert_eq!(r.context["argv"], json!(["cat", "x"]));
    }

    #[test]
    fn context_may_not_set_what_gavel_fills_in() {
        for k in GAVEL_CONTEXT_KEYS {
            let mut user = Map::new();
            user.insert(k.into(), json!("ls"));
            let e = build(&os(&["rm"]), None, Path::new("/w"), 0, user).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
        assert!(build(&[], None, Path::new("/w"), 0, Map::new()).is_err());
    }
}
