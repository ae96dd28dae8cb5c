//! Fault drill: the CouchDB-protocol server is stopped and started again while recordings
//! are being ingested through the real service. The test runs its own on-disk
//! pouchdb-server (the shared one is in memory and cannot survive a restart), sends
//! recordings before, during and after the outage, and then checks: nothing acknowledged
//! is lost, nothing is stored twice, no recording document is left without its audio, every
//! stored audio has the checksum of what was sent, and the service is healthy afterwards.
//! Counts are printed (`--nocapture`).

use crate::helpers::*;
use kazoo_rec::couch::encode_db_name;
use kazoo_rec::domain::ids::AccountId;
use md5::Digest;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const COUCHDB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/couchdb.sh");
const PER_PHASE: usize = 10;
/// How long the "down" phase's recordings are spread over.
const DOWN_FOR: Duration = Duration::from_secs(6);
/// How long every acknowledged recording has to reach CouchDB after the restart.
const SETTLE: Duration = Duration::from_secs(90);

/// This test's own pouchdb-server: on disk, on a free port, started and stopped with
/// `scripts/couchdb.sh`. Dropping it stops the server.
struct Pouch {
    /// Holds the data, the pidfile and the service's spool; removed on drop unless the test
    /// failed (then kept for inspection, the pouchdb-server log included).
    root: PathBuf,
    port: u16,
    data: PathBuf,
    pidfile: PathBuf,
}

impl Pouch {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&self) {
        let status = tokio::process::Command::new(COUCHDB_SH)
            .arg("start")
            .arg(self.port.to_string())
            .arg(&self.data)
            .arg(&self.pidfile)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .expect("scripts/couchdb.sh runs");
        assert!(
            status.success(),
            "pouchdb-server did not start on port {} (log: {}/pouchdb-server.log)",
            self.port,
            self.data.display()
        );
        let client = reqwest::Client::new();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(r) = client.get(self.url()).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("pouchdb-server on port {} does not answer", self.port);
    }

    /// Stop it and wait until the process is gone and the port refuses connections (so the
    /// next start can take the database lock and the port again).
    async fn stop(&self) {
        let pid = std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let status = tokio::process::Command::new(COUCHDB_SH)
            .arg("stop")
            .arg(&self.pidfile)
            .stdin(std::process::Stdio::null())
            .status()
            .await
            .expect("scripts/couchdb.sh runs");
        assert!(status.success(), "scripts/couchdb.sh stop failed");
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            let gone = pid.is_none_or(exited);
            let closed = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err();
            if gone && closed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pouchdb-server (pid {pid:?}) still running after stop");
    }
}

/// The process is gone or a zombie (it has let go of its port and database lock; here the
/// zombie may linger a while before it is reaped).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

impl Drop for Pouch {
    fn drop(&mut self) {
        let _ = std::process::Command::new(COUCHDB_SH)
            .arg("stop")
            .arg(&self.pidfile)
            .status();
        if std::thread::panicking() {
            eprintln!(
                "couch restart drill: kept {} for inspection",
                self.root.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// One recording sent to the ingest endpoint, and what the service answered.
struct Sent {
    phase: &'static str,
    call_id: String,
    bytes: usize,
    md5: String,
    /// None: no answer at all (connection error or timeout).
    status: Option<u16>,
    answer: Value,
}

impl Sent {
    fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn md5_of(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

/// Distinct audio per recording (the index is written into the frames).
fn audio_for(n: usize) -> Vec<u8> {
    let mut a = kazoo_rec::testdata::fake_mp3(40_000 + n * 1_733);
    for (k, b) in (n as u32).to_be_bytes().iter().enumerate() {
        a[100 + k] = *b;
    }
    a
}

async fn ingest(
    client: &reqwest::Client,
    base: &str,
    acct: &str,
    phase: &'static str,
    call_id: String,
    audio: Vec<u8>,
) -> Sent {
    let meta = json!({"call_id": call_id, "from": "1001@x.example.com", "to": "2002@x.example.com",
                      "direction": "inbound", "duration_ms": 5_000, "format": "mp3"});
    let (bytes, md5) = (audio.len(), md5_of(&audio));
    let resp = client
        .put(format!("{base}/rec_ext/ingest/{acct}"))
        .header("x-recording-metadata", meta.to_string())
        .body(audio)
        .send()
        .await;
    let (status, answer) = match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (Some(status), answer)
        }
        Err(e) => (None, Value::String(e.to_string())),
    };
    Sent {
        phase,
        call_id,
        bytes,
        md5,
        status,
        answer,
    }
}

/// Every `call_recording` document of the given databases (straight from CouchDB, not
/// through the service); None while CouchDB does not answer.
async fn recording_docs(
    client: &reqwest::Client,
    couch: &str,
    dbs: &BTreeSet<String>,
) -> Option<Vec<(String, Value)>> {
    let mut out = vec![];
    for db in dbs {
        let r = client
            .get(format!(
                "{couch}/{}/_all_docs?include_docs=true",
                encode_db_name(db)
            ))
            .send()
            .await
            .ok()?;
        if r.status().as_u16() == 404 {
            continue;
        }
        if !r.status().is_success() {
            return None;
        }
        let body: Value = r.json().await.ok()?;
        for row in body["rows"].as_array().cloned().unwrap_or_default() {
            let doc = &row["doc"];
            if doc["pvt_type"] == "call_recording" {
                out.push((db.clone(), doc.clone()));
            }
        }
    }
    Some(out)
}

/// The document has its audio attachment (the one named in `name`).
fn has_audio(doc: &Value) -> bool {
    doc["name"]
        .as_str()
        .is_some_and(|n| doc["_attachments"].get(n).is_some())
}

async fn spool_pending(client: &reqwest::Client, base: &str) -> Option<u64> {
    let r = client
        .get(format!("{base}/rec_ext/spool"))
        .send()
        .await
        .ok()?;
    let v: Value = r.json().await.ok()?;
    v["data"]["pending"].as_u64()
}

#[tokio::test]
async fn couchdb_restarted_mid_run_loses_and_duplicates_nothing() {
    let started = Instant::now();
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = std::env::temp_dir().join(format!("couch-restart-{}", uniq()));
    std::fs::create_dir_all(&root).unwrap();
    let pouch = Pouch {
        root: root.clone(),
        port,
        data: root.join("couchdb"),
        pidfile: root.join("couchdb.pid"),
    };
    pouch.start().await;

    let mut cfg = settings();
    cfg.couchdb_url = pouch.url();
    cfg.spool_dir = root.join("spool").to_string_lossy().into_owned();
    let app = spawn_with(cfg).await;
    let (acct, _, admin) = app.account_with_admin(None).await;
    let account = AccountId::parse(&acct).unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tag = uniq();
    let mut sent: Vec<Sent> = vec![];
    let mut n = 0;
    // Each phase's recordings go out one after the other from their own task, `gap` apart;
    // `answered` counts the answers so far.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut send_phase = |phase: &'static str, gap: Duration| {
        let calls: Vec<(String, Vec<u8>)> = (0..PER_PHASE)
            .map(|_| {
                n += 1;
                (format!("restart-{tag}-{phase}-{n:02}"), audio_for(n))
            })
            .collect();
        let (client, base, acct) = (client.clone(), app.base.clone(), acct.clone());
        let answered = answered.clone();
        tokio::spawn(async move {
            let mut out = vec![];
            for (call_id, audio) in calls {
                out.push(ingest(&client, &base, &acct, phase, call_id, audio).await);
                answered.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(gap).await;
            }
            out
        })
    };

    // 1. CouchDB up. It is stopped while the last of these are being sent and the first
    // ones are still being delivered.
    let before = send_phase("before", Duration::from_millis(100));
    while answered.load(Ordering::SeqCst) < PER_PHASE - 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t_stop = Instant::now();
    pouch.stop().await;
    sent.extend(before.await.unwrap());
    // 2. CouchDB down, long enough for the delivery worker to fail and back off.
    sent.extend(
        send_phase("down", DOWN_FOR / PER_PHASE as u32)
            .await
            .unwrap(),
    );
    // 3. the same server, the same disk, started again; recordings keep coming
    pouch.start().await;
    let down_for = t_stop.elapsed();
    sent.extend(
        send_phase("after", Duration::from_millis(100))
            .await
            .unwrap(),
    );

    // Wait until every acknowledged recording is in CouchDB with its audio and the spool
    // is empty (or SETTLE runs out: the checks below then say what is missing).
    let acked: BTreeSet<String> = sent
        .iter()
        .filter(|s| s.acknowledged())
        .map(|s| s.call_id.clone())
        .collect();
    let (y, m) = kazoo_rec::domain::time::year_month(kazoo_rec::domain::time::now_unix());
    let mut dbs: BTreeSet<String> = BTreeSet::from([account.modb(y, m)]);
    for s in &sent {
        if let Some(id) = s.answer["data"]["id"].as_str().filter(|i| i.len() > 6) {
            if let (Ok(y), Ok(m)) = (id[..4].parse(), id[4..6].parse()) {
                dbs.insert(account.modb(y, m));
            }
        }
    }
    let t_settle = Instant::now();
    let mut docs: Vec<(String, Value)> = vec![];
    let mut pending = None;
    while t_settle.elapsed() < SETTLE {
        docs = recording_docs(&client, &pouch.url(), &dbs)
            .await
            .unwrap_or_default();
        pending = spool_pending(&client, &app.base).await;
        let complete: BTreeSet<String> = docs
            .iter()
            .filter(|(_, d)| has_audio(d))
            .filter_map(|(_, d)| d["call_id"].as_str().map(str::to_string))
            .collect();
        if acked.is_subset(&complete) && pending == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let settled_in = t_settle.elapsed();
    // one more read, so what is checked is what CouchDB holds now
    if let Some(d) = recording_docs(&client, &pouch.url(), &dbs).await {
        docs = d;
    }

    // The counts.
    let mut by_call: BTreeMap<String, Vec<&(String, Value)>> = BTreeMap::new();
    for entry in &docs {
        let call = entry.1["call_id"].as_str().unwrap_or("<none>").to_string();
        by_call.entry(call).or_default().push(entry);
    }
    let stored: BTreeSet<&String> = by_call.keys().filter(|c| acked.contains(*c)).collect();
    let lost: Vec<&String> = acked.iter().filter(|c| !by_call.contains_key(*c)).collect();
    let duplicates: Vec<(&String, usize)> = by_call
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(c, v)| (c, v.len()))
        .collect();
    let unexpected: Vec<&String> = by_call.keys().filter(|c| !acked.contains(*c)).collect();
    let half: Vec<String> = docs
        .iter()
        .filter(|(_, d)| !has_audio(d))
        .map(|(_, d)| format!("{} ({})", d["_id"], d["call_id"]))
        .collect();
    let mut checksums_equal = 0;
    let mut checksum_problems = vec![];
    for s in sent.iter().filter(|s| s.acknowledged()) {
        if s.answer["data"]["md5"] != s.md5 || s.answer["data"]["bytes"] != s.bytes {
            checksum_problems.push(format!(
                "{}: the spool got {} bytes md5 {}, sent {} md5 {}",
                s.call_id, s.answer["data"]["bytes"], s.answer["data"]["md5"], s.bytes, s.md5
            ));
            continue;
        }
        let Some([(db, doc)]) = by_call.get(&s.call_id).map(Vec::as_slice) else {
            continue; // lost or duplicated: counted above
        };
        let (Some(id), Some(name)) = (doc["_id"].as_str(), doc["name"].as_str()) else {
            continue;
        };
        let url = format!(
            "{}/{}/{}/{}",
            pouch.url(),
            encode_db_name(db),
            encode_db_name(id),
            encode_db_name(name)
        );
        let got = match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.ok(),
            _ => None,
        };
        match got {
            Some(b) if md5_of(&b) == s.md5 && b.len() == s.bytes => checksums_equal += 1,
            Some(b) => checksum_problems.push(format!(
                "{}: stored {} bytes md5 {}, sent {} md5 {}",
                s.call_id,
                b.len(),
                md5_of(&b),
                s.bytes,
                s.md5
            )),
            None => checksum_problems.push(format!("{}: attachment not readable", s.call_id)),
        }
    }

    // The service afterwards.
    let account_get = app
        .call(
            Method::GET,
            &format!("/v2/accounts/{acct}"),
            Some(&admin),
            None,
        )
        .await;
    let spool_files: Vec<String> = std::fs::read_dir(root.join("spool"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();

    let acknowledged = sent.iter().filter(|s| s.acknowledged()).count();
    println!(
        "couch restart drill: sent {}, acknowledged {}, stored {}, duplicates {}, half documents {}, checksums equal {}",
        sent.len(),
        acknowledged,
        stored.len(),
        duplicates.len(),
        half.len(),
        checksums_equal
    );
    let mut phases = vec![];
    for phase in ["before", "down", "after"] {
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for s in sent.iter().filter(|s| s.phase == phase) {
            let k = s.status.map_or("no answer".to_string(), |c| c.to_string());
            *statuses.entry(k).or_default() += 1;
        }
        phases.push(format!("{phase}: {statuses:?}"));
    }
    println!(
        "couch restart drill: answers {}; CouchDB down {:.1} s; settled in {:.1} s; spool pending {:?}, files left {}; GET account {}; wall {:.1} s",
        phases.join(", "),
        down_for.as_secs_f64(),
        settled_in.as_secs_f64(),
        pending,
        spool_files.len(),
        account_get.status,
        started.elapsed().as_secs_f64()
    );

    // The checks, the most telling first.
    let not_answered: Vec<String> = sent
        .iter()
        .filter(|s| s.status.is_none() || s.status.is_some_and(|c| c >= 500 && c != 503))
        .map(|s| format!("{} [{}] {:?}: {}", s.call_id, s.phase, s.status, s.answer))
        .collect();
    assert!(
        not_answered.is_empty(),
        "requests that hung or failed with a server error other than 503: {not_answered:#?}"
    );
    assert!(
        lost.is_empty(),
        "acknowledged recordings lost ({} of {acknowledged}, spool pending {pending:?}): {lost:?}",
        lost.len()
    );
    assert!(
        duplicates.is_empty(),
        "recordings stored more than once: {duplicates:?}"
    );
    assert!(
        unexpected.is_empty(),
        "documents for recordings that were never acknowledged: {unexpected:?}"
    );
    assert!(
        half.is_empty(),
        "recording documents without their audio: {half:?}"
    );
    assert!(
        checksum_problems.is_empty(),
        "audio differs from what was sent: {checksum_problems:#?}"
    );
    assert_eq!(checksums_equal, acknowledged);
    assert_eq!(
        account_get.status, 200,
        "the service after the restart: {}",
        account_get.text
    );
    // The README: "the document is written at once (or by the worker if CouchDB was
    // unavailable)": the ingest acknowledges from the spool while CouchDB is down.
    let refused: Vec<String> = sent
        .iter()
        .filter(|s| !s.acknowledged())
        .map(|s| format!("{} [{}] {:?}: {}", s.call_id, s.phase, s.status, s.answer))
        .collect();
    assert!(
        refused.is_empty(),
        "recordings refused (not acknowledged) while CouchDB was down, although the spool could take them: {refused:#?}"
    );
    assert_eq!(pending, Some(0), "the spool drained");
    assert!(
        spool_files.is_empty(),
        "files left in the spool after every recording was delivered: {spool_files:?}"
    );
}
