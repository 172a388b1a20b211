//! The enforcement report: the `sandbox` member of the execution receipt.

use serde_json::{Map, Value, json};

/// Status of one control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlStatus {
    /// Fully enforced.
    Enforced,
    /// Partially enforced (what is missing is named in `degraded_because`).
    Degraded,
    /// Required by the profile but not enforced.
    Absent,
    /// The profile does not ask for it (e.g. `net_tcp` with `network: allow`).
    NotRequested,
}

impl ControlStatus {
    /// `enforced`, `degraded`, `absent` or `not_requested`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Enforced => "enforced",
            ControlStatus::Degraded => "degraded",
            ControlStatus::Absent => "absent",
            ControlStatus::NotRequested => "not_requested",
        }
    }
}

/// The eight controls of sandbox.md, in report order.
pub const CONTROLS: [&str; 8] = [
    "fs_read",
    "fs_write",
    "fs_exec",
    "fs_truncate",
    "net_tcp",
    "net_other",
    "scope_signal",
    "scope_abstract_unix",
];

/// `sandbox_state` of the execution receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxState {
    /// gavel confined the command.
    Enabled,
    /// Confinement was not gavel's (`openshell`, `none`): the command ran unconfined by gavel.
    Disabled,
    /// Confinement was required but could not be applied; nothing ran.
    Unavailable,
}

impl SandboxState {
    /// `enabled`, `disabled` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxState::Enabled => "enabled",
            SandboxState::Disabled => "disabled",
            SandboxState::Unavailable => "unavailable",
        }
    }
}

/// What the seccomp filter does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompReport {
    /// `default`, `strict`, or `none` (unconfined).
    pub mode: &'static str,
    /// Hex SHA-256 of the BPF bytes of all installed programs, in install order.
    pub filter_sha256: Option<String>,
    /// Number of BPF programs installed (one: arch guard, number tree, argument checks).
    pub programs: usize,
    /// Total BPF instructions.
    pub instructions: usize,
    /// Syscall groups refused with EPERM (default mode) or `["*not allow-listed*"]` (strict).
    pub denied_groups: Vec<&'static str>,
    /// Whether the filter was installed in the child (false in a planned report).
    pub installed: bool,
}

/// The enforcement report. Built as a plan by `prepare`, then confirmed step by step
/// from the child's status pipe by `spawn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcementReport {
    /// Landlock ABI used (the kernel's, or lower when simulated).
    pub landlock_abi: u32,
    /// Landlock ABI the kernel reports.
    pub landlock_abi_kernel: u32,
    /// `no_new_privs` set in the child (false in a planned report).
    pub no_new_privs: bool,
    /// Every capability dropped in the child, bounding set included (false in a
    /// planned report): root is confined like any user.
    pub capabilities_dropped: bool,
    /// The eight controls.
    pub controls: [(&'static str, ControlStatus); 8],
    /// Why a control is degraded or absent, per control.
    pub notes: Vec<(&'static str, String)>,
    /// Which mechanism enforces `net_tcp`: `landlock`, `seccomp` or none.
    pub net_tcp_mechanism: Option<&'static str>,
    /// seccomp.
    pub seccomp: SeccompReport,
    /// Hex SHA-256 of the JCS of the resolved profile (None when unconfined).
    pub profile_sha256: Option<String>,
    /// Whether the Landlock ruleset was applied in the child.
    pub landlock_applied: bool,
    /// Child steps confirmed over the status pipe, in order.
    pub steps: Vec<&'static str>,
    /// True once the child confirmed every step and exec happened.
    pub verified_in_child: bool,
    /// The state for `sandbox_state`.
    pub state: SandboxState,
    /// Descriptors beyond 0-2 passed to the command on request
    /// ([`crate::Prepared::pass_fds`]). Landlock does not restrict an already-open
    /// descriptor, so each is a grant beside the profile, recorded as such.
    pub passed_fds: Vec<PassedFd>,
}

/// A descriptor passed to the command on request, as it was when gavel prepared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedFd {
    /// Its number (the same in the command).
    pub fd: i32,
    /// `read`, `write`, `read-write` or `path` (`O_PATH`).
    pub access: &'static str,
    /// What it refers to, as `/proc/self/fd` names it (a path, `pipe:[N]`,
    /// `socket:[N]`, ...).
    pub target: String,
}

impl EnforcementReport {
    /// Status of a control by name.
    pub fn control(&self, name: &str) -> Option<ControlStatus> {
        self.controls
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    pub(crate) fn set_control(&mut self, name: &str, status: ControlStatus) {
        for (n, s) in &mut self.controls {
            if *n == name {
                *s = status;
            }
        }
    }

    /// `sandbox_state` for the execution receipt.
    pub fn sandbox_state(&self) -> SandboxState {
        self.state
    }

    /// A report for a command run without gavel's confinement (`openshell`, `none`).
    pub fn disabled(landlock_abi_kernel: u32) -> EnforcementReport {
        EnforcementReport {
            landlock_abi: 0,
            landlock_abi_kernel,
            no_new_privs: false,
            capabilities_dropped: false,
            controls: CONTROLS.map(|c| (c, ControlStatus::NotRequested)),
            notes: Vec::new(),
            net_tcp_mechanism: None,
            seccomp: SeccompReport {
                mode: "none",
                filter_sha256: None,
                programs: 0,
                instructions: 0,
                denied_groups: Vec::new(),
                installed: false,
            },
            profile_sha256: None,
            landlock_applied: false,
            steps: Vec::new(),
            verified_in_child: false,
            state: SandboxState::Disabled,
            passed_fds: Vec::new(),
        }
    }

    /// The report as JSON: exactly the members of sandbox.md, plus `landlock_abi_kernel`,
    /// `landlock_applied`, `net_tcp_mechanism`, `notes`, `steps`, `verified_in_child`
    /// and seccomp details (`programs`, `instructions`, `denied_groups`, `installed`,
    /// `arch`, `x32_and_i386`).
    pub fn to_json(&self) -> Value {
        let mut controls = Map::new();
        for (name, status) in &self.controls {
            controls.insert((*name).to_owned(), json!(status.as_str()));
        }
        let mut notes = Map::new();
        for (name, note) in &self.notes {
            notes.insert((*name).to_owned(), json!(note));
        }
        let mut out = json!({
            "landlock_abi": self.landlock_abi,
            "landlock_abi_kernel": self.landlock_abi_kernel,
            "landlock_applied": self.landlock_applied,
            "no_new_privs": self.no_new_privs,
            "capabilities_dropped": self.capabilities_dropped,
            "controls": controls,
            "notes": notes,
            "net_tcp_mechanism": self.net_tcp_mechanism,
            "seccomp": {
                "mode": self.seccomp.mode,
                "filter_sha256": self.seccomp.filter_sha256,
                "programs": self.seccomp.programs,
                "instructions": self.seccomp.instructions,
                "denied_groups": self.seccomp.denied_groups,
                "installed": self.seccomp.installed,
                "arch": if self.seccomp.mode == "none" { Value::Null } else { json!(crate::seccomp::ARCH_NAME) },
                "x32_and_i386": if self.seccomp.mode == "none" { Value::Null } else { json!("kill_process") },
            },
            "profile_sha256": self.profile_sha256,
            "steps": self.steps,
            "verified_in_child": self.verified_in_child,
        });
        // only when some were passed, so that reports without them keep their shape
        if !self.passed_fds.is_empty()
            && let Some(o) = out.as_object_mut()
        {
            let fds: Vec<Value> = self
                .passed_fds
                .iter()
                .map(|p| json!({"fd": p.fd, "access": p.access, "target": p.target}))
                .collect();
            o.insert("passed_fds".into(), Value::Array(fds));
        }
        out
    }
}
