//! Ingest: a media server hands over a finished recording; it is acknowledged once durable
//! and then delivered where the settings say (CouchDB attachment, S3 via the storage plan,
//! an http URL), with retries; a restart resumes delivery; nothing is lost or duplicated.

use crate::helpers::*;
use kazoo_rec::domain::ids::AccountId;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn ingest(app: &TestApp, acct: &str, meta: Value, audio: Vec<u8>) -> (u16, Value) {
    let resp = app
        .client
        .put(format!("{}/rec_ext/ingest/{acct}", app.base))
        .header("x-recording-metadata", meta.to_string())
        .header("content-type", "audio/mpeg")
        .body(audio)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Wait until the recording's document has its audio (or give up after a while).
async fn wait_delivered(app: &TestApp, acct: &str, id: &str, external: bool) -> Value {
    let account = AccountId::parse(acct).unwrap();
    let db = account.modb(id[..4].parse().unwrap(), id[4..6].parse().unwrap());
    for _ in 0..100 {
        if let Some(doc) = app.couch().get(&db, id).await.unwrap() {
            let key = if external {
                "pvt_attachments"
            } else {
                "_attachments"
            };
            if doc.get(key).is_some() {
                return doc;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("recording {id} was not delivered");
}

fn meta(call_id: &str) -> Value {
    json!({"call_id": call_id, "from": "1001@x.example.com", "to": "+14155550100@x.example.com", "direction": "outbound",
           "caller_id_name": "Ann", "caller_id_number": "1001", "callee_id_number": "+14155550100", "duration_ms": 12_000,
           "interaction_id": "63880000000-abcd", "origin": "outbound to offnet from endpoint", "format": "mp3"})
}

#[tokio::test]
async fn couch_attachment_destination_and_api_download() {
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let audio = kazoo_rec::testdata::fake_mp3(200_000);
    let (status, body) = ingest(&app, &acct, meta("call-1"), audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["bytes"], 200_000);
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let doc = wait_delivered(&app, &acct, &id, false).await;
    for k in [
        "name",
        "description",
        "content_type",
        "media_type",
        "media_source",
        "from",
        "to",
        "direction",
        "start",
        "duration",
        "duration_ms",
        "call_id",
        "cdr_id",
        "interaction_id",
        "origin",
        "custom_channel_vars",
        "pvt_created",
    ] {
        assert!(doc.get(k).is_some(), "{k}");
    }
    assert_eq!(doc["cdr_id"], format!("{}-call-1", &id[..6]));
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
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        audio.as_slice(),
        "what lands equals what was sent"
    );
    // the same call recorded again (stop + restart): a second recording, not an overwrite
    let (_, second) = ingest(&app, &acct, meta("call-1"), b"second".to_vec()).await;
    assert_ne!(second["data"]["id"], id.as_str());
    // a recording shorter than record_min_sec is discarded
    let mut short = meta("call-2");
    short["record_min_sec"] = json!(30);
    let (status, body) = ingest(&app, &acct, short, b"x".to_vec()).await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["stored"], false);
    // bad input: no metadata, no call id, unknown account
    let r = app
        .raw(
            Method::PUT,
            &format!("/rec_ext/ingest/{acct}"),
            &[],
            Some(b"x".to_vec()),
        )
        .await;
    assert_eq!(r.status, 400);
    let (status, _) = ingest(&app, &acct, json!({"from": "x"}), b"x".to_vec()).await;
    assert_eq!(status, 400);
    let (status, _) = ingest(&app, &"0".repeat(32), meta("c"), b"x".to_vec()).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn http_destination_retried_until_it_answers() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    // the destination fails twice, then accepts
    Mock::given(method("PUT"))
        .and(path_regex("^/rec/call_recording_call-9\\.mp3$"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/rec/call_recording_call-9\\.mp3$"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let app = spawn_with(cfg).await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let mut m = meta("call-9");
    m["url"] = json!(format!("{}/rec/", server.uri()));
    let audio = kazoo_rec::testdata::fake_mp3(10_000);
    let (status, body) = ingest(&app, &acct, m, audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    // backoff: 2 s, then 4 s
    let doc = wait_delivered(&app, &acct, &id, true).await;
    assert_eq!(
        doc["pvt_attachments"][doc["name"].as_str().unwrap()]["handler"]["kazoo_rec"]["kind"],
        "http"
    );
    let received: Vec<_> = server.received_requests().await.unwrap();
    let ok = received.last().unwrap();
    assert_eq!(ok.body, audio, "checksum equal: the same bytes arrived");
    let q = ok.url.query().unwrap();
    assert!(
        q.contains("from=1001%40x.example.com")
            && q.contains(&format!("account_id={acct}"))
            && q.contains("call_id=call-9"),
        "{q}"
    );
    assert_eq!(received.len(), 3);
    // the failures were recorded as KAZOO records them
    let account = AccountId::parse(&acct).unwrap();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    let rows = app
        .couch()
        .view(
            &account.modb(y, m),
            "att_handlers_errors",
            "crossbar_listing",
            &Default::default(),
        )
        .await
        .unwrap();
    println!(
        "HTTP destination 500, 500 then 200: 1 acknowledged, {} attempts, {} failures recorded, delivered once, checksum equal",
        received.len(),
        rows.len()
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].value["resp_code"], 500);
    // and are visible to administrators through KAZOO's att_handlers_errors API
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/att_handlers_errors"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.body["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let eid = listed[0]["id"].as_str().unwrap();
    let r = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}/att_handlers_errors/{eid}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["handler_id"], "overridden");
    assert!(r.body["data"]["req_url"]
        .as_str()
        .unwrap()
        .contains("/rec/call_recording_call-9.mp3"));
}

#[tokio::test]
async fn s3_destination_from_the_storage_plan() {
    let Some(url) = s3_url() else {
        return;
    };
    let app = spawn_with_local_urls().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let bucket = format!("ing-{}", uniq());
    assert!(reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let h = "abcdefabcdefabcdefabcdefabcdefab";
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
    let audio = kazoo_rec::testdata::fake_mp3(3 * 1024 * 1024);
    let (status, body) = ingest(&app, &acct, meta("call-s3"), audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let doc = wait_delivered(&app, &acct, &id, true).await;
    let stub = &doc["pvt_attachments"][doc["name"].as_str().unwrap()];
    assert_eq!(stub["handler"]["kazoo_rec"]["kind"], "s3");
    assert!(
        doc.get("_attachments").is_none(),
        "the audio is on S3, not in CouchDB"
    );
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
    assert_eq!(resp.bytes().await.unwrap().as_ref(), audio.as_slice());
}

#[tokio::test]
async fn a_restart_resumes_delivery_from_the_spool() {
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    let spool_dir = cfg.spool_dir.clone();
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    // a destination that is down: the recording is acknowledged and waits in the spool
    let mut m = meta("call-r");
    m["url"] = json!("http://127.0.0.2:9/down/");
    let (status, body) = ingest(&app, &acct, m, b"resume me".to_vec()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let metrics: Value = app
        .client
        .get(format!("{}/rec_ext/spool", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["data"]["pending"], 1);
    // a new instance on the same spool sees the job (what a restart after a crash does)
    let mut cfg = settings();
    cfg.spool_dir = spool_dir;
    let app2 = spawn_with(cfg).await;
    let metrics: Value = app2
        .client
        .get(format!("{}/rec_ext/spool", app2.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["data"]["pending"], 1);
    let pending = app2.state.spool.pending().await.unwrap();
    assert_eq!(pending[0].doc_id, id);
}

#[tokio::test]
async fn ftps_destination_receives_the_same_bytes() {
    let (Ok(ftps), Ok(root), Ok(ca)) = (
        std::env::var("FTPS_URL"),
        std::env::var("FTP_ROOT"),
        std::env::var("FTPS_CA"),
    ) else {
        assert!(
            std::env::var("CI").is_err(),
            "FTPS_URL, FTP_ROOT and FTPS_CA must be set in CI"
        );
        return;
    };
    let mut cfg = settings();
    cfg.allow_local_urls = true;
    cfg.ftps_ca_file = Some(ca);
    let app = spawn_with(cfg).await;
    let (acct, _, _) = app.account_with_admin(None).await;
    let dir = format!("ingest-{}", uniq());
    let mut m = meta("call-ftp");
    m["url"] = json!(format!(
        "{}/{dir}/calls",
        ftps.replace("ftps://", "ftps://rec:recpw@")
    ));
    let audio = kazoo_rec::testdata::fake_mp3(1024 * 1024);
    let (status, body) = ingest(&app, &acct, m, audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        !body.to_string().contains("recpw"),
        "credentials are not echoed: {body}"
    );
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let doc = wait_delivered(&app, &acct, &id, true).await;
    assert_eq!(
        doc["pvt_attachments"][doc["name"].as_str().unwrap()]["handler"]["kazoo_rec"]["kind"],
        "ftps"
    );
    let landed = std::fs::read(
        std::path::Path::new(&root)
            .join(&dir)
            .join("calls")
            .join("call_recording_call-ftp.mp3"),
    )
    .unwrap();
    assert_eq!(landed, audio, "checksum equal");
}

#[tokio::test]
async fn a_month_database_deleted_by_someone_else_is_set_up_again() {
    // The service remembers a month's database as set up for a while (to save round trips
    // on every write); another client (KAZOO) deletes it meanwhile. The next recording must
    // still be stored, listed through the views, and the views must be back.
    let app = spawn_app().await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let (status, body) = ingest(&app, &acct, meta("call-a"), b"first".to_vec()).await;
    assert_eq!(status, 201, "{body}");
    let first = body["data"]["id"].as_str().unwrap().to_string();
    wait_delivered(&app, &acct, &first, false).await;
    let account = AccountId::parse(&acct).unwrap();
    let db = account.modb(first[..4].parse().unwrap(), first[4..6].parse().unwrap());
    let outside = kazoo_rec::couch::Couch::connect(&couch_url()).unwrap();
    outside.delete_db(&db).await.unwrap();

    let (status, body) = ingest(&app, &acct, meta("call-b"), b"second".to_vec()).await;
    assert_eq!(status, 201, "{body}");
    let second = body["data"]["id"].as_str().unwrap().to_string();
    wait_delivered(&app, &acct, &second, false).await;
    let path = format!("/v2/accounts/{acct}/recordings");
    let r = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(listed, [second.as_str()]);
    let views = outside.get(&db, "_design/recordings").await.unwrap();
    assert!(views.is_some(), "the month's views are back");
}
