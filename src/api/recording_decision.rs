//! Our extension (not a KAZOO module): the recording decision over HTTP.
//! `POST /v2/accounts/{A}/rec_ext/explain` answers, for a described call, which recordings
//! KAZOO's rules start, at which level, with which settings and why; a media server asks
//! the same question at call time. The path uses the `rec_ext` noun, which KAZOO does not
//! have, so it cannot collide with a crossbar module.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;

use crate::recording_policy::{decide, CallLeg, Network};
use serde_json::{json, Value};

/// What building a call from ids needs: the account and the request data.
pub struct Lookup<'a> {
    pub state: &'a crate::state::AppState,
    pub account: &'a crate::state::AccountInfo,
    pub data: &'a Value,
}

fn network(l: &Lookup<'_>, key: &str) -> ApiResult<Network> {
    match l.data.get(key).and_then(Value::as_str) {
        Some("onnet") | None => Ok(Network::Onnet),
        Some("offnet") => Ok(Network::Offnet),
        Some(other) => Err(ApiError::validation(
            key,
            "enum",
            json!({"message": "Value not found in enumerated list of values", "target": ["onnet", "offnet"], "value": other}),
        )),
    }
}

/// A document of the account by id and type; 400 naming the field when it is not there.
async fn doc(l: &Lookup<'_>, field: &str, id: &str, pvt_type: &str) -> ApiResult<Value> {
    let db = l.account.id.db();
    let found = if crate::domain::ids::is_acceptable_doc_id(id) {
        l.state.couch.get(&db, id).await?
    } else {
        None
    };
    found
        .filter(|d| d.get("pvt_type").and_then(Value::as_str) == Some(pvt_type) && !d.get("pvt_deleted").and_then(Value::as_bool).unwrap_or(false))
        .ok_or_else(|| ApiError::validation(field, "not_found", json!({"message": format!("no {pvt_type} with this id in the account"), "cause": id})))
}

async fn owner_of(l: &Lookup<'_>, device: &Value) -> ApiResult<Option<Value>> {
    match device.get("owner_id").and_then(Value::as_str) {
        Some(o) => Ok(doc(l, "owner_id", o, "user").await.ok()),
        None => Ok(None),
    }
}

/// Build the call from ids: `caller_device_id` or `caller_user_id`, `callee_device_ids`,
/// `from_network`, `to_network`, `call_forwarded`, `call_forward_from`, `queue_id`, `agent_id`.
pub async fn call_leg(l: &Lookup<'_>) -> ApiResult<CallLeg> {
    let account = l.account;
    let account_doc = l
        .state
        .couch
        .get(&account.id.db(), account.id.as_str())
        .await?
        .unwrap_or_else(|| account.doc.clone());
    let mut leg = CallLeg::new(
        account_doc,
        network(l, "from_network")?,
        network(l, "to_network")?,
    );
    let str_of = |k: &str| l.data.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(d) = str_of("caller_device_id") {
        let device = doc(l, "caller_device_id", &d, "device").await?;
        leg.caller_user = owner_of(l, &device).await?;
        leg.caller_device = Some(device);
    } else if let Some(u) = str_of("caller_user_id") {
        leg.caller_user = Some(doc(l, "caller_user_id", &u, "user").await?);
    }
    for id in l
        .data
        .get("callee_device_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .take(100)
    {
        let device = doc(l, "callee_device_ids", id, "device").await?;
        let owner = owner_of(l, &device).await?;
        leg.callee_endpoints.push((device, owner));
    }
    leg.call_forwarded = l
        .data
        .get("call_forwarded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if l.data.get("call_forward_from").is_some() {
        leg.call_forward_from = Some(network(l, "call_forward_from")?);
    }
    if let Some(q) = str_of("queue_id") {
        leg.queue = Some(doc(l, "queue_id", &q, "queue").await?);
    }
    if let Some(a) = str_of("agent_id") {
        leg.agent = Some(doc(l, "agent_id", &a, "user").await?);
    }
    Ok(leg)
}

pub async fn explain(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.clone();
    let leg = call_leg(&Lookup {
        state: &ctx.state,
        account: &account,
        data: &ctx.data,
    })
    .await?;
    let decision = decide(&leg);
    Ok(Reply::ok(
        serde_json::to_value(&decision).map_err(|e| ApiError::from(anyhow::anyhow!(e)))?,
    ))
}
