//! Scenario `api`: an authenticated `GET /v2/accounts/{A}/users/{U}` (and `…/devices/{D}`)
//! against a direct CouchDB GET of the same document, at concurrency 1 and 32.
//! Target: throughput ≥ 1.0× the direct GET, p99 ≤ 2×.

use super::{load, ratio_line, BenchOpts, Service};
use serde_json::json;

pub async fn run(opts: &BenchOpts, svc: &Service) -> anyhow::Result<()> {
    println!(
        "\napi: authenticated document GET vs a direct CouchDB GET ({} requests each)",
        opts.requests
    );
    let (acct, token, user) = svc.account("api").await?;
    let device = svc
        .call(
            reqwest::Method::PUT,
            &format!("/accounts/{acct}/devices"),
            &token,
            Some(json!({"name": "bench phone", "owner_id": user, "sip": {"username": format!("bench{}", crate::domain::ids::rand_hex(3)), "password": "bench-secret"}})),
        )
        .await?;
    let device = device["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let account =
        crate::domain::ids::AccountId::parse(&acct).ok_or_else(|| anyhow::anyhow!("account id"))?;
    let couch_db = format!(
        "{}/{}",
        opts.couchdb_url.trim_end_matches('/'),
        crate::couch::encode_db_name(&account.db())
    );
    for (what, noun, id) in [("user", "users", &user), ("device", "devices", &device)] {
        let ours_url = format!("{}/v2/accounts/{acct}/{noun}/{id}", svc.base);
        let raw_url = format!("{couch_db}/{id}");
        for concurrency in [1usize, 32] {
            // warm both paths (connection pools, caches) before measuring
            let _ = load(200, concurrency, |_| get(svc, &ours_url, Some(&token))).await;
            let _ = load(200, concurrency, |_| get(svc, &raw_url, None)).await;
            let raw = load(opts.requests, concurrency, |_| get(svc, &raw_url, None)).await;
            let ours = load(opts.requests, concurrency, |_| {
                get(svc, &ours_url, Some(&token))
            })
            .await;
            println!(
                "{}",
                raw.line(&format!("CouchDB GET {what}, c={concurrency}"))
            );
            println!("{}", ours.line(&format!("API GET {what}, c={concurrency}")));
            println!(
                "{}",
                ratio_line("throughput ours/raw", ours.rps, raw.rps, ">= 1.0x")
            );
            println!(
                "{}",
                ratio_line("p99 ours/raw", ours.p99_ms, raw.p99_ms, "<= 2x")
            );
        }
    }
    Ok(())
}

async fn get(svc: &Service, url: &str, token: Option<&str>) -> bool {
    let mut rb = svc.http.get(url);
    if let Some(t) = token {
        rb = rb.header("x-auth-token", t);
    }
    match rb.send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}
