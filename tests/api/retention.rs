//! Retention (our extension): the policy API, a dry run that changes nothing, a run with a
//! moved clock that deletes CouchDB-held and S3-held recordings past their age (freeing the
//! attachment / object), what is left alone, and the audit trail.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use kazoo_rec::domain::time;
use kazoo_rec::retention::{self, Policy};
use kazoo_rec::testdata::{generate, GenOptions};
use reqwest::Method;
use serde_json::{json, Value};

const DAY: i64 = 86_400;

async fn listed(app: &TestApp, acct: &str, admin: &str) -> usize {
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/recordings"),
            Some(admin),
            None,
        )
        .await;
    r.body["data"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn policy_dry_run_and_a_run_with_the_clock_moved() {
    let app = spawn_app().await;
    let (acct, name, admin) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let ids = generate(
        app.couch(),
        &GenOptions {
            account: account.clone(),
            count: 4,
            months: 1,
            owners: vec![],
            audio_bytes: 2000,
            seed: 3,
        },
    )
    .await
    .unwrap();
    let base = format!("/v2/accounts/{acct}/rec_ext/retention");
    // off by default
    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    assert_eq!(
        (r.status, &r.body["data"]),
        (200, &json!({"couch_days": null, "storage_days": null}))
    );
    let r = app
        .call(
            Method::POST,
            &base,
            Some(&admin),
            Some(json!({"couch_days": 0, "storage_days": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["data"]["couch_days"].is_object() && r.body["data"]["storage_days"].is_object(),
        "{}",
        r.text
    );
    let r = app
        .call(
            Method::POST,
            &base,
            Some(&admin),
            Some(json!({"couch_days": 30})),
        )
        .await;
    assert_eq!((r.status, &r.body["data"]["couch_days"]), (200, &json!(30)));

    // today nothing is 30 days old: a real run deletes nothing
    let r = app
        .call(Method::POST, &format!("{base}/run"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["deleted"], json!([]));
    assert_eq!(listed(&app, &acct, &admin).await, 4);

    // 40 days from now (a fake clock): a dry run names all four and changes nothing
    let policy = Policy {
        couch_days: Some(30),
        storage_days: None,
    };
    let later = time::now_gregorian() + 40 * DAY;
    let dry = retention::run_account(app.couch(), &account, &policy, later, true)
        .await
        .unwrap();
    assert_eq!((dry.examined, dry.deleted.len()), (4, 4));
    assert_eq!(listed(&app, &acct, &admin).await, 4);
    // the real run deletes them and frees the attachments
    let done = retention::run_account(app.couch(), &account, &policy, later, false)
        .await
        .unwrap();
    assert_eq!(done.deleted.len(), 4, "{:?}", done.errors);
    assert!(done
        .deleted
        .iter()
        .all(|d| d["held_in"] == "couchdb" && d["bytes"] == 2000));
    assert_eq!(listed(&app, &acct, &admin).await, 0);
    let (y, m) = time::year_month(time::now_unix());
    let doc = app
        .couch()
        .get(&account.modb(y, m), &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(doc["pvt_deleted"], true);
    assert!(
        doc.get("_attachments").is_none(),
        "the audio is gone, not just hidden"
    );
    retention::save_audit(app.couch(), &done).await.unwrap();
    // a second run finds nothing left
    let again = retention::run_account(app.couch(), &account, &policy, later, false)
        .await
        .unwrap();
    assert_eq!((again.examined, again.deleted.len()), (0, 0));

    // the audit trail: the API's run and the one above, newest first
    let r = app
        .call(Method::GET, &format!("{base}/audits"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let audits = r.body["data"].as_array().unwrap();
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0]["deleted"].as_array().unwrap().len(), 4);
    assert_eq!(audits[1]["deleted"], json!([]));
    // a user (not admin) may not touch the policy
    app.insert_user(&acct, "plain", "pw-plain", "user").await;
    let user = app
        .login("plain", "pw-plain", json!({"account_name": name}))
        .await;
    assert_eq!(
        app.call(Method::GET, &base, Some(&user), None).await.status,
        403
    );
}

#[tokio::test]
async fn s3_held_recordings_are_deleted_from_the_bucket() {
    let Some(url) = s3_url() else {
        return;
    };
    let app = spawn_with_local_urls().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let bucket = format!("ret-{}", uniq());
    reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap();
    let h = "0123456789abcdef0123456789abcdef";
    let storage = s3_storage(&url, &bucket, h, "k", "s");
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/storage"),
            Some(&admin),
            Some(storage),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .client
        .put(format!("{}/rec_ext/ingest/{acct}", app.base))
        .header(
            "x-recording-metadata",
            json!({"call_id": "ret-1", "duration_ms": 5000}).to_string(),
        )
        .body(vec![7u8; 5000])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let db = account.modb(id[..4].parse().unwrap(), id[4..6].parse().unwrap());
    let mut doc = Value::Null;
    for _ in 0..100 {
        doc = app
            .couch()
            .get(&db, &id)
            .await
            .unwrap()
            .unwrap_or(Value::Null);
        if doc.get("pvt_attachments").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let key = doc["pvt_attachments"][doc["name"].as_str().unwrap()]["handler"]["kazoo_rec"]
        ["location"]["key"]
        .as_str()
        .expect("delivered to S3")
        .to_string();
    let s3 = s3_client(&url, "k", "s");
    let exists = || async {
        s3.head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .is_ok()
    };
    assert!(exists().await, "delivered object {key}");

    // CouchDB-held audio is kept for ever here; S3-held for one day
    let policy = Policy {
        couch_days: None,
        storage_days: Some(1),
    };
    let tomorrow = time::now_gregorian() + 2 * DAY;
    let report = retention::run_account(app.couch(), &account, &policy, tomorrow, false)
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 1, "{:?}", report.errors);
    assert_eq!(report.deleted[0]["held_in"], format!("storage {h}"));
    assert!(!exists().await, "the object is gone");
    let doc = app.couch().get(&db, &id).await.unwrap().unwrap();
    assert_eq!(doc["pvt_deleted"], true);
}
