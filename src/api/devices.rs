//! Devices (`cb_devices.erl`): an existing owner, SIP usernames and MAC addresses unique
//! within the account, then the `devices` schema.

use super::docs;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::request::Ctx;
use serde_json::{json, Value};

const PVT_TYPE: &str = "device";

pub async fn list_devices(ctx: Ctx) -> ApiResult<Reply> {
    let db = ctx.account()?.id.db();
    listing::load(
        &ctx,
        ViewQuery {
            db: &db,
            design: "devices",
            view: "crossbar_listing",
            start: None,
            end: None,
            map: &listing::row_value,
            include_docs: false,
        },
    )
    .await
}

/// `GET /users/{U}/devices`: devices owned (or hotdesked) by a user.
pub async fn list_user_devices(ctx: Ctx) -> ApiResult<Reply> {
    let db = ctx.account()?.id.db();
    let user = ctx.id(0).to_string();
    docs::load(&ctx, "user", &user).await?;
    let q = ViewQuery {
        db: &db,
        design: "devices",
        view: "listing_by_owner",
        start: Some(json!(user)),
        end: Some(json!(user)),
        map: &listing::row_value,
        include_docs: false,
    };
    listing::load(&ctx, q).await
}

pub async fn get_device(ctx: Ctx) -> ApiResult<Reply> {
    let doc = docs::load(&ctx, PVT_TYPE, ctx.id(0)).await?;
    Ok(Reply::doc(
        crate::domain::json::public_fields(&doc),
        docs::rev(&doc),
    ))
}

pub async fn create_device(ctx: Ctx) -> ApiResult<Reply> {
    let data = docs::input(&ctx, None)?;
    let doc = validate(&ctx, None, data).await?;
    Ok(docs::create(&ctx, doc, PVT_TYPE).await?.1)
}

pub async fn update_device(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let data = docs::input(&ctx, Some(&stored))?;
    let doc = validate(&ctx, Some(&id), data).await?;
    Ok(docs::update(&ctx, doc, &stored, PVT_TYPE).await?.1)
}

pub async fn delete_device(ctx: Ctx) -> ApiResult<Reply> {
    let stored = docs::load(&ctx, PVT_TYPE, ctx.id(0)).await?;
    docs::delete(&ctx, stored, PVT_TYPE).await
}

async fn validate(ctx: &Ctx, device_id: Option<&str>, mut data: Value) -> ApiResult<Value> {
    let db = ctx.account()?.id.db();
    let mut checks = vec![];
    // KAZOO keeps MAC addresses as lowercase hex only (`provisioner_util:cleanse_mac_address`).
    if let Some(Value::String(mac)) = data.get("mac_address").cloned() {
        let hex: String = mac
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect::<String>()
            .to_lowercase();
        if let Some(o) = data.as_object_mut() {
            if hex.is_empty() {
                o.remove("mac_address");
            } else {
                o.insert("mac_address".into(), json!(hex));
            }
        }
    }
    if let Some(mac) = data
        .get("mac_address")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
    {
        checks.push(
            docs::unique(
                ctx,
                ("devices", "listing_by_macaddress"),
                &mac,
                device_id,
                "mac_address",
                "MAC address already in use",
            )
            .await,
        );
    }
    if let Some(user) = data
        .pointer("/sip/username")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
    {
        checks.push(
            docs::unique(
                ctx,
                ("devices", "sip_credentials"),
                &user,
                device_id,
                "sip.username",
                "SIP credentials already in use",
            )
            .await,
        );
    }
    if let Some(owner) = data
        .get("owner_id")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
    {
        let owner_ok = crate::domain::ids::is_acceptable_doc_id(&owner)
            && ctx.state.couch.get(&db, &owner).await?.is_some_and(|u| {
                u.get("pvt_type").and_then(Value::as_str) == Some("user")
                    && !u
                        .get("pvt_deleted")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
            });
        if !owner_ok {
            checks.push(Err(ApiError::validation(
                "owner_id",
                "not_found",
                json!({"message": "Owner ID does not name a user of the account", "cause": owner}),
            )));
        }
    }
    checks.push(docs::schema(ctx, "devices", &mut data));
    docs::collect(checks)?;
    Ok(data)
}
