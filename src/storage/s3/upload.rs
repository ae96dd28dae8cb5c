//! S3 uploads: one `PutObject` for a body that fits in a part, else a multipart upload of
//! 5 MiB parts, [`PARTS_IN_FLIGHT`] uploading while the next is read, guarded so that a
//! failed or cancelled upload is aborted.

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use md5::{Digest, Md5};
use parking_lot::Mutex;
use std::sync::Arc;

use super::errors::{backend_msg, map_sdk_error};
use super::{S3Settings, MAX_PARTS, MAX_PART_SIZE, PARTS_IN_FLIGHT, PART_SIZE};
use crate::storage::body::Digests;
use crate::storage::{ByteStream, ObjectMeta, StorageError};

impl S3Settings {
    /// Upload `first` and the rest of `parts` as a multipart upload; returns the final ETag.
    pub(super) async fn multipart(
        &self,
        client: &Client,
        key: &str,
        meta: &ObjectMeta,
        first: Part,
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
        // Up to PARTS_IN_FLIGHT parts upload at once (their own tasks, aborted with the set
        // if this upload is dropped) while the next one is read.
        let mut running = tokio::task::JoinSet::new();
        let result = async {
            let mut done = Vec::new();
            let mut part = first;
            let mut number = 0;
            loop {
                number += 1;
                running.spawn(upload_part(
                    parts.spare.clone(),
                    client.clone(),
                    self.bucket.clone(),
                    key.to_string(),
                    upload_id.clone(),
                    number,
                    part,
                ));
                if parts.eof {
                    break;
                }
                let next = parts.next_part().await?;
                while running.len() >= PARTS_IN_FLIGHT {
                    done.push(joined(running.join_next().await)?);
                }
                if next.data.is_empty() {
                    break; // the body ended exactly on a part boundary
                }
                part = next;
            }
            while let Some(r) = running.join_next().await {
                done.push(joined(Some(r))?);
            }
            done.sort_by_key(|p| p.part_number());
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
                // parts still uploading could land after the abort and be kept (and billed)
                running.shutdown().await;
                guard.abort().await;
                Err(e)
            }
        }
    }
}

/// Upload one part; its completion record. Its buffer goes back to `spare` afterwards.
async fn upload_part(
    spare: Spare,
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    number: i32,
    part: Part,
) -> Result<CompletedPart, StorageError> {
    let out = client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length(part.data.len() as i64)
        .content_md5(part.md5)
        .body(SdkByteStream::from(part.data.clone()))
        .send()
        .await;
    spare.give(part.data);
    let out = out.map_err(map_sdk_error)?;
    Ok(CompletedPart::builder()
        .set_e_tag(out.e_tag().map(str::to_string))
        .part_number(number)
        .build())
}

/// The outcome of a part upload task.
fn joined(
    r: Option<Result<Result<CompletedPart, StorageError>, tokio::task::JoinError>>,
) -> Result<CompletedPart, StorageError> {
    match r {
        Some(Ok(out)) => out,
        Some(Err(e)) => Err(StorageError::Io(format!("part upload task: {e}"))),
        None => Err(StorageError::Io("part upload task missing".into())),
    }
}

/// One part of a body, with its `Content-MD5` (base64).
pub(super) struct Part {
    pub(super) data: Bytes,
    pub(super) md5: String,
}

/// Buffers of parts already uploaded, for the next parts of the same body: a 200 MiB body
/// goes through three 5 MiB buffers instead of forty. Fresh buffers cost page faults, and
/// freed ones scattered over the allocator's per-thread arenas made peak RSS jump by up to
/// 20 MiB between identical runs.
#[derive(Clone, Default)]
pub(super) struct Spare(Arc<Mutex<Vec<BytesMut>>>);

impl Spare {
    fn take(&self) -> Option<BytesMut> {
        self.0.lock().pop()
    }

    /// Keep `data`'s buffer for reuse, unless someone still holds it (then it is freed when
    /// they let go) or enough are kept already.
    pub(super) fn give(&self, data: Bytes) {
        if let Ok(mut buf) = data.try_into_mut() {
            let mut kept = self.0.lock();
            if kept.len() <= PARTS_IN_FLIGHT {
                buf.clear();
                kept.push(buf);
            }
        }
    }
}

/// Reads a body in parts of `part_size` (the last one smaller), hashing everything it reads: the whole
/// body's MD5 (the recording's) and each part's (its `Content-MD5`), both as the chunks
/// arrive, so a part's upload starts without first reading the part through again.
pub(super) struct PartReader {
    body: ByteStream,
    pending: Option<Bytes>,
    pub(super) digests: Digests,
    pub(super) eof: bool,
    hint: Option<u64>,
    pub(super) part_size: usize,
    pub(super) spare: Spare,
}

impl PartReader {
    pub(super) fn new(body: ByteStream, hint: Option<u64>) -> Self {
        let part_size = hint.map_or(PART_SIZE, |h| {
            // whole MiB, so that every part but the last has the same size
            let need = h.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
            let need = usize::try_from(need).unwrap_or(usize::MAX);
            need.clamp(PART_SIZE, MAX_PART_SIZE)
        });
        PartReader {
            body,
            pending: None,
            digests: Digests::default(),
            eof: false,
            hint,
            part_size,
            spare: Spare::default(),
        }
    }

    /// The next part: full unless the body ended (then `eof` is set).
    pub(super) async fn next_part(&mut self) -> Result<Part, StorageError> {
        let size = self.part_size;
        // (the hint is the sender's word: memory follows the bytes that actually arrive)
        let cap = self
            .hint
            .map_or(256 * 1024, |h| h.min(PART_SIZE as u64) as usize);
        let mut buf = self
            .spare
            .take()
            .unwrap_or_else(|| BytesMut::with_capacity(cap));
        let mut md5 = Md5::new();
        while buf.len() < size {
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
            let room = size - buf.len();
            if chunk.len() > room {
                self.pending = Some(chunk.split_off(room));
            }
            if buf.capacity() - buf.len() < chunk.len() {
                // Grow straight to a 5 MiB part rather than by doubling (memory stays at one
                // part); a larger part grows by doubling, as its bytes arrive.
                let want = (buf.len() + chunk.len()).max(buf.capacity() * 2);
                let mut bigger = BytesMut::with_capacity(want.clamp(PART_SIZE, size));
                bigger.extend_from_slice(&buf);
                buf = bigger;
            }
            md5.update(&chunk);
            buf.extend_from_slice(&chunk);
        }
        Ok(Part {
            data: buf.freeze(),
            md5: base64::engine::general_purpose::STANDARD.encode(md5.finalize()),
        })
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

/// ETags come quoted; KAZOO stores them without the quotes.
pub(super) fn unquote(etag: &str) -> String {
    etag.replace('"', "")
}
