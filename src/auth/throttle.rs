//! Login throttling: failed `user_auth` attempts are counted per account+username and per
//! client address over a sliding window; past the limit the caller gets 429 until the window
//! moves on. Only failures count, so other accounts' logins are not slowed. Memory is bounded.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const MAX_TRACKED_KEYS: usize = 100_000;

pub struct LoginThrottle {
    per_user: usize,
    per_addr: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    pub fn new(per_user: usize, per_addr: usize, window: Duration) -> LoginThrottle {
        LoginThrottle {
            per_user,
            per_addr,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn count(
        &self,
        map: &mut HashMap<String, VecDeque<Instant>>,
        key: &str,
        now: Instant,
    ) -> usize {
        match map.get_mut(key) {
            Some(q) => {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    q.pop_front();
                }
                q.len()
            }
            None => 0,
        }
    }

    pub fn is_blocked(&self, user_key: &str, addr: &str) -> bool {
        let now = Instant::now();
        let mut map = self.failures.lock();
        self.count(&mut map, &format!("u:{user_key}"), now) >= self.per_user
            || self.count(&mut map, &format!("a:{addr}"), now) >= self.per_addr
    }

    /// Start an attempt: refused when blocked; otherwise the attempt is counted at once, as
    /// a failure until [`LoginThrottle::record_success`] says otherwise. Checking and counting
    /// under one lock means concurrent guesses cannot slip past the limit together.
    pub fn begin(&self, user_key: &str, addr: &str) -> bool {
        let now = Instant::now();
        let mut map = self.failures.lock();
        if self.count(&mut map, &format!("u:{user_key}"), now) >= self.per_user
            || self.count(&mut map, &format!("a:{addr}"), now) >= self.per_addr
        {
            return false;
        }
        self.push(&mut map, user_key, addr, now);
        true
    }

    pub fn record_failure(&self, user_key: &str, addr: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock();
        self.push(&mut map, user_key, addr, now);
    }

    fn push(
        &self,
        map: &mut HashMap<String, VecDeque<Instant>>,
        user_key: &str,
        addr: &str,
        now: Instant,
    ) {
        if map.len() >= MAX_TRACKED_KEYS {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
        }
        for key in [format!("u:{user_key}"), format!("a:{addr}")] {
            let q = map.entry(key).or_default();
            q.push_back(now);
            // never keep more than needed to decide
            while q.len() > self.per_user.max(self.per_addr) {
                q.pop_front();
            }
        }
    }

    /// A successful login clears the account's failures and takes back the attempt
    /// [`LoginThrottle::begin`] counted against the address.
    pub fn record_success(&self, user_key: &str, addr: &str) {
        let mut map = self.failures.lock();
        map.remove(&format!("u:{user_key}"));
        if let Some(q) = map.get_mut(&format!("a:{addr}")) {
            q.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_per_user_and_addr() {
        let t = LoginThrottle::new(3, 5, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(!t.is_blocked("acct:bob", "1.1.1.1"));
            t.record_failure("acct:bob", "1.1.1.1");
        }
        assert!(t.is_blocked("acct:bob", "2.2.2.2"));
        assert!(!t.is_blocked("acct:alice", "2.2.2.2"));
        t.record_failure("acct:carol", "1.1.1.1");
        t.record_failure("acct:dave", "1.1.1.1");
        assert!(t.is_blocked("acct:erin", "1.1.1.1"));
        t.record_success("acct:bob", "3.3.3.3");
        assert!(!t.is_blocked("acct:bob", "3.3.3.3"));
    }

    #[test]
    fn begin_counts_under_the_lock() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        let started: usize = (0..10).filter(|_| t.begin("acct:x", "1.1.1.1")).count();
        assert_eq!(
            started, 3,
            "no more attempts than the limit, however concurrent"
        );
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        for _ in 0..5 {
            assert!(t.begin("acct:ok", "2.2.2.2"));
            t.record_success("acct:ok", "2.2.2.2");
        }
        assert!(
            !t.is_blocked("acct:ok", "2.2.2.2"),
            "successes do not add up"
        );
    }
}
