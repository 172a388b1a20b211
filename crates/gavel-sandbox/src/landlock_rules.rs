//! Landlock: ABI probing, the per-control plan, and the ruleset built before fork.
//!
//! The ruleset is created in the parent with the `landlock` crate (rights handled per
//! the ABI in use, every path opened `O_PATH` and added as a rule, TCP ports added as
//! rules); what crosses the fork is one ruleset fd, applied in the child with the raw
//! `landlock_restrict_self` system call (async-signal-safe).

use crate::error::SandboxError;
use crate::profile::{Network, Profile};
use crate::report::ControlStatus;
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// The Landlock ABI of the running kernel (0 when Landlock is absent or disabled).
pub fn kernel_abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the ABI version
    // (or -1 with ENOSYS/EOPNOTSUPP); it dereferences nothing.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(rc).unwrap_or(0)
}

/// Where a control comes from and what it needs.
pub(crate) struct Requirement {
    pub control: &'static str,
    pub feature: &'static str,
    pub needed: u32,
}

/// The per-control outcome for a profile at an ABI.
pub(crate) struct Plan {
    pub statuses: BTreeMap<&'static str, ControlStatus>,
    pub notes: Vec<(&'static str, String)>,
    /// Controls the profile requires that are absent or degraded.
    pub shortfalls: Vec<(Requirement, ControlStatus)>,
    /// Whether TCP is refused by Landlock (ABI 4+), or must be refused by seccomp.
    pub landlock_net: bool,
    pub net_tcp_mechanism: Option<&'static str>,
}

pub(crate) fn plan(profile: &Profile, abi: u32) -> Plan {
    let mut statuses = BTreeMap::new();
    let mut notes = Vec::new();
    let mut shortfalls = Vec::new();
    let mut set = |control: &'static str,
                   status: ControlStatus,
                   req: Option<Requirement>,
                   note: Option<String>| {
        statuses.insert(control, status);
        if let Some(n) = note {
            notes.push((control, n));
        }
        if matches!(status, ControlStatus::Absent | ControlStatus::Degraded)
            && let Some(r) = req
        {
            shortfalls.push((r, status));
        }
    };
    let fs = |control: &'static str, feature: &'static str, needed: u32| Requirement {
        control,
        feature,
        needed,
    };
    let base = if abi >= 1 {
        ControlStatus::Enforced
    } else {
        ControlStatus::Absent
    };
    let base_note = (abi == 0).then(|| "Landlock unavailable".to_owned());
    set(
        "fs_read",
        base,
        Some(fs("fs_read", "Landlock filesystem access control", 1)),
        base_note.clone(),
    );
    set(
        "fs_exec",
        base,
        Some(fs("fs_exec", "Landlock filesystem access control", 1)),
        base_note.clone(),
    );
    if abi >= 3 {
        set("fs_write", ControlStatus::Enforced, None, None);
        set("fs_truncate", ControlStatus::Enforced, None, None);
    } else {
        let w = if abi >= 1 {
            ControlStatus::Degraded
        } else {
            ControlStatus::Absent
        };
        set(
            "fs_write",
            w,
            Some(fs("fs_write", "Landlock truncate control (Linux 6.2)", 3)),
            Some("truncate(2) of existing files is not restricted below Landlock ABI 3".to_owned()),
        );
        set(
            "fs_truncate",
            ControlStatus::Absent,
            Some(fs(
                "fs_truncate",
                "Landlock truncate control (Linux 6.2)",
                3,
            )),
            Some("needs Landlock ABI 3".to_owned()),
        );
    }
    let mut landlock_net = false;
    let mut net_tcp_mechanism = None;
    match profile.network() {
        Network::Allow => {
            set("net_tcp", ControlStatus::NotRequested, None, None);
            set("net_other", ControlStatus::NotRequested, None, None);
        }
        Network::Deny => {
            if abi >= 4 {
                landlock_net = true;
                net_tcp_mechanism = Some("landlock");
                set("net_tcp", ControlStatus::Enforced, None, None);
            } else {
                net_tcp_mechanism = Some("seccomp");
                set(
                    "net_tcp",
                    ControlStatus::Enforced,
                    None,
                    Some("Landlock ABI < 4: every AF_INET/AF_INET6 socket is refused by seccomp instead".to_owned()),
                );
            }
            set("net_other", ControlStatus::Enforced, None, None);
        }
        Network::Ports { .. } => {
            if abi >= 4 {
                landlock_net = true;
                net_tcp_mechanism = Some("landlock");
                set("net_tcp", ControlStatus::Enforced, None, None);
            } else {
                set(
                    "net_tcp",
                    ControlStatus::Absent,
                    Some(fs(
                        "net_tcp",
                        "Landlock TCP bind/connect control (Linux 6.7)",
                        4,
                    )),
                    Some("per-port TCP rules need Landlock ABI 4".to_owned()),
                );
            }
            set("net_other", ControlStatus::Enforced, None, None);
        }
    }
    let scope = if abi >= 6 {
        ControlStatus::Enforced
    } else {
        ControlStatus::Absent
    };
    let scope_note = (abi < 6).then(|| "needs Landlock ABI 6".to_owned());
    set(
        "scope_signal",
        scope,
        Some(fs(
            "scope_signal",
            "Landlock signal scoping (Linux 6.12)",
            6,
        )),
        scope_note.clone(),
    );
    set(
        "scope_abstract_unix",
        scope,
        Some(fs(
            "scope_abstract_unix",
            "Landlock abstract unix socket scoping (Linux 6.12)",
            6,
        )),
        scope_note,
    );
    Plan {
        statuses,
        notes,
        shortfalls,
        landlock_net,
        net_tcp_mechanism,
    }
}

fn ll_err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Landlock {
        message: format!("{what}: {e}"),
    }
}

/// Builds the ruleset for `profile` at `abi` (1..) and returns its fd.
pub(crate) fn build_ruleset(
    profile: &Profile,
    abi: u32,
    landlock_net: bool,
) -> Result<OwnedFd, SandboxError> {
    let abi_v = ABI::from(i32::try_from(abi).unwrap_or(i32::MAX));
    let read: BitFlags<AccessFs> = AccessFs::ReadFile | AccessFs::ReadDir;
    // Write rights of this ABI, minus device-node creation, which is never granted.
    let write: BitFlags<AccessFs> =
        read | (AccessFs::from_write(abi_v) & !(AccessFs::MakeChar | AccessFs::MakeBlock));
    let exec: BitFlags<AccessFs> = read | AccessFs::Execute;
    let file_rights = AccessFs::from_file(abi_v);

    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi_v))
        .map_err(|e| ll_err("handling filesystem rights", e))?;
    if landlock_net {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(|e| ll_err("handling TCP rights", e))?;
    }
    if abi >= 6 {
        ruleset = ruleset
            .scope(Scope::Signal | Scope::AbstractUnixSocket)
            .map_err(|e| ll_err("scoping signals and abstract unix sockets", e))?;
    }
    let mut created = ruleset
        .create()
        .map_err(|e| ll_err("creating the ruleset", e))?;

    let mut rights: BTreeMap<PathBuf, BitFlags<AccessFs>> = BTreeMap::new();
    for (set, r) in [
        (profile.read(), read),
        (profile.write(), write),
        (profile.exec(), exec),
    ] {
        for p in set {
            *rights.entry(p.clone()).or_insert_with(BitFlags::empty) |= r;
        }
    }
    for (path, mut r) in rights {
        // The type as resolved with the profile; the O_PATH open below then fails if
        // the path has gone, and Landlock refuses directory rights on a file.
        if !profile.is_dir(&path) {
            r &= file_rights;
        }
        let fd =
            PathFd::new(&path).map_err(|e| ll_err(&format!("opening {}", path.display()), e))?;
        created = created
            .add_rule(PathBeneath::new(fd, r))
            .map_err(|e| ll_err(&format!("adding a rule for {}", path.display()), e))?;
    }
    if landlock_net
        && let Network::Ports {
            connect_tcp,
            bind_tcp,
        } = profile.network()
    {
        for p in connect_tcp {
            created = created
                .add_rule(NetPort::new(*p, AccessNet::ConnectTcp))
                .map_err(|e| ll_err(&format!("adding connect rule for port {p}"), e))?;
        }
        for p in bind_tcp {
            created = created
                .add_rule(NetPort::new(*p, AccessNet::BindTcp))
                .map_err(|e| ll_err(&format!("adding bind rule for port {p}"), e))?;
        }
    }
    let fd: Option<OwnedFd> = created.into();
    fd.ok_or_else(|| ll_err("creating the ruleset", "the kernel returned no ruleset fd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(net: &str) -> Profile {
        Profile::from_yaml_str(&format!("network: {net}"), "t", Path::new("/")).unwrap()
    }
    use std::path::Path;

    #[test]
    fn plan_per_abi() {
        let p = profile("deny");
        let full = plan(&p, 7);
        assert!(full.shortfalls.is_empty());
        assert!(
            full.statuses
                .values()
                .all(|s| *s == ControlStatus::Enforced)
        );
        assert!(full.landlock_net);

        let old = plan(&p, 3);
        assert_eq!(
            old.statuses["net_tcp"],
            ControlStatus::Enforced,
            "deny falls back to seccomp"
        );
        assert_eq!(old.net_tcp_mechanism, Some("seccomp"));
        assert!(!old.landlock_net);
        assert_eq!(old.statuses["scope_signal"], ControlStatus::Absent);
        let names: Vec<_> = old.shortfalls.iter().map(|(r, _)| r.control).collect();
        assert_eq!(names, ["scope_signal", "scope_abstract_unix"]);

        let ports = plan(&profile("{connect_tcp: [443]}"), 3);
        assert_eq!(ports.statuses["net_tcp"], ControlStatus::Absent);

        let v2 = plan(&p, 2);
        assert_eq!(v2.statuses["fs_write"], ControlStatus::Degraded);
        assert_eq!(v2.statuses["fs_truncate"], ControlStatus::Absent);

        let none = plan(&p, 0);
        assert_eq!(none.statuses["fs_read"], ControlStatus::Absent);

        let allow = plan(&profile("allow"), 7);
        assert_eq!(allow.statuses["net_tcp"], ControlStatus::NotRequested);
        assert_eq!(allow.statuses["net_other"], ControlStatus::NotRequested);
    }

    #[test]
    fn kernel_abi_is_probed() {
        // The CI machine has Landlock; this test states it so that a kernel without it
        // is noticed rather than silently tested at ABI 0.
        assert!(
            kernel_abi() >= 1,
            "this machine is expected to have Landlock"
        );
    }
}
