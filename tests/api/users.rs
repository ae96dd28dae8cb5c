//! Users: CRUD with KAZOO's credential hashes, unique usernames, the priv_level policy,
//! call_recording settings, and listing with paging.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn create_login_update_delete() {
    let app = spawn_app().await;
    let (acct, name, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}/users");
    let r = app
        .call(Method::PUT, &base, Some(&admin), Some(json!({"first_name": "Ann", "last_name": "Lee", "username": "Ann.Lee@Example.com", "password": "pw-1", "ui_metadata": {"origin": "voip"},
            "call_recording": {"inbound": {"offnet": {"enabled": true, "format": "wav", "time_limit": "600"}}}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &r.body["data"];
    let uid = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["username"], "ann.lee@example.com");
    assert!(d.get("password").is_none());
    assert_eq!(d["priv_level"], "user", "schema default");
    assert_eq!(d["call_recording"]["inbound"]["offnet"]["time_limit"], 600);
    assert!(
        d["call_recording"]["inbound"].get("onnet").is_none(),
        "absent keys stay absent (they mean inherit)"
    );
    assert_eq!(r.header("location").unwrap(), format!("{base}/{uid}"));

    let db = AccountId::parse(&acct).unwrap().db();
    let stored = app.couch().get(&db, &uid).await.unwrap().unwrap();
    assert_eq!(stored["pvt_type"], "user");
    assert_eq!(stored["pvt_md5_auth"], md5_hex("ann.lee@example.com:pw-1"));
    assert_eq!(
        stored["pvt_sha1_auth"],
        kazoo_rec::auth::creds::sha1_hex("ann.lee@example.com:pw-1")
    );
    assert!(stored.get("password").is_none());
    assert!(!serde_json::to_string(&stored).unwrap().contains("pw-1"));
    assert_eq!(stored["ui_metadata"]["origin"], "voip");
    assert_eq!(stored["pvt_alphanum_name"], "annlee");

    let token = app
        .login("ann.lee@example.com", "pw-1", json!({"account_name": name}))
        .await;

    // changing the username needs a password; with one, the hashes follow
    let r = app
        .call(
            Method::PATCH,
            &format!("{base}/{uid}"),
            Some(&admin),
            Some(json!({"username": "ann"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["password"]["required"]["message"],
        "The password must be provided when creating / updating the user name"
    );
    let r = app
        .call(
            Method::PATCH,
            &format!("{base}/{uid}"),
            Some(&admin),
            Some(json!({"username": "ann", "password": "pw-2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.login("ann", "pw-2", json!({"account_name": name}))
        .await;
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": md5_hex("ann.lee@example.com:pw-1"), "account_name": name})),
        )
        .await;
    assert_eq!(r.status, 401);

    // PATCH null removes a level so it inherits again
    let r = app
        .call(
            Method::PATCH,
            &format!("{base}/{uid}"),
            Some(&token),
            Some(json!({"call_recording": {"inbound": null}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["data"]["call_recording"].get("inbound").is_none());

    // duplicate username
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"first_name": "B", "last_name": "C", "username": "ANN", "password": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["username"]["unique"],
        json!({"message": "Username must be unique within account", "cause": "ann"})
    );

    // list
    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    assert_eq!(r.status, 200);
    let row = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == uid.as_str())
        .unwrap()
        .clone();
    for k in [
        "features",
        "username",
        "first_name",
        "last_name",
        "priv_level",
        "flags",
    ] {
        assert!(row.get(k).is_some(), "{k}");
    }

    // soft delete: 200 with _read_only.deleted, then 404, and the login stops working
    let r = app
        .call(Method::DELETE, &format!("{base}/{uid}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["_read_only"]["deleted"], true);
    assert_eq!(
        app.couch().get(&db, &uid).await.unwrap().unwrap()["pvt_deleted"],
        true
    );
    let r = app
        .call(Method::GET, &format!("{base}/{uid}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["data"]["cause"], uid.as_str());
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": md5_hex("ann:pw-2"), "account_name": name})),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_user_level_token_reaches_only_itself() {
    let app = spawn_app().await;
    let (acct, name, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}/users");
    let mut ids = vec![];
    for u in ["joe", "sue"] {
        let r = app
            .call(
                Method::PUT,
                &base,
                Some(&admin),
                Some(json!({"first_name": u, "last_name": "X", "username": u, "password": "pw"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["data"]["id"].as_str().unwrap().to_string());
    }
    let joe = app.login("joe", "pw", json!({"account_name": name})).await;
    let me = format!("{base}/{}", ids[0]);
    let other = format!("{base}/{}", ids[1]);
    assert_eq!(
        app.call(Method::GET, &me, Some(&joe), None).await.status,
        200
    );
    let r = app
        .call(
            Method::PATCH,
            &me,
            Some(&joe),
            Some(json!({"language": "fr-FR"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &me,
            Some(&joe),
            Some(json!({"priv_level": "admin"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["data"]["priv_level"]["forbidden"].is_object());
    for (m, p) in [
        (Method::GET, &other),
        (Method::PATCH, &other),
        (Method::DELETE, &other),
        (Method::DELETE, &me),
        (Method::GET, &base),
    ] {
        let r = app
            .call(m.clone(), p, Some(&joe), Some(json!({"language": "x"})))
            .await;
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text);
    }
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&joe),
            Some(json!({"first_name": "n", "last_name": "n"})),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn users_paginate_across_pages() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}/users");
    for i in 0..5 {
        let r = app
            .call(
                Method::PUT,
                &base,
                Some(&admin),
                Some(json!({"first_name": format!("F{i}"), "last_name": format!("L{i}")})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let mut seen: Vec<String> = vec![];
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(k) => format!("{base}?page_size=2&start_key={k}"),
            None => format!("{base}?page_size=2"),
        };
        let r = app.call(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string()),
        );
        match r.body.get("next_start_key").and_then(Value::as_str) {
            Some(k) => next = Some(k.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "5 users + the admin, each once");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 6);
}
