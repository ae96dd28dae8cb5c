//! Our design documents (`couchdb-views/`), embedded in the binary. They carry the design-doc
//! names and view keys/values KAZOO uses, so KAZOO can read databases we write and we can
//! read databases KAZOO wrote.

use include_dir::{include_dir, Dir};
use serde_json::Value;

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

pub fn account_db_docs() -> Vec<Value> {
    design_docs("account")
}

pub fn accounts_db_docs() -> Vec<Value> {
    design_docs("accounts")
}

pub fn modb_docs() -> Vec<Value> {
    design_docs("modb")
}

#[cfg(test)]
mod tests {
    use super::*;

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
