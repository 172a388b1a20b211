//! The eleven checks of sandbox.md ("What confined must mean"), each attempt in a fresh
//! child process confined through `prepare(..).spawn()`; this test process is never
//! confined. Where an errno could come from something other than the sandbox, a control
//! run of the same probe without confinement shows a different result.

mod common;

use common::{ORIGINAL, Ws, os, probe, probe_dir, run, run_unconfined, run_with};
use gavel_sandbox::{ChildStep, ControlStatus, Options, SandboxState, SpawnError, prepare};
use serde_json::{Value, json};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};

const EACCES: i32 = libc::EACCES;
const EPERM: i32 = libc::EPERM;

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

// 1. Read outside `read` fails with EACCES; inside succeeds.
#[test]
fn check01_read_outside_is_eacces_inside_ok() {
    let w = Ws::new();
    let p = w.profile("");
    run(&p, &["read", &s(&w.ro.join("file"))]).assert_ok();
    run(&p, &["list", &s(&w.ws)]).assert_ok();
    let j = run(&p, &["read", &s(&w.outside.join("secret"))]).assert_errno(EACCES);
    assert_eq!(j["step"], json!("open"));
    run(&p, &["list", &s(&w.outside)]).assert_errno(EACCES);
    // control: the same read unconfined works
    run_unconfined(&["read", &s(&w.outside.join("secret"))]).assert_ok();
}

// 2. Create, write, rename or truncate outside `write` fails; the file is unchanged.
#[test]
fn check02_write_create_rename_truncate_outside_fail_file_unchanged() {
    let w = Ws::new();
    let p = w.profile("");
    let file = w.ro.join("file");
    run(&p, &["write", &s(&file)]).assert_errno(EACCES);
    run(&p, &["create", &s(&w.ro.join("new"))]).assert_errno(EACCES);
    run(&p, &["rename", &s(&file), &s(&w.ro.join("renamed"))]).assert_errno(EACCES);
    // moving it into the writable directory needs the right to remove it from here
    run(&p, &["rename", &s(&file), &s(&w.rw.join("stolen"))]).assert_errno(EACCES);
    run(&p, &["truncate", &s(&file)]).assert_errno(EACCES);
    run(&p, &["unlink", &s(&file)]).assert_errno(EACCES);
    run(&p, &["mkdir", &s(&w.ro.join("d"))]).assert_errno(EACCES);
    run(&p, &["write", &s(&w.outside.join("secret"))]).assert_errno(EACCES);
    assert_eq!(read(&file), ORIGINAL, "the file outside write is unchanged");
    assert_eq!(read(&w.outside.join("secret")), "secret\n");
    for gone in ["new", "renamed", "d"] {
        assert!(!w.ro.join(gone).exists(), "{gone} must not exist");
    }
    assert!(!w.rw.join("stolen").exists());

    // inside `write` every one of them works
    let inside = w.rw.join("file");
    run(&p, &["write", &s(&inside)]).assert_ok();
    run(&p, &["create", &s(&w.rw.join("new"))]).assert_ok();
    run(
        &p,
        &["rename", &s(&w.rw.join("new")), &s(&w.rw.join("renamed"))],
    )
    .assert_ok();
    run(&p, &["truncate", &s(&inside)]).assert_ok();
    assert_eq!(read(&inside), "");
    assert!(w.rw.join("renamed").exists());

    // device nodes are never creatable, even where writing is allowed, even as root
    run(&p, &["mknod-char", &s(&w.rw.join("null"))]).assert_errno(EACCES);
    assert!(!w.rw.join("null").exists());
}

// 3. Executing a binary outside `exec` fails with EACCES.
#[test]
fn check03_exec_outside_is_eacces() {
    let w = Ws::new();
    let copy = w.ro.join("probe-copy");
    std::fs::copy(probe(), &copy).unwrap();
    let p = w.profile("");
    run(&p, &["exec", &s(&copy), "hello"]).assert_errno(EACCES);
    run(&p, &["exec", "/usr/bin/true"]).assert_errno(EACCES);
    // inside exec: the exec happens and the new program speaks
    let j = run(&p, &["exec", &s(&probe()), "hello"]).assert_ok();
    assert_eq!(j["op"], json!("hello"));
    // control: the copy is executable unconfined
    run_unconfined(&["exec", &s(&copy), "hello"]).assert_ok();

    // the top-level command itself outside exec: execve fails, nothing ran
    let argv = os(&["probe-copy", "create", &s(&w.rw.join("ran"))]);
    let prepared = prepare(
        &p,
        &Options::default(),
        &copy,
        &argv,
        std::iter::empty(),
        &w.ws,
    )
    .unwrap();
    match prepared.spawn() {
        Err(SpawnError::Exec { errno, report, .. }) => {
            assert_eq!(errno, EACCES);
            assert!(report.landlock_applied && report.seccomp.installed);
        }
        other => panic!("expected an exec failure, got {other:?}"),
    }
    assert!(!w.rw.join("ran").exists());
}

// 4. network: deny. TCP connect fails with EACCES (Landlock); UDP, raw, packet,
//    netlink other than route and vsock sockets are refused by seccomp (EPERM); the
//    listeners receive nothing. connect_tcp: [p] allows port p only.
#[test]
fn check04_network_deny() {
    let w = Ws::new();
    let p = w.profile("");
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let tcp_addr = tcp.local_addr().unwrap().to_string();
    let udp_addr = udp.local_addr().unwrap().to_string();

    let j = run(&p, &["tcp-connect", &tcp_addr]).assert_errno(EACCES);
    assert_eq!(
        j["step"],
        json!("connect"),
        "the socket is created, Landlock refuses the connect"
    );
    run(&p, &["tcp-bind", "127.0.0.1:0"]).assert_errno(EACCES);
    let j = run(&p, &["udp-send", &udp_addr]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("socket"));
    run(&p, &["socket", "inet", "raw", "icmp"]).assert_errno(EPERM);
    run(&p, &["socket", "inet", "dgram", "icmp"]).assert_errno(EPERM);
    run(&p, &["socket", "inet6", "dgram", "0"]).assert_errno(EPERM);
    run(&p, &["socket", "packet", "raw", "all"]).assert_errno(EPERM);
    run(&p, &["socket", "netlink", "raw", "audit"]).assert_errno(EPERM);
    run(&p, &["socket", "netlink", "raw", "uevent"]).assert_errno(EPERM);
    run(&p, &["socket", "vsock", "stream", "0"]).assert_errno(EPERM);
    run(&p, &["socket", "inet", "stream", "sctp"]).assert_errno(EPERM);
    run(&p, &["socket", "inet", "stream", "mptcp"]).assert_errno(EPERM);
    // a unix socket could connect to any socket file (docker.sock, D-Bus, an ssh
    // agent): Landlock does not restrict that, so the socket is refused
    run(&p, &["socket", "unix", "stream", "0"]).assert_errno(EPERM);
    run(&p, &["socket", "unix", "dgram", "0"]).assert_errno(EPERM);
    // listen without bind would take a random port past Landlock's bind rule
    let j = run(&p, &["tcp-listen"]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("listen"));
    run_unconfined(&["tcp-listen"]).assert_ok();
    run_unconfined(&["socket", "unix", "stream", "0"]).assert_ok();
    // what stays possible
    run(&p, &["socket", "netlink", "raw", "route"]).assert_ok();
    run(&p, &["socket", "inet", "stream", "tcp"]).assert_ok();

    let mut buf = [0u8; 64];
    assert!(
        tcp.accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "no TCP connection arrived"
    );
    assert!(
        udp.recv_from(&mut buf)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "no datagram arrived"
    );

    // control: unconfined, the same probes reach the listeners
    run_unconfined(&["udp-send", &udp_addr]).assert_ok();
    let (n, _) = udp
        .recv_from(&mut buf)
        .expect("the unconfined datagram arrives");
    assert_eq!(&buf[..n], b"gavel-probe");
    run_unconfined(&["tcp-connect", &tcp_addr]).assert_ok();
    assert!(tcp.accept().is_ok(), "the unconfined connection arrives");
}

#[test]
fn check04_connect_tcp_allows_only_listed_ports() {
    let w = Ws::new();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let port = allowed.local_addr().unwrap().port();
    let bind_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = w.profile_with(
        "",
        &format!("{{connect_tcp: [{port}], bind_tcp: [{bind_port}]}}"),
        "default",
    );
    run(
        &p,
        &["tcp-connect", &allowed.local_addr().unwrap().to_string()],
    )
    .assert_ok();
    let (mut conn, _) = allowed.accept().unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"gavel-probe");
    run(
        &p,
        &["tcp-connect", &other.local_addr().unwrap().to_string()],
    )
    .assert_errno(EACCES);
    assert!(
        other
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
    );
    run(&p, &["tcp-bind", &format!("127.0.0.1:{bind_port}")]).assert_ok();
    run(&p, &["tcp-bind", "127.0.0.1:0"]).assert_errno(EACCES);
    // UDP stays refused with a port list
    run(
        &p,
        &["udp-send", &allowed.local_addr().unwrap().to_string()],
    )
    .assert_errno(EPERM);
}

// 5. io_uring_setup, ptrace, process_vm_readv/writev, bpf, mount, unshare(CLONE_NEWUSER),
//    kexec_*, init_module, keyctl are refused; clone3 returns ENOSYS so libc falls back.
const REFUSED: [&str; 14] = [
    "io_uring_setup",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "mount",
    "unshare-user",
    "unshare-net",
    "setns",
    "kexec_load",
    "init_module",
    "finit_module",
    "keyctl",
    "userfaultfd",
];

fn check_syscalls(syscalls: &str) {
    let w = Ws::new();
    let p = w.profile_with("", "deny", syscalls);
    for name in REFUSED {
        let out = run(&p, &["syscall", name]);
        out.assert_errno(EPERM);
        let control = run_unconfined(&["syscall", name]).json();
        assert_ne!(
            control["errno"],
            json!(EPERM),
            "{name} unconfined must not be EPERM, else the check proves nothing: {control}"
        );
    }
    run(&p, &["syscall", "clone3"]).assert_errno(libc::ENOSYS);
    assert_eq!(
        run_unconfined(&["syscall", "clone3"]).json()["errno"],
        json!(libc::EINVAL)
    );
    // libc falls back to clone: threads still work
    assert_eq!(run(&p, &["thread"]).assert_ok()["value"], json!(7));
    run(&p, &["syscall", "getpid"]).assert_ok();
}

#[test]
fn check05_dangerous_syscalls_refused_default_mode() {
    check_syscalls("default");
}

#[test]
fn check05_dangerous_syscalls_refused_strict_mode() {
    check_syscalls("strict");
}

// 6. The filter checks the architecture and rejects x32 and 32-bit syscalls; it is
//    never replaced by an allow-all when building (or installing) fails.
#[test]
fn check06_x32_and_int80_kill_the_process() {
    let w = Ws::new();
    for mode in ["default", "strict"] {
        let p = w.profile_with("", "deny", mode);
        for op in ["x32", "int80"] {
            let out = run(&p, &[op]);
            assert_eq!(
                out.finished.signal,
                Some(libc::SIGSYS),
                "{op} in {mode}: {:?} {}",
                out.finished,
                out.stdout
            );
            assert_eq!(out.finished.signal_name, Some("SIGSYS"));
            assert_eq!(out.stdout, "", "nothing printed after the attempt");
        }
    }
    // control: unconfined, x32 is ENOSYS (kernel without x32) or works, int80 works
    let x32 = run_unconfined(&["x32"]).json();
    assert!(
        x32["ok"] == json!(true) || x32["errno"] == json!(libc::ENOSYS),
        "{x32}"
    );
    run_unconfined(&["int80"]).assert_ok();
}

#[test]
fn check06_a_filter_that_cannot_be_installed_stops_the_launch() {
    let w = Ws::new();
    let p = w.profile("");
    let marker = w.rw.join("ran");
    let argv = os(&["gavel-probe", "create", &s(&marker)]);
    let mut prepared = prepare(
        &p,
        &Options::default(),
        &probe(),
        &argv,
        std::iter::empty(),
        &w.ws,
    )
    .unwrap();
    prepared.corrupt_seccomp_for_tests();
    match prepared.spawn() {
        Err(
            e @ SpawnError::ChildSetup {
                step: ChildStep::Seccomp,
                errno: libc::EINVAL,
                ..
            },
        ) => {
            let report = e.report().expect("report");
            assert!(!report.seccomp.installed);
            assert_eq!(report.control("net_other"), Some(ControlStatus::Absent));
            assert_eq!(e.sandbox_state(), SandboxState::Unavailable);
        }
        other => panic!("expected a seccomp setup failure, got {other:?}"),
    }
    assert!(!marker.exists(), "nothing ran");
}

// 7. /proc/self/status in the child shows NoNewPrivs: 1 and Seccomp: 2.
#[test]
fn check07_no_new_privs_and_seccomp_filter_mode() {
    let w = Ws::new();
    let j = run(&w.profile(""), &["status"]).assert_ok();
    assert_eq!(j["NoNewPrivs"], json!(1));
    assert_eq!(j["Seccomp"], json!(2));
    assert_eq!(
        j["Seccomp_filters"],
        json!(1),
        "one filter: guard, number tree and argument checks"
    );
    let c = run_unconfined(&["status"]).assert_ok();
    assert_eq!(
        c["Seccomp"],
        json!(0),
        "control: this test process is not confined"
    );
}

// Root is confined too (sandbox.md): the child holds no capability, so root can no
// longer chown, reconfigure the network or inspect processes outside past Landlock.
#[test]
fn root_holds_no_capability_in_the_sandbox() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (CI runs as root): it shows what root loses"
    );
    let w = Ws::new();
    let p = w.profile("");
    let j = run(&p, &["status"]).assert_ok();
    for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        // the probe prints a set of all zeros as the number 0
        assert_eq!(j[set], json!(0), "{set}: {j}");
    }
    let c = run_unconfined(&["status"]).assert_ok();
    assert_ne!(c["CapEff"], json!(0), "control: root outside has them");
    // chown of a file the profile may write: EPERM inside, done outside
    let f = w.rw.join("mine");
    std::fs::write(&f, "x").unwrap();
    let out = run(&p, &["chown", &s(&f)]);
    let j = out.assert_errno(libc::EPERM);
    assert_eq!(j["op"], json!("chown"));
    assert_eq!(
        out.finished.report.to_json()["capabilities_dropped"],
        json!(true)
    );
    run_unconfined(&["chown", &s(&f)]).assert_ok();
}

// 8. An fd the parent had open without CLOEXEC is not open in the child.
#[test]
fn check08_inherited_fd_is_closed() {
    let w = Ws::new();
    let path = std::ffi::CString::new(s(&w.ro.join("file"))).unwrap();
    // SAFETY: opening a file without O_CLOEXEC on purpose; closed at the end.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(fd > 2);
    // SAFETY: F_GETFD query on our own fd.
    assert_eq!(
        unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
        0
    );
    let j = run(&w.profile(""), &["fds"]).assert_ok();
    assert_eq!(
        j["fds"],
        json!([0, 1, 2]),
        "only stdio survives (fd {fd} was inheritable)"
    );
    let j = run_unconfined(&["fds"]).assert_ok();
    assert_eq!(
        j["fds"],
        json!([0, 1, 2]),
        "unconfined spawns close fds too"
    );
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
}

// 9. The child's environment is exactly the allow-list plus `set`; LD_PRELOAD,
//    BASH_ENV, NODE_OPTIONS never pass.
#[test]
fn check09_environment_is_allow_list_plus_set() {
    let w = Ws::new();
    // the standard test profile's filesystem, with its own env rules
    let base = w.profile("");
    let text = format!(
        "filesystem:\n  read: {read:?}\n  exec: {exec:?}\nenv:\n  allow: [PATH, HOME, FOO]\n  set: {{GAVEL_SET: \"yes\", HOME: /nowhere}}\n",
        read = base.read().iter().map(|p| s(p)).collect::<Vec<_>>(),
        exec = base.exec().iter().map(|p| s(p)).collect::<Vec<_>>(),
    );
    let p = gavel_sandbox::Profile::from_yaml_str(&text, "env-profile", &w.ws).unwrap();
    let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/root"),
        ("FOO", "bar"),
        ("SECRET_TOKEN", "hunter2"),
        ("LD_PRELOAD", "/nonexistent/evil.so"),
        ("LD_LIBRARY_PATH", "/nonexistent"),
        ("BASH_ENV", "/nonexistent/evil.sh"),
        ("NODE_OPTIONS", "--require /nonexistent/evil.js"),
        ("PYTHONSTARTUP", "/nonexistent/evil.py"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    let out = run_with(&p, &Options::default(), &["env"], env).expect("spawn");
    let j = out.assert_ok();
    assert_eq!(
        j["env"],
        json!({"PATH": "/usr/bin:/bin", "HOME": "/nowhere", "FOO": "bar", "GAVEL_SET": "yes"}),
        "exactly the allow-list plus set (set wins)"
    );
    // a profile that tries to let them through is refused at load
    for name in ["LD_PRELOAD", "BASH_ENV", "NODE_OPTIONS"] {
        let err =
            gavel_sandbox::Profile::from_yaml_str(&format!("env: {{allow: [{name}]}}"), "p", &w.ws)
                .unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

// 10. On ABI 6+: signals to processes outside the sandbox and connects to abstract
//     unix sockets outside it fail with EPERM.
#[test]
fn check10_signal_and_abstract_unix_scoping() {
    assert!(
        gavel_sandbox::kernel_abi() >= 6,
        "this check needs Landlock ABI 6 (Linux 6.12+)"
    );
    let w = Ws::new();
    let p = w.profile("");
    let me = std::process::id().to_string();
    run(&p, &["kill", &me, "0"]).assert_errno(EPERM);
    run(&p, &["kill", "1", "0"]).assert_errno(EPERM);
    run_unconfined(&["kill", &me, "0"]).assert_ok();

    use std::os::linux::net::SocketAddrExt;
    let name = format!("gavel-sandbox-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    // with the network allowed, seccomp lets the unix socket be made: Landlock's scope
    // is what refuses the connect
    let open_net = w.profile_with("", "allow", "default");
    let j = run(&open_net, &["abstract-connect", &name]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("connect"));
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
    );
    run_unconfined(&["abstract-connect", &name]).assert_ok();
}

// 11. Each of the above appears in the enforcement report with its status, as applied.
#[test]
fn check11_report_reflects_what_was_applied() {
    let w = Ws::new();
    let p = w.profile("");
    let out = run(&p, &["hello"]);
    out.assert_ok();
    let r = &out.finished.report;
    let j = r.to_json();
    assert_eq!(j["landlock_abi"], json!(gavel_sandbox::kernel_abi()));
    assert_eq!(j["no_new_privs"], json!(true));
    for c in gavel_sandbox::CONTROLS {
        assert_eq!(j["controls"][c], json!("enforced"), "{c}");
    }
    assert_eq!(j["seccomp"]["mode"], json!("default"));
    assert_eq!(j["seccomp"]["installed"], json!(true));
    assert_eq!(j["seccomp"]["x32_and_i386"], json!("kill_process"));
    for g in [
        "io_uring",
        "process_inspection",
        "bpf",
        "mount",
        "namespaces",
        "kexec_reboot",
        "kernel_modules",
        "keyring",
        "sockets",
    ] {
        assert!(
            j["seccomp"]["denied_groups"]
                .as_array()
                .unwrap()
                .contains(&json!(g)),
            "{g}"
        );
    }
    assert_eq!(j["profile_sha256"], json!(p.sha256()));
    assert_eq!(j["verified_in_child"], json!(true));
    assert_eq!(
        j["steps"],
        json!([
            "setsid",
            "parent_death_signal",
            "signals",
            "close_fds",
            "chdir",
            "no_new_privs",
            "drop_capabilities",
            "landlock_restrict_self",
            "seccomp"
        ])
    );
    assert_eq!(r.sandbox_state(), SandboxState::Enabled);
    // the digest in the report is the digest of the program that was installed
    let argv = os(&["gavel-probe", "hello"]);
    let planned = prepare(
        &p,
        &Options::default(),
        &probe(),
        &argv,
        std::iter::empty(),
        &probe_dir(),
    )
    .unwrap()
    .planned_report();
    assert_eq!(planned.seccomp.filter_sha256, r.seccomp.filter_sha256);
    assert_eq!(planned.to_json()["verified_in_child"], json!(false));

    // network: allow => the network controls are not requested
    let allow = w.profile_with("", "allow", "strict");
    let j = run(&allow, &["hello"]).finished.report.to_json();
    assert_eq!(j["controls"]["net_tcp"], json!("not_requested"));
    assert_eq!(j["controls"]["net_other"], json!("not_requested"));
    assert_eq!(j["seccomp"]["mode"], json!("strict"));

    // unconfined: disabled
    let u = run_unconfined(&["hello"]);
    assert_eq!(u.finished.report.sandbox_state(), SandboxState::Disabled);
    assert_eq!(
        u.finished.report.to_json()["seccomp"]["mode"],
        json!("none")
    );
}

/// Simulated older kernels: the report says what is missing and the behaviour matches
/// it (the ruleset really is built for the lower ABI).
#[test]
fn check11_simulated_old_abi_report_matches_behaviour() {
    let w = Ws::new();
    let p = w.profile("");
    let me = std::process::id().to_string();
    let degraded = |abi| Options {
        allow_degraded: true,
        simulate_landlock_abi: Some(abi),
    };

    // ABI 5: no scoping. Refused without allow_degraded; with it, kill works and the
    // report says absent.
    let argv = os(&["gavel-probe", "hello"]);
    let err = prepare(
        &p,
        &Options {
            allow_degraded: false,
            simulate_landlock_abi: Some(5),
        },
        &probe(),
        &argv,
        std::iter::empty(),
        &w.ws,
    )
    .unwrap_err();
    assert!(err.to_string().contains("scope_signal"), "{err}");
    assert_eq!(
        err.report().unwrap().sandbox_state(),
        SandboxState::Unavailable
    );
    let out = run_with(&p, &degraded(5), &["kill", &me, "0"], common::default_env()).unwrap();
    out.assert_ok();
    let j = out.finished.report.to_json();
    assert_eq!(j["landlock_abi"], json!(5));
    assert_eq!(j["controls"]["scope_signal"], json!("absent"));
    assert_eq!(j["controls"]["scope_abstract_unix"], json!("absent"));
    assert_eq!(j["controls"]["net_tcp"], json!("enforced"));

    // ABI 3: no Landlock TCP; `deny` is then enforced by seccomp at socket().
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = run_with(
        &p,
        &degraded(3),
        &["tcp-connect", &tcp.local_addr().unwrap().to_string()],
        common::default_env(),
    )
    .unwrap();
    let jj = out.assert_errno(EPERM);
    assert_eq!(jj["step"], json!("socket"));
    let j = out.finished.report.to_json();
    assert_eq!(j["net_tcp_mechanism"], json!("seccomp"));
    assert_eq!(j["controls"]["net_tcp"], json!("enforced"));

    // ABI 2: no truncate control; the report says so, and truncate indeed works.
    let file = w.ro.join("file");
    let out = run_with(
        &p,
        &degraded(2),
        &["truncate", &s(&file)],
        common::default_env(),
    )
    .unwrap();
    out.assert_ok();
    let j = out.finished.report.to_json();
    assert_eq!(j["controls"]["fs_truncate"], json!("absent"));
    assert_eq!(j["controls"]["fs_write"], json!("degraded"));
    assert_eq!(
        read(&file),
        "",
        "degraded means degraded: truncate went through, as reported"
    );
    // and writes are still refused at ABI 2
    run_with(
        &p,
        &degraded(2),
        &["write", &s(&file)],
        common::default_env(),
    )
    .unwrap()
    .assert_errno(EACCES);

    // ABI 0: refused, even with allow_degraded.
    let err = prepare(&p, &degraded(0), &probe(), &argv, std::iter::empty(), &w.ws).unwrap_err();
    assert!(
        matches!(err, gavel_sandbox::SandboxError::LandlockUnavailable { .. }),
        "{err}"
    );
}

#[test]
fn setup_failure_reports_the_step_and_runs_nothing() {
    let w = Ws::new();
    let p = w.profile("");
    let marker = w.rw.join("ran");
    let argv = os(&["gavel-probe", "create", &s(&marker)]);
    let missing = w.ws.join("no-such-dir");
    let prepared = prepare(
        &p,
        &Options::default(),
        &probe(),
        &argv,
        std::iter::empty(),
        &missing,
    )
    .unwrap();
    match prepared.spawn() {
        Err(SpawnError::ChildSetup {
            step: ChildStep::Chdir,
            errno: libc::ENOENT,
            report,
        }) => {
            assert!(!report.no_new_privs && !report.landlock_applied);
            assert_eq!(report.control("fs_read"), Some(ControlStatus::Absent));
        }
        other => panic!("expected a chdir failure, got {other:?}"),
    }
    assert!(!marker.exists());
}

#[test]
fn exit_status_and_signals_are_reported() {
    let w = Ws::new();
    let p = w.profile("");
    let out = run(&p, &["read", "/nonexistent"]);
    assert_eq!(out.finished.exit_code, Some(1));
    assert_eq!(out.finished.signal, None);
    assert_eq!(out.finished.shell_status(), 1);
    let out = run(&p, &["x32"]);
    assert_eq!(out.finished.shell_status(), 128 + libc::SIGSYS);
    let v: Value = run(&p, &["hello"]).json();
    assert_eq!(v["op"], json!("hello"));
}

/// Real tools under the built-in profiles, in both syscall modes: the workspace is
/// writable, the rest of the system is not; `read-only` writes nothing.
#[test]
fn builtin_profiles_run_real_tools() {
    let w = Ws::new();
    let sh =
        gavel_sandbox::resolve_executable("sh".as_ref(), Some("/usr/bin:/bin".as_ref()), &w.ws)
            .unwrap();
    // outside both the workspace and /tmp (Ws::outside is under /tmp, writable here)
    let elsewhere = tempfile::Builder::new()
        .prefix("gavel-sbx-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let escaped = elsewhere.path().join("escaped");
    let script = "echo hi > made && cat made >/dev/null && ls /usr >/dev/null && echo tmp > \"$T\" && cat /etc/hostname >/dev/null; echo x > \"$OUT\"; exit 0";
    let env = |t: &std::path::Path| -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("T".into(), t.as_os_str().to_owned()),
            ("OUT".into(), escaped.clone().into_os_string()),
        ]
    };
    for mode in ["default", "strict"] {
        let ws = gavel_sandbox::Profile::builtin("workspace", &w.ws).unwrap();
        // the built-in env allow-list does not carry T and OUT: use a YAML profile with
        // the same filesystem and the variables allowed.
        let yaml = format!(
            "filesystem:\n  read: {r:?}\n  write: {wr:?}\n  exec: {x:?}\nsyscalls: {mode}\nenv: {{allow: [PATH, T, OUT]}}\n",
            r = ws.read().iter().map(|p| s(p)).collect::<Vec<_>>(),
            wr = ws.write().iter().map(|p| s(p)).collect::<Vec<_>>(),
            x = ws.exec().iter().map(|p| s(p)).collect::<Vec<_>>(),
        );
        let p = gavel_sandbox::Profile::from_yaml_str(&yaml, "ws", &w.ws).unwrap();
        assert_eq!(p.to_json()["filesystem"], ws.to_json()["filesystem"]);
        let tmp_file =
            std::path::PathBuf::from(format!("/tmp/gavel-sbx-{}-{mode}", std::process::id()));
        let argv = os(&["sh", "-c", script]);
        let prepared = prepare(
            &p,
            &Options::default(),
            &sh,
            &argv,
            env(&tmp_file).into_iter(),
            &w.ws,
        )
        .unwrap();
        let f = prepared.spawn().unwrap().wait().unwrap();
        assert_eq!(f.exit_code, Some(0), "{mode}");
        assert_eq!(
            read(&w.ws.join("made")),
            "hi\n",
            "{mode}: the workspace is writable"
        );
        assert_eq!(read(&tmp_file), "tmp\n", "{mode}: /tmp is writable");
        assert!(
            !escaped.exists(),
            "{mode}: outside the workspace and /tmp is not writable"
        );
        std::fs::remove_file(&tmp_file).unwrap();
        std::fs::remove_file(w.ws.join("made")).unwrap();
    }
    // read-only: nothing can be written, reading works
    let ro = gavel_sandbox::Profile::builtin("read-only", &w.ws).unwrap();
    let argv = os(&["sh", "-c", "cat ro/file && echo x > made"]);
    let prepared = prepare(
        &ro,
        &Options::default(),
        &sh,
        &argv,
        common::default_env().into_iter(),
        &w.ws,
    )
    .unwrap();
    let f = prepared.spawn().unwrap().wait().unwrap();
    assert_ne!(f.exit_code, Some(0), "the write must fail");
    assert!(!w.ws.join("made").exists());
}
