//! `gavel verify`: offline verification of receipts, chains and JSONL files.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use gavel_receipt::keys::{TrustedKey, parse_trusted_keys};
use gavel_receipt::verify::{
    Cause, ChainReport, Input, MAX_RECEIPT_BYTES, Order, Status, VerifyOptions, verify_chain,
    verify_receipt,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::failure::{CmdResult, Failure};

/// Chains longer than this show a progress bar on a terminal.
const PROGRESS_THRESHOLD: usize = 2000;
/// At most this many problems are listed in human output.
const LISTED_PROBLEMS: usize = 20;

/// `gavel verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A receipt file, a receipts directory (one chain), or a JSONL file (one chain).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The trusted public key: a file holding hex, an SPKI PEM, a PKCS#8 private key
    /// PEM, a JWK or a JWKS; or the hex key itself.
    #[arg(long, value_name = "KEY", conflicts_with = "jwks")]
    pub key: Option<String>,
    /// A JWKS file of trusted keys (`valid_from` / `valid_until` are applied to `issued_at`).
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Also require every decision receipt's policy_digest to be the digest of this policy directory.
    #[arg(long, value_name = "DIR", conflicts_with = "policy")]
    pub policy_dir: Option<PathBuf>,
    /// Like --policy-dir, for a single policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Reads the trusted keys named by `--key` / `--jwks`.
pub fn trusted_keys(key: Option<&str>, jwks: Option<&Path>) -> Result<Vec<TrustedKey>, Failure> {
    if let Some(path) = jwks {
        let text = fs::read_to_string(path)
            .map_err(|e| Failure::bad_input(format!("--jwks {}: {e}", path.display())))?;
        if !text.contains("\"keys\"") {
            return Err(Failure::bad_input(format!(
                "--jwks {}: not a JWKS (no \"keys\" member)",
                path.display()
            )));
        }
        return parse_trusted_keys(&text)
            .map_err(|e| Failure::bad_input(format!("--jwks {}: {e}", path.display())));
    }
    let Some(k) = key else { return Ok(Vec::new()) };
    let path = Path::new(k);
    if path.exists() {
        let text =
            fs::read_to_string(path).map_err(|e| Failure::bad_input(format!("--key {k}: {e}")))?;
        if text.contains("PRIVATE KEY") {
            // a private key file is held to the same rule as for signing
            let op = gavel::keyfile::load(path)?;
            return TrustedKey::new(op.verifying_key())
                .map(|t| vec![t])
                .map_err(|e| Failure::bad_input(format!("--key {k}: {e}")));
        }
        return parse_trusted_keys(&text)
            .map_err(|e| Failure::bad_input(format!("--key {k}: {e}")));
    }
    parse_trusted_keys(k).map_err(|_| {
        Failure::bad_input(format!(
            "--key {k}: no such file, and not a key itself (give a key file, or the public key as 64 hex characters)"
        ))
    })
}

/// What one PATH turned out to be.
enum Target {
    Single(Input),
    Chain(Vec<Input>, Order, Vec<String>),
}

pub fn run(args: &VerifyArgs) -> CmdResult {
    let keys = trusted_keys(args.key.as_deref(), args.jwks.as_deref())?;
    let expected_policy_digest = if args.policy_dir.is_some() || args.policy.is_some() {
        let policy = crate::cmd::common::PolicyArgs {
            policy_dir: args.policy_dir.clone(),
            policy: args.policy.clone(),
        };
        Some(policy.load()?.digest().to_owned())
    } else {
        None
    };
    let opts = VerifyOptions {
        keys,
        expected_policy_digest,
    };
    let mut worst = Status::Valid;
    let mut results = Vec::new();
    // every PATH is verified even when another cannot be read: an unreadable one
    // counts as undecidable, so an invalid one elsewhere still makes the exit status 1
    for path in &args.paths {
        match verify_path(path, &opts) {
            Ok(v) => {
                worst = worst.max(v.report.status);
                if args.json {
                    results.push(json_result(path, v.kind, &v.report, &v.notes));
                } else {
                    print_human(path, v.kind, &v.report, &v.notes);
                }
            }
            Err(f) => {
                worst = worst.max(Status::Undecidable);
                eprintln!("gavel: error: {}", crate::failure::one_line(&f.message));
                if args.json {
                    results.push(json!({
                        "path": path.display().to_string(),
                        "status": Status::Undecidable.as_str(),
                        "error": f.message,
                    }));
                }
            }
        }
    }
    if args.json {
        let out = json!({"status": worst.as_str(), "results": results});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    Ok(worst.exit_code())
}

/// The verdict on one PATH of `gavel verify`.
pub struct Verified {
    /// `receipt` or `chain`.
    pub kind: &'static str,
    /// The verdict.
    pub report: ChainReport,
    /// Notes on how the path was read.
    pub notes: Vec<String>,
}

/// Verifies a receipt file, a receipts directory, a JSONL file or a bundle, exactly
/// as `gavel verify` does (with a progress bar for long chains on a terminal).
pub fn verify_path(path: &Path, opts: &VerifyOptions) -> Result<Verified, Failure> {
    Ok(match read_target(path)? {
        Target::Single(input) => Verified {
            kind: "receipt",
            report: verify_receipt(input, opts),
            notes: Vec::new(),
        },
        Target::Chain(inputs, order, notes) => {
            let bar = progress(inputs.len());
            let tick = |n: usize| bar.set_position(n as u64);
            let report = verify_chain(inputs, order, opts, Some(&tick));
            bar.finish_and_clear();
            Verified {
                kind: "chain",
                report,
                notes,
            }
        }
    })
}

fn progress(len: usize) -> ProgressBar {
    if len <= PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "verifying {bar:40} {pos}/{len} receipts ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn read_target(path: &Path) -> Result<Target, Failure> {
    let meta =
        fs::metadata(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        return read_dir(path);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    if ext == "jsonl" || ext == "ndjson" {
        return read_jsonl(path);
    }
    let bytes = read_capped(path)?;
    if bytes.len() <= MAX_RECEIPT_BYTES {
        match gavel_receipt::jcs::parse_strict(&bytes) {
            // a bundle: {"receipts": [...]} (keys inside it are never used)
            Ok(Value::Object(o))
                if !o.contains_key("payload") && o.get("receipts").is_some_and(Value::is_array) =>
            {
                let inputs = o["receipts"]
                    .as_array()
                    .map(|rs| {
                        rs.iter()
                            .enumerate()
                            .map(|(i, r)| Input {
                                source: format!("{}#receipts[{i}]", path.display()),
                                bytes: serde_json::to_vec(r).unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return Ok(Target::Chain(
                    inputs,
                    Order::AsGiven,
                    vec!["read as a bundle of receipts, in the order given".into()],
                ));
            }
            // several JSON documents, one per line, in a file not named .jsonl
            Err(e) if e.to_string().contains("trailing characters") => return read_jsonl(path),
            _ => {}
        }
    }
    Ok(Target::Single(Input {
        source: path.display().to_string(),
        bytes,
    }))
}

/// Reads at most one byte more than a receipt may have, so a 50 MB file costs 1 MB.
fn read_capped(path: &Path) -> Result<Vec<u8>, Failure> {
    let err = |e: std::io::Error| Failure::bad_input(format!("{}: {e}", path.display()));
    let f = File::open(path).map_err(err)?;
    let cap = MAX_RECEIPT_BYTES as u64 + 1;
    // sized from the file's length: one read fills the buffer, one more sees the end
    let len = f.metadata().map(|m| m.len()).unwrap_or(0).min(cap);
    let mut bytes = Vec::with_capacity(len as usize + 1);
    f.take(cap).read_to_end(&mut bytes).map_err(err)?;
    Ok(bytes)
}

fn read_dir(dir: &Path) -> Result<Target, Failure> {
    let mut files = Vec::new();
    let mut ignored = 0usize;
    for entry in
        fs::read_dir(dir).map_err(|e| Failure::bad_input(format!("{}: {e}", dir.display())))?
    {
        let entry = entry.map_err(|e| Failure::bad_input(format!("{}: {e}", dir.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue; // the store's lock, hint and temporary files
        }
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && name.ends_with(".json") {
            files.push(entry.path());
        } else {
            ignored += 1;
        }
    }
    let inputs: Result<Vec<Input>, Failure> = files
        .par_iter()
        .map(|p| {
            Ok(Input {
                source: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes: read_capped(p)?,
            })
        })
        .collect();
    let mut notes = Vec::new();
    if ignored > 0 {
        notes.push(format!(
            "ignored {ignored} {}",
            if ignored == 1 {
                "entry that is not a *.json file"
            } else {
                "entries that are not *.json files"
            }
        ));
    }
    Ok(Target::Chain(inputs?, Order::BySequence, notes))
}

fn read_jsonl(path: &Path) -> Result<Target, Failure> {
    let f = File::open(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    let mut reader = BufReader::new(f);
    let mut inputs = Vec::new();
    let mut line_no = 0usize;
    loop {
        line_no += 1;
        let mut line = Vec::new();
        // read at most one byte past the limit, then skip the rest of an overlong line
        let n = (&mut reader)
            .take(MAX_RECEIPT_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_RECEIPT_BYTES && line.last() != Some(&b'\n') {
            let mut rest = Vec::new();
            reader
                .read_until(b'\n', &mut rest)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        inputs.push(Input {
            source: format!("{}:{line_no}", path.display()),
            bytes: line,
        });
    }
    Ok(Target::Chain(inputs, Order::AsGiven, Vec::new()))
}

fn completeness(report: &ChainReport) -> String {
    match report.last_sequence {
        Some(last) => format!(
            "a valid chain proves integrity and order, not completeness: receipts after sequence {last} could have been withheld"
        ),
        None => "a valid chain proves integrity and order, not completeness".into(),
    }
}

fn print_human(path: &Path, kind: &str, r: &ChainReport, notes: &[String]) {
    let status = r.status.as_str().to_uppercase();
    let issuers = if r.issuers.is_empty() {
        String::new()
    } else {
        format!(", issuer {}", r.issuers.join(", "))
    };
    if kind == "receipt" {
        let x = &r.receipts[0];
        let what = match (&x.receipt_type, x.sequence) {
            (Some(t), Some(s)) => format!(" ({t} #{s}{issuers})"),
            (Some(t), None) => format!(" ({t}{issuers})"),
            (None, Some(s)) => format!(" (#{s}{issuers})"),
            (None, None) => String::new(),
        };
        match (&x.cause, &x.detail) {
            (Some(c), Some(d)) => println!("{}: {status}: {c}: {d}", path.display()),
            _ => println!("{}: {status}{what}", path.display()),
        }
    } else {
        let seqs = match (r.first_sequence, r.last_sequence) {
            (Some(a), Some(b)) => format!(", sequence {a}..{b}"),
            _ => String::new(),
        };
        let counts = if r.status == Status::Valid {
            String::new()
        } else {
            format!(
                ": {} valid, {} invalid, {} undecidable",
                r.valid, r.invalid, r.undecidable
            )
        };
        println!(
            "{}: {status} (chain of {} receipt{}{seqs}{issuers}){counts}",
            path.display(),
            r.count,
            if r.count == 1 { "" } else { "s" }
        );
        let problems: Vec<_> = r
            .receipts
            .iter()
            .filter(|x| x.status != Status::Valid)
            .collect();
        for x in problems.iter().take(LISTED_PROBLEMS) {
            let seq = x
                .sequence
                .map(|s| format!(" (sequence {s})"))
                .unwrap_or_default();
            println!(
                "  {}{seq}: {}: {}: {}",
                x.source,
                x.status.as_str(),
                x.cause.map(Cause::as_str).unwrap_or("-"),
                x.detail.as_deref().unwrap_or("")
            );
        }
        if problems.len() > LISTED_PROBLEMS {
            let rest = problems.len() - LISTED_PROBLEMS;
            println!("  ... and {rest} more (use --json for all)");
        }
        // chain problems not already shown as a receipt's cause (a receipt that is
        // undecidable for want of a key still breaks the chain where it is)
        // each receipt's listed cause, looked up by source (one pass, not one per problem)
        let causes: std::collections::HashMap<&str, Option<Cause>> = r
            .receipts
            .iter()
            .map(|x| (x.source.as_str(), x.cause))
            .collect();
        for p in &r.chain_problems {
            let shown = p
                .source
                .as_deref()
                .is_some_and(|src| causes.get(src) == Some(&Some(p.cause)));
            if shown {
                continue;
            }
            match &p.source {
                None => println!("  {}: {}", p.cause, p.detail),
                Some(src) => {
                    let seq = p
                        .sequence
                        .map(|s| format!(" (sequence {s})"))
                        .unwrap_or_default();
                    println!("  {src}{seq}: {}: {}", p.cause, p.detail);
                }
            }
        }
        if r.status == Status::Valid {
            println!("  note: {}", completeness(r));
        }
    }
    for n in notes {
        println!("  note: {n}");
    }
}

fn json_result(path: &Path, kind: &str, r: &ChainReport, notes: &[String]) -> Value {
    let problems: Vec<&gavel_receipt::ReceiptReport> = r
        .receipts
        .iter()
        .filter(|x| x.status != Status::Valid)
        .collect();
    let causes: serde_json::Map<String, Value> = r
        .causes()
        .into_iter()
        .map(|(c, n)| (c.as_str().to_owned(), json!(n)))
        .collect();
    let mut v = json!({
        "path": path,
        "kind": kind,
        "status": r.status.as_str(),
        "count": r.count,
        "valid": r.valid,
        "invalid": r.invalid,
        "undecidable": r.undecidable,
        "issuers": r.issuers,
        "causes": causes,
        "problems": problems,
        "chain_problems": r.chain_problems,
        "notes": notes,
    });
    if kind == "chain" {
        v["first_sequence"] = json!(r.first_sequence);
        v["last_sequence"] = json!(r.last_sequence);
        v["completeness"] = json!(completeness(r));
    } else if let Some(x) = r.receipts.first() {
        v["receipt"] = json!(x);
    }
    v
}
