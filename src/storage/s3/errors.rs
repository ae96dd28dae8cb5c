//! S3 error mapping: keep the backend's HTTP status, its `<Message>` (KAZOO's `get_reason`)
//! and its body, so handler errors read like KAZOO's.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::storage::{status_text, truncate_body, StorageError};

pub(super) fn backend_msg(message: &str) -> StorageError {
    StorageError::Backend {
        code: None,
        message: message.to_string(),
        body: None,
    }
}

/// `SdkError` → [`StorageError`]: service errors keep status, message (else the status
/// line) and body; timeouts are [`StorageError::Timeout`]; connection failures have no code.
pub(super) fn map_sdk_error<E>(err: SdkError<E>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => StorageError::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => StorageError::Timeout,
        SdkError::DispatchFailure(_) => {
            backend_msg(&format!("Socket error: {}", DisplayErrorContext(&err)))
        }
        SdkError::ServiceError(se) => {
            let raw = se.raw();
            let code = raw.status().as_u16();
            let body = raw.body().bytes().map(truncate_body);
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| status_text(code));
            StorageError::Backend {
                code: Some(code),
                message,
                body,
            }
        }
        SdkError::ResponseError(r) => StorageError::Backend {
            code: Some(r.raw().status().as_u16()),
            message: format!(
                "unexpected answer from storage backend: {}",
                DisplayErrorContext(&err)
            ),
            body: r.raw().body().bytes().map(truncate_body),
        },
        _ => backend_msg(&DisplayErrorContext(&err).to_string()),
    }
}
