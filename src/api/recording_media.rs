//! Playing and downloading a recording's audio: the first attachment of the document,
//! whether it is a CouchDB attachment or sits on external storage, streamed with HTTP
//! Range support (206 + Content-Range) so a browser player can seek.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::AttachmentStream;
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The first attachment (`kz_doc:attachments/1` merges `_attachments` and `pvt_attachments`).
fn first_attachment(doc: &Value) -> Option<(String, Value, bool)> {
    if let Some((name, meta)) = doc
        .get("_attachments")
        .and_then(Value::as_object)
        .and_then(|a| a.iter().next())
    {
        return Some((name.clone(), meta.clone(), false));
    }
    doc.get("pvt_attachments")
        .and_then(Value::as_object)
        .and_then(|a| a.iter().next())
        .map(|(n, m)| (n.clone(), m.clone(), true))
}

/// Cut a full stream down to `[start, end]` when the source ignored the range.
fn slice(body: AttachmentStream, start: u64, len: u64) -> AttachmentStream {
    let mut skipped = 0u64;
    let mut sent = 0u64;
    Box::pin(body.filter_map(move |chunk| {
        let out = match chunk {
            Err(e) => Some(Err(e)),
            Ok(bytes) => {
                let n = bytes.len() as u64;
                let mut from = 0u64;
                if skipped < start {
                    let skip = (start - skipped).min(n);
                    skipped += skip;
                    from = skip;
                }
                let available = n - from;
                let take = available.min(len.saturating_sub(sent));
                sent += take;
                (take > 0).then(|| Ok(bytes.slice(from as usize..(from + take) as usize)))
            }
        };
        std::future::ready(out)
    }))
}

pub async fn stream_first_attachment(
    ctx: &Ctx,
    db: &str,
    id: &str,
    doc: &Value,
    range: Option<(u64, Option<u64>)>,
    inline: bool,
) -> ApiResult<Reply> {
    let (name, meta, external) =
        first_attachment(doc).ok_or_else(|| ApiError::bad_identifier(id))?;
    let content_type = meta
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_string();
    let known_len = meta.get("length").and_then(Value::as_u64);
    let disposition = format!(
        "{}; filename={}",
        if inline { "inline" } else { "attachment" },
        name
    );

    let (total, served, body) = if external {
        let handler = meta.get("handler").cloned().unwrap_or(Value::Null);
        let place = crate::storage::PathContext {
            account_id: doc
                .get("pvt_account_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            db: db.to_string(),
            doc_id: id.to_string(),
            attachment: name.clone(),
            doc: doc.clone(),
            folder_path: None,
        };
        super::storage_media::fetch(ctx, &handler, &place, range).await?
    } else {
        let read = ctx
            .state
            .couch
            .get_attachment(db, id, &name, range)
            .await?
            .ok_or_else(|| ApiError::bad_identifier(id))?;
        (read.total.or(known_len), read.served_range, read.body)
    };
    let mut headers = vec![
        ("content-disposition".to_string(), disposition),
        ("accept-ranges".to_string(), "bytes".to_string()),
        // Audio is already compressed; never gzip it (and keep ranges exact).
        ("content-encoding".to_string(), "identity".to_string()),
    ];
    let Some((start, end)) = range else {
        if let Some(t) = total {
            headers.push(("content-length".into(), t.to_string()));
        }
        return Ok(Reply::Stream {
            status: 200,
            content_type,
            headers,
            body,
        });
    };
    let total = total.ok_or_else(|| ApiError::Response {
        code: 416,
        message: "range not satisfiable".into(),
        data: json!({}),
    })?;
    if start >= total {
        return Err(ApiError::Response {
            code: 416,
            message: "range not satisfiable".into(),
            data: json!({}),
        });
    }
    let end = end.unwrap_or(total - 1).min(total - 1);
    let body = match served {
        Some(_) => body,
        None => slice(body, start, end - start + 1),
    };
    headers.push((
        "content-range".into(),
        format!("bytes {start}-{end}/{total}"),
    ));
    headers.push(("content-length".into(), (end - start + 1).to_string()));
    Ok(Reply::Stream {
        status: 206,
        content_type,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn slicing_across_chunks() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"0123")),
            Ok(Bytes::from_static(b"4567")),
            Ok(Bytes::from_static(b"89")),
        ];
        let body: AttachmentStream = Box::pin(futures_util::stream::iter(chunks));
        let out: Vec<u8> = slice(body, 3, 5)
            .map(|c| c.unwrap().to_vec())
            .collect::<Vec<_>>()
            .await
            .concat();
        assert_eq!(out, b"34567");
    }
}
