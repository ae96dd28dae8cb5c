//! On-demand metaflows, robustness against odd JSON, and a bulk run.

use serde_json::{json, Value};

use super::super::{decide, effective_endpoint, expand, CallLeg, Level, Network};
use super::{account, device, leg, on, plain_account, user, ACCOUNT_ID};

use Network::{Offnet, Onnet};

fn with_metaflows(metaflows: Value) -> Value {
    json!({"_id": ACCOUNT_ID, "metaflows": metaflows})
}

#[test]
fn on_demand_account_toggle_with_default_binding_digit() {
    let acct = with_metaflows(json!({"numbers": {"9": {"module": "record_call", "data": {}}}}));
    let decision = decide(&leg(acct, Onnet, Offnet));
    let od = decision
        .on_demand
        .unwrap_or_else(|| panic!("expected an on-demand code"));
    assert_eq!(od.binding_digit, "*");
    assert_eq!(od.code, "9");
    assert_eq!(od.action, "toggle");
    assert_eq!(od.kazoo_action, "start");
    assert_eq!(od.listen_on, "self");
    assert_eq!(od.digit_timeout_ms, 800);
    assert_eq!(od.params["format"], json!("mp3"));
    assert_eq!(od.params["time_limit"], json!(10800));
    assert_eq!(
        od.source,
        format!("account {ACCOUNT_ID} metaflows.numbers.9")
    );
    assert!(
        decision.recordings.is_empty(),
        "on-demand never starts a recording by itself"
    );
}

#[test]
fn on_demand_kazoo_fixture_device() {
    // core/kazoo_fixturedb device00000000000000000000000001: '#', 4 toggle, 5 start, 6 stop.
    let metaflows = json!({
        "binding_digit": "#",
        "numbers": {
            "4": {"module": "record_call", "data": {"action": "toggle", "time_limit": 3600}},
            "5": {"module": "record_call", "data": {"action": "start"}},
            "6": {"module": "record_call", "data": {"action": "stop"}},
            "7": {"module": "park", "data": {}}
        }
    });
    let mut call = leg(plain_account(), Onnet, Onnet);
    let mut d = device("d1", None, None);
    d["metaflows"] = metaflows;
    call.caller_device = Some(d);
    let decision = decide(&call);
    let codes: Vec<(String, String, String)> = decision
        .on_demand_codes
        .iter()
        .map(|c| (c.code.clone(), c.action.clone(), c.binding_digit.clone()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("4".to_owned(), "toggle".to_owned(), "#".to_owned()),
            ("5".to_owned(), "start".to_owned(), "#".to_owned()),
            ("6".to_owned(), "stop".to_owned(), "#".to_owned()),
        ]
    );
    let primary = decision.on_demand.unwrap_or_else(|| panic!("primary"));
    assert_eq!(
        (primary.code.as_str(), primary.params["time_limit"].clone()),
        ("4", json!(3600))
    );
    assert_eq!(decision.on_demand_codes[2].kazoo_action, "stop");
}

#[test]
fn on_demand_action_and_digit_table() {
    let cases = [
        (
            "missing action is toggle",
            json!({}),
            "*",
            "toggle",
            "start",
        ),
        ("mask", json!({"action": "mask"}), "*", "mask", "mask"),
        (
            "unmask",
            json!({"action": "unmask"}),
            "*",
            "unmask",
            "unmask",
        ),
        (
            "unknown action runs as start",
            json!({"action": "pause"}),
            "*",
            "start",
            "start",
        ),
        (
            "empty action is toggle",
            json!({"action": ""}),
            "*",
            "toggle",
            "start",
        ),
    ];
    for (name, data, digit, action, kazoo_action) in cases {
        let acct =
            with_metaflows(json!({"numbers": {"1": {"module": "record_call", "data": data}}}));
        let od = decide(&leg(acct, Onnet, Onnet))
            .on_demand
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            (
                od.binding_digit.as_str(),
                od.action.as_str(),
                od.kazoo_action.as_str()
            ),
            (digit, action, kazoo_action),
            "{name}"
        );
    }
    for (digit, expected) in [("#", "#"), ("0", "0"), ("x", "*"), ("**", "*")] {
        let acct = with_metaflows(
            json!({"binding_digit": digit, "numbers": {"1": {"module": "record_call"}}}),
        );
        let od = decide(&leg(acct, Onnet, Onnet))
            .on_demand
            .unwrap_or_else(|| panic!("{digit}"));
        assert_eq!(od.binding_digit, expected, "binding digit {digit}");
    }
    // A device's "0" is empty to kz_term:is_empty, so the merge keeps the account's digit.
    let acct =
        with_metaflows(json!({"binding_digit": "#", "numbers": {"1": {"module": "record_call"}}}));
    let mut call = leg(acct, Onnet, Onnet);
    call.caller_device = Some(json!({"_id": "d1", "metaflows": {"binding_digit": "0"}}));
    let od = decide(&call)
        .on_demand
        .unwrap_or_else(|| panic!("device zero"));
    assert_eq!(od.binding_digit, "#");
}

#[test]
fn on_demand_merge_account_device_user() {
    let acct = with_metaflows(
        json!({"binding_digit": "*", "numbers": {"9": {"module": "record_call", "data": {"action": "start"}}}}),
    );
    let mut d = device("d1", Some("u1"), None);
    d["metaflows"] = json!({"binding_digit": "#", "listen_on": "both"});
    let mut u = user("u1", None);
    u["metaflows"] = json!({"numbers": {"9": {"data": {"action": "stop", "url": "http://od/", "method": "post"}}}, "binding_digit": ""});
    let mut call = leg(acct, Onnet, Onnet);
    call.caller_device = Some(d);
    call.caller_user = Some(u);
    let decision = decide(&call);
    let od = decision.on_demand.unwrap_or_else(|| panic!("merged"));
    assert_eq!(
        od.binding_digit, "#",
        "device overrides account; the user's empty value is ignored"
    );
    assert_eq!(od.listen_on, "both");
    assert_eq!(od.action, "stop", "the user overrides the account's data");
    assert_eq!(od.params["url"], json!("http://od/"));
    assert_eq!(od.params["method"], json!("post"));
    assert_eq!(
        od.source,
        format!("account {ACCOUNT_ID} metaflows.numbers.9")
    );
}

#[test]
fn on_demand_absent_or_other_modules() {
    assert_eq!(decide(&leg(plain_account(), Onnet, Onnet)).on_demand, None);
    let acct = with_metaflows(json!({"numbers": {"2": {"module": "say", "data": {"text": "hi"}}}}));
    let decision = decide(&leg(acct, Onnet, Onnet));
    assert_eq!(decision.on_demand, None);
    assert!(decision.on_demand_codes.is_empty());
}

#[test]
fn on_demand_patterns_are_listed() {
    let acct = with_metaflows(json!({
        "patterns": {"^8(\\d)$": {"module": "record_call", "data": {"action": "start"}}},
        "numbers": {"6": {"module": "record_call", "data": {"action": "stop"}}}
    }));
    let decision = decide(&leg(acct, Offnet, Onnet));
    assert_eq!(decision.on_demand_codes.len(), 2);
    assert!(!decision.on_demand_codes[0].pattern);
    assert!(decision.on_demand_codes[1].pattern);
    let primary = decision.on_demand.unwrap_or_else(|| panic!("primary"));
    assert_eq!(
        (primary.code.as_str(), primary.pattern),
        ("^8(\\d)$", true),
        "start beats stop"
    );
}

/// Odd values in every position: no panics, and nothing recorded from garbage.
#[test]
fn odd_json_never_panics() {
    let odd = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1.5e300),
        json!("x"),
        json!([1, {"enabled": true}]),
        json!({}),
        json!({"any": 1, "inbound": [], "outbound": {"onnet": 3, "any": "z"}, "enabled": true}),
        json!({"account": "on", "endpoint": [true]}),
        json!({"numbers": 1, "patterns": {"x": 2}, "binding_digit": 5}),
    ];
    for a in &odd {
        for b in &odd {
            let acct = json!({"_id": a, "call_recording": a, "metaflows": b, "record_call": b});
            let mut call = CallLeg::new(acct.clone(), Onnet, Offnet);
            call.caller_device = Some(
                json!({"_id": b, "call_recording": b, "record_call": a, "owner_id": a, "metaflows": a}),
            );
            call.caller_user = Some(b.clone());
            call.callee_endpoints = vec![(a.clone(), Some(b.clone())), (b.clone(), None)];
            call.call_forwarded = a.is_null();
            call.call_forward_from = Some(Offnet);
            call.queue = Some(json!({"record_caller": a, "notifications": b, "recording_url": b}));
            call.agent = Some(b.clone());
            let decision = decide(&call);
            for rec in &decision.recordings {
                assert!(rec.params.get("enabled") == Some(&json!(true)));
            }
            let _ = expand(a);
            let _ = effective_endpoint(a, Some(b), Some(a));
            let _ = serde_json::to_string(&decision);
        }
    }
}

#[test]
fn bulk_1000_users_times_3_devices() {
    let acct = account(json!({
        "account": on("inbound", "offnet"),
        "endpoint": {"outbound": {"offnet": {"enabled": true, "url": "https://rec.example/"}}}
    }));
    let mut users = Vec::new();
    for i in 0..1000 {
        let cr = match i % 4 {
            0 => None,
            1 => Some(super::all_on()),
            2 => Some(super::all_off()),
            _ => Some(json!({})),
        };
        let u = user(&format!("user{i:04}"), cr);
        let devices: Vec<Value> = (0..3)
            .map(|j| {
                let cr = (j == 2).then(|| on("inbound", "offnet"));
                device(&format!("dev{i:04}-{j}"), Some(&format!("user{i:04}")), cr)
            })
            .collect();
        users.push((u, devices));
    }
    let mut decisions = 0usize;
    let mut recordings = 0usize;
    for (i, (u, devices)) in users.iter().enumerate() {
        let (peer_user, peer_devices) = &users[(i + 1) % users.len()];
        for d in devices {
            let mut call = leg(acct.clone(), Onnet, Offnet);
            call.caller_device = Some(d.clone());
            call.caller_user = Some(u.clone());
            call.callee_endpoints = peer_devices
                .iter()
                .map(|pd| (pd.clone(), Some(peer_user.clone())))
                .collect();
            let decision = decide(&call);
            recordings += decision.recordings.len();
            decisions += 1;
            assert!(decision
                .recordings
                .iter()
                .all(|r| r.level != Level::Account));
        }
    }
    assert_eq!(decisions, 3000);
    assert!(recordings > 0);
}
