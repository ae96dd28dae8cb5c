//! The HTTP calls the simulator makes: crossbar (login, devices, users, the account's
//! recording settings) as Monster UI would, and the media-server side (`/rec_ext/decide`,
//! `/rec_ext/ingest`, `/rec_ext/spool`) as a media server would.

use anyhow::{bail, Context};
use md5::Digest;
use serde_json::{json, Value};

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    pub account_id: String,
    /// Store-proxy credentials for the media-server endpoints (else the address ACL).
    ingest_auth: Option<(String, String)>,
}

/// A device of the account, as the devices list shows it.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub owner_id: Option<String>,
}

async fn envelope(resp: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{what}: the answer is not JSON"))?;
    if !status.is_success() {
        bail!("{what}: {status} {}", body);
    }
    Ok(body)
}

impl Client {
    /// Log in with `user_auth` (md5 of `user:password`, as Monster UI sends it).
    pub async fn login(
        base: &str,
        account_name: &str,
        username: &str,
        password: &str,
        ingest_auth: Option<(String, String)>,
    ) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()?;
        let base = base.trim_end_matches('/').to_string();
        let credentials = hex::encode(md5::Md5::digest(format!("{username}:{password}")));
        let resp = http
            .put(format!("{base}/v2/user_auth"))
            .json(&json!({"data": {"credentials": credentials, "account_name": account_name}}))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let body = envelope(resp, "login").await?;
        let token = body["auth_token"]
            .as_str()
            .context("login: no auth_token")?
            .to_string();
        let account_id = body["data"]["account_id"]
            .as_str()
            .context("login: no account_id")?
            .to_string();
        Ok(Client {
            http,
            base,
            token,
            account_id,
            ingest_auth,
        })
    }

    /// Work in another account (a sub-account of the logged-in one).
    pub fn use_account(&mut self, id: &str) {
        self.account_id = id.to_string();
    }

    fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method,
                format!("{}/v2/accounts/{}{path}", self.base, self.account_id),
            )
            .header("x-auth-token", &self.token)
    }

    fn media_server(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.ingest_auth {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    pub async fn devices(&self) -> anyhow::Result<Vec<Device>> {
        let body = envelope(
            self.api(reqwest::Method::GET, "/devices?paginate=false")
                .send()
                .await?,
            "list devices",
        )
        .await?;
        Ok(body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some(Device {
                    id: d["id"].as_str()?.to_string(),
                    name: d["name"].as_str().unwrap_or("device").to_string(),
                    owner_id: d["owner_id"].as_str().map(str::to_string),
                })
            })
            .collect())
    }

    /// Three users with a softphone each, for an account that has no devices yet.
    pub async fn create_demo_endpoints(&self, tag: &str) -> anyhow::Result<()> {
        for (i, (first, last)) in [("Ada", "Byron"), ("Alan", "Turing"), ("Grace", "Hopper")]
            .iter()
            .enumerate()
        {
            let user = envelope(
                self.api(reqwest::Method::PUT, "/users")
                    .json(&json!({"data": {"first_name": first, "last_name": last, "priv_level": "user",
                        "presence_id": format!("{}", 2001 + i)}}))
                    .send()
                    .await?,
                "create a demo user",
            )
            .await?;
            let owner = user["data"]["id"].as_str().unwrap_or_default();
            envelope(
                self.api(reqwest::Method::PUT, "/devices")
                    .json(&json!({"data": {"name": format!("{first}'s softphone"), "owner_id": owner,
                        "device_type": "softphone",
                        "sip": {"username": format!("sim{}{tag}", 2001 + i), "password": crate::domain::ids::rand_hex(8)}}}))
                    .send()
                    .await?,
                "create a demo device",
            )
            .await?;
        }
        Ok(())
    }

    /// "Record entire account": every direction and network, mp3.
    pub async fn record_whole_account(&self) -> anyhow::Result<()> {
        let all = json!({"any": {"enabled": true, "format": "mp3"}});
        envelope(
            self.api(reqwest::Method::PATCH, "")
                .json(&json!({"data": {"call_recording": {"account": {"inbound": all, "outbound": all}}}}))
                .send()
                .await?,
            "turn on account recording",
        )
        .await?;
        Ok(())
    }

    pub async fn decide(&self, call: &Value) -> anyhow::Result<Value> {
        let path = format!("/rec_ext/decide/{}", self.account_id);
        let body = envelope(
            self.media_server(reqwest::Method::POST, &path)
                .json(&json!({ "data": call }))
                .send()
                .await?,
            "decide",
        )
        .await?;
        Ok(body["data"].clone())
    }

    pub async fn ingest(&self, metadata: &Value, audio: Vec<u8>) -> anyhow::Result<Value> {
        let path = format!("/rec_ext/ingest/{}", self.account_id);
        let body = envelope(
            self.media_server(reqwest::Method::PUT, &path)
                .header("x-recording-metadata", metadata.to_string())
                .header("content-type", "audio/mpeg")
                .body(audio)
                .send()
                .await?,
            "ingest",
        )
        .await?;
        Ok(body["data"].clone())
    }

    /// Recordings waiting in the service's spool for delivery.
    pub async fn pending_deliveries(&self) -> anyhow::Result<u64> {
        let body = envelope(
            self.media_server(reqwest::Method::GET, "/rec_ext/spool")
                .send()
                .await?,
            "spool",
        )
        .await?;
        Ok(body["data"]["pending"].as_u64().unwrap_or(0))
    }
}
