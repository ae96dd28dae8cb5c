//! Scenario `list`: one page of 50 recordings for an account holding many recordings over
//! 12 months (the test-data generator), the first page and a deep page (20 pages in, via
//! `next_start_key`), against the direct view query that page needs, the two alternating
//! request by request. Target ≤ 1.2×.

use super::load::paired;
use super::{load, ratio_line, BenchOpts, Service};
use crate::couch::{Couch, ViewOpts};
use crate::domain::ids::AccountId;
use crate::domain::time;
use crate::testdata::{generate, GenOptions};
use serde_json::{json, Value};

const PAGE: u64 = 50;
const DEPTH: usize = 20;
const REPEAT: usize = 100;

pub async fn run(opts: &BenchOpts, svc: &Service) -> anyhow::Result<()> {
    println!(
        "\nlist: recordings, page of {PAGE}, account with {} recordings over 12 months",
        opts.recordings
    );
    let (acct, token, _) = svc.account("list").await?;
    let account = AccountId::parse(&acct).ok_or_else(|| anyhow::anyhow!("account id"))?;
    let couch = Couch::connect(&opts.couchdb_url)?;
    let t = std::time::Instant::now();
    generate(
        &couch,
        &GenOptions {
            account: account.clone(),
            count: opts.recordings,
            months: 12,
            owners: vec![],
            audio_bytes: 32,
            seed: 7,
        },
    )
    .await?;
    println!("  (generated in {:.0} s)", t.elapsed().as_secs_f64());

    // Build the view indexes first (pouchdb takes a while for thousands of fresh documents;
    // a request timing out on it is not what this scenario measures).
    for back in 0..12 {
        let (y, m) = time::year_month(time::now_unix() - back * 28 * 86_400);
        let db = account.modb(y, m);
        let warm = ViewOpts {
            limit: Some(1),
            ..Default::default()
        };
        for _ in 0..40 {
            if couch
                .view(&db, "recordings", "crossbar_listing", &warm)
                .await
                .is_ok()
            {
                break;
            }
        }
    }

    // our pages: the first, and the one DEPTH pages in
    let url = format!("{}/v2/accounts/{acct}/recordings", svc.base);
    let mut next: Option<String> = None;
    let mut depth = 0;
    for _ in 0..DEPTH {
        let mut rb = svc
            .http
            .get(&url)
            .query(&[("page_size", PAGE.to_string())])
            .header("x-auth-token", &token);
        if let Some(k) = &next {
            rb = rb.query(&[("start_key", k)]);
        }
        let page: Value = rb.send().await?.json().await?;
        match page["next_start_key"].as_str() {
            Some(k) => {
                next = Some(k.to_string());
                depth += 1;
            }
            None => break,
        }
    }
    let deep_key = next.ok_or_else(|| {
        anyhow::anyhow!("one page only in the default 31-day window: use more --recordings")
    })?;
    let ours_page = |key: Option<String>| {
        let rb = svc
            .http
            .get(&url)
            .query(&[("page_size", PAGE.to_string())])
            .header("x-auth-token", &token);
        let rb = match key {
            Some(k) => rb.query(&[("start_key", k)]),
            None => rb,
        };
        async move {
            match rb.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    };

    // the direct queries: the current month's view, newest first, with the documents
    let (y, m) = time::year_month(time::now_unix());
    let db = account.modb(y, m);
    let now = time::now_gregorian();
    let from = now - 31 * 86_400;
    let mut start = json!([now, {}]);
    for _ in 0..depth {
        let rows = couch
            .view(
                &db,
                "recordings",
                "crossbar_listing",
                &view_opts(&start, from),
            )
            .await?;
        match rows.get(PAGE as usize) {
            Some(r) => start = r.key.clone(),
            None => break,
        }
    }
    let deep_start = start;
    let raw_page = |s: Value| {
        let couch = couch.clone();
        let db = db.clone();
        async move {
            couch
                .view(&db, "recordings", "crossbar_listing", &view_opts(&s, from))
                .await
                .is_ok()
        }
    };

    let _ = load(10, 1, |_| ours_page(None)).await;
    let (raw_first, ours_first) =
        paired(REPEAT, |_| raw_page(json!([now, {}])), |_| ours_page(None)).await;
    let (raw_deep, ours_deep) = paired(
        REPEAT,
        |_| raw_page(deep_start.clone()),
        |_| ours_page(Some(deep_key.clone())),
    )
    .await;
    println!("{}", raw_first.line("view query, first page"));
    println!("{}", ours_first.line("API list, first page"));
    println!(
        "{}",
        ratio_line(
            "p50 latency ours/raw, first page",
            ours_first.p50_ms,
            raw_first.p50_ms,
            "<= 1.2x"
        )
    );
    let page = depth + 1;
    println!("{}", raw_deep.line(&format!("view query, page {page}")));
    println!(
        "{}",
        ours_deep.line(&format!("API list, page {page} (next_start_key)"))
    );
    println!(
        "{}",
        ratio_line(
            &format!("p50 latency ours/raw, page {page}"),
            ours_deep.p50_ms,
            raw_deep.p50_ms,
            "<= 1.2x"
        )
    );
    Ok(())
}

fn view_opts(start: &Value, from: i64) -> ViewOpts {
    ViewOpts {
        start_key: Some(start.clone()),
        end_key: Some(json!([from])),
        descending: true,
        include_docs: true,
        limit: Some(PAGE + 1),
        ..Default::default()
    }
}
