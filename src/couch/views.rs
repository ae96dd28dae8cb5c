//! Our design documents (`couchdb-views/`), embedded in the binary. They carry the design-doc
//! names and view keys/values KAZOO uses, so KAZOO can read databases we write and we can
//! read databases KAZOO wrote.

use include_dir::{include_dir, Dir};
use serde_json::Value;
use std::sync::LazyLock;

static VIEWS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/couchdb-views");

/// The design docs in one folder of `couchdb-views/` (`account`, `accounts`, `modb`).
pub fn design_docs(folder: &str) -> Vec<Value> {
    let Some(dir) = VIEWS.get_dir(folder) else {
        return vec![];
    };
    let mut files: Vec<_> = dir
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort_by_key(|f| f.path());
    files
        .into_iter()
        .filter_map(|f| f.contents_utf8())
        // The files are ours and covered by a test; a broken one is skipped, not a panic.
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

static ACCOUNT: LazyLock<Vec<Value>> = LazyLock::new(|| design_docs("account"));
static ACCOUNTS: LazyLock<Vec<Value>> = LazyLock::new(|| design_docs("accounts"));
static MODB: LazyLock<Vec<Value>> = LazyLock::new(|| design_docs("modb"));

pub fn account_db_docs() -> &'static [Value] {
    &ACCOUNT
}

pub fn accounts_db_docs() -> &'static [Value] {
    &ACCOUNTS
}

pub fn modb_docs() -> &'static [Value] {
    &MODB
}

/// Our design documents for a database of its kind, by KAZOO's naming: a month's database
/// (`account/ab/cd/…-YYYYMM`), an account's database, or none (system databases are set up
/// at start).
pub fn docs_for_db(db: &str) -> &'static [Value] {
    if !db.starts_with("account/") {
        return &[];
    }
    let month = db.len() > 7
        && db.as_bytes()[db.len() - 7] == b'-'
        && db[db.len() - 6..].bytes().all(|b| b.is_ascii_digit());
    if month {
        modb_docs()
    } else {
        account_db_docs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_gets_the_views_of_its_kind() {
        let ids = |docs: &[Value]| -> Vec<String> {
            docs.iter()
                .map(|d| d["_id"].as_str().unwrap().to_string())
                .collect()
        };
        let acct = "account/ab/cd/ef0123456789abcdef0123456789";
        assert_eq!(
            ids(docs_for_db(&format!("{acct}-202611"))),
            ids(modb_docs())
        );
        assert_eq!(ids(docs_for_db(acct)), ids(account_db_docs()));
        assert!(docs_for_db("accounts").is_empty());
        assert!(docs_for_db("system_config").is_empty());
    }

    #[test]
    fn every_view_file_parses_and_has_an_id() {
        for folder in ["account", "accounts", "modb"] {
            let dir = VIEWS.get_dir(folder);
            let count = dir.map(|d| d.files().count()).unwrap_or(0);
            let docs = design_docs(folder);
            assert_eq!(
                docs.len(),
                count,
                "a file in couchdb-views/{folder} does not parse"
            );
            for d in docs {
                assert!(d["_id"].as_str().unwrap().starts_with("_design/"));
                assert!(d["views"].is_object());
            }
        }
    }
}
