//! Timestamps as X-Ray writes them: seconds since the Unix epoch, with microsecond precision.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time `t` in seconds since the Unix epoch, rounded to the microsecond. Times before 1970 give `0.0`.
#[inline]
pub fn epoch_seconds(t: SystemTime) -> f64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    // In 64 bits (good for half a million years), whose conversion to f64 is one instruction, where the
    // 128 bits of `as_micros` take a library call. Exact either way: the count stays below 2^53.
    let micros = since
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(since.subsec_micros()));
    micros as f64 / 1e6
}

/// The current time in seconds since the Unix epoch, rounded to the microsecond.
pub fn now() -> f64 {
    epoch_seconds(SystemTime::now())
}

/// The current whole second of the wall clock since the Unix epoch (0 before 1970), for new trace ids and
/// per-second sampling quotas.
///
/// The wall clock is read about once a second per thread: in between, the answer comes from a cached second,
/// checked against the coarse monotonic clock (a few nanoseconds to read, where the wall clock takes 20 to 30).
/// The cached second is dropped 20 ms before it can have ended, so that it is never given once over; a step of
/// the wall clock (or a suspend) shows within a second.
#[inline]
pub fn current_second() -> u64 {
    thread_local! {
        /// The coarse instant (in ticks) of this thread's last reading of the wall clock, the coarse instant
        /// before which the second it read has certainly not ended, and that second; zeros until the first read.
        static CURRENT_SECOND: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
    }
    let now = coarsetime::Instant::now_without_cache_update().as_ticks();
    CURRENT_SECOND
        .try_with(|cached| {
            let (read_at, until, second) = cached.get();
            // Where the coarse clock is not monotonic (some platforms derive it from the wall clock), a step
            // back is seen here and the wall clock read again.
            if (read_at..until).contains(&now) {
                return second;
            }
            let (second, until) = read_wall_second(now);
            cached.set((now, until, second));
            second
        })
        // The thread is exiting and its cache is gone.
        .unwrap_or_else(|_| read_wall_second(now).0)
}

/// More than the resolution of the coarse monotonic clock (one kernel tick: 1 to 10 ms on Linux, up to
/// 16 ms on Windows), plus the drift of the wall clock against it within one second.
const COARSE_MARGIN: coarsetime::Duration = coarsetime::Duration::from_millis(20);

/// Reads the wall clock: its current whole second, and the coarse monotonic instant (in ticks) until which
/// that second certainly lasts, given `now`, the coarse monotonic instant read just before.
///
/// The coarse clock lags the true monotonic time by less than its resolution, so that the second has not
/// ended while the coarse clock shows less than `now` + (what is left of the second) − `COARSE_MARGIN`.
#[cold]
fn read_wall_second(now: u64) -> (u64, u64) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(wall) => {
            let left = Duration::from_nanos(u64::from(1_000_000_000 - wall.subsec_nanos()));
            let left = coarsetime::Duration::from(left).as_ticks();
            (
                wall.as_secs(),
                now.saturating_add(left.saturating_sub(COARSE_MARGIN.as_ticks())),
            )
        }
        // Before 1970: not cached.
        Err(_) => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_second_follows_the_wall_clock() {
        let whole = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for _ in 0..50 {
            let before = whole(SystemTime::now());
            let cached = current_second();
            let after = whole(SystemTime::now());
            assert!(
                (before..=after).contains(&cached),
                "{before} <= {cached} <= {after}"
            );
            std::thread::sleep(Duration::from_millis(37));
        }
    }

    #[test]
    fn the_same_value_as_counting_in_128_bits() {
        for nanos in [
            0u64,
            999,
            1_000,
            1_500_000_000_250_001_999,
            1_700_000_000_123_456_789,
            1_799_999_999_999_999_999,
            4_102_444_800_000_001_000,
        ] {
            let t = UNIX_EPOCH + Duration::from_nanos(nanos);
            let micros = t.duration_since(UNIX_EPOCH).unwrap().as_micros();
            assert_eq!(epoch_seconds(t).to_bits(), (micros as f64 / 1e6).to_bits());
        }
    }

    #[test]
    fn microsecond_precision() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_500_000_000_250_001_999);
        assert_eq!(epoch_seconds(t), 1_500_000_000.250_001);
        assert_eq!(
            serde_json::to_string(&epoch_seconds(t)).unwrap(),
            "1500000000.250001"
        );
    }
}
