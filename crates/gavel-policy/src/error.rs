//! The load errors. Evaluation never errors: a failure there is a deny verdict.

use std::fmt;
use std::path::PathBuf;

/// Where in a policy file a problem is: the file, and when known the line
/// (1-based) and the rule (1-based position in its file, and its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as given or as found in the policy directory.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The rule (YAML) or policy (Cedar) the problem is in, when it is in one.
    pub item: Option<Item>,
}

/// A rule of a YAML file or a policy of a Cedar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// 1-based position in its file.
    pub index: usize,
    /// Its name (YAML `name`, or the Cedar policy id) when it has one.
    pub name: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(item) = &self.item {
            write!(f, ": rule {}", item.index)?;
            if let Some(name) = &item.name {
                write!(f, " ({name:?})")?;
            }
        }
        Ok(())
    }
}

/// Why a policy could not be loaded. The `Display` of each variant is one line:
/// what is wrong, where (file, line, rule), and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The path does not exist (the message is the AGT skill's).
    #[error("Policy directory not found: {}", .0.display())]
    NotFound(PathBuf),

    /// A file or directory could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A directory without any policy file.
    #[error(
        "{}: no policy file in this directory (put *.yaml / *.yml rule files or *.cedar policies directly in it)",
        .0.display()
    )]
    NoPolicyFiles(PathBuf),

    /// A directory with both YAML rule files and Cedar files.
    #[error(
        "{}: mixes YAML rule files ({yaml}) and Cedar files ({cedar}); keep one engine per policy directory",
        dir.display()
    )]
    MixedEngines {
        /// The directory.
        dir: PathBuf,
        /// One YAML file found in it.
        yaml: String,
        /// One Cedar file found in it.
        cedar: String,
    },

    /// A single file whose extension names no engine.
    #[error("{}: not a policy file (expected a .yaml, .yml or .cedar file, or a directory of them)", .0.display())]
    UnsupportedFile(PathBuf),

    /// A file that is neither a regular file nor a directory, or a name that is
    /// not UTF-8.
    #[error("{}: {problem}", path.display())]
    BadEntry {
        /// The entry.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// A YAML rule file that does not load: bad YAML, or a rule that gavel
    /// refuses (see the crate docs for the list).
    #[error("{at}: {problem}")]
    Yaml {
        /// Where.
        at: Location,
        /// What is wrong and how to fix it.
        problem: String,
    },

    /// A rule's regular expression that is valid but cannot be compiled (too large
    /// for the size limit). Loading does not compile patterns (a search compiles the
    /// one it needs, and an evaluation that hits this denies);
    /// [`crate::PolicySet::compile_all`] finds it up front.
    #[error("{}: rule {rule}: regular expression {problem}; simplify it (fewer or smaller repetitions)", path.display())]
    Pattern {
        /// The policy path.
        path: PathBuf,
        /// The rule's name.
        rule: String,
        /// Why it does not compile.
        problem: String,
    },

    /// A Cedar policy, schema or entities file that does not load or validate.
    #[error("{at}: {problem}")]
    Cedar {
        /// Where.
        at: Location,
        /// Cedar's diagnostic.
        problem: String,
    },
}

impl PolicyError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PolicyError::Io {
            path: path.into(),
            source,
        }
    }
}
