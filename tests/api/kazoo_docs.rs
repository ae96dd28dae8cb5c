//! Documents written by KAZOO itself (its own fixture database, in ../shared) are read,
//! listed and updated by us without losing a field we do not know.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

const ACCOUNT: &str = "account0000000000000000000000001";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kazoo-reference/core/kazoo_fixturedb/priv/dbs/account%2Fac%2Fco%2Funt0000000000000000000000001/docs")
}

async fn load_kazoo_account(app: &TestApp) -> Option<Vec<Value>> {
    let dir = fixture_dir();
    if !dir.is_dir() {
        eprintln!(
            "KAZOO fixture documents not found at {}: skipped",
            dir.display()
        );
        return None;
    }
    let id = AccountId::parse(ACCOUNT).unwrap();
    app.couch().delete_db(&id.db()).await.unwrap();
    app.couch().create_db(&id.db()).await.unwrap();
    app.couch()
        .ensure_design_docs(&id.db(), kazoo_rec::couch::views::account_db_docs())
        .await
        .unwrap();
    let mut docs = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc.as_object_mut().unwrap().remove("_rev");
        doc.as_object_mut().unwrap().remove("_attachments");
        let mut saved = doc.clone();
        app.couch().save(&id.db(), &mut saved).await.unwrap();
        if doc["pvt_type"] == "account" {
            let mut copy = doc.clone();
            if let Some(existing) = app.couch().get("accounts", ACCOUNT).await.unwrap() {
                copy["_rev"] = existing["_rev"].clone();
            }
            app.couch().save("accounts", &mut copy).await.unwrap();
        }
        docs.push(doc);
    }
    Some(docs)
}

fn by_id<'a>(docs: &'a [Value], id: &str) -> &'a Value {
    docs.iter().find(|d| d["_id"] == id).unwrap()
}

/// `now` still holds all of `original`: objects may gain keys (schema defaults are filled
/// and stored on every write, as KAZOO does), nothing is lost or changed.
fn contains(original: &Value, now: &Value) -> bool {
    match (original, now) {
        (Value::Object(o), Value::Object(n)) => o
            .iter()
            .all(|(k, v)| n.get(k).is_some_and(|nv| contains(v, nv))),
        (o, n) => o == n,
    }
}

fn assert_kept(original: &Value, now: &Value, except: &[&str]) {
    for (k, v) in original.as_object().unwrap() {
        if except.contains(&k.as_str()) || k == "_rev" {
            continue;
        }
        assert!(
            now.get(k).is_some_and(|n| contains(v, n)),
            "field {k} changed or lost: {v} → {:?}",
            now.get(k)
        );
    }
}

#[tokio::test]
async fn kazoo_written_documents_are_read_listed_and_updated_losslessly() {
    let app = spawn_app().await;
    let Some(docs) = load_kazoo_account(&app).await else {
        return;
    };
    let admin = app.admin_token().await;
    let base = format!("/v2/accounts/{ACCOUNT}");

    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call(Method::GET, &format!("{base}/users"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"user0000000000000000000000000001")
            && listed.contains(&"user0000000000000000000000000002"),
        "{listed:?}"
    );
    let r = app
        .call(Method::GET, &format!("{base}/devices"), Some(&admin), None)
        .await;
    assert!(r.body["data"].as_array().unwrap().len() >= 2, "{}", r.text);

    let db = AccountId::parse(ACCOUNT).unwrap().db();
    for (kind, id) in [
        ("users", "user0000000000000000000000000001"),
        ("devices", "device00000000000000000000000001"),
    ] {
        let original = by_id(&docs, id);
        let r = app
            .call(
                Method::GET,
                &format!("{base}/{kind}/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        for (k, v) in original.as_object().unwrap() {
            if !k.starts_with('_') && !k.starts_with("pvt_") {
                assert_eq!(r.body["data"].get(k), Some(v), "{kind}.{k} as served");
            }
        }
        // PATCH one field; everything else, known to us or not, private or public, survives
        let r = app
            .call(
                Method::PATCH,
                &format!("{base}/{kind}/{id}"),
                Some(&admin),
                Some(json!({"language": "fr-FR"})),
            )
            .await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        let stored = app.couch().get(&db, id).await.unwrap().unwrap();
        assert_eq!(stored["language"], "fr-FR");
        if let Some(mac) = original.get("mac_address").and_then(Value::as_str) {
            assert_eq!(stored["mac_address"], mac.replace(':', "").to_lowercase());
        }
        // KAZOO itself rewrites mac_address on every device write (lowercase hex only).
        assert_kept(
            original,
            &stored,
            &[
                "mac_address",
                "pvt_document_hash",
                "language",
                "pvt_modified",
                "pvt_request_id",
                "pvt_auth_account_id",
                "pvt_auth_user_id",
                "pvt_is_authenticated",
                "pvt_alphanum_name",
                "pvt_vsn",
            ],
        );
    }
}

/// The private fields we write have KAZOO's names and JSON types (compared with the
/// documents KAZOO's own fixture database holds).
#[tokio::test]
async fn our_documents_carry_kazoo_private_fields() {
    let dir = fixture_dir();
    if !dir.is_dir() {
        eprintln!("KAZOO fixture documents not found: skipped");
        return;
    }
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}");
    let user = app.call(Method::PUT, &format!("{base}/users"), Some(&admin), Some(json!({"first_name": "K", "last_name": "Shape", "username": "kshape", "password": "pw"}))).await;
    let device = app
        .call(
            Method::PUT,
            &format!("{base}/devices"),
            Some(&admin),
            Some(json!({"name": "K phone"})),
        )
        .await;
    let db = AccountId::parse(&acct).unwrap().db();
    for (ours_id, theirs_file) in [
        (
            user.body["data"]["id"].as_str().unwrap(),
            "user0000000000000000000000000001.json",
        ),
        (
            device.body["data"]["id"].as_str().unwrap(),
            "device00000000000000000000000001.json",
        ),
        (acct.as_str(), "account0000000000000000000000001.json"),
    ] {
        let theirs: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(theirs_file)).unwrap()).unwrap();
        let ours = app.couch().get(&db, ours_id).await.unwrap().unwrap();
        for (k, v) in theirs.as_object().unwrap() {
            let standard = [
                "pvt_type",
                "pvt_account_id",
                "pvt_account_db",
                "pvt_created",
                "pvt_modified",
                "pvt_vsn",
                "pvt_request_id",
                "pvt_is_authenticated",
                "pvt_auth_account_id",
                "pvt_auth_user_id",
                "pvt_document_hash",
                "pvt_api_key",
                "pvt_tree",
                "pvt_enabled",
            ];
            if !standard.contains(&k.as_str()) {
                continue;
            }
            let o = ours
                .get(k)
                .unwrap_or_else(|| panic!("{theirs_file}: we do not write {k}"));
            let kind = |v: &Value| std::mem::discriminant(v);
            assert_eq!(
                kind(o),
                kind(v),
                "{theirs_file}: {k} has another JSON type ({o} vs {v})"
            );
        }
        assert_eq!(
            ours["pvt_account_db"],
            AccountId::parse(&acct).unwrap().encoded_db(),
            "encoded, as KAZOO stores it"
        );
    }
    assert!(user.body["data"].get("pvt_md5_auth").is_none());
    let stored_user = app
        .couch()
        .get(&db, user.body["data"]["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored_user["pvt_md5_auth"], md5_hex("kshape:pw"));
    assert_eq!(
        stored_user["pvt_sha1_auth"],
        kazoo_rec::auth::creds::sha1_hex("kshape:pw")
    );
}
