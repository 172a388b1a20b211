//! Python `re.search` semantics on the Rust `regex` crate.
//!
//! A `matches` rule's pattern is Python `re` syntax. It is parsed with
//! `regex-syntax`'s AST parser, checked construct by construct, and printed back
//! as a Rust pattern whose matches are Python's:
//!
//! - `$` (without MULTILINE) matches at the end and just before a final `\n` in
//!   Python. Since only *whether* there is a match counts, a `$` that ends the
//!   pattern (nothing may be consumed or asserted after it) becomes the
//!   consuming `(?:\n?\z)`. A `$` with anything after it is refused at load.
//! - `\Z` (Python's absolute end) becomes `\z`; Python has no `\z`.
//! - `\s` is Python's `str.isspace()`: Rust's `\s` plus `\x1c`-`\x1f`.
//! - `\w` is Python's `str.isalnum()` or `_`: the Unicode categories L and N
//!   plus `_` (Rust's `\w` also has marks and connector punctuation).
//! - `\B` never matches an empty string in Python 3.11 (sre), unlike Rust; the
//!   answer for the empty target is computed at load with `\B` made to fail.
//! - Constructs that Rust reads differently from Python, or that Python rejects
//!   while Rust accepts, are refused: nested or POSIX classes and set operators
//!   in `[...]` (literal text in Python), `\p{..}`, `\x{..}`, `\z`, `\<`, `\>`,
//!   `\b{..}`, `(?<name>..)` (use `(?P<name>..)`), verbose mode `(?x)`, the `U`,
//!   `R`, `u` flags, global flags not at the start, negated global flags,
//!   possessive or doubled quantifiers (`a*+`, `a**`), quantified assertions
//!   (`^*`), `{m,n}` with spaces (literal text in Python). Look-around and
//!   back-references are refused by the Rust parser itself.
//!
//! Known residual differences (documented, not silent): `\b`/`\B` use Rust's
//! Unicode word definition (it differs from Python's for combining marks and
//! connector punctuation other than `_`), case-insensitive matching uses
//! Unicode simple case folding (Python's tables differ for a handful of
//! characters), and the Unicode version differs (Python 3.11: 14.0).

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassPerl, ClassPerlKind, ClassSet, ClassSetItem, Flag,
    FlagsItemKind, GroupKind, LiteralKind, RepetitionKind, RepetitionRange, SpecialLiteralKind,
};

/// A Python pattern translated to Rust, validated, and compiled on first use.
///
/// Loading checks the whole syntax (Python's, then Rust's parser on the translation),
/// so a pattern that is wrong is a load error. Compiling it into an automaton costs
/// tens of microseconds (about 36 us per pattern in a fresh process), which one-shot
/// commands (check-policy, exec, hook) would pay for every pattern on every run; it is
/// done when a search first needs it. Most searches need none: every match must
/// contain one of the pattern's prefix literals (`needles`, extracted by regex-syntax
/// from the same translation), so a target containing none of them cannot match.
/// What can still fail when compiling is the size limit ([`SIZE_LIMIT`]); that
/// search then answers an error, which the engine turns into a deny (fail closed).
#[derive(Debug)]
pub(crate) struct Translated {
    /// The Rust pattern with Python's semantics.
    pub rust: String,
    /// The variant for an empty target (differs where `\B` occurs), when it differs.
    empty_rust: Option<String>,
    /// A match contains one of these (`None`: no such finite set).
    needles: Option<Vec<Vec<u8>>>,
    regex: std::sync::OnceLock<Result<Matcher, String>>,
    matches_empty: std::sync::OnceLock<Result<bool, String>>,
}

impl Translated {
    /// What [`translate`] produced, for the rule cache: the pattern, its variant for an
    /// empty target, the prefix literals.
    pub(crate) fn parts(&self) -> (&str, Option<&str>, Option<&[Vec<u8>]>) {
        (
            &self.rust,
            self.empty_rust.as_deref(),
            self.needles.as_deref(),
        )
    }

    /// A translation read back from the rule cache (made by [`translate`] in a build
    /// with the same sources, see `cache.rs`); compiled on first use like any other.
    pub(crate) fn from_parts(
        rust: String,
        empty_rust: Option<String>,
        needles: Option<Vec<Vec<u8>>>,
    ) -> Self {
        Translated {
            rust,
            empty_rust,
            needles,
            regex: std::sync::OnceLock::new(),
            matches_empty: std::sync::OnceLock::new(),
        }
    }

    /// Python's `re.search(pattern, s) is not None`, or why it cannot be answered.
    pub(crate) fn search(&self, s: &str) -> Result<bool, String> {
        if s.is_empty() {
            return self
                .matches_empty
                .get_or_init(|| self.search_empty())
                .clone();
        }
        if let Some(needles) = &self.needles
            && !needles
                .iter()
                .any(|n| memchr::memmem::find(s.as_bytes(), n).is_some())
        {
            return Ok(false);
        }
        self.matcher().map(|m| m.is_match(s))
    }

    /// The compiled pattern, compiled on first call (the outcome is kept).
    fn matcher(&self) -> Result<&Matcher, String> {
        self.regex
            .get_or_init(|| compile(&self.rust))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn search_empty(&self) -> Result<bool, String> {
        match &self.empty_rust {
            None => self.matcher().map(|m| m.is_match("")),
            Some(p) => compile(p).map(|m| m.is_match("")),
        }
    }

    /// Compiles now (`gavel policy check` validates everything a search could need).
    pub(crate) fn compile_all(&self) -> Result<(), String> {
        self.matcher()?;
        self.matches_empty
            .get_or_init(|| self.search_empty())
            .clone()
            .map(|_| ())
    }
}

/// Prefix literals of `pattern` (Rust syntax, already parsed successfully once): a
/// finite set that every match starts with, hence contains; `None` when the set is
/// infinite or holds the empty string (then every target passes).
fn needles(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// A compiled pattern that answers only whether it matches.
pub(crate) type Matcher = regex_automata::meta::Regex;

/// Compiles `pattern` for `is_match` alone: a lazy DFA with the PikeVM as its
/// fallback; no literal prefilter, no capture groups, no one-pass DFA or
/// backtracker (those serve match positions and captures, which policies never
/// ask for). The `regex` crate's full strategy costs about 60 us per pattern to
/// build, this about 16 us, and one-shot commands (check-policy, exec, hook)
/// compile every pattern of the policy on each run. The parser, the NFA and so
/// the language matched are the same; the lazy DFA keeps matching linear-time.
pub(crate) fn compile(pattern: &str) -> Result<Matcher, String> {
    use regex_automata::meta::{Config, Regex};
    use regex_automata::nfa::thompson::WhichCaptures;
    Regex::builder()
        .configure(
            Config::new()
                .nfa_size_limit(Some(SIZE_LIMIT))
                .which_captures(WhichCaptures::None)
                .auto_prefilter(false)
                .onepass(false)
                .backtrack(false)
                .dfa(false)
                .hybrid(true),
        )
        .build(pattern)
        .map_err(|e| format!("does not compile: {}", one_line(&e.to_string())))
}

/// Size limit for one compiled pattern (the `regex` default is 10 MiB).
pub(crate) const SIZE_LIMIT: usize = 32 * (1 << 20);

/// Translates a Python pattern; the error says what is not supported and how
/// to write it instead.
pub(crate) fn translate(python: &str) -> Result<Translated, String> {
    // `\Z` -> `\z`; a Python `\z` is an error in Python 3.11.
    let mut pre = String::with_capacity(python.len());
    let mut chars = python.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            pre.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => pre.push_str("\\z"),
            Some('z') => return Err("`\\z` is not Python syntax (Python 3.11 rejects it); write `\\Z` for the end of the text".into()),
            Some(n) => {
                pre.push('\\');
                pre.push(n);
            }
            None => pre.push('\\'),
        }
    }
    let parsed = ast::parse::ParserBuilder::new()
        .octal(false)
        .ignore_whitespace(false)
        .empty_min_range(true)
        .nest_limit(200)
        .build()
        .parse(&pre)
        .map_err(|e| {
            format!(
                "does not compile: {} (at offset {})",
                e.kind(),
                e.span().start.offset
            )
        })?;
    let mut normal = Emitter::new(&pre, false);
    normal.top(&parsed)?;
    let mut empty = Emitter::new(&pre, true);
    empty.top(&parsed)?;
    let rust = normal.out;
    // Rust's parser now, with the configuration the compiler uses: a pattern Rust
    // cannot parse is a load error (only the size limit is left for compiling).
    let hir = rust_syntax(&rust)?;
    let empty_rust = if empty.out == rust {
        None
    } else {
        rust_syntax(&empty.out)?;
        Some(empty.out)
    };
    Ok(Translated {
        needles: needles(&hir),
        rust,
        empty_rust,
        regex: std::sync::OnceLock::new(),
        matches_empty: std::sync::OnceLock::new(),
    })
}

/// Parses a translated pattern as `regex_automata::meta` does (its default syntax
/// configuration).
fn rust_syntax(pattern: &str) -> Result<regex_syntax::hir::Hir, String> {
    regex_automata::util::syntax::parse(pattern)
        .map_err(|e| format!("does not compile: {}", one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_owned()
}

/// Python's `\s`.
const PY_SPACE: &str = r"\s\x{1C}-\x{1F}";
/// Python's `\w`.
const PY_WORD: &str = r"\p{L}\p{N}_";
/// A class that matches nothing.
const NOTHING: &str = r"[^\x{0}-\x{10FFFF}]";

struct Emitter<'a> {
    src: &'a str,
    out: String,
    multiline: bool,
    /// Emit the variant used for the empty target (`\B` fails).
    empty_variant: bool,
}

impl<'a> Emitter<'a> {
    fn new(src: &'a str, empty_variant: bool) -> Self {
        Emitter {
            src,
            out: String::new(),
            multiline: false,
            empty_variant,
        }
    }

    fn top(&mut self, node: &Ast) -> Result<(), String> {
        self.emit(node, true, true)
    }

    /// `tail`: nothing after this node can consume or assert (the pattern ends).
    /// `global_ok`: a `(?flags)` here is at the start of the pattern.
    fn emit(&mut self, node: &Ast, tail: bool, global_ok: bool) -> Result<(), String> {
        match node {
            Ast::Empty(_) => Ok(()),
            Ast::Flags(set) => {
                if !global_ok {
                    return Err("inline flags `(?…)` must be at the start of the pattern in Python 3.11 (or scoped: `(?i:…)`)".into());
                }
                let mut text = String::from("(?");
                for item in &set.flags.items {
                    match item.kind {
                        FlagsItemKind::Negation => {
                            return Err("negated global flags `(?-…)` are not Python syntax; use a scoped group `(?-i:…)`".into());
                        }
                        FlagsItemKind::Flag(f) => {
                            text.push(flag_char(f)?);
                            if f == Flag::MultiLine {
                                self.multiline = true;
                            }
                        }
                    }
                }
                text.push(')');
                self.out.push_str(&text);
                Ok(())
            }
            Ast::Literal(lit) => {
                check_literal(lit)?;
                push_literal(&mut self.out, lit.c);
                Ok(())
            }
            Ast::Dot(_) => {
                self.out.push('.');
                Ok(())
            }
            Ast::Assertion(a) => self.assertion(a, tail),
            Ast::ClassUnicode(_) => Err("`\\p{…}`/`\\P{…}` classes are not Python syntax".into()),
            Ast::ClassPerl(c) => {
                self.out.push_str(&perl_outside(c));
                Ok(())
            }
            Ast::ClassBracketed(c) => {
                self.out.push('[');
                if c.negated {
                    self.out.push('^');
                }
                class_set(&mut self.out, &c.kind)?;
                self.out.push(']');
                Ok(())
            }
            Ast::Repetition(rep) => {
                match &*rep.ast {
                    Ast::Repetition(_) => {
                        return Err(
                            "a quantifier after a quantifier (`a**`, or possessive `a*+`, `a++`, `a?+`) is not supported; use a group: `(?:a*)+`"
                                .into(),
                        );
                    }
                    Ast::Assertion(_) | Ast::Flags(_) | Ast::Empty(_) => {
                        return Err("nothing to repeat (Python rejects a quantifier on an anchor or an empty pattern)".into());
                    }
                    _ => {}
                }
                let op_text = self
                    .src
                    .get(rep.op.span.start.offset..rep.op.span.end.offset)
                    .unwrap_or("");
                if op_text.contains(char::is_whitespace) {
                    return Err(format!(
                        "`{op_text}` with spaces is literal text in Python but a repetition in Rust; write it without spaces, or escape the brace `\\{{`"
                    ));
                }
                let at_most_one = match &rep.op.kind {
                    RepetitionKind::ZeroOrOne => true,
                    RepetitionKind::ZeroOrMore | RepetitionKind::OneOrMore => false,
                    RepetitionKind::Range(RepetitionRange::Exactly(n)) => *n <= 1,
                    RepetitionKind::Range(RepetitionRange::AtLeast(_)) => false,
                    RepetitionKind::Range(RepetitionRange::Bounded(_, n)) => *n <= 1,
                };
                self.out.push_str("(?:");
                self.emit(&rep.ast, tail && at_most_one, false)?;
                self.out.push(')');
                match &rep.op.kind {
                    RepetitionKind::ZeroOrOne => self.out.push('?'),
                    RepetitionKind::ZeroOrMore => self.out.push('*'),
                    RepetitionKind::OneOrMore => self.out.push('+'),
                    RepetitionKind::Range(RepetitionRange::Exactly(n)) => {
                        self.out.push_str(&format!("{{{n}}}"))
                    }
                    RepetitionKind::Range(RepetitionRange::AtLeast(n)) => {
                        self.out.push_str(&format!("{{{n},}}"))
                    }
                    RepetitionKind::Range(RepetitionRange::Bounded(m, n)) => {
                        self.out.push_str(&format!("{{{m},{n}}}"))
                    }
                }
                if !rep.greedy {
                    self.out.push('?');
                }
                Ok(())
            }
            Ast::Group(group) => {
                let saved = self.multiline;
                match &group.kind {
                    GroupKind::CaptureIndex(_) => self.out.push('('),
                    GroupKind::CaptureName {
                        starts_with_p,
                        name,
                    } => {
                        if !starts_with_p {
                            return Err(format!(
                                "`(?<{}>…)` is not Python 3.11 syntax; write `(?P<{}>…)`",
                                name.name, name.name
                            ));
                        }
                        let valid = name
                            .name
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                            && name
                                .name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            return Err(format!(
                                "group name `{}` is not a Python identifier",
                                name.name
                            ));
                        }
                        self.out.push_str("(?P<");
                        self.out.push_str(&name.name);
                        self.out.push('>');
                    }
                    GroupKind::NonCapturing(flags) => {
                        self.out.push_str("(?");
                        let mut negated = false;
                        for item in &flags.items {
                            match item.kind {
                                FlagsItemKind::Negation => {
                                    negated = true;
                                    self.out.push('-');
                                }
                                FlagsItemKind::Flag(f) => {
                                    self.out.push(flag_char(f)?);
                                    if f == Flag::MultiLine {
                                        self.multiline = !negated;
                                    }
                                }
                            }
                        }
                        self.out.push(':');
                    }
                }
                let result = self.emit(&group.ast, tail, false);
                self.multiline = saved;
                result?;
                self.out.push(')');
                Ok(())
            }
            Ast::Alternation(alt) => {
                for (i, branch) in alt.asts.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.emit(branch, tail, global_ok && i == 0)?;
                }
                Ok(())
            }
            Ast::Concat(concat) => {
                let n = concat.asts.len();
                let mut flags_prefix = global_ok;
                for (i, item) in concat.asts.iter().enumerate() {
                    let rest_transparent = concat.asts[i + 1..].iter().all(|a| self.transparent(a));
                    let item_global_ok = flags_prefix && matches!(item, Ast::Flags(_));
                    if !matches!(item, Ast::Flags(_)) {
                        flags_prefix = false;
                    }
                    self.emit(
                        item,
                        tail && (i + 1 == n || rest_transparent),
                        item_global_ok,
                    )?;
                }
                Ok(())
            }
        }
    }

    /// Nodes that neither consume nor change whether a following `$` holds.
    fn transparent(&self, node: &Ast) -> bool {
        match node {
            Ast::Empty(_) | Ast::Flags(_) => true,
            Ast::Assertion(a) => a.kind == AssertionKind::EndLine && !self.multiline,
            _ => false,
        }
    }

    fn assertion(&mut self, a: &Assertion, tail: bool) -> Result<(), String> {
        let text = match a.kind {
            AssertionKind::StartLine => "^",
            AssertionKind::EndLine if self.multiline => "$",
            AssertionKind::EndLine if tail => r"(?:\n?\z)",
            AssertionKind::EndLine => {
                return Err(
                    "`$` is only supported at the end of the pattern (Python's `$` also matches before a final newline, which Rust cannot express elsewhere); write `\\Z` for the very end, or `(?m)` for line ends"
                        .into(),
                );
            }
            AssertionKind::StartText => r"\A",
            AssertionKind::EndText => r"\z",
            AssertionKind::WordBoundary => r"\b",
            AssertionKind::NotWordBoundary if self.empty_variant => NOTHING,
            AssertionKind::NotWordBoundary => r"\B",
            _ => {
                return Err(format!(
                    "`{}` is not a Python assertion (Python reads it differently); escape it",
                    self.src
                        .get(a.span.start.offset..a.span.end.offset)
                        .unwrap_or("?")
                ));
            }
        };
        self.out.push_str(text);
        Ok(())
    }
}

fn flag_char(f: Flag) -> Result<char, String> {
    match f {
        Flag::CaseInsensitive => Ok('i'),
        Flag::MultiLine => Ok('m'),
        Flag::DotMatchesNewLine => Ok('s'),
        Flag::IgnoreWhitespace => Err("verbose mode `(?x)` is not supported (Python and Rust treat whitespace in classes differently); write the pattern without it".into()),
        Flag::SwapGreed | Flag::Unicode | Flag::CRLF => Err("only the flags `i`, `m` and `s` are supported (`U`, `u`, `R` are not Python flags or are redundant)".into()),
    }
}

fn check_literal(lit: &ast::Literal) -> Result<(), String> {
    match lit.kind {
        LiteralKind::Verbatim
        | LiteralKind::Meta
        | LiteralKind::Superfluous
        | LiteralKind::HexFixed(_) => Ok(()),
        LiteralKind::Special(SpecialLiteralKind::Space) => {
            Err("`\\ ` outside verbose mode is not supported".into())
        }
        LiteralKind::Special(_) => Ok(()),
        LiteralKind::HexBrace(_) => {
            Err("`\\x{…}` is not Python syntax; write `\\xhh`, `\\uhhhh` or `\\Uhhhhhhhh`".into())
        }
        LiteralKind::Octal => Err("octal escapes are not supported".into()),
    }
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn perl_outside(c: &ClassPerl) -> String {
    match (c.kind.clone(), c.negated) {
        (ClassPerlKind::Digit, false) => r"\d".into(),
        (ClassPerlKind::Digit, true) => r"\D".into(),
        (ClassPerlKind::Space, false) => format!("[{PY_SPACE}]"),
        (ClassPerlKind::Space, true) => format!("[^{PY_SPACE}]"),
        (ClassPerlKind::Word, false) => format!("[{PY_WORD}]"),
        (ClassPerlKind::Word, true) => format!("[^{PY_WORD}]"),
    }
}

fn class_set(out: &mut String, set: &ClassSet) -> Result<(), String> {
    match set {
        ClassSet::Item(item) => class_item(out, item),
        ClassSet::BinaryOp(_) => {
            Err("`&&`, `--` or `~~` inside `[…]` is literal text in Python but a set operation in Rust; escape it (`\\&\\&`)".into())
        }
    }
}

fn class_item(out: &mut String, item: &ClassSetItem) -> Result<(), String> {
    match item {
        ClassSetItem::Empty(_) => Ok(()),
        ClassSetItem::Literal(lit) => {
            check_literal(lit)?;
            push_literal(out, lit.c);
            Ok(())
        }
        ClassSetItem::Range(r) => {
            check_literal(&r.start)?;
            check_literal(&r.end)?;
            push_literal(out, r.start.c);
            out.push('-');
            push_literal(out, r.end.c);
            Ok(())
        }
        ClassSetItem::Ascii(_) => {
            Err("POSIX classes like `[[:alpha:]]` are not Python syntax (Python reads `[[:alpha:]]` as a set of characters); write the characters".into())
        }
        ClassSetItem::Unicode(_) => Err("`\\p{…}`/`\\P{…}` classes are not Python syntax".into()),
        ClassSetItem::Perl(c) => {
            match (c.kind.clone(), c.negated) {
                (ClassPerlKind::Digit, false) => out.push_str(r"\d"),
                (ClassPerlKind::Digit, true) => out.push_str(r"\D"),
                (ClassPerlKind::Space, false) => out.push_str(PY_SPACE),
                (ClassPerlKind::Space, true) => out.push_str(&format!("[^{PY_SPACE}]")),
                (ClassPerlKind::Word, false) => out.push_str(PY_WORD),
                (ClassPerlKind::Word, true) => out.push_str(&format!("[^{PY_WORD}]")),
            }
            Ok(())
        }
        ClassSetItem::Bracketed(_) => {
            Err("`[` inside `[…]` is literal text in Python but opens a nested class in Rust; escape it as `\\[`".into())
        }
        ClassSetItem::Union(u) => {
            for item in &u.items {
                class_item(out, item)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(py: &str, hay: &str) -> bool {
        let t = match translate(py) {
            Ok(t) => t,
            Err(e) => panic!("{py}: {e}"),
        };
        t.search(hay).unwrap()
    }

    fn refused(py: &str) -> String {
        match translate(py) {
            Ok(t) => panic!("{py} was accepted as {}", t.rust),
            Err(e) => e,
        }
    }

    #[test]
    fn dollar_matches_before_a_final_newline_like_python() {
        // Expected values are Python 3.11's bool(re.search(p, s)).
        let cases: &[(&str, &str, bool)] = &[
            ("ls$", "ls", true),
            ("ls$", "ls\n", true),
            ("ls$", "ls\n\n", false),
            ("ls$", "ls\nx", false),
            ("^ls$", "ls\n", true),
            ("^(ls|cat)$", "cat\n", true),
            ("(ls$|x)", "ls\n", true),
            ("a$$", "a\n", true),
            ("a(?:$)?", "ab", true),
            ("^$", "\n", true),
            ("^$", "", true),
            ("$", "", true),
            ("x\\Z", "x\n", false),
            ("x\\Z", "x", true),
            ("(?m)a$", "a\nb", true),
            ("(?m:a$)", "a\nb", true),
            ("a$", "a\nb", false),
            ("(?m)^b", "a\nb", true),
            ("^b", "a\nb", false),
            ("\\n$", "a\n", true),
            ("\\n$", "a\n\n", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(search(p, s), *want, "re.search({p:?}, {s:?})");
        }
    }

    #[test]
    fn classes_are_pythons() {
        assert!(search("\\s", "\u{1c}"));
        assert!(search("[\\s]", "\u{1f}"));
        assert!(!search("\\S", "\u{1d}"));
        assert!(!search("[^\\s]", "\u{1d}"));
        assert!(search("[\\S]", "a"));
        assert!(search("\\w", "½")); // No: Python isalnum
        assert!(!search("\\w", "\u{301}")); // combining mark: not \w in Python
        assert!(search("^\\W$", "\u{301}"));
        assert!(search("[\\w-]+$", "a-b"));
        assert!(search("\\d", "٣"));
        assert!(search("^[^\\W\\d]+$", "abc"));
        assert!(!search("^[^\\W\\d]+$", "ab1"));
        assert!(search("[]a]", "]"));
        assert!(search("[a-]", "-"));
        assert!(search("\\x41\\u0042\\U00000043", "ABC"));
        assert!(search("a{,2}b", "b"));
        assert!(search("^a{2}$", "aa"));
        assert!(search("(?i)^SHELL:", "shell:ls"));
        assert!(search("(?P<cmd>rm|dd) ", "rm -rf"));
        assert!(search("\\.\\*\\_\\'\\\"", ".*_'\""));
        assert!(search("(?s)a.b", "a\nb"));
        assert!(!search("a.b", "a\nb"));
        assert!(search("", ""));
        assert!(search("", "x"));
        // sre: \B never matches in an empty string (Python 3.11), \b neither
        assert!(!search("\\B", ""));
        assert!(!search("\\b", ""));
        assert!(search("\\B|^$", ""));
        assert!(search("\\B", "ab"));
        assert!(search("\\bls\\b", "shell:ls -l"));
        // str() of non-string values used as patterns
        assert!(search("['a', 'b']", "b"));
        assert!(search("1e+16", "1eeeeee16"));
    }

    #[test]
    fn constructs_python_reads_differently_are_refused() {
        assert!(refused("a$b").contains("`$` is only supported at the end"));
        assert!(refused("(a$)+").contains("`$` is only supported at the end"));
        assert!(refused("a$\\Z").contains("`$` is only supported at the end"));
        assert!(refused("\\z").contains("`\\z` is not Python syntax"));
        assert!(refused("[[:alpha:]]").contains("POSIX"));
        assert!(refused("[a[b]]").contains("nested class"));
        assert!(refused("[a&&b]").contains("set operation"));
        assert!(refused("[a--b]").contains("set operation"));
        assert!(refused("\\pL").contains("\\p{"));
        assert!(refused("\\x{41}").contains("\\x{"));
        assert!(refused("\\<a").contains("not a Python assertion"));
        assert!(refused("\\b{start}a").contains("not a Python assertion"));
        assert!(refused("(?<n>a)").contains("(?P<n>"));
        assert!(refused("a(?i)b").contains("start of the pattern"));
        assert!(refused("(?-i)a").contains("negated global flags"));
        assert!(refused("(?x)a b").contains("verbose"));
        assert!(refused("(?U)a*").contains("only the flags"));
        assert!(refused("a**").contains("quantifier after a quantifier"));
        assert!(refused("a*+").contains("possessive"));
        assert!(refused("a{2}{3}").contains("quantifier after a quantifier"));
        assert!(refused("^*").contains("nothing to repeat"));
        assert!(refused("a{2, 3}").contains("with spaces"));
        assert!(refused("a{ 2 }").contains("with spaces"));
        assert!(refused("(?=a)").contains("look-around"));
        assert!(refused("(a)\\1").contains("backreferences"));
        assert!(refused("(").contains("does not compile"));
        assert!(refused("x{}").contains("does not compile"));
        assert!(refused("{'a': 1}").contains("does not compile"));
        assert!(refused("(?#comment)").contains("does not compile"));
        // global flags at the start, and several of them, are fine
        assert!(search("(?i)(?m)^A$", "x\na"));
        assert!(search("(?i)a|B", "b"));
    }

    #[test]
    fn a_pattern_is_compiled_only_when_a_target_could_match() {
        let t = translate("^file:read:/(workspace|tmp)").unwrap();
        assert_eq!(t.search("shell:true"), Ok(false));
        assert_eq!(t.search("http:GET:api.github.com/file:read"), Ok(false));
        assert!(
            t.regex.get().is_none(),
            "no target so far contained a prefix literal"
        );
        assert_eq!(
            t.search("x file:read:/tmp"),
            Ok(false),
            "anchored: compiled, no match"
        );
        assert!(t.regex.get().is_some());
        assert_eq!(t.search("file:read:/workspace/a"), Ok(true));
        // no finite prefix set: every target is searched
        let any = translate("[a-z]+[0-9]").unwrap();
        assert!(any.needles.is_none());
        assert_eq!(any.search("abc1"), Ok(true));
    }

    /// The literal pre-check never changes an answer: the same patterns searched with
    /// and without it, on targets built to contain (or miss) their literals.
    #[test]
    fn the_literal_pre_check_agrees_with_the_compiled_pattern() {
        let patterns = [
            "shell:(rm|dd|mkfs|shutdown|reboot|kill)",
            "^file:write:/(etc|usr|root|var/log)",
            "^http:(GET|POST):api\\.github\\.com",
            "(?i)DROP\\s+TABLE",
            "(?i)ß",
            "\\bcurl\\b",
            "[Ss]ecret|token",
            "a?b",
            "x*",
            "^$",
            "(?m)^rm -rf",
            "\\d{3}-\\d{4}",
            "é+",
            "(?i)k",
            "169\\.254\\.169\\.254",
            "\\Bfoo",
        ];
        let targets = [
            "",
            "shell:rm -rf /",
            "shell:ls",
            "SHELL:RM",
            "file:write:/etc/passwd",
            "x file:write:/etc",
            "http:POST:api.github.com/repos",
            "drop table users",
            "DrOp\tTaBlE",
            "SS",
            "ẞ",
            "use curl now",
            "curling",
            "Secret",
            "b",
            "ab",
            "\nrm -rf /",
            "call 555-1234",
            "ééé",
            "K",
            "\u{212a}",
            "http://169.254.169.254/latest",
            "afoo",
            "foo",
        ];
        let mut checked = 0;
        for p in patterns {
            let t = translate(p).unwrap();
            for h in targets {
                let direct = if h.is_empty() {
                    compile(t.empty_rust.as_deref().unwrap_or(&t.rust))
                        .unwrap()
                        .is_match("")
                } else {
                    compile(&t.rust).unwrap().is_match(h)
                };
                // a fresh translation each time: the pre-check decides before compiling
                let fresh = translate(p).unwrap();
                assert_eq!(fresh.search(h), Ok(direct), "re.search({p:?}, {h:?})");
                checked += 1;
            }
        }
        assert_eq!(checked, patterns.len() * targets.len());
    }

    #[test]
    fn a_pattern_too_large_to_compile_loads_and_then_fails_closed() {
        // valid syntax; the Unicode \w repeated 1000 times exceeds the size limit
        let t = translate("\\w{1000}").unwrap();
        let e = t.search("abc").unwrap_err();
        assert!(e.contains("does not compile"), "{e}");
        assert!(t.compile_all().is_err());
        // and stays an error (the failure is kept, not retried into a different answer)
        assert!(t.search("xyz").is_err());
    }
}
