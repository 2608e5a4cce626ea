//! Limits on what a stranger can send: per-connection frame rate, and per client address
//! workspace creation and public HTTP look-ups (PIN guessing has its own, in
//! `pin_limits.rs`).
//!
//! The per-IP tables are pruned by the hub's sweeper, so they hold only entries that
//! still limit someone.

use crate::config::LimitsConfig;
use std::collections::HashMap;
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
    /// Past four times the rate over the flood window: the client ignores
    /// `rate_limited`, close with 1008.
    Close,
}

/// Every frame a connection sends passes through here, of every opcode, valid or not
/// (PROTOCOL.md 1.1): `requests_per_second` sustained, bursts of `request_burst`; a
/// connection sending more than four times the rate over any 5 s is closed.
pub struct RequestLimiter {
    soft: TokenBucket,
    flood: FloodWindow,
}

impl RequestLimiter {
    pub fn new(limits: &LimitsConfig, now: Instant) -> RequestLimiter {
        let rate = f64::from(limits.requests_per_second);
        let burst = f64::from(limits.request_burst);
        let flood_max = limits.requests_per_second.saturating_mul(4 * FLOOD_SECS);
        RequestLimiter {
            soft: TokenBucket::new(rate, burst, now),
            flood: FloodWindow::new(flood_max, now),
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        if !self.flood.count(now) {
            Verdict::Close
        } else if !self.soft.try_take(now) {
            Verdict::Limited
        } else {
            Verdict::Allow
        }
    }
}

const FLOOD_SECS: u32 = 5;
const FLOOD_SLOTS: usize = 10;
const FLOOD_SLOT: Duration = Duration::from_millis(500);

/// Frames over the last 5 s, in ten counters of 500 ms each, where a log of every
/// frame's time would take kilobytes a connection. The window it sums spans 4.5 to 5 s, so
/// whenever it is over the limit, some 5 s window was too: it never closes a client
/// that stayed within the rule.
struct FloodWindow {
    slots: [u32; FLOOD_SLOTS],
    current: usize,
    slot_start: Instant,
    max: u32,
}

impl FloodWindow {
    fn new(max: u32, now: Instant) -> FloodWindow {
        FloodWindow {
            slots: [0; FLOOD_SLOTS],
            current: 0,
            slot_start: now,
            max,
        }
    }

    /// Counts one frame at `now`; false once the window holds more than `max`.
    fn count(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.slot_start);
        let steps = (elapsed.as_millis() / FLOOD_SLOT.as_millis()) as usize;
        for _ in 0..steps.min(FLOOD_SLOTS) {
            self.current = (self.current + 1) % FLOOD_SLOTS;
            self.slots[self.current] = 0;
        }
        self.slot_start += FLOOD_SLOT * steps as u32;
        self.slots[self.current] = self.slots[self.current].saturating_add(1);
        self.slots.iter().sum::<u32>() <= self.max
    }
}

/// Addresses an [`AddressLimiter`] holds before it prunes on its own.
const PRUNE_AT: usize = 4096;

/// A token bucket per client address (its [`source_key`]): `rate` a second, bursts of
/// `burst`. Buckets that refilled completely are forgotten by [`AddressLimiter::prune`].
pub struct AddressLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
}

impl AddressLimiter {
    pub fn new(rate: f64, burst: f64) -> AddressLimiter {
        AddressLimiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `per_minute` a minute, in bursts of as many: `create`
    /// (`limits.creates_per_minute`), the admin API (`limits.admin_requests_per_minute`).
    pub fn per_minute(per_minute: u32) -> AddressLimiter {
        let per_minute = f64::from(per_minute);
        AddressLimiter::new(per_minute / 60.0, per_minute)
    }

    /// Takes one token of `ip`'s bucket; false when it is empty.
    pub fn try_take(&self, ip: IpAddr, now: Instant) -> bool {
        let mut buckets = lock(&self.buckets);
        // Addresses come from strangers: past a bound, forget those whose bucket has
        // refilled (they are as if never seen) before adding one more.
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| !b.is_full(now));
        }
        buckets
            .entry(source_key(ip))
            .or_insert_with(|| TokenBucket::new(self.rate, self.burst, now))
            .try_take(now)
    }

    pub fn prune(&self, now: Instant) {
        lock(&self.buckets).retain(|_, b| !b.is_full(now));
    }
}

/// The key per-address limits count under: an IPv4 address as it is, an IPv6 address
/// cut to its /64, and an IPv4-mapped IPv6 address as the IPv4 one. One IPv6 host
/// chooses freely among the 2^64 interface identifiers of its /64 (RFC 4291 §2.5.1,
/// RFC 8981), so counting whole addresses would give it that many buckets
/// (PROTOCOL.md 1.1, "PIN checks": "IPv6 keyed per /64").
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
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
        let verdicts: Vec<_> = (0..205).map(|_| l.check(t0)).collect();
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
        // 4 x 10 per second over 5 s: the 201st frame in the window closes.
        assert_eq!(verdicts[199], Verdict::Limited);
        assert_eq!(verdicts[200], Verdict::Close);
        // Once the window has passed, the sustained rate is available again.
        assert_eq!(l.check(t0 + Duration::from_secs(6)), Verdict::Allow);
    }

    proptest::proptest! {
        /// Whenever the limiter closes, more than 4x the rate arrived in the 5 s before.
        #[test]
        fn never_closes_a_client_within_the_rule(
            gaps in proptest::collection::vec(0u64..40, 1..3000)
        ) {
            let limits = LimitsConfig { requests_per_second: 50, ..LimitsConfig::default() };
            let t0 = Instant::now();
            let mut l = RequestLimiter::new(&limits, t0);
            let mut times = Vec::new();
            let mut t = t0;
            for gap in gaps {
                t += Duration::from_millis(gap);
                times.push(t);
                if l.check(t) == Verdict::Close {
                    let window = times.iter().filter(|s| t.duration_since(**s) < Duration::from_secs(5));
                    proptest::prop_assert!(window.count() > 1000);
                    break;
                }
            }
        }
    }

    #[test]
    fn an_ipv6_block_is_one_source() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(source_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn creates_refill_over_a_minute() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let c = AddressLimiter::per_minute(2);
        assert!(c.try_take(ip, t0));
        assert!(c.try_take(ip, t0));
        assert!(!c.try_take(ip, t0));
        assert!(c.try_take(ip, t0 + Duration::from_secs(30)));
    }

    #[test]
    fn each_address_has_its_own_bucket_and_full_ones_are_forgotten() {
        let (ada, bob): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        let limiter = AddressLimiter::new(1.0, 2.0);
        assert!(limiter.try_take(ada, t0));
        assert!(limiter.try_take(ada, t0));
        assert!(!limiter.try_take(ada, t0));
        assert!(limiter.try_take(bob, t0), "another address is not limited");
        limiter.prune(t0 + Duration::from_secs(2));
        assert!(lock(&limiter.buckets).is_empty());
        assert!(limiter.try_take(ada, t0 + Duration::from_secs(2)));
    }
}
