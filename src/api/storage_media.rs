//! Reading audio that sits on external storage (S3, HTTP) through the handler recorded on
//! the recording document.

use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::AttachmentStream;
use serde_json::Value;

/// `(total length, served range, body)` of an externally stored attachment.
pub async fn fetch(
    _ctx: &Ctx,
    handler: &Value,
    _range: Option<(u64, Option<u64>)>,
) -> ApiResult<(Option<u64>, Option<(u64, u64)>, AttachmentStream)> {
    tracing::warn!(handler = %handler.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default(), "external storage handler not readable yet");
    Err(ApiError::Response {
        code: 501,
        message: "not implemented".into(),
        data: serde_json::json!({}),
    })
}
