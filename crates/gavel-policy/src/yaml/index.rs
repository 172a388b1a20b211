//! The evaluation index: first-match-wins over rules sorted by priority,
//! without scanning every rule.
//!
//! Rules are numbered in their sorted order; the answer is the smallest
//! number among the rules that match. Rules are grouped by the field they
//! look at. Per field, one lookup per operator family finds the smallest
//! matching rule number:
//!
//! - `equals` / `in` with string values: a hash map from the string to the
//!   first rule (a string target never equals a non-string value in Python);
//!   non-string values are compared one by one, in order, with Python `==`
//!   (only for non-string targets, which never equal a string).
//! - `starts_with`: a hash map from prefix to first rule, probed with the
//!   target's prefixes of the lengths that occur.
//! - `contains`: one Aho-Corasick automaton over all needles (overlapping
//!   search reports every needle present); list and mapping targets probe a
//!   hash map with their string elements or keys.
//! - `matches`: one `RegexSet` over the field's patterns, in rule order, run
//!   once per request: the first pattern that matches is the first rule. A small
//!   field scans its patterns in order; each skips a target that contains none
//!   of its prefix literals and is compiled when first searched (`pyregex`); a
//!   pattern that cannot be compiled is a hit that carries the error (deny).
//!
//! A field with at most 8 entries of a kind uses a plain ordered scan
//! instead (cheaper than hashing or an automaton at that size).
//!
//! Fields are visited in the order of their first rule, and a field or an
//! operator family whose first rule comes after the best match so far is
//! skipped, so a high-priority hit costs little.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{RegexSet, RegexSetBuilder};
use serde_json::{Map, Value};

use super::pyregex::Translated;
use super::pyvalue::{PyValue, json_eq_py};
use super::{Operator, Rule};
use std::sync::Arc;

const NONE: u32 = u32::MAX;

/// Up to this many entries, a linear scan beats hashing and automata.
const SMALL: usize = 8;

#[derive(Debug)]
pub(crate) struct Index {
    /// Sorted by `min_rule`.
    fields: Vec<FieldIndex>,
}

/// String -> first rule: a short list when small, a hash map otherwise.
#[derive(Debug, Default)]
struct StrMap {
    building: HashMap<Box<str>, u32>,
    small: Vec<(Box<str>, u32)>,
    big: Option<HashMap<Box<str>, u32>>,
}

impl StrMap {
    fn insert_first(&mut self, k: &str, r: u32) {
        self.building.entry(k.into()).or_insert(r);
    }

    fn finish(&mut self) {
        let built = std::mem::take(&mut self.building);
        if built.len() > SMALL {
            self.big = Some(built);
        } else {
            self.small = built.into_iter().collect();
            self.small.sort_by_key(|(_, r)| *r);
        }
    }

    fn get(&self, k: &str) -> Option<u32> {
        match &self.big {
            Some(m) => m.get(k).copied(),
            None => self.small.iter().find(|(x, _)| &**x == k).map(|(_, r)| *r),
        }
    }
}

#[derive(Debug)]
enum Needles {
    /// Distinct needles with their first rule, in rule order.
    Small(Vec<(Box<str>, u32)>),
    /// One automaton; `rules[i]` is needle i's first rule.
    Automaton { ac: AhoCorasick, rules: Vec<u32> },
}

#[derive(Debug)]
enum Regexes {
    /// In rule order: (rule, pattern), each compiled when a search first needs it.
    Each(Vec<(u32, Arc<Translated>)>),
    /// All patterns of the field in one set; `each[i]` is pattern i's (rule, pattern),
    /// which also answers for the empty target (Python semantics, per pattern).
    Set {
        set: RegexSet,
        each: Vec<(u32, Arc<Translated>)>,
    },
}

/// The first rule of `list` (in rule order, before `best`) whose pattern finds a match
/// in `s`; a pattern that cannot be compiled is a hit that carries the error.
fn scan_each(list: &[(u32, Arc<Translated>)], s: &str, best: &mut u32, err: &mut RuleError) {
    for (r, t) in list {
        if *r >= *best {
            break;
        }
        match t.search(s) {
            Ok(false) => {}
            Ok(true) => {
                *best = *r;
                break;
            }
            Err(e) => {
                *best = *r;
                *err = Some((*r, e));
                break;
            }
        }
    }
}

/// The smallest-numbered rule whose evaluation failed, with why.
type RuleError = Option<(u32, String)>;

/// What the first matching rule is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hit {
    /// This rule matches.
    Rule(usize),
    /// This rule's pattern could not be evaluated (it is the first candidate): the
    /// caller denies.
    Error(usize, String),
}

#[derive(Debug)]
struct FieldIndex {
    /// `None`: the action.
    key: Option<String>,
    min_rule: u32,
    eq_str: StrMap,
    eq_other: Vec<(u32, PyValue)>,
    eq_other_min: u32,
    sw: StrMap,
    sw_lens: Vec<usize>,
    sw_min: u32,
    /// `contains` needles for string targets (the empty needle aside).
    ct: Option<Needles>,
    /// `contains` for list and mapping targets: element / key -> first rule.
    ct_map: StrMap,
    ct_empty: u32,
    ct_min: u32,
    rx: Option<Regexes>,
    rx_min: u32,
}

impl FieldIndex {
    fn new(key: Option<String>) -> Self {
        FieldIndex {
            key,
            min_rule: NONE,
            eq_str: StrMap::default(),
            eq_other: Vec::new(),
            eq_other_min: NONE,
            sw: StrMap::default(),
            sw_lens: Vec::new(),
            sw_min: NONE,
            ct: None,
            ct_map: StrMap::default(),
            ct_empty: NONE,
            ct_min: NONE,
            rx: None,
            rx_min: NONE,
        }
    }
}

impl Index {
    pub(crate) fn build(rules: &[Rule]) -> Index {
        let mut by_field: Vec<FieldIndex> = Vec::new();
        let mut needles: Vec<Vec<(&str, u32)>> = Vec::new();
        let mut patterns: Vec<Vec<(u32, &Arc<Translated>)>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let r = u32::try_from(i).unwrap_or(NONE - 1);
            let pos = match by_field.iter().position(|f| f.key == rule.field) {
                Some(p) => p,
                None => {
                    by_field.push(FieldIndex::new(rule.field.clone()));
                    needles.push(Vec::new());
                    patterns.push(Vec::new());
                    by_field.len() - 1
                }
            };
            let f = &mut by_field[pos];
            f.min_rule = f.min_rule.min(r);
            match rule.operator {
                Operator::Equals | Operator::In => {
                    let single;
                    let values: &[PyValue] = match (&rule.operator, &rule.value) {
                        (Operator::In, PyValue::List(items)) => items,
                        (_, v) => {
                            single = [v.clone()];
                            &single
                        }
                    };
                    for v in values {
                        match v {
                            PyValue::Str(s) => f.eq_str.insert_first(s, r),
                            other => {
                                f.eq_other.push((r, other.clone()));
                                f.eq_other_min = f.eq_other_min.min(r);
                            }
                        }
                    }
                }
                Operator::StartsWith => {
                    f.sw.insert_first(&rule.text, r);
                    if !f.sw_lens.contains(&rule.text.len()) {
                        f.sw_lens.push(rule.text.len());
                    }
                    f.sw_min = f.sw_min.min(r);
                }
                Operator::Contains => {
                    f.ct_map.insert_first(&rule.text, r);
                    if rule.text.is_empty() {
                        f.ct_empty = f.ct_empty.min(r);
                    } else if !needles[pos].iter().any(|(n, _)| *n == rule.text) {
                        needles[pos].push((&rule.text, r));
                    }
                    f.ct_min = f.ct_min.min(r);
                }
                Operator::Matches => {
                    if let Some(t) = &rule.regex {
                        patterns[pos].push((r, t));
                        f.rx_min = f.rx_min.min(r);
                    }
                }
            }
        }
        for (pos, f) in by_field.iter_mut().enumerate() {
            f.eq_str.finish();
            f.sw.finish();
            f.ct_map.finish();
            f.sw_lens.sort_unstable();
            let distinct = &needles[pos];
            if !distinct.is_empty() {
                let small =
                    || Needles::Small(distinct.iter().map(|(n, r)| ((*n).into(), *r)).collect());
                f.ct = Some(if distinct.len() <= SMALL {
                    small()
                } else {
                    match AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(distinct.iter().map(|(n, _)| n.as_bytes()))
                    {
                        Ok(ac) => Needles::Automaton {
                            ac,
                            rules: distinct.iter().map(|(_, r)| *r).collect(),
                        },
                        Err(_) => small(),
                    }
                });
            }
            let pats = &patterns[pos];
            if !pats.is_empty() {
                let list = || -> Vec<(u32, Arc<Translated>)> {
                    pats.iter().map(|(r, t)| (*r, Arc::clone(t))).collect()
                };
                f.rx = Some(if pats.len() <= SMALL {
                    Regexes::Each(list())
                } else {
                    match RegexSetBuilder::new(pats.iter().map(|(_, t)| t.rust.as_str()))
                        .size_limit(super::pyregex::SIZE_LIMIT.saturating_mul(8))
                        .dfa_size_limit(16 << 20)
                        .build()
                    {
                        Ok(set) => Regexes::Set { set, each: list() },
                        // too large for one set: one by one, in order
                        Err(_) => Regexes::Each(list()),
                    }
                });
            }
        }
        by_field.sort_by_key(|f| f.min_rule);
        Index { fields: by_field }
    }

    /// The first (smallest-numbered) rule that matches, if any.
    pub(crate) fn first_match(&self, action: &str, context: &Map<String, Value>) -> Option<Hit> {
        let mut best = NONE;
        let mut err: RuleError = None;
        for f in &self.fields {
            if f.min_rule >= best {
                break;
            }
            match &f.key {
                None => f.scan_str(action, &mut best, &mut err),
                Some(k) => match context.get(k.as_str()) {
                    None => f.scan_str("", &mut best, &mut err),
                    Some(Value::String(s)) => f.scan_str(s, &mut best, &mut err),
                    Some(v) => f.scan_json(v, &mut best),
                },
            }
        }
        match err {
            Some((r, e)) if r == best => Some(Hit::Error(r as usize, e)),
            _ => (best != NONE).then_some(Hit::Rule(best as usize)),
        }
    }
}

impl FieldIndex {
    fn scan_str(&self, s: &str, best: &mut u32, err: &mut RuleError) {
        if let Some(r) = self.eq_str.get(s) {
            *best = (*best).min(r);
        }
        if self.sw_min < *best {
            for &len in &self.sw_lens {
                if len > s.len() {
                    break;
                }
                if let Some(r) = s.get(..len).and_then(|prefix| self.sw.get(prefix)) {
                    *best = (*best).min(r);
                }
            }
        }
        if self.ct_min < *best {
            *best = (*best).min(self.ct_empty);
            match &self.ct {
                Some(Needles::Small(list)) => {
                    for (n, r) in list {
                        if *r >= *best {
                            break;
                        }
                        if s.contains(&**n) {
                            *best = *r;
                            break;
                        }
                    }
                }
                Some(Needles::Automaton { ac, rules }) => {
                    for m in ac.find_overlapping_iter(s) {
                        if let Some(&r) = rules.get(m.pattern().as_usize()) {
                            *best = (*best).min(r);
                        }
                    }
                }
                None => {}
            }
        }
        if self.rx_min < *best {
            match &self.rx {
                Some(Regexes::Each(list)) => scan_each(list, s, best, err),
                Some(Regexes::Set { set, each }) => {
                    if s.is_empty() {
                        scan_each(each, s, best, err);
                    } else if let Some((r, _)) =
                        set.matches(s).iter().next().and_then(|i| each.get(i))
                    {
                        *best = (*best).min(*r);
                    }
                }
                None => {}
            }
        }
    }

    /// A target that is not a string: only `equals`/`in` (Python `==`) and
    /// `contains` on a list (element) or a mapping (key) can match.
    fn scan_json(&self, v: &Value, best: &mut u32) {
        if self.eq_other_min < *best {
            for (r, value) in &self.eq_other {
                if *r >= *best {
                    break;
                }
                if json_eq_py(v, value) {
                    *best = *r;
                    break;
                }
            }
        }
        if self.ct_min < *best {
            match v {
                Value::Array(items) => {
                    for item in items {
                        if let Some(r) = item.as_str().and_then(|s| self.ct_map.get(s)) {
                            *best = (*best).min(r);
                        }
                    }
                }
                Value::Object(m) => {
                    for k in m.keys() {
                        if let Some(r) = self.ct_map.get(k) {
                            *best = (*best).min(r);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// One rule against a string target (the reference semantics).
/// One rule against a string target (the reference semantics); `Err` when its
/// pattern cannot be compiled.
pub(crate) fn matches_str(rule: &Rule, s: &str) -> Result<bool, String> {
    Ok(match rule.operator {
        Operator::Equals => matches!(&rule.value, PyValue::Str(v) if v == s),
        Operator::In => match &rule.value {
            PyValue::List(items) => items.iter().any(|i| matches!(i, PyValue::Str(v) if v == s)),
            PyValue::Str(v) => v == s,
            _ => false,
        },
        Operator::StartsWith => s.starts_with(rule.text.as_str()),
        Operator::Contains => s.contains(rule.text.as_str()),
        Operator::Matches => match &rule.regex {
            Some(t) => return t.search(s),
            None => false,
        },
    })
}

/// One rule against a non-string JSON target (the reference semantics).
pub(crate) fn matches_json(rule: &Rule, v: &Value) -> bool {
    match rule.operator {
        Operator::Equals => json_eq_py(v, &rule.value),
        Operator::In => match &rule.value {
            PyValue::List(items) => items.iter().any(|i| json_eq_py(v, i)),
            other => json_eq_py(v, other),
        },
        // Python raises on a non-string target; the spec makes that "no match".
        Operator::StartsWith | Operator::Matches => false,
        Operator::Contains => match v {
            Value::Array(items) => items
                .iter()
                .any(|i| matches!(i, Value::String(s) if *s == rule.text)),
            Value::Object(m) => m.contains_key(rule.text.as_str()),
            _ => false,
        },
    }
}
