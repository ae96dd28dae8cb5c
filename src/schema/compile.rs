//! Turns schema JSON into a tree of [`Node`]s once, at load time.
//!
//! Keywords keep the order they have in the file because jesse (KAZOO's
//! validator) applies them in that order, and the order is observable: for
//! example `required` runs after `properties` has inserted defaults, and when
//! two errors land on the same path the later one is the one reported.

use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Value};

use super::pattern;

/// One schema object (a whole file or any subschema inside it).
#[derive(Debug)]
pub(crate) struct Node {
    /// What jesse calls the current schema id: the `id` of the file this node
    /// lives in. `kazoo-validation` checks are keyed by `<id>.<property>`.
    pub schema_id: Arc<str>,
    pub keywords: Vec<Keyword>,
    /// The scalar keyword values KAZOO quotes in error messages
    /// (`minLength`, `enum`, `type`, ...), as written in the schema.
    pub facts: Map<String, Value>,
    pub kazoo_validation: bool,
    pub kazoo_regexp: bool,
}

#[derive(Debug)]
pub(crate) enum Keyword {
    Ref(String),
    Type(TypeRule),
    Properties(Vec<Property>),
    PatternProperties(Vec<(Pattern, Node)>),
    AdditionalProperties(Additional),
    Items(Items),
    Required(Vec<String>),
    Minimum {
        limit: f64,
        exclusive: bool,
    },
    Maximum {
        limit: f64,
        exclusive: bool,
    },
    MinItems(u64),
    MaxItems(u64),
    UniqueItems,
    Pattern(Pattern),
    MinLength(u64),
    MaxLength(u64),
    Enum(Vec<Value>),
    Format(Format),
    MultipleOf(f64),
    MinProperties(u64),
    MaxProperties(u64),
    AllOf(Vec<Node>),
    AnyOf(Vec<Node>),
    OneOf(Vec<Node>),
    /// `not`: jesse's version always fails (see the walker).
    Not,
    /// A keyword whose value jesse cannot use; validating against it reports
    /// KAZOO's "schema is invalid" error (`reason` is jesse's error name).
    Invalid {
        reason: &'static str,
    },
}

#[derive(Debug)]
pub(crate) struct Property {
    pub name: Arc<str>,
    pub schema: Node,
    /// The default to insert when the property is missing. Only kept when
    /// jesse would use it: the property has a `type` and the default is of it.
    pub default: Option<Value>,
}

/// `additionalProperties`, with the names and patterns it is measured against.
#[derive(Debug)]
pub(crate) struct Additional {
    pub rule: Extra,
    pub known: Vec<String>,
    pub patterns: Vec<Pattern>,
}

#[derive(Debug)]
pub(crate) enum Extra {
    Forbidden,
    Schema(Box<Node>),
}

#[derive(Debug)]
pub(crate) enum Items {
    Each(Box<Node>),
    /// Positional items; `extra` is `additionalItems` (`None` when absent or true).
    Tuple {
        items: Vec<Node>,
        extra: Option<Extra>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    Null,
}

#[derive(Debug)]
pub(crate) enum TypeRule {
    Known(Vec<JsonType>),
    /// An unknown type name: jesse reports the schema as invalid.
    Unknown,
}

#[derive(Debug)]
pub(crate) enum Format {
    Email(Regex),
    DateTime,
    Ipv4,
    Ipv6,
}

/// A compiled `pattern` / `patternProperties` key; `regex` is `None` when
/// the PCRE source could not be translated, which fails validation loudly.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub regex: Option<Regex>,
}

impl Pattern {
    pub fn new(source: &str) -> Pattern {
        Pattern {
            regex: pattern::compile(source).ok(),
        }
    }
}

/// Keyword values quoted by KAZOO's error messages.
const FACT_KEYS: [&str; 12] = [
    "type",
    "enum",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
];

/// Compile one schema file; `schema_id` is the name the file is known by.
pub(crate) fn compile_file(schema: &Value, schema_id: &str) -> Node {
    // KAZOO inserts `id` = the schema name only when the file has none.
    let id = schema
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(schema_id);
    compile(schema, &Arc::from(id))
}

fn compile(schema: &Value, schema_id: &Arc<str>) -> Node {
    let mut node = Node {
        schema_id: schema_id.clone(),
        keywords: Vec::new(),
        facts: Map::new(),
        kazoo_validation: false,
        kazoo_regexp: false,
    };
    let Some(obj) = schema.as_object() else {
        node.keywords.push(Keyword::Invalid {
            reason: "schema_invalid",
        });
        return node;
    };
    for key in FACT_KEYS {
        if let Some(value) = obj.get(key) {
            node.facts.insert(key.to_string(), value.clone());
        }
    }
    node.kazoo_validation = is_true(obj.get("kazoo-validation"));
    node.kazoo_regexp = is_true(obj.get("kazoo-regexp"));
    for (key, value) in obj {
        if let Some(keyword) = compile_keyword(key, value, obj, schema_id) {
            node.keywords.push(keyword);
        }
    }
    node
}

/// KAZOO's `kz_json:is_true`: the boolean or the string "true".
fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true))) || value.and_then(Value::as_str) == Some("true")
}

fn compile_keyword(
    key: &str,
    value: &Value,
    schema: &Map<String, Value>,
    id: &Arc<str>,
) -> Option<Keyword> {
    let keyword = match key {
        "$ref" => Keyword::Ref(value.as_str()?.to_string()),
        "type" => Keyword::Type(compile_type(value)),
        "properties" => Keyword::Properties(
            value
                .as_object()?
                .iter()
                .map(|(name, sub)| compile_property(name, sub, id))
                .collect(),
        ),
        "patternProperties" => Keyword::PatternProperties(
            value
                .as_object()?
                .iter()
                .map(|(source, sub)| (Pattern::new(source), compile(sub, id)))
                .collect(),
        ),
        "additionalProperties" => Keyword::AdditionalProperties(Additional {
            rule: compile_extra(value, id)?,
            known: schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| props.keys().cloned().collect())
                .unwrap_or_default(),
            patterns: schema
                .get("patternProperties")
                .and_then(Value::as_object)
                .map(|pps| pps.keys().map(|p| Pattern::new(p)).collect())
                .unwrap_or_default(),
        }),
        "items" => match value {
            Value::Object(_) => Keyword::Items(Items::Each(Box::new(compile(value, id)))),
            Value::Array(list) => Keyword::Items(Items::Tuple {
                items: list.iter().map(|sub| compile(sub, id)).collect(),
                extra: schema
                    .get("additionalItems")
                    .and_then(|extra| compile_extra(extra, id)),
            }),
            _ => Keyword::Invalid {
                reason: "wrong_type_items",
            },
        },
        "required" => match value.as_array() {
            Some(names) if !names.is_empty() => Keyword::Required(
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect(),
            ),
            // jesse (draft 4) insists on a non-empty list.
            _ => Keyword::Invalid {
                reason: "wrong_required_array",
            },
        },
        "minimum" => Keyword::Minimum {
            limit: value.as_f64()?,
            exclusive: schema.get("exclusiveMinimum") == Some(&Value::Bool(true)),
        },
        "maximum" => Keyword::Maximum {
            limit: value.as_f64()?,
            exclusive: schema.get("exclusiveMaximum") == Some(&Value::Bool(true)),
        },
        "minItems" => Keyword::MinItems(value.as_u64()?),
        "maxItems" => Keyword::MaxItems(value.as_u64()?),
        // `uniqueItems: false` means "no constraint".
        "uniqueItems" if value == &Value::Bool(true) => Keyword::UniqueItems,
        "pattern" => Keyword::Pattern(Pattern::new(value.as_str()?)),
        "minLength" => Keyword::MinLength(value.as_u64()?),
        "maxLength" => Keyword::MaxLength(value.as_u64()?),
        "enum" => Keyword::Enum(value.as_array()?.clone()),
        "format" => Keyword::Format(compile_format(value.as_str()?)?),
        "multipleOf" => match value.as_f64() {
            Some(m) if m > 0.0 => Keyword::MultipleOf(m),
            _ => Keyword::Invalid {
                reason: "wrong_multiple_of",
            },
        },
        "minProperties" => Keyword::MinProperties(value.as_u64()?),
        "maxProperties" => Keyword::MaxProperties(value.as_u64()?),
        "allOf" | "anyOf" | "oneOf" => {
            let branches = match value.as_array() {
                Some(list) if !list.is_empty() => list.iter().map(|s| compile(s, id)).collect(),
                _ => {
                    let reason = match key {
                        "allOf" => "wrong_all_of_schema_array",
                        "anyOf" => "wrong_any_of_schema_array",
                        _ => "wrong_one_of_schema_array",
                    };
                    return Some(Keyword::Invalid { reason });
                }
            };
            match key {
                "allOf" => Keyword::AllOf(branches),
                "anyOf" => Keyword::AnyOf(branches),
                _ => Keyword::OneOf(branches),
            }
        }
        "not" => Keyword::Not,
        // Annotations, `default` (handled by the parent's `properties`),
        // KAZOO flags (kept in `Node`) and keywords jesse ignores.
        _ => return None,
    };
    Some(keyword)
}

fn compile_property(name: &str, schema: &Value, id: &Arc<str>) -> Property {
    let default = schema
        .get("default")
        .filter(|default| default_fits_type(default, schema.get("type")))
        .cloned();
    Property {
        name: name.into(),
        schema: compile(schema, id),
        default,
    }
}

/// jesse only inserts a default when the property declares a `type` and the
/// default is of that type (or of one of the listed types).
fn default_fits_type(default: &Value, declared: Option<&Value>) -> bool {
    let names: Vec<&Value> = match declared {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::String(_)) => vec![single],
        _ => return false,
    };
    names
        .into_iter()
        .filter_map(|name| name.as_str().and_then(json_type))
        .any(|t| is_type(default, t))
}

fn compile_extra(value: &Value, id: &Arc<str>) -> Option<Extra> {
    match value {
        Value::Bool(false) => Some(Extra::Forbidden),
        Value::Object(_) => Some(Extra::Schema(Box::new(compile(value, id)))),
        _ => None,
    }
}

fn compile_type(value: &Value) -> TypeRule {
    let names: Vec<&Value> = match value {
        Value::Array(list) if !list.is_empty() => list.iter().collect(),
        Value::String(_) => vec![value],
        _ => return TypeRule::Unknown,
    };
    let known: Option<Vec<JsonType>> = names
        .into_iter()
        .map(|name| name.as_str().and_then(json_type))
        .collect();
    known.map_or(TypeRule::Unknown, TypeRule::Known)
}

fn compile_format(name: &str) -> Option<Format> {
    // jesse checks only these four; `uri`, `hostname`, `regex` ... always pass.
    match name {
        "email" => pattern::compile("^[^@]+@[^@]+$").ok().map(Format::Email),
        "date-time" => Some(Format::DateTime),
        "ipv4" => Some(Format::Ipv4),
        "ipv6" => Some(Format::Ipv6),
        _ => None,
    }
}

fn json_type(name: &str) -> Option<JsonType> {
    Some(match name {
        "string" => JsonType::String,
        "number" => JsonType::Number,
        "integer" => JsonType::Integer,
        "boolean" => JsonType::Boolean,
        "object" => JsonType::Object,
        "array" => JsonType::Array,
        "null" => JsonType::Null,
        _ => return None,
    })
}

/// jesse's type test. Integers are numbers without a fraction or exponent in
/// the JSON text, as in Erlang: `5.0` is a float, not an integer.
pub(crate) fn is_type(value: &Value, t: JsonType) -> bool {
    match t {
        JsonType::String => value.is_string(),
        JsonType::Number => value.is_number(),
        JsonType::Integer => value.is_i64() || value.is_u64(),
        JsonType::Boolean => value.is_boolean(),
        JsonType::Object => value.is_object(),
        JsonType::Array => value.is_array(),
        JsonType::Null => value.is_null(),
    }
}
