//! The source of time, injectable so that sampling and timing behaviour can be tested deterministically.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Tells the time. The recorder stamps entities with [`Clock::now`]; samplers measure intervals with
/// [`Clock::monotonic`].
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The wall-clock time.
    fn now(&self) -> SystemTime;
    /// A monotonic instant, for intervals and deadlines.
    fn monotonic(&self) -> Instant;
}

/// The system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualClock;

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
