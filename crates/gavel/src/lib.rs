//! gavel's governance API (work in progress).

pub mod audit;
mod fsutil;
pub mod governance;
pub mod keyfile;
pub mod state;
pub mod store;
pub mod trust;

pub use governance::{Decision, DecisionRequest, Governance, SandboxBackend};
pub use state::StateDir;
