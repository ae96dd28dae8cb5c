//! ACDc call-centre queues (`cb_queues.erl`): queue documents (validated by the `queues`
//! schema, which carries the recording settings `record_caller`, `recording_url`) and their
//! roster. Agents are users whose `queues` list names the queue; the roster is read from
//! `queues/agents_listing` and written by editing those users. (Stats and eavesdrop need
//! the ACDc application itself and are not served.) Deleting a queue also takes it off its
//! agents' `queues` (KAZOO leaves the dangling id there).

use super::docs;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::request::Ctx;
use crate::couch::ViewOpts;
use crate::domain::json::public_fields;
use serde_json::{json, Value};

const PVT_TYPE: &str = "queue";

pub async fn list_queues(ctx: Ctx) -> ApiResult<Reply> {
    let db = ctx.account()?.id.db();
    listing::load(
        &ctx,
        ViewQuery {
            db: &db,
            design: "queues",
            view: "crossbar_listing",
            start: None,
            end: None,
            map: &listing::row_value,
            include_docs: false,
        },
    )
    .await
}

/// The ids of the queue's agents.
async fn roster(ctx: &Ctx, queue: &str) -> ApiResult<Vec<String>> {
    let db = ctx.account()?.id.db();
    let opts = ViewOpts {
        start_key: Some(json!([queue])),
        end_key: Some(json!([queue, {}])),
        reduce: Some(false),
        ..Default::default()
    };
    // An account database made before this view existed gets our design docs once.
    let rows = ctx
        .state
        .couch
        .view_adding(
            &db,
            "queues",
            "agents_listing",
            &opts,
            crate::couch::views::account_db_docs(),
        )
        .await?;
    Ok(rows.into_iter().filter_map(|r| r.id).collect())
}

pub async fn get_queue(ctx: Ctx) -> ApiResult<Reply> {
    // The answer depends on other documents: no ETag (as crossbar).
    queue_with_agents(&ctx, ctx.id(0)).await
}

pub async fn create_queue(ctx: Ctx) -> ApiResult<Reply> {
    let mut data = docs::input(&ctx, None)?;
    docs::schema(&ctx, "queues", &mut data)?;
    Ok(docs::create(&ctx, data, PVT_TYPE).await?.1)
}

pub async fn update_queue(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let mut data = docs::input(&ctx, Some(&stored))?;
    docs::schema(&ctx, "queues", &mut data)?;
    Ok(docs::update(&ctx, data, &stored, PVT_TYPE).await?.1)
}

pub async fn delete_queue(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let agents = roster(&ctx, &id).await?;
    set_membership(&ctx, &id, &agents, false).await?;
    docs::delete(&ctx, stored, PVT_TYPE).await
}

pub async fn get_roster(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    docs::load(&ctx, PVT_TYPE, &id).await?;
    Ok(Reply::ok(json!(roster(&ctx, &id).await?)))
}

/// The agent ids of a roster body: `{"data": [user ids]}`.
fn agent_ids(data: &Value) -> ApiResult<Vec<String>> {
    match data {
        Value::Array(a) => Ok(a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()),
        Value::Object(o) if o.is_empty() => Ok(vec![]),
        _ => Err(ApiError::validation(
            "data",
            "type",
            json!({"message": "Value did not match type(s): array", "target": "array"}),
        )),
    }
}

/// Add the queue to (or remove it from) each user's `queues`.
async fn set_membership(ctx: &Ctx, queue: &str, users: &[String], member: bool) -> ApiResult<()> {
    for u in users {
        let mut doc = docs::load(ctx, "user", u).await?;
        let mut qs: Vec<Value> = doc
            .get("queues")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let has = qs.iter().any(|q| q == queue);
        if member == has {
            continue;
        }
        if member {
            qs.insert(0, json!(queue));
        } else {
            qs.retain(|q| q != queue);
        }
        doc["queues"] = json!(qs);
        docs::update(ctx, doc.clone(), &doc, "user").await?;
    }
    Ok(())
}

/// `POST /queues/{Q}/roster`: the agents become exactly the listed users.
pub async fn set_roster(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    docs::load(&ctx, PVT_TYPE, &id).await?;
    let wanted = agent_ids(&ctx.data)?;
    for u in &wanted {
        docs::load(&ctx, "user", u).await?;
    }
    let current = roster(&ctx, &id).await?;
    let gone: Vec<String> = current
        .iter()
        .filter(|a| !wanted.contains(a))
        .cloned()
        .collect();
    set_membership(&ctx, &id, &gone, false).await?;
    set_membership(&ctx, &id, &wanted, true).await?;
    queue_with_agents(&ctx, &id).await
}

/// What crossbar answers a roster change with: the queue and its agents (`read/2`).
async fn queue_with_agents(ctx: &Ctx, id: &str) -> ApiResult<Reply> {
    let doc = docs::load(ctx, PVT_TYPE, id).await?;
    let mut out = public_fields(&doc);
    out["agents"] = json!(roster(ctx, id).await?);
    Ok(Reply::ok(out))
}

/// `DELETE /queues/{Q}/roster`: the listed agents (all when none is listed) leave the queue.
pub async fn delete_roster(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    docs::load(&ctx, PVT_TYPE, &id).await?;
    let listed = agent_ids(&ctx.data)?;
    let current = roster(&ctx, &id).await?;
    let leaving: Vec<String> = if listed.is_empty() {
        current
    } else {
        current.into_iter().filter(|a| listed.contains(a)).collect()
    };
    set_membership(&ctx, &id, &leaving, false).await?;
    queue_with_agents(&ctx, &id).await
}
