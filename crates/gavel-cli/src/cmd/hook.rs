//! `gavel hook`: the PreToolUse / PostToolUse hook for Claude Code and Codex.
//!
//! The agent runs `gavel hook` once per event and writes the event as JSON on stdin.
//!
//! - `PreToolUse`: gavel maps the tool call to an action (see [`mapping`]), decides
//!   against the policy, durably writes the signed decision receipt, records the
//!   tool use in the index, and only then answers on stdout, exit 0:
//!   `{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"allow"|"deny","permissionDecisionReason":"..."}}`
//!   and nothing else (Codex discards output with unknown members). For `--agent
//!   codex` an allow is an empty stdout: Codex rejects `permissionDecision: "allow"`
//!   as unsupported, and no output is how a Codex hook lets a tool run.
//! - `PostToolUse` / `PostToolUseFailure`: an execution receipt linked to the decision
//!   of the same `tool_use_id` (tool, outcome, duration when given, SHA-256 of the JCS
//!   of the response, never the response). Nothing on stdout: the tool already ran.
//! - Any other event: nothing on stdout (nothing that could allow), a note on stderr.
//!
//! # Fail closed
//!
//! Both agents let the tool run when a hook exits with a status other than 2, crashes
//! or times out. So every failure on the way to a PreToolUse answer (stdin unreadable
//! or over 1 MiB, not JSON, wrong types, a missing field, the policy missing or
//! broken, the key unusable, the receipts directory unwritable, a panic) is answered
//! with a deny and the reason, exit 0. When stdout itself cannot be written, gavel
//! exits 2 with the reason on stderr (both agents block on 2). The command that
//! `gavel hook install` writes ends in `|| <gavel> hook fail-closed || exit 2`, so a
//! gavel process that dies without answering (killed, aborted) still blocks.

mod decide;
mod event;
mod index;
mod install;
mod mapping;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use clap::{Args, Subcommand, ValueEnum};
use gavel::StateDir;
use serde_json::json;

use super::common::{PolicyArgs, SignArgs};
use crate::failure::{CmdResult, one_line};

/// `gavel hook`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: Option<HookCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `gavel hook install | uninstall | fail-closed`
#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write gavel's hook into the agent's settings (merging; the old file is backed up).
    Install(install::InstallArgs),
    /// Remove gavel's hook (only gavel's) from the agent's settings.
    Uninstall(install::UninstallArgs),
    /// Block: say so on stderr and exit 2 (the installed command's last resort when
    /// the hook process dies without answering).
    #[command(hide = true)]
    FailClosed,
}

/// The agent a hook speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Agent {
    /// Claude Code.
    ClaudeCode,
    /// OpenAI Codex.
    Codex,
}

impl Agent {
    /// `claude-code` or `codex`.
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
        }
    }
}

/// The hook run: reads one event on stdin, answers on stdout.
#[derive(Debug, Args)]
#[command(mut_arg("sandbox_backend", |a| a.default_value("none")))]
pub struct RunArgs {
    /// The agent that runs the hook (output dialect, default agent_did).
    #[arg(long, value_enum, default_value = "claude-code")]
    pub agent: Agent,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub sign: SignArgs,
    /// The agent_did receipts name (default: the event's agent_did, else did:gavel:<agent>).
    #[arg(long, value_name = "DID", value_parser = non_empty)]
    pub agent_did: Option<String>,
}

/// A non-empty flag value.
pub fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_owned())
    }
}

/// What the hook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A PreToolUse decision.
    Decision {
        /// Allowed (only after its receipt is durable).
        allow: bool,
        /// Why (never empty).
        reason: String,
    },
    /// Nothing on stdout; an optional note for stderr.
    Silent(Option<String>),
}

impl Answer {
    /// The deny for a failure on the way to a decision.
    fn fail(cause: impl std::fmt::Display) -> Self {
        Answer::Decision {
            allow: false,
            reason: format!("gavel could not decide, so it denies this tool call: {cause}"),
        }
    }
}

/// Exit status when even the answer cannot be written (both agents block on 2).
const EXIT_BLOCK: i32 = 2;

pub fn run(state: &StateDir, args: &HookArgs) -> CmdResult {
    match &args.command {
        Some(HookCommand::Install(a)) => install::install(state, a),
        Some(HookCommand::Uninstall(a)) => install::uninstall(a),
        Some(HookCommand::FailClosed) => {
            eprintln!(
                "gavel: the gavel hook process failed without answering (killed, crashed or not found); this tool call is blocked"
            );
            Ok(EXIT_BLOCK)
        }
        None => Ok(run_hook(state, &args.run)),
    }
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

fn run_hook(state: &StateDir, args: &RunArgs) -> i32 {
    // A panic must become a deny, not a crash (which the agents read as "run it").
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut slot) = PANIC_MESSAGE.lock() {
            *slot = Some(format!("{msg}{at}"));
        }
    }));
    let answer = catch_unwind(AssertUnwindSafe(|| answer(state, args))).unwrap_or_else(|_| {
        let msg = PANIC_MESSAGE
            .lock()
            .ok()
            .and_then(|mut m| m.take())
            .unwrap_or_else(|| "unknown panic".into());
        Answer::fail(format!("internal error ({msg})"))
    });
    emit(args.agent, &answer)
}

fn answer(state: &StateDir, args: &RunArgs) -> Answer {
    let bytes = match event::read_capped(&mut std::io::stdin().lock(), event::MAX_EVENT_BYTES) {
        Ok(b) => b,
        Err(e) => return Answer::fail(e),
    };
    test_faults();
    let ev = match event::parse(&bytes) {
        Ok(ev) => ev,
        Err(e) => return Answer::fail(e),
    };
    match &ev.name {
        event::EventName::PreToolUse => {
            decide::pre_tool_use(state, args, &ev).unwrap_or_else(Answer::fail)
        }
        event::EventName::PostToolUse | event::EventName::PostToolUseFailure => {
            Answer::Silent(Some(match decide::post_tool_use(state, args, &ev) {
                Ok(summary) => summary,
                Err(e) => format!("gavel: error: the execution was not recorded: {e}"),
            }))
        }
        event::EventName::Other(name) => Answer::Silent(Some(format!(
            "gavel: {name} is not a tool event; gavel answers nothing to it"
        ))),
    }
}

/// Debug builds only: `GAVEL_TEST_HOOK_FAULT=panic|abort` makes the hook fail right
/// after reading stdin, for the fail-closed tests.
#[cfg(debug_assertions)]
fn test_faults() {
    match std::env::var("GAVEL_TEST_HOOK_FAULT").as_deref() {
        Ok("panic") => panic!("injected test panic"),
        Ok("abort") => std::process::abort(),
        _ => {}
    }
}

#[cfg(not(debug_assertions))]
fn test_faults() {}

/// The stdout bytes of an answer (empty for no output).
pub fn render(agent: Agent, answer: &Answer) -> Vec<u8> {
    match answer {
        Answer::Silent(_) => Vec::new(),
        Answer::Decision { allow: true, .. } if agent == Agent::Codex => Vec::new(),
        Answer::Decision { allow, reason } => {
            let reason = if reason.trim().is_empty() {
                "gavel gave no reason"
            } else {
                reason.as_str()
            };
            let v = json!({"hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": if *allow { "allow" } else { "deny" },
                "permissionDecisionReason": reason,
            }});
            // Serializing strings cannot fail; were it to, an empty answer would let
            // the tool run, so the fallback is a deny.
            let mut bytes = serde_json::to_vec(&v).unwrap_or_else(|_| {
                br#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"gavel could not write its answer"}}"#.to_vec()
            });
            bytes.push(b'\n');
            bytes
        }
    }
}

/// Writes the answer; exit 0, or 2 with the reason on stderr when stdout fails.
fn emit(agent: Agent, answer: &Answer) -> i32 {
    match answer {
        Answer::Decision {
            allow: false,
            reason,
        } => eprintln!("{}", one_line(reason)),
        Answer::Silent(Some(note)) => eprintln!("{}", one_line(note)),
        _ => {}
    }
    let bytes = render(agent, answer);
    if bytes.is_empty() {
        return 0;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&bytes).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            let what = match answer {
                Answer::Decision { reason, .. } => reason.as_str(),
                Answer::Silent(_) => "",
            };
            eprintln!(
                "gavel: cannot write the hook answer on stdout ({e}); blocking this tool call. {}",
                one_line(what)
            );
            EXIT_BLOCK
        }
    }
}
