//! Starting the command under each backend, and what the execution receipt says about
//! its sandbox (the `sandbox` member and `sandbox_state`).
//!
//! Every report carries `confined_by`: `gavel` (Landlock + seccomp in gavel's own
//! child), `nono`, `openshell` (confinement is external: gavel did not confine the
//! command) or `none` (nobody did). A command that did not start gets a report with a
//! `cause`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use gavel::governance::SandboxBackend;
use gavel_sandbox::{
    EnforcementReport, Finished, Gated, NONO_PROFILE_JSON, Options, Prepared, Profile, Running,
    SandboxError, SandboxState, SpawnError, kernel_abi, nono_argv_with_profile, prepare,
    prepare_unconfined, write_nono_profile,
};
use serde_json::{Value, json};

use crate::failure::EXIT_EXEC_GAVEL_ERROR;

/// What is needed to start the command.
pub struct Setup<'a> {
    /// Who confines.
    pub backend: SandboxBackend,
    /// The profile (gavel's backend and nono).
    pub profile: Option<&'a Profile>,
    /// `--allow-degraded` and the simulated Landlock ABI (gavel's backend only).
    pub options: Options,
    /// The resolved executable.
    pub exe: &'a Path,
    /// The command line as given (`argv[0]` included).
    pub argv: &'a [OsString],
    /// The working directory.
    pub cwd: &'a Path,
    /// The nono executable (nono backend).
    pub nono: Option<&'a Path>,
    /// gavel's state directory (the nono profile file is written below it).
    pub state_dir: &'a Path,
    /// Descriptors passed to the command (`--pass-fd`; checked as bad input before).
    pub pass_fds: &'a [i32],
}

/// A command that did not start: nothing of it ran.
#[derive(Debug)]
pub struct NotStarted {
    /// One line: what failed and how to fix it.
    pub message: String,
    /// gavel's exit status.
    pub code: i32,
    /// `sandbox_state` of the execution receipt.
    pub sandbox_state: SandboxState,
    /// The `sandbox` member (with a `cause`).
    pub report: Value,
}

/// How the receipt describes the sandbox.
enum Confinement {
    Gavel,
    Nono(Value),
    Openshell,
    Unsandboxed,
}

/// Built and ready to fork.
pub struct Ready {
    prepared: Prepared,
    confinement: Confinement,
}

/// Running.
pub struct Started {
    running: Running,
    confinement: Confinement,
}

/// Finished, with what the execution receipt says about the sandbox.
pub struct Done {
    /// Exit status or signal, and duration.
    pub finished: Finished,
    /// `sandbox_state`.
    pub sandbox_state: SandboxState,
    /// The `sandbox` member.
    pub report: Value,
}

fn with(mut report: Value, members: &[(&str, Value)]) -> Value {
    if let Value::Object(m) = &mut report {
        for (k, v) in members {
            m.insert((*k).to_owned(), v.clone());
        }
    }
    report
}

const OPENSHELL_NOTE: &str = "confinement is external: an OpenShell container owns the boundary; gavel ran the command without its own Landlock or seccomp (fd hygiene and a new session still applied)";
const UNSANDBOXED_NOTE: &str = "no sandbox: --sandbox-backend none with --allow-unsandboxed; gavel ran the command without confinement (fd hygiene and a new session still applied)";

fn describe(confinement: &Confinement, report: &EnforcementReport) -> (SandboxState, Value) {
    match confinement {
        Confinement::Gavel => (
            report.sandbox_state(),
            with(report.to_json(), &[("confined_by", json!("gavel"))]),
        ),
        Confinement::Nono(v) => (SandboxState::Enabled, v.clone()),
        Confinement::Openshell => (
            SandboxState::Disabled,
            with(
                report.to_json(),
                &[
                    ("confined_by", json!("openshell")),
                    ("note", json!(OPENSHELL_NOTE)),
                ],
            ),
        ),
        Confinement::Unsandboxed => (
            SandboxState::Disabled,
            with(
                report.to_json(),
                &[
                    ("confined_by", json!("none")),
                    ("note", json!(UNSANDBOXED_NOTE)),
                ],
            ),
        ),
    }
}

impl Confinement {
    fn name(&self) -> &'static str {
        match self {
            Confinement::Gavel => "gavel",
            Confinement::Nono(_) => "nono",
            Confinement::Openshell => "openshell",
            Confinement::Unsandboxed => "none",
        }
    }
}

fn not_started_sandbox(e: &SandboxError, profile: Option<&Profile>) -> NotStarted {
    let report = match e.report() {
        Some(r) => r.to_json(),
        None => json!({
            "landlock_abi_kernel": kernel_abi(),
            "profile_sha256": profile.map(Profile::sha256),
        }),
    };
    NotStarted {
        message: e.to_string(),
        code: EXIT_EXEC_GAVEL_ERROR,
        sandbox_state: SandboxState::Unavailable,
        report: with(
            report,
            &[
                ("confined_by", json!("gavel")),
                ("cause", json!(e.to_string())),
            ],
        ),
    }
}

fn not_started_plain(confinement: &Confinement, message: String) -> NotStarted {
    NotStarted {
        report: json!({"confined_by": confinement.name(), "cause": message}),
        message,
        code: EXIT_EXEC_GAVEL_ERROR,
        sandbox_state: SandboxState::Unavailable,
    }
}

/// The environment nono is started with: the profile's child environment, plus `HOME`
/// (nono refuses to start without it) from gavel's own environment when the profile
/// does not pass it.
fn nono_env(profile: &Profile) -> Vec<(OsString, OsString)> {
    let mut env = profile.child_env(std::env::vars_os());
    if !env.iter().any(|(k, _)| k == "HOME") {
        let home = std::env::var_os("HOME").unwrap_or_else(|| OsString::from("/"));
        env.push(("HOME".into(), home));
    }
    env
}

/// Writes the nono profile into `<state>/nono/` (mode 0700, gavel's own directory).
fn nono_profile_file(state_dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = state_dir.join("nono");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    write_nono_profile(&dir)
}

/// Builds everything before fork: the Landlock ruleset and seccomp programs (gavel), the
/// nono command line and profile file (nono), or the plain spawn (openshell, none).
pub fn prepare_launch(s: &Setup<'_>) -> Result<Ready, NotStarted> {
    let mut ready = match s.backend {
        SandboxBackend::SbRuntimeBuiltin => {
            let Some(profile) = s.profile else {
                return Err(not_started_plain(
                    &Confinement::Gavel,
                    "internal error: no sandbox profile for the built-in backend".into(),
                ));
            };
            let prepared = prepare(
                profile,
                &s.options,
                s.exe,
                s.argv,
                std::env::vars_os(),
                s.cwd,
            )
            .map_err(|e| not_started_sandbox(&e, Some(profile)))?;
            Ready {
                prepared,
                confinement: Confinement::Gavel,
            }
        }
        SandboxBackend::Nono => {
            let (Some(profile), Some(nono)) = (s.profile, s.nono) else {
                return Err(not_started_plain(
                    &Confinement::Nono(Value::Null),
                    "internal error: nono backend without a profile or nono".into(),
                ));
            };
            let np = nono_profile_file(s.state_dir).map_err(|e| {
                not_started_plain(
                    &Confinement::Nono(Value::Null),
                    format!(
                        "cannot write the nono profile under {}: {e}; check that the state directory is writable (--state-dir)",
                        s.state_dir.join("nono").display()
                    ),
                )
            })?;
            let mut argv = nono_argv_with_profile(profile, Some(&np), s.exe, s.argv);
            argv[0] = nono.as_os_str().to_owned();
            // what the receipt shows of nono's command line: its own flags, never the
            // command's arguments (raw request data stays out of receipts)
            let flags: Vec<String> = argv
                .iter()
                .skip(1)
                .take_while(|a| a.as_os_str() != OsStr::new("--"))
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let nono_profile: Value =
                serde_json::from_str(NONO_PROFILE_JSON).unwrap_or(Value::Null);
            let report = json!({
                "confined_by": "nono",
                "nono": {"path": nono.to_string_lossy(), "args": flags, "profile": nono_profile},
                "profile_sha256": profile.sha256(),
                "network": profile.to_json()["network"],
                "verified_in_child": false,
                "notes": {
                    "filesystem": "writes are exactly the profile's (nono's default write group is excluded by the nono profile); reads are a superset (nono adds read access to system paths)",
                    "syscalls": "the profile's syscalls mode is not translated: nono installs its own seccomp baseline",
                    "env": "the command gets the profile's environment, plus HOME (nono needs it) and the variables nono adds itself",
                    "enforcement": "nono applies the sandbox; gavel did not observe it in the child",
                },
            });
            let prepared = prepare_unconfined(nono, &argv, nono_env(profile).into_iter(), s.cwd)
                .map_err(|e| not_started_plain(&Confinement::Nono(Value::Null), e.to_string()))?;
            Ready {
                prepared,
                confinement: Confinement::Nono(report),
            }
        }
        SandboxBackend::Openshell | SandboxBackend::None => {
            let confinement = if s.backend == SandboxBackend::Openshell {
                Confinement::Openshell
            } else {
                Confinement::Unsandboxed
            };
            let prepared = prepare_unconfined(s.exe, s.argv, std::env::vars_os(), s.cwd)
                .map_err(|e| not_started_plain(&confinement, e.to_string()))?;
            Ready {
                prepared,
                confinement,
            }
        }
    };
    // --pass-fd (none with nono: refused as bad input before this)
    ready
        .prepared
        .pass_fds(s.pass_fds)
        .map_err(|e| not_started_plain(&ready.confinement, format!("--pass-fd: {e}")))?;
    Ok(ready)
}

/// Forked and confined, waiting before `execve` until released (the decision receipt
/// is made durable meanwhile). Dropping it makes the child exit without running.
pub struct Waiting {
    gated: Gated,
    confinement: Confinement,
}

impl Waiting {
    /// Lets the command run.
    pub fn release(self) -> Result<Started, NotStarted> {
        let Waiting { gated, confinement } = self;
        match gated.release() {
            Ok(running) => Ok(Started {
                running,
                confinement,
            }),
            Err(e) => Err(not_started_spawn(&confinement, &e)),
        }
    }
}

impl Ready {
    /// Forks and confines the child, which waits before `execve` for [`Waiting::release`].
    pub fn spawn_gated(self) -> Result<Waiting, NotStarted> {
        let Ready {
            prepared,
            confinement,
        } = self;
        match prepared.spawn_gated() {
            Ok(gated) => Ok(Waiting { gated, confinement }),
            Err(e) => Err(not_started_spawn(&confinement, &e)),
        }
    }
}

fn not_started_spawn(confinement: &Confinement, e: &SpawnError) -> NotStarted {
    let message = e.to_string();
    let (state, report) = match e.report() {
        Some(r) => {
            let (state, report) = describe(confinement, r);
            // a failed execve under an applied sandbox keeps its state (`enabled`);
            // a failed confinement step is `unavailable`
            let state = match e {
                SpawnError::Exec { .. } => state,
                _ => SandboxState::Unavailable,
            };
            (state, report)
        }
        None => (
            SandboxState::Unavailable,
            json!({"confined_by": confinement.name()}),
        ),
    };
    let code = match e {
        SpawnError::Exec { .. } => e.exit_code(),
        _ => EXIT_EXEC_GAVEL_ERROR,
    };
    NotStarted {
        report: with(report, &[("cause", json!(message))]),
        message,
        code,
        sandbox_state: state,
    }
}

impl Started {
    /// Waits for the command, forwarding signals to it meanwhile.
    pub fn wait(self) -> Result<Done, Lost> {
        let Started {
            running,
            confinement,
        } = self;
        let (state_before, report_before) = describe(&confinement, running.report());
        match running.wait() {
            Ok(finished) => {
                let (sandbox_state, report) = describe(&confinement, &finished.report);
                Ok(Done {
                    finished,
                    sandbox_state,
                    report,
                })
            }
            Err(e) => Err(Lost {
                message: e.to_string(),
                sandbox_state: state_before,
                report: with(report_before, &[("cause", json!(e.to_string()))]),
            }),
        }
    }
}

/// A command that started but whose end gavel could not observe (waiting failed).
pub struct Lost {
    /// What failed.
    pub message: String,
    /// `sandbox_state` as applied.
    pub sandbox_state: SandboxState,
    /// The `sandbox` member, with the `cause`.
    pub report: Value,
}

/// The signal mask of this thread, to put back with [`restore_mask`].
pub struct SavedMask(libc::sigset_t);

/// Blocks the signals gavel forwards ([`gavel_sandbox::forwarded_signals`]) on this
/// (the only) thread and returns the previous mask.
///
/// gavel-sandbox installs its forwarding handlers once the child has exec'd; a signal
/// that arrives between fork and then would otherwise kill gavel with its default
/// action (and the command with it, through the parent-death signal) and leave no
/// execution receipt. Blocked, it waits, and is forwarded as soon as the mask is
/// restored after the spawn. The child starts with an empty mask (gavel-sandbox sets
/// it), so blocking here never reaches the command.
pub fn block_forwarded() -> SavedMask {
    // SAFETY: sigset operations on stack values; pthread_sigmask changes only this
    // thread's mask and writes the previous one into `old`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in gavel_sandbox::forwarded_signals() {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        SavedMask(old)
    }
}

/// Restores a mask saved by [`block_forwarded`]; blocked signals that arrived meanwhile
/// are delivered now.
pub fn restore_mask(saved: &SavedMask) {
    // SAFETY: sets this thread's mask to a value previously returned by the kernel.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &saved.0, std::ptr::null_mut());
    }
}
