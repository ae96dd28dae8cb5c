//! `spawn_app()`: the real application on a random port against the real CouchDB-protocol
//! server named by `COUCHDB_URL` (started by `make test`). Tests speak HTTP like a client
//! and each works in its own fresh account, so they can share one server.

use kazoo_rec::config::Settings;
use kazoo_rec::couch::Couch;
use kazoo_rec::startup::Application;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: Arc<kazoo_rec::state::AppState>,
    pub master_id: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn couch_url() -> String {
    std::env::var("COUCHDB_URL").expect("COUCHDB_URL is not set: run the tests with `make test`, which starts a CouchDB-protocol server")
}

pub fn settings() -> Settings {
    let mut s = Settings::for_couch(&couch_url());
    s.admin_password = Some(ADMIN_PASSWORD.into());
    s
}

// Bootstrapping creates the master account once per database: serialise the first builds.
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn spawn_app() -> TestApp {
    spawn_with(settings()).await
}

/// The app with local destinations allowed (wiremock, the test S3 server on 127.0.0.1).
pub async fn spawn_with_local_urls() -> TestApp {
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    spawn_with(cfg).await
}

/// The S3-compatible test server (`S3_URL`); None outside CI when none is configured, so
/// an S3 test passes over itself there. In CI it must be set.
pub fn s3_url() -> Option<String> {
    let url = std::env::var("S3_URL").ok();
    assert!(
        url.is_some() || std::env::var("CI").is_err(),
        "S3_URL must be set in CI"
    );
    url
}

pub async fn spawn_with(cfg: Settings) -> TestApp {
    let guard = BUILD_LOCK.lock().await;
    let (app, _) = Application::build(cfg).await.expect("application builds");
    drop(guard);
    let port = app.port;
    let state = app.state.clone();
    tokio::spawn(app.run());
    let master_id = state.master_id().expect("master account");
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        master_id,
    }
}

pub fn uniq() -> String {
    kazoo_rec::domain::ids::rand_hex(4)
}

/// The first second (unix) of the UTC month holding `unix`.
pub fn month_start_unix(unix: i64) -> i64 {
    let (y, m) = kazoo_rec::domain::time::year_month(unix);
    ::time::Date::from_calendar_date(y, ::time::Month::try_from(m as u8).unwrap(), 1)
        .unwrap()
        .midnight()
        .assume_utc()
        .unix_timestamp()
}

/// `PUT /rec_ext/ingest/{acct}` of a small MP3 with this metadata: (status, body).
pub async fn ingest_meta(app: &TestApp, acct: &str, meta: Value) -> (u16, Value) {
    let r = app
        .raw(
            Method::PUT,
            &format!("/rec_ext/ingest/{acct}"),
            &[
                ("x-recording-metadata", &meta.to_string()),
                ("content-type", "audio/mpeg"),
            ],
            Some(kazoo_rec::testdata::fake_mp3(4_000)),
        )
        .await;
    (r.status, r.body)
}

impl TestApp {
    pub fn couch(&self) -> &Couch {
        &self.state.couch
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut rb = self
            .client
            .request(method, format!("{}{}", self.base, path));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// A JSON request with the usual Monster UI headers; `data` is wrapped in the envelope.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        data: Option<Value>,
    ) -> Resp {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(t) = token {
            headers.push(("x-auth-token", t));
        }
        let body = data.map(|d| serde_json::to_vec(&json!({ "data": d })).unwrap());
        self.raw(method, path, &headers, body).await
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD, json!({"account_name": "master"}))
            .await
    }

    pub async fn login(&self, user: &str, password: &str, account: Value) -> String {
        let creds = md5_hex(&format!("{}:{}", user.to_lowercase(), password));
        let mut data = json!({ "credentials": creds });
        crate::helpers::merge(&mut data, &account);
        let r = self
            .call(Method::PUT, "/v2/user_auth", None, Some(data))
            .await;
        assert_eq!(r.status, 201, "login failed: {}", r.text);
        r.body["auth_token"].as_str().unwrap().to_string()
    }

    /// A fresh child account of `parent` (the master when None).
    pub async fn create_account(&self, token: &str, parent: Option<&str>, name: &str) -> Value {
        let parent = parent.unwrap_or(&self.master_id).to_string();
        let r = self
            .call(
                Method::PUT,
                &format!("/v2/accounts/{parent}"),
                Some(token),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status, 201, "create account: {}", r.text);
        r.body["data"].clone()
    }

    /// A user written straight to CouchDB (the users API is a later issue).
    pub async fn insert_user(
        &self,
        account_id: &str,
        username: &str,
        password: &str,
        priv_level: &str,
    ) -> String {
        let id = kazoo_rec::domain::ids::AccountId::parse(account_id).unwrap();
        let (md5, sha1) = kazoo_rec::auth::creds::pass_hashes(username, password);
        let user_id = kazoo_rec::domain::ids::new_id();
        let mut doc = json!({
            "_id": user_id, "username": username, "first_name": "Test", "last_name": username,
            "priv_level": priv_level, "enabled": true, "pvt_type": "user",
            "pvt_md5_auth": md5, "pvt_sha1_auth": sha1, "pvt_account_id": account_id,
            "pvt_account_db": id.encoded_db(),
        });
        self.couch().save(&id.db(), &mut doc).await.unwrap();
        user_id
    }

    /// An account with an admin user, and that admin's token.
    pub async fn account_with_admin(&self, parent: Option<&str>) -> (String, String, String) {
        let admin = self.admin_token().await;
        let name = format!("acct {}", uniq());
        let acct = self.create_account(&admin, parent, &name).await;
        let id = acct["id"].as_str().unwrap().to_string();
        self.insert_user(&id, "boss", "pw-boss", "admin").await;
        let token = self
            .login("boss", "pw-boss", json!({ "account_name": name }))
            .await;
        (id, name, token)
    }
}

pub fn md5_hex(s: &str) -> String {
    kazoo_rec::auth::creds::md5_hex(s)
}

pub fn merge(target: &mut Value, extra: &Value) {
    if let (Some(t), Some(e)) = (target.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// An S3 client for the test servers (path-style, any region).
pub fn s3_client(url: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(key, secret, None, None, "t"))
            .endpoint_url(url.trim_end_matches('/'))
            .force_path_style(true)
            .build(),
    )
}

/// A storage document with one S3 connector `handler_id` on `url`/`bucket`, used by the
/// plan for call recordings.
pub fn s3_storage(url: &str, bucket: &str, handler_id: &str, key: &str, secret: &str) -> Value {
    let u = url::Url::parse(url).unwrap();
    json!({"attachments": {handler_id: {"handler": "s3", "name": "S3", "settings": {"bucket": bucket, "key": key, "secret": secret,
              "host": u.host_str().unwrap(), "port": u.port().unwrap(), "scheme": "http", "bucket_access_method": "path"}}},
           "plan": {"modb": {"types": {"call_recording": {"attachments": {"handler": handler_id}}}}}})
}
