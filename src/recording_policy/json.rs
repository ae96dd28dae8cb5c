//! Small JSON helpers that reproduce the `kz_json` / `kz_term` semantics the
//! recording decision relies on.
//!
//! - [`merge_right`] is `kz_json:merge/2` (right wins, recursive, `null` removes
//!   a key, an empty right-hand object replaces the left-hand object).
//! - [`merge_recursive_non_empty`] is `kz_json:merge_recursive/2` with the
//!   `not kz_term:is_empty(V)` predicate used for generic endpoint attributes
//!   such as `metaflows`.
//! - [`is_true`] is `kz_term:is_true/1`: `true` or the string `"true"`.
//! - [`get_integer`] is `kz_json:get_integer_value/2`: numbers, and strings
//!   that parse as numbers, anything else is "absent".
//!
//! Every function here is total: no input JSON makes it panic.

use serde_json::{Map, Value};

/// `kz_term:is_true/1`: the boolean `true` or the string `"true"`.
pub(crate) fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// `kz_term:is_empty/1` for JSON values: `null`, `0`, `0.0`, `""`, `"0"`,
/// `"NULL"`, `"undefined"`, `[]` and `{}` are empty.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(_) => false,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => matches!(s.as_str(), "" | "0" | "NULL" | "undefined"),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The object under `key`, if `value` is an object and the key holds an object
/// (`kz_json:get_json_value/2`).
pub(crate) fn get_obj<'a>(value: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    value.as_object()?.get(key)?.as_object()
}

/// A non-empty string under `key` (`kz_json:get_ne_binary_value/2`).
pub(crate) fn get_ne_str<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    }
}

/// An integer under `key` (`kz_json:get_integer_value/2`): integers, floats
/// (rounded) and numeric strings; anything else is `None`.
pub(crate) fn get_integer(map: &Map<String, Value>, key: &str) -> Option<i64> {
    match map.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| float_to_int(n.as_f64()?)),
        Value::String(s) => s
            .parse::<i64>()
            .ok()
            .or_else(|| float_to_int(s.parse::<f64>().ok()?)),
        _ => None,
    }
}

fn float_to_int(f: f64) -> Option<i64> {
    // `as` saturates on out-of-range floats; non-finite values are rejected.
    f.is_finite().then(|| f.round() as i64)
}

/// The document id: `_id`, else `id`, when it is a non-empty string.
pub(crate) fn doc_id(doc: &Value) -> Option<String> {
    let map = doc.as_object()?;
    get_ne_str(map, "_id")
        .or_else(|| get_ne_str(map, "id"))
        .map(str::to_owned)
}

/// A copy of `map` without `null` values, recursively through objects (what
/// `kz_json:merge/2` does to a value present on one side only).
pub(crate) fn strip_nulls(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in map {
        if let Some(v) = one_side(v) {
            out.insert(k.clone(), v);
        }
    }
    out
}

fn one_side(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(o) => Some(Value::Object(strip_nulls(o))),
        other => Some(other.clone()),
    }
}

fn both_sides(left: &Value, right: &Value) -> Option<Value> {
    match (left, right) {
        (_, Value::Null) => None,
        (Value::Object(_), Value::Object(r)) if r.is_empty() => Some(Value::Object(Map::new())),
        (Value::Object(l), Value::Object(r)) => Some(Value::Object(merge_right(l, r))),
        (_, r) => Some(r.clone()),
    }
}

/// `kz_json:merge(Left, Right)`: deep merge where the right side wins key by
/// key. A `null` on either side removes the key; an empty object on the right
/// replaces an object on the left (non-recursive option of `merge_right/3`).
/// Key order: left keys first, then keys only present on the right.
pub(crate) fn merge_right(
    left: &Map<String, Value>,
    right: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, lv) in left {
        let merged = match right.get(k) {
            None => one_side(lv),
            Some(rv) => both_sides(lv, rv),
        };
        if let Some(v) = merged {
            out.insert(k.clone(), v);
        }
    }
    for (k, rv) in right {
        if !left.contains_key(k) {
            if let Some(v) = one_side(rv) {
                out.insert(k.clone(), v);
            }
        }
    }
    out
}

/// `kz_json:merge_recursive([Acc, Src], fun(_, V) -> not kz_term:is_empty(V) end)`:
/// copies every non-empty leaf of `src` into `acc` (objects are walked, never
/// copied whole), so empty values never override earlier ones. Returns whether
/// anything was written.
pub(crate) fn merge_recursive_non_empty(
    acc: &mut Map<String, Value>,
    src: &Map<String, Value>,
) -> bool {
    let mut written = false;
    for (k, v) in src {
        match v {
            Value::Object(inner) => {
                let mut target = match acc.get(k) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                if merge_recursive_non_empty(&mut target, inner) {
                    acc.insert(k.clone(), Value::Object(target));
                    written = true;
                }
            }
            leaf if !is_empty(leaf) => {
                acc.insert(k.clone(), leaf.clone());
                written = true;
            }
            _ => {}
        }
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn merge_right_semantics() {
        let l = obj(json!({"a": 1, "b": {"x": 1, "y": 2}, "c": {"k": 1}, "d": 4, "n": null}));
        let r =
            obj(json!({"a": 2, "b": {"y": 3, "z": null}, "c": {}, "d": null, "e": {"q": null}}));
        let m = merge_right(&l, &r);
        assert_eq!(
            Value::Object(m),
            json!({"a": 2, "b": {"x": 1, "y": 3}, "c": {}, "e": {}})
        );
    }

    #[test]
    fn non_empty_merge_keeps_earlier_values() {
        let mut acc =
            obj(json!({"binding_digit": "#", "numbers": {"4": {"module": "record_call"}}}));
        let src = obj(
            json!({"binding_digit": "", "numbers": {"5": {"module": "record_call", "data": {}}}, "x": {}}),
        );
        merge_recursive_non_empty(&mut acc, &src);
        assert_eq!(
            Value::Object(acc),
            json!({"binding_digit": "#", "numbers": {"4": {"module": "record_call"}, "5": {"module": "record_call"}}})
        );
    }

    #[test]
    fn integers_and_truthiness() {
        let m =
            obj(json!({"a": 5, "b": 5.6, "c": "7", "d": "x", "e": true, "f": 1e300, "g": "2.4"}));
        assert_eq!(get_integer(&m, "a"), Some(5));
        assert_eq!(get_integer(&m, "b"), Some(6));
        assert_eq!(get_integer(&m, "c"), Some(7));
        assert_eq!(get_integer(&m, "d"), None);
        assert_eq!(get_integer(&m, "e"), None);
        assert_eq!(get_integer(&m, "f"), Some(i64::MAX));
        assert_eq!(get_integer(&m, "g"), Some(2));
        assert!(is_true(Some(&json!("true"))));
        assert!(!is_true(Some(&json!("TRUE"))));
        assert!(!is_true(Some(&json!(1))));
    }
}
