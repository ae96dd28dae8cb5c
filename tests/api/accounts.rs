//! Accounts: CRUD, the tree listings, storage layout, authorization across the tree.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn create_stores_kazoo_shaped_documents_in_both_databases() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let name = format!("Acme {}", uniq());
    let body = json!({"name": name, "ui_metadata": {"ui": "monster-ui", "origin": "accounts"}, "pvt_superduper_admin": true, "superduper_admin": true,
        "call_recording": {"account": {"inbound": {"offnet": {"enabled": true, "format": "mp3"}}}, "endpoint": {"any": {"any": {"enabled": false}}}}});
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{}", app.master_id),
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &r.body["data"];
    let id = d["id"].as_str().unwrap();
    assert_eq!(
        r.header("location").unwrap(),
        format!("/v2/accounts/{}/{}", app.master_id, id)
    );
    assert!(r.body["revision"].as_str().unwrap().starts_with("1-"));
    assert_eq!(
        d["superduper_admin"], false,
        "a client cannot make itself superduper"
    );
    assert_eq!(
        d["ui_metadata"]["origin"], "accounts",
        "unknown keys are kept"
    );
    assert!(d["realm"].as_str().unwrap().ends_with(".sip.2600hz.com"));
    assert!(d
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("pvt_") && !k.starts_with('_')));

    let aid = AccountId::parse(id).unwrap();
    let stored = app
        .couch()
        .get(&aid.db(), id)
        .await
        .unwrap()
        .expect("doc in the account db");
    assert_eq!(stored["pvt_type"], "account");
    assert_eq!(stored["pvt_account_id"], id);
    assert_eq!(stored["pvt_account_db"], aid.encoded_db());
    assert!(stored["pvt_account_db"]
        .as_str()
        .unwrap()
        .starts_with("account%2F"));
    assert_eq!(stored["pvt_tree"], json!([app.master_id]));
    assert_eq!(stored["pvt_api_key"].as_str().unwrap().len(), 64);
    assert_eq!(stored["pvt_enabled"], true);
    assert_eq!(stored["pvt_vsn"], "1");
    assert!(
        stored["pvt_created"].as_i64().unwrap() > 63_000_000_000,
        "gregorian seconds"
    );
    assert_eq!(stored["pvt_created"], stored["pvt_modified"]);
    assert!(stored.get("pvt_superduper_admin").is_none());
    let copy = app
        .couch()
        .get("accounts", id)
        .await
        .unwrap()
        .expect("copy in accounts");
    assert_eq!(copy["name"], name.as_str());
    assert_eq!(copy["pvt_tree"], stored["pvt_tree"]);
    // design docs with KAZOO's names were loaded, and the current MODB exists
    for ddoc in ["_design/account", "_design/users"] {
        assert!(
            app.couch().get(&aid.db(), ddoc).await.unwrap().is_some(),
            "{ddoc}"
        );
    }
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    assert!(app.couch().db_exists(&aid.modb(y, m)).await.unwrap());
}

#[tokio::test]
async fn read_update_patch_delete() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let name = format!("Rw {}", uniq());
    let acct = app.create_account(&admin, None, &name).await;
    let id = acct["id"].as_str().unwrap();
    let path = format!("/v2/accounts/{id}");

    let r = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(r.status, 200);
    let rev1 = r.body["revision"].as_str().unwrap().to_string();
    assert_eq!(r.header("etag").unwrap(), format!("\"{rev1}\""));
    assert_eq!(r.body["data"]["billing_mode"], "limits_only");
    assert_eq!(r.body["data"]["enabled"], true);

    // POST replaces the public part; a stale _rev in the body is ignored (last writer wins)
    let mut doc = r.body["data"].clone();
    doc["timezone"] = json!("Europe/Paris");
    doc["_rev"] = json!("1-stale");
    let r = app
        .call(Method::POST, &path, Some(&admin), Some(doc.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["timezone"], "Europe/Paris");
    let rev2 = r.body["revision"].as_str().unwrap().to_string();
    assert!(rev2.starts_with("2-"));
    let r = app
        .call(Method::POST, &path, Some(&admin), Some(doc.clone()))
        .await;
    assert_eq!(r.status, 200, "stale revisions are ignored as KAZOO does");

    // If-Match is our opt-in guard
    let body = serde_json::to_vec(&json!({"data": doc})).unwrap();
    let r = app
        .raw(
            Method::POST,
            &path,
            &[
                ("x-auth-token", &admin),
                ("content-type", "application/json"),
                ("if-match", &format!("\"{rev1}\"")),
            ],
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["message"], "datastore_conflict");
    let current = app.call(Method::GET, &path, Some(&admin), None).await.body["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .raw(
            Method::POST,
            &path,
            &[
                ("x-auth-token", &admin),
                ("content-type", "application/json"),
                ("if-match", &format!("\"{current}\"")),
            ],
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200);

    // PATCH merges, null removes
    let r = app.call(Method::PATCH, &path, Some(&admin), Some(json!({"timezone": null, "language": "fr-FR", "call_recording": {"endpoint": {"inbound": {"any": {"enabled": true}}}}}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["data"].get("timezone").is_none());
    assert_eq!(r.body["data"]["language"], "fr-FR");
    assert_eq!(r.body["data"]["name"], name.as_str());
    let aid = AccountId::parse(id).unwrap();
    let stored = app.couch().get(&aid.db(), id).await.unwrap().unwrap();
    assert_eq!(stored["language"], "fr-FR");
    assert!(stored["pvt_modified"].as_i64() >= stored["pvt_created"].as_i64());
    assert_eq!(
        app.couch().get("accounts", id).await.unwrap().unwrap()["language"],
        "fr-FR"
    );

    // DELETE removes the databases; then 404
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!app.couch().db_exists(&aid.db()).await.unwrap());
    let r = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "bad_identifier");
    assert_eq!(r.body["data"]["cause"], id);
}

#[tokio::test]
async fn validation_and_uniqueness() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let parent = format!("/v2/accounts/{}", app.master_id);
    let r = app
        .call(
            Method::PUT,
            &parent,
            Some(&admin),
            Some(json!({"realm": format!("r{}.example.com", uniq())})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["message"], "validation error");
    assert!(r.body["data"]["name"]["required"].is_object(), "{}", r.text);

    let name = format!("Dup {}", uniq());
    let a = app.create_account(&admin, None, &name).await;
    let r = app.call(Method::PUT, &parent, Some(&admin), Some(json!({"name": name.to_uppercase(), "realm": a["realm"].as_str().unwrap().to_uppercase()}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["realm"]["unique"]["message"],
        "Account realm already in use"
    );
    assert_eq!(
        r.body["data"]["name"]["unique"]["message"],
        "Account name already in use"
    );

    let r = app.call(Method::PUT, &parent, Some(&admin), Some(json!({"name": format!("Bad {}", uniq()), "call_recording": {"account": {"inbound": {"offnet": {"enabled": "yes", "format": "ogg", "time_limit": 2}}}}}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let data = r.body["data"].as_object().unwrap();
    assert!(
        data.keys()
            .any(|k| k.starts_with("call_recording.account.inbound.offnet")),
        "{}",
        r.text
    );
    for v in data.values() {
        assert!(v.is_object());
    }
}

#[tokio::test]
async fn tree_listings_and_paging() {
    let app = spawn_app().await;
    let (root, _, token) = app.account_with_admin(None).await;
    let mut kids = vec![];
    for i in 0..3 {
        kids.push(
            app.create_account(&token, Some(&root), &format!("Kid {i} {}", uniq()))
                .await,
        );
    }
    let k0 = kids[0]["id"].as_str().unwrap().to_string();
    let grandkid = app
        .create_account(&token, Some(&k0), &format!("Grand {}", uniq()))
        .await;

    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(
        names.windows(2).all(|w| w[0] >= w[1]),
        "descending by default: {names:?}"
    );
    assert_eq!(r.body["page_size"], 3);
    assert!(r.body.get("next_start_key").is_none());
    for c in r.body["data"].as_array().unwrap() {
        for key in ["id", "name", "realm", "descendants_count", "flags"] {
            assert!(c.get(key).is_some(), "{key}");
        }
    }

    // paging across pages with next_start_key, ascending
    let r1 = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children?page_size=2&ascending=true"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r1.body["data"].as_array().unwrap().len(), 2);
    let next = r1.body["next_start_key"]
        .as_str()
        .expect("more pages")
        .to_string();
    let r2 = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children?page_size=2&ascending=true&start_key={next}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r2.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r2.body["start_key"], next.as_str());
    assert!(r2.body.get("next_start_key").is_none());
    let mut all: Vec<Value> = r1.body["data"].as_array().unwrap().clone();
    all.extend(r2.body["data"].as_array().unwrap().clone());
    let mut sorted: Vec<&str> = all.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let copy = sorted.clone();
    sorted.sort();
    assert_eq!(sorted, copy);

    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children?paginate=false"),
            Some(&token),
            None,
        )
        .await;
    assert!(r.body.get("page_size").is_none());
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children?page_size=0"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "faulty_request");
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/children?page_size=abc"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 404);

    // filters
    let kid1_name = kids[1]["name"].as_str().unwrap();
    let r = app
        .call(
            Method::GET,
            &format!(
                "/v2/accounts/{root}/children?filter_name={}",
                urlencode(kid1_name)
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app
        .call(
            Method::GET,
            &format!(
                "/v2/accounts/{root}/children?filter_not_name={}",
                urlencode(kid1_name)
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);

    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/descendants"),
            Some(&token),
            None,
        )
        .await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(&grandkid["id"].as_str().unwrap()));
    assert!(!ids.contains(&root.as_str()));

    let gk = grandkid["id"].as_str().unwrap();
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{gk}/parents"),
            Some(&token),
            None,
        )
        .await;
    let parents: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        parents,
        vec![root.as_str(), k0.as_str()],
        "cut at the caller's account"
    );
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{gk}/tree"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{k0}/siblings"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{root}/siblings"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "own account's siblings need superduper");

    // an account with descendants cannot be deleted
    let r = app
        .call(
            Method::DELETE,
            &format!("/v2/accounts/{k0}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body["message"], "account_has_descendants");
    // the master cannot be deleted
    let admin = app.admin_token().await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/v2/accounts/{}", app.master_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn a_token_reaches_its_account_and_descendants_only() {
    let app = spawn_app().await;
    let (parent, _, parent_token) = app.account_with_admin(None).await;
    let (child, _, child_token) = app.account_with_admin(Some(&parent)).await;
    let (sibling, _, _) = app.account_with_admin(Some(&parent)).await;
    // parent → child: allowed; child → parent, child → sibling: forbidden
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v2/accounts/{child}"),
            Some(&parent_token),
            None
        )
        .await
        .status,
        200
    );
    for target in [&parent, &sibling, &app.master_id] {
        let r = app
            .call(
                Method::GET,
                &format!("/v2/accounts/{target}"),
                Some(&child_token),
                None,
            )
            .await;
        assert_eq!(r.status, 403, "{target}");
        assert_eq!(r.body["message"], "forbidden");
        let r = app
            .call(
                Method::POST,
                &format!("/v2/accounts/{target}"),
                Some(&child_token),
                Some(json!({"name": "hijack"})),
            )
            .await;
        assert_eq!(r.status, 403);
        let r = app
            .call(
                Method::PUT,
                &format!("/v2/accounts/{target}"),
                Some(&child_token),
                Some(json!({"name": format!("x{}", uniq())})),
            )
            .await;
        assert_eq!(r.status, 403);
    }
    // the superduper admin reaches everything
    let admin = app.admin_token().await;
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v2/accounts/{child}"),
            Some(&admin),
            None
        )
        .await
        .status,
        200
    );
    // PUT /v2/accounts creates under the caller's own account
    let r = app
        .call(
            Method::PUT,
            "/v2/accounts",
            Some(&child_token),
            Some(json!({"name": format!("Bare {}", uniq())})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["data"]["id"].as_str().unwrap();
    let stored = app.couch().get("accounts", id).await.unwrap().unwrap();
    assert_eq!(stored["pvt_tree"], json!([app.master_id, parent, child]));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
