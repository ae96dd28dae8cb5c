//! The service under measurement: this binary's `serve` as a child process, and the API
//! calls the scenarios share (log in, make an account with an admin).

use super::BenchOpts;
use anyhow::{bail, Context};
use md5::Digest;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

pub struct Service {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    pub spool: std::path::PathBuf,
    password: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Service {
    pub async fn start(opts: &BenchOpts) -> anyhow::Result<Service> {
        let port = free_port()?;
        let spool = std::env::temp_dir().join(format!(
            "kazoo-rec-bench-{}",
            crate::domain::ids::rand_hex(4)
        ));
        let password = std::env::var("KAZOO_REC_ADMIN_PASSWORD")
            .unwrap_or_else(|_| "bench-admin-password".into());
        let child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .env("COUCHDB_URL", &opts.couchdb_url)
            .env("KAZOO_REC_BIND", format!("127.0.0.1:{port}"))
            .env("KAZOO_REC_SPOOL_DIR", &spool)
            .env("KAZOO_REC_ADMIN_PASSWORD", &password)
            .env("KAZOO_REC_ALLOW_LOCAL_URLS", "true")
            .env("KAZOO_REC_MAX_RECORDING", (64u64 << 30).to_string())
            .env("KAZOO_REC_RETENTION_INTERVAL", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the service")?;
        let svc = Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?,
            spool,
            password,
        };
        for _ in 0..300 {
            if svc
                .http
                .get(format!("{}/rec_ext/spool", svc.base))
                .send()
                .await
                .is_ok()
            {
                return Ok(svc);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        bail!("the service did not start")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the service so far (VmHWM), MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    pub async fn login(
        &self,
        user: &str,
        password: &str,
        account_name: &str,
    ) -> anyhow::Result<(String, String)> {
        let creds = hex::encode(md5::Md5::digest(format!("{user}:{password}")));
        let r: Value = self
            .http
            .put(format!("{}/v2/user_auth", self.base))
            .json(&json!({"data": {"credentials": creds, "account_name": account_name}}))
            .send()
            .await?
            .json()
            .await?;
        let token = r["auth_token"].as_str().with_context(|| format!(
            "cannot log in as {user} ({r}); bench needs an empty CouchDB or KAZOO_REC_ADMIN_PASSWORD set to its master admin's password"
        ))?;
        Ok((
            token.to_string(),
            r["data"]["account_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        data: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut rb = self
            .http
            .request(method, format!("{}/v2{path}", self.base))
            .header("x-auth-token", token);
        if let Some(d) = data {
            rb = rb.json(&json!({ "data": d }));
        }
        let resp = rb.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    /// A fresh account with an admin user; returns (account id, admin token, admin user id).
    pub async fn account(&self, tag: &str) -> anyhow::Result<(String, String, String)> {
        let (root, master) = self.login("admin", &self.password, "master").await?;
        let name = format!("bench {tag} {}", crate::domain::ids::rand_hex(3));
        let acct = self
            .call(
                reqwest::Method::PUT,
                &format!("/accounts/{master}"),
                &root,
                Some(json!({"name": name})),
            )
            .await?;
        let id = acct["data"]["id"]
            .as_str()
            .context("account id")?
            .to_string();
        let user = self
            .call(
                reqwest::Method::PUT,
                &format!("/accounts/{id}/users"),
                &root,
                Some(json!({"first_name": "Bench", "last_name": "Admin", "username": "bench", "password": "bench-pw", "priv_level": "admin"})),
            )
            .await?;
        let uid = user["data"]["id"].as_str().unwrap_or_default().to_string();
        let (token, _) = self.login("bench", "bench-pw", &name).await?;
        Ok((id, token, uid))
    }
}
