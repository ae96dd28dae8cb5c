//! Crossbar query strings: the input bytes are a raw query string, turned into
//! (key, value) pairs exactly as the API does (`url::form_urlencoded::parse`, the body
//! of the private `api::parse_query`), then fed to `query_get`, `PageParams::from_query`,
//! `filters_from_query` (+ `Filter::matches` on a fixed document) and the recordings
//! `created_from`/`created_to` window (`time_range`, `months_between`).
#![no_main]

use kazoo_rec::api::recordings::{months_between, time_range, MAXIMUM_RANGE};
use kazoo_rec::domain::paging::{
    filters_from_query, query_get, Filter, PageParams, DEFAULT_PAGE_SIZE,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// 2024-03-01T00:00:00Z in gregorian seconds: a fixed "now".
const NOW: i64 = 63_875_088_000;

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        json!({
            "_id": "202403-abc", "a": "x", "n": 5, "f": 1.5, "b": true, "z": null,
            "e": "", "l": ["in_service", "port_in", 3], "o": {"k": "v", "0": {"d": [1]}},
            "pvt_created": 63_875_000_000i64, "pvt_modified": 63_875_100_000i64,
            "caller_id_number": "+15551234567"
        })
    })
}

fn parse_query(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let query = parse_query(data);

    for key in [
        "page_size",
        "paginate",
        "start_key",
        "end_key",
        "ascending",
        "filter_a",
    ] {
        let got = query_get(&query, key);
        let first = query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        assert_eq!(got, first);
    }

    if let Ok(p) = PageParams::from_query(&query) {
        match query_get(&query, "paginate") {
            Some("false") => assert_eq!(p.page_size, None),
            _ => {
                let size = p.page_size.expect("paginated without a page size");
                assert!((1..=100_000).contains(&size), "page_size {size}");
                if query_get(&query, "page_size").is_none() {
                    assert_eq!(size, DEFAULT_PAGE_SIZE);
                }
            }
        }
        assert_eq!(
            p.start_key.is_some(),
            query_get(&query, "start_key").is_some()
        );
    }

    let all = filters_from_query(&query, false);
    let ranged = filters_from_query(&query, true);
    assert!(ranged.len() <= all.len());
    assert!(all.len() <= query.len());
    let doc = doc();
    for f in all.iter().chain(&ranged) {
        let hit = f.matches(doc);
        // Each filter has an exact opposite; they must disagree on every document.
        let opposite = match f {
            Filter::Eq(k, v) => Some(Filter::NotEq(k.clone(), v.clone())),
            Filter::NotEq(k, v) => Some(Filter::Eq(k.clone(), v.clone())),
            Filter::HasKey(k) => Some(Filter::KeyMissing(k.clone())),
            Filter::KeyMissing(k) => Some(Filter::HasKey(k.clone())),
            Filter::HasValue(k) => Some(Filter::ValueMissing(k.clone())),
            Filter::ValueMissing(k) => Some(Filter::HasValue(k.clone())),
            _ => None,
        };
        if let Some(o) = opposite {
            assert_ne!(hit, o.matches(doc), "{f:?} and {o:?} agree");
        }
        let _ = f.matches(&Value::Null);
        let _ = f.matches(&json!([doc]));
    }

    if let Ok((from, to)) = time_range(&query, NOW) {
        // `from` may be negative: with no `created_from` it defaults to
        // `created_to - MAXIMUM_RANGE`, unclamped (as KAZOO), so `created_to=6` gives
        // from = -2681994. Only the given values are checked to be positive.
        assert!(0 < to && from <= to, "from {from} to {to}");
        assert!(to - from <= MAXIMUM_RANGE, "from {from} to {to}");
        let months = months_between(from, to);
        // 31 days + 1 hour spans at most three calendar months (31 Jan .. 3 Mar).
        assert!(
            (1..=3).contains(&months.len()),
            "from {from} to {to}: months {months:?}"
        );
    }
});
