//! `gavel hook` (being written).

use clap::Args;
use gavel::StateDir;

use crate::failure::{CmdResult, Failure};

/// `gavel hook`
#[derive(Debug, Args)]
pub struct HookArgs {
    /// Everything else, for now.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_state: &StateDir, _args: &HookArgs) -> CmdResult {
    Err(Failure::bad_input("gavel hook is not built yet"))
}
