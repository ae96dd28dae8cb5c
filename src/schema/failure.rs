//! Validation failures, and their conversion to KAZOO's error object.
//!
//! A [`Failure`] is what jesse records (`{data_invalid, Schema, Reason, Value,
//! Path}`); [`error_data`] renders a list of them the way
//! `kz_json_schema:error_to_jobj/2` and `cb_context:failed/2` do:
//! `{"<dotted.path>": {"<validator>": {"message": ..., ...}}}`. Paths are
//! merged with a top-level set, so when one path fails several times only the
//! last failure is reported, in the position of the first.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::compile::Node;

/// One step of a path into the document: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathItem {
    /// Shared, so that pushing a schema property name costs no allocation.
    Key(Arc<str>),
    Index(usize),
}

#[derive(Debug, Clone)]
pub(crate) enum Reason {
    WrongType,
    NotInEnum,
    WrongLength,
    NotInRange,
    WrongSize,
    NotUnique,
    NoExtraProperties,
    NoExtraItems,
    NoMatch,
    /// The missing property's name is the failure's `value`.
    MissingRequired,
    WrongFormat,
    /// `kazoo-validation` / `kazoo-regexp` failures: the validator key is `error`.
    External(String),
    /// Reported as `{"<name>": {"message": "failed to validate"}}`, e.g.
    /// `not_one_schema_valid`, `any_schemas_not_valid`.
    Other(&'static str),
    /// A `$ref` (or callflow / metaflow module) naming no loaded schema.
    SchemaNotFound(String),
    /// A schema keyword jesse cannot use (jesse's error name).
    SchemaInvalid(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) struct Failure<'s> {
    pub path: Vec<PathItem>,
    pub reason: Reason,
    pub value: Value,
    /// The schema node being checked; messages quote its keyword values.
    pub node: &'s Node,
}

/// Render failures as the `data` of KAZOO's 400 "validation error" envelope.
pub(crate) fn error_data(failures: &[Failure<'_>]) -> Map<String, Value> {
    let mut data = Map::new();
    for failure in failures {
        let (path, validator, body) = render(failure);
        let mut entry = Map::new();
        entry.insert(validator, Value::Object(body));
        // `insert` keeps an existing key's position and replaces its value,
        // exactly like kz_json:set_value/3 in cb_context:failed/2.
        data.insert(dotted(&path), Value::Object(entry));
    }
    data
}

/// The error for a schema name that is not loaded at all.
pub(crate) fn schema_not_found(name: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert(
        "schema".to_string(),
        json!({"schema": {"message": "schema not found", "schema": name}}),
    );
    data
}

/// Path elements joined with `.`; dots inside keys are escaped as `%2E`.
pub(crate) fn dotted(path: &[PathItem]) -> String {
    path.iter()
        .map(|item| match item {
            PathItem::Key(key) => key.replace('.', "%2E"),
            PathItem::Index(index) => index.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn render(failure: &Failure<'_>) -> (Vec<PathItem>, String, Map<String, Value>) {
    let facts = &failure.node.facts;
    let value = failure.value.clone();
    let mut path = failure.path.clone();
    let (validator, body): (&str, Vec<(&str, Option<Value>)>) = match &failure.reason {
        Reason::WrongType => {
            let types = type_names(facts.get("type"));
            (
                "type",
                vec![
                    ("message", text(format!("Value did not match type(s): {types}"))),
                    ("target", text(types)),
                    ("value", Some(value)),
                ],
            )
        }
        Reason::NotInEnum => (
            "enum",
            vec![
                ("message", text("Value not found in enumerated list of values")),
                ("target", Some(facts.get("enum").cloned().unwrap_or(json!([])))),
                ("value", Some(value)),
            ],
        ),
        Reason::WrongLength => length_error(facts, value),
        Reason::NotInRange => range_error(facts, value),
        Reason::WrongSize => size_error(facts, value),
        Reason::NotUnique => (
            "uniqueItems",
            vec![
                ("message", text("List of items is not unique")),
                ("value", Some(value)),
            ],
        ),
        Reason::NoExtraProperties => (
            "additionalProperties",
            vec![
                (
                    "message",
                    text("Strict checking of data is enabled; only include schema-defined properties"),
                ),
                ("value", Some(value)),
            ],
        ),
        Reason::NoExtraItems => (
            "additionalItems",
            vec![
                (
                    "message",
                    text("Strict checking of data is enabled; only include schema-defined items"),
                ),
                ("value", Some(value)),
            ],
        ),
        Reason::NoMatch => {
            let pattern = facts.get("pattern").and_then(Value::as_str).unwrap_or("");
            (
                "pattern",
                vec![
                    ("message", text(format!("Failed to match pattern '{pattern}'"))),
                    ("target", text(pattern)),
                    ("value", Some(value)),
                ],
            )
        }
        Reason::MissingRequired => {
            // Keyed by the missing property's own path.
            path.push(PathItem::Key(value.as_str().unwrap_or("").into()));
            (
                "required",
                vec![
                    ("message", text("Field is required but missing")),
                    ("value", Some(value)),
                ],
            )
        }
        Reason::WrongFormat => (
            "wrong_format",
            vec![
                ("message", text("Field is not in the correct format")),
                ("value", Some(value)),
                ("format", facts.get("format").cloned()),
            ],
        ),
        Reason::External(message) => (
            "error",
            vec![("message", text(message.as_str())), ("value", Some(value))],
        ),
        Reason::Other(name) => (
            name,
            vec![("message", text("failed to validate")), ("value", Some(value))],
        ),
        Reason::SchemaNotFound(name) => {
            path = vec![PathItem::Key("schema".into())];
            (
                "schema",
                vec![
                    ("message", text("schema not found")),
                    ("schema", text(name.as_str())),
                ],
            )
        }
        Reason::SchemaInvalid(name) => {
            path = vec![PathItem::Key("schema".into())];
            (
                "schema",
                vec![("message", text("schema is invalid")), ("schema", text(*name))],
            )
        }
    };
    // kz_json:from_list/1 drops undefined values (e.g. a missing `target`).
    let body = body
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key.to_string(), v)))
        .collect();
    (path, validator.to_string(), body)
}

fn text(s: impl Into<String>) -> Option<Value> {
    Some(Value::String(s.into()))
}

type Rendered = (&'static str, Vec<(&'static str, Option<Value>)>);

/// jesse reports both string bounds as `wrong_length`; KAZOO tells them apart
/// by comparing `minLength` with the value's size in *bytes* (so a short
/// multi-byte string can be reported against `maxLength`).
fn length_error(facts: &Map<String, Value>, value: Value) -> Rendered {
    let bytes = value.as_str().map_or(0, str::len) as f64;
    let too_short = matches!(erlang_integer(facts.get("minLength")), Some(min) if min > bytes);
    let (key, message) = if too_short {
        ("minLength", "String must be at least")
    } else {
        ("maxLength", "String must not be more than")
    };
    let target = facts.get(key).cloned();
    (
        key,
        vec![
            (
                "message",
                text(format!(
                    "{message} {} characters",
                    erlang_text(target.as_ref())
                )),
            ),
            ("target", target),
            ("cause", Some(value.clone())),
            ("value", Some(value)),
        ],
    )
}

/// `not_in_range` becomes `minimum` when the (integer-rounded) minimum is
/// above the value, otherwise `maximum`.
fn range_error(facts: &Map<String, Value>, value: Value) -> Rendered {
    let number = value.as_f64().unwrap_or(0.0);
    let below = matches!(erlang_integer(facts.get("minimum")), Some(min) if min > number);
    let (key, exclusive, message) = if below {
        ("minimum", "exclusiveMinimum", "Value must be at least")
    } else {
        ("maximum", "exclusiveMaximum", "Value must be at most")
    };
    let target = facts.get(key).or_else(|| facts.get(exclusive)).cloned();
    (
        key,
        vec![
            (
                "message",
                text(format!("{message} {}", erlang_text(target.as_ref()))),
            ),
            ("target", target),
            ("value", Some(value)),
        ],
    )
}

/// `wrong_size` becomes `minItems` unless the list is at least `minItems`
/// long. In Erlang a number is smaller than the atom `undefined`, so a
/// schema without `minItems` always reports `minItems`.
fn size_error(facts: &Map<String, Value>, value: Value) -> Rendered {
    let len = value.as_array().map_or(0, Vec::len) as f64;
    let too_short = match facts.get("minItems").and_then(Value::as_f64) {
        Some(min) => len < min,
        None => true,
    };
    let (key, message, suffix) = if too_short {
        ("minItems", "The list must have at least", " items")
    } else {
        ("maxItems", "The list is more than", " items")
    };
    let target = facts.get(key).cloned();
    (
        key,
        vec![
            (
                "message",
                text(format!(
                    "{message} {}{suffix}",
                    erlang_text(target.as_ref())
                )),
            ),
            ("target", target),
            ("value", Some(value)),
        ],
    )
}

/// `kz_json:get_integer_value/2`: floats are rounded, other types ignored.
fn erlang_integer(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64).map(f64::round)
}

/// `kz_term:to_binary/1` of a schema value, as spliced into messages.
pub(crate) fn erlang_text(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_f64() => float_text(n.as_f64().unwrap_or(0.0)),
        Some(other) => other.to_string(),
    }
}

/// Erlang prints floats in their shortest round-trip form, always with a
/// fraction: `1.0`, `-14.0`, `0.5`, `1.0e21`.
fn float_text(f: f64) -> String {
    let debug = format!("{f:?}");
    match debug.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => debug,
    }
}

fn type_names(declared: Option<&Value>) -> String {
    match declared {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Array(names)) => names
            .iter()
            .map(|name| erlang_text(Some(name)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "type schema".to_string(),
    }
}
