//! Our extension (KAZOO has no retention policy), under the `rec_ext` noun:
//! `GET|POST /v2/accounts/{A}/rec_ext/retention` (the policy `{couch_days, storage_days}`,
//! days or null), `POST …/rec_ext/retention/run[?dry_run=true]` (apply now, answer the
//! report) and `GET …/rec_ext/retention/audits` (the reports of past runs). Admins only.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::{ViewOpts, SYSTEM_DATA_DB};
use crate::retention::{self, Policy, AUDIT_PREFIX, SETTINGS_PREFIX};
use serde_json::{json, Value};

pub async fn get_policy(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.id.clone();
    let policy = retention::load_policy(&ctx.state.couch, &account)
        .await
        .map_err(ApiError::from)?;
    Ok(Reply::ok(json!(policy)))
}

fn days(data: &Value, key: &str) -> ApiResult<Option<u32>> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|d| (1..=36_500).contains(d))
            .map(|d| Some(d as u32))
            .ok_or_else(|| {
                ApiError::validation(
                    key,
                    "minimum",
                    json!({"message": "days must be an integer from 1 to 36500, or null", "target": 1, "value": v}),
                )
            }),
    }
}

pub async fn set_policy(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.id.clone();
    let (couch_days, storage_days) = (
        days(&ctx.data, "couch_days"),
        days(&ctx.data, "storage_days"),
    );
    let policy = match (couch_days, storage_days) {
        (Ok(c), Ok(s)) => Policy {
            couch_days: c,
            storage_days: s,
        },
        (Err(a), Err(b)) => return Err(a.merge(b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let id = format!("{SETTINGS_PREFIX}{account}");
    let mut doc = json!(policy);
    doc["_id"] = json!(id);
    doc["pvt_type"] = json!("rec_ext_retention");
    if let Some(old) = ctx.state.couch.get(SYSTEM_DATA_DB, &id).await? {
        doc["_rev"] = old["_rev"].clone();
    }
    ctx.state.couch.save(SYSTEM_DATA_DB, &mut doc).await?;
    Ok(Reply::ok(json!(policy)))
}

pub async fn run_now(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.id.clone();
    let dry_run = ctx.query("dry_run") == Some("true");
    let couch = &ctx.state.couch;
    let policy = retention::load_policy(couch, &account)
        .await
        .map_err(ApiError::from)?;
    let now = crate::domain::time::now_gregorian();
    let report = retention::run_account(couch, &account, &policy, now, dry_run)
        .await
        .map_err(ApiError::from)?;
    let audit = retention::save_audit(couch, &report)
        .await
        .map_err(ApiError::from)?;
    let mut out = json!(report);
    out["audit_id"] = json!(audit);
    Ok(Reply::ok(out))
}

pub async fn list_audits(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.id.clone();
    let prefix = format!("{AUDIT_PREFIX}{account}-");
    let opts = ViewOpts {
        start_key: Some(json!(prefix)),
        end_key: Some(json!(format!("{prefix}\u{fff0}"))),
        ..Default::default()
    };
    let rows = ctx.state.couch.all_docs(SYSTEM_DATA_DB, &opts).await?;
    let mut audits: Vec<Value> = rows
        .into_iter()
        .filter_map(|r| r.doc)
        .map(|d| {
            let mut d = crate::domain::json::public_fields(&d);
            if let Some(o) = d.as_object_mut() {
                o.remove("pvt_type");
            }
            d
        })
        .collect();
    audits.reverse();
    Ok(Reply::ok(Value::Array(audits)))
}
