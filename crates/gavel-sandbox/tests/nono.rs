//! nono composition, in its own test process: the profile translated by `nono_argv`
//! confines under nono too. nono must be installed (`cargo install nono-cli`); when it
//! is not, the test fails with that message (it is never skipped).

mod common;

use common::{Ws, probe, probe_dir};
use gavel_sandbox::{Profile, find_nono, nono_argv, nono_argv_with_profile, write_nono_profile};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::process::{Command, Stdio};

/// Runs the probe under nono with the exact-writes nono profile (`exact`) or nono's
/// defaults.
fn nono_run_with(
    p: &Profile,
    exact: bool,
    args: &[&str],
    cwd: &std::path::Path,
) -> (Value, Option<i32>) {
    let path_env = std::env::var_os("PATH");
    let home_bin = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo/bin"));
    let mut search = std::env::join_paths(
        home_bin
            .into_iter()
            .chain(std::env::split_paths(&path_env.unwrap_or_default())),
    )
    .unwrap();
    if search.is_empty() {
        search = OsString::from(gavel_sandbox::DEFAULT_PATH);
    }
    let nono = find_nono(Some(&search), cwd).unwrap_or_else(|e| panic!("{e}"));
    let mut argv = vec![OsString::from("gavel-probe")];
    argv.extend(args.iter().map(OsString::from));
    let state = tempfile::tempdir().unwrap();
    let full = if exact {
        let np = write_nono_profile(state.path()).unwrap();
        nono_argv_with_profile(p, Some(&np), &probe(), &argv)
    } else {
        nono_argv(p, &probe(), &argv)
    };
    assert_eq!(full[0], "nono");
    let out = Command::new(&nono)
        .args(&full[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run nono");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "nono {full:?}: stdout {stdout:?} stderr {:?}: {e}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

fn nono_run(p: &Profile, args: &[&str], cwd: &std::path::Path) -> (Value, Option<i32>) {
    nono_run_with(p, true, args, cwd)
}

#[test]
fn a_read_outside_the_profile_fails_under_nono_and_inside_succeeds() {
    let w = Ws::new();
    let p = w.profile("");
    let _ = probe_dir();
    let (inside, code) = nono_run(
        &p,
        &["read", &w.ro.join("file").display().to_string()],
        &w.ws,
    );
    assert_eq!(inside["ok"], json!(true), "{inside}");
    assert_eq!(code, Some(0));
    let (outside, code) = nono_run(
        &p,
        &["read", &w.outside.join("secret").display().to_string()],
        &w.ws,
    );
    assert_eq!(outside["ok"], json!(false), "{outside}");
    assert_eq!(outside["errno"], json!(libc::EACCES), "{outside}");
    assert_eq!(code, Some(1));
    // writes outside `write` fail too; inside they work
    let (write_ro, _) = nono_run(
        &p,
        &["write", &w.ro.join("file").display().to_string()],
        &w.ws,
    );
    assert_eq!(write_ro["errno"], json!(libc::EACCES), "{write_ro}");
    assert_eq!(
        std::fs::read_to_string(w.ro.join("file")).unwrap(),
        common::ORIGINAL
    );
    let (write_rw, _) = nono_run(
        &p,
        &["write", &w.rw.join("file").display().to_string()],
        &w.ws,
    );
    assert_eq!(write_rw["ok"], json!(true), "{write_rw}");
}

#[test]
fn network_deny_and_port_list_under_nono() {
    let w = Ws::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let deny = w.profile("");
    let (v, _) = nono_run(&deny, &["tcp-connect", &addr.to_string()], &w.ws);
    assert_eq!(
        v["ok"],
        json!(false),
        "network: deny blocks TCP under nono: {v}"
    );
    let ports = w.profile_with(
        "",
        &format!("{{connect_tcp: [{}]}}", addr.port()),
        "default",
    );
    let (v, _) = nono_run(&ports, &["tcp-connect", &addr.to_string()], &w.ws);
    assert_eq!(
        v["ok"],
        json!(true),
        "the listed port is reachable under nono: {v}"
    );
}

/// nono's default groups make /tmp writable whatever the flags say: `nono_argv` alone is
/// not exact for writes, `nono_argv_with_profile` is. This pins that behaviour so that a
/// change in nono is noticed.
#[test]
fn nono_defaults_make_tmp_writable_and_the_gavel_nono_profile_removes_that() {
    let w = Ws::new();
    assert!(
        w.ro.starts_with("/tmp"),
        "the workspace is under /tmp: {}",
        w.ro.display()
    );
    let p = w.profile("");
    let target = w.ro.join("file").display().to_string();
    let (v, _) = nono_run_with(&p, false, &["write", &target], &w.ws);
    assert_eq!(
        v["ok"],
        json!(true),
        "with nono's defaults, /tmp is writable: {v}"
    );
    std::fs::write(w.ro.join("file"), common::ORIGINAL).unwrap();
    let (v, _) = nono_run_with(&p, true, &["write", &target], &w.ws);
    assert_eq!(v["errno"], json!(libc::EACCES), "{v}");
    assert_eq!(
        std::fs::read_to_string(w.ro.join("file")).unwrap(),
        common::ORIGINAL
    );
}
