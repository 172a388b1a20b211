//! One module per subcommand.

pub mod check;
pub mod common;
pub mod demo;
pub mod exec;
pub mod hook;
pub mod keys;
pub mod mcp;
pub mod policy;
pub mod trust;
pub mod verify;
