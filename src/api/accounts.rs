//! Accounts (`cb_accounts.erl`, `kzdb_account.erl`): create, read, update, patch, delete,
//! and the tree listings. An account lives in its own database (`account/xx/yy/…`) with a
//! copy in `accounts`; creating one creates its database, views and current MODB.

use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::listing::{self, ViewQuery};
use super::request::Ctx;
use crate::couch::{CouchError, ViewOpts, ACCOUNTS_DB};
use crate::domain::ids::{self, AccountId};
use crate::domain::json::{public_fields, strip_private};
use crate::domain::time;
use crate::state::{AccountInfo, AppState};
use serde_json::{json, Value};
use std::sync::Arc;

/// Keys crossbar refuses from clients (they are leaked read-only in responses).
const LEAKED_INPUT_KEYS: [&str; 3] = ["wnm_allow_additions", "superduper_admin", "billing_mode"];

/// The account as crossbar answers it: public fields + the leaked private ones
/// (`cb_accounts:leak_pvt_fields`).
fn account_view(
    state: &AppState,
    doc: &Value,
    auth_account: Option<&str>,
    include_api_key: bool,
) -> Value {
    let mut out = public_fields(doc);
    let id = doc.get("_id").and_then(Value::as_str).unwrap_or("");
    let master = state.master_id();
    out["wnm_allow_additions"] = json!(doc
        .get("pvt_wnm_allow_additions")
        .and_then(Value::as_bool)
        .unwrap_or(false));
    out["superduper_admin"] = json!(doc
        .get("pvt_superduper_admin")
        .and_then(Value::as_bool)
        .unwrap_or(false));
    if include_api_key {
        if let Some(k) = doc.get("pvt_api_key") {
            out["api_key"] = k.clone();
        }
    }
    if let Some(c) = doc.get("pvt_created") {
        out["created"] = c.clone();
    }
    out["enabled"] = json!(doc
        .get("pvt_enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true));
    let reseller = super::auth::reseller_of(doc, id, master.as_deref());
    if let Some(r) = &reseller {
        out["reseller_id"] = json!(r);
    }
    let is_reseller = doc
        .get("pvt_reseller")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || master.as_deref() == Some(id);
    out["is_reseller"] = json!(is_reseller);
    out["billing_mode"] = json!(match (reseller.as_deref(), auth_account) {
        (Some(r), Some(a)) if r == a => "limits_only",
        (Some(r), _) if Some(r) == master.as_deref() => "normal",
        _ => "manual",
    });
    if let Some(p) = doc.get("pvt_notification_preference") {
        out["notification_preference"] = p.clone();
    }
    out
}

fn include_api_key(ctx: &Ctx) -> bool {
    ctx.req_value("include_api_key")
        .is_some_and(|v| v == json!(true) || v == json!("true"))
}

/// Client data prepared for validation: private keys, `id` and leaked keys removed,
/// realm spaces stripped.
fn clean_input(data: &Value) -> ApiResult<Value> {
    let mut d = data.clone();
    if !d.is_object() {
        return Err(ApiError::validation(
            "data",
            "type",
            json!({"message": "Value did not match type(s): object", "target": "object", "value": data}),
        ));
    }
    strip_private(&mut d);
    if let Some(o) = d.as_object_mut() {
        for k in LEAKED_INPUT_KEYS.iter().chain(
            [
                "created",
                "is_reseller",
                "reseller_id",
                "api_key",
                "_read_only",
                "enabled",
            ]
            .iter(),
        ) {
            if *k != "enabled" {
                o.remove(*k);
            }
        }
        if let Some(Value::String(r)) = o.get_mut("realm") {
            *r = r.chars().filter(|c| !c.is_whitespace()).collect();
        }
    }
    Ok(d)
}

/// Realm unique (case-insensitive) and name unique (normalised), ignoring `self_id`.
async fn check_unique(state: &AppState, data: &Value, self_id: Option<&str>) -> ApiResult<()> {
    let mut err: Option<ApiError> = None;
    let others = |rows: Vec<crate::couch::Row>| {
        rows.into_iter()
            .filter(|r| r.value.get("account_id").and_then(Value::as_str) != self_id)
            .count()
    };
    if let Some(realm) = data.get("realm").and_then(Value::as_str) {
        let opts = ViewOpts {
            key: Some(json!(realm.to_lowercase())),
            ..Default::default()
        };
        if others(
            state
                .couch
                .view(ACCOUNTS_DB, "accounts", "listing_by_realm", &opts)
                .await?,
        ) > 0
        {
            err = Some(ApiError::validation(
                "realm",
                "unique",
                json!({"message": "Account realm already in use", "cause": realm}),
            ));
        }
    }
    if let Some(name) = data.get("name").and_then(Value::as_str) {
        let key = crate::couch::pvt::normalize_name(name);
        let opts = ViewOpts {
            key: Some(json!(key)),
            ..Default::default()
        };
        if !key.is_empty()
            && others(
                state
                    .couch
                    .view(ACCOUNTS_DB, "accounts", "listing_by_name", &opts)
                    .await?,
            ) > 0
        {
            let e = ApiError::validation(
                "name",
                "unique",
                json!({"message": "Account name already in use", "cause": name}),
            );
            err = Some(match err {
                Some(prev) => prev.merge(e),
                None => e,
            });
        }
    }
    err.map_or(Ok(()), Err)
}

fn validate(state: &AppState, data: &mut Value) -> ApiResult<()> {
    state
        .schemas
        .validate("accounts", data)
        .map_err(ApiError::Validation)
}

/// `PUT /v2/accounts` and `PUT /v2/accounts/{parent}`: a new child account.
pub async fn create_account(ctx: Ctx) -> ApiResult<Reply> {
    let auth = ctx.auth()?;
    let parent: Arc<AccountInfo> = match &ctx.scope {
        Some(_) => ctx.account()?.clone(),
        None => auth.account.clone(),
    };
    let state = ctx.state.clone();
    let mut data = clean_input(&ctx.data)?;
    let requested_enabled = data.as_object_mut().and_then(|o| o.remove("enabled"));
    if data
        .get("realm")
        .is_none_or(|r| r.as_str().is_some_and(str::is_empty))
    {
        data["realm"] = json!(format!("{}.{}", ids::rand_hex(3), state.cfg.realm_suffix));
    }
    let id = match ctx.data.get("id").and_then(Value::as_str) {
        Some(raw) => AccountId::parse(raw).ok_or_else(|| {
            ApiError::validation(
                "id",
                "invalid",
                json!({"message": "account id must be 32 lowercase hex characters", "cause": raw}),
            )
        })?,
        None => AccountId::generate(),
    };
    let unique = check_unique(&state, &data, None).await;
    let schema = validate(&state, &mut data);
    match (unique, schema) {
        (Err(a), Err(b)) => return Err(a.merge(b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
        _ => {}
    }
    if state.couch.db_exists(&id.db()).await? {
        return Err(ApiError::conflict());
    }
    let mut tree = parent.tree();
    tree.push(parent.id.to_string());
    // `enabled` from the request counts only when the caller is above the new account.
    let parent_enabled = parent
        .doc
        .get("pvt_enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let enabled = match requested_enabled.and_then(|v| v.as_bool()) {
        Some(e) if tree.iter().any(|a| a == auth.account_id()) => e,
        _ => parent_enabled,
    };
    let mut doc = data;
    doc["_id"] = json!(id.as_str());
    doc["pvt_tree"] = json!(tree);
    doc["pvt_api_key"] = json!(ids::rand_hex(32));
    doc["pvt_enabled"] = json!(enabled);
    if let Some(r) = super::auth::reseller_of(&parent.doc, parent.id.as_str(), None) {
        doc["pvt_reseller_id"] = json!(r);
    } else if parent.is_reseller() || state.master_id().as_deref() == Some(parent.id.as_str()) {
        doc["pvt_reseller_id"] = json!(parent.id.as_str());
    }
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(&id)),
        "account",
        time::now_gregorian(),
    );
    let saved = create_account_dbs(&state, &id, doc).await?;
    let location = format!("{}/{}", ctx.path, id);
    Ok(Reply::created(
        account_view(&state, &saved, Some(auth.account_id()), false),
        rev(&saved),
        location,
    ))
}

fn rev(doc: &Value) -> Option<String> {
    doc.get("_rev").and_then(Value::as_str).map(str::to_string)
}

/// Create the account database with its views, save the doc there and in `accounts`, and
/// create the current MODB. Any failure removes what was created (`kzdb_account:create`).
pub async fn create_account_dbs(
    state: &AppState,
    id: &AccountId,
    mut doc: Value,
) -> ApiResult<Value> {
    let result: Result<Value, CouchError> = async {
        state.couch.create_db(&id.db()).await?;
        state
            .couch
            .ensure_design_docs(&id.db(), crate::couch::views::account_db_docs())
            .await?;
        state.couch.save(&id.db(), &mut doc).await?;
        let mut copy = doc.clone();
        if let Some(o) = copy.as_object_mut() {
            o.remove("_rev");
        }
        state.couch.save(ACCOUNTS_DB, &mut copy).await?;
        let (y, m) = time::year_month(time::now_unix());
        state.couch.create_db(&id.modb(y, m)).await?;
        state
            .couch
            .ensure_design_docs(&id.modb(y, m), crate::couch::views::modb_docs())
            .await?;
        Ok(doc)
    }
    .await;
    match result {
        Ok(doc) => Ok(doc),
        Err(e) => {
            tracing::error!(account_id = %id, error = %e, "account creation failed, rolling back");
            let _ = state.couch.delete_db(&id.db()).await;
            if let Ok(Some(mut copy)) = state.couch.get(ACCOUNTS_DB, id.as_str()).await {
                copy["_deleted"] = json!(true);
                let _ = state.couch.save(ACCOUNTS_DB, &mut copy).await;
            }
            Err(e.into())
        }
    }
}

/// `GET /v2/accounts/{A}`.
pub async fn get_account(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let doc = ctx
        .state
        .couch
        .get(&account.id.db(), account.id.as_str())
        .await?
        .ok_or_else(|| ApiError::bad_identifier(account.id.as_str()))?;
    let auth = ctx.auth()?.account_id().to_string();
    Ok(Reply::doc(
        account_view(&ctx.state, &doc, Some(&auth), include_api_key(&ctx)),
        rev(&doc),
    ))
}

/// `POST /v2/accounts/{A}`: replace the public part.
pub async fn update_account(ctx: Ctx) -> ApiResult<Reply> {
    let data = clean_input(&ctx.data)?;
    save_account(&ctx, data).await
}

/// `PATCH /v2/accounts/{A}`: deep-merge into the stored public part (null removes a key).
pub async fn patch_account(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let stored = load_stored(&ctx.state, &account.id).await?;
    let mut merged = public_fields(&stored);
    strip_private(&mut merged);
    let patch = clean_input(&ctx.data)?;
    crate::domain::json::patch(&mut merged, &patch);
    save_account(&ctx, merged).await
}

async fn load_stored(state: &AppState, id: &AccountId) -> ApiResult<Value> {
    state
        .couch
        .get(&id.db(), id.as_str())
        .await?
        .ok_or_else(|| ApiError::bad_identifier(id.as_str()))
}

async fn save_account(ctx: &Ctx, mut data: Value) -> ApiResult<Reply> {
    let state = &ctx.state;
    let account = ctx.account()?;
    let id = account.id.clone();
    let stored = load_stored(state, &id).await?;
    if let Some(o) = data.as_object_mut() {
        o.remove("enabled");
        if o.get("realm").is_none() {
            if let Some(r) = stored.get("realm") {
                o.insert("realm".into(), r.clone());
            }
        }
    }
    let unique = check_unique(state, &data, Some(id.as_str())).await;
    let schema = validate(state, &mut data);
    match (unique, schema) {
        (Err(a), Err(b)) => return Err(a.merge(b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
        _ => {}
    }
    guard_if_match(ctx, &stored)?;
    let mut doc = data;
    crate::couch::pvt::merge_private(&mut doc, &stored);
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(&id)),
        "account",
        time::now_gregorian(),
    );
    state.couch.save(&id.db(), &mut doc).await?;
    // Keep the `accounts` copy in step (its own revision).
    let mut copy = doc.clone();
    match state.couch.get(ACCOUNTS_DB, id.as_str()).await? {
        Some(existing) => copy["_rev"] = existing["_rev"].clone(),
        None => {
            if let Some(o) = copy.as_object_mut() {
                o.remove("_rev");
            }
        }
    }
    state.couch.save(ACCOUNTS_DB, &mut copy).await?;
    state.forget_account(id.as_str());
    let auth = ctx.auth()?.account_id().to_string();
    Ok(Reply::doc(
        account_view(state, &doc, Some(&auth), false),
        rev(&doc),
    ))
}

/// Our opt-in guard against lost updates (KAZOO ignores revisions: last writer wins):
/// `If-Match: "<rev>"` must name the stored revision, else 409.
pub fn guard_if_match(ctx: &Ctx, stored: &Value) -> ApiResult<()> {
    let Some(wanted) = ctx.headers.get("if-match").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let wanted = wanted.trim().trim_matches('"');
    if wanted == "*" || Some(wanted) == stored.get("_rev").and_then(Value::as_str) {
        Ok(())
    } else {
        Err(ApiError::conflict())
    }
}

/// `DELETE /v2/accounts/{A}`: refused for the master account (405) and while descendants
/// exist; otherwise the account database, its MODBs and the `accounts` copy are removed.
pub async fn delete_account(ctx: Ctx) -> ApiResult<Reply> {
    let state = &ctx.state;
    let account = ctx.account()?;
    let id = account.id.clone();
    if state.master_id().as_deref() == Some(id.as_str()) {
        return Err(ApiError::invalid_method());
    }
    let opts = ViewOpts {
        start_key: Some(json!([id.as_str()])),
        end_key: Some(json!([id.as_str(), {}])),
        limit: Some(1),
        ..Default::default()
    };
    if !state
        .couch
        .view(ACCOUNTS_DB, "accounts", "listing_by_descendants", &opts)
        .await?
        .is_empty()
    {
        return Err(ApiError::System {
            code: 500,
            error: "account_has_descendants",
            data: json!({"message": "account has descendants"}),
        });
    }
    let stored = load_stored(state, &id).await?;
    // Every MODB, whatever its month: recordings and CDRs can name months outside the
    // account's lifetime (a media server's recording id, a CDR's interaction time).
    for modb in state.couch.account_modbs(&id).await? {
        state.couch.delete_db(&modb).await?;
    }
    state.couch.delete_db(&id.db()).await?;
    // Once more now that the account's database is gone: a month's database a writer
    // created after the listing above is either found here, or its writer finds the
    // account gone and removes it (`Couch::save_in`). The account is deleted either way, so
    // a failure here is only logged, as KAZOO does for every monthly database.
    match state.couch.account_modbs(&id).await {
        Ok(late) => {
            for modb in late {
                if let Err(e) = state.couch.delete_db(&modb).await {
                    tracing::warn!(db = %modb, error = %e, "could not remove a monthly database of a deleted account");
                }
            }
        }
        Err(e) => {
            tracing::warn!(account = %id, error = %e, "could not list the monthly databases of a deleted account again")
        }
    }
    if let Some(mut copy) = state.couch.get(ACCOUNTS_DB, id.as_str()).await? {
        copy["_deleted"] = json!(true);
        state.couch.save(ACCOUNTS_DB, &mut copy).await?;
    }
    state.forget_account(id.as_str());
    let auth = ctx.auth()?.account_id().to_string();
    Ok(Reply::ok(account_view(state, &stored, Some(&auth), false)))
}

/// `GET /v2/accounts/{A}/children`.
pub async fn list_children(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.account()?.id.to_string();
    let q = ViewQuery {
        db: ACCOUNTS_DB,
        design: "accounts",
        view: "listing_by_children",
        start: Some(json!([id])),
        end: Some(json!([id, "\u{fff0}"])),
        map: &listing::row_value,
        include_docs: false,
    };
    listing::load(&ctx, q).await
}

/// `GET /v2/accounts/{A}/descendants` (the account itself excluded).
pub async fn list_descendants(ctx: Ctx) -> ApiResult<Reply> {
    let id = ctx.account()?.id.to_string();
    let own = id.clone();
    let map = move |r: crate::couch::Row| {
        (r.value.get("id").and_then(Value::as_str) != Some(own.as_str())).then_some(r.value)
    };
    let q = ViewQuery {
        db: ACCOUNTS_DB,
        design: "accounts",
        view: "listing_by_descendants",
        start: Some(json!([id])),
        end: Some(json!([id, "\u{fff0}"])),
        map: &map,
        include_docs: false,
    };
    listing::load(&ctx, q).await
}

/// `GET /v2/accounts/{A}/siblings`: the parent's children; not for one's own account
/// unless superduper.
pub async fn list_siblings(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?;
    let auth = ctx.auth()?;
    if account.id.as_str() == auth.account_id() && !auth.is_superduper() {
        return Err(ApiError::forbidden());
    }
    let Some(parent) = account.tree().last().cloned() else {
        return Ok(Reply::list(vec![], None));
    };
    let q = ViewQuery {
        db: ACCOUNTS_DB,
        design: "accounts",
        view: "listing_by_children",
        start: Some(json!([parent])),
        end: Some(json!([parent, "\u{fff0}"])),
        map: &listing::row_value,
        include_docs: false,
    };
    listing::load(&ctx, q).await
}

/// `{id, name}` of each ancestor the caller may see (the tree is cut at the auth account).
async fn visible_ancestors(ctx: &Ctx) -> ApiResult<Vec<Value>> {
    let account = ctx.account()?;
    let auth = ctx.auth()?;
    let tree = account.tree();
    let from = if auth.is_superduper() {
        0
    } else {
        tree.iter()
            .position(|a| a == auth.account_id())
            .unwrap_or(tree.len())
    };
    let mut out = vec![];
    for a in &tree[from..] {
        let Some(aid) = AccountId::parse(a) else {
            continue;
        };
        if let Some(info) = ctx.state.account(&aid).await? {
            out.push(json!({"id": a, "name": info.name()}));
        }
    }
    Ok(out)
}

/// `GET /v2/accounts/{A}/parents`.
pub async fn list_parents(ctx: Ctx) -> ApiResult<Reply> {
    Ok(Reply::list(visible_ancestors(&ctx).await?, None))
}

/// `GET /v2/accounts/{A}/tree`: the path from the caller's account down to this one.
pub async fn list_tree(ctx: Ctx) -> ApiResult<Reply> {
    let mut out = visible_ancestors(&ctx).await?;
    let account = ctx.account()?;
    out.push(json!({"id": account.id.as_str(), "name": account.name()}));
    Ok(Reply::list(out, None))
}

/// `GET /v2/accounts/{A}/api_key`.
/// `GET /v2/accounts/{A}/api_key`. KAZOO lets any authorized token read it; under our
/// `priv_level` policy a `user` may not, since the key trades for an admin token
/// (`api_auth`) and would undo the policy.
pub async fn get_api_key(ctx: Ctx) -> ApiResult<Reply> {
    super::users_guard::require_admin(&ctx).await?;
    let account = ctx.account()?;
    let doc = load_stored(&ctx.state, &account.id).await?;
    Ok(Reply::ok(json!({"api_key": doc.get("pvt_api_key")})))
}

/// `PUT /v2/accounts/{A}/api_key`: a new key; account admins only.
pub async fn reset_api_key(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.clone();
    super::users_guard::require_admin(&ctx).await?;
    let mut doc = load_stored(&ctx.state, &account.id).await?;
    doc["pvt_api_key"] = json!(ids::rand_hex(32));
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(&account.id)),
        "account",
        time::now_gregorian(),
    );
    ctx.state.couch.save(&account.id.db(), &mut doc).await?;
    if let Some(mut copy) = ctx
        .state
        .couch
        .get(ACCOUNTS_DB, account.id.as_str())
        .await?
    {
        copy["pvt_api_key"] = doc["pvt_api_key"].clone();
        ctx.state.couch.save(ACCOUNTS_DB, &mut copy).await?;
    }
    ctx.state.forget_account(account.id.as_str());
    Ok(Reply::json(super::envelope::JsonReply {
        status: 201,
        data: json!({"api_key": doc["pvt_api_key"]}),
        ..Default::default()
    }))
}
