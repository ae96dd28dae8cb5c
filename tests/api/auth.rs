//! user_auth, api_auth, token_auth, tokeninfo: success, every failure, throttling.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn user_auth_by_name_and_realm_with_md5_and_sha() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let name = format!("Login Co {}", uniq());
    let acct = app.create_account(&admin, None, &name).await;
    let id = acct["id"].as_str().unwrap();
    let owner = app.insert_user(id, "alice", "s3cret", "user").await;

    let creds = md5_hex("alice:s3cret");
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": creds, "account_name": name})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "success");
    let token = r.body["auth_token"].as_str().unwrap();
    assert_eq!(
        token.matches('.').count(),
        2,
        "Monster UI needs a JWT-shaped token"
    );
    let d = &r.body["data"];
    assert_eq!(d["account_id"], id);
    assert_eq!(d["owner_id"], owner.as_str());
    assert_eq!(d["account_name"], name.as_str());
    assert_eq!(d["language"], "en-US");
    assert_eq!(d["is_reseller"], false);
    assert_eq!(d["reseller_id"], app.master_id.as_str());
    assert!(d["apps"].is_array());
    assert!(r.header("location").is_none());

    // sha1 by realm (case-insensitive)
    let sha = kazoo_rec::auth::creds::sha1_hex("alice:s3cret");
    let realm = acct["realm"].as_str().unwrap().to_uppercase();
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": sha, "method": "sha", "account_realm": realm})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // the token works on the account
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["auth_token"], token);
    assert_eq!(r.body["version"], "4.3.0");
}

#[tokio::test]
async fn user_auth_failures_look_the_same() {
    let app = spawn_app().await;
    let (_id, name, _) = app.account_with_admin(None).await;
    let wrong = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": md5_hex("boss:nope"), "account_name": name})),
        )
        .await;
    let unknown_user = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": md5_hex("ghost:pw"), "account_name": name})),
        )
        .await;
    let unknown_account = app.call(Method::PUT, "/v2/user_auth", None, Some(json!({"credentials": md5_hex("boss:pw-boss"), "account_name": "no such account zz"}))).await;
    for r in [&wrong, &unknown_user, &unknown_account] {
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["message"], "invalid_credentials");
        assert_eq!(r.body["error"], "401");
        assert_eq!(r.body["data"], json!({"message": "invalid credentials"}));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // schema errors are 400s in KAZOO's shape
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"account_name": name})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["message"], "validation error");
    assert!(
        r.body["data"]["credentials"]["required"].is_object(),
        "{}",
        r.text
    );
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": "x", "method": "sha1", "account_name": name})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["data"]["method"]["enum"].is_object(), "{}", r.text);
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_without_blocking_others() {
    let mut cfg = settings();
    cfg.login_failures_per_user = 5;
    let app = spawn_with(cfg).await;
    let (_a, victim, _) = app.account_with_admin(None).await;
    let (_b, other, _) = app.account_with_admin(None).await;
    let mut statuses = vec![];
    for _ in 0..8 {
        let r = app
            .call(
                Method::PUT,
                "/v2/user_auth",
                None,
                Some(json!({"credentials": md5_hex("boss:guess"), "account_name": victim})),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // even the right password is refused while throttled…
    let r = app
        .call(
            Method::PUT,
            "/v2/user_auth",
            None,
            Some(json!({"credentials": md5_hex("boss:pw-boss"), "account_name": victim})),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["message"], "too_many_requests");
    // …but another account's login is not slowed
    app.login("boss", "pw-boss", json!({"account_name": other}))
        .await;
}

#[tokio::test]
async fn api_auth_with_the_account_key() {
    let app = spawn_app().await;
    let (id, _, token) = app.account_with_admin(None).await;
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{id}/api_key"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let key = r.body["data"]["api_key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);
    let r = app
        .call(
            Method::PUT,
            "/v2/api_auth",
            None,
            Some(json!({"api_key": key})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["data"]["account_id"], id.as_str());
    assert!(r.body["data"].get("owner_id").is_none());
    let bad = "0".repeat(64);
    let r = app
        .call(
            Method::PUT,
            "/v2/api_auth",
            None,
            Some(json!({"api_key": bad})),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "bad identifier");
    assert_eq!(r.body["data"], json!([bad]));
    let r = app
        .call(
            Method::PUT,
            "/v2/api_auth",
            None,
            Some(json!({"api_key": "short"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // resetting the key: the old one stops working
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{id}/api_key"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_ne!(r.body["data"]["api_key"], key.as_str());
    let r = app
        .call(
            Method::PUT,
            "/v2/api_auth",
            None,
            Some(json!({"api_key": key})),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn token_info_revocation_and_tokeninfo() {
    let app = spawn_app().await;
    let (id, _, token) = app.account_with_admin(None).await;
    let r = app
        .call(Method::GET, "/v2/token_auth", Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["account_id"], id.as_str());
    assert_eq!(r.body["data"]["method"], "cb_user_auth");

    // Monster UI's cookie login
    let r = app
        .call(
            Method::POST,
            "/v2/auth/tokeninfo",
            None,
            Some(json!({"token": token, "ui_metadata": {"ui": "monster-ui"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["account_id"], id.as_str());
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/auth/tokeninfo?token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);

    let r = app
        .call(Method::DELETE, "/v2/token_auth", Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "invalid credentials");
    assert_eq!(r.body["data"], json!({}));
    let r = app
        .call(
            Method::POST,
            "/v2/auth/tokeninfo",
            None,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(r.status, 401);
    // a restarted service (new state, same database) still refuses it
    let app2 = spawn_app().await;
    let r = app2
        .call(
            Method::GET,
            &format!("/v2/accounts/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let mut cfg = settings();
    // 3 s: long enough that login + first request never straddle the expiry on a busy machine.
    cfg.token_expiry_s = 3;
    let app = spawn_with(cfg).await;
    let token = app.admin_token().await;
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{}", app.master_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{}", app.master_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "invalid credentials");
}

#[tokio::test]
async fn tokens_are_found_where_crossbar_looks() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let path = format!("/v2/accounts/{}", app.master_id);
    let r = app
        .raw(
            Method::GET,
            &format!("{path}?auth_token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "query auth_token");
    let bearer = format!("Bearer {token}");
    let r = app
        .raw(Method::GET, &path, &[("authorization", &bearer)], None)
        .await;
    assert_eq!(r.status, 200, "bearer");
    let r = app
        .raw(Method::GET, &path, &[("x-auth-token", "undefined")], None)
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "invalid_credentials");
    let r = app
        .raw(
            Method::GET,
            &path,
            &[("x-auth-token", &token), ("x-auth-account-id", "0123")],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_thousand_wrong_logins_are_throttled_without_slowing_other_accounts() {
    let app = spawn_app().await; // defaults: 10 failures per account, 100 per address
    let (_a, victim, _) = app.account_with_admin(None).await;
    let (_b, other, _) = app.account_with_admin(None).await;
    let body =
        json!({"data": {"credentials": md5_hex("boss:guess"), "account_name": victim}}).to_string();
    let started = std::time::Instant::now();
    use futures_util::StreamExt;
    let statuses: Vec<u16> = futures_util::stream::iter(0..1000)
        .map(|_| {
            let c = app.client.clone();
            let url = format!("{}/v2/user_auth", app.base);
            let body = body.clone();
            async move {
                c.put(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let took = started.elapsed();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    println!("1000 wrong logins in {took:?}: {wrong} x 401, {refused} x 429");
    assert_eq!(wrong + refused, 1000);
    assert_eq!(
        wrong, 10,
        "exactly the allowed failures get through, however concurrent"
    );
    // another account, from another address, logs in at once
    let other_client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let r = other_client
        .put(format!("{}/v2/user_auth", app.base))
        .header("content-type", "application/json")
        .body(
            json!({"data": {"credentials": md5_hex("boss:pw-boss"), "account_name": other}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
}
