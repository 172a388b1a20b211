//! `gavel trust-score`, `gavel trust adjust`, `gavel audit`.

use clap::Args;
use gavel::StateDir;
use gavel::audit::AuditLog;
use gavel::trust::TrustStore;
use serde_json::json;

use crate::failure::CmdResult;

/// `gavel trust-score`
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The agent.
    #[arg(long, value_name = "DID")]
    pub agent_did: String,
}

pub fn score(state: &StateDir, args: &ScoreArgs) -> CmdResult {
    let s = TrustStore::new(state.trust()).score(&args.agent_did)?;
    println!("{}", json!({"agent_did": args.agent_did, "trust_score": s}));
    Ok(0)
}

/// `gavel trust adjust`
#[derive(Debug, Args)]
pub struct AdjustArgs {
    /// The agent.
    #[arg(long, value_name = "DID")]
    pub agent_did: String,
    /// Added to the score, which stays within [0, 1].
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub delta: f64,
}

pub fn adjust(state: &StateDir, args: &AdjustArgs) -> CmdResult {
    let s = TrustStore::new(state.trust()).adjust(&args.agent_did, args.delta)?;
    println!("{}", json!({"agent_did": args.agent_did, "trust_score": s}));
    Ok(0)
}

/// `gavel audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many recent entries (0: all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
    /// One JSON array instead of one line per entry.
    #[arg(long)]
    pub json: bool,
}

pub fn audit(state: &StateDir, args: &AuditArgs) -> CmdResult {
    let tail = AuditLog::new(state.audit()).tail_reporting(args.limit)?;
    if let Some(newest) = tail.skipped.first() {
        let n = tail.skipped.len();
        eprintln!(
            "gavel: warning: skipped {n} line{} of the audit log {} that {} not an entry (line {} from the end: {}); a write torn by a crash, or an edit",
            if n == 1 { "" } else { "s" },
            state.audit().display(),
            if n == 1 { "is" } else { "are" },
            newest.line_from_end,
            newest.why
        );
    }
    let entries = tail.entries;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&entries).unwrap_or_default()
        );
    } else {
        for e in &entries {
            let receipt = e
                .receipt_hash
                .as_deref()
                .map(|h| format!("  receipt {}", &h[..h.len().min(19)]))
                .unwrap_or_default();
            println!(
                "{}  {:<5}  {}  agent {} (trust {}){receipt}",
                e.timestamp, e.decision, e.action, e.agent_did, e.trust_score
            );
        }
        if entries.is_empty() {
            eprintln!("gavel: the audit log {} is empty", state.audit().display());
        }
    }
    Ok(0)
}
