//! The account's storage document (`cb_storage.erl`): attachment handlers (S3, HTTP, and
//! the other KAZOO types we validate and keep), the plan that says which handler takes
//! `call_recording` audio, and connections. The document lives in `system_data` with
//! `_id` = account id. On PUT/POST/PATCH every new or changed handler is probed with a test
//! object (written, read back, removed); a handler that fails gets KAZOO's 400 with the
//! backend's answer, and nothing is saved.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::SYSTEM_DATA_DB;
use crate::domain::json::public_fields;
use crate::domain::time;
use crate::storage::{Handler, StorageError};
use md5::Digest;
use serde_json::{json, Map, Value};

const PVT_TYPE: &str = "storage";

async fn load(ctx: &Ctx) -> ApiResult<Option<Value>> {
    let id = ctx.account()?.id.to_string();
    Ok(ctx.state.couch.get(SYSTEM_DATA_DB, &id).await?.filter(|d| {
        d.get("pvt_type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == PVT_TYPE)
    }))
}

pub async fn get_storage(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.account()?.id.to_string();
    let doc = load(&ctx)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    Ok(Reply::doc(public_fields(&doc), super::docs::rev(&doc)))
}

pub async fn create_storage(ctx: Ctx) -> ApiResult<Reply> {
    if load(&ctx).await?.is_some() {
        return Err(ApiError::conflict());
    }
    let data = super::docs::input(&ctx, None)?;
    let doc = validate(&ctx, data).await?;
    save(&ctx, doc, None, 201).await
}

pub async fn update_storage(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.account()?.id.to_string();
    let stored = load(&ctx)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    let data = super::docs::input(&ctx, Some(&stored))?;
    let doc = validate(&ctx, data).await?;
    save(&ctx, doc, Some(&stored), 200).await
}

/// Hard delete, as KAZOO does for storage documents.
pub async fn delete_storage(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.account()?.id.to_string();
    let mut stored = load(&ctx)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    let out = public_fields(&stored);
    stored["_deleted"] = json!(true);
    ctx.state.couch.save(SYSTEM_DATA_DB, &mut stored).await?;
    Ok(Reply::ok(out))
}

async fn save(ctx: &Ctx, mut doc: Value, stored: Option<&Value>, status: u16) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    doc["_id"] = json!(account.as_str());
    if let Some(s) = stored {
        super::accounts::guard_if_match(ctx, s)?;
        crate::couch::pvt::merge_private(&mut doc, s);
    }
    let mut wctx = ctx.write_ctx(Some(&account));
    wctx.encoded_db = Some(SYSTEM_DATA_DB.to_string());
    crate::couch::pvt::stamp(&mut doc, &wctx, PVT_TYPE, time::now_gregorian());
    ctx.state.couch.save(SYSTEM_DATA_DB, &mut doc).await?;
    let data = public_fields(&doc);
    let rev = super::docs::rev(&doc);
    Ok(if status == 201 {
        Reply::created(data, rev, ctx.path.clone())
    } else {
        Reply::doc(data, rev)
    })
}

/// md5 of the handler entry's public fields: KAZOO's `_sig`, which marks a probed entry.
fn signature(entry: &Value) -> String {
    let public: Map<String, Value> = entry
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    hex::encode(md5::Md5::digest(
        serde_json::to_vec(&public).unwrap_or_default(),
    ))
}

async fn validate(ctx: &Ctx, mut data: Value) -> ApiResult<Value> {
    super::docs::schema(ctx, "storage", &mut data)?;
    if ctx
        .req_value("validate_settings")
        .is_some_and(|v| v == json!(false) || v == json!("false"))
    {
        // KAZOO's `allow_validation_overrides` defaults to false.
        return Err(ApiError::validation(
            "validate_settings",
            "forbidden",
            json!({"message": "The system does not allow bypassing settings validation"}),
        ));
    }
    let Some(atts) = data.get("attachments").and_then(Value::as_object).cloned() else {
        return Ok(data);
    };
    let mut errors: Option<ApiError> = None;
    for (uuid, entry) in atts {
        if entry.get("_sig").and_then(Value::as_str) == Some(signature(&entry).as_str()) {
            continue;
        }
        match probe(
            &entry,
            ctx.account()?.id.as_str(),
            ctx.state.cfg.allow_local_urls,
        )
        .await
        {
            Ok(()) => data["attachments"][&uuid]["_sig"] = json!(signature(&entry)),
            Err(e) => {
                let err = ApiError::validation(&format!("attachments.{uuid}"), "invalid", e);
                errors = Some(match errors {
                    Some(prev) => prev.merge(err),
                    None => err,
                });
            }
        }
    }
    errors.map_or(Ok(data), Err)
}

/// Probe one handler; the error object is KAZOO's `{error_code, error_body, message}`.
async fn probe(entry: &Value, account_id: &str, allow_local: bool) -> Result<(), Value> {
    let handler = Handler::from_attachment(entry).map_err(|e| error_json(&e))?;
    if let Handler::Other { kind } = &handler {
        // Validated and stored as KAZOO does; recordings sent there fail loudly at use.
        tracing::warn!(handler = %kind, "storage handler type stored without a probe: this service cannot write to it");
        return Ok(());
    }
    // Tenants must not make the service talk to its own host (recording URL policy).
    handler
        .check_hosts(allow_local)
        .map_err(|e| error_json(&e))?;
    handler
        .probe_for_account(account_id)
        .await
        .map_err(|e| error_json(&e))
}

fn error_json(e: &StorageError) -> Value {
    match e {
        StorageError::Backend {
            code,
            message,
            body,
        } => {
            let body = body
                .as_deref()
                .map(|b| serde_json::from_str::<Value>(b).unwrap_or_else(|_| json!(b)))
                .unwrap_or(Value::Null);
            json!({"error_code": code, "error_body": body, "message": message})
        }
        StorageError::Timeout => {
            json!({"error_code": 504, "message": "timeout talking to the storage backend"})
        }
        StorageError::Invalid { field, message } => {
            json!({"message": format!("{field}: {message}")})
        }
        other => json!({"message": other.to_string()}),
    }
}
