//! The `http` handler against wiremock receivers: verbs, multipart framing, error answers,
//! ranges, and the settings probe (round trip and a server that never answers).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::*;

fn http_entry(server: &MockServer, extra: Value) -> Handler {
    let mut settings = json!({"url": format!("{}/prefix/", server.uri())});
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    Handler::from_attachment(&json!({"handler": "http", "settings": settings})).unwrap()
}

#[tokio::test]
async fn http_put_and_post_stream_the_raw_body() {
    let server = MockServer::start().await;
    let data = gen_bytes(3, 100_000);
    let c = PathContext {
        doc_id: "doc1".into(),
        ..ctx("rec.mp3")
    };
    for (verb, extra) in [("PUT", json!({})), ("POST", json!({"verb": "post"}))] {
        server.reset().await;
        Mock::given(method(verb))
            .and(path(format!("/prefix/{ACCOUNT}/own/doc1/rec.mp3")))
            .respond_with(ResponseTemplate::new(201).insert_header("etag", "\"abc\""))
            .expect(1)
            .mount(&server)
            .await;
        let h = http_entry(&server, extra);
        let stored = h
            .put(&c, audio(data.len() as u64), body::once(data.clone()))
            .await
            .unwrap();
        assert_eq!(
            stored.location,
            json!({"url": format!("{}/prefix/{ACCOUNT}/own/doc1/rec.mp3", server.uri())})
        );
        assert_eq!(stored.etag.as_deref(), Some("abc"));
        assert_eq!(stored.md5_hex, hex::encode(Md5::digest(&data)));
        let reqs = server.received_requests().await.unwrap();
        assert_eq!(reqs[0].body, data, "{verb}: the raw bytes");
        assert_eq!(reqs[0].headers.get("content-type").unwrap(), "audio/mpeg");
        server.verify().await;
    }
}

#[tokio::test]
async fn http_multipart_with_and_without_base64() {
    use base64::Engine as _;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let data = gen_bytes(5, 70_001);
    let c = PathContext {
        doc_id: "doc2".into(),
        ..ctx("rec.mp3")
    };
    for b64 in [false, true] {
        let h = http_entry(
            &server,
            json!({"send_multipart": true, "base64_encode_data": b64}),
        );
        let stored = h
            .put(&c, audio(data.len() as u64), body::once(data.clone()))
            .await
            .unwrap();
        assert_eq!(stored.bytes, data.len() as u64);
        assert_eq!(
            stored.location.get("base64_encode_data"),
            b64.then_some(&json!(true))
        );
        let req = server.received_requests().await.unwrap().pop().unwrap();
        let ct = req
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .expect(&ct);
        let file: Vec<u8> = if b64 {
            base64::engine::general_purpose::STANDARD
                .encode(&data)
                .into_bytes()
        } else {
            data.clone()
        };
        let mut expected = format!(
            "\r\n--{boundary}\r\ncontent-disposition: form-data; name=doc2\r\n\
             content-type: application/json\r\n\r\n{{\"owner_id\":\"own\",\"call_id\":\"c1@host\"}}\
             \r\n--{boundary}\r\ncontent-disposition: form-data; name=rec.mp3\r\n\
             content-type: audio/mpeg\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(&file);
        expected.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
        assert!(
            req.body == expected,
            "multipart body differs (base64: {b64})"
        );
        assert_eq!(
            req.headers.get("content-length").unwrap().to_str().unwrap(),
            expected.len().to_string()
        );
    }
}

#[tokio::test]
async fn http_error_answer_keeps_code_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let h = http_entry(&server, json!({}));
    match h
        .put(&ctx("a.mp3"), audio(3), body::once(&b"abc"[..]))
        .await
    {
        Err(StorageError::Backend {
            code,
            message,
            body,
        }) => {
            assert_eq!(code, Some(500));
            assert_eq!(message, "Internal Server Error");
            assert_eq!(body.as_deref(), Some("boom"));
        }
        other => panic!("expected a 500 backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn http_get_serves_ranges_even_when_the_server_ignores_them() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stored.mp3"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"0123456789".to_vec(), "audio/mpeg"))
        .mount(&server)
        .await;
    let h = http_entry(&server, json!({}));
    let loc = json!({"url": format!("{}/stored.mp3", server.uri())});
    let (meta, got) = h.get(&loc, Some((2, Some(5)))).await.unwrap();
    assert_eq!(meta, audio(10));
    assert_eq!(collect(got).await, b"2345");
    let (_, got) = h.get(&loc, Some((7, None))).await.unwrap();
    assert_eq!(collect(got).await, b"789");
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent[0].headers.get("range").unwrap(), "bytes=2-5");
}

/// A tiny object store: PUT keeps the body per path, GET returns it, DELETE drops it.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>);

impl Respond for Store {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut m = self.0.lock().unwrap();
        let key = req.url.path().to_string();
        match req.method.as_str() {
            "PUT" | "POST" => {
                m.insert(key, req.body.clone());
                ResponseTemplate::new(201)
            }
            "GET" => match m.get(&key) {
                Some(b) => ResponseTemplate::new(200).set_body_bytes(b.clone()),
                None => ResponseTemplate::new(404),
            },
            "DELETE" => {
                m.remove(&key);
                ResponseTemplate::new(204)
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

#[tokio::test]
async fn http_probe_round_trip_and_slow_server_timeout() {
    let server = MockServer::start().await;
    let store = Store::default();
    Mock::given(wiremock::matchers::any())
        .respond_with(store.clone())
        .mount(&server)
        .await;
    let h = http_entry(&server, json!({}));
    h.probe_for_account(ACCOUNT).await.expect("probe");
    assert!(store.0.lock().unwrap().is_empty(), "probe object deleted");
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0]
        .url
        .path()
        .starts_with(&format!("/prefix/{ACCOUNT}/")));
    assert!(reqs[0].url.path().ends_with("_test_credentials_file.txt"));
    assert!(String::from_utf8_lossy(&reqs[0].body).starts_with("some random content: "));

    let slow = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(120)))
        .mount(&slow)
        .await;
    let h = http_entry(&slow, json!({}));
    let started = Instant::now();
    let err = h.probe().await.unwrap_err();
    assert!(matches!(err, StorageError::Timeout), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
}
