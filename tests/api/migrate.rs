//! `kazoo-rec migrate-recordings`: CouchDB attachments moved to S3 with checksums verified,
//! a dry run that changes nothing, SIGKILL in the middle leaving every recording either
//! untouched or fully moved, a rerun finishing the job, a third run finding nothing to do,
//! and exactly one object per recording in the bucket.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use kazoo_rec::testdata::{fake_mp3, generate, GenOptions};
use reqwest::Method;

use std::process::{Command, Stdio};

const COUNT: usize = 60;
const AUDIO: usize = 300_000;

fn migrate_cmd(acct: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kazoo-rec"));
    c.args(["migrate-recordings", "--account", acct])
        .args(extra)
        .env("COUCHDB_URL", couch_url());
    c
}

/// (moved, untouched) over every recording document; panics on a half state.
async fn states(app: &TestApp, account: &AccountId) -> (usize, usize) {
    let (mut moved, mut untouched) = (0, 0);
    for db in kazoo_rec::migrate::months(app.couch(), account)
        .await
        .unwrap()
    {
        let opts = kazoo_rec::couch::ViewOpts {
            include_docs: true,
            ..Default::default()
        };
        let rows = app
            .couch()
            .view(&db, "recordings", "crossbar_listing", &opts)
            .await
            .unwrap();
        for doc in rows.into_iter().filter_map(|r| r.doc) {
            match (
                doc.get("_attachments").is_some(),
                doc.get("pvt_attachments").is_some(),
            ) {
                (true, false) => untouched += 1,
                (false, true) => moved += 1,
                other => panic!("half-migrated recording {}: {other:?}", doc["_id"]),
            }
        }
    }
    (moved, untouched)
}

#[tokio::test]
async fn migration_survives_a_kill_and_is_idempotent() {
    let Some(url) = s3_url() else {
        return;
    };
    let app = spawn_with_local_urls().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let ids = generate(
        app.couch(),
        &GenOptions {
            account: account.clone(),
            count: COUNT,
            months: 2,
            owners: vec![],
            audio_bytes: AUDIO,
            seed: 9,
        },
    )
    .await
    .unwrap();
    // no storage yet: the tool says so and fails
    let out = migrate_cmd(&acct, &[]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no storage document"),
        "{out:?}"
    );

    let bucket = format!("mig-{}", uniq());
    reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap();
    let h = "fedcba9876543210fedcba9876543210";
    let storage = s3_storage(&url, &bucket, h, "k", "s");
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/storage"),
            Some(&admin),
            Some(storage),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // a dry run counts and changes nothing
    let out = migrate_cmd(&acct, &["--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains(&format!("{COUNT} would move")),
        "{text}"
    );
    assert_eq!(states(&app, &account).await, (0, COUNT));

    // killed in the middle
    let mut child = migrate_cmd(&acct, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = 0;
    for _ in 0..600 {
        seen = states(&app, &account).await.0;
        if seen >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (moved, untouched) = states(&app, &account).await;
    assert!(
        seen >= 3 && moved + untouched == COUNT,
        "{moved} moved, {untouched} untouched"
    );
    eprintln!("killed after {moved} of {COUNT}");

    // the rerun finishes; a third run finds nothing to do
    let out = migrate_cmd(&acct, &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(states(&app, &account).await, (COUNT, 0));
    let out = migrate_cmd(&acct, &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(&format!("0 moved (0.0 MiB), {COUNT} already on storage")),
        "{text}"
    );

    // one object per recording, and the audio plays back from S3 byte for byte
    let s3 = s3_client(&url, "k", "s");
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(
        listed.key_count(),
        Some(COUNT as i32),
        "no duplicate objects"
    );
    for id in ids.iter().take(3) {
        let resp = app
            .client
            .get(format!(
                "{}/v2/accounts/{acct}/recordings/{id}?accept=audio/mpeg",
                app.base
            ))
            .header("x-auth-token", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            fake_mp3(AUDIO).as_slice()
        );
    }
}
