//! Scenario `decision`: the recording decision alone, for a realistic account (1,000 users
//! with 3 devices each, a mix of user and device settings, account rules and metaflows).

use crate::recording_policy::{decide, CallLeg, Network};
use crate::testdata::Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn account() -> Value {
    json!({"_id": "a", "call_recording": {
        "account": {"inbound": {"offnet": {"enabled": true, "format": "mp3"}}},
        "endpoint": {"outbound": {"offnet": {"enabled": true, "record_min_sec": 5}}}},
        "metaflows": {"binding_digit": "*", "numbers": {"9": {"module": "record_call", "data": {"action": "toggle"}}}}})
}

fn user(i: usize, rng: &mut Rng) -> Value {
    let mut u = json!({"_id": format!("u{i}"), "first_name": "U", "last_name": format!("{i}")});
    match rng.below(4) {
        0 => {
            u["call_recording"] =
                json!({"any": {"any": {"enabled": true, "url": "https://rec.example.com/u/"}}})
        }
        1 => u["call_recording"] = json!({"inbound": {"onnet": {"enabled": false}}}),
        _ => {}
    }
    u
}

fn device(u: usize, d: usize, rng: &mut Rng) -> Value {
    let mut dev = json!({"_id": format!("d{u}-{d}"), "owner_id": format!("u{u}")});
    if rng.below(5) == 0 {
        dev["call_recording"] =
            json!({"outbound": {"any": {"enabled": rng.below(2) == 0, "format": "wav"}}});
    }
    dev
}

pub fn run() {
    let mut rng = Rng(42);
    let users: Vec<Value> = (0..1000).map(|i| user(i, &mut rng)).collect();
    let devices: Vec<Vec<Value>> = (0..1000)
        .map(|u| (0..3).map(|d| device(u, d, &mut rng)).collect())
        .collect();
    let acct = account();
    let legs: Vec<CallLeg> = (0..10_000)
        .map(|_| {
            let (cu, cd) = (rng.below(1000) as usize, rng.below(3) as usize);
            let (tu, td) = (rng.below(1000) as usize, rng.below(3) as usize);
            let net = |b| if b { Network::Offnet } else { Network::Onnet };
            let mut leg =
                CallLeg::new(acct.clone(), net(rng.below(3) == 0), net(rng.below(2) == 0));
            if rng.below(2) == 0 {
                leg.caller_device = Some(devices[cu][cd].clone());
                leg.caller_user = Some(users[cu].clone());
            }
            leg.callee_endpoints
                .push((devices[tu][td].clone(), Some(users[tu].clone())));
            leg
        })
        .collect();
    let started = Instant::now();
    let mut n = 0u64;
    let mut recordings = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for leg in &legs {
            recordings += decide(leg).recordings.len();
            n += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("\ndecision: 1,000 users x 3 devices, 10,000 distinct calls");
    println!(
        "  {:<46} {:>9.0} decisions/s  ({:.2} µs each, {:.2} recordings per call)",
        "recording_policy::decide",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        recordings as f64 / n as f64
    );
}
