//! A small closed-loop load generator: `n` requests, `concurrency` in flight, each timed.

use futures_util::StreamExt;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub errors: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Stats {
    pub fn from(mut lat: Vec<Duration>, errors: usize, wall: Duration) -> Stats {
        lat.sort_unstable();
        let pct = |p: f64| {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            lat[i].as_secs_f64() * 1000.0
        };
        Stats {
            n: lat.len(),
            errors,
            rps: lat.len() as f64 / wall.as_secs_f64().max(1e-9),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
        }
    }

    pub fn line(&self, what: &str) -> String {
        format!(
            "  {what:<46} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms{}",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            if self.errors > 0 {
                format!("  ({} errors)", self.errors)
            } else {
                String::new()
            }
        )
    }
}

/// Run `n` calls of `f` with `concurrency` in flight; `f` returns whether the call succeeded.
pub async fn load<F, Fut>(n: usize, concurrency: usize, f: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = futures_util::stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                let ok = fut.await;
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let wall = started.elapsed();
    let errors = results.iter().filter(|(_, ok)| !ok).count();
    Stats::from(
        results
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(d, _)| d)
            .collect(),
        errors,
        wall,
    )
}

/// `n` rounds of `a` then `b`, one call at a time: the two sides alternate, so a server
/// that slows down or speeds up during the run (view index work, GC, other processes on
/// the machine) weighs on both alike. Returns (a's stats, b's stats).
pub async fn paired<FA, FutA, FB, FutB>(n: usize, a: FA, b: FB) -> (Stats, Stats)
where
    FA: Fn(usize) -> FutA,
    FutA: Future<Output = bool>,
    FB: Fn(usize) -> FutB,
    FutB: Future<Output = bool>,
{
    let mut sides: [(Vec<Duration>, usize, Duration); 2] = Default::default();
    fn note(side: &mut (Vec<Duration>, usize, Duration), t: Instant, ok: bool) {
        let took = t.elapsed();
        side.2 += took;
        if ok {
            side.0.push(took);
        } else {
            side.1 += 1;
        }
    }
    for i in 0..n {
        let t = Instant::now();
        let ok = a(i).await;
        note(&mut sides[0], t, ok);
        let t = Instant::now();
        let ok = b(i).await;
        note(&mut sides[1], t, ok);
    }
    let [(la, ea, wa), (lb, eb, wb)] = sides;
    (Stats::from(la, ea, wa), Stats::from(lb, eb, wb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let lat: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Stats::from(lat, 0, Duration::from_secs(1));
        assert_eq!((s.n, s.rps as u64), (100, 100));
        assert!((s.p50_ms - 51.0).abs() < 1.01 && (s.p99_ms - 99.0).abs() < 1.01);
    }

    #[tokio::test]
    async fn paired_sides_alternate_and_count_apart() {
        let order = std::sync::Mutex::new(vec![]);
        let (a, b) = paired(
            3,
            |i| {
                order.lock().unwrap().push(format!("a{i}"));
                async { true }
            },
            |i| {
                order.lock().unwrap().push(format!("b{i}"));
                async move { i != 1 }
            },
        )
        .await;
        assert_eq!(
            order.into_inner().unwrap(),
            ["a0", "b0", "a1", "b1", "a2", "b2"]
        );
        assert_eq!((a.n, a.errors, b.n, b.errors), (3, 0, 2, 1));
    }
}
