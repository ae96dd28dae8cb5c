//! `kazoo-rec simulate`: synthetic calls between an account's devices and offnet numbers,
//! driven through the service exactly as a media server drives it. For each call it asks
//! `/rec_ext/decide` which recordings KAZOO's rules start, then hands each recording (with
//! generated audio) to `/rec_ext/ingest`, checks the checksum the service reports, and
//! finally waits for the spool to drain. The report says what was recorded where.

mod client;

pub use client::{Client, Device};

use crate::testdata::{fake_mp3, Rng};
use md5::Digest;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub calls: usize,
    pub concurrency: usize,
    pub seed: u64,
    /// Audio bytes per second of call (4,000 ≈ a 32 kbit/s mp3).
    pub bytes_per_second: usize,
    /// Longest simulated call, seconds.
    pub max_duration_s: u64,
}

/// What one simulated call did.
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    pub scenario: String,
    /// (origin, destination label, bytes) per stored recording.
    pub stored: Vec<(String, String, u64)>,
    /// Recordings the service discarded (shorter than `record_min_sec`).
    pub discarded: usize,
    pub checksum_mismatches: usize,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SimReport {
    pub calls: usize,
    pub calls_recorded: usize,
    pub recordings_stored: usize,
    pub discarded: usize,
    pub checksum_mismatches: usize,
    /// destination label → (recordings, bytes)
    pub by_destination: BTreeMap<String, (usize, u64)>,
    /// origin → recordings
    pub by_origin: BTreeMap<String, usize>,
    pub errors: Vec<String>,
    /// Recordings still waiting for delivery when the report was made.
    pub pending_after: u64,
}

/// A readable label for the destination the ingest answer names.
pub fn destination_label(dest: &Value) -> String {
    match dest.get("kind").and_then(Value::as_str) {
        Some("url") => {
            let url = dest.get("url").and_then(Value::as_str).unwrap_or("");
            let shown = url::Url::parse(url)
                .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("")))
                .unwrap_or_else(|_| "url".into());
            format!("url {shown}")
        }
        Some("handler") => format!(
            "storage handler {}",
            dest.get("handler_id")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ),
        _ => "CouchDB attachment".into(),
    }
}

/// The call to describe to `/rec_ext/decide`, and the parties' numbers: outbound to an
/// offnet number, inbound from one, or internal between two devices.
fn scenario(rng: &mut Rng, devices: &[Device], n: usize) -> (String, Value, String, String) {
    let d1 = &devices[rng.below(devices.len() as u64) as usize];
    let offnet = format!("+1415555{:04}", rng.below(10_000));
    let ext = |d: &Device| {
        format!(
            "{}",
            2000 + devices.iter().position(|x| x.id == d.id).unwrap_or(0) + 1
        )
    };
    match (n % 3, devices.len()) {
        (2, len) if len > 1 => {
            let mut d2 = &devices[rng.below(len as u64) as usize];
            if d2.id == d1.id {
                d2 = devices.iter().find(|d| d.id != d1.id).unwrap_or(d2);
            }
            (
                format!("internal {} → {}", d1.name, d2.name),
                json!({"caller_device_id": d1.id, "callee_device_ids": [d2.id], "from_network": "onnet", "to_network": "onnet"}),
                ext(d1),
                ext(d2),
            )
        }
        (1, _) => (
            format!("inbound {offnet} → {}", d1.name),
            json!({"callee_device_ids": [d1.id], "from_network": "offnet", "to_network": "onnet"}),
            offnet,
            ext(d1),
        ),
        _ => (
            format!("outbound {} → {offnet}", d1.name),
            json!({"caller_device_id": d1.id, "from_network": "onnet", "to_network": "offnet"}),
            ext(d1),
            offnet,
        ),
    }
}

/// The recording-stop metadata a media server sends for one recording of the call.
fn metadata(
    rec: &Value,
    call_n: usize,
    seed: u64,
    (from, to): (&str, &str),
    duration_ms: u64,
    interaction_id: &str,
) -> Value {
    let params = &rec["params"];
    let leg = match rec["leg"]["side"].as_str() {
        Some("b") => format!("b-{}", rec["leg"]["endpoint_id"].as_str().unwrap_or("")),
        _ => "a".into(),
    };
    let origin = rec["origin"].as_str().unwrap_or("");
    let direction = if origin.starts_with("inbound") {
        "inbound"
    } else {
        "outbound"
    };
    let start = crate::domain::time::now_gregorian() - (duration_ms / 1000) as i64;
    let mut m = json!({
        "call_id": format!("sim-{seed}-{call_n}-{leg}@kazoo-rec.sim"),
        "interaction_id": interaction_id,
        "from": format!("{from}@sim.invalid"), "to": format!("{to}@sim.invalid"), "request": format!("{to}@sim.invalid"),
        "caller_id_number": from, "caller_id_name": format!("Caller {from}"),
        "callee_id_number": to, "callee_id_name": format!("Callee {to}"),
        "direction": direction,
        "start": start,
        "duration_ms": duration_ms,
        "origin": origin,
        "format": params["format"].as_str().unwrap_or("mp3"),
        "record_min_sec": params["record_min_sec"].as_u64().unwrap_or(0),
        "custom_channel_vars": {"Simulated": "true"},
    });
    for (key, value) in [
        ("owner_id", &rec["owner_id"]),
        ("endpoint_id", &rec["endpoint_id"]),
        ("url", &params["url"]),
        ("method", &params["method"]),
    ] {
        if value.is_string() {
            m[key] = value.clone();
        }
    }
    m
}

/// Simulate call number `n`.
pub async fn one_call(
    client: &Client,
    devices: &[Device],
    opts: &SimOptions,
    n: usize,
) -> CallOutcome {
    let mut rng = Rng(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n as u64 + 1) | 1);
    let (label, call, from, to) = scenario(&mut rng, devices, n);
    let mut out = CallOutcome {
        scenario: label,
        ..Default::default()
    };
    let decision = match client.decide(&call).await {
        Ok(d) => d,
        Err(e) => {
            out.error = Some(format!("call {n}: {e}"));
            return out;
        }
    };
    let duration_ms = 1_000 + rng.below(opts.max_duration_s.max(1) * 1000);
    let interaction_id = format!("{}-{}", crate::domain::time::now_gregorian(), rng.hex(4));
    for rec in decision["recordings"].as_array().into_iter().flatten() {
        let meta = metadata(
            rec,
            n,
            opts.seed,
            (&from, &to),
            duration_ms,
            &interaction_id,
        );
        let audio = fake_mp3((duration_ms as usize / 1000).max(1) * opts.bytes_per_second);
        let sent_md5 = hex::encode(md5::Md5::digest(&audio));
        let bytes = audio.len() as u64;
        match client.ingest(&meta, audio).await {
            Ok(answer) if answer["stored"] == json!(false) => out.discarded += 1,
            Ok(answer) => {
                if answer["md5"].as_str() != Some(sent_md5.as_str()) {
                    out.checksum_mismatches += 1;
                }
                out.stored.push((
                    rec["origin"].as_str().unwrap_or("").to_string(),
                    destination_label(&answer["destination"]),
                    bytes,
                ));
            }
            Err(e) => out.error = Some(format!("call {n}: {e}")),
        }
    }
    out
}

impl SimReport {
    pub fn add(&mut self, o: &CallOutcome) {
        self.calls += 1;
        if !o.stored.is_empty() {
            self.calls_recorded += 1;
        }
        self.recordings_stored += o.stored.len();
        self.discarded += o.discarded;
        self.checksum_mismatches += o.checksum_mismatches;
        for (origin, dest, bytes) in &o.stored {
            let e = self.by_destination.entry(dest.clone()).or_default();
            e.0 += 1;
            e.1 += bytes;
            *self.by_origin.entry(origin.clone()).or_default() += 1;
        }
        if let Some(e) = &o.error {
            self.errors.push(e.clone());
        }
    }

    /// The summary printed at the end of a run.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} calls: {} recorded ({} recordings stored), {} not recorded by the account's settings\n",
            self.calls,
            self.calls_recorded,
            self.recordings_stored,
            self.calls - self.calls_recorded
        );
        if self.discarded > 0 {
            s += &format!(
                "discarded as shorter than record_min_sec: {}\n",
                self.discarded
            );
        }
        s += "stored where:\n";
        for (dest, (n, bytes)) in &self.by_destination {
            s += &format!(
                "  {dest:<40} {n:>6} recordings {:>10.1} KiB\n",
                *bytes as f64 / 1024.0
            );
        }
        s += "recorded by rule (KAZOO's origin):\n";
        for (origin, n) in &self.by_origin {
            s += &format!("  {origin:<40} {n:>6}\n");
        }
        s += &format!(
            "checksums: {} of {} equal to what was sent\n",
            self.recordings_stored - self.checksum_mismatches,
            self.recordings_stored
        );
        s += &if self.pending_after == 0 {
            "delivery: every recording delivered (spool empty)\n".to_string()
        } else {
            format!(
                "delivery: {} still waiting in the spool (see GET /rec_ext/spool)\n",
                self.pending_after
            )
        };
        for e in self.errors.iter().take(10) {
            s += &format!("error: {e}\n");
        }
        s
    }
}

/// Run `opts.calls` calls, `opts.concurrency` at a time; `progress` is called after each.
pub async fn run(
    client: &Client,
    devices: &[Device],
    opts: &SimOptions,
    progress: impl Fn(&CallOutcome),
) -> SimReport {
    use futures_util::StreamExt;
    let mut report = SimReport::default();
    let mut calls = futures_util::stream::iter(0..opts.calls)
        .map(|n| one_call(client, devices, opts, n))
        .buffer_unordered(opts.concurrency.max(1));
    while let Some(outcome) = calls.next().await {
        progress(&outcome);
        report.add(&outcome);
    }
    report
}

/// Wait up to `secs` for the service's spool to drain; returns what is still pending.
pub async fn wait_for_delivery(client: &Client, secs: u64) -> anyhow::Result<u64> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let pending = client.pending_deliveries().await?;
        if pending == 0 || std::time::Instant::now() >= until {
            return Ok(pending);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Vec<Device> {
        (0..3)
            .map(|i| Device {
                id: format!("d{i}"),
                name: format!("dev {i}"),
                owner_id: None,
            })
            .collect()
    }

    #[test]
    fn scenarios_cover_outbound_inbound_and_internal() {
        let devs = devices();
        let mut rng = Rng(7);
        let (_, out, from, to) = scenario(&mut rng, &devs, 0);
        assert_eq!(out["to_network"], "offnet");
        assert!(to.starts_with("+1415555") && from.starts_with("200"));
        let (_, inb, from, _) = scenario(&mut rng, &devs, 1);
        assert_eq!(inb["from_network"], "offnet");
        assert!(from.starts_with('+'));
        let (_, int, _, _) = scenario(&mut rng, &devs, 2);
        assert_ne!(int["caller_device_id"], int["callee_device_ids"][0]);
        // one device: no internal calls, an outbound one instead
        let (_, solo, _, _) = scenario(&mut rng, &devs[..1], 2);
        assert_eq!(solo["to_network"], "offnet");
    }

    #[test]
    fn metadata_from_a_decision() {
        let rec = json!({"origin": "inbound from offnet to endpoint", "leg": {"side": "b", "endpoint_id": "d1"},
                         "owner_id": "u1", "endpoint_id": "d1",
                         "params": {"format": "wav", "record_min_sec": 5, "url": "https://r.example.com/x", "method": "post"}});
        let m = metadata(&rec, 3, 9, ("+14155550000", "2001"), 12_000, "1-ab");
        assert_eq!(m["call_id"], "sim-9-3-b-d1@kazoo-rec.sim");
        assert_eq!(
            (m["direction"].as_str(), m["format"].as_str()),
            (Some("inbound"), Some("wav"))
        );
        assert_eq!(
            (m["url"].as_str(), m["method"].as_str()),
            (Some("https://r.example.com/x"), Some("post"))
        );
        assert_eq!(
            (m["owner_id"].as_str(), m["record_min_sec"].as_u64()),
            (Some("u1"), Some(5))
        );
        assert_eq!(
            destination_label(&json!({"kind": "url", "url": "https://u:p@r.example.com/x?y"})),
            "url https://r.example.com"
        );
        assert_eq!(
            destination_label(&json!({"kind": "handler", "handler_id": "h1"})),
            "storage handler h1"
        );
    }

    #[test]
    fn report_counts() {
        let mut r = SimReport::default();
        r.add(&CallOutcome {
            stored: vec![(
                "inbound from offnet to account".into(),
                "CouchDB attachment".into(),
                10,
            )],
            ..Default::default()
        });
        r.add(&CallOutcome::default());
        assert_eq!((r.calls, r.calls_recorded, r.recordings_stored), (2, 1, 1));
        assert!(r.render().contains("CouchDB attachment"));
    }
}
