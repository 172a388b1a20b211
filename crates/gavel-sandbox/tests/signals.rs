//! Signal forwarding, in its own test process: the signal is sent to this test process
//! itself, which must forward it to the child's process group instead of dying.

mod common;

use common::{Ws, os};
use gavel_sandbox::{Options, prepare};

fn disposition(sig: i32) -> libc::sighandler_t {
    // SAFETY: querying the current disposition only.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn sigterm_to_gavel_is_forwarded_to_the_confined_child_and_handlers_are_restored() {
    let w = Ws::new();
    let p = w.profile("");
    assert_eq!(disposition(libc::SIGTERM), libc::SIG_DFL);
    // /bin/sleep through the probe's exec (the probe's directory and the system
    // libraries are executable; /usr/bin is readable, so grant exec on sleep's dir)
    let sleep = std::fs::canonicalize("/bin/sleep").unwrap();
    let yaml = format!(
        "filesystem:\n  read: {read:?}\n  exec: {exec:?}\nenv: {{allow: [PATH]}}\n",
        read = p
            .read()
            .iter()
            .map(|x| x.display().to_string())
            .collect::<Vec<_>>(),
        exec = p
            .exec()
            .iter()
            .map(|x| x.display().to_string())
            .chain([sleep.parent().unwrap().display().to_string()])
            .collect::<Vec<_>>(),
    );
    let p = gavel_sandbox::Profile::from_yaml_str(&yaml, "sleep", &w.ws).unwrap();
    let prepared = prepare(
        &p,
        &Options::default(),
        &sleep,
        &os(&["sleep", "30"]),
        std::iter::empty(),
        &w.ws,
    )
    .unwrap();
    let running = prepared.spawn().unwrap();
    assert_ne!(
        disposition(libc::SIGTERM),
        libc::SIG_DFL,
        "a forwarding handler is installed while the child runs"
    );
    // SAFETY: sends SIGTERM to this very process; the forwarding handler catches it.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    let finished = running.wait().unwrap();
    assert_eq!(finished.signal, Some(libc::SIGTERM), "{finished:?}");
    assert_eq!(finished.signal_name, Some("SIGTERM"));
    assert_eq!(finished.shell_status(), 128 + libc::SIGTERM);
    assert_eq!(
        disposition(libc::SIGTERM),
        libc::SIG_DFL,
        "the previous disposition is restored"
    );
    assert!(
        finished.duration < std::time::Duration::from_secs(30),
        "the child did not sleep to the end"
    );
}
