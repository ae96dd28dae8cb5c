//! The `s3` handler (KAZOO's `kz_att_s3`, `storage.attachment.aws`) on aws-sdk-s3.
//!
//! Settings are KAZOO's: `bucket`, `key`, `secret` (required), `host` (default
//! `s3.amazonaws.com`, or `s3.<region>.amazonaws.com` with a region), `port` (443/80),
//! `scheme` (https), `region`, `bucket_access_method` (default `path` without a region, `auto`
//! with one), `bucket_after_host`, `upload_timeout` (ms), plus the naming settings of
//! [`PathFormat`]. The client configuration is built by hand from them (static credentials,
//! explicit endpoint): nothing is read from the environment or the cloud metadata service.
//!
//! Uploads read at most one 8 MiB part at a time: a body that fits is one `PutObject`, a larger
//! one a multipart upload whose drop guard aborts it on any failure or cancellation, so no
//! half-written upload is left behind.

mod errors;
pub mod kazoo_stub;
mod upload;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::Client;
use futures_util::stream;
use serde_json::{json, Map, Value};

use self::errors::map_sdk_error;
use self::upload::{unquote, PartReader};
use super::path::{s3_default_fields, PathContext, PathFormat};
use super::{ByteStream, ObjectMeta, StorageError, Stored, CONNECT_TIMEOUT};

/// Part size for multipart uploads (S3's smallest), and the largest body sent as one
/// `PutObject`. Small parts keep memory low (a few parts are in memory at once) and start the
/// first upload early; a body too large for [`MAX_PARTS`] of them, by its known length, gets
/// larger parts. (Of unknown length, the limit is 48.8 GiB; the ingest's default is 4 GB.)
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// S3's limit on the parts of one upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest part.
pub const MAX_PART_SIZE: usize = 5 << 30;
/// Parts uploaded at once (besides the one being read).
pub const PARTS_IN_FLIGHT: usize = 2;
/// Per-attempt limit for normal operations unless `upload_timeout` says otherwise.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);
/// Per-attempt limit inside the settings probe (which has 20 s in all).
const PROBE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const AWS_DEFAULT_HOST: &str = "s3.amazonaws.com";
const DEFAULT_REGION: &str = "us-east-1";

/// How the bucket goes into request URLs (erlcloud's `s3_bucket_access_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMethod {
    Auto,
    Vhost,
    Path,
}

/// Parsed `storage.attachment.aws` settings. `Debug` never shows the secret.
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub key: String,
    secret: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `http` or `https` (KAZOO also accepts `http://`; normalised here).
    pub scheme: Option<String>,
    pub region: Option<String>,
    pub bucket_access_method: Option<AccessMethod>,
    pub bucket_after_host: bool,
    pub upload_timeout: Option<Duration>,
    pub format: PathFormat,
    client: Arc<OnceLock<Client>>,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("scheme", &self.scheme)
            .field("region", &self.region)
            .field("bucket_access_method", &self.bucket_access_method)
            .field("bucket_after_host", &self.bucket_after_host)
            .field("upload_timeout", &self.upload_timeout)
            .field("format", &self.format)
            .finish()
    }
}

fn req_string(m: &Map<String, Value>, key: &str) -> Result<String, StorageError> {
    match m.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(StorageError::invalid(
            &format!("settings.{key}"),
            "is required and must be a non-empty string",
        )),
    }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, StorageError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(StorageError::invalid(
            &format!("settings.{key}"),
            "must be a non-empty string",
        )),
    }
}

/// KAZOO's `kz_term:to_integer`/`is_true` leniency: numbers may come as strings.
fn opt_u64(m: &Map<String, Value>, key: &str) -> Result<Option<u64>, StorageError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(_) => Err(StorageError::invalid(
            &format!("settings.{key}"),
            "must be a non-negative integer",
        )),
    }
}

impl S3Settings {
    /// Parse the `settings` object of an `s3` attachment entry.
    pub fn parse(m: &Map<String, Value>) -> Result<Self, StorageError> {
        let port = match opt_u64(m, "port")? {
            None => None,
            Some(p) if (1..=65535).contains(&p) => Some(p as u16),
            Some(_) => return Err(StorageError::invalid("settings.port", "must be 1..65535")),
        };
        let scheme = match opt_string(m, "scheme")?.as_deref() {
            None => None,
            Some("http") | Some("http://") => Some("http".to_string()),
            Some("https") | Some("https://") => Some("https".to_string()),
            Some(_) => {
                return Err(StorageError::invalid(
                    "settings.scheme",
                    "must be http or https",
                ))
            }
        };
        let bucket_access_method = match opt_string(m, "bucket_access_method")?.as_deref() {
            None => None,
            Some("auto") => Some(AccessMethod::Auto),
            Some("vhost") => Some(AccessMethod::Vhost),
            Some("path") => Some(AccessMethod::Path),
            Some(_) => {
                return Err(StorageError::invalid(
                    "settings.bucket_access_method",
                    "must be auto, vhost or path",
                ))
            }
        };
        let bucket_after_host = match m.get("bucket_after_host") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            Some(_) => {
                return Err(StorageError::invalid(
                    "settings.bucket_after_host",
                    "must be a boolean",
                ))
            }
        };
        let host = opt_string(m, "host")?;
        if host.as_deref().is_some_and(|h| h.contains(['/', ' ', '@'])) {
            return Err(StorageError::invalid(
                "settings.host",
                "must be a bare host name",
            ));
        }
        Ok(S3Settings {
            bucket: req_string(m, "bucket")?,
            key: req_string(m, "key")?,
            secret: req_string(m, "secret")?,
            host,
            port,
            scheme,
            region: opt_string(m, "region")?,
            bucket_access_method,
            bucket_after_host,
            upload_timeout: opt_u64(m, "upload_timeout")?.map(Duration::from_millis),
            format: PathFormat::parse(m)?,
            client: Arc::default(),
        })
    }

    fn scheme(&self) -> &str {
        self.scheme.as_deref().unwrap_or("https")
    }

    /// The host requests go to (KAZOO's `aws_host/1`).
    pub fn effective_host(&self) -> String {
        match (&self.host, &self.region) {
            (Some(h), _) => h.clone(),
            (None, Some(r)) => format!("s3.{r}.amazonaws.com"),
            (None, None) => AWS_DEFAULT_HOST.to_string(),
        }
    }

    fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme() == "https" { 443 } else { 80 })
    }

    fn is_aws_host(host: &str) -> bool {
        let h = host.to_ascii_lowercase();
        h == AWS_DEFAULT_HOST || h.ends_with(".amazonaws.com") || h.ends_with(".amazonaws.com.cn")
    }

    /// Path-style addressing? `path` and `bucket_after_host` say yes, `vhost` no; `auto` picks
    /// virtual hosts only for AWS hosts and DNS-compatible bucket names (erlcloud uses the
    /// name alone; other S3-compatible servers rarely have wildcard DNS).
    pub fn path_style(&self) -> bool {
        let default = if self.region.is_some() {
            AccessMethod::Auto
        } else {
            AccessMethod::Path
        };
        match self.bucket_access_method.unwrap_or(default) {
            _ if self.bucket_after_host => true,
            AccessMethod::Path => true,
            AccessMethod::Vhost => false,
            AccessMethod::Auto => {
                !(Self::is_aws_host(&self.effective_host()) && dns_compatible(&self.bucket))
            }
        }
    }

    /// The S3 object key for `ctx` (KAZOO's `aws_format_url`).
    pub fn object_key(&self, ctx: &PathContext) -> String {
        self.format.render(ctx, &s3_default_fields())
    }

    pub(crate) fn check_host(&self) -> Result<(), StorageError> {
        let host = self.effective_host();
        let url = url::Url::parse(&format!("http://{host}/"))
            .map_err(|_| StorageError::invalid("settings.host", "is not a valid host"))?;
        match url.host() {
            Some(h) if !super::is_forbidden_host(&h) => Ok(()),
            _ => Err(StorageError::invalid(
                "settings.host",
                "loopback and unspecified hosts are not allowed",
            )),
        }
    }

    fn build_client(&self, attempt_timeout: Duration, attempts: u32) -> Client {
        let host = self.effective_host();
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(Credentials::new(
                self.key.clone(),
                self.secret.clone(),
                None,
                None,
                "kazoo-storage-settings",
            ))
            .force_path_style(self.path_style())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(attempt_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(attempts))
            // Only what S3 requires: trailing CRC checksums break many S3-compatible servers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        let default_https = self.scheme() == "https" && self.port() == 443;
        if !(self.host.is_none() && default_https) {
            let port = self.port();
            let default_port = (self.scheme() == "https" && port == 443)
                || (self.scheme() == "http" && port == 80);
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]") // a bare IPv6 address
            } else {
                host
            };
            b = b.endpoint_url(if default_port {
                format!("{}://{host}", self.scheme())
            } else {
                format!("{}://{host}:{port}", self.scheme())
            });
        }
        Client::from_conf(b.build())
    }

    /// Whether `other` uses the same client (built once for both).
    #[cfg(test)]
    pub(crate) fn shares_client(&self, other: &S3Settings) -> bool {
        Arc::ptr_eq(&self.client, &other.client)
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            self.build_client(self.upload_timeout.unwrap_or(DEFAULT_ATTEMPT_TIMEOUT), 3)
        })
    }

    fn location(&self, key: &str) -> Value {
        let mut loc = json!({
            "bucket": self.bucket,
            "key": key,
            "host": self.effective_host(),
            "port": self.port(),
            "scheme": self.scheme(),
        });
        if let Some(r) = &self.region {
            loc["region"] = json!(r);
        }
        loc
    }

    pub(crate) async fn put(
        &self,
        ctx: &PathContext,
        meta: ObjectMeta,
        body: ByteStream,
    ) -> Result<Stored, StorageError> {
        self.put_with(self.client(), ctx, meta, body).await
    }

    async fn put_with(
        &self,
        client: &Client,
        ctx: &PathContext,
        meta: ObjectMeta,
        body: ByteStream,
    ) -> Result<Stored, StorageError> {
        let key = self.object_key(ctx);
        tracing::debug!(bucket = %self.bucket, key = %key, host = %self.effective_host(), "storing to s3");
        let mut parts = PartReader::new(body, meta.length);
        let first = parts.next_part().await?;
        let etag = if parts.eof {
            let out = client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type(&meta.content_type)
                .content_length(first.data.len() as i64)
                .content_md5(first.md5)
                .body(SdkByteStream::from(first.data))
                .send()
                .await
                .map_err(map_sdk_error)?;
            out.e_tag().map(unquote)
        } else {
            self.multipart(client, &key, &meta, first, &mut parts)
                .await?
        };
        let (bytes, md5_hex) = parts.digests.finish();
        Ok(Stored {
            location: self.location(&key),
            etag,
            bytes,
            md5_hex,
        })
    }

    pub(crate) async fn get(
        &self,
        location: &Value,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(ObjectMeta, ByteStream), StorageError> {
        self.get_with(self.client(), location, range).await
    }

    async fn get_with(
        &self,
        client: &Client,
        location: &Value,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<(ObjectMeta, ByteStream), StorageError> {
        let (bucket, key) = self.bucket_key(location)?;
        let mut req = client.get_object().bucket(bucket).key(key);
        if let Some((start, end)) = range {
            let end = end.map(|e| e.to_string()).unwrap_or_default();
            req = req.range(format!("bytes={start}-{end}"));
        }
        let out = req.send().await.map_err(map_sdk_error)?;
        let total = out
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.parse::<u64>().ok())
            .or_else(|| out.content_length().and_then(|l| u64::try_from(l).ok()));
        let meta = ObjectMeta {
            content_type: out
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string(),
            length: total,
        };
        let body = stream::unfold(out.body, |mut b| async move {
            b.next()
                .await
                .map(|r| (r.map_err(std::io::Error::other), b))
        });
        Ok((meta, Box::pin(body)))
    }

    pub(crate) async fn delete(&self, location: &Value) -> Result<(), StorageError> {
        self.delete_with(self.client(), location).await
    }

    async fn delete_with(&self, client: &Client, location: &Value) -> Result<(), StorageError> {
        let (bucket, key) = self.bucket_key(location)?;
        client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    /// The bucket and key a location names; a location without a bucket uses ours.
    fn bucket_key<'a>(&'a self, location: &'a Value) -> Result<(&'a str, &'a str), StorageError> {
        let key = location
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| StorageError::invalid("location.key", "an S3 location needs a key"))?;
        let bucket = location
            .get("bucket")
            .and_then(Value::as_str)
            .unwrap_or(&self.bucket);
        Ok((bucket, key))
    }

    /// Write, read back, compare, delete: with a client that does not retry and gives each
    /// attempt 10 s, so a dead endpoint fails inside the 20 s probe budget.
    pub(crate) async fn probe(&self, ctx: &PathContext) -> Result<(), StorageError> {
        let client = self.build_client(PROBE_ATTEMPT_TIMEOUT, 1);
        let content = super::probe_content(ctx);
        let meta = ObjectMeta {
            content_type: "text/plain".to_string(),
            length: Some(content.len() as u64),
        };
        let stored = self
            .put_with(&client, ctx, meta, super::body::once(content.clone()))
            .await?;
        let (_, body) = self.get_with(&client, &stored.location, None).await?;
        super::probe_compare(&content, body).await?;
        if let Err(e) = self.delete_with(&client, &stored.location).await {
            // KAZOO never deletes its probe object; a key without delete rights is still valid.
            tracing::warn!(error = %e, "could not delete the storage probe object");
        }
        Ok(())
    }
}

fn dns_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && !bucket.contains('.')
        && bucket
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-')
}

#[cfg(test)]
mod tests;
