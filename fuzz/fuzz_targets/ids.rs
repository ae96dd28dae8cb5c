//! Identifiers from paths: `AccountId::parse` and the database names built from it
//! (`db`, `encoded_db`, `modb`, and `storage::path::modb_name`, which must agree with it),
//! `is_hex32`, and `is_acceptable_doc_id` (the gate before a document id reaches a CouchDB
//! URL).
//!
//! The recording/CDR id → MODB parsers (`api::recordings::recording_db`,
//! `api::cdrs::modb_of_cdr_id`) are private, so they are not reached here.
#![no_main]

use kazoo_rec::domain::ids::{is_acceptable_doc_id, is_hex32, AccountId};
use kazoo_rec::storage::path::modb_name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    if is_hex32(s) {
        assert!(
            AccountId::parse(s).is_some(),
            "hex32 {s:?} is not an account id"
        );
    }

    if let Some(id) = AccountId::parse(s) {
        assert_eq!(id.as_str(), s);
        assert_eq!(id.to_string(), s);
        assert!(
            s.len() == 32
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        let db = id.db();
        assert_eq!(db, format!("account/{}/{}/{}", &s[..2], &s[2..4], &s[4..]));
        assert!(!id.encoded_db().contains('/'));
        assert_eq!(id.encoded_db().replace("%2F", "/"), db);
        // Year and month from the first bytes of the input, any values (the callers pass
        // whatever a timestamp or an id prefix gave).
        let y = i32::from_le_bytes([s.as_bytes()[0], s.as_bytes()[1], 0, 0]) - 100;
        let m = u32::from(s.as_bytes()[2] % 14);
        let modb = id.modb(y, m);
        assert!(modb.starts_with(&db));
        assert_eq!(
            modb_name(s, (i64::from(y), m)),
            modb.replace('/', "%2F"),
            "modb_name disagrees with AccountId::modb"
        );
    }

    if is_acceptable_doc_id(s) {
        assert!(!s.is_empty() && s.len() <= 255);
        assert!(!s.starts_with('_'), "design/special doc id {s:?} accepted");
        assert!(
            !s.contains(['/', '?', '#', '%', ' ', '\\']),
            "{s:?} could escape a path segment"
        );
    }
});
