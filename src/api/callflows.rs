//! Callflows (`cb_callflows.erl`): numbers normalised to E.164, at least one number or
//! pattern, the flow validated recursively (each node's data against `callflows.<module>`,
//! defaults such as record_call's filled and stored), numbers and patterns unique in the
//! account, and `metadata` for the ids a flow references on GET.

use super::docs;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::request::Ctx;
use crate::couch::ViewOpts;
use serde_json::{json, Map, Value};

const PVT_TYPE: &str = "callflow";

pub async fn list_callflows(ctx: Ctx) -> ApiResult<Reply> {
    let db = ctx.account()?.id.db();
    listing::load(
        &ctx,
        ViewQuery {
            db: &db,
            design: "callflows",
            view: "crossbar_listing",
            start: None,
            end: None,
            map: &listing::row_value,
            include_docs: false,
        },
    )
    .await
}

pub async fn get_callflow(ctx: Ctx) -> ApiResult<Reply> {
    let doc = docs::load(&ctx, PVT_TYPE, ctx.id(0)).await?;
    let mut out = crate::domain::json::public_fields(&doc);
    out["metadata"] = metadata(&ctx, doc.get("flow")).await?;
    Ok(Reply::doc(out, docs::rev(&doc)))
}

pub async fn create_callflow(ctx: Ctx) -> ApiResult<Reply> {
    let data = docs::input(&ctx, None)?;
    let doc = validate(&ctx, None, data).await?;
    Ok(docs::create(&ctx, doc, PVT_TYPE).await?.1)
}

pub async fn update_callflow(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let mut data = docs::input(&ctx, Some(&stored))?;
    // Monster UI posts the doc it read, `metadata` included; it is computed, not stored.
    if let Some(o) = data.as_object_mut() {
        o.remove("metadata");
    }
    let doc = validate(&ctx, Some(&id), data).await?;
    Ok(docs::update(&ctx, doc, &stored, PVT_TYPE).await?.1)
}

pub async fn delete_callflow(ctx: Ctx) -> ApiResult<Reply> {
    let stored = docs::load(&ctx, PVT_TYPE, ctx.id(0)).await?;
    docs::delete(&ctx, stored, PVT_TYPE).await
}

/// `knm_converters:normalize` with KAZOO's default rules: NANP and international numbers
/// become E.164; extensions and feature codes stay as they are.
pub fn normalize_number(n: &str) -> String {
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let body = n.strip_prefix('+').unwrap_or(n);
    if digits_only(body) {
        // ^(\+?1)?([2-9]\d{2}[2-9]\d{6})$ → +1…
        let nanp = body
            .strip_prefix('1')
            .filter(|r| r.len() == 10)
            .unwrap_or(body);
        let b = nanp.as_bytes();
        if nanp.len() == 10
            && (b'2'..=b'9').contains(&b[0])
            && (b'2'..=b'9').contains(&b[3])
            && (n.starts_with('+') == n.starts_with("+1") || !n.starts_with('+'))
        {
            return format!("+1{nanp}");
        }
        if !n.starts_with('+') {
            // ^011(\d{5,})$ | ^00(\d{5,})$ → +…
            if let Some(rest) = n
                .strip_prefix("011")
                .or_else(|| n.strip_prefix("00"))
                .filter(|r| r.len() >= 5)
            {
                return format!("+{rest}");
            }
            // ^[2-9]\d{7,}$ → +…
            if n.len() >= 8 && (b'2'..=b'9').contains(&n.as_bytes()[0]) {
                return format!("+{n}");
            }
        }
    }
    n.to_string()
}

async fn validate(ctx: &Ctx, callflow_id: Option<&str>, mut data: Value) -> ApiResult<Value> {
    let type_error = |field: &str, v: &Value| {
        ApiError::validation(
            field,
            "type",
            json!({"message": "Value did not match type: array", "target": "array", "value": v}),
        )
    };
    let numbers = data.get("numbers").cloned();
    let patterns = data.get("patterns").cloned();
    let non_empty = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    match &numbers {
        Some(Value::Array(list)) => {
            let normalized: Vec<Value> = list
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(|s| json!(normalize_number(s)))
                        .unwrap_or_else(|| n.clone())
                })
                .collect();
            data["numbers"] = Value::Array(normalized);
        }
        Some(Value::Null) | None => {}
        Some(other) => return Err(type_error("numbers", other)),
    }
    if !non_empty(&numbers) {
        match &patterns {
            Some(Value::Array(_)) | Some(Value::Null) | None => {}
            Some(other) => return Err(type_error("patterns", other)),
        }
        if !non_empty(&patterns) {
            return Err(ApiError::validation(
                "numbers",
                "required",
                json!({"message": "Callflows must be assigned at least one number or pattern"}),
            ));
        }
    }
    docs::schema(ctx, "callflows", &mut data)?;
    let db = ctx.account()?.id.db();
    let mut checks = vec![];
    for (field, view, label) in [
        ("numbers", "listing_by_number", "Number"),
        ("patterns", "listing_by_pattern", "Pattern"),
    ] {
        let keys: Vec<Value> = data
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if keys.is_empty() {
            continue;
        }
        let opts = ViewOpts {
            keys,
            ..Default::default()
        };
        for row in ctx.state.couch.view(&db, "callflows", view, &opts).await? {
            if row.id.as_deref() == callflow_id {
                continue;
            }
            let id = row.id.clone().unwrap_or_default();
            let name = row.value.get("name").and_then(Value::as_str).unwrap_or("");
            let key = row.key.as_str().unwrap_or("").to_string();
            checks.push(Err(ApiError::validation(field, "unique", json!({"message": format!("{label} {key} exists in callflow {id} {name}"), "cause": key}))));
        }
    }
    docs::collect(checks)?;
    Ok(data)
}

/// Ids a flow references (`data.id` and any `*_id` in a node's data), walked recursively.
fn referenced_ids(flow: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    if let Some(data) = flow.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            if k == "id" || k.ends_with("_id") {
                if let Some(s) = v
                    .as_str()
                    .filter(|s| crate::domain::ids::is_acceptable_doc_id(s))
                {
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_string());
                    }
                }
            }
        }
    }
    if let Some(children) = flow.get("children").and_then(Value::as_object) {
        for child in children.values() {
            referenced_ids(child, out, depth + 1);
        }
    }
}

/// `{id: {name, numbers?, pvt_type}}` for the referenced documents that exist.
async fn metadata(ctx: &Ctx, flow: Option<&Value>) -> ApiResult<Value> {
    let mut ids = vec![];
    if let Some(f) = flow {
        referenced_ids(f, &mut ids, 0);
    }
    let db = ctx.account()?.id.db();
    let mut out = Map::new();
    for id in ids.into_iter().take(100) {
        if let Some(doc) = ctx.state.couch.get(&db, &id).await? {
            let mut m = json!({"pvt_type": doc.get("pvt_type")});
            let name = doc.get("name").cloned().or_else(|| {
                let first = doc.get("first_name").and_then(Value::as_str)?;
                let last = doc.get("last_name").and_then(Value::as_str).unwrap_or("");
                Some(json!(format!("{first} {last}")))
            });
            if let Some(n) = name {
                m["name"] = n;
            }
            if let Some(n) = doc.get("numbers") {
                m["numbers"] = n.clone();
            }
            out.insert(id, m);
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise_like_knm() {
        for (raw, e164) in [
            ("4158867900", "+14158867900"),
            ("14158867900", "+14158867900"),
            ("+14158867900", "+14158867900"),
            ("011441234567890", "+441234567890"),
            ("00441234567890", "+441234567890"),
            ("441234567890", "+441234567890"),
            ("1000", "1000"),
            ("*97", "*97"),
            ("+441234567890", "+441234567890"),
            ("no_match", "no_match"),
        ] {
            assert_eq!(normalize_number(raw), e164, "{raw}");
        }
    }

    #[test]
    fn collects_referenced_ids() {
        let flow = json!({"module": "user", "data": {"id": "u1", "timeout": 20}, "children": {"_": {"module": "voicemail", "data": {"id": "vm1", "owner_id": "u1"}}}});
        let mut ids = vec![];
        referenced_ids(&flow, &mut ids, 0);
        assert_eq!(ids, vec!["u1", "vm1"]);
    }
}
