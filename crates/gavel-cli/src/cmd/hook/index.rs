//! The tool-use index: which decision receipt a PreToolUse hook signed for a
//! `tool_use_id`, so that the PostToolUse hook (another process) can link its
//! execution receipt to it.
//!
//! - One small JSON file per tool use in `<state>/hook-index/`, named by the SHA-256 of
//!   the receipts directory and the tool use id (two chains never see each other's
//!   entries).
//! - Written atomically (a temporary file renamed into place), so concurrent hooks
//!   never see a half-written entry; entries of different tool uses never touch the
//!   same file. Not fsynced: the index is a convenience for linking, the receipt
//!   chain is the record. An entry lost in a crash makes the execution receipt say
//!   `decision_status: "not_found"`. Never renamed over an existing entry: on ext4
//!   that waits for the data to be written out (`auto_da_alloc`), which made every
//!   decision of a repeated tool use id milliseconds slower.
//! - Read and removed by the PostToolUse hook.
//! - Bounded: every 64th receipt sequence, entries older than a day are removed, and
//!   of the rest only the newest 4,096 are kept (denied tool uses never get a
//!   PostToolUse, so their entries would otherwise stay).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Largest index entry read.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
/// Entries older than this are pruned.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// At most this many entries are kept after a prune.
pub const MAX_ENTRIES: usize = 4096;
/// A prune runs when the decision's receipt sequence is a multiple of this.
pub const PRUNE_EVERY: u64 = 64;

/// What the PreToolUse hook recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Chain hash of the decision receipt.
    pub decision_ref: String,
    /// The agent, as the receipt names it.
    pub agent_id: String,
    /// The tool name decided on.
    pub tool_name: String,
    /// `allow` or `deny`.
    pub decision: String,
}

/// The index directory.
#[derive(Debug, Clone)]
pub struct Index {
    dir: PathBuf,
}

impl Index {
    /// The index at `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The file name of `tool_use_id` in the chain at `receipts_dir`.
    fn file(&self, receipts_dir: &Path, tool_use_id: &str) -> PathBuf {
        let mut material = receipts_dir.as_os_str().as_encoded_bytes().to_vec();
        material.push(0);
        material.extend_from_slice(tool_use_id.as_bytes());
        let digest = gavel_receipt::digest::sha256_prefixed(&material);
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join(format!("{hex}.json"))
    }

    /// Records `entry` for `tool_use_id` (replacing an earlier one).
    pub fn put(&self, receipts_dir: &Path, tool_use_id: &str, entry: &Entry) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.file(receipts_dir, tool_use_id);
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            // Renaming over an existing file makes ext4 flush the new file's data and
            // wait for it (auto_da_alloc), milliseconds on every decision; an entry
            // being replaced (the same tool use decided again) is removed first.
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Reads and removes the entry for `tool_use_id`; `None` when there is none (or it
    /// is unreadable: the caller records the execution as not linked).
    pub fn take(&self, receipts_dir: &Path, tool_use_id: &str) -> Option<Entry> {
        let path = self.file(receipts_dir, tool_use_id);
        let mut text = Vec::new();
        fs::File::open(&path)
            .ok()?
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut text)
            .ok()?;
        let _ = fs::remove_file(&path);
        serde_json::from_slice(&text).ok()
    }

    /// Removes entries older than `max_age`, then all but the newest `max_entries`.
    /// Best effort: errors are ignored (another hook may be pruning too).
    pub fn prune(&self, max_age: Duration, max_entries: usize) {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut kept: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in rd.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let old = now.duration_since(modified).unwrap_or_default() >= max_age;
            if name.starts_with(".tmp-") {
                // a writer died between create and rename
                if now.duration_since(modified).unwrap_or_default() > Duration::from_secs(60) {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            if old {
                let _ = fs::remove_file(&path);
            } else {
                kept.push((modified, path));
            }
        }
        if kept.len() > max_entries {
            kept.sort_by_key(|k| std::cmp::Reverse(k.0));
            for (_, path) in kept.drain(max_entries..) {
                let _ = fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            decision_ref: format!("sha256:{n:064x}"),
            agent_id: "did:gavel:claude-code".into(),
            tool_name: "Read".into(),
            decision: "allow".into(),
        }
    }

    #[test]
    fn put_take_once() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::new(dir.path().join("hook-index"));
        let r = Path::new("/state/receipts");
        idx.put(r, "toolu_1", &entry(1)).unwrap();
        assert_eq!(
            idx.take(Path::new("/other"), "toolu_1"),
            None,
            "chains are separate"
        );
        assert_eq!(idx.take(r, "toolu_1"), Some(entry(1)));
        assert_eq!(idx.take(r, "toolu_1"), None, "taken once");
    }

    #[test]
    fn prune_bounds_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::new(dir.path().join("hook-index"));
        let r = Path::new("/r");
        for n in 0..20 {
            idx.put(r, &format!("t{n}"), &entry(n)).unwrap();
        }
        idx.prune(MAX_AGE, 5);
        assert_eq!(
            fs::read_dir(dir.path().join("hook-index")).unwrap().count(),
            5
        );
        idx.prune(Duration::ZERO, 5);
        assert_eq!(
            fs::read_dir(dir.path().join("hook-index")).unwrap().count(),
            0
        );
    }

    #[test]
    fn concurrent_writers_never_tear_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::new(dir.path().join("hook-index"));
        let r = Path::new("/r");
        std::thread::scope(|s| {
            for t in 0..4 {
                let idx = idx.clone();
                s.spawn(move || {
                    for n in 0..50 {
                        idx.put(r, "same", &entry(t * 100 + n)).unwrap();
                    }
                });
            }
        });
        let e = idx.take(r, "same").expect("an entry");
        assert!(e.decision_ref.starts_with("sha256:"));
    }
}
