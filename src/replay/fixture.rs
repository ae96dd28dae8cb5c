//! The fixture file format: one scenario of HTTP steps per JSON file.
//!
//! [`parse_fixture`] deserializes and then validates everything that can be
//! checked without a server (placeholder syntax, regexes, methods, pattern
//! forms), so authoring mistakes surface as a parse error naming the step
//! rather than as a confusing mismatch. It must never panic on any input.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::matcher::{child, is_array_pattern};
use super::template::{Part, Template};

/// One scenario: steps run in order, sharing variables and captures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: String,
    /// Free-form notes for fixture authors (any JSON); ignored.
    #[serde(default, rename = "comment")]
    _comment: IgnoredAny,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "comment")]
    _comment: IgnoredAny,
    pub request: Request,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// Path (and optionally a query string) appended to the target base URL.
    pub path: String,
    #[serde(default)]
    pub query: Map<String, Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body; sent with `Content-Type: application/json` unless the
    /// headers say otherwise.
    #[serde(default)]
    pub body: Option<Value>,
    /// Body sent verbatim (after interpolation), for non-JSON or malformed
    /// payloads.
    #[serde(default)]
    pub raw_body: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Allowed status codes; a fixture may give one number or a list.
    #[serde(deserialize_with = "one_or_many_status")]
    pub status: Vec<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
}

fn one_or_many_status<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u16),
        Many(Vec<u16>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(list)) => Ok(list),
        // The untagged enum's own error ("did not match any variant") is vague.
        Err(_) => Err(serde::de::Error::custom(
            "`status` must be an HTTP status number or a list of them",
        )),
    }
}

/// Parse and validate a fixture. Errors name the offending step and field.
pub fn parse_fixture(text: &str) -> Result<Fixture, String> {
    let mut fixture: Fixture =
        serde_json::from_str(text).map_err(|e| format!("invalid fixture: {e}"))?;
    if fixture.steps.is_empty() {
        return Err("invalid fixture: `steps` is empty".into());
    }
    for (i, step) in fixture.steps.iter_mut().enumerate() {
        if step.name.is_empty() {
            step.name = format!("step {}", i + 1);
        }
        let at = format!("steps[{i}] ({:?})", step.name);
        validate_request(&mut step.request).map_err(|e| format!("{at}.request: {e}"))?;
        validate_expect(&step.expect).map_err(|e| format!("{at}.expect: {e}"))?;
    }
    Ok(fixture)
}

fn validate_request(req: &mut Request) -> Result<(), String> {
    req.method = req.method.to_ascii_uppercase();
    reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| format!("method: {:?} is not an HTTP method", req.method))?;
    if !req.path.starts_with('/') {
        return Err(format!("path: {:?} must start with `/`", req.path));
    }
    if req.body.is_some() && req.raw_body.is_some() {
        return Err("give either `body` or `raw_body`, not both".into());
    }
    request_template(&req.path).map_err(|e| format!("path: {e}"))?;
    for (key, value) in &req.query {
        request_template(key).map_err(|e| format!("query: {e}"))?;
        match value {
            Value::String(s) => request_template(s).map_err(|e| format!("query.{key}: {e}"))?,
            Value::Number(_) | Value::Bool(_) => {}
            _ => return Err(format!("query.{key}: must be a string, number or boolean")),
        }
    }
    for (name, value) in &req.headers {
        request_template(value).map_err(|e| format!("headers.{name}: {e}"))?;
    }
    if let Some(body) = &req.body {
        request_json(body, "").map_err(|e| format!("body{e}"))?;
    }
    if let Some(raw) = &req.raw_body {
        request_template(raw).map_err(|e| format!("raw_body: {e}"))?;
    }
    Ok(())
}

/// Request strings may use variables and helpers but not matchers.
fn request_template(s: &str) -> Result<(), String> {
    if Template::parse(s)?.has_matcher() {
        return Err(format!("{s:?}: matchers are only allowed in `expect`"));
    }
    Ok(())
}

fn request_json(v: &Value, pointer: &str) -> Result<(), String> {
    match v {
        Value::String(s) => request_template(s).map_err(|e| format!("{pointer}: {e}")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| request_json(v, &child(pointer, &i.to_string()))),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            request_template(k).map_err(|e| format!("{pointer}: key {e}"))?;
            request_json(v, &child(pointer, k))
        }),
        _ => Ok(()),
    }
}

fn validate_expect(expect: &Expect) -> Result<(), String> {
    if expect.status.is_empty() {
        return Err("status: the list is empty".into());
    }
    if let Some(bad) = expect.status.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!("status: {bad} is not an HTTP status"));
    }
    for (name, pattern) in &expect.headers {
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("headers: {name:?} is not a header name"))?;
        pattern_string(pattern).map_err(|e| format!("headers.{name}: {e}"))?;
    }
    for name in &expect.absent_headers {
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("absent_headers: {name:?} is not a header name"))?;
    }
    if let Some(body) = &expect.body {
        pattern_json(body, "").map_err(|e| format!("body{e}"))?;
    }
    Ok(())
}

/// An expectation string: a whole-string matcher or a template without any.
fn pattern_string(s: &str) -> Result<(), String> {
    let t = Template::parse(s)?;
    if t.has_matcher() && !matches!(t.whole(), Some(Part::Matcher(_))) {
        return Err(format!("{s:?}: a matcher must be the whole string"));
    }
    Ok(())
}

fn pattern_json(v: &Value, pointer: &str) -> Result<(), String> {
    let at = |e: String| format!("{pointer}: {e}");
    match v {
        Value::String(s) => pattern_string(s).map_err(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| pattern_json(v, &child(pointer, &i.to_string()))),
        Value::Object(map) if is_array_pattern(map) => {
            if let Some(length) = map.get("$length") {
                if length.as_u64().is_none() {
                    return Err(at("`$length` must be a non-negative integer".into()));
                }
            }
            match map.get("$contains") {
                None => Ok(()),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, v)| pattern_json(v, &format!("{pointer}/$contains/{i}"))),
                Some(_) => Err(at("`$contains` must be an array of patterns".into())),
            }
        }
        Value::Object(map) => {
            if map.contains_key("$contains") || map.contains_key("$length") {
                return Err(at(
                    "`$contains`/`$length` cannot be mixed with other keys".into()
                ));
            }
            if map.get("$exact").is_some_and(|e| !e.is_boolean()) {
                return Err(at("`$exact` must be true or false".into()));
            }
            map.iter().try_for_each(|(k, v)| {
                request_template(k).map_err(|e| at(format!("key {e}")))?;
                pattern_json(v, &child(pointer, k))
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"steps": [{"request": {"method": "get", "path": "/v2/about"},
                                         "expect": {"status": [200, 204]}}]}"#;

    #[test]
    fn parses_minimal_fixture_with_defaults() {
        let f = parse_fixture(MINIMAL).unwrap();
        assert_eq!(f.steps[0].name, "step 1");
        assert_eq!(f.steps[0].request.method, "GET");
        assert_eq!(f.steps[0].expect.status, vec![200, 204]);
    }

    #[test]
    fn reports_errors_with_location() {
        let cases = [
            ("", "invalid fixture"),
            ("[]", "invalid fixture"),
            (r#"{"steps": []}"#, "`steps` is empty"),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": "ok"}}]}"#,
                "`status` must be",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": 99}}]}"#,
                "not an HTTP status",
            ),
            (
                r#"{"steps": [{"request": {"method": "G T", "path": "/"}, "expect": {"status": 200}}]}"#,
                "not an HTTP method",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "v2"}, "expect": {"status": 200}}]}"#,
                "must start with",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/", "typo": 1}, "expect": {"status": 200}}]}"#,
                "unknown field `typo`",
            ),
            (
                r#"{"steps": [{"name": "s", "request": {"method": "GET", "path": "/{{*}}"}, "expect": {"status": 200}}]}"#,
                "steps[0] (\"s\").request: path",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": 200, "body": {"a": "x{{*}}"}}}]}"#,
                "body/a: \"x{{*}}\": a matcher must be the whole string",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": 200, "body": {"a": {"$length": -1}}}}]}"#,
                "$length",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": 200, "body": {"$contains": [], "x": 1}}}]}"#,
                "cannot be mixed",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/"}, "expect": {"status": 200, "body": {"a": "{{regex:(}}"}}}]}"#,
                "bad regex",
            ),
            (
                r#"{"steps": [{"request": {"method": "GET", "path": "/", "body": {}, "raw_body": ""}, "expect": {"status": 200}}]}"#,
                "not both",
            ),
        ];
        for (text, needle) in cases {
            let err = parse_fixture(text).unwrap_err();
            assert!(
                err.contains(needle),
                "{text}\n  -> {err}\n  should mention {needle}"
            );
        }
    }

    #[test]
    fn never_panics_on_truncated_or_mangled_input() {
        let full = r#"{"description": "d", "steps": [{"name": "n", "request": {"method": "PUT", "path": "/v2/{{a}}", "query": {"q": 1}, "headers": {"X": "{{md5:{{a}}:{{b}}}}"}, "body": {"data": ["{{n}}"]}}, "expect": {"status": 201, "headers": {"Location": "{{regex:^/}}"}, "body": {"data": {"$contains": [{"id": "{{capture:id}}"}]}}, "absent_headers": ["x"]}}]}"#;
        assert!(
            parse_fixture(full).is_ok(),
            "{:?}",
            parse_fixture(full).err()
        );
        for cut in 0..full.len() {
            let _ = parse_fixture(&full[..cut]);
            let mut mangled = full.as_bytes().to_vec();
            mangled[cut] = b'{';
            let _ = parse_fixture(&String::from_utf8_lossy(&mangled));
            mangled[cut] = b'}';
            let _ = parse_fixture(&String::from_utf8_lossy(&mangled));
        }
        let deep = "[".repeat(100_000);
        assert!(parse_fixture(&deep).is_err());
    }
}
