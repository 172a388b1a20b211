//! The receipt store: one chain per receipts directory, one JSON file per receipt.
//!
//! - Files are named by zero-padded sequence (`000000000042.json`); readers order by
//!   the `sequence` member, never by name.
//! - Appending is O(1) in the chain's length: the lock file `.lock` holds a hint, the
//!   last sequence as a fixed-width number written in place (no rename, no truncate:
//!   either would make ext4 flush it synchronously). The writer re-reads only that
//!   receipt (to link to its exact bytes) and probes forward in case a writer died
//!   after publishing a receipt but before updating the hint. The directory is
//!   scanned only when there is no usable hint.
//! - Appending is atomic: the receipt is written to an anonymous file in the
//!   directory (`O_TMPFILE`), fsynced, linked under its final name (`linkat`, which
//!   never replaces an existing receipt), and the directory is fsynced. A reader never
//!   sees a half-written receipt, and a writer killed at any point leaves a chain that
//!   verifies (an unlinked anonymous file vanishes with its process). On a file system
//!   without `O_TMPFILE`, `.tmp-next` is written under the lock and renamed instead.
//!   Durability: the bytes are fsynced before the name exists and the directory after,
//!   so after a crash a receipt's name never points at missing bytes. On a journaling
//!   file system the new name and the file's link count commit together; ext4 without
//!   a journal may write the link count back later, which the e2fsck such a file system
//!   needs after any crash restores.
//! - Allocating the file's inode is the costly part of an append on some file systems
//!   (ext4 without a journal scans for inodes not recently freed: 0.3 ms here), so a
//!   [`Spare`] can be made ahead of time, off the critical path: `gavel exec` makes
//!   the execution receipt's while the command runs ([`ReceiptStore::prepare`]); one
//!   made on another thread is handed over with [`ReceiptStore::give`].
//! - Several processes append to one directory through an exclusive `flock` on
//!   `.lock`, held from reading the head to publishing the receipt: one linear chain,
//!   no duplicated sequence, no fork. The kernel drops the lock when a holder dies.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use gavel_receipt::envelope::Signed;
use gavel_receipt::receipt_hash;
use serde_json::{Map, Value};

/// Width of the zero-padded sequence in receipt file names.
pub const NAME_DIGITS: usize = 12;
const LOCK: &str = ".lock";
const TMP: &str = ".tmp-next";
/// Width of the hint in `.lock`: 20 digits (any u64) and a newline.
const HINT_LEN: usize = 21;

/// Why the store could not be used. Nothing was written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error, with the path it concerns.
    #[error("receipts directory {path}: {source}{hint}", hint = io_hint(source))]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The directory holds something that is not a gavel chain.
    #[error(
        "receipts directory {dir} is not a gavel chain: {why} (use an empty directory or another --receipts-dir)"
    )]
    NotAChain {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The chain belongs to another signing key.
    #[error(
        "receipts directory {dir} holds a chain signed by {theirs}, but this key is {ours}: continue it with its own key, or use another --receipts-dir"
    )]
    ForeignIssuer {
        /// The directory.
        dir: PathBuf,
        /// The chain's issuer.
        theirs: String,
        /// The current signer.
        ours: String,
    },
    /// Building or signing the receipt failed.
    #[error("cannot sign the receipt: {0}")]
    Sign(String),
}

fn io_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
            " (the disk is full: free space and retry; the chain was left as it was)"
        }
        Some(libc::EROFS) => " (read-only file system: choose a writable --receipts-dir)",
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (permission denied: choose a writable --receipts-dir or fix its permissions)"
        }
        _ => "",
    }
}

/// The tip of a chain: what the next receipt links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// Sequence of the last receipt.
    pub sequence: u64,
    /// Its chain hash (`sha256:<hex>` of JCS of the whole envelope).
    pub hash: String,
    /// Its issuer (`payload.issuer_id`).
    pub issuer: String,
}

/// What an append produced.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The signed receipt and its chain hash.
    pub signed: Signed,
    /// Its sequence.
    pub sequence: u64,
    /// Where it was written.
    pub path: PathBuf,
}

/// One receipts directory.
#[derive(Debug)]
pub struct ReceiptStore {
    dir: PathBuf,
    /// The tip this store last appended: when the hint still names it, the next
    /// append links to it without re-reading and re-hashing the file.
    last: std::sync::Mutex<Option<Tip>>,
    /// A file made ahead of time for the next append.
    spare: std::sync::Mutex<Option<Spare>>,
    /// Whether a `.tmp-next` left by a killed writer was looked for already (once per
    /// store is enough: only a writer of another process leaves one).
    swept: std::sync::atomic::AtomicBool,
}

/// An anonymous file (`O_TMPFILE`) in a receipts directory, not yet linked: the next
/// receipt is written into it. Made ahead of time, it takes the inode allocation off
/// an append's critical path; dropped unused, it vanishes with its descriptor.
#[derive(Debug)]
pub struct Spare {
    dir: PathBuf,
    file: File,
    /// The directory, open for the fsync that makes the new name durable.
    dir_handle: File,
}

impl Spare {
    /// Makes one in the existing directory `dir` (it is not created here: making a
    /// spare ahead of time must not write anything). `Ok(None)` when the file system
    /// has no `O_TMPFILE` (the store then falls back to a named temporary file).
    pub fn create(dir: &Path) -> Result<Option<Spare>, StoreError> {
        let err = |source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if no_tmpfile_for_tests() {
            return Ok(None);
        }
        let dir_handle = File::open(dir).map_err(err)?;
        let opened = OpenOptions::new()
            .write(true)
            .mode(0o644)
            .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
            .open(dir);
        match opened {
            Ok(file) => Ok(Some(Spare {
                dir: dir.to_path_buf(),
                file,
                dir_handle,
            })),
            // the kernel or file system does not support O_TMPFILE
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Links the (complete, fsynced) file under `path` (a name in this spare's
    /// directory), failing if that name exists.
    fn link(&self, path: &Path) -> io::Result<()> {
        match self.link_as(path, Linking::ByDescriptor) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPERM | libc::EACCES | libc::ENOENT | libc::EINVAL)
                ) =>
            {
                // refused (no CAP_DAC_READ_SEARCH before Linux 6.10): through /proc;
                // when /proc is missing too, the first error says more
                self.link_as(path, Linking::ViaProc).map_err(|p| {
                    if p.raw_os_error() == Some(libc::ENOENT) {
                        e
                    } else {
                        p
                    }
                })
            }
            done => done,
        }
    }

    /// One attempt to link the file as `path`, the way `how` says.
    fn link_as(&self, path: &Path, how: Linking) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let name = std::ffi::CString::new(name.as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let rc = match how {
            // The file itself, by its descriptor, into the directory, by its
            // descriptor: no path is walked. Needs CAP_DAC_READ_SEARCH (root has it)
            // on kernels before 6.10.
            // SAFETY: the name is a NUL-terminated C string that outlives the call,
            // the empty path a static one; both descriptors are ours.
            Linking::ByDescriptor => unsafe {
                libc::linkat(
                    self.file.as_raw_fd(),
                    c"".as_ptr(),
                    self.dir_handle.as_raw_fd(),
                    name.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            },
            // Following the /proc magic link links the open file (no privilege
            // needed), at the cost of walking /proc.
            Linking::ViaProc => {
                let via_proc =
                    std::ffi::CString::new(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                // SAFETY: as above.
                unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        via_proc.as_ptr(),
                        self.dir_handle.as_raw_fd(),
                        name.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                }
            }
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// How [`Spare::link`] names the file to link (tests take the fallback on purpose).
#[derive(Debug, Clone, Copy)]
enum Linking {
    /// `AT_EMPTY_PATH` on the descriptor (tried first).
    ByDescriptor,
    /// `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW`.
    ViaProc,
}

impl Clone for ReceiptStore {
    fn clone(&self) -> Self {
        Self::new(self.dir.clone())
    }
}

/// File name of receipt `sequence`.
pub fn file_name(sequence: u64) -> String {
    format!("{sequence:0width$}.json", width = NAME_DIGITS)
}

impl ReceiptStore {
    /// The store at `dir` (created on first append).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            last: std::sync::Mutex::new(None),
            spare: std::sync::Mutex::new(None),
            swept: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Makes a [`Spare`] now for the next append, unless one is ready already (call it
    /// where the process would otherwise wait: while a command runs, while a proxied
    /// call is away). Errors surface at that append.
    pub fn prepare(&self) {
        if self.spare.lock().is_ok_and(|s| s.is_some()) {
            return;
        }
        if let Ok(Some(spare)) = Spare::create(&self.dir) {
            self.give(spare);
        }
    }

    /// Keeps a [`Spare`] made elsewhere (another thread) for the next append; one made
    /// for another directory is dropped.
    pub fn give(&self, spare: Spare) {
        if spare.dir == self.dir
            && let Ok(mut slot) = self.spare.lock()
        {
            *slot = Some(spare);
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self, path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    }

    /// Appends one receipt. `build(sequence, previous)` returns the signed receipt for
    /// that place in the chain (`previous` is `None` for sequence 1); it runs while
    /// the directory is locked, so it must not block on other stores.
    /// `issuer` is the kid the receipt will be signed under; a chain of another issuer
    /// is refused.
    pub fn append<F>(&self, issuer: &str, build: F) -> Result<Appended, StoreError>
    where
        F: FnOnce(u64, Option<&str>) -> Result<Signed, String>,
    {
        // (the lock file's opening creates the directory when it is missing)
        let lock = self.lock_for_append(issuer)?;
        let tip = self.tip_locked(&lock)?;
        if let Some(t) = &tip
            && t.issuer != issuer
        {
            return Err(StoreError::ForeignIssuer {
                dir: self.dir.clone(),
                theirs: t.issuer.clone(),
                ours: issuer.into(),
            });
        }
        let sequence = tip.as_ref().map_or(1, |t| t.sequence + 1);
        let signed =
            build(sequence, tip.as_ref().map(|t| t.hash.as_str())).map_err(StoreError::Sign)?;
        let bytes = pretty(&signed)?;
        let path = self.dir.join(file_name(sequence));
        let spare = match self.spare.lock().ok().and_then(|mut s| s.take()) {
            Some(s) => Some(s),
            None => Spare::create(&self.dir)?,
        };
        match spare {
            Some(spare) => self.publish_spare(spare, &path, &bytes)?,
            None => self.publish(&path, &bytes)?,
        }
        crash_point("published");
        // the hint: not fsynced, a lost update is recovered by probing forward
        let _ = lock.write_all_at(format!("{sequence:020}\n").as_bytes(), 0);
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Tip {
                sequence,
                hash: signed.chain_hash.clone(),
                issuer: issuer.to_owned(),
            });
        }
        Ok(Appended {
            signed,
            sequence,
            path,
        })
    }

    /// The current tip (last receipt), or `None` for an empty chain. Takes the lock
    /// when the directory has one; creates nothing.
    pub fn tip(&self) -> Result<Option<Tip>, StoreError> {
        match self.existing_lock()? {
            Some(lock) => self.tip_locked(&lock),
            None => self.scan_if_present(),
        }
    }

    /// Whether an append signed by `issuer` would be refused because of what the
    /// directory holds, found without writing anything: a missing directory (it will
    /// be made) or an empty one is fine, as is a chain of `issuer`; anything else is
    /// the error the append would return. `None` stands for an issuer that does not
    /// exist yet (an operator key about to be created), which can continue no chain.
    /// Reads the whole directory when it has no lock file yet, else only the tip.
    pub fn check_appendable(&self, issuer: Option<&str>) -> Result<(), StoreError> {
        let tip = self.tip()?;
        match (tip, issuer) {
            (None, _) => Ok(()),
            (Some(t), Some(ours)) if t.issuer == ours => Ok(()),
            (Some(t), ours) => Err(StoreError::ForeignIssuer {
                dir: self.dir.clone(),
                theirs: t.issuer,
                ours: ours.unwrap_or("a new key (none exists yet)").to_owned(),
            }),
        }
    }

    /// The lock for an append. A directory without a lock file (new, or never written
    /// by gavel) is first checked without writing anything, so that one holding
    /// something other than a chain of `issuer` is refused before `.lock` would be
    /// created in it.
    fn lock_for_append(&self, issuer: &str) -> Result<File, StoreError> {
        if let Some(lock) = self.existing_lock()? {
            return Ok(lock);
        }
        self.check_appendable(Some(issuer))?;
        let path = self.dir.join(LOCK);
        crate::fsutil::lock_file(&path, 0o644).map_err(self.err(&path))
    }

    /// The directory's lock file, opened and locked; `None` when it has none (or the
    /// directory does not exist).
    fn existing_lock(&self) -> Result<Option<File>, StoreError> {
        let path = self.dir.join(LOCK);
        match crate::fsutil::lock_existing_file(&path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(StoreError::NotAChain {
                dir: self.dir.clone(),
                why: "it, or a directory above it, is a file".into(),
            }),
            Err(e) => Err(self.err(&path)(e)),
        }
    }

    /// [`ReceiptStore::scan`], with a missing directory being an empty chain.
    fn scan_if_present(&self) -> Result<Option<Tip>, StoreError> {
        match fs::symlink_metadata(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            _ => self.scan(),
        }
    }

    /// Writes `bytes` into the anonymous file, fsyncs it, links it as `path` and
    /// fsyncs the directory.
    fn publish_spare(&self, spare: Spare, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_synced(&spare.file, bytes).map_err(self.err(&self.dir))?;
        crash_point("synced");
        spare.link(path).map_err(self.err(path))?;
        spare.dir_handle.sync_all().map_err(self.err(&self.dir))?;
        // left by a writer that fell back to a named file and was killed
        if !self.swept.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let _ = fs::remove_file(self.dir.join(TMP));
        }
        Ok(())
    }

    /// Without `O_TMPFILE`: `.tmp-next` (under the lock), fsync, rename, fsync the
    /// directory.
    fn publish(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join(TMP);
        let write = || -> io::Result<()> {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
            write_synced(&f, bytes)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(self.err(&tmp)(e));
        }
        crash_point("synced");
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(self.err(path)(e));
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.err(&self.dir))
    }

    /// Finds the tip with the lock held: from the hint when it is usable, else by a scan.
    fn tip_locked(&self, lock: &File) -> Result<Option<Tip>, StoreError> {
        let mut hint = [0u8; HINT_LEN];
        let hinted = match lock.read_at(&mut hint, 0) {
            Ok(HINT_LEN) => std::str::from_utf8(&hint)
                .ok()
                .and_then(|t| t.trim_end().parse::<u64>().ok()),
            _ => None,
        };
        let cached = self.last.lock().ok().and_then(|l| l.clone());
        let mut tip = match hinted {
            Some(seq) if cached.as_ref().is_some_and(|c| c.sequence == seq) => cached,
            Some(seq) => match self.read_receipt(seq)? {
                Some(t) => Some(t),
                None => self.scan()?,
            },
            None => self.scan()?,
        };
        // a writer may have died between publishing a receipt and moving the hint
        while let Some(t) = &tip {
            match self.read_receipt(t.sequence + 1)? {
                Some(next) => tip = Some(next),
                None => break,
            }
        }
        Ok(tip)
    }

    /// Reads receipt `sequence` if its file exists, checking it is what its name says.
    fn read_receipt(&self, sequence: u64) -> Result<Option<Tip>, StoreError> {
        let path = self.dir.join(file_name(sequence));
        let mut text = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut text).map_err(self.err(&path))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(&path)(e)),
        }
        let not_chain = |why: String| StoreError::NotAChain {
            dir: self.dir.clone(),
            why,
        };
        let v = gavel_receipt::jcs::parse_strict(&text)
            .map_err(|e| not_chain(format!("{} is not a receipt ({e})", path.display())))?;
        let payload = v
            .get("payload")
            .and_then(Value::as_object)
            .ok_or_else(|| not_chain(format!("{} has no payload object", path.display())))?;
        let seq = payload.get("sequence").and_then(Value::as_u64);
        if seq != Some(sequence) {
            return Err(not_chain(format!(
                "{} holds sequence {}, not {sequence}",
                path.display(),
                seq.map_or_else(|| "none".into(), |s| s.to_string())
            )));
        }
        let issuer = payload
            .get("issuer_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let hash = receipt_hash(&v).map_err(|e| not_chain(format!("{}: {e}", path.display())))?;
        Ok(Some(Tip {
            sequence,
            hash,
            issuer,
        }))
    }

    /// Finds the highest-numbered receipt by listing the directory (no usable hint).
    fn scan(&self) -> Result<Option<Tip>, StoreError> {
        let mut max: Option<u64> = None;
        for entry in fs::read_dir(&self.dir).map_err(self.err(&self.dir))? {
            let entry = entry.map_err(self.err(&self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(StoreError::NotAChain {
                    dir: self.dir.clone(),
                    why: format!("{:?} is not a receipt file name", entry.file_name()),
                });
            };
            if name.starts_with('.') {
                continue;
            }
            let seq = name
                .strip_suffix(".json")
                .filter(|stem| {
                    stem.len() == NAME_DIGITS && stem.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|stem| stem.parse::<u64>().ok());
            match seq {
                Some(s) => max = max.max(Some(s)),
                None => {
                    return Err(StoreError::NotAChain {
                        dir: self.dir.clone(),
                        why: format!(
                            "{name:?} is not a receipt file (expected names like {})",
                            file_name(1)
                        ),
                    });
                }
            }
        }
        match max {
            None => Ok(None),
            Some(s) => self.read_receipt(s),
        }
    }
}

/// Writes the receipt (in two halves, so that tests can kill a writer in between)
/// and fsyncs it.
fn write_synced(mut f: &File, bytes: &[u8]) -> io::Result<()> {
    if cfg!(debug_assertions) {
        // two writes, so that the crash tests can kill a writer between them
        f.write_all(&bytes[..bytes.len() / 2])?;
        crash_point("half-written");
        f.write_all(&bytes[bytes.len() / 2..])?;
    } else {
        f.write_all(bytes)?;
    }
    f.sync_all()
}

/// Debug builds only: dies with SIGKILL at the named point when
/// `GAVEL_TEST_CRASH_POINT` names it, so tests can kill a writer at every step.
#[cfg(debug_assertions)]
fn crash_point(name: &str) {
    if std::env::var("GAVEL_TEST_CRASH_POINT").is_ok_and(|v| v == name) {
        // SAFETY: raise has no memory preconditions; SIGKILL ends the process here.
        unsafe {
            libc::raise(libc::SIGKILL);
        }
    }
}

#[cfg(not(debug_assertions))]
fn crash_point(_: &str) {}

/// Debug builds only: `GAVEL_TEST_NO_O_TMPFILE` makes the store take its fallback
/// path (a named temporary file), as on a file system without `O_TMPFILE`.
#[cfg(debug_assertions)]
fn no_tmpfile_for_tests() -> bool {
    std::env::var_os("GAVEL_TEST_NO_O_TMPFILE").is_some()
}

#[cfg(not(debug_assertions))]
fn no_tmpfile_for_tests() -> bool {
    false
}

fn pretty(signed: &Signed) -> Result<Vec<u8>, StoreError> {
    let mut v =
        serde_json::to_vec_pretty(&signed.envelope).map_err(|e| StoreError::Sign(e.to_string()))?;
    v.push(b'\n');
    Ok(v)
}

/// Builds a payload map from `(name, value)` pairs, skipping `None`s.
pub fn payload_of(
    members: impl IntoIterator<Item = (&'static str, Option<Value>)>,
) -> Map<String, Value> {
    members
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_receipt::keys::{OperatorKey, parse_trusted_keys, public_hex};
    use gavel_receipt::sign_payload;
    use gavel_receipt::verify::{Input, Order, Status, VerifyOptions, verify_chain};
    use serde_json::json;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn signer(k: &OperatorKey) -> impl Fn(u64, Option<&str>) -> Result<Signed, String> + '_ {
        move |seq, prev| {
            // a type of the tests' own: the store does not look at what it chains
            let p = payload_of([
                ("type", Some(json!("test:entry"))),
                ("sequence", Some(json!(seq))),
                ("previousReceiptHash", prev.map(|p| json!(p))),
            ]);
            sign_payload(p, k).map_err(|e| e.to_string())
        }
    }

    fn verify_dir(dir: &Path, k: &OperatorKey) -> gavel_receipt::ChainReport {
        let mut inputs = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_str().unwrap().starts_with('.') {
                continue;
            }
            inputs.push(Input {
                source: p.display().to_string(),
                bytes: fs::read(&p).unwrap(),
            });
        }
        let opts = VerifyOptions {
            keys: parse_trusted_keys(&public_hex(&k.verifying_key())).unwrap(),
            expected_policy_digest: None,
        };
        verify_chain(inputs, Order::BySequence, &opts, None)
    }

    #[test]
    fn appends_link_and_continue_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let k = OperatorKey::generate().unwrap();
        let a = ReceiptStore::new(dir.path())
            .append(k.kid(), signer(&k))
            .unwrap();
        assert_eq!(a.sequence, 1);
        assert!(
            !a.signed
                .envelope
                .payload
                .contains_key("previousReceiptHash")
        );
        // a new instance (a new process, in real life) continues the chain
        let b = ReceiptStore::new(dir.path())
            .append(k.kid(), signer(&k))
            .unwrap();
        assert_eq!(b.sequence, 2);
        assert_eq!(
            b.signed.envelope.payload["previousReceiptHash"],
            json!(a.signed.chain_hash)
        );
        assert_eq!(b.path, dir.path().join("000000000002.json"));
        let r = verify_dir(dir.path(), &k);
        assert_eq!((r.status, r.count), (Status::Valid, 2), "{r:#?}");
    }

    #[test]
    fn lost_or_stale_hint_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let k = OperatorKey::generate().unwrap();
        let s = ReceiptStore::new(dir.path());
        for _ in 0..3 {
            s.append(k.kid(), signer(&k)).unwrap();
        }
        let hint = |text: &str| fs::write(dir.path().join(LOCK), text).unwrap();
        // a writer that died before updating the hint
        hint(&format!("{:020}\n", 1));
        assert_eq!(s.append(k.kid(), signer(&k)).unwrap().sequence, 4);
        // no hint at all
        hint("");
        assert_eq!(s.append(k.kid(), signer(&k)).unwrap().sequence, 5);
        // garbage hint, hint pointing past the end
        hint("garbage, garbage, garbage");
        assert_eq!(s.append(k.kid(), signer(&k)).unwrap().sequence, 6);
        hint(&format!("{:020}\n", 99));
        assert_eq!(s.append(k.kid(), signer(&k)).unwrap().sequence, 7);
        // a half-written temporary file from a killed writer (of another process) is
        // ignored, and the next process's first append removes it
        fs::write(dir.path().join(TMP), "{\"payl").unwrap();
        let next_process = ReceiptStore::new(dir.path());
        assert_eq!(
            next_process.append(k.kid(), signer(&k)).unwrap().sequence,
            8
        );
        assert!(!dir.path().join(TMP).exists());
        assert_eq!(verify_dir(dir.path(), &k).status, Status::Valid);
    }

    #[test]
    fn refuses_what_is_not_a_chain_and_writes_nothing() {
        let k = OperatorKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "hello").unwrap();
        let e = ReceiptStore::new(dir.path())
            .append(k.kid(), signer(&k))
            .unwrap_err();
        assert!(matches!(e, StoreError::NotAChain { .. }), "{e}");
        assert!(!dir.path().join(file_name(1)).exists());

        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(file_name(1)), "[1,2]").unwrap();
        let e = ReceiptStore::new(dir.path())
            .append(k.kid(), signer(&k))
            .unwrap_err();
        assert!(matches!(e, StoreError::NotAChain { .. }), "{e}");
        assert!(!dir.path().join(file_name(2)).exists());

        let dir = tempfile::tempdir().unwrap();
        let s = ReceiptStore::new(dir.path());
        s.append(k.kid(), signer(&k)).unwrap();
        fs::rename(dir.path().join(file_name(1)), dir.path().join(file_name(5))).unwrap();
        fs::write(dir.path().join(LOCK), "").unwrap();
        let e = s.append(k.kid(), signer(&k)).unwrap_err();
        assert!(e.to_string().contains("holds sequence 1, not 5"), "{e}");
    }

    #[test]
    fn refuses_a_chain_of_another_issuer() {
        let dir = tempfile::tempdir().unwrap();
        let a = OperatorKey::generate().unwrap();
        let b = OperatorKey::generate().unwrap();
        let s = ReceiptStore::new(dir.path());
        s.append(a.kid(), signer(&a)).unwrap();
        let e = s.append(b.kid(), signer(&b)).unwrap_err();
        assert!(matches!(e, StoreError::ForeignIssuer { .. }), "{e}");
        assert!(!dir.path().join(file_name(2)).exists());
    }

    #[test]
    fn what_is_not_a_chain_of_ours_is_refused_before_anything_is_created() {
        let k = OperatorKey::generate().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let names = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        // a directory of other things: no lock file is left in it
        let foreign = tmp.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("notes.txt"), b"x").unwrap();
        let s = ReceiptStore::new(&foreign);
        assert!(matches!(s.tip(), Err(StoreError::NotAChain { .. })));
        assert!(matches!(
            s.check_appendable(Some(k.kid())),
            Err(StoreError::NotAChain { .. })
        ));
        assert!(matches!(
            s.append(k.kid(), signer(&k)),
            Err(StoreError::NotAChain { .. })
        ));
        assert_eq!(names(&foreign), ["notes.txt"]);
        // a file where the directory should be
        let file = tmp.path().join("afile");
        fs::write(&file, b"x").unwrap();
        let s = ReceiptStore::new(&file);
        assert!(matches!(
            s.append(k.kid(), signer(&k)),
            Err(StoreError::NotAChain { .. })
        ));
        // a missing directory is an empty chain, and looking at it creates nothing
        let missing = tmp.path().join("missing");
        let s = ReceiptStore::new(&missing);
        assert_eq!(s.tip().unwrap(), None);
        s.check_appendable(None).unwrap();
        assert!(!missing.exists());
        // a chain (here without its lock file, as when copied): continued only by its
        // own issuer, and neither a foreign key nor a key yet to be made leaves a trace
        s.append(k.kid(), signer(&k)).unwrap();
        fs::remove_file(missing.join(LOCK)).unwrap();
        let other = OperatorKey::generate().unwrap();
        let fresh = ReceiptStore::new(&missing);
        for issuer in [Some(other.kid()), None] {
            assert!(matches!(
                fresh.check_appendable(issuer),
                Err(StoreError::ForeignIssuer { .. })
            ));
        }
        assert!(matches!(
            fresh.append(other.kid(), signer(&other)),
            Err(StoreError::ForeignIssuer { .. })
        ));
        assert_eq!(names(&missing), [file_name(1)]);
        fresh.check_appendable(Some(k.kid())).unwrap();
        assert_eq!(fresh.append(k.kid(), signer(&k)).unwrap().sequence, 2);
    }

    #[test]
    fn a_failing_build_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let k = OperatorKey::generate().unwrap();
        let s = ReceiptStore::new(dir.path());
        s.append(k.kid(), signer(&k)).unwrap();
        let e = s.append(k.kid(), |_, _| Err("no".into())).unwrap_err();
        assert!(matches!(e, StoreError::Sign(_)));
        assert_eq!(s.tip().unwrap().unwrap().sequence, 1);
    }

    #[test]
    fn threads_appending_at_once_make_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let k = OperatorKey::generate().unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    // a store per thread: each opens its own lock fd, like a process
                    let s = ReceiptStore::new(dir.path());
                    for _ in 0..25 {
                        s.append(k.kid(), signer(&k)).unwrap();
                    }
                });
            }
        });
        let r = verify_dir(dir.path(), &k);
        assert_eq!(
            (r.status, r.count, r.last_sequence),
            (Status::Valid, 100, Some(100)),
            "{r:#?}"
        );
    }

    #[test]
    fn spares_made_ahead_are_used_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let k = OperatorKey::generate().unwrap();
        let s = ReceiptStore::new(dir.path().join("r"));
        // none before the directory exists: making a spare writes nothing
        assert!(Spare::create(s.dir()).is_err());
        assert!(!s.dir().exists());
        fs::create_dir(s.dir()).unwrap();
        // made on another thread (as gavel exec does while the policy loads)
        let spare = std::thread::spawn({
            let d = s.dir().to_path_buf();
            move || {
                Spare::create(&d)
                    .unwrap()
                    .expect("O_TMPFILE on this file system")
            }
        })
        .join()
        .unwrap();
        s.give(spare);
        assert!(s.spare.lock().unwrap().is_some());
        let a = s.append(k.kid(), signer(&k)).unwrap();
        assert!(s.spare.lock().unwrap().is_none(), "the spare was not used");
        // made in place (as while a command runs); preparing again keeps the one ready
        s.prepare();
        let inode = |s: &ReceiptStore| {
            let slot = s.spare.lock().unwrap();
            slot.as_ref().map(|sp| sp.file.metadata().unwrap().ino())
        };
        let first = inode(&s).expect("a spare");
        s.prepare();
        assert_eq!(
            inode(&s),
            Some(first),
            "a second prepare replaced the spare"
        );
        let b = s.append(k.kid(), signer(&k)).unwrap();
        assert!(s.spare.lock().unwrap().is_none(), "the spare was not used");
        // a spare for another directory is not taken
        let other = tempfile::tempdir().unwrap();
        s.give(Spare::create(other.path()).unwrap().unwrap());
        assert!(s.spare.lock().unwrap().is_none());
        s.append(k.kid(), signer(&k)).unwrap();
        // a spare never used leaves no file
        s.prepare();
        drop(s);
        let names: Vec<_> = fs::read_dir(dir.path().join("r"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            names,
            [
                ".lock",
                "000000000001.json",
                "000000000002.json",
                "000000000003.json"
            ]
        );
        assert_eq!(fs::read(&a.path).unwrap(), pretty(&a.signed).unwrap());
        assert_eq!(fs::read(&b.path).unwrap(), pretty(&b.signed).unwrap());
        let mode = fs::metadata(&b.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "receipt mode {mode:o}");
        let r = verify_dir(&dir.path().join("r"), &k);
        assert_eq!((r.status, r.count), (Status::Valid, 3), "{r:#?}");
    }

    #[test]
    fn a_spare_never_replaces_an_existing_file() {
        for how in [Linking::ByDescriptor, Linking::ViaProc] {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join(file_name(1));
            fs::write(&target, "theirs").unwrap();
            let mut spare = Spare::create(dir.path()).unwrap().unwrap();
            spare.file.write_all(b"ours").unwrap();
            let e = spare.link_as(&target, how).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{how:?}: {e}");
            assert_eq!(fs::read(&target).unwrap(), b"theirs", "{how:?}");
        }
    }

    #[test]
    fn both_ways_of_linking_publish_the_whole_file_once() {
        for how in [Linking::ByDescriptor, Linking::ViaProc] {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join(file_name(7));
            let mut spare = Spare::create(dir.path()).unwrap().unwrap();
            spare.file.write_all(b"receipt").unwrap();
            spare.link_as(&target, how).unwrap();
            assert_eq!(fs::read(&target).unwrap(), b"receipt", "{how:?}");
            assert_eq!(fs::metadata(&target).unwrap().nlink(), 1, "{how:?}");
            let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(names.len(), 1, "{how:?}: only the receipt");
        }
    }
}
