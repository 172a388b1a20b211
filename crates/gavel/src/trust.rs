//! Trust scores per agent, persisted in the state directory (policy.md section 4).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil;

/// Default score of an agent never adjusted.
pub const DEFAULT_SCORE: f64 = 1.0;

/// A score as gavel keeps, decides on and signs it: rounded to 6 decimals (the
/// precision receipts.md gives `trust_score`), so that steps like 50 x -0.01 land on
/// 0.5, not 0.49999999999999956, and the score a decision compared with its threshold
/// is exactly the one its receipt records.
pub fn round_score(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Why trust scores could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// File access failed.
    #[error("trust scores {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file is not a trust score map.
    #[error("trust scores {path} are corrupt ({why}): fix or remove the file")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A delta that is not a finite number.
    #[error("trust delta {0} is not a finite number")]
    BadDelta(f64),
}

/// The trust scores file.
#[derive(Debug, Clone)]
pub struct TrustStore {
    path: PathBuf,
}

impl TrustStore {
    /// Scores kept in `path` (`trust.json`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// All scores set so far.
    pub fn all(&self) -> Result<BTreeMap<String, f64>, TrustError> {
        read(&self.path)
    }

    /// The score of `agent_did` (1.0 when never adjusted), rounded by [`round_score`]
    /// (a file written before scores were rounded may hold more digits).
    pub fn score(&self, agent_did: &str) -> Result<f64, TrustError> {
        Ok(round_score(
            self.all()?.get(agent_did).copied().unwrap_or(DEFAULT_SCORE),
        ))
    }

    /// Adds `delta` to the score of `agent_did`, clamped to [0, 1] and rounded by
    /// [`round_score`]; returns the new score.
    pub fn adjust(&self, agent_did: &str, delta: f64) -> Result<f64, TrustError> {
        if !delta.is_finite() {
            return Err(TrustError::BadDelta(delta));
        }
        let lock = self.lock_path();
        let _guard = fsutil::lock_file(&lock, 0o600).map_err(|source| TrustError::Io {
            path: lock.clone(),
            source,
        })?;
        let mut scores = read(&self.path)?;
        let current = scores.get(agent_did).copied().unwrap_or(DEFAULT_SCORE);
        let new = round_score((round_score(current) + delta).clamp(0.0, 1.0));
        scores.insert(agent_did.to_owned(), new);
        let mut bytes = serde_json::to_vec_pretty(&scores).map_err(|e| TrustError::Corrupt {
            path: self.path.clone(),
            why: e.to_string(),
        })?;
        bytes.push(b'\n');
        fsutil::replace(&self.path, &bytes).map_err(|source| TrustError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(new)
    }
}

fn read(path: &Path) -> Result<BTreeMap<String, f64>, TrustError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(TrustError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let scores: BTreeMap<String, f64> =
        serde_json::from_slice(&text).map_err(|e| TrustError::Corrupt {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if let Some((did, s)) = scores.iter().find(|(_, s)| !(0.0..=1.0).contains(*s)) {
        return Err(TrustError::Corrupt {
            path: path.to_path_buf(),
            why: format!("score {s} of {did} is outside [0, 1]"),
        });
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_adjust_clamp_persist() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrustStore::new(dir.path().join("trust.json"));
        assert_eq!(t.score("did:a").unwrap(), 1.0);
        assert_eq!(t.adjust("did:a", -0.3).unwrap(), 0.7);
        assert_eq!(t.adjust("did:a", -5.0).unwrap(), 0.0);
        assert_eq!(t.adjust("did:b", 0.5).unwrap(), 1.0);
        // a fresh handle (another process) sees the same
        let t2 = TrustStore::new(dir.path().join("trust.json"));
        assert_eq!(t2.score("did:a").unwrap(), 0.0);
        assert_eq!(t2.score("did:c").unwrap(), 1.0);
        assert!(matches!(
            t2.adjust("did:a", f64::NAN),
            Err(TrustError::BadDelta(_))
        ));
    }

    #[test]
    fn scores_are_kept_to_six_decimals() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrustStore::new(dir.path().join("trust.json"));
        let mut last = 1.0;
        for _ in 0..50 {
            last = t.adjust("did:x", -0.01).unwrap();
        }
        // without rounding: 0.49999999999999956
        assert_eq!(last, 0.5);
        assert_eq!(t.score("did:x").unwrap(), 0.5);
        assert_eq!(t.adjust("did:y", -0.3).unwrap(), 0.7);
        assert_eq!(t.adjust("did:y", -0.0000004).unwrap(), 0.7);
        // a file written with more digits is read rounded, and adjusted from there
        std::fs::write(
            dir.path().join("trust.json"),
            r#"{"did:x": 0.49999999999999956, "did:z": 0.1234567}"#,
        )
        .unwrap();
        assert_eq!(t.score("did:x").unwrap(), 0.5);
        assert_eq!(t.score("did:z").unwrap(), 0.123457);
        assert_eq!(t.adjust("did:z", 0.1).unwrap(), 0.223457);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trust.json");
        std::fs::write(&p, "{\"did:a\": 7}").unwrap();
        let t = TrustStore::new(&p);
        assert!(matches!(t.score("did:a"), Err(TrustError::Corrupt { .. })));
        std::fs::write(&p, "nope").unwrap();
        assert!(matches!(
            t.adjust("did:a", 0.1),
            Err(TrustError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "nope");
    }
}
