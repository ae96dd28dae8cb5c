//! Behaviour tests: KAZOO's error shapes, defaults, type fixing and the
//! extensions, mostly through the embedded schemas.

use serde_json::{json, Map, Value};

use super::compile::{Extra, Items, Keyword, Node};
use super::{SchemaSet, ValidationOptions};

pub(super) fn embedded() -> SchemaSet {
    SchemaSet::embedded(ValidationOptions::default())
}

/// A set made of inline schemas, for rules the real schemas do not show.
fn inline(schemas: &[Value]) -> SchemaSet {
    let files = schemas.iter().map(|schema| {
        let name = schema["_id"].as_str().unwrap_or("inline").to_string();
        (
            format!("{name}.json"),
            serde_json::to_vec(schema).unwrap_or_default(),
        )
    });
    SchemaSet::from_files(files, ValidationOptions::default()).expect("inline schemas")
}

pub(super) fn ok(set: &SchemaSet, name: &str, doc: Value) -> Value {
    let mut doc = doc;
    if let Err(errors) = set.validate(name, &mut doc) {
        panic!("{name} rejected {doc}: {}", Value::Object(errors));
    }
    doc
}

pub(super) fn err(set: &SchemaSet, name: &str, doc: Value) -> Value {
    let mut doc = doc;
    match set.validate(name, &mut doc) {
        Ok(()) => panic!("{name} accepted {doc}"),
        Err(errors) => Value::Object(errors),
    }
}

pub(super) fn callflow(flow: Value) -> Value {
    json!({"numbers": ["1000"], "flow": flow})
}

#[test]
fn embedded_set_has_the_whole_closure_and_every_pattern_compiles() {
    let set = embedded();
    assert_eq!(set.names().len(), 143);
    for name in [
        "accounts",
        "users",
        "devices",
        "callflows.record_call",
        "metaflow",
        "queues",
    ] {
        assert!(set.has(name), "{name}");
    }
    for name in set.names() {
        let node = set.schema(name).expect("listed");
        assert!(
            all_patterns_compile(node),
            "{name} has a pattern we cannot compile"
        );
    }
}

fn all_patterns_compile(node: &Node) -> bool {
    let children: Vec<&Node> = node
        .keywords
        .iter()
        .flat_map(|keyword| -> Vec<&Node> {
            match keyword {
                Keyword::Properties(props) => props.iter().map(|p| &p.schema).collect(),
                Keyword::PatternProperties(pps) => pps.iter().map(|(_, n)| n).collect(),
                Keyword::AdditionalProperties(a) => match &a.rule {
                    Extra::Schema(n) => vec![n.as_ref()],
                    Extra::Forbidden => vec![],
                },
                Keyword::Items(Items::Each(n)) => vec![n.as_ref()],
                Keyword::Items(Items::Tuple { items, .. }) => items.iter().collect(),
                Keyword::AllOf(b) | Keyword::AnyOf(b) | Keyword::OneOf(b) => b.iter().collect(),
                _ => vec![],
            }
        })
        .collect();
    let own = node.keywords.iter().all(|keyword| match keyword {
        Keyword::Pattern(p) => p.regex.is_some(),
        Keyword::PatternProperties(pps) => pps.iter().all(|(p, _)| p.regex.is_some()),
        Keyword::Invalid { .. } => false,
        _ => true,
    });
    own && children.into_iter().all(all_patterns_compile)
}

#[test]
fn required_is_keyed_by_the_missing_property_path() {
    let set = embedded();
    let errors = err(&set, "users", json!({"first_name": "Ada"}));
    assert_eq!(
        errors,
        json!({"last_name": {"required": {"message": "Field is required but missing", "value": "last_name"}}})
    );
    let errors = err(&set, "callflows", callflow(json!({"data": {}})));
    assert_eq!(errors["flow.module"]["required"]["value"], "module");
}

#[test]
fn type_enum_length_and_range_errors() {
    let set = embedded();
    let errors = err(
        &set,
        "users",
        json!({"first_name": 5, "last_name": "L", "priv_level": "root"}),
    );
    assert_eq!(
        errors["first_name"],
        json!({"type": {"message": "Value did not match type(s): string", "target": "string", "value": 5}})
    );
    assert_eq!(
        errors["priv_level"],
        json!({"enum": {"message": "Value not found in enumerated list of values",
                        "target": ["user", "admin"], "value": "root"}})
    );
    let errors = err(&set, "user_auth", json!({"credentials": ""}));
    assert_eq!(
        errors,
        json!({"credentials": {"minLength": {"message": "String must be at least 1 characters",
                                             "target": 1, "cause": "", "value": ""}}})
    );
    let long = "x".repeat(65);
    let errors = err(&set, "user_auth", json!({"credentials": long}));
    assert_eq!(
        errors["credentials"]["maxLength"]["message"],
        "String must not be more than 64 characters"
    );
    let flow =
        |limit: i64| callflow(json!({"module": "record_call", "data": {"time_limit": limit}}));
    let errors = err(&set, "callflows", flow(4));
    assert_eq!(
        errors,
        json!({"flow.data.time_limit": {"minimum": {"message": "Value must be at least 5", "target": 5, "value": 4}}})
    );
    let errors = err(&set, "callflows", flow(10801));
    assert_eq!(
        errors["flow.data.time_limit"]["maximum"]["message"],
        "Value must be at most 10800"
    );
}

#[test]
fn items_unique_additional_pattern_and_format_errors() {
    let set = embedded();
    let errors = err(&set, "callflows", json!({"numbers": ["1000", "1000"]}));
    assert_eq!(
        errors,
        json!({"numbers": {"uniqueItems": {"message": "List of items is not unique", "value": ["1000", "1000"]}}})
    );
    let errors = err(&set, "callflows", json!({"numbers": ["", "1001"]}));
    assert_eq!(errors["numbers.0"]["minLength"]["target"], 1);

    let doc = json!({"api_key": "k".repeat(64), "extra": true});
    let errors = err(&set, "api_auth", doc.clone());
    assert_eq!(
        errors,
        json!({"extra": {"additionalProperties": {
            "message": "Strict checking of data is enabled; only include schema-defined properties",
            "value": doc}}})
    );
    let errors = err(
        &set,
        "users",
        json!({"first_name": "a", "last_name": "b", "username": "a b"}),
    );
    assert_eq!(
        errors["username"]["pattern"],
        json!({"message": "Failed to match pattern '^([+@.\\w_-]+)$'", "target": "^([+@.\\w_-]+)$", "value": "a b"})
    );
    let errors = err(
        &set,
        "users",
        json!({"first_name": "a", "last_name": "b", "email": "nope"}),
    );
    assert_eq!(
        errors["email"],
        json!({"wrong_format": {"message": "Field is not in the correct format", "value": "nope", "format": "email"}})
    );
}

#[test]
fn min_and_max_items_follow_kazoos_comparison() {
    let set = inline(&[
        json!({"_id": "lists", "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {"few": {"type": "array", "minItems": 2, "maxItems": 3},
                       "capped": {"type": "array", "maxItems": 1}}}),
    ]);
    let errors = err(&set, "lists", json!({"few": [1, 2, 3, 4]}));
    assert_eq!(
        errors,
        json!({"few": {"maxItems": {"message": "The list is more than 3 items", "target": 3, "value": [1, 2, 3, 4]}}})
    );
    // Without minItems, Erlang's `N < undefined` is true: KAZOO says minItems.
    let errors = err(&set, "lists", json!({"capped": [1, 2]}));
    assert_eq!(
        errors,
        json!({"capped": {"minItems": {"message": "The list must have at least undefined items", "value": [1, 2]}}})
    );
}

#[test]
fn one_of_failure_and_dotted_keys() {
    let set = embedded();
    let id = "0123456789abcdef0123456789abcdef";
    let attachment = json!({"handler": "s3", "settings": {"bucket": "short"}});
    let errors = err(
        &set,
        "storage",
        json!({"attachments": {id: attachment.clone()}}),
    );
    assert_eq!(
        errors,
        json!({format!("attachments.{id}"): {"not_one_schema_valid": {"message": "failed to validate", "value": attachment}}})
    );
    // Dots inside a key are escaped so the flat key stays unambiguous.
    let set = inline(&[json!({"_id": "dots", "additionalProperties": false, "properties": {}})]);
    let errors = err(&set, "dots", json!({"a.b": 1}));
    assert!(errors.get("a%2Eb").is_some(), "{errors}");
}

#[test]
fn a_later_error_on_the_same_path_replaces_the_earlier_one() {
    // `enum` sorts before `type`, so a wrong-typed enum property reports `type`.
    let set = embedded();
    let errors = err(
        &set,
        "users",
        json!({"first_name": "a", "last_name": "b", "priv_level": 7}),
    );
    assert_eq!(errors["priv_level"].as_object().map(Map::len), Some(1));
    assert!(errors["priv_level"].get("type").is_some(), "{errors}");
}

#[test]
fn any_of_fails_once_anything_earlier_failed() {
    // jesse checks anyOf branches against the whole error list, so an earlier
    // error makes a perfectly good `sip.custom_sip_headers` fail too.
    let set = embedded();
    let headers = json!({"name": "d", "sip": {"custom_sip_headers": {"X-A": "1"}}});
    ok(&set, "devices", headers.clone());
    let mut bad = headers;
    bad["call_forward"] = json!("not an object");
    let errors = err(&set, "devices", bad);
    assert!(errors.get("call_forward").is_some());
    assert_eq!(
        errors["sip.custom_sip_headers"]["any_schemas_not_valid"]["message"],
        "failed to validate"
    );
}

#[test]
fn defaults_fill_nested_objects() {
    let set = embedded();
    let device = ok(&set, "devices", json!({"name": "desk phone"}));
    assert_eq!(device["enabled"], true);
    assert_eq!(device["sip"]["method"], "password");
    assert_eq!(device["sip"]["invite_format"], "contact");
    assert_eq!(device["sip"]["expire_seconds"], 300);
    let user = ok(
        &set,
        "users",
        json!({"first_name": "Ada", "last_name": "Lovelace"}),
    );
    assert_eq!(user["priv_level"], "user");
    assert_eq!(user["enabled"], true);
    assert_eq!(user["vm_to_email_enabled"], true);
    // A caller's value is never replaced by a default.
    let user = ok(
        &set,
        "users",
        json!({"first_name": "A", "last_name": "L", "priv_level": "admin"}),
    );
    assert_eq!(user["priv_level"], "admin");
}

#[test]
fn record_call_data_gets_its_defaults_and_required_action() {
    let set = embedded();
    for data in [
        json!({"module": "record_call", "data": {}}),
        json!({"module": "record_call"}),
    ] {
        let flow = ok(&set, "callflows", callflow(data));
        let data = &flow["flow"]["data"];
        assert_eq!(data["action"], "start");
        assert_eq!(data["method"], "put");
        assert_eq!(data["time_limit"], 3600);
        assert_eq!(data["record_on_answer"], false);
        assert_eq!(data["should_follow_transfer"], true);
        assert_eq!(flow["patterns"], json!([]));
    }
}

#[test]
fn defaults_are_not_invented_for_pattern_keys_or_missing_parents() {
    let set = inline(&[json!({"_id": "d", "properties": {
        "parent": {"type": "object", "properties": {"leaf": {"type": "string", "default": "x"}}},
        "typed": {"type": "integer", "default": "not an integer"},
        "untyped": {"default": 1}},
        "patternProperties": {"^p": {"type": "object", "properties": {"leaf": {"type": "string", "default": "y"}}}}})]);
    let doc = ok(&set, "d", json!({"p1": {}}));
    assert_eq!(doc, json!({"p1": {"leaf": "y"}}));
}

#[test]
fn one_of_keeps_only_the_matching_branchs_defaults() {
    let set = embedded();
    let id = "0123456789abcdef0123456789abcdef";
    let doc = json!({"attachments": {id: {"handler": "http", "settings": {"url": "https://rec.example.com/in"}}}});
    let doc = ok(&set, "storage", doc);
    let settings = &doc["attachments"][id]["settings"];
    assert_eq!(settings["verb"], "put");
    assert_eq!(settings["base64_encode_data"], false);
    assert_eq!(settings.as_object().map(Map::len), Some(3), "{settings}");
}

#[test]
fn strings_are_coerced_for_integer_and_boolean_fields() {
    let set = embedded();
    let data = json!({"module": "record_call", "data": {"time_limit": "3600", "record_on_answer": "true"}});
    let flow = ok(&set, "callflows", callflow(data));
    assert_eq!(flow["flow"]["data"]["time_limit"], 3600);
    assert_eq!(flow["flow"]["data"]["record_on_answer"], true);
    let data = json!({"module": "record_call", "data": {"time_limit": "1"}});
    let errors = err(&set, "callflows", callflow(data));
    assert_eq!(errors["flow.data.time_limit"]["minimum"]["value"], 1);
    let data = json!({"module": "record_call", "data": {"time_limit": "soon"}});
    let errors = err(&set, "callflows", callflow(data));
    assert_eq!(errors["flow.data.time_limit"]["type"]["value"], "soon");
}

#[test]
fn unknown_schema_and_odd_documents() {
    let set = embedded();
    let errors = err(&set, "no_such_schema", json!({}));
    assert_eq!(
        errors,
        json!({"schema": {"schema": {"message": "schema not found", "schema": "no_such_schema"}}})
    );
    let errors = err(&set, "users", json!("a string"));
    assert_eq!(errors[""]["type"]["target"], "object");
    let errors = err(&set, "users", json!(null));
    assert!(errors.get("").is_some());
}

#[test]
fn later_one_of_branches_see_the_value_from_before_earlier_branches() {
    // Branch 1 passes and inserts `x`; jesse hands branch 2 the original
    // value, so its additionalProperties does not see `x`, branch 2 passes as
    // well and oneOf fails.
    let set = inline(&[json!({"_id": "stale", "oneOf": [
        {"type": "object", "properties": {"a": {"type": "string"}, "x": {"type": "string", "default": "d"}}},
        {"type": "object", "additionalProperties": false, "properties": {"a": {"type": "string"}}}]})]);
    let errors = err(&set, "stale", json!({"a": "v"}));
    assert_eq!(
        errors,
        json!({"": {"not_one_schema_valid": {"message": "failed to validate", "value": {"a": "v"}}}})
    );
    // ...whereas `required` runs on the re-read value and sees branch 1's default.
    let set = inline(&[json!({"_id": "seen", "oneOf": [
        {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["x"]}]})]);
    assert!(err(&set, "seen", json!({"a": "v"})).get("").is_some());
}

#[test]
fn keywords_after_a_ref_see_the_value_from_before_the_ref() {
    let set = inline(&[
        json!({"_id": "target", "properties": {"x": {"type": "string", "default": "from-ref"}}}),
        json!({"_id": "node", "$ref": "target", "properties": {"x": {"type": "string", "default": "from-node"}}}),
    ]);
    assert_eq!(ok(&set, "node", json!({})), json!({"x": "from-node"}));
    assert_eq!(ok(&set, "node", json!({"x": "mine"})), json!({"x": "mine"}));
}

#[test]
fn a_key_matching_two_patterns_is_checked_twice_from_the_same_snapshot() {
    let set = inline(&[json!({"_id": "pp", "patternProperties": {
        "^a": {"properties": {"y": {"type": "string", "default": "first"}}},
        "b$": {"properties": {"y": {"type": "string", "default": "second"}}}}})]);
    assert_eq!(
        ok(&set, "pp", json!({"ab": {}})),
        json!({"ab": {"y": "second"}})
    );
}
