//! Every limit on PIN guessing, reserved before the hash is computed, so that parallel
//! requests cannot exceed it (PROTOCOL.md 1.1, "PIN checks"):
//!
//! - per client address (IPv6: per /64) and workspace: `pin_failures` wrong PINs, the
//!   checks in flight counted as wrong until they are known, within `pin_window_secs`;
//! - per client address: `pin_checks_per_ip` hashes in flight at once (PIN checks and
//!   new PINs alike), so that one address's backlog never delays another's;
//! - per workspace, from every address: past `pin_workspace_failures` wrong PINs in the
//!   window, each attempt waits a delay doubling from 1 s to 120 s, one at a time.
//!
//! Refusals are immediate (`rate_limited`). Members re-attending with a session token
//! never come here.

use super::limits::source_key;
use crate::config::LimitsConfig;
use crate::error::{Error, Limit};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(120);
/// Failures past the threshold after which the delay stops doubling (2^7 s > 120 s):
/// older ones need not be remembered.
const DOUBLINGS: usize = 8;

pub struct PinLimits {
    per_pair: usize,
    per_addr: u32,
    per_workspace: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Hashes in flight per address key.
    addrs: HashMap<IpAddr, u32>,
    /// Per (workspace, address key): failures in the window, and checks in flight.
    pairs: HashMap<(String, IpAddr), Tally>,
    /// Per workspace: its most recent failures, and whether a delayed attempt is on.
    workspaces: HashMap<String, Tally>,
}

#[derive(Default)]
struct Tally {
    failures: VecDeque<Instant>,
    in_flight: u32,
}

/// A hash reserved for one address; released when dropped.
pub struct HashPermit<'a> {
    limits: &'a PinLimits,
    addr: IpAddr,
}

/// A PIN check reserved against every limit. Dropped without [`PinAttempt::failed`],
/// it counts as nothing (the guesser learned nothing).
pub struct PinAttempt<'a> {
    hash: HashPermit<'a>,
    wid: String,
    /// How long the check must wait first, under the per-workspace defence.
    pub delay: Duration,
    delayed: bool,
}

impl PinLimits {
    pub fn new(limits: &LimitsConfig) -> PinLimits {
        PinLimits {
            per_pair: limits.pin_failures as usize,
            per_addr: limits.pin_checks_per_ip,
            per_workspace: limits.pin_workspace_failures as usize,
            window: Duration::from_secs(limits.pin_window_secs),
            state: Mutex::new(State::default()),
        }
    }

    /// A hash for `ip` (a new PIN at `create` or `set-pin`), if it has none too many in
    /// flight.
    pub fn hash(&self, ip: IpAddr) -> Result<HashPermit<'_>, Error> {
        let addr = source_key(ip);
        let mut state = self.lock();
        let in_flight = state.addrs.entry(addr).or_default();
        if *in_flight >= self.per_addr {
            return Err(Error::RateLimited(Limit::PinChecks));
        }
        *in_flight += 1;
        Ok(HashPermit { limits: self, addr })
    }

    /// Reserves a check of a PIN offered by `ip` to workspace `wid`.
    pub fn attempt(&self, wid: &str, ip: IpAddr, now: Instant) -> Result<PinAttempt<'_>, Error> {
        let addr = source_key(ip);
        let hash = self.hash(ip)?;
        let mut state = self.lock();
        let pair = state.pairs.entry((wid.to_string(), addr)).or_default();
        expire(&mut pair.failures, now, self.window);
        if pair.failures.len() + pair.in_flight as usize >= self.per_pair {
            return Err(Error::RateLimited(Limit::WrongPins));
        }
        let workspace = state.workspaces.entry(wid.to_string()).or_default();
        expire(&mut workspace.failures, now, self.window);
        let beyond = workspace.failures.len().checked_sub(self.per_workspace);
        let delayed = beyond.is_some();
        if delayed && workspace.in_flight > 0 {
            return Err(Error::RateLimited(Limit::PinGuessing));
        }
        workspace.in_flight += u32::from(delayed);
        let pair = state.pairs.entry((wid.to_string(), addr)).or_default();
        pair.in_flight += 1;
        Ok(PinAttempt {
            hash,
            wid: wid.to_string(),
            delay: beyond.map_or(Duration::ZERO, delay),
            delayed,
        })
    }

    /// Forgets what no longer limits anyone.
    pub fn prune(&self, now: Instant) {
        let mut state = self.lock();
        let keep = |t: &mut Tally| {
            expire(&mut t.failures, now, self.window);
            t.in_flight > 0 || !t.failures.is_empty()
        };
        state.pairs.retain(|_, t| keep(t));
        state.workspaces.retain(|_, t| keep(t));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PinAttempt<'_> {
    /// The PIN was wrong: counts for the address and the workspace.
    pub fn failed(self, now: Instant) {
        let limits = self.hash.limits;
        let mut state = limits.lock();
        let key = (self.wid.clone(), self.hash.addr);
        state.pairs.entry(key).or_default().failures.push_back(now);
        let workspace = state.workspaces.entry(self.wid.clone()).or_default();
        workspace.failures.push_back(now);
        while workspace.failures.len() > limits.per_workspace + DOUBLINGS {
            workspace.failures.pop_front();
        }
    }
}

impl Drop for PinAttempt<'_> {
    fn drop(&mut self) {
        let mut state = self.hash.limits.lock();
        let key = (self.wid.clone(), self.hash.addr);
        if let Some(pair) = state.pairs.get_mut(&key) {
            pair.in_flight = pair.in_flight.saturating_sub(1);
        }
        if self.delayed {
            if let Some(workspace) = state.workspaces.get_mut(&self.wid) {
                workspace.in_flight = workspace.in_flight.saturating_sub(1);
            }
        }
    }
}

impl Drop for HashPermit<'_> {
    fn drop(&mut self) {
        let mut state = self.limits.lock();
        if let Some(n) = state.addrs.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.addrs.remove(&self.addr);
            }
        }
    }
}

/// The wait before the attempt that follows `beyond` failures past the threshold.
fn delay(beyond: usize) -> Duration {
    let doublings = beyond.min(DOUBLINGS) as u32;
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(pair: u32, addr: u32, workspace: u32) -> PinLimits {
        PinLimits::new(&LimitsConfig {
            pin_failures: pair,
            pin_checks_per_ip: addr,
            pin_workspace_failures: workspace,
            ..LimitsConfig::default()
        })
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn checks_in_flight_count_as_failures_until_known() {
        let l = limits(2, 10, 100);
        let now = Instant::now();
        let a = l.attempt("_w", ip(1), now).unwrap();
        let b = l.attempt("_w", ip(1), now).unwrap();
        assert!(l.attempt("_w", ip(1), now).is_err());
        assert!(l.attempt("_other", ip(1), now).is_ok());
        drop(a); // a right PIN: it does not count
        b.failed(now);
        let c = l.attempt("_w", ip(1), now).unwrap();
        c.failed(now);
        assert!(l.attempt("_w", ip(1), now).is_err());
        assert!(l
            .attempt("_w", ip(1), now + Duration::from_secs(600))
            .is_ok());
    }

    #[test]
    fn an_address_has_fewhashes_in_flight() {
        let l = limits(100, 2, 100);
        let now = Instant::now();
        let _a = l.attempt("_w", ip(1), now).unwrap();
        let _b = l.hash(ip(1)).unwrap();
        assert!(l.attempt("_x", ip(1), now).is_err());
        assert!(l.attempt("_w", ip(2), now).is_ok());
    }

    #[test]
    fn a_workspace_under_attack_delays_attempts_one_at_a_time() {
        let l = limits(100, 100, 3);
        let now = Instant::now();
        for n in 0..3 {
            l.attempt("_w", ip(n), now).unwrap().failed(now);
        }
        let next = l.attempt("_w", ip(9), now).unwrap();
        assert_eq!(next.delay, Duration::from_secs(1));
        assert!(l.attempt("_w", ip(10), now).is_err());
        next.failed(now);
        let after = l.attempt("_w", ip(10), now).unwrap();
        assert_eq!(after.delay, Duration::from_secs(2));
    }

    #[test]
    fn the_delay_doubles_up_to_two_minutes() {
        let delays: Vec<u64> = (0..10).map(|b| delay(b).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
    }

    proptest! {
        /// However many attempts run at once, an address never gets more than
        /// `pin_failures` wrong PINs checked at a workspace within the window.
        #[test]
        fn parallel_attempts_never_exceed_the_limit(
            ops in proptest::collection::vec((0u8..3, any::<bool>()), 1..200)
        ) {
            let l = limits(5, 1000, 1000);
            let now = Instant::now();
            let mut open = Vec::new();
            let mut checked = 0;
            for (addr, finish) in ops {
                if finish && !open.is_empty() {
                    let attempt: PinAttempt = open.remove(0);
                    attempt.failed(now);
                } else if let Ok(attempt) = l.attempt("_w", ip(addr), now) {
                    checked += usize::from(addr == 0);
                    open.push(attempt);
                }
            }
            prop_assert!(checked <= 5);
        }
    }
}
