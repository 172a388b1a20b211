//! `gavel hook install` / `uninstall`: gavel's entry in the agent's hook settings.
//!
//! | agent | `--scope project` (default) | `--scope user` |
//! | --- | --- | --- |
//! | `claude-code` | `<project>/.claude/settings.json` | `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json` |
//! | `codex` | `<project>/.codex/hooks.json` | `$CODEX_HOME/hooks.json`, else `~/.codex/hooks.json` |
//!
//! `--settings FILE` names the file directly. Both files have the same shape:
//! `{"hooks": {"<Event>": [{"matcher": "*", "hooks": [{"type": "command",
//! "command": "...", "timeout": 30}]}]}}`. gavel adds one matcher group per event
//! (Claude Code: `PreToolUse`, `PostToolUse`, `PostToolUseFailure`; Codex:
//! `PreToolUse`, `PostToolUse`).
//!
//! - Merge: everything else in the file stays as it was, byte for byte (formatting
//!   included). The edit is checked: the new file must parse to exactly the intended
//!   value, or nothing is written.
//! - gavel's entry is a command handler whose command contains ` hook fail-closed`
//!   (the fallback every installed command ends with). Installing again replaces it
//!   (one entry per event, however often it is installed); uninstall removes only
//!   such handlers, and a matcher group or event list only when removing gavel's
//!   handler left it empty.
//! - A file that is not strict JSON (syntax error, duplicate member names) or not
//!   shaped like hook settings is refused with one line, and nothing is written.
//! - Before a change, the previous file is copied to
//!   `<file>.gavel-backup-<UTC timestamp>`; the new file replaces the old one
//!   atomically (a symbolic link is followed, not replaced). No change, no write.
//! - The command uses absolute paths: the gavel executable, the state directory, the
//!   policy, and the key and receipts directory when given.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use gavel::StateDir;
use gavel::store::ReceiptStore;
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstObject, CstRootNode};
use serde_json::{Map, Value, json};

use super::Agent;
use crate::cmd::common::{PolicyArgs, SignArgs, operator_key};
use crate::failure::{CmdResult, Failure};

/// What marks a handler as gavel's.
pub const MARKER: &str = " hook fail-closed";

/// Where the settings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// The project's settings (`.claude/settings.json`, `.codex/hooks.json`).
    Project,
    /// The user's settings (`~/.claude/settings.json`, `~/.codex/hooks.json`).
    User,
}

/// Which settings file.
#[derive(Debug, Args)]
pub struct Target {
    /// The agent: claude-code or codex.
    #[arg(long, value_enum)]
    pub agent: Agent,
    /// project (the project's settings) or user (your own).
    #[arg(long, value_enum, default_value = "project")]
    pub scope: Scope,
    /// The project directory for --scope project (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Edit this settings file instead of the agent's default for the scope.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
}

/// `gavel hook install`
#[derive(Debug, Args)]
#[command(mut_arg("sandbox_backend", |a| a.default_value("none")))]
pub struct InstallArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub sign: SignArgs,
    /// The agent_did receipts name (default: did:gavel:<agent>).
    #[arg(long, value_name = "DID", value_parser = super::non_empty)]
    pub agent_did: Option<String>,
    /// Seconds the agent waits for the hook (when a hook times out, the agents let the
    /// tool run).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub timeout: u32,
}

/// `gavel hook uninstall`
#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub target: Target,
}

fn events(agent: Agent) -> &'static [&'static str] {
    match agent {
        Agent::ClaudeCode => &["PreToolUse", "PostToolUse", "PostToolUseFailure"],
        Agent::Codex => &["PreToolUse", "PostToolUse"],
    }
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn absolute(p: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(p).map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))
}

/// The settings file `t` names.
fn settings_path(t: &Target) -> Result<PathBuf, Failure> {
    if let Some(f) = &t.settings {
        return absolute(f);
    }
    let file = match t.agent {
        Agent::ClaudeCode => "settings.json",
        Agent::Codex => "hooks.json",
    };
    let dir = match t.scope {
        Scope::Project => {
            let project = match &t.project_dir {
                Some(d) => absolute(d)?,
                None => std::env::current_dir().map_err(|e| {
                    Failure::bad_input(format!("cannot read the current directory: {e}"))
                })?,
            };
            project.join(match t.agent {
                Agent::ClaudeCode => ".claude",
                Agent::Codex => ".codex",
            })
        }
        Scope::User => {
            let (var, sub) = match t.agent {
                Agent::ClaudeCode => ("CLAUDE_CONFIG_DIR", ".claude"),
                Agent::Codex => ("CODEX_HOME", ".codex"),
            };
            match env_dir(var) {
                Some(d) => absolute(&d)?,
                None => env_dir("HOME")
                    .ok_or_else(|| {
                        Failure::bad_input(format!(
                            "--scope user needs $HOME (or ${var}); or name the file with --settings"
                        ))
                    })?
                    .join(sub),
            }
        }
    };
    Ok(dir.join(file))
}

/// One shell word. Single quotes work alike in sh, bash, zsh and fish; a path that
/// would need escaping is refused instead.
fn quote(what: &str, s: &str) -> Result<String, Failure> {
    if s.is_empty() || s.contains('\'') || s.contains('\\') || s.chars().any(char::is_control) {
        return Err(Failure::bad_input(format!(
            "{what} {s:?} cannot be written into a hook command (empty, or a quote, backslash or control character); use another path"
        )));
    }
    Ok(format!("'{s}'"))
}

fn path_word(what: &str, p: &Path) -> Result<String, Failure> {
    let s = p
        .to_str()
        .ok_or_else(|| Failure::bad_input(format!("{what} {} is not UTF-8", p.display())))?;
    quote(what, s)
}

/// The command the agent runs: `<gavel> --state-dir S hook ... || <gavel> hook
/// fail-closed || exit 2`.
fn hook_command(state: &StateDir, a: &InstallArgs) -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .and_then(fs::canonicalize)
        .map_err(|e| Failure::bad_input(format!("cannot locate the gavel executable: {e}")))?;
    let exe = path_word("the gavel executable", &exe)?;
    let state_dir = absolute(state.root())?;
    let policy = fs::canonicalize(a.policy.path())
        .map_err(|e| Failure::bad_input(format!("policy {}: {e}", a.policy.path().display())))?;
    let mut words = vec![
        exe.clone(),
        "--state-dir".into(),
        path_word("the state directory", &state_dir)?,
        "hook".into(),
        "--agent".into(),
        a.target.agent.name().into(),
        if a.policy.policy_dir.is_some() {
            "--policy-dir"
        } else {
            "--policy"
        }
        .into(),
        path_word("the policy", &policy)?,
        "--sandbox-backend".into(),
        a.sign.sandbox_backend.as_str().into(),
        "--trust-threshold".into(),
        format!("{}", a.sign.trust_threshold),
    ];
    if let Some(k) = &a.sign.key {
        let k = fs::canonicalize(k)
            .map_err(|e| Failure::bad_input(format!("key {}: {e}", k.display())))?;
        words.extend(["--key".into(), path_word("the key", &k)?]);
    }
    if let Some(r) = &a.sign.receipts_dir {
        words.extend([
            "--receipts-dir".into(),
            path_word("the receipts directory", &absolute(r)?)?,
        ]);
    }
    if let Some(n) = a.sign.ring {
        words.extend(["--ring".into(), n.to_string()]);
    }
    if let Some(d) = &a.agent_did {
        words.extend(["--agent-did".into(), quote("--agent-did", d)?]);
    }
    Ok(format!("{} || {exe}{MARKER} || exit 2", words.join(" ")))
}

pub fn install(state: &StateDir, a: &InstallArgs) -> CmdResult {
    // The hook would deny every tool call with a policy it cannot load: refuse now.
    let policy = a.policy.load()?;
    let command = hook_command(state, a)?;
    let path = settings_path(&a.target)?;
    let (path, old) = read_settings(&path)?;
    let handler = json!({"type": "command", "command": command, "timeout": a.timeout});
    // Validates the settings file before anything is created.
    let new = edit(
        old.as_deref(),
        events(a.target.agent),
        Some(&handler),
        &path,
    )?;
    // The key the hook will sign with (created now when it is the state directory's
    // and missing), and a receipts directory it can continue.
    let key = operator_key(state, a.sign.key.as_ref())?;
    let receipts = a.sign.receipts_dir_in(state);
    if let Some(tip) = ReceiptStore::new(&receipts).tip()?
        && tip.issuer != key.kid()
    {
        return Err(Failure::bad_input(format!(
            "receipts directory {} holds a chain signed by {}, but the hook's key is {}: pass its key with --key, or another --receipts-dir",
            receipts.display(),
            tip.issuer,
            key.kid()
        )));
    }
    let events_list = events(a.target.agent).join(", ");
    match new {
        None => println!(
            "gavel: the {} hook is already installed in {} ({events_list}); nothing changed",
            a.target.agent.name(),
            path.display()
        ),
        Some(text) => {
            let backup = write_with_backup(&path, old.as_deref(), &text)?;
            println!(
                "gavel: installed the {} hook in {} ({events_list}), policy {} ({} engine)",
                a.target.agent.name(),
                path.display(),
                a.policy.path().display(),
                policy.engine()
            );
            if let Some(b) = backup {
                println!("gavel: the previous file is saved as {}", b.display());
            }
        }
    }
    println!("gavel: hook command: {command}");
    if a.target.agent == Agent::Codex {
        println!(
            "gavel: Codex runs a new or changed hook only after you review and trust it (/hooks in Codex); project hooks load only in a trusted project"
        );
    }
    Ok(0)
}

pub fn uninstall(a: &UninstallArgs) -> CmdResult {
    let path = settings_path(&a.target)?;
    let (path, old) = read_settings(&path)?;
    let Some(old) = old else {
        println!(
            "gavel: no settings file at {}; nothing to uninstall",
            path.display()
        );
        return Ok(0);
    };
    match edit(Some(&old), events(a.target.agent), None, &path)? {
        None => println!(
            "gavel: no gavel hook in {}; nothing changed",
            path.display()
        ),
        Some(text) => {
            let backup = write_with_backup(&path, Some(&old), &text)?;
            println!("gavel: removed the gavel hook from {}", path.display());
            if let Some(b) = backup {
                println!("gavel: the previous file is saved as {}", b.display());
            }
        }
    }
    Ok(0)
}

/// The settings file (its symbolic link followed) and its text, `None` when absent.
fn read_settings(path: &Path) -> Result<(PathBuf, Option<String>), Failure> {
    let path = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => return Err(Failure::bad_input(format!("{}: {e}", path.display()))),
    };
    match fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(|t| (path.clone(), Some(t)))
            .map_err(|_| {
                Failure::bad_input(format!(
                    "{} is not UTF-8 text; fix it first, nothing was changed",
                    path.display()
                ))
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((path, None)),
        Err(e) => Err(Failure::bad_input(format!(
            "{}: {e}; nothing was changed",
            path.display()
        ))),
    }
}

fn is_gavel_handler(h: &Value) -> bool {
    h.get("command")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains(MARKER))
}

/// Removes gavel's handlers for `events` from the settings value; drops a matcher
/// group (and, with `prune`, an event list or the hooks object) that this left empty.
/// Returns how many handlers were removed.
fn remove_value(root: &mut Map<String, Value>, events: &[&str], prune: bool) -> usize {
    let Some(Value::Object(hooks)) = root.get_mut("hooks") else {
        return 0;
    };
    let mut removed = 0;
    for ev in events {
        let Some(Value::Array(groups)) = hooks.get_mut(*ev) else {
            continue;
        };
        let mut here = 0;
        groups.retain_mut(|g| {
            let Some(Value::Array(handlers)) = g.get_mut("hooks") else {
                return true;
            };
            let before = handlers.len();
            handlers.retain(|h| !is_gavel_handler(h));
            let n = before - handlers.len();
            here += n;
            !(n > 0 && handlers.is_empty())
        });
        removed += here;
        if prune && here > 0 && groups.is_empty() {
            hooks.remove(*ev);
        }
    }
    if prune && removed > 0 && hooks.is_empty() {
        root.remove("hooks");
    }
    removed
}

fn cst_value(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(cst_value).collect()),
        Value::Object(m) => {
            CstInputValue::Object(m.iter().map(|(k, v)| (k.clone(), cst_value(v))).collect())
        }
    }
}

/// The same removal as [`remove_value`], on the concrete syntax tree.
fn remove_cst(root: &CstObject, events: &[&str], prune: bool) {
    let Some(hooks) = root.object_value("hooks") else {
        return;
    };
    let mut removed = 0;
    for ev in events {
        let Some(groups) = hooks.array_value(ev) else {
            continue;
        };
        let mut here = 0;
        for g in groups.elements() {
            let Some(handlers) = g.as_object().and_then(|o| o.array_value("hooks")) else {
                continue;
            };
            let mut n = 0;
            for h in handlers.elements() {
                let ours = h
                    .as_object()
                    .and_then(|o| o.get("command"))
                    .and_then(|p| p.value())
                    .and_then(|v| v.as_string_lit())
                    .and_then(|s| s.decoded_value().ok())
                    .is_some_and(|c| c.contains(MARKER));
                if ours {
                    h.remove();
                    n += 1;
                }
            }
            here += n;
            if n > 0 && handlers.elements().is_empty() {
                g.remove();
            }
        }
        removed += here;
        if prune
            && here > 0
            && groups.elements().is_empty()
            && let Some(p) = hooks.get(ev)
        {
            p.remove();
        }
    }
    if prune
        && removed > 0
        && hooks.properties().is_empty()
        && let Some(p) = root.get("hooks")
    {
        p.remove();
    }
}

fn shape_error(path: &Path, what: &str) -> Failure {
    Failure::bad_input(format!(
        "{} is not hook settings gavel can edit ({what}); fix it first, nothing was changed",
        path.display()
    ))
}

/// The new settings text, or `None` when nothing changes. `handler`: install it
/// (replacing gavel's earlier one); `None`: remove gavel's.
fn edit(
    old: Option<&str>,
    events: &[&str],
    handler: Option<&Value>,
    path: &Path,
) -> Result<Option<String>, Failure> {
    let text = old.unwrap_or("{}\n");
    let value = gavel_receipt::jcs::parse_strict(text.as_bytes()).map_err(|e| {
        Failure::bad_input(format!(
            "{} is not valid JSON ({e}); fix it first, nothing was changed",
            path.display()
        ))
    })?;
    let Value::Object(root) = value else {
        return Err(shape_error(path, "the top level is not an object"));
    };
    match root.get("hooks") {
        None | Some(Value::Object(_)) => {}
        Some(_) => return Err(shape_error(path, "\"hooks\" is not an object")),
    }
    for ev in events {
        match root.get("hooks").and_then(|h| h.get(*ev)) {
            None | Some(Value::Array(_)) => {}
            Some(_) => return Err(shape_error(path, &format!("\"hooks.{ev}\" is not a list"))),
        }
    }
    let group = handler.map(|h| json!({"matcher": "*", "hooks": [h]}));

    // The intended result, computed on the value.
    let mut want = root.clone();
    remove_value(&mut want, events, group.is_none());
    if let Some(g) = &group {
        let hooks = want
            .entry("hooks")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(hooks) = hooks {
            for ev in events {
                if let Value::Array(groups) =
                    hooks.entry(*ev).or_insert_with(|| Value::Array(Vec::new()))
                {
                    groups.push(g.clone());
                }
            }
        }
    }
    if want == root {
        return Ok(None);
    }

    // The same edit on the syntax tree, which keeps the rest of the file as it was.
    let cst = CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| {
        Failure::bad_input(format!(
            "{} cannot be edited ({e}); nothing was changed",
            path.display()
        ))
    })?;
    let obj = cst
        .object_value()
        .ok_or_else(|| shape_error(path, "the top level is not an object"))?;
    remove_cst(&obj, events, group.is_none());
    if let Some(g) = &group {
        let hooks = obj
            .object_value_or_create("hooks")
            .ok_or_else(|| shape_error(path, "\"hooks\" is not an object"))?;
        for ev in events {
            let groups: CstArray = hooks
                .array_value_or_create(ev)
                .ok_or_else(|| shape_error(path, &format!("\"hooks.{ev}\" is not a list")))?;
            groups.append(cst_value(g));
        }
    }
    let mut out = cst.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    match gavel_receipt::jcs::parse_strict(out.as_bytes()) {
        Ok(Value::Object(got)) if got == want => Ok(Some(out)),
        _ => Err(Failure::bad_input(format!(
            "{}: the edit did not produce the intended settings (a gavel bug); nothing was changed",
            path.display()
        ))),
    }
}

/// `20261125T193000.123Z`
fn stamp() -> String {
    gavel_receipt::time::now_millis().replace(['-', ':'], "")
}

/// Saves `old` as a timestamped backup (when there was a file), then replaces `path`
/// with `new` atomically. Returns the backup's path.
fn write_with_backup(
    path: &Path,
    old: Option<&str>,
    new: &str,
) -> Result<Option<PathBuf>, Failure> {
    let io = |p: &Path, e: std::io::Error| {
        Failure::bad_input(format!("{}: {e}; nothing was changed", p.display()))
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "settings.json".into());
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let backup = match old {
        None => None,
        Some(old) => {
            let base = format!("{name}.gavel-backup-{}", stamp());
            let mut n = 0;
            loop {
                let candidate = parent.join(if n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&candidate)
                {
                    Ok(mut f) => {
                        f.write_all(old.as_bytes())
                            .and_then(|()| f.sync_all())
                            .map_err(|e| io(&candidate, e))?;
                        break Some(candidate);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                    Err(e) => return Err(io(&candidate, e)),
                }
            }
        }
    };
    let tmp = parent.join(format!(".{name}.gavel-tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(parent)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io(path, e));
    }
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "'/g' hook --agent claude-code || '/g' hook fail-closed || exit 2";

    fn handler() -> Value {
        json!({"type": "command", "command": CMD, "timeout": 30})
    }

    #[test]
    fn install_merges_and_keeps_formatting() {
        let old = "{\n    \"model\": \"opus\",\n    \"hooks\": {\n        \"PreToolUse\": [\n            {\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"mine\"}]}\n        ]\n    }\n}\n";
        let p = Path::new("/s.json");
        let new = edit(
            Some(old),
            &["PreToolUse", "PostToolUse"],
            Some(&handler()),
            p,
        )
        .unwrap()
        .unwrap();
        assert!(new.starts_with("{\n    \"model\": \"opus\",\n    \"hooks\": {\n        \"PreToolUse\": [\n            {\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"mine\"}]},"), "{new}");
        let v: Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
            json!(CMD)
        );
        // idempotent
        assert_eq!(
            edit(
                Some(&new),
                &["PreToolUse", "PostToolUse"],
                Some(&handler()),
                p
            )
            .unwrap(),
            None
        );
        // uninstall restores the value
        let back = edit(Some(&new), &["PreToolUse", "PostToolUse"], None, p)
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&back).unwrap(),
            serde_json::from_str::<Value>(old).unwrap()
        );
        assert_eq!(edit(Some(&back), &["PreToolUse"], None, p).unwrap(), None);
    }

    #[test]
    fn refusals() {
        let p = Path::new("/s.json");
        for bad in [
            "{",
            "[]",
            "{\"a\":1,\"a\":2}",
            "{\"hooks\":[]}",
            "{\"hooks\":{\"PreToolUse\":{}}}",
            "// c\n{}",
        ] {
            assert!(
                edit(Some(bad), &["PreToolUse"], Some(&handler()), p).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("x", "/a b").unwrap(), "'/a b'");
        assert!(quote("x", "/a'b").is_err());
        assert!(quote("x", "/a\nb").is_err());
    }
}
