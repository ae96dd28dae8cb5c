//! Users (`cb_users.erl`, `kzd_users:validate`): unique lowercase usernames, credentials
//! stored only as KAZOO's hashes, and our default priv_level policy: a `user` may read and
//! update itself only, and may not raise its own privilege.

use super::docs;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::request::Ctx;
use crate::domain::ids;
use serde_json::{json, Value};

const PVT_TYPE: &str = "user";

/// Who the caller is, as far as the users policy is concerned.
async fn caller_is_admin(ctx: &Ctx) -> ApiResult<bool> {
    let auth = ctx.auth()?;
    if auth.is_superduper() {
        return Ok(true);
    }
    // The token owner's priv_level decides, whether the token is of this account or of an
    // ancestor acting on it (KAZOO has no finer check).
    Ok(super::users_guard::priv_level(ctx).await? == "admin")
}

/// `user` callers may touch only their own document.
async fn guard(ctx: &Ctx, user_id: Option<&str>) -> ApiResult<bool> {
    let admin = caller_is_admin(ctx).await?;
    if !admin && (user_id.is_none() || user_id != ctx.auth()?.owner_id()) {
        return Err(ApiError::forbidden());
    }
    Ok(admin)
}

pub async fn list_users(ctx: Ctx) -> ApiResult<Reply> {
    guard(&ctx, None).await?;
    let db = ctx.account()?.id.db();
    listing::load(
        &ctx,
        ViewQuery {
            db: &db,
            design: "users",
            view: "crossbar_listing",
            start: None,
            end: None,
            map: &listing::row_value,
            include_docs: false,
        },
    )
    .await
}

pub async fn get_user(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    guard(&ctx, Some(&id)).await?;
    let doc = docs::load(&ctx, PVT_TYPE, &id).await?;
    Ok(Reply::doc(
        crate::domain::json::public_fields(&doc),
        docs::rev(&doc),
    ))
}

pub async fn create_user(ctx: Ctx) -> ApiResult<Reply> {
    guard(&ctx, None).await?;
    let data = docs::input(&ctx, None)?;
    let doc = validate(&ctx, None, data, None).await?;
    Ok(docs::create(&ctx, doc, PVT_TYPE).await?.1)
}

pub async fn update_user(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let admin = guard(&ctx, Some(&id)).await?;
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let data = docs::input(&ctx, Some(&stored))?;
    if !admin {
        let wanted = data
            .get("priv_level")
            .and_then(Value::as_str)
            .unwrap_or("user");
        let current = stored
            .get("priv_level")
            .and_then(Value::as_str)
            .unwrap_or("user");
        if wanted != current {
            return Err(ApiError::validation(
                "priv_level",
                "forbidden",
                json!({"message": "Not authorized to change the privilege level", "cause": wanted}),
            ));
        }
    }
    let doc = validate(&ctx, Some(&id), data, Some(&stored)).await?;
    let reply = docs::update(&ctx, doc, &stored, PVT_TYPE).await?.1;
    ctx.state.forget_user(&ctx.account()?.id, &id);
    Ok(reply)
}

pub async fn delete_user(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    if !guard(&ctx, Some(&id)).await? {
        return Err(ApiError::forbidden());
    }
    let stored = docs::load(&ctx, PVT_TYPE, &id).await?;
    let reply = docs::delete(&ctx, stored, PVT_TYPE).await?;
    ctx.state.forget_user(&ctx.account()?.id, &id);
    Ok(reply)
}

/// `kzd_users:validate`: normalise, check uniqueness, schema, then credentials.
async fn validate(
    ctx: &Ctx,
    user_id: Option<&str>,
    mut data: Value,
    stored: Option<&Value>,
) -> ApiResult<Value> {
    let obj = data
        .as_object_mut()
        .ok_or_else(ApiError::unspecified_fault)?;
    if let Some(Value::String(u)) = obj.get_mut("username") {
        *u = u.to_lowercase();
    }
    let password = obj
        .remove("password")
        .and_then(|p| p.as_str().map(str::to_string))
        .filter(|p| !p.is_empty());
    obj.remove("confirm_password");
    let username = obj
        .get("username")
        .and_then(Value::as_str)
        .map(str::to_string);
    let current_username = stored
        .and_then(|s| s.get("username"))
        .and_then(Value::as_str)
        .map(str::to_string);

    let mut checks = vec![];
    if let Some(u) = username
        .as_deref()
        .filter(|u| Some(*u) != current_username.as_deref())
    {
        checks.push(
            docs::unique(
                ctx,
                ("users", "list_by_username"),
                u,
                user_id,
                "username",
                "Username must be unique within account",
            )
            .await,
        );
    }
    if let Some(h) = data
        .pointer("/hotdesk/id")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        let current = stored
            .and_then(|s| s.pointer("/hotdesk/id"))
            .and_then(Value::as_str);
        if Some(h.as_str()) != current {
            checks.push(
                docs::unique(
                    ctx,
                    ("users", "list_by_hotdesk_id"),
                    &h,
                    user_id,
                    "hotdesk.id",
                    "Hotdesk ID must be unique within account",
                )
                .await,
            );
        }
    }
    checks.push(docs::schema(ctx, "users", &mut data));
    docs::collect(checks)?;

    // Credentials (`maybe_rehash_creds`): hashes of `username:password`, never the password.
    let username = data
        .get("username")
        .and_then(Value::as_str)
        .map(str::to_string);
    let changed = username != current_username;
    match (username, password) {
        (Some(u), Some(p)) => set_creds(&mut data, &u, &p),
        (Some(u), None) if changed => {
            return Err(ApiError::validation(
                "password",
                "required",
                json!({"message": "The password must be provided when creating / updating the user name", "cause": u}),
            ));
        }
        (None, Some(p)) => {
            let u = format!("user_{}", ids::rand_hex(8));
            data["username"] = json!(u);
            set_creds(&mut data, &u, &p);
        }
        (None, None) => {
            // No username: no credentials (KAZOO's remove_creds). A null private field is
            // removed at save time instead of being restored from the stored document.
            if let Some(o) = data.as_object_mut() {
                o.insert("pvt_md5_auth".into(), Value::Null);
                o.insert("pvt_sha1_auth".into(), Value::Null);
            }
        }
        (Some(_), None) => {}
    }
    if let Some(o) = data.as_object_mut() {
        if stored.and_then(|s| s.get("pvt_signature_secret")).is_none() {
            o.entry("pvt_signature_secret")
                .or_insert_with(|| json!(ids::new_id()));
        }
    }
    Ok(data)
}

fn set_creds(data: &mut Value, username: &str, password: &str) {
    let (md5, sha1) = crate::auth::creds::pass_hashes(username, password);
    data["pvt_md5_auth"] = json!(md5);
    data["pvt_sha1_auth"] = json!(sha1);
    // Changing credentials resets the identity secret (KAZOO's reset_identity_secret_on_rehash).
    data["pvt_signature_secret"] = json!(ids::new_id());
}
