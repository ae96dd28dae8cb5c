//! The recording decision: which recordings KAZOO starts for a call leg, and
//! with which parameters. Pure functions over the stored JSON documents; no
//! I/O, no panics on any input.
//!
//! Rules (notes `kazoo-recording.md` §1, checked against KAZOO's
//! `cf_route_win:maybe_start_recording/1`, `kz_account_recording`,
//! `kz_endpoint_recording` and `kz_endpoint:endpoint_actions/3`), with
//! F = [`CallLeg::from_network`] and T = [`CallLeg::to_network`]:
//!
//! 1. **Account** (A-leg, at most one): `account.inbound[F]` if enabled, else
//!    `account.outbound[T]`. Independent of every endpoint setting.
//! 2. **Caller endpoint** (A-leg): only when F is onnet and the call is not
//!    call-forwarded: the caller's effective `outbound[T]`.
//! 3. **Call forward**: when the call is forwarded, the forwarding endpoint's
//!    effective `inbound[Call-Forward-From]`, on the forwarded leg, on answer.
//! 4. **Callee endpoint** (each B-leg, on answer): the callee's effective
//!    `inbound[F]`.
//! 5. **Queue** (ACDc, A-leg): queue `record_caller`, agent `record_calls`, or
//!    an agent device's `record_calls` adds one more recording (§7).
//!
//! All rules are cumulative; nothing deduplicates them. Effective endpoint
//! settings are `expand(account.call_recording.endpoint)` ← user ← device
//! (see [`effective_endpoint`]). On-demand recording comes from `record_call`
//! metaflows ([`OnDemand`]).
//!
//! Choices where KAZOO's versions, its guide and our notes disagree:
//! - A user/device `call_recording: {}` contributes nothing (4.3, KZOO-53;
//!   master's `kz_endpoint_v5` would expand it to "all off"). As in 4.3 it
//!   also does not fall back to the legacy `record_call` attribute.
//! - Any non-empty device `call_recording` decides `enabled` for all four
//!   cells (unmentioned cells expand to `false`), which is stricter than the
//!   guide's "device explicitly disabled"; the code is followed.
//! - `format` also accepts `mp4` (code), not only the guide's `mp3|wav`.
//! - Queue recordings: see the `queue` module (URL key order, origin,
//!   follow_transfer); `time_limit <= 0` is treated as absent (`params`).

mod expand;
mod json;
mod on_demand;
mod params;
mod queue;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use expand::expand;
pub use params::{DEFAULT_FORMAT, DEFAULT_RECORD_MIN_SEC, MAX_TIME_LIMIT};

use expand::{account_part, effective_with, EnabledCell};
use json::{doc_id, get_ne_str};

/// Which network a call came from / goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Inside KAZOO (a registered device, an internal extension).
    Onnet,
    /// A carrier / the PSTN.
    Offnet,
}

impl Network {
    /// KAZOO's spelling: `onnet` / `offnet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Onnet => "onnet",
            Network::Offnet => "offnet",
        }
    }
}

/// A call-recording direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Account: calls entering from a network. Endpoint: calls to the endpoint.
    Inbound,
    /// Account: calls going to a network. Endpoint: calls from the endpoint.
    Outbound,
}

impl Direction {
    /// KAZOO's spelling: `inbound` / `outbound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Everything the decision needs, as plain JSON documents (as stored in CouchDB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallLeg {
    /// The account doc (`call_recording.account` / `.endpoint`, `metaflows`).
    #[serde(default)]
    pub account: Value,
    /// F: offnet when the call came from a carrier (`Inception` set).
    pub from_network: Network,
    /// T: offnet when the destination is outside (the `no_match` callflow).
    pub to_network: Network,
    /// The calling device (`authorizing_id`); for a forwarded call, the
    /// forwarding device.
    pub caller_device: Option<Value>,
    /// The calling device's owner (or the calling user when there is no device).
    pub caller_user: Option<Value>,
    /// Each endpoint rung for the call: (device, its owner user).
    #[serde(default)]
    pub callee_endpoints: Vec<(Value, Option<Value>)>,
    /// CCV `Call-Forward`.
    #[serde(default)]
    pub call_forwarded: bool,
    /// CCV `Call-Forward-From`: the inception of the original call.
    pub call_forward_from: Option<Network>,
    /// ACDc queue doc when the call is a queue call.
    pub queue: Option<Value>,
    /// The agent (user doc) that took the queue call, if known.
    pub agent: Option<Value>,
}

impl CallLeg {
    /// A leg with only the account and networks set.
    pub fn new(account: Value, from_network: Network, to_network: Network) -> Self {
        CallLeg {
            account,
            from_network,
            to_network,
            caller_device: None,
            caller_user: None,
            callee_endpoints: Vec::new(),
            call_forwarded: false,
            call_forward_from: None,
            queue: None,
            agent: None,
        }
    }
}

/// Which leg a recording runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "side", rename_all = "snake_case")]
pub enum Leg {
    /// The leg that entered KAZOO.
    A,
    /// A leg KAZOO built for an endpoint (bridge / forwarded leg).
    B {
        /// The endpoint (device) id the leg was built for.
        endpoint_id: String,
    },
}

/// Which rule started a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `call_recording.account` of the account doc.
    Account,
    /// The calling endpoint's `outbound` settings.
    CallerEndpoint,
    /// A called endpoint's `inbound` settings.
    CalleeEndpoint,
    /// The forwarding endpoint's `inbound` settings on a forwarded call.
    CallForward,
    /// ACDc queue / agent recording.
    Queue,
}

/// One recording KAZOO would start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingStart {
    /// The rule that started it.
    pub level: Level,
    /// The leg it records.
    pub leg: Leg,
    /// KAZOO's origin string, e.g. `"inbound from offnet to account"`.
    pub origin: String,
    /// The endpoint the recording belongs to, if any.
    pub endpoint_id: Option<String>,
    /// The owner (user) id recorded in the metadata, if any.
    pub owner_id: Option<String>,
    /// Normalised parameters (see the `params` module docs).
    pub params: Value,
    /// Starts when the leg answers (callee/forward rules, or `record_on_answer`).
    pub on_answer: bool,
    /// Starts when the leg bridges (`record_on_bridge`, or an ACDc connect).
    pub on_bridge: bool,
    /// Which document/key decided, e.g. `"device 3f… call_recording.inbound.offnet"`.
    pub source: String,
}

/// A `record_call` metaflow (in-call feature code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnDemand {
    /// The DTMF that starts collection (`*` by default).
    pub binding_digit: String,
    /// The digits after the binding digit (or the regex, for `patterns`).
    pub code: String,
    /// Configured action: `toggle|start|stop|mask|unmask` (missing → `toggle`,
    /// the schema default; anything unknown → `start`).
    pub action: String,
    /// What KAZOO's konami actually runs: `toggle` is not implemented there
    /// and starts a new recording (`start`).
    pub kazoo_action: String,
    /// Normalised recording parameters from the metaflow `data`.
    pub params: Value,
    /// `self|peer|both` (default `self`).
    pub listen_on: String,
    /// Inter-digit timeout in ms (default 800).
    pub digit_timeout_ms: i64,
    /// Whether `code` is a `patterns` regex rather than a `numbers` key.
    pub pattern: bool,
    /// Which document/key defined it, e.g. `"account a1 metaflows.numbers.9"`.
    pub source: String,
}

/// The result of [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Recordings to start, in rule order (account, caller/forward, callees, queue).
    pub recordings: Vec<RecordingStart>,
    /// The primary on-demand code: the first `toggle`/`start` record_call
    /// metaflow, else the first record_call metaflow.
    pub on_demand: Option<OnDemand>,
    /// Every record_call metaflow reachable from the caller (numbers, then patterns).
    #[serde(default)]
    pub on_demand_codes: Vec<OnDemand>,
}

/// The effective endpoint settings after the account.endpoint → user → device
/// merge: an object `{inbound: {onnet, offnet}, outbound: {onnet, offnet}}`
/// (each cell with its `enabled` and parameters), or `{}` when no layer has
/// any setting. A device with no owner passes `user: None`; a user endpoint
/// with no device passes `device: None`.
pub fn effective_endpoint(account: &Value, user: Option<&Value>, device: Option<&Value>) -> Value {
    let account_endpoint = account_part(account, "endpoint");
    Value::Object(effective_with(account_endpoint.as_ref(), user, device).values)
}

/// Computes every recording KAZOO would start for `leg`, plus the on-demand codes.
pub fn decide(leg: &CallLeg) -> Decision {
    let from = leg.from_network;
    let to = leg.to_network;
    let caller_owner = owner_id(leg.caller_device.as_ref(), leg.caller_user.as_ref());
    let mut recordings = Vec::new();
    let account_endpoint = account_part(&leg.account, "endpoint");

    // (a) account rule: inbound[F] else outbound[T], on the A-leg.
    if let Some(account) = account_part(&leg.account, "account").map(|layer| layer.resolved()) {
        let hit = account
            .enabled_cell("inbound", from.as_str())
            .map(|cell| (cell, format!("inbound from {} to account", from.as_str())))
            .or_else(|| {
                account
                    .enabled_cell("outbound", to.as_str())
                    .map(|cell| (cell, format!("outbound to {} from account", to.as_str())))
            });
        if let Some((cell, origin)) = hit {
            recordings.push(start(
                Level::Account,
                Leg::A,
                origin,
                None,
                caller_owner.clone(),
                cell,
                false,
            ));
        }
    }

    // (b) caller rule (onnet, not forwarded) or (c) call-forward rule.
    if leg.caller_device.is_some() || leg.caller_user.is_some() {
        let caller_id = leg
            .caller_device
            .as_ref()
            .and_then(doc_id)
            .or_else(|| leg.caller_user.as_ref().and_then(doc_id));
        let settings = effective_with(
            account_endpoint.as_ref(),
            leg.caller_user.as_ref(),
            leg.caller_device.as_ref(),
        );
        if !leg.call_forwarded {
            if from == Network::Onnet {
                if let Some(cell) = settings.enabled_cell("outbound", to.as_str()) {
                    let origin = format!("outbound to {} from endpoint", to.as_str());
                    recordings.push(start(
                        Level::CallerEndpoint,
                        Leg::A,
                        origin,
                        caller_id,
                        caller_owner.clone(),
                        cell,
                        false,
                    ));
                }
            }
        } else if let Some(forward_from) = leg.call_forward_from {
            if let Some(cell) = settings.enabled_cell("inbound", forward_from.as_str()) {
                let origin = format!("inbound from {} to endpoint", forward_from.as_str());
                let b_leg = Leg::B {
                    endpoint_id: caller_id.clone().unwrap_or_default(),
                };
                recordings.push(start(
                    Level::CallForward,
                    b_leg,
                    origin,
                    caller_id,
                    caller_owner.clone(),
                    cell,
                    true,
                ));
            }
        }
    }

    // (d) callee rule: inbound[F] on each B-leg, on answer.
    for (device, user) in &leg.callee_endpoints {
        let settings = effective_with(account_endpoint.as_ref(), user.as_ref(), Some(device));
        if let Some(cell) = settings.enabled_cell("inbound", from.as_str()) {
            let endpoint_id = doc_id(device);
            let origin = format!("inbound from {} to endpoint", from.as_str());
            let b_leg = Leg::B {
                endpoint_id: endpoint_id.clone().unwrap_or_default(),
            };
            let owner = owner_id(Some(device), user.as_ref());
            recordings.push(start(
                Level::CalleeEndpoint,
                b_leg,
                origin,
                endpoint_id,
                owner,
                cell,
                true,
            ));
        }
    }

    // (e) ACDc queue recording, on top of everything else.
    if let Some(recording) = queue::queue_recording(leg, caller_owner) {
        recordings.push(recording);
    }

    let on_demand_codes = on_demand::codes(leg);
    let on_demand = on_demand::primary(&on_demand_codes);
    Decision {
        recordings,
        on_demand,
        on_demand_codes,
    }
}

/// Builds a settings-based recording (follow_transfer is always false there).
fn start(
    level: Level,
    leg: Leg,
    origin: String,
    endpoint_id: Option<String>,
    owner_id: Option<String>,
    cell: EnabledCell,
    always_on_answer: bool,
) -> RecordingStart {
    let params = params::recording_params(&cell.params, false, &[]);
    let flag = |key: &str| params.get(key).and_then(Value::as_bool).unwrap_or(false);
    // Callee/forward recordings run from Execute-On-Answer; A-leg ones honour
    // record_on_answer, then record_on_bridge (kapps_call:start_recording/2).
    let on_answer = always_on_answer || flag("record_on_answer");
    let on_bridge = !on_answer && flag("record_on_bridge");
    RecordingStart {
        level,
        leg,
        origin,
        endpoint_id,
        owner_id,
        params,
        on_answer,
        on_bridge,
        source: cell.source,
    }
}

/// The owner of an endpoint: the user doc's id, else the device's `owner_id`.
fn owner_id(device: Option<&Value>, user: Option<&Value>) -> Option<String> {
    user.and_then(doc_id).or_else(|| {
        device
            .and_then(Value::as_object)
            .and_then(|d| get_ne_str(d, "owner_id"))
            .map(str::to_owned)
    })
}
