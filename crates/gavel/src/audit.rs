//! The local audit log: one JSON line per decision (policy.md section 5). Unlike
//! receipts it holds the raw context, so it stays on the machine.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One decision as the audit log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC, milliseconds).
    pub timestamp: String,
    /// The action decided on.
    pub action: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// Who asked.
    pub agent_did: String,
    /// The agent's trust score at decision time.
    pub trust_score: f64,
    /// The request context, raw.
    pub context: Map<String, Value>,
    /// Chain hash of the receipt, or null when signing was off.
    pub receipt_hash: Option<String>,
}

/// Why the audit log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// File access failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line that is not an entry.
    #[error("audit log {path}: line {line} is not an audit entry ({why})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number counted from the end when reading a tail.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// The audit log file (`audit.jsonl`).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry as a single `O_APPEND` write, so concurrent writers never
    /// interleave within a line.
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let err = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| err(io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = crate::fsutil::open_in_created_dir(
            OpenOptions::new().append(true).create(true).mode(0o600),
            &self.path,
        )
        .map_err(err)?;
        f.write_all(&line).map_err(err)
    }

    /// The last `limit` entries, oldest first (`0` means all). Reads the file from the
    /// end, so a long log costs only what is asked for.
    pub fn tail(&self, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
        let err = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let len = f.seek(SeekFrom::End(0)).map_err(err)?;
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = len;
        const BLOCK: u64 = 64 * 1024;
        // read backwards until we hold `limit` complete lines (or the whole file)
        while pos > 0 {
            let lines = buf.iter().filter(|&&b| b == b'\n').count();
            if limit != 0 && lines > limit {
                break;
            }
            let step = BLOCK.min(pos);
            pos -= step;
            f.seek(SeekFrom::Start(pos)).map_err(err)?;
            let mut chunk = vec![0u8; step as usize];
            f.read_exact(&mut chunk).map_err(err)?;
            chunk.extend_from_slice(&buf);
            buf = chunk;
        }
        let text = String::from_utf8_lossy(&buf);
        let mut lines: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
        if pos > 0 && !lines.is_empty() {
            lines.remove(0); // possibly partial first line
        }
        let skip = if limit == 0 {
            0
        } else {
            lines.len().saturating_sub(limit)
        };
        let n = lines.len();
        lines[skip..]
            .iter()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| AuditError::Corrupt {
                    path: self.path.clone(),
                    line: n - (skip + i),
                    why: e.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            timestamp: "2026-11-25T19:30:00.123Z".into(),
            action: format!("shell:{i}"),
            decision: if i.is_multiple_of(2) { "allow" } else { "deny" }.into(),
            agent_did: "did:a".into(),
            trust_score: 1.0,
            context: Map::new(),
            receipt_hash: None,
        }
    }

    #[test]
    fn append_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        assert!(log.tail(10).unwrap().is_empty());
        for i in 0..5000 {
            log.append(&entry(i)).unwrap();
        }
        let last = log.tail(3).unwrap();
        assert_eq!(
            last.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["shell:4997", "shell:4998", "shell:4999"]
        );
        assert_eq!(log.tail(0).unwrap().len(), 5000);
        assert_eq!(log.tail(4999).unwrap()[0].action, "shell:1");
        assert_eq!(log.tail(9000).unwrap().len(), 5000);
    }
}
