//! The ingest endpoint (our extension, KAZOO's media manager / store proxy role):
//! `PUT /rec_ext/ingest/{account_id}` with the recording-stop metadata as JSON in the
//! `X-Recording-Metadata` header (or a `metadata` query parameter) and the audio as the body,
//! streamed. Access as KAZOO's store proxy: HTTP basic credentials from configuration, or a
//! client address in the allowed list.
//!
//! The answer is 201 only once the audio and its job (which carries the `call_recording`
//! document) are durable, fsynced in the spool. The document is written at once when CouchDB
//! answers, else by the delivery worker; delivery to the destination follows in the
//! background with retries. A request cut mid-upload leaves neither document nor job.

use super::spool::Job;
use crate::api::error::ApiError;
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::TryStreamExt;
use serde_json::{json, Value};
use std::net::IpAddr;

fn in_cidr(addr: IpAddr, cidr: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.trim().parse::<IpAddr>() else {
        return false;
    };
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

pub(crate) fn authorized(state: &AppState, req: &HttpRequest) -> bool {
    if let (Some(user), Some(pass)) = (&state.cfg.ingest_user, &state.cfg.ingest_password) {
        let expected = {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )
        };
        if req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(expected.as_str())
        {
            return true;
        }
    }
    req.peer_addr()
        .is_some_and(|p| state.cfg.ingest_acl.iter().any(|c| in_cidr(p.ip(), c)))
}

/// The success envelope of the media-server endpoints.
pub(crate) fn success(status: u16, data: Value, request_id: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    )
    .insert_header(("content-type", "application/json"))
    .body(json!({"status": "success", "data": data, "request_id": request_id}).to_string())
}

pub(crate) fn error(err: ApiError, request_id: &str) -> HttpResponse {
    let (message, data) = err.message_and_data();
    let body = json!({"status": "error", "error": err.code().to_string(), "message": message, "data": data, "request_id": request_id});
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(err.code())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .insert_header(("content-type", "application/json"))
    .body(body.to_string())
}

fn metadata(req: &HttpRequest) -> Result<Value, ApiError> {
    let raw = req
        .headers()
        .get("x-recording-metadata")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .find(|(k, _)| k == "metadata")
                .map(|(_, v)| v.into_owned())
        });
    let raw = raw.ok_or_else(|| {
        ApiError::validation(
            "metadata",
            "required",
            json!({"message": "Field is required but missing"}),
        )
    })?;
    let v: Value = serde_json::from_str(&raw).map_err(|e| {
        ApiError::validation(
            "metadata",
            "invalid",
            json!({"message": format!("metadata is not JSON: {e}")}),
        )
    })?;
    if !v.is_object() {
        return Err(ApiError::validation(
            "metadata",
            "type",
            json!({"message": "Value did not match type(s): object"}),
        ));
    }
    if v.get("call_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::validation(
            "call_id",
            "required",
            json!({"message": "Field is required but missing"}),
        ));
    }
    Ok(v)
}

/// Where the audio goes: the settings' `url`, else the storage plan's call_recording
/// handler, else a CouchDB attachment.
async fn destination(
    state: &AppState,
    account: &AccountId,
    meta: &Value,
) -> Result<Value, ApiError> {
    if let Some(url) = meta
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty())
    {
        let method = meta.get("method").and_then(Value::as_str).unwrap_or("put");
        return Ok(json!({"kind": "url", "url": url, "method": method}));
    }
    match storage_destination(state, account.as_str()).await {
        Ok(d) => Ok(d),
        // CouchDB unreachable: the recording is still taken into the spool; the worker
        // reads the storage plan once CouchDB answers again
        Err(crate::couch::CouchError::Unreachable(_)) => Ok(json!({"kind": "pending"})),
        Err(e) => Err(e.into()),
    }
}

/// Where the account's storage plan sends call recordings: its handler, else CouchDB.
pub(crate) async fn storage_destination(
    state: &AppState,
    account: &str,
) -> Result<Value, crate::couch::CouchError> {
    if let Some(storage) = state
        .couch
        .get(crate::couch::SYSTEM_DATA_DB, account)
        .await?
    {
        let t = storage.pointer("/plan/modb/types/call_recording/attachments");
        let handler = t
            .and_then(|a| a.get("handler"))
            .or_else(|| storage.pointer("/plan/modb/attachments/handler"))
            .and_then(Value::as_str);
        if let Some(h) = handler {
            let folder = t
                .and_then(|a| a.pointer("/params/folder_path"))
                .or_else(|| storage.pointer("/plan/modb/attachments/params/folder_path"))
                .cloned();
            return Ok(json!({"kind": "handler", "handler_id": h, "folder_path": folder}));
        }
    }
    Ok(json!({"kind": "couch"}))
}

fn content_type_for(ext: &str) -> &'static str {
    match ext {
        "wav" => "audio/x-wav",
        "mp4" => "video/mp4",
        _ => "audio/mpeg",
    }
}

/// `PUT /rec_ext/ingest/{account_id}`.
pub async fn ingest(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = crate::domain::ids::new_id();
    if !authorized(&state, &req) {
        return error(ApiError::invalid_credentials(), &request_id);
    }
    match ingest_inner(&req, &path, payload, &state).await {
        Ok(data) => success(201, data, &request_id),
        Err(e) => error(e, &request_id),
    }
}

async fn ingest_inner(
    req: &HttpRequest,
    raw_account: &str,
    payload: web::Payload,
    state: &web::Data<AppState>,
) -> Result<Value, ApiError> {
    let account =
        AccountId::parse(raw_account).ok_or_else(|| ApiError::bad_identifier(raw_account))?;
    state
        .account(&account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(raw_account))?;
    let meta = metadata(req)?;
    let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let duration_ms = meta.get("duration_ms").and_then(Value::as_u64).unwrap_or(0);
    // `record_min_sec`: a shorter recording is discarded, as KAZOO (FreeSWITCH) does.
    if let Some(min) = meta.get("record_min_sec").and_then(Value::as_u64) {
        if duration_ms < min * 1000 {
            return Ok(
                json!({"stored": false, "reason": format!("shorter than record_min_sec ({min} s)")}),
            );
        }
    }
    let format = match s("format").as_deref() {
        Some("wav") => "wav",
        Some("mp4") => "mp4",
        _ => "mp3",
    };
    let now_g = time::now_gregorian();
    let start = meta
        .get("start")
        .and_then(Value::as_i64)
        .unwrap_or(now_g - (duration_ms / 1000) as i64);
    let (y, m) = time::year_month(time::gregorian_to_unix(start));
    // A media server may name the recording (KAZOO's Media-Recording-ID) so a retried upload
    // is the same recording; otherwise each upload, restarts included, is a new recording.
    let doc_id = match s("recording_id") {
        Some(id)
            if id.len() > 7
                && id.as_bytes()[6] == b'-'
                && id[..6].bytes().all(|b| b.is_ascii_digit())
                && (1..=12).contains(&id[4..6].parse::<u32>().unwrap_or(0))
                && crate::domain::ids::is_acceptable_doc_id(&id) =>
        {
            id
        }
        Some(id) => {
            return Err(ApiError::validation(
                "recording_id",
                "invalid",
                json!({"message": "must look like YYYYMM-<hex>", "cause": id}),
            ))
        }
        None => format!("{y:04}{m:02}-{}", crate::domain::ids::new_id()),
    };
    let (dy, dm) = (
        doc_id[..4].parse::<i32>().unwrap_or(y),
        doc_id[4..6].parse::<u32>().unwrap_or(m),
    );
    let db = account.modb(dy, dm);
    let media_name = s("media_name")
        .filter(|n| crate::domain::ids::is_acceptable_doc_id(n))
        .unwrap_or_else(|| format!("{}.{format}", crate::domain::ids::new_id()));
    let call_id = s("call_id").unwrap_or_default();

    // 2. the call_recording document, with KAZOO's fields
    let mut doc = json!({
        "_id": doc_id,
        "name": media_name,
        "description": format!("recording {media_name}"),
        "content_type": content_type_for(format),
        "media_type": format,
        "media_source": "recorded",
        "source_type": "kazoo_rec",
        "from": s("from"), "to": s("to"), "request": s("request"),
        "direction": s("direction"),
        "start": start,
        "duration": duration_ms / 1000,
        "duration_ms": duration_ms,
        "caller_id_name": s("caller_id_name"), "caller_id_number": s("caller_id_number"),
        "callee_id_name": s("callee_id_name"), "callee_id_number": s("callee_id_number"),
        "call_id": call_id,
        "cdr_id": s("cdr_id").unwrap_or_else(|| format!("{dy:04}{dm:02}-{call_id}")),
        "interaction_id": s("interaction_id"),
        "owner_id": s("owner_id"),
        "endpoint_id": s("endpoint_id"),
        "url": s("url"),
        "origin": s("origin").unwrap_or_else(|| "no origin".into()),
        "custom_channel_vars": meta.get("custom_channel_vars").cloned().unwrap_or_else(|| json!({})),
        "pvt_type": "call_recording",
        "pvt_account_id": account.as_str(),
        "pvt_account_db": format!("{}-{dy:04}{dm:02}", account.encoded_db()),
        "pvt_created": now_g,
        "pvt_modified": now_g,
        "pvt_vsn": "1",
        "pvt_node": format!("kazoo_rec@{}", state.node),
    });
    if let Some(o) = doc.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }

    // 3. where it goes; a storage handler gets the audio while it streams in (tee.rs)
    let dest = destination(state, &account, &meta).await?;
    let job_id = format!("{}-{}", doc_id, crate::domain::ids::rand_hex(4));
    let mut job = Job {
        id: job_id,
        account_id: account.to_string(),
        db: db.clone(),
        doc_id: doc_id.clone(),
        attachment: media_name.clone(),
        content_type: content_type_for(format).into(),
        bytes: 0,
        md5_hex: String::new(),
        destination: dest.clone(),
        attempts: 0,
        not_before: 0,
        last_error: None,
        created: time::now_unix(),
        doc: Some(doc),
        remote_name: None,
    };
    let length = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut tee = super::tee::start(state.clone().into_inner(), &job, length).await;

    // 4. the audio into the spool (fsynced unless a tee delivers it, see tee.rs)
    let stream = payload.map_err(|e| std::io::Error::other(e.to_string()));
    let (bytes, md5_hex) = state
        .spool
        .write_audio_tee(
            &job.id,
            Box::pin(stream),
            state.cfg.max_recording_bytes,
            tee.as_mut().map(|(sender, _)| sender),
        )
        .await
        .map_err(|e| ApiError::validation("file", "invalid", json!({"message": e.to_string()})))?;
    job.bytes = bytes;
    let mut delivered = false;
    let mut committed = None;
    if let Some((sender, handle)) = tee {
        drop(sender);
        match handle.settle(job.clone(), super::tee::SETTLE).await {
            super::tee::Settled::Delivered(md5) => {
                job.md5_hex = md5;
                delivered = true;
            }
            super::tee::Settled::Spool(c) => committed = Some(c),
        }
    }

    if delivered {
        // durable at its destination, document written: the spool copy goes unread. Removing
        // it is no part of the answer (freeing a large file's blocks, or its pages where it
        // went through the page cache, takes a while); a crash first leaves an orphan the
        // next start sweeps.
        let state = state.clone().into_inner();
        let id = job.id.clone();
        tokio::spawn(async move {
            let _ = state.spool.done(&id).await;
        });
    } else {
        // 5. the delivery job, carrying the document: from here on the recording cannot be
        // lost, and the document cannot be left without its audio job.
        let spooled = async {
            job.md5_hex = match md5_hex {
                Some(md5) => md5,
                None => state.spool.seal_audio(&job.id).await?,
            };
            state.spool.commit(&job).await
        };
        spooled.await.map_err(|e| {
            tracing::error!(error = %e, "spool commit failed");
            ApiError::unspecified_fault()
        })?;
        if let Some(c) = committed {
            c.committed();
        }
        // 6. the document now, so the recording is listed at once; if CouchDB is
        // unavailable the worker writes it before delivering the audio.
        if let Err(e) = super::deliver::ensure_document(state, &job).await {
            tracing::warn!(recording = %doc_id, error = %e, "recording document not written yet; the delivery worker will write it");
        }
    }
    let mut shown = dest;
    if let Some(u) = shown
        .get("url")
        .and_then(Value::as_str)
        .map(super::deliver::redact)
    {
        shown["url"] = json!(u);
    }
    Ok(
        json!({"stored": true, "delivered": delivered, "id": doc_id, "bytes": bytes, "md5": job.md5_hex, "destination": shown, "name": media_name}),
    )
}

/// `GET /rec_ext/spool`: queue depth, oldest pending and failures, for monitoring.
pub async fn spool_metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !authorized(&state, &req) {
        return error(ApiError::invalid_credentials(), "");
    }
    let pending = state.spool.pending().await.unwrap_or_default();
    let now = time::now_unix();
    let oldest = pending.iter().map(|j| now - j.created).max().unwrap_or(0);
    let mut by_handler = serde_json::Map::new();
    for j in pending.iter().filter(|j| j.attempts > 0) {
        let key = j
            .destination
            .get("handler_id")
            .and_then(Value::as_str)
            .or_else(|| j.destination.get("kind").and_then(Value::as_str))
            .unwrap_or("couch")
            .to_string();
        let n = by_handler.get(&key).and_then(Value::as_u64).unwrap_or(0) + 1;
        by_handler.insert(key, json!(n));
    }
    HttpResponse::Ok()
        .insert_header(("content-type", "application/json"))
        .body(json!({"status": "success", "data": {"pending": pending.len(), "oldest_pending_s": oldest, "failing_by_handler": by_handler}}).to_string())
}

/// `POST /rec_ext/decide/{account_id}` for a media server (store-proxy credentials, as
/// ingest): the recordings to start for a call described like the explain endpoint's body
/// (`{"data": {caller_device_id, callee_device_ids, from_network, to_network, …}}`), with the
/// account's on-demand (metaflows) code.
pub async fn decide(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = crate::domain::ids::new_id();
    if !authorized(&state, &req) {
        return error(ApiError::invalid_credentials(), &request_id);
    }
    let result = async {
        let account = AccountId::parse(&path).ok_or_else(|| ApiError::bad_identifier(&path))?;
        let info = state
            .account(&account)
            .await?
            .ok_or_else(|| ApiError::bad_identifier(&path))?;
        let (_, data) = crate::api::request::decode_body(&body)?;
        let lookup = crate::api::recording_decision::Lookup {
            state: &state,
            account: &info,
            data: &data,
        };
        let leg = crate::api::recording_decision::call_leg(&lookup).await?;
        serde_json::to_value(crate::recording_policy::decide(&leg))
            .map_err(|e| ApiError::from(anyhow::anyhow!(e)))
    }
    .await;
    match result {
        Ok(data) => success(200, data, &request_id),
        Err(e) => error(e, &request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let a: IpAddr = "127.0.0.5".parse().unwrap();
        assert!(in_cidr(a, "127.0.0.0/8"));
        assert!(!in_cidr(a, "10.0.0.0/8"));
        assert!(in_cidr("::1".parse().unwrap(), "::1/128"));
        assert!(!in_cidr(a, "garbage"));
        assert!(in_cidr(a, "127.0.0.5"));
    }
}
