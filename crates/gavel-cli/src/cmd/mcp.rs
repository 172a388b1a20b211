//! `gavel mcp-proxy`: a fail-closed, receipted stdio proxy in front of an MCP server.
//!
//! The proxy spawns the server and relays newline-delimited JSON-RPC both ways, byte
//! for byte, except `tools/call` requests from the client: each is decided first
//! (and receipted); a denied call never reaches the server and the client gets a tool
//! result with `isError: true` and the reason. See docs/mcp-proxy.md.

mod frame;
mod gate;
mod jsonrpc;
mod pump;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

use clap::Args;
use gavel::StateDir;

use super::common::{PolicyArgs, SignArgs, operator_key};
use crate::failure::{CmdResult, Failure};
use gate::{Gate, Principal};
use pump::{Event, Options, Shared, note};

/// The agent named in decisions when `--agent-did` is not given.
pub const DEFAULT_AGENT_DID: &str = "did:gavel:mcp-client";

/// Default cap on one JSON-RPC line (64 MiB).
const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// How long the server gets after SIGTERM before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long the proxy waits for the server's last output after it exited (a
/// grandchild may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// `gavel mcp-proxy`
#[derive(Debug, Args)]
#[command(
    mut_arg("sandbox_backend", |a| a
        .default_value("none")
        .help("Who confines the MCP server, as receipts record it: none (default: gavel does not confine it), nono, openshell or sb_runtime_builtin")),
    after_help = "Every tools/call is decided before it reaches the server; denied calls are answered \
with isError: true and never forwarded. Exit status: the server's own (128+N when killed by \
signal N); 2 when the policy, key or receipts directory is unusable or the server cannot be started."
)]
pub struct McpArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub sign: SignArgs,
    /// The agent decisions are made for (context.agent_did, the receipts' agent_id).
    /// The client's own clientInfo is not trusted for this.
    #[arg(long, value_name = "DID", default_value = DEFAULT_AGENT_DID)]
    pub agent_did: String,
    /// A session id to put in every decision's context and receipt.
    #[arg(long, value_name = "S")]
    pub session_id: Option<String>,
    /// Remove from tools/list results the tools the policy denies when called with no
    /// arguments (advisory: every call is still decided).
    #[arg(long)]
    pub hide_denied: bool,
    /// Also write an execution receipt when an allowed call's result comes back
    /// (digest of the result, isError), linked to its decision by decision_ref.
    #[arg(long)]
    pub execution_receipts: bool,
    /// Largest JSON-RPC message accepted in either direction; a longer line is
    /// dropped (the client gets an error for its own) and the proxy carries on.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_MESSAGE_BYTES,
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub max_message_bytes: u64,
    /// After the client closes its input: seconds the server gets to exit after its
    /// input is closed, before SIGTERM (then SIGKILL 2 s later).
    #[arg(long, value_name = "SECS", default_value_t = 2.0, value_parser = parse_secs)]
    pub shutdown_timeout: f64,
    /// The MCP server command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "SERVER_CMD")]
    pub server: Vec<OsString>,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && (0.0..=3600.0).contains(&t) => Ok(t),
        _ => Err(format!("{s:?} is not a number of seconds in [0, 3600]")),
    }
}

/// The exit status the proxy reports for the server's.
fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

fn sigterm(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. The pid is our
    // child's, not yet reaped (try_wait just returned None), so it cannot name another
    // process. std has no way to send SIGTERM (Child::kill sends SIGKILL).
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

pub fn run(state: &StateDir, args: &McpArgs) -> CmdResult {
    let policy = args.policy.load()?;
    let key = operator_key(state, args.sign.key.as_ref())?;
    let kid = key.kid().to_owned();
    let gov = args.sign.governance(state, policy).signer(key).build();
    // Refuse an unusable chain now rather than every call later.
    if let Some(tip) = gov.store().tip()?
        && tip.issuer != kid
    {
        return Err(Failure::bad_input(format!(
            "receipts directory {} holds a chain signed by {}, but this key is {kid}: continue it with its own key, or use another --receipts-dir",
            gov.store().dir().display(),
            tip.issuer
        )));
    }
    let gate = Gate::new(
        gov,
        Principal {
            agent_did: args.agent_did.clone(),
            session_id: args.session_id.clone(),
        },
        args.sign.trust_threshold,
    );

    let (program, rest) = args
        .server
        .split_first()
        .ok_or_else(|| Failure::bad_input("no MCP server command after --"))?;
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Failure::bad_input(format!(
                "cannot start the MCP server {}: {e} (check the command after --)",
                program.to_string_lossy()
            ))
        })?;
    let (server_in, server_out) = match (child.stdin.take(), child.stdout.take()) {
        (Some(i), Some(o)) => (i, o),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::bad_input(
                "cannot connect to the MCP server's stdin and stdout",
            ));
        }
    };

    let (tx, rx) = mpsc::channel();
    let opts = Options {
        hide_denied: args.hide_denied,
        execution_receipts: args.execution_receipts,
        max_line: usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX),
    };
    let shared = Arc::new(Shared::new(gate, opts, server_in, tx));
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map(|_| ())
    };
    let up = {
        let s = Arc::clone(&shared);
        spawn(
            "mcp-client-to-server",
            Box::new(move || s.client_to_server(std::io::stdin().lock())),
        )
    };
    let down = {
        let s = Arc::clone(&shared);
        spawn(
            "mcp-server-to-client",
            Box::new(move || s.server_to_client(server_out)),
        )
    };
    if let Err(e) = up.and(down) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Failure::bad_input(format!(
            "cannot start the proxy threads: {e}"
        )));
    }

    let shutdown = Duration::from_secs_f64(args.shutdown_timeout);
    let mut closing: Option<Instant> = None;
    let mut termed: Option<Instant> = None;
    let mut killed = false;
    let mut server_eof = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => {
                return Err(Failure::bad_input(format!(
                    "cannot wait for the MCP server: {e}"
                )));
            }
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::ClientEof) => {
                closing.get_or_insert_with(Instant::now);
            }
            Ok(Event::ClientGone) => {
                shared.try_close_server_stdin();
                closing.get_or_insert_with(Instant::now);
            }
            Ok(Event::ServerEof) => server_eof = true,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        if let Some(since) = closing {
            match termed {
                None if since.elapsed() >= shutdown => {
                    note("the server did not exit after its input was closed; sending SIGTERM");
                    sigterm(child.id());
                    termed = Some(Instant::now());
                }
                Some(t) if !killed && t.elapsed() >= KILL_GRACE => {
                    note("the server did not exit after SIGTERM; sending SIGKILL");
                    let _ = child.kill();
                    killed = true;
                }
                _ => {}
            }
        }
    };
    // Deliver what the server wrote before it exited.
    let deadline = Instant::now() + DRAIN_GRACE;
    while !server_eof {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok(Event::ServerEof) => server_eof = true,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    // Never exit in the middle of a decision or a receipt.
    let _idle = wait_idle(&shared);
    shared.flush_client();
    Ok(exit_code(status))
}

/// Waits (a bounded time) until no client message is being handled, and keeps it so.
fn wait_idle(shared: &Shared) -> Option<std::sync::MutexGuard<'_, ()>> {
    let deadline = Instant::now() + DRAIN_GRACE;
    loop {
        match shared.busy.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}
