//! Storage handlers against real servers: an S3-compatible server (`S3_URL`, e.g. moto started
//! by `scripts/s3.sh`) and wiremock HTTP receivers. S3 tests print a notice and pass when
//! `S3_URL` is unset. `S3_SIG_URL` (a signature-checking server started by `scripts/s3s.sh`,
//! credentials `testkey`/`testsecret`) enables the wrong-secret probe test.

use std::time::{Duration, Instant};

#[path = "storage_backends/http.rs"]
mod http;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use kazoo_rec::storage::{body, ByteStream, Handler, ObjectMeta, PathContext, StorageError};
use md5::{Digest, Md5};
use serde_json::{json, Value};

const ACCOUNT: &str = "483f6dc3c2b22d0db0da1fe19f2c3444";

fn s3_url(var: &str) -> Option<url::Url> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(url::Url::parse(&u).expect("S3 url")),
        _ => {
            let script = if var == "S3_SIG_URL" {
                "s3s.sh"
            } else {
                "s3.sh"
            };
            eprintln!("skipping: {var} is not set (see scripts/{script})");
            None
        }
    }
}

fn s3_entry(url: &url::Url, bucket: &str, secret: &str) -> Value {
    json!({"handler": "s3", "name": "test", "settings": {
        "bucket": bucket, "key": "testkey", "secret": secret,
        "host": url.host_str().unwrap(), "port": url.port_or_known_default().unwrap(),
        "scheme": url.scheme(), "region": "us-east-1", "bucket_access_method": "path"}})
}

/// A plain SDK client, to look at the server the way an operator would.
fn sdk_client(url: &url::Url) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testkey", "testsecret", None, None, "t"))
        .endpoint_url(url.as_str().trim_end_matches('/'))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn new_bucket(url: &url::Url) -> String {
    let bucket = format!("kzrec-{}", hex::encode(rand::random::<[u8; 6]>()));
    let client = sdk_client(url);
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    bucket
}

fn ctx(attachment: &str) -> PathContext {
    PathContext {
        account_id: ACCOUNT.into(),
        db: "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401".into(),
        doc_id: format!("202401-{}", hex::encode(rand::random::<[u8; 16]>())),
        attachment: attachment.into(),
        doc: json!({"owner_id": "own", "call_id": "c1@host", "pvt_type": "call_recording"}),
        folder_path: None,
    }
}

/// `len` pseudo-random bytes (xorshift, seeded), produced lazily in 64 KiB chunks.
fn generated(len: usize, seed: u64) -> ByteStream {
    let chunks = len.div_ceil(65_536);
    let s = stream::iter(0..chunks).map(move |i| {
        let n = (len - i * 65_536).min(65_536);
        Ok(Bytes::from(gen_bytes(seed.wrapping_add(i as u64), n)))
    });
    Box::pin(s)
}

fn gen_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn md5_of(mut s: ByteStream) -> (u64, String) {
    let mut h = Md5::new();
    let mut n = 0u64;
    while let Some(chunk) = s.next().await {
        let chunk = chunk.expect("body chunk");
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    (n, hex::encode(h.finalize()))
}

async fn collect(s: ByteStream) -> Vec<u8> {
    body::collect_limited(s, 64 * 1024 * 1024).await.unwrap()
}

fn audio(len: u64) -> ObjectMeta {
    ObjectMeta {
        content_type: "audio/mpeg".into(),
        length: Some(len),
    }
}

#[tokio::test]
async fn s3_probe_ok() {
    let Some(url) = s3_url("S3_URL") else { return };
    let bucket = new_bucket(&url).await;
    let h = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    h.probe().await.expect("probe");
    h.probe_for_account(ACCOUNT).await.expect("account probe");
}

#[tokio::test]
async fn s3_probe_missing_bucket_keeps_backend_code() {
    let Some(url) = s3_url("S3_URL") else { return };
    let h =
        Handler::from_attachment(&s3_entry(&url, "kzrec-no-such-bucket", "testsecret")).unwrap();
    match h.probe().await {
        Err(StorageError::Backend {
            code,
            message,
            body,
        }) => {
            assert_eq!(code, Some(404), "{message}");
            assert!(message.contains("bucket does not exist"), "{message}");
            assert!(body.unwrap_or_default().contains("NoSuchBucket"));
        }
        other => panic!("expected a 404 backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn s3_probe_with_wrong_secret_fails_with_the_backend_403() {
    let Some(url) = s3_url("S3_SIG_URL") else {
        return;
    };
    let bucket = new_bucket(&url).await;
    let good = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    good.probe().await.expect("the right secret passes");
    let bad = Handler::from_attachment(&s3_entry(&url, &bucket, "definitely-wrong")).unwrap();
    match bad.probe().await {
        Err(StorageError::Backend {
            code,
            message,
            body,
        }) => {
            assert_eq!(code, Some(403), "{message}");
            assert!(!message.is_empty() && body.is_some(), "{message}");
        }
        other => panic!("expected a 403 backend error, got {other:?}"),
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn probes_fail_fast_when_the_host_is_unreachable() {
    let port = closed_port();
    let dead_s3 = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let dead_http =
        json!({"handler": "http", "settings": {"url": format!("http://127.0.0.1:{port}/x")}});
    for entry in [s3_entry(&dead_s3, "kzrec-dead", "x"), dead_http] {
        let h = Handler::from_attachment(&entry).unwrap();
        let started = Instant::now();
        let err = h.probe().await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(
                err,
                StorageError::Backend { code: None, .. } | StorageError::Timeout
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn s3_small_round_trip_range_and_delete() {
    let Some(url) = s3_url("S3_URL") else { return };
    let bucket = new_bucket(&url).await;
    let h = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    let c = ctx("call_recording_c1@host.mp3");
    let data = gen_bytes(7, 1024);
    let stored = h
        .put(&c, audio(1024), body::once(data.clone()))
        .await
        .unwrap();
    let expected_key = format!(
        "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401/{}_call_recording_c1%40host.mp3",
        c.doc_id
    );
    assert_eq!(stored.location["key"], json!(expected_key));
    assert_eq!(stored.location["bucket"], json!(bucket));
    assert_eq!(stored.bytes, 1024);
    assert_eq!(stored.md5_hex, hex::encode(Md5::digest(&data)));
    assert_eq!(stored.etag.as_deref(), Some(stored.md5_hex.as_str()));
    // The key on the server holds a literal `%2F`, as KAZOO's does.
    let listed = sdk_client(&url)
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [expected_key.as_str()]);

    let (meta, got) = h.get(&stored.location, None).await.unwrap();
    assert_eq!(meta, audio(1024));
    assert_eq!(md5_of(got).await, (1024, stored.md5_hex.clone()));

    let (meta, got) = h
        .get(&stored.location, Some((100, Some(199))))
        .await
        .unwrap();
    assert_eq!(meta.length, Some(1024), "total size, not the range's");
    assert_eq!(collect(got).await, &data[100..200]);
    let (_, got) = h.get(&stored.location, Some((1000, None))).await.unwrap();
    assert_eq!(collect(got).await, &data[1000..]);

    h.delete(&stored.location).await.unwrap();
    match h.get(&stored.location, None).await {
        Err(StorageError::Backend {
            code: Some(404), ..
        }) => {}
        other => panic!("expected 404 after delete, got {:?}", other.map(|(m, _)| m)),
    }
    h.delete(&stored.location)
        .await
        .expect("deleting again is fine");
}

#[tokio::test]
async fn s3_multipart_round_trip_21_mib() {
    let Some(url) = s3_url("S3_URL") else { return };
    let bucket = new_bucket(&url).await;
    let h = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    const LEN: usize = 21 * 1024 * 1024; // more parts than upload at once, the last one short
    let (_, expected_md5) = md5_of(generated(LEN, 42)).await;
    // No length hint: the handler must discover the size by streaming.
    let meta = ObjectMeta {
        content_type: "audio/mpeg".into(),
        length: None,
    };
    let stored = h
        .put(&ctx("big.mp3"), meta, generated(LEN, 42))
        .await
        .unwrap();
    assert_eq!(
        (stored.bytes, stored.md5_hex.as_str()),
        (LEN as u64, expected_md5.as_str())
    );
    let etag = stored.etag.clone().unwrap_or_default();
    let parts = LEN.div_ceil(kazoo_rec::storage::s3::PART_SIZE);
    assert!(
        etag.ends_with(&format!("-{parts}")),
        "a {parts}-part multipart upload (uploaded {} at a time), got etag {etag}",
        kazoo_rec::storage::s3::PARTS_IN_FLIGHT
    );

    let (meta, got) = h.get(&stored.location, None).await.unwrap();
    assert_eq!(meta.length, Some(LEN as u64));
    assert_eq!(md5_of(got).await, (LEN as u64, expected_md5));

    // A range across the first part boundary.
    let start = kazoo_rec::storage::s3::PART_SIZE - 10;
    let (_, got) = h
        .get(
            &stored.location,
            Some((start as u64, Some(start as u64 + 19))),
        )
        .await
        .unwrap();
    let whole = collect(generated(LEN, 42)).await;
    assert_eq!(collect(got).await, &whole[start..start + 20]);
    h.delete(&stored.location).await.unwrap();
}

#[tokio::test]
async fn s3_failed_body_aborts_the_multipart_upload() {
    let Some(url) = s3_url("S3_URL") else { return };
    let bucket = new_bucket(&url).await;
    let h = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    // 9 MiB then a read error: one part is uploaded before the failure.
    let failing: ByteStream = Box::pin(generated(9 * 1024 * 1024, 1).chain(stream::once(async {
        Err(std::io::Error::other("caller went away"))
    })));
    let meta = ObjectMeta {
        content_type: "audio/mpeg".into(),
        length: None,
    };
    let err = h.put(&ctx("broken.mp3"), meta, failing).await.unwrap_err();
    assert!(matches!(err, StorageError::Io(_)), "{err:?}");

    let client = sdk_client(&url);
    let uploads = client
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "left behind: {:?}",
        uploads.uploads()
    );
    let objects = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(objects.contents().is_empty());
}

#[tokio::test]
async fn s3_cancelled_upload_is_aborted_by_the_drop_guard() {
    let Some(url) = s3_url("S3_URL") else { return };
    let bucket = new_bucket(&url).await;
    let h = Handler::from_attachment(&s3_entry(&url, &bucket, "testsecret")).unwrap();
    // 9 MiB, then the caller stalls forever. The stall is reached only once part 1 is
    // uploaded (parts are read one at a time), and then the put future is dropped.
    let (reached, stall) = tokio::sync::oneshot::channel::<()>();
    let tail = stream::once(async move {
        let _ = reached.send(());
        std::future::pending::<Result<Bytes, std::io::Error>>().await
    });
    let stalled: ByteStream = Box::pin(generated(9 * 1024 * 1024, 2).chain(tail));
    let meta = ObjectMeta {
        content_type: "audio/mpeg".into(),
        length: None,
    };
    let c = ctx("stalled.mp3");
    tokio::select! {
        r = h.put(&c, meta, stalled) => panic!("put cannot finish: {r:?}"),
        _ = stall => {}
    }
    let client = sdk_client(&url);
    let list = || client.list_multipart_uploads().bucket(&bucket).send();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !list().await.unwrap().uploads().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the dropped upload was never aborted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
