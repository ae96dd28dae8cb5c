//! Reading audio that sits on external storage (S3, HTTP) through the handler recorded on
//! the recording document.
//!
//! Our stub on a recording (`pvt_attachments.<name>`) is
//! `{"content_type", "length", "stub": false, "handler": {"kazoo_rec": {"handler_id", "kind",
//! "location"}}}`: the location says where the object is; the credentials are read from the
//! account's current storage document (`attachments.<handler_id>`), so rotated keys apply
//! and no secret is copied into recording documents.
//!
//! KAZOO's own S3 stubs (`{"kz_att_s3": {"S3": …}}`) are read too, see [`fetch_kazoo_s3`].

use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::{AttachmentStream, SYSTEM_DATA_DB};
use crate::storage::s3::kazoo_stub;
use crate::storage::{Handler, PathContext, StorageError};
use serde_json::{json, Value};

/// `(total length, served range, body)` of an externally stored attachment; `place` is
/// the recording's document and attachment (KAZOO's oldest S3 stubs name no key).
pub async fn fetch(
    ctx: &Ctx,
    handler: &Value,
    place: &PathContext,
    range: Option<(u64, Option<u64>)>,
) -> ApiResult<(Option<u64>, Option<(u64, u64)>, AttachmentStream)> {
    if let Some(stub) = handler.pointer("/kz_att_s3/S3").and_then(Value::as_str) {
        return fetch_kazoo_s3(ctx, stub, place, range).await;
    }
    let Some(ours) = handler.get("kazoo_rec") else {
        let kinds = handler
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        tracing::warn!(handler = %kinds, "recording stored by another system's handler; its location cannot be read");
        return Err(ApiError::Response {
            code: 501,
            message: format!("audio stored through handler {kinds} cannot be read by this service"),
            data: json!({}),
        });
    };
    let handler_id = ours.get("handler_id").and_then(Value::as_str).unwrap_or("");
    let account = ctx.account()?.id.to_string();
    let storage = ctx.state.couch.get(SYSTEM_DATA_DB, &account).await?;
    let entry = storage
        .as_ref()
        .and_then(|s| s.pointer(&format!("/attachments/{handler_id}")))
        .ok_or_else(|| ApiError::Response {
            code: 404,
            message: format!(
                "storage handler {handler_id} is no longer configured for this account"
            ),
            data: json!({}),
        })?;
    // a client of its own: the shared ones run their connections on the background runtime,
    // and this runs on an actix-web worker
    let h = Handler::from_attachment(entry).map_err(storage_error)?;
    let location = ours.get("location").cloned().unwrap_or(Value::Null);
    let (meta, body) = h.get(&location, range).await.map_err(storage_error)?;
    Ok((meta.length, served_range(meta.length, range), body))
}

/// Audio KAZOO stored through `kz_att_s3` (`kz_att_s3:fetch_attachment/4`): the stub names
/// the settings KAZOO stored with, credentials included. As KAZOO's `merge_params/2` does,
/// the account's S3 connector for the same bucket, if there is one, lends its current
/// settings (rotated keys apply). The tenant host policy applies as for our own handlers.
async fn fetch_kazoo_s3(
    ctx: &Ctx,
    stub: &str,
    place: &PathContext,
    range: Option<(u64, Option<u64>)>,
) -> ApiResult<(Option<u64>, Option<(u64, u64)>, AttachmentStream)> {
    let retrieval = kazoo_stub::decode_retrieval(stub).map_err(|e| {
        tracing::warn!(error = %e, "KAZOO S3 stub not readable");
        ApiError::Response {
            code: 501,
            message: "audio stored through handler kz_att_s3 cannot be read by this service".into(),
            data: json!({"message": e}),
        }
    })?;
    let mut settings = retrieval.settings;
    let account = ctx.account()?.id.to_string();
    if let Some(storage) = ctx.state.couch.get(SYSTEM_DATA_DB, &account).await? {
        // the connector the plan names for recordings first, as KAZOO merges with that one
        let planned = [
            "/plan/modb/types/call_recording/attachments/handler",
            "/plan/modb/attachments/handler",
        ]
        .iter()
        .find_map(|p| storage.pointer(p).and_then(Value::as_str));
        let mut connectors: Vec<(&String, &Value)> = storage
            .get("attachments")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .collect();
        connectors.sort_by_key(|(id, _)| Some(id.as_str()) != planned);
        let same_bucket = connectors
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| a.get("handler").and_then(Value::as_str) == Some("s3"))
            .filter_map(|a| a.get("settings").and_then(Value::as_object))
            .find(|c| c.get("bucket").is_some() && c.get("bucket") == settings.get("bucket"));
        if let Some(current) = same_bucket {
            settings.extend(current.clone());
        }
    }
    let h = Handler::from_attachment(&json!({"handler": "s3", "settings": settings}))
        .map_err(storage_error)?;
    h.check_hosts(ctx.state.cfg.allow_local_urls)
        .map_err(storage_error)?;
    let Handler::S3(s3) = &h else {
        return Err(storage_error(StorageError::Io("not an S3 handler".into())));
    };
    let key = retrieval.file.unwrap_or_else(|| s3.object_key(place));
    let location = json!({"bucket": s3.bucket, "key": key});
    let (meta, body) = h.get(&location, range).await.map_err(storage_error)?;
    Ok((meta.length, served_range(meta.length, range), body))
}

fn served_range(total: Option<u64>, range: Option<(u64, Option<u64>)>) -> Option<(u64, u64)> {
    range.and_then(|(s, e)| {
        total.map(|t| (s, e.unwrap_or(t.saturating_sub(1)).min(t.saturating_sub(1))))
    })
}

pub fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Backend {
            code: Some(404), ..
        } => ApiError::Response {
            code: 404,
            message: "recording audio not found on storage".into(),
            data: json!({}),
        },
        other => {
            tracing::error!(error = %other, "reading from storage failed");
            ApiError::Response {
                code: 502,
                message: "storage backend error".into(),
                data: json!({"message": other.to_string()}),
            }
        }
    }
}
