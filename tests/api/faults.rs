//! Fault drills with real servers: the S3 server stopped while recordings arrive and
//! started again (everything delivered once, checksums equal), and an FTPS server that
//! refuses the login (the recording stays acknowledged and pending, the failure recorded,
//! nothing dropped). Counts are printed.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const S3S: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/s3s/bin/s3s-fs");

fn start_s3s(port: u16, dir: &std::path::Path) -> Child {
    Command::new(S3S)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--access-key",
            "testkey",
            "--secret-key",
            "testsecret",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs starts")
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("s3s-fs did not listen on {port}");
}

async fn ingest(app: &TestApp, acct: &str, call: &str, audio: &[u8]) -> String {
    let r = app
        .client
        .put(format!("{}/rec_ext/ingest/{acct}", app.base))
        .header(
            "x-recording-metadata",
            json!({"call_id": call, "duration_ms": 4000}).to_string(),
        )
        .body(audio.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "acknowledged although the destination is down"
    );
    let body: Value = r.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_string()
}

async fn error_count(app: &TestApp, acct: &AccountId) -> usize {
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    app.couch()
        .view(
            &acct.modb(y, m),
            "att_handlers_errors",
            "crossbar_listing",
            &Default::default(),
        )
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn s3_down_during_ingest_then_back() {
    if !std::path::Path::new(S3S).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "s3s-fs must be installed in CI ({S3S})"
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("s3s-fault-{}", uniq()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s3 = start_s3s(port, &dir);
    wait_listening(port).await;
    let bucket = format!("fault-{}", uniq());
    let client = s3_client(&format!("http://127.0.0.1:{port}"), "testkey", "testsecret");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let app = spawn_with(cfg).await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let h = "5353535353535353535353535353535a";
    let storage = s3_storage(
        &format!("http://127.0.0.1:{port}"),
        &bucket,
        h,
        "testkey",
        "testsecret",
    );
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/storage"),
            Some(&admin),
            Some(storage),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // the S3 server goes away; recordings keep arriving and are acknowledged
    s3.kill().unwrap();
    s3.wait().unwrap();
    let audio: Vec<Vec<u8>> = (0..3)
        .map(|i| kazoo_rec::testdata::fake_mp3(100_000 + i * 1000))
        .collect();
    let mut ids = vec![];
    for (i, a) in audio.iter().enumerate() {
        ids.push(ingest(&app, &acct, &format!("s3-down-{i}"), a).await);
    }
    for _ in 0..100 {
        if error_count(&app, &account).await >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failures = error_count(&app, &account).await;
    assert!(
        failures >= 3,
        "each failed attempt is recorded ({failures})"
    );

    // back again (same port, same disk): every recording delivered once
    let mut s3 = start_s3s(port, &dir);
    wait_listening(port).await;
    let mut delivered = 0;
    for _ in 0..200 {
        delivered = 0;
        for id in &ids {
            let db = account.modb(id[..4].parse().unwrap(), id[4..6].parse().unwrap());
            if app
                .couch()
                .get(&db, id)
                .await
                .unwrap()
                .is_some_and(|d| d.get("pvt_attachments").is_some())
            {
                delivered += 1;
            }
        }
        if delivered == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(delivered, 3, "all delivered after S3 came back");
    let objects = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .key_count();
    for (id, a) in ids.iter().zip(&audio) {
        let got = app
            .client
            .get(format!(
                "{}/v2/accounts/{acct}/recordings/{id}?accept=audio/mpeg",
                app.base
            ))
            .header("x-auth-token", &admin)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(got.as_ref(), a.as_slice(), "checksum equal");
    }
    println!("s3 down then back: 3 acknowledged while down, {failures} failed attempts recorded, 3 delivered, {objects:?} objects");
    assert_eq!(objects, Some(3), "no duplicate objects");
    s3.kill().unwrap();
    let _ = s3.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn ftps_refusing_the_login_keeps_the_recording_pending() {
    let (Ok(ftps), Ok(ca)) = (std::env::var("FTPS_URL"), std::env::var("FTPS_CA")) else {
        assert!(
            std::env::var("CI").is_err(),
            "FTPS_URL and FTPS_CA must be set in CI"
        );
        return;
    };
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    cfg.ftps_ca_file = Some(ca);
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let url = format!(
        "{}/refused",
        ftps.replace("ftps://", "ftps://rec:wrong-password@")
    );
    let r = app
        .client
        .put(format!("{}/rec_ext/ingest/{acct}", app.base))
        .header(
            "x-recording-metadata",
            json!({"call_id": "ftps-refused", "url": url}).to_string(),
        )
        .body(b"keep me".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: Value = r.json().await.unwrap();
    assert!(
        !body.to_string().contains("wrong-password"),
        "credentials not echoed"
    );
    let id = body["data"]["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if error_count(&app, &account).await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        error_count(&app, &account).await >= 1,
        "the refused login is recorded"
    );
    let pending = app.state.spool.pending().await.unwrap();
    let job = pending
        .iter()
        .find(|j| j.doc_id == id)
        .expect("still pending, not dropped");
    assert!(job.attempts >= 1 && job.last_error.is_some());
    assert!(!job
        .last_error
        .as_deref()
        .unwrap()
        .contains("wrong-password"));
    let db = account.modb(id[..4].parse().unwrap(), id[4..6].parse().unwrap());
    let doc = app
        .couch()
        .get(&db, &id)
        .await
        .unwrap()
        .expect("the document exists");
    assert!(doc.get("pvt_attachments").is_none() && doc.get("_attachments").is_none());
    println!(
        "ftps refusing logins: 1 acknowledged, {} attempt(s) failed, 1 pending",
        job.attempts
    );
}
