//! Whitelabel (`cb_whitelabel.erl`): an account's branding, one document `whitelabel` in
//! the account database with its logo/icon/welcome as attachments. Monster UI reads it
//! before login by domain (`GET /v2/whitelabel/{domain}`, no token), found through the
//! `accounts` view `accounts/list_by_whitelabel_domain` on the account's
//! `pvt_whitelabel_domain`, which saving the whitelabel document keeps in step.

use super::binary;
use super::envelope::Reply;
use super::error::{ApiError, ApiResult};
use super::request::Ctx;
use crate::couch::ACCOUNTS_DB;
use crate::domain::ids::AccountId;
use crate::domain::json::public_fields;
use crate::domain::time;
use crate::state::AppState;
use serde_json::{json, Value};

const ID: &str = "whitelabel";
const KINDS: [&str; 3] = ["logo", "icon", "welcome"];

/// The accounts whose whitelabel domain is `domain` (case-insensitive).
async fn accounts_for_domain(state: &AppState, domain: &str) -> ApiResult<Vec<String>> {
    let rows = state
        .couch
        .view(
            ACCOUNTS_DB,
            "accounts",
            "list_by_whitelabel_domain",
            &crate::couch::ViewOpts {
                key: Some(json!(domain.to_lowercase())),
                ..Default::default()
            },
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.value.get("account_id")?.as_str().map(str::to_string))
        .collect())
}

/// The whitelabel document of an account, if it has a live one.
async fn load_doc(state: &AppState, account: &AccountId) -> ApiResult<Option<Value>> {
    Ok(state.couch.get(&account.db(), ID).await?.filter(|d| {
        d.get("pvt_type").and_then(Value::as_str) == Some(ID)
            && !d
                .get("pvt_deleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
    }))
}

/// By domain: exactly one account must have it (0 or several → 404 naming the domain).
async fn by_domain(state: &AppState, domain: &str) -> ApiResult<(AccountId, Value)> {
    let accounts = accounts_for_domain(state, domain).await?;
    let [one] = accounts.as_slice() else {
        return Err(ApiError::bad_identifier(domain));
    };
    let account = AccountId::parse(one).ok_or_else(|| ApiError::bad_identifier(domain))?;
    let doc = load_doc(state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    Ok((account, doc))
}

fn view(doc: &Value) -> Value {
    let mut out = public_fields(doc);
    out["id"] = json!(ID);
    out
}

/// `GET /v2/whitelabel/{domain}` (no token needed).
pub async fn get_by_domain(ctx: Ctx) -> ApiResult<Reply> {
    let (_, doc) = by_domain(&ctx.state, ctx.id(0)).await?;
    Ok(Reply::ok(view(&doc)))
}

/// The attachment of a kind: the first whose name starts with it; a lone attachment not
/// named `icon…` counts as the logo (`filter_attachment_type/2`).
fn attachment_name(doc: &Value, kind: &str) -> Option<String> {
    let atts = doc.get("_attachments")?.as_object()?;
    if let Some(name) = atts.keys().find(|k| k.starts_with(kind)) {
        return Some(name.clone());
    }
    match (kind, atts.len()) {
        ("logo", 1) => atts.keys().find(|k| !k.starts_with("icon")).cloned(),
        _ => None,
    }
}

async fn serve(state: &AppState, account: &AccountId, doc: &Value, kind: &str) -> ApiResult<Reply> {
    let missing = || ApiError::response_bad_identifier(kind);
    let name = attachment_name(doc, kind).ok_or_else(missing)?;
    binary::attachment(state, &account.db(), ID, &name)
        .await?
        .ok_or_else(missing)
}

fn kind_of(ctx: &Ctx) -> &'static str {
    KINDS
        .into_iter()
        .find(|k| ctx.path.ends_with(&format!("/{k}")))
        .unwrap_or("logo")
}

/// `GET /v2/whitelabel/{domain}/logo|icon|welcome` (no token needed).
pub async fn get_domain_binary(ctx: Ctx) -> ApiResult<Reply> {
    let (account, doc) = by_domain(&ctx.state, ctx.id(0)).await?;
    serve(&ctx.state, &account, &doc, kind_of(&ctx)).await
}

/// `GET /v2/accounts/{A}/whitelabel/logo|icon|welcome`.
pub async fn get_binary(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let doc = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    serve(&ctx.state, &account, &doc, kind_of(&ctx)).await
}

pub async fn get_whitelabel(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let doc = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    Ok(Reply::doc(view(&doc), super::docs::rev(&doc)))
}

/// Schema plus the domain check: unique unless only this account has it.
async fn validate(ctx: &Ctx, mut data: Value) -> ApiResult<Value> {
    let account = ctx.account()?.id.clone();
    let mut unique = Ok(());
    if let Some(domain) = data.get("domain").and_then(Value::as_str) {
        let owners = accounts_for_domain(&ctx.state, domain).await?;
        if !(owners.is_empty() || owners == [account.to_string()]) {
            unique = Err(ApiError::validation(
                "domain",
                "unique",
                json!({"message": "White label domain is already in use", "cause": domain}),
            ));
        }
    }
    let schema = super::docs::schema(ctx, ID, &mut data);
    super::docs::collect(vec![unique, schema])?;
    Ok(data)
}

/// Copy the domain onto the account document (both copies), or remove it.
async fn set_account_domain(ctx: &Ctx, domain: Option<&str>) -> ApiResult<()> {
    let state = &ctx.state;
    let account = ctx.account()?.id.clone();
    for db in [account.db(), ACCOUNTS_DB.to_string()] {
        for _ in 0..3 {
            let Some(mut doc) = state.couch.get(&db, account.as_str()).await? else {
                break;
            };
            if doc.get("pvt_whitelabel_domain").and_then(Value::as_str) == domain {
                break;
            }
            match domain {
                Some(d) => doc["pvt_whitelabel_domain"] = json!(d),
                None => {
                    if let Some(o) = doc.as_object_mut() {
                        o.remove("pvt_whitelabel_domain");
                    }
                }
            }
            doc["pvt_modified"] = json!(time::now_gregorian());
            match state.couch.save(&db, &mut doc).await {
                Err(crate::couch::CouchError::Conflict) => continue,
                other => {
                    other?;
                    break;
                }
            }
        }
    }
    state.forget_account(account.as_str());
    Ok(())
}

pub async fn create_whitelabel(ctx: Ctx) -> ApiResult<Reply> {
    let data = super::docs::input(&ctx, None)?;
    let mut doc = validate(&ctx, data).await?;
    let account = ctx.account()?.id.clone();
    if load_doc(&ctx.state, &account).await?.is_some() {
        return Err(ApiError::conflict());
    }
    // A soft-deleted or foreign-typed leftover is replaced.
    if let Some(old) = ctx.state.couch.get(&account.db(), ID).await? {
        doc["_rev"] = old["_rev"].clone();
    }
    doc["_id"] = json!(ID);
    crate::couch::pvt::stamp(
        &mut doc,
        &ctx.write_ctx(Some(&account)),
        ID,
        time::now_gregorian(),
    );
    ctx.state.couch.save(&account.db(), &mut doc).await?;
    set_account_domain(&ctx, doc.get("domain").and_then(Value::as_str)).await?;
    Ok(Reply::created(
        view(&doc),
        super::docs::rev(&doc),
        ctx.path.clone(),
    ))
}

pub async fn update_whitelabel(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let stored = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    let data = super::docs::input(&ctx, Some(&stored))?;
    let mut data = validate(&ctx, data).await?;
    // Attachments stay with the document across a replacement of its public part.
    if let Some(a) = stored.get("_attachments") {
        data["_attachments"] = a.clone();
    }
    let (doc, reply) = super::docs::update(&ctx, data, &stored, ID).await?;
    set_account_domain(&ctx, doc.get("domain").and_then(Value::as_str)).await?;
    let Reply::Json(mut j) = reply else {
        return Ok(reply);
    };
    j.data = view(&doc);
    Ok(Reply::Json(j))
}

/// Hard delete, as crossbar does for whitelabel.
pub async fn delete_whitelabel(ctx: Ctx) -> ApiResult<Reply> {
    let account = ctx.account()?.id.clone();
    let mut stored = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    let mut out = view(&stored);
    stored["_deleted"] = json!(true);
    ctx.state.couch.save(&account.db(), &mut stored).await?;
    set_account_domain(&ctx, None).await?;
    out["_read_only"] = json!({"deleted": true});
    Ok(Reply::ok(out))
}

/// `POST /v2/accounts/{A}/whitelabel/logo|icon|welcome` with the file as the body (an
/// image, base64 or html); stored as the attachment `<kind>-<file name>`.
pub async fn upload_binary(ctx: Ctx) -> ApiResult<Reply> {
    let kind = kind_of(&ctx);
    let ct = super::request::content_type(&ctx.headers);
    let accepted = match kind {
        "welcome" => ct == "text/html",
        "icon" => ct.starts_with("image/") || ct.ends_with("base64"),
        _ => {
            matches!(
                ct.as_str(),
                "image/jpg" | "image/jpeg" | "image/png" | "image/gif"
            ) || ct.ends_with("base64")
        }
    };
    if !accepted {
        return Err(ApiError::Bare(415));
    }
    let body = ctx.upload.clone().unwrap_or_default();
    if body.is_empty() {
        let what = if kind == "welcome" {
            "an html"
        } else {
            "an image"
        };
        return Err(ApiError::validation(
            "file",
            "required",
            json!({"message": format!("Please provide {what} file")}),
        ));
    }
    let (content_type, bytes) = binary::decode_upload(&ct, &body)?;
    let account = ctx.account()?.id.clone();
    let db = account.db();
    let mut doc = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    let filename = ctx
        .query("filename")
        .filter(|f| !f.is_empty() && crate::domain::ids::is_acceptable_doc_id(f))
        .map(str::to_string)
        .unwrap_or_else(|| format!("uploaded_file_{}", time::now_gregorian()));
    let filename = if filename.contains('.') {
        filename
    } else {
        format!("{filename}.{}", binary::extension_for(&content_type))
    };
    let name: String = format!("{kind}-{filename}")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // Replace the previous file of this kind.
    if let Some(atts) = doc.get_mut("_attachments").and_then(Value::as_object_mut) {
        atts.retain(|k, _| !k.starts_with(kind));
    }
    ctx.state.couch.save(&db, &mut doc).await?;
    let rev = super::docs::rev(&doc).unwrap_or_default();
    let stream: crate::couch::AttachmentStream = Box::pin(futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    }));
    ctx.state
        .couch
        .put_attachment(&db, ID, &rev, &name, &content_type, stream)
        .await?;
    let doc = load_doc(&ctx.state, &account)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(ID))?;
    Ok(Reply::doc(view(&doc), super::docs::rev(&doc)))
}
