//! `gavel keys`, `gavel public-key` and `gavel verify` on the real binary: every bad
//! input of the receipts-core issue with its exit status and cause.

mod common;
use common::*;

use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn make_chain(env: &Env, n: usize) {
    for i in 0..n {
        let action = if i % 2 == 0 {
            "shell:python"
        } else {
            "shell:rm -rf /"
        };
        let o = env.check(action, &["--sandbox-backend", "nono"]);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{}",
            stderr(&o)
        );
    }
}

fn edit(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    f(&mut v);
    fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn assert_verify(env: &Env, path: &Path, code: i32, cause: Option<&str>) {
    let (c, v) = env.verify(path, &[]);
    assert_eq!((c, first_cause(&v).as_deref()), (code, cause), "{v:#}");
}

#[test]
fn keys_generate_public_key_and_verify_round_trip() {
    let env = Env::new();
    let o = env.run(&["keys", "generate", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let made = json(&o);
    let path = env.home().join("keys/issuer.pem");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // refuses to overwrite
    let again = env.run(&["keys", "generate"]);
    assert_eq!(again.status.code(), Some(2));
    assert_one_line_error(&again);
    // every public form
    let hex = env.public_key();
    assert_eq!(json!(hex), made["public_key"]);
    for fmt in ["pem", "jwk", "jwks"] {
        let o = env.run(&["public-key", "--format", fmt]);
        assert!(o.status.success());
        let keyfile = env.home().join(format!("pub.{fmt}"));
        fs::write(&keyfile, &o.stdout).unwrap();
        make_chain(&env, 1);
        let o = env.run(&[
            "verify",
            env.receipts().to_str().unwrap(),
            "--key",
            keyfile.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{fmt}: {}", stdout(&o));
    }
    // the private key file itself works as --key
    let o = env.run(&[
        "verify",
        env.receipts().to_str().unwrap(),
        "--key",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // --jwks with a window
    let o = env.run(&["public-key", "--format", "jwks"]);
    let mut jwks: Value = serde_json::from_slice(&o.stdout).unwrap();
    jwks["keys"][0]["valid_until"] = json!("2001-01-01T00:00:00Z");
    let f = env.home().join("window.jwks");
    fs::write(&f, jwks.to_string()).unwrap();
    let o = env.run(&[
        "verify",
        env.receipts().to_str().unwrap(),
        "--jwks",
        f.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (o.status.code(), first_cause(&json(&o)).as_deref()),
        (Some(1), Some("key_window"))
    );
}

#[test]
fn public_key_never_invents_a_key() {
    let env = Env::new();
    let o = env.run(&["public-key"]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line_error(&o);
    assert!(stderr(&o).contains("gavel keys generate"));
    assert!(!env.home().join("keys/issuer.pem").exists());
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let env = Env::new();
    make_chain(&env, 1);
    let key = env.home().join("keys/issuer.pem");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    for args in [
        vec!["public-key"],
        vec![
            "check-policy",
            "--action",
            "shell:ls",
            "--policy-dir",
            policy_dir().to_str().unwrap(),
        ],
    ] {
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_one_line_error(&o);
        assert!(
            stderr(&o).contains(&format!("chmod 600 {}", key.display())),
            "{}",
            stderr(&o)
        );
    }
    // nothing was appended by the refused check-policy
    assert_eq!(receipt_files(&env.receipts()).len(), 1);
}

#[test]
fn a_chain_verifies_and_says_what_it_does_not_prove() {
    let env = Env::new();
    make_chain(&env, 6);
    let (c, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["results"][0]["count"], 6);
    assert!(
        v["results"][0]["completeness"]
            .as_str()
            .unwrap()
            .contains("not completeness")
    );
    let human = env.run(&[
        "verify",
        env.receipts().to_str().unwrap(),
        "--key",
        &env.public_key(),
    ]);
    assert!(
        stdout(&human).contains("VALID (chain of 6 receipts"),
        "{}",
        stdout(&human)
    );
    assert!(stdout(&human).contains("not completeness"));
    // one receipt on its own
    let one = receipt_files(&env.receipts())[2].clone();
    assert_verify(&env, &one, 0, None);
}

#[test]
fn truncated_json_and_non_objects() {
    let env = Env::new();
    make_chain(&env, 1);
    let f = receipt_files(&env.receipts())[0].clone();
    let text = fs::read(&f).unwrap();
    let bad = env.home().join("bad.json");
    fs::write(&bad, &text[..text.len() / 2]).unwrap();
    assert_verify(&env, &bad, 1, Some("malformed_json"));
    for t in ["[1,2,3]", "\"x\"", "17", "null"] {
        fs::write(&bad, t).unwrap();
        assert_verify(&env, &bad, 1, Some("unknown_shape"));
    }
}

#[test]
fn bad_signatures_and_algorithms() {
    let env = Env::new();
    make_chain(&env, 1);
    let f = receipt_files(&env.receipts())[0].clone();
    let original = fs::read(&f).unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v: &mut Value| {
                v.as_object_mut().unwrap().remove("signature");
            }),
            "missing_signature",
        ),
        (
            Box::new(|v: &mut Value| v["signature"]["sig"] = json!("not hex at all")),
            "malformed_encoding",
        ),
        (
            Box::new(|v: &mut Value| v["signature"]["sig"] = json!("ab".repeat(63))),
            "malformed_encoding",
        ),
        (
            Box::new(|v: &mut Value| v["signature"]["alg"] = json!("RS256")),
            "unsupported_algorithm",
        ),
        (
            Box::new(|v: &mut Value| v["payload"]["decision"] = json!("deny")),
            "invalid_signature",
        ),
        (
            Box::new(|v: &mut Value| v["payload"]["sandbox_backend"] = json!("sb_runtime_builtin")),
            "invalid_signature",
        ),
        (
            Box::new(|v: &mut Value| v["payload"]["ring"] = json!(3)),
            "invalid_signature",
        ),
        (
            Box::new(|v: &mut Value| {
                v["payload"]["policy_digest"] = json!(format!("sha256:{}", "0".repeat(64)))
            }),
            "invalid_signature",
        ),
        (
            Box::new(|v: &mut Value| v["public_key"] = json!("11".repeat(32))),
            "carried_key_mismatch",
        ),
    ];
    for (f_edit, cause) in cases {
        fs::write(&f, &original).unwrap();
        edit(&f, f_edit);
        assert_verify(&env, &f, 1, Some(cause));
    }
    // a carried key and no --key: undecidable, never trusting the carried one
    fs::write(&f, &original).unwrap();
    let pk = env.public_key();
    edit(&f, |v| v["public_key"] = json!(pk));
    let o = env.run(&["verify", f.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(first_cause(&v).as_deref(), Some("no_trusted_key"));
    assert!(
        v["results"][0]["problems"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no trust-anchored key")
    );
    let human = env.run(&["verify", f.to_str().unwrap()]);
    assert!(
        stdout(&human).contains("UNDECIDABLE: no_trusted_key"),
        "{}",
        stdout(&human)
    );
}

#[test]
fn signed_by_another_key() {
    let a = Env::new();
    let b = Env::new();
    make_chain(&a, 1);
    b.run(&["keys", "generate"]);
    let f = receipt_files(&a.receipts())[0].clone();
    let (c, v) = b.verify(&f, &[]);
    assert_eq!(
        (c, first_cause(&v).as_deref()),
        (1, Some("kid_mismatch")),
        "{v:#}"
    );
}

#[test]
fn chain_breaks() {
    let env = Env::new();
    make_chain(&env, 5);
    let files = receipt_files(&env.receipts());
    let keep = env.home().join("keep");
    fs::create_dir(&keep).unwrap();
    for f in &files {
        fs::copy(f, keep.join(f.file_name().unwrap())).unwrap();
    }
    let reset = || {
        for f in receipt_files(&env.receipts()) {
            fs::remove_file(f).unwrap();
        }
        for f in &files {
            fs::copy(keep.join(f.file_name().unwrap()), f).unwrap();
        }
    };
    // removed from the middle
    fs::remove_file(&files[2]).unwrap();
    assert_verify(&env, &env.receipts(), 1, Some("chain_break"));
    reset();
    // duplicated (a copy under another name)
    fs::copy(&files[1], env.receipts().join("000000000099.json")).unwrap();
    assert_verify(&env, &env.receipts(), 1, Some("chain_break"));
    reset();
    // a sequence gap: the last one renumbered
    edit(&files[4], |v| v["payload"]["sequence"] = json!(7));
    let (c, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(c, 1);
    assert!(v.to_string().contains("invalid_signature"), "{v:#}");
    reset();
    // a link on sequence 1
    edit(&files[0], |v| {
        v["payload"]["previousReceiptHash"] = json!(format!("sha256:{}", "a".repeat(64)))
    });
    let (c, v) = env.verify(&env.receipts(), &[]);
    assert_eq!(c, 1);
    assert!(v.to_string().contains("chain_break"), "{v:#}");
    reset();
    // swapped: the file names do not matter (order is the signed sequence)...
    let tmp = env.home().join("swap");
    fs::rename(&files[1], &tmp).unwrap();
    fs::rename(&files[3], &files[1]).unwrap();
    fs::rename(&tmp, &files[3]).unwrap();
    assert_verify(&env, &env.receipts(), 0, None);
    reset();
    // ...but in a JSONL file order is the file's, and a swap breaks the chain
    let lines: Vec<String> = files
        .iter()
        .map(|f| {
            serde_json::to_string(&serde_json::from_slice::<Value>(&fs::read(f).unwrap()).unwrap())
                .unwrap()
        })
        .collect();
    let jsonl = env.home().join("chain.jsonl");
    fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    assert_verify(&env, &jsonl, 0, None);
    let mut swapped = lines.clone();
    swapped.swap(1, 3);
    fs::write(&jsonl, swapped.join("\n") + "\n").unwrap();
    assert_verify(&env, &jsonl, 1, Some("chain_break"));
}

#[test]
fn every_path_is_verified_and_an_invalid_one_decides_the_status() {
    let env = Env::new();
    make_chain(&env, 1);
    let good = env.receipts().join("000000000001.json");
    let bad = env.home().join("bad.json");
    fs::copy(&good, &bad).unwrap();
    edit(&bad, |v| v["payload"]["decision"] = json!("deny"));
    let missing = env.home().join("missing.json");
    let key = env.public_key();
    let run = |paths: &[&Path], json: bool| {
        let mut args = vec!["verify".to_owned()];
        args.extend(paths.iter().map(|p| p.to_str().unwrap().to_owned()));
        args.extend(["--key".to_owned(), key.clone()]);
        if json {
            args.push("--json".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.run(&args)
    };
    // an unreadable path in front stops nothing, and an invalid one wins: exit 1
    for paths in [
        [missing.as_path(), bad.as_path(), good.as_path()],
        [bad.as_path(), missing.as_path(), good.as_path()],
    ] {
        let o = run(&paths, false);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(stdout(&o).matches("INVALID").count(), 1, "{}", stdout(&o));
        assert_eq!(stdout(&o).matches("VALID (").count(), 1, "{}", stdout(&o));
        assert_one_line_error(&o);
        assert!(stderr(&o).contains("missing.json"), "{}", stderr(&o));
    }
    // unreadable and valid: undecidable, and --json still answers, naming the error
    let o = run(&[missing.as_path(), good.as_path()], true);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["status"], json!("undecidable"));
    assert_eq!(v["results"][0]["status"], json!("undecidable"));
    assert!(
        v["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("missing.json")
    );
    assert_eq!(v["results"][1]["status"], json!("valid"));
    // one receipt is "1 receipt"
    let o = run(&[env.receipts().as_path()], false);
    assert!(
        stdout(&o).contains("(chain of 1 receipt,"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn without_a_key_a_chain_break_is_still_shown() {
    let env = Env::new();
    make_chain(&env, 3);
    std::fs::remove_file(env.receipts().join("000000000002.json")).unwrap();
    let o = env.run(&["verify", env.receipts().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("chain_break: sequence gap: receipt 2 is missing"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn empty_directory_is_undecidable() {
    let env = Env::new();
    env.run(&["keys", "generate"]);
    let d = env.home().join("empty");
    fs::create_dir(&d).unwrap();
    assert_verify(&env, &d, 2, Some("no_receipts"));
}

#[test]
fn a_directory_mixing_two_chains() {
    let a = Env::new();
    make_chain(&a, 3);
    // a second chain under the same key: another receipts dir
    let key = a.home().join("keys/issuer.pem");
    let other = a.home().join("other");
    for act in ["shell:ls", "shell:git", "shell:cat"] {
        let o = a.check(
            act,
            &[
                "--receipts-dir",
                other.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(0));
    }
    for (i, f) in receipt_files(&other).iter().enumerate() {
        fs::copy(f, a.receipts().join(format!("b{i}.json"))).unwrap();
    }
    let (c, v) = a.verify(&a.receipts(), &[]);
    assert_eq!(
        (c, first_cause(&v).as_deref()),
        (1, Some("chain_break")),
        "{v:#}"
    );
    assert!(v.to_string().contains("two chains are mixed"), "{v:#}");
}

#[test]
fn a_50_mb_file() {
    let env = Env::new();
    env.run(&["keys", "generate"]);
    let big = env.home().join("big.json");
    let f = fs::File::create(&big).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    assert_verify(&env, &big, 1, Some("too_large"));
    let big = env.home().join("big.jsonl");
    fs::write(&big, vec![b'x'; 50 * 1024 * 1024]).unwrap();
    assert_verify(&env, &big, 1, Some("too_large"));
}

#[test]
fn policy_digest_is_compared_when_asked() {
    let env = Env::new();
    make_chain(&env, 2);
    let pd = policy_dir();
    assert_verify(&env, &env.receipts(), 0, None);
    let (c, _) = env.verify(&env.receipts(), &["--policy-dir", pd.to_str().unwrap()]);
    assert_eq!(c, 0);
    let other = env.home().join("otherpolicy");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("p.yaml"), "rules: []\n").unwrap();
    let (c, v) = env.verify(&env.receipts(), &["--policy-dir", other.to_str().unwrap()]);
    assert_eq!(
        (c, first_cause(&v).as_deref()),
        (1, Some("digest_mismatch"))
    );
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    let env = Env::new();
    for args in [
        vec!["verify", "/no/such/path", "--key", "00"],
        vec!["verify", "/tmp", "--key", "/no/such/key"],
        vec!["verify", "/tmp", "--key", "zz"],
    ] {
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_one_line_error(&o);
    }
    let o = env.run(&["verify"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn vectors_of_the_reference_verifier() {
    let env = Env::new();
    let key = fs::read_to_string(data("veritasacta/sample-receipt-v2.key.hex")).unwrap();
    let o = env.run(&[
        "verify",
        data("veritasacta/sample-receipt-v2.receipt.json")
            .to_str()
            .unwrap(),
        "--key",
        key.trim(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let jwks = data("veritasacta/ku-bundle.jwks.json");
    for p in [
        "veritasacta/ku-bundle-first-two.json",
        "veritasacta/ku-bundle.jsonl",
    ] {
        let o = env.run(&[
            "verify",
            data(p).to_str().unwrap(),
            "--jwks",
            jwks.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{p}: {}", stdout(&o));
    }
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    use std::io::Read;
    use std::process::Stdio;
    let env = Env::new();
    env.run(&["keys", "generate"]);
    let d = env.home().join("junk");
    fs::create_dir(&d).unwrap();
    for i in 0..3000 {
        fs::write(d.join(format!("{i:05}.json")), "[]").unwrap();
    }
    let key = env.public_key();
    let mut child = env
        .cmd()
        .args(["verify", d.to_str().unwrap(), "--key", &key, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "{err}");
}
