//! Call detail records as KAZOO keeps them: the cdr application stores each leg's
//! CHANNEL_DESTROY event (keys lowercased, `-` → `_`) as a `cdr` document `YYYYMM-<call id>`
//! in the month's database of the interaction (`cdr_channel_destroy.erl`); crossbar lists
//! them normalised into fixed columns (`kzd_cdrs.hrl` `?COLUMNS`, `cb_cdrs.erl`).

use crate::domain::ids::AccountId;
use crate::domain::time;
use serde_json::{json, Map, Value};

/// `kz_json:normalize_jobj`: keys lowercased and `-` → `_`, recursively; nulls dropped.
pub fn normalize_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.to_lowercase().replace('-', "_"), normalize_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize_keys).collect()),
        other => other.clone(),
    }
}

fn str_of<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

/// Build the stored CDR document from a media server's CHANNEL_DESTROY event (either
/// KAZOO's `Call-ID` style keys or already normalised ones). Err names what is missing.
pub fn doc_from_event(
    account: &AccountId,
    event: &Value,
    now_gregorian: i64,
    interaction_default: String,
) -> Result<Value, &'static str> {
    let Value::Object(mut doc) = normalize_keys(event) else {
        return Err("the CDR must be a JSON object");
    };
    let call_id = str_of(&doc, "call_id")
        .filter(|c| !c.is_empty())
        .ok_or("call_id")?
        .to_string();
    let mut ccv = doc
        .remove("custom_channel_vars")
        .and_then(|c| match c {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    // Private channel variables move to the top level; a few are leaked there too.
    // (`_`-prefixed names are reserved by CouchDB at the top level, so only `pvt_` ones.)
    let private: Vec<String> = ccv
        .keys()
        .filter(|k| k.starts_with("pvt_"))
        .cloned()
        .collect();
    for k in private {
        if let Some(v) = ccv.remove(&k) {
            doc.insert(k, v);
        }
    }
    for (from, to) in [
        ("recording_url", "recording_url"),
        ("call_priority", "call_priority"),
        ("e164_destination", "e164_destination"),
        ("e164_origination", "e164_origination"),
        ("did_classifier", "did_classifier"),
    ] {
        if let Some(v) = ccv.remove(from) {
            doc.insert(to.into(), v);
        }
    }
    if ccv.get("is_conference").and_then(Value::as_bool) == Some(true) {
        ccv.remove("is_conference");
        doc.insert("is_conference".into(), json!(true));
    }
    // The interaction: `<gregorian seconds>-<key>`, its time giving the document's month.
    let interaction = ccv
        .remove("call_interaction_id")
        .and_then(|v| v.as_str().map(str::to_string))
        .or_else(|| str_of(&doc, "interaction_id").map(str::to_string))
        .unwrap_or(interaction_default);
    let (itime, ikey) = match interaction.split_once('-') {
        Some((t, k)) if t.len() == 11 && t.bytes().all(|b| b.is_ascii_digit()) => {
            (t.parse::<i64>().unwrap_or(now_gregorian), k.to_string())
        }
        _ => (now_gregorian, interaction.clone()),
    };
    let (y, m) = time::year_month(time::gregorian_to_unix(itime));
    doc.insert("interaction_time".into(), json!(itime));
    doc.insert("interaction_key".into(), json!(ikey));
    doc.insert("interaction_id".into(), json!(interaction));
    doc.insert("custom_channel_vars".into(), Value::Object(ccv));
    doc.retain(|k, _| !k.starts_with('_'));
    doc.insert("_id".into(), json!(format!("{y:04}{m:02}-{call_id}")));
    doc.insert("pvt_type".into(), json!("cdr"));
    doc.insert("pvt_vsn".into(), json!(2));
    doc.insert("pvt_account_id".into(), json!(account.as_str()));
    doc.insert(
        "pvt_account_db".into(),
        json!(format!("{}-{y:04}{m:02}", account.encoded_db())),
    );
    doc.insert("pvt_created".into(), json!(now_gregorian));
    doc.insert("pvt_modified".into(), json!(now_gregorian));
    Ok(Value::Object(doc))
}

fn int_or_empty(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Number(n)) => n.as_i64().map(Value::from).unwrap_or(json!("")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(json!("")),
        _ => json!(""),
    }
}

fn user_part(s: &str) -> String {
    s.split('@').next().unwrap_or("").to_string()
}

fn text(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => json!(s),
        Some(Value::Null) | None => json!(""),
        Some(other) => json!(other.to_string()),
    }
}

/// One list row (`cb_cdrs:normalize_cdr/3`) from a stored CDR document. `utc_offset`
/// (seconds) shifts only `datetime`.
pub fn normalize_row(doc: &Value, is_reseller: bool, utc_offset: i64) -> Value {
    let empty = Map::new();
    let o = doc.as_object().unwrap_or(&empty);
    let ccv = o
        .get("custom_channel_vars")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let g = |k: &str| text(o.get(k));
    let c = |k: &str| text(ccv.get(k));
    let num = |v: Option<&Value>| {
        v.and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
            .unwrap_or(0)
    };
    let duration = num(o.get("duration_seconds"));
    let start_g = num(o.get("timestamp")) - duration;
    let start_unix = time::gregorian_to_unix(start_g);
    let micro = o
        .get("channel_created_time")
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
        .map(|us| format!("{}", us / 1_000_000.0))
        .unwrap_or_else(|| format!("{start_unix}.0"));
    let direction = o
        .get("call_direction")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (dialed, calling_from) = match direction {
        "inbound" => (
            user_part(o.get("request").and_then(Value::as_str).unwrap_or("")),
            o.get("caller_id_number")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        "outbound" => (
            user_part(o.get("to").and_then(Value::as_str).unwrap_or("")),
            user_part(o.get("from_uri").and_then(Value::as_str).unwrap_or("")),
        ),
        // KAZOO crashes on any other direction; we leave the two columns empty.
        _ => (String::new(), String::new()),
    };
    let authorizing = match (ccv.get("authorizing_id"), ccv.get("account_id")) {
        (Some(a), Some(acc)) if a == acc => json!(""),
        (a, _) => text(a),
    };
    let media_recordings = match ccv.get("media_recordings") {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        Some(Value::Null) | None => json!([]),
        Some(other) => json!([other]),
    };
    let rate = ccv
        .get("rate")
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(0.0)
        / 10_000.0;
    let fmt = |unix: i64, f: &[::time::format_description::FormatItem<'_>]| {
        ::time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| t.format(f).ok())
            .unwrap_or_default()
    };
    use ::time::macros::format_description as fd;
    let mut row = json!({
        "id": g("_id"),
        "call_id": g("call_id"),
        "caller_id_number": g("caller_id_number"),
        "caller_id_name": g("caller_id_name"),
        "callee_id_number": g("callee_id_number"),
        "callee_id_name": g("callee_id_name"),
        "duration_seconds": int_or_empty(o.get("duration_seconds")),
        "billing_seconds": int_or_empty(o.get("billing_seconds")),
        "timestamp": start_g.to_string(),
        "hangup_cause": g("hangup_cause"),
        "disposition": g("disposition"),
        "other_leg_call_id": g("other_leg_call_id"),
        "owner_id": c("owner_id"),
        "to": g("to"),
        "from": g("from"),
        "direction": g("call_direction"),
        "request": g("request"),
        "authorizing_id": authorizing,
        "cost": "0",
        "dialed_number": dialed,
        "calling_from": calling_from,
        "datetime": fmt(start_unix + utc_offset, fd!("[year]-[month]-[day]_[hour]:[minute]:[second]")),
        "unix_timestamp": start_unix.to_string(),
        "unix_timestamp_micro": micro,
        "rfc_1036": fmt(start_unix, fd!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT")),
        "iso_8601": fmt(start_unix, fd!("[year]-[month]-[day]")),
        "iso_8601_combined": fmt(start_unix, fd!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")),
        "call_type": c("account_billing"),
        "rate": format!("{rate:?}"),
        "rate_name": c("rate_name"),
        "bridge_id": c("bridge_id"),
        "recording_url": g("recording_url"),
        "media_recordings": media_recordings,
        "media_server": g("media_server"),
        "call_priority": g("call_priority"),
        "interaction_id": g("interaction_id"),
    });
    if is_reseller {
        row["reseller_cost"] = json!("0");
        row["reseller_call_type"] = c("reseller_billing");
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountId {
        AccountId::parse(&"ab".repeat(16)).unwrap()
    }

    #[test]
    fn event_to_document() {
        let event = json!({"Call-ID": "c1@h", "Call-Direction": "inbound", "Timestamp": 63879030000i64,
            "Duration-Seconds": 30, "Request": "1001@r", "Caller-ID-Number": "+14155550100",
            "Custom-Channel-Vars": {"Account-ID": "ab".repeat(16), "Owner-ID": "u1", "Call-Interaction-ID": "63879029970-8f3a",
                                    "Recording-Url": "http://x", "pvt_thing": 1}, "_rev": "1-x"});
        let doc = doc_from_event(&account(), &event, 63879030005, "x".into()).unwrap();
        assert_eq!(doc["_id"], "202403-c1@h");
        assert_eq!(
            (
                doc["interaction_time"].as_i64(),
                doc["interaction_key"].as_str()
            ),
            (Some(63879029970), Some("8f3a"))
        );
        assert_eq!(doc["custom_channel_vars"]["owner_id"], "u1");
        assert!(doc["custom_channel_vars"]
            .get("call_interaction_id")
            .is_none());
        assert_eq!(doc["recording_url"], "http://x");
        assert_eq!(doc["pvt_thing"], 1);
        assert!(doc.get("_rev").is_none());
        assert_eq!(doc["pvt_type"], "cdr");
        assert!(doc["pvt_account_db"].as_str().unwrap().ends_with("-202403"));
        assert_eq!(
            doc_from_event(&account(), &json!({"x": 1}), 1, "y".into()),
            Err("call_id")
        );
    }

    #[test]
    fn list_row() {
        let doc = json!({"_id": "202403-c1", "call_id": "c1", "call_direction": "outbound", "timestamp": 63879030030i64,
            "duration_seconds": "30", "to": "+14155550100@r", "from_uri": "1001@10.0.0.1", "channel_created_time": 1709294400123456i64,
            "custom_channel_vars": {"owner_id": "u1", "account_id": "a", "authorizing_id": "a", "media_recordings": "202403-r1"}});
        let r = normalize_row(&doc, false, 3600);
        assert_eq!(r["duration_seconds"], 30);
        assert_eq!(r["billing_seconds"], "");
        assert_eq!(r["timestamp"], "63879030000");
        assert_eq!(
            (r["dialed_number"].as_str(), r["calling_from"].as_str()),
            (Some("+14155550100"), Some("1001"))
        );
        assert_eq!(r["authorizing_id"], "");
        assert_eq!(r["media_recordings"], json!(["202403-r1"]));
        assert_eq!(r["unix_timestamp_micro"], "1709294400.123456");
        assert_eq!(r["rate"], "0.0");
        assert!(r.get("reseller_cost").is_none());
        let unix: i64 = r["unix_timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(unix, time::gregorian_to_unix(63879030000));
        assert!(r["iso_8601_combined"].as_str().unwrap().ends_with('Z'));
    }
}
