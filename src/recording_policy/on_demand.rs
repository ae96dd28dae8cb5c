//! On-demand (in-call) recording: `record_call` metaflows (notes §6).
//!
//! Metaflows come from the account doc's `metaflows` merged with the calling
//! device's and then its owner's (`kz_endpoint` generic attribute merge:
//! account, endpoint, owner; non-empty leaves win, so the user overrides the
//! device). Without a caller endpoint only the account's apply (konami's
//! account config). Each `numbers`/`patterns` entry whose `module` is
//! `record_call` becomes an [`OnDemand`].
//!
//! Defaults: `binding_digit` `*` (anything outside `0-9*#` also falls back,
//! as `konami_config:constrain_binding_digit/1` does), `listen_on` `self`,
//! digit timeout 800 ms (`digit_timeout`, or konami's `digit_timeout_ms`),
//! `action` `toggle` (schema default). KAZOO's `konami_record_call` does not
//! implement toggle: it runs it (and any unknown action) as `start`, which
//! [`OnDemand::kazoo_action`] reports.
//!
//! Note: master's `kz_endpoint_v5:maybe_start_metaflow/2` only publishes
//! endpoint metaflow bindings when `kazoo_endpoint.build_metaflows` is true
//! (default false); 4.3 always does. This module reports what is configured
//! and leaves that switch to the caller.

use serde_json::{Map, Value};

use super::expand::doc_label;
use super::json::{get_integer, get_ne_str, get_obj, merge_recursive_non_empty};
use super::params::{recording_params, METAFLOW_EXTRAS};
use super::{CallLeg, OnDemand};

const BINDING_DIGITS: [&str; 12] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];
const ACTIONS: [&str; 5] = ["toggle", "start", "stop", "mask", "unmask"];
const LISTEN_ON: [&str; 3] = ["self", "peer", "both"];
const DEFAULT_BINDING_DIGIT: &str = "*";
const DEFAULT_DIGIT_TIMEOUT_MS: i64 = 800;

/// Every `record_call` metaflow reachable from the caller.
pub(crate) fn codes(leg: &CallLeg) -> Vec<OnDemand> {
    let mut layers: Vec<(String, &Map<String, Value>)> = Vec::new();
    let docs = [
        Some(("account", &leg.account)),
        leg.caller_device.as_ref().map(|d| ("device", d)),
        leg.caller_user.as_ref().map(|u| ("user", u)),
    ];
    for (kind, doc) in docs.into_iter().flatten() {
        if let Some(metaflows) = get_obj(doc, "metaflows") {
            layers.push((doc_label(kind, doc), metaflows));
        }
    }
    // The fold starts from the account's object as stored; only the later
    // (device, user) values go through the non-empty filter.
    let account_metaflows = get_obj(&leg.account, "metaflows");
    let mut merged = account_metaflows.cloned().unwrap_or_default();
    for (_, metaflows) in layers.iter().skip(usize::from(account_metaflows.is_some())) {
        merge_recursive_non_empty(&mut merged, metaflows);
    }

    let binding_digit = get_ne_str(&merged, "binding_digit")
        .filter(|d| BINDING_DIGITS.contains(d))
        .unwrap_or(DEFAULT_BINDING_DIGIT);
    let listen_on = get_ne_str(&merged, "listen_on")
        .filter(|l| LISTEN_ON.contains(l))
        .unwrap_or("self");
    let digit_timeout_ms = get_integer(&merged, "digit_timeout")
        .or_else(|| get_integer(&merged, "digit_timeout_ms"))
        .filter(|t| *t >= 0)
        .unwrap_or(DEFAULT_DIGIT_TIMEOUT_MS);

    let mut out = Vec::new();
    for (section, pattern) in [("numbers", false), ("patterns", true)] {
        let Some(Value::Object(entries)) = merged.get(section) else {
            continue;
        };
        for (code, node) in entries {
            let Some(node) = node.as_object() else {
                continue;
            };
            if get_ne_str(node, "module") != Some("record_call") {
                continue;
            }
            let empty = Map::new();
            let data = match node.get("data") {
                Some(Value::Object(data)) => data,
                _ => &empty,
            };
            let action = action_of(data);
            let kazoo_action = if action == "toggle" { "start" } else { action };
            out.push(OnDemand {
                binding_digit: binding_digit.to_owned(),
                code: code.clone(),
                action: action.to_owned(),
                kazoo_action: kazoo_action.to_owned(),
                params: recording_params(data, false, &METAFLOW_EXTRAS),
                listen_on: listen_on.to_owned(),
                digit_timeout_ms,
                pattern,
                source: source_of(&layers, section, code),
            });
        }
    }
    out
}

/// The primary code: the first `toggle`/`start` one, else the first one.
pub(crate) fn primary(codes: &[OnDemand]) -> Option<OnDemand> {
    codes
        .iter()
        .find(|c| c.action == "toggle" || c.action == "start")
        .or_else(|| codes.first())
        .cloned()
}

fn action_of(data: &Map<String, Value>) -> &'static str {
    match get_ne_str(data, "action") {
        None => "toggle",
        Some(action) => ACTIONS
            .iter()
            .copied()
            .find(|a| *a == action)
            .unwrap_or("start"),
    }
}

/// The last layer (user, device, account) that names `record_call` there.
fn source_of(layers: &[(String, &Map<String, Value>)], section: &str, code: &str) -> String {
    layers
        .iter()
        .rev()
        .find(|(_, metaflows)| {
            metaflows
                .get(section)
                .and_then(|s| s.get(code))
                .and_then(Value::as_object)
                .and_then(|node| get_ne_str(node, "module"))
                .is_some()
        })
        .map(|(label, _)| format!("{label} metaflows.{section}.{code}"))
        .unwrap_or_else(|| format!("metaflows.{section}.{code}"))
}
