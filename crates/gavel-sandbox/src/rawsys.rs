//! Raw system calls for the child between `clone` and `execve`.
//!
//! On x86_64 the child shares the parent's memory (`CLONE_VM`, see `spawn`), and with
//! it the parent thread's TLS: a libc wrapper that fails would write the parent's
//! `errno` while the parent runs. These calls go straight to the kernel and return
//! `-errno` instead, touching nothing but registers and the child's own stack. On other
//! architectures the child is a `fork`ed copy and the calls go through
//! `libc::syscall`, whose `errno` is then the child's own.

use std::ffi::c_long;

/// A failed call's errno.
pub(crate) type Errno = i32;

/// `syscall(nr, a0..a5)`: the kernel's return value, or its errno.
///
/// # Safety
/// The caller upholds the contract of system call `nr` for the arguments given
/// (pointers valid for what the call reads or writes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn syscall6(nr: c_long, a: [usize; 6]) -> Result<usize, Errno> {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention: number in rax, arguments in rdi,
    // rsi, rdx, r10, r8, r9; the kernel clobbers rcx and r11 and returns in rax. No
    // stack is used. What the call itself does is the caller's contract (see above).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    // The kernel returns -4095..-1 for errors.
    if (-4095..0).contains(&ret) {
        Err(-ret as Errno)
    } else {
        Ok(ret as usize)
    }
}

/// `syscall(nr, a0..a5)` through libc (the child is a forked copy on this architecture).
///
/// # Safety
/// As for the x86_64 variant.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) unsafe fn syscall6(nr: c_long, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: the caller upholds the call's contract.
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if ret < 0 {
        // SAFETY: __errno_location returns this thread's errno slot (our own copy).
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(ret as usize)
    }
}

/// [`syscall6`] with fewer arguments (the rest zero).
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub(crate) unsafe fn syscall(nr: c_long, args: &[usize]) -> Result<usize, Errno> {
    let mut a = [0usize; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a) }
}

/// The kernel's `struct sigaction` on Linux (`rt_sigaction` with an 8-byte mask).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KernelSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

/// Ends the calling process (the child) with `code`. Never returns.
pub(crate) fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        let _ = unsafe { syscall(libc::SYS_exit_group, &[code as usize]) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_values_and_errnos_without_touching_errno() {
        // SAFETY: getpid takes no argument.
        let pid = unsafe { syscall(libc::SYS_getpid, &[]) }.unwrap();
        assert_eq!(pid as i32, std::process::id() as i32);
        // SAFETY: close of an fd number that is not open; no memory is involved.
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: writes errno of this thread to a known value first.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: closing a descriptor number that is not open.
            let r = unsafe { syscall(libc::SYS_close, &[1_000_000]) };
            assert_eq!(r, Err(libc::EBADF));
            // SAFETY: reads this thread's errno.
            assert_eq!(unsafe { *libc::__errno_location() }, 0, "errno untouched");
        }
        // a path pointer the kernel reads: ENOENT
        let p = c"/nonexistent-gavel-rawsys-test";
        // SAFETY: chdir reads a NUL-terminated string that outlives the call.
        let r = unsafe { syscall(libc::SYS_chdir, &[p.as_ptr() as usize]) };
        assert_eq!(r, Err(libc::ENOENT));
    }
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two `CapData` words.
pub(crate) const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct` of `capset(2)`.
#[repr(C)]
pub(crate) struct CapHeader {
    pub version: u32,
    pub pid: libc::c_int,
}

/// `struct __user_cap_data_struct` of `capset(2)`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}
