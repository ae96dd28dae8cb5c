//! ACDc queues: CRUD with the `queues` schema (recording settings included), the roster
//! kept on the agents' user documents, and the recording decision honouring the queue.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn queue_crud_roster_and_recording_settings() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let base = format!("/v2/accounts/{acct}/queues");
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"name": "Support", "record_caller": true,
            "recording_url": "https://rec.example.com/q/", "ui_metadata": {"ui": "monster-ui"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let q = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["data"]["record_caller"], true);
    assert_eq!(
        r.body["data"]["strategy"], "round_robin",
        "schema default stored"
    );
    // bad input: KAZOO's validation envelope
    let r = app
        .call(
            Method::PUT,
            &base,
            Some(&admin),
            Some(json!({"name": "x", "strategy": "lottery"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["data"]["strategy"]["enum"].is_object(), "{}", r.text);
    let r = app.call(Method::GET, &base, Some(&admin), None).await;
    assert_eq!(
        r.body["data"],
        json!([{"id": q, "name": "Support", "strategy": "round_robin"}])
    );

    // two agents on the roster
    let mut agents = vec![];
    for name in ["ann", "bob"] {
        let r = app
            .call(
                Method::PUT,
                &format!("/v2/accounts/{acct}/users"),
                Some(&admin),
                Some(json!({"first_name": name, "last_name": "Agent"})),
            )
            .await;
        agents.push(r.body["data"]["id"].as_str().unwrap().to_string());
    }
    let roster = format!("{base}/{q}/roster");
    let r = app
        .call(Method::POST, &roster, Some(&admin), Some(json!(agents)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["data"]["id"],
        q.as_str(),
        "the queue, as crossbar answers"
    );
    let mut got: Vec<String> = serde_json::from_value(r.body["data"]["agents"].clone()).unwrap();
    got.sort();
    let mut want = agents.clone();
    want.sort();
    assert_eq!(got, want);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/users/{}", agents[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["queues"], json!([q]));
    let r = app
        .call(Method::GET, &format!("{base}/{q}"), Some(&admin), None)
        .await;
    assert_eq!(r.body["data"]["agents"].as_array().unwrap().len(), 2);
    // only bob stays
    let r = app
        .call(
            Method::POST,
            &roster,
            Some(&admin),
            Some(json!([agents[1]])),
        )
        .await;
    assert_eq!(r.body["data"]["agents"], json!([agents[1]]));
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/users/{}", agents[0]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["queues"], json!([]));

    // the decision: a call into the queue is recorded by the queue's setting
    let r = app
        .call(
            Method::POST,
            &format!("/v2/accounts/{acct}/rec_ext/explain"),
            Some(&admin),
            Some(json!({"queue_id": q, "agent_id": agents[1], "from_network": "offnet"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let recs = r.body["data"]["recordings"].as_array().unwrap();
    assert!(recs.iter().any(|x| x["level"] == "queue"), "{}", r.text);

    // PATCH keeps the rest; DELETE takes the queue off its agents
    let r = app
        .call(
            Method::PATCH,
            &format!("{base}/{q}"),
            Some(&admin),
            Some(json!({"record_caller": false})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["name"]),
        (200, &json!("Support"))
    );
    let r = app
        .call(Method::DELETE, &format!("{base}/{q}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/users/{}", agents[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["data"]["queues"], json!([]));
    assert_eq!(
        app.call(Method::GET, &format!("{base}/{q}"), Some(&admin), None)
            .await
            .status,
        404
    );
}
