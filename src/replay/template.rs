//! `{{...}}` placeholders inside fixture strings.
//!
//! A string is parsed into a [`Template`]: literal text interleaved with
//! placeholders. Placeholders are variables (`{{name}}`), helpers that hash or
//! encode an interpolated inner template (`{{md5:...}}`, `{{sha1:...}}`,
//! `{{base64:...}}`), or matchers (`{{*}}`, `{{regex:...}}`, ...) that are
//! only meaningful in expectations and are evaluated by the matcher module.
//!
//! Parsing never panics: fixtures are untrusted input and the parser will be
//! fuzzed.

use std::collections::BTreeMap;

use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::Value;
use sha1::Sha1;

/// Variables visible to a step: caller-supplied ones, `uniq`, and captures.
pub type Vars = BTreeMap<String, Value>;

/// Helpers nest (`{{md5:{{a}}:{{b}}}}`); the limit keeps hostile input from
/// exhausting the stack.
const MAX_NESTING: usize = 16;

/// A parsed string: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Var(String),
    Helper(Helper, Template),
    Matcher(Matcher),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Helper {
    Md5,
    Sha1,
    Base64,
}

/// A value matcher; only allowed as the whole string of an expectation.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// `{{*}}`: any value, but the key must be present.
    Any,
    /// `{{absent}}`: the key must not be present.
    Absent,
    /// `{{type:string|number}}`: one of the listed JSON types.
    Type(Vec<JsonType>),
    /// `{{regex:<re>}}`: a string matching the regex. The regex is itself a
    /// template so it can mention variables (they are regex-escaped).
    Regex(Template),
    /// `{{capture:name}}` or `{{capture:name|<matcher>}}`.
    Capture(String, Option<Box<Matcher>>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    Null,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" => JsonType::Boolean,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    pub fn accepts(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            // 3.0 counts as an integer: JSON does not distinguish them.
            JsonType::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            JsonType::Boolean => v.is_boolean(),
            JsonType::Object => v.is_object(),
            JsonType::Array => v.is_array(),
            JsonType::Null => v.is_null(),
        }
    }
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        parse_at_depth(text, 0)
    }

    /// The single placeholder making up the whole string, if that is what it is.
    pub fn whole(&self) -> Option<&Part> {
        match self.parts.as_slice() {
            [p] if !matches!(p, Part::Lit(_)) => Some(p),
            _ => None,
        }
    }

    /// True if any matcher appears anywhere, including inside helpers.
    pub fn has_matcher(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Matcher(_) => true,
            Part::Helper(_, inner) => inner.has_matcher(),
            _ => false,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Interpolate into a string. `escape` is applied to substituted values
    /// (not to literal text), which is how regexes quote variables.
    pub fn render_with(&self, vars: &Vars, escape: fn(&str) -> String) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(name) => out.push_str(&escape(&value_to_text(lookup(vars, name)?))),
                Part::Helper(helper, inner) => {
                    let input = inner.render_with(vars, |s| s.to_string())?;
                    out.push_str(&escape(&apply_helper(*helper, &input)));
                }
                Part::Matcher(_) => {
                    return Err("a matcher ({{*}}, {{regex:..}}, ...) is only allowed as a whole expectation string".into())
                }
            }
        }
        Ok(out)
    }

    pub fn render(&self, vars: &Vars) -> Result<String, String> {
        self.render_with(vars, |s| s.to_string())
    }

    /// Like [`Template::render`], but a whole-string `{{name}}` keeps the
    /// variable's JSON type (number, object, ...).
    pub fn render_value(&self, vars: &Vars) -> Result<Value, String> {
        if let Some(Part::Var(name)) = self.whole() {
            return lookup(vars, name).cloned();
        }
        self.render(vars).map(Value::String)
    }
}

/// Substitute placeholders in every string (and object key) of a JSON value.
pub fn render_json(value: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Template::parse(s)?.render_value(vars)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                out.insert(Template::parse(k)?.render(vars)?, render_json(v, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Text form of a variable: strings verbatim, everything else as JSON.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lookup<'a>(vars: &'a Vars, name: &str) -> Result<&'a Value, String> {
    vars.get(name).ok_or_else(|| {
        let known: Vec<&str> = vars.keys().map(String::as_str).collect();
        format!("unknown variable `{name}` (known: {})", known.join(", "))
    })
}

fn apply_helper(helper: Helper, input: &str) -> String {
    match helper {
        Helper::Md5 => format!("{:x}", Md5::digest(input.as_bytes())),
        Helper::Sha1 => format!("{:x}", Sha1::digest(input.as_bytes())),
        Helper::Base64 => base64::engine::general_purpose::STANDARD.encode(input),
    }
}

fn parse_at_depth(text: &str, depth: usize) -> Result<Template, String> {
    if depth > MAX_NESTING {
        return Err(format!("placeholders nested more than {MAX_NESTING} deep"));
    }
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if &bytes[i..i + 2] != b"{{" {
            i += 1;
            continue;
        }
        let (inner_end, close_end) = find_close(bytes, i + 2)
            .ok_or_else(|| format!("unterminated `{{{{` in {}", quote(text)))?;
        if lit_start < i {
            parts.push(Part::Lit(text[lit_start..i].to_string()));
        }
        parts.push(parse_placeholder(&text[i + 2..inner_end], depth)?);
        i = close_end;
        lit_start = i;
    }
    if lit_start < text.len() {
        parts.push(Part::Lit(text[lit_start..].to_string()));
    }
    Ok(Template { parts })
}

/// Find the `}}` closing a placeholder whose content starts at `start`.
/// Returns (end of content, end of closing braces).
///
/// Nested `{{` open further levels. In a run of `}`, an odd brace closes a
/// single `{` left open in the content if there is one (so `{{regex:^a{2}}}`
/// is the regex `^a{2}`), and otherwise stays outside as literal text (so a
/// raw body `{"n":{{n}}}` ends with a literal `}`).
fn find_close(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut depth = 1;
    let mut open_singles = 0usize;
    let mut j = start;
    while j < bytes.len() {
        if bytes[j] == b'{' {
            if bytes.get(j + 1) == Some(&b'{') {
                depth += 1;
                j += 2;
            } else {
                open_singles += 1;
                j += 1;
            }
        } else if bytes[j] == b'}' {
            let run = bytes[j..].iter().take_while(|&&b| b == b'}').count();
            let single = usize::from(run % 2 == 1 && open_singles > 0);
            open_singles -= single;
            let closes = ((run - single) / 2).min(depth);
            if closes == depth {
                // All but the last pair close nested placeholders, which are
                // part of this one's content.
                let content_end = j + single + 2 * (closes - 1);
                return Some((content_end, content_end + 2));
            }
            depth -= closes;
            j += run;
        } else {
            j += 1;
        }
    }
    None
}

fn parse_placeholder(inner: &str, depth: usize) -> Result<Part, String> {
    let helper = |h: Helper, rest: &str| -> Result<Part, String> {
        let arg = parse_at_depth(rest, depth + 1)?;
        if arg.has_matcher() {
            return Err(format!("matchers are not allowed inside {{{{{inner}}}}}"));
        }
        Ok(Part::Helper(h, arg))
    };
    if let Some(rest) = inner.strip_prefix("md5:") {
        return helper(Helper::Md5, rest);
    }
    if let Some(rest) = inner.strip_prefix("sha1:") {
        return helper(Helper::Sha1, rest);
    }
    if let Some(rest) = inner.strip_prefix("base64:") {
        return helper(Helper::Base64, rest);
    }
    if is_var_name(inner) && inner != "absent" {
        return Ok(Part::Var(inner.to_string()));
    }
    parse_matcher(inner, depth).map(Part::Matcher)
}

fn parse_matcher(inner: &str, depth: usize) -> Result<Matcher, String> {
    // `capture:a|capture:b|…` recurses here without passing through parse_at_depth
    if depth > MAX_NESTING {
        return Err(format!("placeholders nested more than {MAX_NESTING} deep"));
    }
    if inner == "*" {
        return Ok(Matcher::Any);
    }
    if inner == "absent" {
        return Ok(Matcher::Absent);
    }
    if let Some(list) = inner.strip_prefix("type:") {
        let types = list
            .split('|')
            .map(|t| JsonType::parse(t.trim()).ok_or_else(|| format!("unknown type `{t}` in {{{{{inner}}}}} (use string, number, integer, boolean, object, array or null)")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Matcher::Type(types));
    }
    if let Some(re) = inner.strip_prefix("regex:") {
        let template = parse_at_depth(re, depth + 1)?;
        if template.has_matcher() {
            return Err(format!("matchers are not allowed inside {{{{{inner}}}}}"));
        }
        // Compile now when possible so a bad regex is a fixture error.
        if template.is_literal() {
            let source = template.render(&Vars::new())?;
            regex::Regex::new(&source).map_err(|e| format!("bad regex in {{{{{inner}}}}}: {e}"))?;
        }
        return Ok(Matcher::Regex(template));
    }
    if let Some(rest) = inner.strip_prefix("capture:") {
        let (name, then) = match rest.split_once('|') {
            Some((name, then)) => (name, Some(then)),
            None => (rest, None),
        };
        if !is_var_name(name) {
            return Err(format!("bad capture name `{name}` in {{{{{inner}}}}}"));
        }
        let then = match then {
            Some(t) => match parse_matcher(t, depth + 1)? {
                Matcher::Capture(..) | Matcher::Absent => {
                    return Err(format!("cannot combine capture with `{t}`"))
                }
                m => Some(Box::new(m)),
            },
            None => None,
        };
        return Ok(Matcher::Capture(name.to_string(), then));
    }
    Err(format!(
        "unknown placeholder {{{{{inner}}}}} (expected a variable name, md5:, sha1:, base64:, *, absent, type:, regex: or capture:)"
    ))
}

fn is_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// JSON-quote a string for messages, cut to a readable length.
fn quote(s: &str) -> String {
    super::report::truncate(&Value::String(s.to_string()).to_string(), 120)
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
