//! `GET /v2/accounts/{A}/att_handlers_errors[/{id}]` (KAZOO's module): the recorded failures
//! of storage deliveries, from the monthly databases over `created_from`/`created_to`.

use super::envelope::{Paging, Reply};
use super::error::{ApiError, ApiResult};
use super::listing;
use super::recordings::{months_between, time_range};
use super::request::Ctx;
use crate::domain::json::public_fields;
use crate::domain::paging::filters_from_query;
use crate::domain::time;
use serde_json::{json, Value};

pub async fn list_errors(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let params = listing::page_params(&ctx)?;
    let (from, to) = time_range(&ctx.query, time::now_gregorian())?;
    let filters = filters_from_query(&ctx.query, true);
    let mut months = months_between(from, to);
    if params.descending {
        months.reverse();
    }
    let (items, next) = listing::load_months(
        &ctx,
        &account,
        &months,
        ("att_handlers_errors", "crossbar_listing"),
        (json!(from), json!(to)),
        &params,
        &filters,
        &listing::row_value,
        false,
    )
    .await?;
    let paging = params.page_size.map(|_| Paging {
        page_size: items.len(),
        start_key: params.start_key.clone(),
        next_start_key: next,
    });
    Ok(Reply::list(items, paging))
}

pub async fn get_error(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let account = ctx.account()?.id.clone();
    let bad = || ApiError::response_bad_identifier(&id);
    let (y, m) = (
        id.get(..4).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
        id.get(4..6).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
    );
    if !crate::domain::ids::is_acceptable_doc_id(&id) {
        return Err(bad());
    }
    let doc = ctx
        .state
        .couch
        .get(&account.modb(y, m), &id)
        .await?
        .filter(|d| d.get("pvt_type").and_then(Value::as_str) == Some("attachment_handler_error"))
        .ok_or_else(|| ApiError::bad_identifier(&id))?;
    Ok(Reply::doc(public_fields(&doc), super::docs::rev(&doc)))
}
