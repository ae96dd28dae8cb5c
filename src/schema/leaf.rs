//! The keywords that look at one value alone (no recursion, no defaults).

use std::collections::HashSet;

use serde_json::Value;

use super::compile::{is_type, Format, Keyword, TypeRule};
use super::failure::Reason;

/// Why `value` fails `keyword`, if it does. `required` and the recursive
/// keywords are handled by the walker.
pub(crate) fn failure(value: &Value, keyword: &Keyword) -> Option<Reason> {
    let (failed, reason) = match keyword {
        Keyword::Type(TypeRule::Known(types)) => {
            (!types.iter().any(|t| is_type(value, *t)), Reason::WrongType)
        }
        Keyword::Type(TypeRule::Unknown) => {
            (true, Reason::SchemaInvalid("wrong_type_specification"))
        }
        Keyword::Minimum { limit, exclusive } => (
            value
                .as_f64()
                .is_some_and(|n| n < *limit || (*exclusive && n <= *limit)),
            Reason::NotInRange,
        ),
        Keyword::Maximum { limit, exclusive } => (
            value
                .as_f64()
                .is_some_and(|n| n > *limit || (*exclusive && n >= *limit)),
            Reason::NotInRange,
        ),
        Keyword::MinItems(min) => (
            array_len(value).is_some_and(|len| len < *min),
            Reason::WrongSize,
        ),
        Keyword::MaxItems(max) => (
            array_len(value).is_some_and(|len| len > *max),
            Reason::WrongSize,
        ),
        Keyword::UniqueItems => (has_repeats(value), Reason::NotUnique),
        Keyword::Pattern(pattern) => match (value, &pattern.regex) {
            (Value::String(s), Some(regex)) => (!regex.is_match(s), Reason::NoMatch),
            (Value::String(_), None) => (true, Reason::SchemaInvalid("invalid_pattern")),
            _ => (false, Reason::NoMatch),
        },
        // Lengths count characters (code points), as jesse does.
        Keyword::MinLength(min) => (
            char_len(value).is_some_and(|len| len < *min),
            Reason::WrongLength,
        ),
        Keyword::MaxLength(max) => (
            char_len(value).is_some_and(|len| len > *max),
            Reason::WrongLength,
        ),
        // serde_json compares numbers like Erlang's =:= (1 and 1.0 differ)
        // and objects regardless of key order, as jesse does.
        Keyword::Enum(allowed) => (!allowed.contains(value), Reason::NotInEnum),
        Keyword::Format(format) => (
            matches!(value, Value::String(s) if !format_ok(format, s)),
            Reason::WrongFormat,
        ),
        Keyword::MultipleOf(step) => (
            value.as_f64().is_some_and(|n| (n / step).fract() != 0.0),
            Reason::Other("not_multiple_of"),
        ),
        Keyword::MinProperties(min) => (
            object_len(value).is_some_and(|len| len < *min),
            Reason::Other("too_few_properties"),
        ),
        Keyword::MaxProperties(max) => (
            object_len(value).is_some_and(|len| len > *max),
            Reason::Other("too_many_properties"),
        ),
        // jesse only treats a *thrown* error as "the schema did not match",
        // which never happens with allowed_errors=infinity, so `not` always
        // fails (and its sub-walk leaves no trace).
        Keyword::Not => (true, Reason::Other("not_schema_valid")),
        Keyword::Invalid { reason } => (true, Reason::SchemaInvalid(reason)),
        _ => return None,
    };
    failed.then_some(reason)
}

/// Whether a list holds two equal items. Items are compared through a
/// canonical text (object keys sorted), so long lists cost linear time.
fn has_repeats(value: &Value) -> bool {
    let Value::Array(list) = value else {
        return false;
    };
    let mut seen = HashSet::with_capacity(list.len());
    list.iter().any(|item| {
        let mut key = String::new();
        canonical(item, &mut key);
        !seen.insert(key)
    })
}

/// JSON text with object keys sorted; numbers keep their own form, so `1`
/// and `1.0` stay different, as they are to Erlang's `=:=`.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(obj) => {
            let mut entries: Vec<_> = obj.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The names in `required` that `value` (an object) lacks.
pub(crate) fn missing<'n>(value: &Value, required: &'n [String]) -> Vec<&'n String> {
    match value {
        Value::Object(obj) => required
            .iter()
            .filter(|name| !obj.contains_key(*name))
            .collect(),
        _ => Vec::new(),
    }
}

fn array_len(value: &Value) -> Option<u64> {
    value.as_array().map(|list| list.len() as u64)
}

fn object_len(value: &Value) -> Option<u64> {
    value.as_object().map(|obj| obj.len() as u64)
}

fn char_len(value: &Value) -> Option<u64> {
    value.as_str().map(|s| s.chars().count() as u64)
}

fn format_ok(format: &Format, s: &str) -> bool {
    match format {
        Format::Email(regex) => regex.is_match(s),
        Format::Ipv4 => s.parse::<std::net::Ipv4Addr>().is_ok(),
        Format::Ipv6 => s.parse::<std::net::Ipv6Addr>().is_ok(),
        Format::DateTime => is_rfc3339(s),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, the shape jesse's rfc3339 accepts.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    let shape = digits(0, 4)
        && digits(5, 7)
        && digits(8, 10)
        && digits(11, 13)
        && digits(14, 16)
        && digits(17, 19)
        && separators.iter().all(|(i, c)| b.get(*i) == Some(c))
        && matches!(b.get(10), Some(b'T' | b't'));
    // The first 19 bytes are ASCII here, so slicing at 19 is safe.
    let Some(mut rest) = shape.then(|| &s[19..]) else {
        return false;
    };
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeats_ignore_key_order_but_not_number_form() {
        assert!(has_repeats(&json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}])));
        assert!(!has_repeats(&json!([1, 1.0])));
        assert!(has_repeats(&json!(["x", "y", "x"])));
        assert!(!has_repeats(&json!(["x", "y", ["x"]])));
    }

    #[test]
    fn date_times() {
        assert!(is_rfc3339("2024-03-01T12:00:00Z"));
        assert!(is_rfc3339("2024-03-01T12:00:00.123+01:00"));
        assert!(!is_rfc3339("2024-03-01 12:00:00Z"));
        assert!(!is_rfc3339("2024-03-01T12:00:00"));
        assert!(!is_rfc3339("2024-03-01T12:00:00.Z"));
        assert!(!is_rfc3339("é"));
    }
}
