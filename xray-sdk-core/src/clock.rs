//! The source of time, injectable so that sampling and timing behaviour can be tested deterministically.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Tells the time. The recorder stamps entities with [`Clock::now`]; samplers measure intervals with
/// [`Clock::monotonic`] and count per second with [`Clock::epoch_seconds`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The wall-clock time.
    fn now(&self) -> SystemTime;
    /// A monotonic instant, for intervals and deadlines.
    fn monotonic(&self) -> Instant;
    /// Whole seconds since the Unix epoch of the wall clock (0 before 1970), read on every sampling decision.
    ///
    /// The default takes them from [`Clock::now`]. A clock may answer from a cheaper source, provided that
    /// the second it gives has begun and has not yet ended ([`SystemClock`] does so).
    fn epoch_seconds(&self) -> i64 {
        seconds_since_epoch(self.now())
    }
}

/// Whole seconds since the Unix epoch at `t` (0 before 1970).
#[inline]
fn seconds_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The system's clocks.
///
/// [`Clock::epoch_seconds`] reads the wall clock about once a second per thread: in between it answers from a
/// cached second, checked against the coarse monotonic clock (a few nanoseconds to read, where the wall
/// clock takes 20 to 30). The cached second is dropped 20 ms before it can have ended, so that it is never
/// given once over; a step of the wall clock (or a suspend) shows within a second.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
    #[inline]
    fn epoch_seconds(&self) -> i64 {
        cached_epoch_seconds()
    }
}

/// More than the resolution of the coarse monotonic clock (one kernel tick: 1 to 10 ms on Linux, up to
/// 16 ms on Windows), plus the drift of the wall clock against it within one second.
const COARSE_MARGIN: coarsetime::Duration = coarsetime::Duration::from_millis(20);

thread_local! {
    /// This thread's current second of the wall clock, and the coarse monotonic instant (in ticks) before
    /// which that second has certainly not ended; `(0, 0)` until the first read.
    static CURRENT_SECOND: Cell<(u64, i64)> = const { Cell::new((0, 0)) };
}

/// The current whole second of the system's wall clock, from this thread's cache while it certainly holds.
#[inline]
fn cached_epoch_seconds() -> i64 {
    let now = coarsetime::Instant::now_without_cache_update().as_ticks();
    CURRENT_SECOND
        .try_with(|cached| {
            let (until, second) = cached.get();
            if now < until {
                return second;
            }
            let (second, until) = read_wall_second(now);
            cached.set((until, second));
            second
        })
        // The thread is exiting and its cache is gone.
        .unwrap_or_else(|_| read_wall_second(now).0)
}

/// Reads the wall clock: its current whole second, and the coarse monotonic instant (in ticks) until which
/// that second certainly lasts, given `now`, the coarse monotonic instant read just before.
///
/// The coarse clock lags the true monotonic time by less than its resolution, so that the second has not
/// ended while the coarse clock shows less than `now` + (what is left of the second) − [`COARSE_MARGIN`].
#[cold]
fn read_wall_second(now: u64) -> (i64, u64) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(wall) => {
            let second = i64::try_from(wall.as_secs()).unwrap_or(i64::MAX);
            let left =
                std::time::Duration::from_nanos(u64::from(1_000_000_000 - wall.subsec_nanos()));
            let left = coarsetime::Duration::from(left).as_ticks();
            (
                second,
                now.saturating_add(left.saturating_sub(COARSE_MARGIN.as_ticks())),
            )
        }
        // Before 1970: not cached.
        Err(_) => (0, 0),
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualClock;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn system_seconds_follow_the_wall_clock() {
        for _ in 0..50 {
            let before = seconds_since_epoch(SystemTime::now());
            let cached = SystemClock.epoch_seconds();
            let after = seconds_since_epoch(SystemTime::now());
            assert!(
                (before..=after).contains(&cached),
                "{before} <= {cached} <= {after}"
            );
            std::thread::sleep(Duration::from_millis(37));
        }
    }

    #[test]
    fn default_seconds_come_from_now() {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_millis(1_700_000_000_999));
        assert_eq!(clock.epoch_seconds(), 1_700_000_000);
        let before_1970 = ManualClock::new(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(before_1970.epoch_seconds(), 0);
    }
}

#[cfg(any(test, feature = "test-util"))]
mod manual {
    use super::Clock;
    use std::sync::Mutex;
    use std::time::{Duration, Instant, SystemTime};

    /// A clock that moves only when told to, for tests.
    #[derive(Debug)]
    pub struct ManualClock {
        state: Mutex<(SystemTime, Instant)>,
    }

    impl ManualClock {
        /// A clock stopped at `now`.
        pub fn new(now: SystemTime) -> Self {
            ManualClock {
                state: Mutex::new((now, Instant::now())),
            }
        }

        /// Moves both clocks forward by `d`.
        pub fn advance(&self, d: Duration) {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.0 += d;
            s.1 += d;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).0
        }
        fn monotonic(&self) -> Instant {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).1
        }
    }
}
