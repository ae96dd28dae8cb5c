//! The simulator end to end: demo endpoints created through crossbar, "record entire
//! account" switched on, calls decided and ingested, every recording listed by the
//! recordings API with the audio that was sent.

use crate::helpers::*;
use kazoo_rec::simulate::{self, SimOptions};
use reqwest::Method;

#[tokio::test]
async fn simulated_calls_are_recorded_and_listed() {
    let app = spawn_app().await;
    let (acct, name, admin) = app.account_with_admin(None).await;
    let client = simulate::Client::login(&app.base, &name, "boss", "pw-boss", None)
        .await
        .unwrap();
    assert_eq!(client.account_id, acct);
    assert!(client.devices().await.unwrap().is_empty());
    client.create_demo_endpoints("t").await.unwrap();
    let devices = client.devices().await.unwrap();
    assert_eq!(devices.len(), 3);
    assert!(devices.iter().all(|d| d.owner_id.is_some()));

    // nothing enabled: calls are decided, none recorded
    let opts = SimOptions {
        calls: 6,
        concurrency: 3,
        seed: 5,
        bytes_per_second: 500,
        max_duration_s: 20,
    };
    let report = simulate::run(&client, &devices, &opts, |_| {}).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.calls, report.calls_recorded), (6, 0));

    // record the entire account: every call gets exactly one account-level recording
    client.record_whole_account().await.unwrap();
    let opts = SimOptions { calls: 9, ..opts };
    let mut report = simulate::run(&client, &devices, &opts, |_| {}).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.calls_recorded, report.recordings_stored), (9, 9));
    assert_eq!(report.checksum_mismatches, 0);
    assert_eq!(report.by_destination["CouchDB attachment"].0, 9);
    for origin in report.by_origin.keys() {
        assert!(
            origin.ends_with("to account") || origin.contains("account"),
            "{origin}"
        );
    }
    report.pending_after = simulate::wait_for_delivery(&client, 60).await.unwrap();
    assert_eq!(report.pending_after, 0, "{}", report.render());

    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/recordings"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 9);
    assert!(listed
        .iter()
        .all(|rec| rec["call_id"].as_str().unwrap().starts_with("sim-5-")));
}
