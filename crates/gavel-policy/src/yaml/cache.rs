//! Loaded YAML rule sets kept between processes.
//!
//! `gavel exec`, `check-policy` and the hooks load the policy in every process, and
//! loading YAML rules is most of a millisecond's budget spent again and again on the
//! same bytes (parsing, PyYAML's scalar resolution, checking and translating every
//! pattern: about 0.2 ms in a fresh process for the example policy). A rule set that
//! loaded is therefore written to the cache directory, and a later load of the very
//! same files reads it back instead.
//!
//! What makes a cache entry safe to use:
//! - **Exactly the same input.** An entry is found by its key: SHA-256 over a format
//!   tag, the build id of this crate (its sources, the locked dependency versions and
//!   the compiler, see `build.rs`) and every file's name and bytes, in load order.
//!   Any changed byte, added or removed file, or other build is another key.
//! - **Written by the key's holder.** Each entry carries an HMAC-SHA256 over the key
//!   and its body, keyed by a secret derived from the operator's private key
//!   ([`gavel_receipt::keys::OperatorKey::derive_secret`]). An entry that does not
//!   verify is ignored, and nothing of it is parsed before it verifies.
//! - **Only what loading produced.** The body holds the sorted rules as the loader
//!   built them (name, field, operator, value, action, priority, message, the pattern's
//!   translation and its prefix literals); the index is built from them as after a
//!   full load. Loading a policy whose entry is missing, unreadable, unverifiable or
//!   malformed does the full load, exactly as without a cache, and rewrites the entry.
//! - **The digest does not come from it.** The policy digest in receipts is always
//!   computed from the files themselves.
//!
//! Writing is best effort (a temporary file renamed into place, mode 0600, in a 0700
//! directory): a cache that cannot be written costs the next process a full load,
//! nothing else. The directory keeps the [`KEEP`] most recently written entries.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::pyregex::Translated;
use super::pyvalue::PyValue;
use super::{Operator, Rule};

/// Entries kept in the directory.
pub const KEEP: usize = 16;
const FORMAT: &str = "gavel-yaml-rules-cache-v1";
const BUILD_ID: &str = env!("GAVEL_POLICY_BUILD_ID");

type HmacSha256 = hmac::Hmac<Sha256>;

/// Where loaded rule sets are cached, and the secret that authenticates them.
pub struct RuleCache {
    dir: PathBuf,
    secret: zeroize::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for RuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl RuleCache {
    /// A cache in `dir` (created when first written), authenticated with `secret`
    /// (for gavel: the operator key's `derive_secret("gavel policy cache v1")`).
    pub fn new(dir: impl Into<PathBuf>, secret: &[u8; 32]) -> Self {
        Self {
            dir: dir.into(),
            secret: zeroize::Zeroizing::new(*secret),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An entry's file name: the MAC of its key, so that the entries of different
    /// operator keys sharing a state directory never take each other's place.
    fn file_name(&self, key: &[u8; 32]) -> String {
        let mut mac = self.mac();
        mac.update(b"name");
        mac.update(key);
        format!("{}.rules", encode_hex(&mac.finalize().into_bytes()))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length
        <HmacSha256 as KeyInit>::new_from_slice(self.secret.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"))
    }

    /// The rules cached for exactly these files, if a valid entry exists.
    #[cfg(test)]
    pub(crate) fn get(&self, files: &[crate::SourceFile<'_>]) -> Option<Vec<Rule>> {
        self.get_keyed(&key_of(files))
    }

    /// Stores the rules loaded from these files; failures are ignored.
    #[cfg(test)]
    pub(crate) fn put(&self, files: &[crate::SourceFile<'_>], rules: &[Rule]) {
        self.put_keyed(&key_of(files), rules);
    }

    /// The rules cached for the files whose [`key_of`] is `key`, if a valid entry exists.
    pub(crate) fn get_keyed(&self, key: &[u8; 32]) -> Option<Vec<Rule>> {
        let bytes = read_capped(&self.dir.join(self.file_name(key)))?;
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        let (tag, body) = (&bytes[..newline], &bytes[newline + 1..]);
        let tag = decode_hex(tag)?;
        let mut mac = self.mac();
        mac.update(key);
        mac.update(body);
        mac.verify_slice(&tag).ok()?;
        let entry: Entry = serde_json::from_slice(body).ok()?;
        entry.rules.into_iter().map(CachedRule::into_rule).collect()
    }

    /// Stores the rules loaded from the files whose [`key_of`] is `key`; failures are
    /// ignored.
    pub(crate) fn put_keyed(&self, key: &[u8; 32], rules: &[Rule]) {
        let _ = self.try_put(key, rules);
    }

    fn try_put(&self, key: &[u8; 32], rules: &[Rule]) -> std::io::Result<()> {
        let entry = Entry {
            rules: rules.iter().map(CachedRule::from_rule).collect(),
        };
        let body = serde_json::to_vec(&entry)?;
        let mut mac = self.mac();
        mac.update(key);
        mac.update(&body);
        let tag = encode_hex(&mac.finalize().into_bytes());
        let name = self.file_name(key);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            encode_hex(&key[..4])
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?; // O_CREAT|O_EXCL: never through a symlink
        let written = f
            .write_all(tag.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.write_all(&body))
            .and_then(|()| std::fs::rename(&tmp, self.dir.join(&name)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.prune(&name);
        Ok(())
    }

    /// Keeps the [`KEEP`] most recently written entries, `newest` (just written) among
    /// them whatever the file times say (they can be coarser than a burst of writes).
    fn prune(&self, newest: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".rules") && name != newest
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if found.len() < KEEP {
            return;
        }
        found.sort();
        for (_, p) in &found[..found.len() + 1 - KEEP] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// SHA-256 over the format, the build and every file (name and bytes, each
/// length-prefixed), in load order.
pub(crate) fn key_of(files: &[crate::SourceFile<'_>]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [FORMAT.as_bytes(), BUILD_ID.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    for (name, _, bytes) in files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().into()
}

/// The largest entry read (a rule set of a few thousand rules is a few MiB).
const MAX_ENTRY: u64 = 64 << 20;

/// The file's bytes, unless it is missing, unreadable or larger than [`MAX_ENTRY`].
fn read_capped(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    // sized from the file's length: one read instead of one per doubling of the buffer
    let len = f.metadata().ok()?.len();
    if len > MAX_ENTRY {
        return None;
    }
    let mut bytes = Vec::with_capacity(len as usize + 1);
    f.take(MAX_ENTRY + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_ENTRY).then_some(bytes)
}

fn encode_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn decode_hex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Entry {
    rules: Vec<CachedRule>,
}

#[derive(Serialize, Deserialize)]
struct CachedRule {
    name: String,
    field: Option<String>,
    operator: Operator,
    value: PyValue,
    allow: bool,
    priority: i64,
    reason: String,
    text: String,
    regex: Option<CachedPattern>,
}

#[derive(Serialize, Deserialize)]
struct CachedPattern {
    rust: String,
    empty_rust: Option<String>,
    needles: Option<Vec<Vec<u8>>>,
}

impl CachedRule {
    fn from_rule(r: &Rule) -> Self {
        CachedRule {
            name: r.name.clone(),
            field: r.field.clone(),
            operator: r.operator,
            value: r.value.clone(),
            allow: r.allow,
            priority: r.priority,
            reason: r.reason.clone(),
            text: r.text.clone(),
            regex: r.regex.as_ref().map(|t| {
                let (rust, empty_rust, needles) = t.parts();
                CachedPattern {
                    rust: rust.to_owned(),
                    empty_rust: empty_rust.map(str::to_owned),
                    needles: needles.map(<[Vec<u8>]>::to_vec),
                }
            }),
        }
    }

    /// The rule; `None` when the entry is inconsistent (a `matches` rule without its
    /// pattern or the reverse), which makes the whole entry unusable.
    fn into_rule(self) -> Option<Rule> {
        if (self.operator == Operator::Matches) != self.regex.is_some() {
            return None;
        }
        Some(Rule {
            name: self.name,
            field: self.field,
            operator: self.operator,
            value: self.value,
            allow: self.allow,
            priority: self.priority,
            reason: self.reason,
            text: self.text,
            regex: self
                .regex
                .map(|p| Arc::new(Translated::from_parts(p.rust, p.empty_rust, p.needles))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::YamlRules;
    use serde_json::{Map, json};

    const POLICY: &str = r#"
rules:
  - name: deny-rm
    condition: {field: command, operator: matches, value: 'rm\s+-rf\b'}
    action: deny
    priority: 100
    message: no recursive deletes
  - name: allow-git
    condition: {field: command, operator: starts_with, value: "git "}
    action: allow
    priority: 50
  - name: allow-read
    condition: {field: action, operator: in, value: [file_read, "shell:cat", 3, 2.5, null, {a: [1]}]}
    action: allow
  - name: word-boundary
    condition: {field: path, operator: matches, value: '\Bx'}
    action: allow
    priority: -1
"#;

    fn files(text: &str) -> Vec<crate::SourceFile<'static>> {
        vec![(
            "p.yaml".to_owned(),
            Path::new("p.yaml"),
            text.as_bytes().to_vec(),
        )]
    }

    fn full(text: &str) -> Vec<Rule> {
        let f = files(text);
        let mut rules = Vec::new();
        crate::yaml::load_file(Path::new("p.yaml"), &f[0].2, &mut rules).unwrap();
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        rules
    }

    fn as_json(rules: &[Rule]) -> serde_json::Value {
        serde_json::to_value(rules.iter().map(CachedRule::from_rule).collect::<Vec<_>>()).unwrap()
    }

    fn entry_path(c: &RuleCache, text: &str) -> PathBuf {
        c.dir().join(c.file_name(&key_of(&files(text))))
    }

    #[test]
    fn an_entry_reads_back_as_the_rules_that_were_stored() {
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        let rules = full(POLICY);
        assert!(c.get(&files(POLICY)).is_none(), "nothing stored yet");
        c.put(&files(POLICY), &rules);
        let back = c.get(&files(POLICY)).expect("the entry");
        assert_eq!(as_json(&back), as_json(&rules));
        // and it is a pattern translation that works: the empty-target variant too
        let wb = back.iter().find(|r| r.name == "word-boundary").unwrap();
        let t = wb.regex.as_ref().unwrap();
        assert_eq!(t.search(""), Ok(false));
        assert_eq!(t.search("ax"), Ok(true));
        let rm = back.iter().find(|r| r.name == "deny-rm").unwrap();
        assert_eq!(
            rm.regex.as_ref().unwrap().search("sudo rm  -rf /"),
            Ok(true)
        );
        // modes: a private directory, a private file
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(c.dir()), 0o700);
        assert_eq!(mode(&entry_path(&c, POLICY)), 0o600);
    }

    #[test]
    fn an_entry_is_used_only_when_everything_matches() {
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        c.put(&files(POLICY), &full(POLICY));
        // another secret (another operator key)
        assert!(
            RuleCache::new(c.dir(), &[2; 32])
                .get(&files(POLICY))
                .is_none()
        );
        // other bytes, another name
        let other = POLICY.replace("priority: 50", "priority: 51");
        assert!(c.get(&files(&other)).is_none());
        let mut renamed = files(POLICY);
        renamed[0].0 = "q.yaml".into();
        assert!(c.get(&renamed).is_none());
        // the entry's file, changed in each part
        let path = entry_path(&c, POLICY);
        let good = std::fs::read(&path).unwrap();
        let text = String::from_utf8(good.clone()).unwrap();
        let (tag, body) = text.split_once('\n').unwrap();
        let flip = |s: &str, i: usize| {
            let mut b = s.as_bytes().to_vec();
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            String::from_utf8(b).unwrap()
        };
        let tampered = [
            format!(
                "{tag}\n{}",
                body.replace("\"allow\":false", "\"allow\":true")
            ),
            format!("{}\n{body}", flip(tag, 5)),
            format!("{tag}\n{body} "),
            format!("{tag}{body}"),
            format!("{}\n{body}", &tag[..tag.len() - 2]),
            String::new(),
            "\n".into(),
        ];
        for t in tampered {
            std::fs::write(&path, &t).unwrap();
            assert!(
                c.get(&files(POLICY)).is_none(),
                "used a tampered entry: {t:.60}"
            );
        }
        std::fs::write(&path, &good).unwrap();
        assert!(c.get(&files(POLICY)).is_some(), "the original again");
    }

    #[test]
    fn numbers_come_back_bit_for_bit() {
        // values where a JSON float or integer round trip could lose something
        let text = "rules:\n  - name: n\n    condition: {field: x, operator: in, value: [0.1, -0.0, 4.9e-324, 2.2250738585072009e-308, 1.7976931348623157e+308, 0.30000000000000004, 9007199254740993, 170141183460469231731687303715884105727, -170141183460469231731687303715884105727, 123456789.12345679]}\n    action: allow\n";
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        let rules = full(text);
        c.put(&files(text), &rules);
        let back = c.get(&files(text)).expect("the entry");
        let (PyValue::List(a), PyValue::List(b)) = (&rules[0].value, &back[0].value) else {
            panic!("lists expected: {:?}", rules[0].value);
        };
        assert_eq!(a.len(), 10);
        for (x, y) in a.iter().zip(b) {
            match (x, y) {
                (PyValue::Float(x), PyValue::Float(y)) => assert_eq!(x.to_bits(), y.to_bits()),
                (PyValue::Int(x), PyValue::Int(y)) => assert_eq!(x, y),
                other => panic!("type changed: {other:?}"),
            }
        }
        assert!(matches!(a[1], PyValue::Float(z) if z.is_sign_negative()));
        assert!(matches!(a[7], PyValue::Int(i128::MAX)));
    }

    #[test]
    fn two_operator_keys_keep_their_own_entries() {
        let dir = tempfile::tempdir().unwrap();
        let a = RuleCache::new(dir.path().join("c"), &[1; 32]);
        let b = RuleCache::new(dir.path().join("c"), &[2; 32]);
        a.put(&files(POLICY), &full(POLICY));
        b.put(&files(POLICY), &full(POLICY));
        assert_ne!(entry_path(&a, POLICY), entry_path(&b, POLICY));
        assert!(a.get(&files(POLICY)).is_some());
        assert!(b.get(&files(POLICY)).is_some());
        // an entry larger than any rule set is not even read
        std::fs::write(entry_path(&a, POLICY), vec![b'0'; (MAX_ENTRY + 1) as usize]).unwrap();
        assert!(a.get(&files(POLICY)).is_none());
    }

    #[test]
    fn a_verified_but_inconsistent_entry_is_not_used() {
        // only the key's holder can write one; still, a `matches` rule without its
        // translation (or the reverse) makes the whole entry unusable
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        let mut entry = serde_json::to_value(Entry {
            rules: full(POLICY).iter().map(CachedRule::from_rule).collect(),
        })
        .unwrap();
        entry["rules"][0]["regex"] = serde_json::Value::Null;
        let body = serde_json::to_vec(&entry).unwrap();
        let key = key_of(&files(POLICY));
        let mut mac = c.mac();
        mac.update(&key);
        mac.update(&body);
        let tag = encode_hex(&mac.finalize().into_bytes());
        std::fs::create_dir_all(c.dir()).unwrap();
        let mut bytes = tag.into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        std::fs::write(entry_path(&c, POLICY), bytes).unwrap();
        assert!(c.get(&files(POLICY)).is_none());
    }

    #[test]
    fn loading_past_a_bad_entry_decides_from_the_files_and_repairs_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        let f = files(POLICY);
        YamlRules::load_cached(&f, Some(&c)).unwrap();
        let path = entry_path(&c, POLICY);
        let good = std::fs::read(&path).unwrap();
        // an attacker without the key turns the deny into an allow
        let evil = String::from_utf8(good.clone()).unwrap().replacen(
            "\"allow\":false",
            "\"allow\":true",
            1,
        );
        std::fs::write(&path, evil).unwrap();
        let rules = YamlRules::load_cached(&f, Some(&c)).unwrap();
        let ctx: Map<String, serde_json::Value> =
            json!({"command": "rm -rf /"}).as_object().unwrap().clone();
        let v = rules.evaluate("shell:rm", &ctx);
        assert!(
            !v.allowed,
            "the files' deny, not the tampered entry's allow"
        );
        assert_eq!(v.policy_name.as_deref(), Some("deny-rm"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "rewritten from the files"
        );
    }

    #[test]
    fn the_directory_keeps_the_latest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let c = RuleCache::new(dir.path().join("c"), &[1; 32]);
        for i in 0..KEEP + 5 {
            let text = POLICY.replace("priority: 50", &format!("priority: {}", 1000 + i));
            c.put(&files(&text), &full(&text));
            // distinct times, in writing order (file times can be coarser than this loop)
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(entry_path(&c, &text))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let names: Vec<String> = std::fs::read_dir(c.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), KEEP, "{names:?}");
        assert!(
            names.iter().all(|n| n.ends_with(".rules")),
            "no temporary files left"
        );
        let last = POLICY.replace("priority: 50", &format!("priority: {}", 1000 + KEEP + 4));
        assert!(c.get(&files(&last)).is_some(), "the newest is kept");
    }
}
