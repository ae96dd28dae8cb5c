//! Table-driven tests for the recording decision.
//!
//! - `matrix`: every row of the matrices in KAZOO's
//!   `doc/user_guides/call_recording.md`, plus KAZOO's own
//!   `kz_endpoint_tests` merge cases.
//! - `merge`: `any` expansion, device-wins merge, `{}`, legacy `record_call`.
//! - `calls`: cumulative results, call forward, queues, origins, defaults.
//! - `extras`: on-demand metaflows, robustness on odd JSON, bulk run.

mod calls;
mod extras;
mod matrix;
mod merge;

use serde_json::{json, Value};

use super::{decide, CallLeg, Decision, Leg, Level, Network, RecordingStart};

pub(super) const ACCOUNT_ID: &str = "acc0000000000000000000000000001";

/// An account doc with the given `call_recording`.
pub(super) fn account(call_recording: Value) -> Value {
    json!({"_id": ACCOUNT_ID, "name": "Acme", "call_recording": call_recording})
}

/// An account doc with no recording settings.
pub(super) fn plain_account() -> Value {
    json!({"_id": ACCOUNT_ID, "name": "Acme"})
}

/// A device doc with an optional owner and `call_recording`.
pub(super) fn device(id: &str, owner: Option<&str>, call_recording: Option<Value>) -> Value {
    let mut doc = json!({"_id": id, "device_type": "sip_device"});
    if let Some(owner) = owner {
        doc["owner_id"] = json!(owner);
    }
    if let Some(cr) = call_recording {
        doc["call_recording"] = cr;
    }
    doc
}

/// A user doc with an optional `call_recording`.
pub(super) fn user(id: &str, call_recording: Option<Value>) -> Value {
    let mut doc = json!({"_id": id, "first_name": "U", "last_name": id});
    if let Some(cr) = call_recording {
        doc["call_recording"] = cr;
    }
    doc
}

/// `{dir: {net: {enabled: true}}}`.
pub(super) fn on(direction: &str, network: &str) -> Value {
    json!({ direction: { network: {"enabled": true} } })
}

/// All four cells enabled (KAZOO's `all_on_object/0`).
pub(super) fn all_on() -> Value {
    json!({"inbound": {"onnet": {"enabled": true}, "offnet": {"enabled": true}},
           "outbound": {"onnet": {"enabled": true}, "offnet": {"enabled": true}}})
}

/// All four cells disabled (KAZOO's `all_off_object/0`).
pub(super) fn all_off() -> Value {
    json!({"inbound": {"onnet": {"enabled": false}, "offnet": {"enabled": false}},
           "outbound": {"onnet": {"enabled": false}, "offnet": {"enabled": false}}})
}

/// A leg with networks F and T.
pub(super) fn leg(account: Value, from: Network, to: Network) -> CallLeg {
    CallLeg::new(account, from, to)
}

/// (level, origin) of each recording.
pub(super) fn summary(decision: &Decision) -> Vec<(Level, String)> {
    decision
        .recordings
        .iter()
        .map(|r| (r.level, r.origin.clone()))
        .collect()
}

/// The only recording at `level`, failing with `case` in the message otherwise.
pub(super) fn only<'a>(decision: &'a Decision, level: Level, case: &str) -> &'a RecordingStart {
    let hits: Vec<&RecordingStart> = decision
        .recordings
        .iter()
        .filter(|r| r.level == level)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{case}: expected one {level:?} recording, got {:?}",
        summary(decision)
    );
    hits[0]
}

/// `enabled` of `cell` in an expanded/effective settings object.
pub(super) fn cell_enabled(settings: &Value, direction: &str, network: &str) -> Option<bool> {
    settings
        .get(direction)
        .and_then(|d| d.get(network))
        .and_then(|c| c.get("enabled"))
        .and_then(Value::as_bool)
}

/// B-leg for `id`.
pub(super) fn b(id: &str) -> Leg {
    Leg::B {
        endpoint_id: id.to_owned(),
    }
}

#[test]
fn decision_serialises_with_snake_case_enums() {
    let mut call = leg(
        account(json!({"account": on("inbound", "offnet")})),
        Network::Offnet,
        Network::Onnet,
    );
    call.callee_endpoints = vec![(device("d1", None, Some(on("inbound", "offnet"))), None)];
    let value = serde_json::to_value(decide(&call)).unwrap_or(Value::Null);
    assert_eq!(value["recordings"][0]["level"], json!("account"));
    assert_eq!(value["recordings"][0]["leg"], json!({"side": "a"}));
    assert_eq!(value["recordings"][1]["level"], json!("callee_endpoint"));
    assert_eq!(
        value["recordings"][1]["leg"],
        json!({"side": "b", "endpoint_id": "d1"})
    );
    assert_eq!(value["on_demand"], Value::Null);
    let leg_json = serde_json::to_value(&call).unwrap_or(Value::Null);
    assert_eq!(leg_json["from_network"], json!("offnet"));
}

#[test]
fn call_leg_deserialises_from_minimal_json() {
    let parsed: Result<CallLeg, _> = serde_json::from_value(json!({
        "account": {"_id": "a1", "call_recording": {"account": {"any": {"any": {"enabled": true}}}}},
        "from_network": "offnet",
        "to_network": "onnet",
        "callee_endpoints": [[{"_id": "d1"}, null]]
    }));
    let call = parsed.unwrap_or_else(|e| panic!("deserialise: {e}"));
    assert_eq!(call.callee_endpoints.len(), 1);
    assert!(!call.call_forwarded);
    let decision = decide(&call);
    assert_eq!(
        summary(&decision),
        vec![(Level::Account, "inbound from offnet to account".to_owned())]
    );
    let round_trip: Result<Decision, _> =
        serde_json::from_value(serde_json::to_value(&decision).unwrap_or_default());
    assert_eq!(round_trip.ok(), Some(decision));
}
