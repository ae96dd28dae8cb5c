//! Whole-call behaviour: cumulative rules, call forwarding, ACDc queues,
//! origin strings and parameter defaults.

use serde_json::{json, Value};

use super::super::{decide, CallLeg, Leg, Level, Network};
use super::{account, b, device, leg, on, only, plain_account, summary, user};

use Network::{Offnet, Onnet};

#[test]
fn account_caller_and_callee_add_up() {
    let acct = account(json!({"account": on("inbound", "onnet")}));
    let mut call = leg(acct, Onnet, Onnet);
    call.caller_device = Some(device(
        "d-caller",
        Some("u-caller"),
        Some(on("outbound", "onnet")),
    ));
    call.caller_user = Some(user("u-caller", None));
    call.callee_endpoints = vec![
        (
            device("d-callee1", Some("u-callee"), Some(on("inbound", "onnet"))),
            Some(user("u-callee", None)),
        ),
        (
            device("d-callee2", Some("u-callee"), None),
            Some(user("u-callee", Some(on("inbound", "onnet")))),
        ),
        (device("d-callee3", None, None), None),
    ];
    let decision = decide(&call);
    assert_eq!(
        summary(&decision),
        vec![
            (Level::Account, "inbound from onnet to account".to_owned()),
            (
                Level::CallerEndpoint,
                "outbound to onnet from endpoint".to_owned()
            ),
            (
                Level::CalleeEndpoint,
                "inbound from onnet to endpoint".to_owned()
            ),
            (
                Level::CalleeEndpoint,
                "inbound from onnet to endpoint".to_owned()
            ),
        ]
    );
    assert_eq!(decision.recordings[0].leg, Leg::A);
    assert_eq!(decision.recordings[0].owner_id.as_deref(), Some("u-caller"));
    assert_eq!(decision.recordings[1].leg, Leg::A);
    assert_eq!(decision.recordings[2].leg, b("d-callee1"));
    assert_eq!(decision.recordings[3].leg, b("d-callee2"));
    assert_eq!(
        decision.recordings[3].source,
        "user u-callee call_recording.inbound.onnet"
    );
}

#[test]
fn offnet_caller_gets_no_caller_endpoint_recording() {
    // F offnet: the caller-endpoint rule never runs, even with a known device.
    let mut call = leg(plain_account(), Offnet, Offnet);
    call.caller_device = Some(device("d1", None, Some(super::all_on())));
    assert!(decide(&call).recordings.is_empty());
}

#[test]
fn onnet_to_offnet_has_no_callee_rule_for_the_carrier_leg() {
    let mut call = leg(plain_account(), Onnet, Offnet);
    call.caller_device = Some(device("d1", None, Some(on("inbound", "onnet"))));
    assert!(decide(&call).recordings.is_empty());
}

fn forwarded(from: Network, forward_from: Option<Network>, settings: Value) -> CallLeg {
    let mut call = leg(plain_account(), from, Offnet);
    call.caller_device = Some(device("d-fwd", Some("u-fwd"), Some(settings)));
    call.caller_user = Some(user("u-fwd", None));
    call.call_forwarded = true;
    call.call_forward_from = forward_from;
    call
}

#[test]
fn call_forward_table() {
    let both = json!({"inbound": {"offnet": {"enabled": true}}, "outbound": {"offnet": {"enabled": true}}});
    let cases: Vec<(&str, CallLeg, Option<&str>)> = vec![
        (
            "PSTN call forwarded to PSTN: forwarding endpoint inbound.offnet",
            forwarded(Onnet, Some(Offnet), on("inbound", "offnet")),
            Some("inbound from offnet to endpoint"),
        ),
        (
            "forwarded leg with offnet inception still uses Call-Forward-From",
            forwarded(Offnet, Some(Offnet), on("inbound", "offnet")),
            Some("inbound from offnet to endpoint"),
        ),
        (
            "internal call forwarded: inbound.onnet",
            forwarded(Onnet, Some(Onnet), on("inbound", "onnet")),
            Some("inbound from onnet to endpoint"),
        ),
        (
            "Call-Forward-From onnet but only inbound.offnet set",
            forwarded(Onnet, Some(Onnet), on("inbound", "offnet")),
            None,
        ),
        (
            "no Call-Forward-From: nothing",
            forwarded(Onnet, None, on("inbound", "offnet")),
            None,
        ),
        (
            "forwarded suppresses the caller outbound rule",
            forwarded(Onnet, Some(Offnet), both),
            Some("inbound from offnet to endpoint"),
        ),
        (
            "forwarded, outbound only: nothing",
            forwarded(Onnet, Some(Offnet), on("outbound", "offnet")),
            None,
        ),
    ];
    for (name, call, expected) in cases {
        let decision = decide(&call);
        match expected {
            None => assert!(
                decision.recordings.is_empty(),
                "{name}: {:?}",
                summary(&decision)
            ),
            Some(origin) => {
                assert_eq!(
                    decision.recordings.len(),
                    1,
                    "{name}: {:?}",
                    summary(&decision)
                );
                let rec = only(&decision, Level::CallForward, name);
                assert_eq!(rec.origin, origin, "{name}");
                assert_eq!(rec.leg, b("d-fwd"), "{name}");
                assert!(rec.on_answer, "{name}");
                assert_eq!(rec.endpoint_id.as_deref(), Some("d-fwd"), "{name}");
                assert_eq!(rec.params["follow_transfer"], json!(false), "{name}");
            }
        }
    }
}

#[test]
fn call_forward_keeps_account_and_callee_rules() {
    let mut call = forwarded(Offnet, Some(Offnet), on("inbound", "offnet"));
    call.account = account(json!({"account": on("inbound", "offnet")}));
    call.callee_endpoints = vec![(device("d-sip", None, Some(on("inbound", "offnet"))), None)];
    let levels: Vec<Level> = decide(&call).recordings.iter().map(|r| r.level).collect();
    assert_eq!(
        levels,
        vec![Level::Account, Level::CallForward, Level::CalleeEndpoint]
    );
}

fn queue_call(acct: Value, queue: Value, agent: Option<Value>) -> CallLeg {
    let mut call = leg(acct, Offnet, Onnet);
    call.queue = Some(queue);
    call.agent = agent;
    call.callee_endpoints = vec![(
        device("d-agent", Some("agent1"), None),
        Some(user("agent1", None)),
    )];
    call
}

#[test]
fn queue_recording_supersedes_account_off() {
    let acct = account(json!({"account": {"inbound": {"offnet": {"enabled": false}}}}));
    let queue = json!({"_id": "q1", "name": "Support", "record_caller": true, "recording_url": "http://q/"});
    let decision = decide(&queue_call(acct, queue, None));
    assert_eq!(decision.recordings.len(), 1);
    let rec = only(&decision, Level::Queue, "queue");
    assert_eq!(rec.leg, Leg::A);
    assert_eq!(rec.origin, "queue : Support");
    assert_eq!(rec.source, "queue q1 record_caller");
    assert_eq!(rec.params["url"], json!("http://q/"));
    assert_eq!(rec.params["format"], json!("mp3"));
    assert_eq!(rec.params["time_limit"], json!(10800));
    assert_eq!(rec.params["follow_transfer"], json!(true));
    assert!(rec.on_bridge);
}

#[test]
fn queue_recording_is_added_on_top_of_account_and_endpoint_rules() {
    let acct = account(json!({"account": on("inbound", "offnet")}));
    let queue = json!({"_id": "q1", "record_caller": true});
    let mut call = queue_call(acct, queue, None);
    call.callee_endpoints = vec![(device("d-agent", None, Some(on("inbound", "offnet"))), None)];
    let levels: Vec<Level> = decide(&call).recordings.iter().map(|r| r.level).collect();
    assert_eq!(
        levels,
        vec![Level::Account, Level::CalleeEndpoint, Level::Queue]
    );
}

/// (name, queue doc, agent doc, expected (source, url) or no recording).
type QueueCase = (
    &'static str,
    Value,
    Option<Value>,
    Option<(&'static str, Option<&'static str>)>,
);

#[test]
fn queue_triggers_and_urls_table() {
    let agent_on = json!({"_id": "agent1", "record_calls": true});
    let cases: Vec<QueueCase> = vec![
        (
            "queue off, no agent: nothing",
            json!({"_id": "q1", "record_caller": false}),
            None,
            None,
        ),
        (
            "agent record_calls alone",
            json!({"_id": "q1"}),
            Some(agent_on.clone()),
            Some(("agent agent1 record_calls", None)),
        ),
        (
            "agent listed before queue",
            json!({"_id": "q1", "record_caller": true}),
            Some(agent_on),
            Some(("agent agent1 record_calls", None)),
        ),
        (
            "call_recording_url (read by KAZOO) beats recording_url",
            json!({"_id": "q1", "record_caller": "true", "recording_url": "http://doc/", "call_recording_url": "http://code/"}),
            None,
            Some(("queue q1 record_caller", Some("http://code/"))),
        ),
        (
            "notifications.recording beats both",
            json!({"_id": "q1", "record_caller": true, "call_recording_url": "http://code/", "notifications": {"recording": "http://notify/"}}),
            None,
            Some(("queue q1 record_caller", Some("http://notify/"))),
        ),
        (
            "empty url strings are ignored",
            json!({"_id": "q1", "record_caller": true, "call_recording_url": "", "recording_url": "http://doc/"}),
            None,
            Some(("queue q1 record_caller", Some("http://doc/"))),
        ),
        ("queue doc that is not an object", json!("q1"), None, None),
    ];
    for (name, queue, agent, expected) in cases {
        let decision = decide(&queue_call(plain_account(), queue, agent));
        match expected {
            None => assert!(
                decision.recordings.is_empty(),
                "{name}: {:?}",
                summary(&decision)
            ),
            Some((source, url)) => {
                let rec = only(&decision, Level::Queue, name);
                assert_eq!(rec.source, source, "{name}");
                assert_eq!(rec.params.get("url").and_then(Value::as_str), url, "{name}");
            }
        }
    }
}

#[test]
fn agent_device_record_calls_triggers_queue_recording() {
    let mut call = queue_call(
        plain_account(),
        json!({"_id": "q1"}),
        Some(json!({"_id": "agent1"})),
    );
    call.callee_endpoints[0].0["record_calls"] = json!(true);
    let decision = decide(&call);
    assert_eq!(
        only(&decision, Level::Queue, "device").source,
        "device d-agent record_calls"
    );
}

#[test]
fn origin_strings_match_kazoo() {
    let cases: Vec<(&str, CallLeg, Level, &str)> = vec![
        (
            "account inbound offnet",
            leg(
                account(json!({"account": on("inbound", "offnet")})),
                Offnet,
                Onnet,
            ),
            Level::Account,
            "inbound from offnet to account",
        ),
        (
            "account inbound onnet",
            leg(
                account(json!({"account": on("inbound", "onnet")})),
                Onnet,
                Offnet,
            ),
            Level::Account,
            "inbound from onnet to account",
        ),
        (
            "account outbound offnet",
            leg(
                account(json!({"account": on("outbound", "offnet")})),
                Onnet,
                Offnet,
            ),
            Level::Account,
            "outbound to offnet from account",
        ),
        (
            "account outbound onnet",
            leg(
                account(json!({"account": on("outbound", "onnet")})),
                Offnet,
                Onnet,
            ),
            Level::Account,
            "outbound to onnet from account",
        ),
    ];
    for (name, call, level, origin) in cases {
        assert_eq!(only(&decide(&call), level, name).origin, origin, "{name}");
    }
    let mut call = leg(plain_account(), Onnet, Offnet);
    call.caller_device = Some(device("d1", None, Some(on("outbound", "offnet"))));
    assert_eq!(
        only(&decide(&call), Level::CallerEndpoint, "caller").origin,
        "outbound to offnet from endpoint"
    );
    let mut call = leg(plain_account(), Offnet, Onnet);
    call.callee_endpoints = vec![(device("d2", None, Some(on("inbound", "offnet"))), None)];
    assert_eq!(
        only(&decide(&call), Level::CalleeEndpoint, "callee").origin,
        "inbound from offnet to endpoint"
    );
}

#[test]
fn parameter_defaults_table() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "all defaults",
            json!({}),
            json!({"enabled": true, "format": "mp3", "time_limit": 10800, "record_min_sec": 0,
                   "record_on_answer": false, "record_on_bridge": false, "follow_transfer": false}),
        ),
        (
            "wav kept",
            json!({"format": "wav"}),
            json!({"format": "wav"}),
        ),
        (
            "unknown format falls back to mp3",
            json!({"format": "ogg"}),
            json!({"format": "mp3"}),
        ),
        (
            "time_limit above the cap",
            json!({"time_limit": 20000}),
            json!({"time_limit": 10800}),
        ),
        (
            "time_limit below the cap",
            json!({"time_limit": 600}),
            json!({"time_limit": 600}),
        ),
        (
            "time_limit as a string",
            json!({"time_limit": "900"}),
            json!({"time_limit": 900}),
        ),
        (
            "time_limit zero treated as absent",
            json!({"time_limit": 0}),
            json!({"time_limit": 10800}),
        ),
        (
            "time_limit garbage treated as absent",
            json!({"time_limit": "soon"}),
            json!({"time_limit": 10800}),
        ),
        (
            "passthrough of min sec, sample rate and url",
            json!({"record_min_sec": 3, "record_sample_rate": 16000, "url": "https://rec.example/"}),
            json!({"record_min_sec": 3, "record_sample_rate": 16000, "url": "https://rec.example/"}),
        ),
    ];
    for (name, extra, expected) in cases {
        let mut cell = json!({"enabled": true});
        for (k, v) in extra.as_object().into_iter().flatten() {
            cell[k] = v.clone();
        }
        let call = leg(
            account(json!({"account": {"inbound": {"offnet": cell}}})),
            Offnet,
            Onnet,
        );
        let decision = decide(&call);
        let rec = only(&decision, Level::Account, name);
        for (k, v) in expected.as_object().into_iter().flatten() {
            assert_eq!(&rec.params[k], v, "{name}: {k}");
        }
        assert!(
            rec.params.get("url").is_none() || extra.get("url").is_some(),
            "{name}"
        );
    }
}

#[test]
fn record_on_answer_and_bridge_set_the_start_point() {
    let cases = [
        ("immediate", json!({"enabled": true}), false, false),
        (
            "record_on_answer",
            json!({"enabled": true, "record_on_answer": true}),
            true,
            false,
        ),
        (
            "record_on_bridge",
            json!({"enabled": true, "record_on_bridge": "true"}),
            false,
            true,
        ),
        (
            "answer wins over bridge",
            json!({"enabled": true, "record_on_answer": true, "record_on_bridge": true}),
            true,
            false,
        ),
    ];
    for (name, cell, on_answer, on_bridge) in cases {
        let call = leg(
            account(json!({"account": {"outbound": {"offnet": cell}}})),
            Onnet,
            Offnet,
        );
        let decision = decide(&call);
        let rec = only(&decision, Level::Account, name);
        assert_eq!(
            (rec.on_answer, rec.on_bridge),
            (on_answer, on_bridge),
            "{name}"
        );
    }
}

#[test]
fn enabled_accepts_kazoo_truthy_values_only() {
    let cases = [
        (json!(true), true),
        (json!("true"), true),
        (json!(1), false),
        (json!("yes"), false),
        (json!(null), false),
    ];
    for (enabled, expected) in cases {
        let call = leg(
            account(json!({"account": {"inbound": {"onnet": {"enabled": enabled}}}})),
            Onnet,
            Onnet,
        );
        assert_eq!(
            !decide(&call).recordings.is_empty(),
            expected,
            "enabled = {enabled}"
        );
    }
}
