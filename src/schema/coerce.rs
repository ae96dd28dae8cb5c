//! JavaScript type fixing (`kz_json_schema:fix_js_types/2`).
//!
//! Browser clients such as Monster UI send numbers and booleans from form
//! fields as strings (`"time_limit": "3600"`). With crossbar's default
//! (`schema_strict_validation: false`) every `type` failure on a property
//! declared as exactly `integer`, `number` or `boolean` is converted with
//! Erlang's `kz_term` rules and the document validated again.

use serde_json::{Number, Value};

use super::failure::{Failure, PathItem, Reason};

/// Convert the values behind fixable `type` failures in `doc` (the document
/// as the client sent it). Returns true when at least one value changed.
pub(crate) fn fix_js_types(doc: &mut Value, failures: &[Failure<'_>]) -> bool {
    let mut fixed = false;
    for failure in failures {
        if !matches!(failure.reason, Reason::WrongType) {
            continue;
        }
        let converted = match failure.node.facts.get("type").and_then(Value::as_str) {
            Some("integer") => to_integer(&failure.value),
            Some("number") => to_number(&failure.value),
            Some("boolean") => to_boolean(&failure.value),
            _ => None,
        };
        if let Some(value) = converted {
            fixed |= set_creating(doc, &failure.path, value);
        }
    }
    fixed
}

/// `kz_term:to_integer/1`: integers as-is, floats rounded, text parsed as an
/// integer or else as a float and rounded.
fn to_integer(value: &Value) -> Option<Value> {
    if value.is_i64() || value.is_u64() {
        return Some(value.clone());
    }
    if let Some(f) = value.as_f64() {
        return round(f);
    }
    let text = erlang_text(value)?;
    match parse_integer(&text) {
        Some(n) => Some(n),
        None => round(parse_float(&text)?),
    }
}

/// `kz_term:to_number/1`: numbers as-is, text as an integer or a float.
fn to_number(value: &Value) -> Option<Value> {
    if value.is_number() {
        return Some(value.clone());
    }
    let text = erlang_text(value)?;
    parse_integer(&text).or_else(|| Number::from_f64(parse_float(&text)?).map(Value::Number))
}

/// `kz_term:to_boolean/1`: only the words `true` and `false`.
fn to_boolean(value: &Value) -> Option<Value> {
    if value.is_boolean() {
        return Some(value.clone());
    }
    match erlang_text(value)?.as_str() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

/// The text `kz_term` would parse: a string, or (as Erlang sees a list of
/// integers as a string) an array of character codes.
fn erlang_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(codes) => codes
            .iter()
            .map(|code| {
                code.as_u64()
                    .and_then(|c| char::from_u32(u32::try_from(c).ok()?))
            })
            .collect(),
        _ => None,
    }
}

/// Erlang's `binary_to_integer/1`: an optional sign and decimal digits.
fn parse_integer(text: &str) -> Option<Value> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    text.parse::<i64>()
        .map(Value::from)
        .or_else(|_| text.parse::<u64>().map(Value::from))
        .ok()
}

/// Erlang's `binary_to_float/1`: digits, a point, digits, optional exponent
/// (`1.5`, `-2.0e3`); `1`, `1.` and `.5` are not floats to Erlang.
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, rest) = unsigned.split_once('.')?;
    let (frac, exp) = match rest.split_once(['e', 'E']) {
        Some((frac, exp)) => (frac, Some(exp)),
        None => (rest, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(all_digits(int) && all_digits(frac) && exp_ok) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Erlang's `round/1` (half away from zero), kept only if it fits JSON integers.
fn round(f: f64) -> Option<Value> {
    let r = f.round();
    if r >= -(2f64.powi(63)) && r < 2f64.powi(63) {
        Some(Value::from(r as i64))
    } else {
        None
    }
}

/// `kz_json:set_value/3`: replace the value at `path`, creating missing
/// objects on the way. Returns false when the path runs through a scalar.
fn set_creating(doc: &mut Value, path: &[PathItem], value: Value) -> bool {
    let Some((last, parents)) = path.split_last() else {
        *doc = value;
        return true;
    };
    let mut node = doc;
    for item in parents {
        node = match (node, item) {
            (Value::Object(obj), PathItem::Key(key)) => obj
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Default::default())),
            (Value::Array(list), PathItem::Index(i)) if *i < list.len() => &mut list[*i],
            _ => return false,
        };
    }
    match (node, last) {
        (Value::Object(obj), PathItem::Key(key)) => {
            obj.insert(key.to_string(), value);
            true
        }
        (Value::Array(list), PathItem::Index(i)) if *i < list.len() => {
            list[*i] = value;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_follow_kz_term() {
        assert_eq!(to_integer(&json!("3600")), Some(json!(3600)));
        assert_eq!(to_integer(&json!("-5")), Some(json!(-5)));
        assert_eq!(to_integer(&json!("+7")), Some(json!(7)));
        assert_eq!(to_integer(&json!("2.5")), Some(json!(3)));
        assert_eq!(to_integer(&json!(4.4)), Some(json!(4)));
        assert_eq!(to_integer(&json!([52, 50])), Some(json!(42)));
        for bad in [
            json!("1e3"),
            json!(" 5"),
            json!("5."),
            json!(""),
            json!(true),
            json!(null),
        ] {
            assert_eq!(to_integer(&bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_and_booleans_follow_kz_term() {
        assert_eq!(to_number(&json!("12")), Some(json!(12)));
        assert_eq!(to_number(&json!("1.25")), Some(json!(1.25)));
        assert_eq!(to_number(&json!("abc")), None);
        assert_eq!(to_boolean(&json!("true")), Some(json!(true)));
        assert_eq!(to_boolean(&json!("false")), Some(json!(false)));
        assert_eq!(to_boolean(&json!("TRUE")), None);
        assert_eq!(to_boolean(&json!(1)), None);
    }

    #[test]
    fn set_creating_builds_missing_objects() {
        let mut doc = json!({"a": [{"b": "1"}]});
        let path = [
            PathItem::Key("a".into()),
            PathItem::Index(0),
            PathItem::Key("b".into()),
        ];
        assert!(set_creating(&mut doc, &path, json!(1)));
        assert_eq!(doc, json!({"a": [{"b": 1}]}));
        assert!(set_creating(
            &mut doc,
            &[PathItem::Key("x".into()), PathItem::Key("y".into())],
            json!(2)
        ));
        assert_eq!(doc["x"], json!({"y": 2}));
        assert!(!set_creating(&mut doc, &[PathItem::Index(3)], json!(2)));
    }
}
