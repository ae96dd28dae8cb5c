//! Private (`pvt_*`) fields crossbar stamps on every save (`crossbar_doc.erl ?PVT_FUNS`).

use serde_json::{json, Map, Value};

/// Who is writing, and where: what the private fields record.
#[derive(Debug, Clone, Default)]
pub struct WriteCtx {
    pub account_id: Option<String>,
    /// Encoded database name (`account%2Fab%2Fcd%2F…`), as KAZOO stores it.
    pub encoded_db: Option<String>,
    pub request_id: String,
    pub auth_account_id: Option<String>,
    pub auth_user_id: Option<String>,
}

/// Stamp `doc` for a save at gregorian time `now`.
pub fn stamp(doc: &mut Value, ctx: &WriteCtx, pvt_type: &str, now: i64) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    obj.insert("pvt_type".into(), json!(pvt_type));
    obj.entry("pvt_vsn").or_insert(json!("1"));
    if let Some(a) = &ctx.account_id {
        obj.entry("pvt_account_id").or_insert(json!(a));
    }
    if let Some(db) = &ctx.encoded_db {
        obj.entry("pvt_account_db").or_insert(json!(db));
    }
    if !obj.contains_key("_rev") {
        obj.insert("pvt_created".into(), json!(now));
    }
    obj.insert("pvt_modified".into(), json!(now));
    obj.insert("pvt_request_id".into(), json!(ctx.request_id));
    let authenticated = ctx.auth_account_id.is_some();
    obj.insert("pvt_is_authenticated".into(), json!(authenticated));
    if let Some(a) = &ctx.auth_account_id {
        obj.insert("pvt_auth_account_id".into(), json!(a));
    }
    if let Some(u) = &ctx.auth_user_id {
        obj.insert("pvt_auth_user_id".into(), json!(u));
    }
    let alnum = alphanum_name(obj, pvt_type);
    if let Some(n) = alnum {
        obj.insert("pvt_alphanum_name".into(), json!(n));
    }
    let hash = document_hash(obj);
    obj.insert("pvt_document_hash".into(), json!(hash));
}

/// KAZOO master's `pvt_document_hash` (`kz_doc:calculate_document_hash`): md5 of the public
/// fields and the attachment stubs.
fn document_hash(obj: &Map<String, Value>) -> String {
    use md5::Digest;
    let public: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !crate::domain::json::is_private_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut props = Map::new();
    props.insert("public".into(), Value::Object(public));
    if let Some(a) = obj.get("_attachments") {
        props.insert("attachments".into(), a.clone());
    }
    hex::encode(md5::Md5::digest(
        serde_json::to_vec(&Value::Object(props)).unwrap_or_default(),
    ))
}

/// Lowercased name with only `[a-z0-9]` kept; users use first+last name.
fn alphanum_name(obj: &Map<String, Value>, pvt_type: &str) -> Option<String> {
    let raw = if pvt_type == "user" {
        let first = obj.get("first_name").and_then(Value::as_str).unwrap_or("");
        let last = obj.get("last_name").and_then(Value::as_str).unwrap_or("");
        format!("{first}{last}")
    } else {
        obj.get("name").and_then(Value::as_str)?.to_string()
    };
    Some(normalize_name(&raw))
}

/// KAZOO's account-name normalisation: lowercase, `[a-z0-9]` only.
pub fn normalize_name(raw: &str) -> String {
    raw.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect()
}

/// Merge the stored doc's private fields into new data (`kz_json:merge_jobjs(private,
/// data)`). Client input has had its private keys stripped before this, so any private key
/// already in `data` was set by our own validation (e.g. new credential hashes) and is kept;
/// every other private field, `_rev` included, comes from the stored document.
pub fn merge_private(data: &mut Value, stored: &Value) {
    if let (Some(d), Some(s)) = (data.as_object_mut(), stored.as_object()) {
        for (k, v) in s {
            if crate::domain::json::is_private_key(k)
                && k != "_read_only"
                && (k == "_rev" || !d.contains_key(k))
            {
                d.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_like_crossbar() {
        let ctx = WriteCtx {
            account_id: Some("a".repeat(32)),
            encoded_db: Some("account%2Faa".into()),
            request_id: "r".into(),
            auth_account_id: Some("b".repeat(32)),
            auth_user_id: None,
        };
        let mut doc = json!({"_id": "x", "name": "My Co."});
        stamp(&mut doc, &ctx, "account", 63_000_000_000);
        assert_eq!(doc["pvt_created"], 63_000_000_000i64);
        assert_eq!(doc["pvt_alphanum_name"], "myco");
        assert_eq!(doc["pvt_vsn"], "1");
        assert_eq!(doc["pvt_is_authenticated"], true);
        doc["_rev"] = json!("1-x");
        stamp(&mut doc, &ctx, "account", 63_000_000_100);
        assert_eq!(doc["pvt_created"], 63_000_000_000i64);
        assert_eq!(doc["pvt_modified"], 63_000_000_100i64);
    }

    #[test]
    fn stored_private_fields_fill_in_but_validation_results_stay() {
        let mut data = json!({"name": "n", "_rev": "9-x", "pvt_md5_auth": "new"});
        merge_private(
            &mut data,
            &json!({"_rev": "1-a", "pvt_type": "user", "name": "old", "pvt_md5_auth": "old"}),
        );
        assert_eq!(
            data,
            json!({"name": "n", "_rev": "1-a", "pvt_md5_auth": "new", "pvt_type": "user"})
        );
    }
}
