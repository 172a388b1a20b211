//! The state directory: `keys/`, `receipts/`, trust scores and the audit log.

use std::path::{Path, PathBuf};

/// Where gavel keeps what persists between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// `explicit` when given, else `$GAVEL_HOME`, else `$XDG_STATE_HOME/gavel`, else
    /// `~/.local/state/gavel` (cli.md).
    pub fn resolve(explicit: Option<&Path>) -> Self {
        let from_env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| from_env("GAVEL_HOME"))
            .or_else(|| from_env("XDG_STATE_HOME").map(|p| p.join("gavel")))
            .or_else(|| from_env("HOME").map(|h| h.join(".local/state/gavel")))
            .unwrap_or_else(|| PathBuf::from(".gavel"));
        Self { root }
    }

    /// A state directory at exactly `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keys/issuer.pem`: the operator key used when none is given.
    pub fn default_key(&self) -> PathBuf {
        self.root.join("keys").join("issuer.pem")
    }

    /// `receipts/`: the default chain.
    pub fn receipts(&self) -> PathBuf {
        self.root.join("receipts")
    }

    /// `trust.json`: trust scores per agent.
    pub fn trust(&self) -> PathBuf {
        self.root.join("trust.json")
    }

    /// `audit.jsonl`: the local audit log.
    pub fn audit(&self) -> PathBuf {
        self.root.join("audit.jsonl")
    }

    /// `cache/policy/`: loaded YAML rule sets, authenticated by the operator key
    /// (`gavel_policy::RuleCache`).
    pub fn policy_cache(&self) -> PathBuf {
        self.root.join("cache").join("policy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_wins_and_layout_is_fixed() {
        let s = StateDir::resolve(Some(Path::new("/x/state")));
        assert_eq!(s.root(), Path::new("/x/state"));
        assert_eq!(s.default_key(), Path::new("/x/state/keys/issuer.pem"));
        assert_eq!(s.receipts(), Path::new("/x/state/receipts"));
        assert_eq!(s.trust(), Path::new("/x/state/trust.json"));
        assert_eq!(s.audit(), Path::new("/x/state/audit.jsonl"));
    }
}
