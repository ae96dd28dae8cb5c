//! The `http` handler (KAZOO's `kz_att_http`, `storage.attachment.http`) on reqwest.
//!
//! Settings: `url` (required), `verb` put|post (default put), `send_multipart`,
//! `base64_encode_data`, plus the naming settings of [`PathFormat`]. The request URL is the
//! `url` without trailing `/`, then `/` (only when the url has no query string), then the
//! field segment (default `{account_id}/{owner_id}/{doc_id}/{attachment}`).
//!
//! The body is the raw recording, streamed; with `send_multipart` it is `multipart/form-data`
//! with a JSON part named after the doc id (the doc's public fields) and the file part named
//! after the attachment, base64-encoded on the fly when `base64_encode_data` is set (KAZOO
//! only encodes inside multipart). Uploads do not follow redirects: a streamed body cannot
//! be sent twice. Reads `GET` the stored final URL and do follow them.
//!
//! URLs may carry `user:password@`; the password never reaches logs, errors or `Debug`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LOCATION, RANGE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::body;
use super::path::{http_default_fields, PathContext, PathFormat};
use super::{status_text, truncate_body, ByteStream, ObjectMeta, StorageError, Stored};

/// Longest wait for a read's headers or next chunk.
const FETCH_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `verb` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Put,
    Post,
}

/// Parsed `storage.attachment.http` settings. `Debug` hides the URL's password.
#[derive(Clone)]
pub struct HttpSettings {
    /// The base URL as configured (may hold credentials).
    pub url: String,
    pub verb: Verb,
    pub send_multipart: bool,
    pub base64_encode_data: bool,
    pub format: PathFormat,
    clients: Arc<OnceLock<Clients>>,
}

/// Uploads must not follow redirects (reqwest would turn a PUT into a body-less GET on 301/302);
/// reads follow up to 10 as KAZOO does.
struct Clients {
    upload: Client,
    fetch: Client,
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("url", &redact_url(&self.url))
            .field("verb", &self.verb)
            .field("send_multipart", &self.send_multipart)
            .field("base64_encode_data", &self.base64_encode_data)
            .field("format", &self.format)
            .finish()
    }
}

/// A URL fit for logs: the userinfo password replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".to_string(),
    }
}

fn flag(m: &Map<String, Value>, key: &str) -> Result<bool, StorageError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => Ok(s == "true"),
        Some(_) => Err(StorageError::invalid(
            &format!("settings.{key}"),
            "must be a boolean",
        )),
    }
}

impl HttpSettings {
    /// Parse the `settings` object of an `http` attachment entry.
    pub fn parse(m: &Map<String, Value>) -> Result<Self, StorageError> {
        let bad_url = |msg: &str| StorageError::invalid("settings.url", msg.to_string());
        let url = match m.get("url") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(bad_url("is required")),
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad_url("must not contain spaces or control characters"));
        }
        let parsed = url::Url::parse(&url).map_err(|_| bad_url("is not a valid URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(bad_url("must be an http or https URL with a host"));
        }
        let verb = match m.get("verb").and_then(Value::as_str) {
            None if m.get("verb").is_none_or(Value::is_null) => Verb::Put,
            Some(v) if v.eq_ignore_ascii_case("put") => Verb::Put,
            Some(v) if v.eq_ignore_ascii_case("post") => Verb::Post,
            _ => {
                return Err(StorageError::invalid(
                    "settings.verb",
                    "must be put or post",
                ))
            }
        };
        Ok(HttpSettings {
            url,
            verb,
            send_multipart: flag(m, "send_multipart")?,
            base64_encode_data: flag(m, "base64_encode_data")?,
            format: PathFormat::parse(m)?,
            clients: Arc::default(),
        })
    }

    pub(crate) fn check_host(&self) -> Result<(), StorageError> {
        let parsed = url::Url::parse(&self.url)
            .map_err(|_| StorageError::invalid("settings.url", "is not a valid URL"))?;
        match parsed.host() {
            Some(h) if !super::is_forbidden_host(&h) => Ok(()),
            _ => Err(StorageError::invalid(
                "settings.url",
                "loopback and unspecified hosts are not allowed",
            )),
        }
    }

    /// The URL an object for `ctx` is sent to (KAZOO's base URL + separator + segment).
    pub fn request_url(&self, ctx: &PathContext) -> String {
        let base = self.url.trim_end_matches('/');
        let has_query = url::Url::parse(base)
            .ok()
            .and_then(|u| u.query().map(|q| !q.is_empty()))
            .unwrap_or(false);
        let sep = if has_query { "" } else { "/" };
        let segment = self.format.render(ctx, &http_default_fields());
        format!("{base}{sep}{segment}")
    }

    fn clients(&self) -> &Clients {
        self.clients.get_or_init(|| {
            let builder = || {
                Client::builder()
                    .connect_timeout(super::CONNECT_TIMEOUT)
                    .user_agent(concat!("kazoo-rec/", env!("CARGO_PKG_VERSION")))
            };
            // reqwest only fails to build a client when its TLS backend cannot start.
            let build = |b: reqwest::ClientBuilder| b.build().expect("TLS backend for reqwest");
            Clients {
                // No read timeout on uploads: reqwest's starts at send, so it would cap how
                // long a large body may take. Callers bound uploads with their own deadline.
                upload: build(builder().redirect(reqwest::redirect::Policy::none())),
                // For reads it bounds the wait for headers and for each chunk (counted only
                // while the consumer polls, so a paused playback is not cut).
                fetch: build(
                    builder()
                        .redirect(reqwest::redirect::Policy::limited(10))
                        .read_timeout(FETCH_READ_TIMEOUT),
                ),
            }
        })
    }

    pub(crate) async fn put(
        &self,
        ctx: &PathContext,
        meta: ObjectMeta,
        body: ByteStream,
    ) -> Result<Stored, StorageError> {
        let url = self.request_url(ctx);
        let method = match self.verb {
            Verb::Put => Method::PUT,
            Verb::Post => Method::POST,
        };
        tracing::debug!(url = %redact_url(&url), %method, "storing to http");
        let (hashed, digests) = body::hashing(body);
        let (content_type, length, body) = if self.send_multipart {
            self.multipart(ctx, &meta, hashed)
        } else {
            (meta.content_type.clone(), meta.length, hashed)
        };
        let mut req = self
            .clients()
            .upload
            .request(method, &url)
            .header(CONTENT_TYPE, content_type)
            .body(reqwest::Body::wrap_stream(body));
        if let Some(n) = length {
            req = req.header(CONTENT_LENGTH, n);
        }
        let resp = req.send().await.map_err(map_reqwest_error)?;
        let resp = check_status(resp).await?;
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.replace('"', ""));
        let (bytes, md5_hex) = digests.finish();
        let mut location = json!({ "url": url });
        if self.base64_encode_data {
            location["base64_encode_data"] = json!(true);
        }
        Ok(Stored {
            location,
            etag,
            bytes,
            md5_hex,
        })
    }

    /// Frame `file` as KAZOO's two-part `multipart/form-data` body, streaming; returns the
    /// content type, the total length when the file's is known, and the body.
    fn multipart(
        &self,
        ctx: &PathContext,
        meta: &ObjectMeta,
        file: ByteStream,
    ) -> (String, Option<u64>, ByteStream) {
        let boundary = hex::encode(rand::random::<[u8; 24]>());
        let public: Map<String, Value> = ctx
            .doc
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !k.starts_with('_') && !k.starts_with("pvt_"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let head = format!(
            "\r\n--{boundary}\r\ncontent-disposition: form-data; name={}\r\n\
             content-type: application/json\r\n\r\n{}\
             \r\n--{boundary}\r\ncontent-disposition: form-data; name={}\r\n\
             content-type: {}\r\n\r\n",
            param_value(&ctx.doc_id),
            Value::Object(public),
            param_value(&ctx.attachment),
            meta.content_type,
        );
        let tail = format!("\r\n--{boundary}--");
        let (file, file_len) = if self.base64_encode_data {
            (body::base64_encode(file), meta.length.map(body::base64_len))
        } else {
            (file, meta.length)
        };
        let length = file_len.map(|n| head.len() as u64 + n + tail.len() as u64);
        let framed = stream::once(async move { Ok(Bytes::from(head)) })
            .chain(file)
            .chain(stream::once(async move { Ok(Bytes::from(tail)) }));
        let ct = format!("multipart/form-data; boundary={boundary}");
        (ct, length, Box::pin(framed))
    }

    pub(crate) async fn get(
        &self,
        location: &Value,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(ObjectMeta, ByteStream), StorageError> {
        self.get_with(&self.clients().fetch, location, range).await
    }

    async fn get_with(
        &self,
        client: &Client,
        location: &Value,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(ObjectMeta, ByteStream), StorageError> {
        let url = location_url(location)?;
        let mut req = client.get(url);
        if let Some((start, end)) = range {
            let end = end.map(|e| e.to_string()).unwrap_or_default();
            req = req.header(RANGE, format!("bytes={start}-{end}"));
        }
        let resp = req.send().await.map_err(map_reqwest_error)?;
        let resp = check_status(resp).await?;
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type =
            header(CONTENT_TYPE).unwrap_or_else(|| "application/octet-stream".to_string());
        let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
        let total = if partial {
            header(CONTENT_RANGE).and_then(|r| r.rsplit('/').next()?.parse::<u64>().ok())
        } else {
            resp.content_length()
        };
        let stream: ByteStream = Box::pin(resp.bytes_stream().map_err(std::io::Error::other));
        let stream = match range {
            // The server ignored Range and sent everything: cut the range out ourselves.
            Some((start, end)) if !partial => {
                if total.is_some_and(|t| start >= t && t > 0) {
                    return Err(StorageError::Backend {
                        code: Some(416),
                        message: status_text(416),
                        body: None,
                    });
                }
                body::slice(stream, start, end.map(|e| e.saturating_sub(start) + 1))
            }
            _ => stream,
        };
        let meta = ObjectMeta {
            content_type,
            length: total,
        };
        Ok((meta, stream))
    }

    /// `DELETE` the stored URL. 404 and 410 count as done. (KAZOO never deletes from HTTP
    /// storage; a receiver without DELETE answers 405, reported as a backend error.)
    pub(crate) async fn delete(&self, location: &Value) -> Result<(), StorageError> {
        let url = location_url(location)?;
        let resp = self
            .clients()
            .upload
            .delete(url)
            .send()
            .await
            .map_err(map_reqwest_error)?;
        if matches!(resp.status(), StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Ok(());
        }
        check_status(resp).await.map(|_| ())
    }

    /// Write, read back, compare, then delete best-effort (KAZOO leaves the file; many
    /// receivers do not implement DELETE).
    pub(crate) async fn probe(&self, ctx: &PathContext) -> Result<(), StorageError> {
        let content = super::probe_content(ctx);
        let meta = ObjectMeta {
            content_type: "text/plain".to_string(),
            length: Some(content.len() as u64),
        };
        let stored = self.put(ctx, meta, body::once(content.clone())).await?;
        let (_, got) = self.get(&stored.location, None).await?;
        super::probe_compare(&content, got).await?;
        if let Err(e) = self.delete(&stored.location).await {
            tracing::info!(error = %e, "storage probe object not deleted from http storage");
        }
        Ok(())
    }
}

fn location_url(location: &Value) -> Result<&str, StorageError> {
    location
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| StorageError::invalid("location.url", "an http location needs a url"))
}

/// A form-data parameter value: bare when it is an RFC 2045 token (as KAZOO writes it),
/// quoted otherwise so that strict parsers accept it.
fn param_value(v: &str) -> String {
    let token = !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&c));
    if token {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// 2xx passes; anything else becomes a backend error with KAZOO's status line as message.
async fn check_status(resp: Response) -> Result<Response, StorageError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let code = status.as_u16();
    let mut message = status_text(code);
    if status.is_redirection() {
        if let Some(to) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            message = format!(
                "{message} (to {}; uploads do not follow redirects)",
                redact_url(to)
            );
        }
    }
    tracing::warn!(code, url = %redact_url(resp.url().as_str()), "http storage error");
    let body = read_error_body(resp).await;
    Err(StorageError::Backend {
        code: Some(code),
        message,
        body,
    })
}

/// At most 64 KiB of an error answer, read as it comes.
async fn read_error_body(resp: Response) -> Option<String> {
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= 64 * 1024 {
            break;
        }
    }
    Some(truncate_body(&buf))
}

/// reqwest errors without their URL (it may hold credentials), with the cause chain.
fn map_reqwest_error(err: reqwest::Error) -> StorageError {
    if err.is_timeout() {
        return StorageError::Timeout;
    }
    let connect = err.is_connect();
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if connect {
        message = format!("failed to connect to storage backend: {message}");
    }
    StorageError::Backend {
        code: None,
        message,
        body: None,
    }
}

#[cfg(test)]
mod tests;
