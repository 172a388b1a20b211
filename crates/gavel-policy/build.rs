//! Sets `GAVEL_POLICY_BUILD_ID`: a fingerprint of everything that shapes a loaded YAML
//! rule set (this crate's sources, the locked dependency versions, the compiler), part
//! of the key under which loaded rule sets are cached between processes (see
//! `src/yaml/cache.rs`). Any change to them gives another id, so a cache entry made by
//! another build is never used.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

fn add_dir(dir: &Path, h: &mut DefaultHasher) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            add_dir(&p, h);
        } else if let Ok(bytes) = std::fs::read(&p) {
            p.to_string_lossy().hash(h);
            bytes.hash(h);
        }
    }
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut h = DefaultHasher::new();
    add_dir(&manifest.join("src"), &mut h);
    println!("cargo:rerun-if-changed=src");
    // the workspace's lock file, when built in the workspace (dependency versions)
    let lock = manifest.join("../../Cargo.lock");
    if let Ok(bytes) = std::fs::read(&lock) {
        bytes.hash(&mut h);
        println!("cargo:rerun-if-changed={}", lock.display());
    }
    std::env::var("RUSTC").unwrap_or_default().hash(&mut h);
    if let Ok(out) = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("-vV")
        .output()
    {
        out.stdout.hash(&mut h);
    }
    std::env::var("PROFILE").unwrap_or_default().hash(&mut h);
    std::env::var("TARGET").unwrap_or_default().hash(&mut h);
    println!("cargo:rustc-env=GAVEL_POLICY_BUILD_ID={:016x}", h.finish());
}
