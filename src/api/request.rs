//! The request pipeline, in crossbar's fixed order, because KAZOO's answers depend on it:
//! decode body (bad JSON → 400 before auth) → early token check (expired → 401) →
//! route and verb (unknown path → 404, wrong verb → 405) → path account (404) →
//! authenticate (401) → authorize (403) → content type (415). Only then does a handler run,
//! and it receives a [`Ctx`] whose `scope` can only have been built by [`authorize`].

use super::error::{ApiError, ApiResult};
use crate::auth::tokens::{Claims, TokenCheck};
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::state::{AccountInfo, AppState};
use actix_web::http::Method;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    pub token: String,
    pub claims: Claims,
    pub account: Arc<AccountInfo>,
}

impl Auth {
    pub fn account_id(&self) -> &str {
        &self.claims.account_id
    }

    pub fn owner_id(&self) -> Option<&str> {
        self.claims.owner_id.as_deref()
    }

    pub fn is_superduper(&self) -> bool {
        self.account.is_superduper()
    }
}

/// Proof that the caller may act on `account`: only [`authorize`] builds one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountScope {
    pub account: Arc<AccountInfo>,
}

/// Everything a handler gets.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub method: Method,
    /// Request path (without query), e.g. `/v2/accounts/…/users`; used for `location`.
    pub path: String,
    /// `{X}` captures of the matched route, in order (the account id excluded).
    pub ids: Vec<String>,
    pub query: Vec<(String, String)>,
    pub envelope: Map<String, Value>,
    pub data: Value,
    pub request_id: String,
    pub auth: Option<Auth>,
    pub scope: Option<AccountScope>,
    pub client_addr: String,
    pub accept: Option<String>,
    pub headers: actix_web::http::header::HeaderMap,
    /// The raw body of an upload (see [`is_upload`]).
    pub upload: Option<bytes::Bytes>,
}

impl Ctx {
    /// The path account, authorized. Routes with `{A}` always have one.
    pub fn account(&self) -> ApiResult<&Arc<AccountInfo>> {
        self.scope
            .as_ref()
            .map(|s| &s.account)
            .ok_or_else(ApiError::unspecified_fault)
    }

    pub fn auth(&self) -> ApiResult<&Auth> {
        self.auth.as_ref().ok_or_else(ApiError::invalid_credentials)
    }

    /// `cb_context:req_value`: data, then query string, then envelope.
    pub fn req_value(&self, key: &str) -> Option<Value> {
        if let Some(v) = self.data.get(key) {
            return Some(v.clone());
        }
        if let Some(v) = crate::domain::paging::query_get(&self.query, key) {
            return Some(Value::String(v.to_string()));
        }
        self.envelope.get(key).cloned()
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        crate::domain::paging::query_get(&self.query, key)
    }

    pub fn id(&self, i: usize) -> &str {
        self.ids.get(i).map(String::as_str).unwrap_or("")
    }

    pub fn write_ctx(&self, account: Option<&AccountId>) -> crate::couch::pvt::WriteCtx {
        crate::couch::pvt::WriteCtx {
            account_id: account.map(|a| a.as_str().to_string()),
            encoded_db: account.map(AccountId::encoded_db),
            request_id: self.request_id.clone(),
            auth_account_id: self.auth.as_ref().map(|a| a.account_id().to_string()),
            auth_user_id: self
                .auth
                .as_ref()
                .and_then(|a| a.owner_id().map(str::to_string)),
        }
    }
}

/// Decode the body into crossbar's envelope (`api_util:get_req_data`).
pub fn decode_body(body: &[u8]) -> ApiResult<(Map<String, Value>, Value)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Map::new(), json!({})));
    }
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_json(&json_error_message(&e)))?;
    let Value::Object(raw) = parsed else {
        return Err(ApiError::invalid_json("All JSON must be valid"));
    };
    // Top-level envelope keys are normalised: lowercased, `-` → `_`.
    let envelope: Map<String, Value> = raw
        .into_iter()
        .map(|(k, v)| (k.to_lowercase().replace('-', "_"), v))
        .collect();
    match envelope.get("data") {
        None => Err(ApiError::validation(
            "data",
            "required",
            json!({"message": "Field is required but missing", "value": Value::Object(envelope.clone())}),
        )),
        Some(d) if !(d.is_object() || d.is_array()) => Err(ApiError::validation(
            "data",
            "type",
            json!({"message": "Value did not match type(s): object, array", "target": ["object", "array"], "value": d}),
        )),
        Some(d) => {
            let data = d.clone();
            Ok((envelope, data))
        }
    }
}

/// jiffy-style `<reason> around <position>` for a serde_json error.
fn json_error_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let reason = match e.classify() {
        Category::Eof => "truncated_json",
        Category::Syntax => "invalid_json",
        Category::Data | Category::Io => "invalid_json",
    };
    format!("{reason} around {}", e.column())
}

/// Where the token is looked for (`api_util:get_auth_token`): `X-Auth-Token`, then
/// `auth_token` in data / query / envelope, then `Authorization: Bearer`.
pub fn find_token(
    headers: &actix_web::http::header::HeaderMap,
    query: &[(String, String)],
    data: &Value,
    envelope: &Map<String, Value>,
) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(t) = header("x-auth-token").filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    if let Some(t) = data.get("auth_token").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    if let Some(t) = crate::domain::paging::query_get(query, "auth_token") {
        return Some(t.to_string());
    }
    if let Some(t) = envelope.get("auth_token").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    header("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

/// Step 2 (`early_authenticate`): a token that is ours but expired or revoked is a 401 at
/// once; one that is not ours at all counts as no token (public routes still work).
pub async fn early_authenticate(
    state: &AppState,
    token: Option<String>,
    headers: &actix_web::http::header::HeaderMap,
) -> ApiResult<Option<Auth>> {
    let Some(token) = token else { return Ok(None) };
    match state.tokens.check(&token, time::now_unix()) {
        TokenCheck::Invalid => Ok(None),
        TokenCheck::Expired => Err(ApiError::response_401()),
        TokenCheck::Valid(claims) => {
            // `X-Auth-Account-Id`, when sent, must match the token (kz_auth:validate_claims).
            if let Some(h) = headers
                .get("x-auth-account-id")
                .and_then(|v| v.to_str().ok())
            {
                if h != claims.account_id {
                    return Err(ApiError::Response {
                        code: 401,
                        message: "account header mismatch".into(),
                        data: json!({}),
                    });
                }
            }
            let Some(account_id) = AccountId::parse(&claims.account_id) else {
                return Err(ApiError::response_401());
            };
            // The token's account must still exist (a deleted account's tokens die with it).
            let Some(account) = state.account(&account_id).await? else {
                return Err(ApiError::response_401());
            };
            Ok(Some(Auth {
                token,
                claims,
                account,
            }))
        }
    }
}

/// Step 3 (`malformed_request`): the path account must be well formed and exist.
pub async fn load_path_account(state: &AppState, raw: &str) -> ApiResult<Arc<AccountInfo>> {
    if raw.is_empty() {
        return Err(ApiError::System {
            code: 404,
            error: "bad_identifier",
            data: json!({"message": "missing account_id"}),
        });
    }
    let Some(id) = AccountId::parse(raw) else {
        return Err(ApiError::System {
            code: 404,
            error: "bad_identifier",
            data: json!({"message": format!("invalid account_id '{raw}'")}),
        });
    };
    state
        .account(&id)
        .await?
        .ok_or_else(|| ApiError::bad_identifier(raw))
}

/// Step 5 (`cb_simple_authz`): a token acts on its own account and its descendants; the
/// superduper admin acts anywhere. Parents and siblings are out of reach.
pub fn authorize(auth: &Auth, account: Arc<AccountInfo>) -> ApiResult<AccountScope> {
    let own = auth.account_id();
    if auth.is_superduper() || account.id.as_str() == own || account.tree().iter().any(|a| a == own)
    {
        Ok(AccountScope { account })
    } else {
        Err(ApiError::forbidden())
    }
}

/// Step 6 (`known_content_type`) for PUT/POST/PATCH; a missing type is treated as JSON.
/// The base content type of the request, lowercased.
pub fn content_type(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A body that is a file, not a JSON envelope: images, base64 and html (crossbar's
/// `?IMAGE_CONTENT_TYPES`, `?BASE64_CONTENT_TYPES`, `text/html`).
pub fn is_upload(headers: &actix_web::http::header::HeaderMap) -> bool {
    let ct = content_type(headers);
    ct.starts_with("image/")
        || matches!(
            ct.as_str(),
            "application/base64" | "application/x-base64" | "text/html"
        )
}

pub fn content_type_ok(headers: &actix_web::http::header::HeaderMap) -> bool {
    let Some(ct) = headers.get("content-type").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        base.as_str(),
        "" | "application/json"
            | "application/x-json"
            | "application/x-www-form-urlencoded"
            | "multipart/form-data"
            | "multipart/mixed"
            | "application/octet-stream"
            | "text/csv"
            | "text/comma-separated-values"
            | "application/x-base64"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_decoding_errors() {
        assert!(decode_body(b"").is_ok());
        assert!(
            matches!(decode_body(b"{bad"), Err(ApiError::Validation(m)) if m.contains_key("json"))
        );
        assert!(
            matches!(decode_body(b"[1]"), Err(ApiError::Validation(m)) if m["json"]["invalid"]["message"] == "All JSON must be valid")
        );
        assert!(
            matches!(decode_body(br#"{"x":1}"#), Err(ApiError::Validation(m)) if m["data"]["required"]["value"] == json!({"x":1}))
        );
        assert!(
            matches!(decode_body(br#"{"data":5}"#), Err(ApiError::Validation(m)) if m.contains_key("data"))
        );
        let (env, data) =
            decode_body(br#"{"Data":{"a":1},"Auth-Token":"t","VERB":"PUT"}"#).unwrap();
        assert_eq!(data, json!({"a":1}));
        assert_eq!(env["auth_token"], "t");
        assert_eq!(env["verb"], "PUT");
    }

    #[test]
    fn content_types() {
        let mut h = actix_web::http::header::HeaderMap::new();
        assert!(content_type_ok(&h));
        h.insert(
            "content-type".parse().unwrap(),
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(content_type_ok(&h));
        h.insert(
            "content-type".parse().unwrap(),
            "text/plain".parse().unwrap(),
        );
        assert!(!content_type_ok(&h));
    }
}
