//! Limits on what a stranger can send: per-connection request rate, workspace creation
//! per IP, and wrong PINs per workspace and IP.
//!
//! The per-IP tables are pruned by the hub's sweeper, so they hold only entries that
//! still limit someone.

use crate::config::LimitsConfig;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A classic token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            burst,
            rate,
            tokens: burst,
            last: now,
        }
    }

    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// True when the bucket has refilled completely: forgetting it changes nothing.
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Over the sustained rate: answer `rate_limited`.
    Limited,
    /// Past four times the rate: the client ignores `rate_limited`, close with 1008.
    Close,
}

/// Every frame a connection sends passes through here, valid or not.
pub struct RequestLimiter {
    soft: TokenBucket,
    hard: TokenBucket,
}

impl RequestLimiter {
    pub fn new(limits: &LimitsConfig, now: Instant) -> RequestLimiter {
        let rate = f64::from(limits.requests_per_second);
        let burst = f64::from(limits.request_burst);
        RequestLimiter {
            soft: TokenBucket::new(rate, burst, now),
            hard: TokenBucket::new(rate * 4.0, burst * 4.0, now),
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        if !self.hard.try_take(now) {
            Verdict::Close
        } else if !self.soft.try_take(now) {
            Verdict::Limited
        } else {
            Verdict::Allow
        }
    }
}

/// `create` per client IP: `creates_per_minute`, as a bucket of that size.
pub struct CreateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

impl CreateLimiter {
    pub fn new(per_minute: u32) -> CreateLimiter {
        CreateLimiter {
            per_minute: f64::from(per_minute),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn try_create(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = lock(&self.buckets);
        buckets
            .entry(ip)
            .or_insert_with(|| TokenBucket::new(self.per_minute / 60.0, self.per_minute, now))
            .try_take(now)
    }

    pub fn prune(&self, now: Instant) {
        lock(&self.buckets).retain(|_, b| !b.is_full(now));
    }
}

/// Wrong PINs per (workspace, IP) within a sliding window.
pub struct PinFailures {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<(String, IpAddr), VecDeque<Instant>>>,
}

impl PinFailures {
    pub fn new(max: u32, window: Duration) -> PinFailures {
        PinFailures {
            max: max as usize,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// True while this IP has used up its wrong PINs for this workspace.
    pub fn is_locked(&self, wid: &str, ip: IpAddr, now: Instant) -> bool {
        let mut failures = lock(&self.failures);
        let Some(times) = failures.get_mut(&(wid.to_string(), ip)) else {
            return false;
        };
        expire(times, now, self.window);
        times.len() >= self.max
    }

    pub fn record(&self, wid: &str, ip: IpAddr, now: Instant) {
        let mut failures = lock(&self.failures);
        let times = failures.entry((wid.to_string(), ip)).or_default();
        expire(times, now, self.window);
        times.push_back(now);
    }

    pub fn prune(&self, now: Instant) {
        lock(&self.failures).retain(|_, times| {
            expire(times, now, self.window);
            !times.is_empty()
        });
    }
}

fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

/// These maps hold plain counters: a panic elsewhere cannot leave them inconsistent,
/// so a poisoned lock is taken over rather than propagated.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_limited_then_closed() {
        let limits = LimitsConfig {
            requests_per_second: 10,
            request_burst: 5,
            ..LimitsConfig::default()
        };
        let t0 = Instant::now();
        let mut l = RequestLimiter::new(&limits, t0);
        let verdicts: Vec<_> = (0..25).map(|_| l.check(t0)).collect();
        assert_eq!(
            verdicts[..5],
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow
            ]
        );
        assert_eq!(verdicts[5], Verdict::Limited);
        assert_eq!(verdicts[20], Verdict::Close);
        // A second later the sustained rate is available again.
        assert_eq!(l.check(t0 + Duration::from_secs(1)), Verdict::Allow);
    }

    #[test]
    fn pin_lockout_lasts_the_window() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let p = PinFailures::new(2, Duration::from_secs(10));
        p.record("_w", ip, t0);
        assert!(!p.is_locked("_w", ip, t0));
        p.record("_w", ip, t0);
        assert!(p.is_locked("_w", ip, t0));
        assert!(!p.is_locked("_other", ip, t0));
        assert!(!p.is_locked("_w", ip, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn creates_refill_over_a_minute() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let c = CreateLimiter::new(2);
        assert!(c.try_create(ip, t0));
        assert!(c.try_create(ip, t0));
        assert!(!c.try_create(ip, t0));
        assert!(c.try_create(ip, t0 + Duration::from_secs(30)));
    }
}
