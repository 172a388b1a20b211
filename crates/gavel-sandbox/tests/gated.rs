//! A gated spawn: the child is confined and waits before execve until released;
//! aborted, it runs nothing. Each case is a fresh child; this process is never confined.

mod common;

use common::{Ws, default_env, os, probe};
use gavel_sandbox::{Options, Prepared, Profile, SpawnError, prepare};

/// The probe creating `marker`, prepared under `p` (not yet spawned).
fn prepare_create(w: &Ws, p: &Profile, marker: &std::path::Path) -> Prepared {
    let argv = os(&["gavel-probe", "create", &marker.display().to_string()]);
    prepare(
        p,
        &Options::default(),
        &probe(),
        &argv,
        default_env().into_iter(),
        &w.ws,
    )
    .unwrap()
}

#[test]
fn released_child_runs_the_command_confined() {
    let w = Ws::new();
    let p = w.profile("");
    let marker = w.rw.join("ran");
    let prepared = prepare_create(&w, &p, &marker);
    let gated = prepared.spawn_gated().unwrap();
    // the child is confined and waiting: nothing ran yet
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!marker.exists(), "the command ran before it was released");
    let running = gated.release().unwrap();
    assert!(running.report().landlock_applied && running.report().seccomp.installed);
    let done = running.wait().unwrap();
    assert_eq!(done.exit_code, Some(0));
    assert!(marker.exists());
}

#[test]
fn aborted_child_runs_nothing() {
    let w = Ws::new();
    let p = w.profile("");
    for abort_by_drop in [false, true] {
        let marker = w.rw.join(format!("ran-{abort_by_drop}"));
        let prepared = prepare_create(&w, &p, &marker);
        let gated = prepared.spawn_gated().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        if abort_by_drop {
            drop(gated);
        } else {
            gated.abort();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!marker.exists(), "an aborted child ran the command");
    }
}

#[test]
fn a_setup_failure_before_the_gate_is_reported_at_release() {
    let w = Ws::new();
    let p = w.profile("");
    let marker = w.rw.join("ran");
    let mut prepared = prepare_create(&w, &p, &marker);
    prepared.corrupt_seccomp_for_tests();
    let gated = prepared.spawn_gated().unwrap();
    match gated.release() {
        Err(SpawnError::ChildSetup { errno, .. }) => assert_eq!(errno, libc::EINVAL),
        other => panic!("expected the seccomp step to fail, got {other:?}"),
    }
    assert!(!marker.exists());
}
