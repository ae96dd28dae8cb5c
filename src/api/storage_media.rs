//! Reading audio that sits on external storage (S3, HTTP) through the handler recorded on
//! the recording document.
//!
//! Our stub on a recording (`pvt_attachments.<name>`) is
//! `{"content_type", "length", "stub": false, "handler": {"kazoo_rec": {"handler_id", "kind",
//! "location"}}}`: the location says where the object is; the credentials are read from the
//! account's current storage document (`attachments.<handler_id>`), so rotated keys apply
//! and no secret is copied into recording documents.

use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::{AttachmentStream, SYSTEM_DATA_DB};
use crate::storage::{Handler, StorageError};
use serde_json::{json, Value};

/// `(total length, served range, body)` of an externally stored attachment.
pub async fn fetch(
    ctx: &Ctx,
    handler: &Value,
    range: Option<(u64, Option<u64>)>,
) -> ApiResult<(Option<u64>, Option<(u64, u64)>, AttachmentStream)> {
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
    let served = range.and_then(|(s, e)| {
        meta.length
            .map(|t| (s, e.unwrap_or(t.saturating_sub(1)).min(t.saturating_sub(1))))
    });
    Ok((meta.length, served, body))
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
