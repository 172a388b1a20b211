//! `gavel exec` (being written).

use clap::Args;
use gavel::StateDir;

use crate::failure::{CmdResult, Failure};

/// `gavel exec`
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Everything else, for now.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_state: &StateDir, _args: &ExecArgs) -> CmdResult {
    Err(Failure::bad_input("gavel exec is not built yet"))
}
