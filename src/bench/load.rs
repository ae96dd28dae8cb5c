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
}
