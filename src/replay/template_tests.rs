//! Unit tests for placeholder parsing and rendering.

use super::*;
use serde_json::json;

fn vars() -> Vars {
    let mut v = Vars::new();
    v.insert("admin_username".into(), json!("admin"));
    v.insert("admin_password".into(), json!("secret"));
    v.insert("n".into(), json!(42));
    v.insert("obj".into(), json!({"a": [1, 2]}));
    v
}

fn render(s: &str) -> Result<String, String> {
    Template::parse(s)?.render(&vars())
}

#[test]
fn interpolates_variables_in_text() {
    assert_eq!(
        render("u={{admin_username}}, n={{n}}").unwrap(),
        "u=admin, n=42"
    );
    assert_eq!(render("no placeholders").unwrap(), "no placeholders");
    assert_eq!(
        render("{single} braces } {").unwrap(),
        "{single} braces } {"
    );
    // A variable right before a literal closing brace, as in a raw JSON body.
    assert_eq!(render(r#"{"n":{{n}}}"#).unwrap(), r#"{"n":42}"#);
}

#[test]
fn whole_string_variable_keeps_its_type() {
    let t = Template::parse("{{obj}}").unwrap();
    assert_eq!(t.render_value(&vars()).unwrap(), json!({"a": [1, 2]}));
    let t = Template::parse("{{n}}").unwrap();
    assert_eq!(t.render_value(&vars()).unwrap(), json!(42));
    let t = Template::parse("#{{n}}").unwrap();
    assert_eq!(t.render_value(&vars()).unwrap(), json!("#42"));
}

#[test]
fn md5_helper_hashes_interpolated_template() {
    // md5("admin:secret"), as KAZOO's user_auth credentials expect.
    assert_eq!(
        render("{{md5:{{admin_username}}:{{admin_password}}}}").unwrap(),
        "2d1e4f91dae49cd08eaba2293e422273"
    );
    assert_eq!(
        render("{{sha1:abc}}").unwrap(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        render("{{base64:{{admin_username}}:x}}").unwrap(),
        "YWRtaW46eA=="
    );
}

#[test]
fn render_json_substitutes_keys_and_values() {
    let body = json!({"{{admin_username}}_key": ["{{n}}", "n={{n}}", true]});
    assert_eq!(
        render_json(&body, &vars()).unwrap(),
        json!({"admin_key": [42, "n=42", true]})
    );
}

#[test]
fn unknown_variable_is_an_error_naming_it() {
    let err = render("{{nope}}").unwrap_err();
    assert!(err.contains("`nope`"), "{err}");
}

#[test]
fn parses_matchers() {
    let whole = |s: &str| Template::parse(s).unwrap().whole().cloned();
    assert_eq!(whole("{{*}}"), Some(Part::Matcher(Matcher::Any)));
    assert_eq!(whole("{{absent}}"), Some(Part::Matcher(Matcher::Absent)));
    assert_eq!(
        whole("{{type:string|null}}"),
        Some(Part::Matcher(Matcher::Type(vec![
            JsonType::String,
            JsonType::Null
        ])))
    );
    // Quantifier braces next to the closing braces stay in the regex.
    let Some(Part::Matcher(Matcher::Regex(re))) = whole("{{regex:^[0-9a-f]{32}}}") else {
        panic!("not a regex");
    };
    assert_eq!(re.render(&Vars::new()).unwrap(), "^[0-9a-f]{32}");
    let Some(Part::Matcher(Matcher::Capture(name, Some(then)))) =
        whole("{{capture:id|regex:^a|b$}}")
    else {
        panic!("not a capture");
    };
    assert_eq!(name, "id");
    assert!(matches!(*then, Matcher::Regex(_)));
}

#[test]
fn rejects_bad_placeholders_without_panicking() {
    for bad in [
        "{{",
        "x {{n",
        "{{}}",
        "{{type:strung}}",
        "{{regex:(}}",
        "{{capture:}}",
        "{{md5:{{*}}}}",
        "{{what:ever}}",
        "{{capture:a|capture:b}}",
    ] {
        assert!(Template::parse(bad).is_err(), "{bad} should not parse");
    }
    let deep = "{{md5:".repeat(1000) + &"}}".repeat(1000);
    assert!(Template::parse(&deep).is_err());
    assert!(render("{{*}}").is_err(), "matchers cannot be rendered");
}

#[test]
fn a_long_chain_of_captures_is_an_error_not_a_stack_overflow() {
    // found by the fuzzing work: 20,000 `capture:a|` links overflowed the stack
    let text = format!("{{{{capture:a|{}*}}}}", "capture:a|".repeat(20_000));
    assert!(Template::parse(&text).is_err());
}
