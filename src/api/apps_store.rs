//! `apps_store` (`cb_apps_store.erl`): the app launcher's list, install/update/uninstall per
//! account, icons and screenshots, and the blacklist an ancestor sets. The rules are in
//! [`crate::apps_registry`].

use super::binary;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::apps_registry::{self as registry, APPS_STORE_ID};
use crate::domain::ids::AccountId;
use crate::domain::json::public_fields;
use crate::state::AppState;
use serde_json::{json, Value};

fn master(state: &AppState) -> ApiResult<AccountId> {
    state
        .master_id()
        .and_then(|m| AccountId::parse(&m))
        .ok_or_else(ApiError::unspecified_fault)
}

/// The apps the account may see, installs merged in.
pub async fn allowed(state: &AppState, account: &AccountId) -> ApiResult<Vec<Value>> {
    let master = master(state)?;
    let apps = registry::master_apps(&state.couch, &master).await?;
    let store = registry::apps_store_doc(&state.couch, account).await?;
    Ok(registry::allowed_apps(
        apps,
        store.as_ref(),
        master == *account,
    ))
}

fn bad_app(id: &str) -> ApiError {
    ApiError::System {
        code: 404,
        error: "bad_identifier",
        data: json!({"details": id, "message": "bad identifier"}),
    }
}

/// `GET /v2/accounts/{A}/apps_store`: the published apps (in crossbar's order, the view's
/// reversed).
pub async fn list_apps(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let apps = allowed(&ctx.state, &account).await?;
    let list: Vec<Value> = apps
        .iter()
        .rev()
        .filter(|a| registry::is_published(a))
        .map(registry::list_entry)
        .collect();
    Ok(Reply::ok(Value::Array(list)))
}

pub async fn get_app(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let id = ctx.id(0).to_string();
    let apps = allowed(&ctx.state, &account).await?;
    let app = apps
        .into_iter()
        .find(|a| registry::app_id(a) == id)
        .ok_or_else(|| bad_app(&id))?;
    let mut out = public_fields(&app);
    out["id"] = json!(id);
    if let Some(a) = app.get("pvt_account_id") {
        out["account_id"] = a.clone();
    }
    Ok(Reply::ok(out))
}

/// An app of the master account by id, whatever the caller's account may see.
async fn master_app(state: &AppState, id: &str) -> ApiResult<(AccountId, Value)> {
    let master = master(state)?;
    if !crate::domain::ids::is_acceptable_doc_id(id) {
        return Err(bad_app(id));
    }
    let app = state
        .couch
        .get(&master.db(), id)
        .await?
        .filter(|a| a.get("pvt_type").and_then(Value::as_str) == Some("app"))
        .filter(|a| {
            !a.get("pvt_deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .ok_or_else(|| bad_app(id))?;
    Ok((master, app))
}

/// `…/apps_store/{app}/icon`, with or without an account in the path.
pub async fn get_icon(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let (master, app) = master_app(&ctx.state, &id).await?;
    let missing = || ApiError::response_bad_identifier(&id);
    let name = app
        .get("icon")
        .and_then(Value::as_str)
        .ok_or_else(missing)?;
    binary::attachment(&ctx.state, &master.db(), &id, name)
        .await?
        .ok_or_else(missing)
}

/// `…/apps_store/{app}/screenshot/{n}`, `n` counted from 0.
pub async fn get_screenshot(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.id(0).to_string();
    let n = ctx.id(1).to_string();
    let (master, app) = master_app(&ctx.state, &id).await?;
    let missing = || ApiError::response_bad_identifier(&format!("screenshot/{n}"));
    let name = n
        .parse::<usize>()
        .ok()
        .and_then(|i| app.get("screenshots")?.as_array()?.get(i)?.as_str())
        .ok_or_else(missing)?;
    binary::attachment(&ctx.state, &master.db(), &id, name)
        .await?
        .ok_or_else(missing)
}

/// Install (PUT), update (POST) or uninstall (DELETE) an app for the account. The body is
/// stored as given (crossbar does not validate it), with the app's name.
pub async fn modify_app(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?.id.clone();
    let id = ctx.id(0).to_string();
    let apps = allowed(&ctx.state, &account).await?;
    let Some(app) = apps.iter().find(|a| registry::app_id(a) == id) else {
        return Err(ApiError::System {
            code: 403,
            error: "forbidden",
            data: json!({"message": "forbidden", "details": id}),
        });
    };
    let db = account.db();
    let mut store = registry::apps_store_doc(&ctx.state.couch, &account)
        .await?
        .unwrap_or_else(|| {
            json!({"_id": APPS_STORE_ID, "pvt_account_id": account.as_str(),
                   "pvt_account_db": account.encoded_db()})
        });
    let installed = store.pointer(&format!("/apps/{id}")).is_some();
    let method = ctx.method.as_str();
    let not_installed = || ApiError::Response {
        code: 400,
        message: "Application is not installed".into(),
        data: json!({}),
    };
    let (status, out) = match method {
        "PUT" if installed => {
            return Err(ApiError::Response {
                code: 400,
                message: "Application already installed".into(),
                data: json!({}),
            })
        }
        "POST" | "DELETE" if !installed => return Err(not_installed()),
        "DELETE" => {
            if let Some(apps) = store.get_mut("apps").and_then(Value::as_object_mut) {
                apps.remove(&id);
            }
            (200, json!({}))
        }
        _ => {
            let mut entry = if ctx.data.is_object() {
                ctx.data.clone()
            } else {
                json!({})
            };
            crate::domain::json::strip_private(&mut entry);
            entry["name"] = app.get("name").cloned().unwrap_or(Value::Null);
            if !store.get("apps").is_some_and(Value::is_object) {
                store["apps"] = json!({});
            }
            store["apps"][&id] = entry.clone();
            (if method == "PUT" { 201 } else { 200 }, entry)
        }
    };
    store["pvt_modified"] = json!(crate::domain::time::now_gregorian());
    ctx.state.couch.save(&db, &mut store).await?;
    let mut reply = Reply::ok(out);
    if let Reply::Json(j) = &mut reply {
        j.status = status;
    }
    Ok(reply)
}

/// The blacklist is set by an ancestor (reseller) on a descendant, never on one's own
/// account (`kzd_accounts:is_in_account_hierarchy/2`, self excluded).
fn require_ancestor(ctx: &Ctx) -> ApiResult<()> {
    let auth_account = ctx.auth()?.account_id().to_string();
    if ctx.account()?.tree().contains(&auth_account) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

pub async fn get_blacklist(ctx: Ctx) -> ApiResult<Reply> {
    require_ancestor(&ctx)?;
    let account = ctx.account()?.id.clone();
    let store = registry::apps_store_doc(&ctx.state.couch, &account).await?;
    let list = store
        .and_then(|s| s.get("blacklist").cloned())
        .unwrap_or_else(|| json!([]));
    Ok(Reply::ok(json!({ "blacklist": list })))
}

pub async fn set_blacklist(ctx: Ctx) -> ApiResult<Reply> {
    require_ancestor(&ctx)?;
    let account = ctx.account()?.id.clone();
    let list = ctx
        .data
        .get("blacklist")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|v| v.is_string())
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut store = registry::apps_store_doc(&ctx.state.couch, &account)
        .await?
        .unwrap_or_else(|| {
            json!({"_id": APPS_STORE_ID, "pvt_account_id": account.as_str(),
                   "pvt_account_db": account.encoded_db()})
        });
    store["blacklist"] = json!(list);
    store["pvt_modified"] = json!(crate::domain::time::now_gregorian());
    ctx.state.couch.save(&account.db(), &mut store).await?;
    Ok(Reply::ok(json!({ "blacklist": list })))
}
