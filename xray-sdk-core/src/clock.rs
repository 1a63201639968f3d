//! The source of time, injectable so that sampling and timing behaviour can be tested deterministically.

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
/// [`Clock::epoch_seconds`] answers from [`xray_sdk_types::time::current_second`], which reads the wall clock
/// about once a second per thread: a step of the wall clock (or a suspend) shows within a second.
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
        i64::try_from(xray_sdk_types::time::current_second()).unwrap_or(i64::MAX)
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
