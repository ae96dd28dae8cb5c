//! Devices and callflows, including call-recording settings, the legacy `record_call`
//! action with its defaults, and KAZOO's uniqueness rules.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn devices_with_owner_sip_uniqueness_and_recording_settings() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let users = format!("/v2/accounts/{acct}/users");
    let owner = app
        .call(
            Method::PUT,
            &users,
            Some(&admin),
            Some(json!({"first_name": "Dev", "last_name": "Owner"})),
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/v2/accounts/{acct}/devices");
    let dev = json!({"name": "Desk phone", "owner_id": owner, "mac_address": "AA-BB-CC-00-11-22", "sip": {"username": "Desk100", "password": "sippw"},
        "call_recording": {"outbound": {"any": {"enabled": false}}, "inbound": {"offnet": {"enabled": true, "url": "ftps://rec:pw@files.example.com/calls"}}}});
    let r = app
        .call(Method::PUT, &base, Some(&admin), Some(dev.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &r.body["data"];
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(
        d["mac_address"], "aabbcc001122",
        "KAZOO's cleanse_mac_address"
    );
    assert_eq!(d["enabled"], true, "schema default");
    assert_eq!(d["sip"]["method"], "password", "nested default inside sip");
    assert_eq!(
        d["call_recording"]["inbound"]["offnet"]["url"],
        "ftps://rec:pw@files.example.com/calls"
    );
    let stored = app
        .couch()
        .get(&AccountId::parse(&acct).unwrap().db(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored["pvt_type"], "device");

    // the same SIP username (any case) or MAC address is refused
    let mut dup = dev.clone();
    dup["sip"]["username"] = json!("DESK100");
    dup["mac_address"] = json!("aabbcc001122");
    let r = app.call(Method::PUT, &base, Some(&admin), Some(dup)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["sip.username"]["unique"]["message"],
        "SIP credentials already in use"
    );
    assert_eq!(
        r.body["data"]["mac_address"]["unique"]["message"],
        "MAC address already in use"
    );
    // an owner that is not a user of the account
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"name": "x", "owner_id": "0".repeat(32)})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["data"]["owner_id"]["not_found"].is_object(),
        "{}",
        r.text
    );
    // bad recording URLs: scheme, loopback host
    for url in [
        "file:///etc/passwd",
        "gopher://x.example.com/",
        "no-scheme",
        "http://localhost/rec",
        "http://127.0.0.1/rec",
        "http://exa mple.com/",
    ] {
        let r = app
            .call(
                Method::PATCH,
                &format!("{base}/{id}"),
                Some(&admin),
                Some(json!({"call_recording": {"inbound": {"onnet": {"url": url}}}})),
            )
            .await;
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert!(
            r.body["data"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.ends_with("inbound.onnet.url")),
            "{url}: {}",
            r.text
        );
    }
    // updating keeps its own SIP username; listing has KAZOO's fields
    let r = app
        .call(
            Method::PATCH,
            &format!("{base}/{id}"),
            Some(&admin),
            Some(json!({"name": "Desk phone 2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    let row = &r.body["data"][0];
    assert_eq!(row["username"], "Desk100");
    assert_eq!(row["device_type"], "sip_device");
    assert_eq!(row["owner_id"], owner.as_str());
    let r = app
        .call(
            Method::GET,
            &format!("{users}/{owner}/devices"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app
        .call(Method::DELETE, &format!("{base}/{id}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.call(Method::GET, &format!("{base}/{id}"), Some(&admin), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn callflows_with_record_call_defaults_and_unique_numbers() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}/callflows");
    let flow = json!({"name": "Main", "numbers": ["4158867900", "1000"],
        "flow": {"module": "record_call", "data": {"action": "start", "url": "https://rec.example.com/upload", "time_limit": "600"},
                 "children": {"_": {"module": "record_call", "data": {"format": "wav", "url": "ftp://u:p@ftp.example.com/r"}, "children": {}}}}});
    let r = app.call(Method::PUT, &base, Some(&admin), Some(flow)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &r.body["data"];
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["numbers"], json!(["+14158867900", "1000"]));
    let top = &d["flow"]["data"];
    assert_eq!(top["time_limit"], 600);
    assert_eq!(top["method"], "put");
    let child = &d["flow"]["children"]["_"]["data"];
    assert_eq!(
        child["action"], "start",
        "default filled in nested flow data"
    );
    assert_eq!(child["time_limit"], 3600);
    assert_eq!(child["method"], "put");
    assert_eq!(child["url"], "ftp://u:p@ftp.example.com/r");
    let stored = app
        .couch()
        .get(&AccountId::parse(&acct).unwrap().db(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["flow"]["children"]["_"]["data"]["time_limit"], 3600,
        "defaults are stored"
    );

    // GET carries metadata
    let r = app
        .call(Method::GET, &format!("{base}/{id}"), Some(&admin), None)
        .await;
    assert!(r.body["data"]["metadata"].is_object());

    // a number already used names the other callflow
    let r = app.call(Method::PUT, &base, Some(&admin), Some(json!({"name": "Other", "numbers": ["+14158867900"], "flow": {"module": "record_call", "data": {}}}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["numbers"]["unique"]["message"],
        format!("Number +14158867900 exists in callflow {id} Main")
    );
    // no numbers or patterns
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"name": "Empty", "flow": {"module": "record_call", "data": {}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["numbers"]["required"]["message"],
        "Callflows must be assigned at least one number or pattern"
    );
    // bad action data: enum, bounds, url scheme, unknown module
    for (data, key) in [
        (
            json!({"module": "record_call", "data": {"action": "pause"}}),
            "flow.data.action",
        ),
        (
            json!({"module": "record_call", "data": {"time_limit": 4}}),
            "flow.data.time_limit",
        ),
        (
            json!({"module": "record_call", "data": {"url": "file:///tmp/x"}}),
            "flow.data.url",
        ),
        (
            json!({"module": "no_such_module", "data": {}}),
            "flow.module",
        ),
    ] {
        let r = app
            .call(
                Method::PUT,
                &base,
                Some(&admin),
                Some(json!({"name": "Bad", "patterns": ["^9"], "flow": data})),
            )
            .await;
        assert_eq!(r.status, 400, "{key}: {}", r.text);
        assert!(
            r.body["data"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with(key)),
            "{key}: {}",
            r.text
        );
    }
    // list and delete
    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    assert_eq!(r.body["data"][0]["modules"], json!(["record_call"]));
    assert_eq!(r.body["data"][0]["featurecode"], false);
    let r = app
        .call(Method::DELETE, &format!("{base}/{id}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    // the number is free again
    let r = app.call(Method::PUT, &base, Some(&admin), Some(json!({"name": "Again", "numbers": ["+14158867900"], "flow": {"module": "record_call", "data": {}}}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn account_metaflows_hold_the_on_demand_code() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let path = format!("/v2/accounts/{acct}/metaflows");
    let mf = json!({"binding_digit": "*", "numbers": {"9": {"module": "record_call", "data": {"action": "toggle"}}}});
    let r = app.call(Method::POST, &path, Some(&admin), Some(mf)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(r.body["data"]["numbers"]["9"]["data"]["action"], "toggle");
    let r = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"binding_digit": "x"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.call(Method::GET, &path, Some(&admin), None).await.body["data"],
        json!({})
    );
}
