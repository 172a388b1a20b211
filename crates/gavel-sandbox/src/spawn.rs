//! Starting the child, its confinement steps, exec, and waiting.
//!
//! Everything is built before the child starts (argv/envp pointer arrays, the ruleset
//! fd, the `sock_fprog`s, the status pipe). On x86_64 the child is `clone`d with
//! `CLONE_VM` onto its own stack: it shares the parent's memory until `execve`, which
//! spares the page-table copy and the copy-on-write faults of `fork`; it reads only the
//! prepared plan, which the parent keeps unchanged until the child has executed or
//! exited, allocates nothing and makes raw system calls only (`rawsys`: no libc
//! wrapper, whose `errno` would be the parent's). Elsewhere it is `fork`ed. Each step
//! reports `(step, errno)` over a close-on-exec pipe: the parent reads until EOF, which
//! happens at a successful `execve` (the pipe closes) or when the child exits after a
//! failed step.

use crate::error::{ChildStep, SpawnError};
use crate::rawsys;
use crate::report::{ControlStatus, EnforcementReport, SandboxState};
use crate::signals::{self, Registration};
use std::ffi::{CString, c_char, c_int};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What crosses the fork for confinement.
pub(crate) struct Confinement {
    pub ruleset: OwnedFd,
    pub programs: Vec<Vec<libc::sock_filter>>,
}

impl std::fmt::Debug for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confinement")
            .field("ruleset", &self.ruleset)
            .field(
                "programs",
                &self.programs.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A command ready to be spawned: everything is built, nothing runs yet.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) exe_path: PathBuf,
    pub(crate) exe: CString,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    pub(crate) cwd: CString,
    pub(crate) confinement: Option<Confinement>,
    pub(crate) report: EnforcementReport,
    pub(crate) stdio: [Option<OwnedFd>; 3],
    /// Descriptors >= 3 the command inherits ([`Prepared::pass_fds`]), ascending.
    pub(crate) pass: Vec<c_int>,
}

/// A running child.
#[derive(Debug)]
pub struct Running {
    pid: i32,
    start: Instant,
    report: EnforcementReport,
    registration: Option<Registration>,
    reaped: bool,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registration")
    }
}

/// A finished child.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Signal number, when killed by one.
    pub signal: Option<i32>,
    /// Signal name (`SIGKILL`, ...), when killed by one.
    pub signal_name: Option<&'static str>,
    /// From just before fork to the reaping of the child.
    pub duration: Duration,
    /// What was applied, as confirmed by the child.
    pub report: EnforcementReport,
}

impl Finished {
    /// The status a shell would give: the exit code, or 128+N for signal N.
    pub fn shell_status(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }
}

/// Name of a signal number.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTKFLT => "SIGSTKFLT",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// Raw material of the child; everything is a pointer or an integer.
struct ChildPlan {
    exe: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    status_fd: c_int,
    ruleset_fd: c_int,
    progs: *const libc::sock_fprog,
    nprogs: usize,
    parent_pid: libc::pid_t,
    /// The real-time signals gavel forwards (their handlers go back to the default).
    realtime: (c_int, c_int),
    /// gavel's effective uid: root gets every capability back at `execve` from the
    /// bounding set, so for root the bounding set must be emptied.
    euid: libc::uid_t,
    confine: bool,
    stdio: [c_int; 3],
    /// Every fd >= 3 the child keeps open while it sets up (the status pipe, the ruleset,
    /// the gate and the passed fds), ascending.
    keep: *const c_int,
    nkeep: usize,
    /// The passed fds: their close-on-exec flag is cleared before `execve`.
    pass: *const c_int,
    npass: usize,
    /// Read end of the gate pipe (-1: no gate). The child, fully confined, waits for
    /// one byte on it before `execve`; end-of-file means "do not run" and it exits.
    gate_fd: c_int,
    /// The CPUs gavel may run on, when the child was moved off gavel's (see `spread`):
    /// restored before `execve`.
    cpus: Option<libc::cpu_set_t>,
}

/// Everything the child reads between `clone` and `execve`, at stable heap addresses.
/// With `CLONE_VM` the child reads it in the parent's memory, so it is freed only once
/// the child has executed the command or is gone ([`SharedChild`]).
struct ChildMemory {
    _exe: CString,
    _argv: Vec<CString>,
    _argv_ptrs: Vec<*const c_char>,
    _envp: Vec<CString>,
    _envp_ptrs: Vec<*const c_char>,
    _cwd: CString,
    _programs: Vec<Vec<libc::sock_filter>>,
    _fprogs: Vec<libc::sock_fprog>,
    _keep: Vec<c_int>,
    _pass: Vec<c_int>,
    plan: ChildPlan,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    stack: Option<ChildStack>,
}

/// The child's own stack (x86_64, `CLONE_VM`): an anonymous mapping with a guard page
/// below it.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    /// 128 KiB: the child's frames take a few hundred bytes; pages are touched lazily.
    const SIZE: usize = 128 * 1024;
    const GUARD: usize = 4096;

    fn new() -> std::io::Result<ChildStack> {
        let len = Self::SIZE + Self::GUARD;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just created becomes the guard page.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The initial stack pointer (the top; page-aligned, hence 16-byte aligned).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, which is where a stack starts.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `new`, which nothing uses any
        // more (see `SharedChild`).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// A started child and the memory it may still be reading. Dropping it before the
/// child has executed the command or exited (the status pipe's end of file) kills and
/// reaps the child first, so that the memory is never freed under it.
struct SharedChild {
    pid: i32,
    mem: Option<Box<ChildMemory>>,
}

impl SharedChild {
    /// The child has executed the command (the status pipe closed on exec), exited, or
    /// been reaped: it no longer reads our memory.
    fn settled(&mut self) {
        self.mem = None;
    }
}

impl Drop for SharedChild {
    fn drop(&mut self) {
        if self.mem.is_some() {
            // SAFETY: kill our own child, which has not been reaped (it is not settled).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = reap(self.pid);
        }
    }
}

impl std::fmt::Debug for SharedChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedChild")
            .field("pid", &self.pid)
            .field("settled", &self.mem.is_none())
            .finish()
    }
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// The child's `(step, errno)` records, kept on its stack and written to the status
/// pipe in one `write` just before `execve` (or at a failure, followed by exit):
/// eight writes, each waking a parent that may share the CPU, cost a context switch
/// each. Raw system calls only (see `rawsys`).
struct Reports {
    fd: c_int,
    buf: [u8; 8 * ChildStep::ALL.len()],
    len: usize,
}

impl Reports {
    fn new(fd: c_int) -> Reports {
        Reports {
            fd,
            buf: [0; 8 * ChildStep::ALL.len()],
            len: 0,
        }
    }

    fn push(&mut self, step: ChildStep, err: c_int) {
        if self.len + 8 <= self.buf.len() {
            self.buf[self.len..self.len + 4].copy_from_slice(&step.code().to_le_bytes());
            self.buf[self.len + 4..self.len + 8].copy_from_slice(&err.to_le_bytes());
            self.len += 8;
        }
    }

    /// Step done.
    fn ok(&mut self, step: ChildStep) {
        self.push(step, 0);
    }

    /// Writes the records so far.
    fn flush(&mut self) {
        let mut off = 0;
        while off < self.len {
            // SAFETY: writes from the child's own stack buffer to the status pipe.
            let r = unsafe {
                rawsys::syscall(
                    libc::SYS_write,
                    &[
                        self.fd as usize,
                        self.buf[off..].as_ptr() as usize,
                        self.len - off,
                    ],
                )
            };
            match r {
                Ok(n) => off += n,
                Err(libc::EINTR) => {}
                Err(_) => break,
            }
        }
        self.len = 0;
    }

    /// Step failed: report it with everything before, and exit.
    fn fail(&mut self, step: ChildStep, err: c_int) -> ! {
        self.push(step, if err == 0 { libc::EIO } else { err });
        self.flush();
        rawsys::exit_group(127)
    }
}

/// What an fd to pass to the command is ([`Prepared::pass_fds`]), or why it cannot be
/// passed: a number below 3, or one not open in this process.
pub fn passable_fd(fd: c_int) -> std::io::Result<crate::PassedFd> {
    use std::io::{Error, ErrorKind};
    if fd < 3 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("fd {fd}: name a descriptor 3 or above (0, 1 and 2 are always passed)"),
        ));
    }
    // SAFETY: F_GETFL only queries the descriptor's status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        let e = Error::last_os_error();
        return Err(Error::new(
            e.kind(),
            format!("fd {fd} is not open in gavel ({e}): open it for gavel, e.g. `{fd}<FILE`"),
        ));
    }
    let access = if flags & libc::O_PATH != 0 {
        "path"
    } else {
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => "read",
            libc::O_WRONLY => "write",
            _ => "read-write",
        }
    };
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    Ok(crate::PassedFd { fd, access, target })
}

/// Closes every fd >= 3 except `keep` (ascending, distinct, each >= 3). Raw system
/// calls only: it runs in the child.
fn close_all_but(keep: &[c_int]) -> Result<(), c_int> {
    let mut lo: libc::c_uint = 3;
    for &k in keep {
        let k = k as libc::c_uint;
        if k > lo {
            close_range(lo, k - 1)?;
        }
        lo = k + 1;
    }
    close_range(lo, libc::c_uint::MAX)
}

fn close_range(lo: libc::c_uint, hi: libc::c_uint) -> Result<(), c_int> {
    // SAFETY: close_range only closes descriptors of the calling (child) process.
    match unsafe { rawsys::syscall(libc::SYS_close_range, &[lo as usize, hi as usize, 0]) } {
        Ok(_) => return Ok(()),
        Err(e) if e != libc::ENOSYS => return Err(e),
        Err(_) => {}
    }
    // Kernel < 5.9: close one by one up to the fd limit.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 on the calling process writes into a stack struct.
    let got = unsafe {
        rawsys::syscall(
            libc::SYS_prlimit64,
            &[
                0,
                libc::RLIMIT_NOFILE as usize,
                0,
                &mut lim as *mut libc::rlimit as usize,
            ],
        )
    };
    let max = if got.is_ok() {
        lim.rlim_cur.min(1 << 20) as libc::c_uint
    } else {
        1 << 16
    };
    let mut fd = lo;
    while fd <= hi && fd < max {
        // SAFETY: closing a descriptor number; EBADF is expected and ignored.
        let _ = unsafe { rawsys::syscall(libc::SYS_close, &[fd as usize]) };
        fd += 1;
    }
    Ok(())
}

/// Entry point of the `clone`d child (x86_64).
#[cfg(target_arch = "x86_64")]
extern "C" fn child_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` is the `ChildPlan` inside the parent's `ChildMemory`, which stays
    // allocated and unchanged until the child has executed or exited (`SharedChild`).
    let plan = unsafe { &*(arg as *const ChildPlan) };
    child_main(plan)
}

/// The child, between clone (or fork) and exec. Never returns.
///
/// It shares the parent's memory on x86_64: it reads only the immutable `ChildPlan`
/// and what it points to, writes only its own stack, allocates nothing, and makes raw
/// system calls only (no libc wrapper, whose errno would be the parent's).
fn child_main(p: &ChildPlan) -> ! {
    use libc::{
        SYS_chdir, SYS_close, SYS_dup3, SYS_execve, SYS_fcntl, SYS_getppid,
        SYS_landlock_restrict_self, SYS_openat, SYS_prctl, SYS_read, SYS_rt_sigaction,
        SYS_rt_sigprocmask, SYS_seccomp, SYS_setsid,
    };
    use rawsys::syscall as sys;
    let mut rep = Reports::new(p.status_fd);
    // SAFETY (whole function): raw system calls on pointers prepared before the clone
    // that stay valid and unchanged until the child has executed or exited.
    unsafe {
        if let Err(e) = sys(SYS_setsid, &[]) {
            rep.fail(ChildStep::Setsid, e);
        }
        rep.ok(ChildStep::Setsid);

        if let Err(e) = sys(
            SYS_prctl,
            &[libc::PR_SET_PDEATHSIG as usize, libc::SIGKILL as usize],
        ) {
            rep.fail(ChildStep::ParentDeathSignal, e);
        }
        if sys(SYS_getppid, &[]) != Ok(p.parent_pid as usize) {
            rep.fail(ChildStep::ParentDeathSignal, libc::ESRCH);
        }
        rep.ok(ChildStep::ParentDeathSignal);

        // Forwarding handlers inherited from the parent go back to the default (exec
        // would do it too, but a signal could arrive before); ignored ones stay ignored.
        // SIGPIPE goes back to the default (the Rust runtime ignores it), like
        // std::process::Command does. (The child has its own copy of the handler table:
        // no CLONE_SIGHAND.)
        let dfl = rawsys::KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        let set_dfl = |sig: c_int| {
            sys(
                SYS_rt_sigaction,
                &[sig as usize, &dfl as *const _ as usize, 0, 8],
            )
        };
        for sig in signals::FORWARDED
            .into_iter()
            .chain(p.realtime.0..=p.realtime.1)
        {
            let mut old = dfl;
            let got = sys(
                SYS_rt_sigaction,
                &[sig as usize, 0, &mut old as *mut _ as usize, 8],
            );
            if got.is_ok() && old.handler != libc::SIG_IGN {
                let _ = set_dfl(sig);
            }
        }
        let _ = set_dfl(libc::SIGPIPE);
        let empty: u64 = 0;
        if let Err(e) = sys(
            SYS_rt_sigprocmask,
            &[
                libc::SIG_SETMASK as usize,
                &empty as *const u64 as usize,
                0,
                8,
            ],
        ) {
            rep.fail(ChildStep::Signals, e);
        }
        rep.ok(ChildStep::Signals);

        // Redirections asked by the caller (their sources are >= 3), then fds 0-2 exist
        // (opened on /dev/null when the parent had them closed), and every other fd
        // except the status pipe and the ruleset is closed.
        for (std_fd, src) in (0..3).zip(p.stdio) {
            if src >= 0
                && let Err(e) = sys(SYS_dup3, &[src as usize, std_fd as usize, 0])
            {
                rep.fail(ChildStep::CloseFds, e);
            }
        }
        for std_fd in 0..3usize {
            if sys(SYS_fcntl, &[std_fd, libc::F_GETFD as usize]) == Err(libc::EBADF) {
                let n = sys(
                    SYS_openat,
                    &[
                        libc::AT_FDCWD as usize,
                        c"/dev/null".as_ptr() as usize,
                        libc::O_RDWR as usize,
                    ],
                );
                if n != Ok(std_fd) {
                    rep.fail(ChildStep::CloseFds, n.err().unwrap_or(libc::EBADF));
                }
            }
        }
        // keep the status pipe, the ruleset, the gate and the passed fds (sorted by the
        // parent); the passed ones lose close-on-exec so that the command has them
        // (`keep` and `pass` point into `ChildMemory`, alive while the child runs, see
        // `SharedChild`, with the lengths stored beside them)
        let (keep, pass) = (
            std::slice::from_raw_parts(p.keep, p.nkeep),
            std::slice::from_raw_parts(p.pass, p.npass),
        );
        if let Err(e) = close_all_but(keep) {
            rep.fail(ChildStep::CloseFds, e);
        }
        for &fd in pass {
            if let Err(e) = sys(SYS_fcntl, &[fd as usize, libc::F_SETFD as usize, 0]) {
                rep.fail(ChildStep::CloseFds, e);
            }
        }
        rep.ok(ChildStep::CloseFds);

        if let Err(e) = sys(SYS_chdir, &[p.cwd as usize]) {
            rep.fail(ChildStep::Chdir, e);
        }
        rep.ok(ChildStep::Chdir);

        if p.confine {
            if let Err(e) = sys(SYS_prctl, &[libc::PR_SET_NO_NEW_PRIVS as usize, 1]) {
                rep.fail(ChildStep::NoNewPrivs, e);
            }
            rep.ok(ChildStep::NoNewPrivs);

            // Capabilities: Landlock and seccomp do not take root's away, and with
            // them root could chown, change the host's addresses over netlink, read
            // other processes' environment (CAP_SYS_PTRACE skips Landlock's ptrace
            // scope) or raise limits of processes outside. First the bounding set
            // (what `execve` gives root back): EINVAL past the last capability.
            let mut cap = 0usize;
            while cap < 64 {
                match sys(SYS_prctl, &[libc::PR_CAPBSET_DROP as usize, cap]) {
                    Ok(_) => cap += 1,
                    Err(libc::EINVAL) => break,
                    // without CAP_SETPCAP: a process that is not root gets nothing
                    // back at exec (no_new_privs ignores file capabilities)
                    Err(libc::EPERM) if p.euid != 0 => break,
                    Err(e) => rep.fail(ChildStep::Capabilities, e),
                }
            }
            // ambient ones (EINVAL before Linux 4.3, which has none)
            match sys(
                SYS_prctl,
                &[
                    libc::PR_CAP_AMBIENT as usize,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as usize,
                    0,
                    0,
                    0,
                ],
            ) {
                Ok(_) | Err(libc::EINVAL) => {}
                Err(e) => rep.fail(ChildStep::Capabilities, e),
            }
            // then effective, permitted and inheritable
            let header = rawsys::CapHeader {
                version: rawsys::CAPABILITY_VERSION_3,
                pid: 0,
            };
            let none = [rawsys::CapData::default(); 2];
            if let Err(e) = sys(
                libc::SYS_capset,
                &[
                    &header as *const rawsys::CapHeader as usize,
                    none.as_ptr() as usize,
                ],
            ) {
                rep.fail(ChildStep::Capabilities, e);
            }
            rep.ok(ChildStep::Capabilities);

            if let Err(e) = sys(SYS_landlock_restrict_self, &[p.ruleset_fd as usize, 0]) {
                rep.fail(ChildStep::Landlock, e);
            }
            let _ = sys(SYS_close, &[p.ruleset_fd as usize]);
            rep.ok(ChildStep::Landlock);

            for i in 0..p.nprogs {
                let prog = p.progs.add(i);
                if let Err(e) = sys(
                    SYS_seccomp,
                    &[libc::SECCOMP_SET_MODE_FILTER as usize, 0, prog as usize],
                ) {
                    rep.fail(ChildStep::Seccomp, e);
                }
            }
            rep.ok(ChildStep::Seccomp);
        }

        if p.gate_fd >= 0 {
            let mut go = 0u8;
            let n = loop {
                let n = sys(
                    SYS_read,
                    &[p.gate_fd as usize, &mut go as *mut u8 as usize, 1],
                );
                if n == Err(libc::EINTR) {
                    continue;
                }
                break n;
            };
            if n != Ok(1) || go != GATE_GO {
                // the parent decided against running the command (or is gone)
                rawsys::exit_group(126);
            }
            let _ = sys(SYS_close, &[p.gate_fd as usize]);
        }

        // the command gets the CPUs gavel had (see `spread`); a failure leaves it on
        // the others, which only affects scheduling
        if let Some(mask) = &p.cpus {
            let _ = sys(
                libc::SYS_sched_setaffinity,
                &[
                    0,
                    std::mem::size_of::<libc::cpu_set_t>(),
                    mask as *const _ as usize,
                ],
            );
        }
        rep.flush();
        let e = sys(
            SYS_execve,
            &[p.exe as usize, p.argv as usize, p.envp as usize],
        )
        .err()
        .unwrap_or(libc::EIO);
        rep.fail(ChildStep::Exec, e)
    }
}

/// Duplicates `fd` onto a number >= 3 (close-on-exec) when it is 0, 1 or 2.
pub(crate) fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd that we then own.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: n is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn status_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fresh descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn read_all(fd: &OwnedFd) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(96);
    let mut buf = [0u8; 256];
    loop {
        // SAFETY: reads into a stack buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(std::io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

fn reap(pid: i32) -> Result<c_int, SpawnError> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: waits for our own child; status is a stack int.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        if rc < 0 && errno() == libc::EINTR {
            continue;
        }
        return Err(SpawnError::Wait {
            pid,
            source: std::io::Error::last_os_error(),
        });
    }
}

/// The report as applied, from the steps the child confirmed.
fn applied_report(
    mut report: EnforcementReport,
    steps: &[ChildStep],
    confine: bool,
) -> EnforcementReport {
    report.steps = steps.iter().map(|s| s.as_str()).collect();
    if !confine {
        return report;
    }
    report.no_new_privs = steps.contains(&ChildStep::NoNewPrivs);
    report.capabilities_dropped = steps.contains(&ChildStep::Capabilities);
    report.landlock_applied = steps.contains(&ChildStep::Landlock);
    report.seccomp.installed = steps.contains(&ChildStep::Seccomp);
    fn absent(report: &mut EnforcementReport, names: &[&str]) {
        for n in names {
            if !matches!(report.control(n), Some(ControlStatus::NotRequested) | None) {
                report.set_control(n, ControlStatus::Absent);
            }
        }
    }
    let mech = report.net_tcp_mechanism;
    if !steps.contains(&ChildStep::Landlock) {
        absent(
            &mut report,
            &[
                "fs_read",
                "fs_write",
                "fs_exec",
                "fs_truncate",
                "scope_signal",
                "scope_abstract_unix",
            ],
        );
        if mech == Some("landlock") {
            absent(&mut report, &["net_tcp"]);
        }
    }
    if !steps.contains(&ChildStep::Seccomp) {
        absent(&mut report, &["net_other"]);
        if mech == Some("seccomp") {
            absent(&mut report, &["net_tcp"]);
        }
    }
    report
}

impl Prepared {
    /// The report of what will be enforced if every step succeeds in the child.
    pub fn planned_report(&self) -> EnforcementReport {
        self.report.clone()
    }

    /// Redirects the child's stdin, stdout and stderr (`None` keeps the parent's).
    /// The descriptors are moved into the child and closed in the parent at spawn.
    pub fn set_stdio(
        &mut self,
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    ) -> std::io::Result<()> {
        let lift = |f: Option<OwnedFd>| f.map(above_stdio).transpose();
        self.stdio = [lift(stdin)?, lift(stdout)?, lift(stderr)?];
        Ok(())
    }

    /// Passes open descriptors (each >= 3) to the command under the same numbers; every
    /// other descriptor but 0-2 is closed in the child as always. Landlock does not
    /// restrict an already-open descriptor, so each is a grant beside the profile: the
    /// report lists it with its access mode and what it refers to. Fails, changing
    /// nothing, on a number below 3 or one that is not open in this process.
    pub fn pass_fds(&mut self, fds: &[c_int]) -> std::io::Result<()> {
        let mut pass: Vec<c_int> = fds.to_vec();
        pass.sort_unstable();
        pass.dedup();
        let mut passed = Vec::with_capacity(pass.len());
        for &fd in &pass {
            passed.push(passable_fd(fd)?);
        }
        self.pass = pass;
        self.report.passed_fds = passed;
        Ok(())
    }

    /// Test hook: corrupts the seccomp programs so that the kernel refuses them, to show
    /// that a filter that cannot be installed stops the launch (never an allow-all).
    #[doc(hidden)]
    pub fn corrupt_seccomp_for_tests(&mut self) {
        if let Some(c) = &mut self.confinement {
            for p in &mut c.programs {
                for i in p.iter_mut() {
                    i.code = 0xffff;
                }
            }
        }
    }

    /// The executable that will be run.
    pub fn executable(&self) -> &std::path::Path {
        &self.exe_path
    }

    /// Forks, confines the child, executes. Returns once `execve` succeeded (or with the
    /// step that failed, in which case nothing ran). Call [`Running::wait`] from the same
    /// thread: the child gets SIGKILL if the thread that spawned it exits first
    /// (`PR_SET_PDEATHSIG`), so that a confined command never outlives gavel unobserved.
    pub fn spawn(self) -> Result<Running, SpawnError> {
        self.fork_child(false)?.finish()
    }

    /// Forks and confines the child, which then waits, fully confined, before `execve`
    /// until [`Gated::release`]; [`Gated::abort`] (or dropping the `Gated`) makes it exit
    /// without running anything. This lets the caller overlap the child's setup with
    /// work that must complete before the command may run (gavel: making the decision
    /// receipt durable). Same threading rule as [`Prepared::spawn`].
    pub fn spawn_gated(self) -> Result<Gated, SpawnError> {
        self.fork_child(true).map(|forked| Gated {
            forked: Some(forked),
        })
    }

    fn fork_child(self, gated: bool) -> Result<Forked, SpawnError> {
        let Prepared {
            exe_path,
            exe,
            argv,
            envp,
            cwd,
            confinement,
            report,
            stdio,
            pass,
        } = self;
        let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|a| a.as_ptr()).collect();
        envp_ptrs.push(std::ptr::null());
        let confine = confinement.is_some();
        let (ruleset, programs) = match confinement {
            Some(c) => (Some(c.ruleset), c.programs),
            None => (None, Vec::new()),
        };
        let mut fprogs = Vec::with_capacity(programs.len());
        for p in &programs {
            let len = u16::try_from(p.len())
                .map_err(|_| SpawnError::Protocol("BPF program too long".into()))?;
            fprogs.push(libc::sock_fprog {
                len,
                filter: p.as_ptr().cast_mut(),
            });
        }
        let (r, w) = status_pipe().map_err(SpawnError::Pipe)?;
        let gate = if gated {
            let (gr, gw) = status_pipe().map_err(SpawnError::Pipe)?;
            Some((gr, gw))
        } else {
            None
        };
        let mut keep: Vec<c_int> = [
            Some(w.as_raw_fd()),
            ruleset.as_ref().map(|f| f.as_raw_fd()),
            gate.as_ref().map(|(gr, _)| gr.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        .chain(pass.iter().copied())
        .collect();
        keep.sort_unstable();
        keep.dedup();
        let plan = ChildPlan {
            exe: exe.as_ptr(),
            argv: argv_ptrs.as_ptr(),
            envp: envp_ptrs.as_ptr(),
            cwd: cwd.as_ptr(),
            status_fd: w.as_raw_fd(),
            ruleset_fd: ruleset.as_ref().map_or(-1, |f| f.as_raw_fd()),
            progs: fprogs.as_ptr(),
            nprogs: fprogs.len(),
            // SAFETY: getpid has no preconditions.
            parent_pid: unsafe { libc::getpid() },
            // SAFETY: geteuid has no preconditions and cannot fail.
            euid: unsafe { libc::geteuid() },
            realtime: signals::realtime().into_inner(),
            confine,
            stdio: [0, 1, 2].map(|i: usize| stdio[i].as_ref().map_or(-1, |f| f.as_raw_fd())),
            keep: keep.as_ptr(),
            nkeep: keep.len(),
            pass: pass.as_ptr(),
            npass: pass.len(),
            gate_fd: gate.as_ref().map_or(-1, |(gr, _)| gr.as_raw_fd()),
            cpus: spread_plan(),
        };
        let stack = if cfg!(target_arch = "x86_64") {
            Some(ChildStack::new().map_err(SpawnError::Fork)?)
        } else {
            None
        };
        let mem = Box::new(ChildMemory {
            _exe: exe,
            _argv: argv,
            _argv_ptrs: argv_ptrs,
            _envp: envp,
            _envp_ptrs: envp_ptrs,
            _cwd: cwd,
            _programs: programs,
            _fprogs: fprogs,
            _keep: keep,
            _pass: pass,
            plan,
            stack,
        });

        // Block every signal across the clone so that no handler runs in the child
        // before it has reset them; the parent restores its mask right after.
        // SAFETY: sigset operations on stack values; pthread_sigmask on this thread.
        let old_mask = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            old
        };
        let start = Instant::now();
        let pid = start_child(&mem);
        let fork_err = std::io::Error::last_os_error();
        if pid > 0 {
            spread(pid, mem.plan.cpus.as_ref());
        }
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
        // The child has its own descriptor table: the parent's copies of the write end,
        // the redirections and the ruleset close now.
        drop(w);
        drop(stdio);
        drop(ruleset);
        let gate_w = gate.map(|(gr, gw)| {
            drop(gr);
            gw
        });
        if pid < 0 {
            return Err(SpawnError::Fork(fork_err));
        }
        Ok(Forked {
            child: SharedChild {
                pid,
                mem: Some(mem),
            },
            start,
            status: r,
            gate: gate_w,
            report,
            exe_path,
            confine,
        })
    }
}

/// gavel's CPUs, when there is more than one (else `None`: nothing to spread).
fn spread_plan() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above, for the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    // SAFETY: CPU_COUNT reads the set.
    (rc == 0 && unsafe { libc::CPU_COUNT(&set) } > 1).then_some(set)
}

/// Moves the just-started child off the CPU gavel runs on, so that its confinement
/// runs beside gavel's decision instead of after it. The scheduler places a new
/// child on its parent's CPU, where it waits until gavel blocks; on two cores that
/// put the child's whole setup after the decision. The child restores `cpus` before
/// `execve`. Best effort: a failure only means no overlap.
fn spread(pid: libc::pid_t, cpus: Option<&libc::cpu_set_t>) {
    let Some(cpus) = cpus else { return };
    // SAFETY: sched_getcpu has no preconditions.
    let here = unsafe { libc::sched_getcpu() };
    let Ok(here) = usize::try_from(here) else {
        return;
    };
    // a CPU number past what cpu_set_t holds (CPU_CLR would index out of it): leave the
    // child where the scheduler put it
    if here >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return;
    }
    let mut others = *cpus;
    // SAFETY: CPU_CLR on a local set; CPU_COUNT reads it.
    let left = unsafe {
        libc::CPU_CLR(here, &mut others);
        libc::CPU_COUNT(&others)
    };
    if left > 0 {
        // SAFETY: sets the affinity of our own child from a local set.
        unsafe { libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &others) };
    }
}

/// Starts the child on `mem.plan`; returns its pid (negative on failure, errno set).
///
/// x86_64: `clone(CLONE_VM | SIGCHLD)` on the child's own stack. The child shares the
/// parent's memory until `execve`, so no page table is copied and no page of the parent
/// is write-protected for copy-on-write, which `fork` of a process of several MiB costs
/// (about 0.25 ms here, plus a fault for each page the parent writes afterwards). The
/// parent keeps running (no `CLONE_VFORK`): the child confines itself meanwhile.
#[cfg(target_arch = "x86_64")]
fn start_child(mem: &ChildMemory) -> libc::pid_t {
    let Some(stack) = &mem.stack else {
        return -1;
    };
    // SAFETY: the child runs child_entry on its own stack and never returns from it
    // (execve or exit_group); it reads only `mem.plan` and what it points to, which the
    // parent neither changes nor frees until the child has executed or exited
    // (`SharedChild`). No CLONE_SIGHAND, CLONE_FILES or CLONE_THREAD: handlers,
    // descriptors and the thread group are the child's own.
    unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | libc::SIGCHLD,
            (&mem.plan as *const ChildPlan).cast_mut().cast(),
        )
    }
}

/// Starts the child on `mem.plan` with `fork` (architectures without the raw system
/// call path of `rawsys`).
#[cfg(not(target_arch = "x86_64"))]
fn start_child(mem: &ChildMemory) -> libc::pid_t {
    // SAFETY: fork in a possibly multi-threaded process; the child only runs
    // child_main, which makes raw system calls only and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        child_main(&mem.plan);
    }
    pid
}

/// A started child whose setup reports have not been read yet.
#[derive(Debug)]
struct Forked {
    child: SharedChild,
    start: Instant,
    status: OwnedFd,
    gate: Option<OwnedFd>,
    report: EnforcementReport,
    exe_path: PathBuf,
    confine: bool,
}

/// The byte that lets a gated child go on to `execve`.
const GATE_GO: u8 = b'g';

/// A child confined and waiting before `execve` (see [`Prepared::spawn_gated`]).
#[derive(Debug)]
pub struct Gated {
    forked: Option<Forked>,
}

impl Gated {
    /// Lets the child execute the command; returns once `execve` succeeded (or with
    /// the step that failed, in which case nothing ran).
    pub fn release(mut self) -> Result<Running, SpawnError> {
        let Some(mut forked) = self.forked.take() else {
            return Err(SpawnError::Protocol("gate already used".into()));
        };
        if let Some(gate) = forked.gate.take() {
            // A child that failed a setup step has exited: the write then fails with
            // EPIPE (SIGPIPE is ignored in gavel) and its report tells what happened.
            // SAFETY: writes one byte from a stack value to our pipe.
            unsafe { libc::write(gate.as_raw_fd(), (&GATE_GO as *const u8).cast(), 1) };
        }
        forked.start = Instant::now();
        forked.finish()
    }

    /// Makes the child exit without running the command, and reaps it.
    pub fn abort(mut self) {
        self.abort_inner();
    }

    fn abort_inner(&mut self) {
        if let Some(mut forked) = self.forked.take() {
            drop(forked.gate.take()); // end of file: the child exits
            // SAFETY: kill our own, not yet reaped child.
            unsafe { libc::kill(forked.child.pid, libc::SIGKILL) };
            let _ = reap(forked.child.pid);
            forked.child.settled();
        }
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        self.abort_inner();
    }
}

impl Forked {
    fn finish(self) -> Result<Running, SpawnError> {
        let Forked {
            mut child,
            start,
            status: r,
            gate: _,
            report: planned,
            exe_path,
            confine,
        } = self;
        let pid = child.pid;
        let bytes = read_all(&r);
        drop(r);
        let bytes = match bytes {
            // End of file: the child executed the command or exited.
            Ok(b) => {
                child.settled();
                b
            }
            // `child` kills and reaps it when dropped.
            Err(e) => return Err(SpawnError::Pipe(e)),
        };
        let mut steps = Vec::new();
        let mut failure = None;
        if bytes.len() % 8 != 0 {
            failure = Some(Err(format!("{} bytes", bytes.len())));
        }
        for rec in bytes.chunks_exact(8) {
            let code = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let err = i32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]);
            match ChildStep::from_code(code) {
                Some(step) if err == 0 => steps.push(step),
                Some(step) => {
                    failure = Some(Ok((step, err)));
                    break;
                }
                None => {
                    failure = Some(Err(format!("unknown step {code}")));
                    break;
                }
            }
        }
        // every step before execve; unconfined, those up to chdir
        let expected: &[ChildStep] = if confine {
            &ChildStep::ALL[..ChildStep::ALL.len() - 1]
        } else {
            let chdir = ChildStep::ALL.iter().position(|s| *s == ChildStep::Chdir);
            &ChildStep::ALL[..=chdir.unwrap_or(0)]
        };
        if failure.is_none() && steps != expected {
            failure = Some(Err(format!(
                "the child stopped after {:?} without reporting a failure",
                steps.last().map(|s| s.as_str())
            )));
        }
        let mut report = applied_report(planned, &steps, confine);
        if let Some(f) = failure {
            let _ = reap(pid);
            return Err(match f {
                Ok((ChildStep::Exec, errno)) => {
                    let hint = if errno == libc::EACCES && confine {
                        " (are it and the dynamic loader it needs, e.g. /usr/lib, under the profile's filesystem.exec?)"
                    } else {
                        ""
                    };
                    if confine {
                        report.verified_in_child = true;
                    }
                    SpawnError::Exec {
                        path: exe_path,
                        errno,
                        hint,
                        report: Box::new(report),
                    }
                }
                Ok((step, errno)) => {
                    report.state = SandboxState::Unavailable;
                    SpawnError::ChildSetup {
                        step,
                        errno,
                        report: Box::new(report),
                    }
                }
                Err(msg) => SpawnError::Protocol(msg),
            });
        }
        report.verified_in_child = confine;
        let registration = Some(signals::register(pid));
        Ok(Running {
            pid,
            start,
            report,
            registration,
            reaped: false,
        })
    }
}

impl Running {
    /// The child's pid (also its process group and session id).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The report as applied in the child.
    pub fn report(&self) -> &EnforcementReport {
        &self.report
    }

    /// Sends `sig` to the child's process group.
    pub fn signal(&self, sig: i32) -> std::io::Result<()> {
        // SAFETY: plain kill(2) to our own child's group; the child is not reaped yet,
        // so its pid cannot have been reused.
        if unsafe { libc::kill(-self.pid, sig) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for the child, forwarding signals meanwhile.
    pub fn wait(mut self) -> Result<Finished, SpawnError> {
        let result = self.wait_inner();
        self.reaped = true;
        result
    }

    fn wait_inner(&mut self) -> Result<Finished, SpawnError> {
        // Wait without reaping, stop forwarding, then reap: the pid cannot be reused
        // while forwarding is active.
        loop {
            // SAFETY: siginfo_t is plain data; waitid writes into it.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 {
                break;
            }
            if errno() == libc::EINTR {
                continue;
            }
            return Err(SpawnError::Wait {
                pid: self.pid,
                source: std::io::Error::last_os_error(),
            });
        }
        self.registration = None;
        let status = reap(self.pid)?;
        let duration = self.start.elapsed();
        let (exit_code, signal) = if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (None, None)
        };
        Ok(Finished {
            exit_code,
            signal,
            signal_name: signal.and_then(signal_name),
            duration,
            report: self.report.clone(),
        })
    }
}

impl Drop for Running {
    /// A child that is never waited for is killed (process group) and reaped.
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: kill our own unreaped child's group, then reap it.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
                libc::kill(self.pid, libc::SIGKILL);
            }
            self.registration = None;
            let _ = reap(self.pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passable_fds_are_described_and_others_refused() {
        let (r, w) = status_pipe().unwrap();
        let got = passable_fd(w.as_raw_fd()).unwrap();
        assert_eq!((got.fd, got.access), (w.as_raw_fd(), "write"));
        assert!(got.target.starts_with("pipe:["), "{}", got.target);
        assert_eq!(passable_fd(r.as_raw_fd()).unwrap().access, "read");
        let dir = std::fs::File::open("/").unwrap();
        let d = passable_fd(dir.as_raw_fd()).unwrap();
        assert_eq!((d.access, d.target.as_str()), ("read", "/"));
        for bad in [-1, 0, 2] {
            let e = passable_fd(bad).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        }
        let closed = w.as_raw_fd();
        drop((r, w));
        let e = passable_fd(closed).unwrap_err();
        assert!(e.to_string().contains("is not open in gavel"), "{e}");
    }

    #[test]
    fn close_all_but_keeps_what_it_is_told() {
        // Exercised in a forked child so that the test process keeps its fds.
        let (r, w) = status_pipe().unwrap();
        // SAFETY: the child only calls async-signal-safe functions then _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let keep = [w.as_raw_fd()];
            let ok = close_all_but(&keep).is_ok()
                // SAFETY: fcntl queries only.
                && unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETFD) } < 0
                && unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETFD) } >= 0;
            // SAFETY: _exit in the forked child.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        drop(w);
        drop(r);
        let status = reap(pid).unwrap();
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), Some("SIGKILL"));
        assert_eq!(signal_name(31), Some("SIGSYS"));
        assert_eq!(signal_name(0), None);
    }
}
