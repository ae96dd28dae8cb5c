//! The explain endpoint over the real documents: which recordings a call would start.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn explain_uses_account_user_and_device_settings() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}");
    // record the entire account's inbound offnet calls; users default to outbound offnet
    let r = app
        .call(Method::PATCH, &base, Some(&admin), Some(json!({"call_recording": {"account": {"inbound": {"offnet": {"enabled": true}}}, "endpoint": {"outbound": {"offnet": {"enabled": true, "format": "wav"}}}}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user = app
        .call(
            Method::PUT,
            &format!("{base}/users"),
            Some(&admin),
            Some(json!({"first_name": "Ex", "last_name": "Plain"})),
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let device = app
        .call(
            Method::PUT,
            &format!("{base}/devices"),
            Some(&admin),
            Some(json!({"name": "Ex phone", "owner_id": user})),
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let off_device = app
        .call(Method::PUT, &format!("{base}/devices"), Some(&admin), Some(json!({"name": "Quiet phone", "owner_id": user, "call_recording": {"any": {"any": {"enabled": false}}}})))
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let explain = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        let path = format!("{base}/rec_ext/explain");
        async move {
            app.call(Method::POST, &path, Some(&admin), Some(body))
                .await
        }
    };
    // the device calls out to the PSTN: the endpoint default records it (wav)
    let r = explain(
        json!({"caller_device_id": device, "from_network": "onnet", "to_network": "offnet"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let recs = r.body["data"]["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{}", r.text);
    assert_eq!(recs[0]["level"], "caller_endpoint");
    assert_eq!(recs[0]["origin"], "outbound to offnet from endpoint");
    assert_eq!(recs[0]["params"]["format"], "wav");
    // the quiet device is off for the endpoint rule
    let r = explain(
        json!({"caller_device_id": off_device, "from_network": "onnet", "to_network": "offnet"}),
    )
    .await;
    assert_eq!(r.body["data"]["recordings"], json!([]), "{}", r.text);
    // a PSTN call to the quiet device: the account rule records it anyway (independent)
    let r = explain(
        json!({"callee_device_ids": [off_device], "from_network": "offnet", "to_network": "onnet"}),
    )
    .await;
    let recs = r.body["data"]["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 1, "{}", r.text);
    assert_eq!(recs[0]["level"], "account");
    assert_eq!(recs[0]["origin"], "inbound from offnet to account");
    // the media server asks the same question with store-proxy access (here: loopback ACL)
    let resp = app
        .client
        .post(format!("{}/rec_ext/decide/{acct}", app.base))
        .json(&json!({"data": {"caller_device_id": device, "from_network": "onnet", "to_network": "offnet"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["data"]["recordings"][0]["origin"], "outbound to offnet from endpoint",
        "{v}"
    );
    // unknown ids and bad networks are 400s naming the field
    let r = explain(json!({"caller_device_id": "0".repeat(32)})).await;
    assert_eq!(r.status, 400);
    assert!(r.body["data"]["caller_device_id"]["not_found"].is_object());
    let r = explain(json!({"from_network": "space"})).await;
    assert_eq!(r.status, 400);
}
