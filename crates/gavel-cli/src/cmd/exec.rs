//! `gavel exec`: decide on a command, confine it, run it, and sign what ran
//! (`shared/spec/sandbox.md`, receipts.md section 5).
//!
//! # Order of work
//!
//! 1. Bad input, with nothing written (exit 125, one line on stderr): the command line
//!    (`--` missing is a usage error), `--sandbox-backend none` without
//!    `--allow-unsandboxed`, `GAVEL_SIMULATE_LANDLOCK_ABI`, `--context`, `--pass-fd`
//!    (a number below 3 or not open in gavel, or with nono), the policy,
//!    the profile (unknown key, missing path, relative path escaping the current
//!    directory), nono missing from `PATH` for `--sandbox-backend nono` (the message
//!    names `cargo install nono-cli --version 0.81.0`; no receipt is written).
//! 2. The executable is resolved like a shell does (`PATH`, symlinks resolved).
//! 3. The sandbox is built (Landlock ruleset, seccomp programs, C strings) and the
//!    child is started: it confines itself (new session, fds closed, `no_new_privs`,
//!    Landlock, seccomp) and then waits, before `execve`, on a pipe. Its setup thus
//!    runs while the decision is being made durable; nothing of the command runs yet.
//! 4. The decision is made, signed and durably written. Deny (or any failure to
//!    decide or record): the waiting child exits without running anything, the reason
//!    goes to stderr, exit 126 (125 for a failure).
//! 5. Command not found: exit 127, and the decision receipt names the command as asked;
//!    found but not executable: exit 126. When the sandbox could not be built or a
//!    confinement step failed in the child (no Landlock, a control the profile requires
//!    that this kernel cannot enforce without `--allow-degraded`): an execution receipt
//!    with `sandbox_state: "unavailable"` and the cause in `sandbox.cause`, nothing ran,
//!    exit 125.
//! 6. Otherwise the child is released and execs the command; gavel waits and forwards
//!    to the child's process group every signal that would otherwise end or stop gavel
//!    (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM,
//!    SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGPWR, SIGIO, SIGSTKFLT, the real-time
//!    ones; SIGTSTP stops the command with SIGSTOP, then gavel, for the shell's job
//!    control). Those signals are blocked in gavel from just before
//!    the fork until the forwarding is in place, so one that arrives meanwhile is
//!    forwarded rather than killing gavel (during a deny it ends gavel after the deny);
//!    after the command ended they are held back (and dropped at exit) so that the
//!    execution receipt is always written.
//! 7. The execution receipt: `exit_code` (or `signal` with its name),
//!    `tool_duration_ms`, `sandbox_state` and the enforcement report as applied in the
//!    child. It is the next receipt this process writes into the chain, and names the
//!    decision receipt by its chain hash in `decision_ref`. When gavel is the only writer
//!    it is the very next link (consecutive sequence numbers); another process writing
//!    to the same receipts directory at the same moment may put its receipt in between,
//!    so `decision_ref`, not adjacency, is the binding.
//! 8. gavel exits with the command's status (128+N when killed by signal N). If the
//!    execution receipt cannot be written after the command ran, gavel says so on
//!    stderr and exits 125.
//!
//! # Request mapping
//!
//! - YAML rules: action `shell:<base name of the program as given>` (`cat`,
//!   `/usr/bin/cat` and `./cat` all decide as `shell:cat`).
//! - Cedar: principal from `agent_did`, `Agent::Action::"exec"` on
//!   `Agent::Executable::"<resolved path>"` (the name as given when it does not resolve).
//! - Context: the `--context` object plus `command` (the command line joined with
//!   spaces), `argv` (array), `executable` (the resolved path; absent when the command
//!   does not resolve), `cwd` and `uid`. `--context` may not set these five itself:
//!   gavel refuses rather than let an agent describe its command differently from what
//!   runs. For Cedar, `executable` is left out of the context: the resolved path is
//!   the resource (`resource.path`), and the context is then exactly the `exec` context
//!   of cedar-agent-schemas (`command`, `argv`, `cwd`, `uid`), which a schema-validated
//!   request requires (an extra key would be a validation error, hence a deny). With
//!   that schema the principal also needs `ring` and `trust_score`: pass them in
//!   `--context` (gavel takes them out of the context as principal attributes).
//! - Receipts: `tool_name` is the resolved executable path, or the name as asked when
//!   it does not resolve. Raw arguments never appear in a receipt, only the digest.
//!
//! # Backends
//!
//! - `sb_runtime_builtin` (default, ring 3): gavel's own Landlock + seccomp; the
//!   profile is `--profile FILE`, `--profile-name NAME`, or `workspace`. Relative paths
//!   in a profile are relative to the current directory. `sandbox_state` is `enabled`,
//!   and the report is what the child confirmed, step by step.
//!   `GAVEL_SIMULATE_LANDLOCK_ABI=N` makes gavel behave as if the kernel's Landlock ABI
//!   were at most N (0: gavel refuses to run).
//! - `nono` (ring 2): `nono run -s -p <gavel's nono profile> <flags> -- CMD ARGS`, the
//!   profile translated to nono's flags (gavel-sandbox's `nono` module). The nono
//!   profile file, which removes nono's default write access to /tmp and /dev, is
//!   written into `<state dir>/nono/` (mode 0700). nono gets the profile's environment
//!   plus `HOME` (nono refuses to start without it). `sandbox_state` is `enabled`; the
//!   report says `confined_by: nono`, with nono's flags (never the command's arguments).
//! - `openshell` (ring 2): OpenShell owns the boundary; gavel runs the command without
//!   its own confinement (every fd but 0-2 is still closed and the command gets its own
//!   session), `sandbox_state: "disabled"`, report `confined_by: openshell` with a note.
//! - `none`: refused (exit 125) unless `--allow-unsandboxed`; then like `openshell`
//!   with `confined_by: none`.
//! - With `openshell` and `none` no profile is applied, so `--profile`,
//!   `--profile-name` and `--allow-degraded` are refused rather than silently ignored;
//!   with `nono`, `--allow-degraded` is refused (nono decides what it can enforce) and
//!   `GAVEL_SIMULATE_LANDLOCK_ABI` has no effect.

mod launch;
mod request;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Args;
use gavel::StateDir;
use gavel::governance::{Decision, DecisionRequest, ExecutionRecord, Governance, SandboxBackend};
use gavel_policy::{AgentAction, CedarShape, Engine};
use gavel_sandbox::{Options, Profile, SandboxError, find_nono, passable_fd, resolve_executable};

use super::common::{PolicyArgs, SignArgs, existing_key, operator_key_for, parse_context};
use crate::failure::{CmdResult, EXIT_EXEC_DENIED, EXIT_EXEC_GAVEL_ERROR, Failure};

/// The variable that simulates an older (or absent) Landlock ABI.
pub const SIMULATE_ABI_ENV: &str = "GAVEL_SIMULATE_LANDLOCK_ABI";

const HELP: &str = "\
Order: bad input (usage, policy, profile, --context, --pass-fd, nono missing) fails
with exit 125 and writes nothing. The sandbox is built and the child started; it
confines itself and waits before exec while the decision is signed and written; a deny
runs nothing (exit 126). A command that does not exist exits 127 (the decision receipt
names it as asked). If the sandbox cannot be had (no Landlock, a control the kernel
cannot enforce without --allow-degraded), an execution receipt with sandbox_state
\"unavailable\" is written, nothing runs, exit 125. Otherwise the command runs
confined, signals sent to gavel are forwarded to it, and the execution receipt (exit
status or signal, duration, the enforcement report as applied, decision_ref = hash of
the decision receipt) is written. The execution receipt is the next receipt this
process writes; another writer on the same receipts directory may interleave, so
decision_ref is the binding.

Request: action shell:<base name of the program as given>; Cedar: Agent::Action::\"exec\"
on Agent::Executable::\"<resolved path>\". Context: --context plus command, argv,
executable, cwd, uid (which --context may not set); for Cedar without executable (it
is the resource), as cedar-agent-schemas' exec context. Receipt tool_name: the
resolved path (the name as asked when it does not resolve).

Backends: sb_runtime_builtin (ring 3, gavel's Landlock + seccomp, sandbox_state
enabled); nono (ring 2, `nono run` with the profile translated to its flags; nono must
be on PATH: cargo install nono-cli --version 0.81.0); openshell (ring 2, OpenShell owns
the boundary, gavel runs the command unconfined, sandbox_state disabled); none (refused
unless --allow-unsandboxed, sandbox_state disabled). Profiles: workspace (default: read
the system, write the current directory and /tmp, no network), read-only, or a YAML
file whose relative paths are relative to the current directory.

Descriptors: the command gets 0, 1 and 2 and those named with --pass-fd (each open in
gavel, 3 or above; not with nono); every other fd is closed. Landlock does not restrict
an open fd, so each passed one is a grant beside the profile, listed in the execution
receipt (sandbox.passed_fds).

Environment: GAVEL_SIMULATE_LANDLOCK_ABI=N makes gavel's own sandbox behave as if the
kernel's Landlock ABI were at most N (0: gavel refuses to run); nono is not affected.
GAVEL_NO_POLICY_CACHE=1 loads the policy files in full every time instead of reading
a rule set this build loaded before from the same bytes (see the README on state).

Exit status: the command's own (128+N when killed by signal N); 126 denied by policy,
or the command cannot be executed (not executable, or outside the profile's
filesystem.exec); 127 command not found; 125 gavel error (nothing ran, unless the
message says the command ran and its receipt could not be written).

Example: gavel exec --policy-dir examples/policies --profile-name read-only -- cat README.md";

/// `gavel exec`
#[derive(Debug, Args)]
#[command(after_long_help = HELP)]
pub struct ExecArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A sandbox profile (YAML, see sandbox.md); relative paths in it are relative to the current directory.
    #[arg(long, value_name = "FILE", conflicts_with = "profile_name")]
    pub profile: Option<PathBuf>,
    /// A built-in profile: workspace (the default) or read-only.
    #[arg(long, value_name = "N")]
    pub profile_name: Option<String>,
    /// Run even when a control the profile requires is degraded or absent on this kernel (the receipt says which). Never runs without Landlock.
    #[arg(long)]
    pub allow_degraded: bool,
    /// Accept --sandbox-backend none: run the command without any sandbox.
    #[arg(long)]
    pub allow_unsandboxed: bool,
    /// Pass this open descriptor (3 or above, repeatable) to the command under the same number; all others but 0-2 are closed. Landlock does not restrict an open descriptor: the execution receipt lists each one passed. Not with --sandbox-backend nono.
    #[arg(long = "pass-fd", value_name = "FD")]
    pub pass_fd: Vec<i32>,
    /// The request context, a JSON object (agent_did, session_id, ...); gavel adds command, argv, executable, cwd and uid.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub context: String,
    #[command(flatten)]
    pub sign: SignArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD", value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

fn gavel_error(message: impl std::fmt::Display) -> Failure {
    Failure::new(EXIT_EXEC_GAVEL_ERROR, message)
}

/// `GAVEL_SIMULATE_LANDLOCK_ABI`, when set.
fn simulated_abi() -> Result<Option<u32>, Failure> {
    match std::env::var_os(SIMULATE_ABI_ENV) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .to_str()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .map(Some)
            .ok_or_else(|| {
                gavel_error(format!(
                    "{SIMULATE_ABI_ENV}={} is not a Landlock ABI number; set it to 0..7 or unset it",
                    v.to_string_lossy()
                ))
            }),
    }
}

/// The profile gavel applies (or translates for nono); `None` for openshell and none.
fn load_profile(args: &ExecArgs, cwd: &Path) -> Result<Option<Profile>, Failure> {
    let backend = args.sign.sandbox_backend;
    if matches!(backend, SandboxBackend::Openshell | SandboxBackend::None) {
        let given = [
            (args.profile.is_some(), "--profile"),
            (args.profile_name.is_some(), "--profile-name"),
            (args.allow_degraded, "--allow-degraded"),
        ];
        if let Some((_, flag)) = given.iter().find(|(set, _)| *set) {
            let who = if backend == SandboxBackend::Openshell {
                "OpenShell, not gavel, confines the command"
            } else {
                "nothing confines the command"
            };
            return Err(gavel_error(format!(
                "{flag} has no effect with --sandbox-backend {} ({who}); remove it, or use --sandbox-backend sb_runtime_builtin or nono",
                backend.as_str()
            )));
        }
        return Ok(None);
    }
    if backend == SandboxBackend::Nono && args.allow_degraded {
        return Err(gavel_error(
            "--allow-degraded applies to gavel's own sandbox; with --sandbox-backend nono, nono decides what it can enforce; remove it",
        ));
    }
    let loaded = match (&args.profile, &args.profile_name) {
        (Some(file), _) => Profile::from_file(file, cwd),
        (None, Some(name)) => Profile::builtin(name, cwd),
        (None, None) => Profile::builtin("workspace", cwd),
    };
    loaded.map(Some).map_err(gavel_error)
}

fn search_path() -> Option<OsString> {
    std::env::var_os("PATH")
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn receipt_note(path: Option<&PathBuf>, what: &str) -> String {
    path.map(|p| format!(" ({what} receipt {})", p.display()))
        .unwrap_or_default()
}

/// What `gather` collects.
struct Gathered {
    options: Options,
    cwd: PathBuf,
    profile: Option<Profile>,
    nono: Option<PathBuf>,
    resolved: Result<PathBuf, SandboxError>,
    req: request::ExecRequest,
}

/// gavel's own files must be out of the confined command's reach: with the operator
/// key it could sign receipts in the operator's name; with write access to the
/// receipts, the state directory (trust scores, audit log) or the policy it could
/// rewrite the record of what it did, raise its own trust or loosen its own rules.
/// A profile that reaches them is refused (sandbox.md: nothing runs that gavel cannot
/// confine as promised).
fn check_out_of_reach(profile: &Profile, state: &StateDir, args: &ExecArgs) -> Result<(), Failure> {
    let fix = "keep gavel's files out of the profile: run from a project directory, or pass --state-dir, --key, --receipts-dir or the policy from elsewhere";
    let key = args.sign.key.clone().unwrap_or_else(|| state.default_key());
    if let Some((kind, root)) = profile.access_to(&key) {
        return Err(gavel_error(format!(
            "the profile's filesystem.{kind} path {} lets the command read the operator key {}, with which it could sign receipts as you; nothing was run; {fix}",
            root.display(),
            key.display()
        )));
    }
    let receipts = args.sign.receipts_dir_in(state);
    for (what, path) in [
        ("the receipts directory", receipts),
        (
            "gavel's state directory (trust scores, audit log)",
            state.root().to_path_buf(),
        ),
        ("the policy", args.policy.path()),
    ] {
        if let Some(("write", root)) = profile.access_to(&path) {
            return Err(gavel_error(format!(
                "the profile's filesystem.write path {} lets the command change {what} {}; nothing was run; {fix}",
                root.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

/// Everything but the policy; bad input fails here, before anything is written.
fn gather(state: &StateDir, args: &ExecArgs) -> Result<Gathered, Failure> {
    let backend = args.sign.sandbox_backend;
    let options = Options {
        allow_degraded: args.allow_degraded,
        simulate_landlock_abi: simulated_abi()?,
    };
    let user_context = parse_context(&args.context).map_err(|f| gavel_error(f.message))?;
    if !args.pass_fd.is_empty() && backend == SandboxBackend::Nono {
        return Err(gavel_error(
            "--pass-fd cannot be used with --sandbox-backend nono (nono decides which descriptors the command inherits); use sb_runtime_builtin, or drop --pass-fd",
        ));
    }
    for &fd in &args.pass_fd {
        passable_fd(fd).map_err(|e| gavel_error(format!("--pass-fd {fd}: {e}")))?;
    }
    let cwd = std::env::current_dir().map_err(|e| {
        gavel_error(format!(
            "cannot determine the current directory: {e}; run gavel exec from an existing directory"
        ))
    })?;
    let profile = load_profile(args, &cwd)?;
    if let Some(p) = &profile {
        check_out_of_reach(p, state, args)?;
    }
    let path_env = search_path();
    let nono = if backend == SandboxBackend::Nono {
        let found = find_nono(path_env.as_deref(), &cwd).map_err(|e| match e {
            SandboxError::NonoNotInstalled { searched } => gavel_error(format!(
                "nono is not on PATH (searched {searched}); install it with `cargo install nono-cli --version 0.81.0` to use --sandbox-backend nono; nothing was run"
            )),
            other => gavel_error(format!("cannot use nono: {other}; nothing was run")),
        })?;
        Some(found)
    } else {
        None
    };
    let Some(program) = args.command.first() else {
        return Err(gavel_error(
            "no command given: put it after `--`, e.g. gavel exec --policy-dir D -- ls",
        ));
    };
    let resolved = resolve_executable(program, path_env.as_deref(), &cwd);
    let req = request::build(
        &args.command,
        resolved.as_deref().ok(),
        &cwd,
        current_uid(),
        user_context,
    )
    .map_err(gavel_error)?;
    Ok(Gathered {
        options,
        cwd,
        profile,
        nono,
        resolved,
        req,
    })
}

pub fn run(state: &StateDir, args: &ExecArgs) -> CmdResult {
    let backend = args.sign.sandbox_backend;
    // 1. bad input: nothing is written
    if backend == SandboxBackend::None && !args.allow_unsandboxed {
        return Err(gavel_error(
            "--sandbox-backend none runs the command without any sandbox; pass --allow-unsandboxed to accept that, or use sb_runtime_builtin, nono or openshell",
        ));
    }
    let early_key = existing_key(state, args.sign.key.as_ref());
    let policy = args
        .policy
        .load_cached(state, early_key.as_ref())
        .map_err(|f| gavel_error(f.message))?;
    let Gathered {
        options,
        cwd,
        profile,
        nono,
        resolved,
        req,
    } = gather(state, args)?;
    let req = match policy.engine() {
        Engine::Cedar => req.for_cedar(),
        Engine::YamlRules => req,
    };

    // 2. build the sandbox and start the child: it confines itself (setsid, fds,
    // no_new_privs, Landlock, seccomp) and then waits before execve, so its setup runs
    // while the decision is made durable. Nothing of the command runs before step 3.
    let decision_req = DecisionRequest {
        action: &req.action,
        context: &req.context,
        resource: None,
        shape: CedarShape::Agent {
            action: AgentAction::Exec,
            resource_id: &req.tool_name,
        },
        tool_name: Some(&req.tool_name),
        sign: true,
    };
    let builder = args.sign.governance(state, policy);
    let key = operator_key_for(
        early_key,
        state,
        args.sign.key.as_ref(),
        &builder,
        &decision_req,
    )
    .map_err(|f| gavel_error(f.message))?;
    let gov = builder.signer(key).build();
    // From here on a signal sent to gavel is for the command: it stays blocked until the
    // forwarding handlers are in place (once the child has exec'd), then is forwarded.
    let mask = launch::block_forwarded();
    let launched = resolved.as_ref().map(|exe| {
        let setup = launch::Setup {
            backend,
            profile: profile.as_ref(),
            options,
            exe,
            argv: &args.command,
            cwd: &cwd,
            nono: nono.as_deref(),
            state_dir: state.root(),
            pass_fds: &args.pass_fd,
        };
        launch::prepare_launch(&setup).and_then(launch::Ready::spawn_gated)
    });

    // 3. decide (signed, durable before anything runs); a waiting child that is not
    // released exits without running anything
    let decided = gov.decide(&decision_req);
    let decision = match decided {
        Ok(d) if d.allowed => d,
        other => {
            drop(launched);
            launch::restore_mask(&mask);
            return Err(match other {
                Ok(d) => Failure::new(
                    EXIT_EXEC_DENIED,
                    format!(
                        "denied by policy ({}): {}; nothing was run{}",
                        d.policy_id,
                        d.reason,
                        receipt_note(d.receipt_path.as_ref(), "decision")
                    ),
                ),
                Err(e) => gavel_error(format!(
                    "cannot decide on {} or record the decision: {e}; nothing was run",
                    req.action
                )),
            });
        }
    };

    // 4. not found / not executable, or a sandbox that cannot be had: nothing runs
    let waiting = match launched {
        Ok(Ok(w)) => w,
        Ok(Err(ns)) => {
            launch::restore_mask(&mask);
            return Err(not_started(&gov, &decision, &req.tool_name, ns));
        }
        Err(e) => {
            launch::restore_mask(&mask);
            return Err(Failure::new(
                e.exit_code(),
                format!(
                    "{e}; nothing was run{}",
                    receipt_note(decision.receipt_path.as_ref(), "decision")
                ),
            ));
        }
    };

    // 5. the decision is durable: let the confined child execute the command
    let started = match waiting.release() {
        Ok(s) => s,
        Err(ns) => {
            launch::restore_mask(&mask);
            return Err(not_started(&gov, &decision, &req.tool_name, ns));
        }
    };
    launch::restore_mask(&mask);
    // while the command runs, the file of the execution receipt is allocated (on ext4
    // without a journal an inode can cost 0.3 ms), which takes it off the critical path
    gov.store().prepare();

    // 6. wait (signals are forwarded meanwhile), then sign what ran; once the command
    // has ended, signals are held back (and dropped at exit) so that the execution
    // receipt is always written
    let waited = started.wait();
    let _ = launch::block_forwarded();
    match waited {
        Ok(done) => {
            let f = &done.finished;
            let status = f.shell_status();
            let record = ExecutionRecord {
                tool_name: req.tool_name.clone(),
                sandbox_state: done.sandbox_state.as_str().to_owned(),
                sandbox: Some(done.report),
                exit_code: f.exit_code,
                signal: f.signal.map(|s| {
                    f.signal_name
                        .map_or_else(|| format!("SIG{s}"), str::to_owned)
                }),
                tool_duration_ms: Some(f.duration.as_secs_f64() * 1e3),
                extra: Default::default(),
            };
            let what = match (f.exit_code, &record.signal) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => format!("was killed by {s}"),
                (None, None) => "ended".to_owned(),
            };
            gov.record_execution(&decision, &record).map_err(|e| {
                gavel_error(format!(
                    "the command ran and {what}, but its execution receipt could not be written: {e}"
                ))
            })?;
            Ok(status)
        }
        Err(lost) => {
            let record = ExecutionRecord {
                tool_name: req.tool_name.clone(),
                sandbox_state: lost.sandbox_state.as_str().to_owned(),
                sandbox: Some(lost.report),
                ..Default::default()
            };
            let written = gov.record_execution(&decision, &record);
            Err(gavel_error(format!(
                "the command ran but gavel lost track of it: {}{}",
                lost.message,
                match written {
                    Ok(a) => format!(" (execution receipt {})", a.path.display()),
                    Err(e) => format!("; its execution receipt could not be written either: {e}"),
                }
            )))
        }
    }
}

/// The command did not start: an execution receipt saying so, then the failure.
fn not_started(
    gov: &Governance,
    decision: &Decision,
    tool_name: &str,
    ns: launch::NotStarted,
) -> Failure {
    let record = ExecutionRecord {
        tool_name: tool_name.to_owned(),
        sandbox_state: ns.sandbox_state.as_str().to_owned(),
        sandbox: Some(ns.report),
        ..Default::default()
    };
    let ran_nothing = if ns.message.contains("nothing was") {
        ""
    } else {
        "; nothing was run"
    };
    match gov.record_execution(decision, &record) {
        Ok(a) => Failure::new(
            ns.code,
            format!(
                "{}{ran_nothing} (execution receipt {}, sandbox_state {})",
                ns.message,
                a.path.display(),
                ns.sandbox_state.as_str()
            ),
        ),
        Err(e) => Failure::new(
            EXIT_EXEC_GAVEL_ERROR,
            format!(
                "{}{ran_nothing}; the execution receipt saying so could not be written: {e}",
                ns.message
            ),
        ),
    }
}
