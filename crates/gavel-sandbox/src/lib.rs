//! gavel's confinement: sandbox profiles, Landlock and seccomp on Linux, and the
//! enforcement report of what was actually enforced.
//!
//! ```text
//! Profile::from_file / Profile::builtin      resolve paths, validate env rules
//! resolve_executable                         PATH lookup like a shell (127 / 126)
//! prepare(profile, opts, exe, argv, env, cwd) probe Landlock ABI, plan controls, refuse
//!                                            unenforceable ones, build ruleset + BPF +
//!                                            CStrings: everything before the child
//! Prepared::spawn                            clone (CLONE_VM; fork elsewhere), child
//!                                            on another CPU: setsid, pdeathsig, signals,
//!                                            close fds, chdir, no_new_privs, Landlock,
//!                                            seccomp, execve; each step confirmed over
//!                                            a close-on-exec pipe
//! Running::wait                              forwards signals, reaps, reports
//! ```
//!
//! The contract is `shared/spec/sandbox.md`; decisions where it is silent are written
//! in the module docs (`profile`, `seccomp`, `signals`, `nono`) and in [`prepare`].

mod error;
mod exe;
mod landlock_rules;
mod nono;
mod profile;
mod rawsys;
mod report;
mod resolve;
mod seccomp;
mod signals;
mod spawn;

pub use error::{ChildStep, SandboxError, SpawnError};
pub use exe::{DEFAULT_PATH, resolve_executable};
pub use landlock_rules::kernel_abi;
pub use nono::{
    NONO_PROFILE_JSON, find_nono, nono_argv, nono_argv_with_profile, write_nono_profile,
};
pub use profile::{Network, Profile, SYSTEM_EXEC, SYSTEM_READ, SyscallMode, is_forbidden_env};
pub use report::{
    CONTROLS, ControlStatus, EnforcementReport, PassedFd, SandboxState, SeccompReport,
};
pub use signals::{FORWARDED as FORWARDED_SIGNALS, forwarded as forwarded_signals};
pub use spawn::{Finished, Gated, Prepared, Running, passable_fd, signal_name};

use report::CONTROLS as CONTROL_NAMES;
use spawn::Confinement;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Options of [`prepare`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Run even when a required control is `absent` or `degraded` on this kernel (the
    /// report then says exactly which). Never allows running with no Landlock at all.
    pub allow_degraded: bool,
    /// Behave as if the kernel's Landlock ABI were at most this (tests; the CLI maps
    /// `GAVEL_SIMULATE_LANDLOCK_ABI` onto it). The ruleset really is built for the lower
    /// ABI, so what the report says is what the kernel enforces. `Some(0)` makes
    /// `prepare` refuse.
    pub simulate_landlock_abi: Option<u32>,
}

/// Symbolic name of an errno value (`"EACCES"`), or `"errno"` when unknown.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => "errno",
    }
}

fn cstring(what: impl FnOnce() -> String, bytes: &[u8]) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::NulByte { what: what() })
}

struct Exec {
    exe: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
}

fn exec_strings(
    exe: &Path,
    argv: &[OsString],
    env: impl Iterator<Item = (OsString, OsString)>,
    cwd: &Path,
) -> Result<Exec, SandboxError> {
    let exe_c = cstring(
        || format!("executable {}", exe.display()),
        exe.as_os_str().as_bytes(),
    )?;
    let mut argv_c = Vec::with_capacity(argv.len().max(1));
    if argv.is_empty() {
        argv_c.push(exe_c.clone());
    }
    for (i, a) in argv.iter().enumerate() {
        argv_c.push(cstring(
            || format!("argument {i} ({})", a.to_string_lossy()),
            a.as_bytes(),
        )?);
    }
    let mut envp = Vec::new();
    for (k, v) in env {
        if k.is_empty() || k.as_bytes().contains(&b'=') {
            continue;
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp.push(cstring(
            || format!("environment variable {}", k.to_string_lossy()),
            &kv,
        )?);
    }
    let cwd_c = cstring(
        || format!("working directory {}", cwd.display()),
        cwd.as_os_str().as_bytes(),
    )?;
    Ok(Exec {
        exe: exe_c,
        argv: argv_c,
        envp,
        cwd: cwd_c,
    })
}

/// Builds everything the confined child needs, before fork.
///
/// - probes the kernel's Landlock ABI (lowered by `simulate_landlock_abi`);
/// - plans each control; refuses with [`SandboxError::LandlockUnavailable`] when there
///   is no Landlock at all (even with `allow_degraded`: that would be an unconfined
///   filesystem), and with [`SandboxError::ControlUnavailable`] when a control the
///   profile requires would be `absent` or `degraded`, unless `allow_degraded`;
/// - builds the Landlock ruleset (paths opened now) and compiles the seccomp programs
///   (a build failure is an error, never an allow-all);
/// - filters the environment to exactly `env.allow` plus `env.set`;
/// - converts exe, argv (`argv[0]` included; `[exe]` when empty), envp and cwd to
///   C strings.
pub fn prepare(
    profile: &Profile,
    opts: &Options,
    exe: &Path,
    argv: &[OsString],
    env: impl Iterator<Item = (OsString, OsString)>,
    cwd: &Path,
) -> Result<Prepared, SandboxError> {
    seccomp::available()?;
    let kernel = kernel_abi();
    let abi = opts.simulate_landlock_abi.map_or(kernel, |s| s.min(kernel));
    let simulated = opts.simulate_landlock_abi.is_some_and(|s| s < kernel);
    let plan = landlock_rules::plan(profile, abi);
    let sc = seccomp::build(profile.syscalls(), profile.network(), plan.landlock_net)?;
    let report = EnforcementReport {
        landlock_abi: abi,
        landlock_abi_kernel: kernel,
        no_new_privs: false,
        capabilities_dropped: false,
        controls: CONTROL_NAMES.map(|c| {
            (
                c,
                plan.statuses
                    .get(c)
                    .copied()
                    .unwrap_or(ControlStatus::Absent),
            )
        }),
        notes: plan.notes.clone(),
        net_tcp_mechanism: plan.net_tcp_mechanism,
        seccomp: SeccompReport {
            mode: profile.syscalls().as_str(),
            filter_sha256: Some(sc.sha256.clone()),
            programs: sc.programs.len(),
            instructions: sc.programs.iter().map(|p| p.insns.len()).sum(),
            denied_groups: sc.denied_groups.clone(),
            installed: false,
        },
        profile_sha256: Some(profile.sha256()),
        landlock_applied: false,
        steps: Vec::new(),
        verified_in_child: false,
        state: SandboxState::Enabled,
        passed_fds: Vec::new(),
    };
    let sim = if simulated { ", simulated" } else { "" };
    if abi == 0 {
        let mut r = report;
        r.state = SandboxState::Unavailable;
        return Err(SandboxError::LandlockUnavailable {
            abi,
            simulated: sim,
            report: Box::new(r),
        });
    }
    if !opts.allow_degraded
        && let Some((req, status)) = plan.shortfalls.first()
    {
        let mut r = report;
        r.state = SandboxState::Unavailable;
        return Err(SandboxError::ControlUnavailable {
            control: req.control,
            status: status.as_str(),
            feature: req.feature,
            needed: req.needed,
            abi,
            simulated: if simulated { " (simulated)" } else { "" },
            report: Box::new(r),
        });
    }
    let ruleset = landlock_rules::build_ruleset(profile, abi, plan.landlock_net)?;
    let ruleset = spawn::above_stdio(ruleset).map_err(|e| SandboxError::Landlock {
        message: e.to_string(),
    })?;
    let strings = exec_strings(exe, argv, profile.child_env(env).into_iter(), cwd)?;
    Ok(Prepared {
        exe_path: exe.to_path_buf(),
        exe: strings.exe,
        argv: strings.argv,
        envp: strings.envp,
        cwd: strings.cwd,
        confinement: Some(Confinement {
            ruleset,
            programs: sc.programs.into_iter().map(|p| p.insns).collect(),
        }),
        report,
        stdio: [None, None, None],
        pass: Vec::new(),
    })
}

/// Prepares a spawn without gavel's confinement (the `openshell` and `none`
/// backends): the environment is passed as given, but fd hygiene (every fd but 0-2
/// closed), `setsid`, the parent-death signal and signal forwarding still apply. The
/// report says `sandbox_state: disabled`.
pub fn prepare_unconfined(
    exe: &Path,
    argv: &[OsString],
    env: impl Iterator<Item = (OsString, OsString)>,
    cwd: &Path,
) -> Result<Prepared, SandboxError> {
    let strings = exec_strings(exe, argv, env, cwd)?;
    Ok(Prepared {
        exe_path: exe.to_path_buf(),
        exe: strings.exe,
        argv: strings.argv,
        envp: strings.envp,
        cwd: strings.cwd,
        confinement: None,
        report: EnforcementReport::disabled(kernel_abi()),
        stdio: [None, None, None],
        pass: Vec::new(),
    })
}

/// [`prepare_unconfined`] then [`Prepared::spawn`].
pub fn spawn_unconfined(
    exe: &Path,
    argv: &[OsString],
    env: impl Iterator<Item = (OsString, OsString)>,
    cwd: &Path,
) -> Result<Running, SpawnError> {
    prepare_unconfined(exe, argv, env, cwd)
        .map_err(SpawnError::Invalid)?
        .spawn()
}

/// Whether `exe` lies under the profile's `filesystem.exec` (a pre-check for friendlier
/// errors; the kernel's answer at execve is what counts).
pub fn exec_permitted(profile: &Profile, exe: &Path) -> bool {
    Profile::covers(profile.exec(), exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::from_yaml_str(
            "filesystem: {read: [/usr, /etc], exec: [/usr/bin]}",
            "t",
            Path::new("/"),
        )
        .unwrap()
    }

    #[test]
    fn planned_report_shape() {
        let p = profile();
        let prepared = prepare(
            &p,
            &Options::default(),
            Path::new("/usr/bin/true"),
            &[],
            std::iter::empty(),
            Path::new("/"),
        )
        .unwrap();
        let r = prepared.planned_report();
        let j = r.to_json();
        assert_eq!(j["landlock_abi"], serde_json::json!(kernel_abi()));
        assert_eq!(
            j["no_new_privs"],
            serde_json::json!(false),
            "planned, not yet applied"
        );
        assert_eq!(j["verified_in_child"], serde_json::json!(false));
        for c in CONTROLS {
            assert_eq!(j["controls"][c], serde_json::json!("enforced"), "{c}");
        }
        assert_eq!(j["seccomp"]["mode"], serde_json::json!("default"));
        assert_eq!(
            j["seccomp"]["filter_sha256"].as_str().map(str::len),
            Some(64)
        );
        assert_eq!(j["profile_sha256"], serde_json::json!(p.sha256()));
        assert_eq!(r.sandbox_state(), SandboxState::Enabled);
    }

    #[test]
    fn simulated_old_abi_refuses_unless_degraded_allowed() {
        let p = profile();
        let run = |abi: u32, allow_degraded: bool| {
            let opts = Options {
                allow_degraded,
                simulate_landlock_abi: Some(abi),
            };
            prepare(
                &p,
                &opts,
                Path::new("/usr/bin/true"),
                &[],
                std::iter::empty(),
                Path::new("/"),
            )
        };
        let err = run(0, false).unwrap_err();
        assert!(
            matches!(err, SandboxError::LandlockUnavailable { .. }),
            "{err}"
        );
        assert_eq!(err.sandbox_state(), SandboxState::Unavailable);
        assert!(
            matches!(run(0, true), Err(SandboxError::LandlockUnavailable { .. })),
            "ABI 0 refuses even degraded"
        );
        let err = run(5, false).unwrap_err();
        match &err {
            SandboxError::ControlUnavailable {
                control,
                status,
                needed,
                report,
                ..
            } => {
                assert_eq!(*control, "scope_signal");
                assert_eq!(*status, "absent");
                assert_eq!(*needed, 6);
                assert_eq!(report.control("scope_signal"), Some(ControlStatus::Absent));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("--allow-degraded"), "{err}");
        let ok = run(5, true).unwrap();
        let r = ok.planned_report();
        assert_eq!(r.landlock_abi, 5);
        assert_eq!(r.control("scope_signal"), Some(ControlStatus::Absent));
        assert_eq!(r.control("net_tcp"), Some(ControlStatus::Enforced));
        let r3 = run(3, true).unwrap().planned_report();
        assert_eq!(r3.net_tcp_mechanism, Some("seccomp"));
        let r2 = run(2, true).unwrap().planned_report();
        assert_eq!(r2.control("fs_truncate"), Some(ControlStatus::Absent));
        assert_eq!(r2.control("fs_write"), Some(ControlStatus::Degraded));
    }

    #[test]
    fn nul_bytes_are_errors() {
        use std::os::unix::ffi::OsStringExt;
        let p = profile();
        let argv = vec![OsString::from("x"), OsString::from_vec(b"a\0b".to_vec())];
        let err = prepare(
            &p,
            &Options::default(),
            Path::new("/usr/bin/true"),
            &argv,
            std::iter::empty(),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(matches!(err, SandboxError::NulByte { .. }), "{err}");
    }
}
