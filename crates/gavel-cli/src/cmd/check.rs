//! `gavel check-policy`: one decision, printed and receipted.

use clap::Args;
use gavel::StateDir;
use gavel::governance::DecisionRequest;

use super::common::{
    PolicyArgs, SignArgs, existing_key, operator_key_for, parse_context, stderr_is_terminal,
};
use crate::failure::CmdResult;

/// `gavel check-policy`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The action to decide on (e.g. shell:python, file:read:/workspace/main.py).
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The request context, a JSON object (agent_did, session_id, fields rules look at).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub context: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The Cedar resource (default: the action).
    #[arg(long, value_name = "R")]
    pub resource: Option<String>,
    #[command(flatten)]
    pub sign: SignArgs,
    /// Decide without signing: no receipt, the chain does not advance (the audit entry is still written).
    #[arg(long)]
    pub no_sign: bool,
    /// Print the decision as one compact JSON line (default: indented JSON).
    #[arg(long)]
    pub json: bool,
}

pub fn run(state: &StateDir, args: &CheckArgs) -> CmdResult {
    if args.action.trim().is_empty() {
        return Err(crate::failure::Failure::bad_input(
            "--action is empty: name the action to decide on, e.g. --action shell:ls",
        ));
    }
    let context = parse_context(&args.context)?;
    let early_key = (!args.no_sign)
        .then(|| existing_key(state, args.sign.key.as_ref()))
        .flatten();
    let policy = args.policy.load_cached(state, early_key.as_ref())?;
    let mut req = DecisionRequest::new(&args.action, &context);
    req.resource = args.resource.as_deref();
    req.sign = !args.no_sign;
    let mut builder = args.sign.governance(state, policy);
    if !args.no_sign {
        let key = operator_key_for(early_key, state, args.sign.key.as_ref(), &builder, &req)?;
        builder = builder.signer(key);
    }
    let gov = builder.build();
    let decision = gov.decide(&req)?;
    let text = if args.json {
        serde_json::to_string(&decision)
    } else {
        serde_json::to_string_pretty(&decision)
    };
    println!("{}", text.unwrap_or_default());
    if stderr_is_terminal() {
        let verdict = if decision.allowed { "ALLOW" } else { "DENY" };
        let receipt = decision
            .receipt_path
            .as_ref()
            .map(|p| format!(", receipt {}", p.display()))
            .unwrap_or_default();
        eprintln!(
            "gavel: {verdict} {}: {}{receipt}",
            decision.action, decision.reason
        );
    }
    Ok(if decision.allowed { 0 } else { 1 })
}
