//! Symlink resolution for a profile's paths: what `realpath(3)` computes, remembering
//! what it learned about each path on the way.
//!
//! A profile names many paths under the same few directories (`/usr`, `/usr/lib`,
//! `/lib64 -> usr/lib64`, the current directory's ancestors). glibc's `realpath`
//! re-examines every component of every path (one `readlink` each), and the profile
//! then `stat`s each result again to learn whether it is a directory: about 80 system
//! calls for a built-in profile. [`Resolver`] looks at each distinct path once
//! (`lstat`, and `readlink` only for a symlink) and answers the later questions from
//! what it saw: about 25 calls.
//!
//! The result is the same as `std::fs::canonicalize` (proven against it in the tests):
//! symlinks are followed wherever they appear, `..` in a symlink's target applies to
//! the resolved directory, a missing component is `NotFound`, a file followed by more
//! components is `ENOTDIR`, more than 40 symlinks is `ELOOP`. The answers are as of
//! the moment each path was first looked at; a profile is resolved once, so that is
//! the moment the profile was loaded.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one resolution before it fails with `ELOOP` (Linux's limit).
const MAX_LINKS: usize = 40;

/// What `lstat` said about one path.
#[derive(Debug, Clone)]
enum Node {
    Dir,
    Other,
    Link(PathBuf),
    Missing,
}

/// A part of a path still to resolve.
enum Part {
    Name(OsString),
    Up,
}

/// Resolves absolute paths to canonical ones; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    seen: HashMap<PathBuf, Node>,
}

impl Resolver {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn look(&mut self, path: &Path) -> io::Result<Node> {
        if let Some(n) = self.seen.get(path) {
            return Ok(n.clone());
        }
        let node = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Node::Link(std::fs::read_link(path)?),
            Ok(m) if m.is_dir() => Node::Dir,
            Ok(_) => Node::Other,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Node::Missing,
            Err(e) => return Err(e),
        };
        self.seen.insert(path.to_path_buf(), node.clone());
        Ok(node)
    }

    /// The canonical form of `path`, which must be absolute (a relative path is
    /// `InvalidInput`).
    pub(crate) fn canonicalize(&mut self, path: &Path) -> io::Result<PathBuf> {
        if !path.is_absolute() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a relative path cannot be resolved without a base",
            ));
        }
        let mut todo = Vec::new();
        push_parts(&mut todo, path);
        let mut out = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            let name = match part {
                Part::Up => {
                    out.pop();
                    continue;
                }
                Part::Name(n) => n,
            };
            let candidate = out.join(&name);
            match self.look(&candidate)? {
                Node::Dir => out = candidate,
                Node::Other if todo.is_empty() => out = candidate,
                Node::Other => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
                Node::Missing => return Err(io::Error::from(io::ErrorKind::NotFound)),
                Node::Link(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    if target.is_absolute() {
                        out = PathBuf::from("/");
                    }
                    push_parts(&mut todo, &target);
                }
            }
        }
        Ok(out)
    }

    /// Whether a canonical path this resolver produced is a directory.
    pub(crate) fn is_dir(&mut self, canonical: &Path) -> bool {
        if canonical == Path::new("/") {
            return true;
        }
        matches!(self.look(canonical), Ok(Node::Dir))
    }
}

/// Pushes the parts of `path` so that its first component is popped first.
fn push_parts(todo: &mut Vec<Part>, path: &Path) {
    let start = todo.len();
    for c in path.components() {
        match c {
            Component::Normal(n) => todo.push(Part::Name(n.to_owned())),
            Component::ParentDir => todo.push(Part::Up),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    todo[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A tree with every kind of symlink a profile path can meet.
    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("a/b/c")).unwrap();
        std::fs::create_dir_all(r.join("x/y")).unwrap();
        std::fs::write(r.join("a/file"), "f").unwrap();
        symlink("a/b", r.join("rel")).unwrap(); // relative, into a subdirectory
        symlink(r.join("x/y"), r.join("abs")).unwrap(); // absolute
        symlink("../x", r.join("a/up")).unwrap(); // .. in the target
        symlink("rel", r.join("chain")).unwrap(); // a link to a link
        symlink("../../x/y/..", r.join("a/b/back")).unwrap(); // .. after a name
        symlink("nowhere", r.join("dangling")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink("file", r.join("a/tofile")).unwrap();
        symlink("/", r.join("root")).unwrap();
        t
    }

    fn outcome(r: io::Result<PathBuf>) -> Result<PathBuf, Option<i32>> {
        r.map_err(|e| {
            e.raw_os_error()
                .or((e.kind() == io::ErrorKind::NotFound).then_some(libc::ENOENT))
        })
    }

    #[test]
    fn agrees_with_std_canonicalize_on_every_kind_of_path() {
        let t = tree();
        let r = std::fs::canonicalize(t.path()).unwrap();
        let cases = [
            "",
            "a",
            "a/b/c",
            "a/file",
            "rel",
            "rel/c",
            "abs",
            "abs/..",
            "a/up",
            "a/up/y",
            "chain/c",
            "a/b/back",
            "a/b/back/y",
            "dangling",
            "dangling/more",
            "loop1",
            "loop2/x",
            "a/tofile",
            "a/tofile/more",
            "a/file/more",
            "a/file/..",
            "missing",
            "missing/more",
            "root",
            "root/usr",
            "rel/../b",
            "a/up/../a/b",
        ];
        // one resolver for all, as a profile uses it: earlier answers must not change
        // later ones
        let mut shared = Resolver::new();
        for case in cases {
            let p = r.join(case);
            let want = outcome(std::fs::canonicalize(&p));
            let mut fresh = Resolver::new();
            assert_eq!(outcome(fresh.canonicalize(&p)), want, "{case} (fresh)");
            assert_eq!(outcome(shared.canonicalize(&p)), want, "{case} (shared)");
        }
        // and on the paths the built-in profiles name, on this machine
        for p in crate::profile::SYSTEM_READ
            .iter()
            .chain(crate::profile::SYSTEM_EXEC)
        {
            let want = outcome(std::fs::canonicalize(p));
            assert_eq!(outcome(shared.canonicalize(Path::new(p))), want, "{p}");
        }
    }

    #[test]
    fn is_dir_matches_the_file_system() {
        let t = tree();
        let mut res = Resolver::new();
        for (case, dir) in [
            ("a/b", true),
            ("a/file", false),
            ("rel", true),
            ("root", true),
        ] {
            let c = res.canonicalize(&t.path().join(case)).unwrap();
            assert_eq!(res.is_dir(&c), dir, "{case}");
            assert_eq!(c.is_dir(), dir, "{case}");
        }
    }

    #[test]
    fn a_relative_path_is_refused() {
        let e = Resolver::new().canonicalize(Path::new("a/b")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn each_distinct_path_is_looked_at_once() {
        let t = tree();
        let mut res = Resolver::new();
        for _ in 0..3 {
            res.canonicalize(&t.path().join("chain/c")).unwrap();
            res.canonicalize(&t.path().join("a/up/y")).unwrap();
        }
        let once = res.seen.len();
        res.canonicalize(&t.path().join("chain/c")).unwrap();
        assert_eq!(res.seen.len(), once);
        // every component of the temporary directory, plus chain, rel, a, a/b, a/b/c,
        // a/up, x, x/y
        let depth = t.path().components().count() - 1;
        assert_eq!(once, depth + 8);
    }
}
