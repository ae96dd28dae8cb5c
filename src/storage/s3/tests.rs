//! Unit tests for S3 settings parsing, addressing defaults, keys and Debug redaction.

use super::*;
use base64::Engine as _;
use futures_util::StreamExt;
use md5::Digest as _;
use serde_json::json;

fn parse(v: Value) -> Result<S3Settings, StorageError> {
    S3Settings::parse(v.as_object().unwrap())
}

#[test]
fn defaults_follow_kazoo() {
    let s = parse(json!({"bucket": "recordings", "key": "AKIA", "secret": "shh"})).unwrap();
    assert_eq!(s.effective_host(), "s3.amazonaws.com");
    assert_eq!((s.scheme(), s.port()), ("https", 443));
    assert!(s.path_style(), "no region: path");
    let r =
        parse(json!({"bucket": "recordings", "key": "k", "secret": "s", "region": "eu-west-1"}))
            .unwrap();
    assert_eq!(r.effective_host(), "s3.eu-west-1.amazonaws.com");
    assert!(!r.path_style(), "region: auto, AWS host, DNS name: vhost");
    let dotted =
        parse(json!({"bucket": "rec.ordings", "key": "k", "secret": "s", "region": "eu-west-1"}))
            .unwrap();
    assert!(dotted.path_style());
    let minio = parse(
        json!({"bucket": "recordings", "key": "k", "secret": "s", "region": "x",
        "host": "minio.local", "scheme": "http://", "port": "9000"}),
    )
    .unwrap();
    assert_eq!((minio.scheme(), minio.port()), ("http", 9000));
    assert!(minio.path_style(), "auto on a non-AWS host: path");
    let after = parse(json!({"bucket": "recordings", "key": "k", "secret": "s",
        "bucket_access_method": "vhost", "bucket_after_host": true}))
    .unwrap();
    assert!(after.path_style());
}

#[test]
fn bad_settings_name_the_field() {
    for (v, field) in [
        (json!({"key": "k", "secret": "s"}), "settings.bucket"),
        (json!({"bucket": "b", "secret": "s"}), "settings.key"),
        (
            json!({"bucket": "b", "key": "k", "secret": ""}),
            "settings.secret",
        ),
        (
            json!({"bucket": "b", "key": "k", "secret": "s", "port": 70000}),
            "settings.port",
        ),
        (
            json!({"bucket": "b", "key": "k", "secret": "s", "scheme": "ftp"}),
            "settings.scheme",
        ),
        (
            json!({"bucket": "b", "key": "k", "secret": "s", "bucket_access_method": "x"}),
            "settings.bucket_access_method",
        ),
        (
            json!({"bucket": "b", "key": "k", "secret": "s", "host": "http://h"}),
            "settings.host",
        ),
        (
            json!({"bucket": "b", "key": "k", "secret": "s", "field_list": [{"arg": "x"}]}),
            "settings.field_list",
        ),
    ] {
        match parse(v.clone()) {
            Err(StorageError::Invalid { field: f, .. }) => assert_eq!(f, field, "{v}"),
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn debug_redacts_the_secret() {
    let s = parse(
        json!({"bucket": "recordings", "key": "AKIAEXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG"}),
    )
    .unwrap();
    let shown = format!("{s:?} {:?}", crate::storage::Handler::S3(s.clone()));
    assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
    assert!(shown.contains("<redacted>") && shown.contains("AKIAEXAMPLE"));
}

#[test]
fn key_and_location() {
    let s = parse(json!({"bucket": "recordings", "key": "k", "secret": "s",
        "folder_base_path": "kazoo/"}))
    .unwrap();
    let ctx = PathContext {
        account_id: "483f6dc3c2b22d0db0da1fe19f2c3444".into(),
        db: "account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401".into(),
        doc_id: "202401-abc".into(),
        attachment: "call.mp3".into(),
        doc: json!({}),
        folder_path: Some("recordings".into()),
    };
    let key = s.object_key(&ctx);
    assert_eq!(
        key,
        "kazoo/recordings/account%2F48%2F3f%2F6dc3c2b22d0db0da1fe19f2c3444-202401/202401-abc_call.mp3"
    );
    let loc = s.location(&key);
    assert_eq!(loc["bucket"], "recordings");
    assert_eq!(loc["host"], "s3.amazonaws.com");
    assert!(loc.get("secret").is_none());
}

/// A body of `total` bytes in `chunk`-byte pieces that counts how much has been pulled.
fn counted(total: usize, chunk: usize) -> (ByteStream, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let s = futures_util::stream::iter((0..total).step_by(chunk)).map(move |at| {
        let n = chunk.min(total - at);
        p.fetch_add(n, Ordering::SeqCst);
        Ok(bytes::Bytes::from(vec![at as u8; n]))
    });
    (Box::pin(s), pulled)
}

#[tokio::test]
async fn parts_are_read_one_at_a_time() {
    use std::sync::atomic::Ordering;
    const MIB: usize = 1024 * 1024;
    let chunk = 300_000; // does not divide the part size: chunks get split across parts
    let (body, pulled) = counted(22 * MIB, chunk);
    let mut r = PartReader::new(body, None);
    let mut sizes = Vec::new();
    loop {
        let part = r.next_part().await.unwrap();
        assert!(part.data.len() <= PART_SIZE);
        // each part's Content-MD5 is of exactly its bytes, though chunks were split
        let want = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&part.data));
        assert_eq!(part.md5, want);
        // Never more than one part (plus the chunk being split) pulled ahead of the upload.
        let uploaded: usize = sizes.iter().sum();
        assert!(pulled.load(Ordering::SeqCst) <= uploaded + PART_SIZE + chunk);
        sizes.push(part.data.len());
        if r.eof {
            break;
        }
    }
    assert_eq!(sizes, [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 2 * MIB]);
    let (bytes, _) = r.digests.finish();
    assert_eq!(bytes, 22 * MIB as u64);

    // A body that ends exactly on a part boundary yields a final empty part.
    let (body, _) = counted(2 * PART_SIZE, MIB);
    let mut r = PartReader::new(body, Some(2 * PART_SIZE as u64));
    assert_eq!(r.next_part().await.unwrap().data.len(), PART_SIZE);
    assert_eq!(r.next_part().await.unwrap().data.len(), PART_SIZE);
    assert!(!r.eof);
    assert!(r.next_part().await.unwrap().data.is_empty() && r.eof);
}

#[test]
fn a_body_too_large_for_ten_thousand_parts_gets_larger_parts() {
    const MIB: u64 = 1 << 20;
    let size =
        |len: Option<u64>| PartReader::new(Box::pin(futures_util::stream::empty()), len).part_size;
    assert_eq!(size(None), PART_SIZE);
    assert_eq!(size(Some(4_000_000_000)), PART_SIZE);
    assert_eq!(size(Some(MAX_PARTS * PART_SIZE as u64)), PART_SIZE);
    // one byte more: the next whole MiB
    assert_eq!(
        size(Some(MAX_PARTS * PART_SIZE as u64 + 1)),
        PART_SIZE + MIB as usize
    );
    let big = 100 * 1024 * MIB; // 100 GiB
    let part = size(Some(big)) as u64;
    assert!(part * MAX_PARTS >= big && part.is_multiple_of(MIB));
    // a length no upload can have: S3's largest part, not an impossible one
    assert_eq!(size(Some(u64::MAX)), MAX_PART_SIZE);
}

#[tokio::test]
async fn a_false_length_does_not_reserve_memory() {
    // The sender claims 2^64-1 bytes and sends 6 MiB: the buffer follows what arrived
    // (reserving a part sized from the claim would abort the process).
    const MIB: usize = 1024 * 1024;
    let (body, _) = counted(6 * MIB, MIB);
    let mut r = PartReader::new(body, Some(u64::MAX));
    let part = r.next_part().await.unwrap();
    assert!(r.eof);
    assert_eq!(part.data.len(), 6 * MIB);
}

#[tokio::test]
async fn an_uploaded_part_buffer_is_reused_by_the_next_part() {
    let chunk = 300_000; // each chunk's bytes hold its offset (as u8): parts differ
    let (body, _) = counted(3 * PART_SIZE, chunk);
    let mut r = PartReader::new(body, Some(3 * PART_SIZE as u64));
    let first = r.next_part().await.unwrap();
    let at = first.data.as_ptr();
    // still held elsewhere (a request being retried): not reused
    let held = first.data.clone();
    r.spare.give(first.data);
    let second = r.next_part().await.unwrap();
    assert_ne!(second.data.as_ptr(), at);
    drop(held);
    // the upload let go: the next part is read into the same memory, bytes all new
    let second_at = second.data.as_ptr();
    r.spare.give(second.data);
    let third = r.next_part().await.unwrap();
    assert_eq!(third.data.as_ptr(), second_at);
    assert_eq!(third.data.len(), PART_SIZE);
    let offset = 2 * PART_SIZE;
    assert!(third
        .data
        .iter()
        .enumerate()
        .all(|(i, b)| *b == ((offset + i) / chunk * chunk) as u8));
    let want = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&third.data));
    assert_eq!(third.md5, want);
}
