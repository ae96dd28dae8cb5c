//! JSON helpers with KAZOO's semantics: deep merge (PATCH), private keys, public fields.

use serde_json::{Map, Value};

/// Top-level keys starting with `_` or `pvt_` are private (`kz_doc:is_private_key`).
pub fn is_private_key(k: &str) -> bool {
    k.starts_with('_') || k.starts_with("pvt_")
}

/// The doc as crossbar shows it: private keys removed, `id` = `_id`, `_read_only` kept.
pub fn public_fields(doc: &Value) -> Value {
    let mut out = Map::new();
    if let Some(obj) = doc.as_object() {
        for (k, v) in obj {
            if !is_private_key(k) || k == "_read_only" {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(id) = obj.get("_id") {
            out.insert("id".into(), id.clone());
        }
    }
    Value::Object(out)
}

/// [`public_fields`] without copying: the document is consumed.
pub fn into_public_fields(doc: Value) -> Value {
    let Value::Object(obj) = doc else {
        return Value::Object(Map::new());
    };
    let id = obj.get("_id").cloned();
    let mut out: Map<String, Value> = obj
        .into_iter()
        .filter(|(k, _)| !is_private_key(k) || k == "_read_only")
        .collect();
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    Value::Object(out)
}

/// Private keys of `doc` only.
pub fn private_fields(doc: &Value) -> Map<String, Value> {
    doc.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| is_private_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Remove private top-level keys and `id` (client input can never set them).
pub fn strip_private(data: &mut Value) {
    if let Some(obj) = data.as_object_mut() {
        obj.retain(|k, _| !is_private_key(k) && k != "id");
    }
}

/// PATCH semantics (`crossbar_doc:patch_the_doc`): objects merge recursively, arrays and
/// scalars are replaced, `null` deletes the key. An empty object replaces the stored one.
pub fn patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match v {
                    Value::Null => {
                        t.remove(k);
                    }
                    Value::Object(po) if !po.is_empty() => {
                        let entry = t
                            .entry(k.clone())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if !entry.is_object() {
                            *entry = Value::Object(Map::new());
                        }
                        patch_inner(entry, v);
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn patch_inner(target: &mut Value, p: &Value) {
    patch(target, p)
}

/// `kz_json:merge/2`-style recursive merge where `right` wins key by key.
pub fn deep_merge(left: &Value, right: &Value) -> Value {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            let mut out = l.clone();
            for (k, rv) in r {
                let merged = match out.get(k) {
                    Some(lv) => deep_merge(lv, rv),
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, r) => r.clone(),
    }
}

/// Get a value by dot path (`a.b.c`).
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(o) => o.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A JSON nesting depth guard: bodies nested deeper than this are refused before any
/// recursive processing (serde_json itself stops at 128).
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_merges_and_deletes() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1, "f": {"x": 1}});
        patch(
            &mut doc,
            &json!({"a": {"b": null, "z": 3}, "d": [3], "e": null, "f": {}}),
        );
        assert_eq!(doc, json!({"a": {"c": 2, "z": 3}, "d": [3], "f": {}}));
    }

    #[test]
    fn public_fields_hide_private() {
        let doc = json!({"_id": "x", "_rev": "1", "pvt_type": "user", "name": "n", "_read_only": {"a": 1}});
        assert_eq!(
            public_fields(&doc),
            json!({"name": "n", "_read_only": {"a": 1}, "id": "x"})
        );
    }

    #[test]
    fn deep_merge_right_wins() {
        assert_eq!(
            deep_merge(&json!({"a": {"b": 1, "c": 1}}), &json!({"a": {"b": 2}})),
            json!({"a": {"b": 2, "c": 1}})
        );
    }
}
