//! The recording proxy behind `kazoo-rec record`: forwards every request to the target
//! (a real KAZOO), answers with its response, and rewrites the fixture file after each
//! exchange (so stopping the proxy at any time loses nothing). Bodies are held in memory
//! (they are API calls, capped at 16 MiB) because they are written into the fixture.

use super::record::{Exchange, Recorder};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;

const MAX_BODY: usize = 16 * 1024 * 1024;

struct Proxy {
    target: String,
    out: PathBuf,
    client: reqwest::Client,
    recorder: Mutex<Recorder>,
}

/// Start the proxy on `listener`; the returned server runs until stopped.
pub fn start(
    listener: std::net::TcpListener,
    target: &str,
    out: PathBuf,
    description: String,
) -> anyhow::Result<actix_web::dev::Server> {
    let proxy = Arc::new(Proxy {
        target: target.trim_end_matches('/').to_string(),
        out,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(120))
            .build()?,
        recorder: Mutex::new(Recorder::new(description)),
    });
    let data = web::Data::from(proxy);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .default_service(web::to(forward))
    })
    .listen(listener)?
    .workers(2)
    .run())
}

async fn forward(req: HttpRequest, body: web::Bytes, proxy: web::Data<Proxy>) -> HttpResponse {
    let url = match req.query_string() {
        "" => format!("{}{}", proxy.target, req.path()),
        q => format!("{}{}?{q}", proxy.target, req.path()),
    };
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut rb = proxy.client.request(method, &url);
    let mut request_headers = vec![];
    for (k, v) in req.headers() {
        if matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "accept-encoding"
        ) {
            continue;
        }
        if let Ok(v) = v.to_str() {
            rb = rb.header(k.as_str(), v);
            request_headers.push((k.as_str().to_string(), v.to_string()));
        }
    }
    let resp = match rb.body(body.to_vec()).send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "target unreachable");
            return HttpResponse::BadGateway()
                .body(format!("kazoo-rec record: target unreachable: {e}"));
        }
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let exchange = Exchange {
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: url::form_urlencoded::parse(req.query_string().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        request_headers,
        request_body: body.to_vec(),
        status,
        response_content_type: content_type,
        response_body: bytes.to_vec(),
    };
    if req.method() != actix_web::http::Method::OPTIONS {
        let fixture = {
            let mut r = proxy.recorder.lock();
            r.push(&exchange);
            r.fixture()
        };
        if let Err(e) = write_atomically(&proxy.out, &fixture) {
            tracing::error!(error = %e, file = %proxy.out.display(), "could not write the fixture");
        }
    }
    let mut out = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
    );
    for (k, v) in &headers {
        if matches!(
            k.as_str(),
            "transfer-encoding" | "connection" | "content-length"
        ) {
            continue;
        }
        if let Ok(v) = v.to_str() {
            out.insert_header((k.as_str(), v));
        }
    }
    out.body(bytes)
}

fn write_atomically(path: &std::path::Path, fixture: &serde_json::Value) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(fixture).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}
