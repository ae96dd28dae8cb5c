//! Scenarios `ingest` and `concurrent`: one large recording through the full pipeline
//! (ingest → spool → S3 multipart) against the S3 client uploading the same bytes, with the
//! service's peak RSS per size; then many concurrent ingests: all stored once, checksums equal.
//! Targets: ≥ 0.9× the raw throughput; peak RSS ≤ 64 MiB whatever the size.

use super::cpu::Cpu;
use super::{ratio_line, BenchOpts, Service};
use crate::storage::{Handler, ObjectMeta, PathContext};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use futures_util::StreamExt;
use md5::Digest;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `size` pseudo-random bytes in 1 MiB chunks, generated on the fly (never held whole).
fn body(
    size: u64,
    seed: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut rng = crate::testdata::Rng(seed | 1);
    let mut left = size;
    futures_util::stream::poll_fn(move |_| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = left.min(MIB) as usize;
        left -= n as u64;
        let mut chunk = Vec::with_capacity(n);
        while chunk.len() < n {
            chunk.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        chunk.truncate(n);
        std::task::Poll::Ready(Some(Ok(Bytes::from(chunk))))
    })
}

/// Delete every object in the bucket: each round starts with the S3 server holding no
/// earlier round's objects (s3s-fs keeps them as files; a run wrote gigabytes).
async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<usize> {
    let mut keys = vec![];
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page?
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    for k in &keys {
        s3.delete_object().bucket(bucket).key(k).send().await?;
    }
    Ok(keys.len())
}

async fn md5_of(size: u64, seed: u64) -> String {
    let mut h = md5::Md5::new();
    let mut s = Box::pin(body(size, seed));
    while let Some(Ok(c)) = s.next().await {
        h.update(&c);
    }
    hex::encode(h.finalize())
}

/// Ask the kernel to write dirty pages out now (`sync`), so that a transfer is not slowed by
/// the write-back of the one before it, then give the disk a moment: on a virtual machine the
/// host may still be writing when `sync` returns, and whichever side ran after the other's
/// upload was measured up to 10% slower. Best effort: without `sync`, nothing is flushed.
async fn flush_dirty_pages() {
    let _ = tokio::process::Command::new("sync").status().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn s3_client(opts: &BenchOpts, url: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                &opts.s3_key,
                &opts.s3_secret,
                None,
                None,
                "bench",
            ))
            .endpoint_url(url.trim_end_matches('/'))
            .force_path_style(true)
            .build(),
    )
}

async fn ingest(
    svc: &Service,
    acct: &str,
    call_id: &str,
    size: u64,
    seed: u64,
) -> anyhow::Result<Value> {
    let resp = svc
        .http
        .put(format!("{}/rec_ext/ingest/{acct}", svc.base))
        .header(
            "x-recording-metadata",
            json!({"call_id": call_id, "duration_ms": 60_000, "format": "mp3"}).to_string(),
        )
        .header("content-length", size)
        .body(reqwest::Body::wrap_stream(body(size, seed)))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().as_u16() == 201,
        "ingest answered {}",
        resp.status()
    );
    Ok(resp.json::<Value>().await?["data"].clone())
}

/// Wait until the recording's document points at its object; give up when the service has
/// reported failing deliveries for a minute on end (retries are normal; a stuck handler is
/// not worth waiting half an hour for).
async fn delivered(
    svc: &Service,
    couch: &crate::couch::Couch,
    acct: &crate::domain::ids::AccountId,
    id: &str,
) -> anyhow::Result<()> {
    let db = acct.modb(id[..4].parse()?, id[4..6].parse()?);
    let mut failing_checks = 0;
    for i in 0..36_000 {
        if let Some(d) = couch.get(&db, id).await? {
            if d.get("pvt_attachments").is_some() {
                return Ok(());
            }
        }
        if i % 40 == 39 {
            let url = format!("{}/rec_ext/spool", svc.base);
            let spool: Value = svc.http.get(url).send().await?.json().await?;
            let failing = &spool["data"]["failing_by_handler"];
            if failing.as_object().is_none_or(|f| f.is_empty()) {
                failing_checks = 0;
            } else {
                failing_checks += 1;
            }
            anyhow::ensure!(
                failing_checks < 30,
                "deliveries failing for a minute ({failing}); see GET /v2/accounts/{{A}}/att_handlers_errors"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{id} not delivered")
}

pub async fn run(opts: &BenchOpts, svc: &Service) -> anyhow::Result<()> {
    let url = opts.s3_url.clone().unwrap_or_default();
    let s3 = s3_client(opts, &url);
    let bucket = format!("bench-{}", crate::domain::ids::rand_hex(4));
    s3.create_bucket().bucket(&bucket).send().await?;
    let u = url::Url::parse(&url)?;
    let settings = json!({"bucket": bucket, "key": opts.s3_key, "secret": opts.s3_secret, "host": u.host_str().unwrap_or("127.0.0.1"),
                          "port": u.port_or_known_default().unwrap_or(80), "scheme": u.scheme(), "bucket_access_method": "path",
                          // plain keys: s3s-fs cannot complete multipart uploads whose key holds
                          // `%2F` (KAZOO's default key names the encoded database); real S3 can
                          "field_list": [{"arg": "account_id"}, {"arg": "id"}, {"arg": "attachment"}], "field_separator": "/"});
    let (acct, token, _) = svc.account("ingest").await?;
    let h = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
    svc.call(reqwest::Method::PUT, &format!("/accounts/{acct}/storage"), &token,
        Some(json!({"attachments": {h: {"handler": "s3", "name": "bench", "settings": settings}},
                    "plan": {"modb": {"types": {"call_recording": {"attachments": {"handler": h}}}}}}))).await?;
    let account =
        crate::domain::ids::AccountId::parse(&acct).ok_or_else(|| anyhow::anyhow!("account id"))?;
    let couch = crate::couch::Couch::connect(&opts.couchdb_url)?;
    let raw = Handler::from_attachment(&json!({"handler": "s3", "settings": settings}))?;

    // the bench script's S3 server, when it runs here (its CPU is part of either side's cost)
    let s3_pid = super::cpu::pid_named("s3s-fs");
    if opts.wants("ingest") {
        println!("\ningest: one recording, full pipeline (streamed to S3 while spooled, answered once durable) vs the S3 client");
        let mut n = 0u64;
        for mib in &opts.ingest_mib {
            let size = mib * MIB;
            let (mut raws, mut ours) = (vec![], vec![]);
            for round in 0..opts.ingest_rounds.max(1) {
                n += 1;
                let ctx = PathContext {
                    account_id: acct.clone(),
                    db: "bench".into(),
                    doc_id: format!("raw-{n}"),
                    attachment: "a.mp3".into(),
                    doc: json!({}),
                    folder_path: None,
                };
                let meta = ObjectMeta {
                    content_type: "audio/mpeg".into(),
                    length: Some(size),
                };
                // Each side starts with no dirty pages left by the other (the S3 server
                // writing back the previous upload would slow whichever side runs second),
                // and the order alternates by round.
                let raw_side = || async {
                    flush_dirty_pages().await;
                    let (t, cpu) = (Instant::now(), Cpu::now(svc.pid(), s3_pid));
                    raw.put(&ctx, meta.clone(), Box::pin(body(size, n))).await?;
                    anyhow::Ok((
                        t.elapsed().as_secs_f64(),
                        Cpu::now(svc.pid(), s3_pid).since(&cpu),
                    ))
                };
                let ours_side = || async {
                    flush_dirty_pages().await;
                    let (t, cpu) = (Instant::now(), Cpu::now(svc.pid(), s3_pid));
                    let answer = ingest(svc, &acct, &format!("bench-big-{n}"), size, n).await?;
                    let acked = t.elapsed().as_secs_f64();
                    let id = answer["id"].as_str().unwrap_or_default().to_string();
                    // Stored as it streamed: the answer came once the object and its document
                    // were written, so the clock stops there (the check below is ours, not
                    // the service's work). Spooled: it runs until the worker has delivered.
                    let stored_early = answer["delivered"] == json!(true);
                    let spent = Cpu::now(svc.pid(), s3_pid).since(&cpu);
                    delivered(svc, &couch, &account, &id).await?;
                    let (end, spent) = match stored_early {
                        true => (acked, spent),
                        false => (
                            t.elapsed().as_secs_f64(),
                            Cpu::now(svc.pid(), s3_pid).since(&cpu),
                        ),
                    };
                    anyhow::Ok((answer, acked, end, spent))
                };
                let ((raw_s, raw_cpu), (answer, acked, ours_s, our_cpu)) = if round % 2 == 0 {
                    let r = raw_side().await?;
                    (r, ours_side().await?)
                } else {
                    let o = ours_side().await?;
                    (raw_side().await?, o)
                };
                let md5_ok = answer["md5"].as_str() == Some(md5_of(size, n).await.as_str());
                let how = if answer["delivered"] == json!(true) {
                    "stored as it streamed"
                } else {
                    "spooled, then delivered"
                };
                println!("  {mib:>5} MiB: S3 client {:>6.1} MiB/s; service {:>6.1} MiB/s end to end (acknowledged after {acked:.1} s, {how}); checksum {}; peak RSS so far {:.1} MiB",
                    *mib as f64 / raw_s, *mib as f64 / ours_s, if md5_ok { "equal" } else { "DIFFERENT" }, svc.peak_rss_mib());
                let ms = |s: f64| s * 1000.0 / *mib as f64;
                println!("         CPU ms per MiB: S3 client {:.1} + S3 server {:.1} (machine {:.1}); load generator {:.1} + service {:.1} + S3 server {:.1} (machine {:.1})",
                    ms(raw_cpu[0]), ms(raw_cpu[2]), ms(raw_cpu[3]), ms(our_cpu[0]), ms(our_cpu[1]), ms(our_cpu[2]), ms(our_cpu[3]));
                raws.push(raw_s);
                ours.push(ours_s);
                empty_bucket(&s3, &bucket).await?;
            }
            // each round's two sides ran back to back, so their ratio is also worth reading
            // alone (the machine's speed drifts between rounds more than within one)
            let mut paired: Vec<f64> = raws.iter().zip(&ours).map(|(r, o)| r / o).collect();
            let listed: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
            println!(
                "  per round ours/raw: {} (median {:.2})",
                listed.join(" "),
                median(&mut paired)
            );
            println!(
                "{}",
                ratio_line(
                    &format!("throughput ours/raw at {mib} MiB (medians)"),
                    median(&mut raws),
                    median(&mut ours),
                    ">= 0.9x"
                )
            );
        }
        println!("  (target: peak RSS <= 64 MiB whatever the size)");
    }

    if opts.wants("concurrent") {
        let (n, mib) = (opts.concurrent, opts.concurrent_mib);
        println!("\nconcurrent: {n} ingests of {mib} MiB at once, full pipeline");
        let t = Instant::now();
        let answers: Vec<(usize, anyhow::Result<Value>)> = futures_util::stream::iter(0..n)
            .map(|k| {
                let acct = acct.clone();
                async move {
                    (
                        k,
                        ingest(
                            svc,
                            &acct,
                            &format!("bench-c-{k}"),
                            mib * MIB,
                            1000 + k as u64,
                        )
                        .await,
                    )
                }
            })
            .buffer_unordered(n)
            .collect()
            .await;
        let acked = t.elapsed().as_secs_f64();
        let (mut ok, mut checks, mut ids) = (0, 0, vec![]);
        for (k, a) in &answers {
            let Ok(a) = a else { continue };
            ok += 1;
            ids.push(a["id"].as_str().unwrap_or_default().to_string());
            // the md5 the service computed against the bytes this call generated
            if a["md5"].as_str() == Some(md5_of(mib * MIB, 1000 + *k as u64).await.as_str()) {
                checks += 1;
            }
        }
        for id in &ids {
            delivered(svc, &couch, &account, id).await?;
        }
        let all = t.elapsed().as_secs_f64();
        let mut objects = 0;
        let mut pages = s3.list_objects_v2().bucket(&bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            objects += page?.key_count().unwrap_or(0);
        }
        let expected = n as i32;
        println!(
            "  acknowledged {ok}/{n} in {acked:.1} s, all delivered in {all:.1} s: {:.1} MiB/s",
            (n as u64 * mib) as f64 / all
        );
        println!("  checksums equal: {checks}/{n}; objects in the bucket: {objects} (expected {expected}: one per recording, none duplicated)");
        let (y, m) = crate::domain::time::year_month(crate::domain::time::now_unix());
        let retried = couch
            .view(
                &account.modb(y, m),
                "att_handlers_errors",
                "crossbar_listing",
                &Default::default(),
            )
            .await
            .map(|r| r.len())
            .unwrap_or(0);
        println!("  delivery attempts that failed and were retried: {retried}");
        println!("  service peak RSS so far: {:.1} MiB", svc.peak_rss_mib());
    }
    Ok(())
}
