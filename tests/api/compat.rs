//! Every scenario in `compat-fixtures/` replayed against a fresh service on the real
//! CouchDB-protocol server, with the same runner as `kazoo-rec replay`.

use crate::helpers::*;
use kazoo_rec::replay::{render_report, replay_dir, ReplayOptions};
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test]
async fn every_compat_fixture_replays() {
    let app = spawn_app().await;
    // The storage fixtures point at the local S3 server, a loopback host: they run against an
    // instance that allows it; every other fixture sees the default policy.
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let local_app = spawn_with(cfg).await;
    let mut vars = BTreeMap::new();
    vars.insert("master_account_id".to_string(), json!(app.master_id));
    vars.insert("master_account_name".to_string(), json!("master"));
    vars.insert("admin_username".to_string(), json!("admin"));
    vars.insert("admin_password".to_string(), json!(ADMIN_PASSWORD));
    recordings_vars(&app, &mut vars).await;
    s3_vars(&mut vars).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut reports = vec![];
    for dir in dirs {
        // `storage/` as a whole; in `monster-ui/` the storage flow (storage_*.json) alone.
        let files = if dir.ends_with("monster-ui") {
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            files
        } else {
            vec![dir.clone()]
        };
        for path in files {
            let needs_local_urls = dir.ends_with("storage")
                || path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("storage"));
            let target = if needs_local_urls { &local_app } else { &app };
            let opts = ReplayOptions {
                target: target.base.clone(),
                vars: vars.clone(),
                filter: None,
            };
            reports.extend(replay_dir(&path, &opts).await);
        }
    }
    assert!(reports.len() >= 12, "fixtures found: {}", reports.len());
    let failed: Vec<_> = reports.iter().filter(|r| !r.passed()).collect();
    assert!(failed.is_empty(), "\n{}", render_report(&reports));
}

/// An account holding recordings at known times around the month boundary, and a user
/// owning some of them, for `compat-fixtures/recordings/` and the recording pages in
/// `compat-fixtures/monster-ui/` (which also use the gregorian windows
/// `recordings_{this,previous}_month_{from,to}` around the two groups). Against a real KAZOO
/// the operator passes the same variables for an account of theirs.
async fn recordings_vars(app: &TestApp, vars: &mut BTreeMap<String, serde_json::Value>) {
    use kazoo_rec::domain::{ids::AccountId, time};
    let (acct, name, admin) = app.account_with_admin(None).await;
    let r = app
        .call(reqwest::Method::PUT, &format!("/v2/accounts/{acct}/users"), Some(&admin), Some(json!({"first_name": "Rec", "last_name": "Owner", "username": "recowner", "password": "rec-pw"})))
        .await;
    let owner = r.body["data"]["id"].as_str().unwrap().to_string();
    let account = AccountId::parse(&acct).unwrap();
    let now = time::now_unix();
    let (y, m) = time::year_month(now);
    let month_start = crate::helpers::month_start_unix(now);
    // 3 in this month (1 owned), 3 in the previous one (just before the boundary, so always
    // within the default 31-day window)
    let this_month = [
        month_start + (now - month_start) * 3 / 4,
        month_start + (now - month_start) / 2,
        month_start + (now - month_start) / 4,
    ];
    let prev_month = [month_start - 3600, month_start - 7200, month_start - 10800];
    kazoo_rec::testdata::generate_at(
        app.couch(),
        &account,
        &this_month[..1],
        Some(&owner),
        3000,
        11,
    )
    .await
    .unwrap();
    kazoo_rec::testdata::generate_at(app.couch(), &account, &this_month[1..], None, 3000, 12)
        .await
        .unwrap();
    kazoo_rec::testdata::generate_at(app.couch(), &account, &prev_month, None, 3000, 13)
        .await
        .unwrap();
    let (py, pm) = time::year_month(month_start - 3600);
    // gregorian windows around the two groups (Monster UI's created_from/created_to)
    let greg = |unix: i64| unix + time::UNIX_EPOCH_IN_GREGORIAN;
    vars.insert(
        "recordings_this_month_from".into(),
        json!(greg(month_start)),
    );
    vars.insert("recordings_this_month_to".into(), json!(greg(now + 3600)));
    vars.insert(
        "recordings_previous_month_from".into(),
        json!(greg(month_start - 86400)),
    );
    vars.insert(
        "recordings_previous_month_to".into(),
        json!(greg(month_start - 1)),
    );
    vars.insert("recordings_account_id".into(), json!(acct));
    vars.insert("recordings_account_name".into(), json!(name));
    vars.insert("recordings_owner_id".into(), json!(owner));
    vars.insert("recordings_owner_username".into(), json!("recowner"));
    vars.insert("recordings_owner_password".into(), json!("rec-pw"));
    vars.insert("current_month".into(), json!(format!("{y:04}{m:02}")));
    vars.insert("previous_month".into(), json!(format!("{py:04}{pm:02}")));
}

/// The S3-compatible server `make test` started, and a bucket on it, for
/// `compat-fixtures/storage/`.
async fn s3_vars(vars: &mut BTreeMap<String, serde_json::Value>) {
    let url = std::env::var("S3_URL").expect("S3_URL: run the tests with `make test`");
    let parsed = url::Url::parse(&url).unwrap();
    let bucket = format!("fixtures-{}", uniq());
    let r = reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    vars.insert("s3_host".into(), json!(parsed.host_str().unwrap()));
    vars.insert("s3_port".into(), json!(parsed.port().unwrap()));
    vars.insert("s3_bucket".into(), json!(bucket));
}
