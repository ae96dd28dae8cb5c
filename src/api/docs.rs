//! Document CRUD shared by the account-database resources (users, devices, callflows):
//! crossbar_doc's load / save / soft delete with KAZOO's rules (type check, private fields
//! win, last writer wins unless `If-Match`, soft delete answering `_read_only.deleted`).

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::domain::ids;
use crate::domain::json::{public_fields, strip_private};
use crate::domain::time;
use serde_json::{json, Value};

/// A document of `pvt_type` in the path account's database; 404 `bad_identifier` when it is
/// missing, soft-deleted or of another type (`crossbar_doc:load` + `check_document_type`).
pub async fn load(ctx: &Ctx, pvt_type: &str, id: &str) -> ApiResult<Value> {
    if !ids::is_acceptable_doc_id(id) {
        return Err(ApiError::bad_identifier(id));
    }
    let account = ctx.account()?;
    let db = account.id.db();
    // Reads go through crossbar's document cache; a write starts from CouchDB's copy (its
    // `_rev` decides conflicts).
    let doc = if ctx.method == actix_web::http::Method::GET {
        ctx.state.couch.get_cached(&db, id).await?
    } else {
        ctx.state.couch.get(&db, id).await?
    }
    .ok_or_else(|| ApiError::bad_identifier(id))?;
    let deleted = doc
        .get("pvt_deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let type_ok = doc
        .get("pvt_type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == pvt_type);
    if deleted || !type_ok {
        return Err(ApiError::bad_identifier(id));
    }
    Ok(doc)
}

/// The client's data for a write: PUT/POST take it as is (private keys dropped); PATCH
/// deep-merges it into the stored public fields (`crossbar_doc:patch_and_validate`).
pub fn input(ctx: &Ctx, stored: Option<&Value>) -> ApiResult<Value> {
    if !ctx.data.is_object() {
        return Err(ApiError::validation(
            "data",
            "type",
            json!({"message": "Value did not match type(s): object", "target": "object", "value": ctx.data}),
        ));
    }
    let mut data = ctx.data.clone();
    strip_private(&mut data);
    if let Some(o) = data.as_object_mut() {
        o.remove("_read_only");
    }
    match (ctx.method.as_str(), stored) {
        ("PATCH", Some(stored)) => {
            let mut merged = public_fields(stored);
            strip_private(&mut merged);
            crate::domain::json::patch(&mut merged, &data);
            Ok(merged)
        }
        _ => Ok(data),
    }
}

/// Save a new document: a client `id` becomes `_id` (`cb_context:passed`); 201 + location.
pub async fn create(ctx: &Ctx, mut doc: Value, pvt_type: &str) -> ApiResult<(Value, Reply)> {
    let account = ctx.account()?;
    let id = match ctx.data.get("id").and_then(Value::as_str) {
        Some(raw) if ids::is_acceptable_doc_id(raw) => raw.to_string(),
        Some(raw) => {
            return Err(ApiError::validation(
                "id",
                "invalid",
                json!({"message": "invalid document id", "cause": raw}),
            ))
        }
        None => ids::new_id(),
    };
    doc["_id"] = json!(id);
    if let Some(o) = doc.as_object_mut() {
        o.retain(|k, v| !(crate::domain::json::is_private_key(k) && v.is_null()));
    }
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(&account.id)),
        pvt_type,
        time::now_gregorian(),
    );
    ctx.state.couch.save(&account.id.db(), &mut doc).await?;
    let reply = Reply::created(
        public_fields(&doc),
        rev(&doc),
        format!("{}/{}", ctx.path, id),
    );
    Ok((doc, reply))
}

/// Save `data` over `stored`: private fields from the stored doc win.
pub async fn update(
    ctx: &Ctx,
    mut data: Value,
    stored: &Value,
    pvt_type: &str,
) -> ApiResult<(Value, Reply)> {
    let account = ctx.account()?;
    super::accounts::guard_if_match(ctx, stored)?;
    crate::couch::pvt::merge_private(&mut data, stored);
    // A private field validation set to null is one to remove (e.g. dropped credentials).
    if let Some(o) = data.as_object_mut() {
        o.retain(|k, v| !(crate::domain::json::is_private_key(k) && v.is_null()));
    }
    crate::couch::pvt::stamp(
        &mut data,
        &ctx.write_ctx(Some(&account.id)),
        pvt_type,
        time::now_gregorian(),
    );
    ctx.state.couch.save(&account.id.db(), &mut data).await?;
    let reply = Reply::doc(public_fields(&data), rev(&data));
    Ok((data, reply))
}

/// Soft delete (`pvt_deleted: true`); `?should_soft_delete=false` deletes for real.
pub async fn delete(ctx: &Ctx, mut stored: Value, pvt_type: &str) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let hard = ctx.query("should_soft_delete") == Some("false");
    if hard {
        stored["_deleted"] = json!(true);
    } else {
        stored["pvt_deleted"] = json!(true);
        crate::couch::pvt::stamp(
            &mut stored,
            &ctx.write_ctx(Some(&account.id)),
            pvt_type,
            time::now_gregorian(),
        );
    }
    ctx.state.couch.save(&account.id.db(), &mut stored).await?;
    let mut out = public_fields(&stored);
    out["_read_only"] = json!({"deleted": true});
    Ok(Reply::ok(out))
}

pub fn rev(doc: &Value) -> Option<String> {
    doc.get("_rev").and_then(Value::as_str).map(str::to_string)
}

/// Run the schema and turn failures into the 400 envelope.
pub fn schema(ctx: &Ctx, name: &str, data: &mut Value) -> ApiResult<()> {
    ctx.state
        .schemas
        .validate(name, data)
        .map_err(ApiError::Validation)
}

/// Merge several optional validation failures into one error (KAZOO reports them together).
pub fn collect(errors: Vec<ApiResult<()>>) -> ApiResult<()> {
    let mut acc: Option<ApiError> = None;
    for e in errors.into_iter().filter_map(Result::err) {
        acc = Some(match acc {
            None => e,
            Some(prev) => prev.merge(e),
        });
    }
    acc.map_or(Ok(()), Err)
}

/// A key of `design/view` in the account database must not belong to another document
/// (usernames, SIP usernames, MAC addresses…): KAZOO's `unique` validation error otherwise.
pub async fn unique(
    ctx: &Ctx,
    design_view: (&str, &str),
    key: &str,
    self_id: Option<&str>,
    path: &str,
    message: &str,
) -> ApiResult<()> {
    let db = ctx.account()?.id.db();
    let opts = crate::couch::ViewOpts {
        key: Some(json!(key)),
        ..Default::default()
    };
    let rows = ctx
        .state
        .couch
        .view(&db, design_view.0, design_view.1, &opts)
        .await?;
    if rows.iter().any(|r| r.id.as_deref() != self_id) {
        return Err(ApiError::validation(
            path,
            "unique",
            json!({"message": message, "cause": key}),
        ));
    }
    Ok(())
}
