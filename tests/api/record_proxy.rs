//! `kazoo-rec record`: the proxy forwards to the target unchanged, writes the traffic as a
//! fixture with tokens, ids and credentials generalised, and that fixture replays green
//! against another instance.

use crate::helpers::*;
use kazoo_rec::replay::{replay_file, ReplayOptions};
use serde_json::{json, Value};

#[tokio::test]
async fn recorded_traffic_replays_against_another_instance() {
    let target = spawn_app().await;
    let (acct, name, _) = target.account_with_admin(None).await;
    let out = std::env::temp_dir().join(format!("recorded-{}.json", uniq()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let server = kazoo_rec::replay::proxy::start(
        listener,
        &target.base,
        out.clone(),
        "users via the proxy".into(),
    )
    .unwrap();
    tokio::spawn(server);

    let c = reqwest::Client::new();
    let call =
        |method: reqwest::Method, path: String, token: Option<String>, body: Option<Value>| {
            let c = c.clone();
            let proxy = proxy.clone();
            async move {
                let mut rb = c
                    .request(method, format!("{proxy}{path}"))
                    .header("content-type", "application/json");
                if let Some(t) = token {
                    rb = rb.header("x-auth-token", t);
                }
                if let Some(b) = body {
                    rb = rb.body(json!({ "data": b }).to_string());
                }
                let r = rb.send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
    let creds = md5_hex("boss:pw-boss");
    let (s, login) = call(
        reqwest::Method::PUT,
        "/v2/user_auth".into(),
        None,
        Some(json!({"credentials": creds, "account_name": name})),
    )
    .await;
    assert_eq!(s, 201, "the proxy answers what the target answers: {login}");
    let token = login["auth_token"].as_str().unwrap().to_string();
    let users = format!("/v2/accounts/{acct}/users");
    let (s, created) = call(
        reqwest::Method::PUT,
        users.clone(),
        Some(token.clone()),
        Some(json!({"first_name": "Rec", "last_name": "Orded"})),
    )
    .await;
    assert_eq!(s, 201);
    let id = created["data"]["id"].as_str().unwrap();
    let one = format!("{users}/{id}");
    assert_eq!(
        call(
            reqwest::Method::GET,
            format!("{one}?_=17000"),
            Some(token.clone()),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            reqwest::Method::PATCH,
            one.clone(),
            Some(token.clone()),
            Some(json!({"last_name": "Patched"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            reqwest::Method::DELETE,
            one.clone(),
            Some(token.clone()),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(reqwest::Method::GET, one.clone(), Some(token.clone()), None)
            .await
            .0,
        404
    );

    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains(&token) && !text.contains(&creds),
        "no token or credentials in the file"
    );
    assert!(!text.contains(id), "the created id is a capture: {text}");
    let fixture: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture["steps"].as_array().unwrap().len(), 6);

    let other = spawn_app().await;
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("credentials".to_string(), json!(creds));
    let report = replay_file(
        &out,
        &ReplayOptions {
            target: other.base.clone(),
            vars,
            filter: None,
        },
    )
    .await;
    assert!(
        report.passed(),
        "{}",
        kazoo_rec::replay::render_scenario(&report)
    );
    let _ = std::fs::remove_file(out);
}
