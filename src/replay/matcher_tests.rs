//! Unit tests for the expectation matcher.

use super::*;
use serde_json::json;

fn vars() -> Vars {
    let mut v = Vars::new();
    v.insert("account_id".into(), json!("a1b2"));
    v.insert("count".into(), json!(2));
    v
}

/// Run a match and return the mismatch lines and the captures.
fn run(pattern: Value, actual: Value) -> (Vec<String>, Vars) {
    let vars = vars();
    let mut m = Matching::new(&vars);
    m.check(&pattern, Some(&actual), "").expect("pattern error");
    (
        m.mismatches.iter().map(ToString::to_string).collect(),
        m.captures,
    )
}

fn mismatches(pattern: Value, actual: Value) -> Vec<String> {
    run(pattern, actual).0
}

#[test]
fn objects_match_as_subset() {
    let actual = json!({"data": {"id": "x", "name": "n", "extra": 1}, "status": "success"});
    assert!(mismatches(json!({"data": {"id": "x"}}), actual.clone()).is_empty());
    assert_eq!(
        mismatches(json!({"data": {"id": "y"}, "status": "error"}), actual),
        vec![
            r#"/data/id: expected "y", got "x""#,
            r#"/status: expected "error", got "success""#
        ]
    );
}

#[test]
fn missing_key_is_reported_as_absent() {
    assert_eq!(
        mismatches(json!({"auth_token": "{{*}}"}), json!({})),
        vec!["/auth_token: expected {{*}}, got (absent)"]
    );
}

#[test]
fn exact_objects_reject_extra_keys() {
    let actual = json!({"a": 1, "b": 2});
    assert!(mismatches(json!({"$exact": true, "a": 1, "b": 2}), actual.clone()).is_empty());
    assert_eq!(
        mismatches(json!({"$exact": true, "a": 1}), actual),
        vec!["/b: expected (absent, $exact), got 2"]
    );
}

#[test]
fn arrays_match_element_wise_with_same_length() {
    assert!(mismatches(json!([1, {"a": "x"}]), json!([1, {"a": "x", "b": 0}])).is_empty());
    assert_eq!(
        mismatches(json!([1, 3]), json!([1, 2])),
        vec!["/1: expected 3, got 2"]
    );
    let lines = mismatches(json!([1]), json!([1, 2]));
    assert_eq!(
        lines,
        vec!["/: expected 1 elements [1], got 2 elements [1,2]"]
    );
}

#[test]
fn contains_and_length_forms() {
    let actual = json!([{"id": "a", "n": 1}, {"id": "b", "n": 2}]);
    assert!(mismatches(
        json!({"$contains": [{"id": "b"}], "$length": 2}),
        actual.clone()
    )
    .is_empty());
    assert!(mismatches(json!({"$length": 1}), json!([{"x": 1}])).is_empty());
    let lines = mismatches(json!({"$contains": [{"id": "c"}], "$length": 3}), actual);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("/: expected $length 3, got 2 elements"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(r#"/: expected an element matching {"id":"c"}"#),
        "{lines:?}"
    );
}

#[test]
fn contains_keeps_captures_of_the_matching_element_only() {
    let actual = json!([{"id": "a", "name": "x"}, {"id": "b", "name": "y"}]);
    let (lines, captures) = run(
        json!({"$contains": [{"id": "{{capture:found}}", "name": "y"}]}),
        actual,
    );
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(captures.get("found"), Some(&json!("b")));
}

#[test]
fn variables_substitute_with_their_type() {
    assert!(mismatches(
        json!({"id": "{{account_id}}", "n": "{{count}}"}),
        json!({"id": "a1b2", "n": 2})
    )
    .is_empty());
    // A number variable does not equal the string "2".
    assert_eq!(
        mismatches(json!("{{count}}"), json!("2")),
        vec![r#"/: expected 2, got "2""#]
    );
    assert!(mismatches(json!("/accounts/{{account_id}}"), json!("/accounts/a1b2")).is_empty());
    assert!(mismatches(json!({"{{account_id}}": true}), json!({"a1b2": true})).is_empty());
}

#[test]
fn numbers_compare_by_value() {
    assert!(mismatches(json!(1), json!(1.0)).is_empty());
    assert_eq!(mismatches(json!(1), json!("1")).len(), 1);
}

#[test]
fn capture_stores_any_json_value() {
    let actual = json!({"auth_token": "tok", "data": {"account_id": "acc", "list": [1, 2]}});
    let pattern = json!({"auth_token": "{{capture:token}}", "data": {"account_id": "{{capture:acc|regex:^[a-z]+$}}", "list": "{{capture:list}}"}});
    let (lines, captures) = run(pattern, actual);
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(captures.get("token"), Some(&json!("tok")));
    assert_eq!(captures.get("acc"), Some(&json!("acc")));
    assert_eq!(captures.get("list"), Some(&json!([1, 2])));
    let lines = mismatches(
        json!({"id": "{{capture:id|regex:^\\d+$}}"}),
        json!({"id": "abc"}),
    );
    assert_eq!(
        lines,
        vec![r#"/id: expected {{capture:id|regex:^\d+$}}, got "abc""#]
    );
}

#[test]
fn absent_matcher() {
    assert!(mismatches(json!({"password": "{{absent}}"}), json!({"name": "x"})).is_empty());
    assert_eq!(
        mismatches(json!({"password": "{{absent}}"}), json!({"password": "p"})),
        vec![r#"/password: expected {{absent}}, got "p""#]
    );
}

#[test]
fn regex_matcher() {
    assert!(mismatches(json!("{{regex:^[0-9a-f]{4}$}}"), json!("a1b2")).is_empty());
    assert_eq!(
        mismatches(json!("{{regex:^[0-9a-f]{4}$}}"), json!("a1b2c")).len(),
        1
    );
    // Regexes only match strings.
    assert_eq!(mismatches(json!("{{regex:^1$}}"), json!(1)).len(), 1);
    // Variables inside a regex are escaped literals.
    assert!(mismatches(
        json!("{{regex:^/v2/accounts/{{account_id}}$}}"),
        json!("/v2/accounts/a1b2")
    )
    .is_empty());
}

#[test]
fn type_matcher() {
    let cases = [
        ("string", json!("s")),
        ("number", json!(1.5)),
        ("integer", json!(3)),
        ("boolean", json!(false)),
        ("object", json!({})),
        ("array", json!([])),
        ("null", json!(null)),
    ];
    for (name, value) in &cases {
        for (other, other_value) in &cases {
            let pattern = json!(format!("{{{{type:{name}}}}}"));
            let ok = mismatches(pattern, other_value.clone()).is_empty();
            let expected = name == other || (*name == "number" && *other == "integer");
            assert_eq!(ok, expected, "type:{name} against {value} vs {other_value}");
        }
    }
    assert!(mismatches(json!("{{type:string|null}}"), json!(null)).is_empty());
}

#[test]
fn wrong_container_types_are_mismatches_not_errors() {
    assert_eq!(
        mismatches(json!({"a": 1}), json!([1])),
        vec![r#"/: expected {"a":1}, got [1]"#]
    );
    assert_eq!(mismatches(json!([1]), json!({"a": 1})).len(), 1);
    assert_eq!(mismatches(json!({"$contains": [1]}), json!("x")).len(), 1);
}

#[test]
fn pointers_escape_slash_and_tilde() {
    assert_eq!(
        mismatches(json!({"a/b": {"c~d": 1}}), json!({"a/b": {"c~d": 2}})),
        vec!["/a~1b/c~0d: expected 1, got 2"]
    );
}

#[test]
fn unknown_variable_is_a_pattern_error() {
    let vars = vars();
    let mut m = Matching::new(&vars);
    let err = m
        .check(&json!({"x": "{{nope}}"}), Some(&json!({"x": 1})), "")
        .unwrap_err();
    assert!(err.contains("/x") && err.contains("nope"), "{err}");
}

#[test]
fn long_values_are_truncated() {
    let long = "x".repeat(1000);
    let lines = mismatches(json!("short"), json!(long));
    assert!(lines[0].len() < 300, "{}", lines[0]);
    assert!(lines[0].contains('…'));
}
