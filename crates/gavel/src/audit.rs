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
    /// interleave within a line. When the file does not end with a newline (a write
    /// torn by a crash or a full disk), the entry starts on a line of its own, so it
    /// is never glued onto the torn one.
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        use std::os::unix::fs::FileExt;
        let err = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = Vec::with_capacity(512);
        line.push(b'\n');
        serde_json::to_writer(&mut line, entry).map_err(|e| err(io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = crate::fsutil::open_in_created_dir(
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .mode(0o600),
            &self.path,
        )
        .map_err(err)?;
        let len = f.metadata().map_err(err)?.len();
        let mut last = [b'\n'];
        if len > 0 {
            f.read_exact_at(&mut last, len - 1).map_err(err)?;
        }
        let from = usize::from(last[0] == b'\n');
        f.write_all(&line[from..]).map_err(err)
    }

    /// The last `limit` entries, oldest first (`0` means all). Reads the file from the
    /// end, so a long log costs only what is asked for. A line that is not an entry
    /// (torn by a crash, or edited) is skipped: see [`AuditLog::tail_reporting`].
    pub fn tail(&self, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
        self.tail_reporting(limit).map(|t| t.entries)
    }

    /// Like [`AuditLog::tail`], and says which lines it skipped.
    pub fn tail_reporting(&self, limit: usize) -> Result<Tail, AuditError> {
        let err = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tail::default()),
            Err(e) => return Err(err(e)),
        };
        let len = f.seek(SeekFrom::End(0)).map_err(err)?;
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = len;
        const BLOCK: u64 = 64 * 1024;
        // lines wanted: `limit` entries, plus one for each unreadable line met so far
        let mut want = limit;
        loop {
            // read backwards until we hold `want` complete lines (or the whole file)
            while pos > 0 {
                let lines = buf.iter().filter(|&&b| b == b'\n').count();
                if limit != 0 && lines > want {
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
            let mut lines: Vec<&str> = text.split('\n').collect();
            if pos > 0 {
                lines.remove(0); // possibly partial first line
            }
            let mut tail = Tail::default();
            // newest first, numbered from the end of the file (blank lines count)
            let mut from_end = 0;
            for l in lines.iter().rev() {
                if l.trim().is_empty() {
                    if from_end > 0 || !l.is_empty() {
                        from_end += 1;
                    }
                    continue;
                }
                from_end += 1;
                if limit != 0 && tail.entries.len() == limit {
                    break;
                }
                match serde_json::from_str(l) {
                    Ok(e) => tail.entries.push(e),
                    Err(e) => tail.skipped.push(Skipped {
                        line_from_end: from_end,
                        why: e.to_string(),
                    }),
                }
            }
            if limit == 0 || tail.entries.len() == limit || pos == 0 {
                tail.entries.reverse();
                return Ok(tail);
            }
            want = limit + tail.skipped.len();
        }
    }
}

/// What [`AuditLog::tail_reporting`] read.
#[derive(Debug, Default)]
pub struct Tail {
    /// The entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// The lines among them that were not entries, newest first.
    pub skipped: Vec<Skipped>,
}

/// A line of the audit log that is not an entry.
#[derive(Debug)]
pub struct Skipped {
    /// Its place counted from the end of the file (1: the last line).
    pub line_from_end: usize,
    /// Why it is not an entry.
    pub why: String,
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

    #[test]
    fn a_torn_line_is_skipped_and_never_swallows_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::new(&path);
        for i in 0..3 {
            log.append(&entry(i)).unwrap();
        }
        // a crash tore the fourth write in half
        let whole = std::fs::read(&path).unwrap();
        let mut torn = serde_json::to_vec(&entry(3)).unwrap();
        torn.truncate(torn.len() / 2);
        std::fs::write(&path, [whole.as_slice(), &torn].concat()).unwrap();
        log.append(&entry(4)).unwrap();
        log.append(&entry(5)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        // the entry after the torn line is a line of its own
        assert_eq!(text.lines().count(), 6);
        let t = log.tail_reporting(0).unwrap();
        let actions = |t: &Tail| {
            t.entries
                .iter()
                .map(|e| e.action.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            actions(&t),
            ["shell:0", "shell:1", "shell:2", "shell:4", "shell:5"]
        );
        assert_eq!(t.skipped.len(), 1);
        assert_eq!(t.skipped[0].line_from_end, 3);
        // a limit counts entries, not lines
        let t = log.tail_reporting(3).unwrap();
        assert_eq!(actions(&t), ["shell:2", "shell:4", "shell:5"]);
        assert_eq!(t.skipped.len(), 1);
        let t = log.tail_reporting(2).unwrap();
        assert_eq!(actions(&t), ["shell:4", "shell:5"]);
        assert!(t.skipped.is_empty());
    }
}
