//! `gavel mcp` (being written).

use clap::Args;
use gavel::StateDir;

use crate::failure::{CmdResult, Failure};

/// `gavel mcp`
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Everything else, for now.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_state: &StateDir, _args: &McpArgs) -> CmdResult {
    Err(Failure::bad_input("gavel mcp is not built yet"))
}
