//! Table tests for object naming, after KAZOO's `kz_att_util_tests.erl` (same inputs, same
//! expected names), plus the folder prefix and encoding rules.

use super::*;
use serde_json::json;

const DOC_ID: &str = "test_id";
const ANAME: &str = "test_att";
const ACCOUNT_ID: &str = "483f6dc3c2b22d0db0da1fe19f2c3444";

fn kazoo_test_ctx() -> PathContext {
    PathContext {
        account_id: ACCOUNT_ID.into(),
        db: format!("account/{ACCOUNT_ID}"),
        doc_id: DOC_ID.into(),
        attachment: ANAME.into(),
        doc: json!({"_id": DOC_ID, "test_field": "test_value"}),
        folder_path: None,
    }
}

fn fields(v: serde_json::Value) -> Vec<Field> {
    parse_fields(v.as_array().unwrap(), "settings.field_list").unwrap()
}

#[test]
fn kazoo_util_table() {
    let sep = PathFormat {
        field_separator: Some("/".into()),
        ..Default::default()
    };
    let id_att = json!([{"group": [{"arg": "id"}, {"const": "_"}, {"arg": "attachment"}]}]);
    let cases: Vec<(&str, Vec<Field>, String)> = vec![
        ("empty_url", vec![], String::new()),
        (
            "default_format_url",
            http_default_fields(),
            format!("{ACCOUNT_ID}/{DOC_ID}/{ANAME}"),
        ),
        // azure, dropbox, gdrive, gstorage and onedrive all default to id_attachment.
        (
            "azure/dropbox/gdrive/gstorage/onedrive",
            fields(id_att),
            format!("{DOC_ID}_{ANAME}"),
        ),
        (
            "s3_url",
            s3_default_fields(),
            format!("account%2F{ACCOUNT_ID}/{DOC_ID}_{ANAME}"),
        ),
        (
            "http_url",
            fields(
                json!([{"const": "?path="}, {"arg": "account_id"}, {"arg": "id"}, {"arg": "attachment"}]),
            ),
            format!("?path=/{ACCOUNT_ID}/{DOC_ID}/{ANAME}"),
        ),
        (
            "field_url",
            fields(
                json!([{"field": "test_field"}, {"arg": "id"}, {"const": "foo"}, {"arg": "attachment"}]),
            ),
            format!("test_value/{DOC_ID}/foo/{ANAME}"),
        ),
    ];
    let ctx = kazoo_test_ctx();
    for (name, format, expected) in cases {
        assert_eq!(sep.render(&ctx, &format), expected, "{name}");
    }
}

#[test]
fn s3_default_key_for_a_recording() {
    let ctx = PathContext {
        account_id: ACCOUNT_ID.into(),
        db: "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401".into(),
        doc_id: "202401-0123456789abcdef0123456789abcdef".into(),
        attachment: "call_recording_abc@host.mp3".into(),
        doc: json!({}),
        folder_path: None,
    };
    assert_eq!(
        PathFormat::default().render(&ctx, &s3_default_fields()),
        "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401/\
         202401-0123456789abcdef0123456789abcdef_call_recording_abc%40host.mp3"
    );
    // A decoded MODB name gives the same key: the arg is decoded, then encoded again.
    let decoded = PathContext {
        db: "account/48/3f/6dc3c2b22d0db0da1fe19f2c3444-202401".into(),
        ..ctx.clone()
    };
    assert_eq!(
        PathFormat::default().render(&decoded, &s3_default_fields()),
        PathFormat::default().render(&ctx, &s3_default_fields())
    );
}

#[test]
fn folder_prefixes() {
    let ctx = PathContext {
        folder_path: Some("plan/folder/".into()),
        ..kazoo_test_ctx()
    };
    let f = |base: Option<&str>, path: Option<&str>| PathFormat {
        folder_base_path: base.map(str::to_string),
        path: path.map(str::to_string),
        field_list: Some(vec![Field::Arg("id".into())]),
        ..Default::default()
    };
    assert_eq!(
        f(Some("base//"), None).render(&ctx, &[]),
        "base/plan/folder/test_id"
    );
    assert_eq!(
        f(Some("base"), None).render(&ctx, &[]),
        "base/plan/folder/test_id"
    );
    assert_eq!(f(None, Some("fixed/")).render(&ctx, &[]), "fixed/test_id");
    let abs = PathContext {
        folder_path: Some("/abs".into()),
        ..kazoo_test_ctx()
    };
    assert_eq!(f(Some("base"), None).render(&abs, &[]), "/abs/test_id");
    let no_plan_folder = kazoo_test_ctx();
    assert_eq!(
        f(Some("base/"), None).render(&no_plan_folder, &[]),
        "base/test_id"
    );
}

#[test]
fn separator_missing_values_and_encoding() {
    let ctx = PathContext {
        account_id: String::new(),
        doc: json!({"owner_id": "", "n": 42, "b": true, "o": {"x": 1}, "pvt_x": "hidden",
                    "name": "a b/c@d"}),
        ..kazoo_test_ctx()
    };
    let fmt = PathFormat {
        field_separator: Some("-".into()),
        field_list: Some(fields(json!([
            {"arg": "account_id"}, {"field": "owner_id"}, {"field": "n"}, {"field": "b"},
            {"field": "o"}, {"field": "pvt_x"}, {"field": "missing"}, {"field": "name"}, "lit"
        ]))),
        ..Default::default()
    };
    assert_eq!(
        fmt.render(&ctx, &[]),
        "unknown_account-42-true-a%20b%2Fc%40d-lit"
    );
    assert_eq!(http_uri_encode("x!*()~$é"), "x!*()~$é");
    assert_eq!(http_uri_encode("%;:"), "%25%3B%3A");
}

#[test]
fn field_list_parsing() {
    let parse = |v: serde_json::Value| {
        let m = json!({"field_list": v});
        PathFormat::parse(m.as_object().unwrap())
    };
    assert!(parse(json!([{"arg": "bogus"}])).is_err());
    assert!(parse(json!([{"group": "x"}])).is_err());
    assert!(parse(json!([{}])).is_err());
    assert!(parse(json!([1])).is_err());
    assert!(parse(json!("x")).is_err());
    let ok =
        parse(json!([{"group": [{"arg": "id"}, {"const": "_"}]}, {"field": "call_id"}])).unwrap();
    assert_eq!(
        ok.field_list.unwrap(),
        vec![
            Field::Group(vec![Field::Arg("id".into()), Field::Const("_".into())]),
            Field::Doc("call_id".into())
        ]
    );
    let m = json!({"field_separator": 3});
    assert!(PathFormat::parse(m.as_object().unwrap()).is_err());
}

#[test]
fn probe_context_and_modb() {
    assert_eq!(
        modb_name(ACCOUNT_ID, (2024, 3)),
        "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202403"
    );
    assert_eq!(year_month_from_days(0), (1970, 1));
    assert_eq!(year_month_from_days(19_782), (2024, 2)); // 2024-02-29
    assert_eq!(year_month_from_days(19_783), (2024, 3));
    let p = PathContext::probe(Some(ACCOUNT_ID));
    assert!(p.db.starts_with("account%2F48%2F3f%2F"));
    assert!(p.attachment.ends_with("_test_credentials_file.txt"));
    assert_eq!(p.attachment.len(), 32 + "_test_credentials_file.txt".len());
    let s = PathContext::probe(None);
    assert_eq!(s.db, "system_data");
}
