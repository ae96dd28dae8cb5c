//! Recording destinations: one small streaming interface over KAZOO's storage handlers.
//!
//! A KAZOO storage plan names attachment handlers (`attachments.<uuid>` in the storage doc):
//! `{"handler": "s3" | "http" | "azure" | …, "name": …, "settings": {…}}`. [`Handler`] parses
//! such an entry and stores, streams back and deletes objects through it. Only `s3` and
//! `http` are implemented; the other kinds KAZOO's schema allows parse as [`Handler::Other`] and
//! answer [`StorageError::Unsupported`], so a plan using them can be shown but not written to.
//!
//! Bodies are streams end to end: `put` never holds more than one S3 part (8 MiB) of a
//! recording, `get` hands the backend's body stream straight to the caller.
//!
//! Object names follow `kz_att_util:format_url` (see [`path`]): the same settings produce the
//! same S3 key or URL segment as KAZOO, so objects land where KAZOO would put them. What a doc
//! records to find an object again ([`Stored::location`]) is our own JSON, not KAZOO's
//! Erlang-term stub, and it never holds a secret.

pub mod body;
pub mod http;
pub mod path;
pub mod s3;

use std::time::Duration;

use serde_json::{Map, Value};

pub use path::{PathContext, PathFormat};

/// A recording body in flight.
pub type ByteStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>,
>;

/// What is known about an object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: String,
    /// On `put`: the body's length when the caller knows it (lets HTTP send `content-length`).
    /// On `get`: the object's total size, whatever range was asked for.
    pub length: Option<u64>,
}

/// The outcome of a `put`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// What to record on the doc to find the object again: `{"bucket","key","host",…}` for S3,
    /// `{"url": final_url}` for HTTP. It never holds a secret key (an HTTP URL keeps the
    /// userinfo the tenant configured, as KAZOO's stub does).
    pub location: Value,
    /// The backend's entity tag without quotes, when it gave one.
    pub etag: Option<String>,
    /// Bytes read from the body stream (before any base64 or multipart framing).
    pub bytes: u64,
    /// MD5 of those bytes, lower-case hex.
    pub md5_hex: String,
}

/// Why a storage operation failed.
#[derive(thiserror::Error, Debug)]
pub enum StorageError {
    /// The backend answered with an error, or could not be reached. `code` is the HTTP status
    /// when there was one; `message` is KAZOO's reason text (S3's `<Message>`, or the status
    /// line for HTTP); `body` is the backend's answer, for `attachment_handler_error` docs.
    #[error("{message}")]
    Backend {
        code: Option<u16>,
        message: String,
        body: Option<String>,
    },
    /// The backend did not answer in time.
    #[error("storage backend timed out")]
    Timeout,
    /// A handler kind KAZOO knows (and we validate) but this service cannot write to.
    #[error("{0}")]
    Unsupported(String),
    /// Handler settings or a stored location that cannot be used; `field` is the path under the
    /// attachment entry (e.g. `settings.bucket`), for a 400 naming it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Reading the body stream failed, or the data read back was not what was written.
    #[error("{0}")]
    Io(String),
}

impl StorageError {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        StorageError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// A parsed storage handler (one `attachments.<uuid>` entry of a storage plan).
#[derive(Debug, Clone)]
pub enum Handler {
    S3(s3::S3Settings),
    Http(http::HttpSettings),
    /// A kind KAZOO supports that we do not: `azure`, `google_drive`, `google_storage`,
    /// `onedrive`, `dropbox`.
    Other {
        kind: String,
    },
}

/// Handlers by their `attachments.<id>` entry as stored, settings included: the recordings
/// sent to one destination share one client and its open connections (an S3 client per
/// recording meant new connections, and with TLS a new handshake, for every upload). A
/// changed setting is a different entry, so a new client.
#[derive(Default)]
pub struct HandlerCache(parking_lot::Mutex<std::collections::HashMap<String, Handler>>);

/// Distinct entries kept; past that the cache starts again (an entry is only a client to
/// build again).
const HANDLERS_KEPT: usize = 256;

impl HandlerCache {
    pub fn get(&self, entry: &Value) -> Result<Handler, StorageError> {
        let key = entry.to_string();
        if let Some(h) = self.0.lock().get(&key) {
            return Ok(h.clone());
        }
        let h = Handler::from_attachment(entry)?;
        let mut kept = self.0.lock();
        if kept.len() >= HANDLERS_KEPT {
            kept.clear();
        }
        Ok(kept.entry(key).or_insert(h).clone())
    }
}

/// Handler kinds KAZOO's `storage.attachments` schema accepts besides `s3` and `http`.
const OTHER_KINDS: [&str; 5] = [
    "azure",
    "google_drive",
    "google_storage",
    "onedrive",
    "dropbox",
];

/// Connect timeout for every backend call: an unreachable host fails fast.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole settings probe (write, read back, delete) must finish within this.
pub(crate) const PROBE_BUDGET: Duration = Duration::from_secs(20);

impl Handler {
    /// Parse a KAZOO storage `attachments.<uuid>` entry (`{"handler":"s3","name":..,"settings":{..}}`).
    ///
    /// This checks what the handler needs to work (types, required keys, field lists); it does
    /// not apply the tenant host policy, see [`Handler::check_hosts`].
    pub fn from_attachment(entry: &Value) -> Result<Handler, StorageError> {
        let obj = entry.as_object().ok_or_else(|| {
            StorageError::invalid("handler", "attachment entry must be an object")
        })?;
        let kind = obj
            .get("handler")
            .and_then(Value::as_str)
            .ok_or_else(|| StorageError::invalid("handler", "handler is required"))?;
        let empty = Map::new();
        let settings = match obj.get("settings") {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(StorageError::invalid("settings", "must be an object")),
        };
        match kind {
            "s3" => Ok(Handler::S3(s3::S3Settings::parse(settings)?)),
            "http" => Ok(Handler::Http(http::HttpSettings::parse(settings)?)),
            k if OTHER_KINDS.contains(&k) => Ok(Handler::Other {
                kind: k.to_string(),
            }),
            other => Err(StorageError::invalid(
                "handler",
                format!("unknown storage handler '{other}'"),
            )),
        }
    }

    /// The handler kind as KAZOO names it (`s3`, `http`, `azure`, …).
    pub fn kind(&self) -> &str {
        match self {
            Handler::S3(_) => "s3",
            Handler::Http(_) => "http",
            Handler::Other { kind } => kind,
        }
    }

    /// Refuse loopback and unspecified hosts (`localhost`, `127.0.0.1`, `0.0.0.0`, `::1`, `::`)
    /// in tenant-given settings, as KAZOO's URL validation does, unless `allow_loopback` (a
    /// configuration switch for local testing) is set.
    pub fn check_hosts(&self, allow_loopback: bool) -> Result<(), StorageError> {
        if allow_loopback {
            return Ok(());
        }
        match self {
            Handler::S3(s) => s.check_host(),
            Handler::Http(h) => h.check_host(),
            Handler::Other { .. } => Ok(()),
        }
    }

    /// Store a stream under a path built from the handler's field_list etc. Streams, never
    /// buffers the whole body (S3 multipart in 8 MiB parts; bounded memory).
    pub async fn put(
        &self,
        path_ctx: &PathContext,
        meta: ObjectMeta,
        body: ByteStream,
    ) -> Result<Stored, StorageError> {
        match self {
            Handler::S3(s) => s.put(path_ctx, meta, body).await,
            Handler::Http(h) => h.put(path_ctx, meta, body).await,
            Handler::Other { kind } => Err(unsupported(kind)),
        }
    }

    /// Stream an object back (optionally the byte range `start..=end`, `end` open when `None`),
    /// for playback with HTTP Range. The returned meta's `length` is the object's total size.
    pub async fn get(
        &self,
        location: &Value,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(ObjectMeta, ByteStream), StorageError> {
        match self {
            Handler::S3(s) => s.get(location, range).await,
            Handler::Http(h) => h.get(location, range).await,
            Handler::Other { kind } => Err(unsupported(kind)),
        }
    }

    /// Remove an object. Deleting one that is already gone succeeds.
    pub async fn delete(&self, location: &Value) -> Result<(), StorageError> {
        match self {
            Handler::S3(s) => s.delete(location).await,
            Handler::Http(h) => h.delete(location).await,
            Handler::Other { kind } => Err(unsupported(kind)),
        }
    }

    /// KAZOO's settings probe on storage PUT/POST: write a small test object through the
    /// handler, read it back, compare, delete it. Connect timeout 5 s, whole probe 20 s.
    ///
    /// Uses the `system_data` naming KAZOO uses for system-level plans; see
    /// [`Handler::probe_for_account`] for an account's plan.
    pub async fn probe(&self) -> Result<(), StorageError> {
        self.probe_at(&PathContext::probe(None)).await
    }

    /// The settings probe, naming the test object as KAZOO does for an account's plan (in the
    /// account's current MODB).
    pub async fn probe_for_account(&self, account_id: &str) -> Result<(), StorageError> {
        self.probe_at(&PathContext::probe(Some(account_id))).await
    }

    async fn probe_at(&self, ctx: &PathContext) -> Result<(), StorageError> {
        let run = async {
            match self {
                Handler::S3(s) => s.probe(ctx).await,
                Handler::Http(h) => h.probe(ctx).await,
                Handler::Other { kind } => Err(unsupported(kind)),
            }
        };
        tokio::time::timeout(PROBE_BUDGET, run)
            .await
            .unwrap_or(Err(StorageError::Timeout))
    }
}

/// How much of a backend's error body is kept (for `attachment_handler_error` docs).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A backend error body as text, cut to [`MAX_ERROR_BODY`].
pub(crate) fn truncate_body(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned()
}

/// The reason phrase for a status (KAZOO's `http_code_to_status_line`).
pub(crate) fn status_text(code: u16) -> String {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or_else(|| format!("HTTP {code}"), str::to_string)
}

fn unsupported(kind: &str) -> StorageError {
    StorageError::Unsupported(format!(
        "storage handler '{kind}' is not supported by this service"
    ))
}

/// The probe's test content, as KAZOO writes it: `some random content: <hex>`.
pub(crate) fn probe_content(ctx: &PathContext) -> bytes::Bytes {
    let random = ctx.attachment.split('_').next().unwrap_or_default();
    bytes::Bytes::from(format!("some random content: {random}"))
}

/// Compare what the probe read back with what it wrote.
pub(crate) async fn probe_compare(expected: &[u8], body: ByteStream) -> Result<(), StorageError> {
    // The probe object is tiny; cap the read so a misbehaving backend cannot make us buffer.
    let got = body::collect_limited(body, 64 * 1024).await?;
    if got == expected {
        Ok(())
    } else {
        Err(StorageError::Io(
            "storage backend returned different content than was written (invalid_data)"
                .to_string(),
        ))
    }
}

/// Whether a URL host is one a tenant may not point us at (KAZOO's blacklist: localhost,
/// 127.0.0.1, 0.0.0.0, and the IPv6 equivalents).
pub(crate) fn is_forbidden_host(host: &url::Host<&str>) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let v4 = |ip: Ipv4Addr| ip == Ipv4Addr::LOCALHOST || ip.is_unspecified();
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost")
        }
        url::Host::Ipv4(ip) => v4(*ip),
        url::Host::Ipv6(ip) => {
            *ip == Ipv6Addr::LOCALHOST || ip.is_unspecified() || ip.to_ipv4_mapped().is_some_and(v4)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_client_per_destination() {
        let cache = HandlerCache::default();
        let entry = |bucket: &str| json!({"handler": "s3", "name": "n", "settings": {"bucket": bucket, "key": "k", "secret": "s"}});
        let s3 = |h: Handler| match h {
            Handler::S3(s) => s,
            other => panic!("{other:?}"),
        };
        let a = s3(cache.get(&entry("a")).unwrap());
        assert!(a.shares_client(&s3(cache.get(&entry("a")).unwrap())));
        // a changed setting is another destination
        let b = s3(cache.get(&entry("b")).unwrap());
        assert!(!a.shares_client(&b));
        // a bad entry is refused, not kept
        assert!(cache
            .get(&json!({"handler": "s3", "settings": {}}))
            .is_err());
        // bounded: past the limit it starts again
        for i in 0..HANDLERS_KEPT {
            cache.get(&entry(&format!("x{i}"))).unwrap();
        }
        assert!(cache.0.lock().len() <= HANDLERS_KEPT);
        assert!(!a.shares_client(&s3(cache.get(&entry("a")).unwrap())));
    }

    #[tokio::test]
    async fn other_kinds_parse_but_are_unsupported() {
        let h = Handler::from_attachment(
            &json!({"handler": "google_drive", "settings": {"oauth_doc_id": "x"}}),
        )
        .unwrap();
        assert_eq!(h.kind(), "google_drive");
        let err = h.probe().await.unwrap_err();
        assert!(matches!(&err, StorageError::Unsupported(m) if m.contains("google_drive")));
    }

    #[test]
    fn unknown_kind_and_bad_shapes_are_invalid() {
        for entry in [
            json!({"handler": "ftp", "settings": {}}),
            json!({"settings": {}}),
            json!([]),
            json!({"handler": "s3", "settings": []}),
        ] {
            let err = Handler::from_attachment(&entry).unwrap_err();
            assert!(
                matches!(err, StorageError::Invalid { .. }),
                "{entry}: {err:?}"
            );
        }
    }

    #[test]
    fn forbidden_hosts() {
        for (u, bad) in [
            ("http://localhost/", true),
            ("http://LocalHost./", true),
            ("http://127.0.0.1:9000/", true),
            ("http://2130706433/", true),
            ("http://0.0.0.0/", true),
            ("http://[::1]/", true),
            ("http://[::]/", true),
            ("http://[::ffff:127.0.0.1]/", true),
            ("http://127.0.0.2/", false),
            ("http://example.com/", false),
        ] {
            let url = url::Url::parse(u).unwrap();
            assert_eq!(is_forbidden_host(&url.host().unwrap()), bad, "{u}");
        }
    }

    #[test]
    fn check_hosts_refuses_loopback_by_default() {
        let s3 = Handler::from_attachment(&json!({"handler": "s3", "settings": {
            "bucket": "bucket1", "key": "k", "secret": "s", "host": "127.0.0.1", "port": 9000}}))
        .unwrap();
        let err = s3.check_hosts(false).unwrap_err();
        assert!(matches!(&err, StorageError::Invalid { field, .. } if field == "settings.host"));
        s3.check_hosts(true).unwrap();
        let http = Handler::from_attachment(
            &json!({"handler": "http", "settings": {"url": "http://localhost:8080/x"}}),
        )
        .unwrap();
        let err = http.check_hosts(false).unwrap_err();
        assert!(matches!(&err, StorageError::Invalid { field, .. } if field == "settings.url"));
        let aws = Handler::from_attachment(
            &json!({"handler": "s3", "settings": {"bucket": "bucket1", "key": "k", "secret": "s"}}),
        )
        .unwrap();
        aws.check_hosts(false).unwrap();
    }
}
