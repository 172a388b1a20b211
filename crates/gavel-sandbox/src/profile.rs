//! Sandbox profiles: the YAML shape of sandbox.md, the built-in profiles, and their
//! resolution into absolute, existing, canonical paths.
//!
//! Rules (decisions where the spec is silent are marked *decision*):
//! - every path is resolved against the base directory, lexically normalized, then
//!   canonicalized (symlinks resolved: the canonical path is what Landlock enforces);
//!   a path that does not exist is an error naming it;
//! - a relative entry that leaves the base directory, lexically (`../..`) or through a
//!   symlink, is an error (*decision*: the symlink case too); absolute entries may name
//!   anything;
//! - *decision*: `write` implies `read` on the same paths (opening `O_RDWR`, `mkstemp`
//!   and editors need both) and `exec` implies `read` (the loader reads what it maps);
//! - *decision*: device nodes can never be created (`mknod` of block/char devices is not
//!   granted by `write`), so root inside the sandbox cannot make a raw-disk node;
//! - *decision*: a profile whose `env.allow` or `env.set` names a loader or interpreter
//!   injection variable ([`is_forbidden_env`]) is refused at load, rather than stripped
//!   silently at run time; `env.allow` holds exact names (no globs);
//! - *decision*: built-in profiles list candidate system paths and skip those absent on
//!   this machine (e.g. `/lib32`); YAML profiles never skip.

use crate::error::SandboxError;
use crate::resolve::Resolver;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// `network:` of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// No network: TCP bind/connect refused by Landlock, other sockets by seccomp.
    Deny,
    /// Unrestricted network.
    Allow,
    /// TCP restricted to these ports (Landlock ABI 4+); other sockets as for `Deny`.
    Ports {
        /// Ports that `connect` may reach.
        connect_tcp: BTreeSet<u16>,
        /// Ports that `bind` may use.
        bind_tcp: BTreeSet<u16>,
    },
}

impl Network {
    /// Whether the network is restricted at all.
    pub fn is_restricted(&self) -> bool {
        !matches!(self, Network::Allow)
    }

    fn to_json(&self) -> Value {
        match self {
            Network::Deny => json!("deny"),
            Network::Allow => json!("allow"),
            Network::Ports {
                connect_tcp,
                bind_tcp,
            } => json!({"connect_tcp": connect_tcp, "bind_tcp": bind_tcp}),
        }
    }
}

/// `syscalls:` of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyscallMode {
    /// A deny-list of dangerous system calls.
    Default,
    /// An allow-list of the system calls ordinary programs need.
    Strict,
}

impl SyscallMode {
    /// `"default"` or `"strict"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyscallMode::Default => "default",
            SyscallMode::Strict => "strict",
        }
    }
}

/// A resolved profile: absolute canonical existing paths, validated environment rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    origin: String,
    read: BTreeSet<PathBuf>,
    write: BTreeSet<PathBuf>,
    exec: BTreeSet<PathBuf>,
    network: Network,
    syscalls: SyscallMode,
    env_allow: BTreeSet<String>,
    env_set: BTreeMap<String, String>,
    /// Whether each listed path is a directory (recorded at load; not digested).
    dirs: BTreeSet<PathBuf>,
}

/// `path` made absolute with its nearest existing ancestor canonicalized.
fn canonical_even_if_missing(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = absolute.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                cur = parent;
            }
            _ => return absolute,
        }
    }
}

/// Largest profile file read (a profile is a few hundred bytes).
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Exact names that never reach a confined command.
const FORBIDDEN_ENV: &[&str] = &[
    // shells
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    // glibc
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCPATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    // interpreters
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONWARNINGS",
    "PYTHONBREAKPOINT",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "LUA_INIT",
    // tools that run a command named by a variable
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_CONFIG_PARAMETERS",
];

/// Prefixes of names that never reach a confined command: the dynamic loader's
/// (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...), macOS's, and bash exported functions.
const FORBIDDEN_ENV_PREFIXES: &[&str] = &["LD_", "DYLD_", "BASH_FUNC_"];

/// Whether `name` is a loader/interpreter injection variable that gavel never passes.
pub fn is_forbidden_env(name: &str) -> bool {
    FORBIDDEN_ENV.contains(&name) || FORBIDDEN_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    filesystem: RawFilesystem,
    #[serde(default)]
    network: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    syscalls: Option<SyscallMode>,
    #[serde(default)]
    env: RawEnv,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFilesystem {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    exec: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

fn invalid(origin: &str, message: impl Into<String>) -> SandboxError {
    SandboxError::ProfileInvalid {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

fn parse_network(
    origin: &str,
    value: Option<serde_yaml_ng::Value>,
) -> Result<Network, SandboxError> {
    use serde_yaml_ng::Value as Y;
    let Some(value) = value else {
        return Ok(Network::Deny);
    };
    match value {
        Y::String(s) if s == "deny" => Ok(Network::Deny),
        Y::String(s) if s == "allow" => Ok(Network::Allow),
        Y::Mapping(map) => {
            let mut connect_tcp = BTreeSet::new();
            let mut bind_tcp = BTreeSet::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => {
                        return Err(invalid(
                            origin,
                            format!("network: unexpected key {other:?}"),
                        ));
                    }
                };
                let target = match key.as_str() {
                    "connect_tcp" => &mut connect_tcp,
                    "bind_tcp" => &mut bind_tcp,
                    _ => {
                        return Err(invalid(
                            origin,
                            format!(
                                "network: unknown key `{key}`, expected one of `connect_tcp`, `bind_tcp`"
                            ),
                        ));
                    }
                };
                let Y::Sequence(items) = v else {
                    return Err(invalid(
                        origin,
                        format!("network.{key}: expected a list of TCP ports"),
                    ));
                };
                for item in items {
                    let port = item
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .filter(|p| *p != 0)
                        .ok_or_else(|| {
                            invalid(
                                origin,
                                format!("network.{key}: {item:?} is not a port in 1..65535"),
                            )
                        })?;
                    target.insert(port);
                }
            }
            Ok(Network::Ports {
                connect_tcp,
                bind_tcp,
            })
        }
        other => Err(invalid(
            origin,
            format!(
                "network: expected `deny`, `allow` or {{connect_tcp: [..], bind_tcp: [..]}}, found {other:?}"
            ),
        )),
    }
}

/// Lexical normalization: removes `.` and resolves `..` against the preceding
/// components (never above the root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

fn canonical_base(
    origin: &str,
    base_dir: &Path,
    resolver: &mut Resolver,
) -> Result<PathBuf, SandboxError> {
    let base = if base_dir.is_absolute() {
        base_dir.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|e| SandboxError::PathUnusable {
            origin: origin.to_owned(),
            field: "base_dir",
            entry: base_dir.display().to_string(),
            reason: format!("the current directory is unknown: {e}"),
        })?;
        cwd.join(base_dir)
    };
    resolver
        .canonicalize(&base)
        .map_err(|e| SandboxError::PathUnusable {
            origin: origin.to_owned(),
            field: "base_dir",
            entry: base_dir.display().to_string(),
            reason: e.to_string(),
        })
}

fn resolve_entry(
    origin: &str,
    field: &'static str,
    entry: &str,
    base: &Path,
    resolver: &mut Resolver,
) -> Result<PathBuf, SandboxError> {
    if entry.is_empty() {
        return Err(SandboxError::PathUnusable {
            origin: origin.to_owned(),
            field,
            entry: entry.to_owned(),
            reason: "empty path".into(),
        });
    }
    let raw = Path::new(entry);
    let relative = !raw.is_absolute();
    let lexical = normalize(&base.join(raw));
    if relative && !lexical.starts_with(base) {
        return Err(SandboxError::PathEscapes {
            origin: origin.to_owned(),
            field,
            entry: entry.to_owned(),
            base: base.display().to_string(),
            how: "lexically",
        });
    }
    let canonical = match resolver.canonicalize(&lexical) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SandboxError::PathMissing {
                origin: origin.to_owned(),
                field,
                entry: entry.to_owned(),
                resolved: lexical.display().to_string(),
            });
        }
        Err(e) => {
            return Err(SandboxError::PathUnusable {
                origin: origin.to_owned(),
                field,
                entry: entry.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    if relative && !canonical.starts_with(base) {
        return Err(SandboxError::PathEscapes {
            origin: origin.to_owned(),
            field,
            entry: entry.to_owned(),
            base: base.display().to_string(),
            how: "through a symlink",
        });
    }
    if canonical.to_str().is_none() {
        return Err(SandboxError::PathUnusable {
            origin: origin.to_owned(),
            field,
            entry: entry.to_owned(),
            reason: "the resolved path is not UTF-8".into(),
        });
    }
    Ok(canonical)
}

fn check_env_name(origin: &str, field: &'static str, name: &str) -> Result<(), SandboxError> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(invalid(
            origin,
            format!("{field}: {name:?} is not a valid environment variable name"),
        ));
    }
    if is_forbidden_env(name) {
        return Err(SandboxError::ForbiddenEnv {
            origin: origin.to_owned(),
            field,
            name: name.to_owned(),
        });
    }
    Ok(())
}

struct Spec<'a> {
    read: &'a [String],
    write: &'a [String],
    exec: &'a [String],
    network: Network,
    syscalls: SyscallMode,
    env_allow: &'a [String],
    env_set: &'a BTreeMap<String, String>,
    skip_missing: bool,
}

/// What the built-in profiles read of "the system" (paths this machine lacks are
/// skipped by them).
pub const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/proc",
    "/sys",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];
/// Where the built-in profiles let programs be executed from.
pub const SYSTEM_EXEC: &[&str] = &[
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
];

impl Profile {
    fn build(origin: String, base_dir: &Path, spec: Spec<'_>) -> Result<Profile, SandboxError> {
        let mut resolver = Resolver::new();
        let base = canonical_base(&origin, base_dir, &mut resolver)?;
        let mut resolve =
            |field: &'static str, entries: &[String]| -> Result<BTreeSet<PathBuf>, SandboxError> {
                let mut out = BTreeSet::new();
                for e in entries {
                    match resolve_entry(&origin, field, e, &base, &mut resolver) {
                        Ok(p) => {
                            out.insert(p);
                        }
                        Err(SandboxError::PathMissing { .. }) if spec.skip_missing => {}
                        Err(err) => return Err(err),
                    }
                }
                Ok(out)
            };
        let read = resolve("filesystem.read", spec.read)?;
        let write = resolve("filesystem.write", spec.write)?;
        let exec = resolve("filesystem.exec", spec.exec)?;
        let dirs = read
            .iter()
            .chain(&write)
            .chain(&exec)
            .filter(|p| resolver.is_dir(p))
            .cloned()
            .collect();
        let mut env_allow = BTreeSet::new();
        for name in spec.env_allow {
            check_env_name(&origin, "env.allow", name)?;
            env_allow.insert(name.clone());
        }
        for (name, value) in spec.env_set {
            check_env_name(&origin, "env.set", name)?;
            if value.contains('\0') {
                return Err(invalid(
                    &origin,
                    format!("env.set.{name}: the value contains a NUL byte"),
                ));
            }
        }
        Ok(Profile {
            origin,
            read,
            write,
            exec,
            network: spec.network,
            syscalls: spec.syscalls,
            env_allow,
            env_set: spec.env_set.clone(),
            dirs,
        })
    }

    /// Loads a YAML profile; relative paths are relative to `base_dir`.
    pub fn from_file(path: &Path, base_dir: &Path) -> Result<Profile, SandboxError> {
        use std::io::Read;
        let err = |source| SandboxError::ProfileRead {
            path: path.to_path_buf(),
            source,
        };
        // a regular file of reasonable size: not a FIFO (whose opening alone would wait
        // for a writer), not /dev/zero; looked at before it is opened
        if !std::fs::metadata(path).map_err(err)?.is_file() {
            return Err(err(std::io::Error::other(
                "not a regular file (a profile is a YAML file)",
            )));
        }
        let file = std::fs::File::open(path).map_err(err)?;
        let mut text = String::new();
        file.take(MAX_PROFILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(err)?;
        if text.len() as u64 > MAX_PROFILE_BYTES {
            return Err(err(std::io::Error::other(format!(
                "larger than {MAX_PROFILE_BYTES} bytes, more than any profile needs"
            ))));
        }
        Profile::from_yaml_str(&text, &path.display().to_string(), base_dir)
    }

    /// Loads a YAML profile from text; `origin` names it in errors.
    pub fn from_yaml_str(
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<Profile, SandboxError> {
        let raw: RawProfile =
            serde_yaml_ng::from_str(text).map_err(|e| invalid(origin, e.to_string()))?;
        let network = parse_network(origin, raw.network)?;
        Profile::build(
            origin.to_owned(),
            base_dir,
            Spec {
                read: &raw.filesystem.read,
                write: &raw.filesystem.write,
                exec: &raw.filesystem.exec,
                network,
                syscalls: raw.syscalls.unwrap_or(SyscallMode::Default),
                env_allow: &raw.env.allow,
                env_set: &raw.env.set,
                skip_missing: false,
            },
        )
    }

    /// A built-in profile: `workspace` (read the system, write `base_dir` and `/tmp`, no
    /// network) or `read-only` (read the system and `base_dir`, write nothing, no network).
    ///
    /// "The system" is `/usr /bin /sbin /lib* /etc /opt /proc /sys` and the harmless
    /// device files (`/dev/null`, `/dev/zero`, `/dev/full`, `/dev/random`,
    /// `/dev/urandom`), never `/dev` as a whole (raw disks) nor home directories.
    /// Executables may come from the system binary and library directories, plus
    /// `base_dir` for `workspace`.
    pub fn builtin(name: &str, base_dir: &Path) -> Result<Profile, SandboxError> {
        const ENV_ALLOW: &[&str] = &[
            "PATH",
            "HOME",
            "USER",
            "LOGNAME",
            "LANG",
            "LANGUAGE",
            "LC_ALL",
            "LC_CTYPE",
            "LC_MESSAGES",
            "TERM",
            "COLORTERM",
            "NO_COLOR",
            "TZ",
            "TMPDIR",
        ];
        let strings = |items: &[&str]| {
            items
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<String>>()
        };
        let mut read = strings(SYSTEM_READ);
        read.push(".".into());
        let mut exec = strings(SYSTEM_EXEC);
        let write = match name {
            "workspace" => {
                exec.push(".".into());
                vec![".".to_owned(), "/tmp".to_owned(), "/dev/null".to_owned()]
            }
            "read-only" => Vec::new(),
            _ => {
                return Err(SandboxError::UnknownBuiltin {
                    name: name.to_owned(),
                });
            }
        };
        let env_allow = strings(ENV_ALLOW);
        Profile::build(
            name.to_owned(),
            base_dir,
            Spec {
                read: &read,
                write: &write,
                exec: &exec,
                network: Network::Deny,
                syscalls: SyscallMode::Default,
                env_allow: &env_allow,
                env_set: &BTreeMap::new(),
                skip_missing: true,
            },
        )
    }

    /// The file or built-in name this profile came from (not part of the digest).
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// Readable paths (canonical).
    pub fn read(&self) -> &BTreeSet<PathBuf> {
        &self.read
    }
    /// Writable paths (canonical); also readable.
    pub fn write(&self) -> &BTreeSet<PathBuf> {
        &self.write
    }
    /// Paths whose files may be executed (canonical); also readable.
    pub fn exec(&self) -> &BTreeSet<PathBuf> {
        &self.exec
    }
    /// The strongest access the profile gives the command to `path` (`write`, then
    /// `exec`, then `read`; Landlock grants a listed directory's whole tree), with the
    /// listed path that grants it; `None` when the command cannot reach it. `path` need
    /// not exist: its nearest existing ancestor is resolved (symlinks included, as the
    /// profile's own paths are) and the rest appended.
    pub fn access_to(&self, path: &Path) -> Option<(&'static str, &Path)> {
        let target = canonical_even_if_missing(path);
        for (kind, roots) in [
            ("write", &self.write),
            ("exec", &self.exec),
            ("read", &self.read),
        ] {
            if let Some(root) = roots.iter().find(|r| target.starts_with(r)) {
                return Some((kind, root.as_path()));
            }
        }
        None
    }

    /// The network rule.
    pub fn network(&self) -> &Network {
        &self.network
    }
    /// The syscall filter mode.
    pub fn syscalls(&self) -> SyscallMode {
        self.syscalls
    }
    /// Names passed through from the caller's environment.
    pub fn env_allow(&self) -> &BTreeSet<String> {
        &self.env_allow
    }
    /// Variables set in the child.
    pub fn env_set(&self) -> &BTreeMap<String, String> {
        &self.env_set
    }

    /// The resolved profile as JSON (what `profile_sha256` digests).
    pub fn to_json(&self) -> Value {
        let paths = |set: &BTreeSet<PathBuf>| -> Vec<String> {
            set.iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        };
        json!({
            "filesystem": {"read": paths(&self.read), "write": paths(&self.write), "exec": paths(&self.exec)},
            "network": self.network.to_json(),
            "syscalls": self.syscalls.as_str(),
            "env": {"allow": self.env_allow, "set": self.env_set},
        })
    }

    /// Hex SHA-256 of the RFC 8785 canonical JSON of [`Profile::to_json`].
    pub fn sha256(&self) -> String {
        // The profile JSON holds only strings, integers, arrays and objects, which
        // always canonicalize; the fallback keeps this function total anyway.
        let bytes = gavel_receipt::jcs::canonicalize(&self.to_json())
            .unwrap_or_else(|_| self.to_json().to_string().into_bytes());
        hex::encode(Sha256::digest(&bytes))
    }

    /// The child's environment: exactly the allow-listed variables found in `env`,
    /// then `set` (which wins). Sorted by name.
    pub fn child_env(
        &self,
        env: impl Iterator<Item = (OsString, OsString)>,
    ) -> Vec<(OsString, OsString)> {
        let mut out: BTreeMap<OsString, OsString> = env
            .filter(|(k, _)| {
                k.to_str()
                    .is_some_and(|k| self.env_allow.contains(k) && !is_forbidden_env(k))
            })
            .collect();
        for (k, v) in &self.env_set {
            out.insert(OsString::from(k), OsString::from(v));
        }
        out.into_iter().collect()
    }

    /// Whether a listed path was a directory when the profile was loaded.
    pub fn is_dir(&self, path: &Path) -> bool {
        self.dirs.contains(path)
    }

    /// Whether `path` (absolute) lies under one of `set`.
    pub(crate) fn covers(set: &BTreeSet<PathBuf>, path: &Path) -> bool {
        set.iter().any(|p| path.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn a_profile_file_is_a_regular_file_of_reasonable_size() {
        let dir = tmp();
        let fifo = dir.path().join("p.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for bad in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
            let e = Profile::from_file(bad, dir.path()).unwrap_err().to_string();
            assert!(e.contains("cannot read sandbox profile"), "{e}");
        }
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; (MAX_PROFILE_BYTES + 1) as usize]).unwrap();
        let e = Profile::from_file(&big, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn access_to_names_the_strongest_grant_even_for_paths_not_made_yet() {
        let dir = tmp();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        for d in ["r", "w", "x", "other"] {
            std::fs::create_dir(base.join(d)).unwrap();
        }
        // a symlink into the write tree is seen through
        std::os::unix::fs::symlink(base.join("w"), base.join("link")).unwrap();
        let p = Profile::from_yaml_str(
            "filesystem:\n  read: [r, w]\n  write: [w]\n  exec: [x]\nnetwork: deny\n",
            "t",
            &base,
        )
        .unwrap();
        assert_eq!(
            p.access_to(&base.join("r/k.pem")),
            Some(("read", base.join("r").as_path()))
        );
        assert_eq!(
            p.access_to(&base.join("w/not/yet/receipts")),
            Some(("write", base.join("w").as_path()))
        );
        assert_eq!(
            p.access_to(&base.join("link/state")),
            Some(("write", base.join("w").as_path()))
        );
        assert_eq!(
            p.access_to(&base.join("x/tool")),
            Some(("exec", base.join("x").as_path()))
        );
        assert_eq!(p.access_to(&base.join("other/k.pem")), None);
        assert_eq!(
            p.access_to(&base.join("rr")),
            None,
            "a sibling sharing a prefix"
        );
    }

    #[test]
    fn spec_example_loads_and_resolves() {
        let dir = tmp();
        let yaml = r#"
filesystem:
  read:  [/usr, /etc, "."]
  write: [".", /tmp]
  exec:  [/usr/bin]
network: deny
syscalls: default
env:
  allow: [PATH, HOME, LANG, TERM]
  set: {}
"#;
        let p = Profile::from_yaml_str(yaml, "t.yaml", dir.path()).expect("loads");
        let base = std::fs::canonicalize(dir.path()).unwrap();
        assert!(p.read().contains(&base));
        assert!(p.write().contains(&base));
        assert!(p.write().contains(Path::new("/tmp")));
        assert_eq!(p.network(), &Network::Deny);
        assert_eq!(p.syscalls(), SyscallMode::Default);
        assert_eq!(p.env_allow().len(), 4);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let dir = tmp();
        for (yaml, key) in [
            ("filesystem: {reed: [/usr]}", "reed"),
            ("netwerk: deny", "netwerk"),
            ("env: {allow: [PATH], sett: {}}", "sett"),
            ("network: {connect_tcp: [443], udp: [53]}", "udp"),
        ] {
            let err = Profile::from_yaml_str(yaml, "p.yaml", dir.path()).expect_err(yaml);
            let msg = err.to_string();
            assert!(matches!(err, SandboxError::ProfileInvalid { .. }), "{msg}");
            assert!(msg.contains(key), "{msg} should name {key}");
            assert!(msg.contains("p.yaml"), "{msg}");
        }
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let dir = tmp();
        let err =
            Profile::from_yaml_str("filesystem: {read: [/usr, ./nope]}", "p.yaml", dir.path())
                .unwrap_err();
        match &err {
            SandboxError::PathMissing { field, entry, .. } => {
                assert_eq!(*field, "filesystem.read");
                assert_eq!(entry, "./nope");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("./nope"));
        let err = Profile::from_yaml_str(
            "filesystem: {exec: [/nonexistent-gavel]}",
            "p.yaml",
            dir.path(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                SandboxError::PathMissing {
                    field: "filesystem.exec",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn escaping_relative_path_is_an_error() {
        let dir = tmp();
        let inner = dir.path().join("ws");
        std::fs::create_dir(&inner).unwrap();
        let err =
            Profile::from_yaml_str("filesystem: {read: [../..]}", "p.yaml", &inner).unwrap_err();
        assert!(
            matches!(
                err,
                SandboxError::PathEscapes {
                    how: "lexically",
                    ..
                }
            ),
            "{err}"
        );
        let err = Profile::from_yaml_str("filesystem: {write: [sub/../../x]}", "p.yaml", &inner)
            .unwrap_err();
        assert!(matches!(err, SandboxError::PathEscapes { .. }), "{err}");
        std::os::unix::fs::symlink("/etc", inner.join("etc-link")).unwrap();
        let err =
            Profile::from_yaml_str("filesystem: {read: [etc-link]}", "p.yaml", &inner).unwrap_err();
        assert!(
            matches!(
                err,
                SandboxError::PathEscapes {
                    how: "through a symlink",
                    ..
                }
            ),
            "{err}"
        );
        // inside the base after normalization, and absolute paths: fine
        std::fs::create_dir(inner.join("sub")).unwrap();
        let p = Profile::from_yaml_str("filesystem: {read: [sub/../sub, /etc]}", "p.yaml", &inner)
            .unwrap();
        assert!(
            p.read()
                .contains(&std::fs::canonicalize(inner.join("sub")).unwrap())
        );
    }

    #[test]
    fn forbidden_env_is_refused_at_load() {
        let dir = tmp();
        for (yaml, name) in [
            ("env: {allow: [PATH, LD_PRELOAD]}", "LD_PRELOAD"),
            ("env: {allow: [LD_LIBRARY_PATH]}", "LD_LIBRARY_PATH"),
            ("env: {allow: [BASH_ENV]}", "BASH_ENV"),
            ("env: {set: {NODE_OPTIONS: --require=x}}", "NODE_OPTIONS"),
            ("env: {allow: [PYTHONSTARTUP]}", "PYTHONSTARTUP"),
            ("env: {allow: [ENV]}", "ENV"),
        ] {
            let err = Profile::from_yaml_str(yaml, "p.yaml", dir.path()).unwrap_err();
            assert!(
                matches!(&err, SandboxError::ForbiddenEnv { name: n, .. } if n == name),
                "{err}"
            );
        }
        let err = Profile::from_yaml_str("env: {allow: [A=B]}", "p.yaml", dir.path()).unwrap_err();
        assert!(matches!(err, SandboxError::ProfileInvalid { .. }));
    }

    #[test]
    fn network_forms() {
        let dir = tmp();
        let p = Profile::from_yaml_str("network: allow", "p", dir.path()).unwrap();
        assert_eq!(p.network(), &Network::Allow);
        let p = Profile::from_yaml_str("{}", "p", dir.path()).unwrap();
        assert_eq!(p.network(), &Network::Deny, "absent network means deny");
        let p =
            Profile::from_yaml_str("network: {connect_tcp: [443, 80]}", "p", dir.path()).unwrap();
        assert_eq!(
            p.network(),
            &Network::Ports {
                connect_tcp: [80, 443].into_iter().collect(),
                bind_tcp: BTreeSet::new()
            }
        );
        for bad in [
            "network: maybe",
            "network: {connect_tcp: [0]}",
            "network: {connect_tcp: [70000]}",
            "network: {connect_tcp: 443}",
        ] {
            assert!(
                matches!(
                    Profile::from_yaml_str(bad, "p", dir.path()),
                    Err(SandboxError::ProfileInvalid { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Profile::from_yaml_str("syscalls: lax", "p", dir.path()),
            Err(SandboxError::ProfileInvalid { .. })
        ));
    }

    #[test]
    fn json_and_digest_are_stable_and_content_addressed() {
        let dir = tmp();
        let a = Profile::from_yaml_str(
            "filesystem: {read: [/usr, /etc]}\nenv: {allow: [PATH]}",
            "a",
            dir.path(),
        )
        .unwrap();
        let b = Profile::from_yaml_str(
            "env: {allow: [PATH]}\nfilesystem: {read: [/etc, /usr, /usr/]}",
            "b",
            dir.path(),
        )
        .unwrap();
        assert_eq!(a.to_json(), b.to_json());
        assert_eq!(a.sha256(), b.sha256());
        assert_eq!(a.sha256().len(), 64);
        let expected = hex::encode(Sha256::digest(
            gavel_receipt::jcs::canonicalize(&a.to_json()).unwrap(),
        ));
        assert_eq!(a.sha256(), expected);
        let c = Profile::from_yaml_str(
            "filesystem: {read: [/usr]}\nenv: {allow: [PATH]}",
            "c",
            dir.path(),
        )
        .unwrap();
        assert_ne!(a.sha256(), c.sha256());
        assert_eq!(a.to_json()["network"], json!("deny"));
        assert_eq!(a.to_json()["syscalls"], json!("default"));
    }

    #[test]
    fn builtins() {
        let dir = tmp();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let ws = Profile::builtin("workspace", dir.path()).unwrap();
        assert!(ws.write().contains(&base) && ws.write().contains(Path::new("/tmp")));
        assert!(ws.read().contains(Path::new("/usr")));
        assert!(!ws.read().contains(Path::new("/dev")));
        assert_eq!(ws.network(), &Network::Deny);
        let ro = Profile::builtin("read-only", dir.path()).unwrap();
        assert!(ro.write().is_empty());
        assert!(ro.read().contains(&base));
        assert!(!Profile::covers(ro.exec(), &base.join("x")));
        assert!(matches!(
            Profile::builtin("nope", dir.path()),
            Err(SandboxError::UnknownBuiltin { .. })
        ));
    }

    #[test]
    fn child_env_is_allow_list_plus_set() {
        let dir = tmp();
        let p = Profile::from_yaml_str(
            "env: {allow: [PATH, HOME], set: {FOO: bar, HOME: /h}}",
            "p",
            dir.path(),
        )
        .unwrap();
        let env = vec![
            (OsString::from("PATH"), OsString::from("/usr/bin")),
            (OsString::from("HOME"), OsString::from("/root")),
            (OsString::from("LD_PRELOAD"), OsString::from("/evil.so")),
            (OsString::from("SECRET"), OsString::from("x")),
        ];
        let out = p.child_env(env.into_iter());
        assert_eq!(
            out,
            vec![
                (OsString::from("FOO"), OsString::from("bar")),
                (OsString::from("HOME"), OsString::from("/h")),
                (OsString::from("PATH"), OsString::from("/usr/bin")),
            ]
        );
    }
}
