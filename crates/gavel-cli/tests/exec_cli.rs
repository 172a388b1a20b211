//! `gavel exec` on the real binary: the eleven confinement checks of sandbox.md
//! through `gavel exec` and `gavel-probe` (every attempt a separate `gavel exec`
//! process, the errno asserted), the order of work and its exit statuses, the
//! execution receipt and its link to the decision, signals, bad input, and the nono,
//! openshell and none backends. Where an errno could come from something other than
//! the sandbox, a control run of the probe outside gavel shows a different result.

mod common;
mod exec_support;

use exec_support::*;
use serde_json::{Value, json};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

const EACCES: i32 = libc::EACCES;
const EPERM: i32 = libc::EPERM;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// `gavel verify PATH --key <operator public key> --json` in the workspace's state.
fn verify(w: &Ws, path: &Path) -> (Option<i32>, Value) {
    let run = |args: &[&str]| {
        Command::new(BIN)
            .env("GAVEL_HOME", &w.state)
            .args(args)
            .output()
            .unwrap()
    };
    let key = stdout(&run(&["public-key"])).trim().to_owned();
    let o = run(&["verify", path.to_str().unwrap(), "--key", &key, "--json"]);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("verify output not JSON ({e}): {}", stderr(&o)));
    (o.status.code(), v)
}

// ---------------------------------------------------------------------------------
// The eleven checks of sandbox.md, through gavel exec
// ---------------------------------------------------------------------------------

// 1. Read outside `read` fails with EACCES; inside succeeds.
#[test]
fn check01_read_outside_is_eacces_inside_ok() {
    let w = Ws::new();
    w.probe(&["read", &s(&w.ro.join("file"))]).assert_ok();
    w.probe(&["list", &s(&w.ws)]).assert_ok();
    let j = w
        .probe(&["read", &s(&w.outside.join("secret"))])
        .assert_errno(EACCES);
    assert_eq!(j["step"], json!("open"));
    w.probe(&["list", &s(&w.outside)]).assert_errno(EACCES);
    // control: the same read outside gavel works
    assert_eq!(
        w.probe_direct(&["read", &s(&w.outside.join("secret"))])["ok"],
        json!(true)
    );
}

// 2. Create, write, rename or truncate outside `write` fails; the file is unchanged.
#[test]
fn check02_write_create_rename_truncate_outside_fail_file_unchanged() {
    let w = Ws::new();
    let file = w.ro.join("file");
    w.probe(&["write", &s(&file)]).assert_errno(EACCES);
    w.probe(&["create", &s(&w.ro.join("new"))])
        .assert_errno(EACCES);
    w.probe(&["rename", &s(&file), &s(&w.ro.join("renamed"))])
        .assert_errno(EACCES);
    w.probe(&["rename", &s(&file), &s(&w.rw.join("stolen"))])
        .assert_errno(EACCES);
    w.probe(&["truncate", &s(&file)]).assert_errno(EACCES);
    w.probe(&["unlink", &s(&file)]).assert_errno(EACCES);
    w.probe(&["mkdir", &s(&w.ro.join("d"))])
        .assert_errno(EACCES);
    w.probe(&["write", &s(&w.outside.join("secret"))])
        .assert_errno(EACCES);
    assert_eq!(read(&file), ORIGINAL, "unchanged");
    assert_eq!(read(&w.outside.join("secret")), "secret\n");
    for gone in ["new", "renamed", "d"] {
        assert!(!w.ro.join(gone).exists(), "{gone}");
    }
    assert!(!w.rw.join("stolen").exists());
    // inside `write` the same operations work
    let inside = w.rw.join("file");
    w.probe(&["write", &s(&inside)]).assert_ok();
    w.probe(&["create", &s(&w.rw.join("new"))]).assert_ok();
    w.probe(&["rename", &s(&w.rw.join("new")), &s(&w.rw.join("renamed"))])
        .assert_ok();
    w.probe(&["truncate", &s(&inside)]).assert_ok();
    assert_eq!(read(&inside), "");
    assert!(w.rw.join("renamed").exists());
}

// 3. Executing a binary outside `exec` fails with EACCES.
#[test]
fn check03_exec_outside_is_eacces() {
    let w = Ws::new();
    let copy = w.ro.join("probe-copy");
    std::fs::copy(probe(), &copy).unwrap();
    w.probe(&["exec", &s(&copy), "hello"]).assert_errno(EACCES);
    w.probe(&["exec", "/usr/bin/true"]).assert_errno(EACCES);
    // inside exec: the exec happens and the new program speaks
    let j = w.probe(&["exec", &s(&probe()), "hello"]).assert_ok();
    assert_eq!(j["op"], json!("hello"));
    // control: the copy is executable outside gavel
    assert_eq!(
        w.probe_direct(&["exec", &s(&copy), "hello"])["ok"],
        json!(true)
    );

    // the command itself outside exec: execve is refused in the confined child, nothing
    // ran (a marker it would create is absent), exit 126 like a shell, and the
    // execution receipt says why
    let marker = w.rw.join("ran");
    let pd = exec_policies();
    let profile = w.write_profile();
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ],
        &[&s(&copy), "create", &s(&marker)],
    );
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("EACCES"), "{}", stderr(&o));
    assert!(!marker.exists());
    let receipts = read_receipts(&w.receipts());
    let exec = &receipts.last().unwrap()["payload"];
    assert_eq!(exec["type"], json!("gavel:execution"));
    assert_eq!(exec["sandbox_state"], json!("enabled"));
    assert!(exec.get("exit_code").is_none(), "{exec}");
    assert!(
        exec["sandbox"]["cause"]
            .as_str()
            .unwrap()
            .contains("filesystem.exec"),
        "{exec}"
    );
}

// 4. network: deny. TCP connect EACCES (Landlock); UDP, raw, packet, netlink (other
//    than route) and vsock refused by seccomp (EPERM); the listeners receive nothing.
#[test]
fn check04_network_deny() {
    let w = Ws::new();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let tcp_addr = tcp.local_addr().unwrap().to_string();
    let udp_addr = udp.local_addr().unwrap().to_string();

    let j = w.probe(&["tcp-connect", &tcp_addr]).assert_errno(EACCES);
    assert_eq!(j["step"], json!("connect"));
    w.probe(&["tcp-bind", "127.0.0.1:0"]).assert_errno(EACCES);
    let j = w.probe(&["udp-send", &udp_addr]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("socket"));
    for sock in [
        ["inet", "raw", "icmp"],
        ["inet", "dgram", "icmp"],
        ["packet", "raw", "all"],
        ["netlink", "raw", "audit"],
        ["vsock", "stream", "0"],
    ] {
        let mut args = vec!["socket"];
        args.extend(sock);
        w.probe(&args).assert_errno(EPERM);
    }
    w.probe(&["socket", "netlink", "raw", "route"]).assert_ok();
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
    // control: outside gavel the same probes reach the listeners
    assert_eq!(w.probe_direct(&["udp-send", &udp_addr])["ok"], json!(true));
    assert!(udp.recv_from(&mut buf).is_ok());
    assert_eq!(
        w.probe_direct(&["tcp-connect", &tcp_addr])["ok"],
        json!(true)
    );
    assert!(tcp.accept().is_ok());
}

// 4. `connect_tcp: [p]` allows port p only.
#[test]
fn check04_connect_tcp_allows_only_the_listed_port() {
    let w = Ws::new();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let port = allowed.local_addr().unwrap().port();
    w.write_profile_text(&w.profile_yaml(
        &format!("{{connect_tcp: [{port}]}}"),
        "default",
        "  allow: [PATH]",
    ));
    w.probe(&["tcp-connect", &allowed.local_addr().unwrap().to_string()])
        .assert_ok();
    let (mut conn, _) = allowed.accept().unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"gavel-probe");
    w.probe(&["tcp-connect", &other.local_addr().unwrap().to_string()])
        .assert_errno(EACCES);
    assert!(
        other
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
    );
}

// 5. io_uring_setup, ptrace, process_vm_readv/writev, bpf, mount, unshare(CLONE_NEWUSER),
//    kexec_*, init_module, keyctl are refused; clone3 returns ENOSYS, libc falls back.
#[test]
fn check05_dangerous_syscalls_refused_clone3_enosys() {
    let w = Ws::new();
    for name in [
        "io_uring_setup",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "bpf",
        "mount",
        "unshare-user",
        "kexec_load",
        "init_module",
        "keyctl",
    ] {
        w.probe(&["syscall", name]).assert_errno(EPERM);
        let control = w.probe_direct(&["syscall", name]);
        assert_ne!(
            control["errno"],
            json!(EPERM),
            "{name} outside gavel must not be EPERM, else the check proves nothing: {control}"
        );
    }
    w.probe(&["syscall", "clone3"]).assert_errno(libc::ENOSYS);
    assert_eq!(
        w.probe_direct(&["syscall", "clone3"])["errno"],
        json!(libc::EINVAL)
    );
    assert_eq!(w.probe(&["thread"]).assert_ok()["value"], json!(7));
}

// 6. The filter checks the architecture and rejects x32 and 32-bit syscall numbers:
//    the process is killed (SIGSYS); gavel exits 128+31 and the receipt names the signal.
#[test]
fn check06_x32_and_int80_are_killed() {
    let w = Ws::new();
    for op in ["x32", "int80"] {
        let r = w.probe(&[op]);
        assert_eq!(
            r.code(),
            Some(128 + libc::SIGSYS),
            "{op}: {}",
            stderr(&r.output)
        );
        assert_eq!(stdout(&r.output), "", "nothing printed after the attempt");
        let e = r.execution();
        assert_eq!(e["signal"], json!("SIGSYS"), "{e}");
        assert!(e.get("exit_code").is_none(), "{e}");
        assert_eq!(e["sandbox"]["seccomp"]["arch"], json!("x86_64"));
        assert_eq!(
            e["sandbox"]["seccomp"]["x32_and_i386"],
            json!("kill_process")
        );
    }
    assert_eq!(w.probe_direct(&["int80"])["ok"], json!(true), "control");
}

// 7. /proc/self/status in the child shows NoNewPrivs: 1 and Seccomp: 2.
#[test]
fn check07_no_new_privs_and_seccomp_mode() {
    let w = Ws::new();
    let j = w.probe(&["status"]).assert_ok();
    assert_eq!(
        (j["NoNewPrivs"].clone(), j["Seccomp"].clone()),
        (json!(1), json!(2))
    );
    let c = w.probe_direct(&["status"]);
    assert_eq!(
        c["Seccomp"],
        json!(0),
        "control: the test process is not confined"
    );
}

/// Runs `cmd` with `file` open on fd 7 without close-on-exec.
fn with_inherited_fd(cmd: &mut Command, file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: between fork and exec the closure only calls dup2, which is
    // async-signal-safe; dup2 clears FD_CLOEXEC on the new descriptor.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

// 8. An fd the parent (gavel) had open without CLOEXEC is not open in the child.
#[test]
fn check08_inherited_fd_is_closed() {
    let w = Ws::new();
    let file = std::fs::File::open(w.ro.join("file")).unwrap();
    let profile = w.write_profile();
    let pd = exec_policies();
    let mut c = w.command(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ],
        &[probe().to_str().unwrap(), "fds"],
    );
    with_inherited_fd(&mut c, &file);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        probe_json(&o)["fds"],
        json!([0, 1, 2]),
        "only stdio survives"
    );
    // control: the probe started the same way without gavel has fd 7
    let mut direct = Command::new(probe());
    direct.arg("fds").stdin(Stdio::null());
    with_inherited_fd(&mut direct, &file);
    let o = direct.output().unwrap();
    assert!(
        probe_json(&o)["fds"]
            .as_array()
            .unwrap()
            .contains(&json!(7)),
        "control: {}",
        stdout(&o)
    );
}

/// `gavel exec` with `extra` options (plus the test profile unless they name a
/// backend), the file open on fd 7, running the probe with `args`.
fn run_with_fd_7(w: &Ws, file: &std::fs::File, extra: &[&str], args: &[&str]) -> Value {
    let profile = w.write_profile();
    let pd = exec_policies();
    let mut opts = vec!["--policy-dir", pd.to_str().unwrap()];
    if !extra.contains(&"--sandbox-backend") {
        opts.extend_from_slice(&["--profile", profile.to_str().unwrap()]);
    }
    opts.extend_from_slice(extra);
    let mut cmd = vec![probe().to_str().unwrap().to_owned()];
    cmd.extend(args.iter().map(|a| (*a).to_owned()));
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let mut c = w.command(&opts, &cmd);
    with_inherited_fd(&mut c, file);
    let o = c.output().unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    probe_json(&o)
}

const PASS_7: &[&str] = &["--pass-fd", "7"];

// Passing a descriptor on purpose (sandbox.md flow, step 3: "closes every fd but 0/1/2
// and explicitly passed ones"): the command has it and can use it although the profile
// does not cover its file, everything else stays confined, and the execution receipt
// records the grant.
#[test]
fn a_passed_fd_reaches_the_command_and_the_receipt_lists_it() {
    let w = Ws::new();
    let secret = w.outside.join("secret");
    let file = std::fs::File::open(&secret).unwrap();
    assert_eq!(
        run_with_fd_7(&w, &file, PASS_7, &["fds"])["fds"],
        json!([0, 1, 2, 7]),
        "fd 7 passed, nothing else"
    );
    let j = run_with_fd_7(&w, &file, PASS_7, &["read-fd", "7"]);
    assert_eq!(
        (j["ok"].clone(), j["bytes"].clone()),
        (json!(true), json!(1))
    );
    // the profile still applies to everything opened by path
    let j = run_with_fd_7(&w, &file, PASS_7, &["read", &s(&secret)]);
    assert_eq!(j["errno"], json!(EACCES), "{j}");

    let receipts = read_receipts(&w.receipts());
    let exec = receipts.last().unwrap();
    assert_eq!(exec["payload"]["type"], json!("gavel:execution"));
    assert_eq!(
        exec["payload"]["sandbox"]["passed_fds"],
        json!([{"fd": 7, "access": "read", "target": s(&std::fs::canonicalize(&secret).unwrap())}])
    );
    let (code, _) = verify(&w, &w.receipts());
    assert_eq!(code, Some(0), "the chain with passed_fds verifies");

    // the same run without --pass-fd: fd 7 is closed (check 8) and the report has no
    // passed_fds member at all
    let j = run_with_fd_7(&w, &file, &[], &["read-fd", "7"]);
    assert_eq!(j["errno"], json!(libc::EBADF), "{j}");
    let receipts = read_receipts(&w.receipts());
    let sandbox = &receipts.last().unwrap()["payload"]["sandbox"];
    assert!(sandbox.get("passed_fds").is_none(), "{sandbox}");
}

// The same with openshell: gavel does not confine, but it passes exactly what it was
// told and says so.
#[test]
fn a_passed_fd_with_openshell_is_recorded_too() {
    let w = Ws::new();
    let file = std::fs::File::open(w.ro.join("file")).unwrap();
    let j = run_with_fd_7(
        &w,
        &file,
        &["--pass-fd", "7", "--sandbox-backend", "openshell"],
        &["fds"],
    );
    assert_eq!(j["fds"], json!([0, 1, 2, 7]));
    let receipts = read_receipts(&w.receipts());
    let sandbox = &receipts.last().unwrap()["payload"]["sandbox"];
    assert_eq!(sandbox["confined_by"], json!("openshell"));
    assert_eq!(sandbox["passed_fds"][0]["fd"], json!(7), "{sandbox}");
}

// --pass-fd that cannot be honoured is bad input: exit 125, one line naming the fd and
// the fix, nothing written, nothing run.
#[test]
fn a_pass_fd_that_cannot_be_honoured_is_bad_input() {
    let w = Ws::new();
    let pd = exec_policies();
    let marker = w.rw.join("marker");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--pass-fd", "9"],
            "--pass-fd 9: fd 9 is not open in gavel",
        ),
        (
            &["--pass-fd", "2"],
            "--pass-fd 2: fd 2: name a descriptor 3 or above",
        ),
        (&["--pass-fd=-1"], "name a descriptor 3 or above"),
        (
            &["--pass-fd", "0", "--sandbox-backend", "nono"],
            "--pass-fd cannot be used with --sandbox-backend nono",
        ),
    ];
    for (extra, want) in cases {
        let mut opts = vec!["--policy-dir", pd.to_str().unwrap()];
        opts.extend_from_slice(extra);
        let o = w.exec(&opts, &[probe().to_str().unwrap(), "create", &s(&marker)]);
        assert_eq!(o.status.code(), Some(125), "{extra:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(want), "{extra:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{extra:?}: one line: {err}"
        );
        assert!(!marker.exists(), "{extra:?}: nothing ran");
        assert!(!w.receipts().exists(), "{extra:?}: nothing written");
    }
}

// 9. The child's environment is exactly the allow-list plus `set`; LD_PRELOAD,
//    BASH_ENV, NODE_OPTIONS never pass.
#[test]
fn check09_environment_is_the_allow_list_plus_set() {
    let w = Ws::new();
    w.write_profile_text(&w.profile_yaml(
        "deny",
        "default",
        "  allow: [PATH, HOME, FOO]\n  set: {GAVEL_SET: \"yes\", HOME: /nowhere}",
    ));
    let pd = exec_policies();
    let profile = w.profile_path();
    let mut c = w.command(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ],
        &[probe().to_str().unwrap(), "env"],
    );
    // LD_PRELOAD names a library that exists, so that the gavel process itself loads
    // normally with it; it must not reach the command
    let libc_so = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("libc.so.6");
    c.env("FOO", "bar")
        .env("SECRET_TOKEN", "hunter2")
        .env("LD_PRELOAD", libc_so)
        .env("BASH_ENV", "/nonexistent/evil.sh")
        .env("NODE_OPTIONS", "--require /nonexistent/evil.js");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        probe_json(&o)["env"],
        json!({"PATH": SYSTEM_PATH, "HOME": "/nowhere", "FOO": "bar", "GAVEL_SET": "yes"}),
        "exactly the allow-list plus set (set wins)"
    );
    // a profile that lets one of them through is refused before anything is written
    for name in ["LD_PRELOAD", "BASH_ENV", "NODE_OPTIONS"] {
        let w = Ws::new();
        w.write_profile_text(&w.profile_yaml(
            "deny",
            "default",
            &format!("  allow: [PATH, {name}]"),
        ));
        let r = w.probe(&["create", &s(&w.rw.join("ran"))]);
        assert_eq!(r.code(), Some(125), "{name}");
        assert!(stderr(&r.output).contains(name), "{}", stderr(&r.output));
        assert!(r.new.is_empty() && !w.rw.join("ran").exists());
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
    let me = std::process::id().to_string();
    w.probe(&["kill", &me, "0"]).assert_errno(EPERM);
    w.probe(&["kill", "1", "0"]).assert_errno(EPERM);
    assert_eq!(
        w.probe_direct(&["kill", &me, "0"])["ok"],
        json!(true),
        "control"
    );

    use std::os::linux::net::SocketAddrExt;
    let name = format!("gavel-exec-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    // with the network denied no unix socket can be made at all; with it allowed,
    // Landlock's scope is what refuses the connect
    let j = w.probe(&["abstract-connect", &name]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("socket"));
    w.write_profile_text(&w.profile_yaml("allow", "default", "  allow: [PATH]"));
    let j = w.probe(&["abstract-connect", &name]).assert_errno(EPERM);
    assert_eq!(j["step"], json!("connect"));
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
    );
    assert_eq!(
        w.probe_direct(&["abstract-connect", &name])["ok"],
        json!(true),
        "control"
    );
}

// 11. Each of the above appears in the enforcement report (the execution receipt's
//     `sandbox` member) with its status, as applied in the child.
#[test]
fn check11_the_receipt_reports_each_control_as_applied() {
    let w = Ws::new();
    let r = w.probe(&["hello"]);
    r.assert_ok();
    let e = r.execution();
    let sb = &e["sandbox"];
    assert_eq!(e["sandbox_state"], json!("enabled"));
    assert_eq!(sb["confined_by"], json!("gavel"));
    assert_eq!(sb["landlock_abi"], json!(gavel_sandbox::kernel_abi()));
    assert_eq!(sb["no_new_privs"], json!(true));
    assert_eq!(sb["landlock_applied"], json!(true));
    assert_eq!(sb["verified_in_child"], json!(true));
    for c in gavel_sandbox::CONTROLS {
        assert_eq!(sb["controls"][c], json!("enforced"), "{c}: {sb}");
    }
    assert_eq!(sb["seccomp"]["mode"], json!("default"));
    assert_eq!(sb["seccomp"]["installed"], json!(true));
    assert_eq!(
        sb["seccomp"]["filter_sha256"].as_str().map(str::len),
        Some(64)
    );
    let profile = gavel_sandbox::Profile::from_file(&w.profile_path(), &w.ws).unwrap();
    assert_eq!(sb["profile_sha256"], json!(profile.sha256()));
    for step in ["no_new_privs", "landlock_restrict_self", "seccomp"] {
        assert!(
            sb["steps"].as_array().unwrap().contains(&json!(step)),
            "{step}"
        );
    }

    // a simulated ABI 5 (no scoping): refused without --allow-degraded, naming the
    // control; with it, the report says absent and the kill indeed goes through
    let me = std::process::id().to_string();
    let run = |degraded: bool| {
        let pd = exec_policies();
        let profile = w.profile_path();
        let mut opts = vec![
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ];
        if degraded {
            opts.push("--allow-degraded");
        }
        w.command(&opts, &[probe().to_str().unwrap(), "kill", &me, "0"])
            .env("GAVEL_SIMULATE_LANDLOCK_ABI", "5")
            .output()
            .unwrap()
    };
    let before = receipt_files(&w.receipts()).len();
    let o = run(false);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("scope_signal"), "{}", stderr(&o));
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), before + 2);
    let refused = &receipts[before + 1]["payload"];
    assert_eq!(refused["sandbox_state"], json!("unavailable"));
    assert_eq!(
        refused["sandbox"]["controls"]["scope_signal"],
        json!("absent")
    );
    assert!(
        refused["sandbox"]["cause"]
            .as_str()
            .unwrap()
            .contains("scope_signal")
    );
    let o = run(true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(probe_json(&o)["ok"], json!(true), "degraded means degraded");
    let receipts = read_receipts(&w.receipts());
    let degraded = &receipts.last().unwrap()["payload"];
    assert_eq!(degraded["sandbox"]["landlock_abi"], json!(5));
    assert_eq!(
        degraded["sandbox"]["controls"]["scope_signal"],
        json!("absent")
    );
    assert_eq!(
        degraded["sandbox"]["controls"]["scope_abstract_unix"],
        json!("absent")
    );
    assert_eq!(
        degraded["sandbox"]["controls"]["fs_read"],
        json!("enforced")
    );
}

// ---------------------------------------------------------------------------------
// Order of work, exit statuses, receipts
// ---------------------------------------------------------------------------------

#[test]
fn a_command_denied_by_policy_runs_nothing() {
    let w = Ws::new();
    // the probe under the name `rm`: the example policy denies shell:rm
    let bin = w.ws.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(probe(), bin.join("rm")).unwrap();
    let marker = w.rw.join("created");
    let pd = example_policies();
    let o = w.exec(
        &["--policy-dir", pd.to_str().unwrap()],
        &["./bin/rm", "create", &s(&marker)],
    );
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("Destructive shell command blocked"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "", "nothing ran");
    assert!(!marker.exists(), "the probe would have created it");
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 1, "the decision only, no execution receipt");
    let d = &receipts[0]["payload"];
    assert_eq!(d["decision"], json!("deny"));
    assert_eq!(d["policy_id"], json!("block-destructive-shell"));
    assert_eq!(d["tool_name"], json!(s(&probe())), "the resolved path");

    // the context reaches the rules: the same probe, allowed by name, denied because
    // its command line mentions a forbidden word
    let r = w.probe(&["create", &s(&marker), "forbidden-word"]);
    assert_eq!(r.code(), Some(126));
    assert_eq!(r.new.len(), 1);
    assert_eq!(r.decision()["policy_id"], json!("block-forbidden-word"));
    assert!(!marker.exists());
}

#[test]
fn the_example_policy_allows_cat_and_its_output_passes_through() {
    let w = Ws::new();
    let pd = example_policies();
    let o = w.exec(&["--policy-dir", pd.to_str().unwrap()], &["cat", "ro/file"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), ORIGINAL);
    assert_eq!(
        stderr(&o)
            .lines()
            .filter(|l| !l.contains("created operator key"))
            .count(),
        0
    );
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 2);
    let d = &receipts[0]["payload"];
    assert_eq!(d["policy_id"], json!("allow-safe-shell"));
    let cat = std::fs::canonicalize(
        gavel_sandbox::resolve_executable("cat".as_ref(), Some(SYSTEM_PATH.as_ref()), &w.ws)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(d["tool_name"], json!(s(&cat)));
}

#[test]
fn execution_receipt_fields_and_link_to_the_decision() {
    let w = Ws::new();
    let r = w.probe_with(
        &[
            "--context",
            r#"{"agent_did":"did:example:agent-7","session_id":"s-9"}"#,
        ],
        &[
            "read",
            &s(&w.ro.join("file")),
            "an-argument-that-stays-private",
        ],
    );
    r.assert_ok();
    assert_eq!(r.new.len(), 2);
    let (d, e) = (r.decision(), r.execution());
    // consecutive links of one chain, the execution naming the decision by hash
    assert_eq!(
        (d["sequence"].clone(), e["sequence"].clone()),
        (json!(1), json!(2))
    );
    let hash = gavel_receipt::receipt_hash(&r.new[0]).unwrap();
    assert_eq!(e["decision_ref"], json!(hash));
    assert_eq!(e["previousReceiptHash"], json!(hash));
    // the decision
    let tool = s(&probe());
    assert_eq!(d["tool_name"], json!(tool));
    assert_eq!(d["decision"], json!("allow"));
    assert_eq!(d["policy_id"], json!("allow-shell"));
    assert_eq!(d["agent_id"], json!("did:example:agent-7"));
    assert_eq!(d["session_id"], json!("s-9"));
    assert_eq!(
        (d["ring"].clone(), d["sandbox_backend"].clone()),
        (json!(3), json!("sb_runtime_builtin"))
    );
    // the request as decided: action and the full context, bound by the digest
    let argv = [
        tool.as_str(),
        "read",
        &s(&w.ro.join("file")),
        "an-argument-that-stays-private",
    ];
    let context = json!({
        "agent_did": "did:example:agent-7",
        "session_id": "s-9",
        "command": argv.join(" "),
        "argv": argv,
        "executable": tool,
        "cwd": s(&w.ws),
        // SAFETY: getuid has no preconditions.
        "uid": unsafe { libc::getuid() },
    });
    let digest = gavel_receipt::payload_digest("shell:gavel-probe", &context).unwrap();
    assert_eq!(d["payload_digest"]["hash"], json!(digest.hash));
    assert_eq!(d["payload_digest"]["size"], json!(digest.size));
    // the execution
    assert_eq!(e["tool_name"], json!(tool));
    assert_eq!(e["agent_id"], json!("did:example:agent-7"));
    assert_eq!(
        (e["ring"].clone(), e["sandbox_backend"].clone()),
        (json!(3), json!("sb_runtime_builtin"))
    );
    assert_eq!(e["issuer_id"], d["issuer_id"]);
    assert_eq!(e["exit_code"], json!(0));
    assert!(e.get("signal").is_none());
    assert!(
        e["tool_duration_ms"].as_f64().is_some_and(|t| t >= 0.0),
        "{e}"
    );
    assert_eq!(e["sandbox_state"], json!("enabled"));
    // raw arguments never reach a receipt
    for f in receipt_files(&w.receipts()) {
        assert!(
            !read(&f).contains("an-argument-that-stays-private"),
            "{}",
            f.display()
        );
    }
    let (code, v) = verify(&w, &w.receipts());
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["results"][0]["count"], json!(2));
}

#[test]
fn a_tampered_execution_receipt_fails_verification() {
    let w = Ws::new();
    w.probe(&["read", &s(&w.rw.join("nonexistent"))])
        .assert_errno(libc::ENOENT);
    let files = receipt_files(&w.receipts());
    let exec_file = files.last().unwrap();
    assert_eq!(verify(&w, exec_file).0, Some(0));
    let mut v: Value = serde_json::from_slice(&std::fs::read(exec_file).unwrap()).unwrap();
    assert_eq!(v["payload"]["exit_code"], json!(1));
    v["payload"]["exit_code"] = json!(0);
    std::fs::write(exec_file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let (code, out) = verify(&w, exec_file);
    assert_eq!(code, Some(1), "{out:#}");
    assert_eq!(
        first_cause(&out).as_deref(),
        Some("invalid_signature"),
        "{out:#}"
    );
    let (code, out) = verify(&w, &w.receipts());
    assert_eq!(code, Some(1), "the chain with it: {out:#}");
}

#[test]
fn exit_statuses_pass_through() {
    let w = Ws::new();
    let pd = exec_policies();
    let opts = [
        "--policy-dir",
        pd.to_str().unwrap(),
        "--profile-name",
        "workspace",
    ];
    let o = w.exec(&opts, &["sh", "-c", "exit 42"]);
    assert_eq!(o.status.code(), Some(42), "{}", stderr(&o));
    let last = read_receipts(&w.receipts()).pop().unwrap();
    assert_eq!(last["payload"]["exit_code"], json!(42));
    // killed by a signal: 128+N, the receipt names the signal and has no exit_code
    let o = w.exec(&opts, &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&o));
    let last = read_receipts(&w.receipts()).pop().unwrap();
    assert_eq!(last["payload"]["signal"], json!("SIGTERM"));
    assert!(last["payload"].get("exit_code").is_none());
}

#[test]
fn command_not_found_is_127_and_the_decision_names_it() {
    let w = Ws::new();
    let pd = exec_policies();
    let o = w.exec(
        &["--policy-dir", pd.to_str().unwrap()],
        &["no-such-command-gavel-test", "arg"],
    );
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("command not found"), "{}", stderr(&o));
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 1, "a decision, and no execution receipt");
    let d = &receipts[0]["payload"];
    assert_eq!(d["tool_name"], json!("no-such-command-gavel-test"));
    assert_eq!(d["decision"], json!("allow"));

    // found but not executable: 126, like a shell
    std::fs::write(w.ws.join("plain"), "data").unwrap();
    let o = w.exec(&["--policy-dir", pd.to_str().unwrap()], &["./plain"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert_eq!(
        read_receipts(&w.receipts()).len(),
        2,
        "one more decision only"
    );
}

#[test]
fn without_landlock_gavel_refuses_and_runs_nothing() {
    let w = Ws::new();
    w.write_profile();
    let marker = w.rw.join("ran");
    for degraded in [false, true] {
        let pd = exec_policies();
        let profile = w.profile_path();
        let mut opts = vec![
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ];
        if degraded {
            opts.push("--allow-degraded");
        }
        let before = receipt_files(&w.receipts()).len();
        let o = w
            .command(&opts, &[probe().to_str().unwrap(), "create", &s(&marker)])
            .env("GAVEL_SIMULATE_LANDLOCK_ABI", "0")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
        assert_one_line_error(&o);
        assert!(
            stderr(&o).contains("Landlock is unavailable"),
            "{}",
            stderr(&o)
        );
        assert!(
            !marker.exists(),
            "the probe never ran (degraded: {degraded})"
        );
        let receipts = read_receipts(&w.receipts());
        assert_eq!(receipts.len(), before + 2);
        assert_eq!(receipts[before]["payload"]["decision"], json!("allow"));
        let e = &receipts[before + 1]["payload"];
        assert_eq!(e["type"], json!("gavel:execution"));
        assert_eq!(e["sandbox_state"], json!("unavailable"));
        assert!(
            e["sandbox"]["cause"].as_str().unwrap().contains("Landlock"),
            "{e}"
        );
        assert!(
            e.get("exit_code").is_none() && e.get("signal").is_none(),
            "{e}"
        );
        assert_eq!(
            e["decision_ref"],
            json!(gavel_receipt::receipt_hash(&receipts[before]).unwrap())
        );
    }
}

/// Starts `gavel exec -- sleep 30` (workspace profile) and returns it once gavel has
/// a child that satisfies `ready` (given the child's pid).
fn gavel_sleeping(w: &Ws, ready: impl Fn(&str) -> bool) -> (std::process::Child, String) {
    let pd = exec_policies();
    let mut child = w
        .command(
            &[
                "--policy-dir",
                pd.to_str().unwrap(),
                "--profile-name",
                "workspace",
            ],
            &["sleep", "30"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let children = format!("/proc/{pid}/task/{pid}/children");
    let started = std::time::Instant::now();
    let kid = loop {
        let kids = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(k) = kids.split_whitespace().find(|k| ready(k)) {
            break k.to_owned();
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let status = child.wait();
            panic!("the command never started: gavel {status:?}");
        }
        std::thread::yield_now();
    };
    (child, kid)
}

/// Sends SIGTERM to gavel; asserts that gavel exits 128+15 (it did not die of the
/// signal), that the command is gone, and that the execution receipt names SIGTERM.
fn assert_sigterm_forwarded(w: &Ws, child: std::process::Child, kid: &str) {
    assert_forwarded(w, child, kid, libc::SIGTERM, "SIGTERM");
}

/// Sends `sig` to gavel; asserts that gavel exits 128+sig (it did not die of the
/// signal), that the command is gone, and that the execution receipt names `name`.
fn assert_forwarded(w: &Ws, mut child: std::process::Child, kid: &str, sig: i32, name: &str) {
    // SAFETY: plain kill(2) of the gavel process this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        status.code(),
        Some(128 + sig),
        "gavel exits with the child's status instead of dying of {name}: {status:?} {err}"
    );
    assert!(
        !Path::new(&format!("/proc/{kid}")).exists(),
        "the child is gone"
    );
    let e = read_receipts(&w.receipts()).pop().unwrap();
    assert_eq!(e["payload"]["type"], json!("gavel:execution"));
    assert_eq!(e["payload"]["signal"], json!(name));
    assert!(e["payload"]["tool_duration_ms"].as_f64().unwrap() < 30_000.0);
}

#[test]
fn sigterm_to_gavel_reaches_the_child() {
    let w = Ws::new();
    let (child, kid) = gavel_sleeping(&w, |k| {
        std::fs::read_to_string(format!("/proc/{k}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_sigterm_forwarded(&w, child, &kid);
}

fn is_sleep(k: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{k}/comm")).is_ok_and(|c| c.trim() == "sleep")
}

/// The state letter of a process (`S` sleeping, `T` stopped, ...).
fn proc_state(pid: &str) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|r| r.trim().chars().next())
        .unwrap_or('?')
}

/// Waits up to 10 s for `pid` to reach `state`.
fn wait_state(pid: &str, state: char) {
    let t0 = std::time::Instant::now();
    while proc_state(pid) != state {
        assert!(
            t0.elapsed().as_secs() < 10,
            "{pid} never reached state {state}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn every_signal_that_would_end_gavel_is_forwarded() {
    // gavel dying of one of these would leave a decision without an execution receipt
    // and the command orphaned
    let rt = libc::SIGRTMIN() + 3;
    // real-time signals have no name of their own in receipts: SIG<number>
    let rt_name = format!("SIG{rt}");
    for (sig, name) in [
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGPWR, "SIGPWR"),
        (rt, rt_name.as_str()),
    ] {
        let w = Ws::new();
        let (child, kid) = gavel_sleeping(&w, is_sleep);
        assert_forwarded(&w, child, &kid, sig, name);
    }
}

#[test]
fn ctrl_z_stops_the_command_and_gavel_and_fg_resumes_both() {
    let w = Ws::new();
    let (mut child, kid) = gavel_sleeping(&w, is_sleep);
    let gavel = child.id().to_string();
    // SAFETY: plain kill(2) of the gavel process this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTSTP) }, 0);
    // the command (in a session of its own, where SIGTSTP would be discarded) stops,
    // and so does gavel, as the shell's job control expects
    wait_state(&kid, 'T');
    wait_state(&gavel, 'T');
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGCONT) }, 0);
    wait_state(&kid, 'S');
    wait_state(&gavel, 'S');
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGTERM));
}

/// A signal that arrives right after the fork, before the command has exec'd and the
/// forwarding is in place, is held back and then forwarded: it never kills gavel
/// (which would leave a command that ran without an execution receipt).
#[test]
fn sigterm_right_after_the_fork_is_forwarded_too() {
    for _ in 0..5 {
        let w = Ws::new();
        let (child, kid) = gavel_sleeping(&w, |_| true);
        assert_sigterm_forwarded(&w, child, &kid);
    }
}

#[test]
fn the_execution_receipt_cannot_be_written_after_the_command_ran() {
    use std::io::Write as _;
    let w = Ws::new();
    let pd = exec_policies();
    // the receipts directory is out of the command's reach (gavel refuses a profile
    // that reaches it); another process replaces it with a file while the command
    // waits, so the execution receipt cannot be written
    let receipts = w.base.join("receipts");
    let mut child = w
        .command(
            &[
                "--policy-dir",
                pd.to_str().unwrap(),
                "--profile-name",
                "workspace",
                "--receipts-dir",
                receipts.to_str().unwrap(),
            ],
            &["sh", "-c", "read x && echo ran"],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let decision = receipts.join("000000000001.json");
    let t0 = std::time::Instant::now();
    while !decision.exists() {
        assert!(t0.elapsed().as_secs() < 30, "no decision receipt");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::fs::remove_dir_all(&receipts).unwrap();
    std::fs::write(&receipts, "gone").unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("the command ran and exited with status 0, but its execution receipt could not be written"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gavel_refuses_a_profile_that_reaches_its_own_files() {
    let w = Ws::new();
    let pd = exec_policies();
    let marker = w.ws.join("ran");
    let touch = ["sh", "-c", "echo > ran"];
    let home = w.state.to_str().unwrap().to_owned();
    // the state directory (with the key) inside what the profile reads or writes
    let inside = w.ws.join("state");
    std::fs::create_dir(&inside).unwrap();
    let inside_s = inside.to_str().unwrap().to_owned();
    let other_pd = w.ws.join("policies");
    std::fs::create_dir(&other_pd).unwrap();
    for f in std::fs::read_dir(&pd).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, other_pd.join(f.file_name().unwrap())).unwrap();
    }
    let cases: Vec<(Vec<String>, &str)> = vec![
        // read-only reads "." (the workspace), where the key now is
        (
            vec![
                "--state-dir".into(),
                inside_s.clone(),
                "--profile-name".into(),
                "read-only".into(),
            ],
            "lets the command read the operator key",
        ),
        // workspace writes "." : the receipts directory
        (
            vec![
                "--profile-name".into(),
                "workspace".into(),
                "--receipts-dir".into(),
                w.ws.join("r").to_str().unwrap().to_owned(),
            ],
            "lets the command change the receipts directory",
        ),
        // ... and the policy
        (
            vec!["--profile-name".into(), "workspace".into()],
            "lets the command change the policy",
        ),
    ];
    for (i, (opts, msg)) in cases.into_iter().enumerate() {
        let policy = if i == 2 { &other_pd } else { &pd };
        let mut all = vec![
            "--policy-dir".to_owned(),
            policy.to_str().unwrap().to_owned(),
        ];
        all.extend(opts);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = w.exec(&all, &touch);
        assert_eq!(o.status.code(), Some(125), "{all:?}: {}", stderr(&o));
        assert_one_line_error(&o);
        assert!(stderr(&o).contains(msg), "{msg}: {}", stderr(&o));
        assert!(!marker.exists(), "{all:?} ran the command");
        // nothing was written: no key, no receipt
        assert!(!inside.join("keys").exists());
        assert!(!w.ws.join("r").exists());
    }
    // the same with gavel's files out of reach runs
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--profile-name",
            "workspace",
        ],
        &touch,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(marker.exists());
    assert!(std::path::Path::new(&home).join("keys/issuer.pem").exists());
}

#[test]
fn cedar_decides_on_the_resolved_executable_with_the_agent_schema() {
    let w = Ws::new();
    let dir = w.base.join("cedar");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("agent.cedarschema"), gavel_policy::AGENT_SCHEMA).unwrap();
    // the probe is reached through a symlink: Cedar sees the resolved path
    let link = w.ws.join("probe-link");
    std::os::unix::fs::symlink(probe(), &link).unwrap();
    std::fs::write(
        dir.join("exec.cedar"),
        format!(
            "@id(\"probe-hello\")\npermit (principal == Agent::Principal::\"did:example:a\", action == Agent::Action::\"exec\", resource is Agent::Executable)\n  when {{ resource.path == \"{}\" && context.argv.contains(\"hello\") && context has cwd && context.cwd == \"{}\" }};\n",
            s(&probe()),
            s(&w.ws),
        ),
    )
    .unwrap();
    let profile = w.write_profile();
    let run = |arg: &str| {
        w.exec(
            &[
                "--policy-dir",
                dir.to_str().unwrap(),
                "--profile",
                profile.to_str().unwrap(),
                "--context",
                r#"{"agent_did":"did:example:a","ring":3,"trust_score":0.9}"#,
            ],
            &["./probe-link", arg],
        )
    };
    let o = run("hello");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(probe_json(&o)["op"], json!("hello"));
    let d = &read_receipts(&w.receipts())[0]["payload"];
    assert_eq!(d["policy_engine"], json!("cedar"));
    assert_eq!(d["policy_id"], json!("probe-hello"));
    assert_eq!(d["tool_name"], json!(s(&probe())));
    // another argument: no permit, nothing runs
    let o = run("status");
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("No matching permit"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------
// Bad input: exit 125, one line, nothing written, nothing run
// ---------------------------------------------------------------------------------

/// A bad-input case: options before `--`, an environment variable, and what the
/// message must name.
struct BadInput {
    what: &'static str,
    opts: fn(&Ws) -> Vec<String>,
    env: Option<(&'static str, &'static str)>,
    needle: &'static str,
}

fn profile_opt(w: &Ws, yaml: &str) -> Vec<String> {
    vec!["--profile".into(), s(&w.write_profile_text(yaml))]
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn bad_input_exits_125_and_writes_nothing() {
    let pd = exec_policies();
    let pd = pd.to_str().unwrap();
    let cases = [
        BadInput {
            what: "a profile naming a missing path",
            opts: |w| profile_opt(w, "filesystem:\n  read: [/usr, /no/such/dir]\n"),
            env: None,
            needle: "/no/such/dir",
        },
        BadInput {
            what: "a profile with an unknown key",
            opts: |w| profile_opt(w, "filesystem:\n  reed: [/usr]\n"),
            env: None,
            needle: "reed",
        },
        BadInput {
            what: "a relative path that escapes",
            opts: |w| profile_opt(w, "filesystem:\n  read: [/usr, ../outside]\n"),
            env: None,
            needle: "escapes",
        },
        BadInput {
            what: "an unknown built-in profile",
            opts: |_| strings(&["--profile-name", "nope"]),
            env: None,
            needle: "nope",
        },
        BadInput {
            what: "a missing profile file",
            opts: |w| vec!["--profile".into(), s(&w.base.join("absent.yaml"))],
            env: None,
            needle: "absent.yaml",
        },
        BadInput {
            what: "unparsable --context",
            opts: |_| strings(&["--context", "{not json"]),
            env: None,
            needle: "--context",
        },
        BadInput {
            what: "--context setting what gavel fills in",
            opts: |_| strings(&["--context", r#"{"command":"ls"}"#]),
            env: None,
            needle: "command",
        },
        BadInput {
            what: "an invalid simulated ABI",
            opts: |_| Vec::new(),
            env: Some(("GAVEL_SIMULATE_LANDLOCK_ABI", "seven")),
            needle: "GAVEL_SIMULATE_LANDLOCK_ABI",
        },
        BadInput {
            what: "none without --allow-unsandboxed",
            opts: |_| strings(&["--sandbox-backend", "none"]),
            env: None,
            needle: "--allow-unsandboxed",
        },
        BadInput {
            what: "--allow-degraded with nono",
            opts: |_| strings(&["--sandbox-backend", "nono", "--allow-degraded"]),
            env: None,
            needle: "nono decides",
        },
        BadInput {
            what: "a profile with openshell",
            opts: |_| {
                strings(&[
                    "--sandbox-backend",
                    "openshell",
                    "--profile-name",
                    "read-only",
                ])
            },
            env: None,
            needle: "OpenShell",
        },
    ];
    for case in cases {
        let w = Ws::new();
        let marker = w.rw.join("ran");
        let mut all = vec!["--policy-dir".to_owned(), pd.to_owned()];
        all.extend((case.opts)(&w));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut c = w.command(&all, &[probe().to_str().unwrap(), "create", &s(&marker)]);
        if let Some((k, v)) = case.env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let what = case.what;
        assert_eq!(o.status.code(), Some(125), "{what}: {}", stderr(&o));
        assert_one_line_error(&o);
        assert!(stderr(&o).contains(case.needle), "{what}: {}", stderr(&o));
        assert!(!marker.exists(), "{what}: nothing ran");
        assert!(!w.receipts().exists(), "{what}: nothing written");
        assert!(!w.state.join("keys").exists(), "{what}: not even a key");
    }

    // usage errors: `--` missing, no command, a missing policy
    let w = Ws::new();
    let marker = w.rw.join("ran");
    let state = s(&w.state);
    let state_eq = format!("--state-dir={state}");
    for args in [
        vec!["exec", "--policy-dir", pd, "touch", &s(&marker)],
        vec!["exec", "--policy-dir", pd, "--"],
        vec!["exec", "--", "touch", &s(&marker)],
        vec!["exec", "--policy-dir", "/no/such/policy", "--", "true"],
        // the global option before the subcommand, as a value or joined to it
        vec![
            "--state-dir",
            &state,
            "exec",
            "--policy-dir",
            pd,
            "touch",
            &s(&marker),
        ],
        vec![
            &state_eq,
            "exec",
            "--bogus",
            "--policy-dir",
            pd,
            "--",
            "true",
        ],
    ] {
        let o = Command::new(BIN)
            .args(&args)
            .env("GAVEL_HOME", &w.state)
            .current_dir(&w.ws)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert!(!marker.exists() && !w.receipts().exists(), "{args:?}");
    }
}

#[test]
fn help_documents_the_mapping_order_and_exit_statuses() {
    let o = Command::new(BIN).args(["exec", "--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for needle in [
        "shell:<base name of the program as given>",
        "Agent::Executable",
        "decision_ref",
        "GAVEL_SIMULATE_LANDLOCK_ABI",
        "126 denied by policy",
        "127 command not found",
        "125 gavel error",
        "--allow-unsandboxed",
        "cargo install nono-cli --version 0.81.0",
    ] {
        assert!(h.contains(needle), "{needle} missing from --help:\n{h}");
    }
}

// ---------------------------------------------------------------------------------
// Backends: nono, openshell, none
// ---------------------------------------------------------------------------------

fn with_nono_path(c: &mut Command) {
    c.env("PATH", format!("{}:{SYSTEM_PATH}", s(&nono_dir())));
}

#[test]
fn nono_confines_a_read_outside_the_profile_and_receipts_say_ring_2() {
    let w = Ws::new();
    let profile = w.write_profile();
    let pd = exec_policies();
    let run = |args: &[&str]| {
        let mut cmd = vec![probe().to_str().unwrap().to_owned()];
        cmd.extend(args.iter().map(|a| (*a).to_owned()));
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let mut c = w.command(
            &[
                "--policy-dir",
                pd.to_str().unwrap(),
                "--profile",
                profile.to_str().unwrap(),
                "--sandbox-backend",
                "nono",
            ],
            &cmd,
        );
        with_nono_path(&mut c);
        c.output().unwrap()
    };
    let o = run(&["read", &s(&w.ro.join("file"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(probe_json(&o)["ok"], json!(true));
    let o = run(&["read", &s(&w.outside.join("secret"))]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(probe_json(&o)["errno"], json!(EACCES));
    // writes are exactly the profile's, even though the workspace is below /tmp
    let o = run(&["write", &s(&w.ro.join("file"))]);
    assert_eq!(probe_json(&o)["errno"], json!(EACCES), "{}", stderr(&o));
    assert_eq!(read(&w.ro.join("file")), ORIGINAL);

    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 6);
    for r in &receipts {
        let p = &r["payload"];
        assert_eq!(
            (p["ring"].clone(), p["sandbox_backend"].clone()),
            (json!(2), json!("nono")),
            "{p}"
        );
    }
    let e = &receipts[3]["payload"];
    assert_eq!(e["type"], json!("gavel:execution"));
    assert_eq!(e["exit_code"], json!(1));
    assert_eq!(e["sandbox_state"], json!("enabled"));
    assert_eq!(e["tool_name"], json!(s(&probe())));
    assert_eq!(e["sandbox"]["confined_by"], json!("nono"));
    let args = e["sandbox"]["nono"]["args"].as_array().unwrap();
    assert!(args.contains(&json!("--block-net")), "{args:?}");
    assert!(args.contains(&json!(s(&w.rw))), "{args:?}");
    assert!(
        !args.contains(&json!("read")),
        "the command's arguments stay out: {args:?}"
    );
    // gavel's own nono profile file, in its state directory
    assert!(w.state.join("nono/gavel-nono-profile.json").is_file());
    let (code, v) = verify(&w, &w.receipts());
    assert_eq!(code, Some(0), "{v:#}");
}

#[test]
fn nono_missing_is_a_clear_error_and_no_receipt() {
    let w = Ws::new();
    let pd = exec_policies();
    let marker = w.rw.join("ran");
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--sandbox-backend",
            "nono",
        ],
        &[probe().to_str().unwrap(), "create", &s(&marker)],
    );
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert_one_line_error(&o);
    assert!(
        stderr(&o).contains("cargo install nono-cli --version 0.81.0"),
        "{}",
        stderr(&o)
    );
    assert!(!marker.exists());
    assert!(!w.receipts().exists(), "no receipt, decision or execution");
}

#[test]
fn openshell_runs_unconfined_by_gavel_and_says_so() {
    let w = Ws::new();
    let pd = exec_policies();
    let file = std::fs::File::open(w.ro.join("file")).unwrap();
    let mut c = w.command(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--sandbox-backend",
            "openshell",
        ],
        &[probe().to_str().unwrap(), "fds"],
    );
    with_inherited_fd(&mut c, &file);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        probe_json(&o)["fds"],
        json!([0, 1, 2]),
        "fd hygiene still applies"
    );
    // no gavel confinement: a read outside any profile works, seccomp is off
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--sandbox-backend",
            "openshell",
        ],
        &[probe().to_str().unwrap(), "status"],
    );
    assert_eq!(probe_json(&o)["Seccomp"], json!(0));
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 4);
    for r in &receipts {
        let p = &r["payload"];
        assert_eq!(
            (p["ring"].clone(), p["sandbox_backend"].clone()),
            (json!(2), json!("openshell"))
        );
    }
    let e = &receipts[3]["payload"];
    assert_eq!(e["sandbox_state"], json!("disabled"));
    assert_eq!(e["sandbox"]["confined_by"], json!("openshell"));
    assert!(
        e["sandbox"]["note"].as_str().unwrap().contains("external"),
        "{e}"
    );
    assert_eq!(e["exit_code"], json!(0));
}

#[test]
fn none_needs_allow_unsandboxed_and_then_runs_unconfined() {
    let w = Ws::new();
    let pd = exec_policies();
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--sandbox-backend",
            "none",
        ],
        &[probe().to_str().unwrap(), "hello"],
    );
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(stdout(&o), "");
    assert!(!w.receipts().exists());
    let o = w.exec(
        &[
            "--policy-dir",
            pd.to_str().unwrap(),
            "--sandbox-backend",
            "none",
            "--allow-unsandboxed",
        ],
        &[
            probe().to_str().unwrap(),
            "read",
            &s(&w.outside.join("secret")),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(probe_json(&o)["ok"], json!(true));
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 2);
    let e = &receipts[1]["payload"];
    assert_eq!(e["sandbox_backend"], json!("none"));
    assert_eq!(e["sandbox_state"], json!("disabled"));
    assert_eq!(e["sandbox"]["confined_by"], json!("none"));
}

#[test]
fn ring_override_is_recorded_in_both_receipts() {
    let w = Ws::new();
    let r = w.probe_with(&["--ring", "1"], &["hello"]);
    r.assert_ok();
    assert_eq!(r.decision()["ring"], json!(1));
    assert_eq!(r.execution()["ring"], json!(1));
}

/// gavel skips std's runtime start-up (C `main`) and makes fds 0-2 exist itself. Run
/// with stdout and stderr closed, gavel's own fds 1 and 2 are /dev/null (as the
/// command, which reads them from /proc, sees), so no file gavel opens can take their
/// numbers and receive output; the receipts stay intact.
#[test]
fn closed_stdout_and_stderr_are_dev_null_in_gavel() {
    let w = Ws::new();
    let pd = exec_policies();
    let mut cmd = w.command(
        // unconfined: Landlock would keep the command from reading gavel's /proc entry
        &[
            "--policy-dir",
            &s(&pd),
            "--sandbox-backend",
            "none",
            "--allow-unsandboxed",
        ],
        &[
            "/bin/sh",
            "-c",
            "readlink /proc/$PPID/fd/1 /proc/$PPID/fd/2 > gavel-fds.txt; echo out; echo err >&2",
        ],
    );
    // SAFETY: close(2) of fds 1 and 2 in the child before exec; close is
    // async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            libc::close(2);
            Ok(())
        });
    }
    assert_eq!(cmd.status().unwrap().code(), Some(0));
    assert_eq!(read(&w.ws.join("gavel-fds.txt")), "/dev/null\n/dev/null\n");
    let (code, report) = verify(&w, &w.receipts());
    assert_eq!(code, Some(0), "{report}");
    let receipts = read_receipts(&w.receipts());
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1]["payload"]["exit_code"], json!(0));
}

/// gavel moves the confined child off its own CPU while it sets up (so that the setup
/// runs beside the decision); the command itself gets the CPUs gavel had.
#[test]
fn the_command_runs_on_the_cpus_gavel_had() {
    let cpus = |status: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("Cpus_allowed_list in /proc/<pid>/status")
            .trim()
            .to_owned()
    };
    let mine = cpus(&read(Path::new("/proc/self/status")));
    let w = Ws::new();
    let pd = exec_policies();
    let o = w.exec(
        &["--policy-dir", &s(&pd), "--profile-name", "read-only"],
        &["/bin/cat", "/proc/self/status"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(cpus(&stdout(&o)), mine);
}
