//! Early delivery (src/ingest/tee.rs): a recording bound for a storage handler streams to it
//! while it is spooled. A client cut off mid-upload must leave no object and no document;
//! a completed one is answered only once stored, with its checksum, document written and
//! nothing left in the spool; a failed one falls back to the spool and the worker.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn s3_account(app: &TestApp, url: &str) -> (String, String, aws_sdk_s3::Client) {
    let (acct, _, admin) = app.account_with_admin(None).await;
    let bucket = format!("tee-{}", uniq());
    let s3 = s3_client(url, "k", "s");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let h = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    let r = app
        .call(
            Method::PUT,
            &format!("/v2/accounts/{acct}/storage"),
            Some(&admin),
            Some(s3_storage(url, &bucket, h, "k", "s")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (acct, bucket, s3)
}

/// The app with its spool folder, and an account whose recordings go to a fresh bucket on
/// `S3_URL` (None outside CI when no S3 server is configured).
async fn s3_app() -> Option<(TestApp, String, String, String, aws_sdk_s3::Client)> {
    let url = s3_url()?;
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let spool_dir = cfg.spool_dir.clone();
    let app = spawn_with(cfg).await;
    let (acct, bucket, s3) = s3_account(&app, &url).await;
    Some((app, spool_dir, acct, bucket, s3))
}

async fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn ingest_request(app: &TestApp, acct: &str, call_id: &str) -> reqwest::RequestBuilder {
    app.client
        .put(format!("{}/rec_ext/ingest/{acct}", app.base))
        .header(
            "x-recording-metadata",
            json!({"call_id": call_id, "duration_ms": 30_000, "format": "mp3"}).to_string(),
        )
}

#[tokio::test]
async fn a_client_cut_off_mid_upload_leaves_no_object_and_no_document() {
    let Some((app, spool_dir, acct, bucket, s3)) = s3_app().await else {
        return;
    };
    // 12 MiB sent (more than one 8 MiB S3 part), then the client fails
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..12)
        .map(|_| Ok(bytes::Bytes::from(vec![7u8; 1 << 20])))
        .chain(std::iter::once(Err(std::io::Error::other("client died"))))
        .collect();
    let sent = ingest_request(&app, &acct, "cut-off")
        .header("content-length", (20u64 << 20).to_string())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    assert!(
        sent.is_err() || !sent.unwrap().status().is_success(),
        "a cut-off upload is never acknowledged"
    );
    // give an (incorrect) upload every chance to complete
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(objects(&s3, &bucket).await, Vec::<String>::new());
    let listed = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/recordings"),
            Some(&app.admin_token().await),
            None,
        )
        .await;
    assert_eq!(listed.body["data"], json!([]), "{}", listed.text);
    let left: Vec<_> = std::fs::read_dir(&spool_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".job.json"))
        .collect();
    assert!(left.is_empty(), "no job for a refused recording: {left:?}");
}

#[tokio::test]
async fn a_completed_upload_is_stored_once_and_leaves_the_spool() {
    let Some((app, spool_dir, acct, bucket, s3)) = s3_app().await else {
        return;
    };
    let audio = kazoo_rec::testdata::fake_mp3(17 * 1024 * 1024);
    let r = ingest_request(&app, &acct, "whole")
        .body(audio.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["md5"], md5_bytes(&audio));
    // answered once durable at the destination: nothing spooled, the document points at
    // the object already
    assert_eq!(body["data"]["delivered"], true, "{body}");
    // the spool copy is dropped (just after the answer)
    let t = std::time::Instant::now();
    while !spool_files(&spool_dir).is_empty() {
        assert!(t.elapsed().as_secs() < 10, "{:?}", spool_files(&spool_dir));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = body["data"]["id"].as_str().unwrap();
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/recordings/{id}"),
            Some(&app.admin_token().await),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys = objects(&s3, &bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(md5_bytes(&got), md5_bytes(&audio));
}

fn spool_files(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_failed_early_delivery_is_spooled_and_delivered_by_the_worker() {
    let Some((app, spool_dir, acct, bucket, s3)) = s3_app().await else {
        return;
    };
    // the bucket disappears: the tee's upload fails
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    let audio = kazoo_rec::testdata::fake_mp3(9 * 1024 * 1024);
    let r = ingest_request(&app, &acct, "fallback")
        .body(audio.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["delivered"], false, "{body}");
    let files = spool_files(&spool_dir);
    assert_eq!(files.len(), 2, "audio and job: {files:?}");
    let audio_file = files.iter().find(|f| f.ends_with(".audio")).unwrap();
    let spooled = std::fs::read(std::path::Path::new(&spool_dir).join(audio_file)).unwrap();
    assert_eq!(md5_bytes(&spooled), md5_bytes(&audio));
    // the bucket is back: the worker delivers from the spool
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let t = std::time::Instant::now();
    while !spool_files(&spool_dir).is_empty() {
        assert!(t.elapsed().as_secs() < 60, "{:?}", spool_files(&spool_dir));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let keys = objects(&s3, &bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    println!("early delivery failed: spooled (fsynced), delivered by the worker, 1 object");
}

fn md5_bytes(b: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(b))
}
