//! The crossbar-compatible HTTP API: the route table (the whole API at a glance) and the
//! dispatcher that runs the pipeline of [`request`] before a handler.

pub mod accounts;
pub mod alerts;
pub mod apps_store;
pub mod att_handlers_errors;
pub mod auth;
pub mod binary;
pub mod callflows;
pub mod cdrs;
pub mod csv;
pub mod devices;
pub mod docs;
pub mod envelope;
pub mod error;
pub mod limits;
pub mod listing;
pub mod metaflows;
pub mod openapi;
pub mod queues;
pub mod recording_decision;
pub mod recording_media;
pub mod recordings;
pub mod request;
pub mod retention;
pub mod storage;
pub mod storage_media;
pub mod users;
pub mod users_guard;
pub mod whitelabel;

use envelope::{EnvelopeCtx, Reply};
use error::{ApiError, ApiResult};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use request::Ctx;

use crate::state::AppState;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;

pub type HandlerFn = fn(Ctx) -> BoxFuture<'static, ApiResult<Reply>>;

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// The handler authenticates the caller itself (user_auth, api_auth, tokeninfo).
    Public,
    /// A valid token; with `{A}` in the path, also authorized for that account.
    Token,
}

pub struct Route {
    pub method: Method,
    /// Segments after `/v2/`; `{A}` is the account id, other `{X}` are captured ids.
    pub path: &'static str,
    pub access: Access,
    pub handler: HandlerFn,
}

macro_rules! route {
    ($m:ident, $path:expr, $access:ident, $h:path) => {
        Route {
            method: Method::$m,
            path: $path,
            access: Access::$access,
            handler: |ctx| Box::pin($h(ctx)),
        }
    };
}

/// Every path × verb we serve. Paths are crossbar's, relative to `/v2/`.
pub fn routes() -> Vec<Route> {
    vec![
        // --- authentication (auth.rs)
        route!(PUT, "user_auth", Public, auth::user_auth),
        route!(GET, "user_auth/{T}", Token, auth::user_auth_token),
        route!(PUT, "api_auth", Public, auth::api_auth),
        route!(GET, "token_auth", Token, auth::token_info),
        route!(DELETE, "token_auth", Token, auth::revoke_token),
        route!(GET, "auth/tokeninfo", Public, auth::tokeninfo),
        route!(POST, "auth/tokeninfo", Public, auth::tokeninfo),
        // --- this description of the API (openapi.rs, our extension)
        route!(GET, "rec_ext/openapi.json", Public, openapi::get),
        // --- whitelabel (whitelabel.rs): by domain without a token, before login
        route!(GET, "whitelabel/{W}", Public, whitelabel::get_by_domain),
        route!(
            GET,
            "whitelabel/{W}/logo",
            Public,
            whitelabel::get_domain_binary
        ),
        route!(
            GET,
            "whitelabel/{W}/icon",
            Public,
            whitelabel::get_domain_binary
        ),
        route!(
            GET,
            "whitelabel/{W}/welcome",
            Public,
            whitelabel::get_domain_binary
        ),
        route!(
            GET,
            "accounts/{A}/whitelabel",
            Token,
            whitelabel::get_whitelabel
        ),
        route!(
            PUT,
            "accounts/{A}/whitelabel",
            Token,
            whitelabel::create_whitelabel
        ),
        route!(
            POST,
            "accounts/{A}/whitelabel",
            Token,
            whitelabel::update_whitelabel
        ),
        route!(
            DELETE,
            "accounts/{A}/whitelabel",
            Token,
            whitelabel::delete_whitelabel
        ),
        route!(
            GET,
            "accounts/{A}/whitelabel/logo",
            Token,
            whitelabel::get_binary
        ),
        route!(
            POST,
            "accounts/{A}/whitelabel/logo",
            Token,
            whitelabel::upload_binary
        ),
        route!(
            GET,
            "accounts/{A}/whitelabel/icon",
            Token,
            whitelabel::get_binary
        ),
        route!(
            POST,
            "accounts/{A}/whitelabel/icon",
            Token,
            whitelabel::upload_binary
        ),
        route!(
            GET,
            "accounts/{A}/whitelabel/welcome",
            Token,
            whitelabel::get_binary
        ),
        route!(
            POST,
            "accounts/{A}/whitelabel/welcome",
            Token,
            whitelabel::upload_binary
        ),
        // --- the app store (apps_store.rs); icons and screenshots also without a token
        route!(GET, "apps_store/{P}/icon", Public, apps_store::get_icon),
        route!(
            GET,
            "apps_store/{P}/screenshot/{N}",
            Public,
            apps_store::get_screenshot
        ),
        route!(GET, "accounts/{A}/apps_store", Token, apps_store::list_apps),
        route!(
            GET,
            "accounts/{A}/apps_store/blacklist",
            Token,
            apps_store::get_blacklist
        ),
        route!(
            POST,
            "accounts/{A}/apps_store/blacklist",
            Token,
            apps_store::set_blacklist
        ),
        route!(
            GET,
            "accounts/{A}/apps_store/{P}",
            Token,
            apps_store::get_app
        ),
        route!(
            PUT,
            "accounts/{A}/apps_store/{P}",
            Token,
            apps_store::modify_app
        ),
        route!(
            POST,
            "accounts/{A}/apps_store/{P}",
            Token,
            apps_store::modify_app
        ),
        route!(
            DELETE,
            "accounts/{A}/apps_store/{P}",
            Token,
            apps_store::modify_app
        ),
        route!(
            GET,
            "accounts/{A}/apps_store/{P}/icon",
            Token,
            apps_store::get_icon
        ),
        route!(
            GET,
            "accounts/{A}/apps_store/{P}/screenshot/{N}",
            Token,
            apps_store::get_screenshot
        ),
        // --- what Monster UI's core reads after login (alerts.rs, limits.rs)
        route!(GET, "accounts/{A}/alerts", Token, alerts::list_alerts),
        route!(GET, "accounts/{A}/limits", Token, limits::get_limits),
        route!(
            GET,
            "accounts/{A}/ledgers/total",
            Token,
            limits::ledgers_total
        ),
        // --- call detail records (cdrs.rs); literal paths before `{C}`
        route!(GET, "accounts/{A}/cdrs", Token, cdrs::list_cdrs),
        route!(
            GET,
            "accounts/{A}/cdrs/interaction",
            Token,
            cdrs::list_interactions
        ),
        route!(GET, "accounts/{A}/cdrs/legs/{L}", Token, cdrs::get_legs),
        route!(GET, "accounts/{A}/cdrs/{C}", Token, cdrs::get_cdr),
        // --- retention (retention.rs, our extension)
        route!(
            GET,
            "accounts/{A}/rec_ext/retention",
            Token,
            retention::get_policy
        ),
        route!(
            POST,
            "accounts/{A}/rec_ext/retention",
            Token,
            retention::set_policy
        ),
        route!(
            POST,
            "accounts/{A}/rec_ext/retention/run",
            Token,
            retention::run_now
        ),
        route!(
            GET,
            "accounts/{A}/rec_ext/retention/audits",
            Token,
            retention::list_audits
        ),
        // --- ACDc queues (queues.rs)
        route!(GET, "accounts/{A}/queues", Token, queues::list_queues),
        route!(PUT, "accounts/{A}/queues", Token, queues::create_queue),
        route!(GET, "accounts/{A}/queues/{Q}", Token, queues::get_queue),
        route!(POST, "accounts/{A}/queues/{Q}", Token, queues::update_queue),
        route!(
            PATCH,
            "accounts/{A}/queues/{Q}",
            Token,
            queues::update_queue
        ),
        route!(
            DELETE,
            "accounts/{A}/queues/{Q}",
            Token,
            queues::delete_queue
        ),
        route!(
            GET,
            "accounts/{A}/queues/{Q}/roster",
            Token,
            queues::get_roster
        ),
        route!(
            POST,
            "accounts/{A}/queues/{Q}/roster",
            Token,
            queues::set_roster
        ),
        route!(
            DELETE,
            "accounts/{A}/queues/{Q}/roster",
            Token,
            queues::delete_roster
        ),
        // --- accounts (accounts.rs)
        route!(PUT, "accounts", Token, accounts::create_account),
        route!(GET, "accounts/{A}", Token, accounts::get_account),
        route!(PUT, "accounts/{A}", Token, accounts::create_account),
        route!(POST, "accounts/{A}", Token, accounts::update_account),
        route!(PATCH, "accounts/{A}", Token, accounts::patch_account),
        route!(DELETE, "accounts/{A}", Token, accounts::delete_account),
        route!(GET, "accounts/{A}/children", Token, accounts::list_children),
        route!(
            GET,
            "accounts/{A}/descendants",
            Token,
            accounts::list_descendants
        ),
        route!(GET, "accounts/{A}/siblings", Token, accounts::list_siblings),
        route!(GET, "accounts/{A}/parents", Token, accounts::list_parents),
        route!(GET, "accounts/{A}/tree", Token, accounts::list_tree),
        route!(GET, "accounts/{A}/api_key", Token, accounts::get_api_key),
        route!(PUT, "accounts/{A}/api_key", Token, accounts::reset_api_key),
        route!(
            GET,
            "accounts/{A}/metaflows",
            Token,
            metaflows::get_metaflows
        ),
        route!(
            POST,
            "accounts/{A}/metaflows",
            Token,
            metaflows::set_metaflows
        ),
        route!(
            DELETE,
            "accounts/{A}/metaflows",
            Token,
            metaflows::delete_metaflows
        ),
        // --- users (users.rs)
        route!(GET, "accounts/{A}/users", Token, users::list_users),
        route!(PUT, "accounts/{A}/users", Token, users::create_user),
        route!(GET, "accounts/{A}/users/{U}", Token, users::get_user),
        route!(POST, "accounts/{A}/users/{U}", Token, users::update_user),
        route!(PATCH, "accounts/{A}/users/{U}", Token, users::update_user),
        route!(DELETE, "accounts/{A}/users/{U}", Token, users::delete_user),
        route!(
            GET,
            "accounts/{A}/users/{U}/devices",
            Token,
            devices::list_user_devices
        ),
        // --- devices (devices.rs)
        route!(GET, "accounts/{A}/devices", Token, devices::list_devices),
        route!(PUT, "accounts/{A}/devices", Token, devices::create_device),
        route!(GET, "accounts/{A}/devices/{D}", Token, devices::get_device),
        route!(
            POST,
            "accounts/{A}/devices/{D}",
            Token,
            devices::update_device
        ),
        route!(
            PATCH,
            "accounts/{A}/devices/{D}",
            Token,
            devices::update_device
        ),
        route!(
            DELETE,
            "accounts/{A}/devices/{D}",
            Token,
            devices::delete_device
        ),
        // --- storage (storage.rs)
        route!(GET, "accounts/{A}/storage", Token, storage::get_storage),
        route!(PUT, "accounts/{A}/storage", Token, storage::create_storage),
        route!(POST, "accounts/{A}/storage", Token, storage::update_storage),
        route!(
            PATCH,
            "accounts/{A}/storage",
            Token,
            storage::update_storage
        ),
        route!(
            DELETE,
            "accounts/{A}/storage",
            Token,
            storage::delete_storage
        ),
        // --- recordings (recordings.rs)
        route!(
            GET,
            "accounts/{A}/recordings",
            Token,
            recordings::list_recordings
        ),
        route!(
            GET,
            "accounts/{A}/recordings/{R}",
            Token,
            recordings::get_recording
        ),
        route!(
            DELETE,
            "accounts/{A}/recordings/{R}",
            Token,
            recordings::delete_recording
        ),
        route!(
            GET,
            "accounts/{A}/users/{U}/recordings",
            Token,
            recordings::list_user_recordings
        ),
        route!(
            GET,
            "accounts/{A}/att_handlers_errors",
            Token,
            att_handlers_errors::list_errors
        ),
        route!(
            GET,
            "accounts/{A}/att_handlers_errors/{E}",
            Token,
            att_handlers_errors::get_error
        ),
        // --- our extensions (never KAZOO nouns)
        route!(
            POST,
            "accounts/{A}/rec_ext/explain",
            Token,
            recording_decision::explain
        ),
        // --- callflows (callflows.rs)
        route!(
            GET,
            "accounts/{A}/callflows",
            Token,
            callflows::list_callflows
        ),
        route!(
            PUT,
            "accounts/{A}/callflows",
            Token,
            callflows::create_callflow
        ),
        route!(
            GET,
            "accounts/{A}/callflows/{C}",
            Token,
            callflows::get_callflow
        ),
        route!(
            POST,
            "accounts/{A}/callflows/{C}",
            Token,
            callflows::update_callflow
        ),
        route!(
            PATCH,
            "accounts/{A}/callflows/{C}",
            Token,
            callflows::update_callflow
        ),
        route!(
            DELETE,
            "accounts/{A}/callflows/{C}",
            Token,
            callflows::delete_callflow
        ),
    ]
}

/// The routes matching a path (one per verb, literal ones first) and its account segment.
struct Matched<'r> {
    routes: Vec<&'r Route>,
    account: Option<String>,
}

fn match_path<'r>(table: &'r [Route], segs: &[&str]) -> Option<Matched<'r>> {
    let mut found: Option<Matched> = None;
    for r in table {
        let pat: Vec<&str> = r.path.split('/').collect();
        if pat.len() != segs.len() {
            continue;
        }
        let mut account = None;
        let ok = pat.iter().zip(segs).all(|(p, s)| match *p {
            "{A}" => {
                account = Some(s.to_string());
                true
            }
            p if p.starts_with('{') => true,
            p => p == *s,
        });
        if ok {
            match &mut found {
                Some(m) => m.routes.push(r),
                None => {
                    found = Some(Matched {
                        routes: vec![r],
                        account,
                    })
                }
            }
        }
    }
    found
}

/// The `{X}` captures (not `{A}`) of `segs` under a route's path.
fn captures(path: &str, segs: &[&str]) -> Vec<String> {
    path.split('/')
        .zip(segs)
        .filter(|(p, _)| p.starts_with('{') && *p != "{A}")
        .map(|(_, s)| s.to_string())
        .collect()
}

/// Nouns this service knows; an unmatched path under one of them is a plain 404.
fn is_known_noun(table: &[Route], seg: &str) -> bool {
    table.iter().any(|r| r.path.split('/').any(|p| p == seg))
}

fn allowed_methods(m: Option<&Matched>) -> Vec<String> {
    m.map(|m| m.routes.iter().map(|r| r.method.to_string()).collect())
        .unwrap_or_default()
}

/// CORS as crossbar sends it, on every response (Monster UI needs it on errors too).
fn cors_headers(requested: Option<&str>, allowed: &[String]) -> Vec<(&'static str, String)> {
    let mut methods: Vec<String> = vec![];
    if let Some(r) = requested {
        methods.push(r.to_string());
    }
    methods.push("OPTIONS".into());
    for m in allowed {
        if !methods.contains(m) {
            methods.push(m.clone());
        }
    }
    vec![
        ("access-control-allow-origin", "*".into()),
        ("access-control-allow-methods", methods.join(", ")),
        (
            "access-control-allow-headers",
            "content-type, depth, user-agent, x-http-method-override, x-file-size, x-requested-with, if-modified-since, x-file-name, cache-control, x-auth-token, x-kazoo-cluster-id, if-match".into(),
        ),
        (
            "access-control-expose-headers",
            "content-type, x-auth-token, x-request-id, x-kazoo-cluster-id, location, etag, etag".into(),
        ),
        ("access-control-max-age", "86400".into()),
    ]
}

fn set_headers(resp: &mut HttpResponse, pairs: Vec<(&'static str, String)>) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Read the body up to `max` bytes (crossbar's `max_upload_size`).
async fn read_body(mut payload: web::Payload, max: usize) -> ApiResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid_json("failed to read request body"))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::validation(
                "file",
                "maxSize",
                serde_json::json!({"message": format!("Payload or Files must not be more than {max} bytes"), "target": max}),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The single entry point for every `/v2/...` request.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    table: web::Data<Vec<Route>>,
) -> HttpResponse {
    let state: Arc<AppState> = state.into_inner();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(crate::domain::ids::new_id);
    let mut query = parse_query(req.query_string());
    // KAZOO 4.3's API version 1: the same resources, never paginated (`cb_context:
    // should_paginate/1`), so no `page_size`/`next_start_key` in the envelope.
    if req.path().starts_with("/v1/") {
        query.retain(|(k, _)| !matches!(k.as_str(), "paginate" | "page_size" | "start_key"));
        query.push(("paginate".into(), "false".into()));
    }
    let pretty =
        crate::domain::paging::is_true(crate::domain::paging::query_get(&query, "pretty_print"))
            || req
                .headers()
                .get("x-pretty-print")
                .is_some_and(|v| v == "true");
    let jsonp = crate::domain::paging::query_get(&query, "jsonp")
        .filter(|cb| {
            !cb.is_empty()
                && cb.len() < 64
                && cb
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        })
        .map(str::to_string);

    let path = req.path().to_string();
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v1/"))
        .unwrap_or("");
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = rest.split('/').collect();
    let matched = match_path(&table, &segs);
    let allowed = allowed_methods(matched.as_ref());
    let requested = req
        .headers()
        .get("access-control-request-method")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    // OPTIONS is never authenticated: 200, empty body, CORS headers.
    if req.method() == Method::OPTIONS {
        let mut resp = HttpResponse::Ok().finish();
        set_headers(&mut resp, cors_headers(requested.as_deref(), &allowed));
        set_headers(&mut resp, vec![("x-request-id", request_id)]);
        return resp;
    }

    let mut token_for_env: Option<String> = None;
    let mut authenticated = false;
    let outcome = run(
        &req,
        payload,
        &state,
        &table,
        matched,
        segs.as_slice(),
        query,
        request_id.clone(),
        &path,
        &mut token_for_env,
        &mut authenticated,
    )
    .await;

    let env = EnvelopeCtx {
        request_id: &request_id,
        auth_token: token_for_env.as_deref(),
        authenticated,
        node: &state.node,
        version: &state.cfg.kazoo_version,
        pretty,
        jsonp: jsonp.as_deref(),
    };
    let mut resp = match outcome {
        Ok((reply, csv)) => render_reply(&env, reply, csv, req.method() == Method::GET),
        Err(ApiError::Bare(code)) => envelope::status(code).finish(),
        Err(err) => {
            if err.code() >= 500 {
                tracing::warn!(request_id = %request_id, code = err.code(), "request failed");
            }
            let body = envelope::error_body(&env, &err);
            envelope::json_response(envelope::status(err.code()), &env, &body)
        }
    };
    set_headers(&mut resp, cors_headers(requested.as_deref(), &allowed));
    set_headers(&mut resp, vec![("x-request-id", request_id)]);
    resp
}

fn render_reply(env: &EnvelopeCtx, reply: Reply, csv: bool, is_get: bool) -> HttpResponse {
    match reply {
        Reply::Json(j) => {
            if csv {
                if let Some(text) = csv::render(&j.data) {
                    let mut b = envelope::status(j.status);
                    b.insert_header(("content-type", "text/csv"));
                    b.insert_header(("content-disposition", "attachment; filename=\"result.csv\""));
                    return b.body(text);
                }
            }
            let mut b = envelope::status(j.status);
            if let Some(loc) = &j.location {
                b.insert_header(("location", loc.clone()));
            }
            if let (Some(rev), true) = (&j.revision, is_get) {
                b.insert_header(("etag", format!("\"{rev}\"")));
            }
            b.insert_header(("expires", "Fri, 01 Jan 1999 00:00:00 GMT"));
            let body = envelope::success_body(env, *j);
            envelope::json_response(b, env, &body)
        }
        Reply::Stream {
            status,
            content_type,
            headers,
            body,
        } => {
            let mut b = envelope::status(status);
            b.insert_header(("content-type", content_type));
            for (k, v) in headers {
                b.insert_header((k, v));
            }
            // Our own record of a stream that broke mid-response (the storage backend
            // failed): actix's dispatcher log, which would also say so, is off by default.
            b.streaming(futures_util::TryStreamExt::inspect_err(
                body,
                |e| tracing::warn!(error = %e, "response stream broke off"),
            ))
        }
        Reply::Bytes {
            content_type,
            body,
            headers,
        } => {
            let mut b = HttpResponse::Ok();
            b.insert_header(("content-type", content_type));
            for (k, v) in headers {
                b.insert_header((k, v));
            }
            b.body(body)
        }
    }
}

/// Accept negotiation: `accept` in the query/body overrides the header. Returns whether CSV
/// was asked for, or 406 when nothing we produce fits.
fn negotiate(accept: Option<&str>) -> ApiResult<bool> {
    let Some(accept) = accept else {
        return Ok(false);
    };
    let a = accept.to_ascii_lowercase();
    if a.contains("application/json")
        || a.contains("application/x-json")
        || a.contains("*/*")
        || a.contains("application/*")
        || a.trim().is_empty()
    {
        return Ok(false);
    }
    if a.contains("text/csv")
        || a.contains("text/comma-separated-values")
        || a.contains("application/octet-stream")
        || a == "csv"
    {
        return Ok(true);
    }
    // Handlers that serve other types (audio) read `ctx.accept` themselves.
    Ok(false)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    req: &HttpRequest,
    payload: web::Payload,
    state: &Arc<AppState>,
    table: &[Route],
    matched: Option<Matched<'_>>,
    segs: &[&str],
    query: Vec<(String, String)>,
    request_id: String,
    path: &str,
    token_for_env: &mut Option<String>,
    authenticated: &mut bool,
) -> ApiResult<(Reply, bool)> {
    // 1. body → envelope (400 before anything else); an image, base64 or html body is an
    // upload (whitelabel logo/icon/welcome) handed to the handler as is.
    let body = read_body(payload, state.cfg.max_upload_size).await?;
    let upload = request::is_upload(req.headers());
    let (envelope, data) = if upload {
        (serde_json::Map::new(), serde_json::json!({}))
    } else {
        request::decode_body(&body)?
    };
    if crate::domain::json::depth(&data) > 64 {
        return Err(ApiError::invalid_json("All JSON must be valid"));
    }

    // 2. early authentication: expired or revoked tokens stop here
    let token = request::find_token(req.headers(), &query, &data, &envelope);
    let auth = request::early_authenticate(state, token.clone(), req.headers()).await?;
    if let Some(a) = &auth {
        *token_for_env = Some(a.token.clone());
        *authenticated = true;
    }

    // 3. verb tunnelling (only a POST can carry another verb), then route and verb
    let mut method = req.method().clone();
    if method == Method::POST {
        let verb = data
            .get("verb")
            .and_then(|v| v.as_str().map(str::to_string))
            .or_else(|| crate::domain::paging::query_get(&query, "verb").map(str::to_string))
            .or_else(|| {
                envelope
                    .get("verb")
                    .and_then(|v| v.as_str().map(str::to_string))
            });
        if let Some(v) = verb {
            method = Method::from_bytes(v.to_uppercase().as_bytes())
                .map_err(|_| ApiError::invalid_method())?;
        }
    }
    let Some(matched) = matched else {
        let last_literal = segs
            .iter()
            .rev()
            .find(|s| !s.is_empty() && !crate::domain::ids::is_hex32(s))
            .copied()
            .unwrap_or("");
        // Under an account, an unknown resource is crossbar's "no such module" 404, token
        // or not (`cb_accounts:allowed_methods` has no clause for it).
        let under_account = segs.len() >= 3 && segs[0] == "accounts";
        return Err(
            if under_account || is_known_noun(table, last_literal) || auth.is_some() {
                ApiError::not_found()
            } else {
                ApiError::invalid_credentials()
            },
        );
    };
    let Some(route) = matched.routes.iter().find(|r| r.method == method) else {
        return Err(ApiError::invalid_method());
    };
    // The captures of the route chosen (a literal and a `{X}` route may share a path).
    let ids = captures(route.path, segs);

    // 4. the path account must exist
    let path_account = match &matched.account {
        Some(raw) => Some(request::load_path_account(state, raw).await?),
        None => None,
    };

    // 5. authentication, 6. authorization
    let scope = match route.access {
        Access::Public => None,
        Access::Token => {
            let a = auth.as_ref().ok_or_else(ApiError::invalid_credentials)?;
            match path_account {
                Some(acc) => Some(request::authorize(a, acc)?),
                None => None,
            }
        }
    };

    // 7. content type for writes
    if matches!(method, Method::PUT | Method::POST | Method::PATCH)
        && !(request::content_type_ok(req.headers())
            || upload && route.path.ends_with("/logo")
            || upload && route.path.ends_with("/icon")
            || upload && route.path.ends_with("/welcome"))
    {
        return Err(ApiError::Bare(415));
    }

    let accept = data
        .get("accept")
        .and_then(|v| v.as_str().map(str::to_string))
        .or_else(|| crate::domain::paging::query_get(&query, "accept").map(str::to_string))
        .or_else(|| {
            envelope
                .get("accept")
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .or_else(|| {
            req.headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    let csv = negotiate(accept.as_deref())?;

    let client_addr = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let ctx = Ctx {
        state: state.clone(),
        method,
        path: path.trim_end_matches('/').to_string(),
        ids,
        query,
        envelope,
        data,
        request_id,
        auth,
        scope,
        client_addr,
        accept,
        headers: req.headers().clone(),
        upload: upload.then(|| bytes::Bytes::from(body)),
    };
    let reply = (route.handler)(ctx).await?;
    if let Reply::Json(j) = &reply {
        if let Some(t) = &j.auth_token {
            *token_for_env = Some(t.clone());
        }
    }
    Ok((reply, csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_matching() {
        let table = routes();
        let m = match_path(&table, &["accounts", "abc", "children"]).unwrap();
        assert_eq!(m.account.as_deref(), Some("abc"));
        assert_eq!(m.routes.len(), 1);
        let m = match_path(&table, &["accounts", "abc"]).unwrap();
        assert_eq!(m.routes.len(), 5);
        assert!(match_path(&table, &["accounts", "abc", "nope"]).is_none());
        assert!(is_known_noun(&table, "accounts"));
        assert!(!is_known_noun(&table, "vmboxes"));
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(
            negotiate(Some("application/json, text/javascript, */*; q=0.01")),
            Ok(false)
        );
        assert_eq!(negotiate(Some("text/csv")), Ok(true));
        assert_eq!(negotiate(None), Ok(false));
    }
}
