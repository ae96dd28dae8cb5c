//! KAZOO timestamps are gregorian seconds (seconds since year 0).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds between 0000-01-01 and 1970-01-01 (`calendar:datetime_to_gregorian_seconds`).
pub const UNIX_EPOCH_IN_GREGORIAN: i64 = 62_167_219_200;

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn now_gregorian() -> i64 {
    now_unix() + UNIX_EPOCH_IN_GREGORIAN
}

pub fn gregorian_to_unix(g: i64) -> i64 {
    g - UNIX_EPOCH_IN_GREGORIAN
}

/// `2024-03-01T12:00:00Z`, as `kz_time:iso8601/1` prints it.
pub fn iso8601_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&fmt).unwrap_or_default()
}

/// (year, month) of a unix timestamp, UTC.
pub fn year_month(unix: i64) -> (i32, u32) {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (t.year(), t.month() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gregorian_roundtrip() {
        assert_eq!(gregorian_to_unix(now_gregorian()), now_unix());
        assert_eq!(year_month(1_709_294_400), (2024, 3));
        assert_eq!(iso8601_now().len(), 20);
    }
}
