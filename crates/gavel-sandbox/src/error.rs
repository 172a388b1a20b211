//! Errors. Each `Display` is one line: what failed, where, and how to fix it.

use crate::report::{EnforcementReport, SandboxState};
use std::path::PathBuf;

/// Why a profile could not be loaded, an executable resolved, or a sandbox prepared.
/// Nothing has been executed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The profile file could not be read.
    #[error("cannot read sandbox profile {path}: {source}; check the --profile path")]
    ProfileRead {
        /// The profile file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The profile is not valid YAML of the profile shape (this includes unknown keys,
    /// which are named in `message`).
    #[error("sandbox profile {origin}: {message}")]
    ProfileInvalid {
        /// The profile file or built-in name.
        origin: String,
        /// What is wrong, with the key and position when known.
        message: String,
    },
    /// A path listed in the profile does not exist.
    #[error(
        "sandbox profile {origin}: {field} entry {entry:?} does not exist ({resolved}); create it or remove it from the profile"
    )]
    PathMissing {
        /// The profile file or built-in name.
        origin: String,
        /// `filesystem.read`, `filesystem.write` or `filesystem.exec`.
        field: &'static str,
        /// The entry as written.
        entry: String,
        /// The absolute path it resolved to.
        resolved: String,
    },
    /// A relative path escapes the base directory it is relative to.
    #[error(
        "sandbox profile {origin}: {field} entry {entry:?} escapes the base directory {base} ({how}); write it as an absolute path if that is intended"
    )]
    PathEscapes {
        /// The profile file or built-in name.
        origin: String,
        /// `filesystem.read`, `filesystem.write` or `filesystem.exec`.
        field: &'static str,
        /// The entry as written.
        entry: String,
        /// The base directory.
        base: String,
        /// `"lexically"` or `"through a symlink"`.
        how: &'static str,
    },
    /// A path cannot be used (not UTF-8, unreadable metadata, ...).
    #[error("sandbox profile {origin}: {field} entry {entry:?} cannot be used: {reason}")]
    PathUnusable {
        /// The profile file or built-in name.
        origin: String,
        /// `filesystem.read`, `filesystem.write` or `filesystem.exec`, or `base_dir`.
        field: &'static str,
        /// The entry as written.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The profile lets through an environment variable that gavel never passes.
    #[error(
        "sandbox profile {origin}: {field} names {name}, which gavel never passes to a confined command (loader or interpreter code injection); remove it"
    )]
    ForbiddenEnv {
        /// The profile file or built-in name.
        origin: String,
        /// `env.allow` or `env.set`.
        field: &'static str,
        /// The variable.
        name: String,
    },
    /// Unknown built-in profile name.
    #[error(
        "unknown built-in sandbox profile {name:?}; the built-in profiles are: workspace, read-only"
    )]
    UnknownBuiltin {
        /// The requested name.
        name: String,
    },
    /// The command was not found (a shell exits 127).
    #[error("{command}: command not found (searched {searched}); check the command name or PATH")]
    CommandNotFound {
        /// The command as given.
        command: String,
        /// Where it was searched.
        searched: String,
    },
    /// The command exists but cannot be executed (a shell exits 126).
    #[error("{path}: {reason}; make it an executable regular file")]
    NotExecutable {
        /// The file found.
        path: PathBuf,
        /// Why it cannot be executed.
        reason: String,
    },
    /// An argument, environment entry or path contains a NUL byte.
    #[error("{what} contains a NUL byte and cannot be passed to execve")]
    NulByte {
        /// Which argument or variable.
        what: String,
    },
    /// Landlock is not available at all: gavel refuses rather than run unconfined.
    #[error(
        "Landlock is unavailable (ABI {abi}{simulated}): the filesystem controls fs_read, fs_write and fs_exec cannot be enforced, so nothing was run; use a kernel with Landlock enabled (Linux 5.13+, lsm=landlock) or an explicit unsandboxed backend"
    )]
    LandlockUnavailable {
        /// The ABI seen (0).
        abi: u32,
        /// `", simulated"` when `simulate_landlock_abi` was used.
        simulated: &'static str,
        /// The report of what would have been enforced.
        report: Box<EnforcementReport>,
    },
    /// A control the profile requires cannot be enforced on this kernel.
    #[error(
        "the profile requires {control} but it would be {status} on this kernel: {feature} needs Landlock ABI {needed} and the ABI is {abi}{simulated}; nothing was run; upgrade the kernel or pass --allow-degraded to run without it"
    )]
    ControlUnavailable {
        /// The control (`net_tcp`, `scope_signal`, ...).
        control: &'static str,
        /// `absent` or `degraded`.
        status: &'static str,
        /// The kernel feature.
        feature: &'static str,
        /// The Landlock ABI that brings it.
        needed: u32,
        /// The ABI in use.
        abi: u32,
        /// `" (simulated)"` when `simulate_landlock_abi` was used.
        simulated: &'static str,
        /// The report of what would have been enforced.
        report: Box<EnforcementReport>,
    },
    /// seccomp filtering is not available in this kernel.
    #[error(
        "seccomp filtering is unavailable on this kernel ({reason}); nothing was run; use a kernel built with CONFIG_SECCOMP_FILTER"
    )]
    SeccompUnavailable {
        /// Why.
        reason: String,
    },
    /// Building the Landlock ruleset failed.
    #[error("cannot build the Landlock ruleset: {message}; nothing was run")]
    Landlock {
        /// What failed.
        message: String,
    },
    /// Building the seccomp filter failed (never replaced by an allow-all).
    #[error("cannot build the seccomp filter: {message}; nothing was run")]
    Seccomp {
        /// What failed.
        message: String,
    },
    /// nono is not installed.
    #[error(
        "nono is not on PATH (searched {searched}); install it with `cargo install nono-cli` to use the nono sandbox backend"
    )]
    NonoNotInstalled {
        /// Where it was searched.
        searched: String,
    },
}

impl SandboxError {
    /// The exit status a shell would use for this error: 127 when the command does not
    /// exist, 126 when it cannot be executed or the sandbox cannot be built.
    pub fn exit_code(&self) -> i32 {
        match self {
            SandboxError::CommandNotFound { .. } | SandboxError::NonoNotInstalled { .. } => 127,
            _ => 126,
        }
    }

    /// `sandbox_state` for an execution receipt about this failure.
    pub fn sandbox_state(&self) -> SandboxState {
        SandboxState::Unavailable
    }

    /// The planned enforcement report, when the failure is about a control that cannot be
    /// enforced (for the `sandbox` member of the execution receipt).
    pub fn report(&self) -> Option<&EnforcementReport> {
        match self {
            SandboxError::LandlockUnavailable { report, .. }
            | SandboxError::ControlUnavailable { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// A step of the child between fork and exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStep {
    /// `setsid()`.
    Setsid,
    /// `prctl(PR_SET_PDEATHSIG)` and the parent check.
    ParentDeathSignal,
    /// Signal dispositions and mask reset.
    Signals,
    /// fd 0-2 present, every other fd closed.
    CloseFds,
    /// `chdir(cwd)`.
    Chdir,
    /// `prctl(PR_SET_NO_NEW_PRIVS)`.
    NoNewPrivs,
    /// Every capability dropped: the bounding set, the ambient set, then the
    /// effective, permitted and inheritable sets (`capset`).
    Capabilities,
    /// `landlock_restrict_self`.
    Landlock,
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`.
    Seccomp,
    /// `execve`.
    Exec,
}

impl ChildStep {
    pub(crate) const ALL: [ChildStep; 10] = [
        ChildStep::Setsid,
        ChildStep::ParentDeathSignal,
        ChildStep::Signals,
        ChildStep::CloseFds,
        ChildStep::Chdir,
        ChildStep::NoNewPrivs,
        ChildStep::Capabilities,
        ChildStep::Landlock,
        ChildStep::Seccomp,
        ChildStep::Exec,
    ];

    /// Stable name (as in reports and messages).
    pub fn as_str(self) -> &'static str {
        match self {
            ChildStep::Setsid => "setsid",
            ChildStep::ParentDeathSignal => "parent_death_signal",
            ChildStep::Signals => "signals",
            ChildStep::CloseFds => "close_fds",
            ChildStep::Chdir => "chdir",
            ChildStep::NoNewPrivs => "no_new_privs",
            ChildStep::Capabilities => "drop_capabilities",
            ChildStep::Landlock => "landlock_restrict_self",
            ChildStep::Seccomp => "seccomp",
            ChildStep::Exec => "execve",
        }
    }

    pub(crate) fn code(self) -> u32 {
        self as u32 + 1
    }

    pub(crate) fn from_code(code: u32) -> Option<ChildStep> {
        ChildStep::ALL.iter().copied().find(|s| s.code() == code)
    }
}

impl std::fmt::Display for ChildStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a prepared sandbox could not be started or waited for.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Creating the status pipe or duplicating a descriptor failed.
    #[error("cannot set up the child status pipe: {0}; nothing was run")]
    Pipe(std::io::Error),
    /// Starting the child (`clone` or `fork`) failed, or its stack could not be mapped.
    #[error("cannot start the child process: {0}; nothing was run (check the process limit)")]
    Fork(std::io::Error),
    /// A confinement step failed in the child: nothing was executed.
    #[error("the confined child failed at {step}: {} ({errno}); nothing was executed", crate::errno_name(*errno))]
    ChildSetup {
        /// The failing step.
        step: ChildStep,
        /// Its errno.
        errno: i32,
        /// What had been applied before the failure.
        report: Box<EnforcementReport>,
    },
    /// The sandbox was applied but `execve` failed.
    #[error("cannot execute {path}: {} ({errno}){hint}", crate::errno_name(*errno))]
    Exec {
        /// The executable.
        path: PathBuf,
        /// execve's errno.
        errno: i32,
        /// A hint (e.g. that the executable is outside `filesystem.exec`).
        hint: &'static str,
        /// What was applied.
        report: Box<EnforcementReport>,
    },
    /// The command line could not be prepared (NUL byte).
    #[error("{0}")]
    Invalid(SandboxError),
    /// The child status pipe carried something unexpected.
    #[error(
        "the child status pipe carried an unexpected record ({0}); treating the sandbox as not applied"
    )]
    Protocol(String),
    /// `waitpid` failed.
    #[error("cannot wait for the child {pid}: {source}")]
    Wait {
        /// The child.
        pid: i32,
        /// The error.
        source: std::io::Error,
    },
}

impl SpawnError {
    /// The exit status a shell would use: 127 when execve said ENOENT, 126 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec { errno, .. } if *errno == libc::ENOENT => 127,
            _ => 126,
        }
    }

    /// `sandbox_state` for an execution receipt about this failure: `unavailable` when a
    /// confinement step failed, `enabled` when only execve failed under the sandbox.
    pub fn sandbox_state(&self) -> SandboxState {
        match self {
            SpawnError::Exec { report, .. } => report.sandbox_state(),
            _ => SandboxState::Unavailable,
        }
    }

    /// The report of what had been applied, when known.
    pub fn report(&self) -> Option<&EnforcementReport> {
        match self {
            SpawnError::ChildSetup { report, .. } | SpawnError::Exec { report, .. } => Some(report),
            _ => None,
        }
    }
}
