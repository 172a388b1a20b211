//! Signal forwarding from gavel to its running children.
//!
//! While at least one child is registered, handlers for [`FORWARDED`] are installed
//! process-wide (any thread may receive the signal). The handler only reads atomics and
//! calls `kill` (async-signal-safe): each registered child's process group gets the
//! signal (the child is a session and group leader after `setsid`, so its own children
//! get it too, as they would from a terminal). A signal that gavel inherited as ignored
//! (e.g. SIGHUP under `nohup`) stays ignored and is not forwarded.
//!
//! Every signal whose default action would end gavel is forwarded (except the
//! synchronous faults and SIGKILL/SIGSTOP, which cannot be caught), the real-time ones
//! included: a signal gavel died of would leave the chain with a decision and no
//! execution receipt, and the command orphaned.
//!
//! SIGTSTP (terminal stop): the child's process group gets SIGSTOP, since it is in a
//! session of its own and the kernel discards SIGTSTP sent to such an orphaned group;
//! then gavel stops itself with SIGSTOP so that the shell's job control sees the job
//! stop; the shell's SIGCONT is then forwarded. The previous dispositions are restored
//! when the last child is unregistered.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// Signals forwarded to the child's process group, besides the real-time ones
/// ([`forwarded`] lists them all).
pub const FORWARDED: [libc::c_int; 17] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGPWR,
    libc::SIGIO,
    libc::SIGSTKFLT,
];

/// The real-time signals the C library leaves to programs (`SIGRTMIN..=SIGRTMAX`).
pub fn realtime() -> std::ops::RangeInclusive<libc::c_int> {
    libc::SIGRTMIN()..=libc::SIGRTMAX()
}

/// Every signal gavel forwards: [`FORWARDED`] and the real-time ones.
pub fn forwarded() -> impl Iterator<Item = libc::c_int> + Clone {
    FORWARDED.into_iter().chain(realtime())
}

const SLOTS: usize = 128;
static CHILDREN: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

struct Installed {
    users: usize,
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

static STATE: Mutex<Installed> = Mutex::new(Installed {
    users: 0,
    previous: Vec::new(),
});

extern "C" fn forward(sig: libc::c_int) {
    // SAFETY: errno is thread-local; saving and restoring it keeps the interrupted code's
    // errno intact. kill/getpid are async-signal-safe; only atomics are read.
    unsafe {
        let errno = *libc::__errno_location();
        let mut any = false;
        for slot in &CHILDREN {
            let pid = slot.load(Ordering::Relaxed);
            if pid > 0 {
                any = true;
                // SIGTSTP to the child's orphaned group would be discarded
                let to_child = if sig == libc::SIGTSTP {
                    libc::SIGSTOP
                } else {
                    sig
                };
                if libc::kill(-pid, to_child) != 0 {
                    libc::kill(pid, to_child);
                }
            }
        }
        if sig == libc::SIGTSTP && any {
            libc::kill(libc::getpid(), libc::SIGSTOP);
        }
        *libc::__errno_location() = errno;
    }
}

/// A registration; unregisters on drop.
pub(crate) struct Registration {
    slot: Option<usize>,
}

/// Registers `pid` for forwarding (installing the handlers on first use). When all
/// slots are taken the child is still waited for, but signals are not forwarded to it.
pub(crate) fn register(pid: i32) -> Registration {
    let mut state = match STATE.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    let slot = CHILDREN.iter().position(|s| {
        s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
    if slot.is_some() {
        if state.users == 0 {
            state.previous.clear();
            for sig in forwarded() {
                // SAFETY: sigaction with a zeroed struct whose handler is an extern "C"
                // function of the right signature; the old action is saved for restore.
                unsafe {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                        continue;
                    }
                    if old.sa_sigaction == libc::SIG_IGN {
                        continue;
                    }
                    let mut new: libc::sigaction = std::mem::zeroed();
                    new.sa_sigaction = forward as *const () as libc::sighandler_t;
                    new.sa_flags = libc::SA_RESTART;
                    libc::sigemptyset(&mut new.sa_mask);
                    if libc::sigaction(sig, &new, std::ptr::null_mut()) == 0 {
                        state.previous.push((sig, old));
                    }
                }
            }
        }
        state.users += 1;
    }
    Registration { slot }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let mut state = match STATE.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        CHILDREN[slot].store(0, Ordering::SeqCst);
        state.users = state.users.saturating_sub(1);
        if state.users == 0 {
            for (sig, old) in state.previous.drain(..) {
                // SAFETY: restores a disposition previously returned by sigaction.
                unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
            }
        }
    }
}
