//! Settings, loaded once from the command line and environment.

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// CouchDB server URL, credentials included if any (`http://admin:pw@host:5984`).
    #[arg(long, env = "COUCHDB_URL", default_value = "http://127.0.0.1:5984")]
    pub couchdb_url: String,

    /// Address to listen on.
    #[arg(long, env = "KAZOO_REC_BIND", default_value = "0.0.0.0:8000")]
    pub bind: String,

    /// Lifetime of auth tokens in seconds (KAZOO's `token_auth_expiry_s`).
    #[arg(long, env = "KAZOO_REC_TOKEN_EXPIRY", default_value_t = 3600)]
    pub token_expiry_s: i64,

    /// Secret for signing tokens. When unset, one is generated once and kept in CouchDB
    /// (`system_auth`), so every instance on the same database shares it.
    #[arg(long, env = "KAZOO_REC_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Name of the master account created on first start.
    #[arg(long, env = "KAZOO_REC_MASTER_ACCOUNT", default_value = "master")]
    pub master_account_name: String,

    /// Username of the master admin created on first start.
    #[arg(long, env = "KAZOO_REC_ADMIN_USER", default_value = "admin")]
    pub admin_username: String,

    /// Password of the master admin; generated and printed once when unset.
    #[arg(long, env = "KAZOO_REC_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Suffix of generated account realms (KAZOO's `account_realm_suffix`).
    #[arg(long, env = "KAZOO_REC_REALM_SUFFIX", default_value = "sip.2600hz.com")]
    pub realm_suffix: String,

    /// Version string reported in envelopes (Monster UI shows it to developers).
    #[arg(long, env = "KAZOO_REC_VERSION", default_value = "4.3.0")]
    pub kazoo_version: String,

    /// Allow recording/storage URLs on loopback hosts (local testing only).
    #[arg(long, env = "KAZOO_REC_ALLOW_LOCAL_URLS", default_value_t = false)]
    pub allow_local_urls: bool,

    /// Largest request body accepted (KAZOO's `max_upload_size`).
    #[arg(long, env = "KAZOO_REC_MAX_UPLOAD", default_value_t = 8_000_000)]
    pub max_upload_size: usize,

    /// Failed logins allowed per account+username within the throttle window.
    #[arg(long, env = "KAZOO_REC_LOGIN_FAILURES_PER_USER", default_value_t = 10)]
    pub login_failures_per_user: usize,

    /// Failed logins allowed per client address within the throttle window.
    #[arg(long, env = "KAZOO_REC_LOGIN_FAILURES_PER_ADDR", default_value_t = 100)]
    pub login_failures_per_addr: usize,

    /// Where acknowledged recordings wait for delivery (must survive restarts).
    #[arg(long, env = "KAZOO_REC_SPOOL_DIR", default_value = ".data/spool")]
    pub spool_dir: String,

    /// Basic-auth user the media server uses on the ingest endpoint (KAZOO's
    /// `media.proxy_username`); unset means address-based access only.
    #[arg(long, env = "KAZOO_REC_INGEST_USER")]
    pub ingest_user: Option<String>,

    /// Basic-auth password for the ingest endpoint (`media.proxy_password`).
    #[arg(long, env = "KAZOO_REC_INGEST_PASSWORD", hide_env_values = true)]
    pub ingest_password: Option<String>,

    /// Addresses allowed to ingest without credentials (KAZOO's `proxy_store_acls`),
    /// comma-separated CIDRs.
    #[arg(
        long,
        env = "KAZOO_REC_INGEST_ACL",
        default_value = "127.0.0.0/8",
        value_delimiter = ','
    )]
    pub ingest_acl: Vec<String>,

    /// Largest recording accepted by the ingest endpoint, in bytes.
    #[arg(long, env = "KAZOO_REC_MAX_RECORDING", default_value_t = 4_000_000_000)]
    pub max_recording_bytes: u64,

    /// CA certificate (PEM) trusted for FTPS destinations, in addition to the system roots.
    #[arg(long, env = "KAZOO_REC_FTPS_CA_FILE")]
    pub ftps_ca_file: Option<String>,

    /// Throttle window in seconds.
    #[arg(long, env = "KAZOO_REC_LOGIN_WINDOW", default_value_t = 300)]
    pub login_window_s: u64,

    /// Seconds a client has to send a request's headers (slow clients are cut off).
    #[arg(long, env = "KAZOO_REC_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_s: u64,

    /// Seconds between retention runs (accounts with a retention policy); 0 turns the job off.
    #[arg(long, env = "KAZOO_REC_RETENTION_INTERVAL", default_value_t = 3600)]
    pub retention_interval_s: u64,

    /// Documents kept in crossbar's read cache (flushed by CouchDB's change feeds, as
    /// KAZOO's `open_cache_doc` is by its message bus); 0 turns the cache off.
    #[arg(long, env = "KAZOO_REC_DOC_CACHE", default_value_t = 10_000)]
    pub doc_cache: usize,
}

impl Settings {
    /// Defaults for tests and tools (same as an empty environment).
    pub fn for_couch(url: &str) -> Settings {
        Settings {
            couchdb_url: url.to_string(),
            bind: "127.0.0.1:0".into(),
            token_expiry_s: 3600,
            jwt_secret: None,
            master_account_name: "master".into(),
            admin_username: "admin".into(),
            admin_password: None,
            realm_suffix: "sip.2600hz.com".into(),
            kazoo_version: "4.3.0".into(),
            allow_local_urls: false,
            max_upload_size: 8_000_000,
            login_failures_per_user: 10,
            login_failures_per_addr: 100,
            login_window_s: 300,
            spool_dir: std::env::temp_dir()
                .join(format!("kazoo-rec-spool-{}", crate::domain::ids::new_id()))
                .to_string_lossy()
                .into_owned(),
            ingest_user: None,
            ingest_password: None,
            ingest_acl: vec!["127.0.0.0/8".into()],
            max_recording_bytes: 4_000_000_000,
            ftps_ca_file: None,
            request_timeout_s: 30,
            // Tests run retention explicitly, with their own clock.
            retention_interval_s: 0,
            doc_cache: 10_000,
        }
    }
}
