//! The delivery worker: takes due jobs from the spool, delivers them, removes them once
//! delivered; on failure records KAZOO's `attachment_handler_error` document in the MODB
//! and retries later with backoff. It never gives up silently.

use super::deliver::{deliver, DeliveryError};
use super::spool::Job;
use crate::domain::time;
use crate::state::AppState;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Run forever (spawned at start-up); `tick` is the polling interval.
pub async fn run(state: Arc<AppState>, tick: Duration) {
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::error!(error = %e, "spool scan failed");
        }
        tokio::time::sleep(tick).await;
    }
}

/// One pass over the spool; returns how many jobs were delivered.
pub async fn deliver_due(state: &AppState) -> std::io::Result<usize> {
    let spool = &state.spool;
    let now = time::now_unix();
    let mut delivered = 0;
    for mut job in spool.pending().await? {
        if job.not_before > now {
            continue;
        }
        match deliver(state, spool, &job).await {
            Ok(()) => {
                spool.done(&job.id).await?;
                delivered += 1;
                tracing::info!(recording = %job.doc_id, account = %job.account_id, bytes = job.bytes, "recording delivered");
            }
            Err(e) => {
                tracing::warn!(recording = %job.doc_id, handler = %e.handler_id, reason = %e.reason, attempt = job.attempts + 1, "recording delivery failed, will retry");
                record_error(state, &job, &e).await;
                spool.retry_later(&mut job, e.reason.clone(), now).await?;
            }
        }
    }
    Ok(delivered)
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
    let _ = state.couch.create_db(&db).await;
    let _ = state
        .couch
        .ensure_design_docs(&db, &crate::couch::views::modb_docs())
        .await;
    if let Err(err) = state.couch.save(&db, &mut doc).await {
        tracing::error!(error = %err, "could not record the delivery failure");
    }
}
