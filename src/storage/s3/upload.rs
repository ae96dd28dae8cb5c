//! S3 uploads: one `PutObject` for a body that fits in a part, else a multipart upload in
//! 8 MiB parts read one at a time, guarded so that a failed or cancelled upload is aborted.

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use md5::{Digest, Md5};

use super::errors::{backend_msg, map_sdk_error};
use super::{S3Settings, PART_SIZE};
use crate::storage::body::Digests;
use crate::storage::{ByteStream, ObjectMeta, StorageError};

impl S3Settings {
    /// Upload `first` and the rest of `parts` as a multipart upload; returns the final ETag.
    pub(super) async fn multipart(
        &self,
        client: &Client,
        key: &str,
        meta: &ObjectMeta,
        first: Bytes,
        parts: &mut PartReader,
    ) -> Result<Option<String>, StorageError> {
        let created = client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&meta.content_type)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| backend_msg("storage backend returned no upload id"))?
            .to_string();
        let mut guard = AbortGuard {
            client: client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_string(),
            upload_id: Some(upload_id.clone()),
        };
        let result = async {
            let mut done = Vec::new();
            let mut part = first;
            loop {
                let number = done.len() as i32 + 1;
                let upload = client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .content_length(part.len() as i64)
                    .content_md5(content_md5(&part))
                    .body(SdkByteStream::from(part))
                    .send();
                // read the next part while this one uploads (two parts in memory at most)
                let (out, next) = if parts.eof {
                    (upload.await, None)
                } else {
                    let (out, next) = tokio::join!(upload, parts.next_part());
                    (out, Some(next))
                };
                let out = out.map_err(map_sdk_error)?;
                done.push(
                    CompletedPart::builder()
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .part_number(number)
                        .build(),
                );
                match next {
                    None => break,
                    Some(next) => {
                        part = next?;
                        if part.is_empty() {
                            break; // the body ended exactly on a part boundary
                        }
                    }
                }
            }
            let upload = CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build();
            let out = client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(upload)
                .send()
                .await
                .map_err(map_sdk_error)?;
            Ok(out.e_tag().map(unquote))
        }
        .await;
        match result {
            Ok(etag) => {
                guard.upload_id = None;
                Ok(etag)
            }
            Err(e) => {
                guard.abort().await;
                Err(e)
            }
        }
    }
}

/// Reads a body in parts of at most [`PART_SIZE`], hashing everything it reads.
pub(super) struct PartReader {
    body: ByteStream,
    pending: Option<Bytes>,
    pub(super) digests: Digests,
    pub(super) eof: bool,
    hint: Option<u64>,
}

impl PartReader {
    pub(super) fn new(body: ByteStream, hint: Option<u64>) -> Self {
        PartReader {
            body,
            pending: None,
            digests: Digests::default(),
            eof: false,
            hint,
        }
    }

    /// The next part: full unless the body ended (then `eof` is set).
    pub(super) async fn next_part(&mut self) -> Result<Bytes, StorageError> {
        let cap = self
            .hint
            .map_or(256 * 1024, |h| h.min(PART_SIZE as u64) as usize);
        let mut buf = BytesMut::with_capacity(cap);
        while buf.len() < PART_SIZE {
            let mut chunk = match self.pending.take() {
                Some(c) => c,
                None => match self.body.next().await {
                    Some(Ok(c)) => {
                        self.digests.update(&c);
                        c
                    }
                    Some(Err(e)) => return Err(StorageError::Io(format!("reading body: {e}"))),
                    None => {
                        self.eof = true;
                        break;
                    }
                },
            };
            let room = PART_SIZE - buf.len();
            if chunk.len() > room {
                self.pending = Some(chunk.split_off(room));
            }
            if buf.capacity() - buf.len() < chunk.len() {
                // Grow straight to one part rather than by doubling: memory stays at one part.
                let mut bigger = BytesMut::with_capacity(PART_SIZE);
                bigger.extend_from_slice(&buf);
                buf = bigger;
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

/// Aborts a multipart upload unless disarmed (`upload_id = None`): on error paths directly,
/// and from `Drop` when the upload future is cancelled mid-way.
struct AbortGuard {
    client: Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl AbortGuard {
    async fn abort(&mut self) {
        if let Some(id) = self.upload_id.take() {
            abort_upload(
                self.client.clone(),
                self.bucket.clone(),
                self.key.clone(),
                id,
            )
            .await;
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(id) = self.upload_id.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (c, b, k) = (self.client.clone(), self.bucket.clone(), self.key.clone());
                rt.spawn(abort_upload(c, b, k, id));
            }
        }
    }
}

async fn abort_upload(client: Client, bucket: String, key: String, upload_id: String) {
    let res = client
        .abort_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await;
    match res {
        Ok(_) => tracing::info!(%bucket, %key, "aborted unfinished multipart upload"),
        Err(e) => {
            let e = map_sdk_error(e);
            tracing::warn!(%bucket, %key, error = %e, "could not abort multipart upload")
        }
    }
}

/// `Content-MD5` for a part: the backend rejects a part that arrived damaged.
pub(super) fn content_md5(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// ETags come quoted; KAZOO stores them without the quotes.
pub(super) fn unquote(etag: &str) -> String {
    etag.replace('"', "")
}
