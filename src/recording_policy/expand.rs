//! Settings resolution: `any` expansion, the legacy `record_call` attribute,
//! and the account.endpoint → user → device merge, with provenance.
//!
//! Mirrors `kz_endpoint:merge_call_recording/1`,
//! `get_legacy_record_call_properties/1` and
//! `merge_attribute(<<"call_recording">>, …)` (identical on master
//! `kz_endpoint_v5` and 4.3 `kz_endpoint`), with 4.3's `endpoint_recording/2`
//! rule that a user/device `call_recording: {}` contributes nothing.
//!
//! Provenance: each layer remembers which cells carry an `enabled` key and
//! how to label it. Only when a cell turns out enabled is the deciding layer
//! (the last one whose cell has `enabled`) expanded a second time with every
//! `enabled` replaced by a label naming the document and key; expansion only
//! looks at the *shape* of the JSON, so the label lands in the same cell.

use serde_json::{Map, Value};

use super::json::{doc_id, get_obj, is_empty, is_true, merge_right};

/// Directions, in output order.
pub(crate) const DIRECTIONS: [&str; 2] = ["inbound", "outbound"];
/// Networks, in output order.
pub(crate) const NETWORKS: [&str; 2] = ["onnet", "offnet"];

/// How to name the source of a layer's `enabled` values.
#[derive(Debug, Clone)]
enum Tag<'a> {
    /// A `call_recording` object: label each `enabled` by its path.
    Path {
        raw: &'a Map<String, Value>,
        label: String,
        path: String,
    },
    /// The legacy `record_call` attribute: one label for every cell.
    Fixed(String),
}

/// One settings layer after expansion.
#[derive(Debug, Clone)]
pub(crate) struct Layer<'a> {
    values: Map<String, Value>,
    provenance: Provenance<'a>,
}

/// Which cells of a layer carry a non-null `enabled`, and how to label them.
#[derive(Debug, Clone)]
struct Provenance<'a> {
    has_enabled: [[bool; 2]; 2],
    tag: Tag<'a>,
}

/// Merged settings, with the provenance of every layer that went in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved<'a> {
    /// The expanded (and merged) settings, as KAZOO would hold them.
    pub values: Map<String, Value>,
    provenance: Vec<Provenance<'a>>,
}

/// An enabled (direction, network) cell: its parameters and who enabled it.
#[derive(Debug, Clone)]
pub(crate) struct EnabledCell {
    pub params: Map<String, Value>,
    pub source: String,
}

fn cell<'m>(
    values: &'m Map<String, Value>,
    direction: &str,
    network: &str,
) -> Option<&'m Map<String, Value>> {
    values
        .get(direction)?
        .as_object()?
        .get(network)?
        .as_object()
}

impl<'a> Layer<'a> {
    fn new(values: Map<String, Value>, tag: Tag<'a>) -> Self {
        let mut has_enabled = [[false; 2]; 2];
        for (d, direction) in DIRECTIONS.iter().enumerate() {
            for (n, network) in NETWORKS.iter().enumerate() {
                has_enabled[d][n] = cell(&values, direction, network)
                    .and_then(|c| c.get("enabled"))
                    .is_some_and(|v| !v.is_null());
            }
        }
        Layer {
            values,
            provenance: Provenance { has_enabled, tag },
        }
    }

    /// This layer alone, as a [`Resolved`].
    pub(crate) fn resolved(&self) -> Resolved<'a> {
        Resolved::default().merged_with(self)
    }
}

impl<'a> Resolved<'a> {
    /// Right-wins merge of `layer` over `self` (`kz_json:merge/2`).
    fn merged_with(mut self, layer: &Layer<'a>) -> Resolved<'a> {
        self.values = merge_right(&self.values, &layer.values);
        self.provenance.push(layer.provenance.clone());
        self
    }

    /// The cell `direction.network` when its `enabled` is true.
    pub(crate) fn enabled_cell(&self, direction: &str, network: &str) -> Option<EnabledCell> {
        let params = cell(&self.values, direction, network)?;
        if !is_true(params.get("enabled")) {
            return None;
        }
        let d = DIRECTIONS.iter().position(|x| *x == direction)?;
        let n = NETWORKS.iter().position(|x| *x == network)?;
        let source = self
            .provenance
            .iter()
            .rev()
            .find(|p| p.has_enabled[d][n])
            .map(|p| label_of(&p.tag, direction, network))
            .unwrap_or_else(|| "unknown source".to_owned());
        Some(EnabledCell {
            params: params.clone(),
            source,
        })
    }
}

fn label_of(tag: &Tag<'_>, direction: &str, network: &str) -> String {
    match tag {
        Tag::Fixed(label) => label.clone(),
        Tag::Path { raw, label, path } => {
            let tagged = expand_map(&tag_enabled(raw, label, path));
            cell(&tagged, direction, network)
                .and_then(|c| c.get("enabled"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{label} {path}"))
        }
    }
}

/// `any` expansion of one settings object (`kz_endpoint:merge_call_recording/1`).
///
/// 1. `inbound`/`outbound` := `any` deep-merged under the direction's own keys
///    (or `any` alone, or `{}`); `any` is dropped.
/// 2. In every object-valued direction, `onnet`/`offnet` := the direction's
///    `any` (default `{"enabled": false}`) deep-merged under the network's
///    own keys; `any` is dropped.
///
/// A non-object input is treated as `{}` (all four cells disabled).
pub fn expand(settings: &Value) -> Value {
    let empty = Map::new();
    Value::Object(expand_map(settings.as_object().unwrap_or(&empty)))
}

pub(crate) fn expand_map(settings: &Map<String, Value>) -> Map<String, Value> {
    let any_direction = match settings.get("any") {
        Some(Value::Object(any)) => any.clone(),
        _ => Map::new(),
    };
    let mut out = Map::new();
    for direction in DIRECTIONS {
        let merged = match settings.get(direction) {
            Some(Value::Object(own)) => merge_right(&any_direction, own),
            _ => any_direction.clone(),
        };
        out.insert(direction.to_owned(), Value::Object(merged));
    }
    for (key, value) in settings {
        if key != "any" && !DIRECTIONS.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    // KAZOO folds the network expansion over every key of the result; keys
    // whose value is not an object would crash it, so they are left alone.
    for value in out.values_mut() {
        if let Value::Object(networks) = value {
            let expanded = expand_networks(networks);
            *networks = expanded;
        }
    }
    out
}

fn expand_networks(networks: &Map<String, Value>) -> Map<String, Value> {
    let any_network = match networks.get("any") {
        Some(Value::Object(any)) => any.clone(),
        _ => {
            let mut default = Map::new();
            default.insert("enabled".to_owned(), Value::Bool(false));
            default
        }
    };
    let mut out = Map::new();
    for network in NETWORKS {
        let merged = match networks.get(network) {
            Some(Value::Object(own)) => merge_right(&any_network, own),
            _ => any_network.clone(),
        };
        out.insert(network.to_owned(), Value::Object(merged));
    }
    for (key, value) in networks {
        if key != "any" && !NETWORKS.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Replaces every non-null `enabled` value with `"<label> <path>"`, where
/// `path` is the dotted path of the object holding it.
fn tag_enabled(map: &Map<String, Value>, label: &str, path: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let tagged = match value {
            Value::Null => Value::Null,
            _ if key == "enabled" => Value::String(format!("{label} {path}")),
            Value::Object(inner) => {
                Value::Object(tag_enabled(inner, label, &format!("{path}.{key}")))
            }
            other => other.clone(),
        };
        out.insert(key.clone(), tagged);
    }
    out
}

/// "device 3f…" / "user …" / "account …": how a document is named in sources.
pub(crate) fn doc_label(kind: &str, doc: &Value) -> String {
    match doc_id(doc) {
        Some(id) => format!("{kind} {id}"),
        None => kind.to_owned(),
    }
}

/// The expanded `call_recording.<part>` of the account doc (`part` is
/// `account` or `endpoint`), or `None` when it is absent or not an object.
pub(crate) fn account_part<'a>(account: &'a Value, part: &str) -> Option<Layer<'a>> {
    let raw = get_obj(account, "call_recording")?.get(part)?.as_object()?;
    let tag = Tag::Path {
        raw,
        label: doc_label("account", account),
        path: format!("call_recording.{part}"),
    };
    Some(Layer::new(expand_map(raw), tag))
}

/// The expanded endpoint settings of one user or device doc:
/// - `call_recording` object, non-empty → expanded;
/// - `call_recording: {}` → nothing (4.3 `endpoint_recording/2`, KZOO-53);
/// - `call_recording` absent (or not an object) → legacy `record_call`.
pub(crate) fn endpoint_layer<'a>(doc: &'a Value, kind: &str) -> Option<Layer<'a>> {
    let label = doc_label(kind, doc);
    match doc.get("call_recording") {
        Some(Value::Object(raw)) if raw.is_empty() => None,
        Some(Value::Object(raw)) => {
            let tag = Tag::Path {
                raw,
                label,
                path: "call_recording".to_owned(),
            };
            Some(Layer::new(expand_map(raw), tag))
        }
        _ => legacy_layer(doc, label),
    }
}

/// `get_legacy_record_call_properties/1`: `record_call: true` (or `"true"`),
/// or a non-empty object containing `"record_call": true`, enables all four
/// cells with the object's keys as parameters.
fn legacy_layer(doc: &Value, label: String) -> Option<Layer<'static>> {
    let mut props = match doc.get("record_call") {
        Some(Value::Object(obj)) if !obj.is_empty() => obj.clone(),
        Some(v) if !is_empty(v) && is_true(Some(v)) => {
            let mut m = Map::new();
            m.insert("action".to_owned(), Value::String("start".to_owned()));
            m.insert("record_call".to_owned(), Value::Bool(true));
            m
        }
        _ => return None,
    };
    if !is_true(props.get("record_call")) {
        return None;
    }
    props.insert("enabled".to_owned(), Value::Bool(true));
    let mut networks = Map::new();
    for network in NETWORKS {
        networks.insert(network.to_owned(), Value::Object(props.clone()));
    }
    let mut all_cells = Map::new();
    for direction in DIRECTIONS {
        all_cells.insert(direction.to_owned(), Value::Object(networks.clone()));
    }
    Some(Layer::new(
        expand_map(&all_cells),
        Tag::Fixed(format!("{label} record_call")),
    ))
}

/// account.endpoint → user → device, right wins (`kz_json:merge/1`), with the
/// account's endpoint layer computed once by the caller.
pub(crate) fn effective_with<'a>(
    account_endpoint: Option<&Layer<'a>>,
    user: Option<&'a Value>,
    device: Option<&'a Value>,
) -> Resolved<'a> {
    let mut resolved = Resolved::default();
    if let Some(layer) = account_endpoint {
        resolved = resolved.merged_with(layer);
    }
    for layer in [
        user.and_then(|u| endpoint_layer(u, "user")),
        device.and_then(|d| endpoint_layer(d, "device")),
    ]
    .iter()
    .flatten()
    {
        resolved = resolved.merged_with(layer);
    }
    resolved
}
