//! Small binaries kept as CouchDB attachments (whitelabel logos, app-store icons): served
//! streamed with crossbar's headers, and uploads decoded as crossbar decodes them.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use crate::state::AppState;
use base64::Engine;

/// Stream an attachment: its stored content type and `content-disposition: attachment;
/// filename=<name>` (unquoted, as crossbar writes it). None when it is not there.
pub async fn attachment(
    state: &AppState,
    db: &str,
    doc_id: &str,
    name: &str,
) -> ApiResult<Option<Reply>> {
    let Some(read) = state.couch.get_attachment(db, doc_id, name, None).await? else {
        return Ok(None);
    };
    let mut headers = vec![(
        "content-disposition".to_string(),
        format!("attachment; filename={name}"),
    )];
    if let Some(t) = read.total {
        headers.push(("content-length".into(), t.to_string()));
    }
    Ok(Some(Reply::Stream {
        status: 200,
        content_type: read.content_type,
        headers,
        body: read.body,
    }))
}

/// An uploaded file: (content type, bytes). Base64 bodies (optionally a `data:` URI) are
/// decoded and typed by the URI (`api_util:decode_base64`).
pub fn decode_upload(content_type: &str, body: &[u8]) -> ApiResult<(String, Vec<u8>)> {
    if !matches!(content_type, "application/base64" | "application/x-base64") {
        return Ok((content_type.to_string(), body.to_vec()));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| invalid_base64())?
        .trim();
    let (ct, encoded) = match text.strip_prefix("data:") {
        Some(rest) => {
            let (meta, data) = rest.split_once(',').ok_or_else(invalid_base64)?;
            let ct = meta.strip_suffix(";base64").unwrap_or(meta);
            (ct.to_string(), data)
        }
        None => ("application/octet-stream".to_string(), text),
    };
    let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|_| invalid_base64())?;
    Ok((ct, bytes))
}

fn invalid_base64() -> ApiError {
    ApiError::validation(
        "file",
        "invalid",
        serde_json::json!({"message": "The file is not valid base64"}),
    )
}

/// The extension crossbar adds to a file name without one (`kz_mime:to_extension`).
pub fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/ico" | "image/x-icon" | "image/vnd.microsoft.icon" | "image/icon" => "ico",
        "image/svg+xml" => "svg",
        "text/html" => "html",
        _ => "bin",
    }
}

/// The content type of a file by its name (`kz_mime:from_filename`), for app-store images.
pub fn content_type_for_name(name: &str) -> &'static str {
    match name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_uploads() {
        let (ct, b) =
            decode_upload("application/x-base64", b"data:image/png;base64,iVBORw==").unwrap();
        assert_eq!(
            (ct.as_str(), b.as_slice()),
            ("image/png", &[0x89, b'P', b'N', b'G'][..])
        );
        let (ct, b) = decode_upload("image/gif", b"GIF89a").unwrap();
        assert_eq!((ct.as_str(), b.len()), ("image/gif", 6));
        assert!(decode_upload("application/base64", b"data:image/png;base64,@@").is_err());
        assert_eq!(content_type_for_name("Shot1.PNG"), "image/png");
        assert_eq!(extension_for("image/x-icon"), "ico");
    }
}
