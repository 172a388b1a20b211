//! `gavel policy check` and `gavel policy digest`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::common::PolicyArgs;
use crate::failure::CmdResult;

/// `gavel policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load and validate a policy; report its engine, rule count and digest.
    Check(PolicyCmdArgs),
    /// Print the acta-policy-digest-v1 digest of a policy.
    Digest(PolicyCmdArgs),
}

/// Arguments of `gavel policy check|digest`.
#[derive(Debug, Args)]
pub struct PolicyCmdArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: &PolicyCommand) -> CmdResult {
    match cmd {
        PolicyCommand::Check(a) => {
            let p = a.policy.load()?;
            // loading leaves patterns to be compiled on first use; a check compiles all
            p.compile_all()?;
            if a.json {
                println!(
                    "{}",
                    json!({"path": p.source(), "engine": p.engine().as_str(), "rules": p.rule_count(), "policy_digest": p.digest()})
                );
            } else {
                println!(
                    "{}: ok, {} {} rule{}, {}",
                    p.source().display(),
                    p.rule_count(),
                    p.engine().as_str(),
                    if p.rule_count() == 1 { "" } else { "s" },
                    p.digest()
                );
            }
        }
        PolicyCommand::Digest(a) => {
            let p = a.policy.load()?;
            if a.json {
                println!(
                    "{}",
                    json!({"engine": p.engine().as_str(), "policy_digest": p.digest()})
                );
            } else {
                println!("{}", p.digest());
            }
        }
    }
    Ok(0)
}
