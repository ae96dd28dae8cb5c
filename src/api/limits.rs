//! `GET /v2/accounts/{A}/limits` (`cb_limits.erl`) and `GET /v2/accounts/{A}/ledgers/total`
//! (`cb_ledgers.erl`): what Monster UI's My Account badges read. Limits come from the
//! account's `limits` document, or the schema defaults when there is none; the ledger total
//! is the sum of this month's ledgers (no side-effect writes, unlike KAZOO's rollover).

use super::envelope::Reply;
use super::error::ApiResult;
use super::request::Ctx;
use crate::couch::ViewOpts;
use crate::domain::json::public_fields;
use serde_json::{json, Value};

pub async fn get_limits(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let stored = ctx
        .state
        .couch
        .get(&account.db(), "limits")
        .await?
        .filter(|d| d.get("pvt_type").and_then(Value::as_str) == Some("limits"))
        .filter(|d| {
            !d.get("pvt_deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        });
    let Some(doc) = stored else {
        // No document: the schema's defaults (`maybe_handle_load_failure/2`).
        let mut defaults = json!({});
        let _ = ctx.state.schemas.validate("limits", &mut defaults);
        defaults["id"] = json!("limits");
        return Ok(Reply::ok(defaults));
    };
    let mut out = public_fields(&doc);
    out["id"] = json!("limits");
    out["allow_postpay"] = json!(doc
        .get("pvt_allow_postpay")
        .and_then(Value::as_bool)
        .unwrap_or(false));
    out["max_postpay_amount"] = json!(doc
        .get("pvt_max_postpay_amount")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .abs());
    Ok(Reply::doc(out, super::docs::rev(&doc)))
}

/// Dollars from KAZOO's currency units (1 dollar = 10,000 units).
fn units_to_dollars(units: f64) -> f64 {
    units / 10_000.0
}

pub async fn ledgers_total(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let (y, m) = crate::domain::time::year_month(crate::domain::time::now_unix());
    let db = account.modb(y, m);
    let mut units = 0.0;
    if ctx.state.couch.db_exists(&db).await? {
        let opts = ViewOpts {
            reduce: Some(true),
            ..Default::default()
        };
        match ctx
            .state
            .couch
            .view(&db, "ledgers", "total_by_source", &opts)
            .await
        {
            Ok(rows) => {
                units = rows.iter().filter_map(|r| r.value.as_f64()).sum();
            }
            // A month database KAZOO did not give ledger views has no ledgers.
            Err(crate::couch::CouchError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Reply::ok(json!({"amount": units_to_dollars(units)})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn units() {
        assert_eq!(super::units_to_dollars(12_345.0), 1.2345);
    }
}
