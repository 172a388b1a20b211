//! Many writers at once, and writers killed at any moment: the chain stays one,
//! linear, verifiable chain.

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::Duration;

fn check_cmd(env: &Env, action: &str) -> Command {
    let pd = policy_dir();
    let mut c = env.cmd();
    c.args([
        "check-policy",
        "--action",
        action,
        "--policy-dir",
        pd.to_str().unwrap(),
        "--json",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

#[test]
fn eight_processes_times_two_hundred_calls_make_one_chain() {
    let env = Env::new();
    env.run(&["keys", "generate"]); // otherwise the first eight race to create it (also handled)
    std::thread::scope(|s| {
        for w in 0..8 {
            let env = &env;
            s.spawn(move || {
                for i in 0..200 {
                    let action = if (w + i) % 3 == 0 {
                        "shell:rm -rf /"
                    } else {
                        "shell:python"
                    };
                    let st = check_cmd(env, action).status().unwrap();
                    assert!(
                        matches!(st.code(), Some(0) | Some(1)),
                        "worker {w} call {i}: {st}"
                    );
                }
            });
        }
    });
    let files = receipt_files(&env.receipts());
    assert_eq!(files.len(), 1600);
    assert_eq!(
        files.last().unwrap().file_name().unwrap(),
        "000000001600.json"
    );
    let (c, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(
        (
            v["results"][0]["count"].as_u64(),
            v["results"][0]["last_sequence"].as_u64()
        ),
        (Some(1600), Some(1600))
    );
}

#[test]
fn concurrent_first_runs_agree_on_one_key() {
    let env = Env::new();
    let children: Vec<_> = (0..8)
        .map(|_| check_cmd(&env, "shell:ls").spawn().unwrap())
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    assert_eq!(receipt_files(&env.receipts()).len(), 8);
    assert_eq!(env.verify(&env.receipts(), &[]).0, 0);
}

/// splitmix64: a deterministic sequence of kill delays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
}

/// Appends one more receipt and checks the chain; returns how long that
/// uninterrupted `check-policy` run took.
fn assert_continues(env: &Env, context: &str) -> Duration {
    let before = receipt_files(&env.receipts()).len();
    let start = std::time::Instant::now();
    let o = env.check("shell:git", &[]);
    let took = start.elapsed();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{context}: the next append failed: {}",
        stderr(&o)
    );
    assert_eq!(
        json(&o)["receipt"]["payload"]["sequence"],
        (before + 1) as u64,
        "{context}"
    );
    let (c, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(c, 0, "{context}: chain no longer verifies: {v:#}");
    assert!(
        !env.receipts().join(".tmp-next").exists(),
        "{context}: a temporary file outlived the next append"
    );
    took
}

/// The shortest of a few uninterrupted `check-policy` runs, from spawn to exit.
fn shortest_run(env: &Env) -> Duration {
    (0..5)
        .map(|_| {
            let start = std::time::Instant::now();
            let st = check_cmd(env, "shell:python").status().unwrap();
            assert_eq!(st.code(), Some(0));
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn writers_killed_at_random_moments_leave_a_chain_that_verifies() {
    let env = Env::new();
    env.run(&["keys", "generate"]);
    env.check("shell:ls", &[]);
    // Delays are drawn below 90% of the fastest whole run seen so far (it
    // shrinks if the machine gets quieter, e.g. when parallel tests end):
    // spawn returns after exec, so such a delay falls inside the writer's
    // life (start, load, sign, append).
    let mut fastest = shortest_run(&env);
    let mut rng = Rng(0x5eed_6a7e1);
    let mut killed_running = 0;
    for round in 0..60 {
        let window = (fastest.as_micros() as u64 * 9 / 10).max(1);
        let mut child = check_cmd(&env, "shell:python").spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % window));
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { kill(child.id() as i32, 9) };
        let st = child.wait().unwrap();
        if rc == 0 && st.code().is_none() {
            killed_running += 1;
        }
        fastest = fastest.min(assert_continues(&env, &format!("round {round}")));
    }
    // A kill can still miss if one writer happens to run faster than the
    // fastest of the probes; most must land, or the test proved nothing.
    assert!(
        killed_running >= 45,
        "only {killed_running} of 60 writers were still running when killed \
         (fastest run {fastest:?})"
    );
}

#[test]
fn writers_killed_at_each_step_of_an_append() {
    // with an anonymous O_TMPFILE (the default), then with the named temporary file
    // used where the file system has no O_TMPFILE
    for fallback in [false, true] {
        let env = Env::new();
        env.run(&["keys", "generate"]);
        for point in [
            "half-written",
            "synced",
            "published",
            "half-written",
            "published",
            "synced",
        ] {
            let mut c = check_cmd(&env, "shell:python");
            c.env("GAVEL_TEST_CRASH_POINT", point);
            if fallback {
                c.env("GAVEL_TEST_NO_O_TMPFILE", "1");
            }
            let st = c.status().unwrap();
            assert_eq!(
                st.code(),
                None,
                "{point} (fallback {fallback}): the writer was supposed to die"
            );
            if fallback && point != "published" {
                assert!(
                    env.receipts().join(".tmp-next").exists(),
                    "{point}: the fallback writer died before its rename"
                );
            }
            assert_continues(&env, &format!("{point} (fallback {fallback})"));
        }
    }
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
