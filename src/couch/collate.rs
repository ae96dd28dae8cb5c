//! CouchDB's view-key order, for merging rows that came from several databases into one
//! page: null < false < true < numbers < strings < arrays (element by element, shorter
//! first) < objects.
//!
//! Strings are compared by code point. CouchDB compares them with ICU's collation, which
//! agrees for the keys merged here (digits, lower-case letters and `-`), but not for
//! every string (ICU puts `a` before `B`); a merge only compares keys from different
//! databases, where equal times are rare.

use serde_json::Value;
use std::cmp::Ordering;

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(false) => 1,
        Value::Bool(true) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

pub fn collate(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| collate(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => {
            for ((kx, vx), (ky, vy)) in x.iter().zip(y) {
                let o = kx.cmp(ky).then_with(|| collate(vx, vy));
                if o.is_ne() {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_then_values() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1),
            json!(2.5),
            json!(10),
            json!(""),
            json!("202610-b"),
            json!("202611-a"),
            json!([]),
            json!([63_900_000_000i64]),
            json!([63_900_000_000i64, "202611-a"]),
            json!([63_900_000_000i64, "202611-b"]),
            json!([63_900_000_000i64, {}]),
            json!([63_900_000_001i64]),
            json!({}),
            json!({"a": 1}),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(collate(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}
