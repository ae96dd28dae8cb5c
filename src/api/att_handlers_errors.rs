//! `GET /v2/accounts/{A}/att_handlers_errors[/{id}]` (KAZOO's module): the recorded failures
//! of storage deliveries, from the monthly databases over `created_from`/`created_to`.

use super::envelope::{Paging, Reply};
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::recordings::{months_between, time_range};
use super::request::Ctx;
use crate::domain::json::public_fields;
use crate::domain::paging::{filters_from_query, PageParams};
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
    let (mut items, mut next) = (vec![], None);
    for (i, (y, m)) in months.iter().enumerate() {
        let db = account.modb(*y, *m);
        let want = params.page_size.map(|p| p.saturating_sub(items.len()));
        let p = PageParams {
            page_size: want,
            descending: params.descending,
            start_key: if i == 0 {
                params.start_key.clone()
            } else {
                None
            },
            end_key: None,
        };
        let q = ViewQuery {
            db: &db,
            design: "att_handlers_errors",
            view: "crossbar_listing",
            start: Some(json!(from)),
            end: Some(json!(to)),
            map: &listing::row_value,
        };
        let (mut got, more) = match listing::load_items(&ctx, &q, &p, &filters).await {
            Ok(r) => r,
            Err(ApiError::System {
                error: "datastore_missing",
                ..
            }) => (vec![], None),
            Err(e) => return Err(e),
        };
        items.append(&mut got);
        if more.is_some() {
            next = more;
            break;
        }
    }
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
