//! `PUT /rec_ext/cdr/{account_id}` (our extension, KAZOO's cdr application role): a media
//! server hands over a leg's CHANNEL_DESTROY event as JSON (KAZOO's `Call-ID` style keys or
//! normalised ones, optionally wrapped in `{"data": …}`); it is stored as the cdr app
//! stores it (see [`crate::cdr`]), in the interaction month's database. The first write of
//! a CDR wins, so a media server may retry freely. Access as for ingest.

use super::http::{authorized, error, success};
use crate::api::error::ApiError;
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub async fn store_cdr(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = crate::domain::ids::new_id();
    if !authorized(&state, &req) {
        return error(ApiError::invalid_credentials(), &request_id);
    }
    match store(&state, &path, &body).await {
        Ok((status, data)) => success(status, data, &request_id),
        Err(e) => error(e, &request_id),
    }
}

async fn store(state: &AppState, raw_account: &str, body: &[u8]) -> Result<(u16, Value), ApiError> {
    let account =
        AccountId::parse(raw_account).ok_or_else(|| ApiError::bad_identifier(raw_account))?;
    state
        .account(&account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(raw_account))?;
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid_json("All JSON must be valid"))?;
    let event = match parsed.get("data") {
        Some(d) if d.is_object() => d.clone(),
        _ => parsed,
    };
    let interaction = format!(
        "{}-{}",
        time::now_gregorian(),
        crate::domain::ids::rand_hex(4)
    );
    let mut doc = crate::cdr::doc_from_event(&account, &event, time::now_gregorian(), interaction)
        .map_err(|missing| {
            ApiError::validation(
                missing,
                "required",
                json!({"message": "Field is required but missing"}),
            )
        })?;
    let id = doc["_id"].as_str().unwrap_or_default().to_string();
    if !crate::domain::ids::is_acceptable_doc_id(&id) {
        return Err(ApiError::validation(
            "call_id",
            "invalid",
            json!({"message": "call_id cannot be used in a document id"}),
        ));
    }
    let db = doc["pvt_account_db"]
        .as_str()
        .and_then(|_| {
            let month = id.get(..6)?;
            Some(account.modb(month[..4].parse().ok()?, month[4..].parse().ok()?))
        })
        .ok_or_else(ApiError::unspecified_fault)?;
    let views = crate::couch::views::modb_docs();
    match state.couch.save_in(&db, views, &mut doc).await {
        Ok(()) => Ok((201, json!({"id": id, "stored": true}))),
        // The first write wins (`cdr_channel_destroy:save_cdr` treats a conflict as done).
        Err(crate::couch::CouchError::Conflict) => Ok((200, json!({"id": id, "stored": false}))),
        Err(e) => Err(e.into()),
    }
}
