//! Building the application: connect, bootstrap the databases (system databases, design
//! docs, signing key, master account on first start), bind, and serve the route table.
//! `main` and the tests share [`Application::build`].

use crate::api::{self, Route};
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::couch::{Couch, ACCOUNTS_DB, SYSTEM_CONFIG_DB, SYSTEM_DATA_DB, TOKEN_AUTH_DB};
use crate::domain::ids::{self, AccountId};
use crate::domain::time;
use crate::schema::{SchemaSet, ValidationOptions};
use crate::state::AppState;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::Arc;

pub const SYSTEM_AUTH_DB: &str = "system_auth";
const SIGNING_KEY_DOC: &str = "kazoo_rec_token_signing_key";

pub struct Application {
    pub port: u16,
    pub state: Arc<AppState>,
    server: actix_web::dev::Server,
}

/// What first start created, for the operator (printed once by `main`).
pub struct FirstStart {
    pub master_account_id: String,
    pub admin_password_generated: Option<String>,
}

impl Application {
    pub async fn build(cfg: Settings) -> anyhow::Result<(Application, Option<FirstStart>)> {
        let couch = Couch::connect(&cfg.couchdb_url)?.with_doc_cache(cfg.doc_cache);
        wait_for_couch(&couch).await?;
        let secret = signing_secret(&couch, cfg.jwt_secret.as_deref()).await?;
        let tokens = TokenKeys::new(&secret, cfg.token_expiry_s);
        let schemas = SchemaSet::embedded(ValidationOptions {
            allow_local_urls: cfg.allow_local_urls,
        });
        let listener =
            TcpListener::bind(&cfg.bind).with_context(|| format!("binding {}", cfg.bind))?;
        let port = listener.local_addr()?.port();
        let spool = crate::ingest::spool::Spool::open(&cfg.spool_dir)
            .await
            .with_context(|| format!("opening the spool at {}", cfg.spool_dir))?;
        let state = Arc::new(AppState::new(cfg, couch, schemas, tokens, spool));
        let first = bootstrap(&state).await?;
        load_revocations(&state).await?;

        // Deliver what is spooled, including what an earlier run acknowledged.
        tokio::spawn(crate::ingest::worker::run(
            state.clone(),
            std::time::Duration::from_millis(300),
        ));
        if state.cfg.retention_interval_s > 0 {
            tokio::spawn(crate::retention::run_forever(
                state.couch.clone(),
                std::time::Duration::from_secs(state.cfg.retention_interval_s),
            ));
        }
        let request_timeout = state.cfg.request_timeout_s.max(1);
        let data = web::Data::from(state.clone());
        let table: web::Data<Vec<Route>> = web::Data::new(api::routes());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(table.clone())
                .wrap(actix_web::middleware::Compress::default())
                // Our extensions outside crossbar's /v2 tree: streamed bodies, store-proxy auth.
                .route(
                    "/rec_ext/ingest/{account_id}",
                    web::put().to(crate::ingest::http::ingest),
                )
                .route(
                    "/rec_ext/ingest/{account_id}",
                    web::post().to(crate::ingest::http::ingest),
                )
                .route(
                    "/rec_ext/cdr/{account_id}",
                    web::put().to(crate::ingest::cdr::store_cdr),
                )
                .route(
                    "/rec_ext/cdr/{account_id}",
                    web::post().to(crate::ingest::cdr::store_cdr),
                )
                .route(
                    "/rec_ext/spool",
                    web::get().to(crate::ingest::http::spool_metrics),
                )
                .route(
                    "/rec_ext/decide/{account_id}",
                    web::post().to(crate::ingest::http::decide),
                )
                .default_service(web::to(api::dispatch))
        })
        // Small answers go out at once (Nagle + delayed ACK cost 40 ms per request).
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        // Bound slow clients (slowloris): a request must arrive in full reasonably fast.
        .client_request_timeout(std::time::Duration::from_secs(request_timeout))
        .run();
        Ok((
            Application {
                port,
                state,
                server,
            },
            first,
        ))
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn wait_for_couch(couch: &Couch) -> anyhow::Result<()> {
    for _ in 0..60 {
        if couch.ping().await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    anyhow::bail!("CouchDB did not answer at the configured COUCHDB_URL")
}

/// The token signing secret: from configuration, else one shared through CouchDB.
async fn signing_secret(couch: &Couch, configured: Option<&str>) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = configured {
        anyhow::ensure!(
            s.len() >= 32,
            "KAZOO_REC_JWT_SECRET must be at least 32 characters"
        );
        return Ok(s.as_bytes().to_vec());
    }
    couch.create_db(SYSTEM_AUTH_DB).await?;
    if let Some(doc) = couch.get(SYSTEM_AUTH_DB, SIGNING_KEY_DOC).await? {
        if let Some(k) = doc.get("secret").and_then(Value::as_str) {
            return Ok(k.as_bytes().to_vec());
        }
    }
    let mut doc =
        json!({"_id": SIGNING_KEY_DOC, "pvt_type": "system_key", "secret": ids::rand_hex(32)});
    match couch.save(SYSTEM_AUTH_DB, &mut doc).await {
        Ok(()) => Ok(doc["secret"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec()),
        // Another instance won the race: use its key.
        Err(crate::couch::CouchError::Conflict) => {
            let doc = couch
                .get(SYSTEM_AUTH_DB, SIGNING_KEY_DOC)
                .await?
                .context("signing key vanished")?;
            Ok(doc["secret"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec())
        }
        Err(e) => Err(e.into()),
    }
}

/// System databases and their design docs; the master account and its admin on first start.
async fn bootstrap(state: &AppState) -> anyhow::Result<Option<FirstStart>> {
    let couch = &state.couch;
    for db in [ACCOUNTS_DB, SYSTEM_CONFIG_DB, SYSTEM_DATA_DB, TOKEN_AUTH_DB] {
        couch.create_db(db).await?;
    }
    couch
        .ensure_design_docs(ACCOUNTS_DB, crate::couch::views::accounts_db_docs())
        .await?;

    let cfg_doc = couch.get(SYSTEM_CONFIG_DB, "accounts").await?;
    if let Some(id) = cfg_doc
        .as_ref()
        .and_then(|d| d.pointer("/default/master_account_id"))
        .and_then(Value::as_str)
    {
        *state.master_account_id.write() = Some(id.to_string());
        return Ok(None);
    }
    let (master_id, password) = create_master(state).await?;
    let mut doc = cfg_doc.unwrap_or_else(|| json!({"_id": "accounts"}));
    doc["default"]["master_account_id"] = json!(master_id);
    couch.save(SYSTEM_CONFIG_DB, &mut doc).await?;
    *state.master_account_id.write() = Some(master_id.clone());
    Ok(Some(FirstStart {
        master_account_id: master_id,
        admin_password_generated: password,
    }))
}

/// `sup crossbar_maintenance create_account`: the master account (superduper admin,
/// reseller) and an admin user.
async fn create_master(state: &AppState) -> anyhow::Result<(String, Option<String>)> {
    let cfg = &state.cfg;
    let id = AccountId::generate();
    let now = time::now_gregorian();
    let ctx = crate::couch::pvt::WriteCtx {
        account_id: Some(id.to_string()),
        encoded_db: Some(id.encoded_db()),
        request_id: ids::new_id(),
        auth_account_id: None,
        auth_user_id: None,
    };
    let mut account = json!({
        "_id": id.as_str(),
        "name": cfg.master_account_name,
        "realm": format!("{}.{}", ids::rand_hex(3), cfg.realm_suffix),
        "pvt_tree": [],
        "pvt_api_key": ids::rand_hex(32),
        "pvt_enabled": true,
        "pvt_superduper_admin": true,
        "pvt_reseller": true,
    });
    state
        .schemas
        .validate("accounts", &mut account)
        .map_err(|e| anyhow::anyhow!("master account invalid: {e:?}"))?;
    crate::couch::pvt::stamp(&mut account, &ctx, "account", now);
    crate::api::accounts::create_account_dbs(state, &id, account)
        .await
        .map_err(|e| anyhow::anyhow!("creating the master account failed: {e:?}"))?;

    let (password, generated) = match &cfg.admin_password {
        Some(p) => (p.clone(), None),
        None => {
            let p = ids::rand_hex(12);
            (p.clone(), Some(p))
        }
    };
    let username = cfg.admin_username.to_lowercase();
    let (md5, sha1) = crate::auth::creds::pass_hashes(&username, &password);
    let mut user = json!({
        "_id": ids::new_id(),
        "username": username,
        "first_name": "Account",
        "last_name": "Admin",
        "priv_level": "admin",
        "enabled": true,
    });
    state
        .schemas
        .validate("users", &mut user)
        .map_err(|e| anyhow::anyhow!("admin user invalid: {e:?}"))?;
    user["pvt_md5_auth"] = json!(md5);
    user["pvt_sha1_auth"] = json!(sha1);
    user["pvt_signature_secret"] = json!(ids::new_id());
    crate::couch::pvt::stamp(&mut user, &ctx, "user", now);
    state.couch.save(&id.db(), &mut user).await?;
    Ok((id.to_string(), generated))
}

/// Buffers of 1 MiB and more (S3 parts, the spool's aligned write buffer) are mapped and
/// unmapped one by one, not carved from glibc's per-thread arenas. Otherwise a freed 5 MiB
/// part stays in the arena of whichever thread freed it, and the service's peak RSS climbed
/// with each large recording: 69 MiB after three 1 GiB ones. Called before the runtime's
/// threads start; a no-op where the C library is not glibc.
pub fn map_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Revoked tokens are kept in `token_auth` until they expire, so a restart (or another
/// instance at start) still refuses them.
pub async fn persist_revocation(
    state: &AppState,
    jti: &str,
    exp: i64,
) -> crate::api::error::ApiResult<()> {
    let mut doc = json!({"_id": format!("revoked-{jti}"), "pvt_type": "revoked_token", "exp": exp});
    match state.couch.save(TOKEN_AUTH_DB, &mut doc).await {
        Ok(()) | Err(crate::couch::CouchError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn load_revocations(state: &AppState) -> anyhow::Result<()> {
    let opts = crate::couch::ViewOpts::default();
    // `_all_docs` is a view-shaped endpoint in CouchDB and pouchdb alike.
    let rows = match state.couch.all_docs(TOKEN_AUTH_DB, &opts).await {
        Ok(rows) => rows,
        Err(_) => return Ok(()),
    };
    let now = time::now_unix();
    for r in rows {
        let Some(doc) = r.doc else { continue };
        if doc.get("pvt_type").and_then(Value::as_str) != Some("revoked_token") {
            continue;
        }
        let exp = doc.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if let Some(jti) = r.id.as_deref().and_then(|i| i.strip_prefix("revoked-")) {
            if exp > now {
                state.tokens.revoke(jti, exp, now);
            }
        }
    }
    Ok(())
}
