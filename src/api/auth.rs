//! Authentication endpoints: `user_auth`, `api_auth`, `token_auth`, `auth/tokeninfo`
//! (`cb_user_auth.erl`, `cb_api_auth.erl`, `cb_token_auth.erl`, `cb_auth.erl`).

use super::envelope::{JsonReply, Reply};
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::auth::tokens::{Claims, TokenCheck};
use crate::couch::{ViewOpts, ACCOUNTS_DB};
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::state::AppState;
use serde_json::{json, Map, Value};

/// Accounts matching a realm or a name (`find_account`), realm first.
async fn find_accounts(
    state: &AppState,
    realm: Option<&str>,
    name: Option<&str>,
) -> ApiResult<Vec<String>> {
    let lookup = |view: &'static str, key: String| async move {
        let opts = ViewOpts {
            key: Some(Value::String(key)),
            ..Default::default()
        };
        let rows = state
            .couch
            .view(ACCOUNTS_DB, "accounts", view, &opts)
            .await?;
        Ok::<_, ApiError>(
            rows.iter()
                .filter_map(|r| {
                    r.value
                        .get("account_id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect::<Vec<_>>(),
        )
    };
    if let Some(realm) = realm.filter(|r| !r.is_empty()) {
        let found = lookup("listing_by_realm", realm.to_lowercase()).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    if let Some(name) = name {
        let normalized = crate::couch::pvt::normalize_name(name);
        if !normalized.is_empty() {
            return lookup("listing_by_name", normalized).await;
        }
    }
    Ok(vec![])
}

/// `PUT /v2/user_auth`: md5 (or sha) of `username:password` plus an account name or realm.
pub async fn user_auth(mut ctx: Ctx) -> ApiResult<Reply> {
    let state = ctx.state.clone();
    ctx.state
        .schemas
        .validate("user_auth", &mut ctx.data)
        .map_err(ApiError::Validation)?;
    let data = &ctx.data;
    let credentials = data
        .get("credentials")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    let method = data.get("method").and_then(Value::as_str).unwrap_or("md5");
    let realm = data
        .get("account_realm")
        .or_else(|| data.get("realm"))
        .and_then(Value::as_str);
    let name = data.get("account_name").and_then(Value::as_str);
    let throttle_key = format!(
        "{}|{}",
        realm.unwrap_or(""),
        name.map(crate::couch::pvt::normalize_name)
            .unwrap_or_default()
    );
    if !state.throttle.begin(&throttle_key, &ctx.client_addr) {
        return Err(ApiError::too_many_requests());
    }
    let view = if method == "sha" {
        "creds_by_sha"
    } else {
        "creds_by_md5"
    };
    for account in find_accounts(&state, realm, name).await? {
        let Some(id) = AccountId::parse(&account) else {
            continue;
        };
        let opts = ViewOpts {
            key: Some(Value::String(credentials.clone())),
            ..Default::default()
        };
        let rows = match state.couch.view(&id.db(), "users", view, &opts).await {
            Ok(rows) => rows,
            Err(crate::couch::CouchError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let Some(owner) = rows
            .first()
            .and_then(|r| r.value.get("owner_id"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(info) = state.account(&id).await? else {
            continue;
        };
        if !account_enabled(&info.doc) {
            return Err(ApiError::validation(
                "account",
                "disabled",
                json!({"message": "account disabled"}),
            ));
        }
        state
            .throttle
            .record_success(&throttle_key, &ctx.client_addr);
        let (token, _) =
            state
                .tokens
                .mint(id.as_str(), Some(owner), "cb_user_auth", time::now_unix());
        let data = auth_response(&state, id.as_str(), Some(owner)).await?;
        return Ok(Reply::json(JsonReply {
            status: 201,
            data,
            auth_token: Some(token),
            ..Default::default()
        }));
    }
    // (the attempt was counted as a failure when it began)
    // Same answer whether the account, the user or the password was wrong.
    Err(ApiError::invalid_credentials())
}

fn account_enabled(doc: &Value) -> bool {
    doc.get("pvt_enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// `PUT /v2/api_auth`: the account's 64-hex api key.
pub async fn api_auth(mut ctx: Ctx) -> ApiResult<Reply> {
    let state = ctx.state.clone();
    ctx.state
        .schemas
        .validate("api_auth", &mut ctx.data)
        .map_err(ApiError::Validation)?;
    let key = ctx
        .data
        .get("api_key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Per key (so one tenant's guesses never block another's key) and per address (so
    // guessing many keys is throttled).
    let throttle_key = format!("api_key|{}", crate::auth::creds::md5_hex(&key));
    if !state.throttle.begin(&throttle_key, &ctx.client_addr) {
        return Err(ApiError::too_many_requests());
    }
    let opts = ViewOpts {
        key: Some(Value::String(key.clone())),
        ..Default::default()
    };
    let rows = state
        .couch
        .view(ACCOUNTS_DB, "accounts", "listing_by_api", &opts)
        .await?;
    let Some(account_id) = rows
        .first()
        .and_then(|r| r.value.get("account_id"))
        .and_then(Value::as_str)
    else {
        return Err(ApiError::response_bad_identifier(&key));
    };
    let Some(id) = AccountId::parse(account_id) else {
        return Err(ApiError::response_bad_identifier(&key));
    };
    if let Some(info) = state.account(&id).await? {
        if !account_enabled(&info.doc) {
            return Err(ApiError::validation(
                "account",
                "disabled",
                json!({"message": "account disabled"}),
            ));
        }
    }
    state
        .throttle
        .record_success(&throttle_key, &ctx.client_addr);
    let (token, _) = state
        .tokens
        .mint(id.as_str(), None, "cb_api_auth", time::now_unix());
    let data = auth_response(&state, id.as_str(), None).await?;
    Ok(Reply::json(JsonReply {
        status: 201,
        data,
        auth_token: Some(token),
        ..Default::default()
    }))
}

/// `crossbar_util:response_auth` + `populate_resp`: what Monster UI reads after login.
pub async fn auth_response(
    state: &AppState,
    account_id: &str,
    owner_id: Option<&str>,
) -> ApiResult<Value> {
    let id = AccountId::parse(account_id).ok_or_else(ApiError::response_401)?;
    let account = state
        .account(&id)
        .await?
        .ok_or_else(ApiError::response_401)?;
    let user = match owner_id {
        Some(o) => state.couch.get(&id.db(), o).await?,
        None => None,
    };
    let language = user
        .as_ref()
        .and_then(|u| u.get("language"))
        .or_else(|| account.doc.get("language"))
        .and_then(Value::as_str)
        .unwrap_or("en-US")
        .to_string();
    let master = state.master_id();
    let reseller_id = reseller_of(&account.doc, account_id, master.as_deref());
    let mut out = Map::new();
    out.insert("account_id".into(), json!(account_id));
    if let Some(o) = owner_id {
        out.insert("owner_id".into(), json!(o));
    }
    // KAZOO 4.3's launcher reads the installed apps from the login answer.
    let is_admin = user
        .as_ref()
        .and_then(|u| u.get("priv_level"))
        .and_then(Value::as_str)
        == Some("admin");
    let apps = match (owner_id, super::apps_store::allowed(state, &id).await) {
        (Some(o), Ok(apps)) => crate::apps_registry::login_apps(&apps, o, is_admin, &language),
        _ => json!([]),
    };
    out.insert("apps".into(), apps);
    out.insert("language".into(), json!(language));
    if let Some(name) = account.name() {
        out.insert("account_name".into(), json!(name));
    }
    if let Some(r) = &reseller_id {
        out.insert("reseller_id".into(), json!(r));
    }
    out.insert(
        "is_reseller".into(),
        json!(account.is_reseller() || master.as_deref() == Some(account_id)),
    );
    out.insert(
        "is_master_account".into(),
        json!(master.as_deref() == Some(account_id)),
    );
    out.insert(
        "capabilities".into(),
        json!({"voicemail": {"transcription": {"available": false, "default": false}}}),
    );
    out.insert("ui_config".into(), json!({}));
    Ok(Value::Object(out))
}

/// The account's reseller: the nearest ancestor flagged as reseller, else the master.
pub fn reseller_of(doc: &Value, account_id: &str, master: Option<&str>) -> Option<String> {
    if let Some(r) = doc.get("pvt_reseller_id").and_then(Value::as_str) {
        if r != account_id {
            return Some(r.to_string());
        }
    }
    master.map(str::to_string)
}

/// Claims as KAZOO shows them (public fields of the auth doc).
fn claims_json(c: &Claims) -> Value {
    let mut out = json!({"account_id": c.account_id, "method": c.method, "exp": c.exp, "iat": c.iat, "iss": c.iss});
    if let Some(o) = &c.owner_id {
        out["owner_id"] = json!(o);
    }
    out
}

/// `GET /v2/token_auth`: the token's claims + the login fields.
pub async fn token_info(ctx: Ctx) -> ApiResult<Reply> {
    let auth = ctx.auth()?;
    let mut data = claims_json(&auth.claims);
    let extra = auth_response(&ctx.state, auth.account_id(), auth.owner_id()).await?;
    crate::domain::json::patch(&mut data, &extra);
    Ok(Reply::ok(data))
}

/// `DELETE /v2/token_auth`: revoke the token used on this request (KAZOO answers success
/// but cannot revoke a JWT; we really revoke it until it expires).
pub async fn revoke_token(ctx: Ctx) -> ApiResult<Reply> {
    let auth = ctx.auth()?;
    let now = time::now_unix();
    ctx.state
        .tokens
        .revoke(&auth.claims.jti, auth.claims.exp, now);
    crate::startup::persist_revocation(&ctx.state, &auth.claims.jti, auth.claims.exp).await?;
    Ok(Reply::ok(json!({})))
}

/// `GET|POST /v2/auth/tokeninfo`: Monster UI's cookie / `?t=` login. The token comes from
/// `data.token` or `?token=`; answers like user_auth with the same token.
pub async fn tokeninfo(ctx: Ctx) -> ApiResult<Reply> {
    let token = ctx
        .data
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| ctx.query("token").map(str::to_string))
        .ok_or_else(|| {
            ApiError::validation(
                "token",
                "required",
                json!({"message": "Field is required but missing"}),
            )
        })?;
    let claims = match ctx.state.tokens.check(&token, time::now_unix()) {
        TokenCheck::Valid(c) => c,
        _ => return Err(ApiError::response_401()),
    };
    let mut data = claims_json(&claims);
    let extra = auth_response(&ctx.state, &claims.account_id, claims.owner_id.as_deref()).await?;
    crate::domain::json::patch(&mut data, &extra);
    Ok(Reply::json(JsonReply {
        status: 200,
        data,
        auth_token: Some(token),
        ..Default::default()
    }))
}

/// `GET /v2/user_auth/{token}`: only the caller's own token, else 401.
pub async fn user_auth_token(ctx: Ctx) -> ApiResult<Reply> {
    let auth = ctx.auth()?;
    if ctx.id(0) != auth.token {
        return Err(ApiError::response_401());
    }
    let mut data = claims_json(&auth.claims);
    data["id"] = json!(auth.claims.jti);
    let extra = auth_response(&ctx.state, auth.account_id(), auth.owner_id()).await?;
    crate::domain::json::patch(&mut data, &extra);
    Ok(Reply::ok(data))
}
