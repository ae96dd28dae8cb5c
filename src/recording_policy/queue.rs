//! ACDc (call-center queue) recording (notes §7; 4.3
//! `acdc_agent_listener:should_record_endpoints/3` and `maybe_start_recording/3`).
//!
//! A queue call is recorded when the agent's `record_calls`, the queue's
//! `record_caller`, or any of the agent's rung devices' `record_calls` is
//! true. The recording is *added* to whatever the account/endpoint rules
//! already started (the product guide's "queue setting supersedes the
//! account's": a queue recording happens even when the account's inbound
//! recording is off). It runs on the member (caller) leg and starts when the
//! agent is connected (`member_connect_accepted`), hence `on_bridge`.
//!
//! URL: `notifications.recording`, else `call_recording_url` (the key KAZOO's
//! `acdc_queue_fsm` reads), else `recording_url` (the key in the `queues`
//! schema, which KAZOO's code ignores). Format: `callflow`
//! `call_recording.extension`, default mp3. KAZOO sets no origin for these
//! recordings (4.3 falls back to `"untracked : <request>"`); we use
//! `"queue : <queue name or id>"`. `follow_transfer` is true, the 4.3
//! `kzc_recording` default when the call sets none.

use serde_json::{Map, Value};

use super::expand::doc_label;
use super::json::{doc_id, get_ne_str, get_obj, is_true};
use super::params::{recording_params, DEFAULT_FORMAT};
use super::{CallLeg, Leg, Level, RecordingStart};

/// The queue recording for `leg`, if the queue call should be recorded.
pub(crate) fn queue_recording(
    leg: &CallLeg,
    caller_owner: Option<String>,
) -> Option<RecordingStart> {
    let queue = leg.queue.as_ref()?;
    let empty = Map::new();
    let queue_map = queue.as_object().unwrap_or(&empty);
    let source = why_recorded(leg, queue, queue_map)?;

    let mut data = Map::new();
    data.insert("format".to_owned(), Value::from(DEFAULT_FORMAT));
    if let Some(url) = queue_url(queue, queue_map) {
        data.insert("url".to_owned(), Value::from(url));
    }
    let name = get_ne_str(queue_map, "name")
        .map(str::to_owned)
        .or_else(|| doc_id(queue))
        .unwrap_or_else(|| "unknown".to_owned());
    Some(RecordingStart {
        level: Level::Queue,
        leg: Leg::A,
        origin: format!("queue : {name}"),
        endpoint_id: None,
        owner_id: caller_owner,
        params: recording_params(&data, true, &[]),
        on_answer: false,
        on_bridge: true,
        source,
    })
}

/// KAZOO's order: agent `record_calls`, queue `record_caller`, then any agent
/// endpoint's `record_calls`.
fn why_recorded(leg: &CallLeg, queue: &Value, queue_map: &Map<String, Value>) -> Option<String> {
    if let Some(agent) = leg.agent.as_ref() {
        if is_true(agent.get("record_calls")) {
            return Some(format!("{} record_calls", doc_label("agent", agent)));
        }
    }
    if is_true(queue_map.get("record_caller")) {
        return Some(format!("{} record_caller", doc_label("queue", queue)));
    }
    leg.callee_endpoints
        .iter()
        .find(|(device, _)| is_true(device.get("record_calls")))
        .map(|(device, _)| format!("{} record_calls", doc_label("device", device)))
}

fn queue_url<'a>(queue: &'a Value, queue_map: &'a Map<String, Value>) -> Option<&'a str> {
    get_obj(queue, "notifications")
        .and_then(|n| get_ne_str(n, "recording"))
        .or_else(|| get_ne_str(queue_map, "call_recording_url"))
        .or_else(|| get_ne_str(queue_map, "recording_url"))
}
