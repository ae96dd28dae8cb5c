//! Matching an actual JSON value (response body or header) against an
//! expectation pattern, collecting every mismatch rather than stopping at the
//! first, so one run shows the whole diff.
//!
//! Pattern rules (see `compat-fixtures/README.md`):
//! objects are subsets unless `"$exact": true`; arrays match element-wise with
//! equal length unless written `{"$contains": [..]}` and/or `{"$length": N}`;
//! strings may be a whole-string matcher (`{{*}}`, `{{absent}}`, `{{type:..}}`,
//! `{{regex:..}}`, `{{capture:..}}`) or a template compared for equality.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::report::truncate;
use super::template::{Matcher, Part, Template, Vars};

/// Longest rendering of a value or pattern inside a mismatch line.
const SHOWN_CHARS: usize = 160;

/// One difference, printed as `<pointer>: expected <expected>, got <got>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub pointer: String,
    pub expected: String,
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: expected {}, got {}", self.expected, self.got)
    }
}

/// State of one match: the variables it may read, the captures it made and
/// the mismatches it found. Errors (`Err`) are broken patterns, such as an
/// unknown variable, as opposed to the server answering differently.
pub struct Matching<'a> {
    vars: &'a Vars,
    pub captures: Vars,
    pub mismatches: Vec<Mismatch>,
}

/// Whether an object pattern is one of the array forms `$contains`/`$length`.
pub fn is_array_pattern(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| k == "$contains" || k == "$length")
}

/// Compact, truncated rendering of a value for messages.
pub fn show(v: &Value) -> String {
    truncate(&v.to_string(), SHOWN_CHARS)
}

fn show_opt(v: Option<&Value>) -> String {
    v.map_or_else(|| "(absent)".to_string(), show)
}

/// Extend a JSON pointer with one key or index, escaping per RFC 6901.
pub fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

impl<'a> Matching<'a> {
    pub fn new(vars: &'a Vars) -> Self {
        Matching {
            vars,
            captures: Vars::new(),
            mismatches: Vec::new(),
        }
    }

    fn mismatch(&mut self, pointer: &str, expected: String, got: String) {
        self.mismatches.push(Mismatch {
            pointer: pointer.to_string(),
            expected,
            got,
        });
    }

    /// Match `actual` (None when the key is missing) against `pattern`.
    pub fn check(
        &mut self,
        pattern: &Value,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        match pattern {
            Value::String(s) => self.check_string(s, actual, pointer),
            Value::Object(map) if is_array_pattern(map) => {
                self.check_array_pattern(map, actual, pointer)
            }
            Value::Object(map) => self.check_object(map, pattern, actual, pointer),
            Value::Array(items) => self.check_array(items, pattern, actual, pointer),
            literal => {
                self.check_literal(literal, actual, pointer);
                Ok(())
            }
        }
    }

    fn check_string(
        &mut self,
        pattern: &str,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        let template = Template::parse(pattern).map_err(|e| format!("{pointer}: {e}"))?;
        if let Some(Part::Matcher(m)) = template.whole() {
            return self.check_matcher(m, pattern, actual, pointer);
        }
        let expected = template
            .render_value(self.vars)
            .map_err(|e| format!("{pointer}: {e}"))?;
        self.check_literal(&expected, actual, pointer);
        Ok(())
    }

    fn check_matcher(
        &mut self,
        m: &Matcher,
        shown: &str,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        let Some(actual) = actual else {
            if *m != Matcher::Absent {
                self.mismatch(pointer, shown.to_string(), "(absent)".into());
            }
            return Ok(());
        };
        let ok = match m {
            Matcher::Any => true,
            Matcher::Absent => false,
            Matcher::Type(types) => types.iter().any(|t| t.accepts(actual)),
            Matcher::Regex(template) => {
                // Variables are escaped so an id with `.` or `+` matches literally.
                let source = template
                    .render_with(self.vars, regex::escape)
                    .map_err(|e| format!("{pointer}: {e}"))?;
                let re =
                    regex::Regex::new(&source).map_err(|e| format!("{pointer}: bad regex: {e}"))?;
                actual.as_str().is_some_and(|s| re.is_match(s))
            }
            Matcher::Capture(name, then) => {
                self.captures.insert(name.clone(), actual.clone());
                match then {
                    Some(then) => return self.check_matcher(then, shown, Some(actual), pointer),
                    None => true,
                }
            }
        };
        if !ok {
            self.mismatch(pointer, shown.to_string(), show(actual));
        }
        Ok(())
    }

    fn check_literal(&mut self, expected: &Value, actual: Option<&Value>, pointer: &str) {
        if !actual.is_some_and(|a| json_eq(expected, a)) {
            self.mismatch(pointer, show(expected), show_opt(actual));
        }
    }

    fn check_object(
        &mut self,
        map: &Map<String, Value>,
        pattern: &Value,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        let Some(Value::Object(actual_map)) = actual else {
            self.mismatch(pointer, show(pattern), show_opt(actual));
            return Ok(());
        };
        let exact = map.get("$exact") == Some(&Value::Bool(true));
        let mut expected_keys = BTreeSet::new();
        for (key, sub_pattern) in map {
            if key == "$exact" {
                continue;
            }
            let key = Template::parse(key)
                .and_then(|t| t.render(self.vars))
                .map_err(|e| format!("{pointer}: key {key:?}: {e}"))?;
            self.check(sub_pattern, actual_map.get(&key), &child(pointer, &key))?;
            expected_keys.insert(key);
        }
        if exact {
            for (key, value) in actual_map {
                if !expected_keys.contains(key) {
                    self.mismatch(&child(pointer, key), "(absent, $exact)".into(), show(value));
                }
            }
        }
        Ok(())
    }

    fn check_array(
        &mut self,
        items: &[Value],
        pattern: &Value,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        let Some(Value::Array(actual_items)) = actual else {
            self.mismatch(pointer, show(pattern), show_opt(actual));
            return Ok(());
        };
        if items.len() != actual_items.len() {
            self.mismatch(
                pointer,
                format!("{} elements {}", items.len(), show(pattern)),
                format!(
                    "{} elements {}",
                    actual_items.len(),
                    show(actual.unwrap_or(&Value::Null))
                ),
            );
            return Ok(());
        }
        for (i, (p, a)) in items.iter().zip(actual_items).enumerate() {
            self.check(p, Some(a), &child(pointer, &i.to_string()))?;
        }
        Ok(())
    }

    fn check_array_pattern(
        &mut self,
        map: &Map<String, Value>,
        actual: Option<&Value>,
        pointer: &str,
    ) -> Result<(), String> {
        let Some(Value::Array(actual_items)) = actual else {
            self.mismatch(pointer, show(&Value::Object(map.clone())), show_opt(actual));
            return Ok(());
        };
        if let Some(length) = map.get("$length") {
            if length.as_u64() != Some(actual_items.len() as u64) {
                self.mismatch(
                    pointer,
                    format!("$length {length}"),
                    format!(
                        "{} elements {}",
                        actual_items.len(),
                        show(actual.unwrap_or(&Value::Null))
                    ),
                );
            }
        }
        let wanted = match map.get("$contains") {
            Some(Value::Array(wanted)) => wanted.as_slice(),
            _ => &[],
        };
        for p in wanted {
            if !self.find_element(p, actual_items, pointer)? {
                self.mismatch(
                    pointer,
                    format!("an element matching {}", show(p)),
                    show(actual.unwrap_or(&Value::Null)),
                );
            }
        }
        Ok(())
    }

    /// Try `pattern` on each element; keep the captures of the first that
    /// matches. Trials use their own state so a near miss leaves no trace.
    fn find_element(
        &mut self,
        pattern: &Value,
        items: &[Value],
        pointer: &str,
    ) -> Result<bool, String> {
        for (i, item) in items.iter().enumerate() {
            let mut trial = Matching::new(self.vars);
            trial.check(pattern, Some(item), &child(pointer, &i.to_string()))?;
            if trial.mismatches.is_empty() {
                self.captures.extend(trial.captures);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
