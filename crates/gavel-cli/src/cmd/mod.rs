//! One module per subcommand.

pub mod check;
pub mod common;
pub mod keys;
pub mod policy;
pub mod trust;
pub mod verify;
