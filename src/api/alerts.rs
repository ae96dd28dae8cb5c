//! `GET /v2/accounts/{A}/alerts` (`cb_alerts.erl`): computed on each request. Without
//! service plans or port requests (this service has neither), what is left is KAZOO's
//! system alerts in the `alerts` database, addressed to everyone, to the account, or to
//! the calling user; an empty list when there are none (Monster UI asks on every app open).

use super::envelope::{Paging, Reply};
use super::error::ApiResult;
use super::request::Ctx;
use crate::couch::ViewOpts;
use serde_json::json;

const ALERTS_DB: &str = "alerts";

pub async fn list_alerts(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.to_string();
    let mut keys = vec![
        json!(["all", "all"]),
        json!(["all", "users"]),
        json!([account, "all"]),
        json!([account, "users"]),
    ];
    if let Some(owner) = ctx.auth()?.owner_id() {
        keys.push(json!([account, owner]));
    }
    let mut items = vec![];
    if ctx.state.couch.db_exists(ALERTS_DB).await.unwrap_or(false) {
        let opts = ViewOpts {
            keys,
            ..Default::default()
        };
        // A missing view or an unreadable database is no alert, as in KAZOO.
        if let Ok(rows) = ctx
            .state
            .couch
            .view(ALERTS_DB, "alerts", "available", &opts)
            .await
        {
            for r in rows {
                items.push(json!({"id": r.id, "key": r.key, "value": r.value, "clearable": true}));
            }
        }
    }
    let n = items.len();
    Ok(Reply::list(
        items,
        Some(Paging {
            page_size: n,
            ..Default::default()
        }),
    ))
}
