//! Recording parameters and their defaults (notes §2), as
//! `kapps_call_recording:record_call_command/2` computes them.
//!
//! | key | rule |
//! |---|---|
//! | `enabled` | `true` for every recording that starts |
//! | `format` | `mp3`, `mp4` or `wav`; anything else (or absent) → [`DEFAULT_FORMAT`] |
//! | `time_limit` | absent → [`MAX_TIME_LIMIT`]; otherwise `min(value, MAX_TIME_LIMIT)` |
//! | `record_min_sec` | absent → [`DEFAULT_RECORD_MIN_SEC`] |
//! | `record_on_answer`, `record_on_bridge` | `kz_term:is_true`, default `false` |
//! | `record_sample_rate` | only when set (the media server default applies otherwise) |
//! | `url` | only when a non-empty string |
//! | `follow_transfer` | set by the caller of [`recording_params`] (false for settings-based recordings) |
//!
//! Deviation: a non-positive `time_limit` is treated as absent (KAZOO passes it
//! through and ecallmgr turns `0` into 3600; the schema minimum is 5).

use serde_json::{Map, Value};

use super::json::{get_integer, get_ne_str, is_true};

/// `system_config/media` `call_recording.extension` default.
pub const DEFAULT_FORMAT: &str = "mp3";
/// `media.max_recording_time_limit` default (3 hours).
pub const MAX_TIME_LIMIT: i64 = 10_800;
/// `media.record_min_sec` default.
pub const DEFAULT_RECORD_MIN_SEC: i64 = 0;

/// Formats `kapps_call_recording:get_format/1` accepts.
const FORMATS: [&str; 3] = ["mp3", "mp4", "wav"];

/// Extra keys passed through for callflow/metaflow data (not allowed in
/// `call_recording` settings by the schema).
pub(crate) const METAFLOW_EXTRAS: [&str; 3] = ["method", "label", "media_name"];

/// The normalised parameter object for one recording.
pub(crate) fn recording_params(
    data: &Map<String, Value>,
    follow_transfer: bool,
    extras: &[&str],
) -> Value {
    let mut out = Map::new();
    out.insert("enabled".to_owned(), Value::Bool(true));
    let format = get_ne_str(data, "format")
        .filter(|f| FORMATS.contains(f))
        .unwrap_or(DEFAULT_FORMAT);
    out.insert("format".to_owned(), Value::from(format));
    out.insert("time_limit".to_owned(), Value::from(time_limit(data)));
    let min_sec = get_integer(data, "record_min_sec").unwrap_or(DEFAULT_RECORD_MIN_SEC);
    out.insert("record_min_sec".to_owned(), Value::from(min_sec));
    for key in ["record_on_answer", "record_on_bridge"] {
        out.insert(key.to_owned(), Value::Bool(is_true(data.get(key))));
    }
    if let Some(rate) = get_integer(data, "record_sample_rate") {
        out.insert("record_sample_rate".to_owned(), Value::from(rate));
    }
    if let Some(url) = get_ne_str(data, "url") {
        out.insert("url".to_owned(), Value::from(url));
    }
    for key in extras {
        if let Some(value) = get_ne_str(data, key) {
            out.insert((*key).to_owned(), Value::from(value));
        }
    }
    out.insert("follow_transfer".to_owned(), Value::Bool(follow_transfer));
    Value::Object(out)
}

/// `kapps_call_recording:get_timelimit/1` with the non-positive deviation.
fn time_limit(data: &Map<String, Value>) -> i64 {
    match get_integer(data, "time_limit") {
        Some(limit) if limit > 0 => limit.min(MAX_TIME_LIMIT),
        _ => MAX_TIME_LIMIT,
    }
}
