//! The compat fixture format: `parse_fixture` on arbitrary file contents, then the
//! `{{...}}` placeholders of every accepted fixture rendered and matched the way the
//! replay runner does (request interpolation, expectation matching, captures carried
//! from one step to the next). Also `Template::parse` on the raw bytes, so placeholder
//! syntax gets fuzzed without having to be valid JSON first.
//!
//! Seed corpus: the files under `compat-fixtures/` (see fuzz/README.md).
#![no_main]

use kazoo_rec::replay::matcher::Matching;
use kazoo_rec::replay::template::{render_json, value_to_text, Part, Template, Vars};
use kazoo_rec::replay::{parse_fixture, Fixture};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fn base_vars() -> Vars {
    let mut vars = Vars::new();
    for (k, v) in [
        (
            "master_account_id",
            json!("4c2c1d0a6b3e4f5a8b9c0d1e2f3a4b5c"),
        ),
        ("master_account_name", json!("master")),
        ("admin_username", json!("admin")),
        ("admin_password", json!("secret")),
        ("uniq", json!("0badc0de")),
        ("token", json!("tok.en+/=")),
        ("acct", json!("00000000000000000000000000000001")),
        ("user_id", json!("u.1")),
        ("n", json!(5)),
        ("f", json!(1.5)),
        ("b", json!(true)),
        ("nil", Value::Null),
        ("obj", json!({"a": [1, "x"], "b": {"c": null}})),
        ("list", json!(["in_service", "port_in"])),
        ("re", json!("a.b+c*(d)[e]{2}")),
    ] {
        vars.insert(k.to_string(), v);
    }
    vars
}

/// What the runner does with one fixture, minus the HTTP: interpolate the request,
/// then match expectations against a response made from it, keeping captures.
fn exercise(fixture: &Fixture) {
    let mut vars = base_vars();
    for step in &fixture.steps {
        let req = &step.request;
        let _ = Template::parse(&req.path).and_then(|t| t.render(&vars));
        for (k, v) in &req.query {
            let _ = Template::parse(k).and_then(|t| t.render(&vars));
            if let Value::String(s) = v {
                let _ = Template::parse(s).and_then(|t| t.render_value(&vars));
            }
        }
        let mut headers = serde_json::Map::new();
        for (name, v) in &req.headers {
            if let Ok(Value::String(s)) = Template::parse(v).and_then(|t| t.render_value(&vars)) {
                headers.insert(name.to_ascii_lowercase(), Value::String(s));
            }
        }
        let body = req.body.as_ref().map(|b| render_json(b, &vars));
        let raw = req
            .raw_body
            .as_ref()
            .map(|r| Template::parse(r).and_then(|t| t.render(&vars)));

        // A stand-in "response": the rendered request body (or raw body), so patterns
        // meet both matching and non-matching values.
        let actual = match (body, raw) {
            (Some(Ok(v)), _) => v,
            (_, Some(Ok(s))) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            _ => json!({"status": "success", "data": {"id": "x", "list": [1, 2, 3]}}),
        };
        let mut matching = Matching::new(&vars);
        for (name, pattern) in &step.expect.headers {
            let got = headers.get(&name.to_ascii_lowercase());
            let _ = matching.check(
                &Value::String(pattern.clone()),
                got,
                &format!("header {name}"),
            );
        }
        if let Some(pattern) = &step.expect.body {
            let _ = matching.check(pattern, Some(&actual), "");
            // The pattern against itself and against nothing: other branches.
            let mut again = Matching::new(&vars);
            let _ = again.check(pattern, Some(pattern), "");
            let mut absent = Matching::new(&vars);
            let _ = absent.check(pattern, None, "");
            for m in &absent.mismatches {
                let _ = m.to_string();
            }
        }
        for m in &matching.mismatches {
            let _ = m.to_string();
        }
        let captures = std::mem::take(&mut matching.captures);
        drop(matching);
        for v in captures.values() {
            let _ = value_to_text(v);
        }
        vars.extend(captures);
    }
}

fuzz_target!(|data: &[u8]| {
    // The runner reads fixtures with `read_to_string`: non-UTF-8 never reaches the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Placeholder syntax directly.
    if let Ok(t) = Template::parse(text) {
        let vars = base_vars();
        let _ = t.has_matcher();
        let _ = t.whole();
        let _ = t.render(&vars);
        let _ = t.render_value(&vars);
        let _ = t.render_with(&vars, |s| s.to_uppercase());
        if !text.contains("{{") {
            // Text without an opening `{{` is one literal, rendered verbatim.
            assert!(
                t.is_literal(),
                "no `{{{{` but placeholders parsed: {:?}",
                t.parts
            );
            assert_eq!(t.render(&vars).as_deref(), Ok(text));
        }
        if let Some(Part::Var(name)) = t.whole() {
            if let Some(v) = vars.get(name) {
                assert_eq!(t.render_value(&vars).as_ref(), Ok(v));
            }
        }
    } else {
        assert!(text.contains("{{"), "a template without `{{{{` was refused");
    }

    // The fixture file format.
    if let Ok(fixture) = parse_fixture(text) {
        assert!(!fixture.steps.is_empty());
        for step in &fixture.steps {
            assert!(!step.name.is_empty());
            assert!(step.request.path.starts_with('/'));
            assert_eq!(
                step.request.method,
                step.request.method.to_ascii_uppercase()
            );
            assert!(!step.expect.status.is_empty());
            assert!(step.expect.status.iter().all(|s| (100..=599).contains(s)));
        }
        exercise(&fixture);
    }
});
