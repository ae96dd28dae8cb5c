//! Delivering a spooled recording to where the settings say (KAZOO's order):
//! the settings' `url` (http/https PUT or POST, ftp/ftps), else the account's storage plan
//! handler for `call_recording` (S3, HTTP), else a CouchDB attachment on the document.
//! Every destination receives the same bytes streamed from the spool file, and the same
//! name each time, so a retry overwrites rather than duplicates.

use super::spool::{Job, Spool};
use crate::couch::{AttachmentStream, SYSTEM_DATA_DB};
use crate::domain::ids::AccountId;
use crate::state::AppState;
use crate::storage::{Handler, ObjectMeta, PathContext, StorageError};
use futures_util::TryStreamExt;
use serde_json::{json, Value};

/// Why a delivery failed, in the terms of KAZOO's `attachment_handler_error` documents.
#[derive(Debug, Clone)]
pub struct DeliveryError {
    pub handler_id: String,
    pub reason: String,
    pub resp_code: Option<u16>,
    pub resp_body: Option<String>,
    /// The URL contacted, credentials removed.
    pub req_url: Option<String>,
}

impl DeliveryError {
    pub(super) fn new(handler_id: &str, reason: impl Into<String>) -> Self {
        DeliveryError {
            handler_id: handler_id.into(),
            reason: reason.into(),
            resp_code: None,
            resp_body: None,
            req_url: None,
        }
    }
}

/// A URL safe to log or store: userinfo removed.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparsable url>".into(),
    }
}

async fn file_stream(spool: &Spool, job: &Job) -> Result<AttachmentStream, std::io::Error> {
    let file = tokio::fs::File::open(spool.audio_file(&job.id)).await?;
    let stream =
        tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).map_err(std::io::Error::other);
    Ok(Box::pin(stream))
}

/// Write the job's `call_recording` document unless it exists (the ingest request could not
/// reach CouchDB, or is a retry of a recording already written).
pub async fn ensure_document(state: &AppState, job: &Job) -> Result<(), crate::couch::CouchError> {
    let Some(doc) = &job.doc else {
        return Ok(());
    };
    let mut doc = doc.clone();
    let views = crate::couch::views::modb_docs();
    match state.couch.save_in(&job.db, views, &mut doc).await {
        Ok(()) | Err(crate::couch::CouchError::Conflict) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The file name at a URL destination. The first recording of a call to claim it gets
/// KAZOO's `call_recording_<call_id>.<ext>`; later ones (a recording stopped and restarted)
/// add their document id, so none overwrites another. The claim is a document in the MODB
/// whose id derives from the call id: CouchDB's conflict check makes it race-free.
pub async fn choose_remote_name(state: &AppState, job: &Job) -> Result<String, String> {
    use md5::Digest;
    let ext = job.attachment.rsplit('.').next().unwrap_or("mp3");
    let call_id = match job
        .doc
        .as_ref()
        .and_then(|d| d.get("call_id"))
        .and_then(Value::as_str)
    {
        Some(c) => c.to_string(),
        None => state
            .couch
            .get(&job.db, &job.doc_id)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|d| d.get("call_id").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| job.doc_id.clone()),
    };
    let claim_id = format!(
        "rec_ext_remote_name-{}",
        hex::encode(md5::Md5::digest(call_id.as_bytes()))
    );
    let mut claim = json!({"_id": claim_id, "call_id": call_id, "document_id": job.doc_id, "pvt_type": "rec_ext_remote_name"});
    let owner = match state.couch.save(&job.db, &mut claim).await {
        Ok(()) => job.doc_id.clone(),
        Err(crate::couch::CouchError::Conflict) => state
            .couch
            .get(&job.db, &claim_id)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|c| {
                c.get("document_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default(),
        Err(e) => return Err(e.to_string()),
    };
    Ok(if owner == job.doc_id {
        super::url::remote_name(&call_id, ext)
    } else {
        super::url::later_remote_name(&call_id, &job.doc_id, ext)
    })
}

/// Deliver one job; on success the recording document points at the audio.
pub async fn deliver(state: &AppState, spool: &Spool, job: &Job) -> Result<(), DeliveryError> {
    let kind = job
        .destination
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("couch");
    match kind {
        "pending" => Err(DeliveryError::new(
            "couchdb",
            "the storage plan has not been read yet",
        )),
        "url" => deliver_url(state, spool, job).await,
        "handler" => deliver_handler(state, spool, job).await,
        _ => deliver_couch(state, spool, job).await,
    }
}

async fn deliver_couch(state: &AppState, spool: &Spool, job: &Job) -> Result<(), DeliveryError> {
    let err = |r: String| DeliveryError::new("couchdb", r);
    for _ in 0..3 {
        let doc = state
            .couch
            .get(&job.db, &job.doc_id)
            .await
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| err("recording document missing".into()))?;
        let rev = doc
            .get("_rev")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body = file_stream(spool, job)
            .await
            .map_err(|e| err(e.to_string()))?;
        match state
            .couch
            .put_attachment(
                &job.db,
                &job.doc_id,
                &rev,
                &job.attachment,
                &job.content_type,
                body,
            )
            .await
        {
            Ok(_) => return Ok(()),
            // Someone updated the doc meanwhile: read the new revision and try again.
            Err(crate::couch::CouchError::Conflict) => continue,
            Err(e) => return Err(err(e.to_string())),
        }
    }
    Err(err("document kept changing while attaching".into()))
}

async fn deliver_url(state: &AppState, spool: &Spool, job: &Job) -> Result<(), DeliveryError> {
    let url = job
        .destination
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let method = job
        .destination
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("put")
        .to_lowercase();
    let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
    let doc = state
        .couch
        .get(&job.db, &job.doc_id)
        .await
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let mut e = DeliveryError::new("overridden", "");
    // The worker fixes the name before the first attempt; a job without one (spooled by
    // an older version) gets KAZOO's name.
    let name = match &job.remote_name {
        Some(n) => n.clone(),
        None => super::url::remote_name(
            doc.get("call_id")
                .and_then(Value::as_str)
                .unwrap_or(&job.doc_id),
            job.attachment.rsplit('.').next().unwrap_or("mp3"),
        ),
    };
    match scheme.as_str() {
        "http" | "https" => {
            let target = super::url::http_upload_url(
                &url,
                &crate::domain::json::public_fields(&doc),
                &job.account_id,
                &name,
            );
            e.req_url = Some(redact(&target));
            let body = file_stream(spool, job).await.map_err(|io| DeliveryError {
                reason: io.to_string(),
                ..e.clone()
            })?;
            let client = reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|x| DeliveryError {
                    reason: x.to_string(),
                    ..e.clone()
                })?;
            let rb = if method == "post" {
                client.post(&target)
            } else {
                client.put(&target)
            };
            let resp = rb
                .header("content-type", &job.content_type)
                .header("content-length", job.bytes)
                .body(reqwest::Body::wrap_stream(body))
                .timeout(std::time::Duration::from_secs(300 + job.bytes / 1_000_000))
                .send()
                .await
                .map_err(|x| DeliveryError {
                    reason: format!("request failed: {}", redact_err(&x)),
                    ..e.clone()
                })?;
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                let stub = json!({"url": redact(&target)});
                return record_stub(state, job, json!({"kazoo_rec": {"handler_id": "overridden", "kind": "http", "location": stub}}), false).await.map_err(|x| DeliveryError { reason: x, ..e.clone() });
            }
            let body = resp.text().await.unwrap_or_default();
            Err(DeliveryError {
                reason: format!("destination answered {status}"),
                resp_code: Some(status),
                resp_body: Some(body.chars().take(2000).collect()),
                ..e
            })
        }
        "ftp" | "ftps" => {
            let target = super::url::ftp_upload_url(&url, &name);
            e.req_url = Some(redact(&target));
            let file = tokio::fs::File::open(spool.audio_file(&job.id))
                .await
                .map_err(|io| DeliveryError {
                    reason: io.to_string(),
                    ..e.clone()
                })?;
            super::ftp::upload(&target, file, state.cfg.ftps_ca_file.as_deref())
                .await
                .map_err(|x| DeliveryError {
                    reason: x,
                    ..e.clone()
                })?;
            record_stub(state, job, json!({"kazoo_rec": {"handler_id": "overridden", "kind": scheme, "location": {"url": redact(&target)}}}), false).await.map_err(|x| DeliveryError { reason: x, ..e })
        }
        other => Err(DeliveryError {
            reason: format!("unsupported recording url scheme {other:?}"),
            ..e
        }),
    }
}

fn redact_err(e: &reqwest::Error) -> String {
    // reqwest errors carry the URL; strip it (credentials, query).
    e.without_url_ref().to_string()
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(u) => text.replace(u.as_str(), "<url>"),
            None => text,
        }
    }
}

async fn deliver_handler(state: &AppState, spool: &Spool, job: &Job) -> Result<(), DeliveryError> {
    let (handler_id, handler) = job_handler(state, job).await?;
    let doc = state
        .couch
        .get(&job.db, &job.doc_id)
        .await
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let ctx = handler_path(job, &doc)?;
    let body = file_stream(spool, job).await.map_err(|x| DeliveryError {
        reason: x.to_string(),
        ..DeliveryError::new(&handler_id, "")
    })?;
    let stored = handler
        .put(
            &ctx,
            ObjectMeta {
                content_type: job.content_type.clone(),
                length: Some(job.bytes),
            },
            body,
        )
        .await
        .map_err(|x| storage_failure(&handler_id, x))?;
    handler_stored(state, job, &handler_id, &handler, stored, false).await
}

/// The account's storage handler a `handler` job goes to, with its id.
pub(super) async fn job_handler(
    state: &AppState,
    job: &Job,
) -> Result<(String, Handler), DeliveryError> {
    let handler_id = job
        .destination
        .get("handler_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let e = DeliveryError::new(&handler_id, "");
    let storage = state
        .couch
        .get(SYSTEM_DATA_DB, &job.account_id)
        .await
        .map_err(|x| DeliveryError {
            reason: x.to_string(),
            ..e.clone()
        })?;
    let entry = storage
        .as_ref()
        .and_then(|s| s.pointer(&format!("/attachments/{handler_id}")))
        .ok_or_else(|| DeliveryError {
            reason: format!("storage handler {handler_id} is not configured for the account"),
            ..e.clone()
        })?;
    let handler = state.handler(entry).map_err(|x| DeliveryError {
        reason: x.to_string(),
        ..e.clone()
    })?;
    if let Handler::Other { kind } = &handler {
        // Never a silent drop: the job stays in the spool and the error is recorded.
        tracing::error!(handler = %kind, handler_id = %handler_id, "recording cannot be stored: this service cannot write to {kind} handlers");
        return Err(DeliveryError {
            reason: format!("storage handler type {kind} is not supported by this service"),
            ..e
        });
    }
    Ok((handler_id, handler))
}

/// Where the handler puts a job's audio (its path may name fields of the document).
pub(super) fn handler_path(job: &Job, doc: &Value) -> Result<PathContext, DeliveryError> {
    let account = AccountId::parse(&job.account_id).ok_or_else(|| {
        DeliveryError::new(
            job.destination
                .get("handler_id")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            "bad account id",
        )
    })?;
    let month = job.doc_id.split('-').next().unwrap_or_default();
    Ok(PathContext {
        account_id: job.account_id.clone(),
        db: format!("{}-{month}", account.encoded_db()),
        doc_id: job.doc_id.clone(),
        attachment: job.attachment.clone(),
        doc: crate::domain::json::public_fields(doc),
        folder_path: job
            .destination
            .get("folder_path")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// After the handler stored the audio: the checksum must be the one acknowledged, then the
/// document points at the object (`create`: the document may not exist yet and is written
/// from the job, already pointing at it).
pub(super) async fn handler_stored(
    state: &AppState,
    job: &Job,
    handler_id: &str,
    handler: &Handler,
    stored: crate::storage::Stored,
    create: bool,
) -> Result<(), DeliveryError> {
    let e = DeliveryError::new(handler_id, "");
    if stored.md5_hex != job.md5_hex {
        return Err(DeliveryError {
            reason: format!(
                "checksum mismatch: sent {} stored {}",
                job.md5_hex, stored.md5_hex
            ),
            ..e
        });
    }
    let stub = json!({"kazoo_rec": {"handler_id": handler_id, "kind": handler.kind(), "location": stored.location}, "metadata": {"etag": stored.etag}});
    record_stub(state, job, stub, create)
        .await
        .map_err(|x| DeliveryError { reason: x, ..e })
}

pub(super) fn storage_failure(handler_id: &str, e: StorageError) -> DeliveryError {
    match e {
        StorageError::Backend {
            code,
            message,
            body,
        } => DeliveryError {
            handler_id: handler_id.into(),
            reason: message,
            resp_code: code,
            resp_body: body,
            req_url: None,
        },
        other => DeliveryError::new(handler_id, other.to_string()),
    }
}

/// Point the recording document at the external object (`pvt_attachments` stub, as KAZOO's
/// `external_attachment/5` does), retrying on revision conflicts. When `create` (early
/// delivery, before anything was acknowledged) the document is written from the job, with
/// the stub, in one go; otherwise a missing document was deleted and stays so.
async fn record_stub(
    state: &AppState,
    job: &Job,
    handler: Value,
    create: bool,
) -> Result<(), String> {
    let stub = json!({"content_type": job.content_type, "length": job.bytes, "stub": false, "handler": handler});
    if let (true, Some(doc)) = (create, &job.doc) {
        let mut doc = doc.clone();
        doc["pvt_attachments"][&job.attachment] = stub.clone();
        let views = crate::couch::views::modb_docs();
        match state.couch.save_in(&job.db, views, &mut doc).await {
            Ok(()) => return Ok(()),
            Err(crate::couch::CouchError::Conflict) => {} // written meanwhile: update it
            Err(e) => return Err(e.to_string()),
        }
    }
    for _ in 0..5 {
        let found = state
            .couch
            .get(&job.db, &job.doc_id)
            .await
            .map_err(|e| e.to_string())?;
        let Some(mut doc) = found else {
            return Err("recording document missing".into());
        };
        doc["pvt_attachments"][&job.attachment] = stub.clone();
        match state.couch.save(&job.db, &mut doc).await {
            Ok(()) => return Ok(()),
            Err(crate::couch::CouchError::Conflict) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("document kept changing while recording the stub".into())
}
