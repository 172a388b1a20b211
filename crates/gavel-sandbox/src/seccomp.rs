//! seccomp: the filter, compiled before fork.
//!
//! One classic-BPF program is installed. It is laid out for a cheap load and a cheap
//! run: the kernel converts and JIT-compiles every instruction of a filter when it is
//! installed (a linear list of ~300 allowed calls took 700 instructions and about
//! 0.2 ms to install), and runs the filter on every system call of the command.
//!
//! 1. **arch guard** (6 instructions): kills the process when `seccomp_data.arch` is
//!    not `AUDIT_ARCH_X86_64` (i386 `int 0x80` and other compat entries) or when the
//!    syscall number is `>= 0x40000000` (x32, whose numbers carry `__X32_SYSCALL_BIT`
//!    and would otherwise slip past any list keyed on x86_64 numbers).
//! 2. **number tree**: the system call numbers fall into ranges of equal verdict
//!    (allow, EPERM, ENOSYS, or "look at the arguments"), and a binary search over the
//!    ranges' bounds reaches the verdict in about seven comparisons. `default` mode is
//!    a deny-list answering EPERM; `strict` mode an allow-list answering EPERM to
//!    everything else. `clone3` answers ENOSYS in both, so that libc falls back to
//!    `clone`, whose flags the filter can inspect (clone3 passes them in memory).
//! 3. **argument checks** (compiled by seccompiler, only for the calls that need
//!    them): namespace flags of `clone`/`unshare`, `ioctl` TIOCSTI/TIOCLINUX, and with
//!    a restricted network `socket()`: AF_INET/AF_INET6 only `SOCK_STREAM`
//!    with protocol 0 or TCP (so TCP reaches Landlock, and SCTP/MPTCP streams cannot
//!    bypass it); AF_NETLINK only `NETLINK_ROUTE`; nothing else (UDP, raw, packet,
//!    vsock, ...). AF_UNIX sockets are refused too: Landlock (ABI 7) does not restrict
//!    connecting to a socket file, which reaches docker.sock, D-Bus or an ssh agent
//!    wherever the path is (`socketpair` still works). When Landlock cannot restrict
//!    TCP (ABI < 4) and the network is denied, AF_INET/AF_INET6 are refused entirely.
//!    The tree jumps there for those calls only. With a restricted network and no
//!    `bind_tcp` port, `listen` is refused as well: `listen` on an unbound socket binds
//!    a random port, which Landlock's bind rule never sees.
//!
//! The unit tests prove the program equivalent, call by call and on argument
//! variations, to the straightforward composition it replaces (three seccompiler-style
//! programs run with the kernel's precedence rules), which they keep as the reference.
//!
//! A failure to build the program is an error: there is no allow-all fallback.

use crate::error::SandboxError;
use crate::profile::{Network, SyscallMode};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;

/// Architecture the filter admits.
pub const ARCH_NAME: &str = "x86_64";
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

// BPF opcodes (linux/bpf_common.h).
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// Namespace-creating clone/unshare flags.
const CLONE_NS_FLAGS: [u64; 8] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWTIME as u64,
];

/// The ioctl requests refused (TTY input injection, console control), as the `u64`
/// seccomp compares (glibc's libc types them `c_ulong`, musl's `c_int`).
#[allow(clippy::unnecessary_cast)]
const TIOCSTI: u64 = libc::TIOCSTI as u64;
#[allow(clippy::unnecessary_cast)]
const TIOCLINUX: u64 = libc::TIOCLINUX as u64;

/// `open_tree_attr` (Linux 6.15), not yet in libc.
const SYS_OPEN_TREE_ATTR: i64 = 467;

/// A compiled program: name and instructions.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub name: &'static str,
    pub insns: Vec<libc::sock_filter>,
}

/// Everything seccomp, ready to install.
#[derive(Debug, Clone)]
pub(crate) struct SeccompPlan {
    pub programs: Vec<Program>,
    pub sha256: String,
    pub denied_groups: Vec<&'static str>,
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The arch/x32 guard: kills, or falls through with `A = seccomp_data.nr`.
fn arch_guard_prefix() -> Vec<libc::sock_filter> {
    vec![
        insn(BPF_LD_W_ABS, 0, 0, 4),                     // A = seccomp_data.arch
        insn(BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),    // x86_64 ? skip the kill
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS), // i386 / other ABI: kill
        insn(BPF_LD_W_ABS, 0, 0, 0),                     // A = seccomp_data.nr
        insn(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),      // x32 (or any nr >= 2^30)?
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS), // kill
    ]
}

/// What the number tree answers for a system call number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// `SECCOMP_RET_ALLOW`.
    Allow,
    /// `SECCOMP_RET_ERRNO` with this errno.
    Errno(u32),
    /// Decided by the argument checks: allowed when one of the call's rules matches,
    /// else EPERM.
    Arguments,
}

/// Ranges `[start, next start)` of equal verdict covering `0..X32_SYSCALL_BIT`.
fn ranges(default: Verdict, table: &BTreeMap<i64, Verdict>) -> Vec<(u32, Verdict)> {
    let mut out: Vec<(u32, Verdict)> = vec![(0, default)];
    let mut push = |start: u32, v: Verdict| match out.last_mut() {
        Some(last) if last.0 == start => last.1 = v,
        _ => out.push((start, v)),
    };
    for (&nr, &v) in table {
        let nr = nr as u32;
        push(nr, v);
        push(nr + 1, default);
    }
    out.dedup_by(|b, a| a.1 == b.1);
    out
}

/// Code of a binary search over `ranges` (A holds the number), and the indices of its
/// `Arguments` leaves: `JA` placeholders to be aimed at the argument checks.
fn tree(ranges: &[(u32, Verdict)]) -> (Vec<libc::sock_filter>, Vec<usize>) {
    if let [(_, v)] = ranges {
        return match *v {
            Verdict::Allow => (vec![insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)], vec![]),
            Verdict::Errno(e) => (vec![insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | e)], vec![]),
            Verdict::Arguments => (vec![insn(BPF_JMP_JA, 0, 0, 0)], vec![0]),
        };
    }
    let mid = ranges.len() / 2;
    let (left, left_fix) = tree(&ranges[..mid]);
    let (right, right_fix) = tree(&ranges[mid..]);
    let pivot = ranges[mid].0;
    let mut code = match u8::try_from(left.len()) {
        // A >= pivot jumps over the left code
        Ok(n) => vec![insn(BPF_JMP_JGE_K, n, 0, pivot)],
        // too far for a conditional jump: A >= pivot falls on a JA over the left code
        Err(_) => vec![
            insn(BPF_JMP_JGE_K, 0, 1, pivot),
            insn(BPF_JMP_JA, 0, 0, left.len() as u32),
        ],
    };
    let head = code.len();
    let fix = left_fix
        .iter()
        .map(|f| f + head)
        .chain(right_fix.iter().map(|f| f + head + left.len()))
        .collect();
    code.extend(left);
    code.extend(right);
    (code, fix)
}

/// The whole program: guard, tree, then the argument checks (`args`, a seccompiler
/// program that begins with its own arch check and number load), reached only from the
/// tree's leaves for the calls it covers.
fn assemble(ranges: &[(u32, Verdict)], args: Option<Program>) -> Result<Program, SandboxError> {
    let mut insns = arch_guard_prefix();
    let (code, fix) = tree(ranges);
    let base = insns.len();
    insns.extend(code);
    let target = insns.len();
    match args {
        Some(args) => insns.extend(args.insns),
        None if !fix.is_empty() => {
            return Err(bpf_err("filter", "argument checks without a program"));
        }
        None => {}
    }
    for f in fix {
        let at = base + f;
        insns[at].k = (target - (at + 1)) as u32;
    }
    Ok(Program {
        name: "gavel_filter",
        insns,
    })
}

fn bpf_err(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Seccomp {
        message: format!("{what}: {e}"),
    }
}

fn cond(arg: u8, len: Len, op: Op, value: u64) -> Result<Cond, SandboxError> {
    Cond::new(arg, len, op, value).map_err(|e| bpf_err("condition", e))
}

fn rule(conds: Vec<Cond>) -> Result<SeccompRule, SandboxError> {
    SeccompRule::new(conds).map_err(|e| bpf_err("rule", e))
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

/// (group, syscall, rules under which it is refused).
#[cfg(test)]
type ConditionalDenial = (&'static str, i64, Vec<SeccompRule>);

/// Groups of the default deny-list (each syscall refused unconditionally).
const DENY_GROUPS: &[(&str, &[i64])] = &[
    (
        "io_uring",
        &[
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
        ],
    ),
    (
        "process_inspection",
        &[
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_process_vm_writev,
            libc::SYS_process_madvise,
            libc::SYS_pidfd_getfd,
            libc::SYS_kcmp,
        ],
    ),
    ("bpf", &[libc::SYS_bpf]),
    (
        "mount",
        &[
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_move_mount,
            libc::SYS_fsopen,
            libc::SYS_fsconfig,
            libc::SYS_fsmount,
            libc::SYS_fspick,
            libc::SYS_open_tree,
            SYS_OPEN_TREE_ATTR,
            libc::SYS_mount_setattr,
            libc::SYS_pivot_root,
            libc::SYS_chroot,
        ],
    ),
    ("setns", &[libc::SYS_setns]),
    (
        "kexec_reboot",
        &[
            libc::SYS_kexec_load,
            libc::SYS_kexec_file_load,
            libc::SYS_reboot,
        ],
    ),
    (
        "kernel_modules",
        &[
            libc::SYS_init_module,
            libc::SYS_finit_module,
            libc::SYS_delete_module,
        ],
    ),
    (
        "keyring",
        &[libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key],
    ),
    ("perf", &[libc::SYS_perf_event_open]),
    ("userfaultfd", &[libc::SYS_userfaultfd]),
    ("swap", &[libc::SYS_swapon, libc::SYS_swapoff]),
    (
        "clock",
        &[
            libc::SYS_settimeofday,
            libc::SYS_clock_settime,
            libc::SYS_clock_adjtime,
            libc::SYS_adjtimex,
        ],
    ),
    (
        "host_admin",
        &[
            libc::SYS_acct,
            libc::SYS_quotactl,
            libc::SYS_quotactl_fd,
            libc::SYS_syslog,
            libc::SYS_iopl,
            libc::SYS_ioperm,
            libc::SYS_vhangup,
            libc::SYS_lookup_dcookie,
            libc::SYS_nfsservctl,
            libc::SYS_sethostname,
            libc::SYS_setdomainname,
            libc::SYS_fanotify_init,
            libc::SYS_open_by_handle_at,
            libc::SYS_uselib,
        ],
    ),
];

/// Conditional denials of the default mode other than sockets, as (group, syscall,
/// rules-that-deny): the complement of [`argument_allowances`]' clone, unshare and
/// ioctl rules, written out the other way round for the reference filter of the tests.
#[cfg(test)]
fn namespace_and_tty_denials() -> Result<Vec<ConditionalDenial>, SandboxError> {
    let mut out = Vec::new();
    // Namespace creation: any CLONE_NEW* flag in clone (arg 0) or unshare (arg 0).
    let mut ns = Vec::new();
    for flag in CLONE_NS_FLAGS {
        ns.push(rule(vec![cond(0, Len::Qword, Op::MaskedEq(flag), flag)?])?);
    }
    out.push(("namespaces", libc::SYS_unshare, ns.clone()));
    out.push(("namespaces", libc::SYS_clone, ns));
    // TTY input injection (TIOCSTI) and console control (TIOCLINUX): root bypasses
    // the controlling-tty check of TIOCSTI, so setsid() alone is not enough.
    out.push((
        "tty_injection",
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, Len::Dword, Op::Eq, TIOCSTI)?])?,
            rule(vec![cond(1, Len::Dword, Op::Eq, TIOCLINUX)?])?,
        ],
    ));
    Ok(out)
}

const AF_INET: u64 = libc::AF_INET as u64;
const AF_INET6: u64 = libc::AF_INET6 as u64;
const AF_NETLINK: u64 = libc::AF_NETLINK as u64;
const SOCK_TYPE_MASK: u64 = 0xf;

/// socket() calls that are refused when the network is restricted: the complement of
/// [`socket_allowances`], written out the other way round for the reference filter
/// of the tests (15 rules per family: seccompiler has no "masked not equal").
#[cfg(test)]
fn socket_denials(network: &Network, landlock_net: bool) -> Result<Vec<SeccompRule>, SandboxError> {
    let mut rules = vec![rule(vec![
        cond(0, Len::Dword, Op::Ne, AF_INET)?,
        cond(0, Len::Dword, Op::Ne, AF_INET6)?,
        cond(0, Len::Dword, Op::Ne, AF_NETLINK)?,
    ])?];
    rules.push(rule(vec![
        cond(0, Len::Dword, Op::Eq, AF_NETLINK)?,
        cond(2, Len::Dword, Op::Ne, libc::NETLINK_ROUTE as u64)?,
    ])?);
    for family in [AF_INET, AF_INET6] {
        if matches!(network, Network::Deny) && !landlock_net {
            rules.push(rule(vec![cond(0, Len::Dword, Op::Eq, family)?])?);
            continue;
        }
        for ty in 0..=SOCK_TYPE_MASK {
            if ty == libc::SOCK_STREAM as u64 {
                continue;
            }
            rules.push(rule(vec![
                cond(0, Len::Dword, Op::Eq, family)?,
                cond(1, Len::Dword, Op::MaskedEq(SOCK_TYPE_MASK), ty)?,
            ])?);
        }
        rules.push(rule(vec![
            cond(0, Len::Dword, Op::Eq, family)?,
            cond(2, Len::Dword, Op::Ne, 0)?,
            cond(2, Len::Dword, Op::Ne, libc::IPPROTO_TCP as u64)?,
        ])?);
    }
    Ok(rules)
}

/// socket() calls allowed when the network is restricted (both modes).
fn socket_allowances(
    network: &Network,
    landlock_net: bool,
) -> Result<Vec<SeccompRule>, SandboxError> {
    if !network.is_restricted() {
        return Ok(Vec::new());
    }
    let mut rules = vec![rule(vec![
        cond(0, Len::Dword, Op::Eq, AF_NETLINK)?,
        cond(2, Len::Dword, Op::Eq, libc::NETLINK_ROUTE as u64)?,
    ])?];
    if !matches!(network, Network::Deny) || landlock_net {
        for family in [AF_INET, AF_INET6] {
            for proto in [0, libc::IPPROTO_TCP as u64] {
                rules.push(rule(vec![
                    cond(0, Len::Dword, Op::Eq, family)?,
                    cond(
                        1,
                        Len::Dword,
                        Op::MaskedEq(SOCK_TYPE_MASK),
                        libc::SOCK_STREAM as u64,
                    )?,
                    cond(2, Len::Dword, Op::Eq, proto)?,
                ])?);
            }
        }
    }
    Ok(rules)
}

/// Whether `listen` is refused: a restricted network with no port to bind (an unbound
/// socket that listens gets a random port, which Landlock's bind rule never sees).
fn refuses_listen(network: &Network) -> bool {
    match network {
        Network::Allow => false,
        Network::Deny => true,
        Network::Ports { bind_tcp, .. } => bind_tcp.is_empty(),
    }
}

/// System calls of the strict allow-list (unconditional).
const STRICT_ALLOW: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_close,
    libc::SYS_close_range,
    libc::SYS_stat,
    libc::SYS_fstat,
    libc::SYS_lstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_select,
    libc::SYS_pselect6,
    libc::SYS_lseek,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_msync,
    libc::SYS_mincore,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_rt_sigsuspend,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_sigaltstack,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_access,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_pipe,
    libc::SYS_pipe2,
    libc::SYS_dup,
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_fcntl,
    libc::SYS_flock,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_sync_file_range,
    libc::SYS_truncate,
    libc::SYS_ftruncate,
    libc::SYS_fallocate,
    libc::SYS_fadvise64,
    libc::SYS_getdents64,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_rmdir,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_symlink,
    libc::SYS_symlinkat,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_chmod,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchmodat2,
    libc::SYS_chown,
    libc::SYS_fchown,
    libc::SYS_lchown,
    libc::SYS_fchownat,
    libc::SYS_umask,
    libc::SYS_utime,
    libc::SYS_utimes,
    libc::SYS_utimensat,
    libc::SYS_futimesat,
    libc::SYS_getxattr,
    libc::SYS_lgetxattr,
    libc::SYS_fgetxattr,
    libc::SYS_listxattr,
    libc::SYS_llistxattr,
    libc::SYS_flistxattr,
    libc::SYS_sendfile,
    libc::SYS_splice,
    libc::SYS_tee,
    libc::SYS_copy_file_range,
    libc::SYS_memfd_create,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_time,
    libc::SYS_times,
    libc::SYS_alarm,
    libc::SYS_getitimer,
    libc::SYS_setitimer,
    libc::SYS_pause,
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_gettid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getgroups,
    libc::SYS_getpgid,
    libc::SYS_getpgrp,
    libc::SYS_setpgid,
    libc::SYS_getsid,
    libc::SYS_setsid,
    libc::SYS_capget,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_getrlimit,
    libc::SYS_setrlimit,
    libc::SYS_prlimit64,
    libc::SYS_getrusage,
    libc::SYS_arch_prctl,
    libc::SYS_prctl,
    libc::SYS_set_tid_address,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_rseq,
    libc::SYS_futex,
    libc::SYS_futex_waitv,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_sched_setaffinity,
    libc::SYS_sched_getparam,
    libc::SYS_sched_getscheduler,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_getpriority,
    libc::SYS_setpriority,
    libc::SYS_getrandom,
    libc::SYS_membarrier,
    libc::SYS_restart_syscall,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_wait4,
    libc::SYS_waitid,
    libc::SYS_kill,
    libc::SYS_tkill,
    libc::SYS_tgkill,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_send_signal,
    libc::SYS_epoll_create,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd,
    libc::SYS_eventfd2,
    libc::SYS_signalfd,
    libc::SYS_signalfd4,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    libc::SYS_inotify_init,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendmmsg,
    libc::SYS_recvmmsg,
    libc::SYS_shutdown,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_landlock_create_ruleset,
    libc::SYS_landlock_add_rule,
    libc::SYS_landlock_restrict_self,
    libc::SYS_seccomp,
    libc::SYS_ioprio_get,
    libc::SYS_get_mempolicy,
    libc::SYS_mlock,
    libc::SYS_munlock,
    libc::SYS_personality,
];

fn compile(
    name: &'static str,
    rules: Rules,
    mismatch: SeccompAction,
    on_match: SeccompAction,
) -> Result<Program, SandboxError> {
    let arch = TargetArch::try_from(ARCH_NAME).map_err(|e| bpf_err(name, e))?;
    let filter =
        SeccompFilter::new(rules, mismatch, on_match, arch).map_err(|e| bpf_err(name, e))?;
    let prog: BpfProgram = filter.try_into().map_err(|e| bpf_err(name, e))?;
    if prog.is_empty() {
        return Err(bpf_err(name, "empty program"));
    }
    let insns = prog
        .into_iter()
        .map(|i| insn(i.code, i.jt, i.jf, i.k))
        .collect();
    Ok(Program { name, insns })
}

/// Builds the filter for a profile.
pub(crate) fn build(
    mode: SyscallMode,
    network: &Network,
    landlock_net: bool,
) -> Result<SeccompPlan, SandboxError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(bpf_err(
            "target",
            "gavel's seccomp filter is only built for x86_64",
        ));
    }
    let mut denied_groups: Vec<&'static str> = Vec::new();
    let mut table: BTreeMap<i64, Verdict> = BTreeMap::new();
    let default = match mode {
        SyscallMode::Default => {
            for (group, calls) in DENY_GROUPS {
                denied_groups.push(group);
                for nr in *calls {
                    table.insert(*nr, Verdict::Errno(libc::EPERM as u32));
                }
            }
            denied_groups.extend(["namespaces", "tty_injection"]);
            if network.is_restricted() {
                denied_groups.push("sockets");
            }
            Verdict::Allow
        }
        SyscallMode::Strict => {
            denied_groups.push("not_allow_listed");
            for nr in STRICT_ALLOW {
                table.insert(*nr, Verdict::Allow);
            }
            Verdict::Errno(libc::EPERM as u32)
        }
    };
    // Both modes: clone and unshare without namespace flags, ioctl but TIOCSTI and
    // TIOCLINUX, and (network restricted) the sockets of `socket_allowances`, written
    // as what is allowed (the shorter description).
    let mut args: Rules = BTreeMap::new();
    for (nr, rules) in argument_allowances(network, landlock_net)? {
        if table.insert(nr, Verdict::Arguments).is_some() {
            return Err(bpf_err(
                "filter",
                format!("system call {nr} is listed twice"),
            ));
        }
        args.insert(nr, rules);
    }
    if !network.is_restricted() {
        table.insert(libc::SYS_socket, Verdict::Allow);
    }
    if refuses_listen(network) {
        table.insert(libc::SYS_listen, Verdict::Errno(libc::EPERM as u32));
    }
    // clone3 answers ENOSYS (libc then falls back to clone, whose flags are checked)
    table.insert(libc::SYS_clone3, Verdict::Errno(libc::ENOSYS as u32));
    let eperm = SeccompAction::Errno(libc::EPERM as u32);
    let args = compile("argument_checks", args, eperm, SeccompAction::Allow)?;
    let program = assemble(&ranges(default, &table), Some(args))?;
    plan_of(vec![program], denied_groups)
}

/// The calls allowed only for some arguments (both modes; socket only when the
/// network is restricted).
fn argument_allowances(
    network: &Network,
    landlock_net: bool,
) -> Result<Vec<(i64, Vec<SeccompRule>)>, SandboxError> {
    let no_ns = rule(vec![cond(
        0,
        Len::Qword,
        Op::MaskedEq(CLONE_NS_FLAGS.iter().sum()),
        0,
    )?])?;
    Ok(vec![
        (libc::SYS_clone, vec![no_ns.clone()]),
        (libc::SYS_unshare, vec![no_ns]),
        (
            libc::SYS_ioctl,
            vec![rule(vec![
                cond(1, Len::Dword, Op::Ne, TIOCSTI)?,
                cond(1, Len::Dword, Op::Ne, TIOCLINUX)?,
            ])?],
        ),
    ])
    .map(|mut v| {
        if network.is_restricted() {
            v.push((libc::SYS_socket, socket_allowances(network, landlock_net)?));
        }
        Ok(v)
    })?
}

/// The plan: programs, their digest and the denied groups.
fn plan_of(
    programs: Vec<Program>,
    denied_groups: Vec<&'static str>,
) -> Result<SeccompPlan, SandboxError> {
    let mut hasher = Sha256::new();
    for p in &programs {
        if p.insns.is_empty() || p.insns.len() > usize::from(u16::MAX) {
            return Err(bpf_err(p.name, "program length out of range"));
        }
        for i in &p.insns {
            hasher.update(i.code.to_le_bytes());
            hasher.update([i.jt, i.jf]);
            hasher.update(i.k.to_le_bytes());
        }
    }
    Ok(SeccompPlan {
        programs,
        sha256: hex::encode(hasher.finalize()),
        denied_groups,
    })
}

/// Whether the kernel supports seccomp filters (`PR_GET_SECCOMP` answers).
pub(crate) fn available() -> Result<(), SandboxError> {
    // SAFETY: PR_GET_SECCOMP only reads the calling thread's seccomp mode.
    let rc = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if rc < 0 {
        return Err(SandboxError::SeccompUnavailable {
            reason: format!("prctl(PR_GET_SECCOMP): {}", std::io::Error::last_os_error()),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod bpf_vm {
    //! A classic-BPF interpreter for seccomp programs, enough to unit-test the
    //! filters' logic without a kernel.
    use super::*;

    /// `struct seccomp_data` as the kernel lays it out.
    pub struct Data {
        pub nr: u32,
        pub arch: u32,
        pub args: [u64; 6],
    }

    impl Data {
        pub fn x86_64(nr: i64, args: &[u64]) -> Data {
            let mut a = [0u64; 6];
            a[..args.len()].copy_from_slice(args);
            Data {
                nr: nr as u32,
                arch: AUDIT_ARCH_X86_64,
                args: a,
            }
        }
        fn word(&self, off: u32) -> u32 {
            match off {
                0 => self.nr,
                4 => self.arch,
                8 | 12 => 0,
                o if (16..64).contains(&o) && o % 4 == 0 => {
                    let i = ((o - 16) / 8) as usize;
                    let v = self.args[i];
                    if (o - 16) % 8 == 0 {
                        v as u32
                    } else {
                        (v >> 32) as u32
                    }
                }
                _ => panic!("bad load offset {off}"),
            }
        }
    }

    pub fn run(prog: &[libc::sock_filter], d: &Data) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = &prog[pc];
            let class = i.code & 0x07;
            match class {
                0x00 => {
                    assert_eq!(i.code, 0x20, "only LD|W|ABS is used");
                    a = d.word(i.k);
                    pc += 1;
                }
                0x04 => {
                    let op = i.code & 0xf0;
                    assert_eq!(i.code & 0x08, 0, "ALU with K only");
                    a = match op {
                        0x50 => a & i.k,
                        0x40 => a | i.k,
                        _ => panic!("ALU op {op:#x}"),
                    };
                    pc += 1;
                }
                0x05 => {
                    let op = i.code & 0xf0;
                    if op == 0x00 {
                        pc += 1 + i.k as usize;
                        continue;
                    }
                    let taken = match op {
                        0x10 => a == i.k,
                        0x20 => a > i.k,
                        0x30 => a >= i.k,
                        0x40 => a & i.k != 0,
                        _ => panic!("JMP op {op:#x}"),
                    };
                    pc += 1 + if taken { i.jt } else { i.jf } as usize;
                }
                0x06 => return i.k,
                0x07 => {
                    // TAX / TXA are not used by these programs.
                    panic!("MISC not expected");
                }
                _ => panic!("class {class:#x} not expected"),
            }
        }
    }

    /// The composition the single program replaces, kept as the reference: an arch
    /// guard program, the rules as one linear seccompiler program, and a clone3 ENOSYS
    /// program, combined by the kernel's precedence rules (`bpf_vm::verdict`).
    pub(crate) fn build_reference(
        mode: SyscallMode,
        network: &Network,
        landlock_net: bool,
    ) -> SeccompPlan {
        let eperm = SeccompAction::Errno(libc::EPERM as u32);
        let rules_prog = match mode {
            SyscallMode::Default => {
                let mut rules: Rules = BTreeMap::new();
                for (_, calls) in DENY_GROUPS {
                    for nr in *calls {
                        rules.insert(*nr, Vec::new());
                    }
                }
                for (_, nr, conds) in namespace_and_tty_denials().unwrap() {
                    rules.entry(nr).or_default().extend(conds);
                }
                if network.is_restricted() {
                    let conds = socket_denials(network, landlock_net).unwrap();
                    rules.entry(libc::SYS_socket).or_default().extend(conds);
                }
                if refuses_listen(network) {
                    rules.insert(libc::SYS_listen, Vec::new());
                }
                compile("deny_list", rules, SeccompAction::Allow, eperm).unwrap()
            }
            SyscallMode::Strict => {
                let mut rules: Rules = BTreeMap::new();
                for nr in STRICT_ALLOW {
                    rules.insert(*nr, Vec::new());
                }
                for (nr, r) in argument_allowances(network, landlock_net).unwrap() {
                    rules.insert(nr, r);
                }
                if !network.is_restricted() {
                    rules.insert(libc::SYS_socket, Vec::new());
                }
                if refuses_listen(network) {
                    rules.remove(&libc::SYS_listen);
                }
                compile("allow_list", rules, eperm, SeccompAction::Allow).unwrap()
            }
        };
        let mut enosys: Rules = BTreeMap::new();
        enosys.insert(libc::SYS_clone3, Vec::new());
        let enosys_prog = compile(
            "clone3_enosys",
            enosys,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
        )
        .unwrap();
        let mut guard = arch_guard_prefix();
        guard.push(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
        let guard = Program {
            name: "arch_guard",
            insns: guard,
        };
        plan_of(vec![guard, rules_prog, enosys_prog], vec![]).unwrap()
    }

    /// The kernel's combination: highest precedence wins; between equal actions the
    /// most recently installed program's value.
    pub fn verdict(plan: &SeccompPlan, d: &Data) -> u32 {
        let mut best: Option<u32> = None;
        for p in plan.programs.iter().rev() {
            let r = run(&p.insns, d);
            let rank = |v: u32| -> u32 {
                match v & 0xffff_0000 {
                    0x8000_0000 => 7, // KILL_PROCESS
                    0x0000_0000 => 6, // KILL_THREAD
                    0x0003_0000 => 5, // TRAP
                    0x0005_0000 => 4, // ERRNO
                    0x7fc0_0000 => 3, // USER_NOTIF
                    0x7ff0_0000 => 2, // TRACE
                    0x7ffc_0000 => 1, // LOG
                    _ => 0,           // ALLOW
                }
            };
            best = match best {
                Some(b) if rank(b) >= rank(r) => Some(b),
                _ => Some(r),
            };
        }
        best.unwrap_or(SECCOMP_RET_ALLOW)
    }
}

#[cfg(test)]
mod tests {
    use super::bpf_vm::{Data, build_reference, verdict};
    use super::*;

    const EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;
    const ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
    const ALLOW: u32 = SECCOMP_RET_ALLOW;
    const KILL: u32 = SECCOMP_RET_KILL_PROCESS;

    fn sock(family: i32, ty: i32, proto: i32) -> Data {
        Data::x86_64(libc::SYS_socket, &[family as u64, ty as u64, proto as u64])
    }

    #[test]
    fn default_mode_verdicts() {
        let plan = build(SyscallMode::Default, &Network::Deny, true).unwrap();
        let v = |d: Data| verdict(&plan, &d);
        assert_eq!(v(Data::x86_64(libc::SYS_getpid, &[])), ALLOW);
        for nr in [
            libc::SYS_io_uring_setup,
            libc::SYS_ptrace,
            libc::SYS_bpf,
            libc::SYS_mount,
            libc::SYS_kexec_load,
            libc::SYS_init_module,
            libc::SYS_keyctl,
        ] {
            assert_eq!(v(Data::x86_64(nr, &[])), EPERM, "nr {nr}");
        }
        assert_eq!(v(Data::x86_64(libc::SYS_clone3, &[])), ENOSYS);
        assert_eq!(
            v(Data::x86_64(
                libc::SYS_unshare,
                &[libc::CLONE_NEWUSER as u64]
            )),
            EPERM
        );
        assert_eq!(
            v(Data::x86_64(libc::SYS_unshare, &[libc::CLONE_FILES as u64])),
            ALLOW
        );
        assert_eq!(
            v(Data::x86_64(
                libc::SYS_clone,
                &[(libc::CLONE_NEWNET | libc::SIGCHLD) as u64]
            )),
            EPERM
        );
        assert_eq!(
            v(Data::x86_64(
                libc::SYS_clone,
                &[(libc::CLONE_VM | libc::CLONE_THREAD) as u64]
            )),
            ALLOW
        );
        assert_eq!(v(Data::x86_64(libc::SYS_ioctl, &[0, TIOCSTI])), EPERM);
        assert_eq!(
            v(Data::x86_64(libc::SYS_ioctl, &[0, libc::TIOCGWINSZ])),
            ALLOW
        );
        // sockets: no AF_UNIX socket (a socket file is reachable past Landlock), and no
        // listen without a port to bind
        assert_eq!(v(sock(libc::AF_UNIX, libc::SOCK_DGRAM, 0)), EPERM);
        assert_eq!(v(sock(libc::AF_UNIX, libc::SOCK_STREAM, 0)), EPERM);
        assert_eq!(
            v(Data::x86_64(libc::SYS_socketpair, &[libc::AF_UNIX as u64])),
            ALLOW
        );
        assert_eq!(v(Data::x86_64(libc::SYS_listen, &[3, 16])), EPERM);
        assert_eq!(
            v(sock(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0
            )),
            ALLOW
        );
        assert_eq!(
            v(sock(libc::AF_INET6, libc::SOCK_STREAM, libc::IPPROTO_TCP)),
            ALLOW
        );
        assert_eq!(
            v(sock(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP)),
            EPERM
        );
        assert_eq!(
            v(sock(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP)),
            EPERM
        );
        assert_eq!(
            v(sock(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
                0
            )),
            EPERM
        );
        assert_eq!(v(sock(libc::AF_INET6, libc::SOCK_RAW, 1)), EPERM);
        assert_eq!(v(sock(libc::AF_PACKET, libc::SOCK_RAW, 0)), EPERM);
        assert_eq!(v(sock(libc::AF_VSOCK, libc::SOCK_STREAM, 0)), EPERM);
        assert_eq!(
            v(sock(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)),
            ALLOW
        );
        assert_eq!(
            v(sock(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_AUDIT)),
            EPERM
        );
        // x32 and i386
        assert_eq!(v(Data::x86_64(0x4000_0000 | libc::SYS_getpid, &[])), KILL);
        assert_eq!(
            v(Data {
                nr: 20,
                arch: 3 | 0x4000_0000,
                args: [0; 6]
            }),
            KILL
        );
    }

    #[test]
    fn network_allow_leaves_sockets_alone_and_old_abi_refuses_inet() {
        let allow = build(SyscallMode::Default, &Network::Allow, false).unwrap();
        assert_eq!(
            verdict(&allow, &sock(libc::AF_INET, libc::SOCK_DGRAM, 0)),
            ALLOW
        );
        assert_eq!(
            verdict(&allow, &sock(libc::AF_PACKET, libc::SOCK_RAW, 0)),
            ALLOW
        );
        let old = build(SyscallMode::Default, &Network::Deny, false).unwrap();
        assert_eq!(
            verdict(&old, &sock(libc::AF_INET, libc::SOCK_STREAM, 0)),
            EPERM
        );
        assert_eq!(
            verdict(&old, &sock(libc::AF_UNIX, libc::SOCK_STREAM, 0)),
            EPERM
        );
        // an unrestricted network leaves AF_UNIX and listen alone
        assert_eq!(
            verdict(&allow, &sock(libc::AF_UNIX, libc::SOCK_STREAM, 0)),
            ALLOW
        );
        assert_eq!(
            verdict(&allow, &Data::x86_64(libc::SYS_listen, &[3, 16])),
            ALLOW
        );
        // a port to bind allows listen (on it: Landlock checks the bind)
        let ports = |bind: &[u16]| Network::Ports {
            connect_tcp: [443].into(),
            bind_tcp: bind.iter().copied().collect(),
        };
        for (net, want) in [(ports(&[]), EPERM), (ports(&[8080]), ALLOW)] {
            let plan = build(SyscallMode::Default, &net, true).unwrap();
            assert_eq!(
                verdict(&plan, &Data::x86_64(libc::SYS_listen, &[3, 16])),
                want
            );
        }
    }

    #[test]
    fn strict_mode_verdicts() {
        let plan = build(SyscallMode::Strict, &Network::Deny, true).unwrap();
        let v = |d: Data| verdict(&plan, &d);
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_execve,
            libc::SYS_exit_group,
            libc::SYS_openat,
        ] {
            assert_eq!(v(Data::x86_64(nr, &[])), ALLOW, "nr {nr}");
        }
        assert_eq!(v(Data::x86_64(libc::SYS_ptrace, &[])), EPERM);
        assert_eq!(v(Data::x86_64(libc::SYS_mount, &[])), EPERM);
        assert_eq!(v(Data::x86_64(libc::SYS_clone3, &[])), ENOSYS);
        assert_eq!(
            v(Data::x86_64(libc::SYS_clone, &[libc::CLONE_NEWUSER as u64])),
            EPERM
        );
        assert_eq!(
            v(Data::x86_64(libc::SYS_clone, &[libc::SIGCHLD as u64])),
            ALLOW
        );
        assert_eq!(v(Data::x86_64(libc::SYS_ioctl, &[0, TIOCSTI])), EPERM);
        assert_eq!(v(Data::x86_64(libc::SYS_ioctl, &[0, libc::TCGETS])), ALLOW);
        assert_eq!(v(sock(libc::AF_INET, libc::SOCK_STREAM, 0)), ALLOW);
        assert_eq!(v(sock(libc::AF_INET, libc::SOCK_DGRAM, 0)), EPERM);
        assert_eq!(v(sock(libc::AF_UNIX, libc::SOCK_STREAM, 0)), EPERM);
        assert_eq!(v(Data::x86_64(libc::SYS_listen, &[3, 16])), EPERM);
        assert_eq!(v(Data::x86_64(0x4000_0000 | libc::SYS_read, &[])), KILL);
    }

    #[test]
    fn digest_is_over_the_program_bytes() {
        let a = build(SyscallMode::Default, &Network::Deny, true).unwrap();
        let b = build(SyscallMode::Default, &Network::Deny, true).unwrap();
        assert_eq!(a.sha256, b.sha256);
        let c = build(SyscallMode::Default, &Network::Allow, true).unwrap();
        assert_ne!(a.sha256, c.sha256);
        assert_eq!(a.programs.len(), 1);
        assert_eq!(a.programs[0].name, "gavel_filter");
        assert!(a.denied_groups.contains(&"io_uring") && a.denied_groups.contains(&"sockets"));
    }

    /// Argument vectors that exercise every condition of the filters: socket
    /// families, types (with flags) and protocols; clone/unshare flags; ioctl requests;
    /// values with high bits set (Dword conditions look at the low half only).
    fn argument_variants() -> Vec<Vec<u64>> {
        let mut out = vec![vec![], vec![u64::MAX; 6], vec![1 << 32, 1 << 33, 1 << 34]];
        let families = [0, 1, 2, 10, 16, 17, 40, 44, 45, 0x1_0000_0002];
        let types = [1, 2, 3, 5, 6, 10, 1 | 0x80000, 2 | 0x800, 0xf];
        let protos = [0, 1, 6, 17, 132, 262, 9, 0x1_0000_0000];
        for f in families {
            for t in types {
                for p in protos {
                    out.push(vec![f, t, p]);
                }
            }
        }
        for flag in CLONE_NS_FLAGS {
            out.push(vec![flag]);
            out.push(vec![flag | libc::SIGCHLD as u64]);
        }
        out.push(vec![
            (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_FILES) as u64,
        ]);
        for req in [TIOCSTI, TIOCLINUX, libc::TCGETS, libc::TIOCGWINSZ] {
            out.push(vec![0, req]);
            out.push(vec![0, req | (1 << 32)]);
        }
        out
    }

    #[test]
    fn one_program_agrees_with_the_reference_composition_on_every_call() {
        let networks = [
            Network::Deny,
            Network::Allow,
            Network::Ports {
                connect_tcp: [443].into(),
                bind_tcp: BTreeSet::new(),
            },
        ];
        let variants = argument_variants();
        let mut checked = 0u64;
        for mode in [SyscallMode::Default, SyscallMode::Strict] {
            for network in &networks {
                for landlock_net in [true, false] {
                    let plan = build(mode, network, landlock_net).unwrap();
                    let reference = build_reference(mode, network, landlock_net);
                    let ours = &plan.programs[0].insns;
                    let theirs: usize = reference.programs.iter().map(|p| p.insns.len()).sum();
                    eprintln!(
                        "{mode:?}/{network:?}/landlock_net={landlock_net}: {} instructions, reference {theirs}",
                        ours.len()
                    );
                    assert!(ours.len() * 2 < theirs);
                    let numbers = (0..1024i64).chain([
                        0x3fff_ffff,
                        0x4000_0000,
                        0x4000_0001,
                        0x7fff_ffff,
                        0xffff_ffff,
                    ]);
                    for nr in numbers {
                        let conditional = [
                            libc::SYS_socket,
                            libc::SYS_clone,
                            libc::SYS_unshare,
                            libc::SYS_ioctl,
                        ]
                        .contains(&nr);
                        let plain = [vec![]];
                        let args: &[Vec<u64>] = if conditional { &variants } else { &plain };
                        for a in args {
                            let d = Data::x86_64(nr, a);
                            assert_eq!(
                                verdict(&plan, &d),
                                verdict(&reference, &d),
                                "{mode:?}/{network:?}/landlock_net={landlock_net}: nr {nr} args {a:?}"
                            );
                            checked += 1;
                        }
                    }
                    for arch in [3 | 0x4000_0000, 40 | 0x4000_0000, 0] {
                        let d = Data {
                            nr: 1,
                            arch,
                            args: [0; 6],
                        };
                        assert_eq!(verdict(&plan, &d), KILL);
                    }
                }
            }
        }
        assert!(checked > 40_000, "{checked}");
    }

    #[test]
    fn far_subtrees_get_a_long_jump() {
        // every other number allowed: ~1000 ranges, subtrees longer than 255
        let mut table = BTreeMap::new();
        for nr in (0..1000i64).step_by(2) {
            table.insert(nr, Verdict::Allow);
        }
        table.insert(7, Verdict::Arguments);
        let r = ranges(Verdict::Errno(1), &table);
        let mut args = BTreeMap::new();
        args.insert(
            7i64,
            vec![rule(vec![cond(0, Len::Dword, Op::Eq, 5).unwrap()]).unwrap()],
        );
        let args = compile(
            "argument_checks",
            args,
            SeccompAction::Errno(2),
            SeccompAction::Allow,
        )
        .unwrap();
        let p = assemble(&r, Some(args)).unwrap();
        assert!(p.insns.len() > 600);
        assert!(p.insns.iter().any(|i| i.code == BPF_JMP_JA && i.k > 255));
        let plan = plan_of(vec![p], vec![]).unwrap();
        for nr in 0..1100i64 {
            let want = if nr == 7 {
                SECCOMP_RET_ERRNO | 2
            } else if nr < 1000 && nr % 2 == 0 {
                ALLOW
            } else {
                SECCOMP_RET_ERRNO | 1
            };
            assert_eq!(verdict(&plan, &Data::x86_64(nr, &[])), want, "nr {nr}");
        }
        assert_eq!(verdict(&plan, &Data::x86_64(7, &[5])), ALLOW);
    }
}
