//! Tests of the KAZOO extensions: destination URLs, callflow and metaflow
//! modules, storage references, and documents nested too deeply.

use serde_json::{json, Map, Value};

use super::tests::{callflow, embedded, err, ok};
use super::{SchemaSet, ValidationOptions};

fn record_url(set: &SchemaSet, url: &str) -> Result<(), Value> {
    let mut doc = callflow(json!({"module": "record_call", "data": {"url": url}}));
    set.validate("callflows", &mut doc).map_err(Value::Object)
}

#[test]
fn recording_urls_follow_our_policy() {
    let set = embedded();
    for url in [
        "https://rec.example.com/x",
        "ftp://rec.example.com/in/",
        "ftps://u:p@rec.example.com/in/",
    ] {
        assert_eq!(record_url(&set, url), Ok(()), "{url}");
    }
    for url in [
        "file:///etc/passwd",
        "gopher://rec.example.com/",
        "rec.example.com/x",
        "http://rec example.com/",
        "http://localhost:8080/x",
    ] {
        assert_eq!(
            record_url(&set, url),
            Err(
                json!({"flow.data.url": {"error": {"message": "invalid client URL", "value": url}}})
            ),
            "{url}"
        );
    }
    let local = SchemaSet::embedded(ValidationOptions {
        allow_local_urls: true,
    });
    assert_eq!(record_url(&local, "http://localhost:8080/x"), Ok(()));
    assert!(record_url(&local, "file:///etc/passwd").is_err());

    let doc = json!({"inbound": {"onnet": {"url": "http://127.0.0.1/x"}}});
    let errors = err(&set, "call_recording", doc);
    assert_eq!(
        errors["inbound.onnet.url"]["error"]["message"],
        "invalid client URL"
    );
    ok(
        &set,
        "call_recording",
        json!({"any": {"any": {"url": "ftp://rec.example.com/", "enabled": true}}}),
    );
}

#[test]
fn callflow_modules_are_checked_recursively() {
    let set = embedded();
    let flow = json!({"module": "record_call", "data": {}, "children": {
        "_": {"module": "no_such_module", "data": {}}}});
    let errors = err(&set, "callflows", callflow(flow));
    assert_eq!(
        errors,
        json!({
            "schema": {"schema": {"message": "schema not found", "schema": "callflows.no_such_module"}},
            "flow.children._.module": {"error": {
                "message": "unable to find callflow schema for module no_such_module",
                "value": "no_such_module"}}
        })
    );
    let flow = json!({"module": "record_call", "children": {"_": {"module": "record_call", "data": {"format": "ogg"}}}});
    let errors = err(&set, "callflows", callflow(flow));
    assert!(
        errors.get("flow.children._.data.format").is_some(),
        "{errors}"
    );
}

#[test]
fn metaflow_modules_are_checked() {
    let set = embedded();
    let doc = json!({"numbers": {"1": {"module": "record_call", "data": {"url": "gopher://x"}}},
                     "patterns": {"2": {"module": "nope"}}});
    let errors = err(&set, "metaflows", doc);
    assert_eq!(
        errors["numbers.1.data.url"]["error"]["message"],
        "invalid client URL"
    );
    assert_eq!(
        errors["patterns.2.module"]["error"]["message"],
        "unable to find metaflow schema for module nope"
    );
    let doc = ok(
        &set,
        "metaflows",
        json!({"numbers": {"1": {"module": "record_call", "data": {}}}}),
    );
    assert_eq!(doc["binding_digit"], "*");
}

#[test]
fn storage_plans_must_reference_existing_attachments() {
    let set = embedded();
    let id = "0123456789abcdef0123456789abcdef";
    let plan = |handler: &str| json!({"modb": {"types": {"call_recording": {"attachments": {"handler": handler}}}}});
    let attachments =
        json!({id: {"handler": "http", "settings": {"url": "https://rec.example.com/"}}});
    ok(
        &set,
        "storage",
        json!({"attachments": attachments.clone(), "plan": plan(id)}),
    );
    let errors = err(
        &set,
        "storage",
        json!({"attachments": attachments, "plan": plan("other")}),
    );
    assert_eq!(
        errors,
        json!({"plan.modb.types.call_recording.attachments.handler": {"error": {
            "message": "invalid reference 'other' to attachments", "value": "other"}}})
    );
}

#[test]
fn deep_documents_fail_cleanly_instead_of_overflowing() {
    // 200 nested callflow actions: deeper than serde_json lets a request body
    // be (128), and deeper than the walker's limit.
    let set = embedded();
    let mut flow = json!({"module": "record_call"});
    for _ in 0..200 {
        let mut children = Map::new();
        children.insert("_".to_string(), flow);
        let mut action = Map::new();
        action.insert("module".to_string(), json!("record_call"));
        action.insert("children".to_string(), Value::Object(children));
        flow = Value::Object(action);
    }
    let errors = err(&set, "callflows", callflow(flow));
    let text = Value::Object(errors.as_object().cloned().unwrap_or_default()).to_string();
    assert!(
        text.contains("nested too deeply"),
        "{}",
        &text[..200.min(text.len())]
    );
}

#[test]
fn storage_handler_url_failures_surface_as_the_one_of_failure() {
    // The http handler is one branch of a oneOf, whose branch errors KAZOO
    // drops: a refused URL shows up as `not_one_schema_valid` on the entry.
    let set = embedded();
    let id = "0123456789abcdef0123456789abcdef";
    let entry = json!({"handler": "http", "settings": {"url": "http://localhost/in"}});
    let errors = err(&set, "storage", json!({"attachments": {id: entry}}));
    let key = format!("attachments.{id}");
    assert_eq!(
        errors[key.as_str()]["not_one_schema_valid"]["message"],
        "failed to validate"
    );
    let local = SchemaSet::embedded(ValidationOptions {
        allow_local_urls: true,
    });
    let entry = json!({"handler": "http", "settings": {"url": "http://localhost/in"}});
    ok(&local, "storage", json!({"attachments": {id: entry}}));
}

#[test]
fn schema_sets_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SchemaSet>();
    let set = embedded();
    let doc = ok(&set, "user_auth", json!({"credentials": "abc"}));
    assert_eq!(doc["method"], "md5");
}
