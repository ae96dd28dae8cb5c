//! The delivery worker: takes due jobs from the spool, delivers them (several at once),
//! removes them once delivered; on failure records KAZOO's `attachment_handler_error` document in the MODB
//! and retries later with backoff. It never gives up silently.

use super::deliver::{choose_remote_name, deliver, ensure_document, DeliveryError};
use super::spool::Job;
use crate::domain::time;
use crate::state::AppState;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How many deliveries run at once: one slow or hanging destination must not hold up the
/// others (a delivery may legitimately take minutes for a large recording).
const MAX_IN_FLIGHT: usize = 16;

/// Run forever (spawned at start-up); `tick` is the polling interval.
pub async fn run(state: Arc<AppState>, tick: Duration) {
    loop {
        if let Err(e) = start_due(&state).await {
            tracing::error!(error = %e, "spool scan failed");
        }
        tokio::time::sleep(tick).await;
    }
}

/// Start a delivery task for every due job not already being delivered, up to the limit.
async fn start_due(state: &Arc<AppState>) -> std::io::Result<()> {
    let now = time::now_unix();
    for job in state.spool.pending().await? {
        if job.not_before > now {
            continue;
        }
        if !state.spool.claim(&job.id, MAX_IN_FLIGHT) {
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let id = job.id.clone();
            if let Err(e) = attempt(&state, job).await {
                tracing::error!(job = %id, error = %e, "spool update failed");
            }
            state.spool.release(&id);
        });
    }
    Ok(())
}

/// One delivery attempt: delivered → removed from the spool; failed → error recorded and
/// the job rescheduled with backoff.
async fn attempt(state: &AppState, mut job: Job) -> std::io::Result<()> {
    let spool = &state.spool;
    let now = time::now_unix();
    match prepare(state, &mut job).await {
        Ok(Ready::Deliver) => {}
        Ok(Ready::Drop(why)) => {
            tracing::warn!(recording = %job.doc_id, account = %job.account_id, "{why}: its audio is not delivered and leaves the spool");
            return spool.done(&job.id).await;
        }
        Err(e) => {
            tracing::warn!(recording = %job.doc_id, error = %e, "recording not ready for delivery, will retry");
            return spool.retry_later(&mut job, e, now).await;
        }
    }
    match deliver(state, spool, &job).await {
        Ok(()) => {
            spool.done(&job.id).await?;
            tracing::info!(recording = %job.doc_id, account = %job.account_id, bytes = job.bytes, "recording delivered");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(recording = %job.doc_id, handler = %e.handler_id, reason = %e.reason, attempt = job.attempts + 1, "recording delivery failed, will retry");
            record_error(state, &job, &e).await;
            spool
                .retry_later(&mut job, e.reason.clone(), time::now_unix())
                .await
        }
    }
}

/// What the worker does with a job.
enum Ready {
    Deliver,
    /// Nobody wants the audio any more (the account or the recording was deleted); the
    /// reason is logged.
    Drop(&'static str),
}

/// Before each attempt: the account and the recording still exist (a recording deleted
/// while its audio waits is not brought back), the document is written, and a URL
/// destination's remote name is fixed and persisted with the job, so retries and restarts
/// write the same object.
async fn prepare(state: &AppState, job: &mut Job) -> Result<Ready, String> {
    let Some(account) = crate::domain::ids::AccountId::parse(&job.account_id) else {
        return Ok(Ready::Drop("recording of an invalid account id"));
    };
    match state.account(&account).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Ready::Drop("recording of a deleted account")),
        Err(e) => return Err(format!("account not readable: {}", e.message_and_data().0)),
    }
    let written = state
        .couch
        .get(&job.db, &job.doc_id)
        .await
        .map_err(|e| format!("recording document not readable: {e}"))?
        .is_some();
    if !written {
        if state
            .couch
            .doc_deleted(&job.db, &job.doc_id)
            .await
            .map_err(|e| format!("recording document not readable: {e}"))?
        {
            return Ok(Ready::Drop(
                "recording deleted before its audio was delivered",
            ));
        }
        match ensure_document(state, job).await {
            Ok(()) => {}
            // the month's database went away under the write: was it the account's deletion
            // (`Couch::save_in` removed what the write re-created)?
            Err(crate::couch::CouchError::NotFound)
                if !state.couch.db_exists(&account.db()).await.unwrap_or(true) =>
            {
                return Ok(Ready::Drop("recording of a deleted account"));
            }
            Err(e) => return Err(format!("recording document not written: {e}")),
        }
    }
    // taken in while CouchDB was unreachable: the storage plan decides now
    if job.destination.get("kind").and_then(|k| k.as_str()) == Some("pending") {
        job.destination = super::http::storage_destination(state, &job.account_id)
            .await
            .map_err(|e| format!("storage plan not readable: {e}"))?;
        state.spool.commit(job).await.map_err(|e| e.to_string())?;
    }
    let is_url = job.destination.get("kind").and_then(|k| k.as_str()) == Some("url");
    if is_url && job.remote_name.is_none() {
        job.remote_name = Some(choose_remote_name(state, job).await?);
        state.spool.commit(job).await.map_err(|e| e.to_string())?;
    }
    Ok(Ready::Deliver)
}

/// `kzs_attachments:save_attachment_handler_error`: one document per failure in the MODB
/// (without the handler's credentials, which KAZOO does store).
async fn record_error(state: &AppState, job: &Job, e: &DeliveryError) {
    let (y, m) = time::year_month(time::now_unix());
    let Some(account) = crate::domain::ids::AccountId::parse(&job.account_id) else {
        return;
    };
    let db = account.modb(y, m);
    let mut doc = json!({
        "_id": format!("{y:04}{m:02}-{}", crate::domain::ids::new_id()),
        "reason": e.reason,
        "handler_id": e.handler_id,
        "req_url": e.req_url,
        "resp_code": e.resp_code,
        "resp_body": e.resp_body,
        "db_name": job.db,
        "document_id": job.doc_id,
        "attachment_name": job.attachment,
        "attempt": job.attempts + 1,
        "pvt_type": "attachment_handler_error",
        "pvt_account_id": job.account_id,
        "pvt_account_db": format!("{}-{y:04}{m:02}", account.encoded_db()),
        "pvt_created": time::now_gregorian(),
        "pvt_modified": time::now_gregorian(),
        "pvt_vsn": "1",
    });
    if let Some(o) = doc.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    // An account deleted meanwhile gets no new database (the next attempt drops the job).
    if !state.couch.db_exists(&account.db()).await.unwrap_or(false) {
        return;
    }
    let views = crate::couch::views::modb_docs();
    let saved = match state.couch.save_in(&db, views, &mut doc).await {
        // views that could not be set up do not stop the failure being recorded (a database
        // that went away under the write, NotFound, is not written into again)
        Err(e)
            if !matches!(
                e,
                crate::couch::CouchError::Conflict | crate::couch::CouchError::NotFound
            ) =>
        {
            tracing::warn!(db = %db, error = %e, "could not set up the month's database");
            state.couch.save(&db, &mut doc).await
        }
        other => other,
    };
    if let Err(err) = saved {
        tracing::error!(error = %err, "could not record the delivery failure");
    }
}
