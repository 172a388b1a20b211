//! Measures prepare + spawn + wait of `/bin/true` under the built-in `workspace`
//! profile (no assertion: prints medians). `cargo run --release -p gavel-sandbox
//! --example latency [N]`.

use gavel_sandbox::{Options, Profile, prepare, resolve_executable, spawn_unconfined};
use std::ffi::OsString;
use std::time::{Duration, Instant};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let cwd = std::env::current_dir()?;
    let t = Instant::now();
    let profile = Profile::builtin("workspace", &cwd)?;
    let load = t.elapsed();
    let exe = resolve_executable("true".as_ref(), Some("/usr/bin:/bin".as_ref()), &cwd)?;
    let argv = vec![OsString::from("true")];
    let (mut prep, mut spawn, mut wait, mut total, mut unconf) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let t0 = Instant::now();
        let p = prepare(
            &profile,
            &Options::default(),
            &exe,
            &argv,
            std::env::vars_os(),
            &cwd,
        )?;
        let t1 = Instant::now();
        let r = p.spawn()?;
        let t2 = Instant::now();
        let f = r.wait()?;
        let t3 = Instant::now();
        assert_eq!(f.exit_code, Some(0));
        prep.push(t1 - t0);
        spawn.push(t2 - t1);
        wait.push(t3 - t2);
        total.push(t3 - t0);
        let u0 = Instant::now();
        spawn_unconfined(&exe, &argv, std::env::vars_os(), &cwd)?.wait()?;
        unconf.push(u0.elapsed());
    }
    println!("profile load (workspace): {load:?}; {n} runs of /bin/true");
    for (name, v) in [
        ("prepare", &mut prep),
        ("spawn (fork..exec confirmed)", &mut spawn),
        ("wait", &mut wait),
        ("total confined", &mut total),
        ("total unconfined", &mut unconf),
    ] {
        println!(
            "{name:>30}: median {:?}  p90 {:?}",
            pct(v, 0.5),
            pct(v, 0.9)
        );
    }
    Ok(())
}
