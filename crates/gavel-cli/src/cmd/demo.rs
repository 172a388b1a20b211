//! `gavel demo` (being written).

use clap::Args;
use gavel::StateDir;

use crate::failure::{CmdResult, Failure};

/// `gavel demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Everything else, for now.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(_state: &StateDir, _args: &DemoArgs) -> CmdResult {
    Err(Failure::bad_input("gavel demo is not built yet"))
}
