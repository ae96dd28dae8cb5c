//! One call, one entry: KAZOO lists a recording per leg, labelled from KAZOO's point of
//! view (a user's call to the PSTN is an `inbound` leg from the phone and an `outbound` leg
//! to the carrier). This groups a list of recordings by `interaction_id` and labels each
//! call as its user sees it, by the rule of KAZOO's user guide ("Interpreting call
//! recordings and call direction"): a leg from the PSTN carries `resource_type`
//! `offnet-origination`, a leg to the PSTN `offnet-termination`; the recording `origin`
//! ("inbound from offnet …", "outbound to offnet …") says the same when the channel
//! variables do not.

use serde_json::{json, Map, Value};

/// How one leg touches the PSTN: (comes from it, goes to it).
fn pstn_ends(leg: &Value) -> (bool, bool) {
    let ccv = leg.get("custom_channel_vars");
    let resource = ccv
        .and_then(|c| c.get("resource_type").or_else(|| c.get("Resource-Type")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let origin = leg.get("origin").and_then(Value::as_str).unwrap_or("");
    (
        resource == "offnet-origination" || origin.starts_with("inbound from offnet"),
        resource == "offnet-termination" || origin.starts_with("outbound to offnet"),
    )
}

/// The call's direction for its user: `inbound` (from the PSTN), `outbound` (to it),
/// `internal` (device to device), plus whether an inbound call was forwarded out again.
pub fn user_direction(legs: &[Value]) -> (&'static str, bool) {
    let (from, to) = legs
        .iter()
        .map(pstn_ends)
        .fold((false, false), |acc, e| (acc.0 || e.0, acc.1 || e.1));
    match (from, to) {
        (true, true) => ("inbound", true),
        (true, false) => ("inbound", false),
        (false, true) => ("outbound", false),
        (false, false) => ("internal", false),
    }
}

fn group_key(item: &Value) -> String {
    ["interaction_id", "call_id", "id"]
        .iter()
        .find_map(|k| {
            item.get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default()
        .to_string()
}

/// Group listed recordings (crossbar's list items) into calls ordered by their start (newest
/// first unless `ascending`); each call's legs oldest first.
pub fn group_by_interaction(items: Vec<Value>, ascending: bool) -> Vec<Value> {
    let mut order: Vec<String> = vec![];
    let mut groups: Map<String, Value> = Map::new();
    for item in items {
        let key = group_key(&item);
        match groups.get_mut(&key).and_then(Value::as_array_mut) {
            Some(legs) => legs.push(item),
            None => {
                order.push(key.clone());
                groups.insert(key, json!([item]));
            }
        }
    }
    let mut calls: Vec<Value> = order
        .into_iter()
        .filter_map(|key| {
            let mut legs = groups.remove(&key)?.as_array()?.clone();
            legs.sort_by_key(|l| l.get("start").and_then(Value::as_i64).unwrap_or(0));
            Some(call_entry(&key, legs))
        })
        .collect();
    // A stable sort: calls starting in the same second keep the list's order.
    calls.sort_by_key(|c| {
        let start = c.get("start").and_then(Value::as_i64).unwrap_or(0);
        if ascending {
            start
        } else {
            -start
        }
    });
    calls
}

fn call_entry(key: &str, legs: Vec<Value>) -> Value {
    let (direction, forwarded) = user_direction(&legs);
    let first = legs.first().cloned().unwrap_or(Value::Null);
    let pick = |k: &str| {
        legs.iter()
            .find_map(|l| l.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()))
            .map(|s| json!(s))
            .unwrap_or(Value::Null)
    };
    let mut owners: Vec<&str> = legs
        .iter()
        .filter_map(|l| l.get("owner_id").and_then(Value::as_str))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let end = legs
        .iter()
        .filter_map(|l| {
            let s = l.get("start")?.as_i64()?;
            let d = l.get("duration_ms").and_then(Value::as_i64).unwrap_or(0);
            Some(s * 1000 + d)
        })
        .max();
    let start = first.get("start").and_then(Value::as_i64);
    let mut out = json!({
        "interaction_id": first.get("interaction_id").cloned().unwrap_or(json!(key)),
        "direction": direction,
        "forwarded": forwarded,
        "start": start,
        "duration_ms": match (start, end) { (Some(s), Some(e)) => json!(e - s * 1000), _ => Value::Null },
        "from": first.get("from").cloned().unwrap_or(Value::Null),
        "to": first.get("to").cloned().unwrap_or(Value::Null),
        "caller_id_name": pick("caller_id_name"),
        "caller_id_number": pick("caller_id_number"),
        "callee_id_name": pick("callee_id_name"),
        "callee_id_number": pick("callee_id_number"),
        "owner_ids": owners,
        "recordings": legs,
    });
    if let Some(o) = out.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(interaction: &str, start: i64, origin: &str, resource: Option<&str>) -> Value {
        let mut l = json!({"id": format!("r{start}"), "interaction_id": interaction, "call_id": format!("c{start}"),
                           "start": start, "duration_ms": 10_000, "origin": origin, "from": "a@x", "to": "b@x", "custom_channel_vars": {}});
        if let Some(r) = resource {
            l["custom_channel_vars"]["Resource-Type"] = json!(r);
        }
        l
    }

    #[test]
    fn the_user_guide_cases() {
        // in from the PSTN to a device: A leg offnet-origination, B leg none
        let inbound = [
            leg(
                "i",
                1,
                "inbound from offnet to endpoint",
                Some("offnet-origination"),
            ),
            leg("i", 2, "", None),
        ];
        assert_eq!(user_direction(&inbound), ("inbound", false));
        // a device to the PSTN: B leg offnet-termination
        let outbound = [
            leg("o", 1, "inbound from onnet to account", None),
            leg("o", 2, "", Some("offnet-termination")),
        ];
        assert_eq!(user_direction(&outbound), ("outbound", false));
        // the recording origin alone says the same
        assert_eq!(
            user_direction(&[leg("o", 1, "outbound to offnet from endpoint", None)]),
            ("outbound", false)
        );
        // device to device; PSTN in, forwarded back out
        assert_eq!(
            user_direction(&[leg("d", 1, "inbound from onnet to endpoint", None)]),
            ("internal", false)
        );
        let fwd = [
            leg("f", 1, "", Some("offnet-origination")),
            leg("f", 2, "", Some("offnet-termination")),
        ];
        assert_eq!(user_direction(&fwd), ("inbound", true));
    }

    #[test]
    fn groups_keep_order_and_sort_legs() {
        let items = vec![
            leg("i2", 50, "outbound to offnet from endpoint", None),
            leg("i1", 20, "", Some("offnet-origination")),
            leg("i2", 40, "", None),
            json!({"id": "lone", "call_id": "c-lone", "start": 5}),
        ];
        let calls = group_by_interaction(items, false);
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0]["interaction_id"], "i2");
        assert_eq!(calls[0]["direction"], "outbound");
        assert_eq!(calls[0]["recordings"][0]["start"], 40);
        assert_eq!(calls[0]["start"], 40);
        assert_eq!(calls[0]["duration_ms"], 20_000);
        assert_eq!(calls[1]["direction"], "inbound");
        assert_eq!(calls[2]["interaction_id"], "c-lone");
        assert_eq!(calls[2]["recordings"].as_array().unwrap().len(), 1);
    }
}
