//! Metaflows on the account (`cb_metaflows.erl`): the in-call feature codes, e.g. the
//! `record_call` toggle/start/stop the Call Recording app's on-demand setting configures.
//! They live in the account document under `metaflows`.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::ACCOUNTS_DB;
use crate::domain::time;
use serde_json::{json, Value};

pub async fn get_metaflows(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let doc = ctx
        .state
        .couch
        .get(&account.id.db(), account.id.as_str())
        .await?
        .ok_or_else(|| ApiError::bad_identifier(account.id.as_str()))?;
    Ok(Reply::ok(
        doc.get("metaflows").cloned().unwrap_or_else(|| json!({})),
    ))
}

pub async fn set_metaflows(ctx: Ctx) -> ApiResult<Reply> {
    let mut data = ctx.data.clone();
    ctx.state
        .schemas
        .validate("metaflows", &mut data)
        .map_err(ApiError::Validation)?;
    save(&ctx, Some(data)).await
}

pub async fn delete_metaflows(ctx: Ctx) -> ApiResult<Reply> {
    save(&ctx, None).await
}

async fn save(ctx: &Ctx, metaflows: Option<Value>) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let id = &account.id;
    let mut doc = ctx
        .state
        .couch
        .get(&id.db(), id.as_str())
        .await?
        .ok_or_else(|| ApiError::bad_identifier(id.as_str()))?;
    match &metaflows {
        Some(m) => doc["metaflows"] = m.clone(),
        None => {
            if let Some(o) = doc.as_object_mut() {
                o.remove("metaflows");
            }
        }
    }
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(id)),
        "account",
        time::now_gregorian(),
    );
    ctx.state.couch.save(&id.db(), &mut doc).await?;
    let mut copy = doc.clone();
    if let Some(existing) = ctx.state.couch.get(ACCOUNTS_DB, id.as_str()).await? {
        copy["_rev"] = existing["_rev"].clone();
        ctx.state.couch.save(ACCOUNTS_DB, &mut copy).await?;
    }
    ctx.state.forget_account(id.as_str());
    Ok(Reply::ok(metaflows.unwrap_or_else(|| json!({}))))
}
