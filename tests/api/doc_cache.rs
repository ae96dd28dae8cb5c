//! Crossbar's document cache (`open_cache_doc`): reads are served from memory, and a write
//! by anyone else (KAZOO, another instance, a hand edit) is seen as soon as CouchDB's change
//! feed reports it; our own writes are seen at once.

use crate::helpers::*;
use kazoo_rec::couch::Couch;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

async fn first_name(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app.call(Method::GET, path, Some(token), None).await;
    (r.status, r.body["data"]["first_name"].clone())
}

/// Poll until `check` holds (the feed's latency is milliseconds; allow seconds on a busy CI).
async fn within_seconds(app: &TestApp, path: &str, token: &str, want: (u16, Value)) -> u128 {
    let t = std::time::Instant::now();
    loop {
        let got = first_name(app, path, token).await;
        if got == want {
            return t.elapsed().as_millis();
        }
        assert!(t.elapsed().as_secs() < 10, "still {got:?}, want {want:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn reads_are_cached_and_every_write_is_seen() {
    let app = spawn_app().await;
    let (acct, _, token) = app.account_with_admin(None).await;
    let created = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/users"),
            Some(&token),
            Some(json!({"first_name": "Ada", "last_name": "L"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let uid = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/v2/accounts/{acct}/users/{uid}");
    // filled, then served from the cache
    assert_eq!(first_name(&app, &path, &token).await, (200, json!("Ada")));
    assert_eq!(first_name(&app, &path, &token).await, (200, json!("Ada")));

    // our own write: seen by the very next read
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"first_name": "Grace"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(first_name(&app, &path, &token).await, (200, json!("Grace")));

    // someone else's write, straight into CouchDB (a separate client, as KAZOO would be)
    let outside = Couch::connect(&couch_url()).unwrap();
    let db = AccountId::parse(&acct).unwrap().db();
    let mut doc = outside.get(&db, &uid).await.unwrap().unwrap();
    doc["first_name"] = json!("Edited By KAZOO");
    outside.save(&db, &mut doc).await.unwrap();
    let ms = within_seconds(&app, &path, &token, (200, json!("Edited By KAZOO"))).await;
    eprintln!("doc cache: an outside write was served after {ms} ms");

    // and someone else's delete
    doc["_deleted"] = json!(true);
    outside.save(&db, &mut doc).await.unwrap();
    within_seconds(&app, &path, &token, (404, Value::Null)).await;
}

#[tokio::test]
async fn a_write_never_starts_from_a_cached_revision() {
    let app = spawn_app().await;
    let (acct, _, token) = app.account_with_admin(None).await;
    let created = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/users"),
            Some(&token),
            Some(json!({"first_name": "Ada", "last_name": "L"})),
        )
        .await;
    let uid = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/v2/accounts/{acct}/users/{uid}");
    assert_eq!(first_name(&app, &path, &token).await.0, 200);
    // an outside write, then at once a PATCH of another field: it must apply on top of the
    // outside write (read from CouchDB), not of the cached copy
    let outside = Couch::connect(&couch_url()).unwrap();
    let db = AccountId::parse(&acct).unwrap().db();
    let mut doc = outside.get(&db, &uid).await.unwrap().unwrap();
    doc["first_name"] = json!("Outside");
    outside.save(&db, &mut doc).await.unwrap();
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"last_name": "Lovelace"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["data"]["first_name"], "Outside");
    assert_eq!(patched.body["data"]["last_name"], "Lovelace");
}
