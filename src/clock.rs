//! The one clock the workspaces and their limits read: wall time for what is stored
//! (ttls, idle times, bans), and a monotonic instant for rate windows.
//!
//! A [`Clock`] is the system's time plus an offset that only tests move
//! ([`Clock::advance`]): a test can let five minutes pass at once, while everything
//! that waits on real time (sockets, heartbeats, the sweeper's tick) keeps working.
//! Tokens are the exception: `jsonwebtoken` checks `exp` against the system's time, so
//! token times stay on it (`auth::tokens::now_secs`).

#![warn(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A handle to one clock; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Milliseconds this clock is ahead of the system's.
    ahead_ms: Arc<AtomicU64>,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        unix_ms().saturating_add(self.ahead_ms.load(Ordering::Acquire))
    }

    /// A monotonic instant, for rate windows and lockouts.
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.ahead_ms.load(Ordering::Acquire))
    }

    /// Moves this clock (and every clone) `by` ahead: for tests of ttls and windows.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::AcqRel);
    }
}

/// The system's unix milliseconds (0 before 1970), for what no [`Clock`] reaches.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_is_ahead_in_both_readings_and_for_every_clone() {
        let clock = Clock::system();
        let copy = clock.clone();
        let (wall, mono) = (clock.now_ms(), clock.now());
        copy.advance(Duration::from_secs(300));
        assert!(clock.now_ms() >= wall + 300_000);
        assert!(clock.now() >= mono + Duration::from_secs(300));
    }
}
