//! Unit tests for HTTP settings parsing, request URLs, redaction and multipart names.

use super::*;

fn parse(v: Value) -> Result<HttpSettings, StorageError> {
    HttpSettings::parse(v.as_object().unwrap())
}

fn ctx() -> PathContext {
    PathContext {
        account_id: "acc".into(),
        db: "account%2Fac%2Fc0%2F0-202401".into(),
        doc_id: "202401-doc".into(),
        attachment: "call rec.mp3".into(),
        doc: json!({"owner_id": "own", "pvt_secret": "x", "_rev": "1-a"}),
        folder_path: None,
    }
}

#[test]
fn settings_and_request_urls() {
    let s = parse(json!({"url": "https://h.example/prefix/"})).unwrap();
    assert_eq!(s.verb, Verb::Put);
    assert_eq!(
        s.request_url(&ctx()),
        "https://h.example/prefix/acc/own/202401-doc/call%20rec.mp3"
    );
    let q = parse(json!({"url": "https://h.example/up?x=1", "verb": "POST",
        "field_list": [{"const": "&file="}, {"arg": "attachment"}], "field_separator": ""}))
    .unwrap();
    assert_eq!(q.verb, Verb::Post);
    assert_eq!(
        q.request_url(&ctx()),
        "https://h.example/up?x=1&file=call%20rec.mp3"
    );
    let no_owner = PathContext {
        doc: json!({}),
        ..ctx()
    };
    assert_eq!(
        s.request_url(&no_owner),
        "https://h.example/prefix/acc/202401-doc/call%20rec.mp3"
    );
    for bad in [
        json!({}),
        json!({"url": "ftp://h/x"}),
        json!({"url": "http://h/a b"}),
        json!({"url": "not a url"}),
        json!({"url": "http://h/", "verb": "get"}),
        json!({"url": "http://h/", "send_multipart": 1}),
    ] {
        assert!(
            matches!(parse(bad.clone()), Err(StorageError::Invalid { .. })),
            "{bad}"
        );
    }
}

#[test]
fn credentials_are_redacted() {
    let s = parse(json!({"url": "https://bob:hunter2@h.example/x"})).unwrap();
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("bob:***@"),
        "{shown}"
    );
    assert_eq!(redact_url("http://h/x"), "http://h/x");
}

#[test]
fn multipart_param_values() {
    assert_eq!(param_value("202401-abc"), "202401-abc");
    assert_eq!(param_value("call_recording_x.mp3"), "call_recording_x.mp3");
    assert_eq!(param_value("a@b \"c\".mp3"), "\"a@b \\\"c\\\".mp3\"");
}
