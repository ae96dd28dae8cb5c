//! The crossbar contract that applies to every endpoint: envelope, error statuses and their
//! order, CORS, tunnelling, limits. Malformed input never yields a 5xx.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn envelope_and_headers() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{}", app.master_id),
            &[("x-auth-token", &token), ("x-request-id", "my-req-1")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("my-req-1"));
    assert_eq!(r.body["request_id"], "my-req-1");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["status"], "success");
    for k in [
        "data",
        "revision",
        "node",
        "version",
        "timestamp",
        "auth_token",
    ] {
        assert!(r.body.get(k).is_some(), "{k}");
    }
    assert_eq!(r.body["node"].as_str().unwrap().len(), 22);
    assert!(r.body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // a generated request id is 32 hex
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{}", app.master_id),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert_eq!(r.header("x-request-id").unwrap().len(), 32);
    // pretty print and jsonp
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{}?pretty_print=true", app.master_id),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert!(r.text.contains("\n  "));
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{}?jsonp=cb", app.master_id),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert!(r.text.starts_with("cb({") && r.text.ends_with(");"));
    assert_eq!(r.header("content-type"), Some("application/javascript"));
}

#[tokio::test]
async fn error_statuses_in_crossbar_order() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let acct = format!("/v2/accounts/{}", app.master_id);
    let json_ct = ("content-type", "application/json");

    // bad JSON is a 400 before authentication
    let r = app
        .raw(
            Method::POST,
            &acct,
            &[json_ct],
            Some(b"{\"data\": {".to_vec()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["message"], "validation error");
    assert_eq!(r.body["data"]["json"]["invalid"]["target"], "body");
    let r = app
        .raw(Method::POST, &acct, &[json_ct], Some(b"[1,2]".to_vec()))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["json"]["invalid"]["message"],
        "All JSON must be valid"
    );
    // a body without data
    let r = app
        .raw(
            Method::POST,
            &acct,
            &[json_ct, ("x-auth-token", &token)],
            Some(br#"{"name":"x"}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["data"]["required"]["message"],
        "Field is required but missing"
    );
    assert_eq!(
        r.body["data"]["data"]["required"]["value"],
        json!({"name": "x"})
    );
    // unknown account ids: 404 before 401
    let r = app.raw(Method::GET, "/v2/accounts/nothex", &[], None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["data"]["message"], "invalid account_id 'nothex'");
    let missing = "0".repeat(32);
    let r = app
        .raw(Method::GET, &format!("/v2/accounts/{missing}"), &[], None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["data"],
        json!({"cause": missing, "message": "bad identifier"})
    );
    // no token: 401
    let r = app.raw(Method::GET, &acct, &[], None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["data"], json!({"message": "invalid credentials"}));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("*"),
        "CORS on errors too"
    );
    // wrong verb: 405 (before authentication)
    let r = app.raw(Method::DELETE, "/v2/user_auth", &[], None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body["message"], "invalid_method");
    let r = app
        .raw(
            Method::PATCH,
            &format!("{acct}/children"),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert_eq!(r.status, 405);
    // unknown paths
    let r = app
        .raw(
            Method::GET,
            &format!("{acct}/children/extra"),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "not_found");
    let r = app.raw(Method::GET, "/v2/no_such_module", &[], None).await;
    assert_eq!(r.status, 401);
    let r = app
        .raw(
            Method::GET,
            "/v2/no_such_module",
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // wrong content type on a write: 415
    let r = app
        .raw(
            Method::POST,
            &acct,
            &[("content-type", "text/plain"), ("x-auth-token", &token)],
            Some(b"{\"data\":{}}".to_vec()),
        )
        .await;
    assert_eq!(r.status, 415);
    // oversized bodies: KAZOO answers 400 with a maxSize error
    let big = format!("{{\"data\":{{\"name\":\"{}\"}}}}", "x".repeat(8_100_000));
    let r = app
        .raw(
            Method::POST,
            &acct,
            &[json_ct, ("x-auth-token", &token)],
            Some(big.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["data"]["file"]["maxSize"]["target"], 8_000_000);
}

#[tokio::test]
async fn cors_preflight_on_every_path() {
    let app = spawn_app().await;
    for path in [
        "/v2/user_auth",
        "/v2/accounts/0123/users",
        "/v2/anything/at/all",
        &format!("/v2/accounts/{}", app.master_id),
    ] {
        let r = app
            .raw(
                Method::OPTIONS,
                path,
                &[
                    ("origin", "http://ui.example"),
                    ("access-control-request-method", "PATCH"),
                    (
                        "access-control-request-headers",
                        "content-type,x-auth-token",
                    ),
                ],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text.is_empty());
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(r
            .header("access-control-allow-methods")
            .unwrap()
            .starts_with("PATCH, OPTIONS"));
        let allowed = r.header("access-control-allow-headers").unwrap();
        for h in ["content-type", "x-auth-token", "x-kazoo-cluster-id"] {
            assert!(allowed.contains(h));
        }
        assert_eq!(r.header("access-control-max-age"), Some("86400"));
    }
    let r = app
        .raw(
            Method::OPTIONS,
            &format!("/v2/accounts/{}", app.master_id),
            &[("access-control-request-method", "GET")],
            None,
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, OPTIONS, PUT, POST, PATCH, DELETE")
    );
}

#[tokio::test]
async fn verb_and_accept_tunnelling() {
    let app = spawn_app().await;
    let (root, _, token) = app.account_with_admin(None).await;
    // POST + ?verb=PUT creates (201)
    let r = app
        .call(
            Method::POST,
            &format!("/v2/accounts/{root}?verb=PUT"),
            Some(&token),
            Some(json!({"name": format!("Tun {}", uniq())})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let child = r.body["data"]["id"].as_str().unwrap().to_string();
    // POST + envelope verb=PATCH patches
    let body =
        serde_json::to_vec(&json!({"data": {"language": "de-DE"}, "verb": "PATCH"})).unwrap();
    let r = app
        .raw(
            Method::POST,
            &format!("/v2/accounts/{child}"),
            &[
                ("x-auth-token", &token),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["language"], "de-DE");
    assert!(r.body["data"]["name"].is_string());
    // POST + ?verb=delete (lower case) deletes
    let r = app
        .call(
            Method::POST,
            &format!("/v2/accounts/{child}?verb=delete"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v2/accounts/{child}"),
            Some(&token),
            None
        )
        .await
        .status,
        404
    );
    // accept=csv renders a list as CSV
    app.create_account(&token, Some(&root), &format!("Csv {}", uniq()))
        .await;
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{root}/children?accept=text/csv"),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert!(
        r.text.starts_with("id,name,realm,descendants_count"),
        "{}",
        r.text
    );
    // Monster UI's Accept still gets JSON
    let r = app
        .raw(
            Method::GET,
            &format!("/v2/accounts/{root}/children"),
            &[
                ("x-auth-token", &token),
                ("accept", "application/json, text/javascript, */*; q=0.01"),
            ],
            None,
        )
        .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn garbage_never_yields_a_server_error() {
    let app = spawn_app().await;
    // Its own account: garbage that happens to be valid must not rename a shared one.
    let (id, _, token) = app.account_with_admin(None).await;
    let acct = format!("/v2/accounts/{id}");
    let nested = format!(
        "{{\"data\":{}{}}}",
        "{\"a\":".repeat(200),
        "1".to_string() + &"}".repeat(200)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"data\":null}".to_vec(),
        b"{\"data\":[1,2,3]}".to_vec(),
        b"{\"data\":{\"name\":5}}".to_vec(),
        b"{\"data\":{\"name\":\"\"}}".to_vec(),
        b"{\"data\":{\"call_recording\":[]}}".to_vec(),
        b"{\"data\":{\"call_recording\":{\"account\":\"x\"}}}".to_vec(),
        b"\xff\xfe\x00garbage".to_vec(),
        nested.into_bytes(),
    ];
    let paths = [
        acct.clone(),
        format!("{acct}/children"),
        "/v2/user_auth".into(),
        "/v2/api_auth".into(),
        "/v2/accounts".into(),
        "/v2/auth/tokeninfo".into(),
    ];
    for path in &paths {
        for method in [Method::GET, Method::PUT, Method::POST, Method::PATCH] {
            for body in &bodies {
                let r = app
                    .raw(
                        method.clone(),
                        path,
                        &[
                            ("x-auth-token", &token),
                            ("content-type", "application/json"),
                        ],
                        Some(body.clone()),
                    )
                    .await;
                assert!(
                    r.status < 500,
                    "{method} {path} {:?} → {} {}",
                    String::from_utf8_lossy(body),
                    r.status,
                    r.text
                );
                if r.status >= 400 && r.status != 415 {
                    assert_eq!(r.body["status"], "error", "{}", r.text);
                }
            }
        }
    }
    // long query strings and odd ids
    let long = "x".repeat(6000);
    let r = app
        .raw(
            Method::GET,
            &format!("{acct}/children?filter_name={long}&start_key={long}"),
            &[("x-auth-token", &token)],
            None,
        )
        .await;
    assert!(r.status < 500);
    for id in ["%2e%2e", "..", "_design", "a%2Fb", &"f".repeat(32)] {
        let r = app
            .raw(
                Method::GET,
                &format!("/v2/accounts/{id}"),
                &[("x-auth-token", &token)],
                None,
            )
            .await;
        assert_eq!(r.status, 404, "{id}: {}", r.text);
        assert!(r.body.get("data").is_some_and(Value::is_object));
    }
}

#[tokio::test]
async fn version_1_is_never_paginated() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    for name in ["a", "b", "c"] {
        app.call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/users"),
            Some(&admin),
            Some(json!({"first_name": name, "last_name": "x"})),
        )
        .await;
    }
    // the boss user plus three: v2 pages, v1 (KAZOO 4.3) answers everything at once
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/users?page_size=2"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body["next_start_key"].is_string());
    let r = app
        .call(
            Method::GET,
            &format!("/v1/accounts/{acct}/users?page_size=2"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 4);
    assert!(
        r.body.get("next_start_key").is_none() && r.body.get("page_size").is_none(),
        "{}",
        r.text
    );
    // everything else is the same API
    let r = app
        .call(
            Method::GET,
            &format!("/v1/accounts/{acct}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((r.status, &r.body["data"]["id"]), (200, &json!(acct)));
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cfg = settings();
    cfg.request_timeout_s = 2;
    let app = spawn_with(cfg).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // slowloris: headers trickle in and never finish
    let mut conns = vec![];
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /v2/accounts HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        conns.push(s);
    }
    let started = std::time::Instant::now();
    for mut s in conns {
        let _ = s.write_all(b"X-Slow: 1\r\n").await;
        let mut buf = vec![0u8; 1024];
        // the server answers 408 or closes; either way the read ends within the timeout
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the server cut the slow client off")
            .unwrap_or(0);
        assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"));
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // meanwhile, and after, normal requests are served
    let r = app.raw(Method::GET, "/v2/accounts", &[], None).await;
    assert_eq!(r.status, 405, "served as usual");
}
