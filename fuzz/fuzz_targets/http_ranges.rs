//! HTTP byte ranges: the client's `Range` header (`api::recordings::parse_range`, used when
//! a recording is played) and CouchDB's `Content-Range` answer
//! (`couch::parse_content_range`).
//!
//! Properties: a parsed range is ordered (`end >= start`), and what the parsers accept
//! round-trips through the canonical header text.
#![no_main]

use kazoo_rec::api::recordings::parse_range;
use kazoo_rec::couch::parse_content_range;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Header values reach both parsers through `HeaderValue::to_str`, i.e. as visible ASCII;
    // any UTF-8 is a superset of that.
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    assert_eq!(parse_range(None), None);
    if let Some((start, end)) = parse_range(Some(s)) {
        if let Some(end) = end {
            assert!(end >= start, "{s:?} -> {start}-{end}");
        }
        let canonical = match end {
            Some(e) => format!("bytes={start}-{e}"),
            None => format!("bytes={start}-"),
        };
        assert_eq!(parse_range(Some(&canonical)), Some((start, end)), "{s:?}");
    }
    // With the prefix supplied, so the fuzzer spends its time on the numbers.
    let prefixed = format!("bytes={s}");
    if let Some((start, Some(end))) = parse_range(Some(&prefixed)) {
        assert!(end >= start, "{prefixed:?} -> {start}-{end}");
    }

    if let Some((start, end, total)) = parse_content_range(s) {
        let canonical = match total {
            Some(t) => format!("bytes {start}-{end}/{t}"),
            None => format!("bytes {start}-{end}/*"),
        };
        assert_eq!(
            parse_content_range(&canonical),
            Some((start, end, total)),
            "{s:?}"
        );
    }
    let _ = parse_content_range(&format!("bytes {s}"));
});
