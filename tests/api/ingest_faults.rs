//! Ingest under faults: a recording restarted within a call, a document the ingest could not
//! write, a hanging destination, connections reset, and the service killed with SIGKILL in
//! the middle of an upload. In every case nothing is lost, nothing is duplicated, and no
//! document is left without its audio.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use kazoo_rec::ingest::spool::Job;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn ingest_to(base: &str, acct: &str, meta: &Value, audio: Vec<u8>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .put(format!("{base}/rec_ext/ingest/{acct}"))
        .header("x-recording-metadata", meta.to_string())
        .body(audio)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn meta(call_id: &str, url: Option<String>) -> Value {
    let mut m = json!({"call_id": call_id, "from": "1001@x.example.com", "to": "2002@x.example.com",
                       "direction": "inbound", "duration_ms": 5_000, "format": "mp3"});
    if let Some(u) = url {
        m["url"] = json!(u);
    }
    m
}

fn modb_of(acct: &str, id: &str) -> String {
    AccountId::parse(acct)
        .unwrap()
        .modb(id[..4].parse().unwrap(), id[4..6].parse().unwrap())
}

/// Wait for `check` to hold, polling; panics with `what` after `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn delivered(app: &TestApp, db: &str, id: &str) -> bool {
    app.couch()
        .get(db, id)
        .await
        .ok()
        .flatten()
        .is_some_and(|d| d.get("pvt_attachments").is_some() || d.get("_attachments").is_some())
}

#[tokio::test]
async fn a_restarted_recording_is_a_second_file_not_an_overwrite() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let url = Some(format!("{}/rec/", server.uri()));
    let (s1, first) = ingest_to(
        &app.base,
        &acct,
        &meta("call-rs", url.clone()),
        b"first".into(),
    )
    .await;
    let (s2, second) = ingest_to(&app.base, &acct, &meta("call-rs", url), b"second".into()).await;
    assert_eq!((s1, s2), (201, 201), "{first} {second}");
    let (id1, id2) = (
        first["data"]["id"].as_str().unwrap().to_string(),
        second["data"]["id"].as_str().unwrap().to_string(),
    );
    let db = modb_of(&acct, &id1);
    eventually(30, "both delivered", || async {
        delivered(&app, &db, &id1).await && delivered(&app, &db, &id2).await
    })
    .await;
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2, "one upload each, no retries");
    let mut by_path: Vec<(String, Vec<u8>)> = received
        .iter()
        .map(|r| (r.url.path().to_string(), r.body.clone()))
        .collect();
    by_path.sort();
    assert_ne!(by_path[0].0, by_path[1].0, "two names: {by_path:?}");
    // one of them has KAZOO's name; the other adds its document id
    let plain = "/rec/call_recording_call-rs.mp3";
    let (kazoo_named, other) = if by_path[0].0 == plain {
        (&by_path[0], &by_path[1])
    } else {
        (&by_path[1], &by_path[0])
    };
    assert_eq!(kazoo_named.0, plain, "{by_path:?}");
    assert!(
        other.0 == format!("/rec/call_recording_call-rs_{id1}.mp3")
            || other.0 == format!("/rec/call_recording_call-rs_{id2}.mp3"),
        "{}",
        other.0
    );
    let mut bodies = vec![kazoo_named.1.clone(), other.1.clone()];
    bodies.sort();
    assert_eq!(bodies, vec![b"first".to_vec(), b"second".to_vec()]);
}

#[tokio::test]
async fn the_worker_writes_a_document_the_ingest_could_not() {
    // What an ingest acknowledged while CouchDB was unavailable leaves behind: a committed
    // job whose document is not in the database yet.
    let app = spawn_app().await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    let doc_id = format!("{y:04}{m:02}-{}", kazoo_rec::domain::ids::new_id());
    let db = account.modb(y, m);
    let audio = b"written later".to_vec();
    let job_id = format!("{doc_id}-late");
    let (bytes, md5) = app
        .state
        .spool
        .write_audio(
            &job_id,
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(
                audio.clone(),
            ))]),
            1 << 20,
        )
        .await
        .unwrap();
    let job = Job {
        id: job_id,
        account_id: acct.clone(),
        db: db.clone(),
        doc_id: doc_id.clone(),
        attachment: "late.mp3".into(),
        content_type: "audio/mpeg".into(),
        bytes,
        md5_hex: md5,
        destination: json!({"kind": "couch"}),
        attempts: 0,
        not_before: 0,
        last_error: None,
        created: kazoo_rec::domain::time::now_unix(),
        doc: Some(
            json!({"_id": doc_id, "name": "late.mp3", "call_id": "call-late",
                          "pvt_type": "call_recording", "pvt_account_id": acct,
                          "pvt_created": kazoo_rec::domain::time::now_gregorian()}),
        ),
        remote_name: None,
    };
    app.state.spool.commit(&job).await.unwrap();
    eventually(30, "the worker wrote and attached", || {
        delivered(&app, &db, &doc_id)
    })
    .await;
    let got = app
        .couch()
        .get_attachment(&db, &doc_id, "late.mp3", None)
        .await
        .unwrap();
    let body = got.map(|a| a.body).unwrap();
    let data: Vec<u8> =
        futures_util::TryStreamExt::try_concat(futures_util::TryStreamExt::map_ok(body, |b| {
            b.to_vec()
        }))
        .await
        .unwrap();
    assert_eq!(data, audio);
}

#[tokio::test]
async fn a_hanging_destination_does_not_hold_up_other_recordings() {
    let hanging = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(600)))
        .mount(&hanging)
        .await;
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let (s, slow) = ingest_to(
        &app.base,
        &acct,
        &meta("call-slow", Some(format!("{}/rec", hanging.uri()))),
        b"slow".into(),
    )
    .await;
    assert_eq!(s, 201);
    // let the worker start the hanging delivery first
    eventually(10, "the hanging upload started", || async {
        !hanging
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    })
    .await;
    let (s, quick) = ingest_to(&app.base, &acct, &meta("call-quick", None), b"quick".into()).await;
    assert_eq!(s, 201);
    let id = quick["data"]["id"].as_str().unwrap().to_string();
    let db = modb_of(&acct, &id);
    eventually(15, "the other recording delivered meanwhile", || {
        delivered(&app, &db, &id)
    })
    .await;
    let slow_id = slow["data"]["id"].as_str().unwrap();
    assert!(!delivered(&app, &db, slow_id).await);
}

/// A TCP front that resets the first `resets` connections, then forwards to `target`.
async fn resetting_proxy(resets: usize, target: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Ok((mut inbound, _)) = listener.accept().await {
            seen += 1;
            if seen <= resets {
                // linger 0: close() sends RST instead of FIN
                let _ = inbound.set_zero_linger();
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn connection_resets_are_retried_until_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let front = resetting_proxy(2, *server.address()).await;
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let audio = kazoo_rec::testdata::fake_mp3(300_000);
    let (s, body) = ingest_to(
        &app.base,
        &acct,
        &meta("call-reset", Some(format!("http://{front}/rec/"))),
        audio.clone(),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let db = modb_of(&acct, &id);
    // backoff 2 s then 4 s
    eventually(30, "delivered after two resets", || {
        delivered(&app, &db, &id)
    })
    .await;
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "exactly one upload got through");
    assert_eq!(received[0].body, audio, "checksum equal");
    let errors = app
        .couch()
        .view(
            &db,
            "att_handlers_errors",
            "crossbar_listing",
            &Default::default(),
        )
        .await
        .unwrap();
    // a fresh account: every error in its MODB is this recording's
    println!(
        "connection resets: 1 acknowledged, {} upload(s) got through, {} failed attempts recorded",
        received.len(),
        errors.len()
    );
    assert!(errors.len() >= 2, "both failures recorded: {errors:?}");
}

/// The real binary, so it can be killed with SIGKILL.
struct Service {
    child: std::process::Child,
    base: String,
}

impl Service {
    async fn start(spool: &std::path::Path) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kazoo-rec"))
            .arg("serve")
            .env("COUCHDB_URL", couch_url())
            .env("KAZOO_REC_BIND", format!("127.0.0.1:{port}"))
            .env("KAZOO_REC_SPOOL_DIR", spool)
            .env("KAZOO_REC_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("KAZOO_REC_ALLOW_LOCAL_URLS", "true")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let probe = reqwest::Client::new();
        let url = format!("{base}/rec_ext/spool");
        eventually(60, "the service answers", || {
            let req = probe.get(&url).send();
            async move { req.await.is_ok() }
        })
        .await;
        Service { child, base }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL on unix
        self.child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spool_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn killed_mid_upload_leaves_no_half_document_and_the_spool_resumes() {
    // in-process app first: the master account exists before the binary bootstraps
    let app = spawn_app().await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let dest = MockServer::start().await; // nothing mounted yet: every upload gets a 404
    let spool = std::env::temp_dir().join(format!("kill-spool-{}", uniq()));
    let mut svc = Service::start(&spool).await;

    // A: acknowledged while the destination refuses it
    let audio_a = kazoo_rec::testdata::fake_mp3(500_000);
    let (s, a) = ingest_to(
        &svc.base,
        &acct,
        &meta("call-kill-a", Some(format!("{}/rec/", dest.uri()))),
        audio_a.clone(),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id_a = a["data"]["id"].as_str().unwrap().to_string();

    // B: an upload still streaming when the service is killed
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(receiver));
    let url = format!("{}/rec_ext/ingest/{acct}", svc.base);
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(url)
            .header(
                "x-recording-metadata",
                meta("call-kill-b", None).to_string(),
            )
            .body(body)
            .send(),
    );
    sender
        .send(Ok(bytes::Bytes::from(vec![7u8; 256 * 1024])))
        .await
        .unwrap();
    eventually(20, "B is being spooled", || async {
        spool_files(&spool)
            .iter()
            .any(|f| f.ends_with(".audio.tmp"))
    })
    .await;
    svc.kill();
    drop(sender);
    assert!(upload.await.unwrap().is_err(), "B was never acknowledged");

    // B left no document; A's job is still pending
    let account = AccountId::parse(&acct).unwrap();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    let db = account.modb(y, m);
    let calls = call_ids(&app, &db).await;
    let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
    assert!(
        !calls.contains(&"call-kill-b"),
        "no half document: {calls:?}"
    );
    assert!(calls.contains(&"call-kill-a"));
    assert!(
        spool_files(&spool).iter().any(|f| f.ends_with(".job.json")),
        "A waits in the spool"
    );

    // the destination comes back, the service restarts on the same spool
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&dest)
        .await;
    let svc = Service::start(&spool).await;
    eventually(60, "A delivered after the restart", || {
        delivered(&app, &db, &id_a)
    })
    .await;
    let ok: Vec<_> = dest
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/rec/call_recording_call-kill-a.mp3")
        .collect();
    assert!(!ok.is_empty());
    assert_eq!(ok.last().unwrap().body, audio_a, "checksum equal");
    eventually(10, "the spool is empty", || async {
        spool_files(&spool).is_empty()
    })
    .await;
    let calls = call_ids(&app, &db).await;
    let a_docs = calls.iter().filter(|c| *c == "call-kill-a").count();
    let b_docs = calls.iter().filter(|c| *c == "call-kill-b").count();
    println!(
        "SIGKILL mid-upload: 1 acknowledged before the kill, delivered {a_docs} time(s) after the restart ({} attempt(s) at the destination); the cut upload left {b_docs} document(s); spool empty",
        dest.received_requests().await.unwrap().len()
    );
    assert_eq!((a_docs, b_docs), (1, 0), "no duplicate, no half document");
    drop(svc);
    let _ = std::fs::remove_dir_all(&spool);
}

/// The call ids of the recording documents in a MODB.
async fn call_ids(app: &TestApp, db: &str) -> Vec<String> {
    let opts = kazoo_rec::couch::ViewOpts {
        include_docs: true,
        ..Default::default()
    };
    app.couch()
        .view(db, "recordings", "crossbar_listing", &opts)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.doc?.get("call_id")?.as_str().map(str::to_string))
        .collect()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
