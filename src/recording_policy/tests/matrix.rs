//! Every row of the "Recording settings matrix" tables in KAZOO's
//! `doc/user_guides/call_recording.md`, and KAZOO's `kz_endpoint_tests`
//! `call_recording_test_` cases (4.3).

use serde_json::{json, Value};

use super::super::{decide, effective_endpoint, expand, CallLeg, Leg, Level, Network};
use super::{account, all_off, all_on, device, leg, on, only, plain_account, summary, user};

use Network::{Offnet, Onnet};

/// The three call scenarios of the guide.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// "When an onnet device makes an internal call" (F onnet, T onnet).
    OnnetInternal,
    /// "When an onnet device makes an external call" (F onnet, T offnet).
    OnnetExternal,
    /// "When an offnet device/endpoint makes a call to an onnet device" (F offnet, T onnet).
    OffnetToOnnet,
}

/// Builds the call, putting `endpoint_settings` on every KAZOO endpoint
/// involved (caller device when onnet, callee device when there is one).
fn scenario_call(scenario: Scenario, acct: Value, endpoint_settings: Option<Value>) -> CallLeg {
    let (from, to, has_caller, has_callee) = match scenario {
        Scenario::OnnetInternal => (Onnet, Onnet, true, true),
        Scenario::OnnetExternal => (Onnet, Offnet, true, false),
        Scenario::OffnetToOnnet => (Offnet, Onnet, false, true),
    };
    let mut call = leg(acct, from, to);
    if has_caller {
        call.caller_device = Some(device(
            "caller-dev",
            Some("caller-user"),
            endpoint_settings.clone(),
        ));
        call.caller_user = Some(user("caller-user", None));
    }
    if has_callee {
        let callee = device("callee-dev", Some("callee-user"), endpoint_settings);
        call.callee_endpoints = vec![(callee, Some(user("callee-user", None)))];
    }
    call
}

struct AccountRow {
    name: &'static str,
    scenario: Scenario,
    setting: (&'static str, &'static str),
    /// The origin of the account recording, or None for "no".
    expected: Option<&'static str>,
}

const ACCOUNT_ROWS: [AccountRow; 12] = [
    AccountRow { name: "onnet internal: Account -> Inbound -> Onnet = yes", scenario: Scenario::OnnetInternal, setting: ("inbound", "onnet"), expected: Some("inbound from onnet to account") },
    AccountRow { name: "onnet internal: Account -> Inbound -> Offnet = no", scenario: Scenario::OnnetInternal, setting: ("inbound", "offnet"), expected: None },
    AccountRow { name: "onnet internal: Account -> Outbound -> Onnet = yes (if inbound -> onnet isn't configured)", scenario: Scenario::OnnetInternal, setting: ("outbound", "onnet"), expected: Some("outbound to onnet from account") },
    AccountRow { name: "onnet internal: Account -> Outbound -> Offnet = no", scenario: Scenario::OnnetInternal, setting: ("outbound", "offnet"), expected: None },
    AccountRow { name: "onnet external: Account -> Inbound -> Onnet = yes", scenario: Scenario::OnnetExternal, setting: ("inbound", "onnet"), expected: Some("inbound from onnet to account") },
    AccountRow { name: "onnet external: Account -> Inbound -> Offnet = no", scenario: Scenario::OnnetExternal, setting: ("inbound", "offnet"), expected: None },
    AccountRow { name: "onnet external: Account -> Outbound -> Onnet = no", scenario: Scenario::OnnetExternal, setting: ("outbound", "onnet"), expected: None },
    AccountRow { name: "onnet external: Account -> Outbound -> Offnet = yes (if inbound -> onnet isn't configured)", scenario: Scenario::OnnetExternal, setting: ("outbound", "offnet"), expected: Some("outbound to offnet from account") },
    AccountRow { name: "offnet internal: Account -> Inbound -> Onnet = no", scenario: Scenario::OffnetToOnnet, setting: ("inbound", "onnet"), expected: None },
    AccountRow { name: "offnet internal: Account -> Inbound -> Offnet = yes", scenario: Scenario::OffnetToOnnet, setting: ("inbound", "offnet"), expected: Some("inbound from offnet to account") },
    AccountRow { name: "offnet internal: Account -> Outbound -> Onnet = yes (if inbound-offnet isn't configured)", scenario: Scenario::OffnetToOnnet, setting: ("outbound", "onnet"), expected: Some("outbound to onnet from account") },
    AccountRow { name: "offnet internal: Account -> Outbound -> Offnet = no", scenario: Scenario::OffnetToOnnet, setting: ("outbound", "offnet"), expected: None },
];

#[test]
fn guide_account_matrix_rows() {
    for row in &ACCOUNT_ROWS {
        let (dir, net) = row.setting;
        let call = scenario_call(
            row.scenario,
            account(json!({"account": on(dir, net)})),
            None,
        );
        let decision = decide(&call);
        match row.expected {
            None => assert!(
                decision.recordings.is_empty(),
                "{}: got {:?}",
                row.name,
                summary(&decision)
            ),
            Some(origin) => {
                assert_eq!(
                    decision.recordings.len(),
                    1,
                    "{}: got {:?}",
                    row.name,
                    summary(&decision)
                );
                let rec = only(&decision, Level::Account, row.name);
                assert_eq!(rec.origin, origin, "{}", row.name);
                assert_eq!(rec.leg, Leg::A, "{}", row.name);
                let expected_source = format!(
                    "account {} call_recording.account.{dir}.{net}",
                    super::ACCOUNT_ID
                );
                assert_eq!(rec.source, expected_source, "{}", row.name);
            }
        }
    }
}

/// The "(if inbound … isn't configured)" conditions: with inbound[F] also on,
/// only the inbound recording starts (one account recording at most).
#[test]
fn guide_account_matrix_inbound_wins_over_outbound() {
    let cases = [
        (
            "onnet internal: inbound.onnet + outbound.onnet",
            Scenario::OnnetInternal,
            ("onnet", "onnet"),
            "inbound from onnet to account",
        ),
        (
            "onnet external: inbound.onnet + outbound.offnet",
            Scenario::OnnetExternal,
            ("onnet", "offnet"),
            "inbound from onnet to account",
        ),
        (
            "offnet internal: inbound.offnet + outbound.onnet",
            Scenario::OffnetToOnnet,
            ("offnet", "onnet"),
            "inbound from offnet to account",
        ),
    ];
    for (name, scenario, (in_net, out_net), origin) in cases {
        let settings = json!({"inbound": {in_net: {"enabled": true}}, "outbound": {out_net: {"enabled": true}}});
        let decision = decide(&scenario_call(
            scenario,
            account(json!({ "account": settings })),
            None,
        ));
        assert_eq!(
            summary(&decision),
            vec![(Level::Account, origin.to_owned())],
            "{name}"
        );
    }
}

struct EndpointRow {
    name: &'static str,
    scenario: Scenario,
    setting: (&'static str, &'static str),
    /// (level, origin) of the endpoint recording, or None for "no".
    expected: Option<(Level, &'static str)>,
}

const ENDPOINT_ROWS: [EndpointRow; 12] = [
    EndpointRow {
        name: "onnet internal: Endpoint -> Inbound -> Onnet = yes (callee, on answer)",
        scenario: Scenario::OnnetInternal,
        setting: ("inbound", "onnet"),
        expected: Some((Level::CalleeEndpoint, "inbound from onnet to endpoint")),
    },
    EndpointRow {
        name: "onnet internal: Endpoint -> Inbound -> Offnet = no",
        scenario: Scenario::OnnetInternal,
        setting: ("inbound", "offnet"),
        expected: None,
    },
    EndpointRow {
        name: "onnet internal: Endpoint -> Outbound -> Onnet = yes",
        scenario: Scenario::OnnetInternal,
        setting: ("outbound", "onnet"),
        expected: Some((Level::CallerEndpoint, "outbound to onnet from endpoint")),
    },
    EndpointRow {
        name: "onnet internal: Endpoint -> Outbound -> Offnet = no",
        scenario: Scenario::OnnetInternal,
        setting: ("outbound", "offnet"),
        expected: None,
    },
    EndpointRow {
        name: "onnet external: Endpoint -> Inbound -> Onnet = no",
        scenario: Scenario::OnnetExternal,
        setting: ("inbound", "onnet"),
        expected: None,
    },
    EndpointRow {
        name: "onnet external: Endpoint -> Inbound -> Offnet = no",
        scenario: Scenario::OnnetExternal,
        setting: ("inbound", "offnet"),
        expected: None,
    },
    EndpointRow {
        name: "onnet external: Endpoint -> Outbound -> Onnet = no",
        scenario: Scenario::OnnetExternal,
        setting: ("outbound", "onnet"),
        expected: None,
    },
    EndpointRow {
        name: "onnet external: Endpoint -> Outbound -> Offnet = yes",
        scenario: Scenario::OnnetExternal,
        setting: ("outbound", "offnet"),
        expected: Some((Level::CallerEndpoint, "outbound to offnet from endpoint")),
    },
    EndpointRow {
        name: "offnet to onnet: Endpoint -> Inbound -> Onnet = no",
        scenario: Scenario::OffnetToOnnet,
        setting: ("inbound", "onnet"),
        expected: None,
    },
    EndpointRow {
        name: "offnet to onnet: Endpoint -> Inbound -> Offnet = yes",
        scenario: Scenario::OffnetToOnnet,
        setting: ("inbound", "offnet"),
        expected: Some((Level::CalleeEndpoint, "inbound from offnet to endpoint")),
    },
    EndpointRow {
        name: "offnet to onnet: Endpoint -> Outbound -> Onnet = no",
        scenario: Scenario::OffnetToOnnet,
        setting: ("outbound", "onnet"),
        expected: None,
    },
    EndpointRow {
        name: "offnet to onnet: Endpoint -> Outbound -> Offnet = no",
        scenario: Scenario::OffnetToOnnet,
        setting: ("outbound", "offnet"),
        expected: None,
    },
];

fn check_endpoint_row(row: &EndpointRow, call: &CallLeg, via: &str) {
    let decision = decide(call);
    let name = format!("{} [{via}]", row.name);
    match row.expected {
        None => assert!(
            decision.recordings.is_empty(),
            "{name}: got {:?}",
            summary(&decision)
        ),
        Some((level, origin)) => {
            assert_eq!(
                decision.recordings.len(),
                1,
                "{name}: got {:?}",
                summary(&decision)
            );
            let rec = only(&decision, level, &name);
            assert_eq!(rec.origin, origin, "{name}");
            match level {
                Level::CalleeEndpoint => {
                    assert_eq!(rec.leg, super::b("callee-dev"), "{name}");
                    assert!(rec.on_answer, "{name}: callee recordings start on answer");
                    assert_eq!(rec.endpoint_id.as_deref(), Some("callee-dev"), "{name}");
                    assert_eq!(rec.owner_id.as_deref(), Some("callee-user"), "{name}");
                }
                _ => {
                    assert_eq!(rec.leg, Leg::A, "{name}");
                    assert!(!rec.on_answer, "{name}");
                    assert_eq!(rec.endpoint_id.as_deref(), Some("caller-dev"), "{name}");
                }
            }
        }
    }
}

/// Each endpoint row, with the setting on the devices, on their owners, and
/// as the account's `call_recording.endpoint` default.
#[test]
fn guide_endpoint_matrix_rows() {
    for row in &ENDPOINT_ROWS {
        let (dir, net) = row.setting;
        let on_device = scenario_call(row.scenario, plain_account(), Some(on(dir, net)));
        check_endpoint_row(row, &on_device, "device");

        let mut on_user = scenario_call(row.scenario, plain_account(), None);
        if let Some(u) = on_user.caller_user.as_mut() {
            u["call_recording"] = on(dir, net);
        }
        for (_, owner) in on_user.callee_endpoints.iter_mut() {
            if let Some(u) = owner.as_mut() {
                u["call_recording"] = on(dir, net);
            }
        }
        check_endpoint_row(row, &on_user, "user");

        let via_account = scenario_call(
            row.scenario,
            account(json!({"endpoint": on(dir, net)})),
            None,
        );
        check_endpoint_row(row, &via_account, "account.endpoint");
    }
}

/// `kz_endpoint_tests:call_recording_test_/0` (4.3): (name, account.account,
/// user, device, expected account cells, expected endpoint cells).
#[test]
fn kazoo_kz_endpoint_tests_cases() {
    let none = Value::Null;
    let cases: [(&str, Value, Value, Value, bool, bool); 9] = [
        ("all_off", all_off(), all_off(), all_off(), false, false),
        ("all_on", all_on(), all_on(), all_on(), true, true),
        ("device_on", all_off(), all_off(), all_on(), false, true),
        (
            "device_off_user_on",
            all_off(),
            all_on(),
            all_off(),
            false,
            false,
        ),
        (
            "device_undefined_user_on",
            all_off(),
            all_on(),
            none.clone(),
            false,
            true,
        ),
        (
            "device_off_user_off_account_on",
            all_on(),
            all_off(),
            all_off(),
            true,
            false,
        ),
        (
            "device_undefined_user_off_account_on",
            all_on(),
            all_off(),
            none.clone(),
            true,
            false,
        ),
        (
            "device_undefined_user_undefined_account_on",
            all_on(),
            none.clone(),
            none.clone(),
            true,
            false,
        ),
        (
            "empty_device (KZOO-53)",
            all_on(),
            json!({}),
            json!({}),
            true,
            false,
        ),
    ];
    for (name, acct_cr, user_cr, device_cr, account_on, endpoint_on) in cases {
        let acct = account(json!({ "account": acct_cr }));
        let u = user("u1", (!user_cr.is_null()).then_some(user_cr));
        let d = device(
            "d1",
            Some("u1"),
            (!device_cr.is_null()).then_some(device_cr),
        );
        let endpoint = effective_endpoint(&acct, Some(&u), Some(&d));
        let account_part = expand(&acct["call_recording"]["account"]);
        for dir in ["inbound", "outbound"] {
            for net in ["onnet", "offnet"] {
                assert_eq!(
                    super::cell_enabled(&account_part, dir, net) == Some(true),
                    account_on,
                    "{name}: account {dir} {net}"
                );
                assert_eq!(
                    super::cell_enabled(&endpoint, dir, net) == Some(true),
                    endpoint_on,
                    "{name}: endpoint {dir} {net}"
                );
            }
        }
    }
}
