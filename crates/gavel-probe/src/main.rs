//! `gavel-probe`: attempts exactly one operation and prints one JSON line.
//!
//! ```text
//! {"op":"read","ok":false,"errno":13,"name":"EACCES"}
//! ```
//!
//! Exit status: 0 when the attempt succeeded, 1 when it failed with an errno,
//! 2 on a usage error (unknown subcommand, bad argument). The probe is used by the
//! confinement tests of `gavel-sandbox` and by the `gavel exec` CLI tests: it runs
//! inside the sandbox and reports what the kernel said, nothing more. It depends on
//! nothing of gavel so that it can be reused anywhere.
//!
//! Subcommands (all paths are used as given):
//!
//! | subcommand | attempt |
//! |---|---|
//! | `hello` | nothing; prints `ok:true` (used to prove that an exec happened) |
//! | `read FILE` | `open(O_RDONLY)` then `read` of one byte |
//! | `read-fd FD` | `read` of one byte from the already-open descriptor FD |
//! | `list DIR` | `open(O_RDONLY\|O_DIRECTORY)` |
//! | `write FILE` | `open(O_WRONLY)` of an existing file then `write` of one byte at its end |
//! | `create FILE` | `open(O_WRONLY\|O_CREAT\|O_EXCL)` |
//! | `mkdir DIR` | `mkdir` |
//! | `rename FROM TO` | `rename` |
//! | `unlink FILE` | `unlink` |
//! | `truncate FILE` | `truncate(FILE, 0)` |
//! | `chown FILE` | `chown(FILE, 65534, 65534)` (to nobody: needs CAP_CHOWN, even for root) |
//! | `mknod-char FILE` | `mknod(S_IFCHR, makedev(1, 3))` (a /dev/null node) |
//! | `exec PATH [ARG...]` | `execv`; on success the new program's output is all there is |
//! | `tcp-connect HOST:PORT` | `socket(SOCK_STREAM)` then `connect`, then sends `gavel-probe` |
//! | `tcp-bind HOST:PORT` | `socket(SOCK_STREAM)` then `bind` |
//! | `tcp-listen` | an AF_INET stream socket, then `listen` without `bind` (the kernel picks a port) |
//! | `udp-send HOST:PORT` | `socket(SOCK_DGRAM)` then `sendto` of `gavel-probe` |
//! | `socket FAMILY TYPE PROTO` | `socket`; FAMILY unix/inet/inet6/netlink/packet/vsock/NUM, TYPE stream/dgram/raw/seqpacket/NUM, PROTO a number or route/audit/tcp/udp/icmp/sctp/mptcp/all |
//! | `syscall NAME` | one raw syscall with harmless arguments, see [`syscall`] |
//! | `x32` | `getpid` through the x32 ABI (syscall number with bit 0x40000000) |
//! | `int80` | `getpid` through the i386 ABI (`int 0x80`) |
//! | `thread` | spawns and joins a thread (glibc tries `clone3`, then falls back to `clone`) |
//! | `status` | prints `NoNewPrivs`, `Seccomp`, `Seccomp_filters` and the capability sets `CapEff`, `CapPrm`, `CapBnd`, `CapAmb` from `/proc/self/status` |
//! | `fds` | lists the open file descriptors (probed with `fcntl(F_GETFD)`, no filesystem access) |
//! | `env` | prints the environment as a JSON object |
//! | `kill PID [SIG]` | `kill(PID, SIG)`, SIG defaults to 0 |
//! | `abstract-connect NAME` | connects a `SOCK_STREAM` unix socket to the abstract name `NAME` |

use serde_json::{Map, Value, json};
use std::ffi::{CString, OsStr, OsString};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

/// The outcome of one attempt.
struct Outcome {
    op: String,
    result: Result<Map<String, Value>, i32>,
    extra: Map<String, Value>,
}

impl Outcome {
    fn ok(op: &str) -> Outcome {
        Outcome {
            op: op.to_owned(),
            result: Ok(Map::new()),
            extra: Map::new(),
        }
    }
    fn from_errno(op: &str, errno: i32) -> Outcome {
        Outcome {
            op: op.to_owned(),
            result: Err(errno),
            extra: Map::new(),
        }
    }
    fn from_rc(op: &str, rc: libc::c_long) -> Outcome {
        if rc < 0 {
            Outcome::from_errno(op, last_errno())
        } else {
            Outcome::ok(op)
        }
    }
    fn with(mut self, key: &str, value: Value) -> Outcome {
        self.extra.insert(key.to_owned(), value);
        self
    }
}

struct Usage(String);

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Symbolic name of the errno values that confinement tests meet.
fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNRESET => "ECONNRESET",
        libc::EISCONN => "EISCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        _ => "UNKNOWN",
    }
}

fn cstring(arg: &OsStr) -> Result<CString, Usage> {
    CString::new(arg.as_bytes()).map_err(|_| Usage(format!("argument {arg:?} contains a NUL byte")))
}

fn arg<'a>(args: &'a [OsString], i: usize, what: &str) -> Result<&'a OsString, Usage> {
    args.get(i)
        .ok_or_else(|| Usage(format!("missing argument: {what}")))
}

fn socket_addr(arg: &OsStr) -> Result<SocketAddr, Usage> {
    let text = arg
        .to_str()
        .ok_or_else(|| Usage(format!("{arg:?} is not UTF-8")))?;
    text.to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| Usage(format!("{text:?} is not HOST:PORT with a numeric host")))
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn raw_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is a plain C struct for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn family_of(addr: &SocketAddr) -> libc::c_int {
    if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

fn close(fd: libc::c_int) {
    // SAFETY: closing an fd this probe opened and owns.
    unsafe { libc::close(fd) };
}

fn open_path(path: &OsStr, flags: libc::c_int, mode: libc::mode_t) -> Result<libc::c_int, Usage> {
    let c = cstring(path)?;
    // SAFETY: c is a valid NUL-terminated string.
    Ok(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })
}

fn op_read(args: &[OsString]) -> Result<Outcome, Usage> {
    let fd = open_path(arg(args, 0, "FILE")?, libc::O_RDONLY, 0)?;
    if fd < 0 {
        return Ok(Outcome::from_errno("read", last_errno()).with("step", json!("open")));
    }
    let mut byte = [0u8; 1];
    // SAFETY: reading into a local buffer of the given length.
    let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
    let out = if n < 0 {
        Outcome::from_errno("read", last_errno()).with("step", json!("read"))
    } else {
        Outcome::ok("read").with("bytes", json!(n))
    };
    close(fd);
    Ok(out)
}

fn op_read_fd(args: &[OsString]) -> Result<Outcome, Usage> {
    let fd: libc::c_int = arg(args, 0, "FD")?
        .to_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Usage("read-fd: FD must be a number".into()))?;
    let mut byte = [0u8; 1];
    // SAFETY: reading into a local buffer of the given length; a bad fd is EBADF.
    let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
    Ok(if n < 0 {
        Outcome::from_errno("read-fd", last_errno())
    } else {
        Outcome::ok("read-fd").with("bytes", json!(n))
    })
}

fn op_list(args: &[OsString]) -> Result<Outcome, Usage> {
    let fd = open_path(arg(args, 0, "DIR")?, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    if fd < 0 {
        return Ok(Outcome::from_errno("list", last_errno()));
    }
    close(fd);
    Ok(Outcome::ok("list"))
}

fn op_write(args: &[OsString]) -> Result<Outcome, Usage> {
    let fd = open_path(arg(args, 0, "FILE")?, libc::O_WRONLY | libc::O_APPEND, 0)?;
    if fd < 0 {
        return Ok(Outcome::from_errno("write", last_errno()).with("step", json!("open")));
    }
    // SAFETY: writing one byte from a static buffer.
    let n = unsafe { libc::write(fd, b"X".as_ptr().cast(), 1) };
    let out = if n < 0 {
        Outcome::from_errno("write", last_errno()).with("step", json!("write"))
    } else {
        Outcome::ok("write")
    };
    close(fd);
    Ok(out)
}

fn op_create(args: &[OsString]) -> Result<Outcome, Usage> {
    let fd = open_path(
        arg(args, 0, "FILE")?,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
        0o644,
    )?;
    if fd < 0 {
        return Ok(Outcome::from_errno("create", last_errno()));
    }
    close(fd);
    Ok(Outcome::ok("create"))
}

fn op_mkdir(args: &[OsString]) -> Result<Outcome, Usage> {
    let c = cstring(arg(args, 0, "DIR")?)?;
    // SAFETY: c is a valid NUL-terminated string.
    let rc = unsafe { libc::mkdir(c.as_ptr(), 0o755) };
    Ok(Outcome::from_rc("mkdir", rc.into()))
}

fn op_rename(args: &[OsString]) -> Result<Outcome, Usage> {
    let from = cstring(arg(args, 0, "FROM")?)?;
    let to = cstring(arg(args, 1, "TO")?)?;
    // SAFETY: both are valid NUL-terminated strings.
    let rc = unsafe { libc::rename(from.as_ptr(), to.as_ptr()) };
    Ok(Outcome::from_rc("rename", rc.into()))
}

fn op_unlink(args: &[OsString]) -> Result<Outcome, Usage> {
    let c = cstring(arg(args, 0, "FILE")?)?;
    // SAFETY: c is a valid NUL-terminated string.
    let rc = unsafe { libc::unlink(c.as_ptr()) };
    Ok(Outcome::from_rc("unlink", rc.into()))
}

fn op_truncate(args: &[OsString]) -> Result<Outcome, Usage> {
    let c = cstring(arg(args, 0, "FILE")?)?;
    // SAFETY: c is a valid NUL-terminated string.
    let rc = unsafe { libc::truncate(c.as_ptr(), 0) };
    Ok(Outcome::from_rc("truncate", rc.into()))
}

fn op_chown(args: &[OsString]) -> Result<Outcome, Usage> {
    let c = cstring(arg(args, 0, "FILE")?)?;
    // SAFETY: c is a valid NUL-terminated string; 65534 is nobody's uid and gid.
    let rc = unsafe { libc::chown(c.as_ptr(), 65534, 65534) };
    Ok(Outcome::from_rc("chown", rc.into()))
}

fn op_mknod_char(args: &[OsString]) -> Result<Outcome, Usage> {
    let c = cstring(arg(args, 0, "FILE")?)?;
    // SAFETY: c is a valid NUL-terminated string; makedev is a pure computation.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) };
    Ok(Outcome::from_rc("mknod-char", rc.into()))
}

fn op_exec(args: &[OsString]) -> Result<Outcome, Usage> {
    let path = cstring(arg(args, 0, "PATH")?)?;
    let argv: Vec<CString> = args.iter().map(|a| cstring(a)).collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: path and every argv element are valid NUL-terminated strings, and the
    // pointer array is NULL-terminated; all outlive the call.
    unsafe { libc::execv(path.as_ptr(), ptrs.as_ptr()) };
    Ok(Outcome::from_errno("exec", last_errno()))
}

fn op_tcp_connect(args: &[OsString]) -> Result<Outcome, Usage> {
    let addr = socket_addr(arg(args, 0, "HOST:PORT")?)?;
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(family_of(&addr), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Outcome::from_errno("tcp-connect", last_errno()).with("step", json!("socket")));
    }
    let (storage, len) = raw_sockaddr(&addr);
    // SAFETY: storage holds a valid sockaddr of length len.
    let rc = unsafe { libc::connect(fd, std::ptr::from_ref(&storage).cast(), len) };
    let out = if rc < 0 {
        Outcome::from_errno("tcp-connect", last_errno()).with("step", json!("connect"))
    } else {
        let msg = b"gavel-probe";
        // SAFETY: sending from a static buffer on a connected socket.
        unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
        Outcome::ok("tcp-connect")
    };
    close(fd);
    Ok(out)
}

fn op_tcp_bind(args: &[OsString]) -> Result<Outcome, Usage> {
    let addr = socket_addr(arg(args, 0, "HOST:PORT")?)?;
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(family_of(&addr), libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Outcome::from_errno("tcp-bind", last_errno()).with("step", json!("socket")));
    }
    let (storage, len) = raw_sockaddr(&addr);
    // SAFETY: storage holds a valid sockaddr of length len.
    let rc = unsafe { libc::bind(fd, std::ptr::from_ref(&storage).cast(), len) };
    let out = if rc < 0 {
        Outcome::from_errno("tcp-bind", last_errno()).with("step", json!("bind"))
    } else {
        Outcome::ok("tcp-bind")
    };
    close(fd);
    Ok(out)
}

fn op_tcp_listen() -> Result<Outcome, Usage> {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Outcome::from_errno("tcp-listen", last_errno()).with("step", json!("socket")));
    }
    // SAFETY: listen on the socket just made; unbound, the kernel picks a port.
    let rc = unsafe { libc::listen(fd, 1) };
    let out = if rc < 0 {
        Outcome::from_errno("tcp-listen", last_errno()).with("step", json!("listen"))
    } else {
        Outcome::ok("tcp-listen")
    };
    close(fd);
    Ok(out)
}

fn op_udp_send(args: &[OsString]) -> Result<Outcome, Usage> {
    let addr = socket_addr(arg(args, 0, "HOST:PORT")?)?;
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(family_of(&addr), libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(Outcome::from_errno("udp-send", last_errno()).with("step", json!("socket")));
    }
    let (storage, len) = raw_sockaddr(&addr);
    let msg = b"gavel-probe";
    // SAFETY: storage holds a valid sockaddr of length len; msg is a static buffer.
    let rc = unsafe {
        libc::sendto(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            std::ptr::from_ref(&storage).cast(),
            len,
        )
    };
    let out = if rc < 0 {
        Outcome::from_errno("udp-send", last_errno()).with("step", json!("sendto"))
    } else {
        Outcome::ok("udp-send")
    };
    close(fd);
    Ok(out)
}

fn parse_num_or(
    arg: &OsStr,
    names: &[(&str, libc::c_int)],
    what: &str,
) -> Result<libc::c_int, Usage> {
    let text = arg
        .to_str()
        .ok_or_else(|| Usage(format!("{what} {arg:?} is not UTF-8")))?;
    if let Some((_, v)) = names.iter().find(|(n, _)| *n == text) {
        return Ok(*v);
    }
    text.parse().map_err(|_| {
        let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        Usage(format!(
            "{what} {text:?}: expected a number or one of {}",
            known.join(", ")
        ))
    })
}

fn op_socket(args: &[OsString]) -> Result<Outcome, Usage> {
    let family = parse_num_or(
        arg(args, 0, "FAMILY")?,
        &[
            ("unix", libc::AF_UNIX),
            ("inet", libc::AF_INET),
            ("inet6", libc::AF_INET6),
            ("netlink", libc::AF_NETLINK),
            ("packet", libc::AF_PACKET),
            ("vsock", libc::AF_VSOCK),
            ("bluetooth", libc::AF_BLUETOOTH),
            ("alg", libc::AF_ALG),
        ],
        "FAMILY",
    )?;
    let ty = parse_num_or(
        arg(args, 1, "TYPE")?,
        &[
            ("stream", libc::SOCK_STREAM),
            ("dgram", libc::SOCK_DGRAM),
            ("raw", libc::SOCK_RAW),
            ("seqpacket", libc::SOCK_SEQPACKET),
        ],
        "TYPE",
    )?;
    let proto = parse_num_or(
        arg(args, 2, "PROTO")?,
        &[
            ("route", libc::NETLINK_ROUTE),
            ("audit", libc::NETLINK_AUDIT),
            ("uevent", libc::NETLINK_KOBJECT_UEVENT),
            ("tcp", libc::IPPROTO_TCP),
            ("udp", libc::IPPROTO_UDP),
            ("icmp", libc::IPPROTO_ICMP),
            ("sctp", libc::IPPROTO_SCTP),
            ("mptcp", libc::IPPROTO_MPTCP),
            ("all", i32::from((libc::ETH_P_ALL as u16).to_be())),
        ],
        "PROTO",
    )?;
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Ok(Outcome::from_errno("socket", last_errno()));
    }
    close(fd);
    Ok(Outcome::ok("socket"))
}

/// One raw syscall, with arguments chosen so that an unconfined root process gets a
/// result different from the sandbox's refusal (EPERM, or ENOSYS for clone3), and so
/// that nothing changes outside the probe:
///
/// | NAME | call | unconfined result |
/// |---|---|---|
/// | io_uring_setup | `io_uring_setup(1, &params)` | a new ring (success) |
/// | ptrace | `ptrace(PTRACE_ATTACH, 0x7fffffff)` | ESRCH (no such pid) |
/// | process_vm_readv / process_vm_writev | copy 8 bytes within the probe itself | success |
/// | bpf | `bpf(BPF_MAP_CREATE, zeroed attr)` | EINVAL |
/// | mount | `mount("none", "/nonexistent-gavel-probe", "tmpfs")` | ENOENT |
/// | unshare-user | `unshare(CLONE_NEWUSER)` | success |
/// | unshare-net | `unshare(CLONE_NEWNET)` | success |
/// | setns | `setns(-1, 0)` | EBADF |
/// | kexec_load | `kexec_load(0, 0, NULL, 0xdead0000)` | EINVAL |
/// | init_module | `init_module(NULL, 0, "")` | an error other than EPERM |
/// | keyctl | `keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)` | success |
/// | add_key | `add_key("user", "", NULL, 0, 0)` | EINVAL |
/// | perf_event_open | `perf_event_open(NULL, 0, -1, -1, 0)` | EFAULT |
/// | userfaultfd | `userfaultfd(O_CLOEXEC)` | success |
/// | open_by_handle_at | `open_by_handle_at(-1, NULL, 0)` | EBADF |
/// | clone3 | `clone3(NULL, 0)` | EINVAL |
/// | ioctl-tiocsti | `ioctl(0, TIOCSTI, "")` | whatever the tty says (ENOTTY when stdin is no tty) |
/// | getpid | `getpid()` | success |
fn syscall(args: &[OsString]) -> Result<Outcome, Usage> {
    let name = arg(args, 0, "NAME")?.to_string_lossy().into_owned();
    let op = format!("syscall:{name}");
    let mut word: u64 = 0x1122_3344_5566_7788;
    let mut dest: u64 = 0;
    // SAFETY (all arms): each call passes either null pointers, invalid fds or pointers to
    // locals that outlive the call, sized as the kernel expects; none of them can affect
    // memory the probe relies on.
    let rc: libc::c_long = unsafe {
        match name.as_str() {
            "io_uring_setup" => {
                let mut params = [0u8; 120];
                libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr())
            }
            "io_uring_enter" => {
                libc::syscall(libc::SYS_io_uring_enter, -1, 0, 0, 0, 0usize, 0usize)
            }
            "io_uring_register" => libc::syscall(libc::SYS_io_uring_register, -1, 0, 0usize, 0),
            "ptrace" => libc::syscall(
                libc::SYS_ptrace,
                libc::PTRACE_ATTACH,
                0x7fff_ffff,
                0usize,
                0usize,
            ),
            "process_vm_readv" | "process_vm_writev" => {
                let local = libc::iovec {
                    iov_base: std::ptr::from_mut(&mut dest).cast(),
                    iov_len: 8,
                };
                let remote = libc::iovec {
                    iov_base: std::ptr::from_mut(&mut word).cast(),
                    iov_len: 8,
                };
                let nr = if name == "process_vm_readv" {
                    libc::SYS_process_vm_readv
                } else {
                    libc::SYS_process_vm_writev
                };
                libc::syscall(nr, libc::getpid(), &local, 1, &remote, 1, 0)
            }
            "bpf" => {
                let mut attr = [0u8; 128];
                libc::syscall(libc::SYS_bpf, 0, attr.as_mut_ptr(), attr.len())
            }
            "mount" => libc::syscall(
                libc::SYS_mount,
                c"none".as_ptr(),
                c"/nonexistent-gavel-probe".as_ptr(),
                c"tmpfs".as_ptr(),
                0usize,
                0usize,
            ),
            "umount2" => libc::syscall(libc::SYS_umount2, c"/nonexistent-gavel-probe".as_ptr(), 0),
            "unshare-user" => libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER),
            "unshare-net" => libc::syscall(libc::SYS_unshare, libc::CLONE_NEWNET),
            "setns" => libc::syscall(libc::SYS_setns, -1, 0),
            "kexec_load" => libc::syscall(
                libc::SYS_kexec_load,
                0usize,
                0usize,
                0usize,
                0xdead_0000usize,
            ),
            "init_module" => libc::syscall(libc::SYS_init_module, 0usize, 0usize, c"".as_ptr()),
            "finit_module" => libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0),
            "keyctl" => libc::syscall(libc::SYS_keyctl, 0, -3, 0),
            "add_key" => libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"".as_ptr(),
                0usize,
                0,
                0,
            ),
            "perf_event_open" => libc::syscall(libc::SYS_perf_event_open, 0usize, 0, -1, -1, 0),
            "userfaultfd" => libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC),
            "open_by_handle_at" => libc::syscall(libc::SYS_open_by_handle_at, -1, 0usize, 0),
            "clone3" => libc::syscall(libc::SYS_clone3, 0usize, 0usize),
            "ioctl-tiocsti" => libc::syscall(libc::SYS_ioctl, 0, libc::TIOCSTI, c"".as_ptr()),
            "getpid" => libc::syscall(libc::SYS_getpid),
            _ => return Err(Usage(format!("unknown syscall name {name:?}"))),
        }
    };
    Ok(Outcome::from_rc(&op, rc))
}

/// `getpid` through the x32 ABI: syscall number 39 with `__X32_SYSCALL_BIT`.
fn op_x32() -> Outcome {
    const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
    // SAFETY: getpid takes no arguments and has no side effect.
    let rc = unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) };
    Outcome::from_rc("x32", rc)
}

/// `getpid` (i386 number 20) through `int 0x80`, the 32-bit entry point.
#[cfg(target_arch = "x86_64")]
fn op_int80() -> Outcome {
    let mut rax: i64 = 20;
    // SAFETY: i386 getpid takes no arguments and touches no memory; int 0x80 clobbers
    // only rax on return (r8-r11 are preserved by the compat entry, but declare them
    // clobbered to be safe).
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") rax,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    if (-4095..0).contains(&rax) {
        Outcome::from_errno("int80", i32::try_from(-rax).unwrap_or(0))
    } else {
        Outcome::ok("int80").with("value", json!(rax))
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn op_int80() -> Outcome {
    Outcome::from_errno("int80", libc::ENOSYS).with("note", json!("not x86_64"))
}

fn op_thread() -> Outcome {
    match std::thread::Builder::new().spawn(|| 7u8) {
        Ok(handle) => match handle.join() {
            Ok(v) => Outcome::ok("thread").with("value", json!(v)),
            Err(_) => Outcome::from_errno("thread", libc::EINVAL),
        },
        Err(e) => Outcome::from_errno("thread", e.raw_os_error().unwrap_or(libc::EINVAL)),
    }
}

fn op_status() -> Outcome {
    let text = match std::fs::read_to_string("/proc/self/status") {
        Ok(t) => t,
        Err(e) => return Outcome::from_errno("status", e.raw_os_error().unwrap_or(libc::EIO)),
    };
    let mut out = Outcome::ok("status");
    for line in text.lines() {
        if let Some((key, value)) = line.split_once(':')
            && matches!(
                key,
                "NoNewPrivs"
                    | "Seccomp"
                    | "Seccomp_filters"
                    | "CapEff"
                    | "CapPrm"
                    | "CapBnd"
                    | "CapAmb"
            )
        {
            let value = value.trim();
            let v = value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(value));
            out = out.with(key, v);
        }
    }
    out
}

fn op_fds() -> Outcome {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a local struct.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(1 << 16) as libc::c_int
    } else {
        1024
    };
    let mut open = Vec::new();
    for fd in 0..max {
        // SAFETY: F_GETFD only queries the descriptor flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            open.push(fd);
        }
    }
    Outcome::ok("fds").with("fds", json!(open))
}

fn op_env() -> Outcome {
    let mut env = Map::new();
    for (k, v) in std::env::vars_os() {
        env.insert(k.to_string_lossy().into_owned(), json!(v.to_string_lossy()));
    }
    Outcome::ok("env").with("env", Value::Object(env))
}

fn op_kill(args: &[OsString]) -> Result<Outcome, Usage> {
    let pid = parse_num_or(arg(args, 0, "PID")?, &[], "PID")?;
    let sig = match args.get(1) {
        Some(s) => parse_num_or(s, &[], "SIG")?,
        None => 0,
    };
    // SAFETY: plain kill(2) call.
    let rc = unsafe { libc::kill(pid, sig) };
    Ok(Outcome::from_rc("kill", rc.into()))
}

fn op_abstract_connect(args: &[OsString]) -> Result<Outcome, Usage> {
    let name = arg(args, 0, "NAME")?.as_bytes();
    // SAFETY: sockaddr_un is a plain C struct for which all-zero bytes are valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if name.len() + 1 > addr.sun_path.len() {
        return Err(Usage("abstract socket name too long".into()));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path[1..].iter_mut().zip(name) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Ok(
            Outcome::from_errno("abstract-connect", last_errno()).with("step", json!("socket"))
        );
    }
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    let rc = unsafe { libc::connect(fd, std::ptr::from_ref(&addr).cast(), len as libc::socklen_t) };
    let out = if rc < 0 {
        Outcome::from_errno("abstract-connect", last_errno()).with("step", json!("connect"))
    } else {
        Outcome::ok("abstract-connect")
    };
    close(fd);
    Ok(out)
}

fn run(args: &[OsString]) -> Result<Outcome, Usage> {
    let Some(cmd) = args.first() else {
        return Err(Usage("missing subcommand".into()));
    };
    let rest = &args[1..];
    match cmd.to_str().unwrap_or("") {
        "hello" => Ok(Outcome::ok("hello")),
        "read" => op_read(rest),
        "read-fd" => op_read_fd(rest),
        "list" => op_list(rest),
        "write" => op_write(rest),
        "create" => op_create(rest),
        "mkdir" => op_mkdir(rest),
        "rename" => op_rename(rest),
        "unlink" => op_unlink(rest),
        "truncate" => op_truncate(rest),
        "chown" => op_chown(rest),
        "mknod-char" => op_mknod_char(rest),
        "exec" => op_exec(rest),
        "tcp-connect" => op_tcp_connect(rest),
        "tcp-bind" => op_tcp_bind(rest),
        "tcp-listen" => op_tcp_listen(),
        "udp-send" => op_udp_send(rest),
        "socket" => op_socket(rest),
        "syscall" => syscall(rest),
        "x32" => Ok(op_x32()),
        "int80" => Ok(op_int80()),
        "thread" => Ok(op_thread()),
        "status" => Ok(op_status()),
        "fds" => Ok(op_fds()),
        "env" => Ok(op_env()),
        "kill" => op_kill(rest),
        "abstract-connect" => op_abstract_connect(rest),
        other => Err(Usage(format!("unknown subcommand {other:?}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (line, code) = match run(&args) {
        Ok(out) => {
            let mut obj = Map::new();
            obj.insert("op".into(), json!(out.op));
            let code = match out.result {
                Ok(fields) => {
                    obj.insert("ok".into(), json!(true));
                    obj.extend(fields);
                    0
                }
                Err(errno) => {
                    obj.insert("ok".into(), json!(false));
                    obj.insert("errno".into(), json!(errno));
                    obj.insert("name".into(), json!(errno_name(errno)));
                    1
                }
            };
            obj.extend(out.extra);
            (Value::Object(obj), code)
        }
        Err(Usage(msg)) => (json!({"op": "usage", "ok": false, "error": msg}), 2),
    };
    let mut stdout = std::io::stdout().lock();
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    // A probe whose output cannot be written has nothing else to say.
    let _ = stdout.write_all(&bytes).and_then(|()| stdout.flush());
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn usage_errors_are_reported_not_panicked() {
        use std::os::unix::ffi::OsStringExt;
        assert!(matches!(run(&os(&[])), Err(Usage(_))));
        assert!(matches!(run(&os(&["nope"])), Err(Usage(_))));
        assert!(matches!(run(&os(&["read"])), Err(Usage(_))));
        assert!(matches!(
            run(&os(&["tcp-connect", "localhost"])),
            Err(Usage(_))
        ));
        assert!(matches!(run(&os(&["syscall", "reboot"])), Err(Usage(_))));
        assert!(matches!(
            run(&os(&["socket", "martian", "stream", "0"])),
            Err(Usage(_))
        ));
        let nul = vec![OsString::from("read"), OsString::from_vec(b"a\0b".to_vec())];
        assert!(matches!(run(&nul), Err(Usage(_))));
    }

    #[test]
    fn read_of_a_missing_file_reports_enoent() {
        let out = run(&os(&["read", "/nonexistent/gavel-probe"]))
            .map_err(|u| u.0)
            .unwrap();
        assert_eq!(out.result.err(), Some(libc::ENOENT));
        assert_eq!(errno_name(libc::ENOENT), "ENOENT");
    }

    #[test]
    fn clone3_with_null_args_is_einval_unconfined() {
        let out = run(&os(&["syscall", "clone3"])).map_err(|u| u.0).unwrap();
        assert_eq!(out.result.err(), Some(libc::EINVAL));
    }
}
