//! Shared application state: settings, the CouchDB layer, schemas, token keys, caches.

use crate::api::error::{ApiError, ApiResult};
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::couch::Couch;
use crate::domain::ids::AccountId;
use crate::schema::SchemaSet;
use parking_lot::RwLock;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an account document is trusted from memory. Writes through this service
/// invalidate at once; the TTL bounds staleness for writes made by a KAZOO sharing the db.
const ACCOUNT_TTL: Duration = Duration::from_secs(10);

/// An account as authorization needs it.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub id: AccountId,
    /// The stored account document (private fields included).
    pub doc: Value,
}

impl AccountInfo {
    /// Ancestors, root first (`pvt_tree`).
    pub fn tree(&self) -> Vec<String> {
        self.doc
            .get("pvt_tree")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_superduper(&self) -> bool {
        self.doc
            .get("pvt_superduper_admin")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn name(&self) -> Option<&str> {
        self.doc.get("name").and_then(Value::as_str)
    }

    /// Reseller: the nearest ancestor (or self) flagged `pvt_reseller`, else the master.
    pub fn is_reseller(&self) -> bool {
        self.doc
            .get("pvt_reseller")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

pub struct AppState {
    pub cfg: Settings,
    pub couch: Couch,
    pub schemas: SchemaSet,
    pub tokens: TokenKeys,
    pub throttle: LoginThrottle,
    /// Acknowledged recordings waiting for delivery.
    pub spool: crate::ingest::spool::Spool,
    /// base64url(md5(node name)), as KAZOO's `node` envelope field.
    pub node: String,
    pub master_account_id: RwLock<Option<String>>,
    accounts: RwLock<HashMap<String, (Instant, Arc<AccountInfo>)>>,
    /// `<account>/<user>` → priv_level, so an authorization check is not a database read
    /// per request (same TTL and invalidation as accounts).
    priv_levels: RwLock<HashMap<String, (Instant, String)>>,
    /// Storage handlers already built, so recordings to one destination share a client.
    handlers: crate::storage::HandlerCache,
    /// The runtime the service was started on (multi-threaded). Requests are handled on
    /// actix-web's workers, each a single thread: CPU-heavy work a request starts (an early
    /// delivery hashing and signing S3 parts) is spawned here, so it runs beside the
    /// request's receive loop instead of taking turns with it on one thread.
    pub background: tokio::runtime::Handle,
}

impl AppState {
    /// Must be called on the runtime meant for background work (see `background`).
    pub fn new(
        cfg: Settings,
        couch: Couch,
        schemas: SchemaSet,
        tokens: TokenKeys,
        spool: crate::ingest::spool::Spool,
    ) -> AppState {
        let throttle = LoginThrottle::new(
            cfg.login_failures_per_user,
            cfg.login_failures_per_addr,
            Duration::from_secs(cfg.login_window_s),
        );
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let node = {
            use base64::Engine;
            use md5::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(md5::Md5::digest(format!("kazoo_rec@{host}")))
        };
        AppState {
            cfg,
            couch,
            schemas,
            tokens,
            throttle,
            spool,
            node,
            master_account_id: RwLock::new(None),
            accounts: RwLock::new(HashMap::new()),
            priv_levels: RwLock::new(HashMap::new()),
            handlers: Default::default(),
            background: tokio::runtime::Handle::current(),
        }
    }

    /// The storage handler for an `attachments.<id>` entry of a storage plan (see
    /// [`crate::storage::HandlerCache`]), for uploads run on `background`: a shared client's
    /// connections are driven by the runtime that opened them, so one used from an actix-web
    /// worker would tie every other upload to that worker's thread.
    pub fn handler(
        &self,
        entry: &Value,
    ) -> Result<crate::storage::Handler, crate::storage::StorageError> {
        self.handlers.get(entry)
    }

    /// Load an account (cached); None when there is no such account or it was deleted.
    pub async fn account(&self, id: &AccountId) -> ApiResult<Option<Arc<AccountInfo>>> {
        if let Some((at, info)) = self.accounts.read().get(id.as_str()) {
            if at.elapsed() < ACCOUNT_TTL {
                return Ok(Some(info.clone()));
            }
        }
        let doc = match self.couch.get(&id.db(), id.as_str()).await {
            Ok(doc) => doc,
            // CouchDB unreachable: an account we knew a moment ago still exists (recordings
            // keep being accepted into the spool during an outage)
            Err(crate::couch::CouchError::Unreachable(e)) => {
                if let Some((_, info)) = self.accounts.read().get(id.as_str()) {
                    return Ok(Some(info.clone()));
                }
                return Err(ApiError::from(crate::couch::CouchError::Unreachable(e)));
            }
            Err(e) => return Err(ApiError::from(e)),
        };
        let Some(doc) = doc else { return Ok(None) };
        if doc
            .get("pvt_deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || doc
                .get("pvt_type")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "account")
        {
            return Ok(None);
        }
        let info = Arc::new(AccountInfo {
            id: id.clone(),
            doc,
        });
        let mut cache = self.accounts.write();
        if cache.len() > 50_000 {
            cache.clear();
        }
        cache.insert(id.as_str().to_string(), (Instant::now(), info.clone()));
        Ok(Some(info))
    }

    /// A user's priv_level (cached; `user` when the user is missing or has none).
    pub async fn priv_level(&self, account: &AccountId, user: &str) -> ApiResult<String> {
        let key = format!("{account}/{user}");
        if let Some((at, level)) = self.priv_levels.read().get(&key) {
            if at.elapsed() < ACCOUNT_TTL {
                return Ok(level.clone());
            }
        }
        let doc = self
            .couch
            .get(&account.db(), user)
            .await
            .map_err(ApiError::from)?;
        let level = doc
            .as_ref()
            .filter(|d| {
                !d.get("pvt_deleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .and_then(|u| u.get("priv_level"))
            .and_then(Value::as_str)
            .unwrap_or("user")
            .to_string();
        let mut cache = self.priv_levels.write();
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), level.clone()));
        Ok(level)
    }

    /// A user document changed through this service: drop its cached priv_level.
    pub fn forget_user(&self, account: &AccountId, user: &str) {
        self.priv_levels
            .write()
            .remove(&format!("{account}/{user}"));
    }

    pub fn forget_account(&self, id: &str) {
        self.accounts.write().remove(id);
    }

    pub fn master_id(&self) -> Option<String> {
        self.master_account_id.read().clone()
    }
}
