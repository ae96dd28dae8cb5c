//! FTP/FTPS delivery (`ingest::ftp::upload`) against a real server started by
//! `scripts/ftp.sh` (pyftpdlib, user `rec` / `recpw`): `FTP_URL` (`ftp://127.0.0.1:PORT`),
//! `FTPS_URL` (`ftps://127.0.0.1:PORT`, explicit TLS), `FTP_ROOT` (the user's root directory on
//! disk) and `FTPS_CA` (the test CA, PEM). Without them the tests print a notice and pass, unless
//! `CI` is set.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kazoo_rec::ingest::ftp::upload;
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

const SIZE: usize = 5 * 1024 * 1024;

struct Env {
    ftp: String,
    ftps: String,
    root: PathBuf,
    ca: String,
}

fn env() -> Option<Env> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("FTP_URL"),
        get("FTPS_URL"),
        get("FTP_ROOT"),
        get("FTPS_CA"),
    ) {
        (Some(ftp), Some(ftps), Some(root), Some(ca)) => Some(Env {
            ftp: ftp.trim_end_matches('/').to_owned(),
            ftps: ftps.trim_end_matches('/').to_owned(),
            root: root.into(),
            ca,
        }),
        _ if std::env::var_os("CI").is_some() => {
            panic!("FTP_URL, FTPS_URL, FTP_ROOT and FTPS_CA must be set in CI (scripts/ftp.sh)")
        }
        _ => {
            eprintln!(
                "skipping: FTP_URL/FTPS_URL/FTP_ROOT/FTPS_CA are not set (see scripts/ftp.sh)"
            );
            None
        }
    }
}

/// Adds `user:pass@` to a `scheme://host:port` base URL.
fn with_creds(base: &str, user: &str, pass: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("scheme://host:port");
    format!("{scheme}://{user}:{pass}@{rest}")
}

/// A unique name per test run, so reruns against the same server never see old files.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}_{}_{nanos}", std::process::id())
}

/// Writes a 5 MiB file of non-repeating, non-text bytes (CR/LF included, so an ASCII-mode
/// transfer would corrupt it) and returns its path and md5.
async fn sample_file(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let mut data = Vec::with_capacity(SIZE);
    let mut x: u32 = 0x1234_5678;
    while data.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
        data.extend_from_slice(b"\r\n\n");
    }
    data.truncate(SIZE);
    let mut f = tokio::fs::File::create(&path).await.expect("create sample");
    f.write_all(&data).await.expect("write sample");
    f.flush().await.expect("flush sample");
    (path, hex::encode(Md5::digest(&data)))
}

async fn round_trip(base: &str, root: &Path, ca: Option<&str>, tag: &str) {
    let tmp = std::env::temp_dir().join(unique(tag));
    tokio::fs::create_dir_all(&tmp).await.expect("tmp dir");
    let (src, md5) = sample_file(&tmp, "call_recording_x.mp3").await;
    let top = unique(tag);
    let rel = format!("{top}/nested/deeper/call_recording_x.mp3");
    let target = format!("{}/{rel}", with_creds(base, "rec", "recpw"));

    let file = tokio::fs::File::open(&src).await.expect("open sample");
    upload(&target, file, ca).await.expect("upload");

    let stored = tokio::fs::read(root.join(&rel)).await.expect("stored file");
    assert_eq!(stored.len(), SIZE);
    assert_eq!(hex::encode(Md5::digest(&stored)), md5);

    // A second upload into the now-existing directory replaces the file.
    let file = tokio::fs::File::open(&src).await.expect("open sample");
    upload(&target, file, ca)
        .await
        .expect("upload into existing dir");

    let _ = tokio::fs::remove_dir_all(root.join(&top)).await;
    let _ = tokio::fs::remove_dir_all(&tmp).await;
}

#[tokio::test]
async fn ftp_upload_into_missing_nested_directory() {
    let Some(env) = env() else { return };
    round_trip(&env.ftp, &env.root, None, "ftp").await;
}

#[tokio::test]
async fn ftps_upload_into_missing_nested_directory() {
    let Some(env) = env() else { return };
    round_trip(&env.ftps, &env.root, Some(&env.ca), "ftps").await;
}

#[tokio::test]
async fn ftps_without_the_test_ca_is_refused() {
    let Some(env) = env() else { return };
    let target = format!("{}/x.mp3", with_creds(&env.ftps, "rec", "recpw"));
    let file = tokio::fs::File::open(file!()).await.expect("open");
    let err = upload(&target, file, None)
        .await
        .expect_err("untrusted certificate");
    assert!(err.contains("TLS"), "{err}");
}

#[tokio::test]
async fn wrong_password_fails_without_leaking_it() {
    let Some(env) = env() else { return };
    let secret = "Wr0ng-s3cret";
    for (base, ca) in [(&env.ftp, None), (&env.ftps, Some(env.ca.as_str()))] {
        let target = format!("{}/{}/x.mp3", with_creds(base, "rec", secret), unique("pw"));
        let file = tokio::fs::File::open(file!()).await.expect("open");
        let err = upload(&target, file, ca).await.expect_err("wrong password");
        assert!(err.contains("login"), "{err}");
        assert!(!err.contains(secret), "{err}");
    }
}

#[tokio::test]
async fn unreachable_port_fails_fast() {
    let Some(_env) = env() else { return };
    // Bind then drop a listener: the port is (almost certainly) closed afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let target = format!("ftp://rec:recpw@127.0.0.1:{port}/d/x.mp3");
    let file = tokio::fs::File::open(file!()).await.expect("open");
    let started = Instant::now();
    let err = upload(&target, file, None)
        .await
        .expect_err("nothing listens");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(!err.contains("recpw"), "{err}");
}
