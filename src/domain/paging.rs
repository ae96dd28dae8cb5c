//! Crossbar paging and filters (`crossbar_view.erl`, `crossbar_filter.erl`).
//!
//! `next_start_key` is encoded exactly as KAZOO encodes it, base64url (no padding) of the
//! Erlang external term format of the view key, so a client can carry a key between a KAZOO
//! and this service, and recorded fixtures compare byte for byte.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Number, Value};

pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Why paging parameters were refused (KAZOO answers 404 `faulty_request`).
#[derive(Debug, PartialEq)]
pub enum PagingError {
    InvalidPageSize,
    PageSizeTooSmall,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageParams {
    /// None with `paginate=false`.
    pub page_size: Option<usize>,
    pub descending: bool,
    pub start_key: Option<Value>,
    pub end_key: Option<Value>,
}

pub fn query_get<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("true") | Some("TRUE") | Some("True"))
}

impl PageParams {
    pub fn from_query(query: &[(String, String)]) -> Result<PageParams, PagingError> {
        let paginate = !matches!(query_get(query, "paginate"), Some("false"));
        let page_size = if !paginate {
            None
        } else {
            match query_get(query, "page_size") {
                None => Some(DEFAULT_PAGE_SIZE),
                Some(raw) => match raw.trim().parse::<i64>() {
                    Ok(n) if n >= 1 => Some(n.min(100_000) as usize),
                    Ok(_) => return Err(PagingError::PageSizeTooSmall),
                    Err(_) => return Err(PagingError::InvalidPageSize),
                },
            }
        };
        // Only `ascending=true` flips the order; `descending=false` alone does nothing in KAZOO.
        let descending = !is_true(query_get(query, "ascending"));
        Ok(PageParams {
            page_size,
            descending,
            start_key: query_get(query, "start_key").map(decode_start_key),
            end_key: query_get(query, "end_key").map(decode_start_key),
        })
    }
}

/// Encode a view key as KAZOO does (`api_util:encode_start_key`).
pub fn encode_start_key(key: &Value) -> String {
    let mut out = vec![131u8];
    etf_encode(key, &mut out);
    URL_SAFE_NO_PAD.encode(out)
}

/// Decode a client's start key; anything undecodable is used raw, as KAZOO does.
pub fn decode_start_key(raw: &str) -> Value {
    URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .ok()
        .and_then(|bytes| super::etf::decode(&bytes).ok())
        .and_then(|term| view_key(&term, 0))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

fn etf_encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => atom("null", out),
        Value::Bool(b) => atom(if *b { "true" } else { "false" }, out),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if (0..=255).contains(&i) {
                    out.extend([97, i as u8]);
                } else if i32::try_from(i).is_ok() {
                    out.push(98);
                    out.extend((i as i32).to_be_bytes());
                } else {
                    // SMALL_BIG_EXT: minimal little-endian magnitude (gregorian seconds land here).
                    let mut digits = i.unsigned_abs().to_le_bytes().to_vec();
                    while digits.len() > 1 && digits.last() == Some(&0) {
                        digits.pop();
                    }
                    out.extend([110, digits.len() as u8, u8::from(i < 0)]);
                    out.extend(digits);
                }
            } else {
                out.push(70);
                out.extend(n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => {
            out.push(109);
            out.extend((s.len() as u32).to_be_bytes());
            out.extend(s.as_bytes());
        }
        Value::Array(items) => {
            if !items.is_empty() {
                out.push(108);
                out.extend((items.len() as u32).to_be_bytes());
                for i in items {
                    etf_encode(i, out);
                }
            }
            out.push(106);
        }
        // `{}` is the highest-sorting key in CouchDB; KAZOO represents it as the tuple `{[]}`.
        Value::Object(o) => {
            out.extend([104, 1]);
            if o.is_empty() {
                out.push(106);
            } else {
                out.push(108);
                out.extend((o.len() as u32).to_be_bytes());
                for (k, v) in o {
                    out.extend([104, 2]);
                    etf_encode(&Value::String(k.clone()), out);
                    etf_encode(v, out);
                }
                out.push(106);
            }
        }
    }
}

fn atom(name: &str, out: &mut Vec<u8>) {
    out.extend([119, name.len() as u8]);
    out.extend(name.as_bytes());
}

/// A decoded term as a CouchDB view key, the way KAZOO's JSON sees it: charlists stay lists
/// of integers, `{[]}` is `{}` (the highest key), and nothing else that JSON has no
/// counterpart for (other tuples, maps, improper lists) is a key.
fn view_key(t: &super::etf::Term, depth: usize) -> Option<Value> {
    use super::etf::Term;
    if depth > 32 {
        return None;
    }
    Some(match t {
        Term::Int(i) => Value::from(i64::try_from(*i).ok()?),
        Term::Float(f) => Value::Number(Number::from_f64(*f)?),
        Term::Binary(b) => Value::String(String::from_utf8(b.clone()).ok()?),
        Term::Bytes(b) => Value::Array(b.iter().map(|c| Value::from(*c)).collect()),
        Term::Atom(a) => match a.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" | "undefined" => Value::Null,
            other => Value::String(other.to_string()),
        },
        Term::Nil => Value::Array(vec![]),
        Term::List(items, tail) if **tail == Term::Nil => Value::Array(
            items
                .iter()
                .map(|i| view_key(i, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Term::Tuple(items) if matches!(items.as_slice(), [Term::Nil]) => Value::Object(Map::new()),
        _ => return None,
    })
}

/// One filter from the query string (`crossbar_filter.erl`). All filters are ANDed.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(String, String),
    NotEq(String, String),
    HasKey(String),
    KeyMissing(String),
    HasValue(String),
    ValueMissing(String),
    CreatedFrom(i64),
    CreatedTo(i64),
    ModifiedFrom(i64),
    ModifiedTo(i64),
}

/// Parse the filters of a query. `time_ranged` lists (recordings) use created_from/to for
/// the database range instead, so those are not filters there.
pub fn filters_from_query(query: &[(String, String)], time_ranged: bool) -> Vec<Filter> {
    let mut out = Vec::new();
    for (k, v) in query {
        let f = if let Some(key) = k.strip_prefix("filter_not_") {
            Filter::NotEq(key.to_string(), v.clone())
        } else if let Some(key) = k.strip_prefix("filter_") {
            Filter::Eq(key.to_string(), v.clone())
        } else {
            let num = || v.trim().parse::<i64>().ok();
            match k.as_str() {
                "has_key" => Filter::HasKey(v.clone()),
                "key_missing" => Filter::KeyMissing(v.clone()),
                "has_value" => Filter::HasValue(v.clone()),
                "value_missing" => Filter::ValueMissing(v.clone()),
                "created_from" if !time_ranged => match num() {
                    Some(n) => Filter::CreatedFrom(n),
                    None => continue,
                },
                "created_to" if !time_ranged => match num() {
                    Some(n) => Filter::CreatedTo(n),
                    None => continue,
                },
                "modified_from" => match num() {
                    Some(n) => Filter::ModifiedFrom(n),
                    None => continue,
                },
                "modified_to" => match num() {
                    Some(n) => Filter::ModifiedTo(n),
                    None => continue,
                },
                _ => continue,
            }
        };
        out.push(f);
    }
    out
}

fn value_eq(actual: &Value, wanted: &str) -> bool {
    let as_text = match actual {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    };
    if as_text == wanted {
        return true;
    }
    // A JSON list means "member of" (`filter_state=["in_service","port_in"]`).
    match serde_json::from_str::<Value>(wanted) {
        Ok(Value::Array(options)) => options.iter().any(|o| o == actual),
        Ok(other) => &other == actual,
        Err(_) => false,
    }
}

fn doc_int(doc: &Value, key: &str) -> Option<i64> {
    doc.get(key).and_then(Value::as_i64)
}

impl Filter {
    pub fn matches(&self, doc: &Value) -> bool {
        use crate::domain::json::get_path;
        match self {
            Filter::Eq(k, v) => get_path(doc, k).is_some_and(|a| value_eq(a, v)),
            Filter::NotEq(k, v) => !get_path(doc, k).is_some_and(|a| value_eq(a, v)),
            Filter::HasKey(k) => get_path(doc, k).is_some(),
            Filter::KeyMissing(k) => get_path(doc, k).is_none(),
            Filter::HasValue(k) => get_path(doc, k).is_some_and(|v| !is_empty(v)),
            Filter::ValueMissing(k) => get_path(doc, k).is_none_or(is_empty),
            Filter::CreatedFrom(t) => doc_int(doc, "pvt_created").is_some_and(|c| c >= *t),
            Filter::CreatedTo(t) => doc_int(doc, "pvt_created").is_some_and(|c| c <= *t),
            Filter::ModifiedFrom(t) => doc_int(doc, "pvt_modified").is_some_and(|c| c >= *t),
            Filter::ModifiedTo(t) => doc_int(doc, "pvt_modified").is_some_and(|c| c <= *t),
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn page_size_rules() {
        assert_eq!(PageParams::from_query(&q(&[])).unwrap().page_size, Some(50));
        assert_eq!(
            PageParams::from_query(&q(&[("page_size", "x")])),
            Err(PagingError::InvalidPageSize)
        );
        assert_eq!(
            PageParams::from_query(&q(&[("page_size", "0")])),
            Err(PagingError::PageSizeTooSmall)
        );
        assert_eq!(
            PageParams::from_query(&q(&[("paginate", "false")]))
                .unwrap()
                .page_size,
            None
        );
        assert!(
            PageParams::from_query(&q(&[("descending", "false")]))
                .unwrap()
                .descending
        );
        assert!(
            !PageParams::from_query(&q(&[("ascending", "true")]))
                .unwrap()
                .descending
        );
    }

    #[test]
    fn start_keys_roundtrip_like_kazoo() {
        for key in [
            json!("Smith John"),
            json!(["abc", 63_870_000_000i64, "202403-x"]),
            json!([1, -5, 300, {}]),
            json!([]),
            json!(null),
            json!(true),
        ] {
            assert_eq!(decode_start_key(&encode_start_key(&key)), key, "{key}");
        }
        // term_to_binary(<<"a">>) = 131,109,0,0,0,1,97
        assert_eq!(
            encode_start_key(&json!("a")),
            URL_SAFE_NO_PAD.encode([131, 109, 0, 0, 0, 1, 97])
        );
        // garbage is used raw
        assert_eq!(decode_start_key("not-etf"), json!("not-etf"));
        assert_eq!(decode_start_key("g2wAAAAB"), json!("g2wAAAAB"));
    }

    #[test]
    fn filters() {
        let doc =
            json!({"a": "x", "n": 5, "b": true, "o": {"k": "v"}, "e": "", "pvt_created": 100});
        let f = filters_from_query(
            &q(&[
                ("filter_a", "x"),
                ("filter_n", "5"),
                ("filter_o.k", "v"),
                ("filter_not_a", "y"),
                ("has_key", "b"),
                ("key_missing", "zz"),
                ("has_value", "a"),
                ("value_missing", "e"),
                ("created_from", "50"),
                ("_", "123"),
            ]),
            false,
        );
        assert_eq!(f.len(), 9);
        assert!(f.iter().all(|f| f.matches(&doc)));
        assert!(!Filter::Eq("a".into(), "y".into()).matches(&doc));
        assert!(Filter::Eq("a".into(), r#"["x","z"]"#.into()).matches(&doc));
        assert!(!Filter::CreatedTo(50).matches(&doc));
    }
}
