//! Every scenario in `compat-fixtures/` replayed against a fresh service on the real
//! CouchDB-protocol server, with the same runner as `kazoo-rec replay`.

use crate::helpers::*;
use kazoo_rec::replay::{render_report, replay_dir, ReplayOptions};
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test]
async fn every_compat_fixture_replays() {
    let app = spawn_app().await;
    let mut vars = BTreeMap::new();
    vars.insert("master_account_id".to_string(), json!(app.master_id));
    vars.insert("master_account_name".to_string(), json!("master"));
    vars.insert("admin_username".to_string(), json!("admin"));
    vars.insert("admin_password".to_string(), json!(ADMIN_PASSWORD));
    let opts = ReplayOptions {
        target: app.base.clone(),
        vars,
        filter: None,
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-fixtures");
    let reports = replay_dir(&dir, &opts).await;
    assert!(reports.len() >= 8, "fixtures found: {}", reports.len());
    let failed: Vec<_> = reports.iter().filter(|r| !r.passed()).collect();
    assert!(failed.is_empty(), "\n{}", render_report(&reports));
}
